/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The built gpuvmd against the real libvirtd: /healthz reports the real
 * versions, survives a libvirtd restart and reconnects by itself. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>
#include <sys/wait.h>

#include "virt-conn.h"

typedef struct {
  SoupSession *session;
  const char *url;
  gboolean want_connected;
} HealthWait;

static gboolean
health_in_state (gpointer data)
{
  HealthWait *w = data;
  g_autofree char *url = g_strconcat (w->url, "/healthz", NULL);
  guint status = 0;
  g_autoptr(JsonNode) node = gvd_test_http (w->session, "GET", url, NULL, NULL, &status);

  if (status != 200 || node == NULL)
    return FALSE;
  return gvd_test_json_bool (node, "libvirt.connected") == w->want_connected;
}

static char *
expected_lib_version (void)
{
  unsigned long v = 0;
  g_autoptr(virConnect) conn = virConnectOpen ("qemu:///system");

  assert_non_null (conn);
  assert_int_equal (virConnectGetLibVersion (conn, &v), 0);
  return gvd_virt_format_version (v);
}

static char *
expected_hv_version (void)
{
  unsigned long v = 0;
  g_autoptr(virConnect) conn = virConnectOpen ("qemu:///system");

  assert_non_null (conn);
  assert_int_equal (virConnectGetVersion (conn, &v), 0);
  return gvd_virt_format_version (v);
}

static void
healthz__real_libvirtd__connected_with_versions (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start ("[agent]\nlisten=127.0.0.1:0\n", NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  HealthWait w = { session, d->url, TRUE };
  g_autofree char *url = g_strconcat (d->url, "/healthz", NULL);
  g_autofree char *lib = expected_lib_version ();
  g_autofree char *hv = expected_hv_version ();
  g_autoptr(JsonNode) node = NULL;
  guint status = 0;

  assert_true (gvd_test_wait_until (health_in_state, &w, 10000));
  node = gvd_test_http (session, "GET", url, NULL, NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (node, "status"), "ok");
  assert_true (gvd_test_json_bool (node, "libvirt.connected"));
  assert_string_equal (gvd_test_json_string (node, "libvirt.uri"), "qemu:///system");
  assert_string_equal (gvd_test_json_string (node, "libvirt.library_version"), lib);
  assert_string_equal (gvd_test_json_string (node, "libvirt.hypervisor"), "QEMU");
  assert_string_equal (gvd_test_json_string (node, "libvirt.hypervisor_version"), hv);
  assert_int_equal (gvd_test_json_int (node, "libvirt.reconnects"), 0);
  print_message ("libvirt %s, QEMU %s\n", lib, hv);

  gvd_test_daemon_stop (d, TRUE);
}

static void
libvirtd_restart__daemon_keeps_serving__reconnects_within_10s (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start ("[agent]\nlisten=127.0.0.1:0\n", NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  HealthWait up = { session, d->url, TRUE };
  HealthWait down = { session, d->url, FALSE };
  g_autofree char *url = g_strconcat (d->url, "/healthz", NULL);
  g_autoptr(JsonNode) during = NULL;
  g_autoptr(JsonNode) after = NULL;
  guint status = 0;
  gint64 t0;

  assert_true (gvd_test_wait_until (health_in_state, &up, 10000));

  assert_true (gvd_test_libvirtd_stop ());
  /* gpuvmd notices the loss and still answers, saying why. */
  if (!gvd_test_wait_until (health_in_state, &down, 5000))
    {
      gvd_test_libvirtd_start ();
      fail_msg ("gpuvmd did not report libvirt as disconnected within 5 s");
    }
  during = gvd_test_http (session, "GET", url, NULL, NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (during, "status"), "degraded");
  assert_string_not_equal (gvd_test_json_string (during, "libvirt.state"), "connected");
  assert_non_null (gvd_test_json_string (during, "libvirt.last_error"));

  t0 = g_get_monotonic_time ();
  assert_true (gvd_test_libvirtd_start ());
  assert_true (gvd_test_wait_until (health_in_state, &up, 10000));
  print_message ("reconnected %.2f s after libvirtd answered again\n",
                 (g_get_monotonic_time () - t0) / 1e6);

  after = gvd_test_http (session, "GET", url, NULL, NULL, &status);
  assert_string_equal (gvd_test_json_string (after, "status"), "ok");
  assert_int_equal (gvd_test_json_int (after, "libvirt.reconnects"), 1);
  assert_null (gvd_test_json_string (after, "libvirt.last_error"));

  gvd_test_daemon_stop (d, TRUE);
}

static void
startup__bad_config__exit_2_with_message (void **state)
{
  g_autofree char *gpuvmd = gvd_test_build_path ("src", "gpuvmd", NULL);
  g_autofree char *dir = g_dir_make_tmp ("gpuvmd-conf-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename (dir, "bad.conf", NULL);
  g_autofree char *err = NULL;
  int status = 0;
  const char *argv[] = { gpuvmd, "--config", conf, NULL };

  assert_true (g_file_set_contents (conf, "[libvirt]\nkeepalive_interval=0\n", -1, NULL));
  assert_true (g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, NULL, &err, &status, NULL));
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 2);
  assert_non_null (strstr (err, "[libvirt] keepalive_interval: '0' is not a whole number"));
  g_unlink (conf);
  g_rmdir (dir);
}

static void
startup__port_taken__exit_1_with_message (void **state)
{
  const char *args[] = { "--listen", "127.0.0.1:0", NULL };
  g_autoptr(GvdTestDaemon) first = gvd_test_daemon_start ("[agent]\nlisten=127.0.0.1:0\n", args);
  g_autofree char *gpuvmd = gvd_test_build_path ("src", "gpuvmd", NULL);
  /* "http://127.0.0.1:PORT" → "127.0.0.1:PORT" */
  const char *hostport = first->tcp_url + strlen ("http://");
  g_autofree char *err = NULL;
  int status = 0;
  const char *argv[] = { gpuvmd, "--config", first->config_path, "--socket", "",
                         "--listen", hostport, NULL };

  assert_true (g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, NULL, &err, &status, NULL));
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 1);
  assert_non_null (strstr (err, "cannot listen on"));
  gvd_test_daemon_stop (first, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (startup__bad_config__exit_2_with_message),
    cmocka_unit_test (startup__port_taken__exit_1_with_message),
    cmocka_unit_test (healthz__real_libvirtd__connected_with_versions),
    cmocka_unit_test (libvirtd_restart__daemon_keeps_serving__reconnects_within_10s),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("daemon", tests, NULL, NULL);
}
