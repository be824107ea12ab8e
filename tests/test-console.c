/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The serial console: tails of text (core/console-text.c) and reading a
 * log that virtlogd appends to and rotates (host/console-log.c). */
#include "config.h"

#include "testlib.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console-log.h"
#include "console-text.h"
#include "errors.h"

static void
tail__lines__last_n_with_final_newline_not_counted (void **state)
{
  static const struct {
    const char *in;
    guint lines;
    const char *out;
  } cases[] = {
    { "a\nb\nc\n", 1, "c\n" },
    { "a\nb\nc\n", 2, "b\nc\n" },
    { "a\nb\nc\n", 3, "a\nb\nc\n" },
    { "a\nb\nc\n", 99, "a\nb\nc\n" },
    { "a\nb\nc", 1, "c" },
    { "a\nb\nc", 2, "b\nc" },
    { "a\nb\nc\n", 0, "" },
    { "", 5, "" },
    { "\n\n\n", 2, "\n\n" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = gvd_console_text_tail (cases[i].in, strlen (cases[i].in),
                                                    cases[i].lines);
      assert_string_equal (out, cases[i].out);
    }
}

static void
tail__bad_utf8_and_nul__replaced_not_truncated (void **state)
{
  static const char in[] = "ok \xff\xfe mid\0after\n";
  g_autofree char *out = gvd_console_text_tail (in, sizeof in - 1, 10);

  assert_true (g_utf8_validate (out, -1, NULL));
  assert_string_equal (out, "ok \xef\xbf\xbd\xef\xbf\xbd mid\xef\xbf\xbd" "after\n");
}

static void
sse__text__one_event_line_json_escaped (void **state)
{
  static const char in[] = "line 1\nline 2 \x1b[31m\n";
  g_autofree char *ev = gvd_console_text_sse (in, sizeof in - 1, FALSE);
  g_autofree char *rot = gvd_console_text_sse ("", 0, TRUE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *data;

  assert_true (g_str_has_prefix (ev, "event: console\ndata: "));
  assert_true (g_str_has_suffix (ev, "\n\n"));
  data = ev + strlen ("event: console\ndata: ");
  /* The payload is one line: no raw newline until the event's end. */
  assert_int_equal (strchr (data, '\n') - data, strlen (data) - 2);
  assert_true (json_parser_load_from_data (parser, data, (gssize) strlen (data) - 2, NULL));
  assert_string_equal (json_object_get_string_member (
                         json_node_get_object (json_parser_get_root (parser)), "text"),
                       in);
  assert_non_null (strstr (rot, "\"rotated\":true"));
}

static void
log_path__domain__in_libvirt_log_dir (void **state)
{
  g_autofree char *p = gvd_console_log_path (GVD_CONSOLE_LOG_DIR, "gpuvm-a");

  assert_string_equal (p, "/var/log/libvirt/qemu/gpuvm-a-console.log");
}

typedef struct {
  char *dir;
  char *path;
} LogFixture;

static int
log_setup (void **state)
{
  LogFixture *f = g_new0 (LogFixture, 1);

  f->dir = g_dir_make_tmp ("gvdtest-console-XXXXXX", NULL);
  assert_non_null (f->dir);
  f->path = g_build_filename (f->dir, "vm-console.log", NULL);
  *state = f;
  return 0;
}

static int
log_teardown (void **state)
{
  LogFixture *f = *state;
  g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *p = g_build_filename (f->dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
  g_free (f);
  return 0;
}

static void
append (const char *path, const char *text)
{
  FILE *fp = fopen (path, "a");

  assert_non_null (fp);
  assert_int_equal (fputs (text, fp) >= 0, 1);
  fclose (fp);
}

static char *
bytes_text (GBytes *b)
{
  gsize len;
  const char *data = g_bytes_get_data (b, &len);

  return g_strndup (data != NULL ? data : "", len);
}

static void
log__missing_then_appended_then_rotated__read_across (void **state)
{
  LogFixture *f = *state;
  g_autoptr(GError) error = NULL;
  GvdConsoleCursor cursor;
  gboolean rotated = TRUE;
  g_autofree char *rotated_path = g_strconcat (f->path, ".0", NULL);
  GBytes *b;
  char *t;

  /* No log yet: empty, not an error. */
  b = gvd_console_log_read_tail (f->path, 1024, &cursor, &error);
  assert_non_null (b);
  assert_int_equal (g_bytes_get_size (b), 0);
  g_bytes_unref (b);

  /* The log appears: a start, not a rotation. */
  append (f->path, "boot 1\n");
  b = gvd_console_log_read_more (f->path, 1024, &cursor, &rotated, &error);
  t = bytes_text (b);
  assert_string_equal (t, "boot 1\n");
  assert_false (rotated);
  g_free (t);
  g_bytes_unref (b);

  /* Appended: only what is new. */
  append (f->path, "login: ");
  b = gvd_console_log_read_more (f->path, 1024, &cursor, &rotated, &error);
  t = bytes_text (b);
  assert_string_equal (t, "login: ");
  g_free (t);
  g_bytes_unref (b);

  /* Nothing new: empty. */
  b = gvd_console_log_read_more (f->path, 1024, &cursor, &rotated, &error);
  assert_int_equal (g_bytes_get_size (b), 0);
  g_bytes_unref (b);

  /* virtlogd rotates: the old file moves away, a new one starts. */
  assert_int_equal (g_rename (f->path, rotated_path), 0);
  append (f->path, "after rotation\n");
  b = gvd_console_log_read_more (f->path, 1024, &cursor, &rotated, &error);
  t = bytes_text (b);
  assert_string_equal (t, "after rotation\n");
  assert_true (rotated);
  g_free (t);
  g_bytes_unref (b);

  /* Truncated in place: read from the start again. */
  assert_int_equal (truncate (f->path, 0), 0);
  append (f->path, "x\n");
  b = gvd_console_log_read_more (f->path, 1024, &cursor, &rotated, &error);
  t = bytes_text (b);
  assert_string_equal (t, "x\n");
  assert_true (rotated);
  g_free (t);
  g_bytes_unref (b);
}

static void
log__big_file__tail_and_chunks_bounded (void **state)
{
  LogFixture *f = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) big = g_string_new (NULL);
  GvdConsoleCursor cursor;
  GBytes *b;

  for (guint i = 0; i < 100000; i++)
    g_string_append_printf (big, "line %06u\n", i);
  assert_true (g_file_set_contents (f->path, big->str, (gssize) big->len, NULL));
  b = gvd_console_log_read_tail (f->path, 4096, &cursor, &error);
  assert_int_equal (g_bytes_get_size (b), 4096);
  assert_int_equal (cursor.offset, big->len);
  assert_memory_equal (g_bytes_get_data (b, NULL), big->str + big->len - 4096, 4096);
  g_bytes_unref (b);

  append (f->path, big->str);
  b = gvd_console_log_read_more (f->path, 1000, &cursor, NULL, &error);
  assert_int_equal (g_bytes_get_size (b), 1000);
  assert_int_equal (cursor.offset, big->len + 1000);
  g_bytes_unref (b);
}

static void
log__symlink_and_fifo__refused (void **state)
{
  LogFixture *f = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) fifo_error = NULL;
  g_autofree char *fifo = g_build_filename (f->dir, "fifo", NULL);
  GvdConsoleCursor cursor;

  /* A log that points elsewhere (/etc/shadow) is never followed. */
  assert_int_equal (symlink ("/etc/hostname", f->path), 0);
  assert_null (gvd_console_log_read_tail (f->path, 1024, &cursor, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_IO));
  /* A FIFO would block a reader: refused at once. */
  assert_int_equal (mkfifo (fifo, 0600), 0);
  assert_null (gvd_console_log_read_tail (fifo, 1024, &cursor, &fifo_error));
  assert_true (g_error_matches (fifo_error, GVD_ERROR, GVD_ERROR_IO));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (tail__lines__last_n_with_final_newline_not_counted),
    cmocka_unit_test (tail__bad_utf8_and_nul__replaced_not_truncated),
    cmocka_unit_test (sse__text__one_event_line_json_escaped),
    cmocka_unit_test (log_path__domain__in_libvirt_log_dir),
    cmocka_unit_test_setup_teardown (log__missing_then_appended_then_rotated__read_across,
                                     log_setup, log_teardown),
    cmocka_unit_test_setup_teardown (log__big_file__tail_and_chunks_bounded, log_setup,
                                     log_teardown),
    cmocka_unit_test_setup_teardown (log__symlink_and_fifo__refused, log_setup, log_teardown),
  };

  return cmocka_run_group_tests_name ("console", tests, NULL, NULL);
}
