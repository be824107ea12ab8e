/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* host-file.c: which host files API callers may name (below import_dirs,
 * no "..", no symlinks, regular files only), and that a refused FIFO or
 * device is never opened. */
#include "config.h"

#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-file.h"

static char *dir;    /* the import directory */
static char *other;  /* a directory beside it, not allowed */

static int
setup (void **state)
{
  g_autoptr(GError) error = NULL;

  dir = g_dir_make_tmp ("gvdtest-import-XXXXXX", &error);
  assert_non_null (dir);
  other = g_dir_make_tmp ("gvdtest-other-XXXXXX", &error);
  assert_non_null (other);
  return 0;
}

static int
teardown (void **state)
{
  gvd_test_rm_rf (dir);
  gvd_test_rm_rf (other);
  g_clear_pointer (&dir, g_free);
  g_clear_pointer (&other, g_free);
  return 0;
}

static char *
in (const char *base, const char *name)
{
  return g_build_filename (base, name, NULL);
}

static void
split__paths__dir_and_rest_or_refusal (void **state)
{
  const char *dirs[] = { "/var/lib/gpuvmd/import", "/srv/images/", NULL };
  struct {
    const char *path;
    const char *dir;          /* NULL: refused */
    const char *rest;
    GvdErrorCode code;
  } cases[] = {
    { "/var/lib/gpuvmd/import/a.img", "/var/lib/gpuvmd/import", "a.img", 0 },
    { "/var/lib/gpuvmd/import//sub/a.img", "/var/lib/gpuvmd/import", "sub/a.img", 0 },
    { "/srv/images/x/y.qcow2", "/srv/images/", "x/y.qcow2", 0 },
    { "/etc/shadow", NULL, NULL, GVD_ERROR_FORBIDDEN },
    { "/var/lib/gpuvmd/import", NULL, NULL, GVD_ERROR_FORBIDDEN },
    { "/var/lib/gpuvmd/importer/a.img", NULL, NULL, GVD_ERROR_FORBIDDEN },
    { "/var/lib/gpuvmd/import/../../../etc/shadow", NULL, NULL, GVD_ERROR_FORBIDDEN },
    { "/var/lib/gpuvmd/import/sub/..", NULL, NULL, GVD_ERROR_FORBIDDEN },
    { "/var/lib/gpuvmd/import/./a.img", NULL, NULL, GVD_ERROR_INVALID_ARGUMENT },
    { "var/lib/gpuvmd/import/a.img", NULL, NULL, GVD_ERROR_INVALID_ARGUMENT },
    { "", NULL, NULL, GVD_ERROR_INVALID_ARGUMENT },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *got_dir = NULL;
      g_autofree char *got_rest = NULL;
      gboolean ok = gvd_host_file_split (dirs, cases[i].path, "source_path", &got_dir, &got_rest,
                                         &error);

      if (ok != (cases[i].dir != NULL))
        print_error ("case '%s': %s\n", cases[i].path, error != NULL ? error->message : "ok");
      assert_int_equal (ok, cases[i].dir != NULL);
      if (ok)
        {
          assert_string_equal (got_dir, cases[i].dir);
          assert_string_equal (got_rest, cases[i].rest);
          continue;
        }
      assert_int_equal (error->code, cases[i].code);
      /* Every refusal says where files may be. */
      assert_non_null (strstr (error->message, "/var/lib/gpuvmd/import, /srv/images/"));
      assert_non_null (strstr (error->message, "import_dirs"));
    }
}

static void
split__no_import_dirs__everything_forbidden (void **state)
{
  const char *none[] = { NULL };
  g_autoptr(GError) error = NULL;

  assert_false (gvd_host_file_split (none, "/var/lib/gpuvmd/import/a", "source_path", NULL, NULL,
                                     &error));
  assert_int_equal (error->code, GVD_ERROR_FORBIDDEN);
  assert_non_null (strstr (error->message, "import_dirs is empty"));
}

static void
open__regular_file_below_dir__opened_readable (void **state)
{
  const char *dirs[] = { dir, NULL };
  g_autofree char *sub = in (dir, "sub");
  g_autofree char *path = g_build_filename (dir, "sub", "disk.img", NULL);
  g_autoptr(GError) error = NULL;
  struct stat st;
  char buf[8] = { 0 };
  int fd;

  assert_int_equal (g_mkdir (sub, 0755), 0);
  assert_true (g_file_set_contents (path, "GVDIMAGE", 8, NULL));
  fd = gvd_host_file_open (dirs, path, "source_path", &st, &error);
  assert_null (error);
  assert_true (fd >= 0);
  assert_true (S_ISREG (st.st_mode));
  assert_int_equal (st.st_size, 8);
  assert_int_equal (pread (fd, buf, sizeof buf, 0), 8);
  assert_memory_equal (buf, "GVDIMAGE", 8);
  assert_true (fcntl (fd, F_GETFD) & FD_CLOEXEC);
  close (fd);
  assert_true (gvd_host_file_check (dirs, path, "boot.kernel", NULL));
}

static void
open__outside_and_host_files__forbidden (void **state)
{
  const char *dirs[] = { dir, NULL };
  g_autofree char *beside = in (other, "disk.img");
  const char *paths[] = { "/etc/shadow", "/dev/null", "/dev/watchdog", "/proc/self/environ",
                          beside };

  assert_true (g_file_set_contents (beside, "x", 1, NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(GError) error = NULL;
      struct stat st;

      assert_int_equal (gvd_host_file_open (dirs, paths[i], "source_path", &st, &error), -1);
      assert_int_equal (error->code, GVD_ERROR_FORBIDDEN);
      assert_non_null (strstr (error->message, dir));
    }
}

static void
open__symlinks_inside_dir__forbidden (void **state)
{
  const char *dirs[] = { dir, NULL };
  g_autofree char *to_shadow = in (dir, "shadow.img");
  g_autofree char *to_other = in (dir, "linked-dir");
  g_autofree char *through = g_build_filename (dir, "linked-dir", "disk.img", NULL);
  g_autofree char *target = in (other, "disk.img");
  g_autofree char *real = in (dir, "real.img");
  g_autofree char *relative = in (dir, "relative.img");
  const char *paths[] = { to_shadow, through, relative };

  assert_true (g_file_set_contents (target, "x", 1, NULL));
  assert_true (g_file_set_contents (real, "x", 1, NULL));
  assert_int_equal (symlink ("/etc/shadow", to_shadow), 0);
  assert_int_equal (symlink (other, to_other), 0);
  /* Even a symlink that stays inside the directory is refused. */
  assert_int_equal (symlink ("real.img", relative), 0);
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(GError) error = NULL;
      struct stat st;

      assert_int_equal (gvd_host_file_open (dirs, paths[i], "source_path", &st, &error), -1);
      assert_int_equal (error->code, GVD_ERROR_FORBIDDEN);
      assert_non_null (strstr (error->message, "symbolic link"));
      g_clear_error (&error);
      assert_false (gvd_host_file_check (dirs, paths[i], "boot.kernel", &error));
      assert_int_equal (error->code, GVD_ERROR_FORBIDDEN);
    }
}

static void
open__fifo_and_directory__forbidden_fifo_never_opened (void **state)
{
  const char *dirs[] = { dir, NULL };
  g_autofree char *fifo = in (dir, "pipe.img");
  g_autofree char *sub = in (dir, "subdir.img");
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  struct stat st;
  gint64 t0;
  int w;

  assert_int_equal (mkfifo (fifo, 0600), 0);
  assert_int_equal (g_mkdir (sub, 0755), 0);
  t0 = g_get_monotonic_time ();
  assert_int_equal (gvd_host_file_open (dirs, fifo, "source_path", &st, &error), -1);
  /* It answered at once: a blocking open of the FIFO would hang here. */
  assert_true (g_get_monotonic_time () - t0 < G_USEC_PER_SEC);
  assert_int_equal (error->code, GVD_ERROR_FORBIDDEN);
  assert_non_null (strstr (error->message, "a FIFO, not a regular file"));
  /* No reader ever had it open: a non-blocking writer still finds none. */
  w = open (fifo, O_WRONLY | O_NONBLOCK);
  assert_int_equal (w, -1);
  assert_int_equal (errno, ENXIO);

  assert_int_equal (gvd_host_file_open (dirs, sub, "source_path", &st, &error2), -1);
  assert_int_equal (error2->code, GVD_ERROR_FORBIDDEN);
  assert_non_null (strstr (error2->message, "a directory"));
}

static void
open__missing__invalid_argument (void **state)
{
  const char *dirs[] = { dir, NULL };
  g_autofree char *missing = in (dir, "missing.img");
  g_autoptr(GError) error = NULL;
  struct stat st;

  assert_int_equal (gvd_host_file_open (dirs, missing, "source_path", &st, &error), -1);
  assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
  assert_non_null (strstr (error->message, "No such file"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (split__paths__dir_and_rest_or_refusal),
    cmocka_unit_test (split__no_import_dirs__everything_forbidden),
    cmocka_unit_test_setup_teardown (open__regular_file_below_dir__opened_readable, setup, teardown),
    cmocka_unit_test_setup_teardown (open__outside_and_host_files__forbidden, setup, teardown),
    cmocka_unit_test_setup_teardown (open__symlinks_inside_dir__forbidden, setup, teardown),
    cmocka_unit_test_setup_teardown (open__fifo_and_directory__forbidden_fifo_never_opened, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (open__missing__invalid_argument, setup, teardown),
  };

  return cmocka_run_group_tests_name ("host-file", tests, NULL, NULL);
}
