/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device health around passthrough: host processes holding a GPU's device
 * nodes (device_busy), nvidia-persistenced, and the check after libvirt
 * hands a device back to the host (quarantine when it did not come back). */
#pragma once

#include <glib.h>

#include "host-root.h"

G_BEGIN_DECLS

typedef struct {
  int pid;
  char *comm;   /* process name */
  char *node;   /* the device node it holds, e.g. "/dev/dri/card1" */
} GvdDeviceHolder;

void gvd_device_holder_free (GvdDeviceHolder *holder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdDeviceHolder, gvd_device_holder_free)

/* "Device Minor: 0" in /proc/driver/nvidia/gpus/<addr>/information (pure). */
gboolean gvd_nvidia_parse_minor (const char *information, guint *out_minor);

/* The host device nodes standing for @address: its DRM card and render
 * nodes (sysfs drm/), and /dev/nvidiaN for NVIDIA's driver. Paths are as the
 * host names them ("/dev/..."), independent of the devfs root. */
GStrv gvd_device_nodes (const GvdHostRoot *root, const char *address);

/* Every (process, node) pair where a process under the procfs root has one
 * of @nodes open. Processes that vanish during the scan are skipped. */
GPtrArray *gvd_device_holders (const GvdHostRoot *root, const char *const *nodes);

/* GVD_ERROR_DEVICE_BUSY naming every holder of any of @addresses' nodes. */
gboolean gvd_device_check_not_busy (const GvdHostRoot *root, const char *const *addresses,
                                    GError **error);

/* After release: the device is still on the bus, its config space answers
 * (vendor id not 0xffff) and it is bound to @expected_driver again (NULL:
 * any driver or none). On failure @out_reason says what is wrong. */
gboolean gvd_device_check_released (const GvdHostRoot *root, const char *address,
                                    const char *expected_driver, char **out_reason);

/* The pid of nvidia-persistenced under the procfs root, or 0. */
int gvd_device_find_persistenced (const GvdHostRoot *root);

G_END_DECLS
