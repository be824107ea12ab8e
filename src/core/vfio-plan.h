/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VFIO/IOMMU group planner (pure): inventory + request + claims +
 * policy → a plan of hostdevs, or a refusal listing every reason. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "errors.h"
#include "inventory.h"
#include "instance-spec.h"

G_BEGIN_DECLS

/* Bounds on what one request may ask for. */
#define GVD_PLAN_MAX_DEVICES 64
#define GVD_PLAN_MAX_GPUS 64

typedef struct {
  char **devices;      /* explicit PCI addresses (NULL-terminated), or NULL */
  guint gpus;          /* else: this many GPUs, picked by the planner */
  char *vendor;        /* "gpus" filter: substring of the vendor name or the
                        * 4-digit vendor id (case-insensitive); NULL: any */
  char *model;         /* "gpus" filter: substring of the device name */
  gboolean include_companions;      /* default TRUE */
  gboolean allow_weakened_isolation; /* default FALSE */
} GvdPlanRequest;

typedef enum {
  GVD_PLAN_ROLE_REQUESTED,  /* asked for (or picked for "gpus: N") */
  GVD_PLAN_ROLE_COMPANION,  /* another function of a requested device's slot */
  GVD_PLAN_ROLE_GROUP_PEER, /* an unbound peer in a touched IOMMU group */
} GvdPlanRole;

typedef struct {
  char *address;
  GvdPlanRole role;
  int iommu_group;
  char *driver;        /* host driver now bound; NULL: none */
  gboolean gpu;        /* display/3D controller */
  /* guest placement (see GvdHostdevSpec) */
  guint guest_bus;
  guint guest_function;
  gboolean multifunction;
  int clique;          /* P2P clique id; -1: none */
} GvdPlanHostdev;

typedef struct {
  GPtrArray *hostdevs;        /* GvdPlanHostdev, in guest order */
  GPtrArray *gpus;            /* char *: the requested/picked GPUs, sorted */
  GPtrArray *bridges_skipped; /* char *: bridges in touched groups */
  GArray *groups;             /* guint: touched IOMMU groups, sorted */
  GArray *numa_nodes;         /* int: NUMA nodes of the hostdevs (≥ 0), sorted */
  guint n_cliques;
  guint64 mmio64_mib;         /* 64-bit MMIO aperture the GPUs need (power of two) */
  gboolean weakened_isolation; /* uses ACS-override groups (allowed by policy) */
} GvdPlan;

typedef struct {
  GvdErrorCode code;
  char *message;
  char *device;        /* the device the reason is about; may be NULL */
  char *peer;          /* group_conflict/host_critical: the peer; may be NULL */
  char *peer_driver;
  char *holder;        /* device_in_use: who holds it */
} GvdPlanReason;

typedef struct {
  GPtrArray *reasons;  /* GvdPlanReason, in the order found */
} GvdPlanRefusal;

GvdPlanRequest *gvd_plan_request_new (void);
void gvd_plan_request_free (GvdPlanRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdPlanRequest, gvd_plan_request_free)

GvdPlan *gvd_plan_new (void);
void gvd_plan_free (GvdPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdPlan, gvd_plan_free)

GvdPlanRefusal *gvd_plan_refusal_new (void);
void gvd_plan_refusal_free (GvdPlanRefusal *refusal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdPlanRefusal, gvd_plan_refusal_free)

/* Plan @request on @inventory given @claims (address → holder; NULL: none)
 * and @quarantined (address → reason; NULL: none).
 * On refusal returns NULL with @error set (the reasons' common code, or
 * plan_refused when they differ) and, when @out_refusal is given, every
 * reason. An invalid request is GVD_ERROR_INVALID_ARGUMENT without a
 * refusal. Deterministic: the same inputs give the same plan. */
GvdPlan *gvd_vfio_plan_compute (const GvdInventory *inventory, const GvdPlanRequest *request,
                                GHashTable *claims, GHashTable *quarantined,
                                GvdPlanRefusal **out_refusal, GError **error);

/* The plan's hostdevs as GvdHostdevSpec entries (for the instance spec). */
GPtrArray *gvd_vfio_plan_to_hostdevs (const GvdPlan *plan);

/* {"gpus": [...], "hostdevs": [...], "bridges_skipped": [...], ...} */
JsonNode *gvd_vfio_plan_to_json (const GvdPlan *plan);
/* [{"code", "message", "device", "peer", "peer_driver", "holder"}, ...] */
JsonNode *gvd_plan_refusal_to_json (const GvdPlanRefusal *refusal);

const char *gvd_plan_role_to_string (GvdPlanRole role);

G_END_DECLS
