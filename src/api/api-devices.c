/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/devices: the named-device registry over HTTP (list, register, show,
 * unregister, clear a quarantine). /v1/devices/available is the planner's. */
#include "config.h"

#include "api.h"
#include "json-util.h"

#include "events.h"
#include "fault-point.h"
#include "hostinfo.h"
#include "hostinfo-vgpu.h"
#include "pci-address.h"
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
  gvd_hostinfo_vgpu_members (d->host_root, dev, d->claims, b);
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

/* ---- registry writes ------------------------------------------------------- */

/* Writing the registry (write, fsync, rename, fsync of the directory) can
 * take long on a busy disk, so it runs in a worker while the request is
 * paused. One mutating request at a time is checked, written and then
 * applied to memory; the others wait in arrival order. So writes land in
 * order, every check sees every earlier change, the file always ends as
 * memory, and memory never shows a change that is not on disk. */
typedef enum {
  MUTATION_REGISTER,
  MUTATION_UNREGISTER,
} MutationKind;

typedef struct {
  GvdDaemon *daemon;
  SoupServerMessage *msg;
  MutationKind kind;
  char *id;          /* unregister: name or address from the path */
  /* decided by the check, applied after the write */
  char *name;
  char *address;
  char *path;
  char *data;
  gsize len;
} Mutation;

static void
mutation_free (Mutation *m)
{
  g_object_unref (m->msg);
  g_free (m->id);
  g_free (m->name);
  g_free (m->address);
  g_free (m->path);
  g_free (m->data);
  g_free (m);
}

/* The writer's state lives in the daemon (registry_waiting: the requests
 * waiting; registry_writing: the one being written); the main thread alone
 * touches both. */
static void next_mutation (GvdDaemon *d);

/* The registry's text with @m applied, memory left as it is. */
static void
serialize_with (Mutation *m)
{
  GvdRegistry *registry = m->daemon->registry;

  if (m->kind == MUTATION_REGISTER)
    {
      gvd_registry_add (registry, m->name, m->address, NULL);
      m->data = gvd_registry_serialize (registry, &m->len);
      gvd_registry_remove (registry, m->name, NULL);
    }
  else
    {
      gvd_registry_remove (registry, m->name, NULL);
      m->data = gvd_registry_serialize (registry, &m->len);
      gvd_registry_add (registry, m->name, m->address, NULL);
    }
}

/* Check a registration; TRUE with m->name and m->address set, else answered. */
static gboolean
check_register (Mutation *m)
{
  static const char *const members[] = { "name", "pci_address", NULL };
  GvdDaemon *d = m->daemon;
  SoupServerMessage *msg = m->msg;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) obj = gvd_api_read_object (msg, FALSE, &error);
  g_autoptr(GList) names = NULL;
  g_autofree char *address = NULL;
  const char *name, *raw_address;

  if (obj == NULL)
    {
      gvd_api_reply_error (msg, error);
      return FALSE;
    }
  names = json_object_get_members (obj);
  for (GList *l = names; l != NULL; l = l->next)
    {
      if (!g_strv_contains (members, l->data))
        {
          gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                                "unknown field \"%s\" (allowed: name, pci_address)",
                                (const char *) l->data);
          return FALSE;
        }
    }
  if ((name = require_string (obj, "name", &error)) == NULL
      || (raw_address = require_string (obj, "pci_address", &error)) == NULL
      || !gvd_registry_validate_name (name, &error)
      || (address = gvd_pci_address_normalize ("pci_address", raw_address, &error)) == NULL)
    {
      gvd_api_reply_error (msg, error);
      return FALSE;
    }
  if (g_strv_contains (reserved_names, name))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                            "the device name '%s' is reserved (GET " PREFIX "/%s is another "
                            "route)", name, name);
      return FALSE;
    }
  /* Added and taken out again: gvd_registry_add () is the duplicate check. */
  if (!check_candidate (d, address, &error) || !gvd_registry_add (d->registry, name, address, &error))
    {
      gvd_api_reply_error (msg, error);
      return FALSE;
    }
  gvd_registry_remove (d->registry, name, NULL);
  m->name = g_strdup (name);
  m->address = g_steal_pointer (&address);
  return TRUE;
}

/* Check an unregistration; TRUE with m->name and m->address set, else answered. */
static gboolean
check_unregister (Mutation *m)
{
  GvdDaemon *d = m->daemon;
  const GvdRegistryEntry *entry;
  const char *holder;

  /* Fail closed: until claims are rebuilt, any device may be in use. */
  if (!gvd_claims_is_ready (d->claims))
    {
      gvd_api_reply_errorf (m->msg, GVD_ERROR_NOT_READY,
                            "device claims are still being rebuilt from libvirt; try again");
      return FALSE;
    }
  entry = gvd_registry_find (d->registry, m->id);
  if (entry == NULL)
    {
      gvd_api_reply_errorf (m->msg, GVD_ERROR_DEVICE_NOT_FOUND,
                            "no registered device named or at '%s'", m->id);
      return FALSE;
    }
  holder = holder_of (d, entry->address);
  if (holder != NULL)
    {
      gvd_api_reply_errorf (m->msg, GVD_ERROR_DEVICE_IN_USE, "device '%s' (%s) is in use by %s",
                            entry->name, entry->address, holder);
      return FALSE;
    }
  m->name = g_strdup (entry->name);
  m->address = g_strdup (entry->address);
  return TRUE;
}

static void
write_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Mutation *m = task_data;
  GError *error = NULL;

  gvd_fault_point ("registry-write");
  if (!gvd_registry_file_write (m->path, m->data, m->len, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
write_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GvdDaemon *d = user_data;
  Mutation *m = g_steal_pointer (&d->registry_writing);
  g_autoptr(GError) error = NULL;

  /* A failed write leaves memory as it was. */
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      if (m->kind == MUTATION_REGISTER)
        g_message ("device registry: registering %s as '%s' failed: %s", m->address, m->name,
                   error->message);
      else
        g_message ("device registry: unregistering '%s' failed: %s", m->name, error->message);
      gvd_api_reply_error (m->msg, error);
    }
  else if (m->kind == MUTATION_REGISTER)
    {
      g_autofree char *location = g_strdup_printf (PREFIX "/%s", m->name);

      /* Cannot fail: no other change ran since the check. */
      gvd_registry_add (d->registry, m->name, m->address, NULL);
      g_message ("device registry: registered %s as '%s'", m->address, m->name);
      soup_message_headers_replace (soup_server_message_get_response_headers (m->msg), "Location",
                                    location);
      reply_device (d, m->msg, SOUP_STATUS_CREATED, m->name, m->address);
    }
  else
    {
      gvd_registry_remove (d->registry, m->name, NULL);
      g_message ("device registry: unregistered '%s' (%s)", m->name, m->address);
      soup_server_message_set_status (m->msg, SOUP_STATUS_NO_CONTENT, NULL);
    }
  soup_server_message_unpause (m->msg);
  mutation_free (m);
  next_mutation (d);
}

/* Start the next waiting mutation unless one is being written. */
static void
next_mutation (GvdDaemon *d)
{
  Mutation *m;

  while (d->registry_writing == NULL && (m = g_queue_pop_head (&d->registry_waiting)) != NULL)
    {
      g_autoptr(GTask) task = NULL;

      if (!(m->kind == MUTATION_REGISTER ? check_register (m) : check_unregister (m)))
        {
          soup_server_message_unpause (m->msg);
          mutation_free (m);
          continue;
        }
      serialize_with (m);
      m->path = registry_path (m->daemon);
      d->registry_writing = m;
      task = g_task_new (NULL, NULL, write_done, d);
      g_task_set_task_data (task, m, NULL);
      g_task_run_in_thread (task, write_thread);
    }
}

static void
mutate (GvdDaemon *d, SoupServerMessage *msg, MutationKind kind, const char *id)
{
  Mutation *m = g_new0 (Mutation, 1);

  m->daemon = d;
  m->msg = g_object_ref (msg);
  m->kind = kind;
  m->id = g_strdup (id);
  soup_server_message_pause (msg);
  g_queue_push_tail (&d->registry_waiting, m);
  next_mutation (d);
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
  else if ((address = gvd_pci_address_canonical (id)) == NULL)
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
        mutate (d, msg, MUTATION_REGISTER, NULL);
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
    mutate (d, msg, MUTATION_UNREGISTER, segments[0]);
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
