/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/instances: list, create (with Idempotency-Key), get, delete,
 * lifecycle actions and QMP passthrough. Long work runs in the instance
 * manager's workers; the message is paused until it completes. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "instance.h"
#include "instance-request-disks.h"
#include "qmp-policy.h"

#define IDEMPOTENCY_KEY_MAX 128

GvdIdemCache *
gvd_api_instances_idempotency_new (void)
{
  return gvd_idem_cache_new (GVD_IDEM_CACHE_MAX_BYTES, GVD_IDEM_CACHE_MAX_ENTRIES,
                             GVD_IDEM_CACHE_MAX_ENTRY_BYTES, GVD_IDEM_CACHE_TTL_USEC);
}

typedef struct {
  GvdApi *api;
  SoupServerMessage *msg;
  char *name;
  char *idem_key;
  const char *op;  /* metrics: "create", "start"...; NULL: not counted */
  gint64 started;
} Pending;

static Pending *
pending_new (GvdApi *api, SoupServerMessage *msg, const char *name)
{
  Pending *p = g_new0 (Pending, 1);

  p->api = api;
  p->msg = g_object_ref (msg);
  p->name = g_strdup (name);
  p->started = g_get_monotonic_time ();
  soup_server_message_pause (msg);
  return p;
}

static void
pending_finish (Pending *p)
{
  soup_server_message_unpause (p->msg);
  g_object_unref (p->msg);
  g_free (p->name);
  g_free (p->idem_key);
  g_free (p);
}

static GvdInstanceManager *
manager (GvdApi *api)
{
  return gvd_api_get_daemon (api)->instances;
}

static void
reply_instance (GvdApi *api, SoupServerMessage *msg, const char *name, guint status)
{
  GvdInstance *inst = gvd_instance_manager_lookup (manager (api), name);
  g_autoptr(JsonBuilder) b = json_builder_new ();

  if (inst == NULL)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no instance named '%s'", name);
      return;
    }
  gvd_instance_write_json (manager (api), inst, b);
  gvd_api_reply_builder (msg, status, b);
}

/* ---- create --------------------------------------------------------------- */

static void
remember_response (GvdApi *api, const char *key, SoupServerMessage *msg)
{
  g_autoptr(GBytes) bytes = NULL;

  if (key == NULL)
    return;
  bytes = soup_message_body_flatten (soup_server_message_get_response_body (msg));
  gvd_idem_cache_finish (gvd_api_get_daemon (api)->idempotency, key,
                         soup_server_message_get_status (msg), g_bytes_get_data (bytes, NULL),
                         g_bytes_get_size (bytes), g_get_monotonic_time ());
}

static void
create_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) details = NULL;
  g_autoptr(JsonNode) node = gvd_instance_manager_create_finish (manager (p->api), res, &details,
                                                                 &error);

  gvd_api_metrics_observe_op (p->api, p->op, p->started, error);
  if (node == NULL)
    gvd_api_reply_error_details (p->msg, error, details);
  else
    {
      gboolean dry = JSON_NODE_HOLDS_OBJECT (node)
                     && json_object_has_member (json_node_get_object (node), "dry_run");
      gvd_api_reply_json (p->msg, dry ? SOUP_STATUS_OK : SOUP_STATUS_CREATED, node);
    }
  remember_response (p->api, p->idem_key, p->msg);
  pending_finish (p);
}

/* TRUE when the request was answered from (or blocked by) the cache. */
static gboolean
idempotency_check (GvdApi *api, SoupServerMessage *msg, const char *key)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autofree char *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) body->data,
                                                      body->length);
  guint status = 0;
  const char *response = NULL;
  gsize len = 0;

  switch (gvd_idem_cache_begin (gvd_api_get_daemon (api)->idempotency, key, sum,
                                g_get_monotonic_time (), &status, &response, &len))
    {
    case GVD_IDEM_NEW:
      return FALSE;
    case GVD_IDEM_FULL:
      gvd_api_reply_errorf (msg, GVD_ERROR_CONFLICT,
                            "too many idempotency keys in flight; retry later");
      return TRUE;
    case GVD_IDEM_MISMATCH:
      gvd_api_reply_errorf (msg, GVD_ERROR_CONFLICT,
                            "Idempotency-Key '%s' was used with a different request body", key);
      return TRUE;
    case GVD_IDEM_IN_PROGRESS:
      gvd_api_reply_errorf (msg, GVD_ERROR_CONFLICT,
                            "a request with Idempotency-Key '%s' is still in progress", key);
      return TRUE;
    case GVD_IDEM_REPLAY:
    default:
      break;
    }
  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Idempotent-Replayed", "true");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, response, len);
  return TRUE;
}

static void
handle_create (GvdApi *api, SoupServerMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = gvd_api_read_object (msg, FALSE, &error);
  g_autoptr(GvdCreateRequest) req = NULL;
  const char *key = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                  "Idempotency-Key");
  Pending *p;

  if (body == NULL || (req = gvd_create_request_parse (body, &error)) == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  if (key != NULL)
    {
      if (*key == '\0' || strlen (key) > IDEMPOTENCY_KEY_MAX)
        {
          gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                                "Idempotency-Key must be 1 to %d characters", IDEMPOTENCY_KEY_MAX);
          return;
        }
      /* Dry runs change nothing, so replaying them buys nothing, and their
       * answers (domain XML, cloud-init) are big: never stored. */
      if (!req->dry_run && idempotency_check (api, msg, key))
        return;
    }
  p = pending_new (api, msg, req->name);
  p->idem_key = req->dry_run ? NULL : g_strdup (key);
  p->op = req->dry_run ? NULL : "create";
  gvd_instance_manager_create_async (manager (api), req, create_done, p);
}

/* ---- actions, delete, QMP ------------------------------------------------------ */

static void
action_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;

  if (!gvd_instance_manager_action_finish (manager (p->api), res, &error))
    gvd_api_reply_error (p->msg, error);
  else
    reply_instance (p->api, p->msg, p->name, SOUP_STATUS_OK);
  gvd_api_metrics_observe_op (p->api, p->op, p->started, error);
  pending_finish (p);
}

static void
delete_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;

  if (!gvd_instance_manager_delete_finish (manager (p->api), res, &error))
    gvd_api_reply_error (p->msg, error);
  else
    soup_server_message_set_status (p->msg, SOUP_STATUS_NO_CONTENT, NULL);
  gvd_api_metrics_observe_op (p->api, p->op, p->started, error);
  pending_finish (p);
}

static void
qmp_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = gvd_instance_manager_qmp_finish (manager (p->api), res, &error);
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (reply == NULL)
    gvd_api_reply_error (p->msg, error);
  else if (!json_parser_load_from_data (parser, reply, -1, NULL))
    gvd_api_reply_errorf (p->msg, GVD_ERROR_LIBVIRT, "QEMU answered with something that is not JSON");
  else
    gvd_api_reply_json (p->msg, SOUP_STATUS_OK, json_parser_get_root (parser));
  pending_finish (p);
}

static void
handle_action (GvdApi *api, SoupServerMessage *msg, const char *name, GvdInstanceAction action)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = gvd_api_read_object (msg, TRUE, &error);
  guint timeout = 0;
  Pending *p;

  if (body == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  {
    g_autoptr(GList) members = json_object_get_members (body);
    for (GList *l = members; l != NULL; l = l->next)
      {
        JsonNode *n = json_object_get_member (body, l->data);
        if (action == GVD_ACTION_SHUTDOWN && g_str_equal (l->data, "timeout_seconds")
            && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
            && json_node_get_int (n) >= 1 && json_node_get_int (n) <= 3600)
          timeout = json_node_get_int (n);
        else if (action == GVD_ACTION_SHUTDOWN && g_str_equal (l->data, "timeout_seconds"))
          {
            gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                                  "'timeout_seconds' must be a whole number from 1 to 3600");
            return;
          }
        else
          {
            gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT, "unknown member '%s'",
                                  (char *) l->data);
            return;
          }
      }
  }
  p = pending_new (api, msg, name);
  p->op = gvd_instance_action_to_string (action);
  gvd_instance_manager_action_async (manager (api), name, action, timeout, action_done, p);
}

static void
handle_qmp (GvdApi *api, SoupServerMessage *msg, const char *name)
{
  GvdDaemon *d = gvd_api_get_daemon (api);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = gvd_api_read_object (msg, FALSE, &error);
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GList) members = NULL;
  g_autofree char *command = NULL;
  JsonNode *execute, *arguments;

  if (body == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  execute = json_object_get_member (body, "execute");
  arguments = json_object_get_member (body, "arguments");
  if (execute == NULL || !JSON_NODE_HOLDS_VALUE (execute)
      || json_node_get_value_type (execute) != G_TYPE_STRING
      || (arguments != NULL && !JSON_NODE_HOLDS_OBJECT (arguments)))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                            "a QMP command is an object with a string 'execute' (and optional "
                            "object 'arguments')");
      return;
    }
  /* Only these two members reach QEMU: no exec-oob or id smuggled past the
   * allow-list. */
  members = json_object_get_members (body);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "execute") && !g_str_equal (l->data, "arguments"))
      {
        gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                              "unknown member '%s' (a QMP command has 'execute' and "
                              "'arguments')", (char *) l->data);
        return;
      }
  if (!gvd_qmp_policy_check (json_node_get_string (execute),
                             (const char *const *) d->config->qmp_allow, &error))
    {
      g_message ("instance %s: QMP command '%s' refused", name, json_node_get_string (execute));
      gvd_api_reply_error (msg, error);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "execute");
  json_builder_add_string_value (b, json_node_get_string (execute));
  if (arguments != NULL)
    {
      json_builder_set_member_name (b, "arguments");
      json_builder_add_value (b, json_node_copy (arguments));
    }
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  command = json_to_string (node, FALSE);
  gvd_instance_manager_qmp_async (manager (api), name, command, qmp_done,
                                  pending_new (api, msg, name));
}

static void
resize_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = gvd_instance_manager_resize_finish (manager (p->api), res, &error);

  if (node == NULL)
    gvd_api_reply_error (p->msg, error);
  else
    gvd_api_reply_json (p->msg, SOUP_STATUS_OK, node);
  pending_finish (p);
}

/* {"root_disk_gib": N, "disks": {"NAME": N}}: grow a stopped instance's disks. */
static void
handle_resize (GvdApi *api, SoupServerMessage *msg, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = gvd_api_read_object (msg, FALSE, &error);
  g_autoptr(GHashTable) disks = NULL;
  guint64 root_gib = 0;
  Pending *p;

  if (body == NULL || !gvd_resize_request_parse (body, &root_gib, &disks, &error))
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  p = pending_new (api, msg, name);
  gvd_instance_manager_resize_async (manager (api), name, root_gib, disks, resize_done, p);
}

/* ---- routing --------------------------------------------------------------------- */

static void
instances (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  const char *method = soup_server_message_get_method (msg);
  g_auto(GStrv) seg = gvd_api_path_segments (path, "/v1/instances");
  guint n = seg != NULL ? g_strv_length (seg) : 0;
  GvdInstanceAction action;

  if (seg != NULL && n >= 2 && n <= 4 && g_str_equal (seg[1], "snapshots")
      && gvd_instance_name_valid (seg[0]))
    {
      gvd_api_snapshots_handle (api, msg, seg, query);
      return;
    }
  if (seg != NULL && (n == 2 || n == 3) && g_str_equal (seg[1], "gpus")
      && gvd_instance_name_valid (seg[0]))
    {
      gvd_api_gpus_handle (api, msg, seg);
      return;
    }
  if (seg != NULL && (n == 2 || n == 3)
      && (g_str_equal (seg[1], "disks") || g_str_equal (seg[1], "networks"))
      && gvd_instance_name_valid (seg[0]))
    {
      gvd_api_hotplug_handle (api, msg, seg, query);
      return;
    }
  if (seg == NULL || n > 2)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (n == 0)
    {
      if (method == SOUP_METHOD_GET)
        {
          g_autoptr(JsonBuilder) b = json_builder_new ();
          g_autoptr(GPtrArray) list = gvd_instance_manager_list (manager (api));

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "instances");
          json_builder_begin_array (b);
          for (guint i = 0; i < list->len; i++)
            gvd_instance_write_json (manager (api), g_ptr_array_index (list, i), b);
          json_builder_end_array (b);
          json_builder_end_object (b);
          gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
        }
      else if (method == SOUP_METHOD_POST)
        handle_create (api, msg);
      else
        gvd_api_reply_method_not_allowed (msg, "GET, POST");
      return;
    }
  if (!gvd_instance_name_valid (seg[0]))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no instance named '%s'", seg[0]);
      return;
    }
  if (n == 1)
    {
      if (method == SOUP_METHOD_GET)
        reply_instance (api, msg, seg[0], SOUP_STATUS_OK);
      else if (method == SOUP_METHOD_DELETE)
        {
          Pending *p = pending_new (api, msg, seg[0]);

          p->op = "delete";
          gvd_instance_manager_delete_async (manager (api), seg[0], delete_done, p);
        }
      else
        gvd_api_reply_method_not_allowed (msg, "GET, DELETE");
      return;
    }
  if (g_str_equal (seg[1], "console"))
    {
      gvd_api_console_handle (api, msg, seg[0], query);
      return;
    }
  if (method != SOUP_METHOD_POST)
    {
      gvd_api_reply_method_not_allowed (msg, "POST");
      return;
    }
  if (g_str_equal (seg[1], "qmp"))
    handle_qmp (api, msg, seg[0]);
  else if (g_str_equal (seg[1], "resize"))
    handle_resize (api, msg, seg[0]);
  else if (gvd_instance_action_from_string (seg[1], &action))
    handle_action (api, msg, seg[0], action);
  else
    gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND,
                          "unknown action '%s' (start, shutdown, stop, reboot, reset, qmp, resize, "
                          "console)", seg[1]);
}

static const GvdApiRoute routes[] = {
  { "GET", "/v1/instances" },
  { "POST", "/v1/instances" },
  { "GET", "/v1/instances/{name}" },
  { "DELETE", "/v1/instances/{name}" },
  { "POST", "/v1/instances/{name}/start" },
  { "POST", "/v1/instances/{name}/shutdown" },
  { "POST", "/v1/instances/{name}/stop" },
  { "POST", "/v1/instances/{name}/reboot" },
  { "POST", "/v1/instances/{name}/reset" },
  { "POST", "/v1/instances/{name}/qmp" },
  { "POST", "/v1/instances/{name}/resize" },
  { "POST", "/v1/instances/{name}/disks" },
  { "DELETE", "/v1/instances/{name}/disks/{target}" },
  { "POST", "/v1/instances/{name}/networks" },
  { "DELETE", "/v1/instances/{name}/networks/{mac}" },
  { "GET", "/v1/instances/{name}/console" },
  { "POST", "/v1/instances/{name}/gpus" },
  { "DELETE", "/v1/instances/{name}/gpus/{address}" },
  { "GET", "/v1/instances/{name}/snapshots" },
  { "POST", "/v1/instances/{name}/snapshots" },
  { "DELETE", "/v1/instances/{name}/snapshots/{snapshot}" },
  { "POST", "/v1/instances/{name}/snapshots/{snapshot}/revert" },
  { NULL, NULL },
};

void
gvd_api_instances_register (GvdApi *api)
{
  gvd_api_add_routes (api, "/v1/instances", GVD_API_ROUTE_DEFAULT, routes, instances);
}
