/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest agent hub: the instances it tracks, their watchers, and the intake
 * of reports (authentication, per-instance rate limit, schema). */
#include "config.h"

#include "agent.h"
#include "agent-priv.h"

#include "errors.h"
#include "rate-limit.h"

void
gvd_agent_record_free (gpointer data)
{
  GvdAgentRecord *r = data;

  g_free (r->name);
  g_free (r->uuid);
  g_free (r->reason);
  g_clear_pointer (&r->phone_home, json_object_unref);
  g_clear_pointer (&r->heartbeat, json_object_unref);
  g_clear_pointer (&r->faults, g_ptr_array_unref);
  g_free (r->guest_agent);
  g_free (r);
}

GvdAgentHub *
gvd_agent_hub_new (GBytes *secret, guint interval_seconds, guint missed_heartbeats)
{
  GvdAgentHub *hub;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (interval_seconds > 0 && missed_heartbeats > 0, NULL);

  hub = g_new0 (GvdAgentHub, 1);
  hub->secret = g_bytes_ref (secret);
  hub->interval = interval_seconds;
  hub->missed = missed_heartbeats;
  hub->timeout = (gint64) interval_seconds * missed_heartbeats * G_USEC_PER_SEC;
  hub->records = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, gvd_agent_record_free);
  hub->watches = g_array_new (FALSE, FALSE, sizeof (GvdAgentWatch));
  hub->next_watch = 1;
  /* Half the heartbeat interval, at most 2 s: an agent on schedule never
   * comes near the limit, a flood gets one report in per period. */
  hub->request_period = MIN ((gint64) interval_seconds * G_USEC_PER_SEC / 2,
                             GVD_AGENT_REQUEST_PERIOD_MAX);
  hub->request_period = MAX (hub->request_period, 1);
  gvd_rate_limit_init (&hub->auth_failures, GVD_AGENT_AUTH_FAILURE_BURST,
                       GVD_AGENT_AUTH_FAILURE_PERIOD);
  return hub;
}

void
gvd_agent_hub_free (GvdAgentHub *hub)
{
  if (hub == NULL)
    return;
  /* First: the owner's timer must not call into a hub being torn down. */
  gvd_agent_hub_set_wakeup (hub, NULL, NULL, NULL);
  g_hash_table_unref (hub->records);
  g_array_unref (hub->watches);
  g_bytes_unref (hub->secret);
  g_free (hub);
}

guint
gvd_agent_hub_add_watch (GvdAgentHub *hub, GvdAgentHealthFunc func, gpointer user_data)
{
  GvdAgentWatch w = { 0, func, NULL, user_data };

  g_return_val_if_fail (func != NULL, 0);
  w.id = hub->next_watch++;
  g_array_append_val (hub->watches, w);
  return w.id;
}

guint
gvd_agent_hub_add_change_watch (GvdAgentHub *hub, GvdAgentChangeFunc func, gpointer user_data)
{
  GvdAgentWatch w = { 0, NULL, func, user_data };

  g_return_val_if_fail (func != NULL, 0);
  w.id = hub->next_watch++;
  g_array_append_val (hub->watches, w);
  return w.id;
}

void
gvd_agent_hub_remove_watch (GvdAgentHub *hub, guint id)
{
  for (guint i = 0; i < hub->watches->len; i++)
    {
      if (g_array_index (hub->watches, GvdAgentWatch, i).id == id)
        {
          g_array_remove_index (hub->watches, i);
          return;
        }
    }
}

void
gvd_agent_hub_set_wakeup (GvdAgentHub *hub, GvdWakeupFunc func, gpointer user_data,
                          GDestroyNotify destroy)
{
  gpointer old_data = hub->wakeup_data;
  GDestroyNotify old_destroy = hub->wakeup_destroy;

  hub->wakeup_func = func;
  hub->wakeup_data = user_data;
  hub->wakeup_destroy = destroy;
  if (old_destroy != NULL)
    old_destroy (old_data);
}

void
gvd_agent_hub_set_address_map (GvdAgentHub *hub, GvdAgentAddressMapFunc func, gpointer user_data)
{
  hub->map_func = func;
  hub->map_data = user_data;
}

void
gvd_agent_hub_track (GvdAgentHub *hub, const char *name, const char *uuid)
{
  GvdAgentRecord *r;

  g_return_if_fail (name != NULL && uuid != NULL);

  r = g_hash_table_lookup (hub->records, name);
  if (r != NULL && g_str_equal (r->uuid, uuid))
    return;
  r = g_new0 (GvdAgentRecord, 1);
  r->hub = hub;
  r->name = g_strdup (name);
  r->uuid = g_strdup (uuid);
  r->health = GVD_AGENT_HEALTH_PROVISIONING;
  r->told_health = GVD_AGENT_HEALTH_PROVISIONING;
  gvd_rate_limit_init (&r->requests, GVD_AGENT_REQUEST_BURST, hub->request_period);
  gvd_rate_limit_init (&r->notify, GVD_AGENT_NOTIFY_BURST, GVD_AGENT_NOTIFY_PERIOD);
  g_hash_table_replace (hub->records, r->name, r);
}

void
gvd_agent_hub_forget (GvdAgentHub *hub, const char *name)
{
  g_hash_table_remove (hub->records, name);
}

gboolean
gvd_agent_hub_is_tracked (GvdAgentHub *hub, const char *name)
{
  return g_hash_table_contains (hub->records, name);
}

void
gvd_agent_hub_set_running (GvdAgentHub *hub, const char *name, gboolean running, gint64 now)
{
  GvdAgentRecord *r = g_hash_table_lookup (hub->records, name);

  if (r == NULL)
    return;
  if (!running)
    {
      gvd_agent_record_set_deadline (r, 0);
      g_clear_pointer (&r->guest_agent, g_free);
      gvd_agent_record_set_health (r, GVD_AGENT_HEALTH_STOPPED, GVD_AGENT_REASON_STOPPED,
                                   "the domain is not running", TRUE, now);
    }
  else if (r->health == GVD_AGENT_HEALTH_STOPPED)
    gvd_agent_record_set_health (r, GVD_AGENT_HEALTH_PROVISIONING, GVD_AGENT_REASON_STARTED,
                                 NULL, TRUE, now);
}

char *
gvd_agent_hub_get_token (GvdAgentHub *hub, const char *name)
{
  GvdAgentRecord *r = g_hash_table_lookup (hub->records, name);

  return r != NULL ? gvd_agent_token_derive (hub->secret, r->uuid) : NULL;
}

/* Stands in for the uuid of an unknown instance so that a wrong name costs
 * the same HMAC as a wrong token. */
#define DUMMY_UUID "00000000-0000-0000-0000-000000000000"

/* The record @name, if @token is its token. Unknown names and wrong tokens
 * take the same path and get the same error; past the listener's budget of
 * failures the answer is 429, which callers need not log. */
static GvdAgentRecord *
authenticate (GvdAgentHub *hub, const char *name, const char *token, gint64 now,
              guint *out_retry_after, GError **error)
{
  GvdAgentRecord *r = name != NULL ? g_hash_table_lookup (hub->records, name) : NULL;
  gboolean ok = gvd_agent_token_verify (hub->secret, r != NULL ? r->uuid : DUMMY_UUID, token);
  gint64 wait = 0;

  if (ok && r != NULL)
    return r;
  if (!gvd_rate_limit_take (&hub->auth_failures, now, &wait))
    {
      if (out_retry_after != NULL)
        *out_retry_after = gvd_rate_limit_retry_after (wait);
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_TOO_MANY_REQUESTS,
                           "too many failed authentications on this listener: retry later");
      return NULL;
    }
  g_set_error_literal (error, GVD_ERROR, GVD_ERROR_UNAUTHORIZED,
                       "the instance name or the bearer token is not valid");
  return NULL;
}

/* Take one of @r's report tokens. */
static gboolean
admit (GvdAgentRecord *r, gint64 now, guint *out_retry_after, GError **error)
{
  gint64 wait = 0;

  if (gvd_rate_limit_take (&r->requests, now, &wait))
    return TRUE;
  if (out_retry_after != NULL)
    *out_retry_after = gvd_rate_limit_retry_after (wait);
  g_set_error (error, GVD_ERROR, GVD_ERROR_TOO_MANY_REQUESTS,
               "too many reports from this instance: at most %u at once, then one every %"
               G_GINT64_FORMAT " ms",
               GVD_AGENT_REQUEST_BURST, r->hub->request_period / 1000);
  return FALSE;
}

static JsonObject *
validate_for (GvdAgentReportKind kind, const char *name, JsonObject *body, GError **error)
{
  g_autoptr(JsonObject) clean = gvd_agent_report_validate (kind, body, error);

  if (clean == NULL)
    return NULL;
  if (g_strcmp0 (gvd_agent_member_string (clean, "instance"), name) != 0)
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "instance: does not match the instance the request is for");
      return NULL;
    }
  return g_steal_pointer (&clean);
}

static gboolean
handle_phone_home (GvdAgentHub *hub, GvdAgentRecord *r, JsonObject *clean, gint64 now)
{
  g_autofree char *reason = NULL;

  g_clear_pointer (&r->phone_home, json_object_unref);
  r->phone_home = clean;
  r->last_phone_home = now;
  g_clear_pointer (&r->faults, g_ptr_array_unref);
  r->faults = gvd_agent_report_faults (clean);
  /* A new boot: the previous boot's probe result no longer applies. */
  g_clear_pointer (&r->guest_agent, g_free);
  /* libvirt says whether the domain runs; a late report does not revive it. */
  if (r->health == GVD_AGENT_HEALTH_STOPPED)
    return TRUE;
  gvd_agent_record_set_deadline (r, now + hub->timeout);
  reason = gvd_agent_faults_reason (r->faults);
  gvd_agent_record_set_health (r, GVD_AGENT_HEALTH_READY,
                               reason != NULL ? GVD_AGENT_REASON_GPU_FAULT
                                              : GVD_AGENT_REASON_PHONE_HOME,
                               reason, FALSE, now);
  return TRUE;
}

static gboolean
handle_heartbeat (GvdAgentHub *hub, GvdAgentRecord *r, JsonObject *clean, gint64 now)
{
  g_autofree char *reason = NULL;

  g_clear_pointer (&r->heartbeat, json_object_unref);
  r->heartbeat = clean;
  r->last_heartbeat = now;
  r->heartbeats++;
  g_clear_pointer (&r->faults, g_ptr_array_unref);
  r->faults = gvd_agent_report_faults (clean);
  if (r->health == GVD_AGENT_HEALTH_STOPPED)
    return TRUE;
  if (r->health == GVD_AGENT_HEALTH_UNRESPONSIVE)
    g_clear_pointer (&r->guest_agent, g_free);
  gvd_agent_record_set_deadline (r, now + hub->timeout);
  /* A heartbeat without phone-home (gpuvmd restarted under a running
   * agent) is still proof of life. */
  reason = gvd_agent_faults_reason (r->faults);
  if (reason != NULL)
    gvd_agent_record_set_health (r, GVD_AGENT_HEALTH_DEGRADED, GVD_AGENT_REASON_GPU_FAULT, reason,
                                 FALSE, now);
  else
    gvd_agent_record_set_health (r, GVD_AGENT_HEALTH_HEALTHY, GVD_AGENT_REASON_HEARTBEAT, NULL,
                                 FALSE, now);
  return TRUE;
}

gboolean
gvd_agent_hub_handle_report (GvdAgentHub *hub, GvdAgentReportKind kind, const char *name,
                             const char *token, JsonObject *body, gint64 now,
                             guint *out_retry_after, GError **error)
{
  GvdAgentRecord *r = authenticate (hub, name, token, now, out_retry_after, error);
  JsonObject *clean;

  if (r == NULL)
    return FALSE;
  /* After authentication: one instance's flood cannot spend another's
   * budget. Refused reports spend it too. */
  if (!admit (r, now, out_retry_after, error))
    return FALSE;
  clean = validate_for (kind, name, body, error);
  if (clean == NULL)
    return FALSE;
  if (kind == GVD_AGENT_REPORT_HEARTBEAT)
    return handle_heartbeat (hub, r, clean, now);
  return handle_phone_home (hub, r, clean, now);
}

gboolean
gvd_agent_hub_handle_phone_home (GvdAgentHub *hub, const char *name, const char *token,
                                 JsonObject *body, gint64 now, GError **error)
{
  return gvd_agent_hub_handle_report (hub, GVD_AGENT_REPORT_PHONE_HOME, name, token, body, now,
                                      NULL, error);
}

gboolean
gvd_agent_hub_handle_heartbeat (GvdAgentHub *hub, const char *name, const char *token,
                                JsonObject *body, gint64 now, GError **error)
{
  return gvd_agent_hub_handle_report (hub, GVD_AGENT_REPORT_HEARTBEAT, name, token, body, now,
                                      NULL, error);
}

void
gvd_agent_hub_set_guest_agent (GvdAgentHub *hub, const char *name, const char *state)
{
  GvdAgentRecord *r = g_hash_table_lookup (hub->records, name);

  if (r == NULL)
    return;
  g_free (r->guest_agent);
  r->guest_agent = g_strdup (state);
}
