/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest agent health: the per-instance state machine, its heartbeat
 * deadline and the rate-limited notifications of its changes. */
#include "config.h"

#include "agent.h"
#include "agent-priv.h"

#include "rate-limit.h"

const char *
gvd_agent_health_to_string (GvdAgentHealth health)
{
  switch (health)
    {
    case GVD_AGENT_HEALTH_PROVISIONING:
      return "provisioning";
    case GVD_AGENT_HEALTH_READY:
      return "ready";
    case GVD_AGENT_HEALTH_HEALTHY:
      return "healthy";
    case GVD_AGENT_HEALTH_DEGRADED:
      return "degraded";
    case GVD_AGENT_HEALTH_UNRESPONSIVE:
      return "unresponsive";
    case GVD_AGENT_HEALTH_STOPPED:
      return "stopped";
    }
  return "unknown";
}

const char *
gvd_agent_reason_to_string (GvdAgentReason reason)
{
  switch (reason)
    {
    case GVD_AGENT_REASON_NONE:
      return NULL;
    case GVD_AGENT_REASON_PHONE_HOME:
      return "phone_home";
    case GVD_AGENT_REASON_HEARTBEAT:
      return "heartbeat";
    case GVD_AGENT_REASON_GPU_FAULT:
      return "gpu_fault";
    case GVD_AGENT_REASON_HEARTBEAT_MISSED:
      return "heartbeat_missed";
    case GVD_AGENT_REASON_STOPPED:
      return "stopped";
    case GVD_AGENT_REASON_STARTED:
      return "started";
    }
  return NULL;
}

/* When anything of @r is due: the earlier of its heartbeat deadline and
 * its held-back notification; 0 for nothing. */
static gint64
record_due (GvdAgentRecord *r)
{
  gint64 at = r->deadline;

  if (r->flush_at != 0 && (at == 0 || r->flush_at < at))
    at = r->flush_at;
  return at;
}

/* Ask the hub's owner to tick at @r's due time. One timer per hub serves
 * every instance: the owner keeps it at the earliest time it was asked for
 * and, after each tick, at gvd_agent_hub_next_wakeup(). */
static void
record_wake (GvdAgentRecord *r)
{
  gint64 at = record_due (r);

  if (at != 0 && r->hub->wakeup_func != NULL)
    r->hub->wakeup_func (at, r->hub->wakeup_data);
}

void
gvd_agent_record_set_deadline (GvdAgentRecord *r, gint64 deadline)
{
  r->deadline = deadline;
  record_wake (r);
}

/* Tell the watchers the current health of @r, folding in the changes held
 * back since the last time. @r may be freed by a watcher: do not touch it
 * after the call. */
static void
record_tell (GvdAgentRecord *r)
{
  GvdAgentHub *hub = r->hub;
  GvdAgentHealthChange change = { r->told_health, r->health, r->reason_code, 0 };
  g_autofree char *name = NULL;
  g_autoptr(GArray) watches = NULL;

  g_return_if_fail (r->pending > 0);
  change.suppressed = r->pending - 1;
  r->told_health = r->health;
  r->pending = 0;
  r->flush_at = 0;
  record_wake (r);

  /* Copies: a watcher may forget the instance or remove watches. */
  name = g_strdup (r->name);
  watches = g_array_copy (hub->watches);
  for (guint i = 0; i < watches->len; i++)
    {
      GvdAgentWatch *w = &g_array_index (watches, GvdAgentWatch, i);
      if (w->change_func != NULL)
        w->change_func (hub, name, &change, w->user_data);
      else
        w->func (hub, name, change.old_health, change.new_health,
                 gvd_agent_reason_to_string (change.reason), w->user_data);
    }
}

/* Change health and tell the watchers, at once when @forced (the host
 * made the change) or the instance's notification bucket allows, else
 * later (flush_at). A change of @detail alone is kept for the view and not
 * told. @r may be freed by a watcher: do not touch it after the call. */
void
gvd_agent_record_set_health (GvdAgentRecord *r, GvdAgentHealth health, GvdAgentReason code,
                             const char *detail, gboolean forced, gint64 now)
{
  GvdAgentHealth old = r->health;
  gint64 wait = 0;

  if (old == health && r->reason_code == code)
    {
      if (g_strcmp0 (r->reason, detail) != 0)
        {
          g_free (r->reason);
          r->reason = g_strdup (detail);
        }
      return;
    }
  r->health = health;
  r->reason_code = code;
  g_free (r->reason);
  r->reason = g_strdup (detail);
  if (old != health)
    r->since = now;
  r->pending++;
  g_debug ("agent %s: %s -> %s", r->name, gvd_agent_health_to_string (old),
           gvd_agent_health_to_string (health));

  if (forced)
    gvd_rate_limit_force (&r->notify, now);
  else if (!gvd_rate_limit_take (&r->notify, now, &wait))
    {
      if (r->flush_at == 0)
        {
          r->flush_at = now + wait;
          record_wake (r);
        }
      return;
    }
  record_tell (r);
}

/* The notification held back is due: tell it (it takes the token that has
 * refilled by now). */
static void
record_flush (GvdAgentRecord *r, gint64 now)
{
  if (r->flush_at == 0 || now < r->flush_at)
    return;
  if (r->pending == 0)
    {
      r->flush_at = 0;
      record_wake (r);
      return;
    }
  gvd_rate_limit_force (&r->notify, now);
  record_tell (r);
}

static void
hub_expire (GvdAgentHub *hub, GvdAgentRecord *r, gint64 now)
{
  g_autofree char *reason = NULL;
  g_autofree char *name = g_strdup (r->name);

  /* A watcher told by the flush may forget the instance. */
  record_flush (r, now);
  r = g_hash_table_lookup (hub->records, name);
  if (r == NULL)
    return;
  if (r->deadline == 0 || now < r->deadline)
    {
      /* Nothing due yet (an early wake-up, or a flush not due): ask for
       * what is left. */
      record_wake (r);
      return;
    }
  gvd_agent_record_set_deadline (r, 0);
  reason = g_strdup_printf ("no heartbeat for %u s (%u missed at a %u s interval)",
                            hub->missed * hub->interval, hub->missed, hub->interval);
  gvd_agent_record_set_health (r, GVD_AGENT_HEALTH_UNRESPONSIVE,
                               GVD_AGENT_REASON_HEARTBEAT_MISSED, reason, TRUE, now);
}

void
gvd_agent_hub_tick (GvdAgentHub *hub, gint64 now)
{
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  GvdAgentRecord *r;

  /* Collect first: watchers may change the table. */
  g_hash_table_iter_init (&iter, hub->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &r))
    {
      if ((r->deadline != 0 && r->deadline <= now) || (r->flush_at != 0 && r->flush_at <= now))
        g_ptr_array_add (due, g_strdup (r->name));
    }
  for (guint i = 0; i < due->len; i++)
    {
      r = g_hash_table_lookup (hub->records, g_ptr_array_index (due, i));
      if (r != NULL)
        hub_expire (hub, r, now);
    }
}

GvdAgentHealth
gvd_agent_hub_get_health (GvdAgentHub *hub, const char *name)
{
  GvdAgentRecord *r = g_hash_table_lookup (hub->records, name);

  return r != NULL ? r->health : GVD_AGENT_HEALTH_PROVISIONING;
}

gint64
gvd_agent_hub_next_wakeup (GvdAgentHub *hub)
{
  GHashTableIter iter;
  GvdAgentRecord *r;
  gint64 next = 0;

  g_hash_table_iter_init (&iter, hub->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &r))
    {
      gint64 at = record_due (r);

      if (at != 0 && (next == 0 || at < next))
        next = at;
    }
  return next;
}

gint64
gvd_agent_hub_get_deadline (GvdAgentHub *hub, const char *name)
{
  GvdAgentRecord *r = g_hash_table_lookup (hub->records, name);

  return r != NULL ? r->deadline : 0;
}
