/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmd: options, configuration, signals, the main loop and the wiring. */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "daemon.h"
#include "gvd-config.h"
#include "virt-conn.h"

#define DEFAULT_CONFIG SYSCONFDIR "/gpuvmd/gpuvmd.conf"

typedef struct {
  char *config_path;
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

/* The admin token file holds a secret: refuse one others can read. */
static char *
read_token_file (const char *path, GError **error)
{
  struct stat st;
  g_autofree char *data = NULL;

  if (g_stat (path, &st) < 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, "admin token file %s: %s", path,
                   g_strerror (errno));
      return NULL;
    }
  if ((st.st_mode & 077) != 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "admin token file %s is readable by others (mode %04o): chmod 600 it", path,
                   st.st_mode & 07777);
      return NULL;
    }
  if (!g_file_get_contents (path, &data, NULL, error))
    return NULL;
  g_strstrip (data);
  if (strlen (data) < 16)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "admin token in %s is shorter than 16 characters", path);
      return NULL;
    }
  return g_steal_pointer (&data);
}

static GvdConfig *
load_config (const Options *o, GError **error)
{
  g_autoptr(GvdConfig) config = gvd_config_new ();
  const char *path = o->config_path != NULL ? o->config_path : DEFAULT_CONFIG;

  /* The default file is optional (built-in defaults apply); a named one is not. */
  if (o->config_path != NULL || g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (!gvd_config_load_file (config, path, error))
        return NULL;
    }

  /* Command-line overrides go through the same validation as the file. */
  {
    g_autoptr(GKeyFile) kf = g_key_file_new ();
    g_autofree char *data = NULL;
    gsize len;

    if (o->listen != NULL)
      g_key_file_set_string (kf, "daemon", "listen", o->listen);
    if (o->state_dir != NULL)
      g_key_file_set_string (kf, "daemon", "state_dir", o->state_dir);
    if (o->libvirt_uri != NULL)
      g_key_file_set_string (kf, "libvirt", "uri", o->libvirt_uri);
    if (o->host_root != NULL)
      {
        g_autofree char *sys = g_build_filename (o->host_root, "sys", NULL);
        g_autofree char *proc = g_build_filename (o->host_root, "proc", NULL);
        g_autofree char *dev = g_build_filename (o->host_root, "dev", NULL);
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

static int
run_daemon (GvdConfig *config)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *url = NULL;
  g_autoptr(GvdApi) admin = NULL;
  GvdDaemon daemon = { 0 };

  if (config->admin_token_file != NULL
      && (token = read_token_file (config->admin_token_file, &error)) == NULL)
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      return 1;
    }

  daemon.config = config;
  daemon.started_at = g_get_monotonic_time ();
  daemon.host_root = gvd_host_root_new (config->sysfs_root, config->procfs_root,
                                        config->devfs_root);

  gvd_virt_event_loop_start ();
  daemon.virt = gvd_virt_conn_new (config->libvirt_uri, config->keepalive_interval,
                                   config->keepalive_count, config->reconnect_max_delay);

  admin = gvd_api_new (&daemon, "admin", token);
  gvd_api_health_register (admin);
  if (!gvd_api_listen (admin, config->listen, &error))
    {
      g_printerr ("gpuvmd: %s\n", error->message);
      g_object_unref (daemon.virt);
      gvd_host_root_free (daemon.host_root);
      return 1;
    }

  gvd_virt_conn_start (daemon.virt);

  url = gvd_api_get_url (admin);
  g_message ("admin API listening on %s%s", url,
             token != NULL ? " (bearer token required)" : "");
  /* One machine-readable line on stdout for scripts and tests. */
  g_print ("admin %s\n", url);
  fflush (stdout);

  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);

  g_clear_pointer (&admin, gvd_api_free);
  gvd_virt_conn_close (daemon.virt);
  g_object_unref (daemon.virt);
  gvd_host_root_free (daemon.host_root);
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
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &o.listen,
      N_("Admin API address, overrides [daemon] listen"), N_("HOST:PORT") },
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

  if (o.check)
    {
      g_printerr (_("gpuvmd: --check is not implemented yet\n"));
      return 1;
    }

  return run_daemon (config);
}
