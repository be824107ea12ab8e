/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The API plumbing on a real soup server on loopback port 0: routing, JSON
 * errors, authentication, body bounds, /healthz while libvirt is down. */
#include "config.h"

#include "testlib.h"

#include "api.h"

#include <string.h>

typedef struct {
  GvdDaemon daemon;
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

static int
setup (void **state, const char *token)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  f->daemon.config = gvd_config_new ();
  f->daemon.config->max_body_bytes = 2048;
  f->daemon.virt = gvd_virt_conn_new ("test:///default", 5, 3, 5);
  f->daemon.started_at = g_get_monotonic_time ();
  f->api = gvd_api_new (&f->daemon, "admin", token);
  gvd_api_health_register (f->api);
  gvd_api_add_route (f->api, "/v1/echo", GVD_API_ROUTE_DEFAULT, echo_handler);
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
  g_object_unref (f->daemon.virt);
  gvd_config_free (f->daemon.config);
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
  gvd_test_assert_error (node, "payload_too_large", NULL);
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

int
main (void)
{
  const struct CMUnitTest open_tests[] = {
    cmocka_unit_test (healthz__libvirt_down__degraded_with_reason),
    cmocka_unit_test (routing__unknown_paths__json_404),
    cmocka_unit_test (routing__wrong_method__405_with_allow),
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
  int failed = 0;

  failed += cmocka_run_group_tests_name ("api", open_tests, setup_open, teardown);
  failed += cmocka_run_group_tests_name ("api-auth", token_tests, setup_token, teardown);
  failed += cmocka_run_group_tests_name ("api-pure", pure_tests, NULL, NULL);
  return failed == 0 ? 0 : 1;
}
