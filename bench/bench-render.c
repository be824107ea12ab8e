/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Render time of one 8-GPU instance in-process (domain XML + cloud-init +
 * seed ISO) beside genisoimage as a process for the same files. Prints
 * figures, asserts nothing. Usage: bench-render [iterations] */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "agent-files.h"
#include "cloudinit.h"
#include "domain-xml.h"
#include "seed-iso.h"

static GvdInstanceSpec *
spec_8gpu (void)
{
  GvdInstanceSpec *spec = gvd_instance_spec_new ();
  GvdDiskSpec *disk = gvd_disk_spec_new ();
  GvdNicSpec *nic = gvd_nic_spec_new ();

  spec->name = g_strdup ("train-7");
  spec->domain_name = g_strdup ("gpuvm-train-7");
  spec->uuid = g_strdup ("6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b");
  spec->created_at = g_strdup ("2024-06-11T10:00:00Z");
  spec->image = g_strdup ("ubuntu-24.04");
  spec->vcpus = 64;
  spec->memory_mib = 512 * 1024;
  spec->hugepage_kib = 1048576;
  spec->kvm = TRUE;
  spec->numa_node = 0;
  spec->mmio64_mib = 256 * 1024;
  disk->type = GVD_DISK_VOLUME;
  disk->pool = g_strdup ("gpuvmd");
  disk->volume = g_strdup ("gpuvm-train-7-root.qcow2");
  disk->format = g_strdup ("qcow2");
  disk->boot_order = 1;
  g_ptr_array_add (spec->disks, disk);
  spec->seed_pool = g_strdup ("gpuvmd");
  spec->seed_volume = g_strdup ("gpuvm-train-7-seed.iso");
  nic->mode = GVD_NETWORK_BRIDGE;
  nic->source = g_strdup ("br0");
  nic->mac = g_strdup ("52:54:00:ab:cd:01");
  nic->ipv4 = g_strdup ("10.77.0.5/24");
  nic->gateway = g_strdup ("10.77.0.1");
  nic->dns = g_strsplit ("1.1.1.1,9.9.9.9", ",", -1);
  g_ptr_array_add (spec->nics, nic);
  for (guint i = 0; i < 8; i++)
    for (guint fn = 0; fn < 2; fn++)
      {
        GvdHostdevSpec *h = gvd_hostdev_spec_new ();
        h->host_address = g_strdup_printf ("0000:%02x:00.%u", 0x41 + i * 0x10, fn);
        h->guest_bus = i;
        h->guest_function = fn;
        h->multifunction = fn == 0;
        h->clique = 0;
        g_ptr_array_add (spec->hostdevs, h);
      }
  spec->user = g_strdup ("alice");
  spec->ssh_keys = g_new0 (char *, 2);
  spec->ssh_keys[0] = g_strdup ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq3o0YcXx0ePmHn1i7h5m3nq9Z2yqC3pX1q8Wc3b6Zr alice@laptop");
  spec->packages = g_strsplit ("curl,htop,python3-numpy", ",", -1);
  spec->install_nvidia_driver = TRUE;
  spec->nvidia_driver_version = g_strdup ("535.129.03");
  spec->agent_url = g_strdup ("http://10.77.0.1:8788");
  spec->agent_token = g_strdup ("0123456789abcdef0123456789abcdef");
  return spec;
}

int
main (int argc, char **argv)
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 2000;
  guint n_proc = 50;
  g_autoptr(GvdInstanceSpec) spec = spec_8gpu ();
  g_autoptr(GvdAgentFiles) agent = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCloudInitSeed) seed = NULL;
  g_autofree char *dir = NULL;
  gint64 t0, t_xml = 0, t_ci = 0, t_iso = 0;
  gsize iso_size = 0, xml_size = 0;
  gboolean have_xml = TRUE;

  if (n == 0)
    n = 1;
  agent = gvd_agent_files_load (&error);
  if (agent == NULL)
    {
      fprintf (stderr, "bench-render: %s\n", error->message);
      return 1;
    }

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *xml = NULL;
      g_autoptr(GvdCloudInitSeed) s = NULL;
      g_autoptr(GBytes) iso = NULL;

      t0 = g_get_monotonic_time ();
      xml = gvd_domain_xml_render (spec, &error);
      t_xml += g_get_monotonic_time () - t0;
      if (xml == NULL)
        {
          if (have_xml)
            fprintf (stderr, "bench-render: domain XML not rendered (%s); timing cloud-init + ISO only\n",
                     error->message);
          have_xml = FALSE;
          g_clear_error (&error);
        }
      else
        xml_size = strlen (xml);
      t0 = g_get_monotonic_time ();
      s = gvd_cloudinit_render (spec, agent, &error);
      t_ci += g_get_monotonic_time () - t0;
      if (s == NULL)
        {
          fprintf (stderr, "bench-render: %s\n", error->message);
          return 1;
        }
      t0 = g_get_monotonic_time ();
      iso = gvd_seed_iso_build (s, &error);
      t_iso += g_get_monotonic_time () - t0;
      if (iso == NULL)
        {
          fprintf (stderr, "bench-render: %s\n", error->message);
          return 1;
        }
      iso_size = g_bytes_get_size (iso);
    }

  printf ("in-process, 8 GPUs (16 hostdevs), mean of %u:\n", n);
  if (have_xml)
    printf ("  domain XML render   %8.1f us  (%zu bytes)\n", (double) t_xml / n, xml_size);
  printf ("  cloud-init render   %8.1f us\n", (double) t_ci / n);
  printf ("  seed ISO (libisofs) %8.1f us  (%zu bytes)\n", (double) t_iso / n, iso_size);
  printf ("  total               %8.1f us\n", (double) (t_ci + t_iso + (have_xml ? t_xml : 0)) / n);

  /* The same three files through genisoimage, one process per ISO. */
  seed = gvd_cloudinit_render (spec, agent, &error);
  dir = g_dir_make_tmp ("gvd-bench-XXXXXX", NULL);
  if (seed != NULL && dir != NULL && g_file_test ("/usr/bin/genisoimage", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_autofree char *ud = g_build_filename (dir, "user-data", NULL);
      g_autofree char *md = g_build_filename (dir, "meta-data", NULL);
      g_autofree char *nc = g_build_filename (dir, "network-config", NULL);
      g_autofree char *out = g_build_filename (dir, "seed.iso", NULL);
      const char *args[] = { "/usr/bin/genisoimage", "-quiet", "-output", out, "-volid", "cidata",
                             "-joliet", "-rock", ud, md, nc, NULL };
      gint64 t_proc = 0;

      g_file_set_contents (ud, seed->user_data, -1, NULL);
      g_file_set_contents (md, seed->meta_data, -1, NULL);
      g_file_set_contents (nc, seed->network_config, -1, NULL);
      for (guint i = 0; i < n_proc; i++)
        {
          int status = 0;
          t0 = g_get_monotonic_time ();
          if (!g_spawn_sync (NULL, (char **) args, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                             NULL, NULL, &status, NULL))
            break;
          t_proc += g_get_monotonic_time () - t0;
        }
      printf ("genisoimage process, same files, mean of %u: %8.1f us\n", n_proc,
              (double) t_proc / n_proc);
      g_unlink (ud);
      g_unlink (md);
      g_unlink (nc);
      g_unlink (out);
    }
  if (dir != NULL)
    g_rmdir (dir);
  return 0;
}
