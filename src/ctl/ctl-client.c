/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HTTP to gpuvmd for gpuvmctl: the unix socket by default, TCP with a
 * bearer token; requests run on the default main context so progress and
 * event streams can run beside them. */
#include "config.h"

#include "ctl-client.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ctl-error.h"
#include "ctl-sse.h"

/* The daemon answers one request per connection; an event stream and a
 * create run at once. */
#define MAX_CONNS 8
/* Bound on one answer kept in memory (dry runs carry domain XML and
 * cloud-init documents; lists of 4096 devices). */
#define MAX_ANSWER_BYTES (64 * 1024 * 1024)
#define MAX_LINE_BYTES (1024 * 1024)

GvdCtlClient *
gvd_ctl_client_new (const char *socket_path, const char *url, const char *token, GError **error)
{
  g_autoptr(GvdCtlClient) c = g_new0 (GvdCtlClient, 1);

  if (url != NULL)
    {
      g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

      if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0
                          && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0)
          || g_uri_get_host (uri) == NULL)
        {
          g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("--url must be http://HOST:PORT or https://HOST:PORT (got '%s')"),
                       url);
          return NULL;
        }
      c->session = soup_session_new_with_options ("max-conns", MAX_CONNS, "max-conns-per-host",
                                                  MAX_CONNS, NULL);
      c->base = g_strdup (url);
      while (g_str_has_suffix (c->base, "/"))
        c->base[strlen (c->base) - 1] = '\0';
      c->where = g_strdup (c->base);
      c->token = g_strdup (token);
    }
  else
    {
      g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (socket_path);

      c->session = soup_session_new_with_options ("remote-connectable", addr, "max-conns",
                                                  MAX_CONNS, "max-conns-per-host", MAX_CONNS,
                                                  NULL);
      c->base = g_strdup ("http://localhost");
      c->where = g_strdup_printf ("unix:%s", socket_path);
    }
  soup_session_set_user_agent (c->session, "gpuvmctl/" PACKAGE_VERSION);
  return g_steal_pointer (&c);
}

void
gvd_ctl_client_free (GvdCtlClient *c)
{
  if (c == NULL)
    return;
  g_clear_object (&c->session);
  g_free (c->base);
  if (c->token != NULL)
    memset (c->token, 0, strlen (c->token));
  g_free (c->token);
  g_free (c->where);
  g_free (c);
}

static SoupMessage *
new_message (GvdCtlClient *c, const char *method, const char *path, JsonNode *body,
             GError **error)
{
  g_autofree char *url = g_strconcat (c->base, path, NULL);
  SoupMessage *msg = soup_message_new (method, url);
  SoupMessageHeaders *h;

  if (msg == NULL)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("not a valid request path: %s"), path);
      return NULL;
    }
  h = soup_message_get_request_headers (msg);
  if (c->token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", c->token);
      soup_message_headers_replace (h, "Authorization", auth);
    }
  if (g_str_equal (method, "POST"))
    {
      /* gpuvmd wants the type on every POST, also without a body. */
      g_autofree char *text = body != NULL ? json_to_string (body, FALSE) : g_strdup ("");
      gsize len = strlen (text);
      g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&text), len);

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  return msg;
}

static GError *
unreachable (GvdCtlClient *c, const GError *cause)
{
  return g_error_new (GVD_CTL_ERROR, GVD_CTL_EXIT_UNREACHABLE,
                      _("cannot reach gpuvmd at %s: %s"), c->where, cause->message);
}

/* ---- running the main context ------------------------------------------------ */

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
gvd_ctl_run_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gboolean expired = FALSE;
  guint id = timeout_ms > 0 ? g_timeout_add (timeout_ms, timeout_cb, &expired) : 0;

  while (!done (data))
    {
      if (expired)
        return FALSE;
      g_main_context_iteration (NULL, TRUE);
    }
  if (id != 0 && !expired)
    g_source_remove (id);
  return TRUE;
}

typedef struct {
  gboolean finished;
  GBytes *bytes;
  GInputStream *stream;
  GError *error;
  GvdCtlTick tick;
  gpointer tick_data;
  guint seconds;
} Wait;

static gboolean
wait_done (gpointer data)
{
  return ((Wait *) data)->finished;
}

static gboolean
tick_cb (gpointer data)
{
  Wait *w = data;

  w->seconds++;
  w->tick (w->seconds, w->tick_data);
  return G_SOURCE_CONTINUE;
}

static void
read_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Wait *w = data;

  w->bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), res, &w->error);
  w->finished = TRUE;
}

static void
send_done (GObject *source, GAsyncResult *res, gpointer data)
{
  Wait *w = data;

  w->stream = soup_session_send_finish (SOUP_SESSION (source), res, &w->error);
  w->finished = TRUE;
}

GBytes *
gvd_ctl_client_call_raw (GvdCtlClient *c, const char *method, const char *path, JsonNode *body,
                         GvdCtlTick tick, gpointer tick_data, char **out_content_type,
                         GError **error)
{
  g_autoptr(SoupMessage) msg = new_message (c, method, path, body, error);
  Wait w = { 0 };
  guint tick_id = 0;
  guint status;

  if (msg == NULL)
    return NULL;
  w.tick = tick;
  w.tick_data = tick_data;
  if (tick != NULL)
    tick_id = g_timeout_add_seconds (1, tick_cb, &w);
  soup_session_send_and_read_async (c->session, msg, G_PRIORITY_DEFAULT, NULL, read_done, &w);
  gvd_ctl_run_until (wait_done, &w, 0);
  if (tick_id != 0)
    g_source_remove (tick_id);
  if (w.bytes == NULL)
    {
      g_propagate_error (error, unreachable (c, w.error));
      g_clear_error (&w.error);
      return NULL;
    }
  status = soup_message_get_status (msg);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      gsize len = 0;
      const char *data = g_bytes_get_data (w.bytes, &len);

      g_propagate_error (error, gvd_ctl_error_from_api (status, soup_message_get_reason_phrase (msg),
                                                        data, len));
      g_bytes_unref (w.bytes);
      return NULL;
    }
  if (g_bytes_get_size (w.bytes) > MAX_ANSWER_BYTES)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_API, _("the answer is larger than %d MiB"),
                   MAX_ANSWER_BYTES / (1024 * 1024));
      g_bytes_unref (w.bytes);
      return NULL;
    }
  if (out_content_type != NULL)
    *out_content_type = g_strdup (soup_message_headers_get_content_type (
      soup_message_get_response_headers (msg), NULL));
  return w.bytes;
}

JsonNode *
gvd_ctl_client_call (GvdCtlClient *c, const char *method, const char *path, JsonNode *body,
                     GvdCtlTick tick, gpointer tick_data, GError **error)
{
  g_autoptr(GBytes) bytes = gvd_ctl_client_call_raw (c, method, path, body, tick, tick_data,
                                                     NULL, error);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local = NULL;
  gsize len = 0;
  const char *data;

  if (bytes == NULL)
    return NULL;
  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    return json_node_new (JSON_NODE_NULL);
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_API, _("gpuvmd answered with something that is not JSON: %s"),
                   local->message);
      return NULL;
    }
  return json_node_copy (json_parser_get_root (parser));
}

/* ---- event streams ---------------------------------------------------------- */

struct _GvdCtlStream {
  SoupMessage *msg;
  GDataInputStream *in;
  GCancellable *cancel;
  GvdCtlSse *sse;
  GvdCtlEventFunc func;
  gpointer user_data;
  gboolean ended;
  gboolean reading;
  GError *error;
};

GvdCtlStream *
gvd_ctl_stream_open (GvdCtlClient *c, const char *path, const char *last_event_id,
                     GError **error)
{
  g_autoptr(SoupMessage) msg = new_message (c, "GET", path, NULL, error);
  Wait w = { 0 };
  GvdCtlStream *s;
  guint status;

  if (msg == NULL)
    return NULL;
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept",
                                "text/event-stream");
  if (last_event_id != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Last-Event-ID",
                                  last_event_id);
  soup_session_send_async (c->session, msg, G_PRIORITY_DEFAULT, NULL, send_done, &w);
  gvd_ctl_run_until (wait_done, &w, 0);
  if (w.stream == NULL)
    {
      g_propagate_error (error, unreachable (c, w.error));
      g_clear_error (&w.error);
      return NULL;
    }
  status = soup_message_get_status (msg);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_autoptr(GBytes) bytes = g_input_stream_read_bytes (w.stream, 64 * 1024, NULL, NULL);
      gsize len = 0;
      const char *data = bytes != NULL ? g_bytes_get_data (bytes, &len) : NULL;

      g_propagate_error (error, gvd_ctl_error_from_api (status, soup_message_get_reason_phrase (msg),
                                                        data, len));
      g_object_unref (w.stream);
      return NULL;
    }
  s = g_new0 (GvdCtlStream, 1);
  s->msg = g_steal_pointer (&msg);
  s->in = g_data_input_stream_new (w.stream);
  g_data_input_stream_set_newline_type (s->in, G_DATA_STREAM_NEWLINE_TYPE_ANY);
  g_object_unref (w.stream);
  s->cancel = g_cancellable_new ();
  s->sse = gvd_ctl_sse_new ();
  return s;
}

static void read_next (GvdCtlStream *s);

static void
line_done (GObject *source, GAsyncResult *res, gpointer data)
{
  GvdCtlStream *s = data;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (s->in, res, &len, &error);

  s->reading = FALSE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* freed or stopped: @s may be gone */
  if (line == NULL)
    {
      s->ended = TRUE;
      s->error = g_steal_pointer (&error);
      return;
    }
  if (len > MAX_LINE_BYTES)
    {
      s->ended = TRUE;
      s->error = g_error_new (GVD_CTL_ERROR, GVD_CTL_EXIT_API, _("an event line is longer than %d bytes"),
                              MAX_LINE_BYTES);
      return;
    }
  if (gvd_ctl_sse_feed (s->sse, line)
      && !s->func (s->sse->id, s->sse->event, s->sse->data->str, s->user_data))
    {
      s->ended = TRUE;
      return;
    }
  read_next (s);
}

static void
read_next (GvdCtlStream *s)
{
  s->reading = TRUE;
  g_data_input_stream_read_line_async (s->in, G_PRIORITY_DEFAULT, s->cancel, line_done, s);
}

void
gvd_ctl_stream_start (GvdCtlStream *s, GvdCtlEventFunc func, gpointer user_data)
{
  s->func = func;
  s->user_data = user_data;
  read_next (s);
}

gboolean
gvd_ctl_stream_ended (GvdCtlStream *s, const GError **out_error)
{
  if (out_error != NULL)
    *out_error = s->error;
  return s->ended;
}

static gboolean
not_reading (gpointer data)
{
  return !((GvdCtlStream *) data)->reading;
}

void
gvd_ctl_stream_free (GvdCtlStream *s)
{
  if (s == NULL)
    return;
  g_cancellable_cancel (s->cancel);
  /* Let a pending read see the cancellation before @s goes. */
  gvd_ctl_run_until (not_reading, s, 1000);
  g_clear_object (&s->in);
  g_clear_object (&s->cancel);
  g_clear_object (&s->msg);
  gvd_ctl_sse_free (s->sse);
  g_clear_error (&s->error);
  g_free (s);
}
