/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Forwarded guest ports against the real libvirtd (QEMU TCG): a create
 * with "ports" gets a host port of [network] forward_ports that QEMU binds
 * on the instance's own address of [network] forward_addresses while the
 * domain runs, and not on 127.0.0.1 (where slirp sends every guest's
 * 10.0.2.2); a port another program holds is skipped; an exhausted range
 * refuses the create and leaves nothing; a restarted daemon takes ports and
 * addresses back from the domains; delete frees them on the host. */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>

#include "port-probe.h"

#define PREFIX "gvdtest-ports-"
#define POOL "gvdtest-ports"
#define POOL_PATH "/var/tmp/gvdtest-ports-pool"
#define IMAGE "gvdports-blank.raw"
/* Two ports: one held by a stand-in host program, one for an instance. */
#define PORT_HELD 47310
#define PORT_FREE 47311
/* forward_addresses 127.77.31.0/29: 127.77.31.1 to .6 are handed out. */
#define ADDR_1 "127.77.31.1"
#define ADDR_2 "127.77.31.2"
#define ADDR_1_HOST 0x7f4d1f01u
#define CONFIG                                               \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n"                                         \
  "[network]\nforward_ports=47310-47311\nallowed_sources=br0\n" \
  "forward_addresses=127.77.31.0/29\n"                      \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\nshutdown_timeout=2\n"

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
  gvd_test_require_libvirtd ();
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  /* A blank raw image: QEMU's forwarder listens whatever the guest runs. */
  fx.state_dir = gvd_test_scratch_new (fx.conn, PREFIX, POOL, IMAGE, 16 * 1024 * 1024,
                                       &fx.image_file);
  fx.config = g_strdup_printf (CONFIG, fx.state_dir, fx.state_dir);
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
  return 0;
}

/* A listening socket on 127.0.0.1:@port, as another program would hold. */
static int
hold_port (guint port)
{
  struct sockaddr_in sa = { 0 };
  int one = 1;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_true (fd >= 0);
  sa.sin_family = AF_INET;
  sa.sin_port = htons ((guint16) port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    fail_msg ("cannot hold 127.0.0.1:%u for the test: %s", port, g_strerror (errno));
  assert_int_equal (listen (fd, 4), 0);
  return fd;
}

/* Whether something accepts TCP connections on @address:@port;
 * @out_errno (may be NULL) gets connect's errno otherwise. */
static gboolean
connect_ok (const char *address, guint port, int *out_errno)
{
  struct sockaddr_in sa = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok;

  sa.sin_family = AF_INET;
  sa.sin_port = htons ((guint16) port);
  assert_int_equal (inet_pton (AF_INET, address, &sa.sin_addr), 1);
  ok = connect (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
  if (out_errno != NULL)
    *out_errno = ok ? 0 : errno;
  close (fd);
  return ok;
}

static gboolean
port_accepts (guint port)
{
  return connect_ok ("127.0.0.1", port, NULL);
}

/* QEMU listens on @address:@port, and 127.0.0.1:@port refuses: what a
 * guest's 10.0.2.2:@port reaches is not this forward. */
static void
assert_listens_only_on (const char *address, guint port)
{
  int err = 0;

  assert_true (connect_ok (address, port, NULL));
  assert_false (connect_ok ("127.0.0.1", port, &err));
  assert_int_equal (err, ECONNREFUSED);
}

static gboolean
port_is_free (gpointer data)
{
  return gvd_port_probe_free (GPOINTER_TO_UINT (data), NULL);
}

static void
assert_ports (JsonNode *inst, guint guest, guint host, const char *address)
{
  JsonArray *ports = json_node_get_array (gvd_test_json_path (inst, "ports"));
  JsonObject *p;
  g_autofree char *hint = g_strdup_printf ("ssh -p %u gpuvm@%s", host, address);

  assert_int_equal (json_array_get_length (ports), 1);
  p = json_array_get_object_element (ports, 0);
  assert_int_equal (json_object_get_int_member (p, "guest"), guest);
  assert_int_equal (json_object_get_int_member (p, "host"), host);
  assert_string_equal (json_object_get_string_member (p, "address"), address);
  assert_string_equal (gvd_test_json_string (inst, "ssh"), hint);
}

/* gpuvmctl ssh NAME ARGS with a stand-in ssh first on PATH that prints its
 * arguments: what gpuvmctl would exec. Returns stdout; @out_status. */
static char *
ctl_ssh (GvdTestDaemon *d, const char *const *args, int *out_status)
{
  g_autofree char *ctl = gvd_test_build_path ("src", "ctl", "gpuvmctl", NULL);
  g_autofree char *bin = g_build_filename (fx.state_dir, "bin", NULL);
  g_autofree char *fake = g_build_filename (bin, "ssh", NULL);
  g_autofree char *path = g_strconcat (bin, ":", g_getenv ("PATH"), NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  g_mkdir_with_parents (bin, 0700);
  assert_true (g_file_set_contents (fake, "#!/bin/sh\necho \"ssh $*\"\n", -1, NULL));
  g_chmod (fake, 0700);
  g_ptr_array_add (argv, ctl);
  g_ptr_array_add (argv, (char *) "--socket");
  g_ptr_array_add (argv, d->socket_path);
  g_ptr_array_add (argv, (char *) "ssh");
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_setenv (l, "PATH", path, TRUE);
  p = g_subprocess_launcher_spawnv (l, (const char *const *) argv->pdata, &error);
  assert_non_null (p);
  assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error));
  *out_status = g_subprocess_get_exit_status (p);
  g_unlink (fake);
  g_rmdir (bin);
  return out;
}

static void
create_refused_leaves_nothing (GvdTestDaemon *d, const char *name, const char *body,
                               guint want_status, const char *want_code, const char *needle)
{
  g_autofree char *domain = g_strconcat (PREFIX, name, NULL);
  guint status = 0;
  g_autoptr(JsonNode) n = gvd_test_api (d, "POST", "/v1/instances", body, &status);

  assert_int_equal (status, want_status);
  gvd_test_assert_error (n, want_code, needle);
  assert_false (gvd_test_domain_exists (fx.conn, domain));
  assert_int_equal (gvd_test_count_volumes (fx.conn, POOL, name), 0);
}

static void
forward__create_restart_delete__port_bound_then_freed (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) recovered = NULL;
  guint status = 0;
  int held = hold_port (PORT_HELD);
  const char *body = "{\"name\": \"fwd\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
                     " \"network\": {\"mode\": \"user\"}, \"ports\": [{\"guest\": 22}]}";
  const char *body2 = "{\"name\": \"fwd2\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
                      " \"ports\": [{\"guest\": 22}]}";

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  assert_true (gvd_port_probe_free (PORT_FREE, NULL));

  /* Two ports wanted, one usable (the other is held on the host): 409,
   * nothing defined, no volume, no port and no address kept. */
  create_refused_leaves_nothing (d, "fwd0",
                                 "{\"name\": \"fwd0\", \"image\": \"" IMAGE "\","
                                 " \"ports\": [{\"guest\": 22}, {\"guest\": 8888}]}",
                                 409, "conflict", "forward_ports 47310-47311");
  /* A bridged guest is reached on its own address. */
  create_refused_leaves_nothing (d, "fwd",
                                 "{\"name\": \"fwd\", \"image\": \"" IMAGE "\", \"network\":"
                                 " {\"mode\": \"bridge\", \"source\": \"br0\"},"
                                 " \"ports\": [{\"guest\": 22}]}",
                                 400, "invalid_argument", "'ports' needs user-mode networking");

  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create: %u %s", status, gvd_test_json_string (created, "error.message"));
  assert_string_equal (gvd_test_json_string (created, "state"), "running");
  /* The held port was skipped; the address the refused create had is
   * free again. */
  assert_ports (created, 22, PORT_FREE, ADDR_1);
  /* QEMU listens there, on its own address only, while the domain runs. */
  {
    const guint32 own = ADDR_1_HOST;
    assert_false (gvd_port_probe_free (PORT_FREE, (gpointer) &own));
  }
  assert_listens_only_on (ADDR_1, PORT_FREE);
  {
    g_autoptr(virDomain) dom = virDomainLookupByName (fx.conn, PREFIX "fwd");
    g_autofree char *xml = virDomainGetXMLDesc (dom, 0);

    assert_non_null (strstr (xml, "tcp:" ADDR_1 ":47311-:22"));
    assert_null (strstr (xml, "127.0.0.1"));
    /* The forwarded NIC is QEMU's, not an <interface>. */
    assert_null (strstr (xml, "<interface"));
  }
  /* gpuvmctl ssh execs ssh with the forwarded port (and the command). */
  {
    int rc = -1;
    g_autofree char *out = ctl_ssh (d, (const char *[]) { "fwd", "--", "uname", "-a", NULL }, &rc);
    g_autofree char *out2 = ctl_ssh (d, (const char *[]) { "fwd", "--user", "root", NULL }, &rc);

    assert_string_equal (out, "ssh -p 47311 gpuvm@" ADDR_1 " uname -a\n");
    assert_string_equal (out2, "ssh -p 47311 root@" ADDR_1 "\n");
  }

  /* The range is used up: the next create is refused and leaves nothing. */
  create_refused_leaves_nothing (d, "fwd2", body2, 409, "conflict", "no 1 free host port");

  /* kill -9 and a new daemon: the port comes back from the domain. */
  g_subprocess_send_signal (d->proc, SIGKILL);
  g_subprocess_wait (d->proc, NULL, NULL);
  g_clear_object (&d->proc);
  close (held);
  held = -1;
  d2 = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d2, 10000);
  recovered = gvd_test_api (d2, "GET", "/v1/instances/fwd", NULL, &status);
  assert_int_equal (status, 200);
  assert_ports (recovered, 22, PORT_FREE, ADDR_1);
  {
    /* 47310 is free again; 47311 and 127.77.31.1 are the recovered
     * instance's. */
    g_autoptr(JsonNode) second = gvd_test_api (d2, "POST", "/v1/instances", body2, &status);
    if (status != 201)
      fail_msg ("create after recovery: %u %s", status,
                gvd_test_json_string (second, "error.message"));
    assert_ports (second, 22, PORT_HELD, ADDR_2);
    assert_listens_only_on (ADDR_2, PORT_HELD);
    g_autoptr(JsonNode) gone2 = gvd_test_api (d2, "DELETE", "/v1/instances/fwd2", NULL, &status);
    assert_int_equal (status, 204);
  }

  /* Delete: QEMU is gone and the host port is free. */
  {
    g_autoptr(JsonNode) gone = gvd_test_api (d2, "DELETE", "/v1/instances/fwd", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_false (gvd_test_domain_exists (fx.conn, PREFIX "fwd"));
  assert_true (gvd_test_wait_until (port_is_free, GUINT_TO_POINTER (PORT_FREE), 5000));
  assert_true (gvd_test_wait_until (port_is_free, GUINT_TO_POINTER (PORT_HELD), 5000));
  assert_false (port_accepts (PORT_FREE));
  assert_false (connect_ok (ADDR_1, PORT_FREE, NULL));
  /* Deleted: its address is the next instance's. */
  {
    g_autoptr(JsonNode) again = gvd_test_api (d2, "POST", "/v1/instances",
                                     "{\"name\": \"fwd3\", \"image\": \"" IMAGE "\","
                                     " \"memory_mib\": 256, \"start\": false,"
                                     " \"ports\": [{\"guest\": 22}]}", &status);
    g_autoptr(JsonNode) gone3 = NULL;

    assert_int_equal (status, 201);
    assert_ports (again, 22, PORT_HELD, ADDR_1);
    gone3 = gvd_test_api (d2, "DELETE", "/v1/instances/fwd3", NULL, &status);
    assert_int_equal (status, 204);
  }
  gvd_test_daemon_stop (d2, TRUE);
}

/* A domain gpuvmd did not make forwards 127.77.31.1:47311 (defined, not
 * running, so a bind test finds the port free): recovery counts port and
 * address as taken anyway. */
static void
foreign_domain__forwarded_port__never_handed_out (void **state)
{
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(virDomain) foreign = virDomainDefineXML (fx.conn,
    "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
    "<name>" PREFIX "foreign</name><memory unit='MiB'>128</memory>"
    "<os><type arch='x86_64'>hvm</type></os>"
    "<qemu:commandline><qemu:arg value='-netdev'/>"
    "<qemu:arg value='user,id=hand,hostfwd=tcp:" ADDR_1 ":47311-:22'/></qemu:commandline>"
    "</domain>");
  g_autoptr(JsonNode) created = NULL;
  guint status = 0;

  assert_non_null (foreign);
  assert_true (gvd_port_probe_free (PORT_FREE, NULL));
  d = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);
  created = gvd_test_api (d, "POST", "/v1/instances",
                          "{\"name\": \"one\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
                          " \"start\": false, \"ports\": [{\"guest\": 22}]}", &status);
  assert_int_equal (status, 201);
  assert_ports (created, 22, PORT_HELD, ADDR_2);
  create_refused_leaves_nothing (d, "two",
                                 "{\"name\": \"two\", \"image\": \"" IMAGE "\","
                                 " \"ports\": [{\"guest\": 22}]}",
                                 409, "conflict", "no 1 free host port");
  {
    g_autoptr(JsonNode) gone = gvd_test_api (d, "DELETE", "/v1/instances/one", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (virDomainUndefine (foreign), 0);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (forward__create_restart_delete__port_bound_then_freed),
    cmocka_unit_test (foreign_domain__forwarded_port__never_handed_out),
  };

  return cmocka_run_group_tests_name ("vm-ports", tests, group_setup, group_teardown);
}
