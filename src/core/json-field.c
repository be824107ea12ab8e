/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Readers for the members of a request body (json-field.h). */
#include "config.h"

#include "json-field.h"

#include <string.h>

#include "errors.h"

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

const char *
gvd_json_type_name (JsonNode *node)
{
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return "a string";
  if (json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return "a boolean";
  return "a number";
}

gboolean
gvd_json_field_string (JsonNode *node, const char *field, gsize max, gboolean allow_empty,
                       char **out, GError **error)
{
  const char *s;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return INVALID (error, "'%s' must be a string, not %s", field, gvd_json_type_name (node));
  s = json_node_get_string (node);
  if (*s == '\0' && !allow_empty)
    return INVALID (error, "'%s' is empty", field);
  if (strlen (s) > max)
    return INVALID (error, "'%s' is longer than %zu bytes", field, max);
  for (const char *p = s; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return INVALID (error, "'%s' contains a control character", field);
  g_free (*out);
  *out = g_strdup (s);
  return TRUE;
}

gboolean
gvd_json_field_uint (JsonNode *node, const char *field, guint64 min, guint64 max, guint64 *out,
                     GError **error)
{
  gint64 v;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return INVALID (error, "'%s' must be a whole number, not %s", field,
                    gvd_json_type_name (node));
  v = json_node_get_int (node);
  if (v < 0 || (guint64) v < min || (guint64) v > max)
    return INVALID (error, "'%s' must be from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                    ", not %" G_GINT64_FORMAT, field, min, max, v);
  *out = (guint64) v;
  return TRUE;
}

gboolean
gvd_json_field_bool (JsonNode *node, const char *field, gboolean *out, GError **error)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return INVALID (error, "'%s' must be true or false, not %s", field,
                    gvd_json_type_name (node));
  *out = json_node_get_boolean (node);
  return TRUE;
}
