/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dedicated CPUs in the instance manager, without root or libvirtd: a daemon
 * built in this process on the fixture host server-8gpu (2 NUMA nodes of 8
 * two-thread cores; GPUs 03:00.0 on node 0 and 83:00.0 on node 1) and
 * libvirt's test:///default. Covers the pins a create renders, the CPU
 * claims rebuilt from gpuvmd's and foreign domains, a second create
 * getting other CPUs or being refused, the release when the domain goes, a
 * rolled-back create, and the instance JSON. Define and start with pins on
 * the real libvirtd: tests/test-vm-cpu. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"
#include "testlib-manager.h"

#include <libvirt/libvirt.h>
#include <string.h>

#include "cpu-alloc.h"
#include "domain-xml.h"
#include "errors.h"
#include "instance.h"
#include "instance-request.h"

#define PREFIX "gvdcpu-"
#define POOL "gvdcpu"
#define POOL_PATH "/gvdcpu-pool"
#define GPU_NODE0 "0000:03:00.0"
#define GPU_NODE1 "0000:83:00.0"
#define GPU_NODE1B "0000:84:00.0"

typedef GvdTestInproc Fixture;

static int
setup (void **state)
{
  /* CPU 0 and its sibling 16 kept for the host. */
  Fixture *f = gvd_test_inproc_new ("server-8gpu",
                                    "[libvirt]\ndomain_prefix=" PREFIX "\n"
                                    "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"
                                    "[host]\nreserved_cpus=0,16\n");

  gvd_test_daemon_start_ready (f->d);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  gvd_test_inproc_free (*state);
  return 0;
}

/* A dry run of a dedicated @vcpus instance on @device: its domain XML. */
static char *
dry_run_xml (Fixture *f, const char *name, const char *device, guint vcpus)
{
  g_autofree char *json = g_strdup_printf ("{\"name\": \"%s\", \"image\": \"base.qcow2\", "
                                           "\"devices\": [\"%s\"], \"vcpus\": %u, "
                                           "\"cpu\": {\"policy\": \"dedicated\"}, "
                                           "\"dry_run\": true}", name, device, vcpus);

  return gvd_test_dry_run_xml (f->d, json);
}

/* The host CPUs the vcpupins of @xml name, as a CPU list. */
static char *
pins_of (const char *xml)
{
  g_autoptr(GArray) vcpu = g_array_new (FALSE, FALSE, sizeof (guint));
  const char *p = xml;

  while ((p = strstr (p, "<vcpupin ")) != NULL)
    {
      const char *c = strstr (p, "cpuset=\"");
      guint cpu;

      assert_non_null (c);
      cpu = (guint) g_ascii_strtoull (c + 8, NULL, 10);
      g_array_append_val (vcpu, cpu);
      p = c;
    }
  return gvd_cpulist_format ((guint *) vcpu->data, vcpu->len);
}

static gboolean
no_cpu_claims (gpointer data)
{
  return gvd_claims_count_cpus (((Fixture *) data)->d->claims) == 0;
}

/* ---- create ------------------------------------------------------------------ */

static void
create__dedicated_on_node1_gpu__pins_numatune_emulator_nothing_kept (void **state)
{
  Fixture *f = *state;
  g_autofree char *xml = dry_run_xml (f, "p", GPU_NODE1, 4);
  g_autofree char *pins = pins_of (xml);

  /* Node 1: CPUs 8-15 and siblings 24-31, whole cores first. */
  assert_string_equal (pins, "8-9,24-25");
  assert_non_null (strstr (xml, "<vcpupin vcpu=\"0\" cpuset=\"8\"/>"));
  assert_non_null (strstr (xml, "<vcpupin vcpu=\"1\" cpuset=\"24\"/>"));
  assert_non_null (strstr (xml, "<emulatorpin cpuset=\"0,16\"/>"));
  assert_non_null (strstr (xml, "<memory mode=\"strict\" nodeset=\"1\"/>"));
  assert_non_null (strstr (xml, "<topology sockets=\"1\" dies=\"1\" cores=\"4\" threads=\"1\"/>"));
  /* A dry run gives its CPUs back. */
  assert_int_equal (gvd_claims_count_cpus (f->d->claims), 0);
}

static void
create__topology_only__shared_no_pins (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;
  const char *xml;

  gvd_test_create (f->d, "{\"name\": \"s\", \"image\": \"base.qcow2\", \"vcpus\": 8, "
                         "\"dry_run\": true, \"cpu\": {\"policy\": \"shared\", \"sockets\": 2, "
                         "\"threads_per_core\": 2}}", &r);
  if (r.doc == NULL)
    fail_msg ("%s", r.error->message);
  xml = gvd_test_json_string (r.doc, "domain_xml");
  assert_non_null (strstr (xml, "<topology sockets=\"2\" dies=\"1\" cores=\"2\" threads=\"2\"/>"));
  assert_null (strstr (xml, "cputune"));
  assert_null (strstr (xml, "numatune"));
  gvd_test_result_clear (&r);
}

/* ---- claims across creates, rebuilt from libvirt -------------------------------- */

static void
recover__pinned_domain__claims_rebuilt_next_create_gets_other_cpus_or_refused (void **state)
{
  Fixture *f = *state;
  g_autofree char *xml = dry_run_xml (f, "first", GPU_NODE1, 8);
  g_autofree char *first = pins_of (xml);
  g_autofree char *second_xml = NULL;
  g_autofree char *second = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) doc = NULL;
  GvdInstance *inst;
  JsonArray *pinned;
  GvdTestResult r;

  /* Defined (as by an earlier gpuvmd run): recovery adopts it and its CPUs
   * are claimed under its name. */
  dom = virDomainDefineXML (f->conn, xml);
  if (dom == NULL)
    fail_msg ("define: %s", virGetLastErrorMessage ());
  gvd_test_wait_instance (f->d, "first", TRUE);
  assert_string_equal (first, "8-11,24-27");
  assert_int_equal (gvd_claims_count_cpus (f->d->claims), 8);
  assert_string_equal (gvd_claims_get_cpu_holder (f->d->claims, 8), "first");
  assert_string_equal (gvd_claims_get_cpu_holder (f->d->claims, 27), "first");
  assert_null (gvd_claims_get_cpu_holder (f->d->claims, 0)); /* reserved, never claimed */

  /* Its JSON shows the pins recovered from the domain. */
  inst = gvd_instance_manager_lookup (f->d->instances, "first");
  gvd_instance_write_json (f->d->instances, inst, b);
  doc = json_builder_get_root (b);
  assert_string_equal (gvd_test_json_string (doc, "cpu.policy"), "dedicated");
  pinned = json_node_get_array (gvd_test_json_path (doc, "cpu.pinned"));
  assert_int_equal (json_array_get_length (pinned), 8);
  assert_int_equal (json_array_get_int_element (pinned, 0), 8);
  assert_int_equal (json_array_get_int_element (pinned, 1), 24);
  assert_int_equal (json_array_get_int_element (
                        json_node_get_array (gvd_test_json_path (doc, "cpu.emulator")), 1), 16);

  /* A second instance on node 1 gets the other CPUs... */
  second_xml = dry_run_xml (f, "second", GPU_NODE1B, 8);
  second = pins_of (second_xml);
  assert_string_equal (second, "12-15,28-31");

  /* ...and one that does not fit is refused, naming the node, the counts
   * and the holder; nothing is kept. */
  gvd_test_create (f->d, "{\"name\": \"third\", \"image\": \"base.qcow2\", \"vcpus\": 10, "
                         "\"dry_run\": true, \"devices\": [\"" GPU_NODE1B "\"], "
                         "\"cpu\": {\"policy\": \"dedicated\"}}", &r);
  assert_null (r.doc);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_CPUS));
  assert_string_equal (r.error->message,
                       "'cpu.policy': dedicated needs 10 CPUs on NUMA node 1; 8 are free "
                       "(CPUs 8-11,24-27 held by first)");
  assert_null (gvd_instance_manager_lookup (f->d->instances, "third"));
  assert_int_equal (gvd_claims_count (f->d->claims), 1); /* first's GPU only */
  gvd_test_result_clear (&r);

  /* Undefined: its CPUs are free again. */
  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_iterate_until (no_cpu_claims, f);
}

static void
recover__pins_edited_outside__instance_kept_its_cpus_claimed (void **state)
{
  Fixture *f = *state;
  g_autofree char *xml = dry_run_xml (f, "edited", GPU_NODE1, 2);
  g_autoptr(GString) s = g_string_new (xml);
  g_autoptr(virDomain) dom = NULL;
  GvdInstance *inst;

  /* As after `virsh vcpupin edited 1 24-25 --config`: not gpuvmd's shape,
   * but the instance is still recovered and every CPU named is taken. */
  assert_int_equal (g_string_replace (s, "<vcpupin vcpu=\"1\" cpuset=\"24\"/>",
                                      "<vcpupin vcpu=\"1\" cpuset=\"24-25\"/>", 1), 1);
  dom = virDomainDefineXML (f->conn, s->str);
  if (dom == NULL)
    fail_msg ("define: %s", virGetLastErrorMessage ());
  gvd_test_wait_instance (f->d, "edited", TRUE);
  inst = gvd_instance_manager_lookup (f->d->instances, "edited");
  assert_null (inst->spec->vcpu_pins);
  assert_int_equal (gvd_claims_count_cpus (f->d->claims), 3);
  assert_string_equal (gvd_claims_get_cpu_holder (f->d->claims, 8), "edited");
  assert_string_equal (gvd_claims_get_cpu_holder (f->d->claims, 24), "edited");
  assert_string_equal (gvd_claims_get_cpu_holder (f->d->claims, 25), "edited");
  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_iterate_until (no_cpu_claims, f);
}

static gboolean
foreign_claimed (gpointer data)
{
  const char *h = gvd_claims_get_cpu_holder (((Fixture *) data)->d->claims, 5);

  return h != NULL && g_str_equal (h, "domain:hand-pinned");
}

static void
recover__foreign_pins__claimed_then_released (void **state)
{
  Fixture *f = *state;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *pins = NULL;

  /* A domain made by hand that pins CPUs 1-7 of node 0 (and its emulator
   * to 17): gpuvmd must not hand them out. */
  dom = virDomainDefineXML (f->conn,
                            "<domain type='test'><name>hand-pinned</name><memory>65536</memory>"
                            "<vcpu>7</vcpu><cputune>"
                            "<vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='1' cpuset='2'/>"
                            "<vcpupin vcpu='2' cpuset='3'/><vcpupin vcpu='3' cpuset='4'/>"
                            "<vcpupin vcpu='4' cpuset='5'/><vcpupin vcpu='5' cpuset='6'/>"
                            "<vcpupin vcpu='6' cpuset='7'/><emulatorpin cpuset='17'/>"
                            "</cputune><os><type>hvm</type></os></domain>");
  if (dom == NULL)
    fail_msg ("define: %s", virGetLastErrorMessage ());
  gvd_test_iterate_until (foreign_claimed, f);
  assert_int_equal (gvd_claims_count_cpus (f->d->claims), 8);
  /* Node 0 keeps 0,16 for the host; 1-7 and 17 are the hand-made
   * domain's: 6 CPUs (18-23) are left. */
  xml = dry_run_xml (f, "n0", GPU_NODE0, 6);
  pins = pins_of (xml);
  assert_string_equal (pins, "18-23");

  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_iterate_until (no_cpu_claims, f);
}

/* ---- a failed create gives its CPUs back ------------------------------------------ */

static void
create__rolled_back__cpu_claims_released (void **state)
{
  Fixture *f = *state;
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(virStorageVol) vol = NULL;
  GvdTestResult r;

  pool = virStoragePoolDefineXML (f->conn,
                                  "<pool type='dir'><name>" POOL "</name>"
                                  "<target><path>" POOL_PATH "</path></target></pool>", 0);
  assert_non_null (pool);
  assert_int_equal (virStoragePoolCreate (pool, 0), 0);
  vol = virStorageVolCreateXML (pool, "<volume><name>base.qcow2</name><capacity>1048576</capacity>"
                                      "<target><format type='qcow2'/></target></volume>", 0);
  assert_non_null (vol);
  /* Planned, claimed (GPU and CPUs), then the test driver fails the seed
   * upload: everything is rolled back, the CPUs too. */
  gvd_test_create (f->d, "{\"name\": \"roll\", \"image\": \"base.qcow2\", \"vcpus\": 2, "
                         "\"start\": false, \"devices\": [\"" GPU_NODE1 "\"], "
                         "\"cpu\": {\"policy\": \"dedicated\"}}", &r);
  assert_null (r.doc);
  assert_non_null (r.error);
  assert_false (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_CPUS));
  assert_int_equal (gvd_claims_count_cpus (f->d->claims), 0);
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  gvd_test_result_clear (&r);
  virStoragePoolDestroy (pool);
  virStoragePoolUndefine (pool);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (
        create__dedicated_on_node1_gpu__pins_numatune_emulator_nothing_kept, setup, teardown),
    cmocka_unit_test_setup_teardown (create__topology_only__shared_no_pins, setup, teardown),
    cmocka_unit_test_setup_teardown (
        recover__pinned_domain__claims_rebuilt_next_create_gets_other_cpus_or_refused, setup,
        teardown),
    cmocka_unit_test_setup_teardown (recover__foreign_pins__claimed_then_released, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (
        recover__pins_edited_outside__instance_kept_its_cpus_claimed, setup, teardown),
    cmocka_unit_test_setup_teardown (create__rolled_back__cpu_claims_released, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
