/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An instance's NICs from a create request: which bridges and networks a
 * request may name, a lease (MAC, and an address on the [network] cidr) per
 * NIC, and the SR-IOV VFs planned like any passed-through device. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"
#include "device-ref.h"

#include <string.h>

#include "vfio-plan.h"

/* A tenant attaching a VM to an arbitrary host bridge could reach networks
 * the operator keeps apart: only [network] source and [network]
 * allowed_sources may be named. */
gboolean
gvd_instance_nic_source_allowed (const GvdConfig *c, const char *field, GvdNetworkMode mode,
                      const char *source, GError **error)
{
  if (mode != GVD_NETWORK_BRIDGE && mode != GVD_NETWORK_NETWORK)
    return TRUE;
  if (g_strcmp0 (source, c->network_source) == 0
      || (c->network_allowed_sources != NULL
          && g_strv_contains ((const char *const *) c->network_allowed_sources, source)))
    return TRUE;
  g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
               "'%s': %s '%s' is not offered to instances (the operator lists them in [network] "
               "source and allowed_sources)", field,
               mode == GVD_NETWORK_BRIDGE ? "bridge" : "libvirt network", source);
  return FALSE;
}

/* The one NIC of a request without "networks" (as gpuvmd always made it). */
static gboolean
build_single_nic (GvdInstanceManager *mgr, const GvdCreateRequest *req, GvdInstanceSpec *s,
                  const char *reserved_mac, const char *reserved_ip, GError **error)
{
  const GvdConfig *c = mgr->d->config;
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
  g_autofree char *mac = NULL;
  g_autofree char *ip = NULL;

  nic->mode = req->network_set ? req->network_mode : c->network_mode;
  nic->source = g_strdup (req->network_set ? req->network_source : c->network_source);
  if (req->network_set
      && !gvd_instance_nic_source_allowed (c, "network.source", nic->mode, nic->source, error))
    return FALSE;
  if (reserved_mac != NULL)
    {
      /* The reservation's lease moves to the instance. */
      if (!gvd_ipam_reserve (mgr->ipam, s->name, reserved_mac, reserved_ip, error))
        return FALSE;
      mac = g_strdup (reserved_mac);
      ip = g_strdup (reserved_ip);
    }
  else if (req->ipv4 != NULL)
    {
      const char *with_prefix = NULL;

      mac = gvd_ipam_derive_mac (s->uuid, 0);
      if (!gvd_ipam_has_ipv4 (mgr->ipam))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "'network.ipv4' needs [network] cidr in the daemon's configuration");
          return FALSE;
        }
      if (!gvd_ipam_reserve (mgr->ipam, s->name, mac, req->ipv4, error))
        return FALSE;
      gvd_ipam_lookup (mgr->ipam, s->name, NULL, &with_prefix);
      ip = g_strdup (with_prefix);
    }
  else if (!gvd_ipam_allocate (mgr->ipam, s->name, s->uuid, &mac, &ip, error))
    return FALSE;
  nic->mac = g_steal_pointer (&mac);
  nic->ipv4 = g_steal_pointer (&ip);
  if (nic->ipv4 != NULL)
    {
      nic->gateway = g_strdup (c->network_gateway);
      nic->dns = g_strdupv (c->network_dns);
    }
  g_ptr_array_add (s->nics, g_steal_pointer (&nic));
  return TRUE;
}

/* A NIC on the network [network] cidr belongs to gets its address from
 * gpuvmd; the others use DHCP (or the fabric's own addressing). */
gboolean
gvd_instance_nic_on_cidr (const GvdConfig *c, const GvdNicSpec *want)
{
  return c->network_cidr != NULL && want->mode == c->network_mode
         && (want->mode == GVD_NETWORK_BRIDGE || want->mode == GVD_NETWORK_NETWORK)
         && g_strcmp0 (want->source, c->network_source) == 0;
}

gboolean
gvd_instance_build_nics (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                         GvdInstanceSpec *s, const char *reserved_mac, const char *reserved_ip,
                         GError **error)
{
  const GvdConfig *c = mgr->d->config;

  if (req->networks == NULL)
    return build_single_nic (mgr, req, s, reserved_mac, reserved_ip, error);

  for (guint i = 0; i < req->networks->len; i++)
    {
      const GvdNicSpec *want = g_ptr_array_index (req->networks, i);
      g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
      g_autofree char *owner = gvd_ipam_nic_owner (s->name, i);
      g_autofree char *field = g_strdup_printf ("networks[%u].source", i);
      gboolean want_ip = gvd_instance_nic_on_cidr (c, want);

      nic->mode = want->mode;
      nic->source = g_strdup (want->source);
      nic->device = g_strdup (want->device);
      if (!gvd_instance_nic_source_allowed (c, field, nic->mode, nic->source, error))
        return FALSE;
      if (want->ipv4 != NULL && !want_ip)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "'networks[%u].ipv4' needs the NIC on %s %s, the network of [network] "
                       "cidr", i, gvd_network_mode_to_string (c->network_mode),
                       c->network_cidr != NULL ? c->network_source : "(none configured)");
          return FALSE;
        }
      if (i == 0 && reserved_mac != NULL)
        {
          /* The reservation's lease moves to the first NIC. */
          if (want->mac != NULL || want->ipv4 != NULL)
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "'networks[0]': the reservation already holds the first NIC's MAC "
                           "and address; drop 'mac' and 'ipv4'");
              return FALSE;
            }
          /* Its address is on the cidr network: on another NIC it would
           * configure a guest interface with an address of the wrong net. */
          if (reserved_ip != NULL && !want_ip)
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "'networks[0]': the reservation's address %s is on %s %s; make "
                           "that NIC the first", reserved_ip,
                           gvd_network_mode_to_string (c->network_mode), c->network_source);
              return FALSE;
            }
          if (!gvd_ipam_reserve (mgr->ipam, owner, reserved_mac, reserved_ip, error))
            return FALSE;
          nic->mac = g_strdup (reserved_mac);
          nic->ipv4 = g_strdup (reserved_ip);
        }
      else if (!gvd_ipam_allocate_nic (mgr->ipam, owner, s->uuid, want->mac, want->ipv4, want_ip,
                                       &nic->mac, &nic->ipv4, error))
        {
          g_prefix_error (error, "'networks[%u]': ", i);
          return FALSE;
        }
      if (nic->ipv4 != NULL)
        {
          nic->gateway = g_strdup (c->network_gateway);
          nic->dns = g_strdupv (c->network_dns);
        }
      g_ptr_array_add (s->nics, g_steal_pointer (&nic));
    }
  return TRUE;
}

static gboolean
plan_has (const GvdPlan *plan, const char *address)
{
  for (guint i = 0; plan != NULL && i < plan->hostdevs->len; i++)
    if (g_str_equal (((GvdPlanHostdev *) g_ptr_array_index (plan->hostdevs, i))->address,
                     address))
      return TRUE;
  return FALSE;
}

/* Resolve one sriov NIC's device into a VF address the request may have. */
static char *
resolve_vf (GvdInstanceManager *mgr, const char *field, const char *ref, GError **error)
{
  g_autofree char *address = gvd_device_ref_resolve (mgr->d->registry, field, ref, error);
  const GvdPciDevice *dev;

  if (address == NULL)
    return NULL;
  dev = gvd_inventory_lookup (mgr->d->inventory, address);
  if (dev == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND,
                   "'%s': there is no PCI device %s on this host", field, address);
      return NULL;
    }
  /* Only what the operator offers: a VF carries traffic onto the PF's
   * fabric, so it is listed in [host] passthrough_devices like any non-GPU. */
  if (!dev->passthrough_candidate)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE,
                   "'%s': %s is not offered for passthrough: the operator lists VFs in [host] "
                   "passthrough_devices", field, address);
      return NULL;
    }
  if (dev->physfn == NULL || (dev->class_code >> 16) != 0x02)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s': %s (class %06x) is not an SR-IOV virtual function of a network "
                   "controller; pass other devices in 'devices'", field, address,
                   dev->class_code);
      return NULL;
    }
  return g_steal_pointer (&address);
}

gboolean
gvd_instance_plan_vfs (GvdInstanceManager *mgr, GvdCreateRequest *req, const GvdPlan *plan,
                       JsonNode **out_details, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) vfs = NULL;
  g_autoptr(GHashTable) claims = NULL;
  g_autoptr(GvdPlanRequest) preq = NULL;
  g_autoptr(GvdPlanRefusal) refusal = NULL;
  g_autoptr(GvdPlan) vf_plan = NULL;
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; req->networks != NULL && i < req->networks->len; i++)
    {
      GvdNicSpec *nic = g_ptr_array_index (req->networks, i);
      g_autofree char *field = g_strdup_printf ("networks[%u].device", i);
      char *address;

      if (nic->mode != GVD_NETWORK_SRIOV)
        continue;
      address = resolve_vf (mgr, field, nic->device, error);
      if (address == NULL)
        return FALSE;
      g_free (nic->device);
      nic->device = address;
      if (plan_has (plan, address))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "'%s': %s is already one of the instance's devices", field, address);
          return FALSE;
        }
      for (guint k = 0; k < i; k++)
        if (g_strcmp0 (((GvdNicSpec *) g_ptr_array_index (req->networks, k))->device, address) == 0)
          {
            g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                         "'%s': %s is already networks[%u]", field, address, k);
            return FALSE;
          }
      g_strv_builder_add (b, address);
    }
  vfs = g_strv_builder_end (b);
  if (vfs[0] == NULL)
    return TRUE;

  /* The VFs are planned on their own (a plan is either addresses or "gpus:
   * N"), with the GPU plan's devices counted as taken so that the two plans
   * never share a device. The same group rules, claims and quarantine apply. */
  claims = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_iter_init (&iter, gvd_claims_get_holders (mgr->d->claims));
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (claims, key, value);
  for (guint i = 0; plan != NULL && i < plan->hostdevs->len; i++)
    g_hash_table_insert (claims, ((GvdPlanHostdev *) g_ptr_array_index (plan->hostdevs, i))->address,
                         req->name);
  preq = gvd_plan_request_new ();
  preq->devices = g_strdupv (vfs);
  preq->include_companions = FALSE;
  preq->allow_weakened_isolation = req->allow_weakened_isolation;
  vf_plan = gvd_vfio_plan_compute (mgr->d->inventory, preq, claims,
                                   gvd_claims_get_quarantined (mgr->d->claims), &refusal, error);
  if (vf_plan == NULL)
    {
      if (refusal != NULL && out_details != NULL)
        *out_details = gvd_plan_refusal_to_json (refusal);
      g_prefix_error (error, "'networks': ");
      return FALSE;
    }
  /* A VF is rendered as an <interface>; a group peer that would have to go
   * along has no NIC to be. */
  for (guint i = 0; i < vf_plan->hostdevs->len; i++)
    {
      const GvdPlanHostdev *h = g_ptr_array_index (vf_plan->hostdevs, i);

      if (!g_strv_contains ((const char *const *) vfs, h->address))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_GROUP_CONFLICT,
                       "'networks': the VF's IOMMU group %d also holds %s, which would have to "
                       "be passed through with it; use a VF alone in its group", h->iommu_group,
                       h->address);
          return FALSE;
        }
    }
  return TRUE;
}
