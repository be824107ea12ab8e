/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scanning the host's PCI inventory (core/inventory.h) through libpci and
 * sysfs below a GvdHostRoot. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "host-root.h"
#include "inventory.h"

G_BEGIN_DECLS

/* Scan the host below @root. @host_critical and @passthrough_devices are
 * the config lists (PCI addresses; may be NULL). A host without PCI sysfs
 * is an error; a host without IOMMU groups is not (iommu is FALSE). */
GvdInventory *gvd_hostinfo_scan (const GvdHostRoot *root, const char *const *host_critical,
                                 const char *const *passthrough_devices, GError **error);

/* JSON object for one device (API answers), reading from sysfs the details
 * the scan left unread. */
void gvd_hostinfo_device_to_json (const GvdPciDevice *dev, JsonBuilder *builder);

G_END_DECLS
