/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters and histograms the daemon accumulates for /metrics: HTTP requests,
 * instance operations, agent reports (pure: callers pass the values). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GvdMetricsRegistry GvdMetricsRegistry;

GvdMetricsRegistry *gvd_metrics_registry_new (void);
void gvd_metrics_registry_free (GvdMetricsRegistry *reg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdMetricsRegistry, gvd_metrics_registry_free)

/* One finished request. @route and @method come from gvd_http_route_template
 * and gvd_http_method_label (fixed sets, so the table stays bounded);
 * @seconds is the time from the request line to the answer. */
void gvd_metrics_registry_observe_http (GvdMetricsRegistry *reg, const char *route,
                                        const char *method, guint status, double seconds);

/* One finished instance operation: "create", "start", "shutdown", "stop",
 * "reboot", "reset" or "delete" (others are ignored). A failure counts under
 * @error_code (gvd_error_code_name) and not in the duration histogram, so
 * a refused request does not look like a fast create. */
void gvd_metrics_registry_observe_op (GvdMetricsRegistry *reg, const char *op, double seconds,
                                      const char *error_code);

/* One agent report: @kind "phone_home" or "heartbeat", @accepted or not. */
void gvd_metrics_registry_count_agent_report (GvdMetricsRegistry *reg, const char *kind,
                                              gboolean accepted);

/* Append every family (HELP, TYPE, samples) in a fixed order to @out. */
void gvd_metrics_registry_render (const GvdMetricsRegistry *reg, GString *out);

G_END_DECLS
