/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: a guest agent report (POST /v1/agent/phone-home or
 * /heartbeat body), parsed as the API does (gvd_api_parse_object) and handed
 * to the hub with a valid token, so the validator
 * (gvd_agent_report_validate) and what the hub does with a clean report
 * (faults, health, the agent view) all see it. The first input byte picks
 * the report kind; the rest is the body. */
#include "config.h"

#include "fuzz-common.h"

#include "agent.h"
#include "api.h"
#include "errors.h"

#define SECRET "gpuvmd-fuzz-secret-0123456789abcdef"
#define UUID "6f1c3c52-1d3b-4b8e-9a4e-2f2b8f7f0a11"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gvd_fuzz_init ();
  return 0;
}

static char *
map_address (const char *name, const char *guest_address, gpointer user_data)
{
  return g_strdup ("0000:41:00.0");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) secret = g_bytes_new_static (SECRET, sizeof SECRET - 1);
  g_autoptr(GvdAgentHub) hub = NULL;
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(JsonNode) view = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  const char *name = "fuzz";
  JsonNode *node;
  guint8 mode;

  if (size < 1)
    return 0;
  mode = data[0];
  body = gvd_api_parse_object ((const char *) data + 1, size - 1, &error);
  if (body == NULL)
    return 0;
  /* api-agent.c's check before the hub sees the body. */
  node = json_object_get_member (body, "instance");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING
      && strlen (json_node_get_string (node)) <= 128)
    name = json_node_get_string (node);

  hub = gvd_agent_hub_new (secret, 30, 3);
  gvd_agent_hub_set_address_map (hub, map_address, NULL);
  gvd_agent_hub_track (hub, name, UUID);
  gvd_agent_hub_set_running (hub, name, TRUE, 1000000);
  token = gvd_agent_hub_get_token (hub, name);
  g_assert (token != NULL);

  /* bit 0: heartbeat; bit 1: a phone-home first (the usual order); bit 2: the
   * same report twice (a report replacing the previous one). */
  if (mode & 2)
    (void) gvd_agent_hub_handle_phone_home (hub, name, token, body, 2000000, NULL);
  for (guint i = 0; i < ((mode & 4) ? 2u : 1u); i++)
    {
      g_clear_error (&error);
      if (mode & 1)
        (void) gvd_agent_hub_handle_heartbeat (hub, name, token, body, 3000000 + i, &error);
      else
        (void) gvd_agent_hub_handle_phone_home (hub, name, token, body, 3000000 + i, &error);
      g_assert (error == NULL || error->domain == GVD_ERROR);
    }
  gvd_agent_hub_tick (hub, 500000000);

  b = json_builder_new ();
  g_assert (gvd_agent_hub_build_json (hub, name, b, 4000000, 1764648000000000));
  view = json_builder_get_root (b);
  g_assert (view != NULL);
  g_free (json_to_string (view, FALSE)); /* as GET /v1/instances/NAME prints it */
  return 0;
}
