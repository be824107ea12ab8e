/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU hot-plug: attach a whole planned IOMMU group to an instance, each
 * function on its own free pcie-root-port, all of them or none. */
#include "config.h"

#include "instance-gpu-priv.h"

#include "device-removed-wait.h"
#include "domain-xml-hotplug.h"
#include "fault-point.h"
#include "gpu-hotplug.h"

/* ---- attach ------------------------------------------------------------------ */

#define BUSY_ATTACH "gpu-attach"

gboolean
gvd_instance_gpu_attach_in_flight (GvdInstanceManager *mgr, const char *name)
{
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);

  return inst != NULL && g_strcmp0 (inst->busy, BUSY_ATTACH) == 0;
}

/* Worker: is the domain running, and which pcie-root-ports are empty (in
 * the live definition and the persistent one: a device goes into both). */
static void
ports_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PlugData *pd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = NULL;
  g_autoptr(virDomain) dom = gvd_gpu_plug_open_domain (pd, &conn, &error);
  g_autofree char *config = NULL;
  g_autofree char *live = NULL;
  g_autoptr(GArray) in_config = NULL;

  if (dom == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  pd->active = virDomainIsActive (dom) == 1;
  config = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  live = pd->active ? virDomainGetXMLDesc (dom, 0) : NULL;
  if (config == NULL || (pd->active && live == NULL))
    {
      gvd_virt_error_set (&error, "cannot read the domain's definition");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  in_config = gvd_domain_xml_free_root_ports (config, &error);
  if (in_config == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (live == NULL)
    pd->free_ports = g_steal_pointer (&in_config);
  else
    {
      g_autoptr(GArray) in_live = gvd_domain_xml_free_root_ports (live, &error);

      if (in_live == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      pd->free_ports = g_array_new (FALSE, FALSE, sizeof (guint));
      for (guint i = 0; i < in_live->len; i++)
        for (guint j = 0; j < in_config->len; j++)
          if (g_array_index (in_live, guint, i) == g_array_index (in_config, guint, j))
            g_array_append_val (pd->free_ports, g_array_index (in_live, guint, i));
    }
  g_task_return_boolean (task, TRUE);
}

typedef struct {
  virDomainPtr dom;
  unsigned int flags;
  guint n;
} AttachCtx;

static gboolean
attach_one (gpointer data, const char *xml, GError **error)
{
  AttachCtx *ctx = data;

  /* TEST-ONLY: a function after the first one fails (rollback, make check-vfio). */
  if (ctx->n++ > 0 && gvd_fault_fails ("gpu-attach-function"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_LIBVIRT, "TEST-ONLY fault 'gpu-attach-function'");
      return FALSE;
    }
  if (virDomainAttachDeviceFlags (ctx->dom, xml, ctx->flags) < 0)
    {
      gvd_virt_error_set (error, "libvirt could not attach the device");
      return FALSE;
    }
  return TRUE;
}

/* A rollback: the device is in a powered-off hot-plug slot the guest has
 * not seen yet, or the guest must let it go; wait as a detach does. */
typedef struct {
  AttachCtx a;
  guint timeout;
} RollbackCtx;

static gboolean
detach_one (gpointer data, const char *xml, GError **error)
{
  RollbackCtx *ctx = data;

  if ((ctx->a.flags & VIR_DOMAIN_AFFECT_LIVE) != 0)
    {
      /* The alias is in the XML we attached. */
      g_autofree char *live = virDomainGetXMLDesc (ctx->a.dom, 0);
      g_autofree char *alias = gvd_gpu_hotplug_alias_in_xml (xml);
      const char *aliases[] = { NULL, NULL };

      if (live != NULL && alias != NULL && gvd_gpu_hotplug_has_alias (live, alias))
        {
          aliases[0] = alias;
          if (!gvd_device_detach_live_and_wait (virDomainGetConnect (ctx->a.dom), ctx->a.dom,
                                                aliases, ctx->timeout, error))
            return FALSE;
        }
    }
  if (virDomainDetachDeviceFlags (ctx->a.dom, xml, VIR_DOMAIN_AFFECT_CONFIG) < 0)
    {
      gvd_virt_error_set (error, "libvirt could not remove the device from the definition");
      return FALSE;
    }
  return TRUE;
}

static const GvdGpuHotplugOps libvirt_ops = { attach_one, detach_one };


static gboolean
bind_group (virConnectPtr conn, char **addresses, GError **error)
{
  for (gsize i = 1; addresses[0] != NULL && addresses[i] != NULL; i++)
    {
      virNodeDevicePtr dev = gvd_gpu_plug_node_device (conn, addresses[i]);
      int rc = dev != NULL ? virNodeDeviceDetachFlags (dev, "vfio", 0) : -1;

      if (dev != NULL)
        virNodeDeviceFree (dev);
      if (rc < 0)
        {
          g_autofree char *what = g_strdup_printf ("libvirt could not bind %s to vfio-pci",
                                                   addresses[i]);
          gvd_virt_error_set (error, what);
          return FALSE;
        }
    }
  return TRUE;
}


static void
attach_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PlugData *pd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = NULL;
  g_autoptr(virDomain) dom = gvd_gpu_plug_open_domain (pd, &conn, &error);
  RollbackCtx ctx = { 0 };

  if (dom == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Running now (it may have started or stopped since the ports were read). */
  pd->active = virDomainIsActive (dom) == 1;
  if (pd->active
      && !gvd_instance_prepare_devices (pd->root, (const char *const *) pd->addresses, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* QEMU takes a VFIO group only when every device in it is on vfio-pci:
   * bind the whole group first (libvirt's node device detach), as libvirt
   * does for all hostdevs before a start. */
  if (pd->active && !bind_group (conn, pd->addresses, &error))
    {
      gvd_gpu_plug_rebind (conn, pd->addresses);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (pd->active && pd->addresses[0] != NULL)
    pd->prebound = g_strdupv (pd->addresses + 1);
  ctx.a.dom = dom;
  ctx.a.flags = VIR_DOMAIN_AFFECT_CONFIG | (pd->active ? VIR_DOMAIN_AFFECT_LIVE : 0);
  ctx.timeout = pd->timeout;
  pd->kept = g_new0 (gboolean, pd->xmls->len);
  if (!gvd_gpu_hotplug_attach_all (&libvirt_ops, &ctx, pd->xmls,
                                   (const char *const *) pd->addresses, pd->kept,
                                   &pd->rollback_error, &error))
    {
      /* Back to the host drivers, those no domain took (libvirt refuses
       * the ones a domain still holds). */
      if (pd->active && pd->rollback_error == NULL)
        gvd_gpu_plug_rebind (conn, pd->addresses);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  gvd_fault_point ("gpu-attached");
  /* The devices are in the definition: recovery finds them there (their
   * guest bus stands in for the group) even if the metadata is not updated. */
  if (!gvd_gpu_plug_set_metadata (dom, pd->metadata, pd->active, &error))
    g_warning ("instance %s: GPUs attached, but %s", pd->name, error->message);
  g_task_return_boolean (task, TRUE);
}


static GvdHostdevSpec *
hostdev_copy (const GvdHostdevSpec *h)
{
  GvdHostdevSpec *c = gvd_hostdev_spec_new ();

  c->host_address = g_strdup (h->host_address);
  c->guest_bus = h->guest_bus;
  c->guest_slot = h->guest_slot;
  c->guest_function = h->guest_function;
  c->multifunction = h->multifunction;
  c->clique = h->clique;
  return c;
}


static void
attach_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  PlugData *pd = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = pd->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, pd->name);
  g_autoptr(GError) error = NULL;

  gvd_instance_note_change (mgr);
  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      if (pd->rollback_error != NULL && inst != NULL)
        {
          gvd_gpu_plug_note_prebound (mgr, pd->name, pd->prebound);
          /* A running guest that did not let go of what was attached
           * already (no PCIe hot-plug driver): those functions stay, live
           * and persistent, with their claims; the others are released. */
          for (guint i = 0; pd->addresses[i] != NULL; i++)
            if (pd->kept[i])
              g_ptr_array_add (inst->spec->hostdevs,
                               hostdev_copy (g_ptr_array_index (pd->hostdevs, i)));
            else
              gvd_claims_release_device (mgr->d->claims, pd->addresses[i], pd->name);
          g_warning ("instance %s: GPU attach failed (%s) and its rollback too (%s); what is still "
                     "attached stays attached and claimed", pd->name, error->message,
                     pd->rollback_error->message);
          g_prefix_error (&error, "%s (it stays attached and claimed; detach it once the guest "
                          "runs, or stop the instance and detach it); ",
                          pd->rollback_error->message);
        }
      else
        {
          gvd_gpu_plug_release_claims (mgr, pd->name, pd->addresses);
          g_message ("instance %s: GPU attach rolled back: %s", pd->name, error->message);
        }
      g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  if (inst == NULL)
    {
      g_task_return_new_error (outer, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                               "instance '%s' went away during the attach", pd->name);
      return;
    }
  for (guint i = 0; i < pd->hostdevs->len; i++)
    g_ptr_array_add (inst->spec->hostdevs, g_ptr_array_steal_index (pd->hostdevs, 0)), i--;
  gvd_gpu_plug_note_prebound (mgr, pd->name, pd->prebound);
  {
    g_autofree char *list = g_strjoinv (", ", pd->addresses);
    g_message ("instance %s: attached %s (%s)", pd->name, list, pd->active ? "live and persistent"
                                                                           : "persistent");
  }
  gvd_gpu_plug_emit (mgr, "instance.gpu_attached", pd->name, pd->addresses);
  g_task_return_pointer (outer, gvd_gpu_plug_instance_json (mgr, inst), (GDestroyNotify) json_node_unref);
}

static void
ports_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  GTask *inner = G_TASK (res);
  PlugData *pd = g_task_get_task_data (inner);
  GvdInstanceManager *mgr = pd->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, pd->name);
  g_autoptr(GError) error = NULL;
  GTask *next;

  if (!g_task_propagate_boolean (inner, &error) || inst == NULL
      || (pd->hostdevs = gvd_gpu_hotplug_place (pd->plan, pd->free_ports, pd->name, &error)) == NULL)
    goto fail;
  pd->xmls = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < pd->hostdevs->len; i++)
    {
      char *xml = gvd_gpu_hotplug_hostdev_xml (g_ptr_array_index (pd->hostdevs, i), &error);
      if (xml == NULL)
        goto fail;
      g_ptr_array_add (pd->xmls, xml);
    }
  pd->metadata = gvd_gpu_plug_render_metadata (inst, pd->hostdevs, NULL, &error);
  if (pd->metadata == NULL)
    goto fail;
  next = g_task_new (NULL, NULL, attach_done, g_object_ref (outer));
  g_task_set_task_data (next, pd, NULL); /* owned by @outer */
  g_task_run_in_thread (next, attach_thread);
  g_object_unref (next);
  return;

fail:
  if (error == NULL)
    g_set_error (&error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "instance '%s' went away", pd->name);
  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  gvd_gpu_plug_release_claims (mgr, pd->name, pd->addresses);
  g_task_return_error (outer, g_steal_pointer (&error));
}


void
gvd_instance_manager_attach_gpus_async (GvdInstanceManager *mgr, const char *name,
                                        const GvdGpuAttachRequest *req,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GvdPlanRequest) preq = gvd_plan_request_new ();
  g_autoptr(GvdPlanRefusal) refusal = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) addresses = g_strv_builder_new ();
  GvdInstance *inst = gvd_gpu_plug_begin (mgr, task, name);
  PlugData *pd;
  GTask *inner;

  if (inst == NULL)
    return;
  if (req->devices != NULL)
    {
      preq->devices = gvd_instance_resolve_devices (mgr, req->devices, &error);
      if (preq->devices == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  preq->gpus = req->count;
  preq->vendor = g_strdup (req->gpu_vendor);
  preq->model = g_strdup (req->gpu_model);
  preq->allow_weakened_isolation = req->allow_weakened_isolation;
  /* The same planner, claims and quarantine as a create: whole groups,
   * host-critical devices and other holders refused. Plan and claim in one
   * main-loop turn. */
  pd = gvd_gpu_plug_data_new (mgr, inst);
  pd->plan = gvd_vfio_plan_compute (mgr->d->inventory, preq,
                                    gvd_claims_get_holders (mgr->d->claims),
                                    gvd_claims_get_quarantined (mgr->d->claims), &refusal, &error);
  if (pd->plan == NULL)
    {
      if (refusal != NULL)
        g_task_set_task_data (task, gvd_plan_refusal_to_json (refusal),
                              (GDestroyNotify) json_node_unref);
      gvd_gpu_plug_data_free (pd);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  for (guint i = 0; i < pd->plan->hostdevs->len; i++)
    {
      const GvdPlanHostdev *h = g_ptr_array_index (pd->plan->hostdevs, i);

      g_strv_builder_add (addresses, h->address);
      gvd_claims_set_holder (mgr->d->claims, h->address, name);
    }
  pd->addresses = g_strv_builder_end (addresses);
  inst->busy = g_strdup (BUSY_ATTACH);
  /* Owned by @task, shared by its two workers. */
  g_object_set_data_full (G_OBJECT (task), "plug", pd, (GDestroyNotify) gvd_gpu_plug_data_free);
  inner = g_task_new (NULL, NULL, ports_done, g_object_ref (task));
  g_task_set_task_data (inner, pd, NULL);
  g_task_run_in_thread (inner, ports_thread);
  g_object_unref (inner);
}

JsonNode *
gvd_instance_manager_attach_gpus_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                         JsonNode **out_details, GError **error)
{
  JsonNode *details = g_task_get_task_data (G_TASK (result));
  JsonNode *node = g_task_propagate_pointer (G_TASK (result), error);

  if (node == NULL && details != NULL && out_details != NULL)
    *out_details = json_node_ref (details);
  return node;
}

