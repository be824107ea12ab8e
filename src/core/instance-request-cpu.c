/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The create request's "cpu" member: {"policy": "shared"|"dedicated",
 * "threads_per_core": N, "sockets": N}. The guest topology is sockets x
 * (vcpus / sockets / threads_per_core) cores x threads_per_core; dedicated
 * pins every vCPU to a host CPU of its own (instance-cpu.c allocates). */
#include "config.h"

#include "instance-request.h"

#include "errors.h"

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

static gboolean
get_count (JsonNode *node, const char *field, guint max, guint *out, GError **error)
{
  gint64 v;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return INVALID (error, "'%s' must be a whole number", field);
  v = json_node_get_int (node);
  if (v < 1 || v > max)
    return INVALID (error, "'%s' must be from 1 to %u, not %" G_GINT64_FORMAT, field, max, v);
  *out = (guint) v;
  return TRUE;
}

gboolean
gvd_create_request_parse_cpu (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'cpu' must be an object {\"policy\", \"threads_per_core\", \"sockets\"}");
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *n = json_object_get_member (obj, m);

      if (g_str_equal (m, "policy"))
        {
          const char *policy = JSON_NODE_HOLDS_VALUE (n)
                                   && json_node_get_value_type (n) == G_TYPE_STRING
                                 ? json_node_get_string (n) : NULL;

          if (g_strcmp0 (policy, "dedicated") == 0)
            req->cpu_dedicated = TRUE;
          else if (g_strcmp0 (policy, "shared") == 0)
            req->cpu_dedicated = FALSE;
          else
            return INVALID (error, "'cpu.policy' must be \"shared\" or \"dedicated\"");
        }
      else if (g_str_equal (m, "threads_per_core"))
        {
          if (!get_count (n, "cpu.threads_per_core", GVD_MAX_THREADS_PER_CORE,
                          &req->cpu_threads_per_core, error))
            return FALSE;
        }
      else if (g_str_equal (m, "sockets"))
        {
          if (!get_count (n, "cpu.sockets", GVD_MAX_SOCKETS, &req->cpu_sockets, error))
            return FALSE;
        }
      else
        return INVALID (error, "unknown member 'cpu.%s'", m);
    }
  return TRUE;
}

gboolean
gvd_create_request_check_cpu (const GvdCreateRequest *req, GError **error)
{
  guint t = MAX (req->cpu_threads_per_core, 1), s = MAX (req->cpu_sockets, 1);

  if (req->vcpus % t != 0)
    return INVALID (error, "'cpu.threads_per_core': %u does not divide 'vcpus' (%u)", t,
                    req->vcpus);
  if (req->vcpus % s != 0)
    return INVALID (error, "'cpu.sockets': %u does not divide 'vcpus' (%u)", s, req->vcpus);
  if ((req->vcpus / s) % t != 0)
    return INVALID (error, "'cpu.sockets': %u sockets of %u-thread cores cannot hold %u vCPUs",
                    s, t, req->vcpus);
  return TRUE;
}
