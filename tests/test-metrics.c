/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Prometheus renderer (golden text, escaping, bounds, promtool) and
 * GET /metrics on an in-process server. */
#include "config.h"

#include "testlib.h"

#include "api.h"
#include "hostinfo.h"
#include "metrics-registry.h"
#include "metrics.h"

#include <math.h>
#include <string.h>

static GvdMetricsSnapshot *
sample_snapshot (void)
{
  GvdMetricsSnapshot *snap = gvd_metrics_snapshot_new ("1.2.3");

  snap->uptime_seconds = 42;
  snap->libvirt_connected = TRUE;
  snap->libvirt_reconnects = 3;
  snap->devices_claimed = 3;
  snap->devices_quarantined = 1;
  /* Deliberately unsorted. */
  gvd_metrics_snapshot_add_instance (snap, "web", "gvd-web", "running", "healthy");
  gvd_metrics_snapshot_add_instance (snap, "db", "gvd-db", "paused", NULL);
  gvd_metrics_snapshot_add_instance (snap, "api", "gvd-api", "running", "degraded");
  gvd_metrics_snapshot_add_device (snap, "0000:41:00.0", "web", FALSE);
  gvd_metrics_snapshot_add_device (snap, "0000:03:00.0", NULL, TRUE);
  gvd_metrics_snapshot_add_heartbeat_age (snap, "web", 2.5);
  gvd_metrics_snapshot_add_guest_gpu (snap, &(GvdMetricsGuestGpu){
      .instance = "web", .index = "0", .guest_address = "0000:01:00.0",
      .host_address = "0000:41:00.0", .uuid = "GPU-1", .model = "NVIDIA A100-SXM4-40GB",
      .driver_version = "550.54.15", .utilization_ratio = 0.87,
      .memory_used_bytes = 1024.0 * 1048576, .memory_total_bytes = 40960.0 * 1048576,
      .temperature_celsius = 61, .power_watts = NAN });
  return snap;
}

static const char golden[] =
  "# HELP gpuvmd_build_info The gpuvmd version, as a label; always 1.\n"
  "# TYPE gpuvmd_build_info gauge\n"
  "gpuvmd_build_info{version=\"1.2.3\"} 1\n"
  "# HELP gpuvmd_up 1 while the daemon answers.\n"
  "# TYPE gpuvmd_up gauge\n"
  "gpuvmd_up 1\n"
  "# HELP gpuvmd_uptime_seconds Seconds since the daemon started.\n"
  "# TYPE gpuvmd_uptime_seconds gauge\n"
  "gpuvmd_uptime_seconds 42\n"
  "# HELP gpuvmd_libvirt_connected 1 when the libvirt connection is up.\n"
  "# TYPE gpuvmd_libvirt_connected gauge\n"
  "gpuvmd_libvirt_connected 1\n"
  "# HELP gpuvmd_libvirt_reconnects_total libvirt connections opened again after a loss.\n"
  "# TYPE gpuvmd_libvirt_reconnects_total counter\n"
  "gpuvmd_libvirt_reconnects_total 3\n"
  "# HELP gpuvmd_devices_passthrough_candidates PCI devices that may be passed through "
  "(GPUs, configured devices).\n"
  "# TYPE gpuvmd_devices_passthrough_candidates gauge\n"
  "gpuvmd_devices_passthrough_candidates 2\n"
  "# HELP gpuvmd_devices_claimed PCI addresses held by instances or reservations.\n"
  "# TYPE gpuvmd_devices_claimed gauge\n"
  "gpuvmd_devices_claimed 3\n"
  "# HELP gpuvmd_devices_quarantined PCI devices in quarantine.\n"
  "# TYPE gpuvmd_devices_quarantined gauge\n"
  "gpuvmd_devices_quarantined 1\n"
  "# HELP gpuvmd_instances Instances by libvirt state.\n"
  "# TYPE gpuvmd_instances gauge\n"
  "gpuvmd_instances{state=\"paused\"} 1\n"
  "gpuvmd_instances{state=\"running\"} 2\n"
  "gpuvmd_instances{state=\"shutoff\"} 0\n"
  "# HELP gpuvmd_instance_health Instances by guest agent health.\n"
  "# TYPE gpuvmd_instance_health gauge\n"
  "gpuvmd_instance_health{health=\"degraded\"} 1\n"
  "gpuvmd_instance_health{health=\"healthy\"} 1\n"
  "gpuvmd_instance_health{health=\"provisioning\"} 0\n"
  "gpuvmd_instance_health{health=\"ready\"} 0\n"
  "gpuvmd_instance_health{health=\"stopped\"} 0\n"
  "gpuvmd_instance_health{health=\"unresponsive\"} 0\n"
  "gpuvmd_instance_health{health=\"untracked\"} 1\n"
  "# HELP gpuvmd_instance_info One series per instance: libvirt domain, state and agent "
  "health.\n"
  "# TYPE gpuvmd_instance_info gauge\n"
  "gpuvmd_instance_info{name=\"api\",domain=\"gvd-api\",state=\"running\","
  "health=\"degraded\"} 1\n"
  "gpuvmd_instance_info{name=\"db\",domain=\"gvd-db\",state=\"paused\","
  "health=\"untracked\"} 1\n"
  "gpuvmd_instance_info{name=\"web\",domain=\"gvd-web\",state=\"running\","
  "health=\"healthy\"} 1\n"
  "# HELP gpuvmd_device_info One series per passthrough candidate: holder (empty: free) "
  "and quarantine.\n"
  "# TYPE gpuvmd_device_info gauge\n"
  "gpuvmd_device_info{address=\"0000:03:00.0\",holder=\"\",quarantined=\"true\"} 1\n"
  "gpuvmd_device_info{address=\"0000:41:00.0\",holder=\"web\",quarantined=\"false\"} 1\n"
  "# HELP gpuvmd_agent_last_heartbeat_age_seconds Seconds since the guest agent's last "
  "heartbeat, per instance that sent one.\n"
  "# TYPE gpuvmd_agent_last_heartbeat_age_seconds gauge\n"
  "gpuvmd_agent_last_heartbeat_age_seconds{name=\"web\"} 2.5\n"
  "# HELP gpuvmd_guest_gpu_info One series per GPU a guest agent reports: model, UUID,"
  " driver version, and the host PCI address passed through at its guest address.\n"
  "# TYPE gpuvmd_guest_gpu_info gauge\n"
  "gpuvmd_guest_gpu_info{name=\"web\",gpu=\"0\",guest_address=\"0000:01:00.0\","
  "host_address=\"0000:41:00.0\",uuid=\"GPU-1\",model=\"NVIDIA A100-SXM4-40GB\","
  "driver_version=\"550.54.15\"} 1\n"
  "# HELP gpuvmd_guest_gpu_utilization_ratio GPU utilisation in the guest (0-1),"
  " by instance and host PCI address.\n"
  "# TYPE gpuvmd_guest_gpu_utilization_ratio gauge\n"
  "gpuvmd_guest_gpu_utilization_ratio{name=\"web\",gpu=\"0\",guest_address=\"0000:01:00.0\","
  "host_address=\"0000:41:00.0\"} 0.87\n"
  "# HELP gpuvmd_guest_gpu_memory_used_bytes GPU memory in use in the guest.\n"
  "# TYPE gpuvmd_guest_gpu_memory_used_bytes gauge\n"
  "gpuvmd_guest_gpu_memory_used_bytes{name=\"web\",gpu=\"0\",guest_address=\"0000:01:00.0\","
  "host_address=\"0000:41:00.0\"} 1073741824\n"
  "# HELP gpuvmd_guest_gpu_memory_total_bytes GPU memory the guest driver sees.\n"
  "# TYPE gpuvmd_guest_gpu_memory_total_bytes gauge\n"
  "gpuvmd_guest_gpu_memory_total_bytes{name=\"web\",gpu=\"0\",guest_address=\"0000:01:00.0\","
  "host_address=\"0000:41:00.0\"} 42949672960\n"
  "# HELP gpuvmd_guest_gpu_temperature_celsius GPU temperature reported in the guest.\n"
  "# TYPE gpuvmd_guest_gpu_temperature_celsius gauge\n"
  "gpuvmd_guest_gpu_temperature_celsius{name=\"web\",gpu=\"0\",guest_address=\"0000:01:00.0\","
  "host_address=\"0000:41:00.0\"} 61\n"
  "# HELP gpuvmd_guest_gpu_power_watts GPU power draw reported in the guest.\n"
  "# TYPE gpuvmd_guest_gpu_power_watts gauge\n";

static void
render__sample_snapshot__matches_golden (void **state)
{
  g_autoptr(GvdMetricsSnapshot) snap = sample_snapshot ();
  g_autofree char *text = gvd_metrics_render (snap, 0);

  if (!g_str_equal (text, golden))
    g_file_set_contents ("test-metrics.render.out", text, -1, NULL); /* for review */
  assert_string_equal (text, golden);
}

static void
render__empty_snapshot__fixed_families_with_zeros (void **state)
{
  g_autoptr(GvdMetricsSnapshot) snap = gvd_metrics_snapshot_new ("0.1.0");
  g_autofree char *text = gvd_metrics_render (snap, 0);

  assert_non_null (strstr (text, "\ngpuvmd_instances{state=\"running\"} 0\n"
                                 "gpuvmd_instances{state=\"shutoff\"} 0\n"));
  assert_non_null (strstr (text, "\ngpuvmd_libvirt_connected 0\n"));
  assert_non_null (strstr (text, "\ngpuvmd_devices_passthrough_candidates 0\n"));
  assert_non_null (strstr (text, "\n# TYPE gpuvmd_device_info gauge\n"));
  assert_null (strstr (text, "gpuvmd_instance_info{"));
  assert_null (strstr (text, "gpuvmd_device_info{"));
  assert_null (strstr (text, "omitted"));
}

static void
escape_label__hostile__backslash_quote_newline_escaped (void **state)
{
  g_autoptr(GString) out = g_string_new (NULL);

  gvd_metrics_escape_label (out, "a\\b\"c\nd} e=\"x\",f");
  assert_string_equal (out->str, "a\\\\b\\\"c\\nd} e=\\\"x\\\",f");
  g_string_truncate (out, 0);
  gvd_metrics_escape_label (out, "\xff\xfeok");
  assert_true (g_utf8_validate (out->str, -1, NULL));
  assert_non_null (strstr (out->str, "ok"));
}

static void
render__hostile_instance__one_line_per_series (void **state)
{
  g_autoptr(GvdMetricsSnapshot) snap = gvd_metrics_snapshot_new ("1\"\n");
  g_autofree char *text = NULL;

  gvd_metrics_snapshot_add_instance (snap, "evil\"} 1\ngpuvmd_up 0\n#", "d\\", "st\nate",
                                     NULL);
  text = gvd_metrics_render (snap, 0);
  assert_non_null (strstr (text, "gpuvmd_build_info{version=\"1\\\"\\n\"} 1\n"));
  assert_non_null (strstr (text, "gpuvmd_instance_info{name=\"evil\\\"} 1\\ngpuvmd_up 0\\n#\","
                                 "domain=\"d\\\\\",state=\"st\\nate\",health=\"untracked\"} 1\n"));
  assert_non_null (strstr (text, "gpuvmd_instances{state=\"st\\nate\"} 1\n"));
  /* The injected sample never shows up as a line of its own. */
  assert_null (strstr (text, "\ngpuvmd_up 0\n"));
}

static void
render__over_limit__truncated_with_comment (void **state)
{
  g_autoptr(GvdMetricsSnapshot) snap = gvd_metrics_snapshot_new ("1");
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint samples = 0;

  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *name = g_strdup_printf ("vm%02u", i);

      gvd_metrics_snapshot_add_instance (snap, name, name, "running", "healthy");
    }
  text = gvd_metrics_render (snap, 30);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '#' && lines[i][0] != '\0')
      samples++;
  assert_int_equal (samples, 30);
  /* 8 fixed samples, 2 states, 6 healths: 16; 14 of 50 info series fit. */
  assert_non_null (strstr (text, "name=\"vm13\""));
  assert_null (strstr (text, "name=\"vm14\""));
  assert_true (g_str_has_suffix (text, "\n# gpuvmd: 36 series omitted (limit 30)\n"));
}

/* A guest that reports the same GPU twice cannot make duplicate samples
 * (Prometheus would refuse the whole scrape). */
static void
render__duplicate_guest_gpus__one_series_each (void **state)
{
  g_autoptr(GvdMetricsSnapshot) snap = gvd_metrics_snapshot_new ("1");
  GvdMetricsGuestGpu gpu = { .instance = "vm", .index = "0", .guest_address = "0000:01:00.0",
                             .utilization_ratio = 0.5, .memory_used_bytes = NAN,
                             .memory_total_bytes = NAN, .temperature_celsius = NAN,
                             .power_watts = NAN };
  GvdMetricsGuestGpu anon = { .instance = "vm", .utilization_ratio = 0.1,
                              .memory_used_bytes = NAN, .memory_total_bytes = NAN,
                              .temperature_celsius = NAN, .power_watts = NAN };
  g_autofree char *text = NULL;
  guint n = 0;

  for (guint i = 0; i < 3; i++)
    {
      gvd_metrics_snapshot_add_guest_gpu (snap, &gpu);
      gvd_metrics_snapshot_add_guest_gpu (snap, &anon);
    }
  text = gvd_metrics_render (snap, 0);
  for (const char *p = text; (p = strstr (p, "\ngpuvmd_guest_gpu_utilization_ratio{")) != NULL; p++)
    n++;
  assert_int_equal (n, 2);
  assert_non_null (strstr (text, "\ngpuvmd_guest_gpu_utilization_ratio{name=\"vm\",gpu=\"0\","
                                 "guest_address=\"0000:01:00.0\",host_address=\"\"} 0.5\n"));
  /* Values the guest did not report are left out, not written as NaN. */
  assert_null (strstr (text, "gpuvmd_guest_gpu_power_watts{"));
  assert_null (strstr (text, "NaN"));
}

/* The real Prometheus linter accepts the output, hostile labels included. */
static void
render__promtool__check_metrics_passes (void **state)
{
  g_autofree char *promtool = g_find_program_in_path ("promtool");
  g_autoptr(GvdMetricsRegistry) reg = gvd_metrics_registry_new ();
  g_autoptr(GvdMetricsSnapshot) snap = sample_snapshot ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *out = NULL;

  if (promtool == NULL)
    {
      if (g_strcmp0 (g_getenv ("GVD_REQUIRE_INTEGRATION"), "1") == 0)
        fail_msg ("promtool not found (apt-get install prometheus)");
      print_message ("promtool not found (apt-get install prometheus): skipping\n");
      skip ();
    }
  gvd_metrics_snapshot_add_instance (snap, "x\"\\\n", "d", "crashed", "stopped");
  gvd_metrics_snapshot_add_device (snap, "0000:05:00.0", "h\"o\\l\nder", FALSE);
  /* Every family: requests, operation histograms, failures, reports. */
  gvd_metrics_registry_observe_http (reg, "/v1/instances/{name}", "DELETE", 204, 0.3);
  gvd_metrics_registry_observe_http (reg, "other", "other", 404, 0.0001);
  gvd_metrics_registry_observe_op (reg, "create", 42, NULL);
  gvd_metrics_registry_observe_op (reg, "start", 1, "libvirt");
  gvd_metrics_registry_count_agent_report (reg, "heartbeat", TRUE);
  snap->registry = reg;
  text = gvd_metrics_render (snap, 0);
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                               | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                           &error, promtool, "check", "metrics", NULL);
  assert_non_null (proc);
  assert_true (g_subprocess_communicate_utf8 (proc, text, NULL, &out, NULL, &error));
  if (!g_subprocess_get_successful (proc))
    fail_msg ("promtool check metrics failed:\n%s\n--- input:\n%s", out, text);
  /* Lint findings (naming, units) go to the output with exit 0 too. */
  if (out != NULL && out[0] != '\0')
    fail_msg ("promtool check metrics complained:\n%s", out);
}

/* ---- GET /metrics over HTTP ------------------------------------------------ */

#define TOKEN "metrics-token-0123456789"

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

  /* libvirt is not connected: the daemon is built, never started. */
  f->daemon = gvd_test_daemon_build ("workstation-2gpu", NULL, NULL);
  gvd_claims_set_holder (f->daemon->claims, "0000:01:00.0", "train");
  gvd_claims_set_holder (f->daemon->claims, "0000:01:00.1", "train");
  gvd_claims_quarantine (f->daemon->claims, "0000:02:00.0", "reset failed");
  f->api = gvd_api_new (f->daemon, "admin", TOKEN);
  gvd_api_metrics_register (f->api);
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
  gvd_test_daemon_destroy (f->daemon);
  g_free (f->base);
  g_free (f);
  return 0;
}

/* gvd_test_request_in_loop does not report the Content-Type, so ask with a
 * session of our own from a thread while this thread serves. */
typedef struct {
  char *url;
  guint status;
  char *content_type;
  char *body;
  gint done;
} GetCtx;

static gpointer
get_thread (gpointer data)
{
  GetCtx *c = data;
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) bytes = NULL;

  g_main_context_push_thread_default (ctx);
  session = soup_session_new ();
  msg = soup_message_new ("GET", c->url);
  soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization",
                               "Bearer " TOKEN);
  bytes = soup_session_send_and_read (session, msg, NULL, NULL);
  c->status = soup_message_get_status (msg);
  c->content_type = g_strdup (soup_message_headers_get_one (
      soup_message_get_response_headers (msg), "Content-Type"));
  if (bytes != NULL)
    c->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_clear_object (&msg);
  g_clear_object (&session);
  g_main_context_pop_thread_default (ctx);
  g_atomic_int_set (&c->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
}

static void
get_metrics__token__200_text_with_devices (void **state)
{
  Fixture *f = *state;
  GetCtx c = { .url = g_strconcat (f->base, "/metrics", NULL) };
  GThread *thread = g_thread_new ("metrics-get", get_thread, &c);

  while (!g_atomic_int_get (&c.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  assert_int_equal (c.status, 200);
  assert_string_equal (c.content_type, "text/plain; version=0.0.4; charset=utf-8");
  assert_true (g_str_has_prefix (c.body, "# HELP gpuvmd_build_info "));
  assert_non_null (strstr (c.body, "\ngpuvmd_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"));
  assert_non_null (strstr (c.body, "\ngpuvmd_libvirt_connected 0\n"));
  /* The fixture's three GPUs (00:02.0, 01:00.0, 02:00.0); not its NIC. */
  assert_non_null (strstr (c.body, "\ngpuvmd_devices_passthrough_candidates 3\n"));
  assert_non_null (strstr (c.body, "\ngpuvmd_devices_claimed 2\n"));
  assert_non_null (strstr (c.body, "\ngpuvmd_devices_quarantined 1\n"));
  assert_non_null (strstr (c.body, "\ngpuvmd_device_info{address=\"0000:01:00.0\","
                                   "holder=\"train\",quarantined=\"false\"} 1\n"));
  assert_non_null (strstr (c.body, "\ngpuvmd_device_info{address=\"0000:02:00.0\","
                                   "holder=\"\",quarantined=\"true\"} 1\n"));
  assert_null (strstr (c.body, "0000:00:1f.6"));
  g_free (c.url);
  g_free (c.content_type);
  g_free (c.body);
}

static char *
get_metrics_body (Fixture *f)
{
  GetCtx c = { .url = g_strconcat (f->base, "/metrics", NULL) };
  GThread *thread = g_thread_new ("metrics-get", get_thread, &c);

  while (!g_atomic_int_get (&c.done))
    g_main_context_iteration (NULL, TRUE);
  g_thread_join (thread);
  assert_int_equal (c.status, 200);
  g_free (c.url);
  g_free (c.content_type);
  return c.body;
}

/* Every answered request counts by route template, whoever answered it
 * (the 401 comes from the router, the 404 from the fallback handler). */
static void
get_metrics__after_requests__counted_by_template_and_class (void **state)
{
  Fixture *f = *state;
  GvdTestRequest r[] = {
    { .method = "GET" },
    { .method = "GET", .token = TOKEN },
  };
  g_autofree char *first = NULL, *second = NULL;

  r[0].url = g_strconcat (f->base, "/metrics", NULL);
  r[1].url = g_strconcat (f->base, "/no/such/thing-with-a-name", NULL);
  gvd_test_requests_in_loop (r, 2);
  assert_int_equal (r[0].status, 401);
  assert_int_equal (r[1].status, 404);
  first = get_metrics_body (f);
  second = get_metrics_body (f);
  assert_non_null (strstr (second, "\ngpuvmd_http_requests_total{route=\"/metrics\",method=\"GET\","
                                   "code_class=\"2xx\"} 1\n"));
  assert_non_null (strstr (second, "\ngpuvmd_http_requests_total{route=\"/metrics\",method=\"GET\","
                                   "code_class=\"4xx\"} 1\n"));
  assert_non_null (strstr (second, "\ngpuvmd_http_requests_total{route=\"other\",method=\"GET\","
                                   "code_class=\"4xx\"} 1\n"));
  assert_non_null (strstr (second, "\ngpuvmd_http_request_duration_seconds_count{route=\"/metrics\","
                                   "method=\"GET\"} 2\n"));
  /* The path a client chose never becomes a label. */
  assert_null (strstr (second, "thing-with-a-name"));
  assert_non_null (strstr (second, "\n# TYPE gpuvmd_instance_create_duration_seconds histogram\n"));
  gvd_test_request_clear (&r[0]);
  gvd_test_request_clear (&r[1]);
}

static void
post_metrics__any__405_json (void **state)
{
  Fixture *f = *state;
  GvdTestRequest r = { .method = "POST", .token = TOKEN, .body = "{}" };
  g_autoptr(JsonNode) node = NULL;

  r.url = g_strconcat (f->base, "/metrics", NULL);
  node = gvd_test_request_in_loop (&r);
  assert_int_equal (r.status, 405);
  assert_string_equal (r.allow, "GET");
  gvd_test_assert_error (node, "method_not_allowed", NULL);
  gvd_test_request_clear (&r);
}

static void
get_metrics__no_token__401 (void **state)
{
  Fixture *f = *state;
  GvdTestRequest r = { .method = "GET" };
  g_autoptr(JsonNode) node = NULL;

  r.url = g_strconcat (f->base, "/metrics", NULL);
  node = gvd_test_request_in_loop (&r);
  assert_int_equal (r.status, 401);
  gvd_test_request_clear (&r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (render__sample_snapshot__matches_golden),
    cmocka_unit_test (render__empty_snapshot__fixed_families_with_zeros),
    cmocka_unit_test (escape_label__hostile__backslash_quote_newline_escaped),
    cmocka_unit_test (render__hostile_instance__one_line_per_series),
    cmocka_unit_test (render__over_limit__truncated_with_comment),
    cmocka_unit_test (render__duplicate_guest_gpus__one_series_each),
    cmocka_unit_test (render__promtool__check_metrics_passes),
    cmocka_unit_test_setup_teardown (get_metrics__token__200_text_with_devices, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (get_metrics__after_requests__counted_by_template_and_class,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (post_metrics__any__405_json, setup, teardown),
    cmocka_unit_test_setup_teardown (get_metrics__no_token__401, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
