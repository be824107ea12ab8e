/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /healthz: is the daemon up, and is libvirt connected. */
#include "config.h"

#include "api.h"

static void
add_version (JsonBuilder *b, const char *member, unsigned long version)
{
  g_autofree char *s = version != 0 ? gvd_virt_format_version (version) : NULL;

  json_builder_set_member_name (b, member);
  if (s != NULL)
    json_builder_add_string_value (b, s);
  else
    json_builder_add_null_value (b);
}

static void
healthz (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdDaemon *d = gvd_api_get_daemon (api);
  GvdVirtState state = gvd_virt_conn_get_state (d->virt);
  gboolean connected = state == GVD_VIRT_CONNECTED;
  const char *last_error = gvd_virt_conn_get_last_error (d->virt);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const char *method = soup_server_message_get_method (msg);

  if (!g_str_equal (path, "/healthz"))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      gvd_api_reply_method_not_allowed (msg, "GET, HEAD");
      return;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, connected ? "ok" : "degraded");
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, PACKAGE_VERSION);
  json_builder_set_member_name (b, "uptime_seconds");
  json_builder_add_int_value (b, (g_get_monotonic_time () - d->started_at) / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "libvirt");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, gvd_virt_state_to_string (state));
  json_builder_set_member_name (b, "connected");
  json_builder_add_boolean_value (b, connected);
  json_builder_set_member_name (b, "uri");
  json_builder_add_string_value (b, gvd_virt_conn_get_uri (d->virt));
  add_version (b, "library_version", gvd_virt_conn_get_lib_version (d->virt));
  json_builder_set_member_name (b, "hypervisor");
  if (gvd_virt_conn_get_hv_type (d->virt) != NULL)
    json_builder_add_string_value (b, gvd_virt_conn_get_hv_type (d->virt));
  else
    json_builder_add_null_value (b);
  add_version (b, "hypervisor_version", gvd_virt_conn_get_hv_version (d->virt));
  json_builder_set_member_name (b, "reconnects");
  json_builder_add_int_value (b, gvd_virt_conn_get_reconnects (d->virt));
  json_builder_set_member_name (b, "last_error");
  if (last_error != NULL)
    json_builder_add_string_value (b, last_error);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_end_object (b);

  /* Degraded is still an answer: the daemon is alive and says why. */
  gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
}

static const GvdApiRoute routes[] = {
  { "GET", "/healthz" },
  { "HEAD", "/healthz" },
  { NULL, NULL },
};

void
gvd_api_health_register (GvdApi *api)
{
  gvd_api_add_routes (api, "/healthz", GVD_API_ROUTE_PUBLIC, routes, healthz);
}
