/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU hot-plug, the pure parts (src/core/gpu-hotplug.c): the request, the
 * free hot-plug ports of a domain, placing a planned IOMMU group (the rig's
 * two-device group, from its fixture tree), the hostdev XML libvirt gets,
 * the metadata that lets recovery find a hot-plugged group, and the
 * all-or-nothing attach with its rollback. */
#include "config.h"

#include "testlib.h"
#include "domain-xml-testlib.h"

#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <string.h>

#include "domain-xml.h"
#include "domain-xml-disks.h"
#include "domain-xml-hotplug.h"
#include "gpu-hotplug.h"
#include "guest-pci-map.h"
#include "hostinfo.h"
#include "vfio-plan.h"

static JsonObject *
body (const char *json)
{
  g_autoptr(JsonParser) p = json_parser_new ();

  assert_true (json_parser_load_from_data (p, json, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

static void
assert_refused (const char *json, const char *needle)
{
  g_autoptr(JsonObject) o = body (json);
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdGpuAttachRequest) req = gvd_gpu_attach_request_parse (o, &error);

  assert_null (req);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  if (strstr (error->message, needle) == NULL)
    fail_msg ("'%s' not in '%s'", needle, error->message);
}

static void
request__devices_or_count__parsed_and_hostile_refused_by_field (void **state)
{
  g_autoptr(JsonObject) a = body ("{\"devices\": [\"0000:01:00.0\", \"gpu0\"]}");
  g_autoptr(JsonObject) b = body ("{\"count\": 2, \"gpu_model\": \"A100\", "
                                  "\"allow_weakened_isolation\": true}");
  g_autoptr(GvdGpuAttachRequest) ra = gvd_gpu_attach_request_parse (a, NULL);
  g_autoptr(GvdGpuAttachRequest) rb = gvd_gpu_attach_request_parse (b, NULL);

  assert_non_null (ra);
  assert_int_equal (g_strv_length (ra->devices), 2);
  assert_string_equal (ra->devices[1], "gpu0");
  assert_non_null (rb);
  assert_null (rb->devices);
  assert_int_equal (rb->count, 2);
  assert_string_equal (rb->gpu_model, "A100");
  assert_true (rb->allow_weakened_isolation);

  assert_refused ("{}", "'devices'");
  assert_refused ("{\"devices\": [\"0000:01:00.0\"], \"count\": 1}", "exclude each other");
  assert_refused ("{\"devices\": []}", "'devices': expected 1 to");
  assert_refused ("{\"devices\": \"0000:01:00.0\"}", "'devices': expected an array");
  assert_refused ("{\"devices\": [\"0000:01:00.0\", 7]}", "devices[1]");
  assert_refused ("{\"devices\": [\"\"]}", "devices[0]");
  assert_refused ("{\"count\": 0}", "'count'");
  assert_refused ("{\"count\": 65}", "'count'");
  assert_refused ("{\"count\": -1}", "'count'");
  assert_refused ("{\"count\": \"1\"}", "'count'");
  assert_refused ("{\"devices\": [\"gpu0\"], \"gpu_vendor\": \"nvidia\"}", "set 'count'");
  assert_refused ("{\"count\": 1, \"bogus\": 1}", "'bogus': unknown member");
}

/* A q35 domain as libvirt shows it: ports 1-3 hold the NIC, the disk and a
 * pcie-to-pci-bridge; 4, 6 and 7 are empty (the hot-plug ports). */
static const char *const domain_xml =
  "<domain type='qemu'><name>x</name><devices>"
  "<controller type='pci' index='0' model='pcie-root'/>"
  "<controller type='pci' index='1' model='pcie-root-port'>"
  "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></controller>"
  "<controller type='pci' index='2' model='pcie-root-port'>"
  "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x1'/></controller>"
  "<controller type='pci' index='3' model='pcie-root-port'>"
  "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x2'/></controller>"
  "<controller type='pci' index='4' model='pcie-root-port'>"
  "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x3'/></controller>"
  "<controller type='pci' index='5' model='pcie-to-pci-bridge'>"
  "<address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></controller>"
  "<controller type='pci' index='7' model='pcie-root-port'>"
  "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x5'/></controller>"
  "<controller type='pci' index='6' model='pcie-root-port'>"
  "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x4'/></controller>"
  "<interface type='user'><address type='pci' domain='0x0000' bus='0x01' slot='0x00' "
  "function='0x0'/></interface>"
  "<disk type='file' device='disk'><target dev='vda' bus='virtio'/><alias name='virtio-disk0'/>"
  "<address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></disk>"
  "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
  "bus='0x41' slot='0x00' function='0x0'/></source><alias name='ua-hostdev0'/>"
  "<address type='pci' domain='0x0000' bus='0x05' slot='0x01' function='0x0'/></hostdev>"
  "</devices></domain>";

/* The ports hot-plug picks from (domain-xml-hotplug.h), and the aliases a
 * detach waits for. */
static void
free_ports__empty_root_ports_only__ascending (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ports = gvd_domain_xml_free_root_ports (domain_xml, &error);

  assert_non_null (ports);
  assert_int_equal (ports->len, 3);
  assert_int_equal (g_array_index (ports, guint, 0), 4);
  assert_int_equal (g_array_index (ports, guint, 1), 6);
  assert_int_equal (g_array_index (ports, guint, 2), 7);
  /* The hostdev's alias by its source, and alias presence. */
  {
    g_autofree char *alias = gvd_gpu_hotplug_alias_of (domain_xml, "0000:41:00.0");
    assert_string_equal (alias, "ua-hostdev0");
    assert_null (gvd_gpu_hotplug_alias_of (domain_xml, "0000:42:00.0"));
    assert_true (gvd_gpu_hotplug_has_alias (domain_xml, "virtio-disk0"));
    assert_false (gvd_gpu_hotplug_has_alias (domain_xml, "ua-gpu-0000-41-00-0"));
  }
  assert_null (gvd_domain_xml_free_root_ports ("<domain", &error));
  assert_non_null (error);
}

static GvdPlan *
plan_rig_bridge_group (void)
{
  const char *pt[] = { "0000:05:01.0", "0000:05:02.0", NULL };
  g_autofree char *dir = gvd_test_data_path ("data", "hosts", "vfio-rig", NULL);
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (dir);
  g_autoptr(GvdInventory) inv = gvd_hostinfo_scan (root, NULL, pt, NULL);
  g_autoptr(GvdPlanRequest) req = gvd_plan_request_new ();
  g_autoptr(GError) error = NULL;
  GvdPlan *plan;

  assert_non_null (inv);
  req->devices = g_strsplit ("0000:05:01.0,0000:05:02.0", ",", 0);
  plan = gvd_vfio_plan_compute (inv, req, NULL, NULL, NULL, &error);
  if (plan == NULL)
    fail_msg ("the rig's bridge group was refused: %s", error->message);
  return plan;
}

/* The planner keeps the group's two devices together (functions 0 and 1
 * of one guest group, as at create); a hot-plug puts each on its own free
 * port, function 0, never multifunction (libvirt cannot hot-unplug a
 * multifunction device), and guest-pci-map's rule still finds them. */
static void
place__rig_bridge_group__one_port_each_and_conflict_names_hotplug_ports (void **state)
{
  g_autoptr(GvdPlan) plan = plan_rig_bridge_group ();
  g_autoptr(GArray) ports = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GPtrArray) placed = NULL;
  g_autoptr(GError) error = NULL;
  guint p[] = { 33, 9, 11 };

  assert_int_equal (plan->hostdevs->len, 2);
  /* One of the two alone is still refused: its peer is bound (virtio-pci). */
  {
    const char *pt[] = { "0000:05:01.0", "0000:05:02.0", NULL };
    g_autofree char *dir = gvd_test_data_path ("data", "hosts", "vfio-rig", NULL);
    g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (dir);
    g_autoptr(GvdInventory) inv = gvd_hostinfo_scan (root, NULL, pt, NULL);
    g_autoptr(GvdPlanRequest) req = gvd_plan_request_new ();
    g_autoptr(GvdPlan) alone = NULL;

    req->devices = g_strsplit ("0000:05:02.0", ",", 0);
    alone = gvd_vfio_plan_compute (inv, req, NULL, NULL, NULL, &error);
    assert_null (alone);
    assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_GROUP_CONFLICT));
    g_clear_error (&error);
  }
  g_array_append_vals (ports, p, 2);
  /* Port 33 would be guest group 32: beyond what the metadata records. */
  placed = gvd_gpu_hotplug_place (plan, ports, "n1", &error);
  assert_null (placed);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (error->message, "hotplug_ports"));
  assert_non_null (strstr (error->message, "'n1'"));
  g_clear_error (&error);

  p[0] = 7;
  g_array_remove_range (ports, 0, 2);
  g_array_append_vals (ports, p, 3);
  placed = gvd_gpu_hotplug_place (plan, ports, "n1", &error);
  assert_non_null (placed);
  assert_int_equal (placed->len, 2);
  for (guint i = 0; i < 2; i++)
    {
      GvdHostdevSpec *h = g_ptr_array_index (placed, i);
      g_autofree char *guest = gvd_guest_pci_address_of (h);
      const char *want = i == 0 ? "0000:07:00.0" : "0000:09:00.0";

      assert_int_equal (h->guest_function, 0);
      assert_false (h->multifunction);
      assert_string_equal (guest, want);
    }
  assert_string_equal (((GvdHostdevSpec *) g_ptr_array_index (placed, 0))->host_address,
                       "0000:05:01.0");
}

static void
assert_schema_valid (const char *xml)
{
  g_autofree char *tool = g_find_program_in_path ("virt-xml-validate");
  g_autofree char *dir = g_dir_make_tmp ("gvd-hotplug-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "domain.xml", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *argv[] = { tool, path, "domain", NULL };
  int status = 0;

  if (tool == NULL)
    fail_msg ("virt-xml-validate not found (apt-get install libvirt-clients)");
  assert_true (g_file_set_contents (path, xml, -1, NULL));
  assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                             &status, NULL));
  g_unlink (path);
  g_rmdir (dir);
  if (!g_spawn_check_wait_status (status, NULL))
    fail_msg ("virt-xml-validate refused:\n%s%s", out, err);
}

/* The golden <hostdev> (tests/data/domain/hotplug-hostdev.xml), valid for
 * libvirt's schema inside a rendered domain; the detach form names only
 * the source. */
static void
hostdev_xml__golden_and_schema_valid (void **state)
{
  g_autoptr(GvdHostdevSpec) h = gvd_test_hostdev ("0000:05:01.0", 6, 0, -1);
  g_autofree char *xml = gvd_gpu_hotplug_hostdev_xml (h, NULL);
  g_autofree char *path = gvd_test_data_path ("data", "domain", "hotplug-hostdev.xml", NULL);
  g_autofree char *golden = NULL;
  g_autofree char *alias = gvd_gpu_hotplug_alias_in_xml (xml);
  g_autofree char *detach = gvd_gpu_hotplug_detach_xml ("0000:05:01.0", NULL);
  g_autoptr(GvdInstanceSpec) spec = gvd_test_spec_minimal ("hp");
  g_autofree char *domain = NULL;

  assert_non_null (xml);
  if (g_strcmp0 (g_getenv ("GVD_TEST_REGENERATE"), "1") == 0)
    {
      g_autofree char *with_nl = g_strconcat (xml, "\n", NULL);
      assert_true (g_file_set_contents (path, with_nl, -1, NULL));
    }
  assert_true (g_file_get_contents (path, &golden, NULL, NULL));
  g_strchomp (golden);
  assert_string_equal (xml, golden);
  assert_string_equal (alias, "ua-gpu-0000-05-01-0");
  assert_null (strstr (detach, "alias"));
  assert_null (strstr (detach, "type=\"pci\" domain=\"0x0000\" bus=\"0x07\""));
  assert_non_null (strstr (detach, "bus=\"0x05\" slot=\"0x01\""));

  /* Inside a domain (a port for it, as gpuvmd's top-up leaves them). */
  domain = gvd_domain_xml_render (spec, NULL);
  assert_non_null (domain);
  {
    g_autofree char *ports = g_strdup (
      "<controller type='pci' index='1' model='pcie-root-port'/>"
      "<controller type='pci' index='7' model='pcie-root-port'/>");
    g_autofree char *insert = g_strconcat (ports, xml, "</devices>", NULL);
    g_auto(GStrv) parts = g_strsplit (domain, "</devices>", 2);
    g_autofree char *joined = g_strconcat (parts[0], insert, parts[1], NULL);

    assert_schema_valid (joined);
  }
}

/* A hot-plugged group sits on a port past the create-time groups: the
 * metadata renders (groups may have gaps) and recovery reads the group
 * back from it. */
static void
metadata__gap_after_hotplug__renders_and_parses_back (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_test_spec_minimal ("hp");
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *meta = NULL;

  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:41:00.0", 0, 0, -1));
  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:05:01.0", 6, 0, -1));
  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:05:02.0", 8, 0, -1));
  xml = gvd_domain_xml_render (spec, &error);
  if (xml == NULL)
    fail_msg ("render: %s", error->message);
  meta = gvd_domain_xml_render_metadata (spec, &error);
  assert_non_null (meta);
  assert_non_null (strstr (meta, "group=\"8\""));
  /* Only the used groups get a root port from the renderer. */
  assert_non_null (strstr (xml, "index=\"7\" model=\"pcie-root-port\""));
  assert_null (strstr (xml, "index=\"2\" model=\"pcie-root-port\""));
  assert_schema_valid (xml);
  back = gvd_domain_xml_parse (xml, &error);
  if (back == NULL)
    fail_msg ("parse: %s", error->message);
  gvd_test_assert_spec_equal (spec, back);

  /* A group with a function but no function 0 is still refused. */
  ((GvdHostdevSpec *) g_ptr_array_index (spec->hostdevs, 2))->guest_function = 1;
  g_clear_pointer (&xml, g_free);
  g_clear_error (&error);
  assert_null (gvd_domain_xml_render (spec, &error));
  assert_non_null (strstr (error->message, "no function 0"));
}

/* ---- the attach sequence, with fake libvirt operations ---------------------- */

typedef struct {
  guint fail_attach_at; /* 1-based; 0: never */
  gboolean fail_detach;
  GPtrArray *log;       /* "attach X" / "detach X" */
} Fake;

static gboolean
fake_attach (gpointer data, const char *xml, GError **error)
{
  Fake *f = data;

  if (f->fail_attach_at != 0 && f->log->len + 1 >= f->fail_attach_at)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_LIBVIRT, "refused %s", xml);
      return FALSE;
    }
  g_ptr_array_add (f->log, g_strconcat ("attach ", xml, NULL));
  return TRUE;
}

static gboolean
fake_detach (gpointer data, const char *xml, GError **error)
{
  Fake *f = data;

  g_ptr_array_add (f->log, g_strconcat ("detach ", xml, NULL));
  if (f->fail_detach)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_TIMEOUT, "kept %s", xml);
      return FALSE;
    }
  return TRUE;
}

static const GvdGpuHotplugOps fake_ops = { fake_attach, fake_detach };

static void
attach_all__third_function_fails__first_two_detached_last_first (void **state)
{
  g_autoptr(GPtrArray) xmls = g_ptr_array_new ();
  const char *addresses[] = { "0000:05:00.0", "0000:05:00.1", "0000:05:00.2", NULL };
  Fake f = { .fail_attach_at = 3, .log = g_ptr_array_new_with_free_func (g_free) };
  gboolean kept[3] = { FALSE, FALSE, FALSE };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) rollback = NULL;

  g_ptr_array_add (xmls, "A");
  g_ptr_array_add (xmls, "B");
  g_ptr_array_add (xmls, "C");
  assert_false (gvd_gpu_hotplug_attach_all (&fake_ops, &f, xmls, addresses, kept, &rollback,
                                            &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_LIBVIRT));
  assert_false (kept[0] || kept[1] || kept[2]);
  assert_non_null (strstr (error->message, "attaching 0000:05:00.2: refused C"));
  assert_null (rollback);
  assert_int_equal (f.log->len, 4);
  assert_string_equal (g_ptr_array_index (f.log, 0), "attach A");
  assert_string_equal (g_ptr_array_index (f.log, 1), "attach B");
  assert_string_equal (g_ptr_array_index (f.log, 2), "detach B");
  assert_string_equal (g_ptr_array_index (f.log, 3), "detach A");

  /* A rollback that cannot detach says so (the caller keeps the claims). */
  g_ptr_array_set_size (f.log, 0);
  g_clear_error (&error);
  f.fail_attach_at = 2;
  f.fail_detach = TRUE;
  assert_false (gvd_gpu_hotplug_attach_all (&fake_ops, &f, xmls, addresses, kept, &rollback,
                                            &error));
  assert_non_null (rollback);
  assert_true (kept[0]);
  assert_false (kept[1] || kept[2]);
  assert_non_null (strstr (rollback->message, "rolling back 0000:05:00.0: kept A"));

  /* All succeed: nothing detached. */
  g_ptr_array_set_size (f.log, 0);
  g_clear_error (&error);
  g_clear_error (&rollback);
  f.fail_attach_at = 0;
  assert_true (gvd_gpu_hotplug_attach_all (&fake_ops, &f, xmls, addresses, NULL, &rollback,
                                           &error));
  assert_int_equal (f.log->len, 3);
  g_ptr_array_unref (f.log);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (request__devices_or_count__parsed_and_hostile_refused_by_field),
    cmocka_unit_test (free_ports__empty_root_ports_only__ascending),
    cmocka_unit_test (place__rig_bridge_group__one_port_each_and_conflict_names_hotplug_ports),
    cmocka_unit_test (hostdev_xml__golden_and_schema_valid),
    cmocka_unit_test (metadata__gap_after_hotplug__renders_and_parses_back),
    cmocka_unit_test (attach_all__third_function_fails__first_two_detached_last_first),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
