/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt dir pool: define, build, start and autostart it, refuse one
 * of another type or path, and list its instance volumes for recovery. */
#include "config.h"

#include "storage.h"

#include <libvirt/virterror.h>

#include "storage-priv.h"
#include "virt-conn.h"

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
      gvd_virt_error_set (error, "cannot read the storage pool definition");
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
          gvd_virt_error_set (error, "cannot look up the storage pool");
          return FALSE;
        }
      xml = gvd_storage_pool_xml (pool_name, pool_path);
      pool = virStoragePoolDefineXML (conn, xml, 0);
      if (pool == NULL)
        {
          g_autofree char *what = g_strdup_printf ("cannot define storage pool '%s'", pool_name);
          gvd_virt_error_set (error, what);
          return FALSE;
        }
      g_debug ("defined storage pool %s at %s", pool_name, pool_path);
    }
  else if (!check_existing_pool (pool, pool_name, pool_path, error))
    return FALSE;

  active = virStoragePoolIsActive (pool);
  if (active < 0)
    {
      gvd_virt_error_set (error, "cannot read the storage pool state");
      return FALSE;
    }
  if (!active)
    {
      /* Building a dir pool creates its directory (and keeps an existing one). */
      if (virStoragePoolBuild (pool, 0) < 0)
        {
          g_autofree char *what = g_strdup_printf ("cannot build storage pool '%s'", pool_name);
          gvd_virt_error_set (error, what);
          return FALSE;
        }
      if (virStoragePoolCreate (pool, 0) < 0)
        {
          g_autofree char *what = g_strdup_printf ("cannot start storage pool '%s'", pool_name);
          gvd_virt_error_set (error, what);
          return FALSE;
        }
    }
  if (virStoragePoolGetAutostart (pool, &autostart) < 0 || !autostart)
    {
      if (virStoragePoolSetAutostart (pool, 1) < 0)
        {
          gvd_virt_error_set (error, "cannot set the storage pool to autostart");
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

  if (!gvd_storage_check_name ("storage pool", pool_name, error))
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
      gvd_virt_error_set (error, what);
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
      gvd_virt_error_set (error, "cannot list volumes");
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      const char *name = virStorageVolGetName (vols[i]);
      g_autofree char *path = virStorageVolGetPath (vols[i]);

      if (name != NULL && path != NULL && gvd_storage_is_instance_volume (name, instance_prefix))
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

