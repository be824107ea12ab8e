/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU hot-plug into an existing instance (pure): the request, where each
 * function of a planned IOMMU group goes in the guest, the <hostdev> that
 * libvirt attaches or detaches, and the attach-all-or-nothing sequence. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "errors.h"
#include "instance-spec.h"
#include "vfio-plan.h"

G_BEGIN_DECLS

/* POST /v1/instances/{name}/gpus: either "devices" (references as at
 * create) or "count" (GPUs the planner picks, filtered by "gpu_vendor" /
 * "gpu_model"), plus "allow_weakened_isolation". */
typedef struct {
  char **devices;      /* unresolved references; NULL when "count" is used */
  guint count;
  char *gpu_vendor;
  char *gpu_model;
  gboolean allow_weakened_isolation;
} GvdGpuAttachRequest;

GvdGpuAttachRequest *gvd_gpu_attach_request_new (void);
void gvd_gpu_attach_request_free (GvdGpuAttachRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdGpuAttachRequest, gvd_gpu_attach_request_free)

/* Errors name the member (INVALID_ARGUMENT); exactly one of "devices" and
 * "count". */
GvdGpuAttachRequest *gvd_gpu_attach_request_parse (JsonObject *body, GError **error);

/* Place every hostdev of @plan (one whole IOMMU group or more) each on one
 * of @free_ports (guint bus indices, used in order: from
 * gvd_domain_xml_free_root_ports): guest group = port
 * index - 1, function 0 (guest-pci-map.h's rule), never multifunction,
 * because libvirt refuses to hot-unplug a multifunction device. CONFLICT
 * naming [instances] hotplug_ports when there are too few ports. */
GPtrArray *gvd_gpu_hotplug_place (const GvdPlan *plan, const GArray *free_ports,
                                  const char *instance, GError **error);

/* The <hostdev> libvirt attaches (managed, vfio, user alias
 * "ua-gpu-DDDD-BB-SS-F", guest address on the hostdev's root port) or, for
 * a detach, finds by its source address. */
char *gvd_gpu_hotplug_hostdev_xml (const GvdHostdevSpec *hostdev, GError **error);
char *gvd_gpu_hotplug_alias (const char *host_address);
/* The <hostdev> a detach names: its source address only (libvirt matches
 * hostdevs by source), so it finds create-time devices too. */
char *gvd_gpu_hotplug_detach_xml (const char *host_address, GError **error);
/* In a domain document: the alias of the PCI hostdev passed through from
 * @host_address (NULL: none); whether any device has alias @alias. */
char *gvd_gpu_hotplug_alias_of (const char *xml, const char *host_address);
gboolean gvd_gpu_hotplug_has_alias (const char *xml, const char *alias);
/* The alias of one <hostdev> document (NULL: none). */
char *gvd_gpu_hotplug_alias_in_xml (const char *hostdev_xml);

/* Attach each of @xmls (char *) in order through @ops; when one fails,
 * detach the ones attached, last first, and fail with the first error
 * (naming @addresses[i]). *@out_rollback_error: set when a rollback detach
 * failed too; @out_kept (@xmls->len entries, may be NULL) then says which
 * are still attached (a running guest that did not let them go). */
typedef struct {
  gboolean (*attach) (gpointer ctx, const char *xml, GError **error);
  gboolean (*detach) (gpointer ctx, const char *xml, GError **error);
} GvdGpuHotplugOps;

gboolean gvd_gpu_hotplug_attach_all (const GvdGpuHotplugOps *ops, gpointer ctx, GPtrArray *xmls,
                                     const char *const *addresses, gboolean *out_kept,
                                     GError **out_rollback_error, GError **error);

G_END_DECLS
