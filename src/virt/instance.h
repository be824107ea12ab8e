/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instances: create (with full rollback), lifecycle, delete, QMP, libvirt
 * lifecycle events and recovery from libvirt after a (re)connect. libvirt is
 * the source of truth; this module keeps the in-memory view, the device
 * claims and the address allocations that follow from it. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "daemon.h"
#include "instance-request.h"
#include "instance-spec.h"

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

GvdInstanceManager *gvd_instance_manager_new (GvdDaemon *daemon);
void gvd_instance_manager_free (GvdInstanceManager *mgr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdInstanceManager, gvd_instance_manager_free)

/* Follow the libvirt connection: recover on every (re)connect, keep state
 * current from lifecycle events. */
void gvd_instance_manager_start (GvdInstanceManager *mgr);

/* The MAC/IP allocator instances and reservations share. */
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

const char *gvd_instance_action_to_string (GvdInstanceAction action);
gboolean gvd_instance_action_from_string (const char *s, GvdInstanceAction *out_action);

G_END_DECLS
