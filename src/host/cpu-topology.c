/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host CPU topology from sysfs (cpu-topology.h). */
#include "config.h"

#include "cpu-topology.h"

#include "errors.h"
#include "host-read.h"

/* A sysfs CPU list file, or NULL when absent or not a list. */
static GArray *
read_list (const GvdHostRoot *root, const char *a, const char *b, const char *c)
{
  g_autofree char *path = gvd_host_root_sysfs (root, "devices", "system", a, b, c, NULL);
  g_autofree char *text = gvd_host_read_small (path);

  if (text == NULL)
    return NULL;
  return gvd_cpulist_parse (path, g_strstrip (text), NULL);
}

GvdCpuTopology *
gvd_cpu_topology_read (const GvdHostRoot *root, GError **error)
{
  g_autoptr(GvdCpuTopology) topo = gvd_cpu_topology_new ();
  g_autoptr(GArray) online = read_list (root, "cpu", "online", NULL);
  g_autoptr(GArray) nodes = read_list (root, "node", "online", NULL);
  g_autofree int *node_of = NULL;

  if (online == NULL || online->len == 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                   "cannot read the host's online CPUs (devices/system/cpu/online in sysfs)");
      return NULL;
    }
  node_of = g_new (int, GVD_CPU_MAX);
  for (guint i = 0; i < GVD_CPU_MAX; i++)
    node_of[i] = -1;
  for (guint n = 0; nodes != NULL && n < nodes->len; n++)
    {
      guint node = g_array_index (nodes, guint, n);
      g_autofree char *dir = g_strdup_printf ("node%u", node);
      g_autoptr(GArray) cpus = read_list (root, "node", dir, "cpulist");

      for (guint i = 0; cpus != NULL && i < cpus->len; i++)
        node_of[g_array_index (cpus, guint, i)] = (int) node;
      topo->has_nodes |= cpus != NULL;
    }
  for (guint i = 0; i < online->len; i++)
    {
      guint cpu = g_array_index (online, guint, i);
      g_autofree char *dir = g_strdup_printf ("cpu%u", cpu);
      g_autoptr(GArray) siblings = read_list (root, "cpu", dir, "topology/thread_siblings_list");
      guint core = siblings != NULL && siblings->len > 0 ? g_array_index (siblings, guint, 0) : cpu;

      gvd_cpu_topology_add (topo, cpu, node_of[cpu], core);
    }
  return g_steal_pointer (&topo);
}
