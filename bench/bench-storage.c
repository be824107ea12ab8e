/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How long the storage steps of an instance create take against the real
 * libvirtd: pool check, image import (stream), overlay, seed upload, list,
 * delete. Uses its own pool gvdbench-pool under /var/tmp; needs root.
 *   bench/bench-storage [SIZE_MIB [ROUNDS]] */
#include "config.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <stdio.h>

#include "storage.h"
#include "virt-conn.h"

#define POOL "gvdbench-pool"
#define POOL_PATH "/var/tmp/gvdbench-pool"

static void
die_on (GError *error, const char *what)
{
  if (error == NULL)
    return;
  g_printerr ("bench-storage: %s: %s\n", what, error->message);
  exit (1);
}

static void
remove_pool (virConnectPtr conn)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);
  virStorageVolPtr *vols = NULL;
  int n;

  if (pool == NULL)
    return;
  if (!virStoragePoolIsActive (pool))
    virStoragePoolCreate (pool, 0);
  n = virStoragePoolListAllVolumes (pool, &vols, 0);
  for (int i = 0; i < n; i++)
    {
      virStorageVolDelete (vols[i], 0);
      virStorageVolFree (vols[i]);
    }
  free (vols);
  virStoragePoolDestroy (pool);
  virStoragePoolDelete (pool, 0);
  virStoragePoolUndefine (pool);
}

static void
quiet (void *data, virErrorPtr err)
{
}

static double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

int
main (int argc, char **argv)
{
  guint64 size_mib = argc > 1 ? g_ascii_strtoull (argv[1], NULL, 10) : 256;
  guint rounds = argc > 2 ? (guint) g_ascii_strtoull (argv[2], NULL, 10) : 20;
  g_autoptr(virConnect) conn = NULL;
  g_autoptr(GvdStorage) storage = gvd_storage_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *src = g_build_filename (g_get_tmp_dir (), "gvdbench-src.img", NULL);
  g_autofree guint8 *chunk = g_malloc (1 << 20);
  g_autoptr(GvdImage) image = NULL;
  g_autoptr(GBytes) seed = NULL;
  FILE *f;
  gint64 t;
  double overlay_ms = 0, seed_ms = 0, delete_ms = 0, list_ms;

  if (size_mib == 0 || size_mib > 65536 || rounds == 0 || rounds > 1000)
    {
      g_printerr ("usage: bench-storage [SIZE_MIB (1-65536) [ROUNDS (1-1000)]]\n");
      return 2;
    }
  virSetErrorFunc (NULL, quiet);
  conn = virConnectOpen ("qemu:///system");
  if (conn == NULL)
    {
      g_printerr ("bench-storage: cannot connect to qemu:///system\n");
      return 77;
    }
  remove_pool (conn);

  /* Incompressible-ish source data, so no layer can cheat on zeros. */
  for (gsize i = 0; i < (1 << 20); i++)
    chunk[i] = (guint8) g_random_int ();
  f = g_fopen (src, "wb");
  for (guint64 i = 0; f != NULL && i < size_mib; i++)
    fwrite (chunk, 1, 1 << 20, f);
  if (f == NULL || fclose (f) != 0)
    {
      g_printerr ("bench-storage: cannot write %s\n", src);
      return 1;
    }

  t = g_get_monotonic_time ();
  gvd_storage_ensure_pool (storage, conn, POOL, POOL_PATH, &error);
  die_on (error, "ensure_pool");
  printf ("ensure_pool (define, build, start): %.1f ms\n", ms_since (t));
  t = g_get_monotonic_time ();
  gvd_storage_ensure_pool (storage, conn, POOL, POOL_PATH, &error);
  die_on (error, "ensure_pool");
  printf ("ensure_pool (exists, refresh): %.1f ms\n", ms_since (t));

  t = g_get_monotonic_time ();
  {
    const char *import_dirs[] = { g_get_tmp_dir (), NULL };
    image = gvd_storage_import_image (storage, conn, POOL, "base.img", src, NULL, "gpuvm-", import_dirs,
                                      &error);
  }
  die_on (error, "import");
  {
    double ms = ms_since (t);
    printf ("import %" G_GUINT64_FORMAT " MiB raw: %.0f ms (%.0f MiB/s)\n", size_mib, ms,
            size_mib / (ms / 1000.0));
  }

  seed = g_bytes_new_take (g_malloc0 (400 * 1024), 400 * 1024);
  for (guint i = 0; i < rounds; i++)
    {
      g_autofree char *root = g_strdup_printf ("gpuvm-b%u-root.qcow2", i);
      g_autofree char *iso = g_strdup_printf ("gpuvm-b%u-seed.iso", i);
      g_autofree char *p1 = NULL;
      g_autofree char *p2 = NULL;

      t = g_get_monotonic_time ();
      p1 = gvd_storage_create_overlay (storage, conn, POOL, root, "base.img", 0, &error);
      die_on (error, "overlay");
      overlay_ms += ms_since (t);
      t = g_get_monotonic_time ();
      p2 = gvd_storage_upload_volume (conn, POOL, iso, seed, NULL, &error);
      die_on (error, "upload");
      seed_ms += ms_since (t);
    }
  t = g_get_monotonic_time ();
  {
    g_autoptr(GPtrArray) list = gvd_storage_list_images (storage, conn, POOL, "gpuvm-", &error);
    die_on (error, "list");
  }
  list_ms = ms_since (t);
  for (guint i = 0; i < rounds; i++)
    {
      g_autofree char *root = g_strdup_printf ("gpuvm-b%u-root.qcow2", i);
      g_autofree char *iso = g_strdup_printf ("gpuvm-b%u-seed.iso", i);

      t = g_get_monotonic_time ();
      gvd_storage_delete_volume (conn, POOL, root, &error);
      die_on (error, "delete");
      gvd_storage_delete_volume (conn, POOL, iso, &error);
      die_on (error, "delete");
      delete_ms += ms_since (t);
    }
  printf ("create_overlay: %.2f ms mean over %u\n", overlay_ms / rounds, rounds);
  printf ("upload_volume 400 KiB: %.2f ms mean over %u\n", seed_ms / rounds, rounds);
  printf ("list_images over %u volumes: %.1f ms\n", 2 * rounds + 1, list_ms);
  printf ("delete root + seed: %.2f ms mean over %u\n", delete_ms / rounds, rounds);

  remove_pool (conn);
  g_remove (src);
  return 0;
}
