/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/instances/{name}/console: the serial console log's last lines as
 * JSON, or (?follow=1) those lines and then what the guest writes, as
 * server-sent events. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "console-log.h"
#include "console-text.h"
#include "instance.h"

#define MAX_FOLLOWERS 16
#define POLL_MS 250
#define CHUNK_BYTES (64 * 1024)
#define MAX_PENDING_BYTES (1024 * 1024)
#define KEEPALIVE_SECONDS 15

typedef struct {
  GvdApi *api;
  GvdInstanceManager *instances;
  SoupServerMessage *msg; /* owned reference */
  char *name;
  char *path;
  GvdConsoleCursor cursor;
  gsize pending;          /* bytes appended and not yet written */
  gint64 last_write;      /* monotonic µs */
  gboolean ended;
  guint poll_id;
  gulong finished_id;
  gulong disconnected_id;
  gulong wrote_id;
} Follower;

/* The console log of @name, or NULL after answering 404. The path is
 * where gpuvmd asks libvirt to log (domain name + -console.log in
 * libvirt's log directory), never a path read back from the domain XML. */
static char *
console_path (GvdInstanceManager *instances, SoupServerMessage *msg, const char *name)
{
  GvdInstance *inst = instances != NULL ? gvd_instance_manager_lookup (instances, name) : NULL;

  if (inst == NULL)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no instance named '%s'", name);
      return NULL;
    }
  return gvd_console_log_path (GVD_CONSOLE_LOG_DIR, inst->spec->domain_name);
}

static gboolean
parse_query (SoupServerMessage *msg, GHashTable *query, guint *out_lines, gboolean *out_follow)
{
  const char *tail = query != NULL ? g_hash_table_lookup (query, "tail") : NULL;
  const char *follow = query != NULL ? g_hash_table_lookup (query, "follow") : NULL;
  guint64 lines = GVD_CONSOLE_DEFAULT_LINES;

  if (tail != NULL
      && !g_ascii_string_to_unsigned (tail, 10, 0, GVD_CONSOLE_MAX_LINES, &lines, NULL))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT, "tail: must be 0 to %d lines",
                            GVD_CONSOLE_MAX_LINES);
      return FALSE;
    }
  *out_follow = FALSE;
  if (follow != NULL)
    {
      if (g_str_equal (follow, "1") || g_str_equal (follow, "true"))
        *out_follow = TRUE;
      else if (!g_str_equal (follow, "0") && !g_str_equal (follow, "false"))
        {
          gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                                "follow: must be 0, 1, true or false");
          return FALSE;
        }
    }
  *out_lines = (guint) lines;
  return TRUE;
}

/* ---- ?follow=1 --------------------------------------------------------------- */

static void
follower_free (Follower *f)
{
  g_clear_handle_id (&f->poll_id, g_source_remove);
  g_clear_signal_handler (&f->finished_id, f->msg);
  g_clear_signal_handler (&f->disconnected_id, f->msg);
  g_clear_signal_handler (&f->wrote_id, f->msg);
  gvd_api_stream_release (f->api);
  g_object_unref (f->msg);
  g_free (f->name);
  g_free (f->path);
  g_free (f);
}

/* End the answer after what the client already has. */
static void
follower_end (Follower *f, char *last_event /* taken, may be NULL */)
{
  SoupMessageBody *body = soup_server_message_get_response_body (f->msg);

  if (f->ended)
    {
      g_free (last_event);
      return;
    }
  f->ended = TRUE;
  g_clear_handle_id (&f->poll_id, g_source_remove);
  if (last_event != NULL)
    soup_message_body_append (body, SOUP_MEMORY_TAKE, last_event, strlen (last_event));
  soup_message_body_complete (body);
  soup_server_message_unpause (f->msg);
}

static void
follower_write (Follower *f, char *text /* taken */)
{
  gsize len = strlen (text);

  if (f->ended)
    {
      g_free (text);
      return;
    }
  if (f->pending + len > MAX_PENDING_BYTES)
    {
      /* A client that does not read is not fed without bound. */
      g_free (text);
      follower_end (f, NULL);
      return;
    }
  f->pending += len;
  f->last_write = g_get_monotonic_time ();
  soup_message_body_append (soup_server_message_get_response_body (f->msg), SOUP_MEMORY_TAKE,
                            text, len);
  soup_server_message_unpause (f->msg);
}

static gboolean
poll_cb (gpointer user_data)
{
  Follower *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) more = NULL;
  gboolean rotated = FALSE;

  if (gvd_instance_manager_lookup (f->instances, f->name) == NULL)
    {
      f->poll_id = 0;
      follower_end (f, g_strdup ("event: end\ndata: {\"reason\": \"deleted\"}\n\n"));
      return G_SOURCE_REMOVE;
    }
  more = gvd_console_log_read_more (f->path, CHUNK_BYTES, &f->cursor, &rotated, &error);
  if (more == NULL)
    {
      g_warning ("console of %s: %s", f->name, error->message);
      f->poll_id = 0;
      follower_end (f, g_strdup ("event: end\ndata: {\"reason\": \"unreadable\"}\n\n"));
      return G_SOURCE_REMOVE;
    }
  if (g_bytes_get_size (more) > 0 || rotated)
    {
      gsize len;
      const char *data = g_bytes_get_data (more, &len);
      follower_write (f, gvd_console_text_sse (data, len, rotated));
    }
  else if (g_get_monotonic_time () - f->last_write > KEEPALIVE_SECONDS * G_USEC_PER_SEC)
    follower_write (f, g_strdup (": keepalive\n\n"));
  return f->ended ? (f->poll_id = 0, G_SOURCE_REMOVE) : G_SOURCE_CONTINUE;
}

static void
on_wrote (SoupServerMessage *msg, guint size, gpointer user_data)
{
  Follower *f = user_data;

  f->pending -= MIN (f->pending, (gsize) size);
}

static void
on_finished (SoupServerMessage *msg, gpointer user_data)
{
  follower_free (user_data);
}

static void
follow (GvdApi *api, GvdInstanceManager *instances, SoupServerMessage *msg, const char *name,
        char *path /* taken */, guint lines)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) tail = NULL;
  g_autofree char *text = NULL;
  GvdConsoleCursor cursor;
  Follower *f;
  gsize len;
  const char *data;

  if (!gvd_api_stream_acquire (api, MAX_FOLLOWERS))
    {
      g_free (path);
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_READY,
                            "too many console streams open (at most %d); try again later",
                            MAX_FOLLOWERS);
      return;
    }
  tail = gvd_console_log_read_tail (path, GVD_CONSOLE_MAX_BYTES, &cursor, &error);
  if (tail == NULL)
    {
      gvd_api_stream_release (api);
      g_free (path);
      gvd_api_reply_error (msg, error);
      return;
    }
  f = g_new0 (Follower, 1);
  f->api = api;
  f->instances = instances;
  f->name = g_strdup (name);
  f->path = path;
  f->cursor = cursor;
  f->msg = g_object_ref (msg);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (headers, "Content-Type", "text/event-stream");
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (body, FALSE);
  f->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_finished), f);
  f->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_finished), f);
  f->wrote_id = g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_wrote), f);
  f->poll_id = g_timeout_add (POLL_MS, poll_cb, f);

  /* The tail first (an event even when empty: it gets the headers out). */
  data = g_bytes_get_data (tail, &len);
  text = gvd_console_text_tail (data != NULL ? data : "", len, lines);
  follower_write (f, gvd_console_text_sse (text, strlen (text), FALSE));
}

/* ---- the route --------------------------------------------------------------- */

void
gvd_api_console_handle (GvdApi *api, SoupServerMessage *msg, const char *name, GHashTable *query)
{
  GvdInstanceManager *instances = gvd_api_get_daemon (api)->instances;
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) tail = NULL;
  g_autofree char *text = NULL;
  GvdConsoleCursor cursor;
  char *path;
  guint lines;
  gboolean follow_log;
  gsize len;
  const char *data;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      gvd_api_reply_method_not_allowed (msg, "GET");
      return;
    }
  if (!parse_query (msg, query, &lines, &follow_log))
    return;
  path = console_path (instances, msg, name);
  if (path == NULL)
    return;
  if (follow_log)
    {
      follow (api, instances, msg, name, path, lines);
      return;
    }
  tail = gvd_console_log_read_tail (path, GVD_CONSOLE_MAX_BYTES, &cursor, &error);
  g_free (path);
  if (tail == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  data = g_bytes_get_data (tail, &len);
  text = gvd_console_text_tail (data != NULL ? data : "", len, lines);
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "instance");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, (gint64) cursor.offset);
  json_builder_end_object (b);
  gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
}
