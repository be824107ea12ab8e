/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Crash consistency against the real libvirtd: gpuvmd killed (-9) after each
 * create step leaves a whole instance or nothing once restarted (recovery
 * sweeps orphan volumes); libvirtd lost during a create or a shutdown gives a
 * clean 5xx, and state reconciles once libvirtd is back. Restarts libvirtd:
 * run under flock /tmp/gvd-libvirt.lock, never next to other integration
 * tests (Makefile.am orders it). */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <string.h>

#include "virt-conn.h"

#define PREFIX "gvdtest-flt-"
#define POOL "gvdtest-flt"
#define POOL_PATH "/var/tmp/gvdtest-flt-pool"
#define IMAGE "gvdtest-fltblank.raw"
/* A generous bound for any answer once libvirtd is gone: a hang fails. */
#define ANSWER_BOUND_S 30

typedef struct {
  char *state_dir;
  char *image_file;
  char *config;
  virConnectPtr conn;
  /* Every daemon a test started: a failed assertion jumps past the test's
   * own cleanup, and a daemon left running on this pool and prefix would
   * sweep the next test's volumes. test_teardown kills them. */
  GPtrArray *daemons;
} Fixture;

static Fixture fx;

static void
cleanup_libvirt (void)
{
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
}

/* libvirtd is shared: whatever a test did, leave it running; and our own
 * connection does not survive a libvirtd restart: open a new one. */
static void
ensure_libvirtd (void)
{
  if (gvd_test_libvirtd_pid () == 0)
    assert_true (gvd_test_libvirtd_start ());
  if (fx.conn != NULL)
    virConnectClose (fx.conn);
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
}

static int
group_setup (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fixture_root = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);

  gvd_test_require_libvirtd ();
  g_unsetenv ("GVD_TEST_CRASH_AT");
  g_unsetenv ("GVD_TEST_STOP_AT");
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  cleanup_libvirt ();
  fx.state_dir = g_dir_make_tmp ("gvdtest-flt-XXXXXX", &error);
  assert_non_null (fx.state_dir);
  /* The fixture host has GPUs to claim (never started: they are not here). */
  fx.config = g_strdup_printf ("[daemon]\nstate_dir=%s\n"
                               "[libvirt]\ndomain_prefix=" PREFIX "\n"
                               "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"
                               "import_dirs=%s\n"
                               "[agent]\nlisten=127.0.0.1:0\n"
                               "[instances]\nshutdown_timeout=2\n"
                               "[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\n",
                               fx.state_dir, fx.state_dir, fixture_root, fixture_root);
  fx.image_file = g_build_filename (fx.state_dir, IMAGE, NULL);
  {
    FILE *f = fopen (fx.image_file, "w");
    assert_non_null (f);
    assert_int_equal (fseek (f, 64 * 1024 * 1024 - 1, SEEK_SET), 0);
    assert_int_equal (fputc (0, f), 0);
    fclose (f);
  }
  fx.daemons = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_test_daemon_free);
  return 0;
}

static int
group_teardown (void **state)
{
  ensure_libvirtd ();
  cleanup_libvirt ();
  virConnectClose (fx.conn);
  g_ptr_array_unref (fx.daemons);
  g_unlink (fx.image_file);
  {
    g_autofree char *reg = g_build_filename (fx.state_dir, "registry.json", NULL);
    g_autofree char *sec = g_build_filename (fx.state_dir, "agent-secret", NULL);
    g_unlink (reg);
    g_unlink (sec);
  }
  g_rmdir (fx.state_dir);
  g_free (fx.state_dir);
  g_free (fx.image_file);
  g_free (fx.config);
  return 0;
}

static int
test_teardown (void **state)
{
  g_unsetenv ("GVD_TEST_CRASH_AT");
  g_unsetenv ("GVD_TEST_STOP_AT");
  /* SIGKILL (gvd_test_daemon_free) ends stopped daemons too. */
  g_ptr_array_set_size (fx.daemons, 0);
  ensure_libvirtd ();
  return 0;
}

/* ---- helpers ------------------------------------------------------------------- */

static JsonNode *
api (GvdTestDaemon *d, const char *method, const char *path, const char *body, guint *status)
{
  g_autofree char *url = g_strconcat (d->url, path, NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, ANSWER_BOUND_S * 2);

  return gvd_test_http (session, method, url, NULL, body, status);
}

/* The daemon with fault injection @variable=@step (NULL: none); owned by
 * fx.daemons. */
static GvdTestDaemon *
start_daemon (const char *variable, const char *step)
{
  GvdTestDaemon *d;

  if (variable != NULL)
    g_setenv (variable, step, TRUE);
  d = gvd_test_daemon_start (fx.config, NULL);
  if (variable != NULL)
    g_unsetenv (variable);
  g_ptr_array_add (fx.daemons, d);
  return d;
}



static gboolean
domain_exists (const char *name)
{
  g_autofree char *dn = g_strconcat (PREFIX, name, NULL);
  g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, dn);

  if (dom == NULL)
    assert_int_equal (virGetLastErrorCode (), VIR_ERR_NO_DOMAIN);
  return dom != NULL;
}

static guint
count_volumes_with (const char *needle)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (fx.conn, POOL);
  virStorageVolPtr *vols = NULL;
  guint count = 0;
  int n;

  if (pool == NULL)
    {
      /* Only "no such pool" means no volumes; a dead connection must fail. */
      assert_int_equal (virGetLastErrorCode (), VIR_ERR_NO_STORAGE_POOL);
      return 0;
    }
  /* Right after a libvirtd restart its autostarted pool may not be active. */
  for (int i = 0; i < 200 && virStoragePoolIsActive (pool) != 1; i++)
    g_usleep (50 * 1000);
  assert_int_equal (virStoragePoolIsActive (pool), 1);
  virStoragePoolRefresh (pool, 0);
  n = virStoragePoolListAllVolumes (pool, &vols, 0);
  assert_true (n >= 0);
  for (int i = 0; i < n; i++)
    {
      if (strstr (virStorageVolGetName (vols[i]), needle) != NULL)
        count++;
      virStorageVolFree (vols[i]);
    }
  free (vols);
  return count;
}

/* Whether libvirt's NVRAM store has a file for the domain of @name. */
static gboolean
nvram_exists (const char *name)
{
  g_autofree char *file = g_strdup_printf ("/var/lib/libvirt/qemu/nvram/" PREFIX "%s_VARS.fd", name);

  return g_file_test (file, G_FILE_TEST_EXISTS);
}

/* Whether some device's holder is @name in GET /v1/devices/available. */
static gboolean
holds_devices (GvdTestDaemon *d, const char *name)
{
  guint status = 0;
  g_autoptr(JsonNode) avail = api (d, "GET", "/v1/devices/available", NULL, &status);
  g_autofree char *text = NULL;
  g_autofree char *needle = g_strdup_printf ("\"holder\":\"%s\"", name);

  assert_int_equal (status, 200);
  text = json_to_string (avail, FALSE);
  return strstr (text, needle) != NULL;
}

/* The names in GET /v1/instances equal the PREFIX domains libvirt has. */
static void
assert_list_matches_libvirt (GvdTestDaemon *d)
{
  guint status = 0;
  g_autoptr(JsonNode) list = api (d, "GET", "/v1/instances", NULL, &status);
  g_autoptr(GHashTable) api_names = g_hash_table_new (g_str_hash, g_str_equal);
  virDomainPtr *doms = NULL;
  JsonArray *items;
  guint ours = 0;
  int n;

  assert_int_equal (status, 200);
  items = json_node_get_array (gvd_test_json_path (list, "instances"));
  for (guint i = 0; i < json_array_get_length (items); i++)
    g_hash_table_add (api_names, (gpointer) json_object_get_string_member (
                                   json_array_get_object_element (items, i), "name"));
  n = virConnectListAllDomains (fx.conn, &doms, 0);
  assert_true (n >= 0);
  for (int i = 0; i < n; i++)
    {
      const char *dn = virDomainGetName (doms[i]);
      if (g_str_has_prefix (dn, PREFIX))
        {
          if (!g_hash_table_contains (api_names, dn + strlen (PREFIX)))
            fail_msg ("libvirt has domain %s, GET /v1/instances does not list it", dn);
          ours++;
        }
      virDomainFree (doms[i]);
    }
  free (doms);
  assert_int_equal (ours, g_hash_table_size (api_names));
}

static char *
events_text (GvdTestDaemon *d)
{
  g_autofree char *url = g_strconcat (d->url, "/v1/events", NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 1);

  return gvd_test_sse_replay (session, url);
}

/* The event stream replays a volume.swept event for @volume. */
static void
assert_swept_event (const char *events, const char *volume)
{
  g_autofree char *needle = g_strdup_printf ("\"volume\":\"%s\"", volume);
  const char *at = strstr (events, needle);
  const char *line;

  if (at == NULL)
    fail_msg ("no volume.swept event for %s in:\n%s", volume, events);
  /* "event: volume.swept\ndata: {...}" : the data line follows its type. */
  line = g_strrstr_len (events, at - events, "event: ");
  assert_non_null (line);
  assert_true (g_str_has_prefix (line, "event: volume.swept\n"));
}

/* The daemon process is stopped (it raised SIGSTOP at its fault point). */
static gboolean
daemon_stopped (gpointer data)
{
  GvdTestDaemon *d = data;
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (d->proc));
  g_autofree char *stat = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  paren = strrchr (stat, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'T';
}

static gboolean
libvirt_connected (gpointer data)
{
  GvdTestDaemon *d = data;
  guint status = 0;
  g_autoptr(JsonNode) node = api (d, "GET", "/healthz", NULL, &status);

  return status == 200 && node != NULL && gvd_test_json_bool (node, "libvirt.connected");
}

typedef struct {
  GvdTestDaemon *d;
  const char *method;
  const char *path;
  const char *body;
  guint status;
  JsonNode *reply;
  gint64 answered_at;
  const char *volumes;     /* count the volumes with this in their name... */
  guint n_volumes;         /* ...while the daemon is stopped at its fault point */
} Call;

static gpointer
call_thread (gpointer data)
{
  Call *c = data;
  g_autoptr(SoupSession) s = gvd_test_daemon_session (c->d, ANSWER_BOUND_S * 4);
  g_autofree char *url = g_strconcat (c->d->url, c->path, NULL);

  c->reply = gvd_test_http (s, c->method, url, NULL, c->body, &c->status);
  c->answered_at = g_get_monotonic_time ();
  return NULL;
}

static void
assert_libvirt_failure (const Call *c)
{
  const char *code;

  if (c->status < 500 || c->status > 599 || c->reply == NULL)
    fail_msg ("%s %s answered %u, want a 5xx error", c->method, c->path, c->status);
  code = gvd_test_json_string (c->reply, "error.code");
  if (!g_str_equal (code, "libvirt_unavailable") && !g_str_equal (code, "libvirt_error"))
    fail_msg ("%s %s: error code %s, want libvirt_unavailable or libvirt_error", c->method,
              c->path, code);
  print_message ("%s %s with libvirtd gone: %u %s (%s)\n", c->method, c->path, c->status, code,
                 gvd_test_json_string (c->reply, "error.message"));
}

/* ---- kill -9 after each create step -------------------------------------------- */

typedef struct {
  const char *step;
  gboolean whole;          /* the domain was defined before the kill */
  const char *swept[3];    /* volumes recovery must sweep */
} CrashCase;

static void
create__kill9_after_each_step__whole_or_nothing (void **state)
{
  static const CrashCase cases[] = {
    { "claimed", FALSE, { NULL } },
    { "pool", FALSE, { NULL } },
    { "overlay", FALSE, { "-root.qcow2", NULL } },
    { "seed", FALSE, { "-root.qcow2", "-seed.iso", NULL } },
    { "define", TRUE, { NULL } },
    { "start", TRUE, { NULL } },
  };
  gint64 t_all = g_get_monotonic_time ();

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const CrashCase *cc = &cases[c];
      g_autofree char *name = g_strdup_printf ("k-%s", cc->step);
      g_autofree char *path = g_strconcat ("/v1/instances/", name, NULL);
      g_autofree char *vol_prefix = g_strconcat (PREFIX, name, "-", NULL);
      /* "start" needs a domain that can run here: no (fixture) GPU. */
      g_autofree char *body = g_strdup_printf (
        "{\"name\": \"%s\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, %s}", name,
        g_str_equal (cc->step, "start") ? "\"start\": true" : "\"gpus\": 1, \"start\": false");
      GvdTestDaemon *d = start_daemon ("GVD_TEST_CRASH_AT", cc->step);
      GvdTestDaemon *d2 = NULL;
      g_autoptr(JsonNode) first = NULL;
      g_autoptr(JsonNode) got = NULL;
      g_autofree char *events = NULL;
      guint status = 0;
      gint64 t0 = g_get_monotonic_time ();

      gvd_test_daemon_wait_ready (d, 20000);
      gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
      first = api (d, "POST", "/v1/instances", body, &status);
      /* No answer: the daemon died at the fault point, by SIGKILL. */
      assert_int_equal (status, 0);
      assert_true (g_subprocess_wait (d->proc, NULL, NULL));
      assert_true (g_subprocess_get_if_signaled (d->proc));
      assert_int_equal (g_subprocess_get_term_sig (d->proc), SIGKILL);
      g_clear_object (&d->proc);

      d2 = start_daemon (NULL, NULL);
      gvd_test_daemon_wait_ready (d2, 20000);
      got = api (d2, "GET", path, NULL, &status);
      if (cc->whole)
        {
          /* Whole: domain, both volumes, claims, listed by the API. */
          assert_int_equal (status, 200);
          assert_true (domain_exists (name));
          assert_int_equal (count_volumes_with (vol_prefix), 2);
          if (!g_str_equal (cc->step, "start"))
            {
              assert_true (holds_devices (d2, name));
              /* libvirt makes the NVRAM at the first start, not at define. */
              assert_false (nvram_exists (name));
            }
          else
            {
              assert_string_equal (gvd_test_json_string (got, "state"), "running");
              assert_true (nvram_exists (name));
            }
        }
      else
        {
          /* Nothing: no domain, no volume, no claim. */
          assert_int_equal (status, 404);
          assert_false (domain_exists (name));
          assert_int_equal (count_volumes_with (vol_prefix), 0);
          assert_false (holds_devices (d2, name));
          assert_false (nvram_exists (name));
        }
      assert_list_matches_libvirt (d2);
      events = events_text (d2);
      for (guint i = 0; cc->swept[i] != NULL; i++)
        {
          g_autofree char *vol = g_strconcat (PREFIX, name, cc->swept[i], NULL);
          assert_swept_event (events, vol);
        }
      if (cc->swept[0] == NULL)
        assert_null (strstr (events, "volume.swept"));

      /* The name is usable again and the image deletable. */
      if (!cc->whole)
        {
          g_autoptr(JsonNode) again = api (d2, "POST", "/v1/instances", body, &status);
          assert_int_equal (status, 201);
        }
      {
        g_autoptr(JsonNode) gone = api (d2, "DELETE", path, NULL, &status);
        assert_int_equal (status, 204);
        assert_false (nvram_exists (name));
        g_autoptr(JsonNode) img = api (d2, "DELETE", "/v1/images/" IMAGE, NULL, &status);
        assert_int_equal (status, 204);
      }
      assert_int_equal (count_volumes_with (PREFIX), 0);
      gvd_test_daemon_stop (d2, TRUE);
      print_message ("kill -9 after '%s': %s, %.2f s\n", cc->step,
                     cc->whole ? "whole instance" : "nothing left", (g_get_monotonic_time () - t0) / 1e6);
    }
  print_message ("kill -9 at every step: %.2f s\n", (g_get_monotonic_time () - t_all) / 1e6);
}

/* ---- libvirtd lost mid-request --------------------------------------------------- */

/* Run @c in a thread; once the daemon stopped itself at its fault point,
 * stop libvirtd and let the daemon go on: the call must fail cleanly. */
static void
call_while_libvirtd_dies (Call *c)
{
  GThread *t = g_thread_new ("call", call_thread, c);
  gint64 t0;

  if (!gvd_test_wait_until (daemon_stopped, c->d, 30000))
    {
      kill ((pid_t) g_ascii_strtoll (g_subprocess_get_identifier (c->d->proc), NULL, 10), SIGCONT);
      g_thread_join (t);
      fail_msg ("the daemon never reached its fault point");
    }
  if (c->volumes != NULL)
    c->n_volumes = count_volumes_with (c->volumes);
  assert_true (gvd_test_libvirtd_stop ());
  t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (c->d->proc, SIGCONT);
  g_thread_join (t);
  print_message ("answered %.2f s after libvirtd was gone\n", (c->answered_at - t0) / 1e6);
  assert_true (c->answered_at - t0 < (gint64) ANSWER_BOUND_S * G_USEC_PER_SEC);
}

static void
libvirtd_lost__during_create__5xx_then_reconciled (void **state)
{
  GvdTestDaemon *d = start_daemon ("GVD_TEST_STOP_AT", "overlay");
  Call c = { NULL, "POST", "/v1/instances",
             "{\"name\": \"lost-create\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
             " \"gpus\": 1, \"start\": false}", 0, NULL, 0 };
  g_autofree char *events = NULL;
  guint status = 0;
  gint64 t0;

  gvd_test_daemon_wait_ready (d, 20000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  c.d = d;
  c.volumes = PREFIX "lost-create-";
  call_while_libvirtd_dies (&c);
  assert_libvirt_failure (&c);
  json_node_unref (c.reply);
  /* Stopped right after the overlay was made: the root volume existed. */
  assert_int_equal (c.n_volumes, 1);

  /* Alive, answering, and the failed create is not an instance. */
  {
    g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/lost-create", NULL, &status);
    assert_int_equal (status, 404);
  }
  assert_false (holds_devices (d, "lost-create"));

  /* The rollback could not reach libvirt: the overlay is left until libvirtd
   * is back, and recovery on reconnect sweeps it. */
  assert_true (gvd_test_libvirtd_start ());
  ensure_libvirtd ();
  t0 = g_get_monotonic_time ();
  assert_true (gvd_test_wait_until (libvirt_connected, d, 20000));
  for (int i = 0; i < 200 && count_volumes_with (PREFIX "lost-create-") > 0; i++)
    g_usleep (50 * 1000);
  assert_int_equal (count_volumes_with (PREFIX "lost-create-"), 0);
  print_message ("orphan swept %.2f s after libvirtd answered again\n",
                 (g_get_monotonic_time () - t0) / 1e6);
  events = events_text (d);
  assert_swept_event (events, PREFIX "lost-create-root.qcow2");
  assert_list_matches_libvirt (d);
  assert_false (holds_devices (d, "lost-create"));

  /* The name works again (creates may wait for the reconnect's recovery). */
  for (int i = 0; i < 100; i++)
    {
      g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances",
                                   "{\"name\": \"lost-create\", \"image\": \"" IMAGE "\","
                                   " \"memory_mib\": 256, \"gpus\": 1, \"start\": false}", &status);
      if (status != 503)
        break;
      g_usleep (100 * 1000);
    }
  assert_int_equal (status, 201);
  assert_true (holds_devices (d, "lost-create"));
  assert_list_matches_libvirt (d);
  {
    g_autoptr(JsonNode) gone = api (d, "DELETE", "/v1/instances/lost-create", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (count_volumes_with (PREFIX), 0); /* the image is not PREFIX- */
  gvd_test_daemon_stop (d, TRUE);
}

typedef struct {
  GvdTestDaemon *d;
  const char *name;
} StateWait;

/* The API's state of @name equals libvirt's. */
static gboolean
state_matches_libvirt (gpointer data)
{
  StateWait *w = data;
  g_autofree char *path = g_strconcat ("/v1/instances/", w->name, NULL);
  g_autofree char *dn = g_strconcat (PREFIX, w->name, NULL);
  g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, dn);
  guint status = 0;
  g_autoptr(JsonNode) n = api (w->d, "GET", path, NULL, &status);
  int st = 0;

  if (dom == NULL || status != 200 || virDomainGetState (dom, &st, NULL, 0) < 0)
    return FALSE;
  return g_str_equal (gvd_test_json_string (n, "state"),
                      st == VIR_DOMAIN_RUNNING ? "running" : st == VIR_DOMAIN_SHUTOFF ? "shutoff" : "?");
}

static void
libvirtd_lost__during_shutdown__5xx_then_reconciled (void **state)
{
  GvdTestDaemon *d = start_daemon ("GVD_TEST_STOP_AT", "shutdown");
  Call c = { NULL, "POST", "/v1/instances/lost-shut/shutdown", "{\"timeout_seconds\": 2}", 0,
             NULL, 0 };
  StateWait w = { NULL, "lost-shut" };
  guint status = 0;

  gvd_test_daemon_wait_ready (d, 20000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances",
                                 "{\"name\": \"lost-shut\", \"image\": \"" IMAGE "\","
                                 " \"memory_mib\": 256}", &status);
    assert_int_equal (status, 201);
  }
  c.d = d;
  call_while_libvirtd_dies (&c);
  assert_libvirt_failure (&c);
  json_node_unref (c.reply);

  assert_true (gvd_test_libvirtd_start ());
  ensure_libvirtd ();
  assert_true (gvd_test_wait_until (libvirt_connected, d, 20000));
  /* The instance is still there, in the state libvirt reports. */
  w.d = d;
  assert_true (gvd_test_wait_until (state_matches_libvirt, &w, 10000));
  assert_list_matches_libvirt (d);
  assert_int_equal (count_volumes_with (PREFIX "lost-shut-"), 2);
  {
    g_autoptr(JsonNode) shut = api (d, "POST", "/v1/instances/lost-shut/shutdown",
                                    "{\"timeout_seconds\": 1}", &status);
    assert_int_equal (status, 200);
    assert_string_equal (gvd_test_json_string (shut, "state"), "shutoff");
    g_autoptr(JsonNode) gone = api (d, "DELETE", "/v1/instances/lost-shut", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (count_volumes_with (PREFIX "lost-shut-"), 0);
  assert_list_matches_libvirt (d);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown (create__kill9_after_each_step__whole_or_nothing, test_teardown),
    cmocka_unit_test_teardown (libvirtd_lost__during_create__5xx_then_reconciled, test_teardown),
    cmocka_unit_test_teardown (libvirtd_lost__during_shutdown__5xx_then_reconciled, test_teardown),
  };

  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
