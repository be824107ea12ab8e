/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk snapshots against the real libvirtd (QEMU TCG, no GPUs): a running
 * instance is refused; a snapshot freezes the root overlay and puts a new
 * one on it, copying the NVRAM; revert gives a fresh overlay on the
 * snapshot's layer and the NVRAM back; newer snapshots need
 * ?discard_newer; delete keeps the layer; a restarted daemon reads the
 * chain back; deleting the instance leaves no volume. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>
#include <stdarg.h>
#include <sys/wait.h>

#define PREFIX "gvdtest-snap-"
#define POOL "gvdtest-snap"
#define POOL_PATH "/var/tmp/gvdtest-snap-pool"
#define IMAGE "gvdsnaptest-blank.raw"
#define DOMAIN PREFIX "s1"
#define BASE_CONFIG                                          \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n"                                         \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\nshutdown_timeout=2\n"

static virConnectPtr conn;

static JsonNode *
api (GvdTestDaemon *d, const char *method, const char *path, const char *body, guint *status)
{
  g_autofree char *url = g_strconcat (d->url, path, NULL);

  return gvd_test_http (d->session, method, url, NULL, body, status);
}

static char *
domain_xml (void)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, DOMAIN);

  assert_non_null (dom);
  return virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
}

static virStorageVolPtr
volume (const char *name)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);

  assert_non_null (pool);
  virStoragePoolRefresh (pool, 0);
  return virStorageVolLookupByName (pool, name);
}

static gboolean
volume_exists (const char *name)
{
  g_autoptr(virStorageVol) vol = volume (name);

  virResetLastError ();
  return vol != NULL;
}

static void
make_raw_volume (const char *name)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);
  g_autofree char *xml = g_strdup_printf ("<volume><name>%s</name><capacity>4096</capacity>"
                                          "<target><format type='raw'/></target></volume>", name);
  g_autoptr(virStorageVol) vol = NULL;

  assert_non_null (pool);
  vol = virStorageVolCreateXML (pool, xml, 0);
  assert_non_null (vol);
}

/* gpuvmctl --socket SOCK ARGS...: its stdout; *@out_status its exit code. */
static char *
ctl (GvdTestDaemon *d, int *out_status, ...)
{
  g_autofree char *binary = gvd_test_build_path ("src", "ctl", "gpuvmctl", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status = 0;
  const char *a;
  va_list ap;

  g_ptr_array_add (argv, binary);
  g_ptr_array_add (argv, (char *) "--socket");
  g_ptr_array_add (argv, d->socket_path);
  va_start (ap, out_status);
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                             NULL, &out, NULL, &status, &error));
  *out_status = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  return out;
}

static guint
count_volumes_with (const char *needle)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);
  virStorageVolPtr *vols = NULL;
  guint count = 0;
  int n;

  if (pool == NULL)
    return 0;
  virStoragePoolRefresh (pool, 0);
  n = virStoragePoolListAllVolumes (pool, &vols, 0);
  for (int i = 0; i < n; i++)
    {
      if (strstr (virStorageVolGetName (vols[i]), needle) != NULL)
        count++;
      virStorageVolFree (vols[i]);
    }
  free (vols);
  return count;
}

static guint
snapshot_count (GvdTestDaemon *d, const char *want_first)
{
  guint status = 0;
  g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/s1/snapshots", NULL, &status);
  JsonArray *a;

  assert_int_equal (status, 200);
  a = json_node_get_array (gvd_test_json_path (n, "snapshots"));
  if (want_first != NULL)
    {
      assert_true (json_array_get_length (a) > 0);
      assert_string_equal (json_object_get_string_member (json_array_get_object_element (a, 0),
                                                          "name"), want_first);
    }
  return json_array_get_length (a);
}

static void
snapshots__create_revert_delete_restart__chain_and_nvram_follow (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = g_dir_make_tmp ("gvdtest-snap-XXXXXX", &error);
  g_autofree char *config = g_strdup_printf (BASE_CONFIG, state_dir, state_dir);
  g_autofree char *image = g_build_filename (state_dir, IMAGE, NULL);
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *nvram_path = NULL;
  g_autofree char *nvram_a = NULL;
  g_autofree char *nvram_now = NULL;
  gsize len_a = 0, len_now = 0;
  guint status = 0;

  conn = virConnectOpen ("qemu:///system");
  assert_non_null (conn);
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
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
                                 "{\"name\": \"s1\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
                                 " \"memory_mib\": 256, \"root_disk_gib\": 1}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "state"), "running");
  }
  /* Running: refused, naming the way out. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"before\"}", &status);
    assert_int_equal (status, 409);
    gvd_test_assert_error (n, "invalid_state", "shut it down");
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/stop", NULL, &status);
    assert_int_equal (status, 200);
  }
  /* Hostile input. */
  {
    g_autoptr(JsonNode) n1 = api (d, "POST", "/v1/instances/s1/snapshots", "{\"name\": \"Bad!\"}", &status);
    assert_int_equal (status, 400);
    gvd_test_assert_error (n1, "invalid_argument", "'name'");
  }
  {
    g_autoptr(JsonNode) n2 = api (d, "POST", "/v1/instances/s1/snapshots", "{\"name\": 7}", &status);
    assert_int_equal (status, 400);
  }
  {
    g_autoptr(JsonNode) n3 = api (d, "POST", "/v1/instances/s1/snapshots",
                                  "{\"name\": \"x\", \"extra\": 1}", &status);
    assert_int_equal (status, 400);
    gvd_test_assert_error (n3, "invalid_argument", "'extra'");
  }
  {
    g_autoptr(JsonNode) n4 = api (d, "POST", "/v1/instances/s1/snapshots/nope/revert", NULL, &status);
    assert_int_equal (status, 404);
  }

  /* The NVRAM the firmware wrote while it ran (libvirt 9.0's own path:
   * the inactive XML names none). */
  nvram_path = g_strdup ("/var/lib/libvirt/qemu/nvram/" DOMAIN "_VARS.fd");
  assert_true (g_file_get_contents (nvram_path, &nvram_a, &len_a, NULL));
  assert_true (len_a > 0);

  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"before\"}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "name"), "before");
    assert_string_equal (gvd_test_json_string (n, "volume"), DOMAIN "-root.qcow2");
    assert_string_equal (gvd_test_json_string (n, "nvram_volume"), DOMAIN "-snap-before.nvram");
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"before\"}", &status);
    assert_int_equal (status, 409);
    gvd_test_assert_error (n, "already_exists", "'name'");
  }
  xml = domain_xml ();
  assert_non_null (strstr (xml, "volume='" DOMAIN "-snap-before.qcow2'"));
  g_clear_pointer (&xml, g_free);
  /* The new top is backed by the frozen root overlay. */
  {
    g_autoptr(virStorageVol) root = volume (DOMAIN "-root.qcow2");
    g_autoptr(virStorageVol) top = volume (DOMAIN "-snap-before.qcow2");
    g_autofree char *root_path = virStorageVolGetPath (root);
    g_autofree char *top_xml = virStorageVolGetXMLDesc (top, 0);
    g_autofree char *backing = g_strdup_printf ("<backingStore>\n    <path>%s</path>", root_path);

    assert_non_null (strstr (top_xml, backing));
  }

  /* Change the state: the NVRAM (as the firmware would) and the disk
   * (grow the top overlay), then take a second snapshot. */
  assert_true (g_file_set_contents (nvram_path, "changed", -1, NULL));
  {
    g_autoptr(virStorageVol) top = volume (DOMAIN "-snap-before.qcow2");
    assert_int_equal (virStorageVolResize (top, 2ull << 30, 0), 0);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"after\"}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "volume"), DOMAIN "-snap-before.qcow2");
  }
  assert_int_equal (snapshot_count (d, "before"), 2);
  /* Not the newest: refused unless newer ones may go. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots/before/revert", NULL, &status);
    assert_int_equal (status, 409);
    gvd_test_assert_error (n, "conflict", "'after'");
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots/before/revert?discard_newer=maybe",
                                 NULL, &status);
    assert_int_equal (status, 400);
    gvd_test_assert_error (n, "invalid_argument", "'discard_newer'");
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots/before/revert?discard_newer=true",
                                 NULL, &status);
    assert_int_equal (status, 200);
    assert_string_equal (gvd_test_json_string (n, "name"), "before");
  }
  assert_int_equal (snapshot_count (d, "before"), 1);
  assert_false (volume_exists (DOMAIN "-snap-after.qcow2"));
  assert_false (volume_exists (DOMAIN "-snap-after.nvram"));
  /* A fresh top on the snapshot's layer: the 1 GiB of before the change. */
  xml = domain_xml ();
  assert_non_null (strstr (xml, "volume='" DOMAIN "-snap-before.qcow2'"));
  g_clear_pointer (&xml, g_free);
  {
    g_autoptr(virStorageVol) top = volume (DOMAIN "-snap-before.qcow2");
    virStorageVolInfo info;

    assert_non_null (top);
    assert_int_equal (virStorageVolGetInfo (top, &info), 0);
    assert_int_equal (info.capacity, 1ull << 30);
  }
  assert_true (g_file_get_contents (nvram_path, &nvram_now, &len_now, NULL));
  assert_int_equal (len_now, len_a);
  assert_memory_equal (nvram_now, nvram_a, len_a);
  /* It boots from the reverted disk. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/start", NULL, &status);
    assert_int_equal (status, 200);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/stop", NULL, &status);
    assert_int_equal (status, 200);
  }

  /* Delete: gone from the list, its NVRAM copy deleted, the layer kept. */
  {
    g_autoptr(JsonNode) n = api (d, "DELETE", "/v1/instances/s1/snapshots/before", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (snapshot_count (d, NULL), 0);
  assert_false (volume_exists (DOMAIN "-snap-before.nvram"));
  assert_true (volume_exists (DOMAIN "-root.qcow2"));
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"before\"}", &status);
    assert_int_equal (status, 409);
    gvd_test_assert_error (n, "already_exists", "layer is kept");
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"two\"}", &status);
    assert_int_equal (status, 201);
  }

  /* Deleting a snapshot a newer one sits on merges the layers (QEMU block
   * commit, domain started paused): grow the disk after "two", freeze it
   * with "m1", delete "two": its layer takes in the newer one. */
  {
    g_autoptr(virStorageVol) top = volume (DOMAIN "-snap-two.qcow2");
    assert_int_equal (virStorageVolResize (top, 3ull << 30, 0), 0);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"m1\"}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "volume"), DOMAIN "-snap-two.qcow2");
  }
  {
    gint64 t0 = g_get_monotonic_time ();
    g_autoptr(JsonNode) n = api (d, "DELETE", "/v1/instances/s1/snapshots/two", NULL, &status);

    assert_int_equal (status, 204);
    print_message ("delete with merge: %.2f s\n", (g_get_monotonic_time () - t0) / 1e6);
  }
  assert_false (volume_exists (DOMAIN "-snap-two.qcow2"));
  assert_int_equal (snapshot_count (d, "m1"), 1);
  {
    g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/s1", NULL, &status);
    assert_string_equal (gvd_test_json_string (n, "state"), "shutoff");
  }
  {
    g_autoptr(virStorageVol) base = volume (DOMAIN "-snap-before.qcow2");
    g_autoptr(virStorageVol) top = volume (DOMAIN "-snap-m1.qcow2");
    g_autofree char *base_path = virStorageVolGetPath (base);
    g_autofree char *top_xml = virStorageVolGetXMLDesc (top, 0);
    g_autofree char *backing = g_strdup_printf ("<backingStore>\n    <path>%s</path>", base_path);
    virStorageVolInfo info;

    /* QEMU repointed the layer above; the merged layer grew with it. */
    assert_non_null (strstr (top_xml, backing));
    assert_int_equal (virStorageVolGetInfo (base, &info), 0);
    assert_int_equal (info.capacity, 3ull << 30);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/snapshots/m1/revert", NULL, &status);
    assert_int_equal (status, 200);
  }
  {
    g_autoptr(virStorageVol) top = volume (DOMAIN "-snap-m1.qcow2");
    virStorageVolInfo info;

    assert_int_equal (virStorageVolGetInfo (top, &info), 0);
    assert_int_equal (info.capacity, 3ull << 30);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/start", NULL, &status);
    assert_int_equal (status, 200);
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/s1/stop", NULL, &status);
    assert_int_equal (status, 200);
  }

  /* A restarted daemon reads the chain back from libvirt; its sweep
   * deletes a gone instance's snapshot volumes and keeps a live one's. */
  make_raw_volume (PREFIX "gone-snap-x.nvram");
  make_raw_volume (PREFIX "gone-snap-x.qcow2");
  make_raw_volume (DOMAIN "-snap-stray.nvram");
  gvd_test_daemon_stop (d, TRUE);
  g_clear_pointer (&d, gvd_test_daemon_free);
  d2 = gvd_test_daemon_start (config, NULL);
  gvd_test_daemon_wait_ready (d2, 10000);
  assert_int_equal (snapshot_count (d2, "m1"), 1);
  /* gpuvmctl: list, create, revert, rm. */
  {
    int rc = -1;
    g_autofree char *l1 = ctl (d2, &rc, "snapshot", "list", "s1", "-o", "name", NULL);
    g_autofree char *c = NULL;
    g_autofree char *r = NULL;
    g_autofree char *rm = NULL;
    g_autofree char *l2 = NULL;

    assert_int_equal (rc, 0);
    assert_string_equal (l1, "m1\n");
    c = ctl (d2, &rc, "snapshot", "create", "s1", "three", "-o", "name", NULL);
    assert_int_equal (rc, 0);
    assert_string_equal (c, "three\n");
    r = ctl (d2, &rc, "snapshot", "revert", "s1", "m1", NULL);
    assert_int_not_equal (rc, 0); /* "three" is newer */
    g_free (r);
    r = ctl (d2, &rc, "snapshot", "revert", "s1", "m1", "--discard-newer", NULL);
    assert_int_equal (rc, 0);
    rm = ctl (d2, &rc, "snapshot", "rm", "s1", "m1", NULL);
    assert_int_equal (rc, 0);
    l2 = ctl (d2, &rc, "snapshot", "list", "s1", "-o", "name", NULL);
    assert_int_equal (rc, 0);
    assert_string_equal (l2, "");
  }
  assert_true (volume_exists (DOMAIN "-snap-before.qcow2"));
  assert_true (volume_exists (DOMAIN "-root.qcow2"));
  assert_true (volume_exists (DOMAIN "-snap-stray.nvram"));
  assert_false (volume_exists (PREFIX "gone-snap-x.nvram"));
  assert_false (volume_exists (PREFIX "gone-snap-x.qcow2"));
  {
    g_autoptr(virStorageVol) stray = volume (DOMAIN "-snap-stray.nvram");
    assert_int_equal (virStorageVolDelete (stray, 0), 0);
  }
  {
    g_autoptr(JsonNode) n = api (d2, "DELETE", "/v1/instances/s1", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (count_volumes_with (DOMAIN "-"), 0);
  gvd_test_daemon_stop (d2, TRUE);

  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  virConnectClose (conn);
  g_unlink (image);
  {
    g_autofree char *reg = g_build_filename (state_dir, "registry.json", NULL);
    g_autofree char *sec = g_build_filename (state_dir, "agent-secret", NULL);
    g_unlink (reg);
    g_unlink (sec);
  }
  g_rmdir (state_dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (snapshots__create_revert_delete_restart__chain_and_nvram_follow),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, NULL, NULL);
}
