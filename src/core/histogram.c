/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixed-bucket histograms rendered as Prometheus cumulative buckets (pure). */
#include "config.h"

#include "histogram.h"

#include <math.h>

#include "metrics.h"

const double gvd_histogram_http_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,    2.5,   5,    10 };
const guint gvd_histogram_http_n_bounds = G_N_ELEMENTS (gvd_histogram_http_bounds);

const double gvd_histogram_op_bounds[] = { 0.1, 0.25, 0.5, 1,   2.5, 5,    10,  20,
                                           30,  60,   120, 300, 600, 1200, 1800 };
const guint gvd_histogram_op_n_bounds = G_N_ELEMENTS (gvd_histogram_op_bounds);

GvdHistogram *
gvd_histogram_new (const double *bounds, guint n_bounds)
{
  GvdHistogram *h;

  if (n_bounds > GVD_HISTOGRAM_MAX_BUCKETS || (n_bounds > 0 && bounds == NULL))
    return NULL;
  for (guint i = 0; i < n_bounds; i++)
    if (!isfinite (bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
      return NULL;
  h = g_new0 (GvdHistogram, 1);
  h->n_bounds = n_bounds;
  for (guint i = 0; i < n_bounds; i++)
    h->bounds[i] = bounds[i];
  return h;
}

void
gvd_histogram_free (GvdHistogram *h)
{
  g_free (h);
}

void
gvd_histogram_observe (GvdHistogram *h, double value)
{
  guint i = 0;

  g_return_if_fail (h != NULL);
  if (isnan (value))
    return;
  /* le is inclusive: a value equal to a bound counts in that bucket. */
  while (i < h->n_bounds && value > h->bounds[i])
    i++;
  h->counts[i]++;
  h->count++;
  h->sum += value;
}

void
gvd_histogram_append_value (GString *out, double value)
{
  if (isnan (value))
    g_string_append (out, "NaN");
  else if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (value > -1e15 && value < 1e15 && value == (double) (gint64) value)
    g_string_append_printf (out, "%.0f", value);
  else
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];

      /* Locale-independent (a decimal comma would break the format), and
       * the shortest of two precisions that reads back exactly: 0.005, not
       * 0.0050000000000000001. */
      g_ascii_formatd (buf, sizeof buf, "%.15g", value);
      if (g_ascii_strtod (buf, NULL) != value)
        g_ascii_formatd (buf, sizeof buf, "%.17g", value);
      g_string_append (out, buf);
    }
}

static void
series (GString *out, const char *name, const char *suffix, const char *const *labels,
        const char *le)
{
  gboolean first = TRUE;

  g_string_append (out, name);
  g_string_append (out, suffix);
  if ((labels == NULL || labels[0] == NULL) && le == NULL)
    {
      g_string_append_c (out, ' ');
      return;
    }
  g_string_append_c (out, '{');
  for (gsize i = 0; labels != NULL && labels[i] != NULL && labels[i + 1] != NULL; i += 2)
    {
      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      g_string_append_printf (out, "%s=\"", labels[i]);
      gvd_metrics_escape_label (out, labels[i + 1]);
      g_string_append_c (out, '"');
    }
  if (le != NULL)
    g_string_append_printf (out, "%sle=\"%s\"", first ? "" : ",", le);
  g_string_append (out, "} ");
}

void
gvd_histogram_render (const GvdHistogram *h, GString *out, const char *name,
                      const char *const *labels)
{
  guint64 cumulative = 0;

  g_return_if_fail (h != NULL && out != NULL && name != NULL);
  for (guint i = 0; i <= h->n_bounds; i++)
    {
      g_autoptr(GString) le = g_string_new (NULL);

      cumulative += h->counts[i];
      if (i < h->n_bounds)
        gvd_histogram_append_value (le, h->bounds[i]);
      else
        g_string_append (le, "+Inf");
      series (out, name, "_bucket", labels, le->str);
      g_string_append_printf (out, "%" G_GUINT64_FORMAT "\n", cumulative);
    }
  series (out, name, "_sum", labels, NULL);
  gvd_histogram_append_value (out, h->sum);
  g_string_append_c (out, '\n');
  series (out, name, "_count", labels, NULL);
  g_string_append_printf (out, "%" G_GUINT64_FORMAT "\n", h->count);
}
