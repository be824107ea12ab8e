/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dedicated CPUs without libvirt: CPU lists, the host topology read from the
 * fixture trees, the allocator (nodes, siblings, reserved CPUs, holders,
 * refusals), CPU claims, the "cpu" request member, and the pins recovery
 * reads back from domain XML. */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "claims.h"
#include "cpu-alloc.h"
#include "cpu-topology.h"
#include "domain-xml.h"
#include "errors.h"
#include "instance-request.h"

/* ---- helpers ------------------------------------------------------------------ */

static GvdCpuTopology *
fixture_topology (const char *host)
{
  g_autofree char *root_dir = gvd_test_data_path ("data", "hosts", host, NULL);
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (root_dir);
  g_autoptr(GError) error = NULL;
  GvdCpuTopology *topo = gvd_cpu_topology_read (root, &error);

  if (topo == NULL)
    fail_msg ("%s: %s", host, error->message);
  return topo;
}

static GArray *
cpus (const char *list)
{
  g_autoptr(GError) error = NULL;
  GArray *a = gvd_cpulist_parse ("test", list, &error);

  if (a == NULL)
    fail_msg ("%s", error->message);
  return a;
}

static char *
fmt (const GArray *a)
{
  return gvd_cpulist_format ((const guint *) a->data, a->len);
}

/* Pins as "a,b,c" in vCPU order (not sorted, unlike a CPU list). */
static char *
pin_order (const GArray *a)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < a->len; i++)
    g_string_append_printf (s, "%s%u", i > 0 ? "," : "", g_array_index (a, guint, i));
  return g_string_free (s, FALSE);
}

static GHashTable *
held_new (void)
{
  return g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
}

static void
hold (GHashTable *held, const char *list, const char *holder)
{
  g_autoptr(GArray) a = cpus (list);

  for (guint i = 0; i < a->len; i++)
    g_hash_table_replace (held, GUINT_TO_POINTER (g_array_index (a, guint, i)), g_strdup (holder));
}

static GvdCpuAllocation *
alloc_ok (const GvdCpuTopology *topo, GvdCpuRequest *req, GHashTable *held)
{
  g_autoptr(GError) error = NULL;
  GvdCpuAllocation *a = gvd_cpu_alloc (topo, req, held, &error);

  if (a == NULL)
    fail_msg ("refused: %s", error->message);
  return a;
}

static GArray *
int_list (int a, int b)
{
  GArray *nodes = g_array_new (FALSE, FALSE, sizeof (int));

  g_array_append_val (nodes, a);
  if (b >= 0)
    g_array_append_val (nodes, b);
  return nodes;
}

/* ---- CPU lists ------------------------------------------------------------------ */

static void
cpulist__forms__parsed_sorted_distinct_and_formatted_back (void **state)
{
  g_autoptr(GArray) a = cpus ("8,0-3, 2 ,10-11");
  g_autoptr(GArray) empty = cpus ("");
  g_autofree char *text = fmt (a);
  guint odd[] = { 5, 1, 3, 2 };
  g_autofree char *odd_text = gvd_cpulist_format (odd, G_N_ELEMENTS (odd));

  assert_string_equal (text, "0-3,8,10-11");
  assert_int_equal (a->len, 7);
  assert_int_equal (empty->len, 0);
  assert_string_equal (odd_text, "1-3,5");
}

static void
cpulist__hostile__refused_naming_field (void **state)
{
  const char *bad[] = { "a", "1-", "-1", "3-1", "1-2-3", "1,,2", "8192", "99999999999", "0x1", " , " };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GArray) a = gvd_cpulist_parse ("reserved_cpus", bad[i], &error);

      if (a != NULL)
        fail_msg ("'%s' parsed", bad[i]);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      assert_non_null (strstr (error->message, "'reserved_cpus'"));
    }
}

/* ---- topology from the fixture trees --------------------------------------------- */

static void
topology__server_8gpu__two_nodes_of_sibling_pairs (void **state)
{
  g_autoptr(GvdCpuTopology) topo = fixture_topology ("server-8gpu");
  const GvdHostCpu *c9, *c25;

  assert_true (topo->has_nodes);
  assert_int_equal (topo->cpus->len, 32);
  assert_int_equal (gvd_cpu_topology_node_of (topo, 0), 0);
  assert_int_equal (gvd_cpu_topology_node_of (topo, 8), 1);
  assert_int_equal (gvd_cpu_topology_node_of (topo, 23), 0);
  assert_int_equal (gvd_cpu_topology_node_of (topo, 31), 1);
  assert_int_equal (gvd_cpu_topology_node_of (topo, 32), -1);
  c9 = &g_array_index (topo->cpus, GvdHostCpu, 9);
  c25 = &g_array_index (topo->cpus, GvdHostCpu, 25);
  assert_int_equal (c9->id, 9);
  assert_int_equal (c9->core, 9);
  assert_int_equal (c25->core, 9);
}

static void
topology__no_cpu_files__io_error (void **state)
{
  g_autofree char *root_dir = gvd_test_data_path ("data", "hosts", "amd-gpu", NULL);
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (root_dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCpuTopology) topo = gvd_cpu_topology_read (root, &error);

  assert_null (topo);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_IO));
  assert_non_null (strstr (error->message, "online CPUs"));
}

/* ---- allocation ------------------------------------------------------------------- */

static void
alloc__gpu_node_1__cpus_of_node_1_reserved_emulator (void **state)
{
  g_autoptr(GvdCpuTopology) topo = fixture_topology ("server-8gpu");
  g_autoptr(GArray) nodes = int_list (1, -1);
  g_autoptr(GArray) reserved = cpus ("0,16");
  GvdCpuRequest req = { .vcpus = 4, .threads_per_core = 1, .nodes = nodes, .reserved = reserved };
  g_autoptr(GvdCpuAllocation) a = alloc_ok (topo, &req, NULL);
  g_autofree char *pins = pin_order (a->pins);
  g_autofree char *emu = fmt (a->emulator);

  /* Node 1 is CPUs 8-15 and their siblings 24-31: vCPUs fill whole cores
   * (8 and 24, then 9 and 25). Node 1 has no reserved CPU: the emulator
   * goes to all reserved CPUs. */
  assert_int_equal (a->node, 1);
  assert_string_equal (pins, "8,24,9,25");
  assert_string_equal (emu, "0,16");
}

static void
alloc__threads_per_core_2__sibling_pairs_skip_half_used_cores (void **state)
{
  g_autoptr(GvdCpuTopology) topo = fixture_topology ("server-8gpu");
  g_autoptr(GArray) nodes = int_list (0, -1);
  g_autoptr(GArray) reserved = cpus ("0");
  g_autoptr(GHashTable) held = held_new ();
  GvdCpuRequest req = { .vcpus = 4, .threads_per_core = 2, .nodes = nodes, .reserved = reserved };
  g_autoptr(GvdCpuAllocation) a = NULL;
  g_autofree char *pins = NULL;
  g_autofree char *emu = NULL;

  /* Core 0 has CPU 0 reserved, core 1 has CPU 17 held: neither has two
   * free threads, so guest cores go to host cores 2 and 3. */
  hold (held, "17", "other");
  a = alloc_ok (topo, &req, held);
  pins = pin_order (a->pins);
  emu = fmt (a->emulator);
  assert_string_equal (pins, "2,18,3,19");
  /* Node 0 has a reserved CPU: the emulator runs there. */
  assert_string_equal (emu, "0");
}

static void
alloc__no_gpus__roomiest_node (void **state)
{
  g_autoptr(GvdCpuTopology) topo = fixture_topology ("server-8gpu");
  g_autoptr(GHashTable) held = held_new ();
  GvdCpuRequest req = { .vcpus = 2, .threads_per_core = 1 };
  g_autoptr(GvdCpuAllocation) a = NULL;
  g_autoptr(GvdCpuAllocation) b = NULL;

  /* Both nodes free: the lowest. No reserved CPUs: the emulator shares the
   * instance's own CPUs. */
  a = alloc_ok (topo, &req, held);
  assert_int_equal (a->node, 0);
  {
    g_autofree char *emu = fmt (a->emulator);
    g_autofree char *pins = fmt (a->pins);
    assert_string_equal (emu, pins);
  }
  /* Node 0 busier: node 1. */
  hold (held, "0-3", "a");
  b = alloc_ok (topo, &req, held);
  assert_int_equal (b->node, 1);
  assert_int_equal (g_array_index (b->pins, guint, 0), 8);
}

static void
alloc__gpus_on_two_nodes__first_with_room (void **state)
{
  g_autoptr(GvdCpuTopology) topo = fixture_topology ("server-8gpu");
  g_autoptr(GArray) nodes = int_list (0, 1);
  g_autoptr(GHashTable) held = held_new ();
  GvdCpuRequest req = { .vcpus = 8, .threads_per_core = 1, .nodes = nodes };
  g_autoptr(GvdCpuAllocation) a = NULL;

  hold (held, "0-5,16-21", "big");
  a = alloc_ok (topo, &req, held);
  /* Node 0 has 4 free: node 1 is next. The vCPUs never straddle nodes. */
  assert_int_equal (a->node, 1);
  for (guint i = 0; i < a->pins->len; i++)
    assert_int_equal (gvd_cpu_topology_node_of (topo, g_array_index (a->pins, guint, i)), 1);
}

static void
alloc__node_full__insufficient_cpus_names_node_counts_holders (void **state)
{
  g_autoptr(GvdCpuTopology) topo = fixture_topology ("server-8gpu");
  g_autoptr(GArray) nodes = int_list (1, -1);
  g_autoptr(GArray) reserved = cpus ("8");
  g_autoptr(GHashTable) held = held_new ();
  GvdCpuRequest req = { .vcpus = 8, .threads_per_core = 1, .nodes = nodes, .reserved = reserved };
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCpuAllocation) a = NULL;

  hold (held, "24-31", "a");
  hold (held, "9-10", "b");
  a = gvd_cpu_alloc (topo, &req, held, &error);
  assert_null (a);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_CPUS));
  assert_string_equal (error->message,
                       "'cpu.policy': dedicated needs 8 CPUs on NUMA node 1; 5 are free "
                       "(CPUs 9-10,24-31 held by b, a; CPU 8 reserved for the host)");
  /* The same request fits once a's CPUs are free again. */
  g_hash_table_remove_all (held);
  a = alloc_ok (topo, &req, held);
  assert_int_equal (a->pins->len, 8);
}

static void
alloc__smt_request_on_smt_less_host__invalid_argument (void **state)
{
  g_autoptr(GvdCpuTopology) topo = fixture_topology ("vfio-rig");
  GvdCpuRequest req = { .vcpus = 2, .threads_per_core = 2 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCpuAllocation) a = gvd_cpu_alloc (topo, &req, NULL, &error);

  assert_null (a);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  assert_non_null (strstr (error->message, "'cpu.threads_per_core'"));
  assert_non_null (strstr (error->message, "have 1"));
}

static void
alloc__whole_host_exhausted_cpu_by_cpu__every_cpu_once (void **state)
{
  g_autoptr(GvdCpuTopology) topo = fixture_topology ("workstation-2gpu");
  g_autoptr(GArray) reserved = cpus ("0,4");
  g_autoptr(GHashTable) held = held_new ();
  GvdCpuRequest req = { .vcpus = 2, .threads_per_core = 2, .reserved = reserved };
  g_autoptr(GError) error = NULL;

  /* 4 cores of 2 threads, core 0 reserved: three 2-vCPU instances, each on
   * a whole core, then nothing. */
  for (guint n = 0; n < 3; n++)
    {
      g_autoptr(GvdCpuAllocation) a = alloc_ok (topo, &req, held);
      g_autofree char *holder = g_strdup_printf ("i%u", n);

      assert_int_equal (a->pins->len, 2);
      assert_int_equal (g_array_index (a->pins, guint, 1), g_array_index (a->pins, guint, 0) + 4);
      for (guint i = 0; i < a->pins->len; i++)
        {
          guint cpu = g_array_index (a->pins, guint, i);
          assert_null (g_hash_table_lookup (held, GUINT_TO_POINTER (cpu)));
          g_hash_table_insert (held, GUINT_TO_POINTER (cpu), g_strdup (holder));
        }
    }
  assert_null (gvd_cpu_alloc (topo, &req, held, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_CPUS));
  assert_non_null (strstr (error->message, "needs 1 host core with 2 free threads each on NUMA node 0"));
  assert_non_null (strstr (error->message, "0 are free"));
}

/* ---- claims --------------------------------------------------------------------------- */

static void
claims__cpus__released_with_the_holders_devices (void **state)
{
  g_autoptr(GvdClaims) claims = gvd_claims_new ();

  gvd_claims_set_holder (claims, "0000:01:00.0", "a");
  gvd_claims_set_cpu_holder (claims, 0, "a");
  gvd_claims_set_cpu_holder (claims, 5, "a");
  gvd_claims_set_cpu_holder (claims, 6, "b");
  assert_int_equal (gvd_claims_count_cpus (claims), 3);
  assert_int_equal (gvd_claims_count (claims), 1); /* CPUs are not devices */
  assert_string_equal (gvd_claims_get_cpu_holder (claims, 0), "a");
  gvd_claims_release (claims, "a");
  assert_null (gvd_claims_get_cpu_holder (claims, 0));
  assert_null (gvd_claims_get_cpu_holder (claims, 5));
  assert_string_equal (gvd_claims_get_cpu_holder (claims, 6), "b");
  assert_int_equal (gvd_claims_count (claims), 0);
}

/* ---- the request member --------------------------------------------------------------- */

static GvdCreateRequest *
parse (const char *json, GError **error)
{
  g_autoptr(JsonNode) node = json_from_string (json, NULL);

  assert_non_null (node);
  return gvd_create_request_parse (json_node_get_object (node), error);
}

static void
request_cpu__valid__parsed (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = parse ("{\"name\": \"a\", \"image\": \"i\", \"vcpus\": 8, "
                                           "\"cpu\": {\"policy\": \"dedicated\", "
                                           "\"threads_per_core\": 2, \"sockets\": 2}}", &error);

  if (req == NULL)
    fail_msg ("%s", error->message);
  assert_true (req->cpu_dedicated);
  assert_int_equal (req->cpu_threads_per_core, 2);
  assert_int_equal (req->cpu_sockets, 2);
}

static void
request_cpu__hostile__refused_naming_field (void **state)
{
  static const struct {
    const char *cpu;
    const char *vcpus;
    const char *needle;
  } cases[] = {
    { "\"dedicated\"", "2", "'cpu' must be an object" },
    { "{\"policy\": \"pinned\"}", "2", "'cpu.policy'" },
    { "{\"policy\": 1}", "2", "'cpu.policy'" },
    { "{\"threads_per_core\": 0}", "2", "'cpu.threads_per_core' must be from 1 to 8" },
    { "{\"threads_per_core\": 9}", "18", "'cpu.threads_per_core' must be from 1 to 8" },
    { "{\"threads_per_core\": \"2\"}", "2", "'cpu.threads_per_core' must be a whole number" },
    { "{\"sockets\": 17}", "34", "'cpu.sockets' must be from 1 to 16" },
    { "{\"sockets\": 1.5}", "2", "'cpu.sockets' must be a whole number" },
    { "{\"threads_per_core\": 2}", "3", "'cpu.threads_per_core': 2 does not divide 'vcpus' (3)" },
    { "{\"sockets\": 4}", "6", "'cpu.sockets': 4 does not divide 'vcpus' (6)" },
    { "{\"sockets\": 2, \"threads_per_core\": 2}", "6", "'cpu.sockets': 2 sockets of 2-thread" },
    { "{\"pinning\": true}", "2", "unknown member 'cpu.pinning'" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *json = g_strdup_printf ("{\"name\": \"a\", \"image\": \"i\", \"vcpus\": %s, "
                                               "\"cpu\": %s}", cases[i].vcpus, cases[i].cpu);
      g_autoptr(GvdCreateRequest) req = parse (json, &error);

      if (req != NULL)
        fail_msg ("accepted %s", json);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      if (strstr (error->message, cases[i].needle) == NULL)
        fail_msg ("%s: '%s' lacks '%s'", json, error->message, cases[i].needle);
    }
}

/* ---- pins read back from domains (recovery) ------------------------------------------ */

static void
pinned_cpus__foreign_domain__vcpupin_and_emulatorpin_union (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) a = gvd_domain_xml_pinned_cpus (
      "<domain type='kvm'><name>hand</name><vcpu>3</vcpu><cputune>"
      "<vcpupin vcpu='0' cpuset='4'/><vcpupin vcpu='1' cpuset='5-6'/>"
      "<vcpupin vcpu='2' cpuset='4,^5'/><emulatorpin cpuset='1'/></cputune></domain>", TRUE,
      &error);
  g_autoptr(GArray) vcpus_only = gvd_domain_xml_pinned_cpus (
      "<domain><cputune><vcpupin vcpu='0' cpuset='4'/><emulatorpin cpuset='1'/></cputune></domain>",
      FALSE, &error);
  g_autoptr(GArray) none = gvd_domain_xml_pinned_cpus ("<domain><name>x</name></domain>", TRUE,
                                                       &error);
  g_autofree char *text = NULL;
  g_autofree char *text_vcpus = NULL;

  if (a == NULL || vcpus_only == NULL)
    fail_msg ("%s", error->message);
  text = fmt (a);
  assert_string_equal (text, "1,4-6");
  text_vcpus = fmt (vcpus_only);
  assert_string_equal (text_vcpus, "4");
  assert_non_null (none);
  assert_int_equal (none->len, 0);
}

static void
pinned_cpus__hostile_cpuset__error (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) a = gvd_domain_xml_pinned_cpus (
      "<domain><cputune><vcpupin vcpu='0' cpuset='99999'/></cputune></domain>", TRUE, &error);

  assert_null (a);
  assert_non_null (error);
}

static char *
golden (void)
{
  g_autofree char *path = gvd_test_data_path ("data", "domain", "eight-gpus.xml", NULL);
  char *xml = NULL;

  assert_true (g_file_get_contents (path, &xml, NULL, NULL));
  return xml;
}

static void
parse__golden_pins__read_back_in_vcpu_order (void **state)
{
  g_autofree char *xml = golden ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdInstanceSpec) spec = gvd_domain_xml_parse (xml, &error);
  g_autofree char *emu = NULL;

  if (spec == NULL)
    fail_msg ("%s", error->message);
  assert_int_equal (spec->vcpu_pins->len, 64);
  assert_int_equal (g_array_index (spec->vcpu_pins, guint, 0), 32);
  assert_int_equal (g_array_index (spec->vcpu_pins, guint, 1), 96);
  assert_int_equal (g_array_index (spec->vcpu_pins, guint, 63), 127);
  emu = fmt (spec->emulator_pins);
  assert_string_equal (emu, "0,64");
}

static void
parse__edited_pins__recovered_without_pins_cpus_still_found (void **state)
{
  /* virsh vcpupin and friends can leave pins gpuvmd would not write: the
   * instance is still recovered (shared in its JSON), and every CPU its
   * vcpupins name is still found for the claims. */
  static const struct {
    const char *from, *to, *cpus;
  } cases[] = {
    { "<vcpupin vcpu=\"1\" cpuset=\"96\"/>", "<vcpupin vcpu=\"1\" cpuset=\"96-97\"/>",
      "32-63,96-127" },
    { "<vcpupin vcpu=\"5\" cpuset=\"98\"/>", "", "32-63,96-97,99-127" },
    { "<vcpupin vcpu=\"5\" cpuset=\"98\"/>", "<vcpupin vcpu=\"64\" cpuset=\"98\"/>",
      "32-63,96-127" },
    { "<vcpupin vcpu=\"5\" cpuset=\"98\"/>", "<vcpupin vcpu=\"4\" cpuset=\"98\"/>",
      "32-63,96-127" },
    { "<emulatorpin cpuset=\"0,64\"/>", "<emulatorpin cpuset=\"zero\"/>", "32-63,96-127" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *xml = golden ();
      g_autoptr(GString) s = g_string_new (xml);
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdInstanceSpec) spec = NULL;
      g_autoptr(GArray) pinned = NULL;
      g_autofree char *text = NULL;

      assert_true (g_string_replace (s, cases[i].from, cases[i].to, 1) == 1);
      spec = gvd_domain_xml_parse (s->str, &error);
      if (spec == NULL)
        fail_msg ("case %" G_GSIZE_FORMAT ": %s", i, error->message);
      assert_null (spec->vcpu_pins);
      assert_null (spec->emulator_pins);
      assert_int_equal (spec->vcpus, 64);
      pinned = gvd_domain_xml_pinned_cpus (s->str, FALSE, &error);
      assert_non_null (pinned);
      text = fmt (pinned);
      assert_string_equal (text, cases[i].cpus);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (cpulist__forms__parsed_sorted_distinct_and_formatted_back),
    cmocka_unit_test (cpulist__hostile__refused_naming_field),
    cmocka_unit_test (topology__server_8gpu__two_nodes_of_sibling_pairs),
    cmocka_unit_test (topology__no_cpu_files__io_error),
    cmocka_unit_test (alloc__gpu_node_1__cpus_of_node_1_reserved_emulator),
    cmocka_unit_test (alloc__threads_per_core_2__sibling_pairs_skip_half_used_cores),
    cmocka_unit_test (alloc__no_gpus__roomiest_node),
    cmocka_unit_test (alloc__gpus_on_two_nodes__first_with_room),
    cmocka_unit_test (alloc__node_full__insufficient_cpus_names_node_counts_holders),
    cmocka_unit_test (alloc__smt_request_on_smt_less_host__invalid_argument),
    cmocka_unit_test (alloc__whole_host_exhausted_cpu_by_cpu__every_cpu_once),
    cmocka_unit_test (claims__cpus__released_with_the_holders_devices),
    cmocka_unit_test (request_cpu__valid__parsed),
    cmocka_unit_test (request_cpu__hostile__refused_naming_field),
    cmocka_unit_test (pinned_cpus__foreign_domain__vcpupin_and_emulatorpin_union),
    cmocka_unit_test (pinned_cpus__hostile_cpuset__error),
    cmocka_unit_test (parse__golden_pins__read_back_in_vcpu_order),
    cmocka_unit_test (parse__edited_pins__recovered_without_pins_cpus_still_found),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
