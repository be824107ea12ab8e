/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Plans and refusals as hostdev specs and JSON answers (pure). */
#include "config.h"

#include "vfio-plan-priv.h"
#include "json-util.h"

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
