/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's services, built in order by gvd_daemon_new and handed to the
 * API; torn down once, in reverse order, by gvd_daemon_free. */
#pragma once

#include <glib.h>

#include "claims.h"
#include "gvd-config.h"
#include "host-root.h"
#include "idem-cache.h"
#include "reservations.h"
#include "virt-conn.h"

G_BEGIN_DECLS

typedef struct _GvdInventory GvdInventory; /* inventory.h */
typedef struct _GvdRegistry GvdRegistry;   /* registry.h */
typedef struct _GvdAgentHub GvdAgentHub;   /* agent.h */
typedef struct _GvdInstanceManager GvdInstanceManager; /* instance.h */
typedef struct _GvdEvents GvdEvents;       /* events.h */
typedef struct _GvdIpam GvdIpam;           /* ipam.h */
typedef struct _GvdStorage GvdStorage;     /* storage.h */
typedef struct _GvdMetricsRegistry GvdMetricsRegistry; /* metrics-registry.h */

/* Every member is set (never NULL) from gvd_daemon_new to gvd_daemon_free;
 * the daemon owns them all. Listed in the order they are built. */
typedef struct _GvdDaemon {
  GvdConfig *config;
  gint64 started_at;    /* g_get_monotonic_time () at start */
  /* The event bus behind GET /v1/events (events.h). */
  GvdEvents *events;
  /* Guest agent tokens and health (agent.h); its routes live on the
   * separate agent listener. */
  GvdAgentHub *agent;
  /* Named devices, loaded from <state_dir>/registry.json at start. */
  GvdRegistry *registry;
  GvdHostRoot *host_root;
  /* Host PCI inventory, scanned at start (empty when the scan failed). */
  GvdInventory *inventory;
  GvdVirtConn *virt;
  /* Storage's lock and the images being imported, shared by /v1/images and
   * the instance manager (storage.h). */
  GvdStorage *storage;
  /* Device claims (address → instance or reservation) and quarantine
   * (address → reason; POST /v1/devices/{id}/clear removes an entry),
   * rebuilt from libvirt by the instance manager (claims.h). */
  GvdClaims *claims;
  /* The MAC/IP allocator instances and reservations share. */
  GvdIpam *ipam;
  /* Devices and addresses held for a later create (reservations.h). */
  GvdReservations *reservations;
  /* Instances, kept in step with libvirt (instance.h). */
  GvdInstanceManager *instances;
  /* Idempotency-Key → first answer of POST /v1/instances (api-instances.c;
   * bounded in bytes, dry runs never stored). */
  GvdIdemCache *idempotency;
  /* POST/DELETE /v1/devices, one registry write at a time (api-devices.c;
   * main thread only): the requests waiting, and the one being written. */
  GQueue registry_waiting;
  gpointer registry_writing;
  /* Request, operation and agent-report counters behind /metrics
   * (metrics-registry.h). */
  GvdMetricsRegistry *metrics;
} GvdDaemon;

typedef struct {
  /* Where the agent hub arms its heartbeat deadlines; NULL: none (tests
   * that drive health by hand). */
  GMainContext *agent_context;
  /* The reservations' clock; NULL: the monotonic clock. */
  GvdClockFunc clock;
} GvdDaemonOptions;

/* Build every service from @config (taken over, freed on failure too): the
 * event bus, the agent hub (its secret created in the state directory on
 * first start), the device registry, the host root and its PCI inventory,
 * the libvirt connection (not yet connecting), claims, IPAM, reservations,
 * the instance manager (not yet following libvirt) and the idempotency
 * cache. @options may be NULL. A corrupt registry or an unreadable secret
 * is an error: starting without them would forget names and tokens. */
GvdDaemon *gvd_daemon_new (GvdConfig *config, const GvdDaemonOptions *options, GError **error);
/* Follow libvirt: the instance manager recovers on every (re)connect, and
 * the connection starts. */
void gvd_daemon_start (GvdDaemon *daemon);
/* Tear everything down once, in reverse order (the libvirt connection is
 * closed). NULL-safe. */
void gvd_daemon_free (GvdDaemon *daemon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdDaemon, gvd_daemon_free)

G_END_DECLS
