/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VFIO/IOMMU group planner: which host devices a VM must get so that
 * every IOMMU group it touches is viable, or every reason it cannot. Pure. */
#include "config.h"

#include "vfio-plan.h"
#include "vfio-plan-priv.h"

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

void G_GNUC_PRINTF (7, 8)
gvd_plan_add_reason (GvdPlanRefusal *refusal, GvdErrorCode code, const char *device,
                     const char *peer, const char *peer_driver, const char *holder,
                     const char *format, ...)
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
build_plan (const GvdInventory *inv, const GvdPlanClosure *c, GPtrArray *requested)
{
  g_autoptr(GvdPlan) plan = gvd_plan_new ();
  g_autoptr(GHashTable) cliques = g_hash_table_new (g_str_hash, g_str_equal); /* switch → id+1 */
  g_autoptr(GHashTable) per_switch = g_hash_table_new (g_str_hash, g_str_equal);
  guint64 mmio = 0;
  guint n_gpus = 0;

  for (guint i = 0; i < requested->len; i++)
    {
      const GvdPciDevice *d = g_ptr_array_index (requested, i);
      if (gvd_plan_is_gpu (d))
        {
          const char *sw = gvd_plan_switch_of (d);
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
      const char *sw = gvd_plan_is_gpu (d) ? gvd_plan_switch_of (d) : NULL;

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
        const char *sw = gvd_plan_switch_of (d);
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
        h->role = gvd_plan_closure_role (c, d->address);
        h->iommu_group = d->iommu_group;
        h->driver = g_strdup (d->driver);
        h->gpu = gvd_plan_is_gpu (d);
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
          gvd_plan_insert_sorted_int (plan->numa_nodes, d->numa_node);
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
    gvd_plan_add_reason (refusal, GVD_ERROR_NO_IOMMU, NULL, NULL, NULL, NULL,
                         "the host exposes no IOMMU groups, so no device can be passed "
                         "through: enable VT-d (Intel) or AMD-Vi (AMD) in the firmware and boot "
                         "with intel_iommu=on or amd_iommu=on");

  if (explicit_req)
    requested = gvd_plan_resolve_explicit (inv, req->devices, refusal);
  else if (inv->iommu)
    requested = gvd_plan_pick_gpus (inv, req, claims, quarantined, refusal);

  if (inv->iommu && requested != NULL)
    {
      g_auto(GvdPlanClosure) c = { 0 };

      gvd_plan_closure_build (&c, inv, requested, req->include_companions);
      gvd_plan_closure_check (&c, inv, requested, claims, quarantined,
                              req->allow_weakened_isolation, refusal);
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
