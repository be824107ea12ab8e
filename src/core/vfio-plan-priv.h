/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the planner's files share (pure): refusal reasons, the closure of a
 * selection, explicit requests and GPU selection. Only vfio-plan*.c use it. */
#pragma once

#include <glib.h>

#include "vfio-plan.h"

G_BEGIN_DECLS

/* What passing @requested implies: the touched groups, the devices to pass
 * with their roles, the bridges skipped. Requested devices are canonical
 * addresses present in the inventory. */
typedef struct {
  GHashTable *roles;    /* address → GINT_TO_POINTER (role + 1) */
  GPtrArray *pass;      /* const GvdPciDevice *, sorted by address */
  GPtrArray *bridges;   /* const GvdPciDevice * */
  GArray *groups;       /* guint, sorted */
} GvdPlanClosure;

void gvd_plan_closure_clear (GvdPlanClosure *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GvdPlanClosure, gvd_plan_closure_clear)

/* One more reason in @refusal (device, peer, peer driver, holder may be NULL). */
void gvd_plan_add_reason (GvdPlanRefusal *refusal, GvdErrorCode code, const char *device,
                          const char *peer, const char *peer_driver, const char *holder,
                          const char *format, ...) G_GNUC_PRINTF (7, 8);

/* The closure of @requested (const GvdPciDevice *): their groups, slot-mates
 * (@include_companions) and group peers. */
void gvd_plan_closure_build (GvdPlanClosure *c, const GvdInventory *inv, GPtrArray *requested,
                             gboolean include_companions);

/* Every reason the closure cannot be passed. Returns how many it added. */
guint gvd_plan_closure_check (const GvdPlanClosure *c, const GvdInventory *inv,
                              GPtrArray *requested, GHashTable *claims, GHashTable *quarantined,
                              gboolean allow_weakened, GvdPlanRefusal *refusal);

/* The role @address plays in the closure; -1 when it is not in it. */
GvdPlanRole gvd_plan_closure_role (const GvdPlanClosure *c, const char *address);

/* GCompareFuncs: const GvdPciDevice ** by address, char ** by strcmp. */
int gvd_plan_compare_devices (gconstpointer a, gconstpointer b);
int gvd_plan_compare_strings (gconstpointer a, gconstpointer b);

void gvd_plan_insert_sorted_int (GArray *a, int v);

gboolean gvd_plan_is_gpu (const GvdPciDevice *dev);

/* Canonical addresses → the devices to plan, sorted; reasons for the rest. */
GPtrArray *gvd_plan_resolve_explicit (const GvdInventory *inv, char **devices,
                                      GvdPlanRefusal *refusal);

/* The PCIe switch a device sits under: the bridge right below its root
 * port, when there is one (parents are nearest first). NULL: none. */
const char *gvd_plan_switch_of (const GvdPciDevice *dev);

/* "N GPUs": the best set of free candidates, or NULL with reasons. */
GPtrArray *gvd_plan_pick_gpus (const GvdInventory *inv, const GvdPlanRequest *req,
                               GHashTable *claims, GHashTable *quarantined,
                               GvdPlanRefusal *refusal);

G_END_DECLS
