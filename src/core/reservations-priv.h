/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test-only entry points of reservations.c. */
#pragma once

#include "reservations.h"

G_BEGIN_DECLS

/* Expire every active reservation whose time is up by the injected clock
 * (what the timers do in real time), and forget expired ones older than
 * GVD_RESERVATION_KEEP_EXPIRED_SECONDS. Returns how many expired. */
guint gvd_reservations_expire_due (GvdReservations *reservations);

G_END_DECLS
