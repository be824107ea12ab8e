/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/devices: the named-device registry over HTTP (list, register, show,
 * unregister, clear a quarantine). /v1/devices/available is the planner's. */
#include "config.h"

#include "api.h"
#include "json-util.h"

#include "events.h"
#include "hostinfo.h"
#include "registry.h"
#include "registry-file.h"

#define PREFIX "/v1/devices"

/* GET /v1/devices/available belongs to api-plans.c: no device may take the
 * name, or it could never be shown by name. */
static const char *const reserved_names[] = { "available", NULL };

static char *
registry_path (GvdDaemon *d)
{
  return g_build_filename (d->config->state_dir, GVD_REGISTRY_FILE_NAME, NULL);
}

static const char *
holder_of (GvdDaemon *d, const char *address)
{
  return gvd_claims_get_holder (d->claims, address);
}

static const char *
quarantine_of (GvdDaemon *d, const char *address)
{
  return gvd_claims_get_quarantine (d->claims, address);
}

/* One device: registry entry (or just an address), holder, quarantine,
 * and the inventory's view of it. */
static void
device_to_json (GvdDaemon *d, const char *name, const char *address, JsonBuilder *b)
{
  const char *holder = holder_of (d, address);
  const char *reason = quarantine_of (d, address);
  const GvdPciDevice *dev = gvd_inventory_lookup (d->inventory, address);
  const char *state;

  if (reason != NULL)
    state = "quarantined";
  else if (!gvd_claims_is_ready (d->claims))
    state = "unknown"; /* claims not rebuilt from libvirt yet */
  else if (holder != NULL)
    state = "in_use";
  else
    state = "free";

  json_builder_begin_object (b);
  gvd_json_add_string (b, "name", name);
  gvd_json_add_string (b, "pci_address", address);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, state);
  gvd_json_add_string (b, "holder", holder);
  gvd_json_add_string (b, "quarantine_reason", reason);
  json_builder_set_member_name (b, "inventory");
  if (dev != NULL)
    gvd_hostinfo_device_to_json (dev, b);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

static void
reply_device (GvdDaemon *d, SoupServerMessage *msg, guint status, const char *name,
              const char *address)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  device_to_json (d, name, address, b);
  gvd_api_reply_builder (msg, status, b);
}

static void
list_devices (GvdDaemon *d, SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GPtrArray) list = gvd_registry_list (d->registry);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    {
      const GvdRegistryEntry *entry = list->pdata[i];
      device_to_json (d, entry->name, entry->address, b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
}

static gboolean
save_registry (GvdDaemon *d, GError **error)
{
  g_autofree char *path = registry_path (d);

  return gvd_registry_save_file (d->registry, path, error);
}

/* A required string member of the request body. */
static const char *
require_string (JsonObject *obj, const char *member, GError **error)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "\"%s\" is required", member);
      return NULL;
    }
  if (JSON_NODE_TYPE (node) != JSON_NODE_VALUE || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "\"%s\" must be a string",
                   member);
      return NULL;
    }
  return json_node_get_string (node);
}

static gboolean
check_candidate (GvdDaemon *d, const char *address, GError **error)
{
  const GvdPciDevice *dev;

  dev = gvd_inventory_lookup (d->inventory, address);
  if (dev == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND, "the host has no PCI device %s",
                   address);
      return FALSE;
    }
  if (dev->host_critical != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_HOST_CRITICAL,
                   "PCI device %s cannot be given away: %s", address, dev->host_critical);
      return FALSE;
    }
  if (!dev->passthrough_candidate)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE,
                   "PCI device %s (class %06x) is not a passthrough candidate: only GPUs and "
                   "devices listed in [host] passthrough_devices are", address, dev->class_code);
      return FALSE;
    }
  return TRUE;
}

static void
register_device (GvdDaemon *d, SoupServerMessage *msg)
{
  static const char *const members[] = { "name", "pci_address", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) obj = gvd_api_read_object (msg, FALSE, &error);
  g_autoptr(GList) names = NULL;
  g_autofree char *address = NULL;
  const char *name, *raw_address;

  if (obj == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  names = json_object_get_members (obj);
  for (GList *l = names; l != NULL; l = l->next)
    {
      if (!g_strv_contains (members, l->data))
        {
          gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                                "unknown field \"%s\" (allowed: name, pci_address)",
                                (const char *) l->data);
          return;
        }
    }
  if ((name = require_string (obj, "name", &error)) == NULL
      || (raw_address = require_string (obj, "pci_address", &error)) == NULL
      || !gvd_registry_validate_name (name, &error)
      || !gvd_registry_parse_address (raw_address, &address, &error))
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  if (g_strv_contains (reserved_names, name))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                            "the device name '%s' is reserved (GET " PREFIX "/%s is another "
                            "route)", name, name);
      return;
    }
  if (!check_candidate (d, address, &error) || !gvd_registry_add (d->registry, name, address, &error))
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  /* Persist before answering; a failed write leaves memory as it was. */
  if (!save_registry (d, &error))
    {
      gvd_registry_remove (d->registry, name, NULL);
      g_message ("device registry: registering %s as '%s' failed: %s", address, name,
                 error->message);
      gvd_api_reply_error (msg, error);
      return;
    }
  g_message ("device registry: registered %s as '%s'", address, name);
  {
    g_autofree char *location = g_strdup_printf (PREFIX "/%s", name);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location",
                                  location);
  }
  reply_device (d, msg, SOUP_STATUS_CREATED, name, address);
}

static void
unregister_device (GvdDaemon *d, SoupServerMessage *msg, const char *id)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *address = NULL;
  const GvdRegistryEntry *entry;
  const char *holder;

  /* Fail closed: until claims are rebuilt, any device may be in use. */
  if (!gvd_claims_is_ready (d->claims))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_READY,
                            "device claims are still being rebuilt from libvirt; try again");
      return;
    }
  entry = gvd_registry_find (d->registry, id);
  if (entry == NULL)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_DEVICE_NOT_FOUND, "no registered device named or at '%s'",
                            id);
      return;
    }
  name = g_strdup (entry->name);
  address = g_strdup (entry->address);
  holder = holder_of (d, address);
  if (holder != NULL)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_DEVICE_IN_USE, "device '%s' (%s) is in use by %s",
                            name, address, holder);
      return;
    }
  gvd_registry_remove (d->registry, name, NULL);
  if (!save_registry (d, &error))
    {
      /* Cannot fail: the name and address were registered a moment ago. */
      gvd_registry_add (d->registry, name, address, NULL);
      g_message ("device registry: unregistering '%s' failed: %s", name, error->message);
      gvd_api_reply_error (msg, error);
      return;
    }
  g_message ("device registry: unregistered '%s' (%s)", name, address);
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

static void
clear_device (GvdDaemon *d, SoupServerMessage *msg, const char *id)
{
  const GvdRegistryEntry *entry = gvd_registry_find (d->registry, id);
  g_autofree char *address = NULL;
  g_autofree char *reason = NULL;

  /* A quarantined device need not be registered: accept a bare address. */
  if (entry != NULL)
    address = g_strdup (entry->address);
  else if (!gvd_registry_parse_address (id, &address, NULL))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_DEVICE_NOT_FOUND, "no registered device named '%s'",
                            id);
      return;
    }
  if (quarantine_of (d, address) == NULL)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_STATE, "device %s is not quarantined",
                            address);
      return;
    }
  reason = g_strdup (quarantine_of (d, address));
  gvd_claims_clear_quarantine (d->claims, address);
  g_message ("device %s: quarantine cleared (was: %s)", address, reason);
  gvd_events_emit_device (d->events, "device.cleared", address, reason);
  reply_device (d, msg, SOUP_STATUS_OK, entry != NULL ? entry->name : NULL, address);
}

static void
devices_handler (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdDaemon *d = gvd_api_get_daemon (api);
  const char *method = soup_server_message_get_method (msg);
  g_auto(GStrv) segments = gvd_api_path_segments (path, PREFIX);
  guint n = segments != NULL ? g_strv_length (segments) : G_MAXUINT;

  if (n > 2 || (n == 2 && !g_str_equal (segments[1], "clear")))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }

  if (n == 0)
    {
      if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
        list_devices (d, msg);
      else if (method == SOUP_METHOD_POST)
        register_device (d, msg);
      else
        gvd_api_reply_method_not_allowed (msg, "GET, HEAD, POST");
      return;
    }
  if (n == 2)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) body = NULL;

      if (method != SOUP_METHOD_POST)
        gvd_api_reply_method_not_allowed (msg, "POST");
      /* Like every POST: JSON only (no cross-site form posts), no members. */
      else if ((body = gvd_api_read_object (msg, TRUE, &error)) == NULL)
        gvd_api_reply_error (msg, error);
      else if (json_object_get_size (body) > 0)
        gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                              "clear takes no members (send {} or nothing)");
      else
        clear_device (d, msg, segments[0]);
      return;
    }

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    {
      const GvdRegistryEntry *entry = gvd_registry_find (d->registry, segments[0]);

      if (entry == NULL)
        gvd_api_reply_errorf (msg, GVD_ERROR_DEVICE_NOT_FOUND,
                              "no registered device named or at '%s'", segments[0]);
      else
        reply_device (d, msg, SOUP_STATUS_OK, entry->name, entry->address);
    }
  else if (method == SOUP_METHOD_DELETE)
    unregister_device (d, msg, segments[0]);
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
  { "POST", PREFIX "/{id}/clear" },
  { NULL, NULL },
};

void
gvd_api_devices_register (GvdApi *api)
{
  gvd_api_add_routes (api, PREFIX, GVD_API_ROUTE_DEFAULT, routes, devices_handler);
}
