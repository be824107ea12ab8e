/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU hot-plug's internals, shared by instance-gpu-hotplug.c (attach),
 * instance-gpu-unplug.c (detach) and instance-gpu-common.c. */
#pragma once

#include "instance.h"
#include "instance-priv.h"

G_BEGIN_DECLS

typedef struct {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  GvdHostRoot *root;
  char *name;
  char *domain_name;
  gboolean detach;
  guint timeout;
  GvdPlan *plan;          /* attach: what the planner chose */
  char **addresses;       /* the group's host addresses, in order */
  GPtrArray *hostdevs;    /* attach: GvdHostdevSpec placed; detach: borrowed NULL */
  GPtrArray *xmls;        /* char *: one <hostdev> per address */
  char *metadata;         /* gpuvmd's metadata after the change */
  /* worker results */
  gboolean active;
  GArray *free_ports;
  GError *rollback_error; /* attach: a rollback detach failed too */
  gboolean *kept;         /* attach: still attached after a failed rollback */
  char **prebound;        /* functions gpuvmd bound to vfio-pci (not libvirt) */
} PlugData;

PlugData *gvd_gpu_plug_data_new (GvdInstanceManager *mgr, GvdInstance *inst);
void gvd_gpu_plug_data_free (PlugData *pd);
/* Main thread: @name if it exists, is ready and not busy, else @task
 * returns the error and NULL comes back. */
GvdInstance *gvd_gpu_plug_begin (GvdInstanceManager *mgr, GTask *task, const char *name);
/* Worker: @pd's domain (and a connection reference in *@out_conn). */
virDomainPtr gvd_gpu_plug_open_domain (PlugData *pd, virConnectPtr *out_conn, GError **error);
/* instance.gpu_attached / instance.gpu_detached {name, devices}. */
void gvd_gpu_plug_emit (GvdInstanceManager *mgr, const char *type, const char *name,
                        char **addresses);
JsonNode *gvd_gpu_plug_instance_json (GvdInstanceManager *mgr, GvdInstance *inst);
/* @inst's metadata with @add (GvdHostdevSpec) appended and @remove (host
 * addresses) left out; the spec itself is unchanged. */
char *gvd_gpu_plug_render_metadata (GvdInstance *inst, GPtrArray *add, char **remove,
                                    GError **error);
gboolean gvd_gpu_plug_set_metadata (virDomainPtr dom, const char *metadata, gboolean active,
                                    GError **error);
virNodeDevicePtr gvd_gpu_plug_node_device (virConnectPtr conn, const char *address);
/* Worker: give @addresses back to their host drivers (libvirt's node
 * device reattach; refused for a device a domain holds). */
void gvd_gpu_plug_rebind (virConnectPtr conn, char **addresses);
/* Main thread: the functions gpuvmd bound to vfio-pci for @name. */
void gvd_gpu_plug_note_prebound (GvdInstanceManager *mgr, const char *name, char **addresses);
char **gvd_gpu_plug_take_prebound (GvdInstanceManager *mgr, const char *name, char **only);
void gvd_gpu_plug_release_claims (GvdInstanceManager *mgr, const char *name, char **addresses);

G_END_DECLS
