/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dedicated CPUs for an instance: the guest topology from "cpu", host CPUs
 * picked on the GPUs' NUMA node (cpu-alloc.c) from those no domain holds,
 * claimed like devices, and shown in the instance JSON. Main context only:
 * the allocation and its claim happen in one main-loop turn, so two creates
 * never get the same CPUs. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include "cpu-alloc.h"
#include "cpu-topology.h"

gboolean
gvd_instance_build_cpu (GvdInstanceManager *mgr, const GvdCreateRequest *req, const GvdPlan *plan,
                        GvdInstanceSpec *spec, GError **error)
{
  g_autoptr(GvdCpuTopology) topo = NULL;
  g_autoptr(GvdCpuAllocation) alloc = NULL;
  g_autoptr(GArray) reserved = NULL;
  GvdCpuRequest creq = { 0 };

  if (req->cpu_sockets > 0 || req->cpu_threads_per_core > 0)
    {
      spec->sockets = MAX (req->cpu_sockets, 1);
      spec->threads = MAX (req->cpu_threads_per_core, 1);
      spec->cores = req->vcpus / spec->sockets / spec->threads;
    }
  if (!req->cpu_dedicated)
    return TRUE;

  topo = gvd_cpu_topology_read (mgr->d->host_root, error);
  if (topo == NULL)
    return FALSE;
  reserved = gvd_cpulist_parse ("reserved_cpus",
                                mgr->d->config->reserved_cpus != NULL ? mgr->d->config->reserved_cpus : "",
                                error);
  if (reserved == NULL)
    return FALSE;
  creq.vcpus = req->vcpus;
  creq.threads_per_core = MAX (req->cpu_threads_per_core, 1);
  creq.nodes = plan != NULL ? plan->numa_nodes : NULL;
  creq.reserved = reserved;
  alloc = gvd_cpu_alloc (topo, &creq, gvd_claims_get_cpu_holders (mgr->d->claims), error);
  if (alloc == NULL)
    return FALSE;
  spec->vcpu_pins = g_steal_pointer (&alloc->pins);
  spec->emulator_pins = g_steal_pointer (&alloc->emulator);
  /* Memory where the vCPUs are (the GPUs' node when they share one). */
  if (alloc->node >= 0)
    spec->numa_node = alloc->node;
  return TRUE;
}

void
gvd_instance_claim_cpus (GvdInstanceManager *mgr, const char *holder, const GArray *cpus)
{
  for (guint i = 0; cpus != NULL && i < cpus->len; i++)
    gvd_claims_set_cpu_holder (mgr->d->claims, g_array_index (cpus, guint, i), holder);
}

static void
add_cpu_array (JsonBuilder *b, const char *member, const GArray *cpus)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; cpus != NULL && i < cpus->len; i++)
    json_builder_add_int_value (b, g_array_index (cpus, guint, i));
  json_builder_end_array (b);
}

void
gvd_instance_write_cpu_json (const GvdInstanceSpec *s, JsonBuilder *b)
{
  json_builder_set_member_name (b, "cpu");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "policy");
  json_builder_add_string_value (b, s->vcpu_pins != NULL ? "dedicated" : "shared");
  json_builder_set_member_name (b, "sockets");
  json_builder_add_int_value (b, MAX (s->sockets, 1));
  json_builder_set_member_name (b, "threads_per_core");
  json_builder_add_int_value (b, MAX (s->threads, 1));
  /* pinned[i]: the host CPU of vCPU i. */
  add_cpu_array (b, "pinned", s->vcpu_pins);
  add_cpu_array (b, "emulator", s->emulator_pins);
  json_builder_end_object (b);
}
