/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vGPUs (mediated devices) as plain data, and the pure planner that puts a
 * request's vGPUs on parents with capacity. host/hostinfo-vgpu.h reads the
 * parents from sysfs; virt/mdev.h creates the mdevs. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "claims.h"

G_BEGIN_DECLS

/* At most this many vGPUs per instance, and mdev types / mdevs read per parent. */
#define GVD_VGPU_MAX 16
#define GVD_VGPU_MAX_TYPES 64
#define GVD_VGPU_MAX_MDEVS 256
/* mdev type ids as the kernel names them ("nvidia-63", "i915-GVTg_V5_4"). */
#define GVD_VGPU_TYPE_MAX 64

/* A type a parent offers: one directory of its mdev_supported_types. */
typedef struct {
  char *type;          /* "nvidia-63" */
  char *name;          /* "GRID T4-1B"; may be NULL */
  char *description;   /* may be NULL */
  char *device_api;    /* "vfio-pci"; may be NULL */
  guint available;     /* available_instances, as the kernel counts now */
} GvdVgpuType;

/* An mdev existing on the host (a /sys/bus/mdev/devices entry). */
typedef struct {
  char *uuid;
  char *type;          /* may be NULL when the kernel does not say */
} GvdMdev;

/* A device with mdev_supported_types. */
typedef struct {
  char *address;       /* "0000:81:00.0" */
  int numa_node;       /* -1: unknown */
  GPtrArray *types;    /* GvdVgpuType, sorted by type */
  GPtrArray *mdevs;    /* GvdMdev, sorted by uuid */
} GvdVgpuParent;

/* One vGPU asked for: a type, optionally on one parent. */
typedef struct {
  char *type;
  char *parent;        /* PCI address; NULL: any parent with capacity */
  char *field;         /* the request member it came from ("vgpu[1]"), for errors */
} GvdVgpuRequest;

/* One vGPU planned: the parent and type, and the uuid its mdev gets. */
typedef struct {
  char *uuid;
  char *type;
  char *parent;
} GvdVgpuAssignment;

GvdVgpuType *gvd_vgpu_type_new (void);
void gvd_vgpu_type_free (GvdVgpuType *t);
GvdMdev *gvd_mdev_new (const char *uuid, const char *type);
void gvd_mdev_free (GvdMdev *m);
GvdVgpuParent *gvd_vgpu_parent_new (const char *address);
void gvd_vgpu_parent_free (GvdVgpuParent *p);
GvdVgpuRequest *gvd_vgpu_request_new (const char *type, const char *parent);
void gvd_vgpu_request_free (GvdVgpuRequest *r);
GvdVgpuAssignment *gvd_vgpu_assignment_new (const char *uuid, const char *type,
                                            const char *parent);
void gvd_vgpu_assignment_free (GvdVgpuAssignment *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdVgpuType, gvd_vgpu_type_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdMdev, gvd_mdev_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdVgpuParent, gvd_vgpu_parent_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdVgpuRequest, gvd_vgpu_request_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdVgpuAssignment, gvd_vgpu_assignment_free)

const GvdVgpuType *gvd_vgpu_parent_find_type (const GvdVgpuParent *parent, const char *type);
gboolean gvd_vgpu_parent_has_mdev (const GvdVgpuParent *parent, const char *uuid);

/* Is @s an mdev type id the kernel could have made (letters, digits, '-',
 * '_', at most GVD_VGPU_TYPE_MAX bytes)? */
gboolean gvd_vgpu_type_is_valid (const char *s);

/* What one parent can still take of @type: the kernel's count less the
 * mdevs gpuvmd has promised (claimed) there that the kernel does not show
 * yet (creates in flight). */
guint gvd_vgpu_free_instances (const GvdVgpuParent *parent, const char *type, GvdClaims *claims);

/* Plan @requests (GvdVgpuRequest) onto @parents (GvdVgpuParent) given the
 * claims: a parent held whole (by an instance or a reservation), or
 * quarantined, or listed in @exclude (addresses a whole-GPU plan of the same
 * request takes) gets no vGPU. Parents that already carry vGPUs are filled
 * first (they cannot be passed through whole anyway), then parents on
 * @numa_node (-1: no preference), then by address. Returns
 * GvdVgpuAssignment with uuids from @uuid_func (so tests choose them), or
 * NULL with @error: GVD_ERROR_INSUFFICIENT_GPUS naming the type and the
 * capacity seen, GVD_ERROR_DEVICE_NOT_FOUND for a parent that offers no
 * such type, GVD_ERROR_DEVICE_IN_USE / DEVICE_QUARANTINED for a named
 * parent that cannot take vGPUs. */
GPtrArray *gvd_vgpu_plan (GPtrArray *parents, GPtrArray *requests, GvdClaims *claims,
                          const char *const *exclude, int numa_node,
                          char *(*uuid_func) (gpointer), gpointer uuid_data, GError **error);

/* {"address", "numa_node", "vgpu_types": [{type, name, description,
 * device_api, available_instances}], "mdevs": [{uuid, type, holder}]} */
void gvd_vgpu_parent_to_json (const GvdVgpuParent *parent, GvdClaims *claims, JsonBuilder *b);
/* Just the "vgpu_types" and "mdevs" members, into an object being built. */
void gvd_vgpu_parent_add_members (const GvdVgpuParent *parent, GvdClaims *claims,
                                  JsonBuilder *b);

G_END_DECLS
