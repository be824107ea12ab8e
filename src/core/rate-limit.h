/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token bucket on an injected monotonic clock (pure: callers pass now). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Up to @burst events at once, then one per @period_usec. Kept as the
 * "theoretical arrival time" of GCRA: one integer, no floating point. A
 * zeroed struct after gvd_rate_limit_init() is a full bucket. */
typedef struct {
  guint burst;
  gint64 period;  /* µs per token */
  gint64 tat;     /* when the bucket would be empty-and-refilled; 0: full */
} GvdRateLimit;

void gvd_rate_limit_init (GvdRateLimit *rl, guint burst, gint64 period_usec);

/* Take one token at @now (monotonic µs, >= 0). FALSE when the bucket is
 * empty; then @out_wait_usec (may be NULL) says how long until one is
 * available (> 0). */
gboolean gvd_rate_limit_take (GvdRateLimit *rl, gint64 now, gint64 *out_wait_usec);

/* Take one token even when the bucket is empty (the debt delays later
 * takes); for events that must always get through but still count. */
void gvd_rate_limit_force (GvdRateLimit *rl, gint64 now);

/* How long until a take at @now would succeed: 0 when it would now. */
gint64 gvd_rate_limit_wait (const GvdRateLimit *rl, gint64 now);

/* A wait in µs as whole seconds for Retry-After (rounded up, at least 1). */
guint gvd_rate_limit_retry_after (gint64 wait_usec);

G_END_DECLS
