/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Several NICs per instance in the instance manager, without root or
 * libvirtd: a daemon on the sriov-nic fixture host (a ConnectX-6 PF with 4
 * VFs, two of them offered) and libvirt's test:///default driver. Covers
 * planning and claiming VFs next to GPUs (dry run), every refusal leaving
 * no claim and no lease, the bridge policy, recovery of claims and leases
 * from a domain's NICs, the instance JSON, and the rollback of a real
 * create. Starting a VM with two NICs runs on the real libvirtd in
 * tests/test-vm-networks. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"
#include "testlib-manager.h"

#include <libvirt/libvirt.h>
#include <string.h>

#include "domain-xml.h"
#include "errors.h"
#include "instance.h"
#include "instance-request.h"
#include "ipam.h"
#include "reservations.h"

#define PREFIX "gvdnets-"
#define POOL "gvdnets"
#define POOL_PATH "/gvdnets-pool"
#define PF "0000:42:00.0"
#define VF0 "0000:42:00.2"
#define VF1 "0000:42:00.3"
#define VF2 "0000:42:00.4"      /* enabled, not offered */
#define GPU0 "0000:41:00.0"

#define CONFIG \
  "[libvirt]\ndomain_prefix=" PREFIX "\n" \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n" \
  "[host]\npassthrough_devices=" VF0 "," VF1 "\n" \
  "[network]\nmode=bridge\nsource=br-gvd\ncidr=10.77.0.0/24\ngateway=10.77.0.1\n" \
  "allowed_sources=gvd-fabric\n"

/* A GPU, the cidr bridge, a libvirt network (DHCP) and a VF. */
#define NETWORKS(vf) \
  "\"networks\": [{\"mode\": \"bridge\", \"source\": \"br-gvd\"}," \
  " {\"mode\": \"network\", \"source\": \"gvd-fabric\"}," \
  " {\"mode\": \"sriov\", \"device\": \"" vf "\"}]"

typedef GvdTestInproc Fixture;

static int
setup (void **state)
{
  Fixture *f = gvd_test_inproc_new ("sriov-nic", CONFIG);

  assert_false (gvd_claims_is_ready (f->d->claims));
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

static guint
n_leases (Fixture *f)
{
  return gvd_ipam_get_n_owners (gvd_instance_manager_get_ipam (f->d->instances));
}

/* ---- create: planning and claims (dry run) ------------------------------------ */

static void
create__dry_run_gpu_and_three_nics__vf_interface_leases_given_back (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;
  const char *xml, *nc;

  gvd_test_create (f->d, "{\"name\": \"fab\", \"image\": \"base.qcow2\", \"gpus\": 1, "
                         NETWORKS (VF0) ", \"dry_run\": true}", &r);
  if (r.doc == NULL)
    fail_msg ("dry run: %s", r.error->message);
  xml = gvd_test_json_string (r.doc, "domain_xml");
  /* The GPU is a hostdev, the VF an interface with gpuvmd's MAC. */
  assert_non_null (strstr (xml, "<hostdev mode=\"subsystem\" type=\"pci\""));
  assert_non_null (strstr (xml, "bus=\"0x41\""));
  assert_non_null (strstr (xml, "<interface type=\"hostdev\" managed=\"yes\">"));
  assert_non_null (strstr (xml, "bus=\"0x42\" slot=\"0x00\" function=\"0x2\""));
  assert_non_null (strstr (xml, "<source bridge=\"br-gvd\"/>"));
  assert_non_null (strstr (xml, "<source network=\"gvd-fabric\"/>"));
  /* Only the NIC on the cidr bridge has an address. */
  nc = gvd_test_json_string (r.doc, "cloud_init.network_config");
  assert_non_null (strstr (nc, "10.77.0.2/24"));
  assert_null (strstr (nc, "10.77.0.3"));
  assert_non_null (strstr (nc, "\"eth2\""));
  /* A dry run gives back every claim and lease. */
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  assert_int_equal (n_leases (f), 0);
  gvd_test_result_clear (&r);
}

static void
create__refusals__named_field_nothing_claimed_or_leased (void **state)
{
  Fixture *f = *state;
  static const struct { const char *json; GvdErrorCode code; const char *needle; } cases[] = {
    { "\"networks\": [{\"mode\": \"user\"}, {\"mode\": \"bridge\", \"source\": \"br-host\"}]",
      GVD_ERROR_FORBIDDEN, "'networks[1].source': bridge 'br-host' is not offered" },
    { "\"network\": {\"mode\": \"bridge\", \"source\": \"br-host\"}",
      GVD_ERROR_FORBIDDEN, "'network.source': bridge 'br-host'" },
    { "\"networks\": [{\"mode\": \"network\", \"source\": \"gvd-fabric\", \"ipv4\": \"10.77.0.9\"}]",
      GVD_ERROR_INVALID_ARGUMENT, "'networks[0].ipv4' needs the NIC on bridge br-gvd" },
    { "\"networks\": [{\"mode\": \"user\"}, {\"mode\": \"sriov\", \"device\": \"" VF2 "\"}]",
      GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, "'networks[1].device': " VF2 " is not offered" },
    { "\"networks\": [{\"mode\": \"sriov\", \"device\": \"" GPU0 "\"}]",
      GVD_ERROR_INVALID_ARGUMENT, "is not an SR-IOV virtual function of a network controller" },
    { "\"networks\": [{\"mode\": \"sriov\", \"device\": \"0000:99:00.1\"}]",
      GVD_ERROR_DEVICE_NOT_FOUND, "'networks[0].device': there is no PCI device" },
    { "\"networks\": [{\"mode\": \"sriov\", \"device\": \"42:00.2\"},"
      " {\"mode\": \"sriov\", \"device\": \"" VF0 "\"}]",
      GVD_ERROR_INVALID_ARGUMENT, "'networks[1].device': " VF0 " is already networks[0]" },
    { "\"networks\": [{\"mode\": \"user\", \"mac\": \"52:54:00:00:00:01\"},"
      " {\"mode\": \"sriov\", \"device\": \"" VF1 "\", \"mac\": \"52:54:00:00:00:02\"},"
      " {\"mode\": \"bridge\", \"source\": \"br-gvd\", \"ipv4\": \"10.77.0.1\"}]",
      GVD_ERROR_INVALID_ARGUMENT, "'networks[2]': IP 10.77.0.1" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"name\": \"no\", \"image\": \"base.qcow2\", "
                                               "%s, \"dry_run\": true}", cases[i].json);
      GvdTestResult r;

      gvd_test_create (f->d, json, &r);
      assert_null (r.doc);
      if (!g_error_matches (r.error, GVD_ERROR, cases[i].code)
          || strstr (r.error->message, cases[i].needle) == NULL)
        fail_msg ("case %zu: got %s (%d), want '%s'", i, r.error->message, r.error->code,
                  cases[i].needle);
      assert_int_equal (gvd_claims_count (f->d->claims), 0);
      assert_int_equal (n_leases (f), 0);
      gvd_test_result_clear (&r);
    }
}

static void
create__vf_claimed_or_quarantined__refused_with_reasons (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;
  const char *json = "{\"name\": \"late\", \"image\": \"base.qcow2\", \"gpus\": 1, "
                     NETWORKS (VF0) ", \"dry_run\": true}";

  gvd_claims_set_holder (f->d->claims, VF0, "train-7");
  gvd_test_create (f->d, json, &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  assert_non_null (strstr (r.error->message, "train-7"));
  assert_non_null (r.details);
  assert_int_equal (gvd_claims_count (f->d->claims), 1);
  assert_int_equal (n_leases (f), 0);
  gvd_test_result_clear (&r);
  gvd_claims_release (f->d->claims, "train-7");

  gvd_claims_quarantine (f->d->claims, VF0, "reset failed");
  gvd_test_create (f->d, json, &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_QUARANTINED));
  gvd_test_result_clear (&r);
  assert_true (gvd_claims_clear_quarantine (f->d->claims, VF0));
  gvd_test_create (f->d, json, &r);
  assert_non_null (r.doc);
  gvd_test_result_clear (&r);
}

static void
create__reservation__lease_moves_to_the_first_nic_on_its_network (void **state)
{
  Fixture *f = *state;
  const char *const vfs[] = { VF0, NULL };
  const char *const no_gpus[] = { NULL };
  g_autoptr(GError) error = NULL;
  const GvdReservation *res = gvd_reservations_add (f->d->reservations, vfs, no_gpus, 600, &error);
  g_autofree char *json = NULL;
  g_autofree char *id = NULL;
  g_autofree char *mac = NULL;
  GvdTestResult r;

  if (res == NULL)
    fail_msg ("reserve: %s", error->message);
  id = g_strdup (res->id);
  mac = g_strdup (res->mac);
  assert_string_equal (res->ip, "10.77.0.2/24");
  /* The reservation's address belongs on the cidr bridge, not a VF. */
  json = g_strdup_printf ("{\"name\": \"res\", \"image\": \"base.qcow2\", \"reservation\": "
                          "\"%s\", \"networks\": [{\"mode\": \"network\", \"source\": "
                          "\"gvd-fabric\"}], \"dry_run\": true}", id);
  gvd_test_create (f->d, json, &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  assert_non_null (strstr (r.error->message, "make that NIC the first"));
  gvd_test_result_clear (&r);
  /* A refused create gives the reservation's devices and lease back. */
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  assert_int_equal (n_leases (f), 0);

  /* On the cidr bridge first, the NIC gets the reservation's MAC and IP. */
  res = gvd_reservations_add (f->d->reservations, vfs, no_gpus, 600, &error);
  assert_non_null (res);
  g_free (id);
  g_free (mac);
  id = g_strdup (res->id);
  mac = g_strdup (res->mac);
  g_free (json);
  json = g_strdup_printf ("{\"name\": \"res\", \"image\": \"base.qcow2\", \"reservation\": "
                          "\"%s\", \"networks\": [{\"mode\": \"bridge\", \"source\": "
                          "\"br-gvd\"}, {\"mode\": \"user\"}], \"dry_run\": true}", id);
  gvd_test_create (f->d, json, &r);
  if (r.doc == NULL)
    fail_msg ("create: %s", r.error->message);
  {
    g_autofree char *want = g_strdup_printf ("<mac address=\"%s\"/>", mac);
    const char *xml = gvd_test_json_string (r.doc, "domain_xml");

    assert_non_null (strstr (xml, want));
    /* The reserved VF is one of the instance's devices (a hostdev). */
    assert_non_null (strstr (xml, "bus=\"0x42\" slot=\"0x00\" function=\"0x2\""));
  }
  assert_non_null (strstr (gvd_test_json_string (r.doc, "cloud_init.network_config"),
                           "10.77.0.2/24"));
  gvd_test_result_clear (&r);
}

/* ---- recovery, instance JSON, claims released ---------------------------------- */

static gboolean
no_claims (gpointer data)
{
  return gvd_claims_count (((Fixture *) data)->d->claims) == 0;
}

static void
recover__domain_with_vf__claims_leases_json_then_released (void **state)
{
  Fixture *f = *state;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) doc = NULL;
  GvdIpam *ipam = gvd_instance_manager_get_ipam (f->d->instances);
  JsonArray *nets;
  GvdTestResult r;
  char *xml;

  gvd_test_create (f->d, "{\"name\": \"fab\", \"image\": \"base.qcow2\", \"gpus\": 1, "
                         NETWORKS (VF0) ", \"dry_run\": true}", &r);
  assert_non_null (r.doc);
  xml = g_strdup (gvd_test_json_string (r.doc, "domain_xml"));
  gvd_test_result_clear (&r);
  spec = gvd_domain_xml_parse (xml, NULL);
  assert_non_null (spec);

  /* Defined behind gpuvmd's back: adopted with the VF claimed and every
   * NIC's lease under its owner key. */
  dom = virDomainDefineXML (f->conn, xml);
  g_free (xml);
  if (dom == NULL)
    fail_msg ("define: %s", virGetLastErrorMessage ());
  gvd_test_wait_instance (f->d, "fab", TRUE);
  assert_string_equal (gvd_claims_get_holder (f->d->claims, GPU0), "fab");
  assert_string_equal (gvd_claims_get_holder (f->d->claims, VF0), "fab");
  assert_int_equal (gvd_claims_count (f->d->claims), 2);
  assert_int_equal (n_leases (f), 3);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *owner = gvd_ipam_nic_owner ("fab", i);
      const char *mac = NULL;

      assert_true (gvd_ipam_lookup (ipam, owner, &mac, NULL));
      assert_string_equal (mac, ((GvdNicSpec *) g_ptr_array_index (spec->nics, i))->mac);
    }

  gvd_instance_write_json (f->d->instances,
                           gvd_instance_manager_lookup (f->d->instances, "fab"), b);
  doc = json_builder_get_root (b);
  nets = json_node_get_array (gvd_test_json_path (doc, "networks"));
  assert_int_equal (json_array_get_length (nets), 3);
  {
    JsonObject *n0 = json_array_get_object_element (nets, 0);
    JsonObject *n2 = json_array_get_object_element (nets, 2);

    assert_string_equal (json_object_get_string_member (n0, "mode"), "bridge");
    assert_string_equal (json_object_get_string_member (n0, "ipv4"), "10.77.0.2/24");
    assert_string_equal (json_object_get_string_member (n2, "mode"), "sriov");
    assert_string_equal (json_object_get_string_member (n2, "device"), VF0);
    assert_string_equal (json_object_get_string_member (n2, "pf"), PF);
  }
  /* The old member keeps its shape: one entry per NIC, no device. */
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (doc, "network"))), 3);

  /* Another instance cannot have the VF. */
  gvd_test_create (f->d, "{\"name\": \"two\", \"image\": \"base.qcow2\", \"networks\": "
                         "[{\"mode\": \"sriov\", \"device\": \"" VF0 "\"}], "
                         "\"dry_run\": true}", &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  assert_non_null (strstr (r.error->message, "fab"));
  gvd_test_result_clear (&r);

  /* Undefined: the claims and the three leases go. */
  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_iterate_until (no_claims, f);
  assert_int_equal (n_leases (f), 0);
}

/* ---- create for real: rollback ------------------------------------------------ */

static void
create__seed_upload_unsupported__vf_claim_and_leases_rolled_back (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;
  g_autoptr(virDomain) dom = NULL;

  gvd_test_pool_define (f->conn, POOL, POOL_PATH);
  gvd_test_volume_create (f->conn, POOL, "base.qcow2", "qcow2");
  gvd_test_create (f->d, "{\"name\": \"roll\", \"image\": \"base.qcow2\", \"gpus\": 1, "
                         NETWORKS (VF1) ", \"start\": false}", &r);
  /* Planned, claimed, leased, rendered; then the test driver fails the
   * worker (no virStorageVolUpload): everything goes back. */
  assert_null (r.doc);
  assert_non_null (r.error);
  dom = virDomainLookupByName (f->conn, PREFIX "roll");
  assert_null (dom);
  assert_false (gvd_test_volume_exists (f->conn, POOL, PREFIX "roll-root.qcow2"));
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  assert_int_equal (n_leases (f), 0);
  assert_null (gvd_instance_manager_lookup (f->d->instances, "roll"));
  gvd_test_result_clear (&r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (
      create__dry_run_gpu_and_three_nics__vf_interface_leases_given_back, setup, teardown),
    cmocka_unit_test_setup_teardown (
      create__refusals__named_field_nothing_claimed_or_leased, setup, teardown),
    cmocka_unit_test_setup_teardown (
      create__vf_claimed_or_quarantined__refused_with_reasons, setup, teardown),
    cmocka_unit_test_setup_teardown (
      create__reservation__lease_moves_to_the_first_nic_on_its_network, setup, teardown),
    cmocka_unit_test_setup_teardown (
      recover__domain_with_vf__claims_leases_json_then_released, setup, teardown),
    cmocka_unit_test_setup_teardown (
      create__seed_upload_unsupported__vf_claim_and_leases_rolled_back, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
