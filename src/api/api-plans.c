/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/plans (a dry-run VFIO plan) and GET /v1/devices/available. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "device-ref.h"
#include "hostinfo.h"
#include "hostinfo-vgpu.h"
#include "vfio-plan.h"

#define MAX_FILTER_LEN 128

/* Fail closed: until the daemon knows its claims, nothing is free. */
static gboolean
check_ready (GvdDaemon *d, SoupServerMessage *msg)
{
  if (!gvd_claims_is_ready (d->claims))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_READY,
                            "device claims are not known yet (reconciling with libvirt): "
                            "try again shortly");
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_bool (JsonObject *obj, const char *member, gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "%s must be true or false",
                   member);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
read_filter (JsonObject *obj, const char *member, char **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);
  const char *s;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING
      || (s = json_node_get_string (node))[0] == '\0' || strlen (s) > MAX_FILTER_LEN)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "%s must be a non-empty string of at most %d bytes", member, MAX_FILTER_LEN);
      return FALSE;
    }
  *out = g_strdup (s);
  return TRUE;
}

/* The request body → a GvdPlanRequest; device names resolve through the
 * registry (unknown names stay as given and the planner reports them). */
static GvdPlanRequest *
parse_request (GvdDaemon *d, JsonObject *obj, GError **error)
{
  static const char *const known[] = { "devices", "gpus", "vendor", "model",
                                       "include_companions", "allow_weakened_isolation", NULL };
  g_autoptr(GvdPlanRequest) req = gvd_plan_request_new ();
  g_autoptr(GList) members = json_object_get_members (obj);
  JsonNode *devices = json_object_get_member (obj, "devices");
  JsonNode *gpus = json_object_get_member (obj, "gpus");

  members = g_list_sort (members, (GCompareFunc) strcmp);
  for (GList *l = members; l != NULL; l = l->next)
    {
      if (!g_strv_contains (known, l->data))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "unknown field '%s' (known: devices, gpus, vendor, model, "
                       "include_companions, allow_weakened_isolation)",
                       (const char *) l->data);
          return NULL;
        }
    }
  if ((devices != NULL) == (gpus != NULL))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "give either devices (PCI addresses or registered names) or gpus "
                           "(a number), not both and not neither");
      return NULL;
    }
  if (devices != NULL)
    {
      req->devices = gvd_device_ref_resolve_array (d->registry, devices, GVD_PLAN_MAX_DEVICES,
                                                   error);
      if (req->devices == NULL)
        return NULL;
    }
  else
    {
      gint64 n;

      if (!JSON_NODE_HOLDS_VALUE (gpus) || json_node_get_value_type (gpus) != G_TYPE_INT64
          || (n = json_node_get_int (gpus)) < 1 || n > GVD_PLAN_MAX_GPUS)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "gpus must be a whole number from 1 to %d", GVD_PLAN_MAX_GPUS);
          return NULL;
        }
      req->gpus = (guint) n;
    }
  if ((json_object_has_member (obj, "vendor") || json_object_has_member (obj, "model"))
      && devices != NULL)
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "vendor and model filter gpus; they make no sense with devices");
      return NULL;
    }
  if (!read_filter (obj, "vendor", &req->vendor, error)
      || !read_filter (obj, "model", &req->model, error)
      || !read_bool (obj, "include_companions", &req->include_companions, error)
      || !read_bool (obj, "allow_weakened_isolation", &req->allow_weakened_isolation, error))
    return NULL;
  return g_steal_pointer (&req);
}

static void
plans (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdDaemon *d = gvd_api_get_daemon (api);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(GvdPlanRequest) req = NULL;
  g_autoptr(GvdPlanRefusal) refusal = NULL;
  g_autoptr(GvdPlan) plan = NULL;
  g_autoptr(JsonNode) node = NULL;

  if (!g_str_equal (path, "/v1/plans"))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    {
      gvd_api_reply_method_not_allowed (msg, "POST");
      return;
    }
  if ((body = gvd_api_read_object (msg, FALSE, &error)) == NULL
      || (req = parse_request (d, body, &error)) == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  if (!check_ready (d, msg))
    return;

  plan = gvd_vfio_plan_compute (d->inventory, req, gvd_claims_get_holders (d->claims),
                                gvd_claims_get_quarantined (d->claims), &refusal, &error);
  if (plan == NULL)
    {
      g_autoptr(JsonNode) details = refusal != NULL ? gvd_plan_refusal_to_json (refusal) : NULL;

      g_debug ("plan refused: %s", error->message);
      gvd_api_reply_error_details (msg, error, details);
      return;
    }
  node = gvd_vfio_plan_to_json (plan);
  gvd_api_reply_json (msg, SOUP_STATUS_OK, node);
}

static void
available (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdDaemon *d = gvd_api_get_daemon (api);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const char *method = soup_server_message_get_method (msg);

  if (!g_str_equal (path, "/v1/devices/available"))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      gvd_api_reply_method_not_allowed (msg, "GET, HEAD");
      return;
    }
  if (!check_ready (d, msg))
    return;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "iommu");
  json_builder_add_boolean_value (b, d->inventory->iommu);
  json_builder_set_member_name (b, "acs_override");
  json_builder_add_boolean_value (b, d->inventory->acs_override);
  json_builder_set_member_name (b, "nvidia_driver_version");
  if (d->inventory->nvidia_driver_version != NULL)
    json_builder_add_string_value (b, d->inventory->nvidia_driver_version);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < d->inventory->devices->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (d->inventory->devices, i);
      const GvdIommuGroup *group = gvd_inventory_get_group (d->inventory, dev->iommu_group);
      g_autoptr(GPtrArray) peers = NULL;
      const char *holder, *quarantine, *name;

      if (!dev->passthrough_candidate)
        continue;
      holder = gvd_claims_get_holder (d->claims, dev->address);
      quarantine = gvd_claims_get_quarantine (d->claims, dev->address);
      name = gvd_registry_lookup_address (d->registry, dev->address);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "address");
      json_builder_add_string_value (b, dev->address);
      json_builder_set_member_name (b, "name");
      if (name != NULL)
        json_builder_add_string_value (b, name);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "holder");
      if (holder != NULL)
        json_builder_add_string_value (b, holder);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "quarantined");
      json_builder_add_boolean_value (b, quarantine != NULL);
      json_builder_set_member_name (b, "isolation");
      json_builder_add_string_value (b, group == NULL ? "none"
                                        : group->weakened ? "weakened" : "isolated");
      json_builder_set_member_name (b, "group_peers");
      json_builder_begin_array (b);
      peers = gvd_inventory_group_peers (d->inventory, dev->address);
      for (guint k = 0; peers != NULL && k < peers->len; k++)
        {
          const GvdPciDevice *p = gvd_inventory_lookup (d->inventory, g_ptr_array_index (peers, k));

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "address");
          json_builder_add_string_value (b, g_ptr_array_index (peers, k));
          json_builder_set_member_name (b, "driver");
          if (p != NULL && p->driver != NULL)
            json_builder_add_string_value (b, p->driver);
          else
            json_builder_add_null_value (b);
          json_builder_set_member_name (b, "is_bridge");
          json_builder_add_boolean_value (b, p != NULL && p->is_bridge);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      gvd_hostinfo_vgpu_members (d->host_root, dev, d->claims, b);
      json_builder_set_member_name (b, "device");
      gvd_hostinfo_device_to_json (dev, b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
}

static const GvdApiRoute plan_routes[] = {
  { "POST", "/v1/plans" },
  { NULL, NULL },
};

static const GvdApiRoute available_routes[] = {
  { "GET", "/v1/devices/available" },
  { "HEAD", "/v1/devices/available" },
  { NULL, NULL },
};

void
gvd_api_plans_register (GvdApi *api)
{
  gvd_api_add_routes (api, "/v1/plans", GVD_API_ROUTE_DEFAULT, plan_routes, plans);
  gvd_api_add_routes (api, "/v1/devices/available", GVD_API_ROUTE_DEFAULT, available_routes,
                      available);
}
