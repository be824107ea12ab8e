/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Blank volumes (data disks) and growing a volume, through libvirt storage. */
#include "config.h"

#include "storage.h"

#include <libvirt/virterror.h>

#include "storage-priv.h"
#include "virt-conn.h"

char *
gvd_storage_create_volume (virConnectPtr conn, const char *pool_name, const char *vol_name,
                           guint64 capacity, const char *format, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(virStorageVol) vol = NULL;
  g_autofree char *xml = NULL;

  g_return_val_if_fail (conn != NULL && pool_name != NULL && format != NULL, NULL);

  if (!gvd_storage_check_name ("volume", vol_name, error))
    return NULL;
  if (capacity == 0 || capacity > GVD_STORAGE_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "volume size %" G_GUINT64_FORMAT " bytes is not from 1 byte to 64 TiB",
                   capacity);
      return NULL;
    }
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL || gvd_storage_volume_exists (pool, vol_name, error))
    return NULL;
  /* Sparse: a raw file of holes, or an empty qcow2 of that virtual size. */
  xml = gvd_storage_volume_xml (vol_name, capacity, format, NULL, NULL);
  vol = virStorageVolCreateXML (pool, xml, 0);
  if (vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("cannot create volume '%s'", vol_name);
      gvd_virt_error_set (error, what);
      return NULL;
    }
  return gvd_storage_volume_path (vol, error);
}

GvdVolumeInfo *
gvd_storage_get_volume (virConnectPtr conn, const char *pool_name, const char *vol_name,
                        GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(virStorageVol) vol = NULL;

  g_return_val_if_fail (conn != NULL && pool_name != NULL, NULL);

  if (!gvd_storage_check_name ("volume", vol_name, error))
    return NULL;
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return NULL;
  vol = virStorageVolLookupByName (pool, vol_name);
  if (vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("volume '%s'", vol_name);

      if (virGetLastErrorCode () == VIR_ERR_NO_STORAGE_VOL)
        g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no volume '%s' in pool '%s'",
                     vol_name, pool_name);
      else
        gvd_virt_error_set (error, what);
      return NULL;
    }
  return gvd_storage_volume_info (vol, error);
}

gboolean
gvd_storage_grow_volume (virConnectPtr conn, const char *pool_name, const char *vol_name,
                         guint64 capacity, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(virStorageVol) vol = NULL;
  g_autoptr(GvdVolumeInfo) info = NULL;

  g_return_val_if_fail (conn != NULL && pool_name != NULL, FALSE);

  if (capacity > GVD_STORAGE_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "volume size %" G_GUINT64_FORMAT " bytes is over the limit of 64 TiB",
                   capacity);
      return FALSE;
    }
  if (!gvd_storage_check_name ("volume", vol_name, error))
    return FALSE;
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return FALSE;
  vol = virStorageVolLookupByName (pool, vol_name);
  if (vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("volume '%s'", vol_name);
      gvd_virt_error_set (error, what);
      return FALSE;
    }
  info = gvd_storage_volume_info (vol, error);
  if (info == NULL)
    return FALSE;
  if (capacity < info->capacity)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "volume '%s' is %" G_GUINT64_FORMAT " bytes: it can only grow, not shrink to %"
                   G_GUINT64_FORMAT, vol_name, info->capacity, capacity);
      return FALSE;
    }
  if (capacity == info->capacity)
    return TRUE;
  if (virStorageVolResize (vol, capacity, 0) < 0)
    {
      g_autofree char *what = g_strdup_printf ("cannot resize volume '%s'", vol_name);
      gvd_virt_error_set (error, what);
      return FALSE;
    }
  return TRUE;
}
