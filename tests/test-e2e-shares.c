/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shares seen from inside a real guest (the e2e Debian 12 image, TCG): a
 * read-only 9p share and a writable virtiofs share, both with a mount
 * point, so cloud-init's fstab lines and mounts are what the guest uses. A
 * runcmd script reports on the serial console what the guest reads, whether
 * a write to the read-only share fails (it must: QEMU enforces it) and
 * writes a file into the virtiofs share, which the host then finds.
 *
 * Run by `make check-e2e` (minutes), not by `make check`. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>
#include <sys/stat.h>

#define PREFIX "gvde2es-"
#define POOL "gvde2e-shares"
#define POOL_PATH "/var/tmp/gvde2e-shares-pool"
#define CONSOLE_LOG "/var/log/libvirt/qemu/" PREFIX "fsguest-console.log"
#define DONE_TIMEOUT_S 600

/* The guest build's rootfs, kernel and initrd (scripts/build-guest-image). */
static gboolean
guest_image (char **out_rootfs, char **out_kernel, char **out_initrd)
{
  g_autofree char *script = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "scripts",
                                              "build-guest-image", NULL);
  const char *argv[] = { script, NULL };
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &text, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "rootfs "))
        *out_rootfs = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "kernel "))
        *out_kernel = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "initrd "))
        *out_initrd = g_strdup (lines[i] + 7);
    }
  return *out_rootfs != NULL && *out_kernel != NULL && *out_initrd != NULL;
}

static JsonNode *
api (SoupSession *s, GvdTestDaemon *d, const char *method, const char *path, const char *body,
     guint *status)
{
  g_autofree char *url = g_strconcat (d->url, path, NULL);

  return gvd_test_http (s, method, url, NULL, body, status);
}

/* What the guest does once cloud-init has mounted the shares; each result
 * a "GVD-SHARES key value" line on the console. */
static const char probe_script[] =
  "out=/dev/ttyS0\n"
  "say() { echo \"GVD-SHARES $1 $2\" >$out; }\n"
  "say data-fstype \"$(findmnt -n -o FSTYPE /mnt/data)\"\n"
  "say scratch-fstype \"$(findmnt -n -o FSTYPE /mnt/scratch)\"\n"
  "say data-read \"$(cat /mnt/data/hello.txt 2>&1 | tr ' ' _)\"\n"
  "if touch /mnt/data/guest-wrote 2>/dev/null; then say data-write allowed;"
  " else say data-write refused; fi\n"
  "if echo from-guest >/mnt/scratch/guest-wrote 2>/dev/null; then say scratch-write allowed;"
  " else say scratch-write refused; fi\n"
  "sync\n"
  "say done 1\n";

static char *
cloud_config (void)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "write_files");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, "/root/gvd-shares.sh");
  json_builder_set_member_name (b, "permissions");
  json_builder_add_string_value (b, "0755");
  json_builder_set_member_name (b, "content");
  json_builder_add_string_value (b, probe_script);
  json_builder_end_object (b);
  json_builder_end_array (b);
  /* After gpuvmd's own runcmd entries, which mount the shares. */
  json_builder_set_member_name (b, "runcmd");
  json_builder_begin_array (b);
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "sh");
  json_builder_add_string_value (b, "/root/gvd-shares.sh");
  json_builder_end_array (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* The value of "GVD-SHARES @key VALUE" in @log, or NULL. */
static char *
result (const char *log, const char *key)
{
  g_autofree char *needle = g_strdup_printf ("GVD-SHARES %s ", key);
  const char *p = log != NULL ? strstr (log, needle) : NULL;
  const char *end;

  if (p == NULL)
    return NULL;
  p += strlen (needle);
  end = strpbrk (p, "\r\n");
  return end != NULL ? g_strndup (p, end - p) : g_strdup (p);
}

static void
guest__9p_readonly_virtiofs_writable__as_promised (void **state)
{
  g_autofree char *rootfs = NULL, *kernel = NULL, *initrd = NULL;
  g_autofree char *state_dir = NULL, *shares = NULL, *config = NULL, *cache = NULL;
  g_autofree char *image = NULL, *body = NULL, *cc = NULL, *log = NULL;
  g_autofree char *data = NULL, *scratch = NULL;
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(SoupSession) s = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(GError) error = NULL;
  virConnectPtr conn = virConnectOpen ("qemu:///system");
  goffset offset = 0;
  gint64 t0;
  guint status = 0;

  gvd_test_require (guest_image (&rootfs, &kernel, &initrd),
                    "scripts/build-guest-image could not build the guest");
  assert_non_null (conn);
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  state_dir = g_dir_make_tmp ("gvde2e-shares-XXXXXX", &error);
  assert_non_null (state_dir);
  shares = g_strdup ("/var/tmp/gvde2e-shares-XXXXXX");
  assert_non_null (g_mkdtemp_full (shares, 0755));
  data = g_build_filename (shares, "ro", NULL);
  scratch = g_build_filename (shares, "rw", NULL);
  assert_int_equal (g_mkdir (data, 0755), 0);
  assert_int_equal (g_mkdir (scratch, 0755), 0);
  {
    g_autofree char *hello = g_build_filename (data, "hello.txt", NULL);
    assert_true (g_file_set_contents (hello, "hello from the host\n", -1, NULL));
  }
  {
    g_autofree char *key_dir = g_path_get_dirname (rootfs);
    cache = g_path_get_dirname (key_dir);
  }
  config = g_strdup_printf (
    "[daemon]\nstate_dir=%s\n[libvirt]\ndomain_prefix=" PREFIX "\n"
    "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\nimport_dirs=%s\n"
    "[host]\nshare_dirs=%s\nshare_dirs_writable=%s\n"
    "[agent]\nlisten=127.0.0.1:0\n", state_dir, cache, data, scratch);
  d = gvd_test_daemon_start (config, NULL);
  s = gvd_test_daemon_session (d, 600);
  gvd_test_daemon_wait_ready (d, 20000);

  image = g_strdup ("e2e-shares-debian12.raw");
  {
    g_autofree char *import = g_strdup_printf ("{\"name\": \"%s\", \"source_path\": \"%s\", "
                                               "\"format\": \"raw\"}", image, rootfs);
    g_autoptr(JsonNode) n = api (s, d, "POST", "/v1/images", import, &status);
    if (status != 201 && status != 409)
      fail_msg ("image import answered %u", status);
  }
  {
    struct stat st;
    if (stat (CONSOLE_LOG, &st) == 0)
      offset = st.st_size;
  }
  cc = cloud_config ();
  body = g_strdup_printf (
    "{\"name\": \"fsguest\", \"image\": \"%s\", \"vcpus\": 2, \"memory_mib\": 1024,"
    " \"boot\": {\"kernel\": \"%s\", \"initrd\": \"%s\", \"cmdline\": \"root=/dev/vda console=ttyS0\"},"
    " \"shares\": [{\"source\": \"%s\", \"tag\": \"data\", \"mount_point\": \"/mnt/data\"},"
    " {\"source\": \"%s\", \"tag\": \"scratch\", \"type\": \"virtiofs\", \"readonly\": false,"
    " \"mount_point\": \"/mnt/scratch\"}],"
    " \"cloud_config\": %s}", image, kernel, initrd, data, scratch, cc);
  created = api (s, d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create answered %u: %s", status,
              created != NULL ? json_to_string (created, FALSE) : "(no body)");
  t0 = g_get_monotonic_time ();
  for (;;)
    {
      g_autofree char *text = NULL;
      gsize len = 0;

      if (g_file_get_contents (CONSOLE_LOG, &text, &len, NULL) && (goffset) len > offset)
        {
          g_free (log);
          log = g_strdup (text + offset);
          if (strstr (log, "GVD-SHARES done") != NULL)
            break;
        }
      if (g_get_monotonic_time () - t0 > (gint64) DONE_TIMEOUT_S * G_USEC_PER_SEC)
        {
          print_message ("--- guest console (last 3000 bytes) ---\n%s\n",
                         log == NULL ? "" : strlen (log) > 3000 ? log + strlen (log) - 3000 : log);
          fail_msg ("the guest wrote no 'GVD-SHARES done' within %d s", DONE_TIMEOUT_S);
        }
      g_usleep (G_USEC_PER_SEC);
    }
  print_message ("guest done %.1f s after create returned\n",
                 (g_get_monotonic_time () - t0) / 1e6);
  {
    const char *keys[] = { "data-fstype", "scratch-fstype", "data-read", "data-write",
                           "scratch-write" };
    const char *want[] = { "9p", "virtiofs", "hello_from_the_host", "refused", "allowed" };
    guint bad = 0;

    for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
      {
        g_autofree char *got = result (log, keys[i]);
        gboolean ok = g_strcmp0 (got, want[i]) == 0;

        print_message ("guest %s: %s%s\n", keys[i], got != NULL ? got : "(no line)",
                       ok ? "" : "  <-- NOT AS EXPECTED");
        bad += !ok;
      }
    assert_int_equal (bad, 0);
  }
  /* The host: nothing in the read-only share, the guest's file in the
   * writable one. */
  {
    g_autofree char *ro_file = g_build_filename (data, "guest-wrote", NULL);
    g_autofree char *rw_file = g_build_filename (scratch, "guest-wrote", NULL);
    g_autofree char *text = NULL;

    assert_false (g_file_test (ro_file, G_FILE_TEST_EXISTS));
    assert_true (g_file_get_contents (rw_file, &text, NULL, NULL));
    assert_string_equal (text, "from-guest\n");
  }
  {
    g_autoptr(JsonNode) n = api (s, d, "DELETE", "/v1/instances/fsguest", NULL, &status);
    assert_int_equal (status, 204);
  }
  gvd_test_daemon_stop (d, TRUE);
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  virConnectClose (conn);
  gvd_test_rm_rf (shares);
  gvd_test_rm_rf (state_dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (guest__9p_readonly_virtiofs_writable__as_promised),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("e2e-shares", tests, NULL, NULL);
}
