/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest agent view: one tracked instance's health, reports and GPU faults
 * as the JSON object an instance shows as "agent". */
#include "config.h"

#include "agent.h"
#include "agent-priv.h"

#include "json-util.h"

static void
add_time (JsonBuilder *b, const char *member, gint64 t, gint64 now_mono, gint64 now_real)
{
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *s = NULL;

  json_builder_set_member_name (b, member);
  if (t == 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  dt = g_date_time_new_from_unix_utc ((now_real - (now_mono - t)) / G_USEC_PER_SEC);
  s = dt != NULL ? g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;
  if (s != NULL)
    json_builder_add_string_value (b, s);
  else
    json_builder_add_null_value (b);
}

static void
add_member_copy (JsonBuilder *b, const char *member, JsonObject *from, gboolean array)
{
  JsonNode *node = from != NULL ? json_object_get_member (from, member) : NULL;

  json_builder_set_member_name (b, member);
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    json_builder_add_value (b, json_node_copy (node));
  else if (array)
    {
      json_builder_begin_array (b);
      json_builder_end_array (b);
    }
  else
    json_builder_add_null_value (b);
}

gboolean
gvd_agent_hub_build_json (GvdAgentHub *hub, const char *name, JsonBuilder *b, gint64 now_mono,
                          gint64 now_real)
{
  GvdAgentRecord *r = g_hash_table_lookup (hub->records, name);
  JsonObject *latest;

  if (r == NULL)
    return FALSE;
  latest = r->heartbeat != NULL && r->last_heartbeat >= r->last_phone_home ? r->heartbeat
                                                                             : r->phone_home;

  json_builder_begin_object (b);
  gvd_json_add_string (b, "health", gvd_agent_health_to_string (r->health));
  gvd_json_add_string (b, "reason", r->reason);
  add_time (b, "since", r->since, now_mono, now_real);
  add_time (b, "last_phone_home", r->last_phone_home, now_mono, now_real);
  add_time (b, "last_heartbeat", r->last_heartbeat, now_mono, now_real);
  json_builder_set_member_name (b, "heartbeats");
  json_builder_add_int_value (b, (gint64) MIN (r->heartbeats, (guint64) G_MAXINT64));
  json_builder_set_member_name (b, "heartbeat_interval");
  json_builder_add_int_value (b, hub->interval);
  gvd_json_add_string (b, "boot_id", gvd_agent_member_string (latest, "boot_id"));
  gvd_json_add_string (b, "agent_version",
                       gvd_agent_member_string (r->phone_home, "agent_version"));
  gvd_json_add_string (b, "kernel", gvd_agent_member_string (r->phone_home, "kernel"));
  gvd_json_add_string (b, "hostname", gvd_agent_member_string (r->phone_home, "hostname"));
  add_member_copy (b, "addresses", latest, TRUE);
  add_member_copy (b, "cloud_init", latest, FALSE);
  add_member_copy (b, "nvidia_smi", latest, FALSE);
  add_member_copy (b, "gpus", latest, TRUE);
  add_member_copy (b, "pci_gpus", latest, TRUE);
  add_member_copy (b, "system", r->heartbeat, FALSE);

  json_builder_set_member_name (b, "gpu_faults");
  json_builder_begin_array (b);
  for (guint i = 0; r->faults != NULL && i < r->faults->len; i++)
    {
      GvdAgentFault *f = g_ptr_array_index (r->faults, i);
      g_autofree char *host = NULL;

      if (hub->map_func != NULL && f->guest_address != NULL)
        host = hub->map_func (r->name, f->guest_address, hub->map_data);
      json_builder_begin_object (b);
      gvd_json_add_string (b, "guest_address", f->guest_address);
      gvd_json_add_string (b, "host_address", host);
      gvd_json_add_string (b, "vendor", f->vendor);
      gvd_json_add_string (b, "device", f->device);
      gvd_json_add_string (b, "driver", f->driver);
      gvd_json_add_string (b, "problem", f->problem);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  gvd_json_add_string (b, "guest_agent", r->guest_agent);
  json_builder_end_object (b);
  return TRUE;
}

JsonObject *
gvd_agent_hub_get_latest (GvdAgentHub *hub, const char *name, gint64 *out_last_heartbeat)
{
  GvdAgentRecord *r = g_hash_table_lookup (hub->records, name);
  JsonObject *latest;

  if (r == NULL)
    return NULL;
  latest = r->heartbeat != NULL && r->last_heartbeat >= r->last_phone_home ? r->heartbeat
                                                                             : r->phone_home;
  if (out_last_heartbeat != NULL)
    *out_last_heartbeat = r->last_heartbeat;
  return latest != NULL ? json_object_ref (latest) : NULL;
}

char *
gvd_agent_hub_map_address (GvdAgentHub *hub, const char *name, const char *guest_address)
{
  if (hub->map_func == NULL || guest_address == NULL)
    return NULL;
  return hub->map_func (name, guest_address, hub->map_data);
}
