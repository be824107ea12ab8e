/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Storage through libvirt: the GvdStorage object, volume lookups, base
 * images (list, show, delete) and instance volumes (qcow2 overlays,
 * deletion). Only libvirt touches the pool's files. */
#include "config.h"

#include "storage.h"

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <string.h>

#include "storage-priv.h"
#include "virt-conn.h"

gboolean
gvd_storage_check_name (const char *what, const char *name, GError **error)
{
  if (gvd_storage_name_is_valid (name))
    return TRUE;
  g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
               "%s name '%s' is not valid: 1-128 characters of A-Z a-z 0-9 . _ -, "
               "starting with a letter or digit",
               what, name != NULL ? name : "");
  return FALSE;
}

/* ---- the storage object ------------------------------------------------- */

static void
storage_clear (gpointer data)
{
  GvdStorage *storage = data;

  g_mutex_clear (&storage->lock);
  g_hash_table_unref (storage->importing);
  g_free (storage->journal_dir);
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

void
gvd_storage_set_journal_dir (GvdStorage *storage, const char *dir)
{
  g_return_if_fail (storage != NULL);

  g_free (storage->journal_dir);
  storage->journal_dir = g_strdup (dir);
}

static gboolean
is_importing_locked (GvdStorage *storage, const char *pool, const char *name)
{
  g_autofree char *key = g_strconcat (pool, "/", name, NULL);

  return g_hash_table_contains (storage->importing, key);
}

/* ---- libvirt helpers ------------------------------------------------------ */

virStoragePoolPtr
gvd_storage_lookup_pool (virConnectPtr conn, const char *pool_name, GError **error)
{
  virStoragePoolPtr pool = virStoragePoolLookupByName (conn, pool_name);
  g_autofree char *what = NULL;

  if (pool != NULL)
    return pool;
  what = g_strdup_printf ("storage pool '%s'", pool_name);
  gvd_virt_error_set (error, what);
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
  gvd_virt_error_set (error, what);
  return NULL;
}

GvdVolumeInfo *
gvd_storage_volume_info (virStorageVolPtr vol, GError **error)
{
  g_autofree char *xml = virStorageVolGetXMLDesc (vol, 0);
  g_autofree char *what = NULL;

  if (xml == NULL)
    {
      what = g_strdup_printf ("cannot read volume '%s'", virStorageVolGetName (vol));
      gvd_virt_error_set (error, what);
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
      gvd_virt_error_set (error, "cannot list volumes");
      return NULL;
    }
  infos = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_volume_info_free);
  for (int i = 0; i < n; i++)
    {
      if (local_error == NULL)
        {
          GvdVolumeInfo *info = gvd_storage_volume_info (vols[i], &local_error);

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

gboolean
gvd_storage_is_instance_volume (const char *name, const char *instance_prefix)
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

GvdImage *
gvd_storage_image_from_info (const GvdVolumeInfo *info, GPtrArray *all)
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

/* ---- images -------------------------------------------------------------------- */

GPtrArray *
gvd_storage_list_images (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                         const char *instance_prefix, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) images = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL, NULL);

  pool = gvd_storage_lookup_pool (conn, pool_name, error);
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

      if (gvd_storage_is_instance_volume (info->name, instance_prefix))
        continue;
      g_mutex_lock (&storage->lock);
      hidden = is_importing_locked (storage, pool_name, info->name);
      g_mutex_unlock (&storage->lock);
      if (!hidden)
        g_ptr_array_add (images, gvd_storage_image_from_info (info, all));
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

  if (!gvd_storage_name_is_valid (name) || gvd_storage_is_instance_volume (name, instance_prefix)
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
  return gvd_storage_volume_info (vol, error);
}

GvdImage *
gvd_storage_get_image (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                       const char *name, const char *instance_prefix, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GvdVolumeInfo) info = NULL;
  g_autoptr(GPtrArray) all = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL && name != NULL, NULL);

  pool = gvd_storage_lookup_pool (conn, pool_name, error);
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
  return gvd_storage_image_from_info (info, all);
}

gboolean
gvd_storage_volume_exists (virStoragePoolPtr pool, const char *name, GError **error)
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

/* ---- instance volumes ------------------------------------------------------------- */

char *
gvd_storage_volume_path (virStorageVolPtr vol, GError **error)
{
  char *path = virStorageVolGetPath (vol);
  char *out;

  if (path == NULL)
    {
      gvd_virt_error_set (error, "cannot read the volume path");
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
  if (gvd_storage_volume_exists (pool, vol_name, error))
    return NULL;
  xml = gvd_storage_volume_xml (vol_name, capacity, "qcow2", base->path, base_format);
  vol = virStorageVolCreateXML (pool, xml, 0);
  if (vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("cannot create volume '%s'", vol_name);
      gvd_virt_error_set (error, what);
      return NULL;
    }
  return gvd_storage_volume_path (vol, error);
}

char *
gvd_storage_create_overlay (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                            const char *vol_name, const char *base_image, guint64 size_bytes,
                            GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL && pool_name != NULL, NULL);

  if (!gvd_storage_check_name ("volume", vol_name, error))
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
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return NULL;
  /* Held so that the base cannot be deleted between the check and the
   * overlay's creation. */
  locker = g_mutex_locker_new (&storage->lock);
  return create_overlay_locked (storage, pool, pool_name, vol_name, base_image, size_bytes, error);
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
      gvd_virt_error_set (error, what);
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

  if (!gvd_storage_check_name ("volume", vol_name, error))
    return FALSE;
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
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
  image = gvd_storage_image_from_info (info, all);
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

  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return FALSE;
  locker = g_mutex_locker_new (&storage->lock);
  return delete_image_locked (storage, pool, pool_name, name, instance_prefix, error);
}
