/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reservations: devices (claimed as "reservation:<id>") and a MAC/IP held
 * for a bounded time until an instance create consumes them, or they
 * expire (when the owner's timer calls gvd_reservations_expire_due()). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "clock.h"
#include "ipam.h"

G_BEGIN_DECLS

#define GVD_RESERVATION_TTL_MAX 86400
#define GVD_RESERVATION_TTL_DEFAULT 300
/* Records kept at once, active and expired together. */
#define GVD_RESERVATIONS_MAX 256
/* How long GET still answers "expired" for an expired reservation. */
#define GVD_RESERVATION_KEEP_EXPIRED_SECONDS 600
/* Claims, and IPAM owners, are labelled with this prefix and the id. */
#define GVD_RESERVATION_HOLDER_PREFIX "reservation:"

typedef enum {
  GVD_RESERVATION_ACTIVE,
  GVD_RESERVATION_EXPIRED,
} GvdReservationState;

typedef struct {
  char *id;              /* random UUID */
  char *holder;          /* "reservation:<id>": claims and IPAM owner */
  GvdReservationState state;
  GPtrArray *devices;    /* char *: every claimed PCI address, sorted */
  GPtrArray *gpus;       /* char *: the GPUs among them (as planned), sorted */
  char *mac;             /* NULL without IPAM */
  char *ip;              /* "a.b.c.d/prefix"; NULL without a CIDR */
  guint ttl_seconds;
  gint64 created_at;     /* clock time, µs */
  gint64 expires_at;
  gint64 expired_at;     /* 0 while active */
} GvdReservation;

typedef struct _GvdReservations GvdReservations;

/* @claims: the daemon's claims table (address → holder, owned strings),
 * borrowed. @ipam: borrowed; NULL for no MAC/IP. @clock: monotonic
 * microseconds (the daemon passes g_get_monotonic_time). The set runs no
 * timers: see gvd_reservations_set_wakeup(). */
GvdReservations *gvd_reservations_new (GHashTable *claims, GvdIpam *ipam, GvdClockFunc clock);
/* Leaves claims and IPAM alone (the daemon is going away, or the caller
 * owns their fate); destroys the wake-up's user data. */
void gvd_reservations_free (GvdReservations *reservations);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdReservations, gvd_reservations_free)

/* @func is called with a reservation's expiry time whenever one is added:
 * call gvd_reservations_expire_due() at that time. One at a time: a new
 * call replaces (and destroys) the previous one; @destroy frees @user_data
 * when replaced or when the set is freed. */
void gvd_reservations_set_wakeup (GvdReservations *reservations, GvdWakeupFunc func,
                                  gpointer user_data, GDestroyNotify destroy);
/* The earliest expiry among active reservations (clock µs), or 0. */
gint64 gvd_reservations_next_expiry (GvdReservations *reservations);
/* Expire every active reservation whose time is up by the set's clock,
 * and forget expired ones older than GVD_RESERVATION_KEEP_EXPIRED_SECONDS.
 * Returns how many expired. */
guint gvd_reservations_expire_due (GvdReservations *reservations);

/* Claim @devices (already planned: every address the instance will get)
 * and allocate a MAC/IP for @ttl_seconds. DEVICE_IN_USE naming the holder
 * when one is claimed, INVALID_ARGUMENT for a bad TTL or list, CONFLICT
 * when GVD_RESERVATIONS_MAX are active or no address is free. Nothing is
 * claimed on failure. Borrowed result. */
const GvdReservation *gvd_reservations_add (GvdReservations *reservations,
                                            const char *const *devices, const char *const *gpus,
                                            guint ttl_seconds, GError **error);

/* Active or recently expired reservation, or NULL. Borrowed. */
const GvdReservation *gvd_reservations_lookup (GvdReservations *reservations, const char *id);
/* Borrowed GvdReservation pointers, oldest first. Free the array only. */
GPtrArray *gvd_reservations_list (GvdReservations *reservations);

/* DELETE: release an active reservation's claims and MAC/IP, or forget an
 * expired one. NOT_FOUND when unknown. */
gboolean gvd_reservations_cancel (GvdReservations *reservations, const char *id, GError **error);

/* Consume an active reservation at instance create: it is removed, but its claims (holder "reservation:<id>") and its IPAM
 * lease (owner "reservation:<id>") stay for the caller to re-label
 * (overwrite the claims' holder; gvd_ipam_release + gvd_ipam_reserve under
 * the instance name). NOT_FOUND when unknown, INVALID_STATE when expired.
 * Outputs are new copies (@out_ip NULL without a CIDR). */
gboolean gvd_reservations_take (GvdReservations *reservations, const char *id,
                                char ***out_addresses, char **out_mac, char **out_ip,
                                GError **error);

/* One reservation as a JSON object, "expires_in_seconds" relative to @now. */
void gvd_reservation_to_json (const GvdReservation *reservation, gint64 now, JsonBuilder *builder);
gint64 gvd_reservations_now (GvdReservations *reservations);

const char *gvd_reservation_state_to_string (GvdReservationState state);

G_END_DECLS
