/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unplugging a device from a running domain and waiting until the guest has
 * let it go: libvirt's detach only asks the guest (PCIe hot-unplug needs
 * its cooperation); the device is gone when libvirt says DEVICE_REMOVED.
 * Shared by every hot-plug kind (disks, NICs, GPUs). */
#pragma once

#include <libvirt/libvirt.h>

#include "errors.h"

G_BEGIN_DECLS

/* Worker thread, with the main context running (libvirt's events are
 * dispatched there). Ask the guest of the running @dom to release the
 * device libvirt calls @alias (virDomainDetachDeviceAlias, live only) and
 * wait at most @timeout_s seconds for VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED
 * for it. TRUE: the device is gone from the running domain (its persistent
 * definition is the caller's to change). Otherwise the device is still
 * there: GVD_ERROR_TIMEOUT when the guest did not answer in time (an OS
 * without hot-plug support, or none at all, never does; the request stays
 * pending in the guest), GVD_ERROR_CONFLICT when QEMU reported
 * DEVICE_REMOVAL_FAILED, libvirt's error when the request could not be
 * made. @what names the device in messages ("disk vdb"). */
gboolean gvd_device_detach_wait (virConnectPtr conn, virDomainPtr dom, const char *alias,
                                 const char *what, guint timeout_s, GError **error);

G_END_DECLS
