/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vGPU parents read live from sysfs: a device's mdev_supported_types (name,
 * description, device_api, available_instances) and the mdevs on it
 * (/sys/bus/mdev/devices). The kernel's counts change with every mdev
 * created, so these are read when asked, not at the scan. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "host-root.h"
#include "inventory.h"
#include "vgpu.h"

G_BEGIN_DECLS

/* @address's vGPU types and mdevs, or NULL when it offers no mdev types. */
GvdVgpuParent *gvd_hostinfo_read_vgpu_parent (const GvdHostRoot *root, const char *address,
                                              int numa_node);
/* Every device of @inventory that offers mdev types (GvdVgpuParent), sorted
 * by address. */
GPtrArray *gvd_hostinfo_read_vgpu (const GvdHostRoot *root, const GvdInventory *inventory);
/* The PCI address of the parent of mdev @uuid as sysfs shows it, or NULL
 * when the kernel has no such mdev. */
char *gvd_hostinfo_mdev_parent (const GvdHostRoot *root, const char *uuid);
/* "vgpu_types" and "mdevs" (vgpu.h) of @dev, read now, into an object being
 * built; empty arrays for a device without mdev types (or NULL). */
void gvd_hostinfo_vgpu_members (const GvdHostRoot *root, const GvdPciDevice *dev,
                                GvdClaims *claims, JsonBuilder *b);

G_END_DECLS
