/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The set of image downloads of one daemon (api-image-download.h): start,
 * cancel, list; the transfer itself is api-image-download.c. */
#include "config.h"

#include "api-image-download.h"
#include "api-image-download-priv.h"

#include <string.h>

#include "storage.h"

GvdImageDownloads *
gvd_image_downloads_new (GvdDaemon *daemon)
{
  GvdImageDownloads *downloads = g_new0 (GvdImageDownloads, 1);

  downloads->daemon = daemon;
  downloads->running = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify) gvd_image_download_unref);
  return downloads;
}

void
gvd_image_downloads_free (GvdImageDownloads *downloads)
{
  GHashTableIter iter;
  gpointer value;

  if (downloads == NULL)
    return;
  g_hash_table_iter_init (&iter, downloads->running);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Download *dl = value;

      dl->owner = NULL;
      g_cancellable_cancel (dl->cancellable);
      if (!dl->ended && dl->thread != NULL)
        gvd_image_download_push (dl, ITEM_ABORT, NULL, NULL);
      dl->ended = TRUE;
    }
  g_hash_table_unref (downloads->running);
  g_free (downloads);
}

static char *
without_query (const char *url)
{
  const char *q = strchr (url, '?');

  return q != NULL ? g_strndup (url, (gsize) (q - url)) : g_strdup (url);
}

gboolean
gvd_image_downloads_start (GvdImageDownloads *downloads, SoupServerMessage *msg,
                           GvdImageUrlRequest *req_in, GError **error)
{
  g_autoptr(GvdImageUrlRequest) req = req_in;
  GvdDaemon *d = downloads->daemon;
  virConnectPtr conn;
  Download *dl;

  if (g_hash_table_contains (downloads->running, req->name))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                   "image '%s' is already being imported", req->name);
      return FALSE;
    }
  if (g_hash_table_size (downloads->running) >= GVD_IMAGE_MAX_DOWNLOADS)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_UNAVAILABLE,
                   "%d downloads are running, the most at once: try again later",
                   GVD_IMAGE_MAX_DOWNLOADS);
      return FALSE;
    }
  conn = gvd_virt_conn_get (d->virt, error);
  if (conn == NULL)
    return FALSE;

  dl = g_new0 (Download, 1);
  g_atomic_ref_count_init (&dl->ref);
  dl->owner = downloads;
  dl->display_url = without_query (req->url);
  dl->current_url = g_strdup (req->url);
  dl->req = g_steal_pointer (&req);
  dl->msg = g_object_ref (msg);
  dl->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  dl->cancellable = g_cancellable_new ();
  dl->checksum = g_checksum_new (dl->req->digest_type);
  dl->stall_timeout = d->config->stall_timeout;
  dl->max_bytes = (guint64) d->config->max_download_mib << 20;
  dl->context = g_main_context_ref_thread_default ();
  dl->queue = g_async_queue_new ();
  dl->conn = conn;
  dl->storage = gvd_storage_ref (d->storage);
  dl->pool_name = g_strdup (d->config->pool_name);
  dl->pool_path = g_strdup (d->config->pool_path);
  dl->prefix = g_strdup (d->config->domain_prefix);
  /* TLS is verified against the system's CAs (libsoup's default); the
   * timeout bounds connecting and every read, not the whole transfer. */
  dl->session = soup_session_new_with_options ("timeout", dl->stall_timeout,
                                               "user-agent", PACKAGE_NAME "/" PACKAGE_VERSION,
                                               NULL);
  soup_session_remove_feature_by_type (dl->session, SOUP_TYPE_CONTENT_DECODER);
  g_hash_table_insert (downloads->running, dl->req->name, dl);
  soup_server_message_pause (msg);
  g_message ("image %s: downloading %s", dl->req->name, dl->display_url);
  gvd_image_download_send (dl);
  return TRUE;
}

gboolean
gvd_image_downloads_cancel (GvdImageDownloads *downloads, const char *name,
                            SoupServerMessage *msg)
{
  Download *dl = g_hash_table_lookup (downloads->running, name);

  if (dl == NULL)
    return FALSE;
  if (dl->ended && dl->error == NULL)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_CONFLICT, "image '%s' is downloaded and being "
                            "verified: delete it once it is imported", name);
      return TRUE;
    }
  g_ptr_array_add (dl->waiters, g_object_ref (msg));
  soup_server_message_pause (msg);
  if (!dl->ended)
    {
      g_message ("image %s: import cancelled by DELETE", name);
      gvd_image_download_cancel (dl);
    }
  return TRUE;
}

gboolean
gvd_image_downloads_has (GvdImageDownloads *downloads, const char *name)
{
  return g_hash_table_contains (downloads->running, name);
}

static void
write_one (Download *dl, JsonBuilder *b)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, dl->req->name);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, "importing");
  json_builder_set_member_name (b, "source_url");
  json_builder_add_string_value (b, dl->display_url);
  json_builder_set_member_name (b, "bytes_done");
  json_builder_add_int_value (b, (gint64) dl->done);
  json_builder_set_member_name (b, "bytes_total");
  json_builder_add_int_value (b, (gint64) dl->total);
  json_builder_end_object (b);
}

static gint
compare_names (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

void
gvd_image_downloads_write_json (GvdImageDownloads *downloads, const char *name, GHashTable *skip,
                                JsonBuilder *b)
{
  g_autofree const char **names = NULL;
  guint n = 0;

  if (name != NULL)
    {
      Download *dl = g_hash_table_lookup (downloads->running, name);

      if (dl != NULL)
        write_one (dl, b);
      return;
    }
  names = (const char **) g_hash_table_get_keys_as_array (downloads->running, &n);
  g_qsort_with_data (names, (gint) n, sizeof *names, compare_names, NULL);
  for (guint i = 0; i < n; i++)
    if (skip == NULL || !g_hash_table_contains (skip, names[i]))
      write_one (g_hash_table_lookup (downloads->running, names[i]), b);
}
