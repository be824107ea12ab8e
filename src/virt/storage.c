/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Storage through libvirt: the dir pool, base images, qcow2 overlays and
 * uploads through streams. Only libvirt touches the pool's files. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* SEEK_DATA, SEEK_HOLE */
#endif
#include "config.h"

#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-file.h"
#include "storage-xml.h"
#include "virt-conn.h"

static gboolean
check_name (const char *what, const char *name, GError **error)
{
  if (gvd_storage_name_is_valid (name))
    return TRUE;
  g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
               "%s name '%s' is not valid: 1-128 characters of A-Z a-z 0-9 . _ -, "
               "starting with a letter or digit",
               what, name != NULL ? name : "");
  return FALSE;
}

/* ---- libvirt helpers ------------------------------------------------------ */

struct _GvdStorage {
  /* Serialises the check-then-act sequences (image in use → delete; base
   * exists → overlay; pool definition) and guards importing. */
  GMutex lock;
  /* The images being imported, hidden until their upload has completed:
   * "pool/name" → itself. */
  GHashTable *importing;
};

static void
storage_clear (gpointer data)
{
  GvdStorage *storage = data;

  g_mutex_clear (&storage->lock);
  g_hash_table_unref (storage->importing);
}

GvdStorage *
gvd_storage_new (void)
{
  GvdStorage *storage = g_atomic_rc_box_new0 (GvdStorage);

  /* libxml2 2.9 initialises itself lazily and not thread-safely; the XML
   * functions (storage-xml.c) run in worker threads. */
  xmlInitParser ();
  g_mutex_init (&storage->lock);
  storage->importing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return storage;
}

GvdStorage *
gvd_storage_ref (GvdStorage *storage)
{
  g_return_val_if_fail (storage != NULL, NULL);

  return g_atomic_rc_box_acquire (storage);
}

void
gvd_storage_unref (GvdStorage *storage)
{
  if (storage != NULL)
    g_atomic_rc_box_release_full (storage, storage_clear);
}

static gboolean
is_importing_locked (GvdStorage *storage, const char *pool, const char *name)
{
  g_autofree char *key = g_strconcat (pool, "/", name, NULL);

  return g_hash_table_contains (storage->importing, key);
}

/* libvirt's error code → ours: a lost connection is "unavailable", the
 * rest keep @code. libvirt's message is kept. */
static void
set_virt_error (GError **error, GvdErrorCode code, const char *what)
{
  const virError *err = virGetLastError ();

  if (err != NULL
      && (err->code == VIR_ERR_NO_CONNECT || err->code == VIR_ERR_INVALID_CONN
          || err->domain == VIR_FROM_RPC))
    code = GVD_ERROR_LIBVIRT_UNAVAILABLE;
  else if (err != NULL && err->code == VIR_ERR_STORAGE_VOL_EXIST)
    code = GVD_ERROR_ALREADY_EXISTS;
  gvd_virt_set_error (error, code, what);
}

static virStoragePoolPtr
lookup_pool (virConnectPtr conn, const char *pool_name, GError **error)
{
  virStoragePoolPtr pool = virStoragePoolLookupByName (conn, pool_name);
  g_autofree char *what = NULL;

  if (pool != NULL)
    return pool;
  what = g_strdup_printf ("storage pool '%s'", pool_name);
  set_virt_error (error, GVD_ERROR_LIBVIRT, what);
  return NULL;
}

/* The volume, or NULL: with *error set on failure, and without when it
 * simply does not exist. */
static virStorageVolPtr
lookup_volume (virStoragePoolPtr pool, const char *name, GError **error)
{
  virStorageVolPtr vol = virStorageVolLookupByName (pool, name);
  g_autofree char *what = NULL;

  if (vol != NULL || virGetLastErrorCode () == VIR_ERR_NO_STORAGE_VOL)
    return vol;
  what = g_strdup_printf ("cannot look up volume '%s'", name);
  set_virt_error (error, GVD_ERROR_LIBVIRT, what);
  return NULL;
}

static GvdVolumeInfo *
volume_info (virStorageVolPtr vol, GError **error)
{
  g_autofree char *xml = virStorageVolGetXMLDesc (vol, 0);
  g_autofree char *what = NULL;

  if (xml == NULL)
    {
      what = g_strdup_printf ("cannot read volume '%s'", virStorageVolGetName (vol));
      set_virt_error (error, GVD_ERROR_LIBVIRT, what);
      return NULL;
    }
  return gvd_storage_parse_volume_xml (xml, error);
}

/* Every volume's info. Volumes that vanish meanwhile, or that libvirt
 * cannot describe (a stray unreadable file in the pool directory), are
 * skipped: one bad file must not hide the others. */
static GPtrArray *
list_volumes (virStoragePoolPtr pool, GError **error)
{
  virStorageVolPtr *vols = NULL;
  int n = virStoragePoolListAllVolumes (pool, &vols, 0);
  g_autoptr(GPtrArray) infos = NULL;
  g_autoptr(GError) local_error = NULL;

  if (n < 0)
    {
      set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot list volumes");
      return NULL;
    }
  infos = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_volume_info_free);
  for (int i = 0; i < n; i++)
    {
      if (local_error == NULL)
        {
          GvdVolumeInfo *info = volume_info (vols[i], &local_error);

          if (info != NULL)
            g_ptr_array_add (infos, info);
          else if (!g_error_matches (local_error, GVD_ERROR, GVD_ERROR_LIBVIRT_UNAVAILABLE))
            {
              g_debug ("volume %s skipped: %s", virStorageVolGetName (vols[i]),
                       local_error->message);
              g_clear_error (&local_error);
            }
        }
      virStorageVolFree (vols[i]);
    }
  free (vols);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_steal_pointer (&infos);
}

static gboolean
is_instance_volume (const char *name, const char *instance_prefix)
{
  return instance_prefix != NULL && instance_prefix[0] != '\0'
         && g_str_has_prefix (name, instance_prefix);
}

static int
compare_images (gconstpointer a, gconstpointer b)
{
  const GvdImage *ia = *(const GvdImage *const *) a;
  const GvdImage *ib = *(const GvdImage *const *) b;

  return strcmp (ia->name, ib->name);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static GvdImage *
image_from_info (const GvdVolumeInfo *info, GPtrArray *all)
{
  GvdImage *image = gvd_image_new ();

  image->name = g_strdup (info->name);
  image->path = g_strdup (info->path);
  image->format = g_strdup (info->format != NULL ? info->format : "raw");
  image->capacity = info->capacity;
  image->allocation = info->allocation;
  for (guint i = 0; all != NULL && i < all->len; i++)
    {
      const GvdVolumeInfo *other = g_ptr_array_index (all, i);

      if (other->backing_path != NULL && g_str_equal (other->backing_path, info->path))
        g_ptr_array_add (image->in_use_by, g_strdup (other->name));
    }
  g_ptr_array_sort (image->in_use_by, compare_strings);
  return image;
}

/* ---- the pool ---------------------------------------------------------------- */

static gboolean
check_existing_pool (virStoragePoolPtr pool, const char *pool_name, const char *pool_path,
                     GError **error)
{
  g_autofree char *xml = virStoragePoolGetXMLDesc (pool, VIR_STORAGE_XML_INACTIVE);
  g_autofree char *type = NULL;
  g_autofree char *path = NULL;
  g_autofree char *have = NULL;
  g_autofree char *want = NULL;

  if (xml == NULL)
    {
      set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot read the storage pool definition");
      return FALSE;
    }
  if (!gvd_storage_parse_pool_xml (xml, &type, &path, error))
    return FALSE;
  want = g_canonicalize_filename (pool_path, "/");
  have = path != NULL ? g_canonicalize_filename (path, "/") : NULL;
  if (!g_str_equal (type, "dir") || have == NULL || !g_str_equal (have, want))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "libvirt storage pool '%s' exists as type '%s' at '%s', but gpuvmd is "
                   "configured for a 'dir' pool at '%s': fix [storage] pool/pool_path or "
                   "the libvirt pool",
                   pool_name, type, path != NULL ? path : "(no path)", pool_path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
ensure_pool_locked (virConnectPtr conn, const char *pool_name, const char *pool_path,
                    GError **error)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, pool_name);
  int active, autostart = 0;

  if (pool == NULL)
    {
      g_autofree char *xml = NULL;

      if (virGetLastErrorCode () != VIR_ERR_NO_STORAGE_POOL)
        {
          set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot look up the storage pool");
          return FALSE;
        }
      xml = gvd_storage_pool_xml (pool_name, pool_path);
      pool = virStoragePoolDefineXML (conn, xml, 0);
      if (pool == NULL)
        {
          g_autofree char *what = g_strdup_printf ("cannot define storage pool '%s'", pool_name);
          set_virt_error (error, GVD_ERROR_LIBVIRT, what);
          return FALSE;
        }
      g_debug ("defined storage pool %s at %s", pool_name, pool_path);
    }
  else if (!check_existing_pool (pool, pool_name, pool_path, error))
    return FALSE;

  active = virStoragePoolIsActive (pool);
  if (active < 0)
    {
      set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot read the storage pool state");
      return FALSE;
    }
  if (!active)
    {
      /* Building a dir pool creates its directory (and keeps an existing one). */
      if (virStoragePoolBuild (pool, 0) < 0)
        {
          g_autofree char *what = g_strdup_printf ("cannot build storage pool '%s'", pool_name);
          set_virt_error (error, GVD_ERROR_LIBVIRT, what);
          return FALSE;
        }
      if (virStoragePoolCreate (pool, 0) < 0)
        {
          g_autofree char *what = g_strdup_printf ("cannot start storage pool '%s'", pool_name);
          set_virt_error (error, GVD_ERROR_LIBVIRT, what);
          return FALSE;
        }
    }
  if (virStoragePoolGetAutostart (pool, &autostart) < 0 || !autostart)
    {
      if (virStoragePoolSetAutostart (pool, 1) < 0)
        {
          set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot set the storage pool to autostart");
          return FALSE;
        }
    }
  /* Pick up files added behind libvirt's back. libvirt refuses while an
   * upload runs in the pool; the pool is usable either way. */
  if (active && virStoragePoolRefresh (pool, 0) < 0)
    g_debug ("storage pool %s not refreshed: %s", pool_name, virGetLastErrorMessage ());
  return TRUE;
}

gboolean
gvd_storage_ensure_pool (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                         const char *pool_path, GError **error)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL, FALSE);
  g_return_val_if_fail (pool_name != NULL && pool_path != NULL, FALSE);

  if (!check_name ("storage pool", pool_name, error))
    return FALSE;
  if (!g_path_is_absolute (pool_path))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "storage pool path '%s' is not absolute", pool_path);
      return FALSE;
    }
  locker = g_mutex_locker_new (&storage->lock);
  return ensure_pool_locked (conn, pool_name, pool_path, error);
}

/* ---- images -------------------------------------------------------------------- */

GPtrArray *
gvd_storage_list_images (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                         const char *instance_prefix, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) images = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL, NULL);

  pool = lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return NULL;
  all = list_volumes (pool, error);
  if (all == NULL)
    return NULL;
  images = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_image_free);
  for (guint i = 0; i < all->len; i++)
    {
      const GvdVolumeInfo *info = g_ptr_array_index (all, i);
      gboolean hidden;

      if (is_instance_volume (info->name, instance_prefix))
        continue;
      g_mutex_lock (&storage->lock);
      hidden = is_importing_locked (storage, pool_name, info->name);
      g_mutex_unlock (&storage->lock);
      if (!hidden)
        g_ptr_array_add (images, image_from_info (info, all));
    }
  g_ptr_array_sort (images, compare_images);
  return g_steal_pointer (&images);
}

static void
set_image_not_found (GError **error, const char *name)
{
  g_set_error (error, GVD_ERROR, GVD_ERROR_IMAGE_NOT_FOUND, "no image named '%s'", name);
}

/* The image's volume and info with storage->lock held; NULL with
 * IMAGE_NOT_FOUND for missing, importing and instance volumes. */
static GvdVolumeInfo *
image_info_locked (GvdStorage *storage, virStoragePoolPtr pool, const char *pool_name,
                   const char *name, const char *instance_prefix, GError **error)
{
  g_autoptr(virStorageVol) vol = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!gvd_storage_name_is_valid (name) || is_instance_volume (name, instance_prefix)
      || is_importing_locked (storage, pool_name, name))
    {
      set_image_not_found (error, name);
      return NULL;
    }
  vol = lookup_volume (pool, name, &local_error);
  if (vol == NULL)
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        set_image_not_found (error, name);
      return NULL;
    }
  return volume_info (vol, error);
}

GvdImage *
gvd_storage_get_image (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                       const char *name, const char *instance_prefix, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GvdVolumeInfo) info = NULL;
  g_autoptr(GPtrArray) all = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL && name != NULL, NULL);

  pool = lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return NULL;
  g_mutex_lock (&storage->lock);
  info = image_info_locked (storage, pool, pool_name, name, instance_prefix, error);
  g_mutex_unlock (&storage->lock);
  if (info == NULL)
    return NULL;
  all = list_volumes (pool, error);
  if (all == NULL)
    return NULL;
  return image_from_info (info, all);
}

/* ---- uploads --------------------------------------------------------------------- */

typedef struct {
  int fd;            /* source file, or -1 */
  GBytes *bytes;     /* or source bytes */
  guint64 offset;
  guint64 length;    /* never send more than this */
  int saved_errno;
} UploadSource;

static int
upload_source_cb (virStreamPtr st, char *data, size_t nbytes, void *opaque)
{
  UploadSource *src = opaque;
  gsize want = (gsize) MIN ((guint64) nbytes, src->length - src->offset);

  if (want == 0)
    return 0;
  if (src->bytes != NULL)
    {
      const guint8 *p = g_bytes_get_data (src->bytes, NULL);

      memcpy (data, p + src->offset, want);
      src->offset += want;
      return (int) want;
    }
  for (;;)
    {
      ssize_t n = pread (src->fd, data, want, (off_t) src->offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          src->saved_errno = errno;
          return -1;
        }
      if (n == 0)
        {
          /* The file shrank under us: a short image is a broken image. */
          src->saved_errno = EIO;
          return -1;
        }
      src->offset += (guint64) n;
      return (int) n;
    }
}

/* Where the file's next data or hole section starts, from src->offset:
 * holes are sent as holes, so a sparse raw image stays sparse and its
 * zeros never cross the connection. */
static int
upload_hole_cb (virStreamPtr st, int *in_data, long long *length, void *opaque)
{
  UploadSource *src = opaque;
  off_t pos = (off_t) src->offset;
  off_t end = (off_t) src->length;
  off_t next;

  if (pos >= end)
    {
      *in_data = 1;
      *length = 0;
      return 0;
    }
  next = lseek (src->fd, pos, SEEK_DATA);
  if (next < 0 && errno == ENXIO)
    next = end; /* only a hole is left */
  else if (next < 0)
    {
      src->saved_errno = errno;
      return -1;
    }
  if (next > pos)
    {
      *in_data = 0;
      *length = MIN (next, end) - pos;
      return 0;
    }
  next = lseek (src->fd, pos, SEEK_HOLE);
  if (next < 0)
    {
      src->saved_errno = errno;
      return -1;
    }
  *in_data = 1;
  *length = MIN (next, end) - pos;
  return 0;
}

static int
upload_skip_cb (virStreamPtr st, long long length, void *opaque)
{
  UploadSource *src = opaque;

  src->offset += (guint64) length;
  return 0;
}

/* Stream @src into @vol from offset 0. */
static gboolean
upload (virConnectPtr conn, virStorageVolPtr vol, UploadSource *src, GError **error)
{
  g_autoptr(virStream) st = virStreamNew (conn, 0);
  gboolean sparse = src->fd >= 0;
  int rc;

  if (st == NULL)
    {
      set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot create a libvirt stream");
      return FALSE;
    }
  if (virStorageVolUpload (vol, st, 0, src->length,
                           sparse ? VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM : 0) < 0)
    {
      set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot start the upload");
      return FALSE;
    }
  /* Both abort the stream themselves on failure. */
  if (sparse)
    rc = virStreamSparseSendAll (st, upload_source_cb, upload_hole_cb, upload_skip_cb, src);
  else
    rc = virStreamSendAll (st, upload_source_cb, src);
  if (rc < 0)
    {
      if (src->saved_errno != 0)
        g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot read the source: %s",
                     g_strerror (src->saved_errno));
      else
        set_virt_error (error, GVD_ERROR_LIBVIRT, "upload failed");
      return FALSE;
    }
  if (src->offset != src->length)
    {
      virStreamAbort (st);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                   "upload stopped after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
                   src->offset, src->length);
      return FALSE;
    }
  if (virStreamFinish (st) < 0)
    {
      set_virt_error (error, GVD_ERROR_LIBVIRT, "upload failed to complete");
      return FALSE;
    }
  return TRUE;
}

static void
delete_quietly (virStorageVolPtr vol)
{
  if (virStorageVolDelete (vol, 0) < 0)
    g_debug ("cannot delete partial volume %s: %s", virStorageVolGetName (vol),
             virGetLastErrorMessage ());
}

/* A new raw volume of @length bytes filled from @src; deleted on failure. */
static virStorageVolPtr
create_and_upload (virConnectPtr conn, virStoragePoolPtr pool, const char *name,
                   UploadSource *src, GError **error)
{
  g_autofree char *xml = gvd_storage_volume_xml (name, src->length, "raw", NULL, NULL);
  g_autoptr(virStorageVol) vol = virStorageVolCreateXML (pool, xml, 0);

  if (vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("cannot create volume '%s'", name);
      set_virt_error (error, GVD_ERROR_LIBVIRT, what);
      return NULL;
    }
  if (!upload (conn, vol, src, error))
    {
      delete_quietly (vol);
      return NULL;
    }
  return g_steal_pointer (&vol);
}

static gboolean
volume_exists (virStoragePoolPtr pool, const char *name, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(virStorageVol) vol = lookup_volume (pool, name, &local_error);

  if (vol != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS, "volume '%s' already exists",
                   name);
      return TRUE;
    }
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return TRUE;
    }
  return FALSE;
}

/* After the upload libvirt re-reads the volume and probes its format: the
 * result must be what we meant to import. */
static GvdVolumeInfo *
verify_import (virStoragePoolPtr pool, virStorageVolPtr vol, const char *want, GError **error)
{
  g_autoptr(GvdVolumeInfo) info = volume_info (vol, error);
  const char *got;

  if (info == NULL)
    return NULL;
  if (g_strcmp0 (info->format, want) != 0 && virStoragePoolRefresh (pool, 0) == 0)
    {
      g_autoptr(virStorageVol) again = virStorageVolLookupByName (pool, info->name);

      if (again != NULL)
        {
          g_clear_pointer (&info, gvd_volume_info_free);
          info = volume_info (again, error);
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

static GvdImage *
import_image (virConnectPtr conn, virStoragePoolPtr pool, const char *name, int fd,
              guint64 length, const char *format, GError **error)
{
  UploadSource src = { .fd = fd, .length = length };
  g_autoptr(virStorageVol) vol = NULL;
  g_autoptr(GvdVolumeInfo) info = NULL;

  if (volume_exists (pool, name, error))
    return NULL;
  vol = create_and_upload (conn, pool, name, &src, error);
  if (vol == NULL)
    return NULL;
  info = verify_import (pool, vol, format, error);
  if (info == NULL)
    {
      delete_quietly (vol);
      return NULL;
    }
  return image_from_info (info, NULL);
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
  g_autofree char *key = NULL;
  GvdImage *image;
  char head[4];
  gsize head_got = 0;
  guint64 size = 0;
  const char *detected;
  int fd = -1;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL, NULL);

  if (!check_name ("image", name, error))
    return NULL;
  if (is_instance_volume (name, instance_prefix))
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
  pool = lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    {
      close (fd);
      return NULL;
    }

  /* Claim the name so concurrent imports, overlays and listings do not see
   * the volume until its upload is complete. */
  key = g_strconcat (pool_name, "/", name, NULL);
  g_mutex_lock (&storage->lock);
  if (g_hash_table_contains (storage->importing, key))
    {
      g_mutex_unlock (&storage->lock);
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                   "image '%s' is already being imported", name);
      return NULL;
    }
  g_hash_table_add (storage->importing, g_strdup (key));
  g_mutex_unlock (&storage->lock);

  image = import_image (conn, pool, name, fd, size, detected, error);
  close (fd);

  g_mutex_lock (&storage->lock);
  g_hash_table_remove (storage->importing, key);
  g_mutex_unlock (&storage->lock);
  return image;
}

/* ---- instance volumes ------------------------------------------------------------- */

static char *
volume_path (virStorageVolPtr vol, GError **error)
{
  char *path = virStorageVolGetPath (vol);
  char *out;

  if (path == NULL)
    {
      set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot read the volume path");
      return NULL;
    }
  /* libvirt allocates with malloc; hand out g_malloc memory. */
  out = g_strdup (path);
  free (path);
  return out;
}

static char *
create_overlay_locked (GvdStorage *storage, virStoragePoolPtr pool, const char *pool_name,
                       const char *vol_name, const char *base_image, guint64 size_bytes,
                       GError **error)
{
  g_autoptr(GvdVolumeInfo) base = NULL;
  g_autoptr(virStorageVol) vol = NULL;
  g_autofree char *xml = NULL;
  const char *base_format;
  guint64 capacity;

  base = image_info_locked (storage, pool, pool_name, base_image, NULL, error);
  if (base == NULL)
    return NULL;
  base_format = base->format != NULL ? base->format : "raw";
  if (g_str_equal (base_format, "iso"))
    base_format = "raw";
  if (!g_str_equal (base_format, "raw") && !g_str_equal (base_format, "qcow2"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "image '%s' has format '%s': only raw and qcow2 images can back a disk",
                   base_image, base_format);
      return NULL;
    }
  if (size_bytes != 0 && size_bytes < base->capacity)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "disk size %" G_GUINT64_FORMAT " bytes is smaller than image '%s' (%"
                   G_GUINT64_FORMAT " bytes)",
                   size_bytes, base_image, base->capacity);
      return NULL;
    }
  capacity = MAX (size_bytes, base->capacity);
  if (volume_exists (pool, vol_name, error))
    return NULL;
  xml = gvd_storage_volume_xml (vol_name, capacity, "qcow2", base->path, base_format);
  vol = virStorageVolCreateXML (pool, xml, 0);
  if (vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("cannot create volume '%s'", vol_name);
      set_virt_error (error, GVD_ERROR_LIBVIRT, what);
      return NULL;
    }
  return volume_path (vol, error);
}

char *
gvd_storage_create_overlay (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                            const char *vol_name, const char *base_image, guint64 size_bytes,
                            GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL, NULL);

  if (!check_name ("volume", vol_name, error))
    return NULL;
  if (!gvd_storage_name_is_valid (base_image))
    {
      set_image_not_found (error, base_image != NULL ? base_image : "");
      return NULL;
    }
  if (size_bytes > GVD_STORAGE_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "disk size %" G_GUINT64_FORMAT " bytes is over the limit of 64 TiB",
                   size_bytes);
      return NULL;
    }
  pool = lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return NULL;
  /* Held so that the base cannot be deleted between the check and the
   * overlay's creation. */
  locker = g_mutex_locker_new (&storage->lock);
  return create_overlay_locked (storage, pool, pool_name, vol_name, base_image, size_bytes, error);
}

char *
gvd_storage_upload_volume (virConnectPtr conn, const char *pool_name, const char *vol_name,
                           GBytes *data, const char *format, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(virStorageVol) vol = NULL;
  UploadSource src = { .fd = -1, .bytes = data };

  g_return_val_if_fail (conn != NULL && pool_name != NULL && data != NULL, NULL);

  if (!check_name ("volume", vol_name, error))
    return NULL;
  if (format != NULL && !g_str_equal (format, "raw"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "uploaded volumes are raw, not '%s'", format);
      return NULL;
    }
  src.length = g_bytes_get_size (data);
  if (src.length == 0 || src.length > GVD_STORAGE_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "volume '%s' would be %" G_GUINT64_FORMAT " bytes", vol_name, src.length);
      return NULL;
    }
  pool = lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return NULL;
  if (volume_exists (pool, vol_name, error))
    return NULL;
  vol = create_and_upload (conn, pool, vol_name, &src, error);
  if (vol == NULL)
    return NULL;
  return volume_path (vol, error);
}

static gboolean
delete_volume_by_name (virStoragePoolPtr pool, const char *vol_name, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(virStorageVol) vol = lookup_volume (pool, vol_name, &local_error);

  if (vol == NULL)
    {
      if (local_error == NULL)
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (virStorageVolDelete (vol, 0) < 0 && virGetLastErrorCode () != VIR_ERR_NO_STORAGE_VOL)
    {
      g_autofree char *what = g_strdup_printf ("cannot delete volume '%s'", vol_name);
      set_virt_error (error, GVD_ERROR_LIBVIRT, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
gvd_storage_delete_volume (virConnectPtr conn, const char *pool_name, const char *vol_name,
                           GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;

  g_return_val_if_fail (conn != NULL && pool_name != NULL, FALSE);

  if (!check_name ("volume", vol_name, error))
    return FALSE;
  pool = lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return FALSE;
  return delete_volume_by_name (pool, vol_name, error);
}

static gboolean
delete_image_locked (GvdStorage *storage, virStoragePoolPtr pool, const char *pool_name,
                     const char *name, const char *instance_prefix, GError **error)
{
  g_autoptr(GvdVolumeInfo) info = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GvdImage) image = NULL;

  info = image_info_locked (storage, pool, pool_name, name, instance_prefix, error);
  if (info == NULL)
    return FALSE;
  all = list_volumes (pool, error);
  if (all == NULL)
    return FALSE;
  image = image_from_info (info, all);
  if (image->in_use_by->len > 0)
    {
      g_autoptr(GString) users = g_string_new (NULL);

      for (guint i = 0; i < image->in_use_by->len; i++)
        g_string_append_printf (users, "%s%s", i > 0 ? ", " : "",
                                (const char *) g_ptr_array_index (image->in_use_by, i));
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "image '%s' is in use by %u volume%s: %s", name, image->in_use_by->len,
                   image->in_use_by->len == 1 ? "" : "s", users->str);
      return FALSE;
    }
  return delete_volume_by_name (pool, name, error);
}

gboolean
gvd_storage_delete_image (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                          const char *name, const char *instance_prefix, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL && name != NULL, FALSE);

  pool = lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return FALSE;
  locker = g_mutex_locker_new (&storage->lock);
  return delete_image_locked (storage, pool, pool_name, name, instance_prefix, error);
}

/* ---- instance volumes, for recovery's sweep ------------------------------------ */

gboolean
gvd_storage_list_instance_volumes (virConnectPtr conn, const char *pool_name,
                                   const char *instance_prefix, GStrv *out_names,
                                   GStrv *out_paths, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) paths = g_strv_builder_new ();
  virStorageVolPtr *vols = NULL;
  int n;

  g_return_val_if_fail (conn != NULL && pool_name != NULL && instance_prefix != NULL, FALSE);

  pool = virStoragePoolLookupByName (conn, pool_name);
  if (pool == NULL && virGetLastErrorCode () != VIR_ERR_NO_STORAGE_POOL)
    {
      g_autofree char *what = g_strdup_printf ("storage pool '%s'", pool_name);
      set_virt_error (error, GVD_ERROR_LIBVIRT, what);
      return FALSE;
    }
  if (pool != NULL && virStoragePoolIsActive (pool) != 1)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_READY, "storage pool '%s' is not active",
                   pool_name);
      return FALSE;
    }
  n = pool != NULL ? virStoragePoolListAllVolumes (pool, &vols, 0) : 0;
  if (n < 0)
    {
      set_virt_error (error, GVD_ERROR_LIBVIRT, "cannot list volumes");
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      const char *name = virStorageVolGetName (vols[i]);
      g_autofree char *path = virStorageVolGetPath (vols[i]);

      if (name != NULL && path != NULL && is_instance_volume (name, instance_prefix))
        {
          g_strv_builder_add (names, name);
          g_strv_builder_add (paths, path);
        }
      virStorageVolFree (vols[i]);
    }
  free (vols);
  *out_names = g_strv_builder_end (names);
  *out_paths = g_strv_builder_end (paths);
  return TRUE;
}
