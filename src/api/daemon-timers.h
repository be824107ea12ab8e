/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's timers for the pure core's tables (agent hub, reservations):
 * one GSource per table, at the time the table asks for. */
#pragma once

#include <glib.h>

#include "agent.h"
#include "reservations.h"

G_BEGIN_DECLS

/* Run @hub's heartbeat deadlines and held-back health notifications on
 * @context (NULL: the global default context): one GSource that calls
 * gvd_agent_hub_tick() with g_get_monotonic_time() at each time the hub
 * asks for. The source belongs to the hub: freeing the hub (or setting
 * another wake-up) destroys it. Use the hub from @context's thread. */
void gvd_daemon_timers_attach_agent (GvdAgentHub *hub, GMainContext *context);

/* The same for @reservations' expiries (gvd_reservations_expire_due()).
 * Its clock must be g_get_monotonic_time, the clock GSources run on. */
void gvd_daemon_timers_attach_reservations (GvdReservations *reservations,
                                            GMainContext *context);

G_END_DECLS
