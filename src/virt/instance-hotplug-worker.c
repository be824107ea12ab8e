/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hot-plug, the libvirt side (worker threads): one device attached to or
 * detached from a domain, live and in its definition when it runs, in its
 * definition when stopped, with gpuvmd's metadata entry; an attach undoes
 * its volume and metadata when libvirt refuses the device. */
#include "config.h"

#include "instance-hotplug-priv.h"

#include <string.h>

#include "device-removed-wait.h"
#include "domain-xml-device.h"
#include "domain-xml-hotplug.h"
#include "domain-xml.h"
#include "snapshot-xml.h"
#include "storage.h"
#include "virt-error.h"

void
gvd_instance_hotplug_free (GvdHotplug *h)
{
  g_clear_object (&h->virt);
  g_free (h->name);
  g_free (h->domain_name);
  g_free (h->prefix);
  g_free (h->pool);
  g_clear_pointer (&h->disk, gvd_disk_spec_free);
  g_clear_pointer (&h->nic, gvd_nic_spec_free);
  g_free (h->volume_error);
  g_free (h);
}

/* ---- worker ---------------------------------------------------------------------------------- */

static char *
xml_desc (virDomainPtr dom, unsigned int flags, GError **error)
{
  char *raw = virDomainGetXMLDesc (dom, flags);
  char *out;

  if (raw == NULL)
    {
      gvd_virt_error_set (error, "cannot read the domain");
      return NULL;
    }
  out = g_strdup (raw);
  free (raw);
  return out;
}

/* Rewrite gpuvmd's metadata with @edit applied (one device's entry added
 * or removed), live too when @flags say so. */
static gboolean
edit_metadata (virDomainPtr dom, unsigned int flags, const GvdHotplug *h, gboolean add,
               GError **error)
{
  char *raw = virDomainGetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT, GVD_DOMAIN_XML_NS,
                                    VIR_DOMAIN_AFFECT_CONFIG);
  g_autofree char *meta = NULL;
  g_autofree char *edited = NULL;

  if (raw == NULL)
    {
      gvd_virt_error_set (error, "cannot read gpuvmd's metadata of the domain");
      return FALSE;
    }
  meta = g_strdup (raw);
  free (raw);
  if (h->disk != NULL)
    edited = add ? gvd_domain_xml_metadata_add_disk (meta, h->disk, error)
                 : gvd_domain_xml_metadata_remove_disk (meta, h->disk->target, error);
  else
    edited = add ? gvd_domain_xml_metadata_add_nic (meta, h->nic, error)
                 : gvd_domain_xml_metadata_remove_nic (meta, h->nic->mac, error);
  if (edited == NULL)
    return FALSE;
  if (virDomainSetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT, edited, GVD_DOMAIN_XML_NS_PREFIX,
                            GVD_DOMAIN_XML_NS, flags) < 0)
    {
      gvd_virt_error_set (error, "libvirt did not take gpuvmd's new metadata");
      return FALSE;
    }
  return TRUE;
}

/* Snapshots pin the set of disks they were taken with (instance-snapshot.c). */
static gboolean
check_no_snapshots (const char *inactive, const char *name, GError **error)
{
  g_autoptr(GPtrArray) chain = gvd_snapshot_chain_parse (inactive, error);

  if (chain == NULL)
    return FALSE;
  if (chain->len > 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "instance '%s' has %u snapshot(s), which record its devices; delete them "
                   "before adding or removing a disk or NIC", name, chain->len);
      return FALSE;
    }
  return TRUE;
}

/* The PCIe bus a PCI device hot-plugged into the running domain @live goes
 * on: the first empty pcie-root-port (only those take hot-plugged devices
 * on q35, and QEMU cannot add one to a running machine). */
static gboolean
pick_pci_bus (const char *live, const char *name, guint *out_bus, GError **error)
{
  g_autoptr(GArray) ports = gvd_domain_xml_free_root_ports (live, error);

  if (ports == NULL)
    return FALSE;
  if (ports->len == 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "running instance '%s' has no empty PCIe root port left for a hot-plugged "
                   "device ([instances] hotplug_ports keeps spare ones from the next start "
                   "on); stop the instance to add the device to its definition", name);
      return FALSE;
    }
  *out_bus = g_array_index (ports, guint, 0);
  return TRUE;
}

/* libvirt's own answer when it finds no slot (a port taken meanwhile). */
static void
explain_no_slot (GError **error, const char *name)
{
  if (error == NULL || *error == NULL || strstr ((*error)->message, "PCI slot") == NULL)
    return;
  g_prefix_error (error, "instance '%s' has no free PCIe slot for a hot-plugged device "
                  "([instances] hotplug_ports); stop the instance to add the device to its "
                  "definition: ", name);
  (*error)->code = GVD_ERROR_CONFLICT;
}

static void
attach_disk (GvdHotplug *h, virConnectPtr conn, virDomainPtr dom, GTask *task)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) users = NULL;
  g_autoptr(GStrvBuilder) used = g_strv_builder_new ();
  g_auto(GStrv) targets = NULL;
  g_autofree char *inactive = NULL;
  g_autofree char *live = NULL;
  g_autofree char *device = NULL;
  unsigned int flags = h->live ? VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG
                               : VIR_DOMAIN_AFFECT_CONFIG;
  guint bus = 0;

  if ((inactive = xml_desc (dom, VIR_DOMAIN_XML_INACTIVE, &error)) == NULL
      || (h->live && (live = xml_desc (dom, 0, &error)) == NULL)
      || !check_no_snapshots (inactive, h->name, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* SATA (AHCI) has no hot-plug in QEMU. */
  if (h->live && h->disk->bus == GVD_DISK_BUS_SATA)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                               "'bus': SATA disks cannot be hot-plugged into running instance "
                               "'%s'; use virtio or scsi, or stop the instance first", h->name);
      return;
    }
  /* Every target the domain uses, the seed cdrom's too, live or persistent. */
  for (guint k = 0; k < (live != NULL ? 2 : 1); k++)
    {
      g_auto(GStrv) t = gvd_domain_xml_disk_targets (k == 0 ? inactive : live, NULL);

      for (gsize i = 0; t != NULL && t[i] != NULL; i++)
        g_strv_builder_add (used, t[i]);
    }
  targets = g_strv_builder_end (used);
  h->disk->target = gvd_domain_xml_pick_target (h->disk->bus, targets);
  if (h->live && h->disk->bus == GVD_DISK_BUS_VIRTIO
      && !pick_pci_bus (live, h->name, &bus, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!gvd_instance_disk_make (conn, h->prefix, h->disk, NULL, &users, made, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  device = gvd_domain_xml_disk_device (h->disk, bus, &error);
  /* The metadata first: an entry for a target without a disk is ignored by
   * recovery, a disk without its entry would look like someone else's. */
  if (device == NULL || !edit_metadata (dom, flags, h, TRUE, &error))
    {
      gvd_instance_disks_rollback (conn, h->pool, made);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (virDomainAttachDeviceFlags (dom, device, flags) < 0)
    {
      g_autoptr(GError) undo_error = NULL;
      g_autofree char *what = g_strdup_printf ("libvirt did not attach disk %s",
                                               h->disk->target);

      gvd_virt_error_set (&error, what);
      explain_no_slot (&error, h->name);
      if (!edit_metadata (dom, flags, h, FALSE, &undo_error))
        g_debug ("rollback: %s", undo_error->message);
      gvd_instance_disks_rollback (conn, h->pool, made);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
attach_nic (GvdHotplug *h, virConnectPtr conn, virDomainPtr dom, GTask *task)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *inactive = NULL;
  g_autofree char *live = NULL;
  g_autofree char *device = NULL;
  unsigned int flags = h->live ? VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG
                               : VIR_DOMAIN_AFFECT_CONFIG;
  guint bus = 0;

  if ((inactive = xml_desc (dom, VIR_DOMAIN_XML_INACTIVE, &error)) == NULL
      || (h->live && (live = xml_desc (dom, 0, &error)) == NULL)
      || !check_no_snapshots (inactive, h->name, &error)
      || (h->live && !pick_pci_bus (live, h->name, &bus, &error))
      || (device = gvd_domain_xml_nic_device (h->nic, bus, &error)) == NULL
      || !edit_metadata (dom, flags, h, TRUE, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (virDomainAttachDeviceFlags (dom, device, flags) < 0)
    {
      g_autoptr(GError) undo_error = NULL;
      g_autofree char *what = g_strdup_printf ("libvirt did not attach NIC %s", h->nic->mac);

      gvd_virt_error_set (&error, what);
      explain_no_slot (&error, h->name);
      if (!edit_metadata (dom, flags, h, FALSE, &undo_error))
        g_debug ("rollback: %s", undo_error->message);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/* Both detaches: unplug from the running domain and wait for the guest,
 * then drop the device from the definition and the metadata. Until the
 * guest has let go nothing else changes, so a refusal or a timeout loses
 * nothing. */
static void
detach (GvdHotplug *h, virConnectPtr conn, virDomainPtr dom, GTask *task)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *inactive = NULL;
  g_autofree char *device = NULL;
  gboolean is_disk = h->disk != NULL;
  const char *key = is_disk ? h->disk->target : h->nic->mac;
  g_autofree char *what = g_strdup_printf ("%s %s", is_disk ? "disk" : "NIC", key);

  if ((inactive = xml_desc (dom, VIR_DOMAIN_XML_INACTIVE, &error)) == NULL
      || !check_no_snapshots (inactive, h->name, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (h->live)
    {
      g_autofree char *live = xml_desc (dom, 0, &error);
      g_autofree char *alias = NULL;

      if (live == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      /* Not in the running domain: an earlier unplug the guest finished
       * after its request timed out. Only the definition is left. */
      if (gvd_domain_xml_find_device (live, is_disk, key, &alias, NULL))
        {
          if (alias == NULL)
            {
              g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INTERNAL,
                                       "libvirt shows %s without an alias", what);
              return;
            }
          const char *aliases[2] = { alias, NULL };

          if (!gvd_device_detach_live_and_wait (conn, dom, aliases, h->timeout, &error))
            {
              /* Say what it means for this device, and what to do. */
              if (g_error_matches (error, GVD_ERROR, GVD_ERROR_TIMEOUT))
                {
                  g_clear_error (&error);
                  g_set_error (&error, GVD_ERROR, GVD_ERROR_TIMEOUT,
                               "the guest did not release %s within %u s ([instances] "
                               "device_timeout): its OS must support PCIe hot-unplug and be "
                               "running. The device is still attached and recorded; the unplug "
                               "request stays pending in the guest. Retry later, or stop the "
                               "instance and detach it then", what, h->timeout);
                }
              g_task_return_error (task, g_steal_pointer (&error));
              return;
            }
          g_clear_pointer (&device, g_free);
        }
    }
  if (gvd_domain_xml_find_device (inactive, is_disk, key, NULL, NULL))
    {
      device = is_disk ? gvd_domain_xml_disk_device (h->disk, 0, &error)
                       : gvd_domain_xml_nic_device (h->nic, 0, &error);
      if (device == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if (virDomainDetachDeviceFlags (dom, device, VIR_DOMAIN_AFFECT_CONFIG) < 0)
        {
          g_autofree char *msg = g_strdup_printf ("libvirt did not remove %s from the domain's "
                                                  "definition", what);
          gvd_virt_error_set (&error, msg);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  /* The device is gone: a stale entry would only be ignored (recovery
   * matches entries to devices), so a failure here is logged, not fatal. */
  if (!edit_metadata (dom, h->live ? VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG
                                   : VIR_DOMAIN_AFFECT_CONFIG, h, FALSE, &error))
    {
      g_warning ("instance %s: %s detached, but its metadata entry stays: %s", h->name, what,
                 error->message);
      g_clear_error (&error);
    }
  if (h->delete_volume
      && !gvd_storage_delete_volume (conn, h->pool, h->disk->volume, &error))
    h->volume_error = g_strdup (error->message);
  g_task_return_boolean (task, TRUE);
}

void
gvd_instance_hotplug_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GvdHotplug *h = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (h->virt, &error);
  g_autoptr(virDomain) dom = NULL;
  int active;

  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  dom = virDomainLookupByName (conn, h->domain_name);
  if (dom == NULL)
    {
      g_autofree char *what = g_strdup_printf ("instance '%s'", h->name);
      gvd_virt_error_set (&error, what);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  active = virDomainIsActive (dom);
  if (active < 0)
    {
      gvd_virt_error_set (&error, "cannot read the domain's state");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  h->live = active == 1;
  switch (h->op)
    {
    case GVD_HOTPLUG_ATTACH_DISK:
      attach_disk (h, conn, dom, task);
      break;
    case GVD_HOTPLUG_ATTACH_NIC:
      attach_nic (h, conn, dom, task);
      break;
    case GVD_HOTPLUG_DETACH_DISK:
    case GVD_HOTPLUG_DETACH_NIC:
    default:
      detach (h, conn, dom, task);
      break;
    }
}

