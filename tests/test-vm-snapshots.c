/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk snapshots against the real libvirtd (QEMU TCG, no GPUs): a snapshot
 * freezes the root overlay and puts a new one on it, copying the NVRAM;
 * revert gives a fresh overlay on the snapshot's layer and the NVRAM back
 * (a running instance is refused); newer snapshots need ?discard_newer;
 * delete keeps the layer; a restarted daemon reads the chain back;
 * deleting the instance leaves no volume. Live: a running guest without an
 * agent gets a crash-consistent snapshot and keeps running, a delete
 * merges on the running domain, events tell each step, and a daemon
 * killed mid-revert leaves a domain that boots. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>
#include <signal.h>
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
snapshot_count (GvdTestDaemon *d, const char *want_first)
{
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_api (d, "GET", "/v1/instances/s1/snapshots", NULL, &status);
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
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
                                 "{\"name\": \"s1\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
                                 " \"memory_mib\": 256, \"root_disk_gib\": 1}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "state"), "running");
  }
  /* A revert of a running instance: refused, naming the way out. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots/before/revert", NULL,
                                 &status);
    assert_int_equal (status, 409);
    gvd_test_assert_error (n, "invalid_state", "shut it down");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/stop", NULL, &status);
    assert_int_equal (status, 200);
  }
  /* Hostile input. */
  {
    g_autoptr(JsonNode) n1 = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots", "{\"name\": \"Bad!\"}", &status);
    assert_int_equal (status, 400);
    gvd_test_assert_error (n1, "invalid_argument", "'name'");
  }
  {
    g_autoptr(JsonNode) n2 = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots", "{\"name\": 7}", &status);
    assert_int_equal (status, 400);
  }
  {
    g_autoptr(JsonNode) n3 = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots",
                                  "{\"name\": \"x\", \"extra\": 1}", &status);
    assert_int_equal (status, 400);
    gvd_test_assert_error (n3, "invalid_argument", "'extra'");
  }
  {
    g_autoptr(JsonNode) n4 = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots/nope/revert", NULL, &status);
    assert_int_equal (status, 404);
  }

  /* The NVRAM the firmware wrote while it ran (libvirt 9.0's own path:
   * the inactive XML names none). */
  nvram_path = g_strdup ("/var/lib/libvirt/qemu/nvram/" DOMAIN "_VARS.fd");
  assert_true (g_file_get_contents (nvram_path, &nvram_a, &len_a, NULL));
  assert_true (len_a > 0);

  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"before\"}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "name"), "before");
    assert_string_equal (gvd_test_json_string (n, "volume"), DOMAIN "-root.qcow2");
    assert_string_equal (gvd_test_json_string (n, "nvram_volume"), DOMAIN "-snap-before.nvram");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots",
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
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"after\"}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "volume"), DOMAIN "-snap-before.qcow2");
  }
  assert_int_equal (snapshot_count (d, "before"), 2);
  /* Not the newest: refused unless newer ones may go. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots/before/revert", NULL, &status);
    assert_int_equal (status, 409);
    gvd_test_assert_error (n, "conflict", "'after'");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots/before/revert?discard_newer=maybe",
                                 NULL, &status);
    assert_int_equal (status, 400);
    gvd_test_assert_error (n, "invalid_argument", "'discard_newer'");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots/before/revert?discard_newer=true",
                                 NULL, &status);
    assert_int_equal (status, 200);
    assert_string_equal (gvd_test_json_string (n, "name"), "before");
  }
  assert_int_equal (snapshot_count (d, "before"), 1);
  assert_false (volume_exists (DOMAIN "-snap-after.qcow2"));
  assert_false (volume_exists (DOMAIN "-snap-after.nvram"));
  assert_false (volume_exists (DOMAIN "-snap-before.qcow2")); /* "after"'s layer */
  /* A fresh top on the snapshot's layer: the 1 GiB of before the change.
   * The snapshot's own top name was "after"'s frozen layer, still there
   * until the switch: the alternate name. */
  xml = domain_xml ();
  assert_non_null (strstr (xml, "volume='" DOMAIN "-snap-before-R.qcow2'"));
  g_clear_pointer (&xml, g_free);
  {
    g_autoptr(virStorageVol) top = volume (DOMAIN "-snap-before-R.qcow2");
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
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/start", NULL, &status);
    assert_int_equal (status, 200);
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/stop", NULL, &status);
    assert_int_equal (status, 200);
  }

  /* Delete: gone from the list, its NVRAM copy deleted, the layer kept. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "DELETE", "/v1/instances/s1/snapshots/before", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (snapshot_count (d, NULL), 0);
  assert_false (volume_exists (DOMAIN "-snap-before.nvram"));
  assert_true (volume_exists (DOMAIN "-root.qcow2"));
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"before\"}", &status);
    assert_int_equal (status, 409);
    gvd_test_assert_error (n, "already_exists", "layer is kept");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots",
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
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots",
                                 "{\"name\": \"m1\"}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "volume"), DOMAIN "-snap-two.qcow2");
  }
  {
    gint64 t0 = g_get_monotonic_time ();
    g_autoptr(JsonNode) n = gvd_test_api (d, "DELETE", "/v1/instances/s1/snapshots/two", NULL, &status);

    assert_int_equal (status, 204);
    print_message ("delete with merge: %.2f s\n", (g_get_monotonic_time () - t0) / 1e6);
  }
  assert_false (volume_exists (DOMAIN "-snap-two.qcow2"));
  assert_int_equal (snapshot_count (d, "m1"), 1);
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "GET", "/v1/instances/s1", NULL, &status);
    assert_string_equal (gvd_test_json_string (n, "state"), "shutoff");
  }
  {
    g_autoptr(virStorageVol) base = volume (DOMAIN "-snap-before-R.qcow2");
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
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/snapshots/m1/revert", NULL, &status);
    assert_int_equal (status, 200);
  }
  /* Onto the snapshot the disk sat on: the alternate name, the old top gone. */
  assert_false (volume_exists (DOMAIN "-snap-m1.qcow2"));
  {
    g_autoptr(virStorageVol) top = volume (DOMAIN "-snap-m1-R.qcow2");
    virStorageVolInfo info;

    assert_int_equal (virStorageVolGetInfo (top, &info), 0);
    assert_int_equal (info.capacity, 3ull << 30);
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/start", NULL, &status);
    assert_int_equal (status, 200);
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/s1/stop", NULL, &status);
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
  assert_true (volume_exists (DOMAIN "-snap-before-R.qcow2"));
  assert_true (volume_exists (DOMAIN "-root.qcow2"));
  assert_true (volume_exists (DOMAIN "-snap-stray.nvram"));
  assert_false (volume_exists (PREFIX "gone-snap-x.nvram"));
  assert_false (volume_exists (PREFIX "gone-snap-x.qcow2"));
  {
    g_autoptr(virStorageVol) stray = volume (DOMAIN "-snap-stray.nvram");
    assert_int_equal (virStorageVolDelete (stray, 0), 0);
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d2, "DELETE", "/v1/instances/s1", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (gvd_test_count_volumes (conn, POOL, DOMAIN "-"), 0);
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

#define LDOMAIN PREFIX "l1"

static char *
live_domain_xml (unsigned int flags)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, LDOMAIN);

  assert_non_null (dom);
  return virDomainGetXMLDesc (dom, flags);
}

static void
assert_state (GvdTestDaemon *d, const char *want)
{
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_api (d, "GET", "/v1/instances/l1", NULL, &status);

  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (n, "state"), want);
}

static void
post_ok (GvdTestDaemon *d, const char *path, const char *body, guint want)
{
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_api (d, "POST", path, body, &status);

  if (status != want)
    fail_msg ("POST %s: %u %s", path, status, n != NULL ? json_to_string (n, FALSE) : "");
}

/* A daemon armed to kill itself at @step; the revert it is asked for
 * never answers. */
static void
revert_killed_at (const char *config, const char *step, const char *path)
{
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(JsonNode) n = NULL;
  guint status = 0;

  g_setenv ("GVD_TEST_CRASH_AT", step, TRUE);
  d = gvd_test_daemon_start (config, NULL);
  g_unsetenv ("GVD_TEST_CRASH_AT");
  gvd_test_daemon_wait_ready (d, 20000);
  n = gvd_test_api (d, "POST", path, NULL, &status);
  assert_int_equal (status, 0);
  assert_true (g_subprocess_wait (d->proc, NULL, NULL));
  assert_true (g_subprocess_get_if_signaled (d->proc));
  assert_int_equal (g_subprocess_get_term_sig (d->proc), SIGKILL);
  g_clear_object (&d->proc);
}

static void
live__running_tcg_no_agent__crash_consistent_chain_revert_events_crashes (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *state_dir = g_dir_make_tmp ("gvdtest-snap-XXXXXX", &error);
  g_autofree char *config = g_strdup_printf (BASE_CONFIG, state_dir, state_dir);
  g_autofree char *image = g_build_filename (state_dir, IMAGE, NULL);
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autoptr(GvdTestDaemon) d3 = NULL;
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
  post_ok (d, "/v1/instances", "{\"name\": \"l1\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
           " \"memory_mib\": 256, \"root_disk_gib\": 1}", 201);

  /* Live, and no guest OS, so no agent: crash-consistent; it keeps running. */
  {
    gint64 t0 = g_get_monotonic_time ();
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/l1/snapshots",
                                 "{\"name\": \"l-a\"}", &status);

    if (status != 201)
      fail_msg ("live snapshot: %u %s", status, json_to_string (n, FALSE));
    print_message ("live snapshot (crash-consistent): %.3f s\n",
                   (g_get_monotonic_time () - t0) / 1e6);
    assert_string_equal (gvd_test_json_string (n, "consistency"), "crash");
    assert_string_equal (gvd_test_json_string (n, "volume"), LDOMAIN "-root.qcow2");
    assert_string_equal (gvd_test_json_string (n, "nvram_volume"), LDOMAIN "-snap-l-a.nvram");
  }
  assert_state (d, "running");
  {
    g_autofree char *live = live_domain_xml (0);
    g_autofree char *inactive = live_domain_xml (VIR_DOMAIN_XML_INACTIVE);

    /* The guest writes to the new top; the definition names it as a volume. */
    assert_non_null (strstr (live, "/" LDOMAIN "-snap-l-a.qcow2'"));
    assert_non_null (strstr (inactive, "volume='" LDOMAIN "-snap-l-a.qcow2'"));
    assert_null (strstr (inactive, "<disk type='file'"));
    assert_null (strstr (inactive, "unused-volumes"));
  }
  /* A second one on the file disk libvirt left. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/l1/snapshots",
                                 "{\"name\": \"l-b\"}", &status);
    assert_int_equal (status, 201);
    assert_string_equal (gvd_test_json_string (n, "volume"), LDOMAIN "-snap-l-a.qcow2");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/l1/snapshots/l-a/revert", NULL,
                                 &status);
    assert_int_equal (status, 409);
    gvd_test_assert_error (n, "invalid_state", "shut it down");
  }
  /* Delete under a newer one while running: a block commit on the running
   * domain merges l-b's frozen layer into l-a's. */
  {
    gint64 t0 = g_get_monotonic_time ();
    g_autoptr(JsonNode) n = gvd_test_api (d, "DELETE", "/v1/instances/l1/snapshots/l-a", NULL, &status);

    if (status != 204)
      fail_msg ("live delete: %u %s", status, n != NULL ? json_to_string (n, FALSE) : "");
    print_message ("live delete with merge: %.3f s\n", (g_get_monotonic_time () - t0) / 1e6);
  }
  assert_state (d, "running");
  assert_false (volume_exists (LDOMAIN "-snap-l-a.qcow2"));
  assert_false (volume_exists (LDOMAIN "-snap-l-a.nvram"));
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "GET", "/v1/instances/l1/snapshots", NULL, &status);
    JsonArray *a = json_node_get_array (gvd_test_json_path (n, "snapshots"));
    JsonObject *o;

    assert_int_equal (json_array_get_length (a), 1);
    o = json_array_get_object_element (a, 0);
    assert_string_equal (json_object_get_string_member (o, "name"), "l-b");
    assert_string_equal (json_object_get_string_member (o, "volume"), LDOMAIN "-root.qcow2");
    assert_string_equal (json_object_get_string_member (o, "consistency"), "crash");
  }
  /* gpuvmctl takes one live too. */
  {
    int rc = -1;
    g_autofree char *c = ctl (d, &rc, "snapshot", "create", "l1", "l-c", "-o", "name", NULL);

    assert_int_equal (rc, 0);
    assert_string_equal (c, "l-c\n");
  }
  /* Stopped, back to l-c: its top has the snapshot's name, so the fresh
   * one takes the alternate; the old top goes. It boots from it. */
  post_ok (d, "/v1/instances/l1/stop", NULL, 200);
  post_ok (d, "/v1/instances/l1/snapshots/l-c/revert", NULL, 200);
  assert_false (volume_exists (LDOMAIN "-snap-l-c.qcow2"));
  {
    g_autofree char *inactive = live_domain_xml (VIR_DOMAIN_XML_INACTIVE);

    assert_non_null (strstr (inactive, "volume='" LDOMAIN "-snap-l-c-R.qcow2'"));
    assert_null (strstr (inactive, "unused-volumes"));
  }
  post_ok (d, "/v1/instances/l1/start", NULL, 200);
  post_ok (d, "/v1/instances/l1/stop", NULL, 200);
  {
    g_autoptr(SoupSession) sse = gvd_test_daemon_session (d, 2);
    g_autofree char *url = g_strconcat (d->url, "/v1/events", NULL);
    g_autofree char *events = gvd_test_sse_replay (sse, url);

    assert_non_null (strstr (events, "event: snapshot.created\ndata: {\"name\":\"l1\","
                                     "\"snapshot\":\"l-a\",\"consistency\":\"crash\""));
    assert_non_null (strstr (events, "event: snapshot.deleted\ndata: {\"name\":\"l1\","
                                     "\"snapshot\":\"l-a\",\"merged\":true"));
    assert_non_null (strstr (events, "event: snapshot.reverted\ndata: {\"name\":\"l1\","
                                     "\"snapshot\":\"l-c\""));
    /* Refused by its checks: no event. */
    assert_null (strstr (events, "snapshot.failed"));
  }
  gvd_test_daemon_stop (d, TRUE);
  g_clear_pointer (&d, gvd_test_daemon_free);

  /* Killed once the new overlay is made: the domain is untouched. */
  revert_killed_at (config, "revert-overlay", "/v1/instances/l1/snapshots/l-c/revert");
  assert_true (volume_exists (LDOMAIN "-snap-l-c.qcow2"));
  {
    g_autofree char *inactive = live_domain_xml (VIR_DOMAIN_XML_INACTIVE);
    assert_non_null (strstr (inactive, "volume='" LDOMAIN "-snap-l-c-R.qcow2'"));
  }
  /* Killed once the domain is switched: on the new overlay, the old one
   * left over (the next revert swept the first leftover first). */
  revert_killed_at (config, "revert-switched", "/v1/instances/l1/snapshots/l-c/revert");
  assert_true (volume_exists (LDOMAIN "-snap-l-c-R.qcow2"));
  {
    g_autofree char *inactive = live_domain_xml (VIR_DOMAIN_XML_INACTIVE);

    assert_non_null (strstr (inactive, "volume='" LDOMAIN "-snap-l-c.qcow2'"));
    assert_non_null (strstr (inactive, "unused-volumes"));
    assert_non_null (strstr (inactive, "name=\"" LDOMAIN "-snap-l-c-R.qcow2\""));
  }
  /* Recovery, and it boots; the next operation (live) sweeps the leftover. */
  d2 = gvd_test_daemon_start (config, NULL);
  gvd_test_daemon_wait_ready (d2, 20000);
  post_ok (d2, "/v1/instances/l1/start", NULL, 200);
  assert_state (d2, "running");
  post_ok (d2, "/v1/instances/l1/snapshots", "{\"name\": \"l-d\"}", 201);
  assert_false (volume_exists (LDOMAIN "-snap-l-c-R.qcow2"));
  assert_true (volume_exists (LDOMAIN "-snap-l-c.qcow2"));
  {
    g_autofree char *inactive = live_domain_xml (VIR_DOMAIN_XML_INACTIVE);
    assert_null (strstr (inactive, "unused-volumes"));
  }
  gvd_test_daemon_stop (d2, TRUE);

  /* A daemon that finds the domain running on a file disk (recovery reads
   * the live XML) deletes the instance with every volume. */
  d3 = gvd_test_daemon_start (config, NULL);
  gvd_test_daemon_wait_ready (d3, 20000);
  assert_state (d3, "running");
  {
    g_autoptr(JsonNode) n = gvd_test_api (d3, "DELETE", "/v1/instances/l1", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (gvd_test_count_volumes (conn, POOL, LDOMAIN "-"), 0);
  gvd_test_daemon_stop (d3, TRUE);

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
    cmocka_unit_test (live__running_tcg_no_agent__crash_consistent_chain_revert_events_crashes),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, NULL, NULL);
}
