/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keeping in step with libvirt: lifecycle events, recovery after every
 * (re)connect (with its sweep of orphan volumes). */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include <string.h>


#include "agent.h"
#include "device-health.h"
#include "domain-xml.h"
#include "events.h"
#include "fault-point.h"
#include "hostinfo-vgpu.h"
#include "vfio-plan.h"

#define HOLDER_DOMAIN_PREFIX "domain:"

static void
release_check_by_name (GvdInstanceManager *mgr, const char *name)
{
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);

  if (inst != NULL)
    gvd_instance_schedule_release_check (mgr, inst);
}

/* ---- events ---------------------------------------------------------------------------- */

static const char *
instance_name_of (GvdInstanceManager *mgr, const char *domain_name)
{
  const char *prefix = mgr->d->config->domain_prefix;

  return g_str_has_prefix (domain_name, prefix) ? domain_name + strlen (prefix) : NULL;
}

/* Runs on the main loop (libvirt's events dispatch on GLib's default
 * context). Only local calls here: the event carries what we need. */
/* A lifecycle subscription. libvirt holds one reference (its opaque) for as
 * long as the callback is registered, the manager one while it is current,
 * and a worker one while it registers or deregisters; @mgr and @pending are
 * main-context state. */
typedef struct _GvdEventSub {
  gint ref;
  GvdInstanceManager *mgr; /* NULL once the manager dropped it */
  gboolean pending;        /* the registration worker has not reported yet */
  virConnectPtr conn;      /* set by the registration worker */
  int id;
} GvdEventSub;

static GvdEventSub *
event_sub_ref (GvdEventSub *sub)
{
  g_atomic_int_inc (&sub->ref);
  return sub;
}

static void
event_sub_unref (void *data)
{
  GvdEventSub *sub = data;

  if (!g_atomic_int_dec_and_test (&sub->ref))
    return;
  if (sub->conn != NULL)
    virConnectClose (sub->conn);
  g_free (sub);
}

static int
lifecycle_cb (virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
  GvdEventSub *sub = opaque;
  GvdInstanceManager *mgr = sub->mgr;
  const char *domain_name = virDomainGetName (dom);

  /* Still delivered while a dropped subscription is being deregistered. */
  if (mgr == NULL)
    return 0;
  gvd_instance_note_change (mgr);
  const char *name = instance_name_of (mgr, domain_name);
  GvdInstance *inst = name != NULL ? g_hash_table_lookup (mgr->instances, name) : NULL;

  switch (event)
    {
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
      if (inst != NULL)
        gvd_instance_set_state (mgr, inst, "running");
      break;
    case VIR_DOMAIN_EVENT_SUSPENDED:
      if (inst != NULL)
        gvd_instance_set_state (mgr, inst, "paused");
      break;
    case VIR_DOMAIN_EVENT_STOPPED:
      if (inst != NULL)
        {
          gvd_instance_set_state (mgr, inst, detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? "crashed" : "shutoff");
          g_clear_pointer (&inst->vnc_socket, g_free);
          if (!gvd_instance_gpu_release_prebound (mgr, name, release_check_by_name))
            gvd_instance_schedule_release_check (mgr, inst);
          gvd_instance_ops_domain_stopped (mgr, name);
        }
      break;
    case VIR_DOMAIN_EVENT_CRASHED:
      if (inst != NULL)
        gvd_instance_set_state (mgr, inst, "crashed");
      break;
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
      if (inst != NULL)
        gvd_instance_set_state (mgr, inst, "suspended");
      break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
      if (inst != NULL && inst->busy == NULL)
        {
          /* Undefined behind our back: the instance is gone; claims and
           * address go. Its volumes stay for now (an operator may want
           * them); the next recovery sweeps them as orphans. */
          g_message ("instance %s: domain %s was undefined outside gpuvmd; forgetting it", name,
                     domain_name);
          gvd_instance_remove (mgr, name);
          gvd_instance_report_stray_mdevs (mgr);
        }
      else if (inst == NULL)
        {
          g_autofree char *holder = g_strconcat (HOLDER_DOMAIN_PREFIX, domain_name, NULL);
          gvd_instance_release_claims (mgr, holder);
        }
      break;
    case VIR_DOMAIN_EVENT_DEFINED:
      /* A domain we do not know (ours from another gpuvmd run, or one made
       * by hand with hostdevs): re-read libvirt. */
      if (inst == NULL && (name == NULL || !g_hash_table_contains (mgr->creating, name)))
        gvd_instance_schedule_recovery (mgr, 200);
      break;
    default:
      break;
    }
  return 0;
}

/* Registering and deregistering are RPCs to libvirtd, which may hang (a
 * frozen or restarting libvirtd): both run in workers. */
static void
register_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GvdEventSub *sub = task_data;
  GvdVirtConn *virt = source;

  sub->conn = gvd_virt_conn_get (virt, NULL);
  if (sub->conn == NULL)
    {
      g_task_return_boolean (task, FALSE); /* lost again: the next connect registers */
      return;
    }
  sub->id = virConnectDomainEventRegisterAny (sub->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK (lifecycle_cb),
                                              event_sub_ref (sub), event_sub_unref);
  if (sub->id < 0)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_LIBVIRT, "%s",
                               virGetLastErrorMessage ());
      event_sub_unref (sub); /* libvirt did not take its reference */
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
deregister_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GvdEventSub *sub = task_data;

  if (sub->conn != NULL && sub->id >= 0)
    virConnectDomainEventDeregisterAny (sub->conn, sub->id);
  sub->id = -1;
  /* Closing the last reference is an RPC too. */
  if (sub->conn != NULL)
    virConnectClose (g_steal_pointer (&sub->conn));
  g_task_return_boolean (task, TRUE);
}

static void
deregister_async (GvdEventSub *sub)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);

  g_task_set_task_data (task, event_sub_ref (sub), event_sub_unref);
  g_task_run_in_thread (task, deregister_thread);
}

static void
register_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GvdEventSub *sub = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;

  sub->pending = FALSE;
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      if (error != NULL && sub->mgr != NULL)
        g_warning ("cannot subscribe to libvirt lifecycle events: %s", error->message);
      return;
    }
  /* Dropped (a disconnect or a newer connection) while registering. */
  if (sub->mgr == NULL)
    deregister_async (sub);
}

static void
register_events (GvdInstanceManager *mgr)
{
  g_autoptr(GTask) task = g_task_new (mgr->d->virt, NULL, register_done, NULL);
  GvdEventSub *sub = g_new0 (GvdEventSub, 1);

  sub->ref = 1;
  sub->mgr = mgr;
  sub->id = -1;
  sub->pending = TRUE;
  mgr->event_sub = event_sub_ref (sub);
  if (gvd_virt_conn_get_reconnects (mgr->d->virt) > 0)
    gvd_fault_point ("reconnect");
  g_task_set_task_data (task, sub, event_sub_unref);
  g_task_run_in_thread (task, register_thread);
}

/* Drop the current subscription; deregister it in a worker when @wait is
 * FALSE (the main loop keeps serving), here when TRUE (teardown). */
static void
unregister_events (GvdInstanceManager *mgr, gboolean wait)
{
  GvdEventSub *sub = g_steal_pointer (&mgr->event_sub);

  if (sub == NULL)
    return;
  sub->mgr = NULL;
  if (wait && !sub->pending && sub->conn != NULL && sub->id >= 0)
    {
      virConnectDomainEventDeregisterAny (sub->conn, sub->id);
      sub->id = -1;
    }
  else if (!sub->pending)
    deregister_async (sub);
  /* else register_done deregisters it */
  event_sub_unref (sub);
}

void
gvd_instance_unregister_events (GvdInstanceManager *mgr)
{
  unregister_events (mgr, TRUE);
}

/* ---- recovery ---------------------------------------------------------------------------- */

/* One libvirt domain as recovery sees it, parsed in the worker so the main
 * loop only applies results. */
typedef struct {
  char *name;
  char *state;
  GvdInstanceSpec *spec;   /* gpuvmd's metadata; NULL: not ours */
  char **foreign_hostdevs; /* PCI hostdevs of a domain that is not ours */
  GArray *pinned_cpus;     /* guint: host CPUs its vcpupins (not ours: and emulatorpin) name */
  char **foreign_mdevs;    /* and its mdev hostdevs' uuids */
  GArray *foreign_ports;   /* host ports it forwards (guint) */
  GArray *foreign_fwd_addresses; /* and the addresses it forwards from (guint32) */
  char **disks;            /* gvd_domain_xml_disk_sources (); NULL: unreadable */
  char *vnc_socket;
} DomainInfo;

static void
domain_info_free (DomainInfo *info)
{
  g_free (info->name);
  g_free (info->state);
  gvd_instance_spec_free (info->spec);
  g_strfreev (info->foreign_hostdevs);
  g_clear_pointer (&info->pinned_cpus, g_array_unref);
  g_strfreev (info->foreign_mdevs);
  g_clear_pointer (&info->foreign_ports, g_array_unref);
  g_clear_pointer (&info->foreign_fwd_addresses, g_array_unref);
  g_strfreev (info->disks);
  g_free (info->vnc_socket);
  g_free (info);
}

typedef struct {
  GvdVirtConn *virt;
  char *prefix;
  char *pool;
  /* result: instance volumes of the pool that no domain uses */
  char **orphans;
  gboolean pool_inactive; /* the pool exists but is not active yet */
  char *mdev_journal;
  GHashTable *stale_mdevs; /* result: journaled vGPUs no domain uses */
} RecoverData;

static void
recover_data_free (RecoverData *rd)
{
  g_object_unref (rd->virt);
  g_free (rd->prefix);
  g_free (rd->pool);
  g_strfreev (rd->orphans);
  g_free (rd->mdev_journal);
  g_clear_pointer (&rd->stale_mdevs, g_hash_table_unref);
  g_free (rd);
}

/* Read and parse one domain (any thread). */
static DomainInfo *
read_domain (virDomainPtr dom, const char *prefix)
{
  char *xml = virDomainGetXMLDesc (dom, 0);
  DomainInfo *info;
  const char *name;

  /* A domain undefined between list and read is simply gone. */
  if (xml == NULL)
    return NULL;
  info = g_new0 (DomainInfo, 1);
  info->name = g_strdup (virDomainGetName (dom));
  info->state = gvd_instance_domain_state (dom);
  name = g_str_has_prefix (info->name, prefix) ? info->name + strlen (prefix) : NULL;
  if (name != NULL)
    info->spec = gvd_domain_xml_parse (xml, NULL);
  if (info->spec != NULL && g_strcmp0 (info->spec->name, name) != 0)
    g_clear_pointer (&info->spec, gvd_instance_spec_free);
  if (info->spec != NULL)
    {
      int autostart = 0;
      /* libvirt keeps the flag, and virsh autostart may have changed it. */
      if (virDomainGetAutostart (dom, &autostart) == 0)
        info->spec->autostart = autostart != 0;
    }
  if (info->spec == NULL)
    {
      info->foreign_hostdevs = gvd_domain_xml_hostdev_addresses (xml, NULL);
      info->foreign_mdevs = gvd_domain_xml_mdev_uuids (xml, NULL);
      info->foreign_ports = gvd_domain_xml_forwarded_host_ports (xml, NULL);
      info->foreign_fwd_addresses = gvd_domain_xml_forwarded_host_addresses (xml, NULL);
    }
  /* Ours: the vCPUs' CPUs as the domain has them now (the emulator runs on
   * shared reserved CPUs); another domain's: every CPU it pins. */
  info->pinned_cpus = gvd_domain_xml_pinned_cpus (xml, info->spec == NULL, NULL);
  info->disks = gvd_domain_xml_disk_sources (xml, NULL);
  info->vnc_socket = g_str_equal (info->state, "running") ? gvd_instance_parse_vnc_socket (xml) : NULL;
  free (xml);
  return info;
}

typedef struct {
  virDomainPtr *doms;
  int n;
  gint next;           /* atomic: next index to take */
  const char *prefix;
  DomainInfo **out;    /* n slots */
} ReadJob;

static gpointer
read_worker (gpointer data)
{
  ReadJob *job = data;
  gint i;

  while ((i = g_atomic_int_add (&job->next, 1)) < job->n)
    job->out[i] = read_domain (job->doms[i], job->prefix);
  return NULL;
}

/* ---- orphan volumes (instance-sweep.c does the rest) ------------------------------ */

/* Every domain name, every disk source and every mdev uuid of every domain
 * (worker thread); NULL when a domain's disks could not be read: it might
 * use any volume. */
static GHashTable *
used_by_domains (GPtrArray *infos)
{
  g_autoptr(GHashTable) used = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < infos->len; i++)
    {
      DomainInfo *info = g_ptr_array_index (infos, i);

      if (info->disks == NULL)
        return NULL;
      g_hash_table_add (used, info->name);
      for (gsize d = 0; info->disks[d] != NULL; d++)
        g_hash_table_add (used, info->disks[d]);
      for (gsize m = 0; info->foreign_mdevs != NULL && info->foreign_mdevs[m] != NULL; m++)
        g_hash_table_add (used, info->foreign_mdevs[m]);
      for (guint h = 0; info->spec != NULL && h < info->spec->hostdevs->len; h++)
        {
          const GvdHostdevSpec *hd = g_ptr_array_index (info->spec->hostdevs, h);

          if (hd->mdev_uuid != NULL)
            g_hash_table_add (used, hd->mdev_uuid);
        }
    }
  return g_steal_pointer (&used);
}

static void
recover_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  RecoverData *rd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (rd->virt, &error);
  g_autoptr(GPtrArray) infos = NULL;
  virDomainPtr *doms = NULL;
  ReadJob job = { 0 };
  GThread *threads[4] = { NULL };
  guint n_threads;
  gint64 t0 = g_get_monotonic_time ();
  int n;

  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  n = virConnectListAllDomains (conn, &doms, 0);
  if (n < 0)
    {
      gvd_virt_error_set (&error, "cannot list domains");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Reading a domain is an RPC and parsing it is CPU work: spread both over
   * a few threads (the connection is thread-safe; libvirtd serves requests
   * in parallel). */
  job.doms = doms;
  job.n = n;
  job.prefix = rd->prefix;
  job.out = g_new0 (DomainInfo *, MAX (n, 1));
  n_threads = CLAMP (g_get_num_processors (), 1, G_N_ELEMENTS (threads));
  n_threads = MIN (n_threads, (guint) MAX (n / 16, 1));
  for (guint t = 1; t < n_threads; t++)
    threads[t] = g_thread_new ("recover", read_worker, &job);
  read_worker (&job);
  for (guint t = 1; t < n_threads; t++)
    g_thread_join (threads[t]);

  infos = g_ptr_array_new_with_free_func ((GDestroyNotify) domain_info_free);
  for (int i = 0; i < n; i++)
    {
      if (job.out[i] != NULL)
        g_ptr_array_add (infos, job.out[i]);
      virDomainFree (doms[i]);
    }
  g_free (job.out);
  free (doms);
  g_debug ("recovery: %d domains read and parsed in %.1f ms on %u threads", n,
           (g_get_monotonic_time () - t0) / 1000.0, n_threads);
  {
    g_autoptr(GHashTable) used = used_by_domains (infos);

    if (used != NULL)
      rd->orphans = gvd_instance_sweep_find (conn, rd->pool, rd->prefix, used, &rd->pool_inactive);
    if (used != NULL)
      rd->stale_mdevs = gvd_instance_mdevs_stale (rd->mdev_journal, used);
  }
  g_task_return_pointer (task, g_steal_pointer (&infos), (GDestroyNotify) g_ptr_array_unref);
}

static void
apply_recovery (GvdInstanceManager *mgr, GPtrArray *infos)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;
  guint ours = 0, foreign = 0;

  /* Claims are rebuilt from libvirt, except those of creates and GPU
   * hot-plugs in flight and of reservations, which libvirt does not know
   * about yet. */
  g_hash_table_iter_init (&iter, gvd_claims_get_holders (mgr->d->claims));
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!g_hash_table_contains (mgr->creating, value) && !g_str_has_prefix (value, "reservation:")
        && !gvd_instance_gpu_attach_in_flight (mgr, value))
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, gvd_claims_get_cpu_holders (mgr->d->claims));
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!g_hash_table_contains (mgr->creating, value))
      g_hash_table_iter_remove (&iter);
  gvd_claims_retain_mdevs (mgr->d->claims, mgr->creating);
  /* So are the ports other domains forward. */
  gvd_port_table_release_prefix (mgr->ports, HOLDER_DOMAIN_PREFIX);

  for (guint i = 0; i < infos->len; i++)
    {
      DomainInfo *info = g_ptr_array_index (infos, i);
      const char *name = instance_name_of (mgr, info->name);
      g_autoptr(GvdInstanceSpec) spec = NULL;
      GvdInstance *inst;

      /* A create in flight owns its name until it completes. */
      if (name != NULL && g_hash_table_contains (mgr->creating, name))
        continue;
      if (info->spec == NULL)
        {
          /* Not ours: its PCI hostdevs still count as claimed. */
          g_autofree char *holder = g_strconcat (HOLDER_DOMAIN_PREFIX, info->name, NULL);
          char **addrs = info->foreign_hostdevs;

          for (gsize a = 0; addrs != NULL && addrs[a] != NULL; a++)
            gvd_claims_set_holder (mgr->d->claims, addrs[a], holder);
          /* And the host CPUs it pins vCPUs or emulator threads to. */
          gvd_instance_claim_cpus (mgr, holder, info->pinned_cpus);
          /* Its vGPUs too, on the parent sysfs shows them on. */
          for (gsize a = 0; info->foreign_mdevs != NULL && info->foreign_mdevs[a] != NULL; a++)
            {
              g_autofree char *parent = gvd_hostinfo_mdev_parent (mgr->d->host_root,
                                                                  info->foreign_mdevs[a]);
              gvd_claims_add_mdev (mgr->d->claims, info->foreign_mdevs[a], parent, NULL, holder);
            }
          /* Its forwarded ports are never handed out, running or not. */
          for (guint p = 0; info->foreign_ports != NULL && p < info->foreign_ports->len; p++)
            gvd_port_table_take (mgr->ports, holder, g_array_index (info->foreign_ports, guint, p),
                                 NULL);
          for (guint p = 0; info->foreign_fwd_addresses != NULL
                            && p < info->foreign_fwd_addresses->len; p++)
            gvd_port_table_take_address (mgr->ports, holder,
                                         g_array_index (info->foreign_fwd_addresses, guint32, p),
                                         NULL);
          if ((addrs != NULL && addrs[0] != NULL)
              || (info->foreign_mdevs != NULL && info->foreign_mdevs[0] != NULL))
            foreign++;
          continue;
        }
      spec = g_steal_pointer (&info->spec);
      inst = g_hash_table_lookup (mgr->instances, name);
      if (inst == NULL)
        {
          /* Every NIC's lease, under the owner key it was allocated with. */
          for (guint n = 0; n < spec->nics->len; n++)
            {
              GvdNicSpec *nic = g_ptr_array_index (spec->nics, n);
              g_autoptr(GError) ipam_error = NULL;
              g_autofree char *owner = gvd_ipam_nic_owner (spec->name, n);

              if (nic->mac != NULL
                  && !gvd_ipam_reserve (mgr->ipam, owner, nic->mac, nic->ipv4, &ipam_error))
                g_warning ("instance %s: address conflict on recovery: %s", spec->name,
                           ipam_error->message);
            }
          gvd_instance_take_ports (mgr, spec);
          gvd_agent_hub_track (mgr->d->agent, spec->name, spec->uuid);
          inst = gvd_instance_new (g_steal_pointer (&spec), info->state);
          g_hash_table_replace (mgr->instances, g_strdup (name), inst);
          g_hash_table_replace (seen, (gpointer) inst->spec->name, (gpointer) inst->spec->name);
          gvd_agent_hub_set_running (mgr->d->agent, name, g_str_equal (info->state, "running"),
                                     g_get_monotonic_time ());
        }
      else
        {
          g_hash_table_replace (seen, (gpointer) inst->spec->name, (gpointer) inst->spec->name);
          gvd_instance_set_state (mgr, inst, info->state);
        }
      g_free (inst->vnc_socket);
      inst->vnc_socket = g_steal_pointer (&info->vnc_socket);
      /* A vGPU whose metadata lost its parent: sysfs knows it. */
      for (guint h = 0; h < inst->spec->hostdevs->len; h++)
        {
          GvdHostdevSpec *hd = g_ptr_array_index (inst->spec->hostdevs, h);

          if (hd->mdev_uuid != NULL && hd->host_address == NULL)
            hd->host_address = gvd_hostinfo_mdev_parent (mgr->d->host_root, hd->mdev_uuid);
        }
      gvd_instance_claim_hostdevs (mgr, inst->spec->name, inst->spec->hostdevs);
      gvd_instance_claim_cpus (mgr, inst->spec->name, inst->spec->vcpu_pins);
      gvd_instance_claim_cpus (mgr, inst->spec->name, info->pinned_cpus);
      gvd_instance_claim_nics (mgr, inst->spec->name, inst->spec->nics);
      ours++;
    }

  /* Instances whose domains vanished while we were not looking. */
  g_hash_table_iter_init (&iter, mgr->instances);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GvdInstance *inst = value;
      if (!g_hash_table_contains (seen, inst->spec->name) && inst->busy == NULL)
        {
          g_message ("instance %s: its domain is gone from libvirt; forgetting it", (char *) key);
          gvd_ipam_release (mgr->ipam, key);
          gvd_port_table_release (mgr->ports, key);
          gvd_agent_hub_forget (mgr->d->agent, key);
          g_hash_table_iter_remove (&iter);
        }
    }

  if (!mgr->ready)
    g_message ("recovered %u instance(s) from libvirt; %u other domain(s) hold PCI devices", ours,
               foreign);
  gvd_claims_set_ready (mgr->d->claims, TRUE);
  gvd_instance_report_stray_mdevs (mgr);
}

static void
recover_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GvdInstanceManager *mgr = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) infos = g_task_propagate_pointer (G_TASK (res), &error);

  mgr->recovering = FALSE;
  /* The domains were read while something changed (a create rolled back, a
   * delete finished, an event arrived): the picture may be stale, so read
   * again rather than apply it (bounded, so heavy churn cannot starve it). */
  if (infos != NULL && mgr->change_seq != mgr->recover_seq && mgr->recover_retries < 5)
    {
      mgr->recover_retries++;
      g_debug ("recovery raced with a change; reading libvirt again");
      gvd_instance_schedule_recovery (mgr, 0);
      return;
    }
  mgr->recover_retries = 0;
  if (infos == NULL)
    {
      g_message ("recovery from libvirt failed: %s (will retry on reconnect)", error->message);
      return;
    }
  {
    gint64 t0 = g_get_monotonic_time ();
    RecoverData *rd = g_task_get_task_data (G_TASK (res));
    gboolean first = !mgr->ready;

    apply_recovery (mgr, infos);
    gvd_instance_mdevs_sweep_start (mgr, rd->stale_mdevs);
    g_debug ("recovery: applied %u domains in %.1f ms", infos->len,
             (g_get_monotonic_time () - t0) / 1000.0);
    /* After the first recovery, creates wait for its sweep too, so a name
     * whose volumes a crash left behind is free once creates are allowed. */
    if (!gvd_instance_sweep_start (mgr, rd->orphans, first))
      mgr->ready = TRUE;
    /* Right after libvirtd starts, its autostarted pool may not be active
     * yet: look again shortly (bounded) rather than miss its orphans. */
    if (rd->pool_inactive && mgr->sweep_retries < 30)
      {
        mgr->sweep_retries++;
        gvd_instance_schedule_recovery (mgr, 1000);
      }
    else if (!rd->pool_inactive)
      mgr->sweep_retries = 0;
  }
  if (mgr->recover_again)
    {
      mgr->recover_again = FALSE;
      gvd_instance_schedule_recovery (mgr, 0);
    }
}

static gboolean
recover_cb (gpointer data)
{
  GvdInstanceManager *mgr = data;
  GTask *task;

  g_clear_pointer (&mgr->recover_source, g_source_unref);
  if (mgr->recovering)
    {
      mgr->recover_again = TRUE;
      return G_SOURCE_REMOVE;
    }
  mgr->recovering = TRUE;
  mgr->recover_seq = mgr->change_seq;
  task = g_task_new (NULL, NULL, recover_done, mgr);
  {
    RecoverData *rd = g_new0 (RecoverData, 1);
    rd->virt = g_object_ref (mgr->d->virt);
    rd->prefix = g_strdup (mgr->d->config->domain_prefix);
    rd->pool = g_strdup (mgr->d->config->pool_name);
    rd->mdev_journal = gvd_instance_mdev_journal_dir (mgr);
    g_task_set_task_data (task, rd, (GDestroyNotify) recover_data_free);
  }
  g_task_run_in_thread (task, recover_thread);
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

void
gvd_instance_note_change (GvdInstanceManager *mgr)
{
  mgr->change_seq++;
}

void
gvd_instance_schedule_recovery (GvdInstanceManager *mgr, guint delay_ms)
{
  if (mgr->recover_source != NULL)
    return;
  mgr->recover_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (mgr->recover_source, recover_cb, mgr, NULL);
  g_source_attach (mgr->recover_source, NULL);
}

void
gvd_instance_on_connected (GvdVirtConn *virt, gpointer user_data)
{
  GvdInstanceManager *mgr = user_data;

  unregister_events (mgr, FALSE);
  register_events (mgr);
  gvd_instance_schedule_recovery (mgr, 0);
}

void
gvd_instance_on_disconnected (GvdVirtConn *virt, const char *why, gpointer user_data)
{
  GvdInstanceManager *mgr = user_data;

  unregister_events (mgr, FALSE);
  gvd_instance_ops_libvirt_lost (mgr);
}
