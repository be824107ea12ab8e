/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Imports fed piece by piece (downloads): a claimed, journalled volume and
 * a libvirt upload stream written as the bytes arrive; and the sweep of the
 * volumes a crash left half-written. */
#include "config.h"

#include "storage.h"

#include <libvirt/virterror.h>

#include "journal.h"
#include "storage-priv.h"
#include "virt-conn.h"

struct _GvdStorageSink {
  GvdStorage *storage;
  virStoragePoolPtr pool;
  virStorageVolPtr vol;
  virStreamPtr st;
  char *pool_name;
  char *name;
  guint64 length;
  guint64 written;
  gboolean done; /* finished (kept or deleted) and released */
};

static void
sink_release (GvdStorageSink *sink)
{
  g_autoptr(GError) error = NULL;

  if (!gvd_storage_release (sink->storage, sink->pool_name, sink->name, &error))
    g_debug ("import of %s: %s (swept at the next start)", sink->name, error->message);
}

GvdStorageSink *
gvd_storage_sink_open (GvdStorage *storage, virConnectPtr conn, const char *pool_name,
                       const char *name, guint64 length, const char *instance_prefix,
                       GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autofree char *xml = NULL;
  GvdStorageSink *sink;

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
  if (length == 0 || length > GVD_STORAGE_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "an image must be 1 byte to 64 TiB, not %" G_GUINT64_FORMAT " bytes", length);
      return NULL;
    }
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL || !gvd_storage_claim (storage, pool, pool_name, name, error))
    return NULL;

  sink = g_new0 (GvdStorageSink, 1);
  sink->storage = gvd_storage_ref (storage);
  sink->pool = g_steal_pointer (&pool);
  sink->pool_name = g_strdup (pool_name);
  sink->name = g_strdup (name);
  sink->length = length;
  xml = gvd_storage_volume_xml (name, length, "raw", NULL, NULL);
  sink->vol = virStorageVolCreateXML (sink->pool, xml, 0);
  if (sink->vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("cannot create volume '%s'", name);
      gvd_virt_error_set (error, what);
      gvd_storage_sink_free (sink);
      return NULL;
    }
  sink->st = virStreamNew (conn, 0);
  if (sink->st == NULL)
    {
      gvd_virt_error_set (error, "cannot create a libvirt stream");
      gvd_storage_sink_free (sink);
      return NULL;
    }
  if (virStorageVolUpload (sink->vol, sink->st, 0, length, 0) < 0)
    {
      gvd_virt_error_set (error, "cannot start the upload");
      virStreamFree (sink->st);
      sink->st = NULL;
      gvd_storage_sink_free (sink);
      return NULL;
    }
  return sink;
}

gboolean
gvd_storage_sink_write (GvdStorageSink *sink, const void *data, gsize len, GError **error)
{
  const char *p = data;

  g_return_val_if_fail (sink != NULL && !sink->done && sink->st != NULL, FALSE);

  if (len > sink->length - sink->written)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "more than the %" G_GUINT64_FORMAT " bytes announced", sink->length);
      return FALSE;
    }
  while (len > 0)
    {
      /* A blocking stream: sends at least a byte, or fails. */
      int n = virStreamSend (sink->st, p, MIN (len, (gsize) G_MAXINT));

      if (n < 0)
        {
          gvd_virt_error_set (error, "upload failed");
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
      sink->written += (guint64) n;
    }
  return TRUE;
}

GvdImage *
gvd_storage_sink_finish (GvdStorageSink *sink, const char *format, GError **error)
{
  g_autoptr(GvdVolumeInfo) info = NULL;
  g_autoptr(GError) release_error = NULL;

  g_return_val_if_fail (sink != NULL && !sink->done && sink->st != NULL, NULL);

  if (sink->written != sink->length)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                   "upload stopped after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
                   sink->written, sink->length);
      return NULL; /* freeing the sink aborts and deletes */
    }
  if (virStreamFinish (sink->st) < 0)
    {
      gvd_virt_error_set (error, "upload failed to complete");
      return NULL;
    }
  virStreamFree (sink->st);
  sink->st = NULL;
  info = gvd_storage_verify_import (sink->pool, sink->vol, format, error);
  if (info == NULL)
    return NULL;
  sink->done = TRUE;
  if (!gvd_storage_release (sink->storage, sink->pool_name, sink->name, &release_error))
    {
      gvd_storage_delete_quietly (sink->vol);
      g_propagate_error (error, g_steal_pointer (&release_error));
      return NULL;
    }
  return gvd_storage_image_from_info (info, NULL);
}

void
gvd_storage_sink_free (GvdStorageSink *sink)
{
  if (sink == NULL)
    return;
  if (sink->st != NULL)
    {
      virStreamAbort (sink->st);
      virStreamFree (sink->st);
    }
  if (!sink->done)
    {
      if (sink->vol != NULL)
        gvd_storage_delete_quietly (sink->vol);
      sink_release (sink);
    }
  if (sink->vol != NULL)
    virStorageVolFree (sink->vol);
  virStoragePoolFree (sink->pool);
  gvd_storage_unref (sink->storage);
  g_free (sink->pool_name);
  g_free (sink->name);
  g_free (sink);
}

/* ---- the sweep of unfinished imports ------------------------------------------- */

gboolean
gvd_storage_sweep_imports (GvdStorage *storage, virConnectPtr conn, GStrv *out_swept,
                           GError **error)
{
  g_autoptr(GStrvBuilder) swept = g_strv_builder_new ();
  g_autoptr(GMutexLocker) locker = NULL;
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) pools = NULL;

  g_return_val_if_fail (storage != NULL && conn != NULL, FALSE);

  if (storage->journal_dir == NULL)
    {
      *out_swept = g_strv_builder_end (swept);
      return TRUE;
    }
  /* Held throughout: an import of this process claims its name (under the
   * lock) before it journals it, so what is not claimed now is a dead
   * process's. */
  locker = g_mutex_locker_new (&storage->lock);
  if (!gvd_journal_list (&gvd_journal_imports, storage->journal_dir, &names, &pools, error))
    return FALSE;
  for (gsize i = 0; names[i] != NULL; i++)
    {
      g_autofree char *key = g_strconcat (pools[i], "/", names[i], NULL);
      g_autoptr(virStoragePool) pool = NULL;

      if (g_hash_table_contains (storage->importing, key))
        continue;
      pool = virStoragePoolLookupByName (conn, pools[i]);
      /* A pool that is gone took the volume with it. */
      if (pool == NULL && virGetLastErrorCode () != VIR_ERR_NO_STORAGE_POOL)
        {
          g_autofree char *what = g_strdup_printf ("storage pool '%s'", pools[i]);
          gvd_virt_error_set (error, what);
          return FALSE;
        }
      if (pool != NULL && !gvd_storage_delete_volume (conn, pools[i], names[i], error))
        return FALSE;
      if (!gvd_journal_remove (&gvd_journal_imports, storage->journal_dir, names[i], error))
        return FALSE;
      g_strv_builder_add (swept, key);
    }
  *out_swept = g_strv_builder_end (swept);
  return TRUE;
}
