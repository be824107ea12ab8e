/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one bounded reader of host files: limits, procfs, errors. */
#include "config.h"

#include "testlib.h"

#include "host-read.h"

#include <glib/gstdio.h>
#include <string.h>

static char *
write_tmp (const char *dir, const char *name, gsize len)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autofree char *data = g_strnfill (len, 'x');

  assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
  return path;
}

static void
read__at_limit_ok_over_refused (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvd-host-read-XXXXXX", NULL);
  g_autofree char *at = write_tmp (dir, "at", 100);
  g_autofree char *over = write_tmp (dir, "over", 101);
  g_autofree char *empty = write_tmp (dir, "empty", 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *e = NULL;
  gsize len = 7;

  a = gvd_host_read (at, 100, &len, NULL);
  assert_non_null (a);
  assert_int_equal (len, 100);
  assert_int_equal (strlen (a), 100);
  b = gvd_host_read (over, 100, NULL, &error);
  assert_null (b);
  assert_true (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_FAILED));
  assert_non_null (strstr (error->message, "longer than 100 bytes"));
  e = gvd_host_read (empty, 100, &len, NULL);
  assert_non_null (e);
  assert_int_equal (len, 0);
  gvd_test_rm_rf (dir);
}

static void
read_head__long__first_bytes (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvd-host-read-XXXXXX", NULL);
  g_autofree char *over = write_tmp (dir, "over", 101);
  gsize len = 0;
  g_autofree char *h = gvd_host_read_head (over, 100, &len, NULL);

  assert_non_null (h);
  assert_int_equal (len, 100);
  assert_int_equal (strlen (h), 100);
  gvd_test_rm_rf (dir);
}

static void
read__missing__noent (void **state)
{
  g_autoptr(GError) error = NULL;

  assert_null (gvd_host_read ("/nonexistent-gvd/x", 10, NULL, &error));
  assert_true (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
  assert_null (gvd_host_read_small ("/nonexistent-gvd/x"));
}

static void
read__procfs_size_zero__whole_file (void **state)
{
  g_autofree char *status = NULL;
  gsize len = 0;
  struct stat st;

  /* procfs reports size 0: the reader must not trust stat. */
  assert_int_equal (g_stat ("/proc/self/status", &st), 0);
  assert_int_equal (st.st_size, 0);
  status = gvd_host_read ("/proc/self/status", GVD_HOST_READ_LARGE, &len, NULL);
  assert_non_null (status);
  assert_true (len > 100);
  assert_non_null (strstr (status, "Name:"));
}

static void
read_small__over_a_page__null (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvd-host-read-XXXXXX", NULL);
  g_autofree char *page = write_tmp (dir, "page", GVD_HOST_READ_SMALL);
  g_autofree char *big = write_tmp (dir, "big", GVD_HOST_READ_SMALL + 1);
  g_autofree char *p = gvd_host_read_small (page);

  assert_non_null (p);
  assert_null (gvd_host_read_small (big));
  gvd_test_rm_rf (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (read__at_limit_ok_over_refused),
    cmocka_unit_test (read_head__long__first_bytes),
    cmocka_unit_test (read__missing__noent),
    cmocka_unit_test (read__procfs_size_zero__whole_file),
    cmocka_unit_test (read_small__over_a_page__null),
  };

  return cmocka_run_group_tests_name ("host-read", tests, NULL, NULL);
}
