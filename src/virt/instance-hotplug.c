/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Day-2 devices: data disks and NICs attached to and detached from an
 * existing instance. A running domain changes live and in its persistent
 * definition (LIVE|CONFIG), a stopped one in its definition only (CONFIG);
 * gpuvmd's metadata follows so that recovery and delete know. Each attach
 * undoes what it made when it fails (volume, lease); a detach from a
 * running domain waits for the guest to release the device
 * (device-detach.c). */
#include "config.h"

#include "instance-hotplug-priv.h"

#include "domain-xml-forward.h"
#include "domain-xml.h"
#include "events.h"
#include "instance-request-disks.h"

static const char *const busy_names[] = {
  [GVD_HOTPLUG_ATTACH_DISK] = "attaching a disk",
  [GVD_HOTPLUG_DETACH_DISK] = "detaching a disk",
  [GVD_HOTPLUG_ATTACH_NIC] = "attaching a NIC",
  [GVD_HOTPLUG_DETACH_NIC] = "detaching a NIC",
};

/* ---- main thread ----------------------------------------------------------------------------- */

static void
emit (GvdInstanceManager *mgr, const char *type, const GvdHotplug *h)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, h->name);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, h->disk != NULL ? "disk" : "nic");
  json_builder_set_member_name (b, h->disk != NULL ? "target" : "mac");
  json_builder_add_string_value (b, h->disk != NULL ? h->disk->target : h->nic->mac);
  json_builder_set_member_name (b, "live");
  json_builder_add_boolean_value (b, h->live);
  json_builder_end_object (b);
  gvd_events_emit (mgr->d->events, type, json_builder_get_root (b));
}

static guint
find_disk (const GvdInstanceSpec *spec, const char *target)
{
  for (guint i = 1; i < spec->disks->len; i++)
    if (g_strcmp0 (((GvdDiskSpec *) g_ptr_array_index (spec->disks, i))->target, target) == 0)
      return i;
  return 0;
}

static gint
find_nic (const GvdInstanceSpec *spec, const char *mac)
{
  for (guint i = 0; i < spec->nics->len; i++)
    if (g_ascii_strcasecmp (((GvdNicSpec *) g_ptr_array_index (spec->nics, i))->mac, mac) == 0)
      return (gint) i;
  return -1;
}

/* The lease key index of @name's NIC with @mac, or -1. */
static gint
lease_index (GvdInstanceManager *mgr, const char *name, const char *mac)
{
  for (guint k = 0; k < GVD_IPAM_MAX_NICS; k++)
    {
      g_autofree char *owner = gvd_ipam_nic_owner (name, k);
      const char *m = NULL;

      if (gvd_ipam_lookup (mgr->ipam, owner, &m, NULL) && g_ascii_strcasecmp (m, mac) == 0)
        return (gint) k;
    }
  return -1;
}

static void
hotplug_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  GvdHotplug *h = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = h->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, h->name);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;

  gvd_instance_note_change (mgr);
  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      /* What the main thread took for the attach goes back. */
      if (h->op == GVD_HOTPLUG_ATTACH_NIC)
        gvd_ipam_release_nic (mgr->ipam, h->name, h->nic_index);
      g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  if (inst == NULL)
    {
      g_task_return_new_error (outer, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                               "instance '%s' went away meanwhile", h->name);
      return;
    }
  switch (h->op)
    {
    case GVD_HOTPLUG_ATTACH_DISK:
      g_ptr_array_add (inst->spec->disks, gvd_instance_disk_copy (h->disk));
      inst->spec->iothreads = MAX (inst->spec->iothreads, h->disk->iothread);
      g_message ("instance %s: disk %s (%s) attached%s", h->name, h->disk->target, h->disk->name,
                 h->live ? " live" : "");
      emit (mgr, "instance.device_attached", h);
      break;
    case GVD_HOTPLUG_ATTACH_NIC:
      g_message ("instance %s: NIC %s attached%s", h->name, h->nic->mac, h->live ? " live" : "");
      emit (mgr, "instance.device_attached", h);
      g_ptr_array_add (inst->spec->nics, g_steal_pointer (&h->nic));
      break;
    case GVD_HOTPLUG_DETACH_DISK:
      {
        guint i = find_disk (inst->spec, h->disk->target);

        if (i > 0)
          g_ptr_array_remove_index (inst->spec->disks, i);
        if (h->volume_error != NULL)
          g_warning ("instance %s: disk %s detached, but its volume %s stays: %s", h->name,
                     h->disk->target, h->disk->volume, h->volume_error);
        g_message ("instance %s: disk %s (%s) detached%s", h->name, h->disk->target,
                   h->disk->name, h->delete_volume && h->volume_error == NULL
                                    ? ", its volume deleted" : "");
        emit (mgr, "instance.device_detached", h);
      }
      break;
    case GVD_HOTPLUG_DETACH_NIC:
    default:
      {
        gint i = find_nic (inst->spec, h->nic->mac);
        gint k = lease_index (mgr, h->name, h->nic->mac);

        if (i >= 0)
          g_ptr_array_remove_index (inst->spec->nics, (guint) i);
        if (k >= 0)
          gvd_ipam_release_nic (mgr->ipam, h->name, (guint) k);
        g_message ("instance %s: NIC %s detached", h->name, h->nic->mac);
        emit (mgr, "instance.device_detached", h);
      }
      break;
    }
  b = json_builder_new ();
  gvd_instance_write_json (mgr, inst, b);
  g_task_return_pointer (outer, json_builder_get_root (b), (GDestroyNotify) json_node_unref);
}

/* The instance, when an operation may start on it now. */
static GvdInstance *
lookup_idle (GvdInstanceManager *mgr, const char *name, GError **error)
{
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);

  if (inst == NULL)
    g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no instance named '%s'", name);
  else if (inst->busy != NULL)
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                 "instance '%s' is busy (%s); retry when it is done", name, inst->busy);
  return inst != NULL && inst->busy == NULL ? inst : NULL;
}

static void
run (GvdInstanceManager *mgr, GvdInstance *inst, GvdHotplug *h, GTask *outer)
{
  GTask *inner;

  h->mgr = mgr;
  h->virt = g_object_ref (mgr->d->virt);
  h->name = g_strdup (inst->spec->name);
  h->domain_name = g_strdup (inst->spec->domain_name);
  h->prefix = g_strdup (mgr->d->config->domain_prefix);
  h->pool = g_strdup (mgr->d->config->pool_name);
  h->timeout = mgr->d->config->device_timeout;
  inst->busy = g_strdup (busy_names[h->op]);
  inner = g_task_new (NULL, NULL, hotplug_done, g_object_ref (outer));
  g_task_set_task_data (inner, h, (GDestroyNotify) gvd_instance_hotplug_free);
  g_task_run_in_thread (inner, gvd_instance_hotplug_thread);
  g_object_unref (inner);
}

/* Whether @spec with @disk or @nic added is still a domain gpuvmd renders
 * (the create's checks: counts, names, every field). */
static gboolean
validate_with (GvdInstanceSpec *spec, GvdDiskSpec *disk, GvdNicSpec *nic, GError **error)
{
  GPtrArray *array = disk != NULL ? spec->disks : spec->nics;
  gboolean ok;

  g_ptr_array_add (array, disk != NULL ? (gpointer) disk : (gpointer) nic);
  ok = gvd_domain_xml_validate (spec, error);
  g_ptr_array_steal_index (array, array->len - 1);
  return ok;
}

void
gvd_instance_manager_attach_disk_async (GvdInstanceManager *mgr, const char *name,
                                        GvdDiskSpec *disk, GAsyncReadyCallback callback,
                                        gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GvdDiskSpec) d = disk;
  g_autoptr(GError) error = NULL;
  const GvdConfig *c = mgr->d->config;
  GvdInstance *inst = lookup_idle (mgr, name, &error);
  GvdHotplug *h;

  if (inst == NULL || !gvd_disk_request_check_policy (d, NULL, c, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (inst->spec->disks->len >= GVD_DOMAIN_XML_MAX_DISKS)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_CONFLICT,
                               "instance '%s' has %u disks, the most a domain may have", name,
                               inst->spec->disks->len);
      return;
    }
  for (guint i = 1; i < inst->spec->disks->len; i++)
    {
      const GvdDiskSpec *o = g_ptr_array_index (inst->spec->disks, i);

      if (g_strcmp0 (o->name, d->name) == 0)
        {
          g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                                   "'name': instance '%s' already has a disk named '%s' (%s)",
                                   name, d->name, o->target);
          return;
        }
      if (d->boot_order > 0 && o->boot_order == d->boot_order)
        {
          g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                                   "'boot_order': disk '%s' already has %u", o->name,
                                   d->boot_order);
          return;
        }
    }
  /* An iothread the domain does not have cannot be added to it here. */
  if (d->iothread > inst->spec->iothreads)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                               "'iothread': instance '%s' has %u iothread(s)", name,
                               inst->spec->iothreads);
      return;
    }
  if (d->type == GVD_DISK_VOLUME)
    {
      d->pool = g_strdup (c->pool_name);
      if (d->created)
        d->volume = gvd_disk_volume_name (inst->spec->domain_name, d->name, d->keep, d->format);
      else if (!gvd_instance_disk_check_existing (mgr, "volume", d, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  if (!validate_with (inst->spec, d, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  h = g_new0 (GvdHotplug, 1);
  h->op = GVD_HOTPLUG_ATTACH_DISK;
  h->disk = g_steal_pointer (&d);
  run (mgr, inst, h, task);
}

void
gvd_instance_manager_detach_disk_async (GvdInstanceManager *mgr, const char *name,
                                        const char *target, gboolean keep,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GError) error = NULL;
  GvdInstance *inst = lookup_idle (mgr, name, &error);
  g_autofree char *own = NULL;
  const GvdDiskSpec *d;
  GvdHotplug *h;
  guint i;

  if (inst == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  i = find_disk (inst->spec, target);
  if (i == 0)
    {
      const GvdDiskSpec *root = g_ptr_array_index (inst->spec->disks, 0);

      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                               g_strcmp0 (root->target, target) == 0
                                 ? "'%s' is instance '%s''s root disk, which stays"
                                 : "instance '%s' has no data disk at target '%s'",
                               g_strcmp0 (root->target, target) == 0 ? target : name,
                               g_strcmp0 (root->target, target) == 0 ? name : target);
      return;
    }
  d = g_ptr_array_index (inst->spec->disks, i);
  h = g_new0 (GvdHotplug, 1);
  h->op = GVD_HOTPLUG_DETACH_DISK;
  h->disk = gvd_instance_disk_copy (d);
  /* As the instance's delete would (gvd_instance_disks_to_delete): only a
   * volume this instance made, not kept, and named as its own. */
  own = g_strconcat (inst->spec->domain_name, "-disk-", NULL);
  h->delete_volume = !keep && d->type == GVD_DISK_VOLUME && d->created && !d->keep
                     && d->volume != NULL && g_str_has_prefix (d->volume, own);
  run (mgr, inst, h, task);
}

void
gvd_instance_manager_attach_nic_async (GvdInstanceManager *mgr, const char *name,
                                       GvdNicSpec *nic, GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GvdNicSpec) want = nic;
  g_autoptr(GvdNicSpec) n = gvd_nic_spec_new ();
  g_autoptr(GError) error = NULL;
  const GvdConfig *c = mgr->d->config;
  GvdInstance *inst = lookup_idle (mgr, name, &error);
  g_autofree char *owner = NULL;
  gboolean want_ip;
  gint k = -1;
  GvdHotplug *h;

  if (inst == NULL
      || !gvd_instance_nic_source_allowed (c, "source", want->mode, want->source, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (want->mode == GVD_NETWORK_SRIOV)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                               "'mode': sriov NICs are not hot-plugged yet; give them at create");
      return;
    }
  if (inst->spec->nics->len >= GVD_DOMAIN_XML_MAX_NICS)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_CONFLICT,
                               "instance '%s' has %u NICs, the most a domain may have", name,
                               inst->spec->nics->len);
      return;
    }
  want_ip = gvd_instance_nic_on_cidr (c, want);
  if (want->ipv4 != NULL && !want_ip)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                               "'ipv4' needs the NIC on %s %s, the network of [network] cidr",
                               gvd_network_mode_to_string (c->network_mode),
                               c->network_cidr != NULL ? c->network_source : "(none configured)");
      return;
    }
  /* The first lease key the instance does not use (a detach frees one). */
  for (guint i = 0; i < GVD_IPAM_MAX_NICS && k < 0; i++)
    {
      g_autofree char *o = gvd_ipam_nic_owner (name, i);

      if (!gvd_ipam_lookup (mgr->ipam, o, NULL, NULL))
        k = (gint) i;
    }
  if (k < 0)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_CONFLICT,
                               "instance '%s' holds %d leases, the most it may", name,
                               GVD_IPAM_MAX_NICS);
      return;
    }
  owner = gvd_ipam_nic_owner (name, (guint) k);
  n->mode = want->mode;
  n->source = g_strdup (want->source);
  if (!gvd_ipam_allocate_nic (mgr->ipam, owner, inst->spec->uuid, want->mac, want->ipv4, want_ip,
                              &n->mac, &n->ipv4, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (n->ipv4 != NULL)
    {
      n->gateway = g_strdup (c->network_gateway);
      n->dns = g_strdupv (c->network_dns);
    }
  if (!validate_with (inst->spec, NULL, n, &error))
    {
      gvd_ipam_release_nic (mgr->ipam, name, (guint) k);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  h = g_new0 (GvdHotplug, 1);
  h->op = GVD_HOTPLUG_ATTACH_NIC;
  h->nic = g_steal_pointer (&n);
  h->nic_index = (guint) k;
  run (mgr, inst, h, task);
}

void
gvd_instance_manager_detach_nic_async (GvdInstanceManager *mgr, const char *name,
                                       const char *mac, GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GError) error = NULL;
  GvdInstance *inst = lookup_idle (mgr, name, &error);
  const GvdNicSpec *n;
  GvdHotplug *h;
  gint i;

  if (inst == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  i = find_nic (inst->spec, mac);
  if (i < 0)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                               "instance '%s' has no NIC with MAC %s", name, mac);
      return;
    }
  n = g_ptr_array_index (inst->spec->nics, i);
  if (gvd_domain_xml_nic_forwards (n))
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_CONFLICT,
                               "NIC %s carries the instance's forwarded ports (part of QEMU's "
                               "command line); it stays", n->mac);
      return;
    }
  if (n->mode == GVD_NETWORK_SRIOV)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_CONFLICT,
                               "NIC %s is an SR-IOV VF; VFs are not hot-unplugged yet", n->mac);
      return;
    }
  h = g_new0 (GvdHotplug, 1);
  h->op = GVD_HOTPLUG_DETACH_NIC;
  h->nic = gvd_nic_spec_new ();
  h->nic->mode = n->mode;
  h->nic->source = g_strdup (n->source);
  h->nic->mac = g_strdup (n->mac);
  run (mgr, inst, h, task);
}

JsonNode *
gvd_instance_manager_hotplug_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                     GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
