/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Creating an instance: plan, claim, render, volumes, define, start; roll back
 * every step on failure. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"
#include "console-text.h"
#include "device-ref.h"
#include "json-util.h"

#include <string.h>
#include <unistd.h>


#include "agent.h"
#include "domain-xml.h"
#include "events.h"
#include "fault-point.h"
#include "host-file.h"
#include "registry.h"
#include "reservations.h"
#include "seed-iso.h"
#include "storage.h"
#include "vfio-plan.h"

/* Undo everything a create did in memory. */
static void
forget_create (GvdInstanceManager *mgr, const char *name)
{
  gvd_instance_release_claims (mgr, name);
  gvd_ipam_release (mgr->ipam, name);
  gvd_instance_release_hugepages (mgr, name);
  gvd_port_table_release (mgr->ports, name);
  g_hash_table_remove (mgr->creating, name);
}

/* ---- create --------------------------------------------------------------------- */

typedef struct {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  GvdStorage *storage;
  GvdHostRoot *root;
  char **addresses;
  char *name;
  char *pool;
  char *pool_path;
  char *image;
  char *root_volume;
  char *seed_volume;
  GPtrArray *made;        /* data disk volumes this create made (worker) */
  char *prefix;           /* the domain prefix */
  guint hotplug_ports;    /* [instances] hotplug_ports */
  guint64 root_size;
  GvdCloudInitSeed *seed; /* made into seed_iso by the worker */
  GBytes *seed_iso;
  char *xml;
  gboolean start;
  gboolean autostart;
  GPtrArray *vgpus;    /* GvdVgpuAssignment: mdevs to create */
  const GvdMdevOps *mdev_ops;
  char *mdev_journal;  /* gvd_instance_mdev_journal_dir () */
  /* Borrowed from the outer task; the main thread leaves it alone until
   * create_done. Without a requested size the worker sets its root size
   * (the image's) and renders the XML again. */
  GvdInstanceSpec *spec;
  GTask *outer;        /* borrowed: the worker's callback holds the ref */
  GSource *deadline;   /* main context only */
  gboolean expired;
  /* results */
  char *state;
  char *vnc_socket;
} CreateData;

static void
create_data_free (CreateData *cd)
{
  g_clear_object (&cd->virt);
  g_clear_pointer (&cd->storage, gvd_storage_unref);
  gvd_host_root_free (cd->root);
  g_strfreev (cd->addresses);
  g_free (cd->name);
  g_free (cd->pool);
  g_free (cd->pool_path);
  g_free (cd->image);
  g_free (cd->root_volume);
  g_free (cd->seed_volume);
  g_clear_pointer (&cd->made, g_ptr_array_unref);
  g_free (cd->prefix);
  g_free (cd->mdev_journal);
  gvd_cloudinit_seed_free (cd->seed);
  g_clear_pointer (&cd->seed_iso, g_bytes_unref);
  g_free (cd->xml);
  g_clear_pointer (&cd->vgpus, g_ptr_array_unref);
  g_free (cd->state);
  g_free (cd->vnc_socket);
  g_free (cd);
}

/* An instance.progress event {name, step} for a create step done; from the
 * worker it is handed to the main context, which owns the event bus (and
 * dispatches it before the create's own completion, queued later). */
typedef struct {
  GvdEvents *events;
  char *name;
  const char *step;
} Progress;

static gboolean
progress_emit (gpointer data)
{
  Progress *p = data;
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, p->name);
  json_builder_set_member_name (b, "step");
  json_builder_add_string_value (b, p->step);
  json_builder_end_object (b);
  gvd_events_emit (p->events, "instance.progress", json_builder_get_root (b));
  g_free (p->name);
  g_free (p);
  return G_SOURCE_REMOVE;
}

static void
progress (GvdInstanceManager *mgr, const char *name, const char *step)
{
  Progress *p = g_new0 (Progress, 1);

  p->events = mgr->d->events;
  p->name = g_strdup (name);
  p->step = step;
  g_main_context_invoke (NULL, progress_emit, p);
}

/* Remove what a create made in libvirt; each step tolerates "not there". */
static void
rollback_libvirt (virConnectPtr conn, virDomainPtr dom, const CreateData *cd)
{
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  if (dom != NULL)
    {
      if (virDomainIsActive (dom) == 1)
        virDomainDestroy (dom);
      if (virDomainUndefineFlags (dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE) < 0)
        g_debug ("rollback: undefine %s: %s", cd->name, virGetLastErrorMessage ());
    }
  if (!gvd_storage_delete_volume (conn, cd->pool, cd->seed_volume, &e1))
    g_debug ("rollback: %s", e1->message);
  if (!gvd_storage_delete_volume (conn, cd->pool, cd->root_volume, &e2))
    g_debug ("rollback: %s", e2->message);
  gvd_instance_disks_rollback (conn, cd->pool, cd->made);
  /* The vGPUs last: a domain still defined would keep using them. */
  {
    g_autoptr(GError) e3 = NULL;

    if (!gvd_instance_remove_mdevs (cd->mdev_ops, conn, cd->vgpus, &e3))
      g_warning ("instance %s: rollback: %s", cd->name, e3->message);
    else
      gvd_instance_mdevs_forget (cd->mdev_journal, cd->vgpus);
  }
}

static void
create_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  CreateData *cd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (cd->virt, &error);
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *root_path = NULL;
  g_autofree char *seed_path = NULL;

  /* The ISO first: when it cannot be built, nothing is made to roll back. */
  if (conn == NULL || (cd->seed_iso = gvd_seed_iso_build (cd->seed, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* The vGPUs next: the host's scarcest part, and a create that cannot
   * have them stops before anything else is made. A failure here leaves
   * none of them (gvd_instance_create_mdevs). */
  if (cd->vgpus->len > 0)
    {
      if (!gvd_instance_mdevs_journal (cd->mdev_journal, cd->name, cd->vgpus, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if (!gvd_instance_create_mdevs (cd->mdev_ops, conn, cd->vgpus, &error))
        {
          /* It removed the ones it made; forget them once that is sure. */
          if (gvd_instance_remove_mdevs (cd->mdev_ops, conn, cd->vgpus, NULL))
            gvd_instance_mdevs_forget (cd->mdev_journal, cd->vgpus);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      gvd_fault_point ("mdevs");
      progress (cd->mgr, cd->name, "vgpus");
    }
  if (!gvd_storage_ensure_pool (cd->storage, conn, cd->pool, cd->pool_path, &error))
    goto fail;
  gvd_fault_point ("pool");
  if (cd->root_size == 0 && cd->spec != NULL)
    {
      /* The overlay gets the image's size: record it, so that the metadata
       * (and a recovery from it) knows the root disk's size. */
      g_autoptr(GvdImage) base = gvd_storage_get_image (cd->storage, conn, cd->pool, cd->image, NULL, &error);
      char *xml;

      if (base == NULL)
        goto fail;
      cd->spec->root_size_bytes = base->capacity;
      xml = gvd_domain_xml_render (cd->spec, &error);
      if (xml == NULL)
        goto fail;
      g_free (cd->xml);
      cd->xml = xml;
    }
  root_path = gvd_storage_create_overlay (cd->storage, conn, cd->pool, cd->root_volume, cd->image,
                                          cd->root_size, &error);
  if (root_path == NULL)
    {
      /* A volume already there is someone else's: never roll it back. */
      if (g_error_matches (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      goto fail;
    }
  gvd_fault_point ("overlay");
  if (cd->spec != NULL && cd->spec->disks->len > 1)
    {
      char *xml;

      /* Existing volumes' formats and sizes are learnt here: render again. */
      if (!gvd_instance_disks_make (conn, cd->prefix, cd->spec, cd->made, &error)
          || (xml = gvd_domain_xml_render (cd->spec, &error)) == NULL)
        goto fail;
      g_free (cd->xml);
      cd->xml = xml;
    }
  progress (cd->mgr, cd->name, "volumes");
  seed_path = gvd_storage_upload_volume (conn, cd->pool, cd->seed_volume, cd->seed_iso, "raw",
                                         &error);
  if (seed_path == NULL)
    goto fail;
  gvd_fault_point ("seed");
  progress (cd->mgr, cd->name, "seed");
  dom = virDomainDefineXMLFlags (conn, cd->xml, VIR_DOMAIN_DEFINE_VALIDATE);
  if (dom == NULL)
    {
      gvd_virt_error_set_define (&error, conn, cd->spec != NULL ? cd->spec->domain_name : NULL,
                                 "libvirt refused the domain definition");
      goto fail;
    }
  gvd_fault_point ("define");
  if (!gvd_instance_ensure_hotplug_ports (conn, dom, cd->hotplug_ports, &error))
    goto fail;
  progress (cd->mgr, cd->name, "defined");
  /* Part of the definition: a failure rolls the domain back with the rest. */
  if (cd->autostart && virDomainSetAutostart (dom, 1) < 0)
    {
      gvd_virt_error_set (&error, "libvirt could not mark the domain for autostart");
      goto fail;
    }
  if (cd->start && !gvd_instance_prepare_devices (cd->root, (const char *const *) cd->addresses, &error))
    goto fail;
  if (cd->start && virDomainCreate (dom) < 0)
    {
      gvd_virt_error_set (&error, "libvirt could not start the domain");
      goto fail;
    }
  if (cd->start)
    {
      gvd_fault_point ("start");
      progress (cd->mgr, cd->name, "started");
    }
  cd->state = gvd_instance_domain_state (dom);
  if (cd->start)
    {
      g_autofree char *live = virDomainGetXMLDesc (dom, 0);
      cd->vnc_socket = gvd_instance_parse_vnc_socket (live);
    }
  /* The domain holds the vGPUs now. */
  gvd_instance_mdevs_forget (cd->mdev_journal, cd->vgpus);
  g_task_return_boolean (task, TRUE);
  return;

fail:
  rollback_libvirt (conn, dom, cd);
  g_task_return_error (task, g_steal_pointer (&error));
}

typedef struct {
  GvdInstanceSpec *spec;      /* handed to the instance on success */
  JsonNode *details;          /* planner reasons on refusal */
} CreateResult;

static void
create_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  GvdInstanceSpec *spec = g_object_get_data (G_OBJECT (outer), "spec");
  CreateData *cd = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = cd->mgr;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  GvdInstance *inst;

  gvd_instance_disarm_deadline (&cd->deadline);
  gvd_instance_note_change (mgr);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      gvd_instance_log_start_refused (spec->name, "create (rolled back)", error);
      forget_create (mgr, spec->name);
      gvd_agent_hub_forget (mgr->d->agent, spec->name);
      if (!cd->expired)
        g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }

  g_hash_table_remove (mgr->creating, spec->name);
  gvd_instance_release_hugepages (mgr, spec->name);
  inst = gvd_instance_new (g_steal_pointer (&spec), cd->state);
  g_object_steal_data (G_OBJECT (outer), "spec");
  inst->vnc_socket = g_steal_pointer (&cd->vnc_socket);
  g_hash_table_replace (mgr->instances, g_strdup (inst->spec->name), inst);
  gvd_agent_hub_set_running (mgr->d->agent, inst->spec->name,
                             g_str_equal (inst->state, "running"), g_get_monotonic_time ());
  g_message ("instance %s: created (%s, domain %s)", inst->spec->name, inst->state,
             inst->spec->domain_name);
  gvd_events_emit_instance (mgr->d->events, "instance.created", inst->spec->name);
  if (cd->expired)
    return; /* the caller was already told it timed out */

  b = json_builder_new ();
  gvd_instance_write_json (mgr, inst, b);
  g_task_return_pointer (outer, json_builder_get_root (b), (GDestroyNotify) json_node_unref);
}

static gboolean
create_deadline_cb (gpointer data)
{
  CreateData *cd = data;

  g_clear_pointer (&cd->deadline, g_source_unref);
  cd->expired = TRUE;
  gvd_instance_mark_wedged (cd->mgr, cd->addresses, "the start", cd->mgr->d->config->device_timeout);
  g_task_return_new_error (cd->outer, GVD_ERROR, GVD_ERROR_TIMEOUT,
                           "instance '%s': libvirt did not start it within %u s; its devices are "
                           "quarantined as wedged (see GET /v1/devices)",
                           cd->name, cd->mgr->d->config->device_timeout);
  return G_SOURCE_REMOVE;
}

void
gvd_instance_manager_create_async (GvdInstanceManager *mgr, GvdCreateRequest *req,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) devices = NULL;
  g_autoptr(GvdPlan) plan = NULL;
  g_autoptr(GvdPlanRefusal) refusal = NULL;
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autoptr(GvdCloudInitSeed) seed = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *name = g_strdup (req->name);
  g_autofree char *reserved_mac = NULL;
  g_autofree char *reserved_ip = NULL;
  g_autoptr(GPtrArray) vgpus = NULL;
  CreateData *cd;
  GTask *inner;

  g_task_set_source_tag (task, gvd_instance_manager_create_async);

  /* Until recovery has run, no device can be known to be free. */
  if (!mgr->ready)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_READY,
                               "gpuvmd has not yet reconciled with libvirt; retry shortly");
      return;
    }
  if (g_hash_table_contains (mgr->instances, name) || g_hash_table_contains (mgr->creating, name))
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                               "an instance named '%s' already exists", name);
      return;
    }
  if (g_hash_table_contains (mgr->sweeping, name))
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_READY,
                               "volumes left by an earlier '%s' are being deleted; retry shortly",
                               name);
      return;
    }

  /* Host files first: a refusal consumes nothing (dry runs included). */
  if (req->kernel != NULL || req->kernel_volume != NULL)
    {
      g_autofree char *kernel = gvd_instance_resolve_boot_file (mgr, "boot.kernel", req->kernel,
                                                   req->kernel_volume, &error);
      g_autofree char *initrd = NULL;

      if (kernel == NULL
          || ((req->initrd != NULL || req->initrd_volume != NULL)
              && (initrd = gvd_instance_resolve_boot_file (mgr, "boot.initrd", req->initrd,
                                              req->initrd_volume, &error)) == NULL))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      g_free (req->kernel);
      req->kernel = g_steal_pointer (&kernel);
      g_free (req->initrd);
      req->initrd = g_steal_pointer (&initrd);
    }

  /* Plan and claim in this one main-loop turn: no other request runs between. */
  if (req->reservation != NULL)
    {
      g_autofree char *holder = g_strconcat (GVD_RESERVATION_HOLDER_PREFIX, req->reservation, NULL);

      /* Consumed here: its devices are planned for this instance (the same
       * plan the reservation made) and its lease moves over. If the create
       * then fails, they are released with everything else. */
      if (!gvd_reservations_take (mgr->d->reservations, req->reservation, &devices,
                                  &reserved_mac, &reserved_ip, &error))
        {
          if (error == NULL)
            g_set_error (&error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no reservation '%s'",
                         req->reservation);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      gvd_instance_release_claims (mgr, holder);
      gvd_ipam_release (mgr->ipam, holder);
    }
  else
    {
      devices = gvd_instance_resolve_devices (mgr, req->devices, &error);
      if (devices == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  if (devices[0] != NULL || req->gpus > 0)
    {
      g_autoptr(GvdPlanRequest) preq = gvd_plan_request_new ();

      preq->devices = devices[0] != NULL ? g_strdupv (devices) : NULL;
      preq->gpus = req->gpus;
      preq->vendor = g_strdup (req->gpu_vendor);
      preq->model = g_strdup (req->gpu_model);
      preq->allow_weakened_isolation = req->allow_weakened_isolation;
      plan = gvd_vfio_plan_compute (mgr->d->inventory, preq,
                                    gvd_claims_get_holders (mgr->d->claims),
                                    gvd_claims_get_quarantined (mgr->d->claims), &refusal, &error);
      if (plan == NULL)
        {
          if (refusal != NULL)
            g_task_set_task_data (task, gvd_plan_refusal_to_json (refusal),
                                  (GDestroyNotify) json_node_unref);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }

  /* vGPUs on parents with capacity, never on a GPU the plan passes through. */
  vgpus = gvd_instance_plan_vgpus (mgr, req, plan, &error);
  if (vgpus == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  {
    JsonNode *details = NULL;

    if (!gvd_instance_plan_vfs (mgr, req, plan, &details, &error))
      {
        if (details != NULL)
          g_task_set_task_data (task, details, (GDestroyNotify) json_node_unref);
        g_task_return_error (task, g_steal_pointer (&error));
        return;
      }
  }

  g_hash_table_add (mgr->creating, g_strdup (name));
  spec = gvd_instance_build_spec (mgr, req, plan, reserved_mac, reserved_ip, &error);
  if (spec == NULL)
    goto fail;
  gvd_instance_add_vgpu_hostdevs (spec, vgpus);
  gvd_instance_claim_hostdevs (mgr, name, spec->hostdevs);
  gvd_instance_claim_cpus (mgr, name, spec->vcpu_pins);
  gvd_instance_claim_nics (mgr, name, spec->nics);
  if (!req->dry_run)
    {
      gvd_fault_point ("claimed");
      progress (mgr, name, "planned");
    }

  seed = gvd_cloudinit_render (spec, mgr->agent_files, &error);
  if (seed == NULL)
    goto fail;
  xml = gvd_domain_xml_render (spec, &error);
  if (xml == NULL)
    goto fail;

  if (req->dry_run)
    {
      JsonNode *doc = gvd_instance_dry_run_document (spec, plan, xml, seed);
      forget_create (mgr, name);
      gvd_agent_hub_forget (mgr->d->agent, name);
      g_task_return_pointer (task, doc, (GDestroyNotify) json_node_unref);
      return;
    }

  cd = g_new0 (CreateData, 1);
  cd->mgr = mgr;
  cd->virt = g_object_ref (mgr->d->virt);
  cd->storage = gvd_storage_ref (mgr->d->storage);
  cd->root = gvd_host_root_copy (mgr->d->host_root);
  cd->addresses = gvd_instance_hostdev_addresses (spec);
  cd->name = g_strdup (name);
  cd->pool = g_strdup (mgr->d->config->pool_name);
  cd->pool_path = g_strdup (mgr->d->config->pool_path);
  cd->image = g_strdup (spec->image);
  cd->root_volume = g_strdup (((GvdDiskSpec *) g_ptr_array_index (spec->disks, 0))->volume);
  cd->seed_volume = g_strdup (spec->seed_volume);
  cd->made = g_ptr_array_new_with_free_func (g_free);
  cd->prefix = g_strdup (mgr->d->config->domain_prefix);
  cd->hotplug_ports = mgr->d->config->hotplug_ports;
  cd->root_size = spec->root_size_bytes;
  cd->seed = g_steal_pointer (&seed);
  cd->xml = g_steal_pointer (&xml);
  cd->start = req->start;
  cd->autostart = req->autostart;
  cd->vgpus = g_steal_pointer (&vgpus);
  cd->mdev_ops = mgr->mdev_ops;
  cd->mdev_journal = gvd_instance_mdev_journal_dir (mgr);
  cd->spec = spec;

  g_object_set_data_full (G_OBJECT (task), "spec", g_steal_pointer (&spec),
                          (GDestroyNotify) gvd_instance_spec_free);
  inner = g_task_new (NULL, NULL, create_done, g_object_ref (task));
  g_task_set_task_data (inner, cd, (GDestroyNotify) create_data_free);
  cd->outer = task;
  if (cd->start && cd->addresses[0] != NULL)
    cd->deadline = gvd_instance_arm_deadline (mgr->d->config->device_timeout, create_deadline_cb, cd);
  g_task_run_in_thread (inner, create_thread);
  g_object_unref (inner);
  return;

fail:
  forget_create (mgr, name);
  gvd_agent_hub_forget (mgr->d->agent, name);
  g_task_return_error (task, g_steal_pointer (&error));
}

JsonNode *
gvd_instance_manager_create_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                    JsonNode **out_details, GError **error)
{
  JsonNode *details = g_task_get_task_data (G_TASK (result));
  JsonNode *node = g_task_propagate_pointer (G_TASK (result), error);

  if (node == NULL && details != NULL && out_details != NULL)
    *out_details = json_node_ref (details);
  return node;
}
