/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small JsonBuilder helpers every JSON writer uses. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* "member": "value", or "member": null when @value is NULL. */
void gvd_json_add_string (JsonBuilder *b, const char *member, const char *value);

G_END_DECLS
