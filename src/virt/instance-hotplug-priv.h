/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hot-plug's internals, shared by instance-hotplug.c (the main thread:
 * checks, leases, the instance) and instance-hotplug-worker.c (libvirt). */
#pragma once

#include "instance-priv.h"

G_BEGIN_DECLS

typedef enum {
  GVD_HOTPLUG_ATTACH_DISK,
  GVD_HOTPLUG_DETACH_DISK,
  GVD_HOTPLUG_ATTACH_NIC,
  GVD_HOTPLUG_DETACH_NIC,
} GvdHotplugOp;

typedef struct _GvdHotplug {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  GvdHotplugOp op;
  char *name;
  char *domain_name;
  char *prefix;        /* [libvirt] domain_prefix */
  char *pool;
  guint timeout;       /* [instances] device_timeout */
  GvdDiskSpec *disk;   /* GVD_HOTPLUG_ATTACH_DISK: the new disk (the worker sets its target); GVD_HOTPLUG_DETACH_DISK: a copy */
  GvdNicSpec *nic;     /* GVD_HOTPLUG_ATTACH_NIC: the new NIC with its lease; GVD_HOTPLUG_DETACH_NIC: a copy */
  guint nic_index;     /* the NIC's lease key (gvd_ipam_nic_owner) */
  gboolean delete_volume; /* GVD_HOTPLUG_DETACH_DISK: the volume goes too */
  /* results */
  gboolean live;       /* the domain was running */
  char *volume_error;  /* GVD_HOTPLUG_DETACH_DISK: the device went but its volume could not be deleted */
} GvdHotplug;

void gvd_instance_hotplug_free (GvdHotplug *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdHotplug, gvd_instance_hotplug_free)

/* The worker: the device into or out of the domain (live when it runs, its
 * definition always) and gpuvmd's metadata; g_task_return_boolean. */
void gvd_instance_hotplug_thread (GTask *task, gpointer source, gpointer task_data,
                                  GCancellable *cancellable);

G_END_DECLS
