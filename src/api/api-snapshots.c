/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/instances/{name}/snapshots: disk snapshots (list, create, revert,
 * delete; create and delete live too). The work runs in the instance manager's
 * workers; the message is paused until it completes. */
#include "config.h"

#include "api.h"

#include "instance.h"

typedef struct {
  SoupServerMessage *msg;
  guint status;
} Pending;

static void
snapshot_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = g_task_propagate_pointer (G_TASK (res), &error);

  if (node == NULL)
    gvd_api_reply_error (p->msg, error);
  else if (p->status == SOUP_STATUS_NO_CONTENT)
    soup_server_message_set_status (p->msg, SOUP_STATUS_NO_CONTENT, NULL);
  else
    gvd_api_reply_json (p->msg, p->status, node);
  soup_server_message_unpause (p->msg);
  g_object_unref (p->msg);
  g_free (p);
}

static void
run (GvdApi *api, SoupServerMessage *msg, const char *name, GvdSnapshotOp op, const char *snap,
     gboolean discard_newer, guint status)
{
  Pending *p = g_new0 (Pending, 1);

  p->msg = g_object_ref (msg);
  p->status = status;
  soup_server_message_pause (msg);
  gvd_instance_manager_snapshot_async (gvd_api_get_daemon (api)->instances, name, op, snap,
                                       discard_newer, snapshot_done, p);
}

/* ?discard_newer=true|false (absent: false). */
static gboolean
read_discard_newer (GHashTable *query, gboolean *out, GError **error)
{
  const char *v = query != NULL ? g_hash_table_lookup (query, "discard_newer") : NULL;

  if (v == NULL || g_str_equal (v, "false") || g_str_equal (v, "0"))
    *out = FALSE;
  else if (g_str_equal (v, "true") || g_str_equal (v, "1"))
    *out = TRUE;
  else
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'discard_newer': '%s' is not true or false", v);
      return FALSE;
    }
  return TRUE;
}

static void
handle_create (GvdApi *api, SoupServerMessage *msg, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = gvd_api_read_object (msg, FALSE, &error);
  JsonNode *node;
  GList *members;

  if (body == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  members = json_object_get_members (body);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "name"))
      {
        gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT, "'%s': unknown field",
                              (char *) l->data);
        g_list_free (members);
        return;
      }
  g_list_free (members);
  node = json_object_get_member (body, "name");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT, "'name': a string is required");
      return;
    }
  run (api, msg, name, GVD_SNAPSHOT_CREATE, json_node_get_string (node), FALSE,
       SOUP_STATUS_CREATED);
}

void
gvd_api_snapshots_handle (GvdApi *api, SoupServerMessage *msg, char **seg, GHashTable *query)
{
  const char *method = soup_server_message_get_method (msg);
  guint n = g_strv_length (seg);
  g_autoptr(GError) error = NULL;
  gboolean discard_newer = FALSE;

  if (n == 2)
    {
      if (method == SOUP_METHOD_GET)
        run (api, msg, seg[0], GVD_SNAPSHOT_LIST, NULL, FALSE, SOUP_STATUS_OK);
      else if (method == SOUP_METHOD_POST)
        handle_create (api, msg, seg[0]);
      else
        gvd_api_reply_method_not_allowed (msg, "GET, POST");
      return;
    }
  if (n == 3)
    {
      if (method == SOUP_METHOD_DELETE)
        run (api, msg, seg[0], GVD_SNAPSHOT_DELETE, seg[2], FALSE, SOUP_STATUS_NO_CONTENT);
      else
        gvd_api_reply_method_not_allowed (msg, "DELETE");
      return;
    }
  if (!g_str_equal (seg[3], "revert"))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "unknown snapshot action '%s' (revert)",
                            seg[3]);
      return;
    }
  if (method != SOUP_METHOD_POST)
    {
      gvd_api_reply_method_not_allowed (msg, "POST");
      return;
    }
  if (!read_discard_newer (query, &discard_newer, &error))
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  {
    g_autoptr(JsonObject) body = gvd_api_read_object (msg, TRUE, &error);

    if (body == NULL)
      {
        gvd_api_reply_error (msg, error);
        return;
      }
    if (json_object_get_size (body) > 0)
      {
        gvd_api_reply_errorf (msg, GVD_ERROR_INVALID_ARGUMENT,
                              "a revert takes no body members (discard_newer is a query "
                              "parameter)");
        return;
      }
  }
  run (api, msg, seg[0], GVD_SNAPSHOT_REVERT, seg[2], discard_newer, SOUP_STATUS_OK);
}
