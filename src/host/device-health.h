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

/* nvidia-persistenced as the host runs it: its pidfile and its binary. */
#define GVD_PERSISTENCED_PIDFILE "var/run/nvidia-persistenced/nvidia-persistenced.pid"
#define GVD_PERSISTENCED_EXE "/usr/bin/nvidia-persistenced"

/* The pid in nvidia-persistenced's pidfile (GVD_PERSISTENCED_PIDFILE below
 * the host root, see gvd_host_root_hostfs()) when /proc/PID/exe under the
 * procfs root resolves to GVD_PERSISTENCED_EXE. 0 otherwise: with
 * @out_reason NULL when there is no pidfile (not running), or saying why
 * the pid is not trusted (bad pidfile, no such process, another binary).
 * Process names are never looked at: any user can name a process
 * "nvidia-persistenced". */
int gvd_device_find_persistenced (const GvdHostRoot *root, char **out_reason);

/* SIGTERM @pid and wait up to @timeout_ms for it to exit, but only when
 * /proc/@pid/exe is @exe: checked after taking a pidfd and signalled through
 * it, so a pid that is recycled meanwhile is never hit. Refused unless the
 * procfs root is the real /proc (a pid read from a fixture tree names no
 * process of this host). FALSE with @out_reason when nothing was signalled;
 * TRUE once signalled (@out_reason set when it did not exit in time). */
gboolean gvd_device_stop_process (const GvdHostRoot *root, int pid, const char *exe,
                                  guint timeout_ms, char **out_reason);

G_END_DECLS
