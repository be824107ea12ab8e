/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Time as the pure core receives it: clocks its callers pass in, and the
 * wake-ups its tables ask of whoever runs their timers. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Microseconds: monotonic (g_get_monotonic_time) or wall clock
 * (g_get_real_time), as the function taking it says. The core never
 * defaults to a real clock: the daemon passes one, tests pass their own. */
typedef gint64 (*GvdClockFunc) (void);

/* A table (agent hub, reservations) asks to be called back, through its
 * "expire what is due at @now" function, no later than @at (monotonic µs).
 * Calling it back earlier is harmless: nothing is due yet, and its "next
 * wake-up" function tells when to try again. */
typedef void (*GvdWakeupFunc) (gint64 at, gpointer user_data);

G_END_DECLS
