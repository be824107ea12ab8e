/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The "vgpu" member of POST /v1/instances: mediated devices to create. */
#include "config.h"

#include "instance-request.h"

#include <string.h>

#include "device-ref.h"
#include "errors.h"

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

static gboolean
is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
printable (const char *s)
{
  for (const char *p = s; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return TRUE;
}

/* One {"type", "count", "parent"} object; @field names it ("vgpu" or "vgpu[2]"). */
static gboolean
parse_entry (JsonNode *node, const char *field, GPtrArray *out, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;
  const char *type = NULL;
  const char *parent = NULL;
  gint64 count = 1;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'%s' must be an object {\"type\": ..., \"count\": N, \"parent\": ...}",
                    field);
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);

      if (g_str_equal (m, "type"))
        {
          if (!is_string (v))
            return INVALID (error, "'%s.type' must be a string", field);
          type = json_node_get_string (v);
          if (!gvd_vgpu_type_is_valid (type))
            return INVALID (error, "'%s.type' must be an mdev type id such as nvidia-63 "
                                   "(letters, digits, '-', '_'; at most %d bytes)",
                            field, GVD_VGPU_TYPE_MAX);
        }
      else if (g_str_equal (m, "count"))
        {
          if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64)
            return INVALID (error, "'%s.count' must be a whole number", field);
          count = json_node_get_int (v);
          if (count < 1 || count > GVD_VGPU_MAX)
            return INVALID (error, "'%s.count' must be from 1 to %d, not %" G_GINT64_FORMAT,
                            field, GVD_VGPU_MAX, count);
        }
      else if (g_str_equal (m, "parent"))
        {
          if (!is_string (v))
            return INVALID (error, "'%s.parent' must be a string (a PCI address or a device name)",
                            field);
          parent = json_node_get_string (v);
          if (*parent == '\0' || strlen (parent) > GVD_DEVICE_REF_MAX || !printable (parent))
            return INVALID (error, "'%s.parent' must be a PCI address or a device name of 1 to "
                                   "%d printable bytes", field, GVD_DEVICE_REF_MAX);
        }
      else
        return INVALID (error, "unknown member '%s.%s' (type, count, parent)", field, m);
    }
  if (type == NULL)
    return INVALID (error, "'%s.type' is required (see vgpu_types in GET /v1/devices/available)",
                    field);
  if (out->len + count > GVD_VGPU_MAX)
    return INVALID (error, "'%s': at most %d vGPUs per instance", field, GVD_VGPU_MAX);
  for (gint64 i = 0; i < count; i++)
    {
      GvdVgpuRequest *r = gvd_vgpu_request_new (type, parent);

      r->field = g_strdup (field);
      g_ptr_array_add (out, r);
    }
  return TRUE;
}

gboolean
gvd_create_request_parse_vgpu (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_request_free);

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);

      if (n == 0)
        return INVALID (error, "'vgpu' is empty: leave it out for no vGPU");
      if (n > GVD_VGPU_MAX)
        return INVALID (error, "'vgpu' has %u entries; at most %d vGPUs per instance", n,
                        GVD_VGPU_MAX);
      for (guint i = 0; i < n; i++)
        {
          g_autofree char *field = g_strdup_printf ("vgpu[%u]", i);

          if (!parse_entry (json_array_get_element (array, i), field, out, error))
            return FALSE;
        }
    }
  else if (!parse_entry (node, "vgpu", out, error))
    return FALSE;
  g_clear_pointer (&req->vgpus, g_ptr_array_unref);
  req->vgpus = g_steal_pointer (&out);
  return TRUE;
}
