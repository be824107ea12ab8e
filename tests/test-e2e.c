/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* End to end with a real guest: a Debian 12 image built from Debian's
 * packages (scripts/build-guest-image, cached), imported through the API,
 * an instance created through the API with direct kernel boot and user-mode
 * networking; cloud-init in the guest reads gpuvmd's seed ISO, installs and
 * starts the real agent, which phones home (ready) and sends heartbeats
 * (healthy) to the agent listener at 10.0.2.2. A cloud-init runcmd probes,
 * from inside the guest, every TCP port gpuvmd and the domain's QEMU listen
 * on, VNC's 5900-5910 and 8787, through 10.0.2.2 (the host's loopback) and
 * writes one line per port to the serial console: only the agent listener
 * may answer, and only agent routes; the guest's own forwarded SSH port,
 * which QEMU opens on the instance's own loopback address, not on
 * 127.0.0.1, is refused there while the host logs in through it. Then
 * delete: nothing left.
 *
 * Run by `make check-e2e` (and scripts/run-tests), not by `make check`. */
#include "config.h"

#include "testlib.h"

#include "port-probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

#include "virt-conn.h"

#define PREFIX "gvde2e-"
#define POOL "gvde2e"
#define POOL_PATH "/var/tmp/gvde2e-pool"
#define AGENT_PORT "18788"
/* Under TCG a Debian guest reached phone-home ~35-45 s after start here;
 * two guests or a loaded CI machine double that. */
#define READY_TIMEOUT_S 420
#define HEALTHY_TIMEOUT_S 120
#define PROBES_TIMEOUT_S 120
#define CONSOLE_LOG "/var/log/libvirt/qemu/" PREFIX "guest-console.log"
/* Host ports for forwarded guest ports ([network] forward_ports). */
#define FORWARD_LO 47320
#define FORWARD_HI 47329
/* [network] forward_addresses: the guest's forwards get 127.77.32.1. */
#define FORWARD_ADDRESSES "127.77.32.0/29"
#define FORWARD_ADDRESS "127.77.32.1"
#define FORWARD_ADDRESS_HOST 0x7f4d2001u
#define SSH_TIMEOUT_S 60

/* What a guest may get from a host port through 10.0.2.2. */
typedef enum {
  EXPECT_CLOSED,   /* refused or timeout */
  EXPECT_OPEN,     /* connects; GET /v1/instances answers EXPECT_*'s status */
} Expect;

typedef struct {
  guint port;
  const char *what;
  Expect expect;
  guint http_status; /* EXPECT_OPEN: GET /v1/instances through this port */
  char *got;         /* "open", "refused", "timeout" from the guest */
  guint got_status;
} Probe;

typedef struct {
  char *rootfs;
  char *kernel;
  char *initrd;
  char *key;
} GuestImage;

static void
guest_image_clear (GuestImage *g)
{
  g_free (g->rootfs);
  g_free (g->kernel);
  g_free (g->initrd);
  g_free (g->key);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GuestImage, guest_image_clear)

/* Build the guest once (cached under /var/tmp) and read its paths. */
static gboolean
guest_image (GuestImage *out)
{
  g_autofree char *script = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "scripts",
                                              "build-guest-image", NULL);
  const char *argv[] = { script, NULL };
  g_autofree char *stdout_text = NULL;
  g_auto(GStrv) lines = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &stdout_text, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return FALSE;
  lines = g_strsplit (stdout_text, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "rootfs "))
        out->rootfs = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "kernel "))
        out->kernel = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "initrd "))
        out->initrd = g_strdup (lines[i] + 7);
    }
  if (out->rootfs == NULL || out->kernel == NULL || out->initrd == NULL)
    return FALSE;
  {
    g_autofree char *dir = g_path_get_dirname (out->rootfs);
    out->key = g_path_get_basename (dir);
  }
  return TRUE;
}

/* Inodes of the sockets process @pid holds (/proc/PID/fd → socket:[N]). */
static GHashTable *
socket_inodes (const char *pid)
{
  g_autofree char *fd_dir = g_strdup_printf ("/proc/%s/fd", pid);
  g_autoptr(GDir) dir = g_dir_open (fd_dir, 0, NULL);
  GHashTable *inodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link = g_build_filename (fd_dir, name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);

      if (target != NULL && g_str_has_prefix (target, "socket:[") && g_str_has_suffix (target, "]"))
        g_hash_table_add (inodes, g_strndup (target + 8, strlen (target) - 9));
    }
  return inodes;
}

/* The TCP ports process @pid listens on: rows of /proc/PID/net/tcp{,6} in
 * state LISTEN (0A) whose inode is one of its own sockets. @out_on (may be
 * NULL): whether every one of them is bound to the IPv4 address @address
 * (host order). */
static GArray *
listening_ports (const char *pid, guint32 address, gboolean *out_on)
{
  /* The kernel prints the address as the hex of its network-order word. */
  g_autofree char *want = g_strdup_printf ("%08X:", htonl (address));
  g_autoptr(GHashTable) inodes = socket_inodes (pid);
  GArray *ports = g_array_new (FALSE, FALSE, sizeof (guint));
  const char *tables[] = { "tcp", "tcp6" };

  if (out_on != NULL)
    *out_on = TRUE;
  for (gsize t = 0; t < G_N_ELEMENTS (tables); t++)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%s/net/%s", pid, tables[t]);
      g_autofree char *text = NULL;
      g_auto(GStrv) lines = NULL;

      if (!g_file_get_contents (path, &text, NULL, NULL))
        continue;
      lines = g_strsplit (text, "\n", -1);
      for (gsize i = 1; lines[i] != NULL; i++)
        {
          g_auto(GStrv) f = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
          g_autoptr(GPtrArray) fields = g_ptr_array_new ();
          const char *colon;
          guint port;

          for (gsize j = 0; f[j] != NULL; j++)
            if (f[j][0] != '\0')
              g_ptr_array_add (fields, f[j]);
          if (fields->len < 10 || !g_str_equal (g_ptr_array_index (fields, 3), "0A")
              || !g_hash_table_contains (inodes, g_ptr_array_index (fields, 9)))
            continue;
          colon = strrchr (g_ptr_array_index (fields, 1), ':');
          port = (guint) g_ascii_strtoull (colon + 1, NULL, 16);
          g_array_append_val (ports, port);
          if (out_on != NULL && !g_str_has_prefix (g_ptr_array_index (fields, 1), want))
            *out_on = FALSE;
        }
    }
  return ports;
}

static guint
url_port (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  return uri != NULL && g_uri_get_port (uri) > 0 ? (guint) g_uri_get_port (uri) : 0;
}

static void
add_probe (GArray *probes, guint port, const char *what, Expect expect, guint http_status)
{
  Probe p = { .port = port, .what = what, .expect = expect, .http_status = http_status };

  for (guint i = 0; i < probes->len; i++)
    if (g_array_index (probes, Probe, i).port == port)
      return;
  g_array_append_val (probes, p);
}

static void
probe_clear (Probe *p)
{
  g_clear_pointer (&p->got, g_free);
}

/* The table of ports the guest probes and what is expected of each.
 * @forwarded: the host port the guest's SSH will be forwarded to. */
static GArray *
probe_plan (GvdTestDaemon *d, guint forwarded)
{
  GArray *probes = g_array_new (FALSE, TRUE, sizeof (Probe));
  g_autoptr(GArray) ports = listening_ports (g_subprocess_get_identifier (d->proc),
                                             INADDR_LOOPBACK, NULL);
  guint agent = url_port (d->agent_url);

  g_array_set_clear_func (probes, (GDestroyNotify) probe_clear);
  /* The admin API is the daemon's unix socket: no TCP admin port at all. */
  assert_null (d->tcp_url);
  assert_true (agent > 0);
  for (guint i = 0; i < ports->len; i++)
    {
      guint port = g_array_index (ports, guint, i);

      if (port == agent)
        add_probe (probes, port, "gpuvmd agent listener", EXPECT_OPEN, 404);
      else
        add_probe (probes, port, "gpuvmd, other listener", EXPECT_CLOSED, 0);
    }
  /* The agent listener must be among the daemon's own listeners. */
  assert_true (probes->len > 0);
  for (guint port = 5900; port <= 5910; port++)
    add_probe (probes, port, "VNC (5900+N)", EXPECT_CLOSED, 0);
  add_probe (probes, 8787, "gpuvmd's default admin port", EXPECT_CLOSED, 0);
  /* A forwarded port is on the instance's own loopback address, not on
   * 127.0.0.1, where slirp sends 10.0.2.2: no guest reaches it that way,
   * not even its own (README "Security"). */
  add_probe (probes, forwarded, "a forwarded guest port (this guest's SSH)", EXPECT_CLOSED, 0);
  return probes;
}

/* A bash script for the guest: one GVD-PROBE line per port on the serial
 * console; for open ports also the status of GET /v1/instances. */
static char *
probe_script (GArray *probes)
{
  g_autoptr(GString) ports = g_string_new (NULL);

  for (guint i = 0; i < probes->len; i++)
    g_string_append_printf (ports, "%s%u", i > 0 ? " " : "", g_array_index (probes, Probe, i).port);
  return g_strdup_printf (
    "#!/bin/bash\n"
    "# gpuvmd e2e: which host services does this guest reach through 10.0.2.2?\n"
    "out=/dev/ttyS0\n"
    "for p in %s; do\n"
    "  if timeout 5 bash -c \"exec 3<>/dev/tcp/10.0.2.2/$p\" 2>/dev/null; then r=open\n"
    "  else rc=$?; if [ \"$rc\" = 124 ]; then r=timeout; else r=refused; fi; fi\n"
    "  s=0\n"
    "  if [ $r = open ]; then\n"
    "    s=$(python3 -c 'import sys, urllib.request, urllib.error\n"
    "try: print(urllib.request.urlopen(sys.argv[1], timeout=5).status)\n"
    "except urllib.error.HTTPError as e: print(e.code)\n"
    "except Exception: print(0)' \"http://10.0.2.2:$p/v1/instances\")\n"
    "  fi\n"
    "  echo \"GVD-PROBE port=$p $r http=$s\" >$out\n"
    "done\n"
    "echo \"GVD-PROBE done\" >$out\n",
    ports->str);
}

/* extra cloud-config: the script as a file, run by runcmd. */
static char *
probe_cloud_config (GArray *probes)
{
  g_autofree char *script = probe_script (probes);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "write_files");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, "/root/gvd-probe.sh");
  json_builder_set_member_name (b, "permissions");
  json_builder_add_string_value (b, "0755");
  json_builder_set_member_name (b, "content");
  json_builder_add_string_value (b, script);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "runcmd");
  json_builder_begin_array (b);
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "bash");
  json_builder_add_string_value (b, "/root/gvd-probe.sh");
  json_builder_end_array (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Fill the probes' results from the console log after @offset; TRUE once
 * the script's "done" line is there. */
static gboolean
read_probes (GArray *probes, goffset offset)
{
  g_autofree char *log = NULL;
  gsize len = 0;
  g_auto(GStrv) lines = NULL;
  gboolean done = FALSE;

  if (!g_file_get_contents (CONSOLE_LOG, &log, &len, NULL) || (gsize) offset > len)
    return FALSE;
  lines = g_strsplit (log + offset, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *at = strstr (lines[i], "GVD-PROBE ");
      guint port = 0, status = 0;
      char state[16] = { 0 };

      if (at == NULL)
        continue;
      if (g_str_has_prefix (at, "GVD-PROBE done"))
        done = TRUE;
      if (sscanf (at, "GVD-PROBE port=%u %15s http=%u", &port, state, &status) != 3)
        continue;
      for (guint j = 0; j < probes->len; j++)
        {
          Probe *p = &g_array_index (probes, Probe, j);
          if (p->port == port)
            {
              g_free (p->got);
              p->got = g_strdup (state);
              p->got_status = status;
            }
        }
    }
  return done;
}

/* The domain's QEMU: its pid from libvirt's pid file. */
static char *
qemu_pid (const char *domain)
{
  g_autofree char *path = g_strdup_printf ("/run/libvirt/qemu/%s.pid", domain);
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return g_strdup (g_strstrip (text));
}

static JsonNode *
api (SoupSession *s, GvdTestDaemon *d, const char *method, const char *path, const char *body,
     guint *status)
{
  g_autofree char *url = g_strconcat (d->url, path, NULL);

  return gvd_test_http (s, method, url, NULL, body, status);
}

static const char *
health_of (JsonNode *inst)
{
  return gvd_test_json_string (inst, "health.health");
}

static void
cleanup_instances (virConnectPtr conn)
{
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains (conn, &doms, 0);
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);

  for (int i = 0; i < n; i++)
    {
      if (g_str_has_prefix (virDomainGetName (doms[i]), PREFIX))
        {
          if (virDomainIsActive (doms[i]) == 1)
            virDomainDestroy (doms[i]);
          virDomainUndefineFlags (doms[i], VIR_DOMAIN_UNDEFINE_NVRAM);
        }
      virDomainFree (doms[i]);
    }
  free (doms);
  if (pool != NULL && virStoragePoolIsActive (pool) == 1)
    {
      virStorageVolPtr *vols = NULL;
      int nv;

      virStoragePoolRefresh (pool, 0);
      nv = virStoragePoolListAllVolumes (pool, &vols, 0);
      for (int i = 0; i < nv; i++)
        {
          if (g_str_has_prefix (virStorageVolGetName (vols[i]), PREFIX))
            virStorageVolDelete (vols[i], 0);
          virStorageVolFree (vols[i]);
        }
      free (vols);
    }
}

static guint
count_leftovers (virConnectPtr conn)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);
  virStorageVolPtr *vols = NULL;
  virDomainPtr *doms = NULL;
  guint count = 0;
  int n;

  n = virConnectListAllDomains (conn, &doms, 0);
  for (int i = 0; i < n; i++)
    {
      if (g_str_has_prefix (virDomainGetName (doms[i]), PREFIX))
        count++;
      virDomainFree (doms[i]);
    }
  free (doms);
  if (pool == NULL)
    return count;
  virStoragePoolRefresh (pool, 0);
  n = virStoragePoolListAllVolumes (pool, &vols, 0);
  for (int i = 0; i < n; i++)
    {
      if (g_str_has_prefix (virStorageVolGetName (vols[i]), PREFIX))
        count++;
      virStorageVolFree (vols[i]);
    }
  free (vols);
  return count;
}

/* A fresh ed25519 key pair in @dir; the public key's line. */
static char *
make_ssh_key (const char *dir, char **out_private)
{
  g_autofree char *key = g_build_filename (dir, "id_ed25519", NULL);
  g_autofree char *pub_path = g_strconcat (key, ".pub", NULL);
  const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gvd-e2e",
                         "-f", key, NULL };
  g_autofree char *pub = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    fail_msg ("ssh-keygen: %s (apt-get install openssh-client)", error->message);
  assert_true (g_file_get_contents (pub_path, &pub, NULL, NULL));
  *out_private = g_steal_pointer (&key);
  return g_strdup (g_strstrip (pub));
}

/* Run @command in the guest over SSH on @address:@port with @key, retried
 * while sshd is not up yet; its stdout. */
static char *
ssh_run (const char *key, const char *address, guint port, const char *user, const char *command)
{
  g_autofree char *port_s = g_strdup_printf ("%u", port);
  g_autofree char *login = g_strdup_printf ("%s@%s", user, address);
  const char *argv[] = { "ssh", "-i", key, "-p", port_s, "-o", "StrictHostKeyChecking=no",
                         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                         "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR", login, command, NULL };
  gint64 t0 = g_get_monotonic_time ();

  for (;;)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autoptr(GError) error = NULL;
      int status = 0;

      if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                         &status, &error))
        fail_msg ("ssh: %s", error->message);
      if (g_spawn_check_wait_status (status, NULL))
        {
          print_message ("ssh -p %u %s '%s': answered %.1f s after the first try\n", port, login,
                         command, (g_get_monotonic_time () - t0) / 1e6);
          return g_steal_pointer (&out);
        }
      if (g_get_monotonic_time () - t0 > (gint64) SSH_TIMEOUT_S * G_USEC_PER_SEC)
        fail_msg ("ssh -p %u %s failed for %d s: %s", port, login, SSH_TIMEOUT_S, err);
      g_usleep (2 * G_USEC_PER_SEC);
    }
}

static void
guest__boots_cloud_init_agent__ready_then_healthy_then_deleted (void **state)
{
  g_auto(GuestImage) img = { 0 };
  g_autofree char *dir = g_dir_make_tmp ("gvde2e-XXXXXX", NULL);
  g_autofree char *config = NULL;
  g_autofree char *cache = NULL;
  g_autoptr(GArray) probes = NULL;
  g_autofree char *cloud_config = NULL;
  goffset console_offset = 0;
  g_autoptr(virConnect) conn = virConnectOpen ("qemu:///system");
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(SoupSession) s = NULL;
  g_autofree char *image = NULL;
  g_autofree char *body = NULL;
  g_autoptr(JsonNode) created = NULL;
  guint status = 0;
  gint64 t_start, t_ready = 0, t_healthy = 0;
  gboolean ready = FALSE, healthy = FALSE;
  g_autofree char *ssh_key = NULL;
  g_autofree char *ssh_pub = NULL;
  g_autofree char *ssh_hint = NULL;
  guint forwarded = 0;

  gvd_test_require (guest_image (&img), "scripts/build-guest-image could not build the guest");
  assert_non_null (conn);
  cleanup_instances (conn);
  /* The guest cache (<cache>/<key>/rootfs.img, vmlinuz, initrd.img) is the
   * import directory: the image and the kernel come from there. */
  {
    g_autofree char *key_dir = g_path_get_dirname (img.rootfs);
    cache = g_path_get_dirname (key_dir);
  }
  config = g_strdup_printf (
    "[daemon]\nstate_dir=%s\n[libvirt]\ndomain_prefix=" PREFIX "\n"
    "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\nimport_dirs=%s\n"
    "[agent]\nlisten=127.0.0.1:" AGENT_PORT "\nurl=http://10.0.2.2:" AGENT_PORT "\n"
    "heartbeat_interval=5\nmissed_heartbeats=3\n"
    "[network]\nforward_ports=%u-%u\nforward_addresses=" FORWARD_ADDRESSES "\n", dir, cache,
    FORWARD_LO, FORWARD_HI);
  d = gvd_test_daemon_start (config, NULL);
  s = gvd_test_daemon_session (d, 600);

  for (int i = 0; i < 200; i++)
    {
      g_autoptr(JsonNode) n = api (s, d, "GET", "/v1/devices/available", NULL, &status);
      if (status == 200)
        break;
      g_usleep (50 * 1000);
    }

  /* The image is named after the guest build, so a rebuilt guest is a new
   * image and an unchanged one is not uploaded again. */
  image = g_strdup_printf ("e2e-debian12-%s.raw", img.key);
  {
    g_autofree char *import = g_strdup_printf ("{\"name\": \"%s\", \"source_path\": \"%s\", "
                                               "\"format\": \"raw\"}", image, img.rootfs);
    gint64 t0 = g_get_monotonic_time ();
    g_autoptr(JsonNode) n = api (s, d, "POST", "/v1/images", import, &status);
    if (status != 201 && status != 409)
      fail_msg ("image import answered %u", status);
    if (status == 201)
      print_message ("image import (3 GiB sparse raw, libvirt stream): %.1f s\n",
                     (g_get_monotonic_time () - t0) / 1e6);
  }

  /* The guest's SSH gets the lowest free port of the range (the daemon's
   * own bind test, the same here) on the first address of the range. */
  for (guint port = FORWARD_LO; port <= FORWARD_HI && forwarded == 0; port++)
    {
      const guint32 own = FORWARD_ADDRESS_HOST;

      if (gvd_port_probe_free (port, (gpointer) &own))
        forwarded = port;
    }
  gvd_test_require (forwarded != 0, "no free port in %u-%u", FORWARD_LO, FORWARD_HI);
  ssh_pub = make_ssh_key (dir, &ssh_key);

  /* Which ports the guest probes, and what each may answer. */
  probes = probe_plan (d, forwarded);
  for (guint i = 0; i < probes->len; i++)
    {
      const Probe *p = &g_array_index (probes, Probe, i);
      print_message ("probe plan: port %u (%s): %s\n", p->port, p->what,
                     p->expect == EXPECT_OPEN ? "open" : "refused or timeout");
    }
  cloud_config = probe_cloud_config (probes);
  {
    struct stat st;
    /* The console log is appended to across runs: read only what follows. */
    if (stat (CONSOLE_LOG, &st) == 0)
      console_offset = st.st_size;
  }

  body = g_strdup_printf (
    "{\"name\": \"guest\", \"image\": \"%s\", \"vcpus\": 2, \"memory_mib\": 1024,"
    " \"boot\": {\"kernel\": \"%s\", \"initrd\": \"%s\", \"cmdline\": \"root=/dev/vda console=ttyS0\"},"
    " \"ssh_keys\": [\"%s\"], \"ports\": [{\"guest\": 22}],"
    " \"cloud_config\": %s,"
    " \"labels\": {\"test\": \"e2e\"}}",
    image, img.kernel, img.initrd, ssh_pub, cloud_config);
  t_start = g_get_monotonic_time ();
  created = api (s, d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create answered %u: %s", status,
              created != NULL ? json_to_string (created, FALSE) : "(no body)");
  assert_string_equal (gvd_test_json_string (created, "state"), "running");
  assert_string_equal (health_of (created), "provisioning");
  {
    JsonArray *ports = json_node_get_array (gvd_test_json_path (created, "ports"));
    JsonObject *p0;

    assert_int_equal (json_array_get_length (ports), 1);
    p0 = json_array_get_object_element (ports, 0);
    assert_int_equal (json_object_get_int_member (p0, "guest"), 22);
    assert_int_equal (json_object_get_int_member (p0, "host"), forwarded);
    assert_string_equal (json_object_get_string_member (p0, "address"), FORWARD_ADDRESS);
  }
  ssh_hint = g_strdup_printf ("ssh -p %u gpuvm@" FORWARD_ADDRESS, forwarded);
  assert_string_equal (gvd_test_json_string (created, "ssh"), ssh_hint);

  while (g_get_monotonic_time () - t_start < (gint64) (READY_TIMEOUT_S + HEALTHY_TIMEOUT_S) * G_USEC_PER_SEC)
    {
      g_autoptr(JsonNode) n = api (s, d, "GET", "/v1/instances/guest", NULL, &status);
      const char *h;

      assert_int_equal (status, 200);
      h = health_of (n);
      if (!ready && (g_strcmp0 (h, "ready") == 0 || g_strcmp0 (h, "healthy") == 0))
        {
          ready = TRUE;
          t_ready = g_get_monotonic_time ();
          print_message ("ready (phone-home from the guest) %.1f s after create returned\n",
                         (t_ready - t_start) / 1e6);
          assert_non_null (gvd_test_json_string (n, "health.boot_id"));
          assert_non_null (gvd_test_json_string (n, "health.kernel"));
        }
      if (g_strcmp0 (h, "healthy") == 0)
        {
          healthy = TRUE;
          t_healthy = g_get_monotonic_time ();
          print_message ("healthy (heartbeats) %.1f s after create returned\n",
                         (t_healthy - t_start) / 1e6);
          /* The heartbeat carries the guest's system stats. */
          assert_true (JSON_NODE_HOLDS_OBJECT (gvd_test_json_path (n, "health.system")));
          break;
        }
      if (!ready && g_get_monotonic_time () - t_start > (gint64) READY_TIMEOUT_S * G_USEC_PER_SEC)
        break;
      g_usleep (G_USEC_PER_SEC);
    }
  if (!ready || !healthy)
    {
      g_autofree char *log = NULL;
      g_autofree char *path = g_strdup_printf ("/var/log/libvirt/qemu/" PREFIX "guest-console.log");
      if (g_file_get_contents (path, &log, NULL, NULL))
        print_message ("--- guest console (last 3000 bytes) ---\n%s\n",
                       strlen (log) > 3000 ? log + strlen (log) - 3000 : log);
      fail_msg ("the guest did not become %s", ready ? "healthy" : "ready");
    }

  /* The guest runs qemu-guest-agent: gpuvmd's probe reaches it. */
  assert_string_equal (gvd_test_probe_guest_agent (PREFIX "guest"), "responsive");

  /* QEMU listens on one TCP port, the forwarded SSH, on the instance's own
   * address only (VNC is a unix socket); on the host 127.0.0.1:PORT, what
   * a guest's 10.0.2.2:PORT becomes, refuses. */
  {
    g_autofree char *pid = qemu_pid (PREFIX "guest");
    g_autoptr(GArray) qports = NULL;
    gboolean on_own = FALSE;
    struct sockaddr_in sa = { 0 };
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc, err;

    assert_non_null (pid);
    qports = listening_ports (pid, FORWARD_ADDRESS_HOST, &on_own);
    for (guint i = 0; i < qports->len; i++)
      print_message ("QEMU listens on TCP port %u\n", g_array_index (qports, guint, i));
    assert_int_equal (qports->len, 1);
    assert_int_equal (g_array_index (qports, guint, 0), forwarded);
    assert_true (on_own);
    sa.sin_family = AF_INET;
    sa.sin_port = htons ((guint16) forwarded);
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    rc = connect (fd, (struct sockaddr *) &sa, sizeof sa);
    err = errno;
    close (fd);
    print_message ("host → 127.0.0.1:%u: %s\n", forwarded, rc == 0 ? "open" : g_strerror (err));
    assert_int_not_equal (rc, 0);
    assert_int_equal (err, ECONNREFUSED);
  }

  /* Log in with the injected key through the forwarded port, and run a
   * command in the guest. */
  {
    g_autofree char *out = ssh_run (ssh_key, FORWARD_ADDRESS, forwarded, "gpuvm",
                                    "hostname; id -un; cat /proc/sys/kernel/random/boot_id");
    g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
    g_autoptr(JsonNode) n = api (s, d, "GET", "/v1/instances/guest", NULL, &status);

    assert_true (g_strv_length (lines) >= 3);
    assert_string_equal (lines[0], "guest");
    assert_string_equal (lines[1], "gpuvm");
    /* The same boot the agent reported: it is this guest, not another. */
    assert_string_equal (lines[2], gvd_test_json_string (n, "health.boot_id"));
  }

  /* What the guest reached through 10.0.2.2. */
  {
    gint64 t0 = g_get_monotonic_time ();
    gboolean done = FALSE;
    guint bad = 0;

    while (!(done = read_probes (probes, console_offset))
           && g_get_monotonic_time () - t0 < (gint64) PROBES_TIMEOUT_S * G_USEC_PER_SEC)
      g_usleep (G_USEC_PER_SEC);
    if (!done)
      fail_msg ("the guest's probe script wrote no 'GVD-PROBE done' to the console");
    for (guint i = 0; i < probes->len; i++)
      {
        const Probe *p = &g_array_index (probes, Probe, i);
        gboolean ok;

        if (p->expect == EXPECT_OPEN)
          ok = g_strcmp0 (p->got, "open") == 0 && p->got_status == p->http_status;
        else
          ok = g_strcmp0 (p->got, "refused") == 0 || g_strcmp0 (p->got, "timeout") == 0;
        print_message ("guest → 10.0.2.2:%u (%s): %s, GET /v1/instances %u%s\n", p->port, p->what,
                       p->got != NULL ? p->got : "(no line)", p->got_status,
                       ok ? "" : "  <-- NOT AS EXPECTED");
        bad += !ok;
      }
    assert_int_equal (bad, 0);
  }

  {
    g_autoptr(JsonNode) n = api (s, d, "DELETE", "/v1/instances/guest", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (count_leftovers (conn), 0);
  gvd_test_daemon_stop (d, TRUE);
  {
    g_autofree char *reg = g_build_filename (dir, "registry.json", NULL);
    g_autofree char *sec = g_build_filename (dir, "agent-secret", NULL);
    g_autofree char *pub = g_strconcat (ssh_key, ".pub", NULL);
    g_unlink (reg);
    g_unlink (sec);
    g_unlink (ssh_key);
    g_unlink (pub);
    g_rmdir (dir);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (guest__boots_cloud_init_agent__ready_then_healthy_then_deleted),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("e2e", tests, NULL, NULL);
}
