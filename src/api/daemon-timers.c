/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The timer shell around the pure core's tables: each table says when it
 * wants to be called (a wake-up) and what is due next; one GSource per
 * table turns that into main-loop time. */
#include "config.h"

#include "daemon-timers.h"

typedef gint64 (*NextFunc) (gpointer table);
typedef void (*ExpireFunc) (gpointer table, gint64 now);

typedef struct {
  GSource source;
  gpointer table;   /* borrowed: the table owns this source */
  NextFunc next;
  ExpireFunc expire;
} TableSource;

/* No fd, no prepare/check: dispatched at its ready time. Expires what is
 * due, then waits for the earliest time anything is due next; wake-ups the
 * table asks for in between only bring that time forward. */
static gboolean
table_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  TableSource *ts = (TableSource *) source;
  gint64 next;

  g_source_set_ready_time (source, -1);
  ts->expire (ts->table, g_get_monotonic_time ());
  /* A watcher told by the expiry may have freed the table, and this source
   * with it. */
  if (g_source_is_destroyed (source))
    return G_SOURCE_REMOVE;
  next = ts->next (ts->table);
  if (next != 0)
    g_source_set_ready_time (source, next);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs table_funcs = {
  NULL, NULL, table_dispatch, NULL, NULL, NULL,
};

/* The table's GvdWakeupFunc: be dispatched no later than @at. */
static void
table_wakeup (gint64 at, gpointer data)
{
  GSource *source = data;
  gint64 ready = g_source_get_ready_time (source);

  if (ready == -1 || at < ready)
    g_source_set_ready_time (source, at);
}

/* The table's GDestroyNotify for its wake-up: the table is going away. */
static void
table_source_drop (gpointer data)
{
  GSource *source = data;

  g_source_destroy (source);
  g_source_unref (source);
}

static GSource *
table_source_new (const char *name, gpointer table, NextFunc next, ExpireFunc expire,
                  GMainContext *context)
{
  GSource *source = g_source_new (&table_funcs, sizeof (TableSource));
  TableSource *ts = (TableSource *) source;
  gint64 at;

  ts->table = table;
  ts->next = next;
  ts->expire = expire;
  g_source_set_name (source, name);
  g_source_attach (source, context);
  /* What the table held before it had a timer. */
  at = next (table);
  if (at != 0)
    g_source_set_ready_time (source, at);
  return source;
}

static gint64
agent_next (gpointer table)
{
  return gvd_agent_hub_next_wakeup (table);
}

static void
agent_expire (gpointer table, gint64 now)
{
  gvd_agent_hub_tick (table, now);
}

void
gvd_daemon_timers_attach_agent (GvdAgentHub *hub, GMainContext *context)
{
  GSource *source;

  g_return_if_fail (hub != NULL);

  source = table_source_new ("gpuvmd agent heartbeat deadlines", hub, agent_next, agent_expire,
                             context);
  gvd_agent_hub_set_wakeup (hub, table_wakeup, source, table_source_drop);
}

static gint64
reservations_next (gpointer table)
{
  return gvd_reservations_next_expiry (table);
}

static void
reservations_expire (gpointer table, gint64 now)
{
  /* The set reads its own clock: g_get_monotonic_time, as @now was. */
  gvd_reservations_expire_due (table);
}

void
gvd_daemon_timers_attach_reservations (GvdReservations *reservations, GMainContext *context)
{
  GSource *source;

  g_return_if_fail (reservations != NULL);

  source = table_source_new ("gpuvmd reservation expiry", reservations, reservations_next,
                             reservations_expire, context);
  gvd_reservations_set_wakeup (reservations, table_wakeup, source, table_source_drop);
}
