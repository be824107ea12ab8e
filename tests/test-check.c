/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The built `gpuvmd --check` on this real machine and on fixture host roots,
 * and GET /v1/host from a running daemon, against the real libvirtd. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>
#include <unistd.h>

#include "virt-conn.h"

typedef struct {
  int exit_status;
  char *out;
  GStrv lines;
} CheckRun;

static void
check_run_free (CheckRun *run)
{
  g_free (run->out);
  g_strfreev (run->lines);
  g_free (run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CheckRun, check_run_free)

/* Run src/gpuvmd --check with an empty config and @extra arguments. */
static CheckRun *
run_check (const char *const *extra)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  g_autofree char *config = NULL;
  CheckRun *run = g_new0 (CheckRun, 1);
  int fd;

  /* gpuvmd.conf must be a regular file (no longer /dev/null). */
  fd = g_file_open_tmp ("gvdtest-check-XXXXXX.conf", &config, &error);
  assert_true (fd >= 0);
  close (fd);
  g_ptr_array_add (argv, gvd_test_build_path ("src", "gpuvmd", NULL));
  g_ptr_array_add (argv, g_strdup ("--check"));
  g_ptr_array_add (argv, g_strdup ("--config"));
  g_ptr_array_add (argv, g_strdup (config));
  for (gsize i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra[i]));
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_newv ((const char *const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            &error);
  if (proc == NULL)
    fail_msg ("cannot run gpuvmd: %s", error->message);
  assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, &run->out, &err, &error));
  assert_true (g_subprocess_get_if_exited (proc));
  run->exit_status = g_subprocess_get_exit_status (proc);
  print_message ("exit %d\n%s", run->exit_status, run->out);
  if (err != NULL && *err != '\0')
    print_message ("stderr: %s\n", err);
  run->lines = g_strsplit (run->out, "\n", -1);
  g_unlink (config);
  return run;
}

/* The row of check @name ("FAIL   vm  kvm_device  ..."), and in
 * @out_remedy the remedy line under it, if any. */
static const char *
row (const CheckRun *run, const char *name, const char **out_remedy)
{
  for (gsize i = 0; run->lines[i] != NULL; i++)
    {
      g_auto(GStrv) cols = g_strsplit_set (run->lines[i], " ", -1);
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_auto(GStrv) words = NULL;

      for (gsize k = 0; cols[k] != NULL; k++)
        if (cols[k][0] != '\0')
          g_strv_builder_add (b, cols[k]);
      words = g_strv_builder_end (b);
      if (g_strv_length (words) >= 3 && g_str_equal (words[2], name))
        {
          if (out_remedy != NULL)
            {
              const char *next = run->lines[i + 1];

              *out_remedy = next != NULL && strstr (next, "remedy: ") != NULL
                              && next[0] == ' ' ? strstr (next, "remedy: ") : NULL;
            }
          return run->lines[i];
        }
    }
  fail_msg ("no row for %s", name);
  return NULL;
}

static void
assert_row (const CheckRun *run, const char *name, const char *status)
{
  const char *remedy = NULL;
  const char *line = row (run, name, &remedy);

  if (!g_str_has_prefix (line, status))
    fail_msg ("%s: expected %s, got: %s", name, status, line);
  if (g_str_equal (status, "PASS"))
    assert_null (remedy);
  else
    assert_non_null (remedy);
}

static const char *
verdict (const CheckRun *run)
{
  for (gsize i = 0; run->lines[i] != NULL; i++)
    if (g_str_has_prefix (run->lines[i], "verdict: "))
      return run->lines[i] + strlen ("verdict: ");
  fail_msg ("no verdict line");
  return NULL;
}

static void
check__this_machine__truthful_report_exit_1 (void **state)
{
  g_autoptr(CheckRun) run = run_check (NULL);
  const char *remedy = NULL;

  assert_int_equal (run->exit_status, 1);
  assert_true (g_str_has_prefix (run->lines[0], "STATUS"));
  /* This machine has no /dev/kvm: a failure, with a remedy. */
  if (!g_file_test ("/dev/kvm", G_FILE_TEST_EXISTS))
    {
      assert_row (run, "kvm_device", "FAIL");
      row (run, "kvm_device", &remedy);
      assert_true (strlen (remedy) > 20);
      assert_true (g_str_has_prefix (verdict (run), "VMs slow (no KVM: TCG emulation), GPU "
                                                    "passthrough no"));
    }
  assert_row (run, "libvirt", "PASS");
  assert_non_null (strstr (row (run, "libvirt", NULL), "qemu:///system"));
  assert_row (run, "qemu_version", "PASS");
  assert_row (run, "q35_machine", "PASS");
  assert_row (run, "efi_firmware", "PASS");
  /* No IOMMU here. */
  if (g_file_test ("/sys/kernel/iommu_groups/0", G_FILE_TEST_EXISTS) == FALSE)
    assert_row (run, "iommu_groups", "FAIL");
}

static void
check__fixture_server__fixture_rows_pass (void **state)
{
  g_autofree char *dir = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);
  const char *args[] = { "--host-root", dir, NULL };
  g_autoptr(CheckRun) run = run_check (args);

  /* Everything read from the fixture passes... */
  assert_row (run, "cpu_virtualization", "PASS");
  assert_row (run, "iommu_groups", "PASS");
  assert_row (run, "iommu_cmdline", "PASS");
  assert_row (run, "vfio_modules", "PASS");
  assert_row (run, "interrupt_remapping", "PASS");
  assert_row (run, "acs_override", "PASS");
  assert_non_null (strstr (row (run, "kvm_device", NULL), "server-8gpu/dev/kvm"));
  /* ...and libvirt is this machine's: without KVM here it refuses the
   * fixture's /dev/kvm, which is reported once, on kvm_device. */
  assert_row (run, "libvirt", "PASS");
  assert_row (run, "q35_machine", "PASS");
  assert_row (run, "efi_firmware", "PASS");
  if (!g_file_test ("/dev/kvm", G_FILE_TEST_EXISTS))
    {
      assert_row (run, "kvm_device", "FAIL");
      assert_non_null (strstr (row (run, "kvm_device", NULL), "libvirt cannot use KVM"));
    }
  /* Exit 0 exactly when the verdict says yes twice. */
  assert_int_equal (run->exit_status,
                    g_str_has_prefix (verdict (run), "VMs yes, GPU passthrough yes") ? 0 : 1);
}

static void
check__fixture_no_iommu__passthrough_failures (void **state)
{
  g_autofree char *dir = gvd_test_data_path ("data", "hosts", "no-iommu", NULL);
  const char *args[] = { "--host-root", dir, NULL };
  g_autoptr(CheckRun) run = run_check (args);

  assert_int_equal (run->exit_status, 1);
  assert_row (run, "iommu_groups", "FAIL");
  assert_row (run, "iommu_cmdline", "FAIL");
  assert_row (run, "interrupt_remapping", "FAIL");
  assert_row (run, "vfio_modules", "WARN");
  assert_row (run, "hostdev_vfio", "FAIL");
  assert_true (g_str_has_suffix (verdict (run), "GPU passthrough no (5 failures, 1 warning)")
               || g_str_has_suffix (verdict (run), "GPU passthrough no (4 failures, 1 warning)"));
}

static void
check__libvirt_unreachable__failed_check_not_crash (void **state)
{
  const char *args[] = { "--libvirt-uri", "qemu+unix:///system?socket=/nonexistent/gpuvmd.sock",
                         NULL };
  g_autoptr(CheckRun) run = run_check (args);

  assert_int_equal (run->exit_status, 1);
  assert_row (run, "libvirt", "FAIL");
  assert_non_null (strstr (row (run, "libvirt", NULL), "/nonexistent/gpuvmd.sock"));
  assert_row (run, "qemu_version", "FAIL");
  assert_row (run, "efi_firmware", "FAIL");
  assert_row (run, "hostdev_vfio", "FAIL");
  assert_true (g_str_has_prefix (verdict (run), "VMs no"));
}

/* ---- GET /v1/host ------------------------------------------------------------ */

static gboolean
connected (gpointer data)
{
  GvdTestDaemon *d = data;
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *url = g_strconcat (d->url, "/healthz", NULL);
  guint status = 0;
  g_autoptr(JsonNode) node = gvd_test_http (session, "GET", url, NULL, NULL, &status);

  return status == 200 && node != NULL && gvd_test_json_bool (node, "libvirt.connected");
}

static char *
expected_version (gboolean hypervisor)
{
  unsigned long v = 0;
  g_autoptr(virConnect) conn = virConnectOpen ("qemu:///system");

  assert_non_null (conn);
  assert_int_equal (hypervisor ? virConnectGetVersion (conn, &v)
                               : virConnectGetLibVersion (conn, &v), 0);
  return gvd_virt_format_version (v);
}

static JsonObject *
find_check (JsonNode *root, const char *name)
{
  JsonArray *checks = json_node_get_array (gvd_test_json_path (root, "checks"));

  for (guint i = 0; i < json_array_get_length (checks); i++)
    {
      JsonObject *o = json_array_get_object_element (checks, i);

      if (g_str_equal (json_object_get_string_member (o, "name"), name))
        return o;
    }
  fail_msg ("no check %s", name);
  return NULL;
}

static void
api_host__running_daemon__report_versions_facts (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start ("[agent]\nlisten=127.0.0.1:0\n", NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *url = g_strconcat (d->url, "/v1/host", NULL);
  g_autofree char *lib = expected_version (FALSE);
  g_autofree char *hv = expected_version (TRUE);
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) refused = NULL;
  JsonNode *gpus;
  guint status = 0;

  assert_true (gvd_test_wait_until (connected, d, 10000));
  node = gvd_test_http (session, "GET", url, NULL, NULL, &status);
  assert_int_equal (status, 200);
  assert_true (gvd_test_json_bool (node, "libvirt.reachable"));
  assert_string_equal (gvd_test_json_string (node, "libvirt.uri"), "qemu:///system");
  assert_string_equal (gvd_test_json_string (node, "versions.libvirt"), lib);
  assert_string_equal (gvd_test_json_string (node, "versions.qemu"), hv);
  assert_string_equal (gvd_test_json_string (node, "versions.gpuvmd"), PACKAGE_VERSION);
  assert_string_equal (gvd_test_json_string (node, "hostname"), g_get_host_name ());
  assert_true (gvd_test_json_int (node, "memory_bytes") > 0);
  assert_true (gvd_test_json_int (node, "cpu.count") > 0);
  assert_string_equal (json_object_get_string_member (find_check (node, "libvirt"), "status"),
                       "pass");
  assert_string_equal (json_object_get_string_member (find_check (node, "efi_firmware"), "status"),
                       "pass");
  if (!g_file_test ("/dev/kvm", G_FILE_TEST_EXISTS))
    {
      JsonObject *kvm = find_check (node, "kvm_device");

      assert_string_equal (json_object_get_string_member (kvm, "status"), "fail");
      assert_non_null (json_object_get_string_member (kvm, "remedy"));
      assert_false (gvd_test_json_bool (node, "vm_capable"));
      assert_string_equal (gvd_test_json_string (node, "libvirt.domain_type"), "qemu");
    }
  assert_false (gvd_test_json_bool (node, "passthrough_capable"));
  /* The GPU inventory: an array once the daemon has scanned the host. */
  gpus = gvd_test_json_path (node, "gpus");
  assert_true (JSON_NODE_HOLDS_ARRAY (gpus) || JSON_NODE_HOLDS_NULL (gpus));

  refused = gvd_test_http (session, "DELETE", url, NULL, NULL, &status);
  assert_int_equal (status, 405);
  gvd_test_daemon_stop (d, TRUE);
}

static void
api_host__fixture_root__fixture_cpu_and_gpus (void **state)
{
  g_autofree char *dir = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);
  const char *args[] = { "--host-root", dir, NULL };
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start ("[agent]\nlisten=127.0.0.1:0\n", args);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *url = g_strconcat (d->url, "/v1/host", NULL);
  g_autoptr(JsonNode) node = NULL;
  JsonNode *gpus;
  guint status = 0;

  assert_true (gvd_test_wait_until (connected, d, 10000));
  node = gvd_test_http (session, "GET", url, NULL, NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (node, "cpu.model"),
                       "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz");
  assert_int_equal (gvd_test_json_int (node, "cpu.count"), 8);
  assert_string_equal (json_object_get_string_member (find_check (node, "iommu_groups"), "status"),
                       "pass");
  gpus = gvd_test_json_path (node, "gpus");
  if (JSON_NODE_HOLDS_ARRAY (gpus))
    {
      JsonArray *list = json_node_get_array (gpus);
      guint critical = 0;

      /* Every display controller: the 8 GPUs and the BMC's VGA, which the
       * host keeps (host_critical). */
      assert_int_equal (json_array_get_length (list), 9);
      for (guint i = 0; i < json_array_get_length (list); i++)
        if (json_object_get_boolean_member (json_array_get_object_element (list, i),
                                            "host_critical"))
          critical++;
      assert_int_equal (critical, 1);
    }
  else
    print_message ("the daemon has no inventory yet (gpus: null)\n");
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (check__this_machine__truthful_report_exit_1),
    cmocka_unit_test (check__fixture_server__fixture_rows_pass),
    cmocka_unit_test (check__fixture_no_iommu__passthrough_failures),
    cmocka_unit_test (check__libvirt_unreachable__failed_check_not_crash),
    cmocka_unit_test (api_host__running_daemon__report_versions_facts),
    cmocka_unit_test (api_host__fixture_root__fixture_cpu_and_gpus),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, NULL, NULL);
}
