/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance manager's vGPUs without root or libvirtd: a daemon built by
 * gvd_daemon_new on a copy of the fixture host sriov-mdev (a T4 with three
 * vGPU types, four A10 VFs with one each) and libvirt's test:///default,
 * with the kernel double of tests/mdev-fake.c in place of libvirt's node
 * device API (no host here has an mdev-capable parent). Covers planning and
 * claims (dry run), the mdevs a real create makes and its rollback removes,
 * capacity, whole-GPU exclusion, recovery of mdev claims from gpuvmd's and
 * foreign domains, and a delete that fails before the mdevs go. What only
 * this double shows (not a real kernel or libvirt with mdevctl): that the
 * mdevs appear and go in sysfs. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"
#include "testlib-manager.h"
#include "mdev-fake.h"

#include <libvirt/libvirt.h>
#include <string.h>

#include "api.h"
#include "errors.h"
#include "instance.h"
#include "instance-request.h"
#include "journal.h"

#define PREFIX "gvdvgpu-"
#define POOL "gvdvgpu"
#define POOL_PATH "/gvdvgpu-pool"
#define T4 "0000:81:00.0"

typedef struct {
  virConnectPtr conn;
  GvdDaemon *d;
  char *host;          /* the fixture copy */
  char *sysfs;
  GvdTestMdevFake *fake;
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autofree char *config = NULL;

  f->conn = virConnectOpen ("test:///default");
  assert_non_null (f->conn);
  f->host = gvd_test_copy_host ("sriov-mdev");
  f->sysfs = g_build_filename (f->host, "sys", NULL);
  config = g_strdup_printf ("[libvirt]\ndomain_prefix=" PREFIX "\n"
                            "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"
                            "[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\ndevfs_root=%s/dev\n",
                            f->host, f->host, f->host);
  f->d = gvd_test_daemon_build ("sriov-mdev", config, NULL);
  f->fake = gvd_test_mdev_fake_new (f->sysfs);
  gvd_instance_manager_set_mdev_ops (f->d->instances, &f->fake->ops);
  gvd_test_daemon_start_ready (f->d);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  gvd_test_daemon_destroy (f->d);
  gvd_test_drain_main_context ();
  virConnectClose (f->conn);
  gvd_test_mdev_fake_free (f->fake);
  gvd_test_rm_rf (f->host);
  g_free (f->host);
  g_free (f->sysfs);
  g_free (f);
  return 0;
}

/* The uuid of @inst's @i-th mdev hostdev. */
static const char *
mdev_uuid (GvdInstance *inst, guint i)
{
  for (guint k = 0; k < inst->spec->hostdevs->len; k++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (inst->spec->hostdevs, k);
      if (h->mdev_uuid != NULL && i-- == 0)
        return h->mdev_uuid;
    }
  fail_msg ("no mdev %u", i);
  return NULL;
}

/* The entries of the daemon's vGPU journal (<state_dir>/mdevs). */
static guint
journal_entries (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->d->config->state_dir, GVD_MDEV_JOURNAL_DIR, NULL);
  g_auto(GStrv) uuids = NULL;
  g_auto(GStrv) names = NULL;

  assert_true (gvd_journal_list (&gvd_journal_mdevs, dir, &uuids, &names, NULL));
  return g_strv_length (uuids);
}

/* ---- planning (dry run) -------------------------------------------------------- */

static void
create__dry_run_vgpus__mdev_hostdevs_rendered_nothing_kept (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;
  const char *xml;
  const char *p;
  guint n = 0;

  gvd_test_create (f->d, "{\"name\": \"dry\", \"image\": \"base.qcow2\", \"dry_run\": true, "
                         "\"vgpu\": {\"type\": \"nvidia-222\", \"count\": 2}}", &r);
  if (r.doc == NULL)
    fail_msg ("dry run: %s", r.error->message);
  xml = gvd_test_json_string (r.doc, "domain_xml");
  for (p = xml; (p = strstr (p, "type=\"mdev\" model=\"vfio-pci\"")) != NULL; p++)
    n++;
  assert_int_equal (n, 2);
  /* Recorded in gpuvmd's metadata: type and parent, for recovery. */
  assert_non_null (strstr (xml, "mdev-type=\"nvidia-222\" address=\"" T4 "\""));
  /* A dry run creates no mdev and keeps no claim. */
  assert_int_equal (f->fake->creates, 0);
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  assert_null (gvd_claims_get_holder (f->d->claims, T4));
  gvd_test_result_clear (&r);
}

static void
create__vgpu_type_full__insufficient_naming_type_and_capacity (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  GvdTestResult r;

  /* Someone took the T4's one 16Q instance by hand: the kernel says 0. */
  assert_true (f->fake->ops.create (&f->fake->ops, NULL, T4, "nvidia-230",
                                    "99999999-9999-4999-8999-999999999999", &error));
  gvd_test_create (f->d, "{\"name\": \"big\", \"image\": \"base.qcow2\", \"dry_run\": true, "
                         "\"vgpu\": {\"type\": \"nvidia-230\"}}", &r);
  assert_null (r.doc);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_GPUS));
  assert_non_null (strstr (r.error->message, "'vgpu.type'"));
  assert_non_null (strstr (r.error->message, "'nvidia-230'"));
  assert_non_null (strstr (r.error->message, T4 ": 0 free"));
  gvd_test_result_clear (&r);
  gvd_test_create (f->d, "{\"name\": \"none\", \"image\": \"base.qcow2\", \"dry_run\": true, "
                         "\"vgpu\": {\"type\": \"nvidia-63\"}}", &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND));
  gvd_test_result_clear (&r);
}

static void
create__vgpu_and_whole_gpu_on_one_parent__refused (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;

  gvd_test_create (f->d, "{\"name\": \"mix\", \"image\": \"base.qcow2\", \"dry_run\": true, "
                         "\"devices\": [\"" T4 "\"], "
                         "\"vgpu\": {\"type\": \"nvidia-222\", \"parent\": \"" T4 "\"}}", &r);
  assert_null (r.doc);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  assert_non_null (strstr (r.error->message, "'vgpu.parent'"));
  assert_non_null (strstr (r.error->message, "passed through whole by this request"));
  gvd_test_result_clear (&r);
  /* A whole GPU and a vGPU on another parent mix. */
  gvd_test_create (f->d, "{\"name\": \"mix\", \"image\": \"base.qcow2\", \"dry_run\": true, "
                         "\"devices\": [\"" T4 "\"], \"vgpu\": {\"type\": \"nvidia-592\"}}", &r);
  if (r.doc == NULL)
    fail_msg ("mix: %s", r.error->message);
  assert_non_null (strstr (gvd_test_json_string (r.doc, "domain_xml"),
                           "mdev-type=\"nvidia-592\" address=\"0000:41:00.4\""));
  gvd_test_result_clear (&r);
}

/* ---- create for real: mdevs made, then rolled back ---------------------------- */

static void
create__fails_after_the_mdevs__they_are_removed_nothing_left (void **state)
{
  Fixture *f = *state;
  g_autoptr(virDomain) dom = NULL;
  GvdTestResult r;

  gvd_test_pool_define (f->conn, POOL, POOL_PATH);
  gvd_test_volume_create (f->conn, POOL, "base.qcow2", "qcow2");
  gvd_test_create (f->d, "{\"name\": \"roll\", \"image\": \"base.qcow2\", \"start\": false, "
                         "\"vgpu\": {\"type\": \"nvidia-222\", \"count\": 2}}", &r);
  /* Both mdevs made through the double; then the test driver fails the
   * create (storage), and the rollback removes them again. */
  assert_null (r.doc);
  assert_non_null (r.error);
  assert_int_equal (f->fake->creates, 2);
  assert_int_equal (f->fake->removes, 2);
  assert_int_equal (gvd_test_mdev_available (f->sysfs, T4, "nvidia-222"), 16);
  /* Journaled while they existed without a domain; forgotten once removed. */
  assert_int_equal (journal_entries (f), 0);
  dom = virDomainLookupByName (f->conn, PREFIX "roll");
  assert_null (dom);
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  assert_null (gvd_claims_get_holder (f->d->claims, T4));
  assert_null (gvd_instance_manager_lookup (f->d->instances, "roll"));
  gvd_test_result_clear (&r);
}

static void
create__second_mdev_refused__first_removed_error_names_parent (void **state)
{
  Fixture *f = *state;
  GvdTestResult r;

  f->fake->fail_on = 2;
  gvd_test_create (f->d, "{\"name\": \"half\", \"image\": \"base.qcow2\", \"start\": false, "
                         "\"vgpu\": {\"type\": \"nvidia-222\", \"count\": 2}}", &r);
  assert_null (r.doc);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (r.error->message, "on " T4));
  assert_int_equal (f->fake->creates, 2);
  /* The one it made, then both again to be sure (a missing one is no
   * error) before they are forgotten. */
  assert_int_equal (f->fake->removes, 3);
  assert_int_equal (gvd_test_mdev_available (f->sysfs, T4, "nvidia-222"), 16);
  assert_int_equal (journal_entries (f), 0);
  assert_int_equal (gvd_claims_count (f->d->claims), 0);
  gvd_test_result_clear (&r);
}

/* ---- recovery ------------------------------------------------------------------ */

static void
recover__gpuvmd_domain_with_vgpus__mdev_claims_hold_the_parent (void **state)
{
  Fixture *f = *state;
  g_autofree char *xml = gvd_test_dry_run_xml (f->d, "{\"name\": \"back\", "
                                                     "\"image\": \"base.qcow2\", "
                                                     "\"dry_run\": true, "
                                                     "\"vgpu\": {\"type\": \"nvidia-222\", "
                                                     "\"count\": 2}}");
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) json = NULL;
  GvdInstance *inst;
  const GvdMdevClaim *c;
  JsonArray *vgpu;
  GvdTestResult r;

  dom = virDomainDefineXML (f->conn, xml);
  assert_non_null (dom);
  gvd_test_wait_instance (f->d, "back", TRUE);
  inst = gvd_instance_manager_lookup (f->d->instances, "back");
  c = gvd_claims_get_mdev (f->d->claims, mdev_uuid (inst, 1));
  assert_non_null (c);
  assert_string_equal (c->holder, "back");
  assert_string_equal (c->parent, T4);
  assert_string_equal (c->type, "nvidia-222");
  assert_string_equal (gvd_claims_get_holder (f->d->claims, T4), "vgpu:back");

  /* The instance shows its vGPUs. */
  gvd_instance_write_json (f->d->instances, inst, b);
  json = json_builder_get_root (b);
  vgpu = json_object_get_array_member (json_node_get_object (json), "vgpu");
  assert_int_equal (json_array_get_length (vgpu), 2);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (vgpu, 0),
                                                      "parent"), T4);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (vgpu, 0),
                                                      "type"), "nvidia-222");

  /* A parent carrying vGPUs is not passed through whole. */
  gvd_test_create (f->d, "{\"name\": \"whole\", \"image\": \"base.qcow2\", \"dry_run\": true, "
                         "\"devices\": [\"" T4 "\"]}", &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  assert_non_null (strstr (r.error->message, "vgpu:back"));
  gvd_test_result_clear (&r);
  /* Its promised (not yet created) mdevs count against the capacity. */
  gvd_test_create (f->d, "{\"name\": \"more\", \"image\": \"base.qcow2\", \"dry_run\": true, "
                         "\"vgpu\": {\"type\": \"nvidia-222\", \"count\": 15}}", &r);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_GPUS));
  assert_non_null (strstr (r.error->message, T4 ": 14 free"));
  gvd_test_result_clear (&r);
}

static gboolean
t4_free (gpointer data)
{
  return gvd_claims_get_holder (((Fixture *) data)->d->claims, T4) == NULL;
}

static gboolean
t4_held (gpointer data)
{
  return gvd_claims_get_holder (((Fixture *) data)->d->claims, T4) != NULL;
}

static void
recover__foreign_domain_with_mdev__claimed_on_the_sysfs_parent (void **state)
{
  Fixture *f = *state;
  const char *uuid = "c2177883-f1bb-47f0-914d-32a22e3a8804";
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(GError) error = NULL;
  const GvdMdevClaim *c;

  /* Made by hand: an mdev on the T4 and a domain using it. */
  assert_true (f->fake->ops.create (&f->fake->ops, NULL, T4, "nvidia-223", uuid, &error));
  dom = virDomainDefineXML (f->conn,
                            "<domain type='test'><name>hand-vgpu</name><memory>65536</memory>"
                            "<os><type>hvm</type></os><devices>"
                            "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
                            "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/>"
                            "</source></hostdev></devices></domain>");
  if (dom == NULL)
    fail_msg ("define: %s", virGetLastErrorMessage ());
  gvd_test_iterate_until (t4_held, f);
  c = gvd_claims_get_mdev (f->d->claims, uuid);
  assert_non_null (c);
  assert_string_equal (c->holder, "domain:hand-vgpu");
  assert_string_equal (c->parent, T4);
  assert_string_equal (gvd_claims_get_holder (f->d->claims, T4), "vgpu:domain:hand-vgpu");
  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_iterate_until (t4_free, f);
  assert_null (gvd_claims_get_mdev (f->d->claims, uuid));
}

/* ---- the devices API ------------------------------------------------------------ */

static JsonNode *
http (const char *base, const char *method, const char *path, const char *body, guint *out_status)
{
  GvdTestRequest r = { .method = method, .body = body };
  JsonNode *node;

  r.url = g_strconcat (base, path, NULL);
  node = gvd_test_request_in_loop (&r);
  *out_status = r.status;
  gvd_test_request_clear (&r);
  return node;
}

/* The entry of @address in GET /v1/devices/available. */
static JsonObject *
available_entry (JsonNode *root, const char *address)
{
  JsonArray *devices = json_node_get_array (gvd_test_json_path (root, "devices"));

  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      JsonObject *dev = json_array_get_object_element (devices, i);
      if (g_str_equal (json_object_get_string_member (dev, "address"), address))
        return dev;
    }
  fail_msg ("%s not in /v1/devices/available", address);
  return NULL;
}

static void
api__vgpu_types_and_mdevs__live_counts_holders_and_parent_by_name (void **state)
{
  Fixture *f = *state;
  g_autoptr(GvdApi) api = gvd_api_new (f->d, "admin", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *base = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(JsonNode) before = NULL;
  g_autoptr(JsonNode) after = NULL;
  g_autoptr(JsonNode) t4 = NULL;
  g_autoptr(virDomain) dom = NULL;
  JsonObject *entry, *type;
  JsonArray *mdevs;
  const char *uuid;
  guint status;

  gvd_api_devices_register (api);
  gvd_api_plans_register (api);
  assert_true (gvd_api_listen (api, "127.0.0.1:0", &error));
  url = gvd_api_get_url (api);
  base = g_strndup (url, strlen (url) - 1);

  before = http (base, "GET", "/v1/devices/available", NULL, &status);
  assert_int_equal (status, 200);
  entry = available_entry (before, T4);
  type = json_array_get_object_element (json_object_get_array_member (entry, "vgpu_types"), 0);
  assert_string_equal (json_object_get_string_member (type, "type"), "nvidia-222");
  assert_string_equal (json_object_get_string_member (type, "name"), "GRID T4-1B");
  assert_non_null (strstr (json_object_get_string_member (type, "description"), "max_instance=16"));
  assert_int_equal (json_object_get_int_member (type, "available_instances"), 16);
  assert_int_equal (json_object_get_int_member (type, "free"), 16);
  assert_int_equal (json_array_get_length (json_object_get_array_member (entry, "mdevs")), 0);
  /* A device without mdev types: empty arrays. */
  assert_int_equal (json_array_get_length (json_object_get_array_member (
                      available_entry (before, "0000:41:00.0"), "vgpu_types")), 0);

  /* A registered name as the parent; the instance defined, its mdev made. */
  json_node_unref (http (base, "POST", "/v1/devices",
                         "{\"name\": \"t4\", \"pci_address\": \"" T4 "\"}", &status));
  assert_int_equal (status, 201);
  xml = gvd_test_dry_run_xml (f->d, "{\"name\": \"named\", \"image\": \"base.qcow2\", "
                                    "\"dry_run\": true, "
                                    "\"vgpu\": {\"type\": \"nvidia-223\", \"parent\": \"t4\"}}");
  assert_non_null (strstr (xml, "mdev-type=\"nvidia-223\" address=\"" T4 "\""));
  dom = virDomainDefineXML (f->conn, xml);
  assert_non_null (dom);
  gvd_test_wait_instance (f->d, "named", TRUE);
  uuid = mdev_uuid (gvd_instance_manager_lookup (f->d->instances, "named"), 0);
  assert_true (f->fake->ops.create (&f->fake->ops, NULL, T4, "nvidia-223", uuid, &error));

  after = http (base, "GET", "/v1/devices/available", NULL, &status);
  entry = available_entry (after, T4);
  assert_string_equal (json_object_get_string_member (entry, "holder"), "vgpu:named");
  type = json_array_get_object_element (json_object_get_array_member (entry, "vgpu_types"), 1);
  assert_string_equal (json_object_get_string_member (type, "type"), "nvidia-223");
  assert_int_equal (json_object_get_int_member (type, "available_instances"), 7);
  assert_int_equal (json_object_get_int_member (type, "free"), 7);
  mdevs = json_object_get_array_member (entry, "mdevs");
  assert_int_equal (json_array_get_length (mdevs), 1);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (mdevs, 0),
                                                      "uuid"), uuid);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (mdevs, 0),
                                                      "holder"), "named");
  /* The registry's view of the same device. */
  t4 = http (base, "GET", "/v1/devices/t4", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (t4, "state"), "in_use");
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (t4, "mdevs"))),
                    1);
  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_wait_instance (f->d, "named", FALSE);
  gvd_test_drain_main_context ();
}

/* What a crash leaves: an mdev journaled by a create that died before its
 * define (or a delete that died after its undefine), and one whose domain
 * got defined before the crash. Recovery removes the first, forgets the
 * second's entry and leaves its mdev to its domain. */
static gboolean
journal_empty (gpointer data)
{
  return journal_entries (data) == 0;
}

static void
recover__journaled_mdev_without_domain__removed_held_one_kept (void **state)
{
  Fixture *f = *state;
  g_autofree char *dir = g_build_filename (f->d->config->state_dir, GVD_MDEV_JOURNAL_DIR, NULL);
  g_autofree char *xml = gvd_test_dry_run_xml (f->d, "{\"name\": \"held\", \"image\": "
                                                     "\"base.qcow2\", \"dry_run\": true, "
                                                     "\"vgpu\": {\"type\": \"nvidia-222\"}}");
  g_autofree char *ghost = g_uuid_string_random ();
  g_autofree char *held = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(GError) error = NULL;

  assert_true (f->fake->ops.create (&f->fake->ops, NULL, T4, "nvidia-222", ghost, &error));
  assert_true (gvd_journal_add (&gvd_journal_mdevs, dir, ghost, "ghost", &error));
  /* The held one's uuid is in the XML the create would define. */
  {
    const char *p = strstr (xml, "<address uuid=\"");
    assert_non_null (p);
    held = g_strndup (p + strlen ("<address uuid=\""), 36);
  }
  assert_true (f->fake->ops.create (&f->fake->ops, NULL, T4, "nvidia-222", held, &error));
  assert_true (gvd_journal_add (&gvd_journal_mdevs, dir, held, "held", &error));
  assert_int_equal (journal_entries (f), 2);
  assert_int_equal (gvd_test_mdev_available (f->sysfs, T4, "nvidia-222"), 14);

  /* The define is what a crashed create got to; its event runs recovery. */
  dom = virDomainDefineXML (f->conn, xml);
  assert_non_null (dom);
  gvd_test_wait_instance (f->d, "held", TRUE);
  /* The sweep forgets the entry after the removal. */
  gvd_test_iterate_until (journal_empty, f);
  gvd_test_drain_main_context ();
  assert_false (gvd_test_mdev_exists (f->sysfs, ghost));
  assert_int_equal (f->fake->removes, 1);
  assert_true (gvd_test_mdev_exists (f->sysfs, held));
  assert_string_equal (gvd_claims_get_mdev (f->d->claims, held)->holder, "held");
  assert_int_equal (gvd_test_mdev_available (f->sysfs, T4, "nvidia-222"), 15);
  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_wait_instance (f->d, "held", FALSE);
}

/* ---- delete -------------------------------------------------------------------- */

static void
delete__undefine_refused__mdevs_kept_until_the_domain_is_gone (void **state)
{
  Fixture *f = *state;
  g_autofree char *xml = gvd_test_dry_run_xml (f->d, "{\"name\": \"del\", "
                                                     "\"image\": \"base.qcow2\", "
                                                     "\"dry_run\": true, "
                                                     "\"vgpu\": {\"type\": \"nvidia-222\"}}");
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uuid = NULL;
  GvdTestResult r;

  dom = virDomainDefineXML (f->conn, xml);
  assert_non_null (dom);
  gvd_test_wait_instance (f->d, "del", TRUE);
  uuid = g_strdup (mdev_uuid (gvd_instance_manager_lookup (f->d->instances, "del"), 0));
  /* As a create of gpuvmd's would have left it. */
  assert_true (f->fake->ops.create (&f->fake->ops, NULL, T4, "nvidia-222", uuid, &error));

  /* The test driver refuses the undefine flags gpuvmd uses: the delete
   * fails before the mdev, which a defined domain still names. */
  gvd_test_delete (f->d, "del", &r);
  assert_non_null (r.error);
  assert_int_equal (f->fake->removes, 0);
  assert_true (gvd_test_mdev_exists (f->sysfs, uuid));
  assert_string_equal (gvd_claims_get_mdev (f->d->claims, uuid)->holder, "del");
  /* Journaled for the undefine's window, forgotten when it was refused. */
  assert_int_equal (journal_entries (f), 0);
  gvd_test_result_clear (&r);

  /* Undefined behind gpuvmd's back: the claims go; the mdev stays (it is
   * reported as used by no domain; gpuvmd does not remove what it did not
   * see the end of). */
  assert_int_equal (virDomainUndefine (dom), 0);
  gvd_test_wait_instance (f->d, "del", FALSE);
  assert_null (gvd_claims_get_mdev (f->d->claims, uuid));
  assert_null (gvd_claims_get_holder (f->d->claims, T4));
  assert_true (gvd_test_mdev_exists (f->sysfs, uuid));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (create__dry_run_vgpus__mdev_hostdevs_rendered_nothing_kept,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (create__vgpu_type_full__insufficient_naming_type_and_capacity,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (create__vgpu_and_whole_gpu_on_one_parent__refused, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (create__fails_after_the_mdevs__they_are_removed_nothing_left,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (create__second_mdev_refused__first_removed_error_names_parent,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (recover__gpuvmd_domain_with_vgpus__mdev_claims_hold_the_parent,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (recover__foreign_domain_with_mdev__claimed_on_the_sysfs_parent,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (recover__journaled_mdev_without_domain__removed_held_one_kept,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (delete__undefine_refused__mdevs_kept_until_the_domain_is_gone,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (api__vgpu_types_and_mdevs__live_counts_holders_and_parent_by_name,
                                     setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
