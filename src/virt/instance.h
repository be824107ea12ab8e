/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instances: create (with full rollback), lifecycle, delete, QMP, libvirt
 * lifecycle events and recovery from libvirt after a (re)connect. libvirt is
 * the source of truth; this module keeps the in-memory view, the device
 * claims and the address allocations that follow from it. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "claims.h"
#include "gpu-hotplug.h"
#include "gvd-config.h"
#include "host-root.h"
#include "instance-request.h"
#include "instance-spec.h"
#include "virt-conn.h"

G_BEGIN_DECLS

typedef struct _GvdInstanceManager GvdInstanceManager;

typedef enum {
  GVD_ACTION_START,
  GVD_ACTION_SHUTDOWN, /* ACPI powerdown, then destroy after a timeout */
  GVD_ACTION_STOP,     /* destroy */
  GVD_ACTION_REBOOT,
  GVD_ACTION_RESET,
} GvdInstanceAction;

typedef struct {
  GvdInstanceSpec *spec;
  char *state;           /* libvirt state: running, shutoff, paused, crashed… */
  char *busy;            /* operation in progress, or NULL */
  gint64 state_changed_at; /* g_get_real_time () */
  char *vnc_socket;      /* the VNC console's unix socket (live XML); NULL: none */
} GvdInstance;

typedef struct _GvdIpam GvdIpam; /* ipam.h */
typedef struct _GvdInventory GvdInventory; /* inventory.h */
typedef struct _GvdRegistry GvdRegistry;   /* registry.h */
typedef struct _GvdReservations GvdReservations; /* reservations.h */
typedef struct _GvdAgentHub GvdAgentHub;   /* agent.h */
typedef struct _GvdEvents GvdEvents;       /* events.h */
typedef struct _GvdStorage GvdStorage;     /* storage.h */

/* What the manager works with, all borrowed and all required: they must
 * outlive the manager (gvd_daemon_new builds them first, in this order). */
typedef struct {
  GvdConfig *config;
  GvdHostRoot *host_root;
  GvdEvents *events;       /* instance.* and device.quarantined events */
  GvdAgentHub *agent;      /* tokens and health of the guests' agents */
  GvdRegistry *registry;   /* device names a request may use */
  GvdInventory *inventory; /* the host's PCI devices, for the planner */
  GvdVirtConn *virt;
  GvdStorage *storage;     /* what creates share with /v1/images */
  GvdClaims *claims;       /* device claims and quarantine; the manager sets it ready */
  GvdIpam *ipam;           /* the MAC/IP allocator shared with reservations */
  GvdReservations *reservations; /* what a create with a reservation takes over */
} GvdInstanceServices;

/* @services is copied (the pointers in it stay borrowed). */
GvdInstanceManager *gvd_instance_manager_new (const GvdInstanceServices *services);
void gvd_instance_manager_free (GvdInstanceManager *mgr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdInstanceManager, gvd_instance_manager_free)

/* Follow the libvirt connection: recover on every (re)connect, keep state
 * current from lifecycle events. */
void gvd_instance_manager_start (GvdInstanceManager *mgr);

/* The MAC/IP allocator instances and reservations share (services->ipam). */
GvdIpam *gvd_instance_manager_get_ipam (GvdInstanceManager *mgr);

/* TRUE once the first recovery against libvirt has run. */
gboolean gvd_instance_manager_is_ready (GvdInstanceManager *mgr);

GvdInstance *gvd_instance_manager_lookup (GvdInstanceManager *mgr, const char *name);
/* Instances sorted by name (container only; do not free the elements). */
GPtrArray *gvd_instance_manager_list (GvdInstanceManager *mgr);

void gvd_instance_write_json (GvdInstanceManager *mgr, const GvdInstance *inst, JsonBuilder *b);

/* Create. The result is a JSON document to answer with: the instance (or,
 * for a dry run, the plan, domain XML and cloud-init documents). On failure
 * @out_details may carry the planner's reasons. */
void gvd_instance_manager_create_async (GvdInstanceManager *mgr, GvdCreateRequest *request,
                                        GAsyncReadyCallback callback, gpointer user_data);
JsonNode *gvd_instance_manager_create_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                              JsonNode **out_details, GError **error);

/* @timeout_seconds: shutdown only; 0 means the configured default. */
void gvd_instance_manager_action_async (GvdInstanceManager *mgr, const char *name,
                                        GvdInstanceAction action, guint timeout_seconds,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean gvd_instance_manager_action_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                             GError **error);

void gvd_instance_manager_delete_async (GvdInstanceManager *mgr, const char *name,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean gvd_instance_manager_delete_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                             GError **error);

/* Pass one QMP command (JSON text) through; returns QEMU's JSON answer. */
void gvd_instance_manager_qmp_async (GvdInstanceManager *mgr, const char *name,
                                     const char *command, GAsyncReadyCallback callback,
                                     gpointer user_data);
char *gvd_instance_manager_qmp_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                       GError **error);

/* Test seam: how vGPUs (mdevs) are created and removed; NULL restores
 * libvirt's node device API (mdev.h). @ops must outlive the manager. */
typedef struct _GvdMdevOps GvdMdevOps;
void gvd_instance_manager_set_mdev_ops (GvdInstanceManager *mgr, const GvdMdevOps *ops);
/* Grow a stopped instance's root disk to @root_gib (0: leave it) and the
 * data disks named in @disks (name → guint64 GiB) it made; shrinking is
 * INVALID_ARGUMENT naming the member, a running instance INVALID_STATE.
 * Finishes with the instance's JSON. (instance-resize.c) */
void gvd_instance_manager_resize_async (GvdInstanceManager *mgr, const char *name,
                                        guint64 root_gib, GHashTable *disks,
                                        GAsyncReadyCallback callback, gpointer user_data);
JsonNode *gvd_instance_manager_resize_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                              GError **error);
/* Disk snapshots (instance-snapshot.c). The result is the JSON to answer
 * with: {"snapshots": [...]} for a list, the snapshot for create and
 * revert, {} for delete. Create and delete also work live; a revert of a
 * running instance is GVD_ERROR_INVALID_STATE. */
typedef enum {
  GVD_SNAPSHOT_LIST,
  GVD_SNAPSHOT_CREATE,
  GVD_SNAPSHOT_REVERT,
  GVD_SNAPSHOT_DELETE,
} GvdSnapshotOp;

/* @snap: the snapshot's name (not for a list); @discard_newer: a revert
 * may drop the snapshots newer than @snap. */
void gvd_instance_manager_snapshot_async (GvdInstanceManager *mgr, const char *name,
                                          GvdSnapshotOp op, const char *snap,
                                          gboolean discard_newer, GAsyncReadyCallback callback,
                                          gpointer user_data);
JsonNode *gvd_instance_manager_snapshot_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                                GError **error);

/* GPU hot-plug (instance-gpu-hotplug.c): attach a whole planned IOMMU
 * group, each function on its own free pcie-root-port, all or nothing (a
 * refusal's planner reasons in *@out_details); detach the group holding
 * @address, waiting for libvirt's device-removed events when the instance
 * runs ([instances] device_timeout: TIMEOUT keeps devices and claims).
 * Both finish with the instance's JSON. */
void gvd_instance_manager_attach_gpus_async (GvdInstanceManager *mgr, const char *name,
                                             const GvdGpuAttachRequest *req,
                                             GAsyncReadyCallback callback, gpointer user_data);
JsonNode *gvd_instance_manager_attach_gpus_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                                   JsonNode **out_details, GError **error);
void gvd_instance_manager_detach_gpu_async (GvdInstanceManager *mgr, const char *name,
                                            const char *address, GAsyncReadyCallback callback,
                                            gpointer user_data);
JsonNode *gvd_instance_manager_detach_gpu_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                                  GError **error);
/* Hot-plug (instance-hotplug.c): data disks and NICs of an existing
 * instance, live and in its definition when it runs, in its definition
 * when stopped; gpuvmd's metadata follows. Attach takes @disk (as
 * gvd_disk_request_parse made it) or @nic (gvd_nic_request_parse), makes
 * the volume or lease and undoes them on failure. A detach from a running
 * instance waits up to [instances] device_timeout for the guest to release
 * the device: GVD_ERROR_TIMEOUT (nothing changed) when it does not. A
 * detached disk's volume is deleted when the instance made it and neither
 * it nor @keep says to keep it. Each finishes with the instance's JSON. */
void gvd_instance_manager_attach_disk_async (GvdInstanceManager *mgr, const char *name,
                                             GvdDiskSpec *disk, GAsyncReadyCallback callback,
                                             gpointer user_data);
void gvd_instance_manager_detach_disk_async (GvdInstanceManager *mgr, const char *name,
                                             const char *target, gboolean keep,
                                             GAsyncReadyCallback callback, gpointer user_data);
void gvd_instance_manager_attach_nic_async (GvdInstanceManager *mgr, const char *name,
                                            GvdNicSpec *nic, GAsyncReadyCallback callback,
                                            gpointer user_data);
void gvd_instance_manager_detach_nic_async (GvdInstanceManager *mgr, const char *name,
                                            const char *mac, GAsyncReadyCallback callback,
                                            gpointer user_data);
JsonNode *gvd_instance_manager_hotplug_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                               GError **error);

const char *gvd_instance_action_to_string (GvdInstanceAction action);
gboolean gvd_instance_action_from_string (const char *s, GvdInstanceAction *out_action);

G_END_DECLS
