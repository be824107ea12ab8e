/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters and histograms the daemon accumulates for /metrics: HTTP requests,
 * instance operations, agent reports (pure: callers pass the values). */
#include "config.h"

#include "metrics-registry.h"

#include <string.h>

#include "histogram.h"
#include "http-route.h"
#include "metrics.h"

static const char *const ops[] = { "create", "start", "shutdown", "stop", "reboot", "reset",
                                   "delete" };
#define N_OPS G_N_ELEMENTS (ops)
static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx", "other" };
#define N_CLASSES G_N_ELEMENTS (classes)
/* Bounds on the keyed tables: the label sets are fixed by construction
 * (route templates x methods, ops x error codes), these only guard it. */
#define MAX_HTTP_KEYS 512
#define MAX_FAILURE_KEYS 512

typedef struct {
  char *route;
  char *method;
  guint64 by_class[N_CLASSES];
  GvdHistogram *latency;
} HttpEntry;

struct _GvdMetricsRegistry {
  GTree *http;      /* "route\tmethod" → HttpEntry */
  GvdHistogram *op_duration[N_OPS];
  GTree *failures;  /* "op\tcode" → count */
  guint64 agent_reports[2][2]; /* [heartbeat][accepted] */
};

static void
http_entry_free (gpointer p)
{
  HttpEntry *e = p;

  g_free (e->route);
  g_free (e->method);
  gvd_histogram_free (e->latency);
  g_free (e);
}

static gint
cmp_str (gconstpointer a, gconstpointer b, gpointer unused)
{
  return strcmp (a, b);
}

GvdMetricsRegistry *
gvd_metrics_registry_new (void)
{
  GvdMetricsRegistry *reg = g_new0 (GvdMetricsRegistry, 1);

  reg->http = g_tree_new_full (cmp_str, NULL, g_free, http_entry_free);
  reg->failures = g_tree_new_full (cmp_str, NULL, g_free, NULL);
  for (guint i = 0; i < N_OPS; i++)
    reg->op_duration[i] = gvd_histogram_new (gvd_histogram_op_bounds, gvd_histogram_op_n_bounds);
  return reg;
}

void
gvd_metrics_registry_free (GvdMetricsRegistry *reg)
{
  if (reg == NULL)
    return;
  g_tree_unref (reg->http);
  g_tree_unref (reg->failures);
  for (guint i = 0; i < N_OPS; i++)
    gvd_histogram_free (reg->op_duration[i]);
  g_free (reg);
}

void
gvd_metrics_registry_observe_http (GvdMetricsRegistry *reg, const char *route,
                                   const char *method, guint status, double seconds)
{
  g_autofree char *key = NULL;
  const char *cls = gvd_http_status_class (status);
  HttpEntry *e;

  g_return_if_fail (reg != NULL && route != NULL && method != NULL);
  key = g_strconcat (route, "\t", method, NULL);
  e = g_tree_lookup (reg->http, key);
  if (e == NULL)
    {
      if ((guint) g_tree_nnodes (reg->http) >= MAX_HTTP_KEYS)
        return;
      e = g_new0 (HttpEntry, 1);
      e->route = g_strdup (route);
      e->method = g_strdup (method);
      e->latency = gvd_histogram_new (gvd_histogram_http_bounds, gvd_histogram_http_n_bounds);
      g_tree_insert (reg->http, g_steal_pointer (&key), e);
    }
  for (guint i = 0; i < N_CLASSES; i++)
    if (g_str_equal (classes[i], cls))
      e->by_class[i]++;
  gvd_histogram_observe (e->latency, seconds);
}

static int
op_index (const char *op)
{
  for (guint i = 0; op != NULL && i < N_OPS; i++)
    if (g_str_equal (op, ops[i]))
      return (int) i;
  return -1;
}

void
gvd_metrics_registry_observe_op (GvdMetricsRegistry *reg, const char *op, double seconds,
                                 const char *error_code)
{
  int i = op_index (op);
  g_autofree char *key = NULL;
  guint64 n;

  g_return_if_fail (reg != NULL);
  if (i < 0)
    return;
  if (error_code == NULL)
    {
      gvd_histogram_observe (reg->op_duration[i], seconds);
      return;
    }
  key = g_strconcat (op, "\t", error_code, NULL);
  n = GPOINTER_TO_SIZE (g_tree_lookup (reg->failures, key));
  if (n == 0 && (guint) g_tree_nnodes (reg->failures) >= MAX_FAILURE_KEYS)
    return;
  g_tree_replace (reg->failures, g_steal_pointer (&key), GSIZE_TO_POINTER (n + 1));
}

void
gvd_metrics_registry_count_agent_report (GvdMetricsRegistry *reg, const char *kind,
                                         gboolean accepted)
{
  g_return_if_fail (reg != NULL);
  reg->agent_reports[g_strcmp0 (kind, "heartbeat") == 0][accepted ? 1 : 0]++;
}

static void
family (GString *out, const char *name, const char *type, const char *help)
{
  /* HELP texts here are constants without backslashes or newlines. */
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
labelled (GString *out, const char *name, const char *const *labels, guint64 value)
{
  g_string_append (out, name);
  g_string_append_c (out, '{');
  for (gsize i = 0; labels[i] != NULL; i += 2)
    {
      g_string_append_printf (out, "%s%s=\"", i > 0 ? "," : "", labels[i]);
      gvd_metrics_escape_label (out, labels[i + 1]);
      g_string_append_c (out, '"');
    }
  g_string_append_printf (out, "} %" G_GUINT64_FORMAT "\n", value);
}

static gboolean
emit_http_count (gpointer key, gpointer value, gpointer data)
{
  const HttpEntry *e = value;

  for (guint i = 0; i < N_CLASSES; i++)
    {
      const char *labels[] = { "route", e->route, "method", e->method, "code_class",
                               classes[i], NULL };

      /* Only classes seen: a route has no 1xx answers to speak of. */
      if (e->by_class[i] > 0)
        labelled (data, "gpuvmd_http_requests_total", labels, e->by_class[i]);
    }
  return FALSE;
}

static gboolean
emit_http_latency (gpointer key, gpointer value, gpointer data)
{
  const HttpEntry *e = value;
  const char *labels[] = { "route", e->route, "method", e->method, NULL };

  gvd_histogram_render (e->latency, data, "gpuvmd_http_request_duration_seconds", labels);
  return FALSE;
}

static gboolean
emit_failure (gpointer key, gpointer value, gpointer data)
{
  g_auto(GStrv) parts = g_strsplit (key, "\t", 2);
  const char *labels[] = { "operation", parts[0], "code", parts[1], NULL };

  labelled (data, "gpuvmd_instance_operation_failures_total", labels,
            GPOINTER_TO_SIZE (value));
  return FALSE;
}

void
gvd_metrics_registry_render (const GvdMetricsRegistry *reg, GString *out)
{
  static const char *const kinds[] = { "phone_home", "heartbeat" };

  family (out, "gpuvmd_http_requests_total", "counter",
          "HTTP requests answered, by route template, method and status class.");
  g_tree_foreach (reg->http, emit_http_count, out);
  family (out, "gpuvmd_http_request_duration_seconds", "histogram",
          "Time from request to answer, by route template and method.");
  g_tree_foreach (reg->http, emit_http_latency, out);

  /* One family per operation, as hypeman's
   * hypeman_instances_create_duration_seconds: dashboards ask for one. */
  for (guint i = 0; i < N_OPS; i++)
    {
      g_autofree char *name = g_strdup_printf ("gpuvmd_instance_%s_duration_seconds", ops[i]);
      g_autofree char *help = g_strdup_printf ("Duration of successful instance %s "
                                               "operations, request to answer.", ops[i]);

      family (out, name, "histogram", help);
      gvd_histogram_render (reg->op_duration[i], out, name, NULL);
    }
  family (out, "gpuvmd_instance_operation_failures_total", "counter",
          "Failed instance operations by API error code.");
  g_tree_foreach (reg->failures, emit_failure, out);

  family (out, "gpuvmd_agent_reports_total", "counter",
          "Guest agent reports received, by kind and whether they were accepted.");
  for (guint k = 0; k < 2; k++)
    for (guint a = 0; a < 2; a++)
      {
        const char *labels[] = { "kind", kinds[k], "result", a ? "accepted" : "refused", NULL };

        labelled (out, "gpuvmd_agent_reports_total", labels, reg->agent_reports[k][a]);
      }
}
