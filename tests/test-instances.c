/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instances end to end against the real libvirtd (QEMU TCG): create →
 * running → lifecycle → delete leaves nothing; recovery after kill -9;
 * changes behind gpuvmd's back; every create step failing in turn rolls
 * back; concurrent creates racing for the same GPUs. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "domain-xml-hotplug.h"
#include "virt-conn.h"

#define PREFIX "gvdtest-inst-"
#define POOL "gvdtest-inst"
#define POOL_PATH "/var/tmp/gvdtest-inst-pool"
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
  char *image_file;
  char *config;
  char *config_fixture;
  virConnectPtr conn;
} Fixture;

static Fixture fx;

static int
group_setup (void **state)
{
  g_autofree char *fixture_root = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);

  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  /* A blank 64 MiB raw base image (sparse): enough for firmware to run. */
  fx.state_dir = gvd_test_scratch_new (fx.conn, PREFIX, POOL, IMAGE, 64 * 1024 * 1024,
                                       &fx.image_file);
  fx.config = g_strdup_printf (BASE_CONFIG, fx.state_dir, fx.state_dir);
  fx.config_fixture = g_strdup_printf ("%s[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\n",
                                       fx.config, fixture_root, fixture_root);
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
  g_free (fx.config_fixture);
  return 0;
}

static char *
domain_state (const char *name)
{
  g_autofree char *dn = g_strconcat (PREFIX, name, NULL);
  g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, dn);
  int st = 0;

  if (dom == NULL)
    return NULL;
  virDomainGetState (dom, &st, NULL, 0);
  return g_strdup (st == VIR_DOMAIN_RUNNING ? "running" : st == VIR_DOMAIN_SHUTOFF ? "shutoff" : "other");
}

typedef struct {
  GvdTestDaemon *d;
  const char *name;
  const char *want;
} StateWait;

static gboolean
api_state_is (gpointer data)
{
  StateWait *w = data;
  g_autofree char *path = g_strconcat ("/v1/instances/", w->name, NULL);
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_api (w->d, "GET", path, NULL, &status);

  return status == 200 && g_strcmp0 (gvd_test_json_string (n, "state"), w->want) == 0;
}

static void
lifecycle__create_shutdown_start_reset_delete__nothing_left (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) shut = NULL;
  g_autoptr(JsonNode) started = NULL;
  g_autoptr(JsonNode) reset = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autofree char *dom_state = NULL;
  g_autofree char *xml = NULL;
  guint status = 0;
  const char *body = "{\"name\": \"life\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
                     " \"memory_mib\": 256, \"root_disk_gib\": 1, \"labels\": {\"team\": \"ci\"},"
                     " \"autostart\": true, \"console\": {\"vnc\": true}}";
  gint64 t0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);

  t0 = g_get_monotonic_time ();
  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  assert_int_equal (status, 201);
  print_message ("create → running: %.2f s\n", (g_get_monotonic_time () - t0) / 1e6);
  assert_string_equal (gvd_test_json_string (created, "state"), "running");
  assert_string_equal (gvd_test_json_string (created, "domain"), PREFIX "life");
  assert_string_equal (gvd_test_json_string (created, "labels.team"), "ci");
  assert_non_null (gvd_test_json_string (created, "uuid"));

  /* Asked for: libvirt's autostart flag, which the instance shows. */
  assert_true (json_node_get_boolean (gvd_test_json_path (created, "autostart")));
  {
    g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, PREFIX "life");
    int autostart = 0;

    assert_non_null (dom);
    assert_int_equal (virDomainGetAutostart (dom, &autostart), 0);
    assert_int_equal (autostart, 1);
  }

  /* libvirt tooling sees it, with gpuvmd's metadata. */
  dom_state = domain_state ("life");
  assert_string_equal (dom_state, "running");
  {
    g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, PREFIX "life");
    g_autoptr(GArray) spare = NULL;

    xml = virDomainGetXMLDesc (dom, 0);
    assert_non_null (strstr (xml, "urn:gpuvmd:domain:1"));
    /* [instances] hotplug_ports (4): empty root ports after libvirt placed
     * every device, in the running machine too. */
    spare = gvd_domain_xml_free_root_ports (xml, NULL);
    assert_non_null (spare);
    assert_int_equal (spare->len, 4);
  }
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "life-"), 2);

  again = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  assert_int_equal (status, 409);
  assert_string_equal (gvd_test_json_string (again, "error.code"), "already_exists");

  /* A guest without an OS ignores ACPI: shutdown falls back to power off. */
  shut = gvd_test_api (d, "POST", "/v1/instances/life/shutdown", "{\"timeout_seconds\": 2}",
                       &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (shut, "state"), "shutoff");

  started = gvd_test_api (d, "POST", "/v1/instances/life/start", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (started, "state"), "running");
  /* The console is a unix socket libvirt made, not a TCP port. */
  {
    const char *sock = gvd_test_json_string (started, "vnc.socket");
    struct stat st;

    assert_non_null (sock);
    /* Only the socket: no host or port. */
    assert_int_equal (json_object_get_size (json_node_get_object (gvd_test_json_path (started, "vnc"))), 1);
    assert_int_equal (stat (sock, &st), 0);
    assert_true (S_ISSOCK (st.st_mode));
  }

  reset = gvd_test_api (d, "POST", "/v1/instances/life/reset", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (reset, "state"), "running");

  /* The guest-agent probe: QEMU runs but no agent answers in this OS-less
   * guest (unresponsive), and a domain that does not exist is unavailable. */
  assert_string_equal (gvd_test_probe_guest_agent (PREFIX "life"), "unresponsive");
  assert_string_equal (gvd_test_probe_guest_agent (PREFIX "no-such-domain"), "unavailable");

  {
    g_autoptr(JsonNode) bad = gvd_test_api (d, "POST", "/v1/instances/life/explode", NULL, &status);
    assert_int_equal (status, 404);
    g_autoptr(JsonNode) qmp = gvd_test_api (d, "POST", "/v1/instances/life/qmp",
                                            "{\"execute\": \"query-status\"}", &status);
    assert_int_equal (status, 200);
    assert_string_equal (gvd_test_json_string (qmp, "return.status"), "running");
    /* Commands that touch host files, memory or block devices, or run HMP,
     * never reach QEMU. */
    const char *refused[] = {
      "{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": \"info\"}}",
      "{\"execute\": \"dump-guest-memory\", \"arguments\": {\"paging\": false,"
      " \"protocol\": \"file:/tmp/gvdtest-dump\"}}",
      "{\"execute\": \"pmemsave\", \"arguments\": {\"val\": 0, \"size\": 4096,"
      " \"filename\": \"/tmp/gvdtest-pmem\"}}",
      "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"file\","
      " \"node-name\": \"shadow\", \"filename\": \"/etc/shadow\"}}",
    };
    const char *names[] = { "human-monitor-command", "dump-guest-memory", "pmemsave",
                            "blockdev-add" };

    for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
      {
        g_autoptr(JsonNode) no = gvd_test_api (d, "POST", "/v1/instances/life/qmp", refused[i],
                                               &status);
        g_autofree char *quoted = g_strdup_printf ("'%s'", names[i]);

        assert_int_equal (status, 403);
        assert_string_equal (gvd_test_json_string (no, "error.code"), "forbidden");
        assert_non_null (strstr (gvd_test_json_string (no, "error.message"), quoted));
      }
    assert_false (g_file_test ("/tmp/gvdtest-dump", G_FILE_TEST_EXISTS));
    assert_false (g_file_test ("/tmp/gvdtest-pmem", G_FILE_TEST_EXISTS));
    /* Nothing rides along with an allowed command. */
    {
      g_autoptr(JsonNode) oob = gvd_test_api (d, "POST", "/v1/instances/life/qmp",
                                              "{\"execute\": \"query-status\","
                                              " \"exec-oob\": \"human-monitor-command\"}", &status);
      assert_int_equal (status, 400);
    }
  }

  gone = gvd_test_api (d, "DELETE", "/v1/instances/life", NULL, &status);
  assert_int_equal (status, 204);
  assert_null (domain_state ("life"));
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "life-"), 0);
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "GET", "/v1/instances/life", NULL, &status);
    assert_int_equal (status, 404);
  }
  gvd_test_daemon_stop (d, TRUE);
}

/* Direct kernel boot names host files: only regular files below
 * import_dirs (no symlinks) or image volumes of the pool; dry runs too. */
static void
boot_files__host_paths_and_volumes__only_allowed_ones_rendered (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autofree char *kernel = g_build_filename (fx.state_dir, "vmlinuz", NULL);
  g_autofree char *link = g_build_filename (fx.state_dir, "vmlinuz-shadow", NULL);
  g_autofree char *fifo = g_build_filename (fx.state_dir, "initrd-fifo", NULL);
  struct {
    const char *boot;
    guint status;
    const char *code;
  } refused[] = {
    { "{\"kernel\": \"/etc/shadow\"}", 403, "forbidden" },
    { "{\"kernel\": \"/dev/null\"}", 403, "forbidden" },
    { "{\"kernel\": \"LINK\"}", 403, "forbidden" },
    { "{\"kernel\": \"KERNEL\", \"initrd\": \"/etc/shadow\"}", 403, "forbidden" },
    { "{\"kernel\": \"KERNEL\", \"initrd\": \"FIFO\"}", 403, "forbidden" },
    { "{\"kernel\": {\"volume\": \"" PREFIX "other-root.qcow2\"}}", 403, "forbidden" },
    { "{\"kernel\": {\"volume\": \"no-such-kernel\"}}", 404, "image_not_found" },
    { "{\"kernel\": {\"volume\": \"../etc/shadow\"}}", 400, "invalid_argument" },
  };
  guint status = 0;

  g_remove (link);
  g_remove (fifo);
  assert_true (g_file_set_contents (kernel, "not really a kernel", -1, NULL));
  assert_int_equal (symlink ("/etc/shadow", link), 0);
  assert_int_equal (mkfifo (fifo, 0600), 0);
  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GString) boot = g_string_new (refused[i].boot);
      g_autofree char *body = NULL;
      g_autoptr(JsonNode) n = NULL;

      g_string_replace (boot, "KERNEL", kernel, 0);
      g_string_replace (boot, "LINK", link, 0);
      g_string_replace (boot, "FIFO", fifo, 0);
      body = g_strdup_printf ("{\"name\": \"boot\", \"image\": \"" IMAGE "\", \"dry_run\": true,"
                              " \"boot\": %s}", boot->str);
      n = gvd_test_api (d, "POST", "/v1/instances", body, &status);
      if (status != refused[i].status)
        print_error ("%s: %u\n", body, status);
      assert_int_equal (status, refused[i].status);
      assert_string_equal (gvd_test_json_string (n, "error.code"), refused[i].code);
    }
  /* Nothing opened the FIFO. */
  {
    int w = open (fifo, O_WRONLY | O_NONBLOCK);
    assert_int_equal (w, -1);
    assert_int_equal (errno, ENXIO);
  }

  /* A file in the import directory, and an image volume (its pool path). */
  {
    g_autofree char *body = g_strdup_printf (
      "{\"name\": \"boot\", \"image\": \"" IMAGE "\", \"dry_run\": true,"
      " \"boot\": {\"kernel\": \"%s\", \"initrd\": {\"volume\": \"" IMAGE "\"}}}", kernel);
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances", body, &status);
    g_autofree char *want_kernel = g_strdup_printf ("<kernel>%s</kernel>", kernel);
    const char *xml;

    assert_int_equal (status, 200);
    xml = gvd_test_json_string (n, "domain_xml");
    assert_non_null (strstr (xml, want_kernel));
    assert_non_null (strstr (xml, "<initrd>" POOL_PATH "/" IMAGE "</initrd>"));
  }
  g_remove (kernel);
  g_remove (link);
  g_remove (fifo);
  gvd_test_daemon_stop (d, TRUE);
}

static void
recovery__kill9_and_behind_the_back__seen (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) recovered = NULL;
  g_autofree char *uuid = NULL;
  g_autofree char *mac = NULL;
  guint status = 0;
  StateWait w = { NULL, "rec", "shutoff" };
  gint64 t0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  created = gvd_test_api (d, "POST", "/v1/instances",
                          "{\"name\": \"rec\", \"image\": \"" IMAGE "\", \"memory_mib\": 256}",
                          &status);
  assert_int_equal (status, 201);
  uuid = g_strdup (gvd_test_json_string (created, "uuid"));
  /* No root_disk_gib: the root disk has the image's size (64 MiB), and the
   * metadata records it so that a recovery knows it. */
  assert_int_equal (gvd_test_json_int (created, "root_disk_bytes"), 64 * 1024 * 1024);
  {
    g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, PREFIX "rec");
    g_autofree char *xml = virDomainGetXMLDesc (dom, 0);
    assert_non_null (strstr (xml, "root-size-bytes>67108864<"));
    /* Behind gpuvmd's back, as `virsh autostart` would: recovery reads it. */
    assert_int_equal (virDomainSetAutostart (dom, 1), 0);
  }
  {
    JsonArray *nics = json_node_get_array (gvd_test_json_path (created, "network"));
    mac = g_strdup (json_object_get_string_member (json_array_get_object_element (nics, 0), "mac"));
  }

  /* kill -9: nothing graceful happens; the VM must keep running. */
  g_subprocess_send_signal (d->proc, SIGKILL);
  g_subprocess_wait (d->proc, NULL, NULL);
  g_clear_object (&d->proc);
  {
    g_autofree char *st = domain_state ("rec");
    assert_string_equal (st, "running");
  }

  d2 = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d2, 10000);
  recovered = gvd_test_api (d2, "GET", "/v1/instances/rec", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (recovered, "uuid"), uuid);
  assert_string_equal (gvd_test_json_string (recovered, "state"), "running");
  assert_int_equal (gvd_test_json_int (recovered, "root_disk_bytes"), 64 * 1024 * 1024);
  assert_true (json_node_get_boolean (gvd_test_json_path (recovered, "autostart")));
  {
    JsonArray *nics = json_node_get_array (gvd_test_json_path (recovered, "network"));
    assert_string_equal (json_object_get_string_member (json_array_get_object_element (nics, 0), "mac"), mac);
  }

  /* virsh destroy behind gpuvmd's back: visible within 2 s. */
  {
    g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, PREFIX "rec");
    t0 = g_get_monotonic_time ();
    assert_int_equal (virDomainDestroy (dom), 0);
    print_message ("virDomainDestroy took %.3f s\n", (g_get_monotonic_time () - t0) / 1e6);
    t0 = g_get_monotonic_time ();
    w.d = d2;
    assert_true (gvd_test_wait_until (api_state_is, &w, 2000));
    print_message ("destroy behind the back seen %.3f s after it returned\n",
                   (g_get_monotonic_time () - t0) / 1e6);
    /* Undefined behind its back: the instance disappears. */
    assert_int_equal (virDomainUndefineFlags (dom, VIR_DOMAIN_UNDEFINE_NVRAM), 0);
  }
  for (int i = 0; i < 40; i++)
    {
      g_autoptr(JsonNode) n = gvd_test_api (d2, "GET", "/v1/instances/rec", NULL, &status);
      if (status == 404)
        break;
      g_usleep (50 * 1000);
    }
  assert_int_equal (status, 404);
  gvd_test_daemon_stop (d2, TRUE);
}

static void
create__each_step_failing__rolls_back_everything (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config_fixture, NULL);
  guint status = 0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);

  /* 1. bad image: nothing created. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
                                          "{\"name\": \"bad-image\", \"image\": \"no-such.qcow2\"}",
                                          &status);
    assert_int_equal (status, 404);
    assert_string_equal (gvd_test_json_string (n, "error.code"), "image_not_found");
    assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, "bad-image"), 0);
    assert_null (domain_state ("bad-image"));
  }
  /* 2. define rejected: a foreign domain already has the name. */
  {
    const char *foreign = "<domain type='qemu'><name>" PREFIX "clash</name><memory unit='MiB'>64</memory>"
                          "<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>";
    g_autoptr(virDomain) dom = virDomainDefineXML (fx.conn, foreign);
    g_autoptr(JsonNode) n = NULL;

    assert_non_null (dom);
    n = gvd_test_api (d, "POST", "/v1/instances",
                      "{\"name\": \"clash\", \"image\": \"" IMAGE "\", \"memory_mib\": 256}",
                      &status);
    assert_int_equal (status, 409);
    assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "clash-"), 0);
    virDomainUndefine (dom);
  }
  /* 3. start rejected: a (fixture) GPU absent from this host. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
                                          "{\"name\": \"nogpu\", \"image\": \"" IMAGE "\","
                                          " \"memory_mib\": 256, \"gpus\": 1}", &status);
    g_autoptr(JsonNode) avail = NULL;

    assert_int_equal (status, 502);
    assert_string_equal (gvd_test_json_string (n, "error.code"), "libvirt_error");
    assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "nogpu-"), 0);
    assert_null (domain_state ("nogpu"));
    /* …and its claim is released: every GPU is free again. */
    avail = gvd_test_api (d, "GET", "/v1/devices/available", NULL, &status);
    assert_int_equal (status, 200);
    assert_null (strstr (json_to_string (avail, FALSE), "\"nogpu\""));
  }
  /* 4. a plan refusal carries every reason. */
  {
    g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances",
                                          "{\"name\": \"greedy\", \"image\": \"" IMAGE "\","
                                          " \"gpus\": 64}", &status);
    assert_int_equal (status, 409);
    assert_string_equal (gvd_test_json_string (n, "error.code"), "insufficient_gpus");
    assert_non_null (gvd_test_json_path (n, "error.details"));
  }
  gvd_test_daemon_stop (d, TRUE);
}

static void
reservation__create_consumes__devices_move_to_instance (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config_fixture, NULL);
  g_autoptr(JsonNode) res = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autofree char *body = NULL;
  g_autofree char *res_path = NULL;
  const char *id;
  JsonArray *gpus;
  guint status = 0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  res = gvd_test_api (d, "POST", "/v1/reservations", "{\"gpus\": 2, \"ttl_seconds\": 60}", &status);
  assert_int_equal (status, 201);
  id = gvd_test_json_string (res, "id");
  gpus = json_node_get_array (gvd_test_json_path (res, "gpus"));
  assert_int_equal (json_array_get_length (gpus), 2);

  body = g_strdup_printf ("{\"name\": \"resv\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
                          " \"reservation\": \"%s\", \"start\": false}", id);
  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  assert_int_equal (status, 201);
  assert_string_equal (gvd_test_json_string (created, "state"), "shutoff");
  {
    JsonArray *devs = json_node_get_array (gvd_test_json_path (created, "devices"));
    g_autoptr(GString) seen = g_string_new (NULL);
    for (guint i = 0; i < json_array_get_length (devs); i++)
      g_string_append_printf (seen, "%s ", json_object_get_string_member (
                                              json_array_get_object_element (devs, i), "pci_address"));
    for (guint i = 0; i < 2; i++)
      assert_non_null (strstr (seen->str, json_array_get_string_element (gpus, i)));
  }
  /* Consumed: a second create with it fails, and it is gone. */
  again = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  assert_true (status == 404 || status == 409);
  res_path = g_strdup_printf ("/v1/reservations/%s", id);
  gone = gvd_test_api (d, "GET", res_path, NULL, &status);
  assert_int_equal (status, 404);
  {
    g_autoptr(JsonNode) del = gvd_test_api (d, "DELETE", "/v1/instances/resv", NULL, &status);
    assert_int_equal (status, 204);
  }
  gvd_test_daemon_stop (d, TRUE);
}

typedef struct {
  GvdTestDaemon *d;
  const char *body;
  guint status;
  JsonNode *reply;
} Call;

static gpointer
call_thread (gpointer data)
{
  Call *c = data;
  g_autoptr(SoupSession) s = gvd_test_daemon_session (c->d, 120);
  g_autofree char *url = g_strconcat (c->d->url, "/v1/instances", NULL);

  c->reply = gvd_test_http (s, "POST", url, NULL, c->body, &c->status);
  return NULL;
}

/* libvirtd frozen (SIGSTOP) while it starts a domain with GPUs: the call
 * never returns, so the deadline must fire, mark the devices wedged and
 * answer 504, while the daemon keeps serving; once libvirtd runs again the
 * late result is rolled back. */
static void
deadline__libvirt_frozen__devices_wedged_daemon_serves (void **state)
{
  g_autofree char *config = g_strdup_printf ("%s[instances]\ndevice_timeout=5\n", fx.config_fixture);
  g_autoptr(GvdTestDaemon) d = NULL;
  Call call = { NULL, "{\"name\": \"frozen\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
                      " \"gpus\": 1}", 0, NULL };
  GThread *t;
  GPid libvirtd;
  g_autoptr(JsonNode) health = NULL;
  g_autoptr(JsonNode) avail = NULL;
  guint health_status = 0, avail_status = 0;
  gboolean quarantined = FALSE;

  /* device_timeout goes after the fixture's [host] group: re-open [instances]. */
  d = gvd_test_daemon_start (config, NULL);
  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  libvirtd = gvd_test_libvirtd_pid ();
  assert_true (libvirtd > 0);

  call.d = d;
  assert_int_equal (kill (libvirtd, SIGSTOP), 0);
  /* No assertion may fire while libvirtd is stopped: collect, thaw, check. */
  t = g_thread_new ("create", call_thread, &call);
  g_thread_join (t);
  health = gvd_test_api (d, "GET", "/healthz", NULL, &health_status);
  avail = gvd_test_api (d, "GET", "/v1/devices/available", NULL, &avail_status);
  kill (libvirtd, SIGCONT);

  assert_int_equal (health_status, 200);
  assert_int_equal (avail_status, 200);
  {
    JsonArray *devs = json_node_get_array (gvd_test_json_path (avail, "devices"));
    for (guint i = 0; i < json_array_get_length (devs); i++)
      if (json_object_get_boolean_member (json_array_get_object_element (devs, i), "quarantined"))
        quarantined = TRUE;
  }
  assert_int_equal (call.status, 504);
  assert_string_equal (gvd_test_json_string (call.reply, "error.code"), "timeout");
  assert_non_null (strstr (gvd_test_json_string (call.reply, "error.message"), "wedged"));
  assert_true (quarantined);
  json_node_unref (call.reply);

  /* The late failure (the fixture GPU is not on this host) is rolled back. */
  for (int i = 0; i < 200 && (gvd_test_count_volumes (fx.conn, POOL, PREFIX "frozen-") > 0
                              || gvd_test_domain_exists (fx.conn, PREFIX "frozen")); i++)
    g_usleep (100 * 1000);
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "frozen-"), 0);

  /* Operations that finish in time disarm their deadline: delete an
   * instance with a GPU, outlive the deadline, and the daemon is still
   * there and quarantined nothing new. */
  {
    guint n_quarantined = 0;
    g_autoptr(JsonNode) made = gvd_test_api (d, "POST", "/v1/instances",
                                             "{\"name\": \"timely\", \"image\": \"" IMAGE "\","
                                             " \"memory_mib\": 256, \"gpus\": 1, \"start\": false}",
                                             &avail_status);
    g_autoptr(JsonNode) gone = NULL;
    g_autoptr(JsonNode) later = NULL;

    assert_int_equal (avail_status, 201);
    gone = gvd_test_api (d, "DELETE", "/v1/instances/timely", NULL, &avail_status);
    assert_int_equal (avail_status, 204);
    g_usleep (7 * G_USEC_PER_SEC);
    later = gvd_test_api (d, "GET", "/v1/devices/available", NULL, &avail_status);
    assert_int_equal (avail_status, 200);
    {
      JsonArray *devs = json_node_get_array (gvd_test_json_path (later, "devices"));
      for (guint i = 0; i < json_array_get_length (devs); i++)
        if (json_object_get_boolean_member (json_array_get_object_element (devs, i), "quarantined"))
          n_quarantined++;
    }
    assert_int_equal (n_quarantined, 1); /* only the one wedged above */
  }
  gvd_test_daemon_stop (d, TRUE);
}

typedef struct {
  GvdTestDaemon *d;
  int index;
  guint status;
} Racer;

static gpointer
race_thread (gpointer data)
{
  Racer *r = data;
  g_autoptr(SoupSession) s = gvd_test_daemon_session (r->d, 120);
  g_autofree char *url = g_strconcat (r->d->url, "/v1/instances", NULL);
  g_autofree char *body = g_strdup_printf ("{\"name\": \"race-%d\", \"image\": \"" IMAGE "\","
                                           " \"memory_mib\": 256, \"gpus\": 2, \"start\": false}",
                                           r->index);
  g_autoptr(JsonNode) n = gvd_test_http (s, "POST", url, NULL, body, &r->status);
  return NULL;
}

static void
concurrency__20_creates_for_8_gpus_in_pairs__exactly_4_win (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config_fixture, NULL);
  Racer racers[20];
  GThread *threads[20];
  guint won = 0, in_use = 0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  for (int i = 0; i < 20; i++)
    {
      racers[i] = (Racer) { d, i, 0 };
      threads[i] = g_thread_new ("racer", race_thread, &racers[i]);
    }
  for (int i = 0; i < 20; i++)
    g_thread_join (threads[i]);
  for (int i = 0; i < 20; i++)
    {
      if (racers[i].status == 201)
        won++;
      else if (racers[i].status == 409)
        in_use++;
      else
        fail_msg ("racer %d: unexpected status %u", i, racers[i].status);
    }
  assert_int_equal (won, 4);
  assert_int_equal (in_use, 16);
  for (int i = 0; i < 20; i++)
    if (racers[i].status == 201)
      {
        g_autofree char *path = g_strdup_printf ("/v1/instances/race-%d", i);
        guint status = 0;
        g_autoptr(JsonNode) n = gvd_test_api (d, "DELETE", path, NULL, &status);
        assert_int_equal (status, 204);
      }
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, PREFIX "race-"), 0);
  gvd_test_daemon_stop (d, TRUE);
}

/* POST /v1/instances with an Idempotency-Key; @out_replayed: the
 * Idempotent-Replayed header was set. */
static JsonNode *
create_with_key (GvdTestDaemon *d, const char *key, const char *body, guint *out_status,
                 gboolean *out_replayed)
{
  g_autofree char *url = g_strconcat (d->url, "/v1/instances", NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len;
  gconstpointer data;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Idempotency-Key", key);
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  reply = soup_session_send_and_read (d->session, msg, NULL, NULL);
  assert_non_null (reply);
  *out_status = soup_message_get_status (msg);
  *out_replayed = g_strcmp0 (soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                           "Idempotent-Replayed"),
                             "true") == 0;
  data = g_bytes_get_data (reply, &len);
  if (len == 0 || !json_parser_load_from_data (parser, data, len, NULL))
    return NULL;
  return json_node_copy (json_parser_get_root (parser));
}

static guint64
daemon_rss_kib (GvdTestDaemon *d)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status",
                                           g_subprocess_get_identifier (d->proc));
  g_autofree char *text = NULL;
  const char *line;

  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  line = strstr (text, "VmRSS:");
  assert_non_null (line);
  return g_ascii_strtoull (line + 6, NULL, 10);
}

/* Dry runs are never stored (200 with distinct keys leave nothing: the
 * first key then takes another body); a real create is replayed. */
static void
idempotency__dry_runs_not_stored_real_create_replayed (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  const char *dry = "{\"name\": \"idem\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
                    " \"memory_mib\": 256, \"root_disk_gib\": 1, \"dry_run\": true}";
  const char *dry2 = "{\"name\": \"idem2\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
                     " \"memory_mib\": 256, \"root_disk_gib\": 1, \"dry_run\": true}";
  const char *real = "{\"name\": \"idem\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
                     " \"memory_mib\": 256, \"root_disk_gib\": 1, \"start\": false}";
  guint status = 0;
  gboolean replayed = FALSE;
  guint64 rss0;
  guint64 rss1;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  rss0 = daemon_rss_kib (d);
  for (int i = 0; i < 200; i++)
    {
      g_autofree char *key = g_strdup_printf ("dry-%d", i);
      g_autoptr(JsonNode) n = create_with_key (d, key, dry, &status, &replayed);
      assert_int_equal (status, 200);
      assert_false (replayed);
    }
  rss1 = daemon_rss_kib (d);
  print_message ("RSS after 200 keyed dry runs: %" G_GUINT64_FORMAT " → %" G_GUINT64_FORMAT
                 " KiB\n", rss0, rss1);
  {
    g_autoptr(JsonNode) n = create_with_key (d, "dry-0", dry2, &status, &replayed);
    assert_int_equal (status, 200); /* not 409: nothing was stored for dry-0 */
    assert_false (replayed);
  }
  {
    g_autoptr(JsonNode) first = create_with_key (d, "real-1", real, &status, &replayed);
    g_autoptr(JsonNode) again = NULL;
    g_autoptr(JsonNode) other = NULL;
    g_autoptr(JsonNode) gone = NULL;

    assert_int_equal (status, 201);
    assert_false (replayed);
    again = create_with_key (d, "real-1", real, &status, &replayed);
    assert_int_equal (status, 201);
    assert_true (replayed);
    assert_string_equal (gvd_test_json_string (again, "name"), "idem");
    other = create_with_key (d, "real-1", dry2, &status, &replayed);
    assert_int_equal (status, 200); /* a dry run bypasses the cache */
    assert_false (replayed);
    gone = gvd_test_api (d, "DELETE", "/v1/instances/idem", NULL, &status);
    assert_int_equal (status, 204);
  }
  gvd_test_daemon_stop (d, TRUE);
}

/* Append @text to the domain's console log as the guest's serial port would
 * (virtlogd appends too; O_APPEND keeps both whole). */
static void
console_append (const char *domain, const char *text)
{
  g_autofree char *path = g_strdup_printf ("/var/log/libvirt/qemu/%s-console.log", domain);
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, strlen (text)), (gssize) strlen (text));
  close (fd);
}

/* Read a server-sent event stream until @needle appears (or 15 s pass). */
static gboolean
stream_until (GInputStream *in, GString *seen, const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  char buf[4096];

  while (strstr (seen->str, needle) == NULL && g_get_monotonic_time () < deadline)
    {
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL);
      if (n <= 0)
        return FALSE;
      g_string_append_len (seen, buf, n);
    }
  return strstr (seen->str, needle) != NULL;
}

static void
console__tail_follow_and_hostile_queries__answered (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) tail = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GString) seen = g_string_new (NULL);
  g_autofree char *url = NULL;
  const char *text;
  guint status = 0;
  const char *body = "{\"name\": \"cons\", \"image\": \"" IMAGE "\", \"vcpus\": 1,"
                     " \"memory_mib\": 256, \"root_disk_gib\": 1}";
  static const struct {
    const char *method, *path, *code;
    guint status;
  } bad[] = {
    { "GET", "/v1/instances/cons/console?tail=abc", "invalid_argument", 400 },
    { "GET", "/v1/instances/cons/console?tail=10001", "invalid_argument", 400 },
    { "GET", "/v1/instances/cons/console?tail=-1", "invalid_argument", 400 },
    { "GET", "/v1/instances/cons/console?follow=yes", "invalid_argument", 400 },
    { "GET", "/v1/instances/nope/console", "not_found", 404 },
    { "POST", "/v1/instances/cons/console", "method_not_allowed", 405 },
  };

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  assert_int_equal (status, 201);
  /* Not asked for: no VNC console (no <graphics> at all) and no autostart. */
  assert_true (json_node_is_null (gvd_test_json_path (created, "vnc")));
  assert_false (json_node_get_boolean (gvd_test_json_path (created, "autostart")));
  {
    g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, PREFIX "cons");
    g_autofree char *xml = NULL;
    int autostart = 1;

    assert_non_null (dom);
    xml = virDomainGetXMLDesc (dom, 0);
    assert_null (strstr (xml, "<graphics"));
    assert_int_equal (virDomainGetAutostart (dom, &autostart), 0);
    assert_int_equal (autostart, 0);
  }

  /* What the guest wrote, including what a terminal must not get raw: an
   * escape sequence and a byte that is not UTF-8. */
  console_append (PREFIX "cons", "\nMARK-A \x1b[2J\xff\n");
  tail = gvd_test_api (d, "GET", "/v1/instances/cons/console?tail=50", NULL, &status);
  assert_int_equal (status, 200);
  text = gvd_test_json_string (tail, "text");
  assert_non_null (strstr (text, "MARK-A \x1b[2J\xef\xbf\xbd\n"));
  assert_string_equal (gvd_test_json_string (tail, "instance"), "cons");

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) n = gvd_test_api (d, bad[i].method, bad[i].path, NULL, &status);
      print_message ("%s %s\n", bad[i].method, bad[i].path);
      assert_int_equal (status, bad[i].status);
      gvd_test_assert_error (n, bad[i].code, NULL);
    }

  /* Follow: the tail first, then what is appended while the stream is open. */
  url = g_strconcat (d->url, "/v1/instances/cons/console?follow=1&tail=50", NULL);
  msg = soup_message_new ("GET", url);
  in = soup_session_send (d->session, msg, NULL, NULL);
  assert_non_null (in);
  assert_int_equal (soup_message_get_status (msg), 200);
  assert_string_equal (soup_message_headers_get_content_type (
                         soup_message_get_response_headers (msg), NULL),
                       "text/event-stream");
  assert_true (stream_until (in, seen, "MARK-A"));
  assert_non_null (strstr (seen->str, "event: console\ndata: {"));
  console_append (PREFIX "cons", "\nMARK-B\n");
  assert_true (stream_until (in, seen, "MARK-B"));
  g_input_stream_close (in, NULL, NULL);

  gone = gvd_test_api (d, "DELETE", "/v1/instances/cons", NULL, &status);
  assert_int_equal (status, 204);
  /* The log belongs to libvirt's log directory; gpuvmd leaves it there. */
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (lifecycle__create_shutdown_start_reset_delete__nothing_left),
    cmocka_unit_test (boot_files__host_paths_and_volumes__only_allowed_ones_rendered),
    cmocka_unit_test (recovery__kill9_and_behind_the_back__seen),
    cmocka_unit_test (create__each_step_failing__rolls_back_everything),
    cmocka_unit_test (concurrency__20_creates_for_8_gpus_in_pairs__exactly_4_win),
    cmocka_unit_test (reservation__create_consumes__devices_move_to_instance),
    cmocka_unit_test (deadline__libvirt_frozen__devices_wedged_daemon_serves),
    cmocka_unit_test (idempotency__dry_runs_not_stored_real_create_replayed),
    cmocka_unit_test (console__tail_follow_and_hostile_queries__answered),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("instances", tests, group_setup, group_teardown);
}
