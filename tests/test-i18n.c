/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Translations: the built gpuvmd speaks German (--check, --help, startup
 * errors) from the catalog made of po/de.po, while its structure, exit codes
 * and the API's report stay as they are. No libvirtd: --check asks
 * test:///default. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libintl.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "capability.h"

typedef struct {
  int status;
  char *out;
  char *err;
} Run;

static void
run_free (Run *run)
{
  g_free (run->out);
  g_free (run->err);
  g_free (run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

/* tests/locale in the build tree: de/LC_MESSAGES/gpuvmd.mo, made by make
 * check from po/de.po. */
static char *
locale_dir (void)
{
  return gvd_test_build_path ("tests", "locale", NULL);
}

static int
setup (void **state)
{
  g_autofree char *dir = locale_dir ();
  g_autofree char *mo = g_build_filename (dir, "de", "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);

  if (!g_file_test (mo, G_FILE_TEST_IS_REGULAR))
    {
      print_message ("SKIP: no %s (msgfmt missing? apt-get install gettext)\n", mo);
      exit (GVD_TEST_SKIP);
    }
  return 0;
}

/* src/gpuvmd with @argv (NULL-terminated), in German (@german) or in the
 * C.UTF-8 locale's English. LANGUAGE picks the catalog: C.UTF-8 is always
 * there, de_DE.UTF-8 needs generated locales. */
static Run *
run_gpuvmd (gboolean german, const char *const *args)
{
  g_autofree char *binary = gvd_test_build_path ("src", "gpuvmd", NULL);
  g_autofree char *dir = locale_dir ();
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) l = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  Run *run = g_new0 (Run, 1);

  g_ptr_array_add (argv, binary);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (l, "LC_ALL", "C.UTF-8", TRUE);
  g_subprocess_launcher_unsetenv (l, "LANG");
  g_subprocess_launcher_setenv (l, "GVD_TEST_LOCALEDIR", dir, TRUE);
  if (german)
    g_subprocess_launcher_setenv (l, "LANGUAGE", "de", TRUE);
  else
    g_subprocess_launcher_unsetenv (l, "LANGUAGE");
  proc = g_subprocess_launcher_spawnv (l, (const char *const *) argv->pdata, &error);
  if (proc == NULL)
    fail_msg ("%s: %s", binary, error->message);
  if (!g_subprocess_communicate_utf8 (proc, NULL, NULL, &run->out, &run->err, &error))
    fail_msg ("%s: %s", binary, error->message);
  assert_true (g_subprocess_get_if_exited (proc));
  run->status = g_subprocess_get_exit_status (proc);
  return run;
}

/* A regular file holding @text, for --config. */
static char *
config_file (const char *text)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("gvdtest-i18n-XXXXXX.conf", &path, &error);

  assert_true (fd >= 0);
  close (fd);
  assert_true (g_file_set_contents (path, text, -1, &error));
  return path;
}

/* The words of a table row: status, category, check name, detail words. */
static GStrv
words (const char *line)
{
  g_auto(GStrv) cols = g_strsplit (line, " ", -1);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (gsize k = 0; cols[k] != NULL; k++)
    if (cols[k][0] != '\0')
      g_strv_builder_add (b, cols[k]);
  return g_strv_builder_end (b);
}

/* The character column where the text after the third column starts (the
 * table is aligned in characters, whatever UTF-8 the labels hold). */
static glong
detail_column (const char *line)
{
  const char *p = line;

  for (int col = 0; col < 3; col++)
    {
      while (*p != '\0' && *p != ' ')
        p++;
      while (*p == ' ')
        p++;
    }
  return g_utf8_pointer_to_offset (line, p);
}

static void
assert_check_translated (const char *fixture)
{
  g_autofree char *root = gvd_test_data_path ("data", "hosts", fixture, NULL);
  g_autofree char *conf = config_file ("");
  const char *args[] = { "--check", "--config", conf, "--host-root", root, "--libvirt-uri",
                         "test:///default", NULL };
  g_autoptr(Run) en = run_gpuvmd (FALSE, args);
  g_autoptr(Run) de = run_gpuvmd (TRUE, args);
  g_auto(GStrv) en_lines = g_strsplit (en->out, "\n", -1);
  g_auto(GStrv) de_lines = g_strsplit (de->out, "\n", -1);
  guint n = g_strv_length (en_lines), rows = 0, remedies = 0;
  glong column;

  print_message ("%s (German):\n%s", fixture, de->out);
  /* Same verdict, same shape: translation changes words, not results. */
  assert_int_equal (de->status, en->status);
  assert_true (en->status == 0 || en->status == 1);
  assert_int_equal (g_strv_length (de_lines), n);
  assert_true (g_str_has_prefix (en_lines[0], "STATUS "));
  assert_true (g_str_has_prefix (de_lines[0], "ERGEBNIS "));
  assert_non_null (strstr (de_lines[0], "PRÜFUNG"));
  column = detail_column (de_lines[0]);
  for (guint i = 1; i < n - 3; i++)
    {
      g_auto(GStrv) ew = words (en_lines[i]);
      g_auto(GStrv) dw = words (de_lines[i]);

      if (en_lines[i][0] == ' ')
        {
          /* A remedy under the detail column, translated. */
          assert_true (g_str_has_prefix (ew[0], "remedy:"));
          assert_string_equal (dw[0], "Abhilfe:");
          assert_int_equal (g_utf8_pointer_to_offset (de_lines[i], strstr (de_lines[i], "Abhilfe:")),
                            column);
          assert_string_not_equal (strstr (en_lines[i], "remedy: ") + strlen ("remedy: "),
                                   strstr (de_lines[i], "Abhilfe: ") + strlen ("Abhilfe: "));
          remedies++;
          continue;
        }
      /* The check's name is an id: the same in every language. */
      assert_true (g_strv_length (ew) > 3 && g_strv_length (dw) > 3);
      assert_string_equal (dw[2], ew[2]);
      assert_string_equal (dw[0], g_str_equal (ew[0], "PASS") ? "OK"
                                  : g_str_equal (ew[0], "WARN") ? "WARNUNG"
                                                                : "FEHLER");
      assert_string_equal (dw[1], g_str_equal (ew[1], "vm") ? "VM" : "Passthrough");
      assert_int_equal (detail_column (de_lines[i]), column);
      /* Every detail reads differently in German. */
      assert_string_not_equal (g_utf8_offset_to_pointer (de_lines[i], column),
                               en_lines[i] + detail_column (en_lines[i]));
      rows++;
    }
  assert_true (rows >= 13);
  assert_true (remedies > 0);
  assert_string_equal (de_lines[n - 3], "");
  assert_true (g_str_has_prefix (de_lines[n - 2], "Fazit: VMs "));
  assert_non_null (strstr (de_lines[n - 2], "GPU-Passthrough "));
  /* No English left over. */
  assert_null (strstr (de->out, "remedy:"));
  assert_null (strstr (de->out, "verdict:"));
  assert_null (strstr (de->out, "failure"));
}

static void
check__german__every_row_translated_same_shape (void **state)
{
  assert_check_translated ("server-8gpu");
  assert_check_translated ("no-iommu");
  assert_check_translated ("nested-guest");
  assert_check_translated ("unsafe-interrupts");
}

static void
help__german__options_and_summary_translated (void **state)
{
  const char *args[] = { "--help", NULL };
  g_autoptr(Run) en = run_gpuvmd (FALSE, args);
  g_autoptr(Run) de = run_gpuvmd (TRUE, args);
  const char *en_default;
  g_autofree char *path = NULL;
  g_autofree char *de_default = NULL;

  print_message ("%s", de->out);
  assert_int_equal (en->status, 0);
  assert_int_equal (de->status, 0);
  assert_non_null (strstr (en->out, "Run GPU-passthrough virtual machines on libvirt."));
  assert_non_null (strstr (de->out, "GPU-Passthrough-VMs auf libvirt betreiben."));
  assert_non_null (strstr (de->out, "--check"));
  assert_non_null (strstr (de->out, "Prüft den Host auf Unterstützung für VMs und "
                                    "GPU-Passthrough"));
  assert_non_null (strstr (de->out, "--config=DATEI"));
  assert_null (strstr (de->out, "Configuration file"));
  assert_null (strstr (de->out, "Print the version"));
  /* The built-in default path is filled into the translated text. */
  en_default = strstr (en->out, "Configuration file (default ");
  assert_non_null (en_default);
  path = g_strndup (en_default + strlen ("Configuration file (default "),
                    strcspn (en_default + strlen ("Configuration file (default "), ")"));
  assert_true (g_str_has_suffix (path, "/gpuvmd/gpuvmd.conf"));
  de_default = g_strdup_printf ("Konfigurationsdatei (Vorgabe %s)", path);
  assert_non_null (strstr (de->out, de_default));
}

static void
startup_errors__german__translated_exit_codes_kept (void **state)
{
  g_autofree char *conf = config_file ("[daemon]\nbogus = 1\n");
  const char *bad_key[] = { "--config", conf, NULL };
  const char *bad_listen[] = { "--config", conf, "--listen", "nowhere", NULL };
  const char *extra[] = { "surplus", NULL };
  g_autoptr(Run) en = run_gpuvmd (FALSE, bad_key);
  g_autoptr(Run) de = run_gpuvmd (TRUE, bad_key);
  g_autoptr(Run) de_arg = run_gpuvmd (TRUE, extra);
  g_autoptr(Run) de_listen = NULL;

  assert_int_equal (en->status, 2);
  assert_int_equal (de->status, 2);
  assert_non_null (strstr (en->err, "unknown key 'bogus' in group [daemon]"));
  assert_non_null (strstr (de->err, "unbekannter Schlüssel 'bogus' in Gruppe [daemon]"));
  assert_int_equal (de_arg->status, 2);
  assert_non_null (strstr (de_arg->err, "gpuvmd: unerwartetes Argument 'surplus'"));

  /* An override from the command line names its source, in German. */
  assert_true (g_file_set_contents (conf, "", 0, NULL));
  de_listen = run_gpuvmd (TRUE, bad_listen);
  print_message ("%s", de_listen->err);
  assert_int_equal (de_listen->status, 2);
  assert_non_null (strstr (de_listen->err, "Befehlszeile: [daemon] listen: 'nowhere' ist keine "
                                           "Adresse mit Port"));
  g_unlink (conf);
}

/* A state directory others may write to: refused before anything starts,
 * with the whole sentence (owner, mode, fix) in German. */
static void
startup_errors__german__untrusted_state_dir (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("gvdtest-i18n-XXXXXX", &error);
  g_autofree char *conf = config_file ("");
  const char *args[] = { "--config", conf, "--state-dir", dir, NULL };
  g_autoptr(Run) en = NULL;
  g_autoptr(Run) de = NULL;
  g_autofree char *en_want = NULL;
  g_autofree char *de_want = NULL;

  assert_non_null (dir);
  assert_int_equal (g_chmod (dir, 0777), 0);
  en = run_gpuvmd (FALSE, args);
  de = run_gpuvmd (TRUE, args);
  print_message ("%s%s", en->err, de->err);
  assert_int_equal (en->status, 2);
  assert_int_equal (de->status, 2);
  en_want = g_strdup_printf ("state directory %s is owned by uid %u", dir, (guint) geteuid ());
  de_want = g_strdup_printf ("Zustandsverzeichnis %s gehört uid %u", dir, (guint) geteuid ());
  assert_non_null (strstr (en->err, en_want));
  assert_non_null (strstr (de->err, de_want));
  assert_non_null (strstr (de->err, "und hat den Modus 0777; es muss"));
  assert_non_null (strstr (de->err, "Abhilfe: chown root:root"));
  assert_null (strstr (de->err, "Fix:"));
  g_rmdir (dir);
  g_unlink (conf);
}

/* A host without KVM, IOMMU or libvirt: many failures, every kind of text. */
static GvdHostFacts *
bare_facts (void)
{
  GvdHostFacts *f = gvd_host_facts_new ();

  f->kvm_path = g_strdup ("/dev/kvm");
  f->cpuinfo_ok = TRUE;
  f->cpu.vendor = GVD_CPU_VENDOR_INTEL;
  f->cpu.vmx = TRUE;
  f->cmdline = g_strsplit ("ro quiet", " ", -1);
  f->ir_active = GVD_TRISTATE_NO;
  f->pool_path = g_strdup ("/var/lib/gpuvmd/pool");
  f->libvirt_uri = g_strdup ("qemu:///system");
  f->libvirt_error = g_strdup ("Failed to connect socket");
  return f;
}

/* In one process with a German locale: the API's report (JSON) keeps its
 * English details, the --check report and the table are German. */
static void
report__german_locale__api_english_check_german (void **state)
{
  g_autofree char *dir = locale_dir ();
  g_autoptr(GvdHostFacts) f = bare_facts ();
  g_autoptr(GvdCapReport) api = NULL;
  g_autoptr(GvdCapReport) check = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_autofree char *table = NULL;
  const GvdCheck *kvm;

  g_setenv ("LANGUAGE", "de", TRUE);
  assert_non_null (setlocale (LC_ALL, "C.UTF-8"));
  assert_non_null (bindtextdomain (GETTEXT_PACKAGE, dir));
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");

  api = gvd_capability_evaluate (f);
  json_builder_begin_object (b);
  gvd_cap_report_to_json (api, b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  assert_non_null (strstr (json, "\"detail\":\"/dev/kvm does not exist: VMs could only run under "
                                 "slow TCG emulation\""));
  assert_non_null (strstr (json, "\"status\":\"fail\""));
  assert_null (strstr (json, "existiert nicht"));

  check = gvd_capability_evaluate_localized (f);
  assert_int_equal (check->checks->len, api->checks->len);
  assert_int_equal (check->failures->len, api->failures->len);
  kvm = gvd_cap_report_find (check, "kvm_device");
  assert_non_null (kvm);
  assert_string_equal (kvm->detail, "/dev/kvm existiert nicht: VMs könnten nur unter der "
                                    "langsamen TCG-Emulation laufen");
  table = gvd_cap_report_format_table (check);
  print_message ("%s", table);
  assert_non_null (strstr (table, "Fazit: VMs nein, GPU-Passthrough nein ("));
  assert_non_null (strstr (table, " Fehler, "));
  assert_null (strstr (table, "remedy:"));

  setlocale (LC_ALL, "C");
  g_unsetenv ("LANGUAGE");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (check__german__every_row_translated_same_shape),
    cmocka_unit_test (help__german__options_and_summary_translated),
    cmocka_unit_test (startup_errors__german__translated_exit_codes_kept),
    cmocka_unit_test (startup_errors__german__untrusted_state_dir),
    cmocka_unit_test (report__german_locale__api_english_check_german),
  };

  return cmocka_run_group_tests (tests, setup, NULL);
}
