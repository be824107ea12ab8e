/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event bus (numbering, replay ring, fan-out, SSE text) and GET
 * /v1/events on a real soup server on loopback port 0. */
#include "config.h"

#include "testlib.h"

#include "api.h"
#include "events.h"

#include <string.h>

#define TOKEN "events-token-0123456789"

static gint64
fixed_clock (void)
{
  return G_GINT64_CONSTANT (1700000000123456);
}

/* ---- the bus ------------------------------------------------------------- */

static JsonNode *
payload (const char *name)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  JsonObject *obj = json_object_new ();

  json_object_set_string_member (obj, "name", name);
  json_node_take_object (node, obj);
  return node;
}

static void
format_sse__event__id_type_one_line_data (void **state)
{
  g_autoptr(GvdEvents) events = gvd_events_new (4, fixed_clock);
  g_autoptr(GPtrArray) all = NULL;
  g_autofree char *text = NULL;

  assert_int_equal (gvd_events_emit (events, "instance.state", payload ("a\nb\"c")), 1);
  all = gvd_events_since (events, 0);
  assert_int_equal (all->len, 1);
  text = gvd_event_format_sse (all->pdata[0]);
  assert_string_equal (text, "id: 1\nevent: instance.state\n"
                             "data: {\"name\":\"a\\nb\\\"c\",\"time\":\"2023-11-14T22:13:20.123456Z\"}\n\n");
}

static void
emit__no_bus_or_no_data__dropped_or_empty_object (void **state)
{
  g_autoptr(GvdEvents) events = gvd_events_new (4, fixed_clock);
  g_autoptr(GPtrArray) all = NULL;

  assert_int_equal (gvd_events_emit (NULL, "x", payload ("a")), 0);
  gvd_events_emit_instance (NULL, "instance.created", "a"); /* must not crash */
  assert_int_equal (gvd_events_emit (events, "libvirt.connected", NULL), 1);
  all = gvd_events_since (events, 0);
  assert_string_equal (((GvdEvent *) all->pdata[0])->data,
                       "{\"time\":\"2023-11-14T22:13:20.123456Z\"}");
}

static void
since__ring_wrapped__only_kept_events_after_id (void **state)
{
  g_autoptr(GvdEvents) events = gvd_events_new (4, fixed_clock);
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) tail = NULL;
  g_autoptr(GPtrArray) none = NULL;
  g_autoptr(GPtrArray) future = NULL;

  for (guint i = 1; i <= 6; i++)
    {
      g_autofree char *name = g_strdup_printf ("vm%u", i);
      assert_int_equal (gvd_events_emit (events, "instance.created", payload (name)), i);
    }
  assert_int_equal (gvd_events_last_id (events), 6);
  all = gvd_events_since (events, 0);
  assert_int_equal (all->len, 4);
  for (guint i = 0; i < 4; i++)
    assert_int_equal (((GvdEvent *) all->pdata[i])->id, 3 + i);
  tail = gvd_events_since (events, 4);
  assert_int_equal (tail->len, 2);
  assert_int_equal (((GvdEvent *) tail->pdata[0])->id, 5);
  assert_non_null (strstr (((GvdEvent *) tail->pdata[1])->data, "\"vm6\""));
  none = gvd_events_since (events, 6);
  assert_int_equal (none->len, 0);
  future = gvd_events_since (events, 1000);
  assert_int_equal (future->len, 0);
}

static void
record_cb (const GvdEvent *event, gpointer user_data)
{
  g_array_append_val ((GArray *) user_data, event->id);
}

typedef struct {
  GvdEvents *events;
  guint self;
  guint calls;
} SelfRemove;

static void
self_remove_cb (const GvdEvent *event, gpointer user_data)
{
  SelfRemove *s = user_data;

  s->calls++;
  gvd_events_unsubscribe (s->events, s->self);
}

static void
subscribe__emit__each_subscriber_once_in_order (void **state)
{
  g_autoptr(GvdEvents) events = gvd_events_new (8, fixed_clock);
  g_autoptr(GArray) seen = g_array_new (FALSE, FALSE, sizeof (guint64));
  SelfRemove s = { events, 0, 0 };
  guint id;

  id = gvd_events_subscribe (events, record_cb, seen);
  s.self = gvd_events_subscribe (events, self_remove_cb, &s);
  assert_int_equal (gvd_events_n_subscribers (events), 2);
  gvd_events_emit_reason (events, "libvirt.disconnected", "keepalive timeout");
  gvd_events_emit_device (events, "device.quarantined", "0000:41:00.0", "wedged");
  assert_int_equal (s.calls, 1);
  assert_int_equal (gvd_events_n_subscribers (events), 1);
  gvd_events_unsubscribe (events, id);
  gvd_events_emit_change (events, "instance.state", "a", "running", "shutoff", NULL);
  assert_int_equal (seen->len, 2);
  assert_int_equal (g_array_index (seen, guint64, 0), 1);
  assert_int_equal (g_array_index (seen, guint64, 1), 2);
  assert_int_equal (gvd_events_n_subscribers (events), 0);
}

static void
parse_last_id__inputs__digits_only_within_64_bits (void **state)
{
  guint64 id = 7;

  assert_true (gvd_events_parse_last_id ("12", &id));
  assert_int_equal (id, 12);
  assert_true (gvd_events_parse_last_id ("18446744073709551615", &id));
  assert_true (id == G_MAXUINT64);
  id = 7;
  assert_false (gvd_events_parse_last_id ("18446744073709551616", &id));
  assert_false (gvd_events_parse_last_id ("", &id));
  assert_false (gvd_events_parse_last_id ("-1", &id));
  assert_false (gvd_events_parse_last_id ("+1", &id));
  assert_false (gvd_events_parse_last_id (" 1", &id));
  assert_false (gvd_events_parse_last_id ("1a", &id));
  assert_false (gvd_events_parse_last_id (NULL, &id));
  assert_int_equal (id, 7);
}

/* ---- GET /v1/events ------------------------------------------------------ */

typedef struct {
  GvdDaemon *daemon;
  GvdApi *api;
  char *base;
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  f->daemon = gvd_test_daemon_build ("workstation-2gpu", NULL, NULL);
  f->api = gvd_api_new (f->daemon, "admin", TOKEN);
  gvd_api_events_register (f->api);
  assert_true (gvd_api_listen (f->api, "127.0.0.1:0", &error));
  url = gvd_api_get_url (f->api);
  f->base = g_strndup (url, strlen (url) - 1);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  gvd_test_drain_main_context ();
  gvd_api_free (f->api);
  gvd_test_drain_main_context ();
  /* Every stream was finished when the server went. */
  assert_int_equal (gvd_events_n_subscribers (f->daemon->events), 0);
  gvd_test_daemon_destroy (f->daemon);
  g_free (f->base);
  g_free (f);
  return 0;
}

/* A streaming client on its own thread: reads until it has @want events
 * (or the answer ends), then goes away. */
typedef struct {
  const char *method;
  char *url;
  const char *token;
  const char *last_id;
  guint want;
  gint hold;               /* read nothing until the test clears it */
  /* results */
  guint status;
  char *content_type;
  char *cache_control;
  SoupEncoding encoding;
  GString *text;
  guint n_events;
  gint done;
} Stream;

static guint
count_events (const char *text)
{
  guint n = 0;

  for (const char *p = text; (p = strstr (p, "data: ")) != NULL; p++)
    n++;
  return n;
}

static gpointer
stream_thread (gpointer data)
{
  Stream *s = data;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new (s->method, s->url);
  g_autoptr(GInputStream) in = NULL;
  SoupMessageHeaders *req = soup_message_get_request_headers (msg);
  char buf[4096];
  gssize got;

  s->text = g_string_new (NULL);
  if (s->token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", s->token);
      soup_message_headers_replace (req, "Authorization", auth);
    }
  if (s->last_id != NULL)
    soup_message_headers_replace (req, "Last-Event-ID", s->last_id);
  in = soup_session_send (session, msg, NULL, NULL);
  s->status = soup_message_get_status (msg);
  s->content_type = g_strdup (soup_message_headers_get_content_type (
    soup_message_get_response_headers (msg), NULL));
  s->cache_control = g_strdup (soup_message_headers_get_one (
    soup_message_get_response_headers (msg), "Cache-Control"));
  s->encoding = soup_message_headers_get_encoding (soup_message_get_response_headers (msg));
  while (g_atomic_int_get (&s->hold))
    g_usleep (1000);
  while (in != NULL && (s->status != SOUP_STATUS_OK || s->n_events < s->want)
         && (got = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    {
      g_string_append_len (s->text, buf, got);
      s->n_events = count_events (s->text->str);
    }
  if (in != NULL)
    g_input_stream_close (in, NULL, NULL);
  g_clear_object (&in);
  g_clear_object (&msg);
  g_clear_object (&session);
  g_atomic_int_set (&s->done, TRUE);
  g_main_context_wakeup (NULL);
  return NULL;
}

static GThread *
stream_start (Fixture *f, Stream *s)
{
  if (s->method == NULL)
    s->method = "GET";
  if (s->url == NULL)
    s->url = g_strconcat (f->base, "/v1/events", NULL);
  return g_thread_new ("stream", stream_thread, s);
}

static void
stream_finish (GThread *thread, Stream *s)
{
  while (!g_atomic_int_get (&s->done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
}

static void
stream_clear (Stream *s)
{
  g_free (s->url);
  g_free (s->content_type);
  g_free (s->cache_control);
  if (s->text != NULL)
    g_string_free (s->text, TRUE);
}

static void
wait_subscribers (Fixture *f, guint n)
{
  while (gvd_events_n_subscribers (f->daemon->events) != n)
    g_main_context_iteration (NULL, TRUE);
}

/* Emit until the server notices the client went (writing to its closed
 * connection fails); bounded so a leak fails instead of hanging. */
static void
emit_until_unsubscribed (Fixture *f)
{
  for (guint i = 0; i < 5000 && gvd_events_n_subscribers (f->daemon->events) > 0; i++)
    {
      gvd_events_emit_reason (f->daemon->events, "libvirt.connected", NULL);
      gvd_test_drain_main_context ();
      if (gvd_events_n_subscribers (f->daemon->events) > 0)
        g_usleep (1000);
    }
  assert_int_equal (gvd_events_n_subscribers (f->daemon->events), 0);
}

static void
events__live_stream__events_after_subscribe_in_order (void **state)
{
  Fixture *f = *state;
  Stream s = { .token = TOKEN, .want = 3 };
  GThread *thread;
  g_autofree char *first = NULL;

  gvd_events_emit_instance (f->daemon->events, "instance.created", "before");
  thread = stream_start (f, &s);
  wait_subscribers (f, 1);
  gvd_events_emit_instance (f->daemon->events, "instance.created", "a");
  gvd_events_emit_change (f->daemon->events, "instance.state", "a", "shutoff", "running", NULL);
  gvd_events_emit_instance (f->daemon->events, "instance.deleted", "a");
  stream_finish (thread, &s);

  assert_int_equal (s.status, 200);
  assert_string_equal (s.content_type, "text/event-stream");
  assert_string_equal (s.cache_control, "no-cache");
  assert_int_equal (s.encoding, SOUP_ENCODING_CHUNKED);
  assert_int_equal (s.n_events, 3);
  assert_null (strstr (s.text->str, "\"before\""));
  first = g_strdup (strstr (s.text->str, "id: 2\nevent: instance.created\ndata: {\"name\":\"a\""));
  assert_non_null (first);
  assert_non_null (strstr (first, "id: 3\nevent: instance.state\ndata: {\"name\":\"a\",\"old\":"
                                  "\"shutoff\",\"new\":\"running\""));
  assert_non_null (strstr (first, "id: 4\nevent: instance.deleted\n"));
  assert_true (strstr (first, "id: 3") < strstr (first, "id: 4"));
  emit_until_unsubscribed (f);
  stream_clear (&s);
}

static void
events__last_event_id__replays_later_events (void **state)
{
  Fixture *f = *state;
  Stream s = { .token = TOKEN, .want = 3, .last_id = "2" };
  GThread *thread;

  for (guint i = 0; i < 5; i++)
    gvd_events_emit_device (f->daemon->events, "device.cleared", "0000:41:00.0", NULL);
  thread = stream_start (f, &s);
  stream_finish (thread, &s);

  assert_int_equal (s.status, 200);
  assert_int_equal (s.n_events, 3);
  assert_null (strstr (s.text->str, "id: 2\n"));
  assert_non_null (strstr (s.text->str, "id: 3\nevent: device.cleared\n"
                                        "data: {\"address\":\"0000:41:00.0\""));
  assert_non_null (strstr (s.text->str, "id: 5\n"));
  emit_until_unsubscribed (f);
  stream_clear (&s);
}

static void
events__bad_requests__400_405_401 (void **state)
{
  Fixture *f = *state;
  Stream bad_id = { .token = TOKEN, .last_id = "abc" };
  Stream post = { .token = TOKEN, .method = "POST" };
  Stream anon = { 0 };
  GThread *thread;

  thread = stream_start (f, &bad_id);
  stream_finish (thread, &bad_id);
  assert_int_equal (bad_id.status, 400);
  assert_non_null (strstr (bad_id.text->str, "\"invalid_argument\""));
  assert_non_null (strstr (bad_id.text->str, "Last-Event-ID"));

  thread = stream_start (f, &post);
  stream_finish (thread, &post);
  assert_int_equal (post.status, 405);

  thread = stream_start (f, &anon);
  stream_finish (thread, &anon);
  assert_int_equal (anon.status, 401);

  assert_int_equal (gvd_events_n_subscribers (f->daemon->events), 0);
  stream_clear (&bad_id);
  stream_clear (&post);
  stream_clear (&anon);
}

static void
events__unread_output_over_bound__stream_dropped_and_ended (void **state)
{
  Fixture *f = *state;
  Stream s = { .token = TOKEN, .want = G_MAXUINT, .hold = TRUE };
  g_autofree char *big = g_strnfill (64 * 1024, 'x');
  GThread *thread;

  thread = stream_start (f, &s);
  wait_subscribers (f, 1);
  /* The main loop does not run meanwhile, so nothing is written: 32 MiB
   * of events are far over the 1 MiB bound. */
  for (guint i = 0; i < 512; i++)
    gvd_events_emit_reason (f->daemon->events, "libvirt.disconnected", big);
  g_atomic_int_set (&s.hold, FALSE);
  stream_finish (thread, &s);

  /* The answer ended (no cancel: the client read to its end) after at most
   * the bound's worth of events. */
  assert_int_equal (s.status, 200);
  assert_true (s.n_events > 0);
  assert_true (s.n_events <= 16);
  assert_true (s.text->len <= 1024 * 1024);
  wait_subscribers (f, 0);
  stream_clear (&s);
}

static void
events__subscribers_at_bound__503 (void **state)
{
  Fixture *f = *state;
  Stream s = { .token = TOKEN };
  guint ids[64];
  GThread *thread;

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    ids[i] = gvd_events_subscribe (f->daemon->events, record_cb, NULL);
  thread = stream_start (f, &s);
  stream_finish (thread, &s);
  assert_int_equal (s.status, 503);
  assert_non_null (strstr (s.text->str, "at most 64"));
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    gvd_events_unsubscribe (f->daemon->events, ids[i]);
  stream_clear (&s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (format_sse__event__id_type_one_line_data),
    cmocka_unit_test (emit__no_bus_or_no_data__dropped_or_empty_object),
    cmocka_unit_test (since__ring_wrapped__only_kept_events_after_id),
    cmocka_unit_test (subscribe__emit__each_subscriber_once_in_order),
    cmocka_unit_test (parse_last_id__inputs__digits_only_within_64_bits),
    cmocka_unit_test_setup_teardown (events__live_stream__events_after_subscribe_in_order, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (events__last_event_id__replays_later_events, setup, teardown),
    cmocka_unit_test_setup_teardown (events__bad_requests__400_405_401, setup, teardown),
    cmocka_unit_test_setup_teardown (events__unread_output_over_bound__stream_dropped_and_ended,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (events__subscribers_at_bound__503, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
