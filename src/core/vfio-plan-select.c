/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner's "N GPUs": candidate units scored by NUMA node, PCIe switch
 * and collateral peers, and the best set chosen (pure). */
#include "config.h"

#include "vfio-plan-priv.h"

#include <string.h>

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
      gvd_plan_insert_sorted_int (nodes, u->numa_node);
      for (guint k = 0; k < u->gpus->len; k++)
        {
          const GvdPciDevice *g = g_ptr_array_index (u->gpus, k);
          const char *sw = gvd_plan_switch_of (g) != NULL ? gvd_plan_switch_of (g) : g->address;

          g_ptr_array_add (c->addresses, g->address);
          if (!g_ptr_array_find_with_equal_func (switches, sw, g_str_equal, NULL))
            g_ptr_array_add (switches, (gpointer) sw);
        }
    }
  if (total != n)
    return NULL;
  c->n_numa = nodes->len;
  c->n_switches = switches->len;
  g_ptr_array_sort (c->addresses, gvd_plan_compare_strings);
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
    gvd_plan_insert_sorted_int (nodes, ((Unit *) g_ptr_array_index (units, i))->numa_node);

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

GPtrArray *
gvd_plan_pick_gpus (const GvdInventory *inv, const GvdPlanRequest *req, GHashTable *claims,
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

      if (!gvd_plan_is_gpu (dev) || !dev->passthrough_candidate
          || !matches_filter (dev, vendor_lc, model_lc))
        continue;
      /* vGPU slices are asked for by address, not counted as whole GPUs. */
      if (dev->physfn != NULL)
        continue;
      n_matching++;
      if (dev->sriov_numvfs > 0)
        {
          gvd_plan_add_reason (why, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, dev->address, NULL, NULL,
                               NULL,
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
          if (m != NULL && gvd_plan_is_gpu (m) && m->passthrough_candidate && m->physfn == NULL
              && m->sriov_numvfs == 0 && matches_filter (m, vendor_lc, model_lc))
            g_ptr_array_add (unit_gpus, (gpointer) m);
        }
      {
        g_auto(GvdPlanClosure) c = { 0 };
        guint collateral = 0;

        gvd_plan_closure_build (&c, inv, unit_gpus, req->include_companions);
        if (gvd_plan_closure_check (&c, inv, unit_gpus, claims, quarantined,
                                    req->allow_weakened_isolation, why) > 0)
          continue;
        for (guint k = 0; k < c.pass->len; k++)
          {
            const GvdPciDevice *m = g_ptr_array_index (c.pass, k);

            if (gvd_plan_closure_role (&c, m->address) == GVD_PLAN_ROLE_GROUP_PEER)
              collateral++;
          }
        u = g_new0 (Unit, 1);
        u->gpus = g_steal_pointer (&unit_gpus);
        u->collateral = collateral;
        u->numa_node = dev->numa_node;
        u->switch_key = gvd_plan_switch_of (dev) != NULL ? gvd_plan_switch_of (dev) : dev->address;
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
      gvd_plan_add_reason (refusal, GVD_ERROR_INSUFFICIENT_GPUS, NULL, NULL, NULL, NULL,
                           "asked for %u GPU%s%s: the host has %u such GPU%s, %u of them free "
                           "to give %s",
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
  g_ptr_array_sort (picked, gvd_plan_compare_devices);
  return picked;
}
