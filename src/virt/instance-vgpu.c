/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An instance's vGPUs: planned on the main thread against sysfs as it is
 * now (core/vgpu.h), created and removed in workers through the manager's
 * mdev operations (mdev.h), reported when recovery finds one nobody holds. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include <string.h>

#include "device-ref.h"
#include "hostinfo-vgpu.h"

static char *
random_uuid (gpointer data)
{
  return g_uuid_string_random ();
}

GPtrArray *
gvd_instance_plan_vgpus (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                         const GvdPlan *plan, GError **error)
{
  g_autoptr(GPtrArray) requests = NULL;
  g_autoptr(GPtrArray) parents = NULL;
  g_autoptr(GStrvBuilder) exclude_b = g_strv_builder_new ();
  g_auto(GStrv) exclude = NULL;
  int numa = -1;

  if (req->vgpus == NULL || req->vgpus->len == 0)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_assignment_free);

  /* Parents the client named by registry name become addresses. */
  requests = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_request_free);
  for (guint i = 0; i < req->vgpus->len; i++)
    {
      const GvdVgpuRequest *r = g_ptr_array_index (req->vgpus, i);
      g_autofree char *field = g_strdup_printf ("%s.parent", r->field != NULL ? r->field : "vgpu");
      g_autofree char *parent = NULL;
      GvdVgpuRequest *copy;

      if (r->parent != NULL
          && (parent = gvd_device_ref_resolve (mgr->d->registry, field, r->parent, error)) == NULL)
        return NULL;
      copy = gvd_vgpu_request_new (r->type, parent);
      copy->field = g_strdup (r->field);
      g_ptr_array_add (requests, copy);
    }

  /* A parent passed through whole by this same request takes no vGPU; its
   * GPUs' NUMA node is where the vGPUs should be too. */
  for (guint i = 0; plan != NULL && i < plan->hostdevs->len; i++)
    g_strv_builder_add (exclude_b, ((GvdPlanHostdev *) g_ptr_array_index (plan->hostdevs, i))->address);
  exclude = g_strv_builder_end (exclude_b);
  if (plan != NULL && plan->numa_nodes->len == 1)
    numa = g_array_index (plan->numa_nodes, int, 0);

  parents = gvd_hostinfo_read_vgpu (mgr->d->host_root, mgr->d->inventory);
  return gvd_vgpu_plan (parents, requests, mgr->d->claims, (const char *const *) exclude, numa,
                        random_uuid, NULL, error);
}

void
gvd_instance_add_vgpu_hostdevs (GvdInstanceSpec *spec, GPtrArray *assignments)
{
  guint next_group = 0;

  for (guint i = 0; i < spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (spec->hostdevs, i);
      next_group = MAX (next_group, h->guest_bus + 1);
    }
  for (guint i = 0; assignments != NULL && i < assignments->len; i++)
    {
      const GvdVgpuAssignment *a = g_ptr_array_index (assignments, i);
      GvdHostdevSpec *h = gvd_hostdev_spec_new ();

      h->mdev_uuid = g_strdup (a->uuid);
      h->mdev_type = g_strdup (a->type);
      h->host_address = g_strdup (a->parent);
      h->guest_bus = next_group++;
      g_ptr_array_add (spec->hostdevs, h);
    }
}

GPtrArray *
gvd_instance_spec_vgpus (const GvdInstanceSpec *spec)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_assignment_free);

  for (guint i = 0; i < spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (spec->hostdevs, i);

      if (h->mdev_uuid != NULL)
        g_ptr_array_add (out, gvd_vgpu_assignment_new (h->mdev_uuid, h->mdev_type, h->host_address));
    }
  return out;
}

gboolean
gvd_instance_remove_mdevs (const GvdMdevOps *ops, virConnectPtr conn, GPtrArray *vgpus,
                           GError **error)
{
  gboolean ok = TRUE;

  for (guint i = 0; vgpus != NULL && i < vgpus->len; i++)
    {
      const GvdVgpuAssignment *a = g_ptr_array_index (vgpus, i);
      g_autoptr(GError) local = NULL;

      if (!ops->remove (ops, conn, a->uuid, &local))
        {
          g_debug ("mdev %s: %s", a->uuid, local->message);
          if (ok)
            g_propagate_error (error, g_steal_pointer (&local));
          ok = FALSE;
        }
    }
  return ok;
}

gboolean
gvd_instance_create_mdevs (const GvdMdevOps *ops, virConnectPtr conn, GPtrArray *vgpus,
                           GError **error)
{
  for (guint i = 0; vgpus != NULL && i < vgpus->len; i++)
    {
      const GvdVgpuAssignment *a = g_ptr_array_index (vgpus, i);

      if (a->parent == NULL || a->type == NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "mdev %s: no parent or type planned",
                       a->uuid);
          return FALSE;
        }
      if (!ops->create (ops, conn, a->parent, a->type, a->uuid, error))
        {
          /* The failed one left nothing (mdev.h); the ones before go. */
          g_autoptr(GPtrArray) made = g_ptr_array_new ();

          for (guint k = 0; k < i; k++)
            g_ptr_array_add (made, g_ptr_array_index (vgpus, k));
          gvd_instance_remove_mdevs (ops, conn, made, NULL);
          return FALSE;
        }
    }
  return TRUE;
}

void
gvd_instance_report_stray_mdevs (GvdInstanceManager *mgr)
{
  g_autoptr(GPtrArray) parents = gvd_hostinfo_read_vgpu (mgr->d->host_root, mgr->d->inventory);

  for (guint i = 0; i < parents->len; i++)
    {
      const GvdVgpuParent *p = g_ptr_array_index (parents, i);

      for (guint k = 0; k < p->mdevs->len; k++)
        {
          const GvdMdev *m = g_ptr_array_index (p->mdevs, k);

          if (gvd_claims_get_mdev (mgr->d->claims, m->uuid) != NULL
              || !g_hash_table_add (mgr->stray_mdevs_seen, g_strdup (m->uuid)))
            continue;
          g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "GVD_DEVICE", p->address,
                            "MESSAGE", "mdev %s (%s on %s) is used by no domain: left by a "
                            "deleted instance or made by hand; remove it with "
                            "virNodeDeviceDestroy/Undefine (virsh nodedev-destroy) if unused",
                            m->uuid, m->type != NULL ? m->type : "unknown type", p->address);
        }
    }
}
