/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How long gpuvmd takes to recover N instances from libvirt at start-up, and
 * the resident memory it then uses.
 *
 *   bench/bench-recover [N]        (default 1000; built by make)
 *
 * It renders N gpuvmd domains (1 GPU each, metadata included) with the real
 * renderer into a libvirt test-driver node file, opens test:///<that file>
 * (libvirt's own driver, in process: the domains are defined-but-stopped),
 * and times the instance manager's recovery from the "connected" signal to
 * "ready": listing, reading every domain's XML, parsing metadata, rebuilding
 * claims and addresses. Prints figures; asserts nothing. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "domain-xml.h"
#include "instance.h"
#include "registry.h"

static gsize
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line != NULL ? (gsize) g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

static char *
render_one (guint i)
{
  g_autoptr(GvdInstanceSpec) s = gvd_instance_spec_new ();
  g_autoptr(GvdDiskSpec) root = gvd_disk_spec_new ();
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
  g_autoptr(GvdHostdevSpec) h = gvd_hostdev_spec_new ();

  s->name = g_strdup_printf ("bench-%04u", i);
  s->domain_name = g_strdup_printf ("gpuvm-bench-%04u", i);
  s->uuid = g_uuid_string_random ();
  s->created_at = g_strdup ("2026-11-22T12:00:00Z");
  s->image = g_strdup ("debian-12.qcow2");
  s->vcpus = 2;
  s->memory_mib = 1024;
  root->type = GVD_DISK_VOLUME;
  root->pool = g_strdup ("gpuvmd");
  root->volume = g_strdup_printf ("%s-root.qcow2", s->domain_name);
  root->format = g_strdup ("qcow2");
  g_ptr_array_add (s->disks, g_steal_pointer (&root));
  s->seed_pool = g_strdup ("gpuvmd");
  s->seed_volume = g_strdup_printf ("%s-seed.iso", s->domain_name);
  nic->mode = GVD_NETWORK_USER;
  nic->mac = g_strdup_printf ("52:54:00:%02x:%02x:%02x", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
  g_ptr_array_add (s->nics, g_steal_pointer (&nic));
  h->host_address = g_strdup_printf ("0001:%02x:%02x.0", (i / 32) & 0xff, i % 32);
  g_ptr_array_add (s->hostdevs, g_steal_pointer (&h));
  s->console_log = g_strdup_printf ("/var/log/libvirt/qemu/%s-console.log", s->domain_name);
  return gvd_domain_xml_render (s, NULL);
}

static gint64 t_connected;
static gsize rss_connected;

static void
on_connected (GvdVirtConn *virt, gpointer data)
{
  t_connected = g_get_monotonic_time ();
  rss_connected = rss_kib ();
}

static void
on_ready_poll (GvdInstanceManager *mgr, GMainLoop *loop)
{
  if (gvd_instance_manager_is_ready (mgr))
    g_main_loop_quit (loop);
}

static gboolean
poll_cb (gpointer data)
{
  gpointer *p = data;
  on_ready_poll (p[0], p[1]);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  guint n = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 1000;
  g_autofree char *dir = g_dir_make_tmp ("gvd-bench-recover-XXXXXX", NULL);
  g_autofree char *node = g_build_filename (dir, "node.xml", NULL);
  g_autofree char *uri = g_strconcat ("test://", node, NULL);
  g_autoptr(GString) xml = g_string_new ("<node>\n");
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GvdDaemon) d = NULL;
  g_autoptr(GvdConfig) config = gvd_config_new ();
  g_autofree char *conf = NULL;
  g_autoptr(GError) error = NULL;
  gpointer poll_data[2];
  gsize rss_before, rss_after;
  gint64 t0, t1;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *one = render_one (i);
      if (one == NULL)
        {
          g_printerr ("render failed\n");
          return 1;
        }
      /* The node file holds <domain> documents without XML declarations. */
      if (g_str_has_prefix (one, "<?xml"))
        g_string_append (xml, strchr (one, '\n') + 1);
      else
        g_string_append (xml, one);
    }
  g_string_append (xml, "</node>\n");
  g_file_set_contents (node, xml->str, xml->len, NULL);

  conf = g_strdup_printf ("[daemon]\nstate_dir=%s\n[libvirt]\nuri=%s\n", dir, uri);
  if (!gvd_config_load_data (config, conf, strlen (conf), "bench", &error)
      || (d = gvd_daemon_new (g_steal_pointer (&config), NULL, &error)) == NULL)
    {
      g_printerr ("daemon: %s\n", error->message);
      return 1;
    }
  /* Connected first, so this handler runs before the manager's. */
  g_signal_connect (d->virt, "connected", G_CALLBACK (on_connected), NULL);
  gvd_instance_manager_start (d->instances);

  rss_before = rss_kib ();
  poll_data[0] = d->instances;
  poll_data[1] = loop;
  g_timeout_add (1, poll_cb, poll_data);
  t0 = g_get_monotonic_time ();
  gvd_virt_conn_start (d->virt);
  g_main_loop_run (loop);
  t1 = g_get_monotonic_time ();
  rss_after = rss_kib ();

  {
    g_autoptr(GPtrArray) list = gvd_instance_manager_list (d->instances);
    printf ("recover: %u instances (1 GPU each) from %s\n", list->len, "libvirt test:/// driver");
    printf ("recover: libvirt test driver open (parses its node file, not gpuvmd): %.1f ms\n",
            (t_connected - t0) / 1000.0);
    printf ("recover: list + read XML + parse metadata + rebuild claims/addresses: %.1f ms "
            "(target < 1000 ms)\n", (t1 - t_connected) / 1000.0);
    printf ("recover: claims rebuilt: %u\n", gvd_claims_count (d->claims));
    printf ("recover: RSS %.1f MiB at start, %.1f MiB once libvirt's test driver holds the "
            "domains, %.1f MiB after recovery: gpuvmd's share %.1f MiB (target < 30 MiB)\n",
            rss_before / 1024.0, rss_connected / 1024.0, rss_after / 1024.0,
            (rss_after - rss_connected + rss_before) / 1024.0);
  }
  g_clear_pointer (&d, gvd_daemon_free);
  g_unlink (node);
  for (const char *const *f = (const char *const[]) { "agent-secret", GVD_REGISTRY_FILE_NAME, NULL };
       *f != NULL; f++)
    {
      g_autofree char *path = g_build_filename (dir, *f, NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
  return 0;
}
