/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots and resize together against the real libvirtd (QEMU TCG, no
 * GPUs, no guest OS): a revert to a snapshot taken before a resize rolls
 * back the disk's content, not its size, so the disk libvirt has and the
 * size gpuvmd reports (and a restarted gpuvmd reads back) stay the same.
 * tests/test-e2e-day2.c shows the same from inside a real guest. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>

#define PREFIX "gvdtest-snrs-"
#define POOL "gvdtest-snrs"
#define POOL_PATH "/var/tmp/gvdtest-snrs-pool"
#define IMAGE "gvdsnrs-blank.raw"
#define DOMAIN PREFIX "r"
#define GIB (G_GUINT64_CONSTANT (1) << 30)

static virConnectPtr conn;
static char *state_dir;
/* Here, not on the stack: a failed assertion jumps out of the test, and
 * the teardown stops the daemon. */
static GvdTestDaemon *d;

static JsonNode *
api (GvdTestDaemon *daemon, const char *method, const char *path, const char *body, guint want)
{
  g_autofree char *url = g_strconcat (daemon->url, path, NULL);
  guint status = 0;
  JsonNode *n = gvd_test_http (daemon->session, method, url, NULL, body, &status);

  if (status != want)
    fail_msg ("%s %s answered %u, not %u: %s", method, path, status, want,
              n != NULL ? json_to_string (n, FALSE) : "(no JSON)");
  return n;
}

/* The capacity libvirt reports for the volume the domain boots from: the
 * one volume named @prefix... in the pool (a revert names its fresh top
 * after the snapshot, and deletes the top it replaced). */
static guint64
root_capacity (const char *prefix)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, DOMAIN);
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);
  g_autofree char *xml = NULL;
  g_autofree char *needle = NULL;
  virStorageVolPtr *vols = NULL;
  virStorageVolInfo info = { 0 };
  guint found = 0;
  int n;

  assert_non_null (dom);
  assert_non_null (pool);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  virStoragePoolRefresh (pool, 0);
  n = virStoragePoolListAllVolumes (pool, &vols, 0);
  for (int i = 0; i < n; i++)
    {
      if (g_str_has_prefix (virStorageVolGetName (vols[i]), prefix))
        {
          found++;
          needle = g_strdup_printf ("volume='%s'", virStorageVolGetName (vols[i]));
          assert_int_equal (virStorageVolGetInfo (vols[i], &info), 0);
        }
      virStorageVolFree (vols[i]);
    }
  free (vols);
  assert_int_equal (found, 1);
  assert_non_null (strstr (xml, needle));
  return info.capacity;
}

static void
revert__after_resize__disk_keeps_the_grown_size (void **state)
{
  g_autofree char *config = NULL;
  g_autofree char *image = g_build_filename (state_dir, IMAGE, NULL);

  config = g_strdup_printf ("[daemon]\nstate_dir=%s\n[libvirt]\ndomain_prefix=" PREFIX "\n"
                            "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\nimport_dirs=%s\n"
                            "[agent]\nlisten=127.0.0.1:0\n", state_dir, state_dir);
  {
    FILE *f = fopen (image, "w");
    assert_non_null (f);
    assert_int_equal (fseek (f, 64 * 1024 * 1024 - 1, SEEK_SET), 0);
    assert_int_equal (fputc (0, f), 0);
    fclose (f);
  }
  d = gvd_test_daemon_start (config, NULL);
  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, image);
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances",
                                 "{\"name\": \"r\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
                                 " \"memory_mib\": 256, \"root_disk_gib\": 1, \"start\": false}",
                                 201);
    assert_int_equal (gvd_test_json_int (n, "root_disk_bytes"), GIB);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/r/snapshots", "{\"name\": \"small\"}",
                                 201);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/r/resize", "{\"root_disk_gib\": 2}",
                                 200);
    assert_int_equal (gvd_test_json_int (n, "root_disk_bytes"), 2 * GIB);
  }
  assert_int_equal (root_capacity (DOMAIN "-snap-small"), 2 * GIB);

  /* The revert puts a fresh top on the 1 GiB layer; it is as big as the
   * instance says its disk is. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/r/snapshots/small/revert", NULL, 200);
  }
  {
    g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/r", NULL, 200);
    assert_int_equal (gvd_test_json_int (n, "root_disk_bytes"), 2 * GIB);
  }
  assert_int_equal (root_capacity (DOMAIN "-snap-small"), 2 * GIB);
  /* A resize to the size it has is nothing to do, smaller is refused. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/r/resize", "{\"root_disk_gib\": 2}",
                                 200);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/r/resize", "{\"root_disk_gib\": 1}",
                                 400);
    gvd_test_assert_error (n, "invalid_argument", "'root_disk_gib'");
  }
  /* QEMU opens it (the chain is valid at its new size). */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/r/start", NULL, 200);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/r/stop", NULL, 200);
  }

  /* A restarted gpuvmd reads the same size back from the metadata. */
  gvd_test_daemon_stop (d, TRUE);
  g_clear_pointer (&d, gvd_test_daemon_free);
  d = gvd_test_daemon_start (config, NULL);
  gvd_test_daemon_wait_ready (d, 10000);
  {
    g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/r", NULL, 200);
    assert_int_equal (gvd_test_json_int (n, "root_disk_bytes"), 2 * GIB);
  }
  {
    g_autoptr(JsonNode) n = api (d, "DELETE", "/v1/instances/r", NULL, 204);
  }
  gvd_test_daemon_stop (d, TRUE);
}

static int
setup (void **state)
{
  conn = virConnectOpen ("qemu:///system");
  assert_non_null (conn);
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  state_dir = g_dir_make_tmp ("gvdtest-snrs-XXXXXX", NULL);
  assert_non_null (state_dir);
  return 0;
}

/* Also after a failure: no domain, volume or pool of this test stays. */
static int
teardown (void **state)
{
  g_clear_pointer (&d, gvd_test_daemon_free);
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  g_rmdir (POOL_PATH);
  virConnectClose (conn);
  conn = NULL;
  gvd_test_rm_rf (state_dir);
  g_clear_pointer (&state_dir, g_free);
  return 0;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (revert__after_resize__disk_keeps_the_grown_size, setup,
                                     teardown),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, NULL, NULL);
}
