/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU hot-plug through the API against the real libvirtd, on a stopped
 * instance (this host has no IOMMU: the live path is proven in the rig,
 * tests/test-vfio.c): hostile requests refused by field, no free port is a
 * 409 naming hotplug_ports and claims nothing, a group attached to the
 * persistent definition with its metadata, held against another instance
 * and rebuilt by recovery after kill -9, then detached with its claim
 * released. The host is the server-8gpu fixture. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <string.h>

#include "domain-xml-hotplug.h"
#include "virt-conn.h"

#define PREFIX "gvdtest-gpuplug-"
#define POOL "gvdtest-gpuplug"
#define POOL_PATH "/var/tmp/gvdtest-gpuplug-pool"
#define IMAGE "gvdtest-gpuplug.raw"
#define GPU "0000:83:00.0"
#define CONFIG                                               \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n"                                         \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\n%s"                                          \
  "[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\n"

typedef struct {
  char *state_dir;
  char *image_file;
  char *fixture;
  virConnectPtr conn;
} Fixture;

static Fixture fx;

static char *
config (const char *instances_keys)
{
  return g_strdup_printf (CONFIG, fx.state_dir, fx.state_dir, instances_keys, fx.fixture,
                          fx.fixture);
}

static int
group_setup (void **state)
{
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  fx.state_dir = g_dir_make_tmp ("gvdtest-gpuplug-XXXXXX", NULL);
  assert_non_null (fx.state_dir);
  fx.fixture = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);
  fx.image_file = g_build_filename (fx.state_dir, IMAGE, NULL);
  {
    FILE *f = fopen (fx.image_file, "w");
    assert_non_null (f);
    assert_int_equal (fseek (f, 64 * 1024 * 1024 - 1, SEEK_SET), 0);
    assert_int_equal (fputc (0, f), 0);
    fclose (f);
  }
  return 0;
}

static int
group_teardown (void **state)
{
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  virConnectClose (fx.conn);
  gvd_test_rm_rf (fx.state_dir);
  g_free (fx.state_dir);
  g_free (fx.image_file);
  g_free (fx.fixture);
  return 0;
}

static void
expect (GvdTestDaemon *d, const char *method, const char *path, const char *body, guint want,
        const char *code, const char *needle)
{
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_api (d, method, path, body, &status);

  if (status != want)
    fail_msg ("%s %s %s: %u, want %u", method, path, body ? body : "", status, want);
  if (code != NULL)
    gvd_test_assert_error (n, code, needle);
}

static char *
config_xml (const char *name)
{
  g_autofree char *dn = g_strconcat (PREFIX, name, NULL);
  g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, dn);

  return dom != NULL ? virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE) : NULL;
}

/* The holder a plan for @address names, or NULL when it is free. */
static char *
holder_of (GvdTestDaemon *d, const char *address)
{
  g_autofree char *body = g_strdup_printf ("{\"devices\": [\"%s\"]}", address);
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/plans", body, &status);
  g_autofree char *text = json_to_string (n, FALSE);
  const char *h;

  if (status == 200)
    return NULL;
  h = strstr (text, "\"holder\":\"");
  return h != NULL ? g_strndup (h + 10, strcspn (h + 10, "\"")) : g_strdup ("?");
}

static guint
devices_len (JsonNode *inst)
{
  JsonNode *devs = json_object_get_member (json_node_get_object (inst), "devices");

  return json_array_get_length (json_node_get_array (devs));
}

static void
no_free_port__409_naming_hotplug_ports__nothing_claimed (void **state)
{
  g_autofree char *conf = config ("hotplug_ports=0\n");
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (conf, NULL);
  g_autofree char *holder = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *body = NULL;
  g_autoptr(GArray) ports = NULL;

  gvd_test_daemon_wait_ready (d, 30000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  expect (d, "POST", "/v1/instances",
          "{\"name\": \"p0\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false}", 201,
          NULL, NULL);
  /* libvirt may leave a port empty by itself: ask for one GPU more than
   * there are free ports (single-function GPUs on this fixture). */
  xml = config_xml ("p0");
  assert_non_null (xml);
  ports = gvd_domain_xml_free_root_ports (xml, NULL);
  assert_non_null (ports);
  print_message ("free root ports with hotplug_ports=0: %u\n", ports->len);
  body = g_strdup_printf ("{\"count\": %u}", ports->len + 1);
  expect (d, "POST", "/v1/instances/p0/gpus", body, 409, "conflict", "hotplug_ports");
  holder = holder_of (d, GPU);
  assert_null (holder);
  g_clear_pointer (&xml, g_free);
  xml = config_xml ("p0");
  assert_null (strstr (xml, "<hostdev"));
  expect (d, "DELETE", "/v1/instances/p0", NULL, 204, NULL, NULL);
  gvd_test_daemon_stop (d, TRUE);
}

static void
stopped__attach_held_recovered_detached__claims_follow (void **state)
{
  g_autofree char *conf = config ("");
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (conf, NULL);
  g_autoptr(JsonNode) inst = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *holder = NULL;
  guint status = 0;

  gvd_test_daemon_wait_ready (d, 30000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  expect (d, "POST", "/v1/instances",
          "{\"name\": \"a\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false}", 201,
          NULL, NULL);

  /* Hostile requests, each refused naming what is wrong. */
  expect (d, "POST", "/v1/instances/a/gpus", "{}", 400, "invalid_argument", "'devices'");
  expect (d, "POST", "/v1/instances/a/gpus", "{\"count\": 0}", 400, "invalid_argument", "'count'");
  expect (d, "POST", "/v1/instances/a/gpus", "{\"devices\": [\"" GPU "\"], \"count\": 1}", 400,
          "invalid_argument", "exclude");
  expect (d, "POST", "/v1/instances/a/gpus", "{\"devices\": [\"nope\"]}", 404, "device_not_found",
          "devices[0]");
  expect (d, "POST", "/v1/instances/a/gpus", "[1]", 400, NULL, NULL);
  expect (d, "POST", "/v1/instances/ghost/gpus", "{\"devices\": [\"" GPU "\"]}", 404, "not_found",
          "ghost");
  expect (d, "GET", "/v1/instances/a/gpus", NULL, 405, NULL, NULL);
  expect (d, "DELETE", "/v1/instances/a/gpus/zz:zz", NULL, 400, "invalid_argument", "address: 'zz:zz'");
  expect (d, "DELETE", "/v1/instances/a/gpus/" GPU, NULL, 404, "device_not_found", GPU);
  /* The boot VGA is the host's console: refused by the planner. */
  expect (d, "POST", "/v1/instances/a/gpus", "{\"devices\": [\"0000:0c:00.0\"]}", 422, NULL, NULL);

  inst = gvd_test_api (d, "POST", "/v1/instances/a/gpus", "{\"devices\": [\"" GPU "\"]}", &status);
  assert_int_equal (status, 200);
  assert_int_equal (devices_len (inst), 1);
  xml = config_xml ("a");
  assert_non_null (strstr (xml, "<alias name='ua-gpu-0000-83-00-0'/>"));
  assert_non_null (strstr (xml, "managed='yes'"));
  holder = holder_of (d, GPU);
  assert_string_equal (holder, "a");
  /* Another instance may not have it. */
  expect (d, "POST", "/v1/instances",
          "{\"name\": \"b\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false, "
          "\"devices\": [\"" GPU "\"]}",
          409, "device_in_use", NULL);

  /* kill -9: the next gpuvmd finds the group in the definition and its
   * metadata, and holds it for "a" again. */
  g_subprocess_send_signal (d->proc, SIGKILL);
  g_subprocess_wait (d->proc, NULL, NULL);
  g_clear_object (&d->proc);
  g_clear_pointer (&d, gvd_test_daemon_free);
  d = gvd_test_daemon_start (conf, NULL);
  gvd_test_daemon_wait_ready (d, 30000);
  g_clear_pointer (&holder, g_free);
  holder = holder_of (d, GPU);
  assert_string_equal (holder, "a");
  g_clear_pointer (&inst, json_node_unref);
  inst = gvd_test_api (d, "GET", "/v1/instances/a", NULL, &status);
  assert_int_equal (devices_len (inst), 1);

  /* Cold detach: out of the definition, claim released. */
  g_clear_pointer (&inst, json_node_unref);
  inst = gvd_test_api (d, "DELETE", "/v1/instances/a/gpus/" GPU, NULL, &status);
  assert_int_equal (status, 200);
  assert_int_equal (devices_len (inst), 0);
  g_clear_pointer (&xml, g_free);
  xml = config_xml ("a");
  assert_null (strstr (xml, "<hostdev"));
  g_clear_pointer (&holder, g_free);
  holder = holder_of (d, GPU);
  assert_null (holder);
  expect (d, "DELETE", "/v1/instances/a", NULL, 204, NULL, NULL);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (no_free_port__409_naming_hotplug_ports__nothing_claimed),
    cmocka_unit_test (stopped__attach_held_recovered_detached__claims_follow),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
