/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance manager without root or libvirtd: a daemon built by
 * gvd_daemon_new on the fixture host server-8gpu and libvirt's
 * test:///default driver. Covers recovery (gpuvmd domains and foreign ones
 * with hostdevs), planning and claiming in create (dry run), claims and
 * quarantine, the rollback of a real create, and delete. The test driver
 * has storage pools and volumes but no virStorageVolUpload, so a real
 * create stops at the seed ISO upload: that is the rollback tested here;
 * define + start are covered by tests/test-instances on the real libvirtd. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"
#include "testlib-manager.h"

#include <libvirt/libvirt.h>
#include <string.h>

#include "agent.h"
#include "errors.h"
#include "instance.h"
#include "instance-request.h"

#define PREFIX "gvdunit-"
#define POOL "gvdunit"
#define POOL_PATH "/gvdunit-pool"
#define GPU0 "0000:03:00.0"     /* each of the fixture's eight GPUs is alone in its group */
#define GPU1 "0000:04:00.0"

#define CONFIG \
  "[libvirt]\ndomain_prefix=" PREFIX "\n" \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"

typedef GvdTestInproc Fixture;

static int
setup (void **state)
{
  Fixture *f = gvd_test_inproc_new ("server-8gpu", CONFIG);

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

/* A dry run's domain XML for @name on @device: what gpuvmd would define. */
static char *
dry_run_xml (Fixture *f, const char *name, const char *device)
{
  g_autofree char *json = g_strdup_printf ("{\"name\": \"%s\", \"image\": \"base.qcow2\", "
                                           "\"devices\": [\"%s\"], \"dry_run\": true}",
                                           name, device);

  return gvd_test_dry_run_xml (f->d, json);
}

/* ---- start -------------------------------------------------------------------- */

static void
start__test_driver__ready_claims_ready_foreign_domain_ignored (void **state)
{
  Fixture *f = *state;
  g_autoptr(GPtrArray) list = gvd_instance_manager_list (f->d->instances);

  /* test:///default has one domain, "test", without gpuvmd metadata and
   * without hostdevs: not an instance, no claim. */
  assert_true (gvd_claims_is_ready (f->d->claims));
  assert_int_equal (list->len, 0);
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
}

/* ---- create: planning and claims (dry run) -------------------------------------- */

static void
create__dry_run__plan_xml_cloudinit_nothing_kept (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;
  const char *xml;

  gvd_test_create (f->d, "{\"name\": \"dry\", \"image\": \"base.qcow2\", \"gpus\": 1, "
                         "\"dry_run\": true}", &r);
  if (r.doc == NULL)
    fail_msg ("dry run: %s", r.error->message);
  assert_true (gvd_test_json_bool (r.doc, "dry_run"));
  assert_string_equal (gvd_test_json_string (r.doc, "name"), "dry");
  xml = gvd_test_json_string (r.doc, "domain_xml");
  assert_non_null (strstr (xml, "<name>" PREFIX "dry</name>"));
  assert_non_null (strstr (xml, "<hostdev"));
  assert_non_null (strstr (gvd_test_json_string (r.doc, "cloud_init.user_data"), "#cloud-config"));
  assert_non_null (gvd_test_json_path (r.doc, "plan"));
  /* A dry run plans and renders, then gives everything back. */
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  assert_null (gvd_instance_manager_lookup (f->d->instances, "dry"));
  assert_false (gvd_agent_hub_is_tracked (f->d->agent, "dry"));
  gvd_test_result_clear (&r);
}

static void
create__claimed_device__device_in_use_named_holder (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;

  gvd_claims_set_holder (f->d->claims, GPU0, "train-7");
  gvd_test_create (f->d, "{\"name\": \"late\", \"image\": \"base.qcow2\", "
                         "\"devices\": [\"" GPU0 "\"], \"dry_run\": true}", &r);
  assert_null (r.doc);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  assert_non_null (strstr (r.error->message, "train-7"));
  assert_non_null (r.details);
  /* The refusal took nothing: the holder and the other GPU are untouched. */
  assert_string_equal (gvd_claims_get_holder (f->d->claims, GPU0), "train-7");
  assert_int_equal (gvd_claims_count (f->d->claims), 1);
  assert_false (gvd_agent_hub_is_tracked (f->d->agent, "late"));
  gvd_test_result_clear (&r);
}

static void
create__quarantined_device__refused_until_cleared (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;
  const char *json = "{\"name\": \"q\", \"image\": \"base.qcow2\", \"devices\": [\"" GPU1 "\"], "
                     "\"dry_run\": true}";

  gvd_claims_quarantine (f->d->claims, GPU1, "reset failed");
  gvd_test_create (f->d, json, &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_QUARANTINED));
  assert_non_null (strstr (r.error->message, "reset failed"));
  gvd_test_result_clear (&r);

  /* POST /v1/devices/{id}/clear does this. */
  assert_true (gvd_claims_clear_quarantine (f->d->claims, GPU1));
  assert_false (gvd_claims_clear_quarantine (f->d->claims, GPU1));
  gvd_test_create (f->d, json, &r);
  assert_non_null (r.doc);
  gvd_test_result_clear (&r);
}

static void
create__gpus_with_one_claimed__planner_picks_the_free_one (void **state)
{
  Fixture *f = *state;
  const char *taken[] = { "0000:03:00.0", "0000:04:00.0", "0000:07:00.0", "0000:08:00.0",
                          "0000:83:00.0", "0000:84:00.0", "0000:87:00.0" };
  GvdTestResult r;
  JsonArray *gpus;

  for (gsize i = 0; i < G_N_ELEMENTS (taken); i++)
    gvd_claims_set_holder (f->d->claims, taken[i], "train-7");
  gvd_test_create (f->d, "{\"name\": \"pick\", \"image\": \"base.qcow2\", \"gpus\": 1, "
                         "\"dry_run\": true}", &r);
  if (r.doc == NULL)
    fail_msg ("dry run: %s", r.error->message);
  /* The one free GPU is the plan, and the domain's hostdev source. */
  gpus = json_node_get_array (gvd_test_json_path (r.doc, "plan.gpus"));
  assert_int_equal (json_array_get_length (gpus), 1);
  assert_string_equal (json_array_get_string_element (gpus, 0), "0000:88:00.0");
  assert_non_null (strstr (gvd_test_json_string (r.doc, "domain_xml"), "bus=\"0x88\""));
  assert_int_equal (gvd_claims_count (f->d->claims), G_N_ELEMENTS (taken));
  gvd_test_result_clear (&r);
}

/* ---- create for real: rollback ------------------------------------------------- */

static void
create__seed_upload_unsupported__rolled_back_nothing_left (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;
  g_autoptr(virDomain) dom = NULL;

  gvd_test_pool_define (f->conn, POOL, POOL_PATH);
  gvd_test_volume_create (f->conn, POOL, "base.qcow2", "qcow2");
  gvd_test_create (f->d, "{\"name\": \"roll\", \"image\": \"base.qcow2\", "
                         "\"devices\": [\"" GPU0 "\"], \"start\": false}", &r);
  /* Planned, claimed, rendered, the seed ISO built; then the worker fails
   * on the test driver (it refuses VIR_STORAGE_XML_INACTIVE when the pool
   * is checked, and has no virStorageVolUpload for the seed). */
  assert_null (r.doc);
  assert_non_null (r.error);
  assert_false (r.error->domain == GVD_ERROR
                && (r.error->code == GVD_ERROR_NOT_READY
                    || r.error->code == GVD_ERROR_NOT_FOUND));
  /* Rolled back: no domain, no volume of the instance, no claim, no
   * instance, no agent token, the name free again. */
  dom = virDomainLookupByName (f->conn, PREFIX "roll");
  assert_null (dom);
  assert_true (gvd_test_volume_exists (f->conn, POOL, "base.qcow2"));
  assert_false (gvd_test_volume_exists (f->conn, POOL, PREFIX "roll-root.qcow2"));
  assert_false (gvd_test_volume_exists (f->conn, POOL, PREFIX "roll-seed.iso"));
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  assert_null (gvd_instance_manager_lookup (f->d->instances, "roll"));
  assert_false (gvd_agent_hub_is_tracked (f->d->agent, "roll"));
  gvd_test_result_clear (&r);
  gvd_test_create (f->d, "{\"name\": \"roll\", \"image\": \"base.qcow2\", \"dry_run\": true}", &r);
  assert_non_null (r.doc);
  gvd_test_result_clear (&r);
}

/* ---- recovery ------------------------------------------------------------------ */

static void
recover__gpuvmd_domain_defined__instance_and_claims_rebuilt (void **state)
{
  Fixture *f = *state;
  g_autofree char *xml = dry_run_xml (f, "back", GPU0);
  g_autoptr(virDomain) dom = NULL;
  GvdInstance *inst;

  /* Defined behind gpuvmd's back (another gpuvmd run): the DEFINED event
   * makes the manager re-read libvirt and adopt it from its metadata. */
  dom = virDomainDefineXML (f->conn, xml);
  if (dom == NULL)
    fail_msg ("define: %s", virGetLastErrorMessage ());
  gvd_test_wait_instance (f->d, "back", TRUE);
  inst = gvd_instance_manager_lookup (f->d->instances, "back");
  assert_string_equal (inst->spec->domain_name, PREFIX "back");
  assert_string_equal (inst->state, "shutoff");
  assert_string_equal (gvd_claims_get_holder (f->d->claims, GPU0), "back");
  assert_int_equal (gvd_claims_count (f->d->claims), 1);
  assert_true (gvd_agent_hub_is_tracked (f->d->agent, "back"));
}

static gboolean
claimed_by_foreign (gpointer data)
{
  Fixture *f = data;
  const char *holder = gvd_claims_get_holder (f->d->claims, GPU1);

  return holder != NULL && g_str_has_suffix (holder, "hand-made");
}

static gboolean
gpu1_free (gpointer data)
{
  Fixture *f = data;

  return gvd_claims_get_holder (f->d->claims, GPU1) == NULL;
}

static void
recover__foreign_domain_with_hostdev__claimed_then_released (void **state)
{
  Fixture *f = *state;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(virDomain) marker = NULL;
  g_autofree char *xml = dry_run_xml (f, "marker", GPU0);
  GvdTestResult r;

  /* A domain made by hand that passes 04:00.0 through: not an instance,
   * but its device is taken. A gpuvmd domain defined after it marks the
   * moment recovery has run. */
  dom = virDomainDefineXML (f->conn,
                            "<domain type='test'><name>hand-made</name><memory>65536</memory>"
                            "<os><type>hvm</type></os><devices>"
                            "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
                            "<address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>"
                            "</source></hostdev></devices></domain>");
  if (dom == NULL)
    fail_msg ("define: %s", virGetLastErrorMessage ());
  marker = virDomainDefineXML (f->conn, xml);
  assert_non_null (marker);
  gvd_test_wait_instance (f->d, "marker", TRUE);
  gvd_test_iterate_until (claimed_by_foreign, f);
  assert_null (gvd_instance_manager_lookup (f->d->instances, "hand-made"));
  gvd_test_create (f->d, "{\"name\": \"want\", \"image\": \"base.qcow2\", "
                         "\"devices\": [\"" GPU1 "\"], \"dry_run\": true}", &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  gvd_test_result_clear (&r);

  /* Undefined: the claim goes with it. */
  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_iterate_until (gpu1_free, f);
}

/* ---- delete -------------------------------------------------------------------- */

static void
delete__undefine_refused__instance_volumes_claims_kept (void **state)
{
  Fixture *f = *state;
  g_autofree char *xml = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(virDomain) still = NULL;
  GvdTestResult r;

  gvd_test_pool_define (f->conn, POOL, POOL_PATH);
  xml = dry_run_xml (f, "del", GPU0);
  dom = virDomainDefineXML (f->conn, xml);
  assert_non_null (dom);
  gvd_test_volume_create (f->conn, POOL, PREFIX "del-root.qcow2", "qcow2");
  gvd_test_volume_create (f->conn, POOL, PREFIX "del-seed.iso", "raw");
  gvd_test_wait_instance (f->d, "del", TRUE);
  assert_int_equal (gvd_claims_count (f->d->claims), 1);

  /* The test driver refuses the NVRAM and checkpoint flags gpuvmd undefines
   * with: the delete fails as a libvirt error and nothing is half gone (the
   * whole delete runs on the real libvirtd in tests/test-instances). */
  gvd_test_delete (f->d, "del", &r);
  assert_non_null (r.error);
  assert_true (r.error->domain == GVD_ERROR);
  assert_non_null (strstr (r.error->message, "undefine"));
  gvd_test_result_clear (&r);
  still = virDomainLookupByName (f->conn, PREFIX "del");
  assert_non_null (still);
  assert_true (gvd_test_volume_exists (f->conn, POOL, PREFIX "del-root.qcow2"));
  assert_true (gvd_test_volume_exists (f->conn, POOL, PREFIX "del-seed.iso"));
  assert_non_null (gvd_instance_manager_lookup (f->d->instances, "del"));
  assert_null (gvd_instance_manager_lookup (f->d->instances, "del")->busy);
  assert_string_equal (gvd_claims_get_holder (f->d->claims, GPU0), "del");
  assert_true (gvd_agent_hub_is_tracked (f->d->agent, "del"));

  /* Undefined behind gpuvmd's back: the instance, its claim and its agent
   * token go (its volumes stay for the orphan sweep). */
  assert_int_equal (virDomainUndefine (still), 0);
  gvd_test_wait_instance (f->d, "del", FALSE);
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  assert_false (gvd_agent_hub_is_tracked (f->d->agent, "del"));

  /* Deleting it now: not found. */
  gvd_test_delete (f->d, "del", &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_NOT_FOUND));
  gvd_test_result_clear (&r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (start__test_driver__ready_claims_ready_foreign_domain_ignored,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (create__dry_run__plan_xml_cloudinit_nothing_kept, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (create__claimed_device__device_in_use_named_holder, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (create__quarantined_device__refused_until_cleared, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (create__gpus_with_one_claimed__planner_picks_the_free_one,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (create__seed_upload_unsupported__rolled_back_nothing_left,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (recover__gpuvmd_domain_defined__instance_and_claims_rebuilt,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (recover__foreign_domain_with_hostdev__claimed_then_released,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (delete__undefine_refused__instance_volumes_claims_kept,
                                     setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
