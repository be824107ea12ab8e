/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent listener's routes: POST /v1/agent/phone-home and heartbeat,
 * authenticated by the per-instance token, and health-change logging. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "agent.h"
#include "events.h"
#include "instance-request.h"

/* "Bearer <token>" → token (borrowed), or NULL. */
static const char *
bearer_token (SoupServerMessage *msg)
{
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");

  if (auth == NULL || g_ascii_strncasecmp (auth, "Bearer ", 7) != 0)
    return NULL;
  auth += 7;
  while (*auth == ' ')
    auth++;
  return auth;
}

static void
reply_health (GvdApi *api, SoupServerMessage *msg, GvdAgentHub *hub, const char *name)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "health");
  json_builder_add_string_value (b, gvd_agent_health_to_string (gvd_agent_hub_get_health (hub, name)));
  json_builder_set_member_name (b, "interval");
  json_builder_add_int_value (b, gvd_api_get_daemon (api)->config->heartbeat_interval);
  json_builder_end_object (b);
  gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
}

/* A refused report, answered and (within the hub's budgets) logged. Only
 * escaped text reaches the log: nothing a guest sends can forge a line. */
static void
refuse (SoupServerMessage *msg, gboolean heartbeat, const char *name, const GError *error,
        guint retry_after)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *remote = soup_server_message_get_remote_host (msg);
  g_autofree char *safe_name = g_strescape (name, NULL);
  g_autofree char *safe_message = g_strescape (error->message, NULL);
  const char *code = gvd_error_code_name (gvd_error_get_code (error));

  if (g_error_matches (error, GVD_ERROR, GVD_ERROR_UNAUTHORIZED))
    soup_message_headers_replace (headers, "WWW-Authenticate", "Bearer realm=\"gpuvmd-agent\"");
  if (g_error_matches (error, GVD_ERROR, GVD_ERROR_TOO_MANY_REQUESTS))
    {
      g_autofree char *value = g_strdup_printf ("%u", MAX (retry_after, 1));

      soup_message_headers_replace (headers, "Retry-After", value);
      /* The flood itself is not logged: that is what the budget is for. */
      g_debug ("agent %s from instance %s refused: %s", heartbeat ? "heartbeat" : "phone-home",
               safe_name, safe_message);
    }
  else
    {
      /* MESSAGE goes last: its format arguments end the list. */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "GVD_INSTANCE", safe_name,
                        "GVD_REMOTE", remote != NULL ? remote : "unknown", "MESSAGE",
                        "agent %s from instance %s refused: %s (%s)",
                        heartbeat ? "heartbeat" : "phone-home", safe_name, code, safe_message);
    }
  gvd_api_reply_error (msg, error);
}

static void
agent_report (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdAgentHub *hub = gvd_api_get_daemon (api)->agent;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = NULL;
  gboolean heartbeat = g_str_equal (path, "/v1/agent/heartbeat");
  const char *name;
  JsonNode *node;
  guint retry_after = 0;

  if (!heartbeat && !g_str_equal (path, "/v1/agent/phone-home"))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      gvd_api_reply_method_not_allowed (msg, "POST");
      return;
    }
  /* Content-Type, UTF-8 and the nesting depth are checked before json-glib
   * parses anything; the body is at most GVD_AGENT_MAX_BODY (early handler). */
  body = gvd_api_read_object (msg, FALSE, &error);
  if (body == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  node = json_object_get_member (body, "instance");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                            "instance: is required and must be a string");
      return;
    }
  name = json_node_get_string (node);
  /* Before authentication, and the same answer whether or not such an
   * instance exists: the name is never echoed. */
  if (!gvd_instance_name_valid (name))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT, "instance: %s", GVD_AGENT_NAME_RULE);
      return;
    }

  if (!gvd_agent_hub_handle_report (hub,
                                    heartbeat ? GVD_AGENT_REPORT_HEARTBEAT
                                              : GVD_AGENT_REPORT_PHONE_HOME,
                                    name, bearer_token (msg), body, g_get_monotonic_time (),
                                    &retry_after, &error))
    {
      gvd_api_agent_count_report (api, heartbeat, FALSE);
      refuse (msg, heartbeat, name, error, retry_after);
      return;
    }
  /* The ready notification logs the phone-home (rate-limited); a line per
   * report would let a guest fill the log. */
  g_debug ("instance %s: agent %s accepted", name, heartbeat ? "heartbeat" : "phone-home");
  gvd_api_agent_count_report (api, heartbeat, TRUE);
  reply_health (api, msg, hub, name);
}

static void
log_health (GvdAgentHub *hub, const char *name, const GvdAgentHealthChange *change,
            gpointer user_data)
{
  const char *new_s = gvd_agent_health_to_string (change->new_health);
  const char *reason = gvd_agent_reason_to_string (change->reason);
  g_autofree char *safe_name = g_strescape (name, NULL);
  g_autofree char *suppressed =
    change->suppressed > 0 ? g_strdup_printf (" (%u earlier changes not logged)", change->suppressed)
                           : g_strdup ("");

  /* Not a warning even for unresponsive: tests run with fatal warnings and
   * a guest going away is an expected event. MESSAGE goes last. Only the
   * fixed reason vocabulary: guest text stays in the stored report. */
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "GVD_INSTANCE", safe_name,
                    "GVD_AGENT_HEALTH", new_s, "MESSAGE", "instance %s agent health %s -> %s%s%s%s",
                    safe_name, gvd_agent_health_to_string (change->old_health), new_s,
                    reason != NULL ? ": " : "", reason != NULL ? reason : "", suppressed);
}

guint
gvd_api_agent_log_health (GvdAgentHub *hub)
{
  return gvd_agent_hub_add_change_watch (hub, log_health, NULL);
}

static void
emit_health (GvdAgentHub *hub, const char *name, const GvdAgentHealthChange *change,
             gpointer user_data)
{
  gvd_events_emit_counted_change (user_data, "agent.health", name,
                                  gvd_agent_health_to_string (change->old_health),
                                  gvd_agent_health_to_string (change->new_health),
                                  gvd_agent_reason_to_string (change->reason), change->suppressed);
}

guint
gvd_api_agent_emit_events (GvdAgentHub *hub, GvdEvents *events)
{
  return gvd_agent_hub_add_change_watch (hub, emit_health, events);
}

void
gvd_api_agent_register (GvdApi *api)
{
  /* Agent bodies have their own bound, whatever max_body_bytes allows on
   * the admin listener: a report is a few KiB. */
  gvd_api_set_max_body (api, GVD_AGENT_MAX_BODY);
  gvd_api_add_route (api, "/v1/agent", GVD_API_ROUTE_PUBLIC, agent_report);
}
