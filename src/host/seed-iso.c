/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NoCloud seed ISO writer: the seed's texts become memory streams, libisofs
 * builds the image and we read it back from its burn source. No temporary
 * files, no child process. */
#include "config.h"

#include "seed-iso.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libisofs/libisofs.h>

#include "errors.h"
#include "state-dir.h"

/* libisofs hands the image out in 2048-byte blocks; larger reads lost the
 * tail of the image (NOTES.md). */
#define ISO_BLOCK 2048

/* 2020-01-01T00:00:00Z, in both forms libisofs takes. */
#define SEED_ISO_TIMESTAMP ((time_t) 1577836800)
#define SEED_ISO_VOLUME_TIME "2020010100000000"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IsoImage, iso_image_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IsoWriteOpts, iso_write_opts_free)

/* iso_init() once per process, from whichever thread gets here first. */
static int
seed_iso_init (void)
{
  static gsize once = 0;
  static int result = 0;

  if (g_once_init_enter (&once))
    {
      result = iso_init ();
      if (result >= 0)
        iso_set_msgs_severities ((char *) "NEVER", (char *) "NEVER", (char *) "gpuvmd");
      g_once_init_leave (&once, 1);
    }
  return result;
}

static gboolean
iso_failed (GError **error, const char *what, int code)
{
  g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "seed ISO: %s: %s", what,
               iso_error_to_msg (code));
  return FALSE;
}

static gboolean
add_file (IsoDir *root, const char *name, const char *text, GError **error)
{
  size_t len = strlen (text);
  /* The stream frees its buffer with free(): allocate with malloc(). */
  unsigned char *buf = malloc (len > 0 ? len : 1);
  IsoStream *stream = NULL;
  IsoFile *file = NULL;
  int ret;

  if (buf == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "seed ISO: out of memory");
      return FALSE;
    }
  memcpy (buf, text, len);
  ret = iso_memory_stream_new (buf, len, &stream);
  if (ret < 0)
    {
      free (buf);
      return iso_failed (error, name, ret);
    }
  /* On success the new file node owns the stream. */
  ret = iso_tree_add_new_file (root, name, stream, &file);
  if (ret < 0)
    {
      iso_stream_unref (stream);
      return iso_failed (error, name, ret);
    }
  iso_node_set_permissions ((IsoNode *) file, 0644);
  return TRUE;
}

GBytes *
gvd_seed_iso_build (const GvdCloudInitSeed *seed, GError **error)
{
  g_autoptr(IsoImage) image = NULL;
  g_autoptr(IsoWriteOpts) opts = NULL;
  struct burn_source *src = NULL;
  g_autoptr(GByteArray) out = NULL;
  IsoDir *root;
  off_t size;
  int ret;

  g_return_val_if_fail (seed != NULL, NULL);
  g_return_val_if_fail (seed->meta_data != NULL && seed->user_data != NULL, NULL);

  ret = seed_iso_init ();
  if (ret < 0)
    {
      iso_failed (error, "iso_init", ret);
      return NULL;
    }

  ret = iso_image_new (GVD_SEED_ISO_VOLUME_ID, &image);
  if (ret < 0)
    {
      iso_failed (error, "new image", ret);
      return NULL;
    }
  iso_image_set_volume_id (image, GVD_SEED_ISO_VOLUME_ID);
  root = iso_image_get_root (image);
  if (!add_file (root, "meta-data", seed->meta_data, error)
      || !add_file (root, "user-data", seed->user_data, error)
      || (seed->network_config != NULL
          && !add_file (root, "network-config", seed->network_config, error)))
    return NULL;

  ret = iso_write_opts_new (&opts, 0);
  if (ret < 0)
    {
      iso_failed (error, "write options", ret);
      return NULL;
    }
  iso_write_opts_set_rockridge (opts, 1);
  iso_write_opts_set_joliet (opts, 1);
  /* Joliet names exactly "meta-data", not "meta-data.;1" (ECMA-119 names
   * keep their version and dot; Rock Ridge carries the real names there). */
  iso_write_opts_set_omit_version_numbers (opts, 2);
  iso_write_opts_set_no_force_dots (opts, 2);
  /* Reproducible: owners, modes and every timestamp fixed, so the image is
   * a pure function of the seed (same seed, same bytes). */
  iso_write_opts_set_replace_mode (opts, 2, 0, 2, 2);
  iso_write_opts_set_default_dir_mode (opts, 0555);
  iso_write_opts_set_default_uid (opts, 0);
  iso_write_opts_set_default_gid (opts, 0);
  iso_write_opts_set_replace_timestamps (opts, 2);
  iso_write_opts_set_default_timestamp (opts, SEED_ISO_TIMESTAMP);
  iso_write_opts_set_dir_rec_mtime (opts, 1);
  iso_write_opts_set_always_gmt (opts, 1);
  iso_write_opts_set_pvd_times (opts, SEED_ISO_TIMESTAMP, SEED_ISO_TIMESTAMP, 0, 0,
                                (char *) SEED_ISO_VOLUME_TIME);

  ret = iso_image_create_burn_source (image, opts, &src);
  if (ret < 0)
    {
      iso_failed (error, "burn source", ret);
      return NULL;
    }

  size = src->get_size (src);
  out = g_byte_array_sized_new (size > 0 && size < G_MAXINT ? (guint) size : ISO_BLOCK);
  for (;;)
    {
      guint8 block[ISO_BLOCK];
      int n = src->read_xt (src, block, ISO_BLOCK);

      if (n < 0)
        {
          src->free_data (src);
          free (src);
          g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "seed ISO: reading the image failed");
          return NULL;
        }
      if (n == 0)
        break;
      g_byte_array_append (out, block, (guint) n);
    }
  src->free_data (src);
  free (src);
  if (size > 0 && (off_t) out->len != size)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL,
                   "seed ISO: image is %u bytes, libisofs announced %lld", out->len,
                   (long long) size);
      return NULL;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

gboolean
gvd_seed_iso_write_file (const GvdCloudInitSeed *seed, const char *path, GError **error)
{
  g_autoptr(GBytes) image = NULL;
  gsize len = 0;
  const char *data;

  g_return_val_if_fail (path != NULL, FALSE);
  image = gvd_seed_iso_build (seed, error);
  if (image == NULL)
    return FALSE;
  data = g_bytes_get_data (image, &len);
  /* The one atomic writer: temporary file, fsync, rename, directory fsync. */
  return gvd_state_file_write (path, data, len, 0600, GVD_STATE_WRITE_REPLACE, error);
}
