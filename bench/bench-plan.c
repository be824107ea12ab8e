/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark: inventory scan of a synthetic 10,000-device / 64-GPU host and
 * VFIO planning on it.
 *
 * How to run: build (`make bench/bench-plan` in a build dir), then run
 * `bench/bench-plan [DIR]`. DIR is a host root holding sys/ and proc/; when
 * it does not exist yet the benchmark generates it there with
 * `python3 tests/data/make-hosts.py --synthetic DIR 10000 64` (default DIR:
 * /tmp/bench-plan-host-10k; delete it to regenerate). It prints the mean, min
 * and max of 10 full scans (targets: < 50 ms with names from pci.ids), the
 * mean over 1000 "gpus: 8" plans and 1000 explicit 2-GPU plans (target:
 * < 1 ms each), and asserts nothing. The first scan runs with a cold pci.ids
 * cache and is reported separately. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "hostinfo.h"
#include "vfio-plan.h"

#define DEFAULT_DIR "/tmp/bench-plan-host-10k"
#define SCANS 10
#define PLANS 1000

static gboolean
ensure_tree (const char *dir)
{
  g_autofree char *sys = g_build_filename (dir, "sys", NULL);
  g_autofree char *script = g_build_filename (GVD_TOP_SRCDIR, "tests", "data", "make-hosts.py",
                                              NULL);
  const char *argv[] = { "python3", script, "--synthetic", dir, "10000", "64", NULL };
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (g_file_test (sys, G_FILE_TEST_IS_DIR))
    return TRUE;
  printf ("generating %s (10000 devices, 64 GPUs)...\n", dir);
  fflush (stdout);
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                     &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    {
      fprintf (stderr, "bench-plan: cannot generate the host: %s\n", error->message);
      return FALSE;
    }
  return TRUE;
}

static double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

int
main (int argc, char **argv)
{
  const char *dir = argc > 1 ? argv[1] : DEFAULT_DIR;
  g_autoptr(GvdHostRoot) root = NULL;
  g_autoptr(GvdInventory) inv = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdPlanRequest) req_n = gvd_plan_request_new ();
  g_autoptr(GvdPlanRequest) req_x = gvd_plan_request_new ();
  g_autoptr(GHashTable) claims = g_hash_table_new (g_str_hash, g_str_equal);
  double total = 0, min = G_MAXDOUBLE, max = 0, first;
  guint gpus = 0;
  gint64 t0;

  if (!ensure_tree (dir))
    return 1;
  root = gvd_host_root_new_prefixed (dir);

  t0 = g_get_monotonic_time ();
  inv = gvd_hostinfo_scan (root, NULL, NULL, &error);
  first = ms_since (t0);
  if (inv == NULL)
    {
      fprintf (stderr, "bench-plan: scan failed: %s\n", error->message);
      return 1;
    }
  for (guint i = 0; i < SCANS; i++)
    {
      g_autoptr(GvdInventory) again = NULL;
      double ms;

      t0 = g_get_monotonic_time ();
      again = gvd_hostinfo_scan (root, NULL, NULL, NULL);
      ms = ms_since (t0);
      total += ms;
      min = MIN (min, ms);
      max = MAX (max, ms);
    }
  for (guint i = 0; i < inv->devices->len; i++)
    if (((GvdPciDevice *) g_ptr_array_index (inv->devices, i))->passthrough_candidate)
      gpus++;
  printf ("host: %u PCI devices, %u IOMMU groups, %u GPUs\n", inv->devices->len,
          inv->groups->len, gpus);
  printf ("scan (first, cold pci.ids): %.2f ms\n", first);
  printf ("scan: mean %.2f ms, min %.2f ms, max %.2f ms over %d (target < 50 ms)\n",
          total / SCANS, min, max, SCANS);

  /* A few GPUs held, so the planner has to look past them. */
  g_hash_table_insert (claims, (gpointer) "0000:03:00.0", (gpointer) "vm-a");
  g_hash_table_insert (claims, (gpointer) "0001:03:00.0", (gpointer) "vm-b");
  req_n->gpus = 8;
  req_x->devices = g_strsplit ("0000:04:00.0,0000:0b:00.0", ",", 0);

  for (guint k = 0; k < 2; k++)
    {
      GvdPlanRequest *req = k == 0 ? req_n : req_x;
      guint ok = 0;

      t0 = g_get_monotonic_time ();
      for (guint i = 0; i < PLANS; i++)
        {
          g_autoptr(GvdPlanRefusal) refusal = NULL;
          g_autoptr(GvdPlan) plan = gvd_vfio_plan_compute (inv, req, claims, NULL, &refusal, NULL);
          if (plan != NULL)
            ok++;
        }
      printf ("plan %s: mean %.3f ms over %d (%u planned; target < 1 ms)\n",
              k == 0 ? "\"gpus: 8\"" : "2 explicit GPUs", ms_since (t0) / PLANS, PLANS, ok);
    }
  return 0;
}
