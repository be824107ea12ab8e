/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Several NICs per instance, the pure parts: the request's "networks"
 * member, one IPAM lease per NIC (allocation, release, recovery), and SR-IOV
 * VFs on the sriov-nic fixture host: inventory and planning. */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "errors.h"
#include "hostinfo.h"
#include "instance-request.h"
#include "ipam.h"
#include "vfio-plan.h"

#define PF "0000:42:00.0"
#define VF0 "0000:42:00.2"
#define VF1 "0000:42:00.3"
#define GPU0 "0000:41:00.0"
#define UUID "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"

static JsonObject *
parse_json (const char *text)
{
  g_autoptr(JsonParser) p = json_parser_new ();

  if (!json_parser_load_from_data (p, text, -1, NULL))
    fail_msg ("bad JSON in test: %s", text);
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

/* ---- the request -------------------------------------------------------------- */

static void
parse__networks__every_nic_kept_in_order (void **state)
{
  g_autoptr(JsonObject) body = parse_json (
    "{\"name\": \"fab-1\", \"image\": \"i\", \"networks\": ["
    " {\"mode\": \"user\"},"
    " {\"mode\": \"bridge\", \"source\": \"br-gvd\", \"ipv4\": \"10.77.0.9\","
    "  \"mac\": \"52:54:00:AA:BB:CC\"},"
    " {\"mode\": \"network\", \"source\": \"gvd-fabric\"},"
    " {\"mode\": \"sriov\", \"device\": \"42:00.2\"}]}");
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (body, &error);
  const GvdNicSpec *n;

  if (req == NULL)
    fail_msg ("parse: %s", error->message);
  assert_false (req->network_set);
  assert_int_equal (req->networks->len, 4);
  n = g_ptr_array_index (req->networks, 0);
  assert_int_equal (n->mode, GVD_NETWORK_USER);
  assert_null (n->source);
  n = g_ptr_array_index (req->networks, 1);
  assert_int_equal (n->mode, GVD_NETWORK_BRIDGE);
  assert_string_equal (n->source, "br-gvd");
  assert_string_equal (n->ipv4, "10.77.0.9");
  assert_string_equal (n->mac, "52:54:00:aa:bb:cc"); /* canonical */
  n = g_ptr_array_index (req->networks, 2);
  assert_int_equal (n->mode, GVD_NETWORK_NETWORK);
  assert_string_equal (n->source, "gvd-fabric");
  n = g_ptr_array_index (req->networks, 3);
  assert_int_equal (n->mode, GVD_NETWORK_SRIOV);
  assert_string_equal (n->device, "42:00.2"); /* resolved by the instance manager */
}

static void
parse__bad_networks__refused_naming_field (void **state)
{
  static const struct { const char *json, *expect; } cases[] = {
    { "\"networks\": {}", "'networks' must be an array" },
    { "\"networks\": []", "'networks' is empty" },
    { "\"networks\": [1]", "'networks[0]' must be an object" },
    { "\"networks\": [{}]", "'networks[0].mode' is required" },
    { "\"networks\": [{\"mode\": \"nat\"}]", "'networks[0].mode' must be user, bridge, network or sriov" },
    { "\"networks\": [{\"mode\": 1}]", "'networks[0].mode' must be a string" },
    { "\"networks\": [{\"mode\": \"user\"}, {\"mode\": \"bridge\"}]", "'networks[1].source' is required" },
    { "\"networks\": [{\"mode\": \"user\"}, {\"mode\": \"bridge\", \"source\": \"br 0\"}]", "'networks[1].source' must be an interface or network name" },
    { "\"networks\": [{\"mode\": \"bridge\", \"source\": \"\"}]", "'networks[0].source' is empty" },
    { "\"networks\": [{\"mode\": \"user\", \"source\": \"br0\"}]", "'networks[0].source' needs bridge" },
    { "\"networks\": [{\"mode\": \"user\", \"ipv4\": \"10.0.0.5\"}]", "'networks[0].ipv4' needs bridge" },
    { "\"networks\": [{\"mode\": \"bridge\", \"source\": \"b\", \"ipv4\": \"10.0.0\"}]", "'networks[0].ipv4' '10.0.0' is not an IPv4 address" },
    { "\"networks\": [{\"mode\": \"user\", \"mac\": \"01:00:5e:00:00:01\"}]", "'networks[0].mac'" },
    { "\"networks\": [{\"mode\": \"user\", \"mac\": \"00:00:00:00:00:00\"}]", "'networks[0].mac'" },
    { "\"networks\": [{\"mode\": \"user\", \"mac\": \"52:54:00:zz:00:01\"}]", "'networks[0].mac'" },
    { "\"networks\": [{\"mode\": \"user\", \"mac\": \"52:54:00:00:00:01\"}, {\"mode\": \"user\", \"mac\": \"52:54:00:00:00:01\"}]", "'networks[1].mac' 52:54:00:00:00:01 is already used" },
    { "\"networks\": [{\"mode\": \"sriov\"}]", "'networks[0].device' is required" },
    { "\"networks\": [{\"mode\": \"sriov\", \"device\": \"42:00.2\", \"source\": \"x\"}]", "'networks[0].source' is not used in sriov mode" },
    { "\"networks\": [{\"mode\": \"sriov\", \"device\": \"42:00.2\", \"ipv4\": \"10.0.0.5\"}]", "'networks[0].ipv4' is not allocated in sriov mode" },
    { "\"networks\": [{\"mode\": \"user\", \"device\": \"42:00.2\"}]", "'networks[0].device' is only for network mode sriov" },
    { "\"networks\": [{\"mode\": \"sriov\", \"device\": \"a\"}, {\"mode\": \"sriov\", \"device\": \"a\"}]", "'networks[1].device' a is already used" },
    { "\"networks\": [{\"mode\": \"user\", \"vlan\": 5}]", "unknown member 'networks[0].vlan'" },
    { "\"networks\": [{\"mode\": \"user\"}], \"network\": {\"mode\": \"user\"}", "either 'network' (one NIC) or 'networks'" },
    { "\"network\": {\"mode\": \"user\"}, \"networks\": [{\"mode\": \"user\"}]", "either 'network' (one NIC) or 'networks'" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"name\": \"a\", \"image\": \"i\", %s}",
                                               cases[i].json);
      g_autoptr(JsonObject) body = parse_json (json);
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (body, &error);

      assert_null (req);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      if (strstr (error->message, cases[i].expect) == NULL)
        fail_msg ("case %zu (%s): '%s' lacks '%s'", i, json, error->message, cases[i].expect);
    }
}

static void
parse__seventeen_nics__refused (void **state)
{
  g_autoptr(GString) json = g_string_new ("{\"name\": \"a\", \"image\": \"i\", \"networks\": [");
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = NULL;

  for (int i = 0; i < 17; i++)
    g_string_append_printf (json, "%s{\"mode\": \"user\"}", i ? "," : "");
  g_string_append (json, "]}");
  body = parse_json (json->str);
  req = gvd_create_request_parse (body, &error);
  assert_null (req);
  assert_non_null (strstr (error->message, "'networks' has 17 entries; at most 16"));
}

/* ---- IPAM: a lease per NIC ---------------------------------------------------- */

static void
ipam__three_nics__own_macs_addresses_released_together (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdIpam) ipam = gvd_ipam_new ("10.77.0.0/24", "10.77.0.1", &error);
  g_autofree char *o1 = gvd_ipam_nic_owner ("fab-1", 1);
  g_autofree char *o2 = gvd_ipam_nic_owner ("fab-1", 2);
  g_autofree char *mac0 = NULL, *ip0 = NULL, *mac1 = NULL, *ip1 = NULL, *mac2 = NULL,
                  *ip2 = NULL;
  g_autofree char *d1 = gvd_ipam_derive_mac (UUID, 1);
  g_autofree char *other_mac = NULL, *other_ip = NULL;

  assert_non_null (ipam);
  assert_string_equal (o1, "fab-1#1");
  g_autofree char *o0 = gvd_ipam_nic_owner ("fab-1", 0);
  assert_string_equal (o0, "fab-1");
  /* NIC 0 as always; NIC 1 on the cidr network; NIC 2 elsewhere (no IP). */
  assert_true (gvd_ipam_allocate (ipam, "fab-1", UUID, &mac0, &ip0, &error));
  assert_true (gvd_ipam_allocate_nic (ipam, o1, UUID, NULL, NULL, TRUE, &mac1, &ip1, &error));
  assert_true (gvd_ipam_allocate_nic (ipam, o2, UUID, NULL, NULL, FALSE, &mac2, &ip2, &error));
  assert_string_equal (ip0, "10.77.0.2/24");
  assert_string_equal (ip1, "10.77.0.3/24");
  assert_null (ip2);
  /* Derived per index: NIC 1's is the uuid's derivation 1. */
  assert_string_equal (mac1, d1);
  assert_string_not_equal (mac0, mac1);
  assert_string_not_equal (mac1, mac2);
  assert_int_equal (gvd_ipam_get_n_owners (ipam), 3);

  /* One release frees all three. */
  assert_true (gvd_ipam_release (ipam, "fab-1"));
  assert_int_equal (gvd_ipam_get_n_owners (ipam), 0);
  assert_false (gvd_ipam_release (ipam, "fab-1"));
  assert_true (gvd_ipam_allocate (ipam, "next", "another-seed", &other_mac, &other_ip, &error));
  assert_string_equal (other_ip, "10.77.0.2/24");
}

static void
ipam__client_mac_and_ip__conflicts_named (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdIpam) ipam = gvd_ipam_new ("10.77.0.0/24", NULL, &error);
  g_autofree char *mac = NULL, *ip = NULL;

  assert_true (gvd_ipam_allocate_nic (ipam, "a#1", UUID, "52:54:00:aa:bb:cc", "10.77.0.9",
                                      TRUE, &mac, &ip, &error));
  assert_string_equal (mac, "52:54:00:aa:bb:cc");
  assert_string_equal (ip, "10.77.0.9/24");
  /* Another instance cannot take the same MAC or address. */
  assert_false (gvd_ipam_allocate_nic (ipam, "b#1", UUID, "52:54:00:AA:BB:CC", NULL, FALSE,
                                       NULL, NULL, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (error->message, "'a#1'"));
  g_clear_error (&error);
  assert_false (gvd_ipam_allocate_nic (ipam, "b#1", UUID, NULL, "10.77.0.9", TRUE, NULL, NULL,
                                       &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  g_clear_error (&error);
  /* Nothing half-taken by the refusals. */
  assert_int_equal (gvd_ipam_get_n_owners (ipam), 1);
}

static void
ipam__recovery_from_nics__same_leases_again (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdIpam) before = gvd_ipam_new ("10.77.0.0/24", NULL, &error);
  g_autoptr(GvdIpam) after = gvd_ipam_new ("10.77.0.0/24", NULL, &error);
  const char *mac = NULL, *ip = NULL;
  char *macs[3] = { NULL }, *ips[3] = { NULL };
  g_autofree char *fresh_mac = NULL, *fresh_ip = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *owner = gvd_ipam_nic_owner ("rec", i);
      assert_true (gvd_ipam_allocate_nic (before, owner, UUID, NULL, NULL, i != 2, &macs[i],
                                          &ips[i], &error));
    }
  /* What instance-recover.c does with a domain's NICs. */
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *owner = gvd_ipam_nic_owner ("rec", i);
      assert_true (gvd_ipam_reserve (after, owner, macs[i], ips[i], &error));
      assert_true (gvd_ipam_lookup (after, owner, &mac, &ip));
      assert_string_equal (mac, macs[i]);
      assert_string_equal (ip != NULL ? ip : "-", ips[i] != NULL ? ips[i] : "-");
    }
  /* A new NIC after recovery does not get a recovered address. */
  assert_true (gvd_ipam_allocate (after, "new", "seed", &fresh_mac, &fresh_ip, &error));
  assert_string_equal (fresh_ip, "10.77.0.3/24");
  assert_true (gvd_ipam_release (after, "rec"));
  assert_int_equal (gvd_ipam_get_n_owners (after), 1);
  for (guint i = 0; i < 3; i++)
    {
      g_free (macs[i]);
      g_free (ips[i]);
    }
}

/* ---- SR-IOV VFs on the fixture host -------------------------------------------- */

static GvdInventory *
scan (const char *const *passthrough)
{
  g_autofree char *dir = gvd_test_data_path ("data", "hosts", "sriov-nic", NULL);
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (dir);
  g_autoptr(GError) error = NULL;
  GvdInventory *inv = gvd_hostinfo_scan (root, NULL, passthrough, &error);

  if (inv == NULL)
    fail_msg ("scan: %s", error->message);
  return inv;
}

static GvdPlan *
plan_devices (GvdInventory *inv, const char *csv, GHashTable *claims, GHashTable *quarantined,
              GError **error)
{
  g_autoptr(GvdPlanRequest) req = gvd_plan_request_new ();

  req->devices = g_strsplit (csv, ",", 0);
  req->include_companions = FALSE;
  return gvd_vfio_plan_compute (inv, req, claims, quarantined, NULL, error);
}

static void
inventory__sriov_nic__pf_and_vfs_linked (void **state)
{
  const char *const offered[] = { VF0, VF1, NULL };
  g_autoptr(GvdInventory) inv = scan (offered);
  const GvdPciDevice *pf = gvd_inventory_lookup (inv, PF);
  const GvdPciDevice *vf = gvd_inventory_lookup (inv, VF0);
  g_autoptr(JsonNode) pf_json = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();

  assert_non_null (pf);
  assert_non_null (vf);
  assert_string_equal (vf->physfn, PF);
  assert_int_equal (vf->class_code >> 16, 0x02);
  assert_true (vf->passthrough_candidate);
  assert_int_equal (vf->iommu_group, 32);
  assert_false (pf->passthrough_candidate);
  /* /v1/devices' view of the PF lists its VFs (read on demand). */
  gvd_hostinfo_device_to_json (pf, b);
  pf_json = json_builder_get_root (b);
  assert_int_equal (gvd_test_json_int (pf_json, "sriov.totalvfs"), 8);
  assert_int_equal (gvd_test_json_int (pf_json, "sriov.numvfs"), 4);
  assert_int_equal (json_array_get_length (json_node_get_array (
                      gvd_test_json_path (pf_json, "sriov.virtfns"))), 4);
}

static void
plan__vf__planned_alone_claimed_and_quarantined_refused (void **state)
{
  const char *const offered[] = { VF0, VF1, NULL };
  g_autoptr(GvdInventory) inv = scan (offered);
  g_autoptr(GHashTable) claims = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) quarantined = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdPlan) plan = plan_devices (inv, VF0, claims, quarantined, &error);
  g_autoptr(GvdPlan) refused = NULL;
  const GvdPlanHostdev *h;

  if (plan == NULL)
    fail_msg ("plan: %s", error->message);
  /* Its own group, no PF, no sibling VF. */
  assert_int_equal (plan->hostdevs->len, 1);
  h = g_ptr_array_index (plan->hostdevs, 0);
  assert_string_equal (h->address, VF0);
  assert_int_equal (h->iommu_group, 32);
  assert_false (h->gpu);
  assert_int_equal (g_array_index (plan->numa_nodes, int, 0), 0);

  g_hash_table_insert (claims, (gpointer) VF0, (gpointer) "train-7");
  refused = plan_devices (inv, VF0, claims, quarantined, &error);
  assert_null (refused);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  assert_non_null (strstr (error->message, "train-7"));
  g_clear_error (&error);

  g_hash_table_insert (quarantined, (gpointer) VF1, (gpointer) "wedged");
  refused = plan_devices (inv, VF1, claims, quarantined, &error);
  assert_null (refused);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_QUARANTINED));
  g_clear_error (&error);

  /* A VF the operator did not offer is no candidate. */
  refused = plan_devices (inv, "0000:42:00.4", claims, quarantined, &error);
  assert_null (refused);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse__networks__every_nic_kept_in_order),
    cmocka_unit_test (parse__bad_networks__refused_naming_field),
    cmocka_unit_test (parse__seventeen_nics__refused),
    cmocka_unit_test (ipam__three_nics__own_macs_addresses_released_together),
    cmocka_unit_test (ipam__client_mac_and_ip__conflicts_named),
    cmocka_unit_test (ipam__recovery_from_nics__same_leases_again),
    cmocka_unit_test (inventory__sriov_nic__pf_and_vfs_linked),
    cmocka_unit_test (plan__vf__planned_alone_claimed_and_quarantined_refused),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
