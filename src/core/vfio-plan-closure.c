/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner's closure of a selection: the groups, slot-mates and peers
 * passing some devices drags along, every reason that cannot be done, and
 * explicit device requests (pure). */
#include "config.h"

#include "vfio-plan-priv.h"
#include "pci-address.h"

#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

gboolean
gvd_plan_is_gpu (const GvdPciDevice *dev)
{
  return (dev->class_code >> 16) == 0x03 && !dev->is_bridge;
}

/* "GA102 [GeForce RTX 3090] (NVIDIA Corporation)" or the ids. */
static char *
describe (const GvdPciDevice *dev)
{
  if (dev->device_name != NULL && dev->vendor_name != NULL)
    return g_strdup_printf ("%s %s", dev->vendor_name, dev->device_name);
  if (dev->class_name != NULL)
    return g_strdup_printf ("%s [%04x:%04x]", dev->class_name, dev->vendor_id, dev->device_id);
  return g_strdup_printf ("device [%04x:%04x]", dev->vendor_id, dev->device_id);
}

static gboolean
same_slot (const GvdPciDevice *a, const GvdPciDevice *b)
{
  return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot;
}

/* Bridges of every kind (host, ISA/LPC, PCI, other: class 0x06xx) stay
 * with the host: they are skipped, never passed to a guest. */
static gboolean
stays_with_host (const GvdPciDevice *dev)
{
  return dev->is_bridge || (dev->class_code >> 16) == 0x06;
}

/* The drivers that serve a GPU's own audio, USB and USB-C functions: a
 * companion bound to one of them goes with its GPU. A companion bound to
 * anything else is in use by the host, as a group peer would be. */
static gboolean
driver_serves_gpu_function (const char *driver)
{
  static const char *const drivers[] = { "snd_hda_intel", "xhci_hcd", "xhci_pci",
                                         "nvidia-gpu", "ucsi_ccg", NULL };

  return driver != NULL && g_strv_contains (drivers, driver);
}

/* Drivers that mean "the host is not using it": VFIO may take it as is. */
static gboolean
driver_is_passive (const char *driver)
{
  return driver == NULL || g_str_equal (driver, "vfio-pci") || g_str_equal (driver, "pci-stub");
}

/* The PCIe switch a device sits under: the bridge right below its root
 * port, when there is one (parents are nearest first). NULL: none. */
const char *
gvd_plan_switch_of (const GvdPciDevice *dev)
{
  if (dev->parents->len < 2)
    return NULL;
  return g_ptr_array_index (dev->parents, dev->parents->len - 2);
}

static const char *
holder_of (GHashTable *claims, const char *address)
{
  return claims != NULL ? g_hash_table_lookup (claims, address) : NULL;
}

static void
insert_sorted_uint (GArray *a, guint v)
{
  guint i = 0;

  while (i < a->len && g_array_index (a, guint, i) < v)
    i++;
  if (i < a->len && g_array_index (a, guint, i) == v)
    return;
  g_array_insert_val (a, i, v);
}

void
gvd_plan_insert_sorted_int (GArray *a, int v)
{
  guint i = 0;

  while (i < a->len && g_array_index (a, int, i) < v)
    i++;
  if (i < a->len && g_array_index (a, int, i) == v)
    return;
  g_array_insert_val (a, i, v);
}

int
gvd_plan_compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* ---- the closure of a selection --------------------------------------------- */

void
gvd_plan_closure_clear (GvdPlanClosure *c)
{
  g_clear_pointer (&c->roles, g_hash_table_unref);
  g_clear_pointer (&c->pass, g_ptr_array_unref);
  g_clear_pointer (&c->bridges, g_ptr_array_unref);
  g_clear_pointer (&c->groups, g_array_unref);
}


int
gvd_plan_compare_devices (gconstpointer a, gconstpointer b)
{
  const GvdPciDevice *da = *(const GvdPciDevice *const *) a;
  const GvdPciDevice *db = *(const GvdPciDevice *const *) b;

  return strcmp (da->address, db->address);
}

void
gvd_plan_closure_build (GvdPlanClosure *c, const GvdInventory *inv, GPtrArray *requested,
                        gboolean include_companions)
{
  g_autoptr(GPtrArray) queue = g_ptr_array_new (); /* const GvdPciDevice * to expand */

  c->roles = g_hash_table_new (g_str_hash, g_str_equal);
  c->pass = g_ptr_array_new ();
  c->bridges = g_ptr_array_new ();
  c->groups = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < requested->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (requested, i);

      if (g_hash_table_contains (c->roles, dev->address))
        continue;
      g_hash_table_insert (c->roles, dev->address, GINT_TO_POINTER (GVD_PLAN_ROLE_REQUESTED + 1));
      g_ptr_array_add (queue, (gpointer) dev);
    }
  /* Companions (same slot) of requested devices: in the same group they
   * come along anyway; in another group only when the policy says so. */
  for (guint i = 0; i < requested->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (requested, i);

      for (guint k = 0; k < dev->companions->len; k++)
        {
          const GvdPciDevice *comp = gvd_inventory_lookup (inv, g_ptr_array_index (dev->companions, k));

          if (comp == NULL || stays_with_host (comp)
              || g_hash_table_contains (c->roles, comp->address))
            continue;
          /* A VF's slot-mates are other VFs, not companions. */
          if (dev->physfn != NULL || comp->physfn != NULL)
            continue;
          if (!include_companions && comp->iommu_group != dev->iommu_group)
            continue;
          g_hash_table_insert (c->roles, comp->address,
                               GINT_TO_POINTER (GVD_PLAN_ROLE_COMPANION + 1));
          g_ptr_array_add (queue, (gpointer) comp);
        }
    }
  for (guint i = 0; i < queue->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (queue, i);
      const GvdIommuGroup *group = gvd_inventory_get_group (inv, dev->iommu_group);

      if (!stays_with_host (dev))
        g_ptr_array_add (c->pass, (gpointer) dev);
      if (group == NULL)
        continue;
      {
        guint before = c->groups->len;
        insert_sorted_uint (c->groups, group->number);
        if (c->groups->len == before)
          continue; /* group already expanded */
      }
      for (guint k = 0; k < group->devices->len; k++)
        {
          const GvdPciDevice *m = gvd_inventory_lookup (inv, g_ptr_array_index (group->devices, k));

          if (m == NULL || g_hash_table_contains (c->roles, m->address))
            continue;
          if (stays_with_host (m))
            {
              g_hash_table_insert (c->roles, m->address, GINT_TO_POINTER (-1));
              g_ptr_array_add (c->bridges, (gpointer) m);
              continue;
            }
          g_hash_table_insert (c->roles, m->address, GINT_TO_POINTER (GVD_PLAN_ROLE_GROUP_PEER + 1));
          g_ptr_array_add (queue, (gpointer) m);
        }
    }
  g_ptr_array_sort (c->pass, gvd_plan_compare_devices);
  g_ptr_array_sort (c->bridges, gvd_plan_compare_devices);
}

GvdPlanRole
gvd_plan_closure_role (const GvdPlanClosure *c, const char *address)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (c->roles, address)) - 1;
}

/* The first requested device in @group (the one reasons are about). */
static const char *
closure_requested_in_group (const GvdPlanClosure *c, GPtrArray *requested, int group)
{
  for (guint i = 0; i < requested->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (requested, i);
      if (dev->iommu_group == group)
        return dev->address;
    }
  return requested->len > 0 ? ((const GvdPciDevice *) g_ptr_array_index (requested, 0))->address
                            : NULL;
}

/* Every reason the closure cannot be passed. Returns how many it added. */
guint
gvd_plan_closure_check (const GvdPlanClosure *c, const GvdInventory *inv, GPtrArray *requested,
                        GHashTable *claims, GHashTable *quarantined, gboolean allow_weakened,
                        GvdPlanRefusal *refusal)
{
  guint before = refusal->reasons->len;

  for (guint i = 0; i < c->groups->len; i++)
    {
      guint number = g_array_index (c->groups, guint, i);
      const GvdIommuGroup *group = gvd_inventory_get_group (inv, number);
      const char *who = closure_requested_in_group (c, requested, number);

      if (group != NULL && group->weakened && !allow_weakened)
        gvd_plan_add_reason (refusal, GVD_ERROR_WEAKENED_ISOLATION, who, NULL, NULL, NULL,
                             "IOMMU group %u of %s exists only because the kernel runs with "
                             "pcie_acs_override: the hardware may not isolate it, so a guest could "
                             "reach other devices' memory. Set allow_weakened_isolation to accept "
                             "that risk, or remove the override",
                             number, who);
    }
  for (guint i = 0; i < c->pass->len; i++)
    {
      const GvdPciDevice *m = g_ptr_array_index (c->pass, i);
      GvdPlanRole role = gvd_plan_closure_role (c, m->address);
      const char *holder = holder_of (claims, m->address);
      const char *quarantine = holder_of (quarantined, m->address);
      const char *who = role == GVD_PLAN_ROLE_REQUESTED
                          ? m->address
                          : closure_requested_in_group (c, requested, m->iommu_group);
      g_autofree char *what = describe (m);

      if (holder != NULL)
        gvd_plan_add_reason (refusal, GVD_ERROR_DEVICE_IN_USE, m->address, NULL, NULL, holder,
                             role == GVD_PLAN_ROLE_REQUESTED
                               ? "%s (%s) is in use by '%s'"
                               : "%s (%s) must go with the request but is in use by '%s'",
                             m->address, what, holder);
      if (quarantine != NULL)
        gvd_plan_add_reason (refusal, GVD_ERROR_DEVICE_QUARANTINED, m->address, NULL, NULL, NULL,
                             "%s (%s) is quarantined (%s): clear it with POST /v1/devices/%s/clear "
                             "once it is healthy",
                             m->address, what, quarantine, m->address);
      if (m->host_critical != NULL)
        {
          if (role == GVD_PLAN_ROLE_REQUESTED)
            gvd_plan_add_reason (refusal, GVD_ERROR_HOST_CRITICAL, m->address, NULL, NULL, NULL,
                                 "%s (%s) is host-critical: %s; the host cannot give it away",
                                 m->address, what, m->host_critical);
          else
            gvd_plan_add_reason (refusal, GVD_ERROR_HOST_CRITICAL, who, m->address, m->driver, NULL,
                                 "%s would take %s (%s) along through IOMMU group %d, and that "
                                 "device is host-critical: %s",
                                 who, m->address, what, m->iommu_group, m->host_critical);
        }
      if (role == GVD_PLAN_ROLE_COMPANION && !driver_is_passive (m->driver)
          && !driver_serves_gpu_function (m->driver))
        gvd_plan_add_reason (refusal, GVD_ERROR_GROUP_CONFLICT, who, m->address, m->driver, NULL,
                             "%s would take %s (%s, driver %s) along from its slot, and the "
                             "host is using it. Unbind it from %s first, or plan with "
                             "include_companions false if it has its own IOMMU group",
                             who, m->address, what, m->driver, m->driver);
      if (role == GVD_PLAN_ROLE_GROUP_PEER && !driver_is_passive (m->driver))
        gvd_plan_add_reason (refusal, GVD_ERROR_GROUP_CONFLICT, who, m->address, m->driver, NULL,
                             "%s shares IOMMU group %d with %s (%s, driver %s), which the host "
                             "is using: VFIO gives a guest whole groups. Move the card to a "
                             "slot with its own group, or ask for %s too if the host can spare "
                             "it",
                             who, m->iommu_group, m->address, what, m->driver, m->address);
    }
  /* A PCI bridge bound to pcieport does not stop VFIO; any other bridge
   * (an ISA/LPC bridge) bound to a host driver makes its group unusable. */
  for (guint i = 0; i < c->bridges->len; i++)
    {
      const GvdPciDevice *b = g_ptr_array_index (c->bridges, i);
      const char *who = closure_requested_in_group (c, requested, b->iommu_group);
      g_autofree char *what = describe (b);

      if (b->is_bridge || driver_is_passive (b->driver))
        continue;
      gvd_plan_add_reason (refusal, GVD_ERROR_GROUP_CONFLICT, who, b->address, b->driver, NULL,
                           "%s shares IOMMU group %d with %s (%s, driver %s), a bridge the host is "
                           "using: VFIO gives a guest whole groups, and bridges stay with the host",
                           who, b->iommu_group, b->address, what, b->driver);
    }
  return refusal->reasons->len - before;
}

/* ---- explicit requests -------------------------------------------------------- */

GPtrArray *
gvd_plan_resolve_explicit (const GvdInventory *inv, char **devices, GvdPlanRefusal *refusal)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new ();
  g_autoptr(GPtrArray) selected = g_ptr_array_new ();

  for (guint i = 0; devices[i] != NULL; i++)
    {
      g_autofree char *canon = gvd_pci_address_canonical (devices[i]);
      const GvdPciDevice *dev;

      if (canon == NULL
          || (dev = gvd_inventory_lookup (inv, canon)) == NULL)
        {
          gvd_plan_add_reason (refusal, GVD_ERROR_DEVICE_NOT_FOUND, devices[i], NULL, NULL, NULL,
                               "there is no PCI device %s on this host", devices[i]);
          continue;
        }
      if (g_ptr_array_find (found, dev, NULL))
        continue;
      g_ptr_array_add (found, (gpointer) dev);
    }
  /* A device that is not a candidate itself may still ride along with a
   * candidate on its slot (a GPU's audio function asked for explicitly). */
  for (guint i = 0; i < found->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (found, i);
      gboolean ok = dev->passthrough_candidate && !stays_with_host (dev);

      for (guint k = 0; !ok && !stays_with_host (dev) && k < found->len; k++)
        {
          const GvdPciDevice *o = g_ptr_array_index (found, k);
          ok = o != dev && o->passthrough_candidate && same_slot (o, dev);
        }
      if (!ok)
        {
          g_autofree char *what = describe (dev);
          if (stays_with_host (dev))
            gvd_plan_add_reason (refusal, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, dev->address, NULL,
                                 NULL, NULL,
                                 "%s (%s, class %06x) is a bridge: bridges stay with the host",
                                 dev->address, what, dev->class_code);
          else
            gvd_plan_add_reason (refusal, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, dev->address, NULL,
                                 NULL, NULL,
                                 "%s (%s, class %06x) is not a GPU: add it to [host] "
                                 "passthrough_devices to offer it for passthrough",
                                 dev->address, what, dev->class_code);
        }
      g_ptr_array_add (selected, (gpointer) dev);
    }
  g_ptr_array_sort (selected, gvd_plan_compare_devices);
  return g_steal_pointer (&selected);
}
