/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/events: the daemon's event bus as server-sent events. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "events.h"

#define PREFIX "/v1/events"
#define MAX_CLIENTS 64
#define MAX_PENDING_BYTES (1024 * 1024)
#define KEEPALIVE_SECONDS 15

/* One streaming answer. It stays subscribed (and counted against
 * MAX_CLIENTS) until libsoup finishes the message, even once dropped. */
typedef struct {
  GvdEvents *events;
  SoupServerMessage *msg; /* owned reference */
  guint sub_id;
  gsize pending;          /* bytes appended and not yet written */
  gboolean dropped;
  GSource *keepalive;     /* owned */
  gulong finished_id;
  gulong disconnected_id;
  gulong wrote_id;
} Client;

static void
client_free (Client *c)
{
  gvd_events_unsubscribe (c->events, c->sub_id);
  if (c->keepalive != NULL)
    {
      g_source_destroy (c->keepalive);
      g_source_unref (c->keepalive);
    }
  g_clear_signal_handler (&c->finished_id, c->msg);
  g_clear_signal_handler (&c->disconnected_id, c->msg);
  g_clear_signal_handler (&c->wrote_id, c->msg);
  g_object_unref (c->msg);
  g_free (c);
}

/* Stop feeding a subscriber that does not read: end the answer after what
 * it already has; pending output never grows past the bound. */
static void
client_drop (Client *c)
{
  g_debug ("events: dropping a subscriber with %" G_GSIZE_FORMAT " bytes unread", c->pending);
  c->dropped = TRUE;
  if (c->keepalive != NULL)
    {
      g_source_destroy (c->keepalive);
      g_clear_pointer (&c->keepalive, g_source_unref);
    }
  soup_message_body_complete (soup_server_message_get_response_body (c->msg));
  soup_server_message_unpause (c->msg);
}

static void
client_write (Client *c, char *text /* taken */)
{
  gsize len = strlen (text);

  if (c->dropped)
    {
      g_free (text);
      return;
    }
  if (c->pending + len > MAX_PENDING_BYTES)
    {
      g_free (text);
      client_drop (c);
      return;
    }
  c->pending += len;
  soup_message_body_append (soup_server_message_get_response_body (c->msg), SOUP_MEMORY_TAKE,
                            text, len);
  soup_server_message_unpause (c->msg);
}

static void
on_event (const GvdEvent *event, gpointer user_data)
{
  client_write (user_data, gvd_event_format_sse (event));
}

static gboolean
keepalive_cb (gpointer user_data)
{
  client_write (user_data, g_strdup (": keepalive\n\n"));
  return G_SOURCE_CONTINUE;
}

static void
on_wrote (SoupServerMessage *msg, guint size, gpointer user_data)
{
  Client *c = user_data;

  c->pending -= MIN (c->pending, (gsize) size);
}

static void
on_finished (SoupServerMessage *msg, gpointer user_data)
{
  client_free (user_data);
}

static void
stream_events (GvdEvents *events, SoupServerMessage *msg, guint64 after)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  g_autoptr(GPtrArray) replay = gvd_events_since (events, after);
  Client *c = g_new0 (Client, 1);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (headers, "Content-Type", "text/event-stream");
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  /* Written chunks are freed, not kept for the whole stream. */
  soup_message_body_set_accumulate (body, FALSE);

  c->events = events;
  c->msg = g_object_ref (msg);
  c->sub_id = gvd_events_subscribe (events, on_event, c);
  c->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_finished), c);
  c->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_finished), c);
  c->wrote_id = g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_wrote), c);
  c->keepalive = g_timeout_source_new_seconds (KEEPALIVE_SECONDS);
  g_source_set_name (c->keepalive, "gpuvmd events keepalive");
  g_source_set_callback (c->keepalive, keepalive_cb, c, NULL);
  g_source_attach (c->keepalive, NULL);

  /* A first comment gets the headers out at once. */
  client_write (c, g_strdup (": gpuvmd events\n\n"));
  for (guint i = 0; i < replay->len; i++)
    client_write (c, gvd_event_format_sse (replay->pdata[i]));
}

static void
events_handler (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdEvents *events = gvd_api_get_daemon (api)->events;
  const char *last;
  guint64 after;

  if (!g_str_equal (path, PREFIX))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      gvd_api_reply_method_not_allowed (msg, "GET");
      return;
    }
  last = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                       "Last-Event-ID");
  /* Without Last-Event-ID a stream starts with the next event. */
  after = gvd_events_last_id (events);
  if (last != NULL && !gvd_events_parse_last_id (last, &after))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                            "Last-Event-ID must be an event id (decimal digits)");
      return;
    }
  if (gvd_events_n_subscribers (events) >= MAX_CLIENTS)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_READY,
                            "too many event streams open (at most %u); try again later",
                            MAX_CLIENTS);
      return;
    }
  stream_events (events, msg, after);
}

static const GvdApiRoute routes[] = {
  { "GET", PREFIX },
  { NULL, NULL },
};

void
gvd_api_events_register (GvdApi *api)
{
  gvd_api_add_routes (api, PREFIX, GVD_API_ROUTE_DEFAULT, routes, events_handler);
}
