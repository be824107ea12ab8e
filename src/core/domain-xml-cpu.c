/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dedicated CPUs in the domain XML: <cputune> rendered from the spec's pins,
 * checked before, read back for recovery, and every domain's pinned host
 * CPUs for the CPU claims. */
#include "config.h"

#include "domain-xml.h"

#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "cpu-alloc.h"
#include "domain-xml-render.h"
#include "domain-xml-xpath.h"
#include "errors.h"

#define INVALID(...)                                                          \
  G_STMT_START {                                                              \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__);   \
    return FALSE;                                                             \
  } G_STMT_END

gboolean
gvd_domain_xml_validate_cpu_pins (const GvdInstanceSpec *spec, GError **error)
{
  g_autoptr(GHashTable) seen = NULL;

  if ((spec->vcpu_pins == NULL) != (spec->emulator_pins == NULL))
    INVALID ("vCPU pins and emulator pins go together");
  if (spec->vcpu_pins == NULL)
    return TRUE;
  if (spec->vcpu_pins->len != spec->vcpus)
    INVALID ("%u vCPU pins for %u vCPUs", spec->vcpu_pins->len, spec->vcpus);
  if (spec->emulator_pins->len == 0 || spec->emulator_pins->len > GVD_CPU_MAX)
    INVALID ("the emulator threads need 1 to %d CPUs", GVD_CPU_MAX);
  seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint i = 0; i < spec->vcpu_pins->len; i++)
    {
      guint cpu = g_array_index (spec->vcpu_pins, guint, i);

      if (cpu >= GVD_CPU_MAX)
        INVALID ("vCPU %u pinned to CPU %u (CPUs are below %d)", i, cpu, GVD_CPU_MAX);
      if (!g_hash_table_add (seen, GUINT_TO_POINTER (cpu)))
        INVALID ("host CPU %u pinned to two vCPUs", cpu);
    }
  for (guint i = 0; i < spec->emulator_pins->len; i++)
    if (g_array_index (spec->emulator_pins, guint, i) >= GVD_CPU_MAX)
      INVALID ("emulator pinned to CPU %u (CPUs are below %d)",
               g_array_index (spec->emulator_pins, guint, i), GVD_CPU_MAX);
  return TRUE;
}

void
gvd_domain_xml_render_cputune (xmlNodePtr domain, const GvdInstanceSpec *spec)
{
  xmlNodePtr cputune, node;
  g_autofree char *emulator = NULL;

  if (spec->vcpu_pins == NULL)
    return;
  cputune = child (domain, NULL, "cputune");
  for (guint i = 0; i < spec->vcpu_pins->len; i++)
    {
      node = child (cputune, NULL, "vcpupin");
      propf (node, "vcpu", "%u", i);
      propf (node, "cpuset", "%u", g_array_index (spec->vcpu_pins, guint, i));
    }
  emulator = gvd_cpulist_format ((guint *) spec->emulator_pins->data, spec->emulator_pins->len);
  prop (child (cputune, NULL, "emulatorpin"), "cpuset", emulator);
}

/* Every CPU of a cpuset attribute ("3", "0-3,^2" as libvirt may write it:
 * exclusions are dropped from the claim, which only over-counts). */
static GArray *
read_cpuset (const char *what, const char *text, GError **error)
{
  g_autoptr(GString) plain = g_string_new (NULL);
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);

  for (gsize i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '^')
      g_string_append_printf (plain, "%s%s", plain->len > 0 ? "," : "", parts[i]);
  return gvd_cpulist_parse (what, plain->str, error);
}

/* gpuvmd's shape: one vcpupin of one host CPU for each vCPU. */
static gboolean
read_pins (xmlXPathContextPtr ctx, xmlNodeSetPtr nodes, guint vcpus, GArray **out_pins,
           GError **error)
{
  g_autoptr(GArray) pins = NULL;
  g_autofree gboolean *set = NULL;

  if (vcpus == 0 || vcpus > GVD_DOMAIN_XML_MAX_VCPUS)
    INVALID ("vcpupin in a domain of %u vCPUs", vcpus);
  pins = g_array_sized_new (FALSE, TRUE, sizeof (guint), vcpus);
  g_array_set_size (pins, vcpus);
  set = g_new0 (gboolean, vcpus);
  for (int i = 0; i < nodes->nodeNr; i++)
    {
      g_autofree char *cpuset = gvd_xp_str (ctx, nodes->nodeTab[i], "@cpuset");
      g_autoptr(GArray) cpus = NULL;
      guint64 vcpu;

      if (!gvd_xp_num (ctx, nodes->nodeTab[i], "@vcpu", vcpus - 1, 0, &vcpu, error))
        return FALSE;
      if (cpuset == NULL)
        INVALID ("vcpupin of vCPU %u has no cpuset", (guint) vcpu);
      if ((cpus = read_cpuset ("vcpupin", cpuset, error)) == NULL)
        return FALSE;
      if (cpus->len != 1 || set[vcpu])
        INVALID ("vcpupin of vCPU %u: '%s' is not one host CPU", (guint) vcpu, cpuset);
      g_array_index (pins, guint, vcpu) = g_array_index (cpus, guint, 0);
      set[vcpu] = TRUE;
    }
  for (guint i = 0; i < vcpus; i++)
    if (!set[i])
      INVALID ("vCPU %u has no vcpupin while others do", i);
  *out_pins = g_steal_pointer (&pins);
  return TRUE;
}

gboolean
gvd_domain_xml_parse_cputune (xmlXPathContextPtr ctx, xmlNodePtr root, GvdInstanceSpec *spec,
                              GError **error)
{
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GArray) pins = NULL;
  g_autoptr(GArray) emulator = NULL;
  g_autofree char *emu = gvd_xp_str (ctx, root, "cputune/emulatorpin/@cpuset");
  xmlNodeSetPtr nodes = gvd_xp_nodes (ctx, root, "cputune/vcpupin", &obj);

  g_autoptr(GError) local_error = NULL;

  if (nodes == NULL || nodes->nodeNr == 0)
    return TRUE; /* shared vCPUs */
  /* Pins edited outside gpuvmd (virsh vcpupin with a range, a vCPU left
   * out) must not make the instance unrecoverable: it comes back without
   * pins, and recovery still claims every CPU its vcpupins name
   * (gvd_domain_xml_pinned_cpus). */
  if (!read_pins (ctx, nodes, spec->vcpus, &pins, &local_error)
      || (emu != NULL && (emulator = read_cpuset ("emulatorpin", emu, &local_error)) == NULL))
    {
      g_debug ("domain %s: %s: recovered without vCPU pins", spec->domain_name,
               local_error->message);
      return TRUE;
    }
  if (emulator == NULL)
    emulator = g_array_copy (pins);
  spec->vcpu_pins = g_steal_pointer (&pins);
  spec->emulator_pins = g_steal_pointer (&emulator);
  return TRUE;
}

GArray *
gvd_domain_xml_pinned_cpus (const char *xml, gboolean with_emulator, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc),
                      with_emulator
                        ? "/domain/cputune/vcpupin/@cpuset | /domain/cputune/emulatorpin/@cpuset"
                        : "/domain/cputune/vcpupin/@cpuset", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      xmlChar *text = xmlNodeGetContent (set->nodeTab[i]);
      g_autoptr(GArray) cpus = read_cpuset ("cpuset", text != NULL ? (char *) text : "", error);

      xmlFree (text);

      if (cpus == NULL)
        return NULL;
      for (guint c = 0; c < cpus->len; c++)
        if (g_hash_table_add (seen, GUINT_TO_POINTER (g_array_index (cpus, guint, c))))
          g_array_append_val (out, g_array_index (cpus, guint, c));
    }
  return g_steal_pointer (&out);
}
