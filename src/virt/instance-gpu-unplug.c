/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU hot-unplug: take the IOMMU group holding an address out of an
 * instance, waiting for libvirt to say the devices are gone before their
 * claims are released. */
#include "config.h"

#include "instance-gpu-priv.h"

#include "device-removed-wait.h"
#include "fault-point.h"
#include "gpu-hotplug.h"
#include "inventory.h"
#include "pci-address.h"

/* ---- detach ------------------------------------------------------------------ */

/* Worker: a running domain lets go of the group first (live, waiting for
 * libvirt's device-removed events: only then are the devices off vfio-pci
 * and back on their host driver); then the devices leave the persistent
 * definition and the metadata. A guest that does not release them in
 * time leaves everything as it was. */
static void
detach_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PlugData *pd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = NULL;
  g_autoptr(virDomain) dom = gvd_gpu_plug_open_domain (pd, &conn, &error);

  if (dom == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  pd->active = virDomainIsActive (dom) == 1;
  if (pd->active)
    {
      g_autofree char *live = virDomainGetXMLDesc (dom, 0);
      g_autoptr(GPtrArray) aliases = g_ptr_array_new_with_free_func (g_free);

      for (gsize i = 0; live != NULL && pd->addresses[i] != NULL; i++)
        {
          char *alias = gvd_gpu_hotplug_alias_of (live, pd->addresses[i]);
          if (alias == NULL)
            continue; /* not in the live domain (attached while it was off) */
          g_ptr_array_add (aliases, alias);
        }
      g_ptr_array_add (aliases, NULL);
      if (live == NULL)
        {
          gvd_virt_error_set (&error, "cannot read the running domain's definition");
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if (!gvd_device_detach_live_and_wait (conn, dom, (const char *const *) aliases->pdata,
                                            pd->timeout, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  gvd_fault_point ("gpu-detached-live");
  /* Out of QEMU: the functions gpuvmd bound go back to their host drivers. */
  if (pd->active && pd->prebound != NULL && pd->prebound[0] != NULL)
    gvd_gpu_plug_rebind (conn, pd->prebound);
  for (guint i = 0; i < pd->xmls->len; i++)
    if (virDomainDetachDeviceFlags (dom, g_ptr_array_index (pd->xmls, i),
                                    VIR_DOMAIN_AFFECT_CONFIG) < 0
        && virGetLastErrorCode () != VIR_ERR_DEVICE_MISSING)
      {
        g_autofree char *what = g_strdup_printf ("libvirt could not remove %s from the definition",
                                                 pd->addresses[i]);
        gvd_virt_error_set (&error, what);
        g_task_return_error (task, g_steal_pointer (&error));
        return;
      }
  if (!gvd_gpu_plug_set_metadata (dom, pd->metadata, pd->active, &error))
    g_warning ("instance %s: GPUs detached, but %s", pd->name, error->message);
  g_task_return_boolean (task, TRUE);
}

static void
detach_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  PlugData *pd = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = pd->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, pd->name);
  g_autoptr(GError) error = NULL;
  g_autofree char *list = g_strjoinv (", ", pd->addresses);

  gvd_instance_note_change (mgr);
  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      /* The claims stay: libvirt has not said the devices are gone. */
      gvd_gpu_plug_note_prebound (mgr, pd->name, pd->prebound);
      g_message ("instance %s: detach of %s failed, devices and claims kept: %s", pd->name, list,
                 error->message);
      g_prefix_error (&error, "instance '%s': %s stay%s attached and claimed: ", pd->name, list,
                      g_strv_length (pd->addresses) == 1 ? "s" : "");
      g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  gvd_gpu_plug_release_claims (mgr, pd->name, pd->addresses);
  if (inst != NULL)
    for (guint i = inst->spec->hostdevs->len; i-- > 0;)
      {
        GvdHostdevSpec *h = g_ptr_array_index (inst->spec->hostdevs, i);
        if (h->mdev_uuid == NULL && h->host_address != NULL
            && g_strv_contains ((const char *const *) pd->addresses, h->host_address))
          g_ptr_array_remove_index (inst->spec->hostdevs, i);
      }
  g_message ("instance %s: detached %s", pd->name, list);
  gvd_gpu_plug_emit (mgr, "instance.gpu_detached", pd->name, pd->addresses);
  if (inst == NULL)
    {
      g_task_return_new_error (outer, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                               "instance '%s' went away during the detach", pd->name);
      return;
    }
  g_task_return_pointer (outer, gvd_gpu_plug_instance_json (mgr, inst), (GDestroyNotify) json_node_unref);
}

void
gvd_instance_manager_detach_gpu_async (GvdInstanceManager *mgr, const char *name,
                                       const char *address, GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) group = g_strv_builder_new ();
  g_autofree char *canonical = gvd_pci_address_normalize ("address", address, &error);
  GvdInstance *inst;
  const GvdPciDevice *dev;
  gboolean found = FALSE;
  PlugData *pd;
  GTask *inner;

  if (canonical == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if ((inst = gvd_gpu_plug_begin (mgr, task, name)) == NULL)
    return;
  for (guint i = 0; i < inst->spec->hostdevs->len && !found; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (inst->spec->hostdevs, i);
      found = h->mdev_uuid == NULL && g_strcmp0 (h->host_address, canonical) == 0;
    }
  if (!found)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND,
                               "'address': instance '%s' has no device %s", name, canonical);
      return;
    }
  /* The whole IOMMU group goes, as it came. */
  dev = gvd_inventory_lookup (mgr->d->inventory, canonical);
  for (guint i = 0; i < inst->spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (inst->spec->hostdevs, i);
      const GvdPciDevice *other;

      if (h->mdev_uuid != NULL || h->host_address == NULL)
        continue;
      other = gvd_inventory_lookup (mgr->d->inventory, h->host_address);
      if (g_str_equal (h->host_address, canonical)
          || (dev != NULL && other != NULL && dev->iommu_group >= 0
              && other->iommu_group == dev->iommu_group))
        g_strv_builder_add (group, h->host_address);
    }
  pd = gvd_gpu_plug_data_new (mgr, inst);
  pd->detach = TRUE;
  pd->addresses = g_strv_builder_end (group);
  pd->xmls = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; pd->addresses[i] != NULL; i++)
    {
      char *xml = gvd_gpu_hotplug_detach_xml (pd->addresses[i], &error);
      if (xml == NULL)
        break;
      g_ptr_array_add (pd->xmls, xml);
    }
  if (error == NULL)
    pd->metadata = gvd_gpu_plug_render_metadata (inst, NULL, pd->addresses, &error);
  if (error != NULL)
    {
      gvd_gpu_plug_data_free (pd);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  inst->busy = g_strdup ("gpu-detach");
  /* Taken now, put back if the detach fails. */
  pd->prebound = gvd_gpu_plug_take_prebound (mgr, name, pd->addresses);
  g_object_set_data_full (G_OBJECT (task), "plug", pd, (GDestroyNotify) gvd_gpu_plug_data_free);
  inner = g_task_new (NULL, NULL, detach_done, g_object_ref (task));
  g_task_set_task_data (inner, pd, NULL);
  g_task_run_in_thread (inner, detach_thread);
  g_object_unref (inner);
}

JsonNode *
gvd_instance_manager_detach_gpu_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                        GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
