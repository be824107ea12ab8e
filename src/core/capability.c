/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability checks as data: checks, reports and facts, and the report
 * as the `gpuvmd --check` table or JSON. Pure. */
#include "config.h"

#include "capability.h"

#include <string.h>

const char *const gvd_capability_vfio_modules[GVD_CAPABILITY_N_VFIO_MODULES] = {
  "vfio", "vfio_pci", "vfio_iommu_type1",
};

/* ---- checks and reports ----------------------------------------------------- */

GvdCheck *
gvd_check_new (const char *name, GvdCheckCategory category, GvdCheckStatus status,
               const char *detail, const char *remedy)
{
  GvdCheck *check = g_new0 (GvdCheck, 1);

  check->name = g_strdup (name);
  check->category = category;
  check->status = status;
  check->detail = g_strdup (detail);
  check->remedy = g_strdup (remedy);
  return check;
}

void
gvd_check_free (GvdCheck *check)
{
  if (check == NULL)
    return;
  g_free (check->name);
  g_free (check->detail);
  g_free (check->remedy);
  g_free (check);
}

const char *
gvd_check_status_to_string (GvdCheckStatus status)
{
  switch (status)
    {
    case GVD_CHECK_PASS:
      return "pass";
    case GVD_CHECK_WARN:
      return "warn";
    case GVD_CHECK_FAIL:
      return "fail";
    }
  return "fail";
}

const char *
gvd_check_category_to_string (GvdCheckCategory category)
{
  return category == GVD_CHECK_VM ? "vm" : "passthrough";
}

const char *
gvd_cpu_vendor_to_string (GvdCpuVendor vendor)
{
  switch (vendor)
    {
    case GVD_CPU_VENDOR_INTEL:
      return "intel";
    case GVD_CPU_VENDOR_AMD:
      return "amd";
    case GVD_CPU_VENDOR_UNKNOWN:
      break;
    }
  return "unknown";
}

void
gvd_cap_report_free (GvdCapReport *report)
{
  if (report == NULL)
    return;
  g_ptr_array_unref (report->checks);
  g_ptr_array_unref (report->warnings);
  g_ptr_array_unref (report->failures);
  g_free (report);
}

const GvdCheck *
gvd_cap_report_find (const GvdCapReport *report, const char *name)
{
  g_return_val_if_fail (report != NULL, NULL);

  for (guint i = 0; i < report->checks->len; i++)
    {
      const GvdCheck *check = g_ptr_array_index (report->checks, i);

      if (g_str_equal (check->name, name))
        return check;
    }
  return NULL;
}

/* ---- facts ------------------------------------------------------------------ */

void
gvd_cpu_info_clear (GvdCpuInfo *cpu)
{
  g_clear_pointer (&cpu->model, g_free);
  memset (cpu, 0, sizeof *cpu);
}

GvdHostFacts *
gvd_host_facts_new (void)
{
  GvdHostFacts *facts = g_new0 (GvdHostFacts, 1);

  facts->iommu_groups = -1;
  return facts;
}

void
gvd_host_facts_free (GvdHostFacts *facts)
{
  if (facts == NULL)
    return;
  g_free (facts->kvm_path);
  g_free (facts->kvm_error);
  g_free (facts->cpuinfo_error);
  gvd_cpu_info_clear (&facts->cpu);
  g_strfreev (facts->cmdline);
  g_free (facts->pool_path);
  g_free (facts->pool_checked);
  g_free (facts->pool_error);
  g_free (facts->libvirt_uri);
  g_free (facts->libvirt_error);
  g_free (facts->kvm_refused);
  g_free (facts->domcaps_virttype);
  gvd_domcaps_free (facts->domcaps);
  g_free (facts->domcaps_error);
  g_free (facts);
}

const char *
gvd_host_facts_virttype (const GvdHostFacts *facts)
{
  g_return_val_if_fail (facts != NULL, "qemu");
  return facts->kvm_exists && facts->kvm_accessible ? "kvm" : "qemu";
}

void
gvd_host_facts_set_domcaps (GvdHostFacts *facts, const char *xml, gsize len)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (facts != NULL);
  g_clear_pointer (&facts->domcaps, gvd_domcaps_free);
  g_clear_pointer (&facts->domcaps_error, g_free);
  facts->domcaps = gvd_domcaps_parse (xml, len, &error);
  if (facts->domcaps == NULL)
    facts->domcaps_error = g_strdup (error->message);
}

/* ---- output ------------------------------------------------------------------- */

char *
gvd_cap_report_format_verdict (const GvdCapReport *report)
{
  guint nf, nw;

  g_return_val_if_fail (report != NULL, NULL);
  nf = report->failures->len;
  nw = report->warnings->len;
  return g_strdup_printf ("VMs %s, GPU passthrough %s (%u failure%s, %u warning%s)",
                          report->vm_capable    ? "yes"
                          : report->vm_emulated ? "slow (no KVM: TCG emulation)"
                                                : "no",
                          report->passthrough_capable ? "yes" : "no", nf, nf == 1 ? "" : "s",
                          nw, nw == 1 ? "" : "s");
}

char *
gvd_cap_report_format_table (const GvdCapReport *report)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *verdict = NULL;
  int name_w = (int) strlen ("CHECK");
  const int status_w = 7, cat_w = 13;

  g_return_val_if_fail (report != NULL, NULL);

  for (guint i = 0; i < report->checks->len; i++)
    {
      const GvdCheck *c = g_ptr_array_index (report->checks, i);

      name_w = MAX (name_w, (int) strlen (c->name));
    }
  g_string_append_printf (out, "%-*s%-*s%-*s  %s\n", status_w, "STATUS", cat_w, "CATEGORY",
                          name_w, "CHECK", "DETAIL");
  for (guint i = 0; i < report->checks->len; i++)
    {
      const GvdCheck *c = g_ptr_array_index (report->checks, i);
      g_autofree char *status = g_ascii_strup (gvd_check_status_to_string (c->status), -1);

      g_string_append_printf (out, "%-*s%-*s%-*s  %s\n", status_w, status, cat_w,
                              gvd_check_category_to_string (c->category), name_w, c->name,
                              c->detail != NULL ? c->detail : "");
      if (c->status != GVD_CHECK_PASS && c->remedy != NULL)
        g_string_append_printf (out, "%*s  remedy: %s\n", status_w + cat_w + name_w, "",
                                c->remedy);
    }
  verdict = gvd_cap_report_format_verdict (report);
  g_string_append_printf (out, "\nverdict: %s\n", verdict);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
add_names (JsonBuilder *b, const char *member, const GPtrArray *names)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < names->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (names, i));
  json_builder_end_array (b);
}

void
gvd_cap_report_to_json (const GvdCapReport *report, JsonBuilder *b)
{
  g_return_if_fail (report != NULL && b != NULL);

  json_builder_set_member_name (b, "vm_capable");
  json_builder_add_boolean_value (b, report->vm_capable);
  json_builder_set_member_name (b, "vm_emulated");
  json_builder_add_boolean_value (b, report->vm_emulated);
  json_builder_set_member_name (b, "passthrough_capable");
  json_builder_add_boolean_value (b, report->passthrough_capable);
  add_names (b, "warnings", report->warnings);
  add_names (b, "failures", report->failures);
  json_builder_set_member_name (b, "checks");
  json_builder_begin_array (b);
  for (guint i = 0; i < report->checks->len; i++)
    {
      const GvdCheck *c = g_ptr_array_index (report->checks, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, c->name);
      json_builder_set_member_name (b, "category");
      json_builder_add_string_value (b, gvd_check_category_to_string (c->category));
      json_builder_set_member_name (b, "status");
      json_builder_add_string_value (b, gvd_check_status_to_string (c->status));
      json_builder_set_member_name (b, "detail");
      json_builder_add_string_value (b, c->detail);
      json_builder_set_member_name (b, "remedy");
      if (c->remedy != NULL)
        json_builder_add_string_value (b, c->remedy);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}
