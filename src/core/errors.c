/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GVD_ERROR domain and its mapping to API codes and HTTP statuses. */
#include "config.h"

#include "errors.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_DEFINE_QUARK (gvd-error-quark, gvd_error)

typedef struct {
  const char *name;
  guint http_status;
} GvdErrorInfo;

static const GvdErrorInfo error_table[GVD_ERROR_N_CODES] = {
  [GVD_ERROR_INTERNAL] = { "internal", 500 },
  [GVD_ERROR_INVALID_ARGUMENT] = { "invalid_argument", 400 },
  [GVD_ERROR_INVALID_JSON] = { "invalid_json", 400 },
  [GVD_ERROR_PAYLOAD_TOO_LARGE] = { "payload_too_large", 413 },
  [GVD_ERROR_UNSUPPORTED_MEDIA_TYPE] = { "unsupported_media_type", 415 },
  [GVD_ERROR_UNAUTHORIZED] = { "unauthorized", 401 },
  [GVD_ERROR_NOT_FOUND] = { "not_found", 404 },
  [GVD_ERROR_METHOD_NOT_ALLOWED] = { "method_not_allowed", 405 },
  [GVD_ERROR_ALREADY_EXISTS] = { "already_exists", 409 },
  [GVD_ERROR_CONFLICT] = { "conflict", 409 },
  [GVD_ERROR_INVALID_STATE] = { "invalid_state", 409 },
  [GVD_ERROR_DEVICE_NOT_FOUND] = { "device_not_found", 404 },
  [GVD_ERROR_NOT_PASSTHROUGH_CAPABLE] = { "not_passthrough_capable", 422 },
  [GVD_ERROR_DEVICE_IN_USE] = { "device_in_use", 409 },
  [GVD_ERROR_DEVICE_BUSY] = { "device_busy", 409 },
  [GVD_ERROR_DEVICE_QUARANTINED] = { "device_quarantined", 409 },
  [GVD_ERROR_GROUP_CONFLICT] = { "group_conflict", 422 },
  [GVD_ERROR_HOST_CRITICAL] = { "host_critical", 422 },
  [GVD_ERROR_WEAKENED_ISOLATION] = { "weakened_isolation", 422 },
  [GVD_ERROR_NO_IOMMU] = { "no_iommu", 422 },
  [GVD_ERROR_INSUFFICIENT_GPUS] = { "insufficient_gpus", 409 },
  [GVD_ERROR_PLAN_REFUSED] = { "plan_refused", 422 },
  [GVD_ERROR_IMAGE_NOT_FOUND] = { "image_not_found", 404 },
  [GVD_ERROR_NOT_READY] = { "not_ready", 503 },
  [GVD_ERROR_LIBVIRT] = { "libvirt_error", 502 },
  [GVD_ERROR_LIBVIRT_UNAVAILABLE] = { "libvirt_unavailable", 503 },
  [GVD_ERROR_TIMEOUT] = { "timeout", 504 },
  [GVD_ERROR_IO] = { "io_error", 500 },
  [GVD_ERROR_INVALID_CONFIG] = { "invalid_config", 500 },
  [GVD_ERROR_FORBIDDEN] = { "forbidden", 403 },
  [GVD_ERROR_TOO_MANY_REQUESTS] = { "too_many_requests", 429 },
  [GVD_ERROR_UNAVAILABLE] = { "unavailable", 503 },
  [GVD_ERROR_LENGTH_REQUIRED] = { "length_required", 411 },
  [GVD_ERROR_DOWNLOAD_FAILED] = { "download_failed", 502 },
  [GVD_ERROR_INSUFFICIENT_CPUS] = { "insufficient_cpus", 409 },
};

const char *
gvd_error_code_name (GvdErrorCode code)
{
  if ((guint) code >= GVD_ERROR_N_CODES)
    return error_table[GVD_ERROR_INTERNAL].name;
  return error_table[code].name;
}

guint
gvd_error_code_http_status (GvdErrorCode code)
{
  if ((guint) code >= GVD_ERROR_N_CODES)
    return 500;
  return error_table[code].http_status;
}

gboolean
gvd_error_code_from_name (const char *name, GvdErrorCode *out_code)
{
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint i = 0; i < GVD_ERROR_N_CODES; i++)
    {
      if (g_strcmp0 (error_table[i].name, name) == 0)
        {
          if (out_code != NULL)
            *out_code = i;
          return TRUE;
        }
    }
  return FALSE;
}

GvdErrorCode
gvd_error_get_code (const GError *error)
{
  if (error == NULL)
    return GVD_ERROR_INTERNAL;
  if (error->domain == GVD_ERROR && (guint) error->code < GVD_ERROR_N_CODES)
    return error->code;
  if (error->domain == JSON_PARSER_ERROR)
    return GVD_ERROR_INVALID_JSON;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return GVD_ERROR_TIMEOUT;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return GVD_ERROR_NOT_FOUND;
  if (error->domain == G_IO_ERROR || error->domain == G_FILE_ERROR)
    return GVD_ERROR_IO;
  return GVD_ERROR_INTERNAL;
}
