/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl: gpuvmd's command-line client. Global options, command lookup
 * and dispatch, help, exit codes. */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl-error.h"

#define MAX_TOKEN_BYTES 4096

static const GvdCtlOption global_options[] = {
  { "socket", 0, TRUE, FALSE },
  { "url", 0, TRUE, FALSE },
  { "token-file", 0, TRUE, FALSE },
  { "output", 'o', TRUE, FALSE },
  { "json", 0, FALSE, FALSE },
  { "quiet", 'q', FALSE, FALSE },
  { "help", 'h', FALSE, FALSE },
  { "version", 0, FALSE, FALSE },
  { NULL },
};

static const GvdCtlCommand *const tables[] = {
  gvd_ctl_host_commands,
  gvd_ctl_image_commands,
  gvd_ctl_instance_commands,
  gvd_ctl_snapshot_commands,
  gvd_ctl_gpu_commands,
  gvd_ctl_hotplug_commands,
  gvd_ctl_event_commands,
  NULL,
};

static const GvdCtlCommand *
find_command (const char *name)
{
  for (gsize t = 0; tables[t] != NULL; t++)
    for (const GvdCtlCommand *c = tables[t]; c->name != NULL; c++)
      if (g_str_equal (c->name, name))
        return c;
  return NULL;
}

/* "add, rm, clear" for "device"; NULL when @word starts no command pair. */
static char *
sub_commands (const char *word)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_autofree char *prefix = g_strconcat (word, " ", NULL);

  for (gsize t = 0; tables[t] != NULL; t++)
    for (const GvdCtlCommand *c = tables[t]; c->name != NULL; c++)
      if (g_str_has_prefix (c->name, prefix))
        g_string_append_printf (s, "%s%s", s->len > 0 ? ", " : "", c->name + strlen (prefix));
  return s->len > 0 ? g_string_free (g_steal_pointer (&s), FALSE) : NULL;
}

static void
print_help (void)
{
  printf (_("Usage: gpuvmctl [OPTION...] COMMAND [ARG...]\n"
            "gpuvmd's command-line client: talks to the daemon over its HTTP API.\n\n"));
  printf (_("Commands:\n"));
  for (gsize t = 0; tables[t] != NULL; t++)
    for (const GvdCtlCommand *c = tables[t]; c->name != NULL; c++)
      printf ("  %-18s %s\n", c->name, _(c->summary));
  printf (_("\nOptions:\n"
            "  --socket PATH      the daemon's unix socket (default %s; $GPUVMD_SOCKET)\n"
            "  --url URL          talk TCP to URL instead ($GPUVMD_URL), with a bearer token\n"
            "  --token-file FILE  the admin token for --url ($GPUVMD_TOKEN_FILE, or the token\n"
            "                     itself in $GPUVMD_TOKEN)\n"
            "  -o, --output FMT   table (default), json, yaml or name\n"
            "  --json             the same as -o json\n"
            "  -q, --quiet        no progress on the terminal\n"
            "  -h, --help         this help; COMMAND --help: the command's options\n"
            "  --version          print the version\n"),
          GVD_CTL_DEFAULT_SOCKET);
  printf (_("\nExit status: 0 ok, 1 API error, 2 usage, 3 daemon not reachable, 4 not found,\n"
            "5 conflict. See gpuvmctl(1).\n"));
}

static void
print_command_help (const GvdCtlCommand *c)
{
  printf (_("Usage: gpuvmctl %s %s\n%s\n"), c->name, c->synopsis, _(c->summary));
}

static char *
read_token (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;

  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("cannot read the token file: %s"),
                   local->message);
      return NULL;
    }
  g_strstrip (text);
  if (text[0] == '\0' || strlen (text) > MAX_TOKEN_BYTES || strpbrk (text, "\r\n") != NULL)
    {
      /* Never echo the file's content: it is a secret. */
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("%s does not hold one token on one line"), path);
      return NULL;
    }
  return g_steal_pointer (&text);
}

static GvdCtlClient *
make_client (GvdCtlArgs *args, GError **error)
{
  const char *socket = gvd_ctl_args_get (args, "socket");
  const char *url = gvd_ctl_args_get (args, "url");
  const char *token_file = gvd_ctl_args_get (args, "token-file");
  g_autofree char *token = NULL;

  if (socket != NULL && url != NULL)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("give either --socket or --url, not both"));
      return NULL;
    }
  /* An option wins over the environment; a --socket over $GPUVMD_URL. */
  if (socket == NULL && url == NULL)
    {
      url = g_getenv ("GPUVMD_URL");
      if (url != NULL && url[0] == '\0')
        url = NULL;
    }
  if (socket == NULL)
    socket = g_getenv ("GPUVMD_SOCKET");
  if (socket == NULL || socket[0] == '\0')
    socket = GVD_CTL_DEFAULT_SOCKET;
  if (url != NULL)
    {
      if (token_file == NULL)
        token_file = g_getenv ("GPUVMD_TOKEN_FILE");
      if (token_file != NULL && token_file[0] != '\0')
        {
          token = read_token (token_file, error);
          if (token == NULL)
            return NULL;
        }
      else if (g_getenv ("GPUVMD_TOKEN") != NULL && g_getenv ("GPUVMD_TOKEN")[0] != '\0')
        token = g_strdup (g_getenv ("GPUVMD_TOKEN"));
    }
  return gvd_ctl_client_new (socket, url, token, error);
}

static gboolean
run (int argc, char **argv, GError **error)
{
  g_autoptr(GvdCtlArgs) args = gvd_ctl_args_new ();
  const GvdCtlOption *const globals_only[] = { global_options, NULL };
  const GvdCtlCommand *cmd = NULL;
  g_autoptr(GvdCtlClient) client = NULL;
  GvdCtl ctl = { 0 };
  int used = 0;
  int i;

  if (!gvd_ctl_args_parse (args, globals_only, argc - 1, argv + 1, TRUE, &used, error))
    return FALSE;
  i = 1 + used;
  if (gvd_ctl_args_has (args, "version"))
    {
      printf ("gpuvmctl %s\n", PACKAGE_VERSION);
      return TRUE;
    }
  if (i >= argc)
    {
      if (gvd_ctl_args_has (args, "help"))
        {
          print_help ();
          return TRUE;
        }
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("no command given"));
      return FALSE;
    }
  if (i + 1 < argc)
    {
      g_autofree char *two = g_strdup_printf ("%s %s", argv[i], argv[i + 1]);

      if ((cmd = find_command (two)) != NULL)
        i += 2;
    }
  if (cmd == NULL && (cmd = find_command (argv[i])) != NULL)
    i += 1;
  if (cmd == NULL)
    {
      g_autofree char *subs = sub_commands (argv[i]);

      if (subs != NULL)
        g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                     _("'%s' needs a sub-command: %s"), argv[i], subs);
      else
        g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("unknown command '%s'"),
                     argv[i]);
      return FALSE;
    }
  {
    const GvdCtlOption *const all[] = { global_options,
                                        cmd->options != NULL ? cmd->options : global_options,
                                        NULL };

    if (!gvd_ctl_args_parse (args, all, argc - i, argv + i, FALSE, NULL, error))
      return FALSE;
  }
  if (gvd_ctl_args_has (args, "help"))
    {
      print_command_help (cmd);
      return TRUE;
    }
  if (args->positional->len < cmd->min_args || args->positional->len > cmd->max_args)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("usage: gpuvmctl %s %s"),
                   cmd->name, cmd->synopsis);
      return FALSE;
    }
  ctl.format = GVD_CTL_FORMAT_TABLE;
  if (gvd_ctl_args_has (args, "json"))
    ctl.format = GVD_CTL_FORMAT_JSON;
  if (gvd_ctl_args_has (args, "output")
      && !gvd_ctl_format_parse (gvd_ctl_args_get (args, "output"), &ctl.format, error))
    return FALSE;
  client = make_client (args, error);
  if (client == NULL)
    return FALSE;
  ctl.client = client;
  ctl.args = args;
  ctl.tty = isatty (STDOUT_FILENO);
  ctl.progress = ctl.tty && isatty (STDERR_FILENO) && !gvd_ctl_args_has (args, "quiet");
  return cmd->run (&ctl, error);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (run (argc, argv, &error))
    return GVD_CTL_EXIT_OK;
  fflush (stdout);
  fprintf (stderr, "gpuvmctl: %s\n", error->message);
  if (gvd_ctl_exit_for_error (error) == GVD_CTL_EXIT_USAGE)
    fprintf (stderr, _("Try 'gpuvmctl --help'.\n"));
  return gvd_ctl_exit_for_error (error);
}
