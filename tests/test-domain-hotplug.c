/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* domain-xml-hotplug.c: free pcie-root-ports and topping them up, on the
 * inactive XML libvirt 9.0 made of tests/data/domain/one-gpu.xml
 * (placed-one-gpu.xml: every device placed, its five root ports all used). */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "domain-xml-hotplug.h"
#include "errors.h"

static char *
placed (void)
{
  g_autofree char *path = gvd_test_data_path ("data", "domain", "placed-one-gpu.xml", NULL);
  char *xml = NULL;

  assert_true (g_file_get_contents (path, &xml, NULL, NULL));
  return xml;
}

static guint
port (GArray *ports, guint i)
{
  return g_array_index (ports, guint, i);
}

static void
free_ports__libvirt_placed_every_device__none_free (void **state)
{
  g_autofree char *xml = placed ();
  g_autoptr(GArray) ports = gvd_domain_xml_free_root_ports (xml, NULL);

  (void) state;
  /* The GPU's port (bus 1, host bus 0x41 is not the guest's), the NIC,
   * xhci, virtio-serial and the root disk took one each. */
  assert_non_null (ports);
  assert_int_equal (ports->len, 0);
}

static void
add_ports__three_more__indexed_after_the_last_and_free (void **state)
{
  g_autofree char *xml = placed ();
  g_autofree char *grown = gvd_domain_xml_add_root_ports (xml, 3, NULL);
  g_autoptr(GArray) ports = NULL;

  (void) state;
  assert_non_null (grown);
  ports = gvd_domain_xml_free_root_ports (grown, NULL);
  assert_non_null (ports);
  assert_int_equal (ports->len, 3);
  assert_int_equal (port (ports, 0), 6);
  assert_int_equal (port (ports, 1), 7);
  assert_int_equal (port (ports, 2), 8);
  /* Next to the other PCI controllers; the rest of the domain kept. */
  assert_non_null (strstr (grown, "<controller type=\"pci\" index=\"8\" model=\"pcie-root-port\"/>"));
  assert_non_null (strstr (grown, "urn:gpuvmd:domain:1"));
  assert_non_null (strstr (grown, "<hostdev"));
}

static void
free_ports__device_moved_onto_a_spare__that_port_busy (void **state)
{
  g_autofree char *xml = placed ();
  g_autofree char *grown = gvd_domain_xml_add_root_ports (xml, 2, NULL);
  g_autoptr(GString) s = g_string_new (grown);
  g_autoptr(GArray) ports = NULL;

  (void) state;
  /* The NIC now sits on bus 7, the second spare: bus 2 is free instead. */
  assert_true (g_string_replace (s, "bus=\"0x02\" slot=\"0x00\"", "bus=\"0x07\" slot=\"0x00\"", 1) == 1);
  ports = gvd_domain_xml_free_root_ports (s->str, NULL);
  assert_int_equal (ports->len, 2);
  assert_int_equal (port (ports, 0), 2);
  assert_int_equal (port (ports, 1), 6);
}

static void
hostile__not_a_domain_or_out_of_buses__refused (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = placed ();

  (void) state;
  assert_null (gvd_domain_xml_free_root_ports ("<network/>", &error));
  assert_non_null (error);
  g_clear_error (&error);
  assert_null (gvd_domain_xml_add_root_ports ("<domain type='kvm'/>", 1, &error));
  assert_non_null (strstr (error->message, "<devices>"));
  g_clear_error (&error);
  /* Bus numbers are 8 bits: index 5 + 251 would be 256. */
  assert_null (gvd_domain_xml_add_root_ports (xml, 251, &error));
  assert_non_null (strstr (error->message, "no PCI bus numbers left"));
  g_clear_error (&error);
  {
    g_autofree char *grown = gvd_domain_xml_add_root_ports (xml, 250, &error);
    assert_non_null (grown);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (free_ports__libvirt_placed_every_device__none_free),
    cmocka_unit_test (add_ports__three_more__indexed_after_the_last_and_free),
    cmocka_unit_test (free_ports__device_moved_onto_a_spare__that_port_busy),
    cmocka_unit_test (hostile__not_a_domain_or_out_of_buses__refused),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
