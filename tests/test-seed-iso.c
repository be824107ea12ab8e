/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seed ISO writer: read back with isoinfo (volume ids, Joliet, Rock Ridge,
 * file contents byte for byte), memory equals file, large user-data. */
#include "config.h"

#include "testlib.h"

#include "cloudinit.h"
#include "errors.h"
#include "seed-iso.h"

#include <glib/gstdio.h>
#include <string.h>

static GvdCloudInitSeed *
sample_seed (void)
{
  GvdCloudInitSeed *seed = gvd_cloudinit_seed_new ();

  seed->meta_data = g_strdup ("{\n  \"instance-id\" : \"6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b\",\n"
                              "  \"local-hostname\" : \"train-7\"\n}");
  seed->user_data = g_strdup ("#cloud-config\n{\n  \"packages\" : [ \"curl\" ],\n"
                              "  \"final_message\" : \"ünïcödé ✓\"\n}\n");
  seed->network_config = g_strdup ("{\"version\": 2, \"ethernets\": {}}");
  return seed;
}

/* stdout of isoinfo ARGS... -i @path. */
static char *
isoinfo (const char *path, const char *a1, const char *a2, const char *a3, gsize *out_len)
{
  const char *argv[8] = { "/usr/bin/isoinfo", a1, a2, a3, NULL, NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status = 0;
  guint n = 1;

  while (argv[n] != NULL)
    n++;
  argv[n++] = "-i";
  argv[n++] = path;
  if (!g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE))
    fail_msg ("isoinfo is missing (apt-get install genisoimage)");
  assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                             &out, NULL, &status, &error));
  assert_true (g_spawn_check_wait_status (status, NULL));
  if (out_len != NULL)
    *out_len = strlen (out);
  return out;
}

/* The volume id of the Joliet supplementary volume descriptor (type 2 with
 * a UCS-2 escape sequence), parsed from the image's bytes. */
static char *
joliet_volume_id (const char *image, gsize len)
{
  for (gsize sector = 16; (sector + 1) * 2048 <= len; sector++)
    {
      const guchar *d = (const guchar *) image + sector * 2048;

      if (d[0] == 255)
        break;
      if (d[0] == 2 && memcmp (d + 1, "CD001", 5) == 0 && d[88] == '%' && d[89] == '/')
        {
          g_autoptr(GString) id = g_string_new (NULL);
          /* 32 bytes of UCS-2BE at offset 40, space-padded. */
          for (guint i = 0; i < 32; i += 2)
            g_string_append_unichar (id, ((gunichar) d[40 + i] << 8) | d[41 + i]);
          while (id->len > 0 && id->str[id->len - 1] == ' ')
            g_string_truncate (id, id->len - 1);
          return g_string_free (g_steal_pointer (&id), FALSE);
        }
    }
  fail_msg ("no Joliet volume descriptor");
  return NULL;
}

static char *
tmp_iso_path (char **out_dir)
{
  *out_dir = g_dir_make_tmp ("gvd-seed-iso-XXXXXX", NULL);
  assert_non_null (*out_dir);
  return g_build_filename (*out_dir, "seed.iso", NULL);
}

/* Every file comes back byte for byte, through Joliet and Rock Ridge. */
static void
assert_files_equal (const char *path, const GvdCloudInitSeed *seed)
{
  const char *names[] = { "meta-data", "user-data", "network-config" };
  const char *texts[] = { seed->meta_data, seed->user_data, seed->network_config };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *iso_path = g_strdup_printf ("/%s", names[i]);
      g_autofree char *joliet = NULL;
      g_autofree char *rr = NULL;
      g_autofree char *listing = isoinfo (path, "-J", "-f", NULL, NULL);

      if (texts[i] == NULL)
        {
          assert_null (strstr (listing, iso_path));
          continue;
        }
      joliet = isoinfo (path, "-J", "-x", iso_path, NULL);
      rr = isoinfo (path, "-R", "-x", iso_path, NULL);
      assert_string_equal (joliet, texts[i]);
      assert_string_equal (rr, texts[i]);
      assert_non_null (strstr (listing, iso_path));
    }
}

static void
write_file__seed__cidata_joliet_rock_ridge_and_contents (void **state)
{
  g_autoptr(GvdCloudInitSeed) seed = sample_seed ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = tmp_iso_path (&dir);
  g_autofree char *pvd = NULL;
  g_autofree char *joliet = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *image = NULL;
  g_autofree char *jid = NULL;
  gsize image_len = 0;
  GStatBuf st;

  assert_true (gvd_seed_iso_write_file (seed, path, &error));
  assert_null (error);
  assert_int_equal (g_stat (path, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);
  assert_int_equal (st.st_size % 2048, 0);

  pvd = isoinfo (path, "-d", NULL, NULL, NULL);
  assert_non_null (strstr (pvd, "Volume id: CIDATA\n"));
  assert_non_null (strstr (pvd, "Joliet with UCS level 3 found"));
  assert_non_null (strstr (pvd, "Rock Ridge signatures version 1 found"));
  /* The Joliet volume descriptor keeps the lower-case id blkid and
   * cloud-init look for. */
  assert_true (g_file_get_contents (path, &image, &image_len, NULL));
  jid = joliet_volume_id (image, image_len);
  assert_string_equal (jid, "cidata");
  if (g_file_test ("/usr/sbin/blkid", G_FILE_TEST_IS_EXECUTABLE))
    {
      const char *argv[] = { "/usr/sbin/blkid", "-p", "-o", "value", "-s", "LABEL", path, NULL };
      assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &joliet,
                                 NULL, NULL, NULL));
      assert_string_equal (joliet, "cidata\n");
    }
  /* Rock Ridge keeps the names exactly. */
  listing = isoinfo (path, "-R", "-l", NULL, NULL);
  assert_non_null (strstr (listing, " meta-data"));
  assert_non_null (strstr (listing, " network-config"));

  assert_files_equal (path, seed);
  g_unlink (path);
  g_rmdir (dir);
}

static void
build__memory__equals_file_bytes_and_reproducible (void **state)
{
  g_autoptr(GvdCloudInitSeed) seed = sample_seed ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) mem = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GBytes) other = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = tmp_iso_path (&dir);
  g_autofree char *file = NULL;
  gsize file_len = 0;

  mem = gvd_seed_iso_build (seed, &error);
  assert_non_null (mem);
  assert_true (gvd_seed_iso_write_file (seed, path, &error));
  assert_true (g_file_get_contents (path, &file, &file_len, NULL));
  assert_int_equal (g_bytes_get_size (mem), file_len);
  assert_memory_equal (g_bytes_get_data (mem, NULL), file, file_len);

  g_usleep (1100 * 1000); /* a new second: timestamps must not leak in */
  again = gvd_seed_iso_build (seed, &error);
  assert_true (g_bytes_equal (mem, again));

  g_free (seed->user_data);
  seed->user_data = g_strdup ("#cloud-config\n{}\n");
  other = gvd_seed_iso_build (seed, &error);
  assert_false (g_bytes_equal (mem, other));
  g_unlink (path);
  g_rmdir (dir);
}

static void
build__no_network_config__two_files (void **state)
{
  g_autoptr(GvdCloudInitSeed) seed = sample_seed ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = tmp_iso_path (&dir);

  g_clear_pointer (&seed->network_config, g_free);
  assert_true (gvd_seed_iso_write_file (seed, path, &error));
  assert_files_equal (path, seed);
  g_unlink (path);
  g_rmdir (dir);
}

static void
build__one_mib_user_data__read_back_whole (void **state)
{
  g_autoptr(GvdCloudInitSeed) seed = sample_seed ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autoptr(GString) big = g_string_new ("#cloud-config\n{\"bootcmd\": [\"");
  g_autofree char *dir = NULL;
  g_autofree char *path = tmp_iso_path (&dir);

  /* 1 MiB + an odd tail, so the last block is partial. */
  while (big->len < 1024 * 1024 + 777)
    g_string_append_c (big, (char) ('a' + g_rand_int_range (rand, 0, 26)));
  g_string_append (big, "\"]}\n");
  g_free (seed->user_data);
  seed->user_data = g_strdup (big->str);
  assert_true (gvd_seed_iso_write_file (seed, path, &error));
  assert_files_equal (path, seed);
  g_unlink (path);
  g_rmdir (dir);
}

static void
write_file__bad_directory__io_error (void **state)
{
  g_autoptr(GvdCloudInitSeed) seed = sample_seed ();
  g_autoptr(GError) error = NULL;

  assert_false (gvd_seed_iso_write_file (seed, "/nonexistent-gvd-dir/seed.iso", &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_IO));
}

static gpointer
build_in_thread (gpointer data)
{
  return gvd_seed_iso_build (data, NULL);
}

/* iso_init() runs once whichever thread comes first. */
static void
build__concurrent_threads__same_bytes (void **state)
{
  g_autoptr(GvdCloudInitSeed) seed = sample_seed ();
  GThread *threads[4];
  g_autoptr(GBytes) first = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("seed-iso", build_in_thread, seed);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_autoptr(GBytes) b = g_thread_join (threads[i]);
      assert_non_null (b);
      if (first == NULL)
        first = g_bytes_ref (b);
      assert_true (g_bytes_equal (first, b));
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (build__concurrent_threads__same_bytes),
    cmocka_unit_test (write_file__seed__cidata_joliet_rock_ridge_and_contents),
    cmocka_unit_test (build__memory__equals_file_bytes_and_reproducible),
    cmocka_unit_test (build__no_network_config__two_files),
    cmocka_unit_test (build__one_mib_user_data__read_back_whole),
    cmocka_unit_test (write_file__bad_directory__io_error),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
