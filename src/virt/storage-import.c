/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Importing a base image: open the source below an import directory,
 * detect its format, claim the name, upload, and check what libvirt reads
 * back. */
#include "config.h"

#include "storage.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-file.h"
#include "journal.h"
#include "storage-priv.h"
#include "virt-conn.h"

/* After the upload libvirt re-reads the volume and probes its format: the
 * result must be what we meant to import. */
GvdVolumeInfo *
gvd_storage_verify_import (virStoragePoolPtr pool, virStorageVolPtr vol, const char *want,
                           GError **error)
{
  g_autoptr(GvdVolumeInfo) info = gvd_storage_volume_info (vol, error);
  const char *got;

  if (info == NULL)
    return NULL;
  if (g_strcmp0 (info->format, want) != 0 && virStoragePoolRefresh (pool, 0) == 0)
    {
      g_autoptr(virStorageVol) again = virStorageVolLookupByName (pool, info->name);

      if (again != NULL)
        {
          g_clear_pointer (&info, gvd_volume_info_free);
          info = gvd_storage_volume_info (again, error);
          if (info == NULL)
            return NULL;
        }
    }
  got = info->format != NULL ? info->format : "raw";
  /* libvirt calls a raw file holding an ISO 9660 filesystem "iso". */
  if (!g_str_equal (got, want) && !(g_str_equal (want, "raw") && g_str_equal (got, "iso")))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "libvirt reads the imported file as format '%s', not '%s': only raw and "
                   "qcow2 images are supported",
                   got, want);
      return NULL;
    }
  if (info->backing_path != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "the image has a backing file (%s): import a flattened image",
                   info->backing_path);
      return NULL;
    }
  return g_steal_pointer (&info);
}

gboolean
gvd_storage_claim (GvdStorage *storage, virStoragePoolPtr pool, const char *pool_name,
                   const char *name, GError **error)
{
  g_autofree char *key = g_strconcat (pool_name, "/", name, NULL);

  g_mutex_lock (&storage->lock);
  if (g_hash_table_contains (storage->importing, key))
    {
      g_mutex_unlock (&storage->lock);
      g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                   "image '%s' is already being imported", name);
      return FALSE;
    }
  g_hash_table_add (storage->importing, g_strdup (key));
  g_mutex_unlock (&storage->lock);

  /* Journalled before the volume exists, so that no crash can leave a
   * volume the next start does not know to be unfinished. */
  if (gvd_storage_volume_exists (pool, name, error)
      || (storage->journal_dir != NULL
          && !gvd_journal_add (&gvd_journal_imports, storage->journal_dir, name, pool_name, error)))
    {
      g_mutex_lock (&storage->lock);
      g_hash_table_remove (storage->importing, key);
      g_mutex_unlock (&storage->lock);
      return FALSE;
    }
  return TRUE;
}

gboolean
gvd_storage_release (GvdStorage *storage, const char *pool_name, const char *name,
                     GError **error)
{
  g_autofree char *key = g_strconcat (pool_name, "/", name, NULL);
  gboolean ok = TRUE;

  if (storage->journal_dir != NULL)
    ok = gvd_journal_remove (&gvd_journal_imports, storage->journal_dir, name, error);
  g_mutex_lock (&storage->lock);
  g_hash_table_remove (storage->importing, key);
  g_mutex_unlock (&storage->lock);
  return ok;
}

static GvdImage *
import_image (virConnectPtr conn, virStoragePoolPtr pool, const char *name, int fd,
              guint64 length, const char *format, GError **error)
{
  GvdUploadSource src = { .fd = fd, .length = length };
  g_autoptr(virStorageVol) vol = NULL;
  g_autoptr(GvdVolumeInfo) info = NULL;

  vol = gvd_storage_create_and_upload (conn, pool, name, &src, error);
  if (vol == NULL)
    return NULL;
  info = gvd_storage_verify_import (pool, vol, format, error);
  if (info == NULL)
    {
      gvd_storage_delete_quietly (vol);
      return NULL;
    }
  return gvd_storage_image_from_info (info, NULL);
}

static gboolean
open_source (const char *const *import_dirs, const char *source_path, int *out_fd,
             guint64 *out_size, char *head, gsize head_len, gsize *out_head_got, GError **error)
{
  struct stat st;
  ssize_t n;
  int fd;

  if (source_path == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "source_path is required");
      return FALSE;
    }
  /* Below an import directory, no symlinks, a regular file: checked before
   * anything is opened for reading (a FIFO or a device is never opened). */
  fd = gvd_host_file_open (import_dirs, source_path, "source_path", &st, error);
  if (fd < 0)
    return FALSE;
  if (st.st_size <= 0 || (guint64) st.st_size > GVD_STORAGE_MAX_BYTES)
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "source_path '%s' is %" G_GINT64_FORMAT " bytes: an image must be 1 byte to "
                   "64 TiB",
                   source_path, (gint64) st.st_size);
      return FALSE;
    }
  do
    n = pread (fd, head, head_len, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      int saved = errno;
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot read source_path '%s': %s",
                   source_path, g_strerror (saved));
      return FALSE;
    }
  *out_fd = fd;
  *out_size = (guint64) st.st_size;
  *out_head_got = (gsize) n;
  return TRUE;
}

GvdImage *
gvd_storage_import_image (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                          const char *name,
                          const char *source_path, const char *format,
                          const char *instance_prefix, const char *const *import_dirs,
                          GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GError) release_error = NULL;
  GvdImage *image;
  char head[4];
  gsize head_got = 0;
  guint64 size = 0;
  const char *detected;
  int fd = -1;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL, NULL);

  if (!gvd_storage_check_name ("image", name, error))
    return NULL;
  if (gvd_storage_is_instance_volume (name, instance_prefix))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "image name '%s' starts with '%s', which is reserved for instance volumes",
                   name, instance_prefix);
      return NULL;
    }
  if (format != NULL && !g_str_equal (format, "raw") && !g_str_equal (format, "qcow2"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "image format '%s' is not supported: use raw or qcow2", format);
      return NULL;
    }
  if (!open_source (import_dirs, source_path, &fd, &size, head, sizeof head, &head_got, error))
    return NULL;
  detected = gvd_storage_detect_format ((const guint8 *) head, head_got);
  if (format != NULL && !g_str_equal (format, detected))
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "source_path '%s' holds a %s image, not %s", source_path, detected, format);
      return NULL;
    }
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    {
      close (fd);
      return NULL;
    }

  /* Claim the name so concurrent imports, overlays and listings do not see
   * the volume until its upload is complete. */
  if (!gvd_storage_claim (storage, pool, pool_name, name, error))
    {
      close (fd);
      return NULL;
    }
  image = import_image (conn, pool, name, fd, size, detected, error);
  close (fd);
  if (!gvd_storage_release (storage, pool_name, name, &release_error) && image != NULL)
    {
      /* Kept, the volume would be swept at the next start: say so now. */
      gvd_storage_delete_volume (conn, pool_name, name, NULL);
      g_clear_pointer (&image, gvd_image_free);
      g_propagate_error (error, g_steal_pointer (&release_error));
    }
  return image;
}
