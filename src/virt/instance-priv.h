/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance manager's internals, shared by instance.c (state, claims,
 * JSON), instance-create.c, instance-ops.c and instance-recover.c. */
#pragma once

#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>

#include "agent-files.h"
#include "cloudinit.h"
#include "instance.h"
#include "ipam.h"
#include "mdev.h"
#include "port-table.h"
#include "vfio-plan.h"
#include "vgpu.h"

G_BEGIN_DECLS

struct _GvdInstanceManager {
  GvdInstanceServices *d; /* a copy of what gvd_instance_manager_new got */
  GHashTable *instances; /* name → GvdInstance */
  GHashTable *creating;  /* names of creates in flight */
  GHashTable *sweeping;  /* names whose orphan volumes recovery is deleting */
  GvdIpam *ipam;         /* d->ipam */
  GvdPortTable *ports;   /* host ports of forwarded guest ports ([network] forward_ports) */
  GvdAgentFiles *agent_files;
  gboolean ready;
  struct _GvdEventSub *event_sub; /* the lifecycle subscription (instance-recover.c) */
  GHashTable *stop_waiters; /* name → shutdown waiting for its stop (instance-ops.c) */
  gulong connected_id;
  gulong disconnected_id;
  GSource *recover_source;
  gboolean recovering;
  gboolean recover_again;
  guint health_watch;
  /* Bumped by every lifecycle event and every change gpuvmd itself makes in
   * libvirt; a recovery that raced with one is stale and runs again. */
  guint64 change_seq;
  guint64 recover_seq;
  guint recover_retries;
  guint sweep_retries;   /* recoveries that found the pool inactive */
  GHashTable *hugepage_holds; /* name → pages promised to a create (instance-build-shares.c) */
  const GvdMdevOps *mdev_ops; /* creates and removes vGPUs (libvirt's by default) */
  GHashTable *stray_mdevs_seen; /* uuids of unclaimed mdevs already reported */
  /* address → instance: functions of a hot-plugged group gpuvmd bound to
   * vfio-pci itself (libvirt gives those no host driver back); in memory */
  GHashTable *gpu_prebound;
};

/* instance.c: instances and their state */
GvdInstance *gvd_instance_new (GvdInstanceSpec *spec, const char *state);
void gvd_instance_free (GvdInstance *inst);
void gvd_instance_set_state (GvdInstanceManager *mgr, GvdInstance *inst, const char *state);
/* Forget an instance: claims, address, agent tracking. */
void gvd_instance_remove (GvdInstanceManager *mgr, const char *name);

/* instance.c: libvirt state and XML (callable from workers) */
char *gvd_instance_domain_state (virDomainPtr dom);
char *gvd_instance_parse_vnc_socket (const char *xml);

/* instance.c: claims and devices */
void gvd_instance_release_claims (GvdInstanceManager *mgr, const char *holder);
void gvd_instance_claim_hostdevs (GvdInstanceManager *mgr, const char *holder, GPtrArray *hostdevs);
/* The SR-IOV VFs of @nics (GvdNicSpec) for @holder. */
void gvd_instance_claim_nics (GvdInstanceManager *mgr, const char *holder, GPtrArray *nics);

/* instance-ports.c: forwarded guest ports. Host ports for @req's "ports" on
 * @spec's first user-mode NIC (INVALID_ARGUMENT without one, CONFLICT when
 * the range is used up); recovery's take; the instance's "ports" and "ssh". */
gboolean gvd_instance_allocate_ports (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                                      GvdInstanceSpec *spec, GError **error);
void gvd_instance_take_ports (GvdInstanceManager *mgr, const GvdInstanceSpec *spec);
void gvd_instance_ports_to_json (JsonBuilder *b, const GvdInstanceSpec *spec);
GStrv gvd_instance_hostdev_addresses (const GvdInstanceSpec *spec);
/* Log, once, that a start of @name was refused with @error; a device_busy
 * refusal names the devices and the host processes holding them. Main
 * thread. */
void gvd_instance_log_start_refused (const char *name, const char *what, const GError *error);
gboolean gvd_instance_prepare_devices (const GvdHostRoot *root, const char *const *addresses,
                                       GError **error);
void gvd_instance_mark_wedged (GvdInstanceManager *mgr, char **addresses, const char *what,
                               guint seconds);
GSource *gvd_instance_arm_deadline (guint seconds, GSourceFunc func, gpointer data);
void gvd_instance_disarm_deadline (GSource **source);

/* instance-build.c: a create request → a spec (decides, does nothing) */
/* Registry names → PCI addresses; addresses pass through (normalised). */
char **gvd_instance_resolve_devices (GvdInstanceManager *mgr, char **devices, GError **error);
/* boot.kernel/initrd as the host path QEMU will open (@path below
 * [storage] import_dirs, or image @volume of the pool). */
char *gvd_instance_resolve_boot_file (GvdInstanceManager *mgr, const char *field,
                                      const char *path, const char *volume, GError **error);
GvdInstanceSpec *gvd_instance_build_spec (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                                          GvdPlan *plan, const char *reserved_mac,
                                          const char *reserved_ip, GError **error);
/* instance-build-shares.c: "shares" (below [host] share_dirs) and "memory"
 * (hugepages the host has free, net of other creates' holds, which
 * gvd_instance_release_hugepages() drops when a create ends). */
gboolean gvd_instance_build_shares (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                                    GvdInstanceSpec *spec, GError **error);
gboolean gvd_instance_build_memory (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                                    GvdInstanceSpec *spec, GError **error);
void gvd_instance_release_hugepages (GvdInstanceManager *mgr, const char *name);
void gvd_instance_write_shares_json (const GvdInstanceSpec *spec, JsonBuilder *b);
/* instance-build-nics.c: the spec's NICs (one per "networks" entry, or the
 * single default one), each with its lease. */
gboolean gvd_instance_build_nics (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                                  GvdInstanceSpec *spec, const char *reserved_mac,
                                  const char *reserved_ip, GError **error);
/* May a NIC in @mode name @source (FORBIDDEN naming @field when not)?
 * Does a NIC like @want get its address from [network] cidr? */
gboolean gvd_instance_nic_source_allowed (const GvdConfig *c, const char *field,
                                          GvdNetworkMode mode, const char *source,
                                          GError **error);
gboolean gvd_instance_nic_on_cidr (const GvdConfig *c, const GvdNicSpec *want);
/* Resolve the request's sriov NICs to VF addresses (in place) and plan them
 * next to @plan (may be NULL); on refusal @out_details has the reasons. */
gboolean gvd_instance_plan_vfs (GvdInstanceManager *mgr, GvdCreateRequest *req,
                                const GvdPlan *plan, JsonNode **out_details, GError **error);
JsonNode *gvd_instance_dry_run_document (const GvdInstanceSpec *spec, const GvdPlan *plan,
                                         const char *xml, const GvdCloudInitSeed *seed);

/* instance-cpu.c: the guest CPU topology and, for "cpu.policy":
 * "dedicated", host CPUs on the plan's NUMA node (refused with
 * insufficient_cpus); claims; the "cpu" member of the instance JSON. */
gboolean gvd_instance_build_cpu (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                                 const GvdPlan *plan, GvdInstanceSpec *spec, GError **error);
void gvd_instance_claim_cpus (GvdInstanceManager *mgr, const char *holder, const GArray *cpus);
void gvd_instance_write_cpu_json (const GvdInstanceSpec *spec, JsonBuilder *b);
/* instance-vgpu.c: vGPUs (mediated devices) */
/* Main thread: plan @req->vgpus on the host's parents as sysfs shows them
 * now, given the claims and @plan (its GPUs take no vGPU). NULL with
 * @error on refusal; an empty array when the request has none. */
GPtrArray *gvd_instance_plan_vgpus (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                                   const GvdPlan *plan, GError **error);
/* Append the planned vGPUs to @spec's hostdevs, each in its own guest group. */
void gvd_instance_add_vgpu_hostdevs (GvdInstanceSpec *spec, GPtrArray *assignments);
/* @spec's mdev hostdevs as GvdVgpuAssignment (uuid, type, parent). */
GPtrArray *gvd_instance_spec_vgpus (const GvdInstanceSpec *spec);
/* Worker: create each of @vgpus (GvdVgpuAssignment); on failure remove the
 * ones made and return FALSE. */
gboolean gvd_instance_create_mdevs (const GvdMdevOps *ops, virConnectPtr conn, GPtrArray *vgpus,
                                    GError **error);
/* Worker: remove each of @vgpus; FALSE (with the first error) when one
 * could not be removed, after trying all. */
gboolean gvd_instance_remove_mdevs (const GvdMdevOps *ops, virConnectPtr conn, GPtrArray *vgpus,
                                    GError **error);
/* Main thread, after recovery rebuilt the claims: log once each mdev on the
 * host that no instance, create in flight or other domain holds (left by an
 * instance undefined behind gpuvmd's back, or made by hand). */
void gvd_instance_report_stray_mdevs (GvdInstanceManager *mgr);
/* instance-vgpu-journal.c: vGPUs a crash left without a domain */
/* <state_dir>/mdevs */
char *gvd_instance_mdev_journal_dir (GvdInstanceManager *mgr);
/* Worker: record @vgpus as @name's, before they are made or before their
 * domain is undefined. */
gboolean gvd_instance_mdevs_journal (const char *dir, const char *name, GPtrArray *vgpus,
                                     GError **error);
/* Worker: forget them once a domain holds them or they are removed. */
void gvd_instance_mdevs_forget (const char *dir, GPtrArray *vgpus);
/* Worker (recovery): the journal's mdevs no domain uses (@used: uuids of
 * every domain's mdev hostdevs) as uuid → instance name, NULL when none;
 * the entries a domain uses are forgotten. */
GHashTable *gvd_instance_mdevs_stale (const char *dir, GHashTable *used);
/* Main thread, after recovery: remove (in a worker) the @stale mdevs whose
 * instance is neither being created nor busy, and forget them. */
void gvd_instance_mdevs_sweep_start (GvdInstanceManager *mgr, GHashTable *stale);

/* instance-disks.c: data disks */
/* Main thread: the request's data disks into @spec (after its root disk):
 * pool, volume names, targets, iothreads; the operator's network disk policy
 * and which existing volumes may be attached. */
gboolean gvd_instance_build_disks (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                                   GvdInstanceSpec *spec, GError **error);
/* Worker: create the new volumes (their names appended to @made), check the
 * existing ones (unused, format, size into @spec) and RBD secrets. */
gboolean gvd_instance_disks_make (virConnectPtr conn, const char *prefix, GvdInstanceSpec *spec,
                                  GPtrArray *made, GError **error);
/* One data disk, for the create and hot-plug (instance-hotplug.c): a deep
 * copy; may an existing volume be attached (@field names the member, e.g.
 * "disks[0].volume"); the worker's make-or-check of one disk, its members
 * named "@field.member" or "member" when @field is NULL, @users a cache of
 * which domain uses which volume (NULL at first). */
GvdDiskSpec *gvd_instance_disk_copy (const GvdDiskSpec *d);
gboolean gvd_instance_disk_check_existing (GvdInstanceManager *mgr, const char *field,
                                           const GvdDiskSpec *d, GError **error);
gboolean gvd_instance_disk_make (virConnectPtr conn, const char *prefix, GvdDiskSpec *d,
                                 const char *field, GHashTable **users, GPtrArray *made,
                                 GError **error);
/* Worker: delete the volumes @made (a failed create's). */
void gvd_instance_disks_rollback (virConnectPtr conn, const char *pool, GPtrArray *made);
/* The data disk volumes an instance's delete removes (made by it, not kept). */
char **gvd_instance_disks_to_delete (const GvdInstanceSpec *spec);
/* "disks": [...] of the instance's JSON. */
void gvd_instance_disks_write_json (const GvdInstanceSpec *spec, JsonBuilder *b);

/* instance-pcie-ports.c: free hot-plug slots (see domain-xml-hotplug.h) */
/* Worker, on a domain that is off: top @dom's persistent definition up to
 * @want empty pcie-root-ports, redefining it only when some are missing. */
gboolean gvd_instance_ensure_hotplug_ports (virConnectPtr conn, virDomainPtr dom, guint want,
                                            GError **error);

/* instance-ops.c: a shutdown waits for libvirt's lifecycle event: tell it
 * @name's domain stopped, or that the connection (and its events) was lost. */
void gvd_instance_ops_domain_stopped (GvdInstanceManager *mgr, const char *name);
void gvd_instance_ops_libvirt_lost (GvdInstanceManager *mgr);

/* instance-release.c: after @inst's domain stopped, check in a worker that
 * each passed-through device came back to the host (config space answers,
 * host driver rebound) and quarantine the ones that did not. */
void gvd_instance_schedule_release_check (GvdInstanceManager *mgr, GvdInstance *inst);

/* instance-gpu-hotplug.c: whether @name has a GPU attach in flight (its
 * new claims are not in libvirt yet: recovery keeps them). */
gboolean gvd_instance_gpu_attach_in_flight (GvdInstanceManager *mgr, const char *name);
/* @name's domain stopped: give the functions gpuvmd bound to vfio-pci for
 * a hot-plug back to their host drivers (a worker), then call @then (the
 * post-release check); FALSE, calling nothing, when there are none. */
typedef void (*GvdInstanceReleasedFunc) (GvdInstanceManager *mgr, const char *name);
gboolean gvd_instance_gpu_release_prebound (GvdInstanceManager *mgr, const char *name,
                                            GvdInstanceReleasedFunc then);

/* instance-recover.c: following libvirt */
void gvd_instance_on_connected (GvdVirtConn *virt, gpointer user_data);
void gvd_instance_on_disconnected (GvdVirtConn *virt, const char *why, gpointer user_data);
void gvd_instance_unregister_events (GvdInstanceManager *mgr);
void gvd_instance_schedule_recovery (GvdInstanceManager *mgr, guint delay_ms);
/* Note a change in libvirt made or seen by gpuvmd (see change_seq). */
void gvd_instance_note_change (GvdInstanceManager *mgr);

/* instance-sweep.c: orphan volumes, found by recovery */
/* Worker thread: the pool's "<prefix><name>-root.qcow2" / "-seed.iso"
 * volumes that no domain uses: @used holds every domain name and every disk
 * source ("POOL/VOLUME" or a path) of every domain, gpuvmd's or not; a
 * volume whose domain "<prefix><name>" exists is kept too. NULL when the
 * pool cannot be listed (*@out_pool_inactive: it exists but is inactive). */
char **gvd_instance_sweep_find (virConnectPtr conn, const char *pool, const char *prefix,
                                GHashTable *used, gboolean *out_pool_inactive);
/* Main loop: delete the @orphans whose instance is neither known nor being
 * created (the only place both sets change); their names refuse creates
 * until it is done, each deletion is logged once and emitted as
 * volume.swept. @first: the first recovery, which sets mgr->ready when the
 * sweep is done. FALSE when there is nothing to sweep. */
gboolean gvd_instance_sweep_start (GvdInstanceManager *mgr, char **orphans, gboolean first);

G_END_DECLS
