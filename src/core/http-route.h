/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request path → route template and method → label, for metrics labels that
 * never carry user-chosen names (pure). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The route template of @path: "/v1/instances/{name}/start" for
 * "/v1/instances/web/start". A path no route serves is "other", so the set
 * of answers is fixed whatever clients send. Static string. */
const char *gvd_http_route_template (const char *path);

/* @method when it is one the API knows (GET, HEAD, POST, PUT, PATCH,
 * DELETE, OPTIONS), else "other". Static string. */
const char *gvd_http_method_label (const char *method);

/* "1xx" .. "5xx" for @status 100..599, else "other". Static string. */
const char *gvd_http_status_class (guint status);

G_END_DECLS
