/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability checks as data: checks, reports and facts, and the report
 * as the `gpuvmd --check` table or JSON. Pure. */
#include "config.h"

#include "capability.h"

#include <glib/gi18n-lib.h>
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

/* The table and the verdict are for people: they speak the locale's
 * language (the API's JSON does not, see gvd_cap_report_to_json). */

char *
gvd_cap_report_format_verdict (const GvdCapReport *report)
{
  g_autofree char *failures = NULL;
  g_autofree char *warnings = NULL;
  const char *vms, *passthrough;
  guint nf, nw;

  g_return_val_if_fail (report != NULL, NULL);
  nf = report->failures->len;
  nw = report->warnings->len;
  /* TRANSLATORS: whether VMs can run, in the verdict line "VMs yes, GPU
   * passthrough no (...)". */
  vms = report->vm_capable    ? C_("verdict", "yes")
        : report->vm_emulated ? C_("verdict", "slow (no KVM: TCG emulation)")
                              : C_("verdict", "no");
  /* TRANSLATORS: whether GPUs can be passed through, in the verdict line. */
  passthrough = report->passthrough_capable ? C_("verdict", "yes") : C_("verdict", "no");
  /* TRANSLATORS: the number of failed checks, in the verdict line. */
  failures = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u failure", "%u failures", nf), nf);
  /* TRANSLATORS: the number of checks that warned, in the verdict line. */
  warnings = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u warning", "%u warnings", nw), nw);
  /* TRANSLATORS: the verdict of `gpuvmd --check`. The first %s is whether
   * VMs can run (yes, no, slow (...)), the second whether GPU passthrough
   * works (yes, no), then "%u failures" and "%u warnings". */
  return g_strdup_printf (_("VMs %s, GPU passthrough %s (%s, %s)"), vms, passthrough, failures,
                          warnings);
}

/* Display columns of @s (UTF-8: a translation's "Ü" is one column). */
static int
text_width (const char *s)
{
  return (int) g_utf8_strlen (s, -1);
}

/* @s, then spaces up to @width columns. */
static void
append_padded (GString *out, const char *s, int width)
{
  g_string_append (out, s);
  for (int w = text_width (s); w < width; w++)
    g_string_append_c (out, ' ');
}

static const char *
status_label (GvdCheckStatus status)
{
  switch (status)
    {
    case GVD_CHECK_PASS:
      /* TRANSLATORS: a check's status in the `gpuvmd --check` table. */
      return C_("check status", "PASS");
    case GVD_CHECK_WARN:
      return C_("check status", "WARN");
    case GVD_CHECK_FAIL:
      break;
    }
  return C_("check status", "FAIL");
}

static const char *
category_label (GvdCheckCategory category)
{
  /* TRANSLATORS: what a failed check blocks, in the `gpuvmd --check`
   * table: running VMs at all, or GPU passthrough. */
  return category == GVD_CHECK_VM ? C_("check category", "vm")
                                  : C_("check category", "passthrough");
}

char *
gvd_cap_report_format_table (const GvdCapReport *report)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *verdict = NULL;
  /* TRANSLATORS: column headings of the `gpuvmd --check` table; the CHECK
   * column holds the checks' fixed names (kvm_device, iommu_groups...). */
  const char *h_status = C_("check table", "STATUS");
  const char *h_category = C_("check table", "CATEGORY");
  const char *h_check = C_("check table", "CHECK");
  const char *h_detail = C_("check table", "DETAIL");
  int status_w = text_width (h_status), cat_w = text_width (h_category);
  int name_w = text_width (h_check);

  g_return_val_if_fail (report != NULL, NULL);

  status_w = MAX (status_w, text_width (status_label (GVD_CHECK_PASS)));
  status_w = MAX (status_w, text_width (status_label (GVD_CHECK_WARN)));
  status_w = MAX (status_w, text_width (status_label (GVD_CHECK_FAIL))) + 1;
  cat_w = MAX (cat_w, text_width (category_label (GVD_CHECK_VM)));
  cat_w = MAX (cat_w, text_width (category_label (GVD_CHECK_PASSTHROUGH))) + 2;
  for (guint i = 0; i < report->checks->len; i++)
    {
      const GvdCheck *c = g_ptr_array_index (report->checks, i);

      name_w = MAX (name_w, text_width (c->name));
    }
  append_padded (out, h_status, status_w);
  append_padded (out, h_category, cat_w);
  append_padded (out, h_check, name_w);
  g_string_append_printf (out, "  %s\n", h_detail);
  for (guint i = 0; i < report->checks->len; i++)
    {
      const GvdCheck *c = g_ptr_array_index (report->checks, i);

      append_padded (out, status_label (c->status), status_w);
      append_padded (out, category_label (c->category), cat_w);
      append_padded (out, c->name, name_w);
      g_string_append_printf (out, "  %s\n", c->detail != NULL ? c->detail : "");
      if (c->status != GVD_CHECK_PASS && c->remedy != NULL)
        {
          append_padded (out, "", status_w + cat_w + name_w + 2);
          /* TRANSLATORS: under a check that failed or warned: what to do. */
          g_string_append_printf (out, _("remedy: %s"), c->remedy);
          g_string_append_c (out, '\n');
        }
    }
  verdict = gvd_cap_report_format_verdict (report);
  g_string_append_c (out, '\n');
  /* TRANSLATORS: the last line of `gpuvmd --check`; %s is the verdict
   * ("VMs yes, GPU passthrough no (...)"). */
  g_string_append_printf (out, _("verdict: %s"), verdict);
  g_string_append_c (out, '\n');
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

/* The API's words: fixed English ids and, unless the report was evaluated
 * localized, English details and remedies, whatever the daemon's locale. */
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
