/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: daemon state in Prometheus text format (no libvirt calls). */
#include "config.h"

#include "api.h"

#include <math.h>
#include <string.h>

#include "agent.h"
#include "guest-pci-map.h"
#include "hostinfo.h"
#include "http-route.h"
#include "instance.h"
#include "metrics-registry.h"
#include "metrics.h"

static double
member_number (JsonObject *obj, const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NAN;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return (double) json_node_get_int (node);
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return json_node_get_double (node);
  return NAN;
}

/* The agent's latest gpus[] of @name as guest GPU series, each labelled with
 * the host device behind its guest bus id. */
static void
add_guest_gpus (GvdMetricsSnapshot *snap, GvdAgentHub *hub, const char *name, gint64 now)
{
  gint64 last_heartbeat = 0;
  g_autoptr(JsonObject) latest = gvd_agent_hub_get_latest (hub, name, &last_heartbeat);
  JsonNode *node;
  JsonArray *gpus;

  if (last_heartbeat > 0)
    gvd_metrics_snapshot_add_heartbeat_age (snap, name,
                                            (double) (now - last_heartbeat) / G_USEC_PER_SEC);
  node = latest != NULL ? json_object_get_member (latest, "gpus") : NULL;
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return;
  gpus = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (gpus); i++)
    {
      JsonObject *g = json_array_get_object_element (gpus, i);
      g_autofree char *guest = gvd_guest_pci_normalize (json_object_get_string_member_with_default (
          g, "pci_bus_id", NULL));
      g_autofree char *host = gvd_agent_hub_map_address (hub, name, guest);
      g_autofree char *index = NULL;
      double mib = 1024.0 * 1024.0;
      GvdMetricsGuestGpu gpu = { 0 };

      if (json_object_has_member (g, "index") && !json_object_get_null_member (g, "index"))
        index = g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (g, "index"));
      gpu.instance = (char *) name;
      gpu.index = index;
      gpu.guest_address = guest;
      gpu.host_address = host;
      gpu.uuid = (char *) json_object_get_string_member_with_default (g, "uuid", NULL);
      gpu.model = (char *) json_object_get_string_member_with_default (g, "name", NULL);
      gpu.driver_version =
        (char *) json_object_get_string_member_with_default (g, "driver_version", NULL);
      gpu.utilization_ratio = member_number (g, "utilization_percent") / 100.0;
      gpu.memory_used_bytes = member_number (g, "memory_used_mib") * mib;
      gpu.memory_total_bytes = member_number (g, "memory_total_mib") * mib;
      gpu.temperature_celsius = member_number (g, "temperature_c");
      gpu.power_watts = member_number (g, "power_draw_w");
      gvd_metrics_snapshot_add_guest_gpu (snap, &gpu);
    }
}

/* Everything read here is main-thread state the daemon already keeps. */
static GvdMetricsSnapshot *
snapshot_build (GvdDaemon *d)
{
  GvdMetricsSnapshot *snap = gvd_metrics_snapshot_new (PACKAGE_VERSION);

  g_autoptr(GPtrArray) list = gvd_instance_manager_list (d->instances);

  snap->uptime_seconds = (g_get_monotonic_time () - d->started_at) / G_USEC_PER_SEC;
  snap->libvirt_connected = gvd_virt_conn_get_state (d->virt) == GVD_VIRT_CONNECTED;
  snap->libvirt_reconnects = gvd_virt_conn_get_reconnects (d->virt);
  for (guint i = 0; i < list->len; i++)
    {
      const GvdInstance *inst = g_ptr_array_index (list, i);
      const char *name = inst->spec->name;
      const char *health = NULL;

      if (gvd_agent_hub_is_tracked (d->agent, name))
        {
          health = gvd_agent_health_to_string (gvd_agent_hub_get_health (d->agent, name));
          add_guest_gpus (snap, d->agent, name, g_get_monotonic_time ());
        }
      gvd_metrics_snapshot_add_instance (snap, name, inst->spec->domain_name, inst->state,
                                         health);
    }
  for (guint i = 0; i < d->inventory->devices->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (d->inventory->devices, i);

      if (!dev->passthrough_candidate)
        continue;
      gvd_metrics_snapshot_add_device (snap, dev->address,
                                       gvd_claims_get_holder (d->claims, dev->address),
                                       gvd_claims_get_quarantine (d->claims, dev->address) != NULL);
    }
  snap->devices_claimed = gvd_claims_count (d->claims);
  snap->devices_quarantined = gvd_claims_count_quarantined (d->claims);
  snap->registry = d->metrics;
  return snap;
}

static void
metrics (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  g_autoptr(GvdMetricsSnapshot) snap = NULL;
  char *text;

  if (!g_str_equal (path, "/metrics"))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      gvd_api_reply_method_not_allowed (msg, "GET");
      return;
    }
  snap = snapshot_build (gvd_api_get_daemon (api));
  text = gvd_metrics_render (snap, GVD_METRICS_MAX_SERIES);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, GVD_METRICS_CONTENT_TYPE, SOUP_MEMORY_TAKE, text,
                                    strlen (text));
}

void
gvd_api_metrics_register (GvdApi *api)
{
  gvd_api_add_route (api, "/metrics", GVD_API_ROUTE_DEFAULT, metrics);
}

/* ---- hooks the rest of the daemon calls ------------------------------------ */

void
gvd_api_metrics_observe_op (GvdApi *api, const char *op, gint64 started, const GError *error)
{
  GvdDaemon *d = gvd_api_get_daemon (api);

  if (d->metrics == NULL || op == NULL)
    return;
  gvd_metrics_registry_observe_op (
      d->metrics, op, (double) (g_get_monotonic_time () - started) / G_USEC_PER_SEC,
      error != NULL ? gvd_error_code_name (gvd_error_get_code (error)) : NULL);
}

char *
gvd_api_metrics_map_guest_address (const char *name, const char *guest_address,
                                   gpointer user_data)
{
  GvdDaemon *d = user_data;
  GvdInstance *inst;

  if (d->instances == NULL)
    return NULL;
  inst = gvd_instance_manager_lookup (d->instances, name);
  return inst != NULL ? gvd_guest_pci_host_address (inst->spec, guest_address) : NULL;
}

#define STARTED_KEY "gvd-metrics-started"

static void
request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  gint64 *started = g_new (gint64, 1);

  *started = g_get_monotonic_time ();
  g_object_set_data_full (G_OBJECT (msg), STARTED_KEY, started, g_free);
}

/* Every answered request, whichever handler (or none) answered it. */
static void
request_finished (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  GvdDaemon *d = user_data;
  const gint64 *started = g_object_get_data (G_OBJECT (msg), STARTED_KEY);
  GUri *uri = soup_server_message_get_uri (msg);

  if (d->metrics == NULL || started == NULL)
    return;
  gvd_metrics_registry_observe_http (
      d->metrics, gvd_http_route_template (uri != NULL ? g_uri_get_path (uri) : NULL),
      gvd_http_method_label (soup_server_message_get_method (msg)),
      soup_server_message_get_status (msg),
      (double) (g_get_monotonic_time () - *started) / G_USEC_PER_SEC);
}

void
gvd_api_metrics_watch_requests (SoupServer *server, GvdDaemon *daemon)
{
  g_signal_connect (server, "request-started", G_CALLBACK (request_started), NULL);
  g_signal_connect (server, "request-finished", G_CALLBACK (request_finished), daemon);
}

void
gvd_api_agent_count_report (GvdApi *api, gboolean heartbeat, gboolean accepted)
{
  GvdDaemon *d = gvd_api_get_daemon (api);

  if (d->metrics != NULL)
    gvd_metrics_registry_count_agent_report (d->metrics, heartbeat ? "heartbeat" : "phone_home",
                                             accepted);
}
