/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vGPUs against the real libvirtd (qemu:///system), which on this host has
 * no mdev-capable parent (and, on Debian 12 without the mdevctl package, no
 * mdevctl): libvirt's node device API refuses the mdev with its own error,
 * gpuvmd reports it as a 409 conflict naming the parent, and nothing is
 * left behind: no node device, no domain, no volume, no claim. Then the
 * whole life of an instance with vGPUs on this libvirtd, with the kernel
 * double of tests/mdev-fake.c making the mdevs in a fixture copy: libvirt
 * defines (and validates) the domain gpuvmd renders with its mdev hostdevs,
 * and DELETE removes the mdevs once the domain is gone. What a real vGPU
 * host would add (the mdev made by the kernel through mdevctl, the domain
 * started on it) is not shown here. */
#include "config.h"

#include "testlib.h"
#include "mdev-fake.h"

#include <string.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "errors.h"
#include "instance.h"
#include "instance-request.h"
#include "mdev.h"
#include "xml-util.h"

#define PREFIX "gvdvgpu-it-"
#define POOL "gvdvgpu-it"
#define UUID "6d1f3c2a-9b7e-4c5d-8e2f-0a1b2c3d4e5f"

static virConnectPtr conn;

/* How many mdev node devices (defined or active) libvirt has, and whether
 * one of them has @uuid (NULL: any). */
static guint
mdev_nodes (const char *uuid)
{
  virNodeDevicePtr *devs = NULL;
  int n = virConnectListAllNodeDevices (conn, &devs, VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV);
  guint found = 0;

  assert_true (n >= 0);
  for (int i = 0; i < n; i++)
    {
      char *xml = virNodeDeviceGetXMLDesc (devs[i], 0);

      found += xml != NULL && (uuid == NULL || strstr (xml, uuid) != NULL);
      free (xml);
      virNodeDeviceFree (devs[i]);
    }
  free (devs);
  return found;
}

static gboolean
mdev_node_exists (const char *uuid)
{
  return mdev_nodes (uuid) > 0;
}

/* The PCI address of the first PCI device libvirt knows: a real parent,
 * but not one that offers mdev types. */
static char *
some_pci_address (void)
{
  virNodeDevicePtr *devs = NULL;
  int n = virConnectListAllNodeDevices (conn, &devs, VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV);
  char *address = NULL;
  guint d, b, s, f;

  gvd_test_require (n > 0, "libvirt lists no PCI device");
  /* pci_DDDD_BB_SS_F */
  if (sscanf (virNodeDeviceGetName (devs[0]), "pci_%4x_%2x_%2x_%1x", &d, &b, &s, &f) == 4)
    address = g_strdup_printf ("%04x:%02x:%02x.%x", d, b, s, f);
  for (int i = 0; i < n; i++)
    virNodeDeviceFree (devs[i]);
  free (devs);
  assert_non_null (address);
  return address;
}

static void
libvirt_ops__parent_without_mdev_support__conflict_naming_parent_nothing_left (void **state)
{
  const GvdMdevOps *ops = gvd_mdev_ops_libvirt ();
  g_autofree char *parent = some_pci_address ();
  g_autofree char *needle = g_strdup_printf ("on %s: ", parent);
  g_autoptr(GError) error = NULL;

  assert_false (ops->create (ops, conn, parent, "nvidia-63", UUID, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_int_equal (gvd_error_code_http_status (GVD_ERROR_CONFLICT), 409);
  assert_non_null (strstr (error->message, needle));
  /* libvirt's own words follow. */
  assert_true (strlen (strstr (error->message, needle)) > strlen (needle));
  assert_false (mdev_node_exists (UUID));
  /* Removing an mdev that is not there is no error. */
  g_clear_error (&error);
  assert_true (ops->remove (ops, conn, UUID, &error));
}

static void
libvirt_ops__parent_not_on_this_host__conflict_naming_parent (void **state)
{
  const GvdMdevOps *ops = gvd_mdev_ops_libvirt ();
  g_autoptr(GError) error = NULL;

  assert_false (ops->create (ops, conn, "0000:fe:1f.7", "nvidia-63", UUID, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (error->message, "on 0000:fe:1f.7: "));
  assert_false (mdev_node_exists (UUID));
}

/* ---- the whole create, in-process, on the sriov-mdev fixture host ---------------- */

typedef struct {
  GvdInstanceManager *mgr;
  gboolean done;
  JsonNode *doc;
  GError *error;
} Result;

static void
create_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Result *r = user_data;

  r->doc = gvd_instance_manager_create_finish (r->mgr, res, NULL, &r->error);
  r->done = TRUE;
}

static gboolean
result_done (gpointer data)
{
  return ((Result *) data)->done;
}

static gboolean
is_ready (gpointer data)
{
  return gvd_instance_manager_is_ready (data);
}

static void
iterate_until (gboolean (*cond) (gpointer), gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        fail_msg ("timed out");
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
create__vgpu_on_fixture_parent__libvirt_refuses_409_nothing_left (void **state)
{
  g_autofree char *pool_path = g_dir_make_tmp ("gvdvgpu-it-pool-XXXXXX", NULL);
  g_autofree char *config = g_strdup_printf ("[libvirt]\nuri=qemu:///system\n"
                                             "domain_prefix=" PREFIX "\n"
                                             "[storage]\npool=" POOL "\npool_path=%s\n",
                                             pool_path);
  GvdDaemon *d = gvd_test_daemon_build ("sriov-mdev", config, NULL);
  g_autoptr(JsonNode) body = json_from_string ("{\"name\": \"vg\", \"image\": \"none.qcow2\", "
                                               "\"start\": false, \"vgpu\": "
                                               "{\"type\": \"nvidia-222\", \"count\": 2}}", NULL);
  g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (json_node_get_object (body), NULL);
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(virStoragePool) pool = NULL;
  Result r = { 0 };
  guint claims_before, mdevs_before = mdev_nodes (NULL);
  gboolean pool_before;

  gvd_daemon_start (d);
  iterate_until (is_ready, d->instances);
  /* Domains of others on this libvirtd may hold devices: compare. */
  claims_before = gvd_claims_count (d->claims);
  pool = virStoragePoolLookupByName (conn, POOL);
  pool_before = pool != NULL;
  g_clear_pointer (&pool, virStoragePoolFree);
  r.mgr = d->instances;
  assert_non_null (req);
  gvd_instance_manager_create_async (d->instances, req, create_cb, &r);
  iterate_until (result_done, &r);

  /* Planned on the fixture's T4, refused by this host's libvirt. */
  assert_null (r.doc);
  assert_true (g_error_matches (r.error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (r.error->message, "cannot create vGPU nvidia-222"));
  assert_non_null (strstr (r.error->message, "on 0000:81:00.0: "));
  dom = virDomainLookupByName (conn, PREFIX "vg");
  assert_null (dom);
  pool = virStoragePoolLookupByName (conn, POOL);
  if (!pool_before)
    assert_null (pool); /* nothing was made: the vGPUs come first */
  assert_int_equal (gvd_claims_count (d->claims), claims_before);
  assert_null (gvd_claims_get_holder (d->claims, "0000:81:00.0"));
  assert_int_equal (mdev_nodes (NULL), mdevs_before);
  assert_null (gvd_instance_manager_lookup (d->instances, "vg"));
  g_clear_error (&r.error);
  gvd_test_daemon_destroy (d);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  gvd_test_rm_rf (pool_path);
}

static gboolean
delete_done (gpointer data)
{
  return ((Result *) data)->done;
}

static void
delete_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Result *r = user_data;

  gvd_instance_manager_delete_finish (r->mgr, res, &r->error);
  r->done = TRUE;
}

static void
create_delete__vgpus_with_kernel_double__defined_by_libvirt_mdevs_removed (void **state)
{
  g_autofree char *host = gvd_test_copy_host ("sriov-mdev");
  g_autofree char *sysfs = g_build_filename (host, "sys", NULL);
  g_autofree char *pool_path = g_build_filename (host, "pool", NULL);
  g_autofree char *pool_xml = g_strdup_printf ("<pool type='dir'><name>" POOL "</name><target>"
                                               "<path>%s</path></target></pool>", pool_path);
  g_autofree char *config = g_strdup_printf ("[libvirt]\nuri=qemu:///system\n"
                                             "domain_prefix=" PREFIX "\n"
                                             "[storage]\npool=" POOL "\npool_path=%s\n"
                                             "[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\n"
                                             "devfs_root=%s/dev\n",
                                             pool_path, host, host, host);
  g_autoptr(GvdTestMdevFake) fake = gvd_test_mdev_fake_new (sysfs);
  g_autoptr(JsonNode) body = json_from_string ("{\"name\": \"life\", \"image\": \"base.qcow2\", "
                                               "\"start\": false, \"vgpu\": "
                                               "{\"type\": \"nvidia-222\", \"count\": 2}}", NULL);
  g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (json_node_get_object (body), NULL);
  g_autoptr(virStoragePool) pool = NULL;
  g_autoptr(virStorageVol) base = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *uuid0 = NULL;
  g_autofree char *uuid1 = NULL;
  char *xml;
  GvdDaemon *d;
  GvdInstance *inst;
  Result r = { 0 };

  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  /* This host runs QEMU under TCG: the fixture's /dev/kvm would ask for kvm. */
  {
    g_autofree char *kvm = g_build_filename (host, "dev", "kvm", NULL);
    assert_int_equal (g_unlink (kvm), 0);
  }
  assert_int_equal (g_mkdir_with_parents (pool_path, 0711), 0);
  pool = virStoragePoolDefineXML (conn, pool_xml, 0);
  assert_non_null (pool);
  assert_int_equal (virStoragePoolCreate (pool, 0), 0);
  base = virStorageVolCreateXML (pool, "<volume><name>base.qcow2</name>"
                                       "<capacity unit='MiB'>16</capacity>"
                                       "<target><format type='qcow2'/></target></volume>", 0);
  if (base == NULL)
    fail_msg ("base image: %s", virGetLastErrorMessage ());

  d = gvd_test_daemon_build ("sriov-mdev", config, NULL);
  gvd_instance_manager_set_mdev_ops (d->instances, &fake->ops);
  gvd_daemon_start (d);
  iterate_until (is_ready, d->instances);
  r.mgr = d->instances;
  assert_non_null (req);
  gvd_instance_manager_create_async (d->instances, req, create_cb, &r);
  iterate_until (result_done, &r);
  if (r.doc == NULL)
    fail_msg ("create: %s", r.error->message);
  g_clear_pointer (&r.doc, json_node_unref);

  /* Two mdevs made on the T4, and a domain libvirt accepted with them. */
  assert_int_equal (fake->creates, 2);
  assert_int_equal (gvd_test_mdev_available (sysfs, "0000:81:00.0", "nvidia-222"), 14);
  inst = gvd_instance_manager_lookup (d->instances, "life");
  assert_non_null (inst);
  for (guint i = 0; i < inst->spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (inst->spec->hostdevs, i);
      if (h->mdev_uuid != NULL && uuid0 == NULL)
        uuid0 = g_strdup (h->mdev_uuid);
      else if (h->mdev_uuid != NULL)
        uuid1 = g_strdup (h->mdev_uuid);
    }
  assert_non_null (uuid1);
  assert_true (gvd_test_mdev_exists (sysfs, uuid0));
  dom = virDomainLookupByName (conn, PREFIX "life");
  assert_non_null (dom);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  assert_non_null (strstr (xml, uuid0));
  assert_non_null (strstr (xml, "type='mdev'"));
  free (xml);
  assert_string_equal (gvd_claims_get_holder (d->claims, "0000:81:00.0"), "vgpu:life");

  /* Delete: the domain, its volumes, then its mdevs. */
  r.done = FALSE;
  gvd_instance_manager_delete_async (d->instances, "life", delete_cb, &r);
  iterate_until (delete_done, &r);
  if (r.error != NULL)
    fail_msg ("delete: %s", r.error->message);
  assert_int_equal (fake->removes, 2);
  assert_false (gvd_test_mdev_exists (sysfs, uuid0));
  assert_false (gvd_test_mdev_exists (sysfs, uuid1));
  assert_int_equal (gvd_test_mdev_available (sysfs, "0000:81:00.0", "nvidia-222"), 16);
  assert_null (gvd_claims_get_holder (d->claims, "0000:81:00.0"));
  assert_null (gvd_claims_get_mdev (d->claims, uuid0));
  g_clear_pointer (&dom, virDomainFree);
  dom = virDomainLookupByName (conn, PREFIX "life");
  assert_null (dom);

  gvd_test_daemon_destroy (d);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  gvd_test_rm_rf (host);
}

static int
setup (void **state)
{
  conn = virConnectOpen ("qemu:///system");
  assert_non_null (conn);
  return 0;
}

static int
teardown (void **state)
{
  virConnectClose (conn);
  return 0;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (libvirt_ops__parent_without_mdev_support__conflict_naming_parent_nothing_left),
    cmocka_unit_test (libvirt_ops__parent_not_on_this_host__conflict_naming_parent),
    cmocka_unit_test (create__vgpu_on_fixture_parent__libvirt_refuses_409_nothing_left),
    cmocka_unit_test (create_delete__vgpus_with_kernel_double__defined_by_libvirt_mdevs_removed),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, setup, teardown);
}
