/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/reservations: hold planned devices and a MAC/IP for a while, for a
 * later instance create to consume. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "device-ref.h"
#include "hostinfo.h"
#include "reservations.h"
#include "vfio-plan.h"

#define PREFIX "/v1/reservations"

static void
reply_reservation (GvdReservations *set, SoupServerMessage *msg, guint status,
                   const GvdReservation *r)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  gvd_reservation_to_json (r, gvd_reservations_now (set), b);
  gvd_api_reply_builder (msg, status, b);
}

static GvdPlanRequest *
parse_request (GvdDaemon *d, JsonObject *obj, guint *out_ttl, GError **error)
{
  static const char *const members[] = { "devices", "gpus", "ttl_seconds", NULL };
  g_autoptr(GvdPlanRequest) req = gvd_plan_request_new ();
  g_autoptr(GList) names = json_object_get_members (obj);
  JsonNode *devices = json_object_get_member (obj, "devices");
  JsonNode *gpus = json_object_get_member (obj, "gpus");
  JsonNode *ttl = json_object_get_member (obj, "ttl_seconds");
  gint64 n;

  for (GList *l = names; l != NULL; l = l->next)
    {
      if (!g_strv_contains (members, l->data))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "unknown field \"%s\" (allowed: devices, gpus, ttl_seconds)",
                       (const char *) l->data);
          return NULL;
        }
    }
  if ((devices == NULL) == (gpus == NULL))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "give exactly one of \"devices\" and \"gpus\"");
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
      if (!JSON_NODE_HOLDS_VALUE (gpus) || json_node_get_value_type (gpus) != G_TYPE_INT64
          || (n = json_node_get_int (gpus)) < 1 || n > GVD_PLAN_MAX_GPUS)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "\"gpus\" must be a whole number from 1 to %d", GVD_PLAN_MAX_GPUS);
          return NULL;
        }
      req->gpus = (guint) n;
    }

  *out_ttl = GVD_RESERVATION_TTL_DEFAULT;
  if (ttl != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (ttl) || json_node_get_value_type (ttl) != G_TYPE_INT64
          || (n = json_node_get_int (ttl)) < 1 || n > GVD_RESERVATION_TTL_MAX)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "\"ttl_seconds\" must be a whole number from 1 to %d",
                       GVD_RESERVATION_TTL_MAX);
          return NULL;
        }
      *out_ttl = (guint) n;
    }
  return g_steal_pointer (&req);
}

static void
create_reservation (GvdDaemon *d, SoupServerMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(GvdPlanRequest) req = NULL;
  g_autoptr(GvdPlanRefusal) refusal = NULL;
  g_autoptr(GvdPlan) plan = NULL;
  g_autoptr(GStrvBuilder) devices = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) gpus = g_strv_builder_new ();
  g_auto(GStrv) device_list = NULL;
  g_auto(GStrv) gpu_list = NULL;
  const GvdReservation *r;
  guint ttl = 0;

  if ((body = gvd_api_read_object (msg, FALSE, &error)) == NULL
      || (req = parse_request (d, body, &ttl, &error)) == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  /* Fail closed: until claims are rebuilt any device may be in use. */
  if (!gvd_claims_is_ready (d->claims))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_READY,
                            "device claims are still being rebuilt from libvirt; try again");
      return;
    }
  plan = gvd_vfio_plan_compute (d->inventory, req, gvd_claims_get_holders (d->claims),
                                gvd_claims_get_quarantined (d->claims), &refusal, &error);
  if (plan == NULL)
    {
      g_autoptr(JsonNode) details = refusal != NULL ? gvd_plan_refusal_to_json (refusal) : NULL;
      gvd_api_reply_error_details (msg, error, details);
      return;
    }
  /* Everything the instance would get is held: requested devices, their
   * companions and group peers. */
  for (guint i = 0; i < plan->hostdevs->len; i++)
    g_strv_builder_add (devices, ((GvdPlanHostdev *) plan->hostdevs->pdata[i])->address);
  for (guint i = 0; i < plan->gpus->len; i++)
    g_strv_builder_add (gpus, plan->gpus->pdata[i]);
  device_list = g_strv_builder_end (devices);
  gpu_list = g_strv_builder_end (gpus);
  r = gvd_reservations_add (d->reservations, (const char *const *) device_list,
                            (const char *const *) gpu_list, ttl, &error);
  if (r == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  g_message ("reservation %s: %u device(s) for %u s", r->id, r->devices->len, ttl);
  {
    g_autofree char *location = g_strdup_printf (PREFIX "/%s", r->id);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location",
                                  location);
  }
  reply_reservation (d->reservations, msg, SOUP_STATUS_CREATED, r);
}

static void
list_reservations (GvdReservations *set, SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GPtrArray) list = gvd_reservations_list (set);
  gint64 now = gvd_reservations_now (set);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "reservations");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    gvd_reservation_to_json (list->pdata[i], now, b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
}

static void
reservations_handler (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdDaemon *d = gvd_api_get_daemon (api);
  const char *method = soup_server_message_get_method (msg);
  g_auto(GStrv) segments = gvd_api_path_segments (path, PREFIX);
  guint n = segments != NULL ? g_strv_length (segments) : G_MAXUINT;
  g_autoptr(GError) error = NULL;

  if (n > 1)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (n == 0)
    {
      if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
        list_reservations (d->reservations, msg);
      else if (method == SOUP_METHOD_POST)
        create_reservation (d, msg);
      else
        gvd_api_reply_method_not_allowed (msg, "GET, HEAD, POST");
      return;
    }

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    {
      const GvdReservation *r = gvd_reservations_lookup (d->reservations, segments[0]);

      if (r == NULL)
        gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no reservation '%s'", segments[0]);
      else
        reply_reservation (d->reservations, msg, SOUP_STATUS_OK, r);
    }
  else if (method == SOUP_METHOD_DELETE)
    {
      if (!gvd_reservations_cancel (d->reservations, segments[0], &error))
        {
          gvd_api_reply_error (msg, error);
          return;
        }
      g_message ("reservation %s deleted", segments[0]);
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
    }
  else
    gvd_api_reply_method_not_allowed (msg, "GET, HEAD, DELETE");
}

static const GvdApiRoute routes[] = {
  { "GET", PREFIX },
  { "HEAD", PREFIX },
  { "POST", PREFIX },
  { "GET", PREFIX "/{id}" },
  { "HEAD", PREFIX "/{id}" },
  { "DELETE", PREFIX "/{id}" },
  { NULL, NULL },
};

void
gvd_api_reservations_register (GvdApi *api)
{
  gvd_api_add_routes (api, PREFIX, GVD_API_ROUTE_DEFAULT, routes, reservations_handler);
}
