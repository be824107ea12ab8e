/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token bucket on an injected monotonic clock (GCRA form). */
#include "config.h"

#include "rate-limit.h"

void
gvd_rate_limit_init (GvdRateLimit *rl, guint burst, gint64 period_usec)
{
  g_return_if_fail (rl != NULL);
  g_return_if_fail (burst > 0 && period_usec > 0);

  rl->burst = burst;
  rl->period = period_usec;
  rl->tat = 0;
}

gint64
gvd_rate_limit_wait (const GvdRateLimit *rl, gint64 now)
{
  /* A take is allowed while tat is less than burst periods ahead of now,
   * i.e. while tat + period - burst x period <= now. */
  gint64 allowed_at = rl->tat + rl->period - (gint64) rl->burst * rl->period;

  return allowed_at > now ? allowed_at - now : 0;
}

void
gvd_rate_limit_force (GvdRateLimit *rl, gint64 now)
{
  rl->tat = MAX (rl->tat, now) + rl->period;
}

gboolean
gvd_rate_limit_take (GvdRateLimit *rl, gint64 now, gint64 *out_wait_usec)
{
  gint64 wait = gvd_rate_limit_wait (rl, now);

  if (wait > 0)
    {
      if (out_wait_usec != NULL)
        *out_wait_usec = wait;
      return FALSE;
    }
  gvd_rate_limit_force (rl, now);
  return TRUE;
}

guint
gvd_rate_limit_retry_after (gint64 wait_usec)
{
  gint64 s = (wait_usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;

  return (guint) CLAMP (s, 1, G_MAXUINT);
}
