/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The create request's "ports": guest TCP ports gpuvmd forwards to ports it
 * allocates on the instance's own host loopback address (user-mode
 * networking). */
#include "config.h"

#include "instance-request.h"

#include "errors.h"

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

static gboolean
parse_entry (JsonNode *node, guint index, GArray *ports, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;
  gboolean have_guest = FALSE;
  guint guest = 0;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'ports[%u]' must be an object like {\"guest\": 22}", index);
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);

      if (g_str_equal (m, "guest"))
        {
          gint64 n;

          if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64)
            return INVALID (error, "'ports[%u].guest' must be a whole number", index);
          n = json_node_get_int (v);
          if (n < 1 || n > 65535)
            return INVALID (error, "'ports[%u].guest' must be a TCP port from 1 to 65535, not %"
                            G_GINT64_FORMAT, index, n);
          guest = (guint) n;
          have_guest = TRUE;
        }
      else if (g_str_equal (m, "proto"))
        {
          const char *proto = JSON_NODE_HOLDS_VALUE (v)
                                  && json_node_get_value_type (v) == G_TYPE_STRING
                                ? json_node_get_string (v) : NULL;
          if (g_strcmp0 (proto, "tcp") != 0)
            return INVALID (error, "'ports[%u].proto' must be \"tcp\"", index);
        }
      else
        return INVALID (error, "unknown member 'ports[%u].%s' (the host port is allocated by "
                        "gpuvmd from [network] forward_ports)", index, m);
    }
  if (!have_guest)
    return INVALID (error, "'ports[%u].guest' is required", index);
  for (guint i = 0; i < ports->len; i++)
    if (g_array_index (ports, guint, i) == guest)
      return INVALID (error, "'ports[%u].guest': port %u is already forwarded", index, guest);
  g_array_append_val (ports, guest);
  return TRUE;
}

gboolean
gvd_create_request_parse_ports (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  g_autoptr(GArray) ports = g_array_new (FALSE, FALSE, sizeof (guint));
  JsonArray *array;
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return INVALID (error, "'ports' must be an array like [{\"guest\": 22}]");
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n > GVD_MAX_PORTS)
    return INVALID (error, "'ports' may forward at most %d ports, not %u", GVD_MAX_PORTS, n);
  for (guint i = 0; i < n; i++)
    if (!parse_entry (json_array_get_element (array, i), i, ports, error))
      return FALSE;
  g_clear_pointer (&req->ports, g_array_unref);
  req->ports = g_steal_pointer (&ports);
  return TRUE;
}
