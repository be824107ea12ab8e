/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request path → route template and method → label, for metrics labels that
 * never carry user-chosen names (pure). */
#include "config.h"

#include "http-route.h"

#include <string.h>

/* Every path shape the API serves: a '*' segment is a name. Matched in
 * order; the first whose segments all match wins. */
static const char *const templates[][2] = {
  { "/healthz", "/healthz" },
  { "/metrics", "/metrics" },
  { "/v1/host", "/v1/host" },
  { "/v1/plans", "/v1/plans" },
  { "/v1/events", "/v1/events" },
  { "/v1/agent/phone-home", "/v1/agent/phone-home" },
  { "/v1/agent/heartbeat", "/v1/agent/heartbeat" },
  { "/v1/devices/available", "/v1/devices/available" },
  { "/v1/devices", "/v1/devices" },
  { "/v1/devices/*", "/v1/devices/{name}" },
  { "/v1/devices/*/clear", "/v1/devices/{name}/clear" },
  { "/v1/reservations", "/v1/reservations" },
  { "/v1/reservations/*", "/v1/reservations/{name}" },
  { "/v1/images", "/v1/images" },
  { "/v1/images/*", "/v1/images/{name}" },
  { "/v1/instances", "/v1/instances" },
  { "/v1/instances/*", "/v1/instances/{name}" },
  { "/v1/instances/*/start", "/v1/instances/{name}/start" },
  { "/v1/instances/*/shutdown", "/v1/instances/{name}/shutdown" },
  { "/v1/instances/*/stop", "/v1/instances/{name}/stop" },
  { "/v1/instances/*/reboot", "/v1/instances/{name}/reboot" },
  { "/v1/instances/*/reset", "/v1/instances/{name}/reset" },
  { "/v1/instances/*/qmp", "/v1/instances/{name}/qmp" },
  { "/v1/instances/*/resize", "/v1/instances/{name}/resize" },
  { "/v1/instances/*/disks", "/v1/instances/{name}/disks" },
  { "/v1/instances/*/disks/*", "/v1/instances/{name}/disks/{target}" },
  { "/v1/instances/*/networks", "/v1/instances/{name}/networks" },
  { "/v1/instances/*/networks/*", "/v1/instances/{name}/networks/{mac}" },
  { "/v1/instances/*/console", "/v1/instances/{name}/console" },
  { "/v1/instances/*/gpus", "/v1/instances/{name}/gpus" },
  { "/v1/instances/*/gpus/*", "/v1/instances/{name}/gpus/{address}" },
  { "/v1/instances/*/snapshots", "/v1/instances/{name}/snapshots" },
  { "/v1/instances/*/snapshots/*", "/v1/instances/{name}/snapshots/{snapshot}" },
  { "/v1/instances/*/snapshots/*/revert", "/v1/instances/{name}/snapshots/{snapshot}/revert" },
};

/* Paths longer than this are "other" without being split. */
#define MAX_PATH 1024

static gboolean
matches (const char *pattern, char **segs)
{
  g_auto(GStrv) want = g_strsplit (pattern + 1, "/", -1);
  guint i;

  for (i = 0; want[i] != NULL; i++)
    {
      if (segs[i] == NULL || segs[i][0] == '\0')
        return FALSE;
      if (!g_str_equal (want[i], "*") && !g_str_equal (want[i], segs[i]))
        return FALSE;
    }
  return segs[i] == NULL;
}

const char *
gvd_http_route_template (const char *path)
{
  g_auto(GStrv) segs = NULL;
  gsize len;

  if (path == NULL || path[0] != '/')
    return "other";
  len = strnlen (path, MAX_PATH + 1);
  if (len > MAX_PATH)
    return "other";
  /* A trailing slash names the same resource ("/v1/instances/"). */
  if (len > 1 && path[len - 1] == '/')
    len--;
  {
    g_autofree char *trimmed = g_strndup (path + 1, len - 1);
    segs = g_strsplit (trimmed, "/", 8);
  }
  for (gsize i = 0; i < G_N_ELEMENTS (templates); i++)
    if (matches (templates[i][0], segs))
      return templates[i][1];
  return "other";
}

const char *
gvd_http_method_label (const char *method)
{
  static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                       "OPTIONS" };

  for (gsize i = 0; method != NULL && i < G_N_ELEMENTS (known); i++)
    if (g_str_equal (method, known[i]))
      return known[i];
  return "other";
}

const char *
gvd_http_status_class (guint status)
{
  static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

  if (status < 100 || status > 599)
    return "other";
  return classes[status / 100 - 1];
}
