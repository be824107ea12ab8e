/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* domain-xml-device.c: one device's XML for hot-plug (the create's
 * renderer), targets, finding a device and its alias, and one entry added
 * to or removed from gpuvmd's metadata (as libvirt hands it out, without
 * its namespace, and as gpuvmd renders it). */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "domain-xml-device.h"
#include "domain-xml.h"
#include "errors.h"

/* What virDomainGetMetadata gives: the element without its namespace. */
#define META_LIBVIRT                                                                   \
  "<instance version=\"1\"><name>hp</name><nics><nic mac=\"52:54:00:aa:bb:01\"/></nics>" \
  "<disks><disk target=\"vdb\" name=\"data\" created=\"yes\" keep=\"no\"/></disks></instance>"
#define META_RENDERED                                                                  \
  "<gpuvmd:instance xmlns:gpuvmd=\"urn:gpuvmd:domain:1\" version=\"1\">"               \
  "<gpuvmd:name>hp</gpuvmd:name><gpuvmd:nics/></gpuvmd:instance>"

#define LIVE                                                                           \
  "<domain type='qemu'><name>x</name><devices>"                                        \
  "<disk type='volume' device='disk'><target dev='vda' bus='virtio'/>"                 \
  "<alias name='virtio-disk0'/></disk>"                                                \
  "<disk type='volume' device='cdrom'><target dev='sda' bus='sata'/>"                  \
  "<alias name='sata0-0-0'/></disk>"                                                   \
  "<interface type='user'><mac address='52:54:00:AA:BB:01'/><alias name='net0'/>"      \
  "</interface></devices></domain>"

static GvdDiskSpec *
data_disk (void)
{
  GvdDiskSpec *d = gvd_disk_spec_new ();

  d->type = GVD_DISK_VOLUME;
  d->pool = g_strdup ("gpuvmd");
  d->volume = g_strdup ("gpuvmd-hp-disk-data.qcow2");
  d->format = g_strdup ("qcow2");
  d->target = g_strdup ("vdb");
  d->serial = g_strdup ("GVD-1");
  d->name = g_strdup ("data");
  d->size_bytes = 1073741824;
  d->created = TRUE;
  return d;
}

static void
disk_device__virtio_on_a_port__the_create_renderers_disk (void **state)
{
  g_autoptr(GvdDiskSpec) d = data_disk ();
  g_autofree char *xml = gvd_domain_xml_disk_device (d, 7, NULL);

  (void) state;
  assert_string_equal (xml,
                       "<disk type=\"volume\" device=\"disk\"><driver name=\"qemu\" type=\"qcow2\"/>"
                       "<source pool=\"gpuvmd\" volume=\"gpuvmd-hp-disk-data.qcow2\"/>"
                       "<target dev=\"vdb\" bus=\"virtio\"/><serial>GVD-1</serial>"
                       "<address type=\"pci\" domain=\"0x0000\" bus=\"0x07\" slot=\"0x00\" "
                       "function=\"0x0\"/></disk>");
}

static void
disk_device__scsi__no_pci_address (void **state)
{
  g_autoptr(GvdDiskSpec) d = data_disk ();
  g_autofree char *xml = NULL;

  (void) state;
  d->bus = GVD_DISK_BUS_SCSI;
  g_free (d->target);
  d->target = g_strdup ("sdb");
  xml = gvd_domain_xml_disk_device (d, 7, NULL);
  assert_non_null (strstr (xml, "<target dev=\"sdb\" bus=\"scsi\"/>"));
  assert_null (strstr (xml, "<address"));
}

static void
nic_device__bridge_and_forwards__interface_or_refused (void **state)
{
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  GvdPortForward f = { 22, 2222 };

  (void) state;
  nic->mode = GVD_NETWORK_BRIDGE;
  nic->source = g_strdup ("br0");
  nic->mac = g_strdup ("52:54:00:aa:bb:02");
  xml = gvd_domain_xml_nic_device (nic, 0, NULL);
  assert_string_equal (xml, "<interface type=\"bridge\"><mac address=\"52:54:00:aa:bb:02\"/>"
                            "<source bridge=\"br0\"/><model type=\"virtio\"/></interface>");
  /* A user-mode NIC with port forwards is QEMU command line, not XML. */
  nic->mode = GVD_NETWORK_USER;
  nic->forwards = g_array_new (FALSE, FALSE, sizeof (GvdPortForward));
  g_array_append_val (nic->forwards, f);
  g_clear_pointer (&xml, g_free);
  xml = gvd_domain_xml_nic_device (nic, 0, &error);
  assert_null (xml);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
}

static void
pick_target__taken_by_disks_and_cdrom__next_free (void **state)
{
  char *used[] = { "vda", "sda", "vdc", NULL };
  g_autofree char *vd = gvd_domain_xml_pick_target (GVD_DISK_BUS_VIRTIO, used);
  g_autofree char *sd = gvd_domain_xml_pick_target (GVD_DISK_BUS_SATA, used);
  g_autofree char *first = gvd_domain_xml_pick_target (GVD_DISK_BUS_SCSI, NULL);

  (void) state;
  assert_string_equal (vd, "vdb");
  assert_string_equal (sd, "sdb");
  assert_string_equal (first, "sda");
}

static void
targets_and_find__live_xml__aliases_by_target_and_mac (void **state)
{
  g_auto(GStrv) targets = gvd_domain_xml_disk_targets (LIVE, NULL);
  g_autofree char *alias = NULL;

  (void) state;
  assert_non_null (targets);
  assert_int_equal (g_strv_length (targets), 2);
  assert_string_equal (targets[1], "sda");
  assert_true (gvd_domain_xml_find_device (LIVE, TRUE, "vda", &alias, NULL));
  assert_string_equal (alias, "virtio-disk0");
  g_clear_pointer (&alias, g_free);
  /* libvirt may spell the MAC in upper case. */
  assert_true (gvd_domain_xml_find_device (LIVE, FALSE, "52:54:00:aa:bb:01", &alias, NULL));
  assert_string_equal (alias, "net0");
  g_clear_pointer (&alias, g_free);
  assert_false (gvd_domain_xml_find_device (LIVE, TRUE, "vdb", &alias, NULL));
  assert_null (alias);
}

static void
metadata_disk__libvirt_form__added_replaced_removed (void **state)
{
  g_autoptr(GvdDiskSpec) d = data_disk ();
  g_autofree char *added = NULL;
  g_autofree char *again = NULL;
  g_autofree char *removed = NULL;

  (void) state;
  g_free (d->target);
  d->target = g_strdup ("vdc");
  g_free (d->name);
  d->name = g_strdup ("more");
  added = gvd_domain_xml_metadata_add_disk (META_LIBVIRT, d, NULL);
  assert_non_null (added);
  assert_non_null (strstr (added, "<disk target=\"vdb\" name=\"data\""));
  assert_non_null (strstr (added, "<disk target=\"vdc\" name=\"more\" size-bytes=\"1073741824\" "
                                  "created=\"yes\" keep=\"no\"/>"));
  assert_non_null (strstr (added, "<nic mac=\"52:54:00:aa:bb:01\"/>"));
  /* The same target again replaces its entry. */
  d->keep = TRUE;
  again = gvd_domain_xml_metadata_add_disk (added, d, NULL);
  assert_null (strstr (again, "keep=\"no\"/></disks>"));
  assert_int_equal (strstr (again, "target=\"vdc\"") - again,
                    g_strrstr (again, "target=\"vdc\"") - again);
  removed = gvd_domain_xml_metadata_remove_disk (again, "vdc", NULL);
  assert_null (strstr (removed, "vdc"));
  assert_non_null (strstr (removed, "target=\"vdb\""));
}

static void
metadata_nic__rendered_form__namespace_kept_prefix_g (void **state)
{
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
  g_autofree char *added = NULL;
  g_autofree char *removed = NULL;

  (void) state;
  nic->mac = g_strdup ("52:54:00:aa:bb:03");
  nic->ipv4 = g_strdup ("10.77.0.9/24");
  added = gvd_domain_xml_metadata_add_nic (META_RENDERED, nic, NULL);
  assert_non_null (added);
  /* libvirt declares its key's prefix itself: ours is renamed. */
  assert_non_null (strstr (added, "xmlns:g=\"urn:gpuvmd:domain:1\""));
  assert_non_null (strstr (added, "<g:nic mac=\"52:54:00:aa:bb:03\" ipv4=\"10.77.0.9/24\"/>"));
  removed = gvd_domain_xml_metadata_remove_nic (added, "52:54:00:AA:BB:03", NULL);
  assert_null (strstr (removed, "aa:bb:03"));
}

static void
metadata__not_gpuvmds__refused (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
  g_autofree char *out = NULL;

  (void) state;
  nic->mac = g_strdup ("52:54:00:aa:bb:03");
  out = gvd_domain_xml_metadata_add_nic ("<other xmlns=\"urn:x\"/>", nic, &error);
  assert_null (out);
  assert_non_null (error);
  g_clear_error (&error);
  out = gvd_domain_xml_metadata_remove_nic ("<instance", "52:54:00:aa:bb:03", &error);
  assert_null (out);
  assert_non_null (error);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (disk_device__virtio_on_a_port__the_create_renderers_disk),
    cmocka_unit_test (disk_device__scsi__no_pci_address),
    cmocka_unit_test (nic_device__bridge_and_forwards__interface_or_refused),
    cmocka_unit_test (pick_target__taken_by_disks_and_cdrom__next_free),
    cmocka_unit_test (targets_and_find__live_xml__aliases_by_target_and_mac),
    cmocka_unit_test (metadata_disk__libvirt_form__added_replaced_removed),
    cmocka_unit_test (metadata_nic__rendered_form__namespace_kept_prefix_g),
    cmocka_unit_test (metadata__not_gpuvmds__refused),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
