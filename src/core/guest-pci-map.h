/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest PCI address → host PCI address of an instance's passthrough devices,
 * from the placement the domain renderer gives each hostdev (pure). */
#pragma once

#include <glib.h>

#include "instance-spec.h"

G_BEGIN_DECLS

/* A guest's bus id in sysfs form: "0000:01:00.0" from nvidia-smi's
 * "00000000:01:00.0" (8-digit domain) or sysfs's "0000:01:00.0", lower
 * case; NULL when @bus_id is neither. */
char *gvd_guest_pci_normalize (const char *bus_id);

/* The guest address where the renderer puts @hostdev: its group's
 * pcie-root-port has controller index group + 1, and the guest firmware
 * numbers those buses in the same order (they are the first bridges on
 * pcie-root), so bus group + 1, slot 0, the hostdev's function. */
char *gvd_guest_pci_address_of (const GvdHostdevSpec *hostdev);

/* The host address passed through at @guest_address (either form above) in
 * @spec; NULL when none is (an emulated device, an mdev). */
char *gvd_guest_pci_host_address (const GvdInstanceSpec *spec, const char *guest_address);

G_END_DECLS
