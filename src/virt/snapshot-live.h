/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The disk half of a live snapshot: freeze the guest's filesystems through
 * qemu-guest-agent when it answers, switch the running domain's root disk
 * onto a new overlay, thaw. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

/* How long the guest agent may take to answer a ping, and a freeze or thaw. */
#define GVD_SNAPSHOT_AGENT_PING_SECONDS 2
#define GVD_SNAPSHOT_AGENT_FREEZE_SECONDS 30

/* Switch running @dom's root disk (volume @top of @pool) onto @new_path, a
 * qcow2 image already backed by @top (virDomainSnapshotCreateXML,
 * disk-only, reusing the image, no libvirt metadata, atomic). The guest's
 * filesystems are frozen around it when its agent answers, and thawed on
 * every path. *@out_consistency: GVD_SNAPSHOT_CONSISTENCY_FILESYSTEM or
 * _CRASH (static). libvirt leaves the disk a type='file' one in the live
 * and the persistent definition; the caller redefines the latter. */
gboolean gvd_snapshot_live_capture (virDomainPtr dom, const char *pool, const char *top,
                                    const char *new_path, const char **out_consistency,
                                    GError **error);

G_END_DECLS
