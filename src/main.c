/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmd: options, configuration, signals, the main loop and the wiring. */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <libxml/parser.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "admin-token.h"
#include "api.h"
#include "capability-gather.h"
#include "config-file.h"
#include "daemon.h"
#include "fault-point.h"
#include "gvd-config.h"
#include "state-dir.h"

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
    /* TRANSLATORS: where a configuration value came from, as a file
     * name would be: "command line: [daemon] listen: ...". */
    if (!gvd_config_load_data (config, data, len, _("command line"), error))
      return NULL;
  }

  if (!gvd_config_validate (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* The agent listener serves only the agent routes (per-instance tokens,
 * no admin token). */
static GvdApi *
start_agent_listener (GvdDaemon *daemon, GError **error)
{
  const GvdConfig *config = daemon->config;
  g_autoptr(GvdApi) api = gvd_api_new (daemon, "agent", NULL);

  gvd_api_set_limits (api, config->agent_max_connections, config->request_timeout);
  /* Guests name the listener as they reach it ([agent] url, e.g.
   * 10.0.2.2:8788 through user-mode networking). */
  if (!gvd_api_add_host_alias (api, config->agent_url, error))
    return NULL;
  gvd_api_agent_register (api);
  if (!gvd_api_listen (api, config->agent_listen, error))
    return NULL;
  return g_steal_pointer (&api);
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

/* Messages for people (--help, --check, startup errors) in the locale's
 * language. The catalogs are in $(localedir); GVD_TEST_LOCALEDIR, a
 * test-only override like GVD_TEST_CRASH_AT, points at the build tree's so
 * `make check` can run the built gpuvmd in another language. The API, the
 * log and the machine-readable lines stay English. */
static void
setup_gettext (void)
{
  const char *dir = g_getenv ("GVD_TEST_LOCALEDIR");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, dir != NULL && dir[0] != '\0' ? dir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

static int
exit_code (const GError *error)
{
  return g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG) ? 2 : 1;
}

/* Takes @config over. */
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
  g_autofree char *agent_url = NULL;
  const GvdDaemonOptions options = { .agent_context = g_main_context_default () };
  /* Freed in reverse order: the listeners before the services they use. */
  g_autoptr(GvdDaemon) daemon = NULL;
  g_autoptr(GvdApi) agent_api = NULL;
  g_autoptr(GvdApi) admin = NULL;

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
      gvd_config_free (config);
      return 2;
    }
  daemon = gvd_daemon_new (config, &options, &error);
  if (daemon == NULL)
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return exit_code (error);
    }
  config = daemon->config;
  agent_api = start_agent_listener (daemon, &error);
  if (agent_api == NULL)
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return exit_code (error);
    }
  if (!load_admin_credentials (config, &token, &token_path, &tls, &error))
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return 2;
    }

  admin = gvd_api_new (daemon, "admin", token);
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
      return exit_code (error);
    }

  gvd_daemon_start (daemon);

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

  if (token != NULL)
    explicit_bzero (token, strlen (token));
  return 0;
}

int
main (int argc, char **argv)
{
  g_auto(Options) o = { 0 };
  g_autoptr(GOptionContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdConfig) config = NULL;
  g_autofree char *config_help = NULL;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &o.config_path,
      NULL /* config_help */, N_("FILE") },
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
  setup_gettext ();

  /* The default path depends on the build (sysconfdir): not in the msgid. */
  /* TRANSLATORS: --help for --config; %s: the default configuration file. */
  config_help = g_strdup_printf (_("Configuration file (default %s)"), DEFAULT_CONFIG);
  entries[0].description = config_help;
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

  return run_daemon (g_steal_pointer (&config));
}
