/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Long operations: create's progress (requested → planned → vgpus → volumes → seed
 * → defined → started → ready), driven by /v1/events, `create --wait
 * ready`, and the seconds an action has waited. Progress goes to stderr on
 * a terminal only. */
#include "config.h"

#include "ctl.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ctl-error.h"

/* Agent health values that mean "the agent has reported" (README, "Guest
 * agent protocol"): phone-home seen, heartbeats, or heartbeats with a GPU
 * fault. */
static const char *const reported[] = { "ready", "healthy", "degraded", NULL };

typedef struct {
  GvdCtl *ctl;
  const char *name;
  const char *step;    /* static string */
  char *health;
  gboolean ready;
  guint seconds;
} Create;

static void
show (Create *c)
{
  gvd_ctl_progress (c->ctl, _("creating %s: %s (%u s)"), c->name, c->step, c->seconds);
}

static void
set_health (Create *c, const char *health)
{
  g_free (c->health);
  c->health = g_strdup (health);
  if (health != NULL && g_strv_contains (reported, health))
    {
      c->ready = TRUE;
      c->step = "ready";
    }
}

static const char *
member (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n) : NULL;
}

/* The steps in order; the shown step only moves forward. */
static const char *const steps[] = {
  "requested", "planned", "vgpus", "volumes", "seed", "defined", "started", "ready", NULL,
};

static void
advance (Create *c, const char *step)
{
  gssize at = -1;
  gssize now = -1;

  for (gssize i = 0; steps[i] != NULL; i++)
    {
      if (step != NULL && g_str_equal (steps[i], step))
        at = i;
      if (g_str_equal (steps[i], c->step))
        now = i;
    }
  if (at > now)
    c->step = steps[at];
}

static gboolean
on_event (const char *id, const char *type, const char *data, gpointer user_data)
{
  Create *c = user_data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;

  if (type == NULL || !json_parser_load_from_data (parser, data, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return TRUE;
  o = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (member (o, "name"), c->name) != 0)
    return TRUE;
  if (g_str_equal (type, "instance.progress"))
    advance (c, member (o, "step")); /* {name, step}: planned ... started */
  else if (g_str_equal (type, "instance.created"))
    advance (c, "defined");
  else if (g_str_equal (type, "instance.state") && g_strcmp0 (member (o, "new"), "running") == 0)
    advance (c, "started");
  else if (g_str_equal (type, "agent.health"))
    set_health (c, member (o, "new"));
  show (c);
  return TRUE;
}

static void
create_tick (guint seconds, gpointer data)
{
  Create *c = data;

  c->seconds = seconds;
  show (c);
}

typedef struct {
  Create *c;
  GvdCtlStream *stream;
} WaitReady;

static gboolean
ready_or_gone (gpointer data)
{
  WaitReady *w = data;

  return w->c->ready || (w->stream != NULL && gvd_ctl_stream_ended (w->stream, NULL));
}

static gboolean
second_tick (gpointer data)
{
  Create *c = data;

  create_tick (c->seconds + 1, c);
  return G_SOURCE_CONTINUE;
}

/* Poll the instance (the event stream is gone, or to catch a report made
 * before it opened). */
static gboolean
poll_health (GvdCtl *ctl, Create *c, GError **error)
{
  g_autofree char *name = g_uri_escape_string (c->name, NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/v1/instances/%s", name);
  g_autoptr(JsonNode) inst = gvd_ctl_client_call (ctl->client, "GET", path, NULL, NULL, NULL,
                                                  error);
  JsonNode *h;

  if (inst == NULL)
    return FALSE;
  h = gvd_ctl_json_path (inst, "health.health");
  if (h != NULL && JSON_NODE_HOLDS_VALUE (h) && json_node_get_value_type (h) == G_TYPE_STRING)
    set_health (c, json_node_get_string (h));
  return TRUE;
}

static gboolean
wait_ready (GvdCtl *ctl, Create *c, GvdCtlStream *stream, guint timeout_s, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  WaitReady w = { c, stream };
  guint tick = g_timeout_add_seconds (1, second_tick, c);

  advance (c, "started");
  while (!c->ready)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;

      if (left_ms <= 0)
        break;
      if (!poll_health (ctl, c, error))
        {
          g_source_remove (tick);
          return FALSE;
        }
      if (c->ready)
        break;
      /* Events wake us at once; without a stream, poll every 2 s. */
      if (w.stream != NULL && !gvd_ctl_stream_ended (w.stream, NULL))
        gvd_ctl_run_until (ready_or_gone, &w, (guint) left_ms);
      else
        g_usleep (MIN (left_ms, 2000) * 1000);
    }
  g_source_remove (tick);
  if (!c->ready)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_API,
                   _("%s did not become ready within %u s (agent health: %s) (timeout)"), c->name,
                   timeout_s, c->health != NULL ? c->health : "unknown");
      return FALSE;
    }
  return TRUE;
}

JsonNode *
gvd_ctl_create_with_progress (GvdCtl *ctl, const char *name, JsonNode *body, gboolean wait,
                              guint timeout_s, GError **error)
{
  Create c = { ctl, name, "requested", NULL, FALSE, 0 };
  g_autoptr(GvdCtlStream) stream = NULL;
  g_autoptr(JsonNode) inst = NULL;
  JsonNode *dry = gvd_ctl_json_path (body, "dry_run");

  if ((ctl->progress || wait) && dry == NULL)
    {
      /* Subscribe before asking, so no event of this create is missed; the
       * progress is a nicety, so a failure here is only a debug line. */
      g_autoptr(GError) local = NULL;

      stream = gvd_ctl_stream_open (ctl->client, "/v1/events", NULL, &local);
      if (stream != NULL)
        gvd_ctl_stream_start (stream, on_event, &c);
      else
        g_debug ("no event stream: %s", local->message);
    }
  if (dry == NULL)
    show (&c);
  inst = gvd_ctl_client_call (ctl->client, "POST", "/v1/instances", body,
                              dry == NULL ? create_tick : NULL, &c, error);
  if (inst == NULL)
    {
      gvd_ctl_progress_done (ctl);
      g_free (c.health);
      return NULL;
    }
  if (dry == NULL)
    {
      JsonNode *h = gvd_ctl_json_path (inst, "health.health");

      advance (&c, "started");
      if (h != NULL && JSON_NODE_HOLDS_VALUE (h) && json_node_get_value_type (h) == G_TYPE_STRING
          && c.health == NULL)
        set_health (&c, json_node_get_string (h));
      show (&c);
    }
  if (wait && !wait_ready (ctl, &c, stream, timeout_s, error))
    {
      gvd_ctl_progress_done (ctl);
      g_free (c.health);
      return NULL;
    }
  if (wait)
    {
      /* The instance as it is now, with the agent's report. */
      g_autofree char *escaped = g_uri_escape_string (name, NULL, FALSE);
      g_autofree char *path = g_strdup_printf ("/v1/instances/%s", escaped);
      JsonNode *now = gvd_ctl_client_call (ctl->client, "GET", path, NULL, NULL, NULL, NULL);

      if (now != NULL)
        {
          json_node_unref (inst);
          inst = now;
        }
      show (&c);
    }
  if (dry == NULL)
    gvd_ctl_progress_done (ctl);
  g_free (c.health);
  return g_steal_pointer (&inst);
}

typedef struct {
  GvdCtl *ctl;
  const char *name;
  const char *verb;
  guint seconds;
} Action;

static void
action_tick (guint seconds, gpointer data)
{
  Action *a = data;

  a->seconds = seconds;
  gvd_ctl_progress (a->ctl, _("%s %s: waited %u s"), a->verb, a->name, seconds);
}

JsonNode *
gvd_ctl_action_with_progress (GvdCtl *ctl, const char *name, const char *action, JsonNode *body,
                              GError **error)
{
  g_autofree char *escaped = g_uri_escape_string (name, NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/v1/instances/%s/%s", escaped, action);
  Action a = { ctl, name, action, 0 };
  JsonNode *inst;

  /* Nothing is shown for actions that return within a second. */
  inst = gvd_ctl_client_call (ctl->client, "POST", path, body, action_tick, &a, error);
  if (a.seconds > 0)
    gvd_ctl_progress_done (ctl);
  return inst;
}
