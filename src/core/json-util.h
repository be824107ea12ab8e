/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small JSON helpers: JsonBuilder shortcuts and the pre-parse nesting check. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Deepest array/object nesting any request body may have. json-glib's
 * parser recurses once per level without a limit, so bodies are checked
 * with gvd_json_check_depth() before it sees them. */
#define GVD_JSON_MAX_DEPTH 64

/* "member": "value", or "member": null when @value is NULL. */
void gvd_json_add_string (JsonBuilder *b, const char *member, const char *value);

/* One linear pass over @data that counts '[' and '{' outside strings
 * (string-aware: quotes and backslash escapes). GVD_ERROR_INVALID_JSON when
 * the nesting goes deeper than @max_depth or a bracket closes more levels
 * than were opened; anything else (including unterminated input) is left
 * to the parser. Never recurses, reads at most @len bytes. */
gboolean gvd_json_check_depth (const char *data, gsize len, guint max_depth, GError **error);

/* GVD_ERROR_INVALID_JSON when a string in @data holds the escape \u0000:
 * json-glib cuts the string there ("a\u0000b" reads as "a"), so a name
 * would silently become another. String-aware like the depth check. */
gboolean gvd_json_check_no_nul (const char *data, gsize len, GError **error);

G_END_DECLS
