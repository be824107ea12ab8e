/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GVD_ERROR domain: one code per API error code and HTTP status. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GVD_ERROR (gvd_error_quark ())
GQuark gvd_error_quark (void);

/* Keep in step with the table in errors.c: each code has exactly one API
 * name ("device_in_use") and one HTTP status. */
typedef enum {
  GVD_ERROR_INTERNAL = 0,
  GVD_ERROR_INVALID_ARGUMENT,
  GVD_ERROR_INVALID_JSON,
  GVD_ERROR_PAYLOAD_TOO_LARGE,
  GVD_ERROR_UNSUPPORTED_MEDIA_TYPE,
  GVD_ERROR_UNAUTHORIZED,
  GVD_ERROR_NOT_FOUND,
  GVD_ERROR_METHOD_NOT_ALLOWED,
  GVD_ERROR_ALREADY_EXISTS,
  GVD_ERROR_CONFLICT,
  GVD_ERROR_INVALID_STATE,
  GVD_ERROR_DEVICE_NOT_FOUND,
  GVD_ERROR_NOT_PASSTHROUGH_CAPABLE,
  GVD_ERROR_DEVICE_IN_USE,
  GVD_ERROR_DEVICE_BUSY,
  GVD_ERROR_DEVICE_QUARANTINED,
  GVD_ERROR_GROUP_CONFLICT,
  GVD_ERROR_HOST_CRITICAL,
  GVD_ERROR_WEAKENED_ISOLATION,
  GVD_ERROR_NO_IOMMU,
  GVD_ERROR_INSUFFICIENT_GPUS,
  GVD_ERROR_PLAN_REFUSED,
  GVD_ERROR_IMAGE_NOT_FOUND,
  GVD_ERROR_NOT_READY,
  GVD_ERROR_LIBVIRT,
  GVD_ERROR_LIBVIRT_UNAVAILABLE,
  GVD_ERROR_TIMEOUT,
  GVD_ERROR_IO,
  GVD_ERROR_INVALID_CONFIG,
  GVD_ERROR_FORBIDDEN,         /* authenticated, but not allowed (policy) */
  GVD_ERROR_TOO_MANY_REQUESTS, /* rate limit; answers carry Retry-After */
  GVD_ERROR_UNAVAILABLE,       /* a bounded resource is full (connections) */
  GVD_ERROR_LENGTH_REQUIRED,   /* a request body without Content-Length */
  GVD_ERROR_DOWNLOAD_FAILED,   /* a server gpuvmd downloads from failed (image URLs) */
  GVD_ERROR_INSUFFICIENT_CPUS, /* too few free dedicated CPUs on the NUMA node */
  GVD_ERROR_N_CODES /*< skip >*/
} GvdErrorCode;

/* The stable API name of @code, e.g. "device_in_use". */
const char *gvd_error_code_name (GvdErrorCode code);

/* The HTTP status an API answer with @code carries. */
guint gvd_error_code_http_status (GvdErrorCode code);

/* Look a code up by its API name. */
gboolean gvd_error_code_from_name (const char *name, GvdErrorCode *out_code);

/* The GVD_ERROR code for any error: foreign domains (GIO, json-glib…) map to
 * GVD_ERROR_INTERNAL, except the few with an obvious meaning. */
GvdErrorCode gvd_error_get_code (const GError *error);

G_END_DECLS
