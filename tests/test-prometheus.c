/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real clients of /metrics and of the domain metadata: a real Prometheus
 * server scrapes a real gpuvmd (TCP listener, bearer token from a
 * credentials_file) and Debian's prometheus-libvirt-exporter, while real
 * agent heartbeats carry guest GPU stats; promtool queries prove the guest
 * GPU series (labelled with the host PCI address), the create histogram,
 * every PromQL query of data/grafana/gpuvmd.json and the exporter's
 * libvirt_domain_info_* series labelled from gpuvmd's metadata. */
#include "config.h"

#include "testlib.h"

#include <libvirt/libvirt.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include "agent.h"
#include "secret.h"

#define PREFIX "gvdtest-prom-"
#define POOL "gvdtest-prom"
#define POOL_PATH "/var/tmp/gvdtest-prom-pool"
#define IMAGE "gvdprom-blank.raw" /* not under PREFIX: reserved for instance volumes */
/* Prometheus scrapes every second; give each wait a wide margin on a
 * shared 2-core machine. */
#define WAIT_SECONDS 60

typedef struct {
  virConnectPtr conn;
  char *tmpdir;      /* state dir, image, Prometheus config and storage */
  char *image_file;
  GvdTestDaemon *d;
  GSubprocess *prometheus;
  GSubprocess *exporter;
  char *prom_url;    /* http://127.0.0.1:PORT */
  char *promtool;
} Fixture;

static Fixture fx;

/* A port nothing listens on right now (the kernel's pick for port 0). */
static guint
free_port (void)
{
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  assert_non_null (s);
  assert_true (g_socket_bind (s, any, FALSE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static JsonNode *
api (const char *method, const char *path, const char *body, guint *status)
{
  g_autofree char *url = g_strconcat (fx.d->url, path, NULL);

  return gvd_test_http (fx.d->session, method, url, NULL, body, status);
}

/* promtool query instant -o json: the result vector (an array), or NULL
 * when the query failed. */
static JsonNode *
query (const char *expr)
{
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                        fx.promtool, "query", "instant", "-o", "json", fx.prom_url, expr, NULL);
  assert_non_null (p);
  assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, &error));
  if (!g_subprocess_get_successful (p) || !json_parser_load_from_data (parser, out, -1, NULL))
    {
      print_message ("promtool query '%s' failed: %s%s\n", expr, err, out);
      return NULL;
    }
  return json_node_copy (json_parser_get_root (parser));
}

/* Series of @expr with a value other than NaN; waits up to WAIT_SECONDS
 * for at least @min of them. */
static JsonArray *
query_wait (const char *expr, guint min)
{
  for (guint i = 0; i < WAIT_SECONDS * 4; i++)
    {
      g_autoptr(JsonNode) n = query (expr);
      JsonArray *result = n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
      guint good = 0;

      for (guint j = 0; result != NULL && j < json_array_get_length (result); j++)
        {
          JsonObject *s = json_array_get_object_element (result, j);
          JsonArray *value = json_object_get_array_member (s, "value");
          const char *v = json_array_get_string_element (value, 1);

          if (g_ascii_strcasecmp (v, "NaN") != 0)
            good++;
        }
      if (good >= min)
        return json_array_ref (result);
      g_usleep (250 * 1000);
    }
  return NULL;
}

static const char *
label (JsonArray *result, guint i, const char *name)
{
  JsonObject *metric = json_object_get_object_member (json_array_get_object_element (result, i),
                                                      "metric");
  return json_object_get_string_member_with_default (metric, name, NULL);
}

static double
value (JsonArray *result, guint i)
{
  JsonArray *v = json_object_get_array_member (json_array_get_object_element (result, i), "value");

  return g_ascii_strtod (json_array_get_string_element (v, 1), NULL);
}

/* The index of the series whose label @key is @want, or -1. */
static gint
find_series (JsonArray *result, const char *key, const char *want)
{
  for (guint i = 0; i < json_array_get_length (result); i++)
    if (g_strcmp0 (label (result, i, key), want) == 0)
      return (gint) i;
  return -1;
}

static GSubprocess *
spawn (const char *log_name, const char *const *argv)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autofree char *log = g_build_filename (fx.tmpdir, log_name, NULL);
  g_autoptr(GError) error = NULL;
  GSubprocess *p;

  /* Logs stay in the scratch directory until teardown removes it. */
  g_subprocess_launcher_set_stdout_file_path (l, log);
  p = g_subprocess_launcher_spawnv (l, argv, &error);
  if (p == NULL)
    fail_msg ("cannot start %s: %s", argv[0], error->message);
  return p;
}

static void
stop (GSubprocess **p)
{
  if (*p == NULL)
    return;
  g_subprocess_send_signal (*p, SIGTERM);
  g_subprocess_wait (*p, NULL, NULL);
  g_clear_object (p);
}

static gboolean
prometheus_ready (gpointer unused)
{
  g_autoptr(SoupSession) s = soup_session_new_with_options ("timeout", 2, NULL);
  g_autofree char *url = g_strconcat (fx.prom_url, "/-/ready", NULL);
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_http (s, "GET", url, NULL, NULL, &status);

  return status == 200;
}

static int
group_setup (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fixture_root = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);
  g_autofree char *config = NULL;
  g_autofree char *prom_config = NULL, *prom_config_path = NULL, *storage = NULL;
  g_autofree char *token_path = NULL, *listen = NULL, *exporter_listen = NULL;
  g_autofree char *prometheus = g_find_program_in_path ("prometheus");
  g_autofree char *exporter = g_find_program_in_path ("prometheus-libvirt-exporter");
  const char *daemon_args[] = { "--listen", "127.0.0.1:0", NULL };
  guint prom_port, exporter_port;
  FILE *f;

  fx.promtool = g_find_program_in_path ("promtool");
  gvd_test_require (prometheus != NULL && fx.promtool != NULL,
                    "prometheus/promtool not found (apt-get install prometheus)");
  gvd_test_require (exporter != NULL, "prometheus-libvirt-exporter not found "
                                      "(apt-get install prometheus-libvirt-exporter)");
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  fx.tmpdir = g_dir_make_tmp ("gvdtest-prom-XXXXXX", &error);
  assert_non_null (fx.tmpdir);

  /* A blank 64 MiB raw base image: firmware runs, nothing boots. */
  fx.image_file = g_build_filename (fx.tmpdir, IMAGE, NULL);
  f = fopen (fx.image_file, "w");
  assert_non_null (f);
  assert_int_equal (fseek (f, 64 * 1024 * 1024 - 1, SEEK_SET), 0);
  assert_int_equal (fputc (0, f), 0);
  fclose (f);

  config = g_strdup_printf ("[daemon]\nstate_dir=%s\n"
                            "[libvirt]\ndomain_prefix=" PREFIX "\n"
                            "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\nimport_dirs=%s\n"
                            "[agent]\nlisten=127.0.0.1:0\n"
                            "[instances]\nshutdown_timeout=2\n"
                            "[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\n",
                            fx.tmpdir, fx.tmpdir, fixture_root, fixture_root);
  fx.d = gvd_test_daemon_start (config, daemon_args);
  assert_non_null (fx.d->tcp_url);

  /* Prometheus reads the admin token the daemon generated, as an operator's
   * scrape config would (authorization: credentials_file). */
  token_path = g_build_filename (fx.tmpdir, "admin.token", NULL);
  listen = g_strdup (fx.d->tcp_url + strlen ("http://"));
  exporter_port = free_port ();
  exporter_listen = g_strdup_printf ("127.0.0.1:%u", exporter_port);
  prom_config = g_strdup_printf ("global:\n"
                                 "  scrape_interval: 1s\n"
                                 "  scrape_timeout: 1s\n"
                                 "scrape_configs:\n"
                                 "  - job_name: gpuvmd\n"
                                 "    authorization:\n"
                                 "      credentials_file: %s\n"
                                 "    static_configs:\n"
                                 "      - targets: ['%s']\n"
                                 "  - job_name: libvirt\n"
                                 "    static_configs:\n"
                                 "      - targets: ['%s']\n",
                                 token_path, listen, exporter_listen);
  prom_config_path = g_build_filename (fx.tmpdir, "prometheus.yml", NULL);
  assert_true (g_file_set_contents (prom_config_path, prom_config, -1, NULL));
  storage = g_build_filename (fx.tmpdir, "tsdb", NULL);
  prom_port = free_port ();
  fx.prom_url = g_strdup_printf ("http://127.0.0.1:%u", prom_port);
  {
    g_autofree char *config_arg = g_strconcat ("--config.file=", prom_config_path, NULL);
    g_autofree char *storage_arg = g_strconcat ("--storage.tsdb.path=", storage, NULL);
    g_autofree char *listen_arg = g_strdup_printf ("--web.listen-address=127.0.0.1:%u", prom_port);
    const char *argv[] = { prometheus, config_arg, storage_arg, listen_arg, NULL };
    fx.prometheus = spawn ("prometheus.log", argv);
  }
  {
    g_autofree char *listen_arg = g_strconcat ("--web.listen-address=", exporter_listen, NULL);
    const char *argv[] = { exporter, listen_arg, "--libvirt.uri=qemu:///system",
                           "--libvirt.export-nova-metadata", NULL };
    fx.exporter = spawn ("exporter.log", argv);
  }
  if (!gvd_test_wait_until (prometheus_ready, NULL, WAIT_SECONDS * 1000))
    fail_msg ("Prometheus did not become ready (see %s/prometheus.log)", fx.tmpdir);
  return 0;
}

static int
group_teardown (void **state)
{
  stop (&fx.prometheus);
  stop (&fx.exporter);
  if (fx.d != NULL)
    {
      gvd_test_daemon_stop (fx.d, TRUE);
      gvd_test_daemon_free (fx.d);
    }
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  virConnectClose (fx.conn);
  gvd_test_rm_rf (fx.tmpdir);
  g_free (fx.tmpdir);
  g_free (fx.image_file);
  g_free (fx.prom_url);
  g_free (fx.promtool);
  return 0;
}

static void
wait_ready (void)
{
  for (int i = 0; i < 400; i++)
    {
      guint status = 0;
      g_autoptr(JsonNode) n = api ("GET", "/v1/devices/available", NULL, &status);
      if (status == 200)
        return;
      g_usleep (50 * 1000);
    }
  fail_msg ("gpuvmd did not become ready");
}

/* The host address at guest group @group, function 0, of the instance view. */
static const char *
host_at_group (JsonNode *view, gint64 group)
{
  JsonArray *devices = json_node_get_array (gvd_test_json_path (view, "devices"));

  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      JsonObject *d = json_array_get_object_element (devices, i);
      if (json_object_get_int_member (d, "guest_group") == group
          && json_object_get_int_member (d, "guest_function") == 0)
        return json_object_get_string_member (d, "pci_address");
    }
  return NULL;
}

/* One heartbeat as the agent sends it: nvidia-smi rows with their guest bus
 * ids, and (when @fault) the second GPU without a driver. */
static void
heartbeat (const char *name, const char *token, guint seq, gboolean fault)
{
  g_autoptr(SoupSession) s = soup_session_new_with_options ("timeout", 10, NULL);
  g_autofree char *url = g_strconcat (fx.d->agent_url, "/v1/agent/heartbeat", NULL);
  g_autofree char *body = g_strdup_printf (
      "{\"instance\": \"%s\", \"seq\": %u, \"nvidia_smi\": {\"status\": \"ok\"},"
      " \"gpus\": ["
      "{\"index\": 0, \"uuid\": \"GPU-5f1b2c3d-1111\", \"name\": \"NVIDIA A100-SXM4-40GB\","
      " \"driver_version\": \"535.154.05\", \"utilization_percent\": 87,"
      " \"memory_used_mib\": 1024, \"memory_total_mib\": 40960, \"temperature_c\": 61,"
      " \"power_draw_w\": 250.5, \"pci_bus_id\": \"00000000:01:00.0\"},"
      "{\"index\": 1, \"uuid\": \"GPU-0a0b0c0d-7777\", \"name\": \"NVIDIA A100-SXM4-40GB\","
      " \"driver_version\": \"535.154.05\", \"utilization_percent\": 12,"
      " \"memory_used_mib\": 512, \"memory_total_mib\": 40960, \"temperature_c\": 44,"
      " \"power_draw_w\": 90, \"pci_bus_id\": \"00000000:02:00.0\"}],"
      " \"pci_gpus\": [{\"address\": \"0000:01:00.0\", \"class\": \"0x030200\","
      " \"vendor\": \"0x10de\", \"device\": \"0x20b0\", \"driver\": \"nvidia\"},"
      " {\"address\": \"0000:02:00.0\", \"class\": \"0x030200\", \"vendor\": \"0x10de\","
      " \"device\": \"0x20b0\", \"driver\": %s}]}",
      name, seq, fault ? "null" : "\"nvidia\"");
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_http (s, "POST", url, token, body, &status);

  if (status != 200)
    fail_msg ("heartbeat answered %u", status);
}

/* Everything in one scenario: one daemon, one Prometheus, one exporter. */
static void
prometheus__scrapes_gpuvmd_and_exporter__series_dashboard_and_labels (void **state)
{
  g_autoptr(JsonNode) created = NULL, web = NULL, view = NULL, missing = NULL, greedy = NULL;
  g_autoptr(JsonArray) up = NULL, util = NULL, created_hist = NULL, info = NULL, libvirt = NULL;
  g_autoptr(GBytes) secret = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *secret_path = g_build_filename (fx.tmpdir, "agent-secret", NULL);
  g_autofree char *token = NULL, *host0 = NULL, *host1 = NULL;
  g_autofree char *import = NULL;
  g_autofree char *dashboard = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *panels;
  guint status = 0, queries = 0;
  gint i;

  wait_ready ();
  import = g_strdup_printf ("{\"name\": \"" IMAGE "\", \"source_path\": \"%s\"}", fx.image_file);
  created = api ("POST", "/v1/images", import, &status);
  if (status != 201 && status != 409)
    fail_msg ("image import answered %u: %s", status,
              created != NULL ? json_to_string (created, FALSE) : "");

  /* Scraping works before anything happens: rates then see the creates. */
  up = query_wait ("gpuvmd_up", 1);
  assert_non_null (up);
  g_clear_pointer (&created, json_node_unref);

  /* Two GPUs from the fixture host (defined, not started: they do not
   * exist on this machine), and a running VM without GPUs for the exporter
   * (it lists only active domains). */
  created = api ("POST", "/v1/instances",
                 "{\"name\": \"train\", \"image\": \"" IMAGE "\", \"gpus\": 2,"
                 " \"gpu_model\": \"A100\", \"vcpus\": 2, \"memory_mib\": 256, \"start\": false,"
                 " \"labels\": {\"project\": \"ml-research\"}}", &status);
  if (status != 201)
    fail_msg ("create train answered %u: %s", status,
              created != NULL ? json_to_string (created, FALSE) : "");
  web = api ("POST", "/v1/instances",
             "{\"name\": \"web\", \"image\": \"" IMAGE "\", \"vcpus\": 1, \"memory_mib\": 256,"
             " \"labels\": {\"project\": \"ml-research\"}}", &status);
  if (status != 201)
    fail_msg ("create web answered %u: %s", status,
              web != NULL ? json_to_string (web, FALSE) : "");
  /* A refused create (insufficient_gpus) and a 404 for the error panels. */
  greedy = api ("POST", "/v1/instances",
                "{\"name\": \"greedy\", \"image\": \"" IMAGE "\", \"gpus\": 64}", &status);
  assert_int_equal (status, 409);
  missing = api ("GET", "/v1/instances/nope", NULL, &status);
  assert_int_equal (status, 404);

  /* The agent token, as the daemon derives it for the instance's cloud-init. */
  secret = gvd_secret_load_or_create (secret_path, GVD_SECRET_LEN, &error);
  assert_non_null (secret);
  token = gvd_agent_token_derive (secret, gvd_test_json_string (created, "uuid"));
  host0 = g_strdup (host_at_group (created, 0));
  host1 = g_strdup (host_at_group (created, 1));
  assert_non_null (host0);
  assert_non_null (host1);
  heartbeat ("train", token, 1, TRUE);

  /* gpu_faults[] names the host device now. */
  view = api ("GET", "/v1/instances/train", NULL, &status);
  assert_int_equal (status, 200);
  {
    JsonArray *faults = json_node_get_array (gvd_test_json_path (view, "health.gpu_faults"));
    JsonObject *fault;

    assert_int_equal (json_array_get_length (faults), 1);
    fault = json_array_get_object_element (faults, 0);
    assert_string_equal (json_object_get_string_member (fault, "guest_address"), "0000:02:00.0");
    assert_string_equal (json_object_get_string_member (fault, "host_address"), host1);
  }
  heartbeat ("train", token, 2, FALSE);

  /* Guest GPU series with the host address, as Prometheus stored them. */
  util = query_wait ("gpuvmd_guest_gpu_utilization_ratio{name=\"train\"}", 2);
  assert_non_null (util);
  assert_int_equal (json_array_get_length (util), 2);
  i = find_series (util, "host_address", host0);
  assert_true (i >= 0);
  assert_string_equal (label (util, i, "guest_address"), "0000:01:00.0");
  assert_true (value (util, i) > 0.869 && value (util, i) < 0.871);
  i = find_series (util, "host_address", host1);
  assert_true (i >= 0);
  info = query_wait ("gpuvmd_guest_gpu_info{name=\"train\",driver_version=\"535.154.05\"}", 2);
  assert_non_null (info);
  {
    g_autoptr(JsonArray) mem = query_wait ("gpuvmd_guest_gpu_memory_total_bytes{name=\"train\"}", 2);
    g_autoptr(JsonArray) temp = query_wait ("gpuvmd_guest_gpu_temperature_celsius{name=\"train\"}", 2);
    g_autoptr(JsonArray) power = query_wait ("gpuvmd_guest_gpu_power_watts{name=\"train\"}", 2);
    assert_non_null (mem);
    assert_non_null (temp);
    assert_non_null (power);
    assert_true (value (mem, 0) == 40960.0 * 1048576);
  }

  /* The live exposition, every family filled, passes the linter. */
  {
    g_autofree char *token_file = g_build_filename (fx.tmpdir, "admin.token", NULL);
    g_autofree char *admin_token = NULL, *metrics_url = NULL, *out = NULL;
    g_autoptr(SoupSession) s = soup_session_new_with_options ("timeout", 10, NULL);
    g_autoptr(SoupMessage) msg = NULL;
    g_autoptr(GBytes) body = NULL;
    g_auto(GStrv) lines = NULL;
    guint samples = 0;

    assert_true (g_file_get_contents (token_file, &admin_token, NULL, NULL));
    g_strstrip (admin_token);
    metrics_url = g_strconcat (fx.d->tcp_url, "/metrics", NULL);
    msg = soup_message_new ("GET", metrics_url);
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                  (out = g_strconcat ("Bearer ", admin_token, NULL)));
    body = soup_session_send_and_read (s, msg, NULL, &error);
    assert_non_null (body);
    assert_int_equal (soup_message_get_status (msg), 200);
    g_clear_pointer (&out, g_free);
    {
      g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
      g_autoptr(GSubprocess) again = g_subprocess_new (
          G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
              | G_SUBPROCESS_FLAGS_STDERR_MERGE,
          &error, fx.promtool, "check", "metrics", NULL);

      assert_true (g_subprocess_communicate_utf8 (again, text, NULL, &out, NULL, &error));
      if (!g_subprocess_get_successful (again) || (out != NULL && out[0] != '\0'))
        fail_msg ("promtool check metrics on the live /metrics: %s", out);
      lines = g_strsplit (text, "\n", -1);
      for (guint l = 0; lines[l] != NULL; l++)
        if (lines[l][0] != '#' && lines[l][0] != '\0')
          samples++;
      print_message ("live /metrics: %u samples, %zu bytes, promtool check metrics clean\n",
                     samples, strlen (text));
    }
  }

  /* The create histogram: both successful creates, the refused one apart. */
  created_hist = query_wait ("gpuvmd_instance_create_duration_seconds_count >= 2", 1);
  assert_non_null (created_hist);
  {
    g_autoptr(JsonArray) failures = query_wait (
        "gpuvmd_instance_operation_failures_total{operation=\"create\",code=\"insufficient_gpus\"}", 1);
    g_autoptr(JsonArray) requests = query_wait (
        "gpuvmd_http_requests_total{route=\"/v1/instances/{name}\",method=\"GET\",code_class=\"4xx\"}", 1);
    g_autoptr(JsonArray) reports = query_wait (
        "gpuvmd_agent_reports_total{kind=\"heartbeat\",result=\"accepted\"} >= 2", 1);
    assert_non_null (failures);
    assert_non_null (requests);
    assert_non_null (reports);
  }

  /* Every PromQL query of the Grafana dashboard returns data. */
  {
    g_autofree char *path = gvd_test_data_path ("..", "data", "grafana", "gpuvmd.json", NULL);
    assert_true (json_parser_load_from_file (parser, path, &error));
  }
  panels = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                         "panels");
  for (guint p = 0; p < json_array_get_length (panels); p++)
    {
      JsonObject *panel = json_array_get_object_element (panels, p);
      JsonArray *targets = json_object_has_member (panel, "targets")
                             ? json_object_get_array_member (panel, "targets")
                             : NULL;

      for (guint t = 0; targets != NULL && t < json_array_get_length (targets); t++)
        {
          const char *expr = json_object_get_string_member (
              json_array_get_object_element (targets, t), "expr");
          g_autoptr(JsonArray) r = query_wait (expr, 1);

          if (r == NULL)
            fail_msg ("dashboard panel '%s': no data for %s",
                      json_object_get_string_member (panel, "title"), expr);
          print_message ("panel %-32s %u series: %s\n",
                         json_object_get_string_member (panel, "title"),
                         json_array_get_length (r), expr);
          queries++;
        }
    }
  assert_true (queries >= 15);

  /* The libvirt exporter labels the running gpuvmd domain from gpuvmd's
   * metadata: instance name, flavor from the shape, project label. */
  libvirt = query_wait ("libvirt_domain_info_virtual_cpus{domain=\"" PREFIX "web\"}", 1);
  assert_non_null (libvirt);
  assert_string_equal (label (libvirt, 0, "name"), "web");
  assert_string_equal (label (libvirt, 0, "flavor"), "1c-256m");
  assert_string_equal (label (libvirt, 0, "project_name"), "ml-research");
  {
    g_autoptr(JsonArray) all = query_wait ("{__name__=~\"libvirt_domain_info_.*\","
                                           "domain=\"" PREFIX "web\",name=\"web\"}", 3);
    g_autoptr(JsonArray) count = query_wait ("count({job=\"gpuvmd\"})", 1);

    assert_non_null (all);
    assert_non_null (count);
    print_message ("libvirt_domain_info_* series for the gpuvmd domain: %u\n",
                   json_array_get_length (all));
    print_message ("series Prometheus holds from gpuvmd's /metrics: %.0f\n", value (count, 0));
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (prometheus__scrapes_gpuvmd_and_exporter__series_dashboard_and_labels),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("prometheus", tests, group_setup, group_teardown);
}
