/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Readers for the members of a request body: each checks the JSON type and
 * the bounds, and fails with GVD_ERROR_INVALID_ARGUMENT naming @field (the
 * member's path, e.g. "disks[2].size_gib"). Pure. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* "null", "an object", "an array", "a string", "a boolean" or "a number". */
const char *gvd_json_type_name (JsonNode *node);

/* A string of at most @max bytes without control characters (C0, DEL);
 * empty only when @allow_empty. Replaces *@out. */
gboolean gvd_json_field_string (JsonNode *node, const char *field, gsize max,
                                gboolean allow_empty, char **out, GError **error);
/* A whole number from @min to @max. */
gboolean gvd_json_field_uint (JsonNode *node, const char *field, guint64 min, guint64 max,
                              guint64 *out, GError **error);
gboolean gvd_json_field_bool (JsonNode *node, const char *field, gboolean *out, GError **error);

G_END_DECLS
