/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Nothing on gpuvmd's main loop waits for libvirtd or the disk: with libvirtd
 * frozen (SIGSTOP), /healthz, /metrics and /v1/events answer within 100 ms
 * while a create, a shutdown, a slow device registry write and a reconnect
 * are in flight; after SIGCONT each operation completes. */
#include "config.h"

#include "testlib.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>

#include "virt-conn.h"

#define PREFIX "gvdtest-ml-"
#define POOL "gvdtest-ml"
#define POOL_PATH "/var/tmp/gvdtest-ml-pool"
#define IMAGE "gvdtestml-blank.raw" /* not PREFIX: that names instance volumes */
/* A passthrough candidate of the server-8gpu fixture host. */
#define GPU_ADDRESS "0000:03:00.0"
#define CONFIG                                               \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n"                                         \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\nshutdown_timeout=2\n"                        \
  "[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\n"

/* Every probe must answer within this. */
#define PROBE_BOUND_MS 100
/* Attempts per probe: one slow answer can be the shared host's scheduler;
 * a main loop waiting for frozen libvirtd is slow every time, and each test
 * checks its operation is still in flight after the probes, so a stall that
 * ends (a slow write done on the main loop) cannot hide behind a retry. */
#define PROBE_ATTEMPTS 3
/* libvirtd is never left frozen longer than this, whatever happens. */
#define FREEZE_MAX_S 30

typedef struct {
  char *state_dir;
  char *image_file;
  char *config;
  virConnectPtr conn;
  GvdTestDaemon *d;
} Fixture;

static Fixture fx;

/* ---- freezing libvirtd, and always thawing it ---------------------------------- */

/* Read by the signal handler, the watchdog and atexit: plain pids. */
static volatile sig_atomic_t frozen_pid;
static volatile sig_atomic_t daemon_pid;
static gint frozen_since_s; /* atomic: monotonic seconds; 0 when not frozen */

static void
thaw_all (void)
{
  pid_t pid = (pid_t) frozen_pid;

  if (pid > 0)
    kill (pid, SIGCONT);
  frozen_pid = 0;
  if (daemon_pid > 0)
    kill ((pid_t) daemon_pid, SIGCONT);
}

static void
fatal_signal (int sig)
{
  /* Async-signal-safe: kill() only; then die of the signal as before. */
  thaw_all ();
  signal (sig, SIG_DFL);
  raise (sig);
}

static gpointer
watchdog_thread (gpointer data)
{
  for (;;)
    {
      gint since = g_atomic_int_get (&frozen_since_s);

      if (frozen_pid > 0 && since > 0
          && g_get_monotonic_time () / G_USEC_PER_SEC - since > FREEZE_MAX_S)
        {
          g_printerr ("test-mainloop: libvirtd frozen for over %d s; thawing it\n", FREEZE_MAX_S);
          thaw_all ();
        }
      g_usleep (200 * 1000);
    }
  return NULL;
}

static void
install_thaw_guards (void)
{
  static const int signals[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT,
                                 SIGHUP, SIGALRM, SIGQUIT };

  atexit (thaw_all);
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    signal (signals[i], fatal_signal);
  g_thread_unref (g_thread_new ("thaw-watchdog", watchdog_thread, NULL));
}

static void
freeze_libvirtd (void)
{
  GPid pid = gvd_test_libvirtd_pid ();

  assert_true (pid > 0);
  g_atomic_int_set (&frozen_since_s, (gint) MAX (g_get_monotonic_time () / G_USEC_PER_SEC, 1));
  frozen_pid = (sig_atomic_t) pid;
  assert_int_equal (kill (pid, SIGSTOP), 0);
  print_message ("libvirtd (pid %d) frozen\n", (int) pid);
}

static void
thaw_libvirtd (void)
{
  pid_t pid = (pid_t) frozen_pid;

  if (pid > 0)
    {
      kill (pid, SIGCONT);
      print_message ("libvirtd (pid %d) thawed\n", (int) pid);
    }
  frozen_pid = 0;
  g_atomic_int_set (&frozen_since_s, 0);
}

/* ---- helpers ------------------------------------------------------------------- */

static JsonNode *
api (const char *method, const char *path, const char *body, guint *status)
{
  g_autofree char *url = g_strconcat (fx.d->url, path, NULL);

  return gvd_test_http (fx.d->session, method, url, NULL, body, status);
}

static gint64
probe_once (const char *path)
{
  g_autoptr(SoupSession) session = gvd_test_daemon_session (fx.d, 5);
  g_autofree char *url = g_strconcat (fx.d->url, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  gint64 elapsed;

  /* The answer's head: for the event stream, all that comes at once. */
  stream = soup_session_send (session, msg, NULL, &error);
  elapsed = g_get_monotonic_time () - t0;
  if (stream == NULL)
    fail_msg ("GET %s: %s", path, error->message);
  if (soup_message_get_status (msg) != SOUP_STATUS_OK)
    fail_msg ("GET %s answered %u", path, soup_message_get_status (msg));
  if (!g_str_equal (path, "/v1/events"))
    {
      g_autoptr(GBytes) rest = g_input_stream_read_bytes (stream, 65536, NULL, NULL);
      elapsed = g_get_monotonic_time () - t0;
    }
  g_input_stream_close (stream, NULL, NULL);
  return elapsed;
}

/* /healthz, /metrics and /v1/events each answer within PROBE_BOUND_MS. */
static void
assert_probes_answer (const char *during)
{
  static const char *const paths[] = { "/healthz", "/metrics", "/v1/events" };

  for (guint p = 0; p < G_N_ELEMENTS (paths); p++)
    {
      gint64 best = G_MAXINT64;

      for (guint a = 0; a < PROBE_ATTEMPTS && best > PROBE_BOUND_MS * 1000; a++)
        best = MIN (best, probe_once (paths[p]));
      print_message ("%s: GET %s answered in %.1f ms\n", during, paths[p], best / 1000.0);
      if (best > PROBE_BOUND_MS * 1000)
        fail_msg ("%s: GET %s took %.1f ms (bound %d ms)", during, paths[p], best / 1000.0,
                  PROBE_BOUND_MS);
    }
}

/* A request sent from a thread, answered after libvirtd is thawed. */
typedef struct {
  const char *method;
  const char *path;
  const char *body;
  guint status;
  JsonNode *reply;
  gint done;
} Call;

static gpointer
call_thread (gpointer data)
{
  Call *c = data;
  g_autoptr(SoupSession) session = gvd_test_daemon_session (fx.d, 120);
  g_autofree char *url = g_strconcat (fx.d->url, c->path, NULL);

  c->reply = gvd_test_http (session, c->method, url, NULL, c->body, &c->status);
  g_atomic_int_set (&c->done, 1);
  return NULL;
}

static GThread *
call_start (Call *c)
{
  GThread *t = g_thread_new ("call", call_thread, c);

  /* Let the request reach the daemon and its worker reach libvirt. */
  g_usleep (300 * 1000);
  return t;
}

static gboolean
call_pending (Call *c)
{
  return !g_atomic_int_get (&c->done);
}

/* A fresh connection (the old one may be to a libvirtd that is gone: without
 * an event loop, this process would not notice). */
static void
ensure_libvirt_conn (void)
{
  if (fx.conn != NULL)
    virConnectClose (fx.conn);
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
}

static gboolean
libvirt_connected (gpointer data)
{
  guint status = 0;
  g_autoptr(JsonNode) node = api ("GET", "/healthz", NULL, &status);

  return status == 200 && node != NULL && gvd_test_json_bool (node, "libvirt.connected");
}

static gboolean
ready (gpointer data)
{
  guint status = 0;
  g_autoptr(JsonNode) node = api ("GET", "/v1/devices/available", NULL, &status);

  return status == 200;
}

static gboolean
process_stopped (gpointer data)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", GPOINTER_TO_INT (data));
  g_autofree char *stat = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  paren = strrchr (stat, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'T';
}

static gboolean
instance_shutoff (gpointer data)
{
  g_autofree char *path = g_strconcat ("/v1/instances/", (const char *) data, NULL);
  guint status = 0;
  g_autoptr(JsonNode) node = api ("GET", path, NULL, &status);

  return status == 200 && g_str_equal (gvd_test_json_string (node, "state"), "shutoff");
}

static void
create_instance (const char *name, gboolean start)
{
  g_autofree char *body = g_strdup_printf ("{\"name\": \"%s\", \"image\": \"" IMAGE "\","
                                           " \"memory_mib\": 256, \"start\": %s}", name,
                                           start ? "true" : "false");
  guint status = 0;
  g_autoptr(JsonNode) n = api ("POST", "/v1/instances", body, &status);

  if (status != 201)
    fail_msg ("create %s answered %u", name, status);
}

/* ---- setup ---------------------------------------------------------------------- */

static int
group_setup (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fixture_root = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);
  g_autofree char *body = NULL;
  guint status = 0;

  install_thaw_guards ();
  ensure_libvirt_conn ();
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  fx.state_dir = g_dir_make_tmp ("gvdtest-ml-XXXXXX", &error);
  assert_non_null (fx.state_dir);
  fx.config = g_strdup_printf (CONFIG, fx.state_dir, fx.state_dir, fixture_root, fixture_root);
  fx.image_file = g_build_filename (fx.state_dir, IMAGE, NULL);
  {
    FILE *f = fopen (fx.image_file, "w");
    assert_non_null (f);
    assert_int_equal (fseek (f, 64 * 1024 * 1024 - 1, SEEK_SET), 0);
    assert_int_equal (fputc (0, f), 0);
    fclose (f);
  }
  /* Registry writes take GVD_FAULT_SLOW_MS (a slow disk); the daemon stops
   * itself once, on a reconnect, just before subscribing to events. */
  g_setenv ("GVD_TEST_SLOW_AT", "registry-write", TRUE);
  g_setenv ("GVD_TEST_STOP_AT", "reconnect", TRUE);
  fx.d = gvd_test_daemon_start (fx.config, NULL);
  g_unsetenv ("GVD_TEST_SLOW_AT");
  g_unsetenv ("GVD_TEST_STOP_AT");
  daemon_pid = (sig_atomic_t) fx.d->pid;
  assert_true (gvd_test_wait_until (ready, NULL, 20000));
  body = g_strdup_printf ("{\"name\": \"" IMAGE "\", \"source_path\": \"%s\"}", fx.image_file);
  {
    g_autoptr(JsonNode) n = api ("POST", "/v1/images", body, &status);
    if (status != 201)
      fail_msg ("image import answered %u", status);
  }
  return 0;
}

static int
group_teardown (void **state)
{
  thaw_all ();
  if (fx.d != NULL)
    {
      gvd_test_daemon_stop (fx.d, TRUE);
      gvd_test_daemon_free (fx.d);
      daemon_pid = 0;
    }
  if (gvd_test_libvirtd_pid () == 0)
    gvd_test_libvirtd_start ();
  ensure_libvirt_conn ();
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  virConnectClose (fx.conn);
  gvd_test_rm_rf (fx.state_dir);
  g_free (fx.state_dir);
  g_free (fx.image_file);
  g_free (fx.config);
  return 0;
}

static int
test_teardown (void **state)
{
  thaw_libvirtd ();
  return 0;
}

/* ---- tests ---------------------------------------------------------------------- */

static void
libvirtd_frozen__create_in_flight__probes_answer_then_created (void **state)
{
  Call c = { "POST", "/v1/instances",
             "{\"name\": \"ml-create\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
             " \"start\": false}", 0, NULL, 0 };
  GThread *t;

  freeze_libvirtd ();
  t = call_start (&c);
  assert_true (call_pending (&c));
  assert_probes_answer ("create in flight, libvirtd frozen");
  assert_true (call_pending (&c)); /* the probes ran while it waited */
  thaw_libvirtd ();
  g_thread_join (t);
  if (c.status != 201)
    fail_msg ("create answered %u after libvirtd was thawed", c.status);
  assert_string_equal (gvd_test_json_string (c.reply, "state"), "shutoff");
  json_node_unref (c.reply);
}

static void
libvirtd_frozen__shutdown_in_flight__probes_answer_then_shutoff (void **state)
{
  Call c = { "POST", "/v1/instances/ml-shut/shutdown", "{\"timeout_seconds\": 2}", 0, NULL, 0 };
  GThread *t;

  create_instance ("ml-shut", TRUE);
  freeze_libvirtd ();
  t = call_start (&c);
  assert_probes_answer ("shutdown in flight, libvirtd frozen");
  assert_true (call_pending (&c));
  thaw_libvirtd ();
  /* The guest (no OS) ignores ACPI: it is waited for on the main loop
   * without a thread, and probes answer then too. */
  g_usleep (500 * 1000);
  if (call_pending (&c))
    assert_probes_answer ("shutdown waiting for the guest");
  g_thread_join (t);
  if (c.status != 200)
    fail_msg ("shutdown answered %u after libvirtd was thawed", c.status);
  assert_string_equal (gvd_test_json_string (c.reply, "state"), "shutoff");
  json_node_unref (c.reply);
}

static void
lifecycle_event__domain_stops__shutdown_ends_before_its_timeout (void **state)
{
  Call c = { "POST", "/v1/instances/ml-event/shutdown", "{\"timeout_seconds\": 60}", 0, NULL, 0 };
  g_autoptr(virDomain) dom = NULL;
  GThread *t;
  gint64 t0;

  create_instance ("ml-event", TRUE);
  ensure_libvirt_conn ();
  dom = virDomainLookupByName (fx.conn, PREFIX "ml-event");
  assert_non_null (dom);
  t = call_start (&c);
  assert_true (call_pending (&c));
  /* The guest "powers off": the stop event ends the wait, not the timer. */
  t0 = g_get_monotonic_time ();
  assert_int_equal (virDomainDestroy (dom), 0);
  print_message ("virDomainDestroy took %.2f s\n", (g_get_monotonic_time () - t0) / 1e6);
  g_thread_join (t);
  print_message ("shutdown answered %.2f s after the stop was asked for\n",
                 (g_get_monotonic_time () - t0) / 1e6);
  assert_int_equal (c.status, 200);
  assert_true (g_get_monotonic_time () - t0 < 10 * G_USEC_PER_SEC);
  assert_string_equal (gvd_test_json_string (c.reply, "state"), "shutoff");
  json_node_unref (c.reply);
}

static void
slow_registry_write__libvirtd_frozen__probes_answer_then_persisted (void **state)
{
  Call c = { "POST", "/v1/devices", "{\"name\": \"mlgpu\", \"pci_address\": \"" GPU_ADDRESS "\"}",
             0, NULL, 0 };
  g_autofree char *path = g_build_filename (fx.state_dir, "registry.json", NULL);
  g_autofree char *file = NULL;
  GThread *t;

  freeze_libvirtd ();
  t = call_start (&c);
  assert_true (call_pending (&c)); /* the write takes GVD_FAULT_SLOW_MS */
  assert_probes_answer ("registry write in flight, libvirtd frozen");
  /* Answered during the write, not after it (a main loop that wrote the
   * file itself would have answered only once the write was done). */
  assert_true (call_pending (&c));
  {
    /* Not visible before it is on disk. */
    guint status = 0;
    g_autoptr(JsonNode) n = api ("GET", "/v1/devices/mlgpu", NULL, &status);
    if (call_pending (&c))
      assert_int_equal (status, 404);
  }
  thaw_libvirtd ();
  g_thread_join (t);
  if (c.status != 201)
    fail_msg ("POST /v1/devices answered %u", c.status);
  json_node_unref (c.reply);
  assert_true (g_file_get_contents (path, &file, NULL, NULL));
  assert_non_null (strstr (file, "mlgpu"));
}

static void
reconnect__libvirtd_frozen_while_subscribing__probes_answer_then_events (void **state)
{
  GPid pid;
  g_autoptr(virDomain) dom = NULL;

  create_instance ("ml-recon", TRUE);
  /* A restart: gpuvmd reconnects and stops itself (GVD_TEST_STOP_AT=
   * reconnect) just before it subscribes to events on the new connection. */
  assert_true (gvd_test_libvirtd_stop ());
  assert_true (gvd_test_libvirtd_start ());
  if (!gvd_test_wait_until (process_stopped, GINT_TO_POINTER (fx.d->pid), 30000))
    fail_msg ("gpuvmd never reached its reconnect fault point");
  freeze_libvirtd ();
  pid = fx.d->pid;
  assert_int_equal (kill (pid, SIGCONT), 0);
  g_usleep (300 * 1000);
  assert_probes_answer ("reconnect, subscribing to events, libvirtd frozen");
  thaw_libvirtd ();

  /* Subscribed once libvirtd answers: a stop behind gpuvmd's back shows. */
  assert_true (gvd_test_wait_until (libvirt_connected, NULL, 20000));
  ensure_libvirt_conn ();
  dom = virDomainLookupByName (fx.conn, PREFIX "ml-recon");
  assert_non_null (dom);
  g_usleep (500 * 1000); /* the subscription's worker */
  assert_int_equal (virDomainDestroy (dom), 0);
  assert_true (gvd_test_wait_until (instance_shutoff, (gpointer) "ml-recon", 10000));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown (libvirtd_frozen__create_in_flight__probes_answer_then_created,
                               test_teardown),
    cmocka_unit_test_teardown (libvirtd_frozen__shutdown_in_flight__probes_answer_then_shutoff,
                               test_teardown),
    cmocka_unit_test_teardown (lifecycle_event__domain_stops__shutdown_ends_before_its_timeout,
                               test_teardown),
    cmocka_unit_test_teardown (slow_registry_write__libvirtd_frozen__probes_answer_then_persisted,
                               test_teardown),
    cmocka_unit_test_teardown (reconnect__libvirtd_frozen_while_subscribing__probes_answer_then_events,
                               test_teardown),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
