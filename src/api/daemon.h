/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's services, wired together by main.c and handed to the API. */
#pragma once

#include <glib.h>

#include "gvd-config.h"
#include "host-root.h"
#include "idem-cache.h"
#include "virt-conn.h"

G_BEGIN_DECLS

typedef struct _GvdInventory GvdInventory; /* hostinfo.h */
typedef struct _GvdRegistry GvdRegistry;   /* registry.h */
typedef struct _GvdReservations GvdReservations; /* reservations.h */
typedef struct _GvdAgentHub GvdAgentHub;   /* agent.h */
typedef struct _GvdInstanceManager GvdInstanceManager; /* instance.h */
typedef struct _GvdEvents GvdEvents;       /* events.h */
typedef struct _GvdMetricsRegistry GvdMetricsRegistry; /* metrics-registry.h */

typedef struct {
  GvdConfig *config;
  GvdHostRoot *host_root;
  GvdVirtConn *virt;
  gint64 started_at;    /* g_get_monotonic_time () at start */
  GvdInventory *inventory; /* host PCI inventory, scanned at start */
  /* Device claims: PCI address → holder (instance or reservation name),
   * maintained by the instance manager. Until claims_ready (reconcile with
   * libvirt has run) no device may be considered free. */
  GHashTable *claims;
  gboolean claims_ready;
  /* Named devices, loaded from <state_dir>/registry.json at start. */
  GvdRegistry *registry;
  /* Quarantined devices: PCI address → reason; POST /v1/devices/{id}/clear
   * removes an entry. */
  GHashTable *quarantined;
  /* Devices and addresses held for a later create (reservations.h). */
  GvdReservations *reservations;
  /* Guest agent tokens and health (agent.h); its routes live on the
   * separate agent listener. */
  GvdAgentHub *agent;
  /* Instances, kept in step with libvirt (instance.h). */
  GvdInstanceManager *instances;
  /* Idempotency-Key → first answer of POST /v1/instances (api-instances.c;
   * bounded in bytes, dry runs never stored). */
  GvdIdemCache *idempotency;
  /* The event bus behind GET /v1/events (events.h); NULL-safe to emit on. */
  GvdEvents *events;
  /* Request, operation and agent-report counters behind /metrics
   * (metrics-registry.h); NULL: not counted. */
  GvdMetricsRegistry *metrics;
} GvdDaemon;

G_END_DECLS
