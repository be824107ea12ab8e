/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dedicated host CPUs: CPU lists ("0-3,8"), the host's CPU topology as plain
 * data, and the allocator that picks an instance's CPUs on a NUMA node from
 * those no one holds. Pure: host/cpu-topology.c reads the topology. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* CPU numbers are below this (Linux's NR_CPUS on the largest distro kernels). */
#define GVD_CPU_MAX 8192

/* "0-3,8,10-11" → sorted, distinct guint CPU numbers below GVD_CPU_MAX. An
 * empty string is an empty list. GVD_ERROR_INVALID_ARGUMENT naming @field. */
GArray *gvd_cpulist_parse (const char *field, const char *text, GError **error);
/* @n CPU numbers (any order, no duplicates) → "0-3,8"; "" when @n is 0. */
char *gvd_cpulist_format (const guint *cpus, guint n);

typedef struct {
  guint id;
  int node;   /* NUMA node; -1: the host did not say */
  guint core; /* the lowest CPU number among its thread siblings */
} GvdHostCpu;

typedef struct {
  GArray *cpus;       /* GvdHostCpu of the online CPUs, sorted by id */
  gboolean has_nodes; /* the host described its NUMA nodes */
} GvdCpuTopology;

GvdCpuTopology *gvd_cpu_topology_new (void);
void gvd_cpu_topology_free (GvdCpuTopology *topo);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCpuTopology, gvd_cpu_topology_free)
/* Add an online CPU (kept sorted; a second entry for @id replaces the first). */
void gvd_cpu_topology_add (GvdCpuTopology *topo, guint id, int node, guint core);
/* The NUMA node of CPU @id; -1 when unknown or offline. */
int gvd_cpu_topology_node_of (const GvdCpuTopology *topo, guint id);

typedef struct {
  guint vcpus;
  guint threads_per_core; /* vCPUs per guest core: > 1 takes host sibling threads */
  /* Candidate NUMA nodes (the GPUs' nodes), tried in order; NULL or empty:
   * every node. */
  GArray *nodes;          /* int */
  GArray *reserved;       /* guint: host CPUs never given to instances; may be NULL */
} GvdCpuRequest;

typedef struct {
  int node;        /* the NUMA node the CPUs are on; -1: the host has no node data */
  GArray *pins;    /* guint: host CPU of vCPU i */
  GArray *emulator; /* guint: the CPUs the emulator threads run on */
} GvdCpuAllocation;

void gvd_cpu_allocation_free (GvdCpuAllocation *alloc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCpuAllocation, gvd_cpu_allocation_free)

/* Pick @req->vcpus free CPUs on one NUMA node. @held: CPU number
 * (GUINT_TO_POINTER) → holder name, the CPUs others have. With GPUs (nodes
 * given) the first node in @req->nodes with room wins; without, the node
 * with the most free CPUs (then the lowest). threads_per_core > 1 takes
 * that many sibling threads of one host core per guest core. The emulator
 * threads go to the reserved CPUs of the node (else all reserved CPUs), or,
 * with none reserved, share the instance's own CPUs. Refused
 * (GVD_ERROR_INSUFFICIENT_CPUS, or INVALID_ARGUMENT when the host can never
 * fit it) with a message naming the node, the counts and the holders. */
GvdCpuAllocation *gvd_cpu_alloc (const GvdCpuTopology *topo, const GvdCpuRequest *req,
                                 GHashTable *held, GError **error);

G_END_DECLS
