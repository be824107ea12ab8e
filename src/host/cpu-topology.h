/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's CPU topology from sysfs (through the host root): online CPUs,
 * their thread siblings and NUMA nodes, for the dedicated-CPU allocator. */
#pragma once

#include <glib.h>

#include "cpu-alloc.h"
#include "host-root.h"

G_BEGIN_DECLS

/* devices/system/cpu/online, cpuN/topology/thread_siblings_list and
 * devices/system/node/nodeN/cpulist. Without node files the topology has
 * no nodes (has_nodes FALSE); without a CPU's siblings it is its own core.
 * GVD_ERROR_IO when the online CPUs cannot be read. */
GvdCpuTopology *gvd_cpu_topology_read (const GvdHostRoot *root, GError **error);

G_END_DECLS
