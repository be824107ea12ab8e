/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmd: options, configuration, signals, the main loop and the wiring. */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "admin-token.h"
#include "agent.h"
#include "metrics-registry.h"
#include "instance.h"
#include "api.h"
#include "capability.h"
#include "config-file.h"
#include "daemon.h"
#include "daemon-timers.h"
#include "events.h"
#include "fault-point.h"
#include "gvd-config.h"
#include "hostinfo.h"
#include "registry.h"
#include "registry-file.h"
#include "reservations.h"
#include "secret.h"
#include "state-dir.h"
#include "virt-conn.h"

#define DEFAULT_CONFIG SYSCONFDIR "/gpuvmd/gpuvmd.conf"

typedef struct {
  char *config_path;
  char *socket_path;
  char *listen;
  char *libvirt_uri;
  char *host_root;
  char *state_dir;
  gboolean version;
  gboolean check;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->config_path);
  g_free (o->socket_path);
  g_free (o->listen);
  g_free (o->libvirt_uri);
  g_free (o->host_root);
  g_free (o->state_dir);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

static gboolean
on_signal (gpointer data)
{
  GMainLoop *loop = data;

  g_message ("shutting down on signal");
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

static GvdConfig *
load_config (const Options *o, GError **error)
{
  g_autoptr(GvdConfig) config = gvd_config_new ();
  const char *path = o->config_path != NULL ? o->config_path : DEFAULT_CONFIG;

  /* The default file is optional (built-in defaults apply); a named one is not. */
  if (o->config_path != NULL || g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (!gvd_config_file_load (config, path, error))
        return NULL;
    }

  /* Command-line overrides go through the same validation as the file. */
  {
    g_autoptr(GKeyFile) kf = g_key_file_new ();
    g_autofree char *data = NULL;
    gsize len;

    if (o->socket_path != NULL)
      g_key_file_set_string (kf, "daemon", "socket", o->socket_path);
    if (o->listen != NULL)
      g_key_file_set_string (kf, "daemon", "listen", o->listen);
    if (o->state_dir != NULL)
      g_key_file_set_string (kf, "daemon", "state_dir", o->state_dir);
    if (o->libvirt_uri != NULL)
      g_key_file_set_string (kf, "libvirt", "uri", o->libvirt_uri);
    if (o->host_root != NULL)
      {
        /* Relative to the working directory, like any command-line path. */
        g_autofree char *root = g_canonicalize_filename (o->host_root, NULL);
        g_autofree char *sys = g_build_filename (root, "sys", NULL);
        g_autofree char *proc = g_build_filename (root, "proc", NULL);
        g_autofree char *dev = g_build_filename (root, "dev", NULL);
        g_key_file_set_string (kf, "host", "sysfs_root", sys);
        g_key_file_set_string (kf, "host", "procfs_root", proc);
        g_key_file_set_string (kf, "host", "devfs_root", dev);
      }
    data = g_key_file_to_data (kf, &len, NULL);
    if (!gvd_config_load_data (config, data, len, "command line", error))
      return NULL;
  }

  if (!gvd_config_validate (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* The state directory (0700) and the device registry in it. A corrupt
 * registry is fatal: starting without it would forget every name. */
static GvdRegistry *
load_registry (const GvdConfig *config, GError **error)
{
  g_autofree char *path = g_build_filename (config->state_dir, GVD_REGISTRY_FILE_NAME, NULL);

  if (g_mkdir_with_parents (config->state_dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot create the state directory %s: %s",
                   config->state_dir, g_strerror (saved));
      return NULL;
    }
  return gvd_registry_load_file (path, error);
}

/* The agent receiver: the daemon secret tokens derive from (created in
 * the state directory on first start), the health tracker, and the agent
 * listener serving only the agent routes (per-instance tokens, no admin
 * token). */
static gboolean
start_agent_receiver (GvdDaemon *daemon, GvdAgentHub **out_hub, GvdApi **out_api,
                      GError **error)
{
  const GvdConfig *config = daemon->config;
  g_autofree char *path = g_build_filename (config->state_dir, "agent-secret", NULL);
  g_autoptr(GBytes) secret = NULL;
  g_autoptr(GvdAgentHub) hub = NULL;
  g_autoptr(GvdApi) api = NULL;

  if (g_mkdir_with_parents (config->state_dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot create the state directory %s: %s",
                   config->state_dir, g_strerror (saved));
      return FALSE;
    }
  secret = gvd_secret_load_or_create (path, GVD_SECRET_LEN, error);
  if (secret == NULL)
    return FALSE;
  hub = gvd_agent_hub_new (secret, config->heartbeat_interval, config->missed_heartbeats);
  gvd_daemon_timers_attach_agent (hub, NULL);
  gvd_api_agent_log_health (hub);
  daemon->agent = hub;
  api = gvd_api_new (daemon, "agent", NULL);
  gvd_api_set_limits (api, config->agent_max_connections, config->request_timeout);
  /* Guests name the listener as they reach it ([agent] url, e.g.
   * 10.0.2.2:8788 through user-mode networking). */
  if (!gvd_api_add_host_alias (api, config->agent_url, error))
    {
      daemon->agent = NULL;
      return FALSE;
    }
  gvd_api_agent_register (api);
  if (!gvd_api_listen (api, config->agent_listen, error))
    {
      daemon->agent = NULL;
      return FALSE;
    }
  *out_hub = g_steal_pointer (&hub);
  *out_api = g_steal_pointer (&api);
  return TRUE;
}

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

/* A TCP admin listener always needs a bearer token: the configured file,
 * else <state_dir>/admin.token, generated on first start. TLS from PEM
 * files when configured. Failures are configuration errors (exit 2). */
static gboolean
load_admin_credentials (const GvdConfig *config, char **out_token, char **out_token_path,
                        GTlsCertificate **out_tls, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *token = NULL;
  g_autoptr(GTlsCertificate) tls = NULL;
  g_autoptr(GError) local_error = NULL;

  if (config->listen == NULL)
    return TRUE;
  path = config->admin_token_file != NULL
           ? g_strdup (config->admin_token_file)
           : g_build_filename (config->state_dir, GVD_ADMIN_TOKEN_FILE_NAME, NULL);
  token = gvd_admin_token_load (path, config->admin_token_file == NULL, error);
  if (token == NULL)
    return FALSE;
  if (config->tls_cert_file != NULL)
    {
      tls = g_tls_certificate_new_from_files (config->tls_cert_file, config->tls_key_file,
                                              &local_error);
      if (tls == NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                       "[daemon] tls_cert_file %s / tls_key_file %s: %s", config->tls_cert_file,
                       config->tls_key_file, local_error->message);
          explicit_bzero (token, strlen (token));
          return FALSE;
        }
    }
  *out_token = g_steal_pointer (&token);
  *out_token_path = g_steal_pointer (&path);
  *out_tls = g_steal_pointer (&tls);
  return TRUE;
}

static int
run_daemon (GvdConfig *config)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *token_path = NULL;
  g_autoptr(GTlsCertificate) tls = NULL;
  g_autofree char *url = NULL;
  g_autofree char *unix_url = NULL;
  g_autoptr(GvdApi) admin = NULL;
  GvdDaemon daemon = { 0 };
  /* daemon.metrics: freed after every listener that counts into it. */
  g_autoptr(GvdMetricsRegistry) metrics = gvd_metrics_registry_new ();
  g_autoptr(GvdInventory) inventory = NULL; /* daemon.inventory; freed at exit */
  /* daemon.events: freed after everything that emits on it. */
  g_autoptr(GvdEvents) events = gvd_events_new (GVD_EVENTS_RING_SIZE, g_get_real_time);
  /* Freed in reverse order: the listener before the hub it serves. */
  g_autoptr(GvdAgentHub) agent_hub = NULL;
  g_autoptr(GvdApi) agent_api = NULL;
  g_autofree char *agent_url = NULL;

  /* Before anything announces itself: a SIGTERM that arrives while the
   * daemon is still starting (a supervisor, a test that reads the "admin"
   * line and stops at once) must still end in a clean shutdown, not in
   * the default action. */
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);

  /* Nothing in the state directory is trusted unless it is ours (exit 2:
   * the operator must fix owner or mode; see gpuvmd(8)). */
  if (!gvd_state_dir_prepare (config->state_dir, &error))
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return 2;
    }
  daemon.config = config;
  daemon.started_at = g_get_monotonic_time ();
  daemon.events = events;
  daemon.metrics = metrics;
  if (!start_agent_receiver (&daemon, &agent_hub, &agent_api, &error))
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG) ? 2 : 1;
    }
  gvd_api_agent_emit_events (agent_hub, events);
  /* gpu_faults[] and the guest GPU metrics name the host device. */
  gvd_agent_hub_set_address_map (agent_hub, gvd_api_metrics_map_guest_address, &daemon);
  if (!load_admin_credentials (config, &token, &token_path, &tls, &error))
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return 2;
    }
  daemon.registry = load_registry (config, &error);
  if (daemon.registry == NULL)
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return 1;
    }
  daemon.quarantined = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  daemon.host_root = gvd_host_root_new (config->sysfs_root, config->procfs_root,
                                        config->devfs_root);
  /* A failed scan leaves an empty inventory: nothing can be planned, and
   * the API says so, but the daemon still serves. */
  inventory = gvd_hostinfo_scan (daemon.host_root,
                                 (const char *const *) config->host_critical,
                                 (const char *const *) config->passthrough_devices, &error);
  if (inventory == NULL)
    {
      g_warning ("host PCI inventory scan failed: %s", error->message);
      g_clear_error (&error);
      inventory = gvd_inventory_new ();
    }
  daemon.inventory = inventory;

  gvd_virt_event_loop_start ();
  daemon.virt = gvd_virt_conn_new (config->libvirt_uri, config->keepalive_interval,
                                   config->keepalive_count, config->reconnect_max_delay);
  g_signal_connect (daemon.virt, "connected", G_CALLBACK (emit_libvirt_connected), events);
  g_signal_connect (daemon.virt, "disconnected", G_CALLBACK (emit_libvirt_disconnected), events);
  daemon.claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  daemon.idempotency = gvd_api_instances_idempotency_new ();
  daemon.instances = gvd_instance_manager_new (&daemon);
  /* Reservations hold devices and a MAC/IP from the same allocator the
   * instances use, so a create can take them over. */
  daemon.reservations = gvd_reservations_new (daemon.claims,
                                              gvd_instance_manager_get_ipam (daemon.instances),
                                              g_get_monotonic_time);
  gvd_daemon_timers_attach_reservations (daemon.reservations, NULL);

  admin = gvd_api_new (&daemon, "admin", token);
  gvd_api_health_register (admin);
  gvd_api_plans_register (admin);
  gvd_api_host_register (admin);
  gvd_api_devices_register (admin);
  gvd_api_reservations_register (admin);
  gvd_api_images_register (admin);
  gvd_api_instances_register (admin);
  gvd_api_events_register (admin);
  gvd_api_metrics_register (admin);
  gvd_api_set_tls (admin, tls);
  if ((config->socket_path != NULL
       && !gvd_api_listen_unix (admin, config->socket_path, config->socket_group, &error))
      || (config->listen != NULL && !gvd_api_listen (admin, config->listen, &error)))
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      g_clear_pointer (&admin, gvd_api_free);
      gvd_instance_manager_free (daemon.instances);
      gvd_idem_cache_free (daemon.idempotency);
      gvd_reservations_free (daemon.reservations);
      g_hash_table_unref (daemon.claims);
      g_object_unref (daemon.virt);
      gvd_host_root_free (daemon.host_root);
      gvd_registry_free (daemon.registry);
      g_hash_table_unref (daemon.quarantined);
      return g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG) ? 2 : 1;
    }

  gvd_instance_manager_start (daemon.instances);
  gvd_virt_conn_start (daemon.virt);

  /* One machine-readable line per admin listener on stdout for scripts
   * and tests ("admin unix:PATH", "admin http(s)://HOST:PORT/"), then the
   * agent's. */
  unix_url = gvd_api_get_unix_url (admin);
  if (unix_url != NULL)
    {
      g_message ("admin API listening on %s (no token: the peer's user is checked)",
                 unix_url);
      g_print ("admin %s\n", unix_url);
    }
  url = gvd_api_get_url (admin);
  if (url != NULL)
    {
      g_message ("admin API listening on %s (bearer token in %s)", url, token_path);
      g_print ("admin %s\n", url);
    }
  agent_url = gvd_api_get_url (agent_api);
  g_message ("agent listener on %s (guests reach it as %s)", agent_url, config->agent_url);
  g_print ("agent %s\n", agent_url);
  fflush (stdout);

  g_main_loop_run (loop);

  g_clear_pointer (&admin, gvd_api_free);
  gvd_instance_manager_free (daemon.instances);
  gvd_idem_cache_free (daemon.idempotency);
  gvd_reservations_free (daemon.reservations);
  g_hash_table_unref (daemon.claims);
  gvd_virt_conn_close (daemon.virt);
  g_object_unref (daemon.virt);
  gvd_host_root_free (daemon.host_root);
  gvd_registry_free (daemon.registry);
  g_hash_table_unref (daemon.quarantined);
  if (token != NULL)
    memset (token, 0, strlen (token));
  return 0;
}

int
main (int argc, char **argv)
{
  g_auto(Options) o = { 0 };
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdConfig) config = NULL;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &o.config_path,
      N_("Configuration file (default " DEFAULT_CONFIG ")"), N_("FILE") },
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &o.socket_path,
      N_("Admin API unix socket, overrides [daemon] socket (empty: none)"), N_("PATH") },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &o.listen,
      N_("Admin API TCP address, overrides [daemon] listen (needs a token)"), N_("HOST:PORT") },
    { "libvirt-uri", 0, 0, G_OPTION_ARG_STRING, &o.libvirt_uri,
      N_("libvirt URI, overrides [libvirt] uri"), N_("URI") },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.state_dir,
      N_("State directory, overrides [daemon] state_dir"), N_("DIR") },
    { "host-root", 0, 0, G_OPTION_ARG_FILENAME, &o.host_root,
      N_("Read sys/, proc/ and dev/ below DIR instead of the host's"), N_("DIR") },
    { "check", 0, 0, G_OPTION_ARG_NONE, &o.check,
      N_("Check the host for VM and GPU passthrough support, print a report and exit"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &o.version, N_("Print the version and exit"), NULL },
    { NULL }
  };

  /* libxml2 2.9 initialises itself lazily and not thread-safely; workers
   * parse domain XML concurrently, so do it once, here. */
  xmlInitParser ();
  gvd_fault_init ();
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, _("Run GPU-passthrough virtual machines on libvirt."));
  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr (_("gpuvmd: unexpected argument '%s'\n"), argv[1]);
      return 2;
    }
  if (o.version)
    {
      g_print ("gpuvmd %s\n", PACKAGE_VERSION);
      return 0;
    }

  config = load_config (&o, &error);
  if (config == NULL)
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return 2;
    }

  /* Exit 0 only when the host can run VMs and pass GPUs through. */
  if (o.check)
    {
      g_autoptr(GvdCapReport) report = gvd_capability_check_host (config, NULL);
      g_autofree char *table = gvd_cap_report_format_table (report);

      g_print ("%s", table);
      return report->vm_capable && report->passthrough_capable ? 0 : 1;
    }

  return run_daemon (config);
}
