/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixed-bucket histograms rendered as Prometheus cumulative buckets (pure). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Upper bounds (seconds) of the buckets every gpuvmd histogram uses; +Inf
 * comes on top. HTTP answers take milliseconds, creates tens of seconds. */
#define GVD_HISTOGRAM_MAX_BUCKETS 24

typedef struct {
  guint n_bounds;
  double bounds[GVD_HISTOGRAM_MAX_BUCKETS]; /* strictly increasing, finite */
  guint64 counts[GVD_HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, last is +Inf */
  guint64 count;
  double sum;
} GvdHistogram;

/* The bucket bounds of request latencies (5 ms .. 10 s). */
extern const double gvd_histogram_http_bounds[];
extern const guint gvd_histogram_http_n_bounds;
/* The bucket bounds of instance operations (0.1 s .. 30 min). */
extern const double gvd_histogram_op_bounds[];
extern const guint gvd_histogram_op_n_bounds;

/* A zeroed histogram with @n_bounds (at most GVD_HISTOGRAM_MAX_BUCKETS)
 * strictly increasing finite bounds; NULL on bad bounds. */
GvdHistogram *gvd_histogram_new (const double *bounds, guint n_bounds);
void gvd_histogram_free (GvdHistogram *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdHistogram, gvd_histogram_free)

/* Count one observation of @value (NaN is ignored; negatives count in the
 * first bucket: clocks step). */
void gvd_histogram_observe (GvdHistogram *h, double value);

/* Append the _bucket (cumulative, le="..."), _sum and _count samples of
 * @h as @name, with @labels (name, value pairs, NULL-terminated; may be
 * NULL) before le. Values are escaped. The # HELP/# TYPE lines are the
 * caller's (one per family). */
void gvd_histogram_render (const GvdHistogram *h, GString *out, const char *name,
                           const char *const *labels);

/* A sample value as Prometheus reads it: integers plain, others in the
 * shorter of %.15g / %.17g that reads back exactly, NaN, +Inf, -Inf. */
void gvd_histogram_append_value (GString *out, double value);

G_END_DECLS
