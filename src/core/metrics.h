/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: a plain snapshot of daemon state rendered as Prometheus text
 * exposition format 0.0.4 (pure: the API layer fills the snapshot). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The Content-Type of the rendered text. */
#define GVD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Samples rendered at most; the rest are dropped with a comment line. */
#define GVD_METRICS_MAX_SERIES 10000

typedef struct {
  char *name;    /* instance name (API) */
  char *domain;  /* libvirt domain name */
  char *state;   /* libvirt state: running, shutoff, paused… */
  char *health;  /* agent health (agent.h), or "untracked" */
} GvdMetricsInstance;

typedef struct {
  char *address;      /* PCI address of a passthrough candidate */
  char *holder;       /* instance or reservation name; NULL: free */
  gboolean quarantined;
} GvdMetricsDevice;

/* One GPU a guest agent reported (nvidia-smi); NAN: not reported. */
typedef struct {
  char *instance;        /* instance name */
  char *index;           /* nvidia-smi index as text; "" when unknown */
  char *guest_address;   /* "0000:01:00.0" in the guest; "" when unknown */
  char *host_address;    /* the host device passed through there; "" when unknown */
  char *uuid, *model, *driver_version; /* "" when unknown */
  double utilization_ratio;  /* 0..1 */
  double memory_used_bytes;
  double memory_total_bytes;
  double temperature_celsius;
  double power_watts;
} GvdMetricsGuestGpu;

typedef struct _GvdMetricsRegistry GvdMetricsRegistry; /* metrics-registry.h */

typedef struct {
  char *version;
  gint64 uptime_seconds;
  gboolean libvirt_connected;
  guint libvirt_reconnects;
  GPtrArray *instances;     /* GvdMetricsInstance, any order */
  GPtrArray *devices;       /* GvdMetricsDevice: the passthrough candidates */
  guint devices_claimed;    /* every claimed address (companions too) */
  guint devices_quarantined;
  /* Request, operation and agent-report counters; NULL: not rendered. */
  const GvdMetricsRegistry *registry;
  GPtrArray *guest_gpus;    /* GvdMetricsGuestGpu */
  GPtrArray *heartbeat_ages; /* GvdMetricsHeartbeatAge */
} GvdMetricsSnapshot;

typedef struct {
  char *instance;
  double seconds;
} GvdMetricsHeartbeatAge;

GvdMetricsSnapshot *gvd_metrics_snapshot_new (const char *version);
void gvd_metrics_snapshot_free (GvdMetricsSnapshot *snap);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdMetricsSnapshot, gvd_metrics_snapshot_free)

/* NULL @state or @health become "unknown" and "untracked". */
void gvd_metrics_snapshot_add_instance (GvdMetricsSnapshot *snap, const char *name,
                                        const char *domain, const char *state,
                                        const char *health);
void gvd_metrics_snapshot_add_device (GvdMetricsSnapshot *snap, const char *address,
                                      const char *holder, gboolean quarantined);

/* Take a copy of @gpu (its NULL strings become ""). */
void gvd_metrics_snapshot_add_guest_gpu (GvdMetricsSnapshot *snap, const GvdMetricsGuestGpu *gpu);
/* Seconds since the last heartbeat of @instance. */
void gvd_metrics_snapshot_add_heartbeat_age (GvdMetricsSnapshot *snap, const char *instance,
                                             double seconds);

/* The exposition text, families and series in a fixed (sorted) order, at
 * most @max_series samples (0: GVD_METRICS_MAX_SERIES). */
char *gvd_metrics_render (const GvdMetricsSnapshot *snap, guint max_series);

/* Escape a label value: backslash, double quote and newline; invalid UTF-8
 * is replaced. Appended to @out. */
void gvd_metrics_escape_label (GString *out, const char *value);

G_END_DECLS
