/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VFIO/IOMMU group planner: which host devices a VM must get so that
 * every IOMMU group it touches is viable, or every reason it cannot. Pure. */
#include "config.h"

#include "vfio-plan.h"
#include "json-util.h"
#include "pci-address.h"

#include <string.h>

/* ---- objects ----------------------------------------------------------------- */

GvdPlanRequest *
gvd_plan_request_new (void)
{
  GvdPlanRequest *r = g_new0 (GvdPlanRequest, 1);

  r->include_companions = TRUE;
  return r;
}

void
gvd_plan_request_free (GvdPlanRequest *r)
{
  if (r == NULL)
    return;
  g_strfreev (r->devices);
  g_free (r->vendor);
  g_free (r->model);
  g_free (r);
}

static void
plan_hostdev_free (GvdPlanHostdev *h)
{
  if (h == NULL)
    return;
  g_free (h->address);
  g_free (h->driver);
  g_free (h);
}

GvdPlan *
gvd_plan_new (void)
{
  GvdPlan *plan = g_new0 (GvdPlan, 1);

  plan->hostdevs = g_ptr_array_new_with_free_func ((GDestroyNotify) plan_hostdev_free);
  plan->gpus = g_ptr_array_new_with_free_func (g_free);
  plan->bridges_skipped = g_ptr_array_new_with_free_func (g_free);
  plan->groups = g_array_new (FALSE, FALSE, sizeof (guint));
  plan->numa_nodes = g_array_new (FALSE, FALSE, sizeof (int));
  return plan;
}

void
gvd_plan_free (GvdPlan *plan)
{
  if (plan == NULL)
    return;
  g_ptr_array_unref (plan->hostdevs);
  g_ptr_array_unref (plan->gpus);
  g_ptr_array_unref (plan->bridges_skipped);
  g_array_unref (plan->groups);
  g_array_unref (plan->numa_nodes);
  g_free (plan);
}

static void
reason_free (GvdPlanReason *r)
{
  if (r == NULL)
    return;
  g_free (r->message);
  g_free (r->device);
  g_free (r->peer);
  g_free (r->peer_driver);
  g_free (r->holder);
  g_free (r);
}

GvdPlanRefusal *
gvd_plan_refusal_new (void)
{
  GvdPlanRefusal *refusal = g_new0 (GvdPlanRefusal, 1);

  refusal->reasons = g_ptr_array_new_with_free_func ((GDestroyNotify) reason_free);
  return refusal;
}

void
gvd_plan_refusal_free (GvdPlanRefusal *refusal)
{
  if (refusal == NULL)
    return;
  g_ptr_array_unref (refusal->reasons);
  g_free (refusal);
}

const char *
gvd_plan_role_to_string (GvdPlanRole role)
{
  switch (role)
    {
    case GVD_PLAN_ROLE_REQUESTED:
      return "requested";
    case GVD_PLAN_ROLE_COMPANION:
      return "companion";
    case GVD_PLAN_ROLE_GROUP_PEER:
      return "group_peer";
    }
  return "unknown";
}

static void G_GNUC_PRINTF (7, 8)
add_reason (GvdPlanRefusal *refusal, GvdErrorCode code, const char *device, const char *peer,
            const char *peer_driver, const char *holder, const char *format, ...)
{
  GvdPlanReason *r = g_new0 (GvdPlanReason, 1);
  va_list ap;

  r->code = code;
  va_start (ap, format);
  r->message = g_strdup_vprintf (format, ap);
  va_end (ap);
  r->device = g_strdup (device);
  r->peer = g_strdup (peer);
  r->peer_driver = g_strdup (peer_driver);
  r->holder = g_strdup (holder);
  g_ptr_array_add (refusal->reasons, r);
}

/* ---- helpers ------------------------------------------------------------------ */

static gboolean
is_gpu (const GvdPciDevice *dev)
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
static const char *
switch_of (const GvdPciDevice *dev)
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

static void
insert_sorted_int (GArray *a, int v)
{
  guint i = 0;

  while (i < a->len && g_array_index (a, int, i) < v)
    i++;
  if (i < a->len && g_array_index (a, int, i) == v)
    return;
  g_array_insert_val (a, i, v);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* ---- the closure of a selection --------------------------------------------- */

/* What passing @requested implies: the touched groups, the devices to pass
 * with their roles, the bridges skipped. Requested devices are canonical
 * addresses present in the inventory. */
typedef struct {
  GHashTable *roles;    /* address → GINT_TO_POINTER (role + 1) */
  GPtrArray *pass;      /* const GvdPciDevice *, sorted by address */
  GPtrArray *bridges;   /* const GvdPciDevice * */
  GArray *groups;       /* guint, sorted */
} Closure;

static void
closure_clear (Closure *c)
{
  g_clear_pointer (&c->roles, g_hash_table_unref);
  g_clear_pointer (&c->pass, g_ptr_array_unref);
  g_clear_pointer (&c->bridges, g_ptr_array_unref);
  g_clear_pointer (&c->groups, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Closure, closure_clear)

static int
compare_devices (gconstpointer a, gconstpointer b)
{
  const GvdPciDevice *da = *(const GvdPciDevice *const *) a;
  const GvdPciDevice *db = *(const GvdPciDevice *const *) b;

  return strcmp (da->address, db->address);
}

static void
closure_build (Closure *c, const GvdInventory *inv, GPtrArray *requested,
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
  g_ptr_array_sort (c->pass, compare_devices);
  g_ptr_array_sort (c->bridges, compare_devices);
}

static GvdPlanRole
closure_role (const Closure *c, const char *address)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (c->roles, address)) - 1;
}

/* The first requested device in @group (the one reasons are about). */
static const char *
closure_requested_in_group (const Closure *c, GPtrArray *requested, int group)
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
static guint
closure_check (const Closure *c, const GvdInventory *inv, GPtrArray *requested,
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
        add_reason (refusal, GVD_ERROR_WEAKENED_ISOLATION, who, NULL, NULL, NULL,
                    "IOMMU group %u of %s exists only because the kernel runs with "
                    "pcie_acs_override: the hardware may not isolate it, so a guest could "
                    "reach other devices' memory. Set allow_weakened_isolation to accept "
                    "that risk, or remove the override",
                    number, who);
    }
  for (guint i = 0; i < c->pass->len; i++)
    {
      const GvdPciDevice *m = g_ptr_array_index (c->pass, i);
      GvdPlanRole role = closure_role (c, m->address);
      const char *holder = holder_of (claims, m->address);
      const char *quarantine = holder_of (quarantined, m->address);
      const char *who = role == GVD_PLAN_ROLE_REQUESTED
                          ? m->address
                          : closure_requested_in_group (c, requested, m->iommu_group);
      g_autofree char *what = describe (m);

      if (holder != NULL)
        add_reason (refusal, GVD_ERROR_DEVICE_IN_USE, m->address, NULL, NULL, holder,
                    role == GVD_PLAN_ROLE_REQUESTED
                      ? "%s (%s) is in use by '%s'"
                      : "%s (%s) must go with the request but is in use by '%s'",
                    m->address, what, holder);
      if (quarantine != NULL)
        add_reason (refusal, GVD_ERROR_DEVICE_QUARANTINED, m->address, NULL, NULL, NULL,
                    "%s (%s) is quarantined (%s): clear it with POST /v1/devices/%s/clear "
                    "once it is healthy",
                    m->address, what, quarantine, m->address);
      if (m->host_critical != NULL)
        {
          if (role == GVD_PLAN_ROLE_REQUESTED)
            add_reason (refusal, GVD_ERROR_HOST_CRITICAL, m->address, NULL, NULL, NULL,
                        "%s (%s) is host-critical: %s; the host cannot give it away",
                        m->address, what, m->host_critical);
          else
            add_reason (refusal, GVD_ERROR_HOST_CRITICAL, who, m->address, m->driver, NULL,
                        "%s would take %s (%s) along through IOMMU group %d, and that "
                        "device is host-critical: %s",
                        who, m->address, what, m->iommu_group, m->host_critical);
        }
      if (role == GVD_PLAN_ROLE_COMPANION && !driver_is_passive (m->driver)
          && !driver_serves_gpu_function (m->driver))
        add_reason (refusal, GVD_ERROR_GROUP_CONFLICT, who, m->address, m->driver, NULL,
                    "%s would take %s (%s, driver %s) along from its slot, and the host is "
                    "using it. Unbind it from %s first, or plan with include_companions "
                    "false if it has its own IOMMU group",
                    who, m->address, what, m->driver, m->driver);
      if (role == GVD_PLAN_ROLE_GROUP_PEER && !driver_is_passive (m->driver))
        add_reason (refusal, GVD_ERROR_GROUP_CONFLICT, who, m->address, m->driver, NULL,
                    "%s shares IOMMU group %d with %s (%s, driver %s), which the host is "
                    "using: VFIO gives a guest whole groups. Move the card to a slot with its "
                    "own group, or ask for %s too if the host can spare it",
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
      add_reason (refusal, GVD_ERROR_GROUP_CONFLICT, who, b->address, b->driver, NULL,
                  "%s shares IOMMU group %d with %s (%s, driver %s), a bridge the host is "
                  "using: VFIO gives a guest whole groups, and bridges stay with the host",
                  who, b->iommu_group, b->address, what, b->driver);
    }
  return refusal->reasons->len - before;
}

/* ---- explicit requests -------------------------------------------------------- */

static GPtrArray *
resolve_explicit (const GvdInventory *inv, char **devices, GvdPlanRefusal *refusal)
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
          add_reason (refusal, GVD_ERROR_DEVICE_NOT_FOUND, devices[i], NULL, NULL, NULL,
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
            add_reason (refusal, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, dev->address, NULL, NULL, NULL,
                        "%s (%s, class %06x) is a bridge: bridges stay with the host",
                        dev->address, what, dev->class_code);
          else
            add_reason (refusal, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, dev->address, NULL, NULL, NULL,
                        "%s (%s, class %06x) is not a GPU: add it to [host] "
                        "passthrough_devices to offer it for passthrough",
                        dev->address, what, dev->class_code);
        }
      g_ptr_array_add (selected, (gpointer) dev);
    }
  g_ptr_array_sort (selected, compare_devices);
  return g_steal_pointer (&selected);
}

/* ---- "N GPUs" ------------------------------------------------------------------- */

typedef struct {
  GPtrArray *gpus;      /* const GvdPciDevice *, sorted */
  guint collateral;     /* unbound peers that would go along */
  int numa_node;
  const char *switch_key; /* switch of the first GPU, or its own address */
  guint switch_avail;   /* GPUs under that switch in the current scope */
} Unit;

static void
unit_free (Unit *u)
{
  g_ptr_array_unref (u->gpus);
  g_free (u);
}

static gboolean
matches_filter (const GvdPciDevice *dev, const char *vendor_lc, const char *model_lc)
{
  if (vendor_lc != NULL)
    {
      g_autofree char *id = g_strdup_printf ("%04x", dev->vendor_id);
      g_autofree char *name = g_ascii_strdown (dev->vendor_name != NULL ? dev->vendor_name : "", -1);
      if (!g_str_equal (id, vendor_lc) && strstr (name, vendor_lc) == NULL)
        return FALSE;
    }
  if (model_lc != NULL)
    {
      g_autofree char *id = g_strdup_printf ("%04x", dev->device_id);
      g_autofree char *name = g_ascii_strdown (dev->device_name != NULL ? dev->device_name : "", -1);
      if (!g_str_equal (id, model_lc) && strstr (name, model_lc) == NULL)
        return FALSE;
    }
  return TRUE;
}

typedef struct {
  GPtrArray *units;     /* Unit * (borrowed) */
  guint collateral;
  guint n_numa;
  guint n_switches;
  GPtrArray *addresses; /* const char *, sorted */
} Choice;

static void
choice_free (Choice *c)
{
  if (c == NULL)
    return;
  g_ptr_array_unref (c->units);
  g_ptr_array_unref (c->addresses);
  g_free (c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Choice, choice_free)

static int
choice_compare (const Choice *a, const Choice *b)
{
  if (a->collateral != b->collateral)
    return a->collateral < b->collateral ? -1 : 1;
  if (a->n_numa != b->n_numa)
    return a->n_numa < b->n_numa ? -1 : 1;
  if (a->n_switches != b->n_switches)
    return a->n_switches < b->n_switches ? -1 : 1;
  for (guint i = 0; i < a->addresses->len && i < b->addresses->len; i++)
    {
      int r = strcmp (g_ptr_array_index (a->addresses, i), g_ptr_array_index (b->addresses, i));
      if (r != 0)
        return r;
    }
  return 0;
}

/* Greedy fill in @order up to exactly @n GPUs; NULL when it cannot. */
static Choice *
fill (GPtrArray *order, guint n)
{
  g_autoptr(Choice) c = g_new0 (Choice, 1);
  g_autoptr(GArray) nodes = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GPtrArray) switches = g_ptr_array_new ();
  guint total = 0;

  c->units = g_ptr_array_new ();
  c->addresses = g_ptr_array_new ();
  for (guint i = 0; i < order->len && total < n; i++)
    {
      Unit *u = g_ptr_array_index (order, i);

      if (total + u->gpus->len > n)
        continue;
      g_ptr_array_add (c->units, u);
      total += u->gpus->len;
      c->collateral += u->collateral;
      insert_sorted_int (nodes, u->numa_node);
      for (guint k = 0; k < u->gpus->len; k++)
        {
          const GvdPciDevice *g = g_ptr_array_index (u->gpus, k);
          const char *sw = switch_of (g) != NULL ? switch_of (g) : g->address;

          g_ptr_array_add (c->addresses, g->address);
          if (!g_ptr_array_find_with_equal_func (switches, sw, g_str_equal, NULL))
            g_ptr_array_add (switches, (gpointer) sw);
        }
    }
  if (total != n)
    return NULL;
  c->n_numa = nodes->len;
  c->n_switches = switches->len;
  g_ptr_array_sort (c->addresses, compare_strings);
  return g_steal_pointer (&c);
}

static int
unit_compare (gconstpointer pa, gconstpointer pb, gpointer data)
{
  const Unit *a = *(Unit *const *) pa;
  const Unit *b = *(Unit *const *) pb;
  const char *anchor = data;
  int r;

  if (anchor != NULL)
    {
      gboolean ia = g_str_equal (a->switch_key, anchor);
      gboolean ib = g_str_equal (b->switch_key, anchor);
      if (ia != ib)
        return ia ? -1 : 1;
    }
  if (a->collateral != b->collateral)
    return a->collateral < b->collateral ? -1 : 1;
  if (a->switch_avail != b->switch_avail)
    return a->switch_avail > b->switch_avail ? -1 : 1;
  if ((r = strcmp (a->switch_key, b->switch_key)) != 0)
    return r;
  return strcmp (((const GvdPciDevice *) g_ptr_array_index (a->gpus, 0))->address,
                 ((const GvdPciDevice *) g_ptr_array_index (b->gpus, 0))->address);
}

/* Try each scope (one NUMA node at a time, then all) and, in each, each
 * switch as the one to fill first; keep the cheapest exact fill. */
static Choice *
choose_units (GPtrArray *units, guint n)
{
  g_autoptr(GArray) nodes = g_array_new (FALSE, FALSE, sizeof (int));
  Choice *best = NULL;

  for (guint i = 0; i < units->len; i++)
    insert_sorted_int (nodes, ((Unit *) g_ptr_array_index (units, i))->numa_node);

  for (guint s = 0; s <= nodes->len; s++)
    {
      gboolean all = s == nodes->len;
      g_autoptr(GPtrArray) scope = g_ptr_array_new ();
      g_autoptr(GHashTable) avail = g_hash_table_new (g_str_hash, g_str_equal);
      g_autoptr(GPtrArray) anchors = g_ptr_array_new ();

      if (all && nodes->len == 1)
        break; /* same as the single node */
      for (guint i = 0; i < units->len; i++)
        {
          Unit *u = g_ptr_array_index (units, i);
          if (all || u->numa_node == g_array_index (nodes, int, s))
            {
              guint a = GPOINTER_TO_UINT (g_hash_table_lookup (avail, u->switch_key));
              g_ptr_array_add (scope, u);
              if (a == 0)
                g_ptr_array_add (anchors, (gpointer) u->switch_key);
              g_hash_table_insert (avail, (gpointer) u->switch_key,
                                   GUINT_TO_POINTER (a + u->gpus->len));
            }
        }
      for (guint i = 0; i < scope->len; i++)
        {
          Unit *u = g_ptr_array_index (scope, i);
          u->switch_avail = GPOINTER_TO_UINT (g_hash_table_lookup (avail, u->switch_key));
        }
      for (guint a = 0; a <= anchors->len; a++)
        {
          const char *anchor = a < anchors->len ? g_ptr_array_index (anchors, a) : NULL;
          Choice *c;

          g_ptr_array_sort_with_data (scope, unit_compare, (gpointer) anchor);
          c = fill (scope, n);
          if (c == NULL)
            continue;
          if (best == NULL || choice_compare (c, best) < 0)
            {
              choice_free (best);
              best = c;
            }
          else
            choice_free (c);
        }
    }
  return best;
}

static GPtrArray *
pick_gpus (const GvdInventory *inv, const GvdPlanRequest *req, GHashTable *claims,
           GHashTable *quarantined, GvdPlanRefusal *refusal)
{
  g_autofree char *vendor_lc = req->vendor != NULL ? g_ascii_strdown (req->vendor, -1) : NULL;
  g_autofree char *model_lc = req->model != NULL ? g_ascii_strdown (req->model, -1) : NULL;
  g_autoptr(GPtrArray) units = g_ptr_array_new_with_free_func ((GDestroyNotify) unit_free);
  g_autoptr(GvdPlanRefusal) why = gvd_plan_refusal_new ();
  g_autoptr(GHashTable) seen_groups = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autoptr(Choice) choice = NULL;
  GPtrArray *picked;
  guint n_matching = 0, n_usable = 0;

  for (guint i = 0; i < inv->devices->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (inv->devices, i);
      g_autoptr(GPtrArray) unit_gpus = NULL;
      const GvdIommuGroup *group;
      Unit *u;

      if (!is_gpu (dev) || !dev->passthrough_candidate
          || !matches_filter (dev, vendor_lc, model_lc))
        continue;
      /* vGPU slices are asked for by address, not counted as whole GPUs. */
      if (dev->physfn != NULL)
        continue;
      n_matching++;
      if (dev->sriov_numvfs > 0)
        {
          add_reason (why, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, dev->address, NULL, NULL, NULL,
                      "%s has %u SR-IOV VFs enabled: ask for a VF by address instead",
                      dev->address, dev->sriov_numvfs);
          continue;
        }
      group = gvd_inventory_get_group (inv, dev->iommu_group);
      if (group == NULL || g_hash_table_contains (seen_groups, GUINT_TO_POINTER (group->number)))
        continue;
      g_hash_table_add (seen_groups, GUINT_TO_POINTER (group->number));

      /* The unit is the group: every matching whole GPU in it goes. */
      unit_gpus = g_ptr_array_new ();
      for (guint k = 0; k < group->devices->len; k++)
        {
          const GvdPciDevice *m = gvd_inventory_lookup (inv, g_ptr_array_index (group->devices, k));
          if (m != NULL && is_gpu (m) && m->passthrough_candidate && m->physfn == NULL
              && m->sriov_numvfs == 0 && matches_filter (m, vendor_lc, model_lc))
            g_ptr_array_add (unit_gpus, (gpointer) m);
        }
      {
        g_auto(Closure) c = { 0 };
        guint collateral = 0;

        closure_build (&c, inv, unit_gpus, req->include_companions);
        if (closure_check (&c, inv, unit_gpus, claims, quarantined,
                           req->allow_weakened_isolation, why) > 0)
          continue;
        for (guint k = 0; k < c.pass->len; k++)
          if (closure_role (&c, ((const GvdPciDevice *) g_ptr_array_index (c.pass, k))->address)
              == GVD_PLAN_ROLE_GROUP_PEER)
            collateral++;
        u = g_new0 (Unit, 1);
        u->gpus = g_steal_pointer (&unit_gpus);
        u->collateral = collateral;
        u->numa_node = dev->numa_node;
        u->switch_key = switch_of (dev) != NULL ? switch_of (dev) : dev->address;
        n_usable += u->gpus->len;
        g_ptr_array_add (units, u);
      }
    }

  if (n_usable >= req->gpus)
    choice = choose_units (units, req->gpus);
  if (choice == NULL)
    {
      g_autoptr(GString) filter = g_string_new (NULL);

      if (req->vendor != NULL)
        g_string_append_printf (filter, " of vendor '%s'", req->vendor);
      if (req->model != NULL)
        g_string_append_printf (filter, "%s model '%s'", req->vendor != NULL ? " and" : "",
                                req->model);
      add_reason (refusal, GVD_ERROR_INSUFFICIENT_GPUS, NULL, NULL, NULL, NULL,
                  "asked for %u GPU%s%s: the host has %u such GPU%s, %u of them free to give "
                  "%s",
                  req->gpus, req->gpus == 1 ? "" : "s", filter->str,
                  n_matching, n_matching == 1 ? "" : "s", n_usable,
                  n_usable >= req->gpus
                    ? "but no set of whole IOMMU groups adds up to exactly that many"
                    : "(the other reasons say why the rest cannot go)");
      for (guint i = 0; i < why->reasons->len; i++)
        g_ptr_array_add (refusal->reasons, g_steal_pointer (&why->reasons->pdata[i]));
      g_ptr_array_set_size (why->reasons, 0);
      return NULL;
    }

  picked = g_ptr_array_new ();
  for (guint i = 0; i < choice->units->len; i++)
    {
      Unit *u = g_ptr_array_index (choice->units, i);
      for (guint k = 0; k < u->gpus->len; k++)
        g_ptr_array_add (picked, g_ptr_array_index (u->gpus, k));
    }
  g_ptr_array_sort (picked, compare_devices);
  return picked;
}

/* ---- the plan ---------------------------------------------------------------- */

static guint64
round_up_pow2 (guint64 v)
{
  guint64 p = 1;

  if (v == 0)
    return 0;
  while (p < v && p < (G_GUINT64_CONSTANT (1) << 62))
    p <<= 1;
  return p;
}

static GvdPlan *
build_plan (const GvdInventory *inv, const Closure *c, GPtrArray *requested)
{
  g_autoptr(GvdPlan) plan = gvd_plan_new ();
  g_autoptr(GHashTable) cliques = g_hash_table_new (g_str_hash, g_str_equal); /* switch → id+1 */
  g_autoptr(GHashTable) per_switch = g_hash_table_new (g_str_hash, g_str_equal);
  guint64 mmio = 0;
  guint n_gpus = 0;

  for (guint i = 0; i < requested->len; i++)
    {
      const GvdPciDevice *d = g_ptr_array_index (requested, i);
      if (is_gpu (d))
        {
          const char *sw = switch_of (d);
          g_ptr_array_add (plan->gpus, g_strdup (d->address));
          n_gpus++;
          if (sw != NULL)
            g_hash_table_insert (per_switch, (gpointer) sw,
                                 GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (per_switch, sw)) + 1));
        }
    }
  /* P2P cliques: requested GPUs sharing a switch, numbered in address order. */
  for (guint i = 0; n_gpus > 1 && i < requested->len; i++)
    {
      const GvdPciDevice *d = g_ptr_array_index (requested, i);
      const char *sw = is_gpu (d) ? switch_of (d) : NULL;

      if (sw == NULL || GPOINTER_TO_UINT (g_hash_table_lookup (per_switch, sw)) < 2
          || g_hash_table_contains (cliques, sw))
        continue;
      g_hash_table_insert (cliques, (gpointer) sw, GUINT_TO_POINTER (++plan->n_cliques));
    }

  /* Guest layout: one guest device group per host slot (a GPU with its
   * audio/USB functions stays one multifunction device); each VF alone.
   * c->pass is sorted by address, so a slot's functions are neighbours. */
  {
    g_autofree char *prev_key = NULL;
    GvdPlanHostdev *first_in_group = NULL;
    guint bus = 0, fn = 0;

    for (guint i = 0; i < c->pass->len; i++)
      {
        const GvdPciDevice *d = g_ptr_array_index (c->pass, i);
        GvdPlanHostdev *h = g_new0 (GvdPlanHostdev, 1);
        const char *sw = switch_of (d);
        char *key = d->physfn != NULL ? g_strdup (d->address)
                                      : g_strndup (d->address, strlen (d->address) - 1);

        if (prev_key != NULL && g_str_equal (prev_key, key))
          fn++;
        else
          {
            if (prev_key != NULL)
              bus++;
            fn = 0;
          }
        g_free (prev_key);
        prev_key = key;
        h->address = g_strdup (d->address);
        h->role = closure_role (c, d->address);
        h->iommu_group = d->iommu_group;
        h->driver = g_strdup (d->driver);
        h->gpu = is_gpu (d);
        h->guest_bus = bus;
        h->guest_function = fn;
        h->clique = -1;
        if (h->gpu && h->role == GVD_PLAN_ROLE_REQUESTED && sw != NULL
            && g_hash_table_contains (cliques, sw))
          h->clique = (int) GPOINTER_TO_UINT (g_hash_table_lookup (cliques, sw)) - 1;
        if (fn == 0)
          first_in_group = h;
        else
          first_in_group->multifunction = TRUE;
        mmio += d->mmio64_bytes;
        if (d->numa_node >= 0)
          insert_sorted_int (plan->numa_nodes, d->numa_node);
        g_ptr_array_add (plan->hostdevs, h);
      }
  }
  for (guint i = 0; i < c->bridges->len; i++)
    g_ptr_array_add (plan->bridges_skipped,
                     g_strdup (((const GvdPciDevice *) g_ptr_array_index (c->bridges, i))->address));
  for (guint i = 0; i < c->groups->len; i++)
    {
      guint number = g_array_index (c->groups, guint, i);
      const GvdIommuGroup *group = gvd_inventory_get_group (inv, number);

      g_array_append_val (plan->groups, number);
      if (group != NULL && group->weakened)
        plan->weakened_isolation = TRUE;
    }
  plan->mmio64_mib = round_up_pow2 ((mmio + (1 << 20) - 1) >> 20);
  return g_steal_pointer (&plan);
}

GvdPlan *
gvd_vfio_plan_compute (const GvdInventory *inv, const GvdPlanRequest *req, GHashTable *claims,
                       GHashTable *quarantined, GvdPlanRefusal **out_refusal, GError **error)
{
  g_autoptr(GvdPlanRefusal) refusal = gvd_plan_refusal_new ();
  g_autoptr(GPtrArray) requested = NULL;
  gboolean explicit_req;
  guint n_devices;

  g_return_val_if_fail (inv != NULL && req != NULL, NULL);

  n_devices = req->devices != NULL ? g_strv_length (req->devices) : 0;
  explicit_req = n_devices > 0;
  if (explicit_req == (req->gpus > 0))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "a plan needs either devices (PCI addresses) or a number of GPUs");
      return NULL;
    }
  if (n_devices > GVD_PLAN_MAX_DEVICES || req->gpus > GVD_PLAN_MAX_GPUS)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "a plan takes at most %d devices or %d GPUs", GVD_PLAN_MAX_DEVICES,
                   GVD_PLAN_MAX_GPUS);
      return NULL;
    }

  if (!inv->iommu)
    add_reason (refusal, GVD_ERROR_NO_IOMMU, NULL, NULL, NULL, NULL,
                "the host exposes no IOMMU groups, so no device can be passed through: enable "
                "VT-d (Intel) or AMD-Vi (AMD) in the firmware and boot with intel_iommu=on or "
                "amd_iommu=on");

  if (explicit_req)
    requested = resolve_explicit (inv, req->devices, refusal);
  else if (inv->iommu)
    requested = pick_gpus (inv, req, claims, quarantined, refusal);

  if (inv->iommu && requested != NULL)
    {
      g_auto(Closure) c = { 0 };

      closure_build (&c, inv, requested, req->include_companions);
      closure_check (&c, inv, requested, claims, quarantined, req->allow_weakened_isolation,
                     refusal);
      if (refusal->reasons->len == 0)
        return build_plan (inv, &c, requested);
    }

  {
    GvdErrorCode code = GVD_ERROR_PLAN_REFUSED;
    g_autoptr(GString) msg = g_string_new (NULL);

    for (guint i = 0; i < refusal->reasons->len; i++)
      {
        const GvdPlanReason *r = g_ptr_array_index (refusal->reasons, i);
        if (i == 0)
          code = r->code;
        else if (r->code != code)
          code = GVD_ERROR_PLAN_REFUSED;
      }
    /* "gpus: N" that cannot be met is insufficient_gpus; the other reasons
     * only explain why some GPUs were not eligible. */
    if (((const GvdPlanReason *) g_ptr_array_index (refusal->reasons, 0))->code
        == GVD_ERROR_INSUFFICIENT_GPUS)
      code = GVD_ERROR_INSUFFICIENT_GPUS;
    if (refusal->reasons->len == 1 || code == GVD_ERROR_INSUFFICIENT_GPUS)
      g_string_append (msg, ((const GvdPlanReason *) g_ptr_array_index (refusal->reasons, 0))->message);
    else
      g_string_append_printf (msg, "the plan is refused for %u reasons (see details); first: %s",
                              refusal->reasons->len,
                              ((const GvdPlanReason *) g_ptr_array_index (refusal->reasons, 0))->message);
    g_set_error_literal (error, GVD_ERROR, code, msg->str);
  }
  if (out_refusal != NULL)
    *out_refusal = g_steal_pointer (&refusal);
  return NULL;
}

/* ---- conversions ----------------------------------------------------------- */

GPtrArray *
gvd_vfio_plan_to_hostdevs (const GvdPlan *plan)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_hostdev_spec_free);

  g_return_val_if_fail (plan != NULL, out);
  for (guint i = 0; i < plan->hostdevs->len; i++)
    {
      const GvdPlanHostdev *h = g_ptr_array_index (plan->hostdevs, i);
      GvdHostdevSpec *spec = gvd_hostdev_spec_new ();

      spec->host_address = g_strdup (h->address);
      spec->guest_bus = h->guest_bus;
      spec->guest_slot = 0;
      spec->guest_function = h->guest_function;
      spec->multifunction = h->multifunction;
      spec->clique = h->clique;
      g_ptr_array_add (out, spec);
    }
  return out;
}

JsonNode *
gvd_vfio_plan_to_json (const GvdPlan *plan)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "gpus");
  json_builder_begin_array (b);
  for (guint i = 0; i < plan->gpus->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (plan->gpus, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "hostdevs");
  json_builder_begin_array (b);
  for (guint i = 0; i < plan->hostdevs->len; i++)
    {
      const GvdPlanHostdev *h = g_ptr_array_index (plan->hostdevs, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "address");
      json_builder_add_string_value (b, h->address);
      json_builder_set_member_name (b, "role");
      json_builder_add_string_value (b, gvd_plan_role_to_string (h->role));
      json_builder_set_member_name (b, "iommu_group");
      json_builder_add_int_value (b, h->iommu_group);
      gvd_json_add_string (b, "host_driver", h->driver);
      json_builder_set_member_name (b, "guest_bus");
      json_builder_add_int_value (b, h->guest_bus);
      json_builder_set_member_name (b, "guest_function");
      json_builder_add_int_value (b, h->guest_function);
      json_builder_set_member_name (b, "multifunction");
      json_builder_add_boolean_value (b, h->multifunction);
      json_builder_set_member_name (b, "clique");
      if (h->clique >= 0)
        json_builder_add_int_value (b, h->clique);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "bridges_skipped");
  json_builder_begin_array (b);
  for (guint i = 0; i < plan->bridges_skipped->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (plan->bridges_skipped, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "iommu_groups");
  json_builder_begin_array (b);
  for (guint i = 0; i < plan->groups->len; i++)
    json_builder_add_int_value (b, g_array_index (plan->groups, guint, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "numa_nodes");
  json_builder_begin_array (b);
  for (guint i = 0; i < plan->numa_nodes->len; i++)
    json_builder_add_int_value (b, g_array_index (plan->numa_nodes, int, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "p2p_cliques");
  json_builder_add_int_value (b, plan->n_cliques);
  json_builder_set_member_name (b, "mmio64_mib");
  json_builder_add_int_value (b, (gint64) plan->mmio64_mib);
  json_builder_set_member_name (b, "isolation");
  json_builder_add_string_value (b, plan->weakened_isolation ? "weakened" : "isolated");
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
gvd_plan_refusal_to_json (const GvdPlanRefusal *refusal)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_array (b);
  for (guint i = 0; refusal != NULL && i < refusal->reasons->len; i++)
    {
      const GvdPlanReason *r = g_ptr_array_index (refusal->reasons, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "code");
      json_builder_add_string_value (b, gvd_error_code_name (r->code));
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, r->message);
      gvd_json_add_string (b, "device", r->device);
      gvd_json_add_string (b, "peer", r->peer);
      gvd_json_add_string (b, "peer_driver", r->peer_driver);
      gvd_json_add_string (b, "holder", r->holder);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  return json_builder_get_root (b);
}
