/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device claims and quarantine: which host PCI address (and which dedicated
 * host CPU) is held by whom
 * (an instance or a reservation) and which are quarantined, and whether the
 * table has been rebuilt from libvirt yet. Pure; main context only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GvdClaims GvdClaims;

GvdClaims *gvd_claims_new (void);
void gvd_claims_free (GvdClaims *claims);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdClaims, gvd_claims_free)

/* The tables themselves, for the planner (vfio-plan.h) and reservations
 * (reservations.h), which take them as GHashTables: address → holder and
 * address → reason, owned strings. Borrowed. */
GHashTable *gvd_claims_get_holders (GvdClaims *claims);
GHashTable *gvd_claims_get_quarantined (GvdClaims *claims);

/* The holder of @address, or NULL when it is free. */
const char *gvd_claims_get_holder (GvdClaims *claims, const char *address);
void gvd_claims_set_holder (GvdClaims *claims, const char *address, const char *holder);
/* Drop every claim @holder has. */
void gvd_claims_release (GvdClaims *claims, const char *holder);
/* Drop @holder's claim on @address only (a device hot-unplugged). */
void gvd_claims_release_device (GvdClaims *claims, const char *address, const char *holder);
guint gvd_claims_count (GvdClaims *claims);

/* Why @address is quarantined, or NULL when it is not. */
const char *gvd_claims_get_quarantine (GvdClaims *claims, const char *address);
void gvd_claims_quarantine (GvdClaims *claims, const char *address, const char *reason);
/* FALSE when @address was not quarantined. */
gboolean gvd_claims_clear_quarantine (GvdClaims *claims, const char *address);
guint gvd_claims_count_quarantined (GvdClaims *claims);

/* Dedicated host CPUs: CPU number → holder, like devices (the same holder
 * names; gvd_claims_release drops both). */
GHashTable *gvd_claims_get_cpu_holders (GvdClaims *claims); /* GUINT_TO_POINTER (cpu) → holder */
const char *gvd_claims_get_cpu_holder (GvdClaims *claims, guint cpu);
void gvd_claims_set_cpu_holder (GvdClaims *claims, guint cpu, const char *holder);
guint gvd_claims_count_cpus (GvdClaims *claims);
/* ---- mdevs (vGPUs) ----
 * An mdev is claimed by its uuid. While a parent carries claimed mdevs it is
 * held as a whole by GVD_CLAIMS_VGPU_PREFIX + the holders ("vgpu:a,b"), so
 * neither the VFIO planner nor a reservation gives it away whole; a parent
 * held whole by anyone else takes no vGPU. */
#define GVD_CLAIMS_VGPU_PREFIX "vgpu:"

typedef struct {
  char *uuid;
  char *parent;        /* PCI address; NULL: unknown */
  char *type;          /* may be NULL */
  char *holder;
} GvdMdevClaim;

void gvd_claims_add_mdev (GvdClaims *claims, const char *uuid, const char *parent,
                          const char *type, const char *holder);
/* The claim on mdev @uuid (case-insensitive), or NULL. Borrowed. */
const GvdMdevClaim *gvd_claims_get_mdev (GvdClaims *claims, const char *uuid);
/* Every mdev claim (GvdMdevClaim, borrowed), sorted by uuid. Free the array only. */
GPtrArray *gvd_claims_list_mdevs (GvdClaims *claims);
/* Drop every mdev claim whose holder is not in @keep (a set of holders;
 * NULL: drop all), and hold the parents accordingly. */
void gvd_claims_retain_mdevs (GvdClaims *claims, GHashTable *keep);

/* Until the claims have been rebuilt from libvirt (the instance manager's
 * first reconcile), no device may be considered free. */
gboolean gvd_claims_is_ready (GvdClaims *claims);
void gvd_claims_set_ready (GvdClaims *claims, gboolean ready);

G_END_DECLS
