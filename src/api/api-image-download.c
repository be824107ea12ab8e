/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Images from URLs. The main loop reads the HTTP body with libsoup
 * (asynchronously, redirects checked one by one against [images]
 * url_allow), hashes it and queues its chunks; a worker thread per download
 * writes them into a libvirt upload stream (storage.h's sink), so no
 * libvirt call ever runs on the main loop. The queue is bounded: while
 * MAX_IN_FLIGHT chunks wait for the worker, the main loop stops reading
 * (backpressure reaches the server through TCP). The worker also hashes
 * (keeping that CPU off the main loop); once the body is complete and its
 * digest matches, it finishes the stream and releases the volume as an
 * image; any failure deletes it. */
#include "config.h"

#include "api-image-download.h"
#include "api-image-download-priv.h"

#include <string.h>

#include "events.h"
#include "fault-point.h"
#include "image-url.h"
#include "storage.h"

#define CHUNK_BYTES (256 * 1024)

static void complete (Download *dl, GvdImage *image, GError *writer_error);

void
gvd_image_url_request_free (GvdImageUrlRequest *req)
{
  if (req == NULL)
    return;
  g_free (req->name);
  g_free (req->url);
  g_free (req->format);
  g_free (req->digest);
  g_free (req);
}

static void
item_free (Item *item)
{
  g_clear_pointer (&item->bytes, g_bytes_unref);
  g_free (item);
}

Download *
gvd_image_download_ref (Download *dl)
{
  g_atomic_ref_count_inc (&dl->ref);
  return dl;
}

void
gvd_image_download_unref (Download *dl)
{
  if (dl == NULL || !g_atomic_ref_count_dec (&dl->ref))
    return;
  g_assert (dl->thread == NULL);
  gvd_image_url_request_free (dl->req);
  g_free (dl->display_url);
  g_free (dl->current_url);
  g_clear_object (&dl->msg);
  g_clear_pointer (&dl->waiters, g_ptr_array_unref);
  g_clear_object (&dl->session);
  g_clear_object (&dl->message);
  g_clear_object (&dl->body);
  g_clear_object (&dl->cancellable);
  g_clear_pointer (&dl->checksum, g_checksum_free);
  g_clear_error (&dl->error);
  g_main_context_unref (dl->context);
  g_async_queue_unref (dl->queue);
  if (dl->conn != NULL)
    virConnectClose (dl->conn);
  g_clear_pointer (&dl->storage, gvd_storage_unref);
  g_free (dl->pool_name);
  g_free (dl->pool_path);
  g_free (dl->prefix);
  g_free (dl);
}

void
gvd_image_download_push (Download *dl, ItemKind kind, GBytes *bytes, const char *format)
{
  Item *item = g_new0 (Item, 1);

  item->kind = kind;
  item->bytes = bytes;
  item->format = format;
  g_async_queue_push (dl->queue, item);
}

/* ---- events ------------------------------------------------------------------ */

static GvdEvents *
events_of (Download *dl)
{
  return dl->owner != NULL ? dl->owner->daemon->events : NULL;
}

static void
emit_progress (Download *dl, gboolean force)
{
  g_autoptr(JsonBuilder) b = NULL;
  gint64 now = g_get_monotonic_time ();

  /* At most one a second, and only after 1% more (and the first and the
   * last): a long download must not flood the replay ring. */
  if (!force && (now - dl->last_event_us < G_USEC_PER_SEC
                 || (dl->done - dl->last_event_bytes) * 100 < dl->total))
    return;
  dl->last_event_us = now;
  dl->last_event_bytes = dl->done;
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, dl->req->name);
  json_builder_set_member_name (b, "bytes_done");
  json_builder_add_int_value (b, (gint64) dl->done);
  json_builder_set_member_name (b, "bytes_total");
  json_builder_add_int_value (b, (gint64) dl->total);
  json_builder_end_object (b);
  gvd_events_emit (events_of (dl), "image.progress", json_builder_get_root (b));
}

static void
emit_result (Download *dl, const GvdImage *image, const GError *error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, dl->req->name);
  json_builder_set_member_name (b, "source_url");
  json_builder_add_string_value (b, dl->display_url);
  if (image != NULL)
    {
      json_builder_set_member_name (b, "format");
      json_builder_add_string_value (b, image->format);
      json_builder_set_member_name (b, "bytes");
      json_builder_add_int_value (b, (gint64) dl->total);
    }
  else
    {
      json_builder_set_member_name (b, "code");
      json_builder_add_string_value (b, gvd_error_code_name (gvd_error_get_code (error)));
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, error->message);
    }
  json_builder_end_object (b);
  gvd_events_emit (events_of (dl), image != NULL ? "image.imported" : "image.failed",
                   json_builder_get_root (b));
}

/* ---- the worker: the libvirt side ------------------------------------------- */

typedef enum { NOTE_FAILED, NOTE_WRITTEN, NOTE_DONE } NoteKind;

typedef struct {
  Download *dl;
  NoteKind kind;
  GError *error;
  GvdImage *image;
} Note;

static void
note_free (Note *note)
{
  gvd_image_download_unref (note->dl);
  g_clear_error (&note->error);
  g_clear_pointer (&note->image, gvd_image_free);
  g_free (note);
}

static void fail (Download *dl, GError *error);
static void read_next (Download *dl);

static gboolean
on_note (gpointer data)
{
  Note *note = data;
  Download *dl = note->dl;

  switch (note->kind)
    {
    case NOTE_FAILED:
      fail (dl, g_steal_pointer (&note->error));
      break;
    case NOTE_WRITTEN:
      if (g_atomic_int_get (&dl->paused) && g_atomic_int_get (&dl->in_flight) < MAX_IN_FLIGHT)
        {
          g_atomic_int_set (&dl->paused, 0);
          read_next (dl);
        }
      break;
    case NOTE_DONE:
      g_thread_join (dl->thread);
      dl->thread = NULL;
      complete (dl, g_steal_pointer (&note->image), g_steal_pointer (&note->error));
      break;
    default:
      g_assert_not_reached ();
    }
  return G_SOURCE_REMOVE;
}

static void
notify (Download *dl, NoteKind kind, GError *error, GvdImage *image)
{
  Note *note = g_new0 (Note, 1);

  note->dl = gvd_image_download_ref (dl);
  note->kind = kind;
  note->error = error;
  note->image = image;
  g_main_context_invoke_full (dl->context, G_PRIORITY_DEFAULT, on_note, note,
                              (GDestroyNotify) note_free);
}

static gpointer
writer_thread (gpointer data)
{
  Download *dl = data;
  g_autoptr(GError) error = NULL;
  GvdStorageSink *sink = NULL;
  GvdImage *image = NULL;
  gboolean first = TRUE;

  if (gvd_storage_ensure_pool (dl->storage, dl->conn, dl->pool_name, dl->pool_path, &error))
    sink = gvd_storage_sink_open (dl->storage, dl->conn, dl->pool_name, dl->req->name, dl->total,
                                  dl->prefix, &error);
  if (sink == NULL)
    notify (dl, NOTE_FAILED, g_error_copy (error), NULL);
  for (;;)
    {
      Item *item = g_async_queue_pop (dl->queue);
      ItemKind kind = item->kind;

      if (kind == ITEM_DATA)
        {
          gsize len = 0;
          const void *p = g_bytes_get_data (item->bytes, &len);

          /* Hashed here, off the main loop. */
          g_checksum_update (dl->checksum, p, (gssize) len);
          if (error == NULL && !gvd_storage_sink_write (sink, p, len, &error))
            notify (dl, NOTE_FAILED, g_error_copy (error), NULL);
          if (first && error == NULL)
            {
              first = FALSE;
              gvd_fault_point ("image-write");
            }
          g_atomic_int_add (&dl->in_flight, -1);
          if (g_atomic_int_get (&dl->paused))
            notify (dl, NOTE_WRITTEN, NULL, NULL);
        }
      else if (kind == ITEM_FINISH && error == NULL)
        {
          /* Every byte is in the volume, which nothing can use yet: it is
           * released only when the digest matches, else deleted below. */
          const char *got = g_checksum_get_string (dl->checksum);

          if (!g_str_equal (got, dl->req->digest))
            g_set_error (&error, GVD_ERROR, GVD_ERROR_DOWNLOAD_FAILED,
                         "'%s': the download from %s has digest %s, not %s: nothing was "
                         "imported", dl->req->digest_type == G_CHECKSUM_SHA256 ? "sha256" : "sha512",
                         dl->display_url, got, dl->req->digest);
          else
            image = gvd_storage_sink_finish (sink, item->format, &error);
        }
      item_free (item);
      if (kind != ITEM_DATA)
        break;
    }
  /* Unless finished, this aborts the stream and deletes the volume. */
  gvd_storage_sink_free (sink);
  notify (dl, NOTE_DONE, g_steal_pointer (&error), image);
  gvd_image_download_unref (dl);
  return NULL;
}

/* ---- the main loop: the HTTP side -------------------------------------------- */

/* Stop: the first error wins; the worker (if any) aborts. */
static void
fail (Download *dl, GError *error)
{
  if (dl->error == NULL)
    dl->error = error;
  else
    g_error_free (error);
  g_cancellable_cancel (dl->cancellable);
  if (dl->ended)
    return;
  dl->ended = TRUE;
  if (dl->thread != NULL)
    gvd_image_download_push (dl, ITEM_ABORT, NULL, NULL);
  else
    complete (dl, NULL, NULL);
}

static void
failf (Download *dl, GvdErrorCode code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
failf (Download *dl, GvdErrorCode code, const char *format, ...)
{
  va_list ap;
  g_autofree char *message = NULL;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  fail (dl, g_error_new_literal (GVD_ERROR, code, message));
}

/* A GIO or libsoup error while talking to the server. */
static void
fail_transfer (Download *dl, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && dl->ended)
    return;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    failf (dl, GVD_ERROR_TIMEOUT,
           "'url': %s sent nothing for %u s ([images] stall_timeout) after %" G_GUINT64_FORMAT
           " of %" G_GUINT64_FORMAT " bytes", dl->display_url, dl->stall_timeout, dl->done,
           dl->total);
  else if (dl->body != NULL)
    failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': the body from %s ended after %"
           G_GUINT64_FORMAT " of its %" G_GUINT64_FORMAT " bytes (Content-Length): %s",
           dl->display_url, dl->done, dl->total, error->message);
  else
    failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': GET %s failed: %s", dl->display_url,
           error->message);
}

static void
on_read (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Download) dl = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, &error);
  gsize n;

  dl->reading = FALSE;
  if (dl->ended)
    return;
  if (bytes == NULL)
    {
      fail_transfer (dl, error);
      return;
    }
  n = g_bytes_get_size (bytes);
  if (n == 0)
    {
      const char *detected;

      if (dl->done != dl->total)
        {
          failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': the body from %s ended after %"
                 G_GUINT64_FORMAT " of its %" G_GUINT64_FORMAT " bytes (Content-Length)",
                 dl->display_url, dl->done, dl->total);
          return;
        }
      if (gvd_image_compression (dl->head, dl->head_len) != NULL)
        {
          failf (dl, GVD_ERROR_INVALID_ARGUMENT, "'url': %s is %s-compressed: gpuvmd does not "
                 "decompress images; give the URL of the uncompressed raw or qcow2 image",
                 dl->display_url, gvd_image_compression (dl->head, dl->head_len));
          return;
        }
      detected = gvd_storage_detect_format (dl->head, dl->head_len);
      if (dl->req->format != NULL && !g_str_equal (dl->req->format, detected))
        {
          failf (dl, GVD_ERROR_INVALID_ARGUMENT, "'format': %s holds a %s image, not %s",
                 dl->display_url, detected, dl->req->format);
          return;
        }
      emit_progress (dl, TRUE);
      dl->ended = TRUE;
      gvd_image_download_push (dl, ITEM_FINISH, NULL, detected);
      return;
    }
  if (n > dl->total - dl->done)
    {
      failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': %s sent more than its Content-Length of %"
             G_GUINT64_FORMAT " bytes", dl->display_url, dl->total);
      return;
    }
  if (dl->head_len < sizeof dl->head)
    {
      gsize take = MIN (n, sizeof dl->head - dl->head_len);

      memcpy (dl->head + dl->head_len, g_bytes_get_data (bytes, NULL), take);
      dl->head_len += take;
    }
  dl->done += n;
  g_atomic_int_inc (&dl->in_flight);
  gvd_image_download_push (dl, ITEM_DATA, g_steal_pointer (&bytes), NULL);
  emit_progress (dl, FALSE);
  read_next (dl);
}

static void
read_next (Download *dl)
{
  if (dl->ended || dl->reading)
    return;
  if (g_atomic_int_get (&dl->in_flight) >= MAX_IN_FLIGHT)
    {
      /* Re-checked after the flag is up, so that the worker's wake-up
       * cannot slip between the two. */
      g_atomic_int_set (&dl->paused, 1);
      if (g_atomic_int_get (&dl->in_flight) >= MAX_IN_FLIGHT)
        return;
      g_atomic_int_set (&dl->paused, 0);
    }
  dl->reading = TRUE;
  g_input_stream_read_bytes_async (dl->body, CHUNK_BYTES, G_PRIORITY_DEFAULT, dl->cancellable,
                                   on_read, gvd_image_download_ref (dl));
}


/* 3xx: follow it by hand, so that every hop is checked. */
static void
redirect (Download *dl)
{
  const char *location = soup_message_headers_get_one (
    soup_message_get_response_headers (dl->message), "Location");
  g_autoptr(GError) error = NULL;
  g_autofree char *next = NULL;

  if (location == NULL)
    {
      failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': %s answered %u without a Location",
             dl->display_url, soup_message_get_status (dl->message));
      return;
    }
  if (++dl->redirects > GVD_IMAGE_URL_MAX_REDIRECTS)
    {
      failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': more than %d redirects from %s",
             GVD_IMAGE_URL_MAX_REDIRECTS, dl->display_url);
      return;
    }
  next = g_uri_resolve_relative (dl->current_url, location, G_URI_FLAGS_ENCODED, &error);
  if (next == NULL || !gvd_image_url_check ("url", next, &error))
    {
      failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': %s redirects to an unusable URL: %s",
             dl->display_url, error->message);
      return;
    }
  if (!gvd_image_url_allowed (next, (const char *const *) dl->owner->daemon->config->url_allow))
    {
      failf (dl, GVD_ERROR_FORBIDDEN, "'url': %s redirects to %s, which [images] url_allow "
             "does not allow", dl->display_url, next);
      return;
    }
  g_free (dl->current_url);
  dl->current_url = g_steal_pointer (&next);
  gvd_image_download_send (dl);
}

static void
start_writer (Download *dl)
{
  g_autoptr(GError) error = NULL;

  dl->thread = g_thread_try_new ("gvd-image-write", writer_thread, gvd_image_download_ref (dl), &error);
  if (dl->thread == NULL)
    {
      gvd_image_download_unref (dl);
      failf (dl, GVD_ERROR_INTERNAL, "cannot start a thread: %s", error->message);
    }
}

static void
on_sent (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(Download) dl = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) body = soup_session_send_finish (SOUP_SESSION (source), res, &error);
  SoupMessageHeaders *headers;
  guint status;

  if (dl->ended)
    return;
  if (body == NULL)
    {
      fail_transfer (dl, error);
      return;
    }
  status = soup_message_get_status (dl->message);
  if (dl->owner == NULL)
    return;
  if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308)
    {
      /* Never a blocking close on the main loop. */
      g_input_stream_close_async (body, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      redirect (dl);
      return;
    }
  if (status != SOUP_STATUS_OK)
    {
      failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': GET %s answered %u %s", dl->display_url,
             status, soup_message_get_reason_phrase (dl->message));
      return;
    }
  headers = soup_message_get_response_headers (dl->message);
  if (soup_message_headers_get_encoding (headers) != SOUP_ENCODING_CONTENT_LENGTH)
    {
      failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': %s sent no Content-Length: the volume's "
             "size must be known before it is written", dl->display_url);
      return;
    }
  dl->total = (guint64) soup_message_headers_get_content_length (headers);
  if (dl->total == 0)
    {
      failf (dl, GVD_ERROR_DOWNLOAD_FAILED, "'url': %s is empty", dl->display_url);
      return;
    }
  if (dl->total > dl->max_bytes)
    {
      failf (dl, GVD_ERROR_PAYLOAD_TOO_LARGE, "'url': %s is %" G_GUINT64_FORMAT " bytes, over "
             "[images] max_download_mib (%" G_GUINT64_FORMAT " MiB)", dl->display_url, dl->total,
             dl->max_bytes >> 20);
      return;
    }
  dl->body = g_steal_pointer (&body);
  start_writer (dl);
  if (dl->ended)
    return;
  emit_progress (dl, TRUE);
  read_next (dl);
}

void
gvd_image_download_send (Download *dl)
{
  g_autoptr(GUri) uri = g_uri_parse (dl->current_url, G_URI_FLAGS_ENCODED, NULL);
  SoupMessage *message = uri != NULL ? soup_message_new_from_uri ("GET", uri) : NULL;

  g_clear_object (&dl->message);
  if (message == NULL)
    {
      failf (dl, GVD_ERROR_INVALID_ARGUMENT, "'url': %s cannot be requested", dl->current_url);
      return;
    }
  dl->message = message;
  soup_message_add_flags (message, SOUP_MESSAGE_NO_REDIRECT);
  /* The bytes as stored: the digest is over them, and Content-Length too. */
  soup_message_headers_replace (soup_message_get_request_headers (message), "Accept-Encoding",
                                "identity");
  soup_session_send_async (dl->session, message, G_PRIORITY_DEFAULT, dl->cancellable, on_sent,
                           gvd_image_download_ref (dl));
}

/* The end: answer the POST and the DELETEs, tell the event stream. */
static void
complete (Download *dl, GvdImage *image_in, GError *writer_error_in)
{
  g_autoptr(GvdImage) image = image_in;
  g_autoptr(GError) writer_error = writer_error_in;
  g_autoptr(Download) hold = gvd_image_download_ref (dl);
  const GError *error;

  if (dl->completed)
    return;
  dl->completed = TRUE;
  if (dl->error != NULL || writer_error != NULL)
    g_clear_pointer (&image, gvd_image_free);
  if (dl->cancelled)
    {
      g_clear_error (&dl->error);
      dl->error = g_error_new (GVD_ERROR, GVD_ERROR_CONFLICT,
                               "the import of image '%s' was cancelled by DELETE; nothing was "
                               "imported", dl->req->name);
    }
  error = dl->error != NULL ? dl->error : writer_error;
  if (image == NULL && error == NULL)
    error = writer_error = g_error_new_literal (GVD_ERROR, GVD_ERROR_INTERNAL, "import failed");
  if (image == NULL)
    {
      /* Drop the server's connection now (a stalled body is never read to
       * its end). */
      g_cancellable_cancel (dl->cancellable);
      soup_session_abort (dl->session);
    }
  if (dl->owner == NULL)
    return;
  if (image != NULL)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      g_message ("imported image %s from %s (%s, %" G_GUINT64_FORMAT " bytes, %s verified)",
                 image->name, dl->display_url, image->format, dl->total,
                 dl->req->digest_type == G_CHECKSUM_SHA256 ? "sha256" : "sha512");
      gvd_image_write_json (image, b);
      gvd_api_reply_builder (dl->msg, SOUP_STATUS_CREATED, b);
    }
  else
    {
      g_message ("image %s: import from %s failed: %s", dl->req->name, dl->display_url,
                 error->message);
      gvd_api_reply_error (dl->msg, error);
    }
  soup_server_message_unpause (dl->msg);
  emit_result (dl, image, error);
  for (guint i = 0; i < dl->waiters->len; i++)
    {
      SoupServerMessage *waiter = g_ptr_array_index (dl->waiters, i);

      soup_server_message_set_status (waiter, SOUP_STATUS_NO_CONTENT, NULL);
      soup_server_message_unpause (waiter);
    }
  g_ptr_array_set_size (dl->waiters, 0);
  g_hash_table_remove (dl->owner->running, dl->req->name);
}

void
gvd_image_download_cancel (Download *dl)
{
  dl->cancelled = TRUE;
  failf (dl, GVD_ERROR_CONFLICT, "cancelled");
}
