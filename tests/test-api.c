/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The API plumbing on a real soup server on loopback port 0: routing, JSON
 * errors, authentication, body bounds, /healthz while libvirt is down. */
#include "config.h"

#include "testlib.h"

#include "api.h"

#include <string.h>

#include "agent.h"
#include "json-util.h"

typedef struct {
  GvdDaemon *daemon;
  GvdApi *api;
  char *base;
} Fixture;

static JsonNode *
do_request (Fixture *f, const char *method, const char *path, const char *token,
            const char *ctype, const char *body, guint *out_status)
{
  GvdTestRequest r = { .method = method, .token = token, .body = body, .content_type = ctype };
  JsonNode *node;

  r.url = g_strconcat (f->base, path, NULL);
  node = gvd_test_request_in_loop (&r);
  *out_status = r.status;
  gvd_test_request_clear (&r);
  return node;
}

static void
echo_handler (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) obj = NULL;
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      gvd_api_reply_method_not_allowed (msg, "POST");
      return;
    }
  obj = gvd_api_read_object (msg, FALSE, &error);
  if (obj == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  json_node_set_object (node, obj);
  gvd_api_reply_json (msg, SOUP_STATUS_OK, node);
}

static const GvdApiRoute table_routes[] = {
  { "GET", "/v1/table" },
  { "POST", "/v1/table/{id}/go" },
  { "DELETE", "/v1/table/{id}" },
  { "GET", "/v1/table/{id}" },
  { NULL, NULL },
};

/* Answers 200 {} to whatever the route table lets through. */
static void
table_handler (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (node, json_object_new ());
  gvd_api_reply_json (msg, SOUP_STATUS_OK, node);
}

static int
setup (void **state, const char *token)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  f->daemon = gvd_test_daemon_build ("workstation-2gpu", "[daemon]\nmax_body_bytes=2048\n", NULL);
  f->api = gvd_api_new (f->daemon, "admin", token);
  gvd_api_health_register (f->api);
  gvd_api_add_route (f->api, "/v1/echo", GVD_API_ROUTE_DEFAULT, echo_handler);
  gvd_api_add_routes (f->api, "/v1/table", GVD_API_ROUTE_DEFAULT, table_routes, table_handler);
  assert_true (gvd_api_listen (f->api, "127.0.0.1:0", &error));
  url = gvd_api_get_url (f->api);
  assert_true (g_str_has_prefix (url, "http://127.0.0.1:"));
  f->base = g_strndup (url, strlen (url) - 1);
  *state = f;
  return 0;
}

static int
setup_open (void **state)
{
  return setup (state, NULL);
}

static int
setup_token (void **state)
{
  return setup (state, "s3cret-token-0123456789");
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  /* Let the server see the clients' closed connections before it goes. */
  gvd_test_drain_main_context ();
  gvd_api_free (f->api);
  gvd_test_drain_main_context ();
  gvd_test_daemon_destroy (f->daemon);
  g_free (f->base);
  g_free (f);
  return 0;
}

static void
healthz__libvirt_down__degraded_with_reason (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = do_request (f, "GET", "/healthz", NULL, NULL, NULL, &status);

  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (node, "status"), "degraded");
  assert_string_equal (gvd_test_json_string (node, "version"), PACKAGE_VERSION);
  assert_string_equal (gvd_test_json_string (node, "libvirt.state"), "disconnected");
  assert_false (gvd_test_json_bool (node, "libvirt.connected"));
  assert_string_equal (gvd_test_json_string (node, "libvirt.uri"), "test:///default");
  assert_null (gvd_test_json_string (node, "libvirt.library_version"));
  assert_true (gvd_test_json_int (node, "uptime_seconds") >= 0);
}

static void
routing__unknown_paths__json_404 (void **state)
{
  Fixture *f = *state;
  const char *paths[] = { "/", "/nope", "/healthzz", "/healthz/x", "/v1/echoes" };

  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      guint status;
      g_autoptr(JsonNode) node = do_request (f, "GET", paths[i], NULL, NULL, NULL, &status);
      assert_int_equal (status, 404);
      gvd_test_assert_error (node, "not_found", NULL);
    }
}

static void
routing__wrong_method__405_with_allow (void **state)
{
  Fixture *f = *state;
  GvdTestRequest r = { .method = "DELETE" };
  g_autoptr(JsonNode) node = NULL;

  r.url = g_strconcat (f->base, "/healthz", NULL);
  node = gvd_test_request_in_loop (&r);
  assert_int_equal (r.status, 405);
  assert_string_equal (r.allow, "GET, HEAD");
  gvd_test_assert_error (node, "method_not_allowed", NULL);
  gvd_test_request_clear (&r);
}

static void
routing__table__only_its_rows_reach_the_handler (void **state)
{
  Fixture *f = *state;
  struct {
    const char *method;
    const char *path;
    guint status;
    const char *allow;
  } cases[] = {
    { "GET", "/v1/table", 200, NULL },
    { "GET", "/v1/table/a", 200, NULL },
    { "DELETE", "/v1/table/a", 200, NULL },
    { "POST", "/v1/table/a/go", 200, NULL },
    { "POST", "/v1/table", 405, "GET" },
    { "PUT", "/v1/table/a", 405, "DELETE, GET" },
    { "GET", "/v1/table/a/go", 405, "POST" },
    { "GET", "/v1/table/", 404, NULL },
    { "GET", "/v1/table//go", 404, NULL },
    { "GET", "/v1/table/a/b", 404, NULL },
    { "POST", "/v1/table/a/go/x", 404, NULL },
    { "GET", "/v1/tablex", 404, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GvdTestRequest r = { .method = cases[i].method };
      g_autoptr(JsonNode) node = NULL;

      r.url = g_strconcat (f->base, cases[i].path, NULL);
      node = gvd_test_request_in_loop (&r);
      if (r.status != cases[i].status)
        fail_msg ("%s %s: %u, expected %u", cases[i].method, cases[i].path, r.status,
                  cases[i].status);
      if (cases[i].status == 404)
        gvd_test_assert_error (node, "not_found", NULL);
      if (cases[i].allow != NULL)
        {
          assert_string_equal (r.allow, cases[i].allow);
          gvd_test_assert_error (node, "method_not_allowed", NULL);
        }
      gvd_test_request_clear (&r);
    }
}

static void
body__valid_object__echoed (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node =
    do_request (f, "POST", "/v1/echo", NULL, "application/json", "{\"a\": [1, 2]}", &status);

  assert_int_equal (status, 200);
  assert_true (JSON_NODE_HOLDS_ARRAY (gvd_test_json_path (node, "a")));
}

static void
body__bad_input__4xx_json_errors (void **state)
{
  Fixture *f = *state;
  struct {
    const char *ctype;
    const char *body;
    guint status;
    const char *code;
  } cases[] = {
    { "text/plain", "{}", 415, "unsupported_media_type" },
    { "application/json", "{\"a\":", 400, "invalid_json" },
    { "application/json", "[1,2]", 400, "invalid_json" },
    { "application/json", "\"str\"", 400, "invalid_json" },
    { "application/json", "{\"a\": \"\xff\xfe\"}", 400, "invalid_json" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint status;
      g_autoptr(JsonNode) node =
        do_request (f, "POST", "/v1/echo", NULL, cases[i].ctype, cases[i].body, &status);
      assert_int_equal (status, cases[i].status);
      gvd_test_assert_error (node, cases[i].code, NULL);
    }
}

static void
body__over_limit__413_before_reading (void **state)
{
  Fixture *f = *state;
  g_autofree char *big = g_malloc (4096);
  GvdTestRequest r = { .method = "POST", .content_type = "application/json" };
  g_autoptr(JsonNode) node = NULL;

  memset (big, ' ', 4096);
  big[0] = '{';
  big[4095] = '}';
  r.url = g_strconcat (f->base, "/v1/echo", NULL);
  r.body = big;
  r.body_len = 4096;
  node = gvd_test_request_in_loop (&r);
  assert_int_equal (r.status, 413);
  gvd_test_assert_error (node, "payload_too_large", NULL);
  gvd_test_request_clear (&r);
}

static void
body__chunked__411 (void **state)
{
  Fixture *f = *state;
  GvdTestRequest r = { .method = "POST", .content_type = "application/json", .body = "{}", .chunked = TRUE };
  g_autoptr(JsonNode) node = NULL;

  r.url = g_strconcat (f->base, "/v1/echo", NULL);
  node = gvd_test_request_in_loop (&r);
  assert_int_equal (r.status, 411);
  gvd_test_assert_error (node, "length_required", NULL);
  gvd_test_request_clear (&r);
}

static void
auth__token_required__401_unless_valid (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) none = do_request (f, "POST", "/v1/echo", NULL, "application/json", "{}", &status);
  g_autoptr(JsonNode) wrong = NULL;
  g_autoptr(JsonNode) prefix = NULL;
  g_autoptr(JsonNode) good = NULL;
  g_autoptr(JsonNode) health = NULL;

  assert_int_equal (status, 401);
  gvd_test_assert_error (none, "unauthorized", NULL);
  wrong = do_request (f, "POST", "/v1/echo", "s3cret-token-0123456788", "application/json", "{}",
                      &status);
  assert_int_equal (status, 401);
  prefix = do_request (f, "POST", "/v1/echo", "s3cret", "application/json", "{}", &status);
  assert_int_equal (status, 401);
  good = do_request (f, "POST", "/v1/echo", "s3cret-token-0123456789", "application/json",
                     "{\"ok\": true}", &status);
  assert_int_equal (status, 200);
  assert_true (gvd_test_json_bool (good, "ok"));
  /* Health stays public for load balancers and probes. */
  health = do_request (f, "GET", "/healthz", NULL, NULL, NULL, &status);
  assert_int_equal (status, 200);
}

static void
path_segments__forms__split_or_refused (void **state)
{
  g_auto(GStrv) a = gvd_api_path_segments ("/v1/instances/vm1/start", "/v1/instances");
  g_auto(GStrv) b = gvd_api_path_segments ("/v1/instances", "/v1/instances");
  g_auto(GStrv) c = gvd_api_path_segments ("/v1/instances/", "/v1/instances");
  g_auto(GStrv) d = gvd_api_path_segments ("/v1/instances//x", "/v1/instances");
  g_auto(GStrv) e = gvd_api_path_segments ("/v1/instancesX", "/v1/instances");

  assert_int_equal (g_strv_length (a), 2);
  assert_string_equal (a[0], "vm1");
  assert_string_equal (a[1], "start");
  assert_int_equal (g_strv_length (b), 0);
  assert_int_equal (g_strv_length (c), 0);
  assert_null (d);
  assert_null (e);
}

static void
error_codes__table__names_and_statuses_unique_and_complete (void **state)
{
  for (guint i = 0; i < GVD_ERROR_N_CODES; i++)
    {
      GvdErrorCode back;
      const char *name = gvd_error_code_name (i);
      guint status = gvd_error_code_http_status (i);

      assert_non_null (name);
      assert_true (gvd_error_code_from_name (name, &back));
      assert_int_equal (back, i);
      assert_true (status >= 400 && status < 600);
    }
  assert_int_equal (gvd_error_code_http_status (GVD_ERROR_DEVICE_IN_USE), 409);
  assert_string_equal (gvd_error_code_name (GVD_ERROR_DEVICE_IN_USE), "device_in_use");
  assert_false (gvd_error_code_from_name ("no_such_code", NULL));
}

/* ---- bounds: nesting depth, media type, the agent path -------------------------- */

static void
json_check_depth__strings_and_escapes__not_counted (void **state)
{
  const char *const ok[] = {
    "{\"a\": \"[[[[{{{{\"}",
    "{\"a\": \"\\\"[[[[\"}",             /* an escaped quote does not end the string */
    "{\"a\": \"\\\\\", \"b\": []}",       /* an escaped backslash does */
    "{\"a\": \"]]]]}}}}\"}",
    "{\"\\u005b\": 1}",
    "",
    "[",                                 /* unterminated: the parser's to refuse */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autoptr(GError) error = NULL;

      if (!gvd_json_check_depth (ok[i], strlen (ok[i]), 2, &error))
        fail_msg ("refused %s: %s", ok[i], error->message);
    }
}

static char *
nested (guint depth, const char *open, const char *close)
{
  GString *s = g_string_new ("{\"instance\": \"a\", \"x\": ");

  for (guint i = 1; i < depth; i++)
    g_string_append (s, open);
  g_string_append (s, "0");
  for (guint i = 1; i < depth; i++)
    g_string_append (s, close);
  g_string_append (s, "}");
  return g_string_free (s, FALSE);
}

static void
json_check_depth__64_accepted_65_refused (void **state)
{
  g_autofree char *at = nested (GVD_JSON_MAX_DEPTH, "[", "]");
  g_autofree char *over = nested (GVD_JSON_MAX_DEPTH + 1, "[", "]");
  g_autofree char *over_objects = nested (GVD_JSON_MAX_DEPTH + 1, "{\"k\": ", "}");
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  assert_true (gvd_json_check_depth (at, strlen (at), GVD_JSON_MAX_DEPTH, NULL));
  /* What passes really is JSON json-glib takes. */
  assert_true (json_parser_load_from_data (parser, at, -1, NULL));
  assert_false (gvd_json_check_depth (over, strlen (over), GVD_JSON_MAX_DEPTH, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_JSON));
  assert_non_null (strstr (error->message, "64 levels"));
  assert_false (gvd_json_check_depth (over_objects, strlen (over_objects), GVD_JSON_MAX_DEPTH,
                                      &error2));
  /* @len bounds the scan: the deep part beyond it is not looked at. */
  assert_true (gvd_json_check_depth (over, 40, GVD_JSON_MAX_DEPTH, NULL));
}

static void
json_check_depth__unbalanced__refused (void **state)
{
  const char *const bad[] = { "]", "{}}", "{\"a\": 1}]", "[]]" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      assert_false (gvd_json_check_depth (bad[i], strlen (bad[i]), GVD_JSON_MAX_DEPTH, &error));
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_JSON));
    }
}

static void
json_check_no_nul__escape_in_string__refused (void **state)
{
  const char *nul = "{\"instance\": \"a\\u0000b\"}";
  const char *escaped = "{\"a\": \"\\\\u0000\"}";
  const char *other = "{\"a\": \"\\u0001\"}";
  g_autoptr(GError) error = NULL;

  assert_false (gvd_json_check_no_nul (nul, strlen (nul), &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_JSON));
  /* An escaped backslash followed by the text u0000 is no NUL. */
  assert_true (gvd_json_check_no_nul (escaped, strlen (escaped), NULL));
  assert_true (gvd_json_check_no_nul (other, strlen (other), NULL));
  /* Outside strings it is the parser's business. */
  assert_true (gvd_json_check_no_nul ("\\u0000", 6, NULL));
}

#define BOUNDS_UUID "6f0e3c2a-8a4b-4b1e-9c7d-0123456789ab"

typedef struct {
  GvdDaemon *daemon;
  GvdApi *admin;
  GvdApi *agent;
  char *admin_base;
  char *agent_base;
  char *token; /* instance "a" */
} Bounds;

static void
echo_empty_handler (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) obj = gvd_api_read_object (msg, TRUE, &error);
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  if (obj == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  json_node_set_object (node, obj);
  gvd_api_reply_json (msg, SOUP_STATUS_OK, node);
}

static char *
listen_base (GvdApi *api)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  assert_true (gvd_api_listen (api, "127.0.0.1:0", &error));
  url = gvd_api_get_url (api);
  return g_strndup (url, strlen (url) - 1);
}

static int
bounds_setup (void **state)
{
  Bounds *f = g_new0 (Bounds, 1);

  /* Room for the 200 KB body on the admin listener: the depth check, not
   * the size bound, must refuse it there. */
  f->daemon = gvd_test_daemon_build ("workstation-2gpu", "[daemon]\nmax_body_bytes=1048576\n",
                                     NULL);
  gvd_agent_hub_track (f->daemon->agent, "a", BOUNDS_UUID);
  f->token = gvd_agent_hub_get_token (f->daemon->agent, "a");
  f->admin = gvd_api_new (f->daemon, "admin", NULL);
  gvd_api_health_register (f->admin);
  gvd_api_add_route (f->admin, "/v1/echo", GVD_API_ROUTE_DEFAULT, echo_handler);
  gvd_api_add_route (f->admin, "/v1/echo-empty", GVD_API_ROUTE_DEFAULT, echo_empty_handler);
  f->admin_base = listen_base (f->admin);
  f->agent = gvd_api_new (f->daemon, "agent", NULL);
  gvd_api_agent_register (f->agent);
  f->agent_base = listen_base (f->agent);
  *state = f;
  return 0;
}

static int
bounds_teardown (void **state)
{
  Bounds *f = *state;

  gvd_test_drain_main_context ();
  gvd_api_free (f->agent);
  gvd_api_free (f->admin);
  gvd_test_drain_main_context ();
  gvd_test_daemon_destroy (f->daemon);
  g_free (f->admin_base);
  g_free (f->agent_base);
  g_free (f->token);
  g_free (f);
  return 0;
}

/* One request with everything the answer holds: status, body, and every
 * response header but Date, sorted (sent from a thread while this thread
 * serves). */
typedef struct {
  const char *url;
  const char *token;
  const char *body;
  guint status;
  char *reply;
  char *headers;
  gint done;
} RawRequest;

static gint
compare_lines (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static gpointer
raw_thread (gpointer data)
{
  RawRequest *r = data;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", r->url);
  g_autoptr(GBytes) body = g_bytes_new (r->body, strlen (r->body));
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  if (r->token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", r->token);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  reply = soup_session_send_and_read (session, msg, NULL, NULL);
  r->status = soup_message_get_status (msg);
  r->reply = reply != NULL ? g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply))
                           : g_strdup ("");
  soup_message_headers_iter_init (&iter, soup_message_get_response_headers (msg));
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (g_ascii_strcasecmp (name, "Date") != 0)
      g_ptr_array_add (lines, g_strdup_printf ("%s: %s", name, value));
  g_ptr_array_sort (lines, compare_lines);
  g_ptr_array_add (lines, NULL);
  r->headers = g_strjoinv ("\n", (char **) lines->pdata);
  g_atomic_int_set (&r->done, TRUE);
  /* The test thread may be blocked in g_main_context_iteration (): wake it. */
  g_main_context_wakeup (NULL);
  return NULL;
}

static void
raw_request (RawRequest *r)
{
  GThread *thread = g_thread_new ("raw", raw_thread, r);

  while (!g_atomic_int_get (&r->done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
}

static void
raw_request_clear (RawRequest *r)
{
  g_free (r->reply);
  g_free (r->headers);
}

static guint
post (const char *base, const char *path, const char *token, const char *ctype, const char *body,
      gsize body_len, JsonNode **out_node)
{
  GvdTestRequest r = { .method = "POST", .token = token, .body = body, .content_type = ctype,
                       .body_len = body_len };
  JsonNode *node;
  guint status;

  r.url = g_strconcat (base, path, NULL);
  node = gvd_test_request_in_loop (&r);
  status = r.status;
  gvd_test_request_clear (&r);
  if (out_node != NULL)
    *out_node = node;
  else if (node != NULL)
    json_node_unref (node);
  return status;
}

#define HB_A "{\"instance\": \"a\", \"seq\": 1}"

static void
bounds__deep_nesting__400_and_the_server_keeps_serving (void **state)
{
  Bounds *f = *state;
  /* The body that crashed gpuvmd: 100,000 levels, ~200 KB. */
  g_autofree char *deep = nested (100000, "[", "]");
  /* Under the agent's 64 KiB bound, so it is parsed... or would be. */
  g_autofree char *deep_small = nested (32000, "[", "]");
  JsonNode *node = NULL;

  assert_true (strlen (deep_small) < GVD_AGENT_MAX_BODY);
  assert_int_equal (post (f->admin_base, "/v1/echo", NULL, NULL, deep, 0, &node), 400);
  gvd_test_assert_error (node, "invalid_json", "64 levels");
  json_node_unref (node);
  assert_int_equal (post (f->agent_base, "/v1/agent/heartbeat", f->token, NULL, deep_small, 0,
                          &node),
                    400);
  gvd_test_assert_error (node, "invalid_json", "64 levels");
  json_node_unref (node);
  /* Without credentials too, and on phone-home. */
  assert_int_equal (post (f->agent_base, "/v1/agent/phone-home", NULL, NULL, deep_small, 0, &node),
                    400);
  gvd_test_assert_error (node, "invalid_json", "64 levels");
  json_node_unref (node);
  /* The 200 KB one is over the agent bound: refused before it is read. */
  assert_int_equal (post (f->agent_base, "/v1/agent/heartbeat", NULL, NULL, deep, 0, NULL), 413);
  /* Still serving. */
  assert_int_equal (post (f->agent_base, "/v1/agent/heartbeat", f->token, NULL, HB_A, 0, NULL),
                    200);
  {
    GvdTestRequest r = { .method = "GET" };
    g_autoptr(JsonNode) health = NULL;

    r.url = g_strconcat (f->admin_base, "/healthz", NULL);
    health = gvd_test_request_in_loop (&r);
    assert_int_equal (r.status, 200);
    gvd_test_request_clear (&r);
  }
}

static void
bounds__empty_post__415_unless_json_type (void **state)
{
  Bounds *f = *state;
  JsonNode *node = NULL;

  /* What a cross-site form or fetch without preflight can send. */
  assert_int_equal (post (f->admin_base, "/v1/echo-empty", NULL, "", NULL, 0, &node), 415);
  gvd_test_assert_error (node, "unsupported_media_type", "application/json");
  json_node_unref (node);
  assert_int_equal (post (f->admin_base, "/v1/echo-empty", NULL, "text/plain", "", 0, NULL), 415);
  assert_int_equal (
    post (f->admin_base, "/v1/echo-empty", NULL, "application/x-www-form-urlencoded", "", 0, NULL),
    415);
  /* testlib sends the type on a bodiless POST, as gpuvmd's clients must. */
  assert_int_equal (post (f->admin_base, "/v1/echo-empty", NULL, NULL, NULL, 0, NULL), 200);
  assert_int_equal (
    post (f->admin_base, "/v1/echo-empty", NULL, "application/json; charset=utf-8", "", 0, NULL),
    200);
}

static void
bounds__agent_body_over_64k__413_whatever_max_body_bytes (void **state)
{
  Bounds *f = *state;
  gsize len = GVD_AGENT_MAX_BODY + 1;
  g_autofree char *big = g_malloc (len);
  JsonNode *node = NULL;

  memset (big, ' ', len);
  memcpy (big, HB_A, strlen (HB_A));
  assert_int_equal (post (f->agent_base, "/v1/agent/heartbeat", f->token, NULL, big, len, &node),
                    413);
  gvd_test_assert_error (node, "payload_too_large", NULL);
  json_node_unref (node);
  /* The admin listener's own bound (1 MiB here) is untouched. */
  assert_int_equal (post (f->admin_base, "/v1/echo", NULL, NULL, big, len, NULL), 200);
  /* At the bound exactly: accepted. */
  assert_int_equal (
    post (f->agent_base, "/v1/agent/heartbeat", f->token, NULL, big, GVD_AGENT_MAX_BODY, NULL),
    200);
}

static void
bounds__agent_unknown_instance_and_wrong_token__identical_401 (void **state)
{
  Bounds *f = *state;
  g_autofree char *url = g_strconcat (f->agent_base, "/v1/agent/heartbeat", NULL);
  RawRequest unknown = { .url = url, .token = f->token, .body = "{\"instance\": \"zz\"}" };
  RawRequest wrong = { .url = url, .token = "0000", .body = "{\"instance\": \"a\"}" };
  RawRequest none = { .url = url, .token = NULL, .body = "{\"instance\": \"a\"}" };

  raw_request (&unknown);
  raw_request (&wrong);
  raw_request (&none);
  assert_int_equal (unknown.status, 401);
  assert_int_equal (wrong.status, 401);
  assert_int_equal (none.status, 401);
  assert_string_equal (unknown.reply, wrong.reply);
  assert_string_equal (unknown.reply, none.reply);
  assert_string_equal (unknown.headers, wrong.headers);
  assert_string_equal (unknown.headers, none.headers);
  assert_non_null (strstr (unknown.headers, "WWW-Authenticate: Bearer"));
  assert_null (strstr (unknown.reply, "zz"));
  raw_request_clear (&unknown);
  raw_request_clear (&wrong);
  raw_request_clear (&none);
}

static void
bounds__agent_name_with_control_characters__400_invalid_argument (void **state)
{
  Bounds *f = *state;
  const char *const bodies[] = {
    "{\"instance\": \"a\\ngpuvmd: instance b agent health healthy -> unresponsive\"}",
    "{\"instance\": \"a\\u001b[31m\"}",
    "{\"instance\": \"a\\u0085\"}",
    "{\"instance\": \"a\\u009b\"}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      JsonNode *node = NULL;

      assert_int_equal (post (f->agent_base, "/v1/agent/heartbeat", f->token, NULL, bodies[i], 0,
                              &node),
                        400);
      gvd_test_assert_error (node, "invalid_argument", "instance");
      json_node_unref (node);
    }
  /* NUL: json-glib would read "a" (a's token would then pass). */
  {
    JsonNode *node = NULL;

    assert_int_equal (post (f->agent_base, "/v1/agent/heartbeat", f->token, NULL,
                            "{\"instance\": \"a\\u0000b\"}", 0, &node),
                      400);
    gvd_test_assert_error (node, "invalid_json", "u0000");
    json_node_unref (node);
  }
}

static void
bounds__agent_flood__429_with_retry_after (void **state)
{
  Bounds *f = *state;
  g_autofree char *url = g_strconcat (f->agent_base, "/v1/agent/heartbeat", NULL);
  RawRequest r = { .url = url, .token = f->token, .body = HB_A };
  guint ok = 0;

  for (guint i = 0; i < GVD_AGENT_REQUEST_BURST; i++)
    ok += post (f->agent_base, "/v1/agent/heartbeat", f->token, NULL, HB_A, 0, NULL) == 200;
  assert_int_equal (ok, GVD_AGENT_REQUEST_BURST);
  raw_request (&r);
  assert_int_equal (r.status, 429);
  assert_non_null (strstr (r.reply, "too_many_requests"));
  /* Interval 10 s: one report per 2 s. */
  assert_true (strstr (r.headers, "Retry-After: 2") != NULL
               || strstr (r.headers, "Retry-After: 1") != NULL);
  raw_request_clear (&r);
}

static void
daemon__deep_body_to_agent_listener__still_answers (void **state)
{
  g_autoptr(GvdTestDaemon) d =
    gvd_test_daemon_start ("[libvirt]\nuri=test:///default\n[agent]\nlisten=127.0.0.1:0\n", NULL);
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupSession) admin = gvd_test_daemon_session (d, 30);
  g_autofree char *deep = nested (100000, "[", "]");
  g_autofree char *deep_small = nested (32000, "[", "]");
  g_autofree char *hb = g_strconcat (d->agent_url, "/v1/agent/heartbeat", NULL);
  g_autofree char *healthz = g_strconcat (d->url, "/healthz", NULL);
  g_autofree char *plans = g_strconcat (d->url, "/v1/plans", NULL);
  g_autoptr(JsonNode) a = NULL;
  g_autoptr(JsonNode) b = NULL;
  g_autoptr(JsonNode) c = NULL;
  g_autoptr(JsonNode) health = NULL;
  guint status = 0;

  a = gvd_test_http (session, "POST", hb, NULL, deep_small, &status);
  assert_int_equal (status, 400);
  gvd_test_assert_error (a, "invalid_json", "64 levels");
  b = gvd_test_http (session, "POST", hb, NULL, deep, &status);
  assert_int_equal (status, 413);
  /* And an admin route that parses its body (max_body_bytes is 1 MiB by
   * default, so the 200 KB body is read), over the admin socket. */
  c = gvd_test_http (admin, "POST", plans, NULL, deep, &status);
  assert_int_equal (status, 400);
  gvd_test_assert_error (c, "invalid_json", "64 levels");
  health = gvd_test_http (admin, "GET", healthz, NULL, NULL, &status);
  assert_int_equal (status, 200);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest open_tests[] = {
    cmocka_unit_test (healthz__libvirt_down__degraded_with_reason),
    cmocka_unit_test (routing__unknown_paths__json_404),
    cmocka_unit_test (routing__wrong_method__405_with_allow),
    cmocka_unit_test (routing__table__only_its_rows_reach_the_handler),
    cmocka_unit_test (body__valid_object__echoed),
    cmocka_unit_test (body__bad_input__4xx_json_errors),
    cmocka_unit_test (body__over_limit__413_before_reading),
    cmocka_unit_test (body__chunked__411),
  };
  const struct CMUnitTest token_tests[] = {
    cmocka_unit_test (auth__token_required__401_unless_valid),
  };
  const struct CMUnitTest pure_tests[] = {
    cmocka_unit_test (path_segments__forms__split_or_refused),
    cmocka_unit_test (error_codes__table__names_and_statuses_unique_and_complete),
  };
  const struct CMUnitTest bounds_tests[] = {
    cmocka_unit_test (json_check_depth__strings_and_escapes__not_counted),
    cmocka_unit_test (json_check_depth__64_accepted_65_refused),
    cmocka_unit_test (json_check_depth__unbalanced__refused),
    cmocka_unit_test (json_check_no_nul__escape_in_string__refused),
    cmocka_unit_test_setup_teardown (bounds__deep_nesting__400_and_the_server_keeps_serving,
                                     bounds_setup, bounds_teardown),
    cmocka_unit_test_setup_teardown (bounds__empty_post__415_unless_json_type, bounds_setup,
                                     bounds_teardown),
    cmocka_unit_test_setup_teardown (bounds__agent_body_over_64k__413_whatever_max_body_bytes,
                                     bounds_setup, bounds_teardown),
    cmocka_unit_test_setup_teardown (bounds__agent_unknown_instance_and_wrong_token__identical_401,
                                     bounds_setup, bounds_teardown),
    cmocka_unit_test_setup_teardown (
      bounds__agent_name_with_control_characters__400_invalid_argument, bounds_setup,
      bounds_teardown),
    cmocka_unit_test_setup_teardown (bounds__agent_flood__429_with_retry_after, bounds_setup,
                                     bounds_teardown),
    cmocka_unit_test (daemon__deep_body_to_agent_listener__still_answers),
  };
  int failed = 0;

  failed += cmocka_run_group_tests_name ("api", open_tests, setup_open, teardown);
  failed += cmocka_run_group_tests_name ("api-auth", token_tests, setup_token, teardown);
  failed += cmocka_run_group_tests_name ("api-pure", pure_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name ("api-bounds", bounds_tests, NULL, NULL);
  return failed == 0 ? 0 : 1;
}
