/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* End to end with a real guest: a Debian 12 image built from Debian's
 * packages (scripts/build-guest-image, cached), imported through the API,
 * an instance created through the API with direct kernel boot and user-mode
 * networking; cloud-init in the guest reads gpuvmd's seed ISO, installs and
 * starts the real agent, which phones home (ready) and sends heartbeats
 * (healthy) to the agent listener at 10.0.2.2. Then delete: nothing left.
 *
 * Run by `make check-e2e` (and scripts/run-tests), not by `make check`. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>

#include "virt-conn.h"

#define PREFIX "gvde2e-"
#define POOL "gvde2e"
#define POOL_PATH "/var/tmp/gvde2e-pool"
#define AGENT_PORT "18788"
/* Under TCG a Debian guest reached phone-home ~35-45 s after start here;
 * two guests or a loaded CI machine double that. */
#define READY_TIMEOUT_S 420
#define HEALTHY_TIMEOUT_S 120

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

static void
guest__boots_cloud_init_agent__ready_then_healthy_then_deleted (void **state)
{
  g_auto(GuestImage) img = { 0 };
  g_autofree char *dir = g_dir_make_tmp ("gvde2e-XXXXXX", NULL);
  g_autofree char *config = g_strdup_printf (
    "[daemon]\nstate_dir=%s\n[libvirt]\ndomain_prefix=" PREFIX "\n"
    "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"
    "[agent]\nlisten=127.0.0.1:" AGENT_PORT "\nurl=http://10.0.2.2:" AGENT_PORT "\n"
    "heartbeat_interval=5\nmissed_heartbeats=3\n", dir);
  g_autoptr(virConnect) conn = virConnectOpen ("qemu:///system");
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(SoupSession) s = NULL;
  g_autofree char *image = NULL;
  g_autofree char *body = NULL;
  g_autoptr(JsonNode) created = NULL;
  guint status = 0;
  gint64 t_start, t_ready = 0, t_healthy = 0;
  gboolean ready = FALSE, healthy = FALSE;

  gvd_test_require (guest_image (&img), "scripts/build-guest-image could not build the guest");
  assert_non_null (conn);
  cleanup_instances (conn);
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

  body = g_strdup_printf (
    "{\"name\": \"guest\", \"image\": \"%s\", \"vcpus\": 2, \"memory_mib\": 1024,"
    " \"boot\": {\"kernel\": \"%s\", \"initrd\": \"%s\", \"cmdline\": \"root=/dev/vda console=ttyS0\"},"
    " \"ssh_keys\": [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNvbWUta2V5LWZvci10ZXN0cy1vbmx5 e2e\"],"
    " \"labels\": {\"test\": \"e2e\"}}",
    image, img.kernel, img.initrd);
  t_start = g_get_monotonic_time ();
  created = api (s, d, "POST", "/v1/instances", body, &status);
  if (status != 201)
    fail_msg ("create answered %u: %s", status,
              created != NULL ? json_to_string (created, FALSE) : "(no body)");
  assert_string_equal (gvd_test_json_string (created, "state"), "running");
  assert_string_equal (health_of (created), "provisioning");

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

  {
    g_autoptr(JsonNode) n = api (s, d, "DELETE", "/v1/instances/guest", NULL, &status);
    assert_int_equal (status, 204);
  }
  assert_int_equal (count_leftovers (conn), 0);
  gvd_test_daemon_stop (d, TRUE);
  {
    g_autofree char *reg = g_build_filename (dir, "registry.json", NULL);
    g_autofree char *sec = g_build_filename (dir, "agent-secret", NULL);
    g_unlink (reg);
    g_unlink (sec);
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
