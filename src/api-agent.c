/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent listener's routes: POST /v1/agent/phone-home and heartbeat,
 * authenticated by the per-instance token, and health-change logging. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "agent.h"

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
agent_report (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdAgentHub *hub = gvd_api_get_daemon (api)->agent;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = NULL;
  gboolean heartbeat = g_str_equal (path, "/v1/agent/heartbeat");
  const char *name;
  JsonNode *node;
  gboolean ok;

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
  if (hub == NULL)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_READY, "the agent receiver is not running");
      return;
    }
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
  if (strlen (name) > 128)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                            "instance: must be at most 128 bytes long");
      return;
    }

  if (heartbeat)
    ok = gvd_agent_hub_handle_heartbeat (hub, name, bearer_token (msg), body,
                                         g_get_monotonic_time (), &error);
  else
    ok = gvd_agent_hub_handle_phone_home (hub, name, bearer_token (msg), body,
                                          g_get_monotonic_time (), &error);
  if (!ok)
    {
      const char *remote = soup_server_message_get_remote_host (msg);

      if (g_error_matches (error, GVD_ERROR, GVD_ERROR_UNAUTHORIZED))
        soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                      "WWW-Authenticate", "Bearer realm=\"gpuvmd-agent\"");
      /* MESSAGE goes last: its format arguments end the list. */
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "GVD_INSTANCE", name, "GVD_REMOTE",
                        remote != NULL ? remote : "unknown", "MESSAGE",
                        "agent %s from instance %s refused: %s",
                        heartbeat ? "heartbeat" : "phone-home", name, error->message);
      gvd_api_reply_error (msg, error);
      return;
    }
  if (!heartbeat)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "GVD_INSTANCE", name, "MESSAGE",
                      "instance %s phoned home", name);

  {
    g_autoptr(JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "health");
    json_builder_add_string_value (b, gvd_agent_health_to_string (
                                          gvd_agent_hub_get_health (hub, name)));
    json_builder_set_member_name (b, "interval");
    json_builder_add_int_value (b, gvd_api_get_daemon (api)->config->heartbeat_interval);
    json_builder_end_object (b);
    gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
  }
}

static void
log_health (GvdAgentHub *hub, const char *name, GvdAgentHealth old_health,
            GvdAgentHealth new_health, const char *reason, gpointer user_data)
{
  const char *new_s = gvd_agent_health_to_string (new_health);

  /* Not a warning even for unresponsive: tests run with fatal warnings and
   * a guest going away is an expected event. MESSAGE goes last. */
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "GVD_INSTANCE", name, "GVD_AGENT_HEALTH",
                    new_s, "MESSAGE", "instance %s agent health %s -> %s%s%s", name,
                    gvd_agent_health_to_string (old_health), new_s, reason != NULL ? ": " : "",
                    reason != NULL ? reason : "");
}

guint
gvd_api_agent_log_health (GvdAgentHub *hub)
{
  return gvd_agent_hub_add_watch (hub, log_health, NULL);
}

void
gvd_api_agent_register (GvdApi *api)
{
  gvd_api_add_route (api, "/v1/agent", GVD_API_ROUTE_PUBLIC, agent_report);
}
