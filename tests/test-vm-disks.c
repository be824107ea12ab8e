/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Data disks and resizes end to end against the real libvirtd (QEMU TCG):
 * new qcow2 and raw volumes on SCSI and SATA in a running domain; existing
 * volumes attached only when safe; network disks only where the operator
 * allowed them; a late failure and a crash leave no volume; recovery reads
 * the disks back; delete keeps what was to be kept; disks grow, never
 * shrink, only while stopped. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"

#include <libvirt/libvirt.h>
#include <signal.h>
#include <string.h>

#define PREFIX "gvdtest-disks-"
#define POOL "gvdtest-disks"
#define POOL_PATH "/var/tmp/gvdtest-disks-pool"
#define IMAGE "gvdtest-dsk-blank.raw" /* not under PREFIX: images are not instance volumes */
#define BASE_CONFIG                                          \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n%s"                                       \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\nshutdown_timeout=2\n"

#define GIB (G_GUINT64_CONSTANT (1) << 30)

typedef struct {
  char *state_dir;
  char *image_file;
  char *config;
  char *config_network; /* network_disks=nbd,rbd for 127.0.0.1 only */
  virConnectPtr conn;
} Fixture;

static Fixture fx;

static int
group_setup (void **state)
{
  fx.conn = virConnectOpen ("qemu:///system");
  if (fx.conn == NULL)
    {
      print_message ("SKIP: no qemu:///system libvirtd\n");
      exit (77);
    }
  /* A blank 64 MiB raw base image (sparse). */
  fx.state_dir = gvd_test_scratch_new (fx.conn, PREFIX, POOL, IMAGE, 64 * 1024 * 1024,
                                       &fx.image_file);
  fx.config = g_strdup_printf (BASE_CONFIG, fx.state_dir, fx.state_dir, "");
  fx.config_network = g_strdup_printf (BASE_CONFIG, fx.state_dir, fx.state_dir,
                                       "network_disks=nbd,rbd\nnetwork_disk_hosts=127.0.0.1\n");
  return 0;
}

static int
group_teardown (void **state)
{
  gvd_test_scratch_remove (fx.conn, PREFIX, POOL, fx.state_dir);
  virConnectClose (fx.conn);
  g_free (fx.state_dir);
  g_free (fx.image_file);
  g_free (fx.config);
  g_free (fx.config_network);
  return 0;
}

/* The instance JSON's data disk named @name. */
static JsonObject *
disk_json (JsonNode *inst, const char *name)
{
  JsonArray *disks = json_node_get_array (gvd_test_json_path (inst, "disks"));

  for (guint i = 0; i < json_array_get_length (disks); i++)
    {
      JsonObject *o = json_array_get_object_element (disks, i);
      if (g_strcmp0 (json_object_get_string_member (o, "name"), name) == 0)
        return o;
    }
  fail_msg ("no data disk '%s' in the instance", name);
  return NULL;
}

/* The data disks' names in the order the instance lists them. */
static char *
disk_names (JsonNode *inst)
{
  JsonArray *disks = json_node_get_array (gvd_test_json_path (inst, "disks"));
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (disks); i++)
    g_string_append_printf (s, "%s%s", i ? "," : "",
                            json_object_get_string_member (json_array_get_object_element (disks, i),
                                                           "name"));
  return g_string_free (s, FALSE);
}

/* Capacity and format of a pool volume; FALSE when it does not exist. */
static gboolean
volume_info (const char *name, guint64 *out_capacity, char **out_format)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (fx.conn, POOL);
  g_autoptr(virStorageVol) vol = NULL;
  virStorageVolInfo info;
  char *xml;

  if (pool == NULL)
    return FALSE;
  virStoragePoolRefresh (pool, 0);
  vol = virStorageVolLookupByName (pool, name);
  if (vol == NULL || virStorageVolGetInfo (vol, &info) < 0)
    return FALSE;
  if (out_capacity != NULL)
    *out_capacity = info.capacity;
  xml = virStorageVolGetXMLDesc (vol, 0);
  if (out_format != NULL)
    *out_format = g_strdup (strstr (xml, "<format type='qcow2'/>") != NULL ? "qcow2"
                            : strstr (xml, "<format type='raw'/>") != NULL ? "raw" : "?");
  free (xml);
  return TRUE;
}

static void
assert_refused (JsonNode *n, guint status, guint want_status, const char *code, const char *needle)
{
  if (status != want_status)
    fail_msg ("status %u, want %u: %s", status, want_status,
              n != NULL ? json_to_string (n, FALSE) : "(no body)");
  gvd_test_assert_error (n, code, needle);
}

static void
data_disks__create_start_resize_recover_delete__volumes_follow_keep (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autofree char *live = NULL;
  g_autofree char *fmt = NULL;
  guint64 cap = 0;
  guint status = 0;
  JsonObject *o;
  const char *body =
    "{\"name\": \"dd\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"root_disk_gib\": 1,"
    " \"disks\": [{\"name\": \"data\", \"size_gib\": 1, \"format\": \"qcow2\", \"bus\": \"scsi\","
    "   \"cache\": \"none\", \"io\": \"native\", \"serial\": \"GVD-DATA-1\", \"keep\": true},"
    "  {\"name\": \"scratch\", \"size_gib\": 2, \"format\": \"raw\", \"bus\": \"sata\"},"
    "  {\"name\": \"fast\", \"size_gib\": 1, \"iothread\": true}]}";
  gint64 t0;

  gvd_test_daemon_wait_ready (d, 20000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);

  t0 = g_get_monotonic_time ();
  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create: %u %s", status, json_to_string (created, FALSE));
  print_message ("create with three data disks → running: %.2f s\n",
                 (g_get_monotonic_time () - t0) / 1e6);
  /* Running under TCG: QEMU opened both volumes. */
  assert_string_equal (gvd_test_json_string (created, "state"), "running");
  o = disk_json (created, "data");
  assert_string_equal (json_object_get_string_member (o, "volume"), PREFIX "dd-kept-data.qcow2");
  assert_string_equal (json_object_get_string_member (o, "bus"), "scsi");
  assert_string_equal (json_object_get_string_member (o, "target"), "sda");
  assert_string_equal (json_object_get_string_member (o, "format"), "qcow2");
  assert_string_equal (json_object_get_string_member (o, "serial"), "GVD-DATA-1");
  assert_true (json_object_get_int_member (o, "size_bytes") == (gint64) GIB);
  assert_true (json_object_get_boolean_member (o, "keep"));
  o = disk_json (created, "scratch");
  assert_string_equal (json_object_get_string_member (o, "volume"), PREFIX "dd-disk-scratch.raw");
  assert_string_equal (json_object_get_string_member (o, "bus"), "sata");
  assert_string_equal (json_object_get_string_member (o, "target"), "sdb");
  assert_false (json_object_get_boolean_member (o, "keep"));
  o = disk_json (created, "fast");
  assert_string_equal (json_object_get_string_member (o, "target"), "vdb");
  /* Listed by target, as they will be after a recovery (libvirt regroups
   * disks by bus: "fast" moves before the SCSI disk in the domain). */
  {
    g_autofree char *names = disk_names (created);
    assert_string_equal (names, "data,scratch,fast");
  }

  /* The volumes in the pool, with their formats and sizes. */
  assert_true (volume_info (PREFIX "dd-kept-data.qcow2", &cap, &fmt));
  assert_string_equal (fmt, "qcow2");
  assert_true (cap == GIB);
  g_clear_pointer (&fmt, g_free);
  assert_true (volume_info (PREFIX "dd-disk-scratch.raw", &cap, &fmt));
  assert_string_equal (fmt, "raw");
  assert_true (cap == 2 * GIB);
  g_clear_pointer (&fmt, g_free);

  /* What libvirt runs: both disks, their buses, driver options, serial. */
  live = gvd_test_domain_xml (fx.conn, PREFIX "dd", 0);
  assert_non_null (live);
  assert_non_null (strstr (live, "volume='" PREFIX "dd-kept-data.qcow2'"));
  assert_non_null (strstr (live, "<target dev='sda' bus='scsi'/>"));
  assert_non_null (strstr (live, "<driver name='qemu' type='qcow2' cache='none' io='native'/>"));
  assert_non_null (strstr (live, "<serial>GVD-DATA-1</serial>"));
  assert_non_null (strstr (live, "volume='" PREFIX "dd-disk-scratch.raw'"));
  assert_non_null (strstr (live, "<target dev='sdb' bus='sata'/>"));
  assert_non_null (strstr (live, "<controller type='scsi'"));
  assert_non_null (strstr (live, "<driver name='qemu' type='qcow2' iothread='1'/>"));
  assert_non_null (strstr (live, "<iothreads>1</iothreads>"));

  /* Existing volumes: another instance's disks, images written to, and
   * root volumes are refused, before anything is made. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"thief\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false,"
      " \"disks\": [{\"name\": \"x\", \"volume\": \"" PREFIX "dd-kept-data.qcow2\"}]}", &status);
    assert_refused (n, status, 409, "conflict", "'disks[0].volume'");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"thief\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false,"
      " \"disks\": [{\"name\": \"x\", \"volume\": \"" IMAGE "\"}]}", &status);
    assert_refused (n, status, 403, "forbidden", "\"readonly\": true");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"thief\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false,"
      " \"disks\": [{\"name\": \"x\", \"volume\": \"" PREFIX "dd-root.qcow2\", \"readonly\": true}]}",
      &status);
    assert_refused (n, status, 403, "forbidden", "'disks[0].volume'");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"thief\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false,"
      " \"disks\": [{\"name\": \"x\", \"nbd\": {\"host\": \"127.0.0.1\"}}]}", &status);
    assert_refused (n, status, 403, "forbidden", "[storage] network_disks");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"thief\", \"image\": \"" IMAGE "\", \"disks\": [{\"name\": \"x\","
      " \"size_gib\": 1, \"bus\": \"ide\"}]}", &status);
    assert_refused (n, status, 400, "invalid_argument", "'disks[0].bus'");
  }
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "thief"), 0);

  /* Resize: only while stopped; grow only. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/dd/resize",
                                          "{\"root_disk_gib\": 2}", &status);
    assert_refused (n, status, 409, "invalid_state", "stop it");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/dd/stop", NULL, &status);
    assert_int_equal (status, 200);
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/dd/resize",
                                          "{\"root_disk_gib\": 2, \"disks\": {\"data\": 3}}",
                                          &status);
    if (status != 200)
      fail_msg ("resize: %u %s", status, json_to_string (n, FALSE));
    assert_true (gvd_test_json_int (n, "root_disk_bytes") == (gint64) (2 * GIB));
    assert_true (json_object_get_int_member (disk_json (n, "data"), "size_bytes")
                 == (gint64) (3 * GIB));
  }
  assert_true (volume_info (PREFIX "dd-root.qcow2", &cap, NULL));
  assert_true (cap == 2 * GIB);
  assert_true (volume_info (PREFIX "dd-kept-data.qcow2", &cap, NULL));
  assert_true (cap == 3 * GIB);
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/dd/resize",
                                          "{\"root_disk_gib\": 1}", &status);
    assert_refused (n, status, 400, "invalid_argument", "'root_disk_gib'");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/dd/resize",
                                          "{\"disks\": {\"scratch\": 1}}", &status);
    assert_refused (n, status, 400, "invalid_argument", "'disks.scratch'");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/dd/resize",
                                          "{\"disks\": {\"nope\": 9}}", &status);
    assert_refused (n, status, 400, "invalid_argument", "'disks.nope'");
  }
  /* One event for the grow that happened, naming each volume's new size;
   * none for the refused ones. */
  {
    g_autoptr(SoupSession) sse = gvd_test_daemon_session (d, 2);
    g_autofree char *events_url = g_strconcat (d->url, "/v1/events", NULL);
    g_autofree char *events = gvd_test_sse_replay (sse, events_url);
    const char *first = strstr (events, "event: instance.resized\n");

    assert_non_null (first);
    assert_null (strstr (first + 1, "event: instance.resized\n"));
    assert_non_null (strstr (first, "data: {\"name\":\"dd\",\"disks\":[{\"volume\":\"" PREFIX
                                    "dd-root.qcow2\",\"bytes\":2147483648},{\"volume\":\"" PREFIX
                                    "dd-kept-data.qcow2\",\"bytes\":3221225472}]"));
  }
  assert_true (volume_info (PREFIX "dd-root.qcow2", &cap, NULL));
  assert_true (cap == 2 * GIB);
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances/dd/start", NULL, &status);
    assert_int_equal (status, 200);
    assert_string_equal (gvd_test_json_string (n, "state"), "running");
  }

  /* A new daemon reads the disks back from the domain. */
  gvd_test_daemon_stop (d, TRUE);
  g_clear_pointer (&d, gvd_test_daemon_free);
  d2 = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d2, 20000);
  {
    g_autoptr(JsonNode) n = gvd_test_api (d2, "GET", "/v1/instances/dd", NULL, &status);
    assert_int_equal (status, 200);
    assert_true (gvd_test_json_int (n, "root_disk_bytes") == (gint64) (2 * GIB));
    o = disk_json (n, "data");
    assert_true (json_object_get_boolean_member (o, "keep"));
    assert_true (json_object_get_int_member (o, "size_bytes") == (gint64) (3 * GIB));
    assert_string_equal (json_object_get_string_member (o, "serial"), "GVD-DATA-1");
    o = disk_json (n, "scratch");
    assert_false (json_object_get_boolean_member (o, "keep"));
    assert_true (json_object_get_int_member (o, "size_bytes") == (gint64) (2 * GIB));
    {
      g_autofree char *names = disk_names (n);
      assert_string_equal (names, "data,scratch,fast");
    }
  }

  /* Delete: everything but the kept volume. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d2, "DELETE", "/v1/instances/dd", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "dd-"), 1);
  assert_true (volume_info (PREFIX "dd-kept-data.qcow2", NULL, NULL));
  assert_false (volume_info (PREFIX "dd-disk-fast.qcow2", NULL, NULL));

  /* Recovery's sweep leaves the kept volume of an instance that is gone. */
  gvd_test_daemon_stop (d2, TRUE);
  g_clear_pointer (&d2, gvd_test_daemon_free);
  d2 = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d2, 20000);
  assert_true (volume_info (PREFIX "dd-kept-data.qcow2", NULL, NULL));

  /* ... and another instance attaches it; its delete leaves it too. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d2, "POST", "/v1/instances",
      "{\"name\": \"heir\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
      " \"disks\": [{\"name\": \"old\", \"volume\": \"" PREFIX "dd-kept-data.qcow2\","
      " \"bus\": \"virtio\"}]}", &status);
    if (status != 201)
      fail_msg ("attach: %u %s", status, json_to_string (n, FALSE));
    assert_string_equal (gvd_test_json_string (n, "state"), "running");
    o = disk_json (n, "old");
    assert_false (json_object_get_boolean_member (o, "created"));
    assert_true (json_object_get_boolean_member (o, "keep"));
    assert_string_equal (json_object_get_string_member (o, "format"), "qcow2");
    assert_true (json_object_get_int_member (o, "size_bytes") == (gint64) (3 * GIB));
    assert_string_equal (json_object_get_string_member (o, "target"), "vdb");
  }
  /* An instance's volume is its own: not even read-only for another. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d2, "POST", "/v1/instances",
      "{\"name\": \"peek\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false,"
      " \"disks\": [{\"name\": \"x\", \"volume\": \"" PREFIX "dd-kept-data.qcow2\","
      " \"readonly\": true}]}", &status);
    assert_refused (n, status, 409, "conflict", "attached to instance 'heir'");
  }
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "peek-"), 0);
  {
    g_autoptr(JsonNode) n = gvd_test_api (d2, "POST", "/v1/instances/heir/stop", NULL, &status);
    g_autoptr(JsonNode) r = gvd_test_api (d2, "POST", "/v1/instances/heir/resize",
                                          "{\"disks\": {\"old\": 4}}", &status);
    /* Not this instance's volume to grow. */
    assert_refused (r, status, 400, "invalid_argument", "'disks.old'");
  }
  {
    g_autoptr(JsonNode) n = gvd_test_api (d2, "DELETE", "/v1/instances/heir", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "heir-"), 0);
  assert_true (volume_info (PREFIX "dd-kept-data.qcow2", NULL, NULL));
  gvd_test_daemon_stop (d2, TRUE);
}

/* A create that fails after it made a volume leaves none: a missing
 * existing volume, and a cephx secret libvirt does not have. */
static void
data_disks__late_failure__no_volume_left (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config_network, NULL);
  guint status = 0;

  gvd_test_daemon_wait_ready (d, 20000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"late\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
      " \"disks\": [{\"name\": \"a\", \"size_gib\": 1},"
      "  {\"name\": \"b\", \"volume\": \"gvdtest-dsk-missing.raw\", \"readonly\": true}]}",
      &status);
    assert_refused (n, status, 404, "not_found", "'disks[1].volume'");
  }
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "late-"), 0);
  assert_false (gvd_test_domain_exists (fx.conn, PREFIX "late"));
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"late\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
      " \"disks\": [{\"name\": \"a\", \"size_gib\": 1, \"format\": \"raw\"},"
      "  {\"name\": \"c\", \"rbd\": {\"monitors\": [\"127.0.0.1:6789\"], \"image\": \"rbd/x\","
      "   \"user\": \"gvdtest\", \"secret_uuid\": \"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"}}]}",
      &status);
    assert_refused (n, status, 404, "not_found", "'disks[1].rbd.secret_uuid'");
  }
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "late-"), 0);
  /* The allow-list holds for enabled protocols too. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"late\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
      " \"disks\": [{\"name\": \"n\", \"nbd\": {\"host\": \"169.254.169.254\", \"port\": 80}}]}",
      &status);
    assert_refused (n, status, 403, "forbidden", "network_disk_hosts");
  }
  /* An allowed NBD disk is defined as asked (nothing serves it, so no start). */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
      "{\"name\": \"nbd\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false,"
      " \"disks\": [{\"name\": \"n\", \"nbd\": {\"host\": \"127.0.0.1\", \"export\": \"e\"},"
      " \"readonly\": true}]}", &status);
    g_autofree char *xml = NULL;

    if (status != 201)
      fail_msg ("nbd: %u %s", status, json_to_string (n, FALSE));
    xml = gvd_test_domain_xml (fx.conn, PREFIX "nbd", VIR_DOMAIN_XML_INACTIVE);
    assert_non_null (strstr (xml, "<source protocol='nbd' name='e'>"));
    assert_non_null (strstr (xml, "<host name='127.0.0.1' port='10809'/>"));
    g_clear_pointer (&n, json_node_unref);
    n = gvd_test_api (d, "DELETE", "/v1/instances/nbd", NULL, &status);
    assert_int_equal (status, 204);
  }
  gvd_test_daemon_stop (d, TRUE);
}

/* Killed right after it made a data disk volume: the next daemon's
 * recovery sweeps it (no domain was defined). */
static void
data_disks__crash_after_volume__swept (void **state)
{
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autoptr(JsonNode) n = NULL;
  guint status = 0;
  gint64 deadline;

  g_setenv ("GVD_TEST_CRASH_AT", "disk", TRUE);
  d = gvd_test_daemon_start (fx.config, NULL);
  g_unsetenv ("GVD_TEST_CRASH_AT");
  gvd_test_daemon_wait_ready (d, 20000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  n = gvd_test_api (d, "POST", "/v1/instances",
                    "{\"name\": \"crash\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
                    " \"disks\": [{\"name\": \"a\", \"size_gib\": 1}]}", &status);
  assert_int_equal (status, 0);
  assert_true (g_subprocess_wait (d->proc, NULL, NULL));
  assert_true (g_subprocess_get_if_signaled (d->proc));
  assert_int_equal (g_subprocess_get_term_sig (d->proc), SIGKILL);
  g_clear_object (&d->proc);
  /* Root overlay and the data disk were made; no seed, no domain. */
  if (!volume_info (PREFIX "crash-disk-a.qcow2", NULL, NULL))
    fail_msg ("no data disk volume after the crash: %u volume(s) named " PREFIX "crash-*, "
              "libvirt says: %s", gvd_test_count_volumes (fx.conn, POOL, PREFIX "crash-"),
              virGetLastErrorMessage ());
  assert_false (gvd_test_domain_exists (fx.conn, PREFIX "crash"));

  d2 = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d2, 20000);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (gvd_test_count_volumes (fx.conn, POOL, PREFIX "crash-") > 0
         && g_get_monotonic_time () < deadline)
    g_usleep (100 * 1000);
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "crash-"), 0);
  gvd_test_daemon_stop (d2, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (data_disks__create_start_resize_recover_delete__volumes_follow_keep),
    cmocka_unit_test (data_disks__late_failure__no_volume_left),
    cmocka_unit_test (data_disks__crash_after_volume__swept),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
