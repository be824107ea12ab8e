/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dedicated CPUs against the real libvirtd (QEMU TCG, no GPUs). The daemon
 * sees the host through a fixture tree; libvirt checks the pins against the
 * real host when it starts a domain, so:
 * - on vfio-rig (2 single-thread CPUs on one node, like this machine, with
 *   CPU 0 reserved) an instance is started pinned to CPU 1 and libvirt's
 *   own pin info is read back; a second is refused; a restarted daemon
 *   rebuilds the claim from the domain; after a delete the CPU is free;
 * - on server-8gpu (32 CPUs) a bigger instance is only defined, and the
 *   domain libvirt keeps has its pins. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"

#include <libvirt/libvirt.h>
#include <string.h>

#define PREFIX "gvdtest-cpu-"
#define POOL "gvdtest-cpu"
#define POOL_PATH "/var/tmp/gvdtest-cpu-pool"
#define IMAGE "gvdcpu-blank.raw" /* not below PREFIX: that names instance volumes */
#define BASE_CONFIG                                          \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n"                                         \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\nshutdown_timeout=2\n"                        \
  "[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\nreserved_cpus=0\n"

typedef struct {
  char *state_dir;
  char *image_file;
  virConnectPtr conn;
} Fixture;

static Fixture fx;

static char *
config_for (const char *host)
{
  g_autofree char *root = gvd_test_data_path ("data", "hosts", host, NULL);

  return g_strdup_printf (BASE_CONFIG, fx.state_dir, fx.state_dir, root, root);
}

static int
group_setup (void **state)
{
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  /* A blank 64 MiB raw base image (sparse): enough for firmware to run. */
  fx.state_dir = gvd_test_scratch_new (fx.conn, PREFIX, POOL, IMAGE, 64 * 1024 * 1024,
                                       &fx.image_file);
  return 0;
}

static int
group_teardown (void **state)
{
  gvd_test_scratch_remove (fx.conn, PREFIX, POOL, fx.state_dir);
  virConnectClose (fx.conn);
  g_free (fx.state_dir);
  g_free (fx.image_file);
  return 0;
}

static void
assert_int_array (JsonNode *root, const char *path, const int *want, guint n)
{
  JsonArray *a = json_node_get_array (gvd_test_json_path (root, path));

  assert_int_equal (json_array_get_length (a), n);
  for (guint i = 0; i < n; i++)
    assert_int_equal (json_array_get_int_element (a, i), want[i]);
}

/* libvirt's view of a running domain's pins: the host CPUs vCPU 0 and the
 * emulator may run on, as bit masks of the first 8 CPUs. */
static void
live_pins (const char *name, guint *out_vcpu0, guint *out_emulator)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, name);
  unsigned char vcpu[8] = { 0 };
  unsigned char emu[8] = { 0 };

  assert_non_null (dom);
  assert_int_equal (virDomainGetVcpuPinInfo (dom, 1, vcpu, sizeof vcpu, VIR_DOMAIN_AFFECT_LIVE), 1);
  assert_int_equal (virDomainGetEmulatorPinInfo (dom, emu, sizeof emu, VIR_DOMAIN_AFFECT_LIVE), 1);
  *out_vcpu0 = vcpu[0];
  *out_emulator = emu[0];
}

static void
rig__start_pinned_refuse_second_restart_rebuilds_delete_frees (void **state)
{
  g_autofree char *config = config_for ("vfio-rig");
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autoptr(JsonNode) a = NULL;
  g_autoptr(JsonNode) refused = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autoptr(JsonNode) b = NULL;
  g_autoptr(JsonNode) b_gone = NULL;
  const char *body_a = "{\"name\": \"a\", \"image\": \"" IMAGE "\", \"vcpus\": 1, "
                       "\"memory_mib\": 256, \"root_disk_gib\": 1, "
                       "\"cpu\": {\"policy\": \"dedicated\"}}";
  const char *body_b = "{\"name\": \"b\", \"image\": \"" IMAGE "\", \"vcpus\": 1, "
                       "\"memory_mib\": 256, \"root_disk_gib\": 1, \"start\": false, "
                       "\"cpu\": {\"policy\": \"dedicated\"}}";
  const int one[] = { 1 }, zero[] = { 0 };
  guint status = 0, vcpu0 = 0, emulator = 0;
  gint64 t0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);

  /* CPU 0 is the host's: the one vCPU gets CPU 1, the emulator CPU 0. */
  t0 = g_get_monotonic_time ();
  a = gvd_test_api (d, "POST", "/v1/instances", body_a, &status);
  if (status != 201)
    fail_msg ("create a: %u %s", status, json_to_string (a, FALSE));
  print_message ("dedicated create → running: %.2f s\n", (g_get_monotonic_time () - t0) / 1e6);
  assert_string_equal (gvd_test_json_string (a, "state"), "running");
  assert_string_equal (gvd_test_json_string (a, "cpu.policy"), "dedicated");
  assert_int_array (a, "cpu.pinned", one, 1);
  assert_int_array (a, "cpu.emulator", zero, 1);
  /* libvirt applied them to the running QEMU. */
  live_pins (PREFIX "a", &vcpu0, &emulator);
  assert_int_equal (vcpu0, 0x2);
  assert_int_equal (emulator, 0x1);

  /* GET /v1/host shows the reserved CPU and who holds CPU 1. */
  {
    g_autoptr(JsonNode) host = gvd_test_api (d, "GET", "/v1/host", NULL, &status);
    JsonArray *held;
    JsonObject *first;

    assert_int_equal (status, 200);
    assert_int_array (host, "cpu.reserved", zero, 1);
    held = json_node_get_array (gvd_test_json_path (host, "cpu.dedicated"));
    assert_int_equal (json_array_get_length (held), 1);
    first = json_array_get_object_element (held, 0);
    assert_int_equal (json_object_get_int_member (first, "cpu"), 1);
    assert_string_equal (json_object_get_string_member (first, "holder"), "a");
  }

  /* No CPU left for a second one. */
  refused = gvd_test_api (d, "POST", "/v1/instances", body_b, &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (refused, "insufficient_cpus",
                         "'cpu.policy': dedicated needs 1 CPU on NUMA node 0; 0 are free "
                         "(CPU 1 held by a; CPU 0 reserved for the host)");
  gvd_test_daemon_stop (d, TRUE);

  /* A new daemon knows only libvirt: the claim comes back from a's domain. */
  d2 = gvd_test_daemon_start (config, NULL);
  gvd_test_daemon_wait_ready (d2, 10000);
  shown = gvd_test_api (d2, "GET", "/v1/instances/a", NULL, &status);
  assert_int_equal (status, 200);
  assert_int_array (shown, "cpu.pinned", one, 1);
  again = gvd_test_api (d2, "POST", "/v1/instances", body_b, &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (again, "insufficient_cpus", "CPU 1 held by a");

  /* Deleted: CPU 1 is free, and b gets it. */
  gone = gvd_test_api (d2, "DELETE", "/v1/instances/a", NULL, &status);
  assert_true (status == 200 || status == 204);
  b = gvd_test_api (d2, "POST", "/v1/instances", body_b, &status);
  if (status != 201)
    fail_msg ("create b: %u %s", status, json_to_string (b, FALSE));
  assert_int_array (b, "cpu.pinned", one, 1);
  b_gone = gvd_test_api (d2, "DELETE", "/v1/instances/b", NULL, &status);
  assert_true (status == 200 || status == 204);
  gvd_test_daemon_stop (d2, TRUE);
}

static void
server__define_only__libvirt_keeps_pins_topology_numatune (void **state)
{
  g_autofree char *config = config_for ("server-8gpu");
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  const int pins[] = { 8, 24, 9, 25 };
  const char *body = "{\"name\": \"big\", \"image\": \"" IMAGE "\", \"vcpus\": 4, "
                     "\"memory_mib\": 256, \"root_disk_gib\": 1, \"start\": false, "
                     "\"cpu\": {\"policy\": \"dedicated\", \"threads_per_core\": 2}}";
  guint status = 0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  /* The fixture's 32 CPUs do not exist here: define, never start. No GPU:
   * the roomiest node. Node 0's core 0 holds the reserved CPU 0, so node 0
   * has 7 whole free cores and node 1 has 8: node 1, its cores 8 and 9
   * with their siblings 24 and 25; the emulator on the reserved CPU 0. */
  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create: %u %s", status, json_to_string (created, FALSE));
  assert_int_array (created, "cpu.pinned", pins, 4);
  assert_int_equal (gvd_test_json_int (created, "cpu.threads_per_core"), 2);
  dom = virDomainLookupByName (fx.conn, PREFIX "big");
  assert_non_null (dom);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  assert_non_null (strstr (xml, "<vcpupin vcpu='1' cpuset='24'/>"));
  assert_non_null (strstr (xml, "<vcpupin vcpu='3' cpuset='25'/>"));
  assert_non_null (strstr (xml, "<emulatorpin cpuset='0'/>"));
  assert_non_null (strstr (xml, "<memory mode='strict' nodeset='1'/>"));
  assert_non_null (strstr (xml, "cores='2' threads='2'"));
  gone = gvd_test_api (d, "DELETE", "/v1/instances/big", NULL, &status);
  assert_true (status == 200 || status == 204);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (rig__start_pinned_refuse_second_restart_rebuilds_delete_frees),
    cmocka_unit_test (server__define_only__libvirt_keeps_pins_topology_numatune),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("vm-cpu", tests, group_setup, group_teardown);
}
