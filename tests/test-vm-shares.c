/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "shares" and "memory" end to end against the real libvirtd (QEMU TCG):
 * a 9p and a virtiofs share from directories in [host] share_dirs, as
 * libvirt holds them and as QEMU/virtiofsd run them; sources outside the
 * listed directories, through symlinks or writable where only reading is
 * allowed are refused with nothing left behind; hugepages the host lacks
 * are refused naming the shortfall, per NUMA node under numatune, and
 * counted against creates still in flight. No GPUs needed. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX "gvdtest-shares-"
#define POOL "gvdtest-shares"
#define POOL_PATH "/var/tmp/gvdtest-shares-pool"
#define IMAGE "gvdtest-blank.raw"
#define BASE_CONFIG                                          \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n"                                         \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\nshutdown_timeout=2\n"

typedef struct {
  char *state_dir;
  char *share_root;  /* ro/ and rw/ below it, world-traversable for QEMU */
  char *image_file;
  char *config;          /* the real host's sysfs */
  char *config_fixture;  /* server-8gpu's sysfs: hugepage pools on two nodes */
  virConnectPtr conn;
} Fixture;

static Fixture fx;

static int
group_setup (void **state)
{
  g_autofree char *fixture_root = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);
  g_autofree char *shares = NULL;
  const char *dirs[] = { "ro", "ro/data", "rw", "rw/scratch", "elsewhere", NULL };

  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  fx.state_dir = gvd_test_scratch_new (fx.conn, PREFIX, POOL, IMAGE, 64 * 1024 * 1024,
                                       &fx.image_file);
  /* Below /var/tmp, not a private /tmp, and 0755: QEMU (9p) runs as
   * libvirt's qemu user and must reach the directories. */
  fx.share_root = g_strdup ("/var/tmp/gvdtest-shares-XXXXXX");
  assert_non_null (g_mkdtemp_full (fx.share_root, 0755));
  for (gsize i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *p = g_build_filename (fx.share_root, dirs[i], NULL);
      assert_int_equal (g_mkdir (p, 0755), 0);
    }
  {
    g_autofree char *f = g_build_filename (fx.share_root, "ro", "data", "hello.txt", NULL);
    g_autofree char *l = g_build_filename (fx.share_root, "ro", "escape", NULL);
    g_autofree char *target = g_build_filename (fx.share_root, "elsewhere", NULL);

    assert_true (g_file_set_contents (f, "hello from the host\n", -1, NULL));
    assert_int_equal (symlink (target, l), 0);
  }
  shares = g_strdup_printf ("[host]\nshare_dirs=%s/ro\nshare_dirs_writable=%s/rw\n",
                            fx.share_root, fx.share_root);
  fx.config = g_strdup_printf (BASE_CONFIG "%s", fx.state_dir, fx.state_dir, shares);
  fx.config_fixture = g_strdup_printf ("%ssysfs_root=%s/sys\nprocfs_root=%s/proc\n", fx.config,
                                       fixture_root, fixture_root);
  return 0;
}

static int
group_teardown (void **state)
{
  gvd_test_scratch_remove (fx.conn, PREFIX, POOL, fx.state_dir);
  virConnectClose (fx.conn);
  gvd_test_rm_rf (fx.share_root);
  g_free (fx.state_dir);
  g_free (fx.share_root);
  g_free (fx.image_file);
  g_free (fx.config);
  g_free (fx.config_fixture);
  return 0;
}

/* An instance's shares[@i] (the test helpers' paths have no indices). */
static JsonNode *
share_at (JsonNode *inst, guint i)
{
  JsonArray *shares = json_node_get_array (gvd_test_json_path (inst, "shares"));

  assert_true (i < json_array_get_length (shares));
  return json_array_get_element (shares, i);
}

static virDomainPtr
lookup (const char *name)
{
  g_autofree char *dn = g_strconcat (PREFIX, name, NULL);

  return virDomainLookupByName (fx.conn, dn);
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (haystack == NULL || strstr (haystack, needle) == NULL)
    fail_msg ("'%s' not in:\n%s", needle, haystack != NULL ? haystack : "(null)");
}

static void
assert_nothing_left (const char *name)
{
  g_autoptr(virDomain) dom = lookup (name);
  g_autofree char *root = g_strconcat (PREFIX, name, "-root.qcow2", NULL);
  g_autofree char *seed = g_strconcat (PREFIX, name, "-seed.iso", NULL);

  assert_null (dom);
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, root)
                    + gvd_test_count_volumes (fx.conn, POOL, seed), 0);
}

/* The refusal's status, code and the fragments its message must hold. */
static void
assert_refused (GvdTestDaemon *d, const char *name, const char *members, guint want_status,
                const char *want_code, const char *const *fragments)
{
  g_autofree char *body = g_strdup_printf ("{\"name\": \"%s\", \"image\": \"" IMAGE "\","
                                           " \"memory_mib\": 256, %s}", name, members);
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  const char *message = gvd_test_json_string (n, "error.message");

  if (status != want_status)
    fail_msg ("%s: status %u, want %u (%s)", members, status, want_status,
              message != NULL ? message : "");
  assert_string_equal (gvd_test_json_string (n, "error.code"), want_code);
  for (gsize i = 0; fragments[i] != NULL; i++)
    assert_contains (message, fragments[i]);
  print_message ("refused (%u): %s\n", status, message);
  assert_nothing_left (name);
}

/* A 9p share (read-only) and a virtiofs share (writable) on one guest:
 * the instance shows them, libvirt holds them as rendered, and the guest
 * runs with them (QEMU's 9p device and a virtiofsd libvirt spawned). */
static void
shares__9p_and_virtiofs__defined_started_deleted (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autofree char *ro = g_build_filename (fx.share_root, "ro", "data", NULL);
  g_autofree char *rw = g_build_filename (fx.share_root, "rw", "scratch", NULL);
  g_autofree char *body = g_strdup_printf (
    "{\"name\": \"fs\", \"image\": \"" IMAGE "\", \"memory_mib\": 256, \"start\": false,"
    " \"shares\": [{\"source\": \"%s\", \"tag\": \"data\", \"type\": \"9p\","
    " \"mount_point\": \"/mnt/data\"}, {\"source\": \"%s\", \"tag\": \"scratch\","
    " \"type\": \"virtiofs\", \"readonly\": false, \"mount_point\": \"/mnt/scratch\"}]}", ro, rw);
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) started = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *source9p = g_strdup_printf ("<source dir=\"%s\"/>", ro);
  g_autofree char *sourcefs = g_strdup_printf ("<source dir=\"%s\"/>", rw);
  guint status = 0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);

  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create: %u %s", status, gvd_test_json_string (created, "error.message"));
  assert_string_equal (gvd_test_json_string (share_at (created, 0), "type"), "9p");
  assert_string_equal (gvd_test_json_string (share_at (created, 0), "source"), ro);
  assert_string_equal (gvd_test_json_string (share_at (created, 0), "mount_point"), "/mnt/data");
  assert_true (json_node_get_boolean (gvd_test_json_path (share_at (created, 0), "readonly")));
  assert_string_equal (gvd_test_json_string (share_at (created, 1), "type"), "virtiofs");
  assert_false (json_node_get_boolean (gvd_test_json_path (share_at (created, 1), "readonly")));
  assert_int_equal (json_node_get_int (gvd_test_json_path (created, "memory.mib")), 256);
  assert_true (JSON_NODE_HOLDS_NULL (gvd_test_json_path (created, "memory.hugepages")));

  /* What libvirt holds (its own formatting of what gpuvmd defined). */
  dom = lookup ("fs");
  assert_non_null (dom);
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  assert_contains (xml, "<filesystem type='mount' accessmode='mapped'>");
  assert_contains (xml, "<filesystem type='mount' accessmode='passthrough'>");
  assert_contains (xml, "<driver type='virtiofs'/>");
  assert_contains (xml, "<target dir='data'/>");
  assert_contains (xml, "<target dir='scratch'/>");
  assert_contains (xml, "<readonly/>");
  assert_contains (xml, "<source type='memfd'/>");
  assert_contains (xml, "<access mode='shared'/>");
  {
    /* libvirt quotes with ' : compare the sources that way. */
    g_autofree char *a = g_strdelimit (g_strdup (source9p), "\"", '\'');
    g_autofree char *b = g_strdelimit (g_strdup (sourcefs), "\"", '\'');
    assert_contains (xml, a);
    assert_contains (xml, b);
  }
  assert_contains (xml, "mount-point=\"/mnt/scratch\"");

  /* Why virtiofs shares must be writable: this libvirt refuses a
   * read-only one (the same domain with <readonly/> on the virtiofs
   * filesystem). If this starts to pass, read-only virtiofs can be offered. */
  {
    GString *ro_xml = g_string_new (xml);
    g_autoptr(virDomain) redefined = NULL;

    assert_true (g_string_replace (ro_xml, "<driver type='virtiofs'/>",
                                   "<driver type='virtiofs'/><readonly/>", 1) == 1);
    redefined = virDomainDefineXMLFlags (fx.conn, ro_xml->str, VIR_DOMAIN_DEFINE_VALIDATE);
    if (redefined != NULL)
      fail_msg ("libvirt accepted a read-only virtiofs share");
    print_message ("libvirt on read-only virtiofs: %s\n", virGetLastErrorMessage ());
    g_string_free (ro_xml, TRUE);
  }

  /* Start it: QEMU gets the 9p device, libvirt spawns virtiofsd. */
  started = gvd_test_api (d, "POST", "/v1/instances/fs/start", NULL, &status);
  if (status != 200)
    fail_msg ("start with a 9p and a virtiofs share: %u %s", status,
              gvd_test_json_string (started, "error.message"));
  assert_string_equal (gvd_test_json_string (started, "state"), "running");
  {
    g_autofree char *live = virDomainGetXMLDesc (dom, 0);
    g_autofree char *cmd = NULL;
    g_autofree char *pidfile = NULL;

    /* The live definition has the devices QEMU got. */
    assert_contains (live, "<alias name='fs0'/>");
    assert_contains (live, "<alias name='fs1'/>");
    /* A virtiofsd serving exactly that directory runs for it. */
    g_spawn_command_line_sync ("ps -eo args", &cmd, NULL, NULL, NULL);
    {
      g_autofree char *needle = g_strdup_printf ("source=%s", rw);
      assert_contains (cmd, "virtiofsd");
      assert_contains (cmd, needle);
    }
    (void) pidfile;
  }

  gone = gvd_test_api (d, "DELETE", "/v1/instances/fs", NULL, &status);
  assert_int_equal (status, 204);
  assert_nothing_left ("fs");
  gvd_test_daemon_stop (d, TRUE);
}

/* Sources the operator did not list, escapes through symlinks and "..",
 * files, writable shares of read-only directories, read-only virtiofs:
 * refused naming the field, nothing defined, no volume made. */
static void
shares__disallowed_sources__refused_nothing_left (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autofree char *outside = g_build_filename (fx.share_root, "elsewhere", NULL);
  g_autofree char *escape = g_build_filename (fx.share_root, "ro", "escape", NULL);
  g_autofree char *dotdot = g_strdup_printf ("%s/ro/data/../../elsewhere", fx.share_root);
  g_autofree char *file = g_build_filename (fx.share_root, "ro", "data", "hello.txt", NULL);
  g_autofree char *ro = g_build_filename (fx.share_root, "ro", "data", NULL);
  g_autofree char *m_outside = g_strdup_printf (
    "\"shares\": [{\"source\": \"%s\", \"tag\": \"t\"}]", outside);
  g_autofree char *m_escape = g_strdup_printf (
    "\"shares\": [{\"source\": \"%s\", \"tag\": \"t\"}]", escape);
  g_autofree char *m_dotdot = g_strdup_printf (
    "\"shares\": [{\"source\": \"%s\", \"tag\": \"t\"}]", dotdot);
  g_autofree char *m_file = g_strdup_printf (
    "\"shares\": [{\"source\": \"%s\", \"tag\": \"t\"}]", file);
  g_autofree char *m_write = g_strdup_printf (
    "\"shares\": [{\"source\": \"%s\", \"tag\": \"t\", \"readonly\": false}]", ro);
  g_autofree char *m_vro = g_strdup_printf (
    "\"shares\": [{\"source\": \"%s\", \"tag\": \"t\", \"type\": \"virtiofs\"}]", ro);
  const char *f_outside[] = { "'shares[0].source'", "is not below", "[host] share_dirs", NULL };
  const char *f_escape[] = { "'shares[0].source'", "symbolic link", NULL };
  const char *f_dotdot[] = { "'shares[0].source'", "normalised", NULL };
  const char *f_file[] = { "'shares[0].source'", "not a directory", NULL };
  const char *f_write[] = { "'shares[0].readonly'", "[host] share_dirs_writable", NULL };
  const char *f_vro[] = { "'shares[0].readonly'", "virtiofs", "cannot be read-only", NULL };

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  assert_refused (d, "bad-outside", m_outside, 403, "forbidden", f_outside);
  assert_refused (d, "bad-escape", m_escape, 403, "forbidden", f_escape);
  assert_refused (d, "bad-dotdot", m_dotdot, 400, "invalid_argument", f_dotdot);
  assert_refused (d, "bad-file", m_file, 403, "forbidden", f_file);
  assert_refused (d, "bad-write", m_write, 403, "forbidden", f_write);
  assert_refused (d, "bad-vro", m_vro, 400, "invalid_argument", f_vro);
  gvd_test_daemon_stop (d, TRUE);

  /* No share_dirs at all: shares are off, and the refusal says which key. */
  {
    g_autofree char *plain = g_strdup_printf (BASE_CONFIG, fx.state_dir, fx.state_dir);
    g_autoptr(GvdTestDaemon) d2 = gvd_test_daemon_start (plain, NULL);
    g_autofree char *m_ro = g_strdup_printf (
      "\"shares\": [{\"source\": \"%s\", \"tag\": \"t\"}]", ro);
    const char *f_off[] = { "'shares[0].source'", "[host] share_dirs is empty", NULL };

    gvd_test_daemon_wait_ready (d2, 10000);
    assert_refused (d2, "bad-off", m_ro, 403, "forbidden", f_off);
    gvd_test_daemon_stop (d2, TRUE);
  }
}

static gpointer
create_thread (gpointer data)
{
  gpointer *args = data;
  GvdTestDaemon *d = args[0];
  g_autoptr(SoupSession) s = gvd_test_daemon_session (d, 120);
  g_autofree char *url = g_strconcat (d->url, "/v1/instances", NULL);
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_http (s, "POST", url, NULL, args[1], &status);

  args[2] = GUINT_TO_POINTER (status);
  return NULL;
}

/* This host's real hugepage pools (usually empty): refused naming the
 * shortfall. On the server-8gpu fixture (2M pages: 16 GiB free on node 0,
 * 4 GiB on node 1): defined with the page size; numatune to a GPU's node
 * counts only that node; a create in flight holds its pages. */
static void
memory__hugepages__shortfall_named_page_size_defined_holds_counted (void **state)
{
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autofree char *free_text = NULL;
  guint64 host_free = 0;
  guint status = 0;

  /* The real host, through /sys. */
  g_file_get_contents ("/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages", &free_text,
                       NULL, NULL);
  if (free_text != NULL)
    host_free = g_ascii_strtoull (free_text, NULL, 10);
  d = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  if (host_free < 64)
    {
      g_autofree char *want = g_strdup_printf ("%" G_GUINT64_FORMAT " MiB available",
                                               host_free * 1024);
      const char *f[] = { "'memory.hugepages'", "65536 MiB of 1G pages needed", want, "short",
                          NULL };
      g_autofree char *members = g_strdup ("\"memory_mib\": 65536, \"memory\": {\"hugepages\": \"1G\"}");
      g_autofree char *body = g_strdup_printf ("{\"name\": \"hp-real\", \"image\": \"" IMAGE "\","
                                               " %s}", members);
      g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances", body, &status);

      assert_int_equal (status, 409);
      assert_string_equal (gvd_test_json_string (n, "error.code"), "conflict");
      for (gsize i = 0; f[i] != NULL; i++)
        assert_contains (gvd_test_json_string (n, "error.message"), f[i]);
      print_message ("real host: %s\n", gvd_test_json_string (n, "error.message"));
      assert_nothing_left ("hp-real");
    }
  else
    print_message ("this host has %" G_GUINT64_FORMAT " free 1G pages: real-host refusal "
                   "not checked\n", host_free);
  gvd_test_daemon_stop (d, TRUE);
  g_clear_pointer (&d, gvd_test_daemon_free);

  /* The fixture host's pools. */
  d = gvd_test_daemon_start (fx.config_fixture, NULL);
  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  {
    /* Defined (not started) with the page size: libvirt holds it. */
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
                                          "{\"name\": \"hp\", \"image\": \"" IMAGE "\","
                                          " \"memory_mib\": 512,"
                                          " \"memory\": {\"hugepages\": \"2M\"}, \"start\": false}",
                                          &status);
    g_autoptr(virDomain) dom = NULL;
    g_autofree char *xml = NULL;

    if (status != 201)
      fail_msg ("hugepage create: %u %s", status, gvd_test_json_string (n, "error.message"));
    assert_string_equal (gvd_test_json_string (n, "memory.hugepages"), "2M");
    assert_int_equal (json_node_get_int (gvd_test_json_path (n, "memory.mib")), 512);
    dom = lookup ("hp");
    assert_non_null (dom);
    xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
    assert_contains (xml, "<page size='2048' unit='KiB'/>");
  }
  {
    /* A GPU on node 1 (0000:83:00.0): numatune strict there, and only
     * node 1's 4 GiB count (dry runs: the fixture's GPUs are not real). */
    g_autoptr(JsonNode) no = gvd_test_api (d, "POST", "/v1/instances",
                                           "{\"name\": \"hp-n1\", \"image\": \"" IMAGE "\","
                                           " \"memory_mib\": 8192,"
                                           " \"memory\": {\"hugepages\": \"2M\"},"
                                           " \"devices\": [\"0000:83:00.0\"], \"dry_run\": true}",
                                           &status);
    g_autoptr(JsonNode) yes = NULL;
    const char *xml;

    assert_int_equal (status, 409);
    assert_contains (gvd_test_json_string (no, "error.message"),
                     "'memory.hugepages': 8192 MiB of 2M pages needed on NUMA node 1, 4096 MiB "
                     "available");
    yes = gvd_test_api (d, "POST", "/v1/instances",
                        "{\"name\": \"hp-n0\", \"image\": \"" IMAGE "\", \"memory_mib\": 8192,"
                        " \"memory\": {\"hugepages\": \"2M\"}, \"devices\": [\"0000:03:00.0\"],"
                        " \"dry_run\": true}", &status);
    if (status != 200)
      fail_msg ("dry run on node 0: %u %s", status, gvd_test_json_string (yes, "error.message"));
    xml = gvd_test_json_string (yes, "domain_xml");
    assert_contains (xml, "<memory mode=\"strict\" nodeset=\"0\"/>");
    assert_contains (xml, "<page size=\"2048\" unit=\"KiB\"/>");
  }
  {
    /* Two creates of 12 GiB against 20 GiB free host-wide: while the first
     * is in flight (its overlay step slowed), the second is refused
     * because of the first's hold; once the first is done (defined, not
     * running: it holds nothing), a third fits again. */
    gpointer args[3];
    GThread *t;
    g_autoptr(GvdTestDaemon) slow = NULL;
    g_autoptr(JsonNode) second = NULL;
    g_autoptr(JsonNode) third = NULL;

    gvd_test_daemon_stop (d, TRUE);
    g_clear_pointer (&d, gvd_test_daemon_free);
    g_setenv ("GVD_TEST_SLOW_AT", "overlay", TRUE);
    slow = gvd_test_daemon_start (fx.config_fixture, NULL);
    g_unsetenv ("GVD_TEST_SLOW_AT");
    gvd_test_daemon_wait_ready (slow, 10000);
    args[0] = slow;
    args[1] = (gpointer) "{\"name\": \"hp-a\", \"image\": \"" IMAGE "\", \"memory_mib\": 12288,"
                         " \"memory\": {\"hugepages\": \"2M\"}, \"start\": false}";
    args[2] = NULL;
    t = g_thread_new ("create", create_thread, args);
    g_usleep (700 * 1000);
    second = gvd_test_api (slow, "POST", "/v1/instances",
                           "{\"name\": \"hp-b\", \"image\": \"" IMAGE "\", \"memory_mib\": 12288,"
                           " \"memory\": {\"hugepages\": \"2M\"}, \"start\": false}", &status);
    g_thread_join (t);
    assert_int_equal (GPOINTER_TO_UINT (args[2]), 201);
    assert_int_equal (status, 409);
    assert_contains (gvd_test_json_string (second, "error.message"),
                     "12288 MiB of them held for instances being created");
    assert_nothing_left ("hp-b");
    third = gvd_test_api (slow, "POST", "/v1/instances",
                          "{\"name\": \"hp-c\", \"image\": \"" IMAGE "\", \"memory_mib\": 12288,"
                          " \"memory\": {\"hugepages\": \"2M\"}, \"start\": false}", &status);
    if (status != 201)
      fail_msg ("after the first create: %u %s", status,
                gvd_test_json_string (third, "error.message"));
    for (guint i = 0; i < 3; i++)
      {
        const char *names[] = { "hp", "hp-a", "hp-c" };
        g_autofree char *path = g_strconcat ("/v1/instances/", names[i], NULL);
        g_autoptr(JsonNode) n = gvd_test_api (slow, "DELETE", path, NULL, &status);

        assert_int_equal (status, 204);
        assert_nothing_left (names[i]);
      }
    gvd_test_daemon_stop (slow, TRUE);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (shares__9p_and_virtiofs__defined_started_deleted),
    cmocka_unit_test (shares__disallowed_sources__refused_nothing_left),
    cmocka_unit_test (memory__hugepages__shortfall_named_page_size_defined_holds_counted),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("vm-shares", tests, group_setup, group_teardown);
}
