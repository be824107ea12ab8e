/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's services: built once in dependency order, freed once in
 * reverse (daemon.h). */
#include "config.h"

#include "daemon.h"
#include "daemon-timers.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "agent.h"
#include "api.h"
#include "errors.h"
#include "events.h"
#include "metrics-registry.h"
#include "hostinfo.h"
#include "journal.h"
#include "instance.h"
#include "inventory.h"
#include "ipam.h"
#include "registry.h"
#include "registry-file.h"
#include "secret.h"
#include "storage.h"

/* Event bus feeds (GET /v1/events). */
static void
emit_libvirt_connected (GvdVirtConn *virt, gpointer user_data)
{
  gvd_events_emit_reason (user_data, "libvirt.connected", NULL);
}

static void
emit_libvirt_disconnected (GvdVirtConn *virt, const char *why, gpointer user_data)
{
  gvd_events_emit_reason (user_data, "libvirt.disconnected", why);
}

static gboolean
ensure_state_dir (const GvdConfig *config, GError **error)
{
  if (g_mkdir_with_parents (config->state_dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot create the state directory %s: %s"),
                   config->state_dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* The agent hub with the daemon secret tokens derive from (created in the
 * state directory on first start); its health changes are logged and go on
 * the event bus. */
static GvdAgentHub *
agent_hub_new (const GvdConfig *config, GMainContext *context, GvdEvents *events,
               GError **error)
{
  g_autofree char *path = g_build_filename (config->state_dir, "agent-secret", NULL);
  g_autoptr(GBytes) secret = NULL;
  GvdAgentHub *hub;

  secret = gvd_secret_load_or_create (path, GVD_SECRET_LEN, error);
  if (secret == NULL)
    return NULL;
  hub = gvd_agent_hub_new (secret, config->heartbeat_interval, config->missed_heartbeats);
  if (context != NULL)
    gvd_daemon_timers_attach_agent (hub, context);
  gvd_api_agent_log_health (hub);
  gvd_api_agent_emit_events (hub, events);
  return hub;
}

/* A failed scan leaves an empty inventory: nothing can be planned, and the
 * API says so, but the daemon still serves. */
static GvdInventory *
inventory_scan (const GvdConfig *config, const GvdHostRoot *root)
{
  g_autoptr(GError) error = NULL;
  GvdInventory *inventory;

  inventory = gvd_hostinfo_scan (root, (const char *const *) config->host_critical,
                                 (const char *const *) config->passthrough_devices, &error);
  if (inventory == NULL)
    {
      g_warning ("host PCI inventory scan failed: %s", error->message);
      inventory = gvd_inventory_new ();
    }
  return inventory;
}

static GvdIpam *
ipam_new (const GvdConfig *config)
{
  g_autoptr(GError) error = NULL;
  GvdIpam *ipam = gvd_ipam_new (config->network_cidr, config->network_gateway, &error);

  if (ipam == NULL)
    {
      g_warning ("address allocation disabled: %s", error->message);
      ipam = gvd_ipam_new (NULL, NULL, NULL);
    }
  return ipam;
}

GvdDaemon *
gvd_daemon_new (GvdConfig *config, const GvdDaemonOptions *options, GError **error)
{
  g_autoptr(GvdDaemon) d = g_new0 (GvdDaemon, 1);
  const GvdDaemonOptions defaults = { 0 };
  g_autofree char *registry_path = NULL;
  GvdInstanceServices services;

  g_return_val_if_fail (config != NULL, NULL);

  g_queue_init (&d->registry_waiting);
  if (options == NULL)
    options = &defaults;

  d->config = config;
  d->started_at = g_get_monotonic_time ();
  d->events = gvd_events_new (GVD_EVENTS_RING_SIZE, g_get_real_time);
  if (!ensure_state_dir (config, error))
    return NULL;
  d->metrics = gvd_metrics_registry_new ();
  d->agent = agent_hub_new (config, options->agent_context, d->events, error);
  if (d->agent == NULL)
    return NULL;
  /* gpu_faults[] and the guest GPU metrics name the host device. */
  gvd_agent_hub_set_address_map (d->agent, gvd_api_metrics_map_guest_address, d);
  /* A corrupt registry is fatal: starting without it would forget every
   * name. */
  registry_path = g_build_filename (config->state_dir, GVD_REGISTRY_FILE_NAME, NULL);
  d->registry = gvd_registry_load_file (registry_path, error);
  if (d->registry == NULL)
    return NULL;
  d->host_root = gvd_host_root_new (config->sysfs_root, config->procfs_root, config->devfs_root);
  d->inventory = inventory_scan (config, d->host_root);

  gvd_virt_event_loop_start ();
  d->virt = gvd_virt_conn_new (config->libvirt_uri, config->keepalive_interval,
                               config->keepalive_count, config->reconnect_max_delay);
  g_signal_connect (d->virt, "connected", G_CALLBACK (emit_libvirt_connected), d->events);
  g_signal_connect (d->virt, "disconnected", G_CALLBACK (emit_libvirt_disconnected), d->events);
  d->storage = gvd_storage_new ();
  {
    /* Imports in progress, so that a crash's half-written volumes are
     * swept at the next start (api-images.c). */
    g_autofree char *journal = g_build_filename (config->state_dir, GVD_IMPORT_JOURNAL_DIR, NULL);
    gvd_storage_set_journal_dir (d->storage, journal);
  }

  d->claims = gvd_claims_new ();
  d->ipam = ipam_new (config);
  /* Reservations hold devices and a MAC/IP from the same allocator the
   * instances use, so a create can take them over. */
  d->reservations = gvd_reservations_new (gvd_claims_get_holders (d->claims), d->ipam,
                                          options->clock != NULL ? options->clock
                                                                 : g_get_monotonic_time);
  /* Expiry on the main loop, which runs on the monotonic clock; a test's
   * own clock drives gvd_reservations_expire_due() itself. */
  if (options->clock == NULL)
    gvd_daemon_timers_attach_reservations (d->reservations, NULL);
  services = (GvdInstanceServices) {
    .config = config,
    .host_root = d->host_root,
    .events = d->events,
    .agent = d->agent,
    .registry = d->registry,
    .inventory = d->inventory,
    .virt = d->virt,
    .storage = d->storage,
    .claims = d->claims,
    .ipam = d->ipam,
    .reservations = d->reservations,
  };
  d->instances = gvd_instance_manager_new (&services);
  d->idempotency = gvd_api_instances_idempotency_new ();
  return g_steal_pointer (&d);
}

void
gvd_daemon_start (GvdDaemon *d)
{
  g_return_if_fail (d != NULL);
  gvd_instance_manager_start (d->instances);
  gvd_virt_conn_start (d->virt);
}

void
gvd_daemon_free (GvdDaemon *d)
{
  if (d == NULL)
    return;
  g_clear_pointer (&d->idempotency, gvd_idem_cache_free);
  g_clear_pointer (&d->instances, gvd_instance_manager_free);
  g_clear_pointer (&d->reservations, gvd_reservations_free);
  g_clear_pointer (&d->ipam, gvd_ipam_free);
  g_clear_pointer (&d->claims, gvd_claims_free);
  if (d->virt != NULL)
    {
      g_signal_handlers_disconnect_by_data (d->virt, d->events);
      gvd_virt_conn_close (d->virt);
      g_clear_object (&d->virt);
    }
  g_clear_pointer (&d->storage, gvd_storage_unref);
  g_clear_pointer (&d->inventory, gvd_inventory_free);
  g_clear_pointer (&d->host_root, gvd_host_root_free);
  g_clear_pointer (&d->registry, gvd_registry_free);
  g_clear_pointer (&d->agent, gvd_agent_hub_free);
  g_clear_pointer (&d->events, gvd_events_free);
  g_clear_pointer (&d->config, gvd_config_free);
  g_clear_pointer (&d->metrics, gvd_metrics_registry_free);
  g_free (d);
}
