/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manual pages stay in step with the key table and the daemon's options. */
#include "config.h"

#include "testlib.h"

#include "gvd-config.h"

#include <glib/gstdio.h>
#include <string.h>

static char *
read_page (const char *name)
{
  g_autofree char *path = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "man", name, NULL);
  char *text = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_file_get_contents (path, &text, NULL, &error))
    fail_msg ("%s", error->message);
  return text;
}

/* The words a roff text line shows: font changes and escapes removed. */
static char *
roff_to_text (const char *line)
{
  static const struct {
    const char *roff;
    const char *text;
  } escapes[] = {
    { "\\fB", "" }, { "\\fI", "" }, { "\\fR", "" }, { "\\fP", "" }, { "\\&", "" },
    { "\\-", "-" }, { "\\(aq", "'" }, { "\\(dq", "\"" }, { "\\e", "\\" },
  };
  g_autoptr(GString) s = g_string_new (line);

  for (gsize i = 0; i < G_N_ELEMENTS (escapes); i++)
    g_string_replace (s, escapes[i].roff, escapes[i].text, 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static gboolean
is_macro (const char *line, const char *name)
{
  gsize n = strlen (name);

  return line[0] == '.' && strncmp (line + 1, name, n) == 0
         && (line[1 + n] == '\0' || line[1 + n] == ' ');
}

/* gpuvmd.conf.5: ".SS [group]" sections of ".TP" / ".B key" entries →
 * "group.key" → the entry's text lines, as shown. */
static GHashTable *
parse_conf_page (const char *page)
{
  GHashTable *entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit (page, "\n", -1);
  g_autofree char *group = NULL;

  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];

      if (is_macro (l, "SH") || is_macro (l, "SS"))
        {
          gsize len = strlen (l);

          g_clear_pointer (&group, g_free);
          if (is_macro (l, "SS") && len > 6 && l[4] == '[' && l[len - 1] == ']')
            group = g_strndup (l + 5, len - 6);
          continue;
        }
      if (group == NULL || !is_macro (l, "TP") || lines[i + 1] == NULL
          || !is_macro (lines[i + 1], "B"))
        continue;

      {
        g_autofree char *name = g_strdup_printf ("%s.%s", group, lines[i + 1] + 3);
        g_autoptr(GString) text = g_string_new (NULL);
        gsize j;

        for (j = i + 2; lines[j] != NULL && !is_macro (lines[j], "TP")
                        && !is_macro (lines[j], "SS") && !is_macro (lines[j], "SH");
             j++)
          if (lines[j][0] != '.')
            {
              g_autofree char *shown = roff_to_text (lines[j]);
              g_string_append_printf (text, "%s ", shown);
            }
        assert_false (g_hash_table_contains (entries, name));
        g_hash_table_insert (entries, g_steal_pointer (&name),
                             g_string_free (g_steal_pointer (&text), FALSE));
        i = j - 1;
      }
    }
  return entries;
}

static void
conf_page__every_key__type_bounds_and_default (void **state)
{
  g_autofree char *page = read_page ("gpuvmd.conf.5");
  g_autoptr(GHashTable) entries = parse_conf_page (page);
  GvdConfigKeyInfo info;
  guint n;

  for (n = 0; gvd_config_key_info (n, &info); n++)
    {
      g_autofree char *name = g_strdup_printf ("%s.%s", info.group, info.key);
      const char *text = g_hash_table_lookup (entries, name);
      g_autofree char *type = NULL;
      g_autofree char *def = NULL;

      if (text == NULL)
        fail_msg ("gpuvmd.conf.5 does not document [%s] %s", info.group, info.key);
      if (g_str_equal (info.type, "integer"))
        type = g_strdup_printf ("Type: integer from %u to %u.", info.min, info.max);
      else if (g_str_has_prefix (info.type, "list of"))
        type = g_strdup_printf ("Type: %s, at most %u entries.", info.type, info.max);
      else
        type = g_strdup_printf ("Type: %s.", info.type);
      def = g_strdup_printf ("Default: %s.", info.def[0] != '\0' ? info.def : "none");
      /* The Types section explains what the type accepts. */
      {
        g_autofree char *entry = g_strdup_printf ("\n.TP\n.B %s\n", info.type);

        if (strstr (page, entry) == NULL)
          fail_msg ("gpuvmd.conf.5 does not explain the type \"%s\"", info.type);
      }
      if (strstr (text, type) == NULL)
        fail_msg ("gpuvmd.conf.5 [%s] %s: no \"%s\" in \"%s\"", info.group, info.key, type,
                  text);
      if (strstr (text, def) == NULL)
        fail_msg ("gpuvmd.conf.5 [%s] %s: no \"%s\" in \"%s\"", info.group, info.key, def,
                  text);
    }
  /* The table is not empty, and the page documents no key it lacks. */
  assert_true (n > 20);
  assert_int_equal (g_hash_table_size (entries), n);
  assert_false (gvd_config_key_info (n, &info));
}

/* "-c", "--config", ... as "gpuvmd --help" lists them. */
static GPtrArray *
daemon_help_options (void)
{
  g_autofree char *binary = gvd_test_build_path ("src", "gpuvmd", NULL);
  const char *argv[] = { binary, "--help", NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GRegex) re = g_regex_new ("^\\s+(?:(-[a-zA-Z]), )?(--[a-z][a-z-]*)", G_REGEX_MULTILINE,
                                      0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  GPtrArray *options = g_ptr_array_new_with_free_func (g_free);

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  if (proc == NULL)
    fail_msg ("%s: %s", binary, error->message);
  if (!g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error))
    fail_msg ("%s --help: %s", binary, error->message);
  assert_true (g_subprocess_get_if_exited (proc));
  assert_int_equal (g_subprocess_get_exit_status (proc), 0);

  g_regex_match (re, out, 0, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *s = g_match_info_fetch (match, 1);

      if (s != NULL && s[0] != '\0')
        g_ptr_array_add (options, g_steal_pointer (&s));
      g_ptr_array_add (options, g_match_info_fetch (match, 2));
      g_match_info_next (match, NULL);
    }
  return options;
}

static char *
option_to_roff (const char *option)
{
  g_autoptr(GString) s = g_string_new (option);

  g_string_replace (s, "-", "\\-", 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static gboolean
options_contain (GPtrArray *options, const char *option)
{
  for (guint i = 0; i < options->len; i++)
    if (g_str_equal (g_ptr_array_index (options, i), option))
      return TRUE;
  return FALSE;
}

static void
daemon_page__every_help_option__documented (void **state)
{
  g_autoptr(GPtrArray) options = daemon_help_options ();
  g_autofree char *page = read_page ("gpuvmd.8");
  g_auto(GStrv) lines = g_strsplit (page, "\n", -1);
  g_autoptr(GRegex) long_opt = g_regex_new ("\\\\-\\\\-[a-z](?:[a-z]|\\\\-)*", 0, 0, NULL);
  gboolean in_options = FALSE;
  guint tags = 0;

  /* What main.c declares, plus GOption's -h/--help. */
  assert_true (options->len >= 10);
  assert_true (options_contain (options, "--config"));
  assert_true (options_contain (options, "--check"));
  for (guint i = 0; i < options->len; i++)
    {
      const char *option = g_ptr_array_index (options, i);
      g_autofree char *roff = option_to_roff (option);
      g_autofree char *tagged = g_strdup_printf ("\\fB%s\\fR", roff);
      g_autofree char *bold = g_strdup_printf ("\n.B %s\n", roff);

      /* Named in the page, and set as an option (bold), not in passing. */
      if (strstr (page, tagged) == NULL && strstr (page, bold) == NULL)
        fail_msg ("gpuvmd.8 does not document %s (as \\fB%s\\fR or .B %s)", option, roff,
                  roff);
    }

  /* Every option the OPTIONS section describes exists. */
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(GMatchInfo) match = NULL;

      if (is_macro (lines[i], "SH"))
        in_options = g_str_equal (lines[i], ".SH OPTIONS");
      if (!in_options || !is_macro (lines[i], "TP") || lines[i + 1] == NULL)
        continue;
      g_regex_match (long_opt, lines[i + 1], 0, &match);
      while (g_match_info_matches (match))
        {
          g_autofree char *roff = g_match_info_fetch (match, 0);
          g_autofree char *option = roff_to_text (roff);

          if (!options_contain (options, option))
            fail_msg ("gpuvmd.8 describes %s, which gpuvmd --help does not list", option);
          tags++;
          g_match_info_next (match, NULL);
        }
    }
  assert_true (tags >= 8);
}

/* gpuvmctl.1: every command "gpuvmctl --help" lists has its entry (a .TP
 * tag starting with the command's words) under COMMANDS, every command the
 * page describes exists, every option is under OPTIONS, and the exit codes
 * are all there. */
static char *
ctl_help (void)
{
  g_autofree char *binary = gvd_test_build_path ("src", "ctl", "gpuvmctl", NULL);
  const char *argv[] = { binary, "--help", NULL };
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  g_subprocess_launcher_setenv (l, "LC_ALL", "C", TRUE);
  proc = g_subprocess_launcher_spawnv (l, argv, &error);
  if (proc == NULL)
    fail_msg ("%s: %s", binary, error->message);
  if (!g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error))
    fail_msg ("gpuvmctl --help: %s", error->message);
  assert_int_equal (g_subprocess_get_exit_status (proc), 0);
  return out;
}

/* The words of a .TP tag line as shown: ".BR devices \" [\" \\-\\-available ]"
 * → "devices [ --available ]". */
static char *
tag_text (const char *line)
{
  g_autofree char *text = roff_to_text (line);
  g_autoptr(GString) s = g_string_new (NULL);
  const char *p = text;

  if (p[0] == '.')
    {
      p = strchr (p, ' ');
      p = p != NULL ? p + 1 : "";
    }
  for (; *p != '\0'; p++)
    if (*p != '"')
      g_string_append_c (s, *p);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
ctl_page__every_help_command_and_option__documented (void **state)
{
  g_autofree char *help = ctl_help ();
  g_autofree char *page = read_page ("gpuvmctl.1");
  g_auto(GStrv) help_lines = g_strsplit (help, "\n", -1);
  g_auto(GStrv) lines = g_strsplit (page, "\n", -1);
  g_autoptr(GPtrArray) commands = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) options = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) options_text = g_string_new (NULL);
  g_autoptr(GRegex) long_opt = g_regex_new ("--[a-z][a-z-]*", 0, 0, NULL);
  const char *section = "";
  const char *page_section = "";
  int depth = 0;

  for (gsize i = 0; help_lines[i] != NULL; i++)
    {
      const char *l = help_lines[i];

      if (l[0] != ' ' && l[0] != '\0')
        section = l;
      else if (g_str_equal (section, "Commands:") && g_str_has_prefix (l, "  "))
        {
          const char *end = strstr (l + 2, "  ");
          g_ptr_array_add (commands, g_strndup (l + 2, end != NULL ? (gsize) (end - l - 2)
                                                                      : strlen (l + 2)));
        }
      else if (g_str_equal (section, "Options:") && g_str_has_prefix (l, "  -"))
        {
          g_autoptr(GMatchInfo) m = NULL;

          g_regex_match (long_opt, l, 0, &m);
          if (g_match_info_matches (m))
            g_ptr_array_add (options, g_match_info_fetch (m, 0));
        }
    }
  assert_true (commands->len >= 24);
  assert_true (options->len >= 8);

  /* The page's command tags (not the create options nested in .RS) and
   * the text of its OPTIONS and EXIT STATUS sections. */
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      if (is_macro (lines[i], "SH"))
        page_section = lines[i];
      if (is_macro (lines[i], "RS"))
        depth++;
      if (is_macro (lines[i], "RE"))
        depth--;
      if (g_str_equal (page_section, ".SH COMMANDS") && depth == 0 && is_macro (lines[i], "TP")
          && lines[i + 1] != NULL)
        g_ptr_array_add (tags, tag_text (lines[i + 1]));
      if (g_str_equal (page_section, ".SH OPTIONS"))
        {
          g_autofree char *t = roff_to_text (lines[i]);
          g_string_append_printf (options_text, "%s\n", t);
        }
    }
  for (guint c = 0; c < commands->len; c++)
    {
      const char *cmd = commands->pdata[c];
      gboolean found = FALSE;

      for (guint t = 0; t < tags->len && !found; t++)
        {
          const char *tag = tags->pdata[t];
          found = g_str_has_prefix (tag, cmd)
                  && (tag[strlen (cmd)] == '\0' || tag[strlen (cmd)] == ' ');
        }
      if (!found)
        fail_msg ("gpuvmctl.1 has no COMMANDS entry for '%s'", cmd);
    }
  for (guint t = 0; t < tags->len; t++)
    {
      gboolean found = FALSE;

      for (guint c = 0; c < commands->len && !found; c++)
        {
          const char *cmd = commands->pdata[c];
          const char *tag = tags->pdata[t];
          found = g_str_has_prefix (tag, cmd)
                  && (tag[strlen (cmd)] == '\0' || tag[strlen (cmd)] == ' ');
        }
      if (!found)
        fail_msg ("gpuvmctl.1 describes '%s', which gpuvmctl --help does not list",
                  (char *) tags->pdata[t]);
    }
  for (guint o = 0; o < options->len; o++)
    if (strstr (options_text->str, options->pdata[o]) == NULL)
      fail_msg ("gpuvmctl.1 OPTIONS does not document %s", (char *) options->pdata[o]);
  /* The exit codes --help names, each with its entry. */
  assert_non_null (strstr (help, "0 ok, 1 API error, 2 usage, 3 daemon not reachable, 4 not found,\n5 conflict"));
  for (int code = 0; code <= 5; code++)
    {
      g_autofree char *entry = g_strdup_printf ("\n.TP\n.B %d\n", code);
      if (strstr (page, entry) == NULL)
        fail_msg ("gpuvmctl.1 EXIT STATUS has no entry for %d", code);
    }
}

/* The pages format without a single warning (what man --warnings shows). */
static void
pages__groff__no_warnings (void **state)
{
  static const char *const pages[] = { "gpuvmd.8", "gpuvmd.conf.5", "gpuvmctl.1" };
  g_autofree char *groff = g_find_program_in_path ("groff");

  if (groff == NULL)
    {
      if (g_strcmp0 (g_getenv ("GVD_REQUIRE_INTEGRATION"), "1") == 0)
        fail_msg ("groff not found (apt-get install groff-base)");
      skip ();
    }
  for (gsize i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *path = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "man", pages[i],
                                                NULL);
      const char *argv[] = { groff, "-man", "-ww", "-z", "-Tutf8", path, NULL };
      g_autoptr(GSubprocess) proc = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *err = NULL;

      proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
      if (proc == NULL)
        fail_msg ("%s: %s", groff, error->message);
      if (!g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error))
        fail_msg ("groff %s: %s", pages[i], error->message);
      if (err[0] != '\0')
        fail_msg ("groff -ww %s warns:\n%s", pages[i], err);
      assert_true (g_subprocess_get_if_exited (proc));
      assert_int_equal (g_subprocess_get_exit_status (proc), 0);
    }
}

/* data/gpuvmd.service as make filled it in; systemd-analyze finds nothing
 * to say about it (run on a copy starting the built binary, since verify
 * wants ExecStart's program to exist). */
static void
unit__generated__paths_filled_and_verified (void **state)
{
  g_autofree char *path = gvd_test_build_path ("data", "gpuvmd.service", NULL);
  g_autofree char *binary = gvd_test_build_path ("src", "gpuvmd", NULL);
  g_autofree char *unit = NULL;
  g_autofree char *analyze = NULL;
  g_autofree char *tmpdir = NULL;
  g_autofree char *copy_path = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GRegex) exec = g_regex_new ("^ExecStart=(/\\S+)/gpuvmd --config /\\S+/gpuvmd/gpuvmd\\.conf$",
                                        G_REGEX_MULTILINE, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  const char *env = g_getenv ("SYSTEMD_ANALYZE");

  if (!g_file_get_contents (path, &unit, NULL, &error))
    fail_msg ("%s", error->message);
  assert_null (strchr (unit, '@'));
  assert_true (g_regex_match (exec, unit, 0, &match));
  assert_non_null (strstr (unit, "\nStateDirectory=gpuvmd\n"));
  assert_non_null (strstr (unit, "\nRestartPreventExitStatus=2\n"));

  analyze = env != NULL && env[0] != '\0' ? g_strdup (env)
                                            : g_find_program_in_path ("systemd-analyze");
  if (analyze == NULL)
    skip ();
  {
    g_autofree char *prefix = g_match_info_fetch (match, 1);
    g_autofree char *from = g_strdup_printf ("ExecStart=%s/gpuvmd ", prefix);
    g_autofree char *to = g_strdup_printf ("ExecStart=%s ", binary);
    g_autoptr(GString) s = g_string_new (unit);

    g_string_replace (s, from, to, 1);
    copy = g_string_free (g_steal_pointer (&s), FALSE);
  }
  tmpdir = g_dir_make_tmp ("test-man-XXXXXX", &error);
  assert_non_null (tmpdir);
  copy_path = g_build_filename (tmpdir, "gpuvmd.service", NULL);
  assert_true (g_file_set_contents (copy_path, copy, -1, &error));
  {
    const char *argv[] = { analyze, "verify", "--man=no", copy_path, NULL };

    proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
    if (proc == NULL)
      fail_msg ("%s: %s", analyze, error->message);
    if (!g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error))
      fail_msg ("%s verify: %s", analyze, error->message);
  }
  g_unlink (copy_path);
  g_rmdir (tmpdir);
  /* Complaints about other units on the host are not ours. */
  lines = g_strsplit (err, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "gpuvmd") != NULL)
      fail_msg ("systemd-analyze verify:\n%s", err);
  assert_true (g_subprocess_get_if_exited (proc));
  assert_int_equal (g_subprocess_get_exit_status (proc), 0);
}

/* The parser itself: a page missing a key or with a wrong default fails. */
static void
parse_conf_page__entries__text_per_key (void **state)
{
  const char *page = ".SH \"GROUPS AND KEYS\"\n"
                     ".SS [daemon]\n"
                     ".TP\n.B listen\nType: listen address.\n"
                     "Default: \\fB127.0.0.1:8787\\fR.\n.br\nThe admin \\- API.\n"
                     ".TP\n.B state_dir\nType: absolute path.\n"
                     ".SS Types\n.TP\n.B integer\nA number.\n";
  g_autoptr(GHashTable) entries = parse_conf_page (page);

  assert_int_equal (g_hash_table_size (entries), 2);
  assert_string_equal (g_hash_table_lookup (entries, "daemon.listen"),
                       "Type: listen address. Default: 127.0.0.1:8787. The admin - API. ");
  assert_string_equal (g_hash_table_lookup (entries, "daemon.state_dir"),
                       "Type: absolute path. ");
  assert_null (g_hash_table_lookup (entries, "Types.integer"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse_conf_page__entries__text_per_key),
    cmocka_unit_test (conf_page__every_key__type_bounds_and_default),
    cmocka_unit_test (daemon_page__every_help_option__documented),
    cmocka_unit_test (ctl_page__every_help_command_and_option__documented),
    cmocka_unit_test (pages__groff__no_warnings),
    cmocka_unit_test (unit__generated__paths_filled_and_verified),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
