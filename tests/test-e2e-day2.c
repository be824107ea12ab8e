/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Day-2 operations seen from inside a real guest (the e2e Debian 12 image,
 * TCG): hot-plug, snapshot, revert, resize, a snapshot delete that merges
 * layers and a live snapshot with the guest frozen, each checked on what
 * the guest itself reads over SSH (through a forwarded port), not on
 * gpuvmd's word. One instance, five boots:
 *
 *   boot 1  a disk hot-plugged into the running guest appears in it with
 *           its serial and size, and leaves it on unplug;
 *           write file A, sync; shutdown; snapshot s1; grow the root disk
 *   boot 2  A is there, the root file system grew (cloud-init's resizefs
 *           runs on every boot); write B, sync; shutdown; revert to s1
 *   boot 3  A is there, B is gone, the disk kept its size; write C; shutdown;
 *           snapshot s2; delete s1 (s2's frozen layer is block-committed
 *           into s1's, which is smaller: it was taken before the resize)
 *   boot 4  A and C are there, B is not, the file system is still the
 *           grown one; once qemu-guest-agent runs, write E, take the live
 *           snapshot s3 (file systems frozen through the agent: "filesystem"
 *           consistency), write F (the guest was thawed); shutdown; revert
 *           to s3
 *   boot 5  E is there, F is not; then delete the instance: nothing of it
 *           is left.
 *
 * Every phase is timed (TCG boots are the cost) and the times are printed,
 * also when a check fails; a teardown removes the domain, the volumes and
 * the pool whatever happened. Run by `make check-e2e-day2` (chained into
 * `make check-e2e`), not by `make check`. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <string.h>

#define PREFIX "gvde2ed2-"
#define POOL "gvde2e-day2"
#define POOL_PATH "/var/tmp/gvde2e-day2-pool"
#define NAME "day2"
#define CONSOLE_LOG "/var/log/libvirt/qemu/" PREFIX NAME "-console.log"
/* Host ports for the guest's SSH; not the range test-e2e uses, so the two
 * can run side by side. */
#define FORWARD_LO 47340
#define FORWARD_HI 47349
/* First boot under TCG: cloud-init's first run, ~40-60 s here; a loaded CI
 * machine doubles it. */
#define BOOT_TIMEOUT_S 480
#define SHUTDOWN_TIMEOUT_S 120
/* The image is a 3 GiB ext4 file system on the whole of /dev/vda. */
#define ROOT_GIB 3
#define GROWN_GIB 5
#define GIB ((gint64) 1 << 30)

typedef struct {
  char *state_dir;
  char *ssh_key;
  GvdTestDaemon *d;
  SoupSession *s;
  virConnectPtr conn;
  char *address;       /* where the guest's SSH is forwarded (the create's answer) */
  guint forwarded;
  /* phase timings */
  GPtrArray *phase_names;
  GArray *phase_secs;
  const char *phase;
  gint64 phase_t0;
  gint64 t0;
} Day2;

static Day2 day2;

static void
phase_begin (const char *name)
{
  day2.phase = name;
  day2.phase_t0 = g_get_monotonic_time ();
  print_message ("--- %s\n", name);
}

static void
phase_end (void)
{
  double secs = (g_get_monotonic_time () - day2.phase_t0) / 1e6;

  g_ptr_array_add (day2.phase_names, g_strdup (day2.phase));
  g_array_append_val (day2.phase_secs, secs);
  print_message ("    %s: %.1f s\n", day2.phase, secs);
  day2.phase = NULL;
}

static void
print_phases (void)
{
  print_message ("phase times (s):\n");
  for (guint i = 0; i < day2.phase_names->len; i++)
    print_message ("  %7.1f  %s\n", g_array_index (day2.phase_secs, double, i),
                   (const char *) g_ptr_array_index (day2.phase_names, i));
  if (day2.phase != NULL)
    print_message ("  %7.1f  %s (did not finish)\n",
                   (g_get_monotonic_time () - day2.phase_t0) / 1e6, day2.phase);
  print_message ("  %7.1f  total\n", (g_get_monotonic_time () - day2.t0) / 1e6);
}

/* The guest build's rootfs, kernel and initrd (scripts/build-guest-image). */
static gboolean
guest_image (char **out_rootfs, char **out_kernel, char **out_initrd)
{
  g_autofree char *script = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "scripts",
                                              "build-guest-image", NULL);
  const char *argv[] = { script, NULL };
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &text, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "rootfs "))
        *out_rootfs = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "kernel "))
        *out_kernel = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "initrd "))
        *out_initrd = g_strdup (lines[i] + 7);
    }
  return *out_rootfs != NULL && *out_kernel != NULL && *out_initrd != NULL;
}

/* @method @path with @body; fails the test unless the answer is @want. */
static JsonNode *
api (const char *method, const char *path, const char *body, guint want)
{
  g_autofree char *url = g_strconcat (day2.d->url, path, NULL);
  guint status = 0;
  JsonNode *n = gvd_test_http (day2.s, method, url, NULL, body, &status);

  if (status != want)
    {
      g_autofree char *text = n != NULL ? json_to_string (n, FALSE) : g_strdup ("(no JSON)");
      fail_msg ("%s %s answered %u, not %u: %s", method, path, status, want, text);
    }
  return n;
}

static void
print_console_tail (void)
{
  g_autofree char *log = NULL;

  if (g_file_get_contents (CONSOLE_LOG, &log, NULL, NULL))
    print_message ("--- guest console (last 3000 bytes) ---\n%s\n",
                   strlen (log) > 3000 ? log + strlen (log) - 3000 : log);
}

/* A fresh ed25519 key pair in the state directory; the public key's line. */
static char *
make_ssh_key (void)
{
  g_autofree char *key = g_build_filename (day2.state_dir, "id_ed25519", NULL);
  g_autofree char *pub_path = g_strconcat (key, ".pub", NULL);
  const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gvd-e2e-day2",
                         "-f", key, NULL };
  g_autofree char *pub = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    fail_msg ("ssh-keygen: %s (apt-get install openssh-client)", error->message);
  assert_true (g_file_get_contents (pub_path, &pub, NULL, NULL));
  day2.ssh_key = g_steal_pointer (&key);
  return g_strdup (g_strstrip (pub));
}

/* Run @command in the guest as gpuvm over SSH through the forwarded port,
 * retried until sshd answers or @timeout_s passed; its stdout. */
static char *
guest_run (const char *command, guint timeout_s)
{
  g_autofree char *port = g_strdup_printf ("%u", day2.forwarded);
  g_autofree char *login = g_strdup_printf ("gpuvm@%s", day2.address);
  const char *argv[] = { "ssh", "-i", day2.ssh_key, "-p", port, "-o", "StrictHostKeyChecking=no",
                         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                         "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR", login,
                         command, NULL };
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
        return g_steal_pointer (&out);
      if (g_get_monotonic_time () - t0 > (gint64) timeout_s * G_USEC_PER_SEC)
        {
          print_console_tail ();
          fail_msg ("ssh -p %u %s '%s' failed for %u s: %s", day2.forwarded, login, command,
                    timeout_s, err);
        }
      g_usleep (2 * G_USEC_PER_SEC);
    }
}

/* What the guest reads about itself, as "key value" lines: the files the
 * test writes (or "-" when absent), the root file system's and the disk's
 * size in bytes, the boot id. sshd starts after cloud-init's init stage,
 * which holds resizefs: once SSH answers, the file system has grown. */
static const char facts_script[] =
  "for f in a b c e f; do echo \"file-$f $(cat ~/day2-$f 2>/dev/null || echo -)\"; done;"
  " echo \"fs $(df -B1 --output=size / | tail -n1 | tr -d ' ')\";"
  " echo \"disk $(lsblk -bdno SIZE /dev/vda | tr -d ' ')\";"
  " echo \"boot $(cat /proc/sys/kernel/random/boot_id)\"";

static GHashTable *
guest_facts (guint timeout_s)
{
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTable *facts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gint64 t0 = g_get_monotonic_time ();

  out = guest_run (facts_script, timeout_s);
  print_message ("    SSH answered %.1f s after the first try\n",
                 (g_get_monotonic_time () - t0) / 1e6);
  lines = g_strsplit (out, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *sp = strchr (lines[i], ' ');

      if (sp != NULL)
        g_hash_table_insert (facts, g_strndup (lines[i], sp - lines[i]), g_strdup (sp + 1));
    }
  print_message ("    guest: A=%s B=%s C=%s fs=%s disk=%s boot=%s\n",
                 (char *) g_hash_table_lookup (facts, "file-a"),
                 (char *) g_hash_table_lookup (facts, "file-b"),
                 (char *) g_hash_table_lookup (facts, "file-c"),
                 (char *) g_hash_table_lookup (facts, "fs"),
                 (char *) g_hash_table_lookup (facts, "disk"),
                 (char *) g_hash_table_lookup (facts, "boot"));
  return facts;
}

static const char *
fact (GHashTable *facts, const char *key)
{
  const char *v = g_hash_table_lookup (facts, key);

  if (v == NULL)
    fail_msg ("the guest did not report '%s'", key);
  return v;
}

static gint64
fact_int (GHashTable *facts, const char *key)
{
  const char *v = fact (facts, key);
  gint64 n = g_ascii_strtoll (v, NULL, 10);

  if (n <= 0)
    fail_msg ("the guest's '%s' is not a size: '%s'", key, v);
  return n;
}

/* Write ~/day2-@which with @content in the guest and flush it to the disk. */
static void
guest_write (const char *which, const char *content)
{
  g_autofree char *cmd = g_strdup_printf ("echo %s >~/day2-%s && sync && cat ~/day2-%s", content,
                                          which, which);
  g_autofree char *out = guest_run (cmd, 60);

  assert_string_equal (g_strstrip (out), content);
}

/* The state of the instance (GET). */
static char *
instance_state (void)
{
  g_autoptr(JsonNode) n = api ("GET", "/v1/instances/" NAME, NULL, 200);

  return g_strdup (gvd_test_json_string (n, "state"));
}

/* ACPI power-down through the API; the guest flushes and powers off. */
static void
shutdown_guest (void)
{
  g_autofree char *body = g_strdup_printf ("{\"timeout_seconds\": %d}", SHUTDOWN_TIMEOUT_S);
  g_autoptr(JsonNode) n = NULL;
  g_autofree char *state = NULL;

  phase_begin ("shutdown (ACPI)");
  n = api ("POST", "/v1/instances/" NAME "/shutdown", body, 200);
  state = instance_state ();
  assert_string_equal (state, "shutoff");
  phase_end ();
}

/* Start and wait until the guest answers over SSH; its facts. */
static GHashTable *
start_guest (const char *what)
{
  g_autoptr(JsonNode) n = NULL;
  GHashTable *facts;

  phase_begin (what);
  n = api ("POST", "/v1/instances/" NAME "/start", NULL, 200);
  assert_string_equal (gvd_test_json_string (n, "state"), "running");
  facts = guest_facts (BOOT_TIMEOUT_S);
  phase_end ();
  return facts;
}

static void
snapshot_op (const char *what, const char *method, const char *path, const char *body, guint want)
{
  g_autoptr(JsonNode) n = NULL;

  phase_begin (what);
  n = api (method, path, body, want);
  phase_end ();
}

/* The names of the instance's snapshots, oldest first, comma-separated. */
static char *
snapshot_names (void)
{
  g_autoptr(JsonNode) n = api ("GET", "/v1/instances/" NAME "/snapshots", NULL, 200);
  JsonArray *a = json_node_get_array (gvd_test_json_path (n, "snapshots"));
  g_autoptr(GString) names = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (a); i++)
    g_string_append_printf (names, "%s%s", i > 0 ? "," : "",
                            json_object_get_string_member (json_array_get_object_element (a, i),
                                                           "name"));
  return g_string_free (g_steal_pointer (&names), FALSE);
}

/* Volumes of the pool whose name starts with PREFIX (the image is not). */
static guint
instance_volumes (void)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (day2.conn, POOL);
  virStorageVolPtr *vols = NULL;
  guint count = 0;
  int n;

  assert_non_null (pool);
  virStoragePoolRefresh (pool, 0);
  n = virStoragePoolListAllVolumes (pool, &vols, 0);
  for (int i = 0; i < n; i++)
    {
      if (g_str_has_prefix (virStorageVolGetName (vols[i]), PREFIX))
        {
          print_message ("    left: volume %s\n", virStorageVolGetName (vols[i]));
          count++;
        }
      virStorageVolFree (vols[i]);
    }
  free (vols);
  return count;
}

/* A's fs size grew by about what the disk grew: resize2fs gives all of it
 * to the file system but for the new block groups' inode tables and
 * bitmaps (~1.6% with ext4's defaults). */
static void
assert_fs_grew (gint64 before, gint64 after, gint64 grown)
{
  gint64 delta = after - before;

  print_message ("    root file system: %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT
                 " bytes (+%.3f GiB for +%.3f GiB of disk)\n", before, after,
                 (double) delta / GIB, (double) grown / GIB);
  if (delta < grown * 95 / 100 || delta > grown)
    fail_msg ("the guest's root file system grew by %" G_GINT64_FORMAT " bytes, not about %"
              G_GINT64_FORMAT, delta, grown);
}

static void
guest__snapshot_revert_resize_merge__guest_sees_each (void **state)
{
  g_autofree char *rootfs = NULL, *kernel = NULL, *initrd = NULL;
  g_autofree char *cache = NULL, *config = NULL, *pub = NULL, *body = NULL;
  g_autofree char *token_a = NULL, *token_b = NULL, *token_c = NULL;
  g_autofree char *token_e = NULL, *token_f = NULL;
  g_autofree char *boot1 = NULL;
  g_autoptr(GHashTable) f1 = NULL, f2 = NULL, f3 = NULL, f4 = NULL, f5 = NULL;
  g_autoptr(GError) error = NULL;
  gint64 fs0, fs1;

  gvd_test_require (guest_image (&rootfs, &kernel, &initrd),
                    "scripts/build-guest-image could not build the guest");
  day2.conn = virConnectOpen ("qemu:///system");
  assert_non_null (day2.conn);
  gvd_test_libvirt_cleanup (day2.conn, PREFIX, POOL);
  day2.state_dir = g_dir_make_tmp ("gvde2e-day2-XXXXXX", &error);
  assert_non_null (day2.state_dir);
  {
    g_autofree char *key_dir = g_path_get_dirname (rootfs);
    cache = g_path_get_dirname (key_dir);
  }
  config = g_strdup_printf (
    "[daemon]\nstate_dir=%s\n[libvirt]\ndomain_prefix=" PREFIX "\n"
    "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\nimport_dirs=%s\n"
    "[agent]\nlisten=127.0.0.1:0\n"
    "[network]\nforward_ports=%u-%u\n", day2.state_dir, cache, FORWARD_LO, FORWARD_HI);
  day2.d = gvd_test_daemon_start (config, NULL);
  day2.s = gvd_test_daemon_session (day2.d, 600);
  gvd_test_daemon_wait_ready (day2.d, 20000);
  pub = make_ssh_key ();
  /* Random contents: a stale file from an earlier run cannot pass. */
  token_a = g_strdup_printf ("A-%08x", g_random_int ());
  token_b = g_strdup_printf ("B-%08x", g_random_int ());
  token_c = g_strdup_printf ("C-%08x", g_random_int ());
  token_e = g_strdup_printf ("E-%08x", g_random_int ());
  token_f = g_strdup_printf ("F-%08x", g_random_int ());

  phase_begin ("image import (3 GiB sparse raw)");
  {
    g_autofree char *import = g_strdup_printf ("{\"name\": \"e2e-day2-debian12.raw\", "
                                               "\"source_path\": \"%s\", \"format\": \"raw\"}",
                                               rootfs);
    g_autoptr(JsonNode) n = api ("POST", "/v1/images", import, 201);
  }
  phase_end ();

  /* Boot 1: A. */
  phase_begin ("create + boot 1 (first boot: cloud-init's first run) until SSH");
  body = g_strdup_printf (
    "{\"name\": \"" NAME "\", \"image\": \"e2e-day2-debian12.raw\", \"vcpus\": 2,"
    " \"memory_mib\": 1024,"
    " \"boot\": {\"kernel\": \"%s\", \"initrd\": \"%s\", \"cmdline\": \"root=/dev/vda console=ttyS0\"},"
    " \"ssh_keys\": [\"%s\"], \"ports\": [{\"guest\": 22}]}", kernel, initrd, pub);
  {
    g_autoptr(JsonNode) n = api ("POST", "/v1/instances", body, 201);
    JsonArray *ports = json_node_get_array (gvd_test_json_path (n, "ports"));
    JsonObject *p0;

    assert_int_equal (json_array_get_length (ports), 1);
    p0 = json_array_get_object_element (ports, 0);
    day2.forwarded = json_object_get_int_member (p0, "host");
    day2.address = g_strdup (json_object_get_string_member (p0, "address"));
    assert_in_range (day2.forwarded, FORWARD_LO, FORWARD_HI);
    print_message ("    guest SSH forwarded from %s:%u\n", day2.address, day2.forwarded);
    assert_int_equal (gvd_test_json_int (n, "root_disk_bytes"), ROOT_GIB * GIB);
  }
  f1 = guest_facts (BOOT_TIMEOUT_S);
  phase_end ();
  /* cloud-init's first run goes on after sshd started (users, keys, the
   * agent): let it finish, or the next boot would run part of it again. */
  phase_begin ("boot 1: cloud-init's first run finishes");
  {
    g_autofree char *out = guest_run ("timeout 300 cloud-init status --wait >/dev/null;"
                                    " cloud-init status; true", 60);
    print_message ("    %s", out);
  }
  phase_end ();
  /* A data disk into the running guest, and out again: the guest's own
   * view (udev's by-id link from the serial, the kernel's size). */
  phase_begin ("hot-plug a 1 GiB disk into the running guest, unplug it");
  {
    g_autoptr(JsonNode) n = api ("POST", "/v1/instances/" NAME "/disks",
                                 "{\"name\": \"hp\", \"size_gib\": 1, \"serial\": \"GVD-HOTPLUG-1\"}",
                                 201);
    JsonArray *disks = json_node_get_array (gvd_test_json_path (n, "disks"));
    g_autofree char *target = NULL;
    g_autofree char *path = NULL;
    g_autofree char *seen = NULL;
    g_autofree char *gone = NULL;

    for (guint i = 0; i < json_array_get_length (disks); i++)
      {
        JsonObject *d = json_array_get_object_element (disks, i);

        if (g_strcmp0 (json_object_get_string_member (d, "name"), "hp") == 0)
          target = g_strdup (json_object_get_string_member (d, "target"));
      }
    assert_non_null (target);
    seen = guest_run ("for i in $(seq 120); do [ -e /dev/disk/by-id/virtio-GVD-HOTPLUG-1 ] && break;"
                      " sleep 0.5; done; lsblk -bdno SIZE /dev/disk/by-id/virtio-GVD-HOTPLUG-1",
                      60);
    print_message ("    the guest sees virtio-GVD-HOTPLUG-1 (%s): %s", target, seen);
    assert_int_equal (g_ascii_strtoll (seen, NULL, 10), GIB);
    /* The guest's kernel releases it: the unplug completes (200). */
    path = g_strdup_printf ("/v1/instances/" NAME "/disks/%s", target);
    g_clear_pointer (&n, json_node_unref);
    n = api ("DELETE", path, NULL, 200);
    gone = guest_run ("for i in $(seq 60); do [ -e /dev/disk/by-id/virtio-GVD-HOTPLUG-1 ] || break;"
                      " sleep 0.5; done; ls /dev/disk/by-id/virtio-GVD-HOTPLUG-1 2>/dev/null"
                      " || echo gone", 60);
    assert_string_equal (g_strstrip (gone), "gone");
  }
  phase_end ();
  boot1 = g_strdup (fact (f1, "boot"));
  assert_int_equal (fact_int (f1, "disk"), ROOT_GIB * GIB);
  fs0 = fact_int (f1, "fs");
  assert_string_equal (fact (f1, "file-a"), "-");
  guest_write ("a", token_a);
  shutdown_guest ();

  snapshot_op ("snapshot s1 (stopped)", "POST", "/v1/instances/" NAME "/snapshots",
               "{\"name\": \"s1\"}", 201);
  phase_begin ("resize root disk 3 -> 5 GiB");
  {
    g_autoptr(JsonNode) n = api ("POST", "/v1/instances/" NAME "/resize",
                                 "{\"root_disk_gib\": " G_STRINGIFY (GROWN_GIB) "}", 200);
    assert_int_equal (gvd_test_json_int (n, "root_disk_bytes"), GROWN_GIB * GIB);
  }
  phase_end ();

  /* Boot 2: A is there, the disk and its file system grew; B. */
  f2 = start_guest ("start + boot 2 until SSH (after snapshot + resize)");
  assert_string_not_equal (fact (f2, "boot"), boot1);
  assert_string_equal (fact (f2, "file-a"), token_a);
  assert_int_equal (fact_int (f2, "disk"), GROWN_GIB * GIB);
  fs1 = fact_int (f2, "fs");
  assert_fs_grew (fs0, fs1, (GROWN_GIB - ROOT_GIB) * GIB);
  guest_write ("b", token_b);
  shutdown_guest ();

  snapshot_op ("revert to s1", "POST", "/v1/instances/" NAME "/snapshots/s1/revert", NULL, 200);
  {
    g_autoptr(JsonNode) n = api ("GET", "/v1/instances/" NAME, NULL, 200);
    assert_int_equal (gvd_test_json_int (n, "root_disk_bytes"), GROWN_GIB * GIB);
  }

  /* Boot 3: A is there, B is gone; the disk kept the size the instance
   * says it has (a revert rolls back data, not the resize). C. */
  f3 = start_guest ("start + boot 3 until SSH (after revert)");
  assert_string_equal (fact (f3, "file-a"), token_a);
  assert_string_equal (fact (f3, "file-b"), "-");
  assert_int_equal (fact_int (f3, "disk"), GROWN_GIB * GIB);
  assert_int_equal (fact_int (f3, "fs"), fs1);
  guest_write ("c", token_c);
  shutdown_guest ();

  /* s2 freezes the layer holding C and the grown file system; deleting s1
   * commits that layer into s1's, which predates the resize. */
  snapshot_op ("snapshot s2 (stopped)", "POST", "/v1/instances/" NAME "/snapshots",
               "{\"name\": \"s2\"}", 201);
  snapshot_op ("delete s1 (block commit of s2's layer into s1's, domain paused)", "DELETE",
               "/v1/instances/" NAME "/snapshots/s1", NULL, 204);
  {
    g_autofree char *names = snapshot_names ();
    g_autofree char *state_now = instance_state ();

    assert_string_equal (names, "s2");
    assert_string_equal (state_now, "shutoff");
  }

  /* Boot 4: the merged chain holds A and C, not B. */
  f4 = start_guest ("start + boot 4 until SSH (after the merge)");
  assert_string_equal (fact (f4, "file-a"), token_a);
  assert_string_equal (fact (f4, "file-b"), "-");
  assert_string_equal (fact (f4, "file-c"), token_c);
  assert_int_equal (fact_int (f4, "disk"), GROWN_GIB * GIB);
  assert_int_equal (fact_int (f4, "fs"), fs1);

  /* A live snapshot with the guest's file systems frozen by its agent. */
  phase_begin ("live snapshot s3 (guest frozen through qemu-guest-agent)");
  {
    g_autofree char *agent = guest_run ("for i in $(seq 120); do systemctl is-active -q"
                                        " qemu-guest-agent && break; sleep 0.5; done;"
                                        " systemctl is-active qemu-guest-agent", 90);
    g_autoptr(JsonNode) n = NULL;

    assert_string_equal (g_strstrip (agent), "active");
    guest_write ("e", token_e);
    n = api ("POST", "/v1/instances/" NAME "/snapshots", "{\"name\": \"s3\"}", 201);
    assert_string_equal (gvd_test_json_string (n, "consistency"), "filesystem");
    /* Thawed: the guest writes again. */
    guest_write ("f", token_f);
  }
  phase_end ();
  shutdown_guest ();
  snapshot_op ("revert to s3 (the live snapshot)", "POST",
               "/v1/instances/" NAME "/snapshots/s3/revert", NULL, 200);

  /* Boot 5: E, written before the live snapshot, is there; F is not. */
  f5 = start_guest ("start + boot 5 until SSH (after reverting to the live snapshot)");
  assert_string_equal (fact (f5, "file-a"), token_a);
  assert_string_equal (fact (f5, "file-c"), token_c);
  assert_string_equal (fact (f5, "file-e"), token_e);
  assert_string_equal (fact (f5, "file-f"), "-");

  phase_begin ("delete the instance");
  {
    g_autoptr(JsonNode) n = api ("DELETE", "/v1/instances/" NAME, NULL, 204);
  }
  phase_end ();
  assert_int_equal (instance_volumes (), 0);
  {
    g_autoptr(virDomain) dom = virDomainLookupByName (day2.conn, PREFIX NAME);
    assert_null (dom);
  }
  gvd_test_daemon_stop (day2.d, TRUE);
}

static int
setup (void **state)
{
  day2.t0 = g_get_monotonic_time ();
  day2.phase_names = g_ptr_array_new_with_free_func (g_free);
  day2.phase_secs = g_array_new (FALSE, FALSE, sizeof (double));
  return 0;
}

/* Runs whether the test passed or failed: nothing of it stays behind. */
static int
teardown (void **state)
{
  print_phases ();
  g_clear_pointer (&day2.s, g_object_unref);
  g_clear_pointer (&day2.d, gvd_test_daemon_free);
  if (day2.conn != NULL)
    {
      gvd_test_libvirt_cleanup (day2.conn, PREFIX, POOL);
      virConnectClose (day2.conn);
      day2.conn = NULL;
    }
  /* The pool's directory, left empty by the pool's undefine. */
  g_rmdir (POOL_PATH);
  if (day2.state_dir != NULL)
    gvd_test_rm_rf (day2.state_dir);
  g_clear_pointer (&day2.state_dir, g_free);
  g_clear_pointer (&day2.ssh_key, g_free);
  g_clear_pointer (&day2.address, g_free);
  g_clear_pointer (&day2.phase_names, g_ptr_array_unref);
  g_clear_pointer (&day2.phase_secs, g_array_unref);
  return 0;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (guest__snapshot_revert_resize_merge__guest_sees_each, setup,
                                     teardown),
  };

  /* Whole lines: the daemon writes to the same log. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("e2e-day2", tests, NULL, NULL);
}
