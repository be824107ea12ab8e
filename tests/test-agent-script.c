/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real guest agent (data/agent/gpuvmd-agent, run by /usr/bin/python3 on
 * the host) against an in-process agent listener: phone-home, heartbeats
 * with a fake nvidia-smi, unresponsive after a kill, recovery, a wrong
 * token refused while the agent keeps backing off. */
#include "config.h"

#include "testlib.h"

#include "agent.h"
#include "api.h"
#include "daemon-timers.h"

#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>

#define PYTHON "/usr/bin/python3"
#define UUID_1 "0b7e1c52-5f7e-4c3e-9b7a-6d3f1e2a4c01"
#define UUID_2 "0b7e1c52-5f7e-4c3e-9b7a-6d3f1e2a4c02"
#define WAIT_MS 20000 /* generous: the machine is shared */

typedef struct {
  GvdDaemon *daemon;
  GvdAgentHub *hub;   /* daemon->agent */
  GvdApi *api;
  char *url;
  char *tmpdir;
  GPtrArray *changes; /* "old -> new" of vm1 */
} Fixture;

static void
on_change (GvdAgentHub *hub, const char *name, GvdAgentHealth old_health,
           GvdAgentHealth new_health, const char *reason, gpointer user_data)
{
  Fixture *f = user_data;

  if (g_str_equal (name, "vm1"))
    g_ptr_array_add (f->changes, g_strdup_printf ("%s -> %s",
                                                  gvd_agent_health_to_string (old_health),
                                                  gvd_agent_health_to_string (new_health)));
}

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;
  /* Real timers on the default context: the I/O path under test. */
  const GvdDaemonOptions options = { .agent_context = g_main_context_default () };

  f->daemon = gvd_test_daemon_build ("workstation-2gpu",
                                     "[agent]\nheartbeat_interval=1\nmissed_heartbeats=2\n",
                                     &options);
  f->hub = f->daemon->agent;
  f->changes = g_ptr_array_new_with_free_func (g_free);
  gvd_agent_hub_add_watch (f->hub, on_change, f);
  gvd_agent_hub_track (f->hub, "vm1", UUID_1);
  gvd_agent_hub_track (f->hub, "vm2", UUID_2);
  f->api = gvd_api_new (f->daemon, "agent", NULL);
  gvd_api_agent_register (f->api);
  assert_true (gvd_api_listen (f->api, "127.0.0.1:0", &error));
  f->url = gvd_api_get_url (f->api);
  f->tmpdir = g_dir_make_tmp ("gvd-agent-script-XXXXXX", NULL);
  assert_non_null (f->tmpdir);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;
  g_autoptr(GDir) dir = g_dir_open (f->tmpdir, 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *p = g_build_filename (f->tmpdir, entry, NULL);
      g_unlink (p);
    }
  g_rmdir (f->tmpdir);
  gvd_api_free (f->api);
  gvd_test_daemon_destroy (f->daemon);
  g_ptr_array_unref (f->changes);
  g_free (f->url);
  g_free (f->tmpdir);
  g_free (f);
  /* Let finished sources (closed connections) go. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}

static char *
write_config (Fixture *f, const char *instance, const char *token)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  char *path = g_build_filename (f->tmpdir, "agent.json", NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, f->url);
  json_builder_set_member_name (b, "instance");
  json_builder_add_string_value (b, instance);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, token);
  json_builder_set_member_name (b, "interval");
  json_builder_add_int_value (b, 1);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  assert_true (g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  return path;
}

/* The agent with the fake nvidia-smi first on PATH (or none at all). */
static GSubprocess *
start_agent (Fixture *f, const char *config, gboolean with_smi, gboolean smi_fails,
             gboolean once, const char *log_path)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *script = gvd_test_data_path ("..", "data", "agent", "gpuvmd-agent", NULL);
  g_autofree char *smi_dir = gvd_test_data_path ("data", "agent", NULL);
  g_autofree char *path = with_smi ? g_strdup_printf ("%s:/usr/sbin:/usr/bin:/sbin:/bin", smi_dir)
                                   : g_strdup ("/usr/sbin:/usr/bin:/sbin:/bin");
  g_autoptr(GError) error = NULL;
  const char *argv[] = { PYTHON, script, "--config", config, once ? "--once" : NULL, NULL };
  GSubprocess *p;

  g_subprocess_launcher_setenv (l, "PATH", path, TRUE);
  g_subprocess_launcher_setenv (l, "GVD_FAKE_SMI_FAIL", smi_fails ? "1" : "0", TRUE);
  g_subprocess_launcher_unsetenv (l, "http_proxy");
  g_subprocess_launcher_unsetenv (l, "HTTP_PROXY");
  if (log_path != NULL)
    g_subprocess_launcher_set_stderr_file_path (l, log_path);
  p = g_subprocess_launcher_spawnv (l, argv, &error);
  if (p == NULL)
    fail_msg ("cannot run the agent: %s", error->message);
  return p;
}

typedef gboolean (*Cond) (Fixture *f, gpointer data);

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Serve requests (and run the hub's timers) until @cond holds. */
static gboolean
serve_until (Fixture *f, Cond cond, gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint tick = g_timeout_add (50, wake, NULL);
  gboolean ok;

  while (!(ok = cond (f, data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return ok;
}

static gboolean
health_is (Fixture *f, gpointer data)
{
  return gvd_agent_hub_get_health (f->hub, "vm1") == (GvdAgentHealth) GPOINTER_TO_INT (data);
}

static JsonNode *
view (Fixture *f)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  assert_true (gvd_agent_hub_build_json (f->hub, "vm1", b, g_get_monotonic_time (),
                                         g_get_real_time ()));
  return json_builder_get_root (b);
}

static gboolean
heartbeats_at_least (Fixture *f, gpointer data)
{
  g_autoptr(JsonNode) v = view (f);

  return gvd_test_json_int (v, "heartbeats") >= GPOINTER_TO_INT (data);
}

static gboolean
exited (Fixture *f, gpointer data)
{
  /* GSubprocess reaps on the main context: true once it did. */
  return g_subprocess_get_identifier (G_SUBPROCESS (data)) == NULL;
}

typedef struct {
  const char *path;
  const char *needle;
  guint count;
} LogWait;

static gboolean
log_has (Fixture *f, gpointer data)
{
  LogWait *w = data;
  g_autofree char *text = NULL;
  guint n = 0;

  if (!g_file_get_contents (w->path, &text, NULL, NULL))
    return FALSE;
  for (const char *p = strstr (text, w->needle); p != NULL; p = strstr (p + 1, w->needle))
    n++;
  return n >= w->count;
}

static void
agent__runs__phone_home_heartbeats_unresponsive_recovery (void **state)
{
  Fixture *f = *state;
  g_autofree char *token = gvd_agent_hub_get_token (f->hub, "vm1");
  g_autofree char *config = write_config (f, "vm1", token);
  g_autoptr(GSubprocess) agent = NULL;
  g_autoptr(GSubprocess) again = NULL;
  g_autoptr(JsonNode) v = NULL;
  JsonArray *gpus;
  JsonObject *gpu1;
  const char *want[] = { "provisioning -> ready", "ready -> healthy",
                         "healthy -> unresponsive", "unresponsive -> ready",
                         "ready -> healthy", NULL };

  agent = start_agent (f, config, TRUE, FALSE, FALSE, NULL);
  assert_true (serve_until (f, heartbeats_at_least, GINT_TO_POINTER (2), WAIT_MS));
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "vm1"), GVD_AGENT_HEALTH_HEALTHY);

  v = view (f);
  assert_non_null (gvd_test_json_string (v, "boot_id"));
  assert_non_null (strstr (gvd_test_json_string (v, "kernel"), "Linux"));
  assert_string_equal (gvd_test_json_string (v, "nvidia_smi.status"), "ok");
  gpus = json_node_get_array (gvd_test_json_path (v, "gpus"));
  assert_int_equal (json_array_get_length (gpus), 2);
  gpu1 = json_array_get_object_element (gpus, 1);
  assert_string_equal (json_object_get_string_member (gpu1, "name"), "NVIDIA GeForce RTX 3090");
  assert_int_equal (json_object_get_int_member (gpu1, "memory_total_mib"), 24576);
  assert_string_equal (json_object_get_string_member (gpu1, "pci_bus_id"), "00000000:02:00.0");
  /* "[N/A]" and "[Not Supported]" arrive as null, not as strings. */
  assert_true (json_object_get_null_member (gpu1, "utilization_percent"));
  assert_true (json_object_get_null_member (gpu1, "power_draw_w"));
  assert_true (gvd_test_json_int (v, "system.mem_total_kib") > 0);
  assert_true (gvd_test_json_int (v, "system.root_total_bytes") > 0);
  assert_true (json_array_get_length (json_node_get_array (gvd_test_json_path (v, "addresses")))
               > 0);

  /* Killed: no heartbeat for 2 x 1 s, the hub's timer notices. */
  g_subprocess_send_signal (agent, SIGKILL);
  assert_true (g_subprocess_wait (agent, NULL, NULL));
  assert_true (serve_until (f, health_is, GINT_TO_POINTER (GVD_AGENT_HEALTH_UNRESPONSIVE),
                            WAIT_MS));

  /* Restarted: phone-home, then healthy again. */
  again = start_agent (f, config, TRUE, FALSE, FALSE, NULL);
  assert_true (serve_until (f, health_is, GINT_TO_POINTER (GVD_AGENT_HEALTH_HEALTHY), WAIT_MS));
  g_subprocess_send_signal (again, SIGTERM);
  assert_true (g_subprocess_wait (again, NULL, NULL));

  for (guint i = 0; want[i] != NULL; i++)
    {
      assert_true (i < f->changes->len);
      assert_string_equal (g_ptr_array_index (f->changes, i), want[i]);
    }
}

static void
agent__wrong_token__refused_and_keeps_backing_off (void **state)
{
  Fixture *f = *state;
  /* vm2's valid token presented for vm1. */
  g_autofree char *token = gvd_agent_hub_get_token (f->hub, "vm2");
  g_autofree char *config = write_config (f, "vm1", token);
  g_autofree char *log = g_build_filename (f->tmpdir, "agent.log", NULL);
  g_autoptr(GSubprocess) agent = NULL;
  LogWait w = { log, "HTTP 401", 2 };

  agent = start_agent (f, config, TRUE, FALSE, FALSE, log);
  /* Two refusals: it retried after the first, i.e. it is still running. */
  assert_true (serve_until (f, log_has, &w, WAIT_MS));
  assert_false (exited (f, agent));
  w.needle = "token rejected";
  w.count = 1;
  assert_true (log_has (f, &w));
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "vm1"), GVD_AGENT_HEALTH_PROVISIONING);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "vm2"), GVD_AGENT_HEALTH_PROVISIONING);
  assert_int_equal (f->changes->len, 0);
  g_subprocess_send_signal (agent, SIGTERM);
  assert_true (g_subprocess_wait (agent, NULL, NULL));
}

static void
run_once (Fixture *f, gboolean with_smi, gboolean smi_fails)
{
  g_autofree char *token = gvd_agent_hub_get_token (f->hub, "vm1");
  g_autofree char *config = write_config (f, "vm1", token);
  g_autoptr(GSubprocess) agent = start_agent (f, config, with_smi, smi_fails, TRUE, NULL);

  assert_true (serve_until (f, exited, agent, WAIT_MS));
  assert_true (g_subprocess_get_if_exited (agent));
  assert_int_equal (g_subprocess_get_exit_status (agent), 0);
}

static void
agent__once_without_nvidia_smi__absent_and_healthy (void **state)
{
  Fixture *f = *state;
  g_autoptr(JsonNode) v = NULL;

  run_once (f, FALSE, FALSE);
  v = view (f);
  assert_string_equal (gvd_test_json_string (v, "health"), "healthy");
  assert_string_equal (gvd_test_json_string (v, "nvidia_smi.status"), "absent");
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (v, "gpus"))),
                    0);
  assert_int_equal (gvd_test_json_int (v, "heartbeats"), 1);
  assert_non_null (gvd_test_json_string (v, "last_phone_home"));
}

static void
agent__once_with_failing_nvidia_smi__failure_reported (void **state)
{
  Fixture *f = *state;
  g_autoptr(JsonNode) v = NULL;

  run_once (f, TRUE, TRUE);
  v = view (f);
  assert_string_equal (gvd_test_json_string (v, "nvidia_smi.status"), "failed");
  assert_non_null (strstr (gvd_test_json_string (v, "nvidia_smi.error"), "NVIDIA-SMI has failed"));
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (v, "gpus"))),
                    0);
}

#define FIXTURE_TEST(t) cmocka_unit_test_setup_teardown (t, setup, teardown)

int
main (void)
{
  const struct CMUnitTest tests[] = {
    FIXTURE_TEST (agent__once_without_nvidia_smi__absent_and_healthy),
    FIXTURE_TEST (agent__once_with_failing_nvidia_smi__failure_reported),
    FIXTURE_TEST (agent__runs__phone_home_heartbeats_unresponsive_recovery),
    FIXTURE_TEST (agent__wrong_token__refused_and_keeps_backing_off),
  };

  gvd_test_require (g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE),
                    "%s is needed to run the guest agent", PYTHON);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
