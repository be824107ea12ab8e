/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Several NICs end to end on the real libvirtd (QEMU TCG, no GPUs): a VM
 * with a user-mode NIC, a NIC on a libvirt network and one on a host bridge
 * starts with every NIC and gpuvmd's MACs in libvirt's XML; the bridge
 * policy and MAC uniqueness hold; leases survive a kill -9 of gpuvmd and
 * go with delete. The host bridge is made for the test with the kernel's
 * bridge ioctls (no shell), and the libvirt network is a transient one in
 * <forward mode='bridge'/> over it (libvirt's routed/NAT networks need
 * iptables and dnsmasq, which a test host may lack). An SR-IOV VF cannot be started
 * without the hardware: its define on this libvirtd is proven with the
 * fixture's VF address by tests/test-domain-roundtrip (the "nics" case). */
#include "config.h"

#include "testlib.h"
#include "testlib-libvirt.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX "gvdnets-vm-"
#define POOL "gvdnets-vm"
#define POOL_PATH "/var/tmp/gvdnets-vm-pool"
#define IMAGE "gvdnets-blank.raw"
#define NET "gvdnets-net"
#define BRIDGE "gvdnets-br0"
#define CLIENT_MAC "52:54:00:6e:e7:01"
#define CONFIG                                                     \
  "[daemon]\nstate_dir=%s\n"                                       \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                          \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"            \
  "import_dirs=%s\n"                                               \
  "[agent]\nlisten=127.0.0.1:0\n"                                  \
  "[instances]\nshutdown_timeout=2\n"                              \
  "[network]\nmode=network\nsource=" NET "\n"                      \
  "cidr=10.213.7.0/24\ngateway=10.213.7.1\n"                       \
  "allowed_sources=" BRIDGE "\n"

typedef struct {
  char *state_dir;
  char *image_file;
  char *config;
  virConnectPtr conn;
  virNetworkPtr net;
} Fixture;

static Fixture fx;

/* SIOCBRADDBR / SIOCBRDELBR on an AF_UNIX socket, as brctl does. */
static gboolean
bridge_ioctl (unsigned long request, const char *name, char **out_why)
{
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  int rc;

  if (fd < 0)
    {
      *out_why = g_strdup_printf ("socket: %s", g_strerror (errno));
      return FALSE;
    }
  rc = ioctl (fd, request, name);
  if (rc < 0)
    *out_why = g_strdup_printf ("bridge ioctl on %s: %s", name, g_strerror (errno));
  close (fd);
  return rc == 0;
}

static gboolean
bridge_set_up (const char *name, gboolean up, char **out_why)
{
  struct ifreq ifr = { 0 };
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  g_strlcpy (ifr.ifr_name, name, sizeof ifr.ifr_name);
  ok = ioctl (fd, SIOCGIFFLAGS, &ifr) == 0;
  if (ok)
    {
      ifr.ifr_flags = up ? (ifr.ifr_flags | IFF_UP) : (ifr.ifr_flags & ~IFF_UP);
      ok = ioctl (fd, SIOCSIFFLAGS, &ifr) == 0;
    }
  if (!ok)
    *out_why = g_strdup_printf ("%s: %s", name, g_strerror (errno));
  close (fd);
  return ok;
}

static void
bridge_remove (void)
{
  g_autofree char *why = NULL;
  g_autofree char *why2 = NULL;

  if (if_nametoindex (BRIDGE) == 0)
    return;
  bridge_set_up (BRIDGE, FALSE, &why);
  if (!bridge_ioctl (SIOCBRDELBR, BRIDGE, &why2))
    print_error ("could not remove %s: %s\n", BRIDGE, why2);
}

static void
cleanup_libvirt (void)
{
  virNetworkPtr net;

  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  /* Ours by name: left by an earlier run that was killed. */
  if ((net = virNetworkLookupByName (fx.conn, NET)) != NULL)
    {
      if (virNetworkIsActive (net) == 1)
        virNetworkDestroy (net);
      if (virNetworkIsPersistent (net) == 1)
        virNetworkUndefine (net);
      virNetworkFree (net);
    }
}

static int
group_setup (void **state)
{
  g_autoptr(GError) error = NULL;

  gvd_test_require_libvirtd ();
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  cleanup_libvirt ();
  bridge_remove ();
  {
    g_autofree char *why = NULL;

    gvd_test_require (bridge_ioctl (SIOCBRADDBR, BRIDGE, &why) && bridge_set_up (BRIDGE, TRUE, &why),
                      "cannot make a host bridge: %s", why);
  }
  fx.net = virNetworkCreateXML (fx.conn, "<network><name>" NET "</name>"
                                         "<forward mode='bridge'/>"
                                         "<bridge name='" BRIDGE "'/></network>");
  if (fx.net == NULL)
    {
      g_autofree char *msg = g_strdup (virGetLastErrorMessage ());
      bridge_remove ();
      gvd_test_require (FALSE, "libvirt cannot create a network here: %s", msg);
    }
  fx.state_dir = g_dir_make_tmp ("gvdnets-vm-XXXXXX", &error);
  assert_non_null (fx.state_dir);
  fx.config = g_strdup_printf (CONFIG, fx.state_dir, fx.state_dir);
  /* A blank 64 MiB raw base image (sparse): enough for firmware to run. */
  fx.image_file = gvd_test_blank_image (fx.state_dir, IMAGE, 64 * 1024 * 1024);
  return 0;
}

static int
group_teardown (void **state)
{
  if (fx.net != NULL)
    {
      virNetworkDestroy (fx.net);
      virNetworkFree (fx.net);
    }
  if (fx.conn != NULL)
    {
      cleanup_libvirt ();
      virConnectClose (fx.conn);
    }
  bridge_remove ();
  g_rmdir (POOL_PATH);
  if (fx.state_dir != NULL)
    gvd_test_rm_rf (fx.state_dir);
  g_free (fx.state_dir);
  g_free (fx.image_file);
  g_free (fx.config);
  return 0;
}

static const char *
nic_member (JsonNode *instance, guint i, const char *member)
{
  JsonArray *nics = json_node_get_array (gvd_test_json_path (instance, "networks"));

  assert_true (i < json_array_get_length (nics));
  return json_object_get_string_member (json_array_get_object_element (nics, i), member);
}

static void
create__three_nics__started_with_every_nic_leases_recovered_and_released (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) recovered = NULL;
  g_autoptr(JsonNode) two = NULL;
  g_autoptr(JsonNode) three = NULL;
  g_autoptr(JsonNode) refused = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *macs[3] = { NULL };
  guint status = 0;
  const char *body = "{\"name\": \"fab\", \"image\": \"" IMAGE "\", \"memory_mib\": 256,"
                     " \"root_disk_gib\": 1, \"networks\": [{\"mode\": \"user\"},"
                     " {\"mode\": \"network\", \"source\": \"" NET "\"},"
                     " {\"mode\": \"bridge\", \"source\": \"" BRIDGE "\", \"mac\": \"" CLIENT_MAC "\"}]}";
  gint64 t0;

  gvd_test_daemon_wait_ready (d, 10000);
  gvd_test_daemon_import_image (d, IMAGE, fx.image_file);

  /* A bridge the operator did not offer: 403, nothing made. */
  refused = gvd_test_api (d, "POST", "/v1/instances",
                          "{\"name\": \"rogue\", \"image\": \"" IMAGE "\", \"networks\": "
                          "[{\"mode\": \"bridge\", \"source\": \"virbr0\"}]}", &status);
  assert_int_equal (status, 403);
  gvd_test_assert_error (refused, "forbidden", "'networks[0].source'");

  t0 = g_get_monotonic_time ();
  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create: %u %s", status, gvd_test_json_string (created, "error.message"));
  print_message ("create with three NICs → running: %.2f s\n",
                 (g_get_monotonic_time () - t0) / 1e6);
  assert_string_equal (gvd_test_json_string (created, "state"), "running");
  for (guint i = 0; i < 3; i++)
    macs[i] = g_strdup (nic_member (created, i, "mac"));
  assert_string_equal (nic_member (created, 0, "mode"), "user");
  assert_null (nic_member (created, 0, "ipv4"));
  assert_string_equal (nic_member (created, 1, "mode"), "network");
  assert_string_equal (nic_member (created, 1, "ipv4"), "10.213.7.2/24");
  assert_string_equal (nic_member (created, 2, "mode"), "bridge");
  assert_string_equal (macs[2], CLIENT_MAC);
  assert_null (nic_member (created, 2, "ipv4"));
  assert_string_not_equal (macs[0], macs[1]);

  /* The running domain as libvirt has it: every NIC, with gpuvmd's MACs. */
  xml = gvd_test_domain_xml (fx.conn, PREFIX "fab", 0);
  assert_non_null (xml);
  assert_non_null (strstr (xml, "<interface type='user'>"));
  assert_non_null (strstr (xml, "<source network='" NET "'"));
  assert_non_null (strstr (xml, "<source bridge='" BRIDGE "'/>"));
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *mac = g_strdup_printf ("<mac address='%s'/>", macs[i]);
      if (strstr (xml, mac) == NULL)
        fail_msg ("libvirt's XML lacks %s:\n%s", mac, xml);
    }

  /* The client's MAC is the instance's: another instance cannot have it. */
  g_clear_pointer (&refused, json_node_unref);
  refused = gvd_test_api (d, "POST", "/v1/instances",
                          "{\"name\": \"copy\", \"image\": \"" IMAGE "\", \"start\": false,"
                          " \"networks\": [{\"mode\": \"user\", \"mac\": \"" CLIENT_MAC "\"}]}",
                          &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (refused, "conflict", CLIENT_MAC);

  /* kill -9 and a new gpuvmd: the leases come back from the domain. */
  g_subprocess_send_signal (d->proc, SIGKILL);
  g_subprocess_wait (d->proc, NULL, NULL);
  g_clear_object (&d->proc);
  d2 = gvd_test_daemon_start (fx.config, NULL);
  gvd_test_daemon_wait_ready (d2, 10000);
  recovered = gvd_test_api (d2, "GET", "/v1/instances/fab", NULL, &status);
  assert_int_equal (status, 200);
  for (guint i = 0; i < 3; i++)
    assert_string_equal (nic_member (recovered, i, "mac"), macs[i]);
  assert_string_equal (nic_member (recovered, 1, "ipv4"), "10.213.7.2/24");
  /* A new instance on the network gets the next address, not fab's. */
  two = gvd_test_api (d2, "POST", "/v1/instances",
                      "{\"name\": \"two\", \"image\": \"" IMAGE "\", \"start\": false,"
                      " \"networks\": [{\"mode\": \"network\", \"source\": \"" NET "\"}]}",
                      &status);
  assert_int_equal (status, 201);
  assert_string_equal (nic_member (two, 0, "ipv4"), "10.213.7.3/24");

  /* Delete: every lease goes with the instance. */
  gone = gvd_test_api (d2, "DELETE", "/v1/instances/fab", NULL, &status);
  assert_true (status == 200 || status == 204);
  g_clear_pointer (&gone, json_node_unref);
  gone = gvd_test_api (d2, "DELETE", "/v1/instances/two", NULL, &status);
  assert_true (status == 200 || status == 204);
  g_clear_pointer (&xml, g_free);
  xml = gvd_test_domain_xml (fx.conn, PREFIX "fab", 0);
  assert_null (xml);
  three = gvd_test_api (d2, "POST", "/v1/instances",
                        "{\"name\": \"three\", \"image\": \"" IMAGE "\", \"start\": false,"
                        " \"networks\": [{\"mode\": \"network\", \"source\": \"" NET "\"},"
                        " {\"mode\": \"user\", \"mac\": \"" CLIENT_MAC "\"}]}", &status);
  assert_int_equal (status, 201);
  assert_string_equal (nic_member (three, 0, "ipv4"), "10.213.7.2/24");
  assert_string_equal (nic_member (three, 1, "mac"), CLIENT_MAC);
  g_clear_pointer (&gone, json_node_unref);
  gone = gvd_test_api (d2, "DELETE", "/v1/instances/three", NULL, &status);
  assert_true (status == 200 || status == 204);
  gvd_test_daemon_stop (d2, TRUE);
}

/* ---- a real guest (GVD_TEST_GUEST=1: minutes under TCG) ------------------------ */

#define GUEST_TIMEOUT_S 480
#define GUEST_CONSOLE "/var/log/libvirt/qemu/" PREFIX "guest-console.log"

/* The cached e2e guest (scripts/build-guest-image --print), or FALSE. */
static gboolean
guest_paths (char **rootfs, char **kernel, char **initrd)
{
  g_autofree char *script = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "scripts",
                                              "build-guest-image", NULL);
  const char *argv[] = { script, "--print", NULL };
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &out, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return FALSE;
  lines = g_strsplit (out, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "rootfs "))
        *rootfs = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "kernel "))
        *kernel = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "initrd "))
        *initrd = g_strdup (lines[i] + 7);
    }
  return *rootfs != NULL && *kernel != NULL && *initrd != NULL;
}

/* The lines after @offset of the console log that start with "GVDNET ". */
static char *
guest_report (goffset offset, gboolean *out_done)
{
  g_autofree char *log = NULL;
  gsize len = 0;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GString) report = g_string_new (NULL);

  *out_done = FALSE;
  if (!g_file_get_contents (GUEST_CONSOLE, &log, &len, NULL) || (gsize) offset > len)
    return g_string_free (g_steal_pointer (&report), FALSE);
  lines = g_strsplit (log + offset, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *at = strstr (lines[i], "GVDNET ");
      if (at == NULL)
        continue;
      if (g_str_has_prefix (at, "GVDNET done"))
        *out_done = TRUE;
      g_string_append_printf (report, "%s\n", at);
    }
  return g_string_free (g_steal_pointer (&report), FALSE);
}

/* The line of @report about interface @iface ("GVDNET 2: eth1 ..."). */
static gboolean
report_has (const char *report, const char *iface, const char *needle)
{
  g_auto(GStrv) lines = g_strsplit (report, "\n", -1);
  g_autofree char *name = g_strdup_printf (" %s", iface);

  for (gsize i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], name) != NULL && strstr (lines[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
guest__user_and_network_nics__cloud_init_configures_each_by_mac (void **state)
{
  g_autofree char *rootfs = NULL, *kernel = NULL, *initrd = NULL;
  g_autofree char *cache = NULL, *config = NULL, *body = NULL, *import = NULL;
  g_autofree char *mac0 = NULL, *mac1 = NULL, *report = NULL;
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autoptr(JsonNode) img = NULL;
  goffset offset = 0;
  gboolean done = FALSE;
  guint status = 0;
  gint64 t0;

  if (g_strcmp0 (g_getenv ("GVD_TEST_GUEST"), "1") != 0)
    {
      print_message ("skipped: boots the e2e guest for minutes; set GVD_TEST_GUEST=1\n");
      skip ();
    }
  if (!guest_paths (&rootfs, &kernel, &initrd))
    {
      print_message ("skipped: no cached guest (scripts/build-guest-image)\n");
      skip ();
    }
  {
    g_autofree char *key_dir = g_path_get_dirname (rootfs);
    cache = g_path_get_dirname (key_dir);
  }
  config = g_strdup_printf (CONFIG, fx.state_dir, cache);
  d = gvd_test_daemon_start (config, NULL);
  gvd_test_daemon_wait_ready (d, 10000);
  import = g_strdup_printf ("{\"name\": \"gvdnets-guest.raw\", \"source_path\": \"%s\", "
                            "\"format\": \"raw\"}", rootfs);
  img = gvd_test_api (d, "POST", "/v1/images", import, &status);
  assert_true (status == 201 || status == 409);
  {
    struct stat st;
    if (g_stat (GUEST_CONSOLE, &st) == 0)
      offset = st.st_size;
  }
  /* runcmd runs after cloud-init applied network-config: what the guest
   * has, one GVDNET line per address and per link, on the console. */
  body = g_strdup_printf (
    "{\"name\": \"guest\", \"image\": \"gvdnets-guest.raw\", \"vcpus\": 2, \"memory_mib\": 1024,"
    " \"boot\": {\"kernel\": \"%s\", \"initrd\": \"%s\", \"cmdline\": \"root=/dev/vda console=ttyS0\"},"
    " \"networks\": [{\"mode\": \"user\"}, {\"mode\": \"network\", \"source\": \"" NET "\"}],"
    " \"cloud_config\": {\"runcmd\": [[\"sh\", \"-c\", \"(ip -o -4 addr show; ip -o link show)"
    " | sed 's/^/GVDNET /' > /dev/ttyS0; echo GVDNET done > /dev/ttyS0\"]]}}",
    kernel, initrd);
  t0 = g_get_monotonic_time ();
  created = gvd_test_api (d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create: %u %s", status, gvd_test_json_string (created, "error.message"));
  mac0 = g_ascii_strdown (nic_member (created, 0, "mac"), -1);
  mac1 = g_ascii_strdown (nic_member (created, 1, "mac"), -1);
  assert_string_equal (nic_member (created, 1, "ipv4"), "10.213.7.2/24");

  while (!done && g_get_monotonic_time () - t0 < (gint64) GUEST_TIMEOUT_S * G_USEC_PER_SEC)
    {
      g_free (report);
      report = guest_report (offset, &done);
      if (!done)
        g_usleep (2 * G_USEC_PER_SEC);
    }
  if (!done)
    fail_msg ("the guest did not report its interfaces within %d s:\n%s", GUEST_TIMEOUT_S,
              report);
  print_message ("guest reported its NICs %.1f s after create returned:\n%s",
                 (g_get_monotonic_time () - t0) / 1e6, report);
  /* Each NIC found by its MAC and named: eth0 on slirp's DHCP, eth1 with
   * gpuvmd's static address. */
  assert_true (report_has (report, "eth0:", mac0));
  assert_true (report_has (report, "eth1:", mac1));
  assert_true (report_has (report, "eth0", "inet 10.0.2.15/24"));
  assert_true (report_has (report, "eth1", "inet 10.213.7.2/24"));

  gone = gvd_test_api (d, "DELETE", "/v1/instances/guest", NULL, &status);
  assert_int_equal (status, 204);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (create__three_nics__started_with_every_nic_leases_recovered_and_released),
    cmocka_unit_test (guest__user_and_network_nics__cloud_init_configures_each_by_mac),
  };

  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
