/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: daemon state in Prometheus text format (no libvirt calls). */
#include "config.h"

#include "api.h"

#include <string.h>

#include "agent.h"
#include "hostinfo.h"
#include "instance.h"
#include "metrics.h"

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
        health = gvd_agent_health_to_string (gvd_agent_hub_get_health (d->agent, name));
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

static const GvdApiRoute routes[] = {
  { "GET", "/metrics" },
  { NULL, NULL },
};

void
gvd_api_metrics_register (GvdApi *api)
{
  gvd_api_add_routes (api, "/metrics", GVD_API_ROUTE_DEFAULT, routes, metrics);
}
