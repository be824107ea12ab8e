/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hot-plug end to end against the real libvirtd (QEMU TCG): a new virtio
 * disk and a NIC attached to a running domain (live and persistent, in
 * gpuvmd's metadata, read back by a new daemon); an unplug the OS-less
 * guest never acknowledges answered with a timeout and nothing lost; cold
 * attach and detach on a stopped instance (the volume goes unless kept);
 * hostile requests refused with nothing made; the instance's delete leaves
 * no volume. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>

#define PREFIX "gvdtest-hotplug-"
#define POOL "gvdtest-hotplug"
#define POOL_PATH "/var/tmp/gvdtest-hotplug-pool"
#define IMAGE "gvdtest-hp-blank.raw" /* not under PREFIX: images are not instance volumes */
/* device_timeout 5 (its least): how long an unplug waits for the guest. */
#define CONFIG                                               \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n"                                         \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\nshutdown_timeout=2\ndevice_timeout=5\n"

typedef struct {
  char *state_dir;
  char *image_file;
  char *config;
  virConnectPtr conn;
} Fixture;

static Fixture fx;

static int
group_setup (void **state)
{
  g_autoptr(GError) error = NULL;
  FILE *f;

  fx.conn = virConnectOpen ("qemu:///system");
  if (fx.conn == NULL)
    {
      print_message ("SKIP: no qemu:///system libvirtd\n");
      exit (77);
    }
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  fx.state_dir = g_dir_make_tmp ("gvdtest-hotplug-XXXXXX", &error);
  assert_non_null (fx.state_dir);
  fx.config = g_strdup_printf (CONFIG, fx.state_dir, fx.state_dir);
  /* A blank 64 MiB raw base image (sparse): the guest has no OS. */
  fx.image_file = g_build_filename (fx.state_dir, IMAGE, NULL);
  f = fopen (fx.image_file, "w");
  assert_non_null (f);
  assert_int_equal (fseek (f, 64 * 1024 * 1024 - 1, SEEK_SET), 0);
  assert_int_equal (fputc (0, f), 0);
  fclose (f);
  return 0;
}

static int
group_teardown (void **state)
{
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  virConnectClose (fx.conn);
  g_unlink (fx.image_file);
  gvd_test_rm_rf (fx.state_dir);
  g_free (fx.state_dir);
  g_free (fx.image_file);
  g_free (fx.config);
  return 0;
}

static JsonNode *
api (GvdTestDaemon *d, const char *method, const char *path, const char *body, guint *status)
{
  g_autofree char *url = g_strconcat (d->url, path, NULL);

  return gvd_test_http (d->session, method, url, NULL, body, status);
}

static void
assert_status (JsonNode *n, guint status, guint want, const char *what)
{
  if (status != want)
    fail_msg ("%s: status %u, want %u: %s", what, status, want,
              n != NULL ? json_to_string (n, FALSE) : "(no body)");
}

static void
assert_refused (JsonNode *n, guint status, guint want_status, const char *code, const char *needle)
{
  assert_status (n, status, want_status, needle);
  gvd_test_assert_error (n, code, needle);
}

/* The instance JSON's data disk named @name, or NULL. */
static JsonObject *
find_disk (JsonNode *inst, const char *name)
{
  JsonArray *disks = json_node_get_array (gvd_test_json_path (inst, "disks"));

  for (guint i = 0; i < json_array_get_length (disks); i++)
    {
      JsonObject *o = json_array_get_object_element (disks, i);
      if (g_strcmp0 (json_object_get_string_member (o, "name"), name) == 0)
        return o;
    }
  return NULL;
}

static guint
n_networks (JsonNode *inst)
{
  return json_array_get_length (json_node_get_array (gvd_test_json_path (inst, "networks")));
}

/* The MAC of the instance's last NIC. */
static const char *
last_mac (JsonNode *inst)
{
  JsonArray *a = json_node_get_array (gvd_test_json_path (inst, "networks"));

  return json_object_get_string_member (json_array_get_object_element (a, json_array_get_length (a) - 1),
                                        "mac");
}

static gboolean
volume_exists (const char *name)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (fx.conn, POOL);
  g_autoptr(virStorageVol) vol = NULL;

  if (pool == NULL)
    return FALSE;
  virStoragePoolRefresh (pool, 0);
  vol = virStorageVolLookupByName (pool, name);
  return vol != NULL;
}

static guint
count_volumes_with (const char *needle)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (fx.conn, POOL);
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

static char *
domain_xml (const char *name, unsigned int flags)
{
  g_autofree char *dn = g_strconcat (PREFIX, name, NULL);
  g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, dn);
  char *xml;
  char *out;

  if (dom == NULL)
    return NULL;
  xml = virDomainGetXMLDesc (dom, flags);
  out = g_strdup (xml);
  free (xml);
  return out;
}

static gboolean
xml_has (const char *name, unsigned int flags, const char *needle)
{
  g_autofree char *xml = domain_xml (name, flags);

  return xml != NULL && strstr (xml, needle) != NULL;
}

static char *
events_text (GvdTestDaemon *d)
{
  g_autofree char *url = g_strconcat (d->url, "/v1/events", NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 1);

  return gvd_test_sse_replay (session, url);
}

static GvdTestDaemon *
restart (GvdTestDaemon *d)
{
  gvd_test_daemon_stop (d, TRUE);
  gvd_test_daemon_free (d);
  d = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d, 20000);
  return d;
}

static void
hotplug__running_then_stopped__devices_follow (void **state)
{
  GvdTestDaemon *d = gvd_test_daemon_start (fx.config, NULL);
  g_autofree char *mac = NULL;
  g_autofree char *mac_needle = NULL;
  g_autofree char *events = NULL;
  guint status = 0;
  JsonObject *o;
  gint64 t0;

  gvd_test_daemon_wait_ready (d, 20000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances",
      "{\"name\": \"hp\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"root_disk_gib\": 1}",
      &status);
    assert_status (n, status, 201, "create");
    assert_string_equal (gvd_test_json_string (n, "state"), "running");
    assert_int_equal (n_networks (n), 1);
  }

  /* A new virtio disk into the running domain: the volume, live and
   * persistent XML, the instance JSON. */
  t0 = g_get_monotonic_time ();
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/disks",
                                 "{\"name\": \"data\", \"size_gib\": 1, \"serial\": \"GVD-HP-1\"}",
                                 &status);
    assert_status (n, status, 201, "attach disk (running)");
    print_message ("attach a new 1 GiB virtio disk to a running domain: %.2f s\n",
                   (g_get_monotonic_time () - t0) / 1e6);
    o = find_disk (n, "data");
    assert_non_null (o);
    assert_string_equal (json_object_get_string_member (o, "target"), "vdb");
    assert_string_equal (json_object_get_string_member (o, "volume"), PREFIX "hp-disk-data.qcow2");
    assert_true (json_object_get_boolean_member (o, "created"));
    assert_false (json_object_get_boolean_member (o, "keep"));
  }
  assert_true (volume_exists (PREFIX "hp-disk-data.qcow2"));
  assert_true (xml_has ("hp", 0, "volume='" PREFIX "hp-disk-data.qcow2'"));
  assert_true (xml_has ("hp", 0, "<target dev='vdb' bus='virtio'/>"));
  assert_true (xml_has ("hp", 0, "<serial>GVD-HP-1</serial>"));
  assert_true (xml_has ("hp", VIR_DOMAIN_XML_INACTIVE, "volume='" PREFIX "hp-disk-data.qcow2'"));
  assert_true (xml_has ("hp", VIR_DOMAIN_XML_INACTIVE, "target=\"vdb\" name=\"data\""));

  /* A NIC into the running domain. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/networks", "{\"mode\": \"user\"}",
                                 &status);
    assert_status (n, status, 201, "attach NIC (running)");
    assert_int_equal (n_networks (n), 2);
    mac = g_strdup (last_mac (n));
  }
  mac_needle = g_strdup_printf ("<mac address='%s'/>", mac);
  assert_true (xml_has ("hp", 0, mac_needle));
  assert_true (xml_has ("hp", VIR_DOMAIN_XML_INACTIVE, mac_needle));

  /* A new daemon reads both back from the domain. */
  d = restart (d);
  {
    g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/hp", NULL, &status);
    assert_status (n, status, 200, "get after restart");
    o = find_disk (n, "data");
    assert_non_null (o);
    assert_true (json_object_get_boolean_member (o, "created"));
    assert_string_equal (json_object_get_string_member (o, "target"), "vdb");
    assert_int_equal (n_networks (n), 2);
    assert_string_equal (last_mac (n), mac);
  }

  /* The guest has no OS: nobody answers the unplug. Told so, and nothing
   * is lost: the disk, its volume, its metadata stay. */
  t0 = g_get_monotonic_time ();
  {
    g_autoptr(JsonNode) n = api (d, "DELETE", "/v1/instances/hp/disks/vdb", NULL, &status);
    assert_refused (n, status, 504, "timeout", "did not release disk vdb");
  }
  print_message ("unplug of a disk the guest never releases answered after %.2f s\n",
                 (g_get_monotonic_time () - t0) / 1e6);
  assert_true ((g_get_monotonic_time () - t0) >= 5 * G_USEC_PER_SEC);
  assert_true (volume_exists (PREFIX "hp-disk-data.qcow2"));
  assert_true (xml_has ("hp", 0, "<target dev='vdb' bus='virtio'/>"));
  assert_true (xml_has ("hp", VIR_DOMAIN_XML_INACTIVE, "target=\"vdb\" name=\"data\""));
  {
    g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/hp", NULL, &status);
    assert_non_null (find_disk (n, "data"));
    /* Not left busy: the next operation may run. */
    assert_false (json_object_has_member (json_node_get_object (n), "busy")
                  && !JSON_NODE_HOLDS_NULL (json_object_get_member (json_node_get_object (n),
                                                                    "busy")));
  }

  /* Asked again while the first request is still pending in the guest
   * (QEMU re-sends it): the same honest answer. */
  {
    g_autoptr(JsonNode) n = api (d, "DELETE", "/v1/instances/hp/disks/vdb", NULL, &status);
    assert_refused (n, status, 504, "timeout", "did not release disk vdb");
  }
  assert_true (volume_exists (PREFIX "hp-disk-data.qcow2"));

  /* The same for the NIC: still there, still leased. */
  {
    g_autofree char *path = g_strdup_printf ("/v1/instances/hp/networks/%s", mac);
    g_autoptr(JsonNode) n = api (d, "DELETE", path, NULL, &status);
    assert_refused (n, status, 504, "timeout", "did not release NIC");
  }
  assert_true (xml_has ("hp", 0, mac_needle));
  {
    g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/hp", NULL, &status);
    assert_int_equal (n_networks (n), 2);
  }

  /* Stopped: detach works on the definition; the volume it made goes. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/stop", NULL, &status);
    assert_status (n, status, 200, "stop");
  }
  {
    g_autoptr(JsonNode) n = api (d, "DELETE", "/v1/instances/hp/disks/vdb", NULL, &status);
    assert_status (n, status, 200, "detach disk (stopped)");
    assert_null (find_disk (n, "data"));
  }
  assert_false (volume_exists (PREFIX "hp-disk-data.qcow2"));
  assert_false (xml_has ("hp", VIR_DOMAIN_XML_INACTIVE, "hp-disk-data"));
  {
    g_autofree char *path = g_strdup_printf ("/v1/instances/hp/networks/%s", mac);
    g_autoptr(JsonNode) n = api (d, "DELETE", path, NULL, &status);
    assert_status (n, status, 200, "detach NIC (stopped)");
    assert_int_equal (n_networks (n), 1);
  }
  assert_false (xml_has ("hp", VIR_DOMAIN_XML_INACTIVE, mac_needle));

  /* Cold attach: a SATA disk (no hot-plug for SATA) and a kept one; the
   * start brings them up. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/disks",
                                 "{\"name\": \"cold\", \"size_gib\": 1, \"bus\": \"sata\","
                                 " \"format\": \"raw\"}", &status);
    assert_status (n, status, 201, "attach disk (stopped)");
    o = find_disk (n, "cold");
    /* sda is the seed cdrom's. */
    assert_string_equal (json_object_get_string_member (o, "target"), "sdb");
  }
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/disks",
                                 "{\"name\": \"keepme\", \"size_gib\": 1, \"keep\": true}",
                                 &status);
    assert_status (n, status, 201, "attach kept disk (stopped)");
    assert_true (json_object_get_boolean_member (find_disk (n, "keepme"), "keep"));
  }
  assert_true (volume_exists (PREFIX "hp-disk-cold.raw"));
  assert_true (volume_exists (PREFIX "hp-kept-keepme.qcow2"));
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/start", NULL, &status);
    assert_status (n, status, 200, "start");
  }
  assert_true (xml_has ("hp", 0, "volume='" PREFIX "hp-disk-cold.raw'"));
  assert_true (xml_has ("hp", 0, "<target dev='sdb' bus='sata'/>"));
  assert_true (xml_has ("hp", 0, "volume='" PREFIX "hp-kept-keepme.qcow2'"));
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/disks",
                                 "{\"name\": \"hot\", \"size_gib\": 1, \"bus\": \"sata\"}",
                                 &status);
    assert_refused (n, status, 409, "invalid_state", "'bus'");
  }
  assert_false (volume_exists (PREFIX "hp-disk-hot.qcow2"));

  /* Hostile requests: refused, nothing made. */
  {
    static const struct {
      const char *method, *path, *body;
      guint status;
      const char *code, *needle;
    } cases[] = {
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"x\", \"size_gib\": 1, \"bus\": \"ide\"}",
        400, "invalid_argument", "'bus'" },
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"x\", \"size_gib\": 1, \"evil\": 1}",
        400, "invalid_argument", "'evil'" },
      { "POST", "/v1/instances/hp/disks", "{\"size_gib\": 1}", 400, "invalid_argument", "'name'" },
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"x\", \"size_gib\": 0}",
        400, "invalid_argument", "'size_gib'" },
      { "POST", "/v1/instances/hp/disks", "[1]", 400, NULL, NULL },
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"cold\", \"size_gib\": 1}",
        409, "already_exists", "'name'" },
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"x\", \"volume\": \"" IMAGE "\"}",
        403, "forbidden", "\"readonly\": true" },
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"x\", \"volume\": \"" PREFIX "hp-root.qcow2\","
        " \"readonly\": true}", 403, "forbidden", "'volume'" },
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"x\", \"volume\": \"" PREFIX
        "hp-kept-keepme.qcow2\"}", 409, "conflict", "attached to instance 'hp'" },
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"x\", \"nbd\": {\"host\": \"10.0.0.1\"}}",
        403, "forbidden", "[storage] network_disks" },
      { "POST", "/v1/instances/hp/disks", "{\"name\": \"x\", \"size_gib\": 1, \"iothread\": 3}",
        400, "invalid_argument", "'iothread'" },
      { "POST", "/v1/instances/ghost/disks", "{\"name\": \"x\", \"size_gib\": 1}",
        404, "not_found", "ghost" },
      { "DELETE", "/v1/instances/hp/disks/vdq", NULL, 404, "not_found", "vdq" },
      { "DELETE", "/v1/instances/hp/disks/vda", NULL, 404, "not_found", "root disk" },
      { "DELETE", "/v1/instances/hp/disks/..", NULL, 404, NULL, NULL },
      { "DELETE", "/v1/instances/hp/disks/sdb?keep=maybe", NULL, 400, "invalid_argument", "'keep'" },
      { "DELETE", "/v1/instances/ghost/disks/vdb", NULL, 404, "not_found", "ghost" },
      { "GET", "/v1/instances/hp/disks", NULL, 405, NULL, NULL },
      { "POST", "/v1/instances/hp/networks", "{\"mode\": \"tunnel\"}",
        400, "invalid_argument", "'mode'" },
      { "POST", "/v1/instances/hp/networks", "{\"mode\": \"bridge\", \"source\": \"virbr-evil\"}",
        403, "forbidden", "'source'" },
      { "POST", "/v1/instances/hp/networks", "{\"mode\": \"user\", \"ipv4\": \"10.0.0.9\"}",
        400, "invalid_argument", "'ipv4'" },
      { "POST", "/v1/instances/hp/networks", "{\"mode\": \"user\", \"mac\": \"01:00:5e:00:00:01\"}",
        400, "invalid_argument", "'mac'" },
      { "DELETE", "/v1/instances/hp/networks/52:54:00:00:00:01", NULL, 404, "not_found", "MAC" },
      { "DELETE", "/v1/instances/hp/networks/nonsense", NULL, 404, "not_found", "MAC address" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr(JsonNode) n = api (d, cases[i].method, cases[i].path, cases[i].body, &status);

        if (status != cases[i].status)
          fail_msg ("%s %s %s: %u, want %u: %s", cases[i].method, cases[i].path,
                    cases[i].body != NULL ? cases[i].body : "", status, cases[i].status,
                    n != NULL ? json_to_string (n, FALSE) : "(no body)");
        if (cases[i].code != NULL)
          gvd_test_assert_error (n, cases[i].code, cases[i].needle);
      }
  }
  assert_int_equal (count_volumes_with (PREFIX "hp-disk-x"), 0);
  {
    g_autoptr(JsonNode) n = api (d, "GET", "/v1/instances/hp", NULL, &status);
    assert_int_equal (n_networks (n), 1);
    assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (n, "disks"))),
                      2);
  }

  events = events_text (d);
  assert_non_null (strstr (events, "event: instance.device_attached"));
  assert_non_null (strstr (events, "\"kind\":\"disk\",\"target\":\"sdb\",\"live\":false"));
  assert_non_null (strstr (events, "event: instance.device_detached"));
  assert_non_null (strstr (events, "\"kind\":\"disk\",\"target\":\"vdb\",\"live\":false"));

  /* A NIC with a MAC of the client's choice, live; the MAC is then taken. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/networks",
                                 "{\"mode\": \"user\", \"mac\": \"52:54:00:12:34:56\"}", &status);
    assert_status (n, status, 201, "attach NIC with a MAC (running)");
    assert_string_equal (last_mac (n), "52:54:00:12:34:56");
  }
  assert_true (xml_has ("hp", 0, "<mac address='52:54:00:12:34:56'/>"));
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances/hp/networks",
                                 "{\"mode\": \"user\", \"mac\": \"52:54:00:12:34:56\"}", &status);
    assert_refused (n, status, 409, "conflict", "52:54:00:12:34:56");
  }

  /* The delete takes the volumes it made and leaves the kept one. */
  {
    g_autoptr(JsonNode) n = api (d, "DELETE", "/v1/instances/hp", NULL, &status);
    assert_status (n, status, 204, "delete");
  }
  assert_int_equal (count_volumes_with (PREFIX "hp-disk-"), 0);
  assert_false (volume_exists (PREFIX "hp-root.qcow2"));
  assert_true (volume_exists (PREFIX "hp-kept-keepme.qcow2"));
  /* ... and its leases, the hot-plugged NIC's too: the MAC is free again. */
  {
    g_autoptr(JsonNode) n = api (d, "POST", "/v1/instances",
      "{\"name\": \"hp2\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false,"
      " \"networks\": [{\"mode\": \"user\", \"mac\": \"52:54:00:12:34:56\"}]}", &status);
    assert_status (n, status, 201, "create with the freed MAC");
  }
  {
    g_autoptr(JsonNode) n = api (d, "DELETE", "/v1/instances/hp2", NULL, &status);
    assert_status (n, status, 204, "delete hp2");
  }
  gvd_test_daemon_stop (d, TRUE);
  gvd_test_daemon_free (d);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (hotplug__running_then_stopped__devices_follow),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
