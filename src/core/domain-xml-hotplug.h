/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Free PCIe hot-plug slots in a q35 domain's XML (pure).
 *
 * A running q35 guest can take a hot-plugged PCIe device (a virtio disk or
 * NIC, a passthrough function) only on an empty pcie-root-port: pcie-root
 * itself is not hot-pluggable and QEMU cannot add root ports to a running
 * machine. libvirt fills empty root ports with every device that has no
 * address when it assigns addresses at define time, so rendering spare
 * ports does not keep them spare; gpuvmd instead reads the definition back
 * after libvirt placed every device and tops the empty ports up to
 * `[instances] hotplug_ports` (gvd_instance_ensure_hotplug_ports). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The controller indices (= bus numbers) of @xml's pcie-root-ports that no
 * device's PCI address uses, ascending. Ports without an index, or devices
 * without an address, do not count as free or busy: call this on XML
 * libvirt has placed. NULL with @error when @xml is not a domain. */
GArray *gvd_domain_xml_free_root_ports (const char *xml, GError **error);

/* @xml with @n more pcie-root-ports, indexed after the highest PCI
 * controller index, placed after the last PCI controller. libvirt gives
 * them their own addresses on pcie-root at define time. */
char *gvd_domain_xml_add_root_ports (const char *xml, guint n, GError **error);

G_END_DECLS
