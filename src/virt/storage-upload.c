/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Uploads through libvirt streams: a file (sparse: holes stay holes) or
 * bytes in memory (seed ISOs) into a new raw volume, deleted on failure. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* SEEK_DATA, SEEK_HOLE */
#endif
#include "config.h"

#include "storage.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <unistd.h>

#include "storage-priv.h"
#include "virt-conn.h"

/* ---- uploads --------------------------------------------------------------------- */

static int
upload_source_cb (virStreamPtr st, char *data, size_t nbytes, void *opaque)
{
  GvdUploadSource *src = opaque;
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
  GvdUploadSource *src = opaque;
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
  GvdUploadSource *src = opaque;

  src->offset += (guint64) length;
  return 0;
}

/* Stream @src into @vol from offset 0. */
static gboolean
upload (virConnectPtr conn, virStorageVolPtr vol, GvdUploadSource *src, GError **error)
{
  g_autoptr(virStream) st = virStreamNew (conn, 0);
  gboolean sparse = src->fd >= 0;
  int rc;

  if (st == NULL)
    {
      gvd_virt_error_set (error, "cannot create a libvirt stream");
      return FALSE;
    }
  if (virStorageVolUpload (vol, st, 0, src->length,
                           sparse ? VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM : 0) < 0)
    {
      gvd_virt_error_set (error, "cannot start the upload");
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
        gvd_virt_error_set (error, "upload failed");
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
      gvd_virt_error_set (error, "upload failed to complete");
      return FALSE;
    }
  return TRUE;
}

void
gvd_storage_delete_quietly (virStorageVolPtr vol)
{
  if (virStorageVolDelete (vol, 0) < 0)
    g_debug ("cannot delete partial volume %s: %s", virStorageVolGetName (vol),
             virGetLastErrorMessage ());
}

/* A new raw volume of @length bytes filled from @src; deleted on failure. */
virStorageVolPtr
gvd_storage_create_and_upload (virConnectPtr conn, virStoragePoolPtr pool, const char *name,
                               GvdUploadSource *src, GError **error)
{
  g_autofree char *xml = gvd_storage_volume_xml (name, src->length, "raw", NULL, NULL);
  g_autoptr(virStorageVol) vol = virStorageVolCreateXML (pool, xml, 0);

  if (vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("cannot create volume '%s'", name);
      gvd_virt_error_set (error, what);
      return NULL;
    }
  if (!upload (conn, vol, src, error))
    {
      gvd_storage_delete_quietly (vol);
      return NULL;
    }
  return g_steal_pointer (&vol);
}

char *
gvd_storage_upload_volume (virConnectPtr conn, const char *pool_name, const char *vol_name,
                           GBytes *data, const char *format, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(virStorageVol) vol = NULL;
  GvdUploadSource src = { .fd = -1, .bytes = data };

  g_return_val_if_fail (conn != NULL && pool_name != NULL && data != NULL, NULL);

  if (!gvd_storage_check_name ("volume", vol_name, error))
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
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return NULL;
  if (gvd_storage_volume_exists (pool, vol_name, error))
    return NULL;
  vol = gvd_storage_create_and_upload (conn, pool, vol_name, &src, error);
  if (vol == NULL)
    return NULL;
  return gvd_storage_volume_path (vol, error);
}

GBytes *
gvd_storage_download_volume (virConnectPtr conn, const char *pool_name, const char *vol_name,
                             guint64 max_bytes, GError **error)
{
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(virStorageVol) vol = NULL;
  g_autoptr(virStream) st = NULL;
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  char chunk[65536];

  g_return_val_if_fail (conn != NULL && pool_name != NULL, NULL);

  if (!gvd_storage_check_name ("volume", vol_name, error))
    return NULL;
  pool = gvd_storage_lookup_pool (conn, pool_name, error);
  if (pool == NULL)
    return NULL;
  vol = virStorageVolLookupByName (pool, vol_name);
  if (vol == NULL)
    {
      g_autofree char *what = g_strdup_printf ("cannot find volume '%s'", vol_name);
      gvd_virt_error_set (error, what);
      return NULL;
    }
  st = virStreamNew (conn, 0);
  if (st == NULL || virStorageVolDownload (vol, st, 0, 0, 0) < 0)
    {
      g_autofree char *what = g_strdup_printf ("cannot download volume '%s'", vol_name);
      gvd_virt_error_set (error, what);
      return NULL;
    }
  for (;;)
    {
      int n = virStreamRecv (st, chunk, sizeof chunk);

      if (n < 0)
        {
          gvd_virt_error_set (error, "download failed");
          virStreamAbort (st);
          return NULL;
        }
      if (n == 0)
        break;
      if (buf->len + (guint64) n > max_bytes)
        {
          virStreamAbort (st);
          g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL,
                       "volume '%s' is larger than %" G_GUINT64_FORMAT " bytes", vol_name,
                       max_bytes);
          return NULL;
        }
      g_byte_array_append (buf, (const guint8 *) chunk, (guint) n);
    }
  if (virStreamFinish (st) < 0)
    {
      gvd_virt_error_set (error, "download failed to complete");
      return NULL;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}
