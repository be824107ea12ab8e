/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Nova-shaped part of gpuvmd's domain metadata that existing libvirt
 * exporters label domains with: name, flavor, owner/project (pure). */
#include "config.h"

#include "domain-xml-compat.h"

/* Bytes of the model filter kept in a flavor name. */
#define MODEL_MAX 32

/* "H100 80GB HBM3" → "H100-80GB-HBM3": runs of other characters become
 * one '-', none at either end. */
static void
append_model (GString *out, const char *model)
{
  gsize start = out->len;
  gboolean dash = FALSE;

  for (const char *p = model; *p != '\0' && out->len - start < MODEL_MAX; p++)
    {
      if (g_ascii_isalnum (*p) || *p == '.')
        {
          if (dash && out->len > start)
            g_string_append_c (out, '-');
          dash = FALSE;
          g_string_append_c (out, *p);
        }
      else
        dash = TRUE;
    }
  if (out->len == start)
    g_string_append (out, "GPU");
}

char *
gvd_domain_flavor_name (const GvdInstanceSpec *spec)
{
  GString *out = g_string_new (NULL);
  guint gpus;

  g_return_val_if_fail (spec != NULL, NULL);
  gpus = spec->requested_gpus;
  if (gpus == 0 && spec->requested_devices != NULL)
    gpus = g_strv_length (spec->requested_devices);
  if (gpus > 0)
    {
      g_string_append_printf (out, "%ux", gpus);
      append_model (out, spec->requested_model != NULL ? spec->requested_model : "");
      g_string_append_c (out, '-');
    }
  g_string_append_printf (out, "%uc-", spec->vcpus);
  if (spec->memory_mib % 1024 == 0)
    g_string_append_printf (out, "%" G_GUINT64_FORMAT "g", spec->memory_mib / 1024);
  else
    g_string_append_printf (out, "%" G_GUINT64_FORMAT "m", spec->memory_mib);
  return g_string_free (out, FALSE);
}

void
gvd_domain_xml_render_compat (xmlNodePtr inst, xmlNsPtr ns, const GvdInstanceSpec *spec)
{
  g_autofree char *flavor = gvd_domain_flavor_name (spec);
  const char *project = spec->labels != NULL
                          ? g_hash_table_lookup (spec->labels, GVD_DOMAIN_XML_PROJECT_LABEL)
                          : NULL;
  xmlNodePtr node = xmlNewChild (inst, ns, BAD_CAST "flavor", NULL);

  xmlNewProp (node, BAD_CAST "name", BAD_CAST flavor);
  if (project != NULL && *project != '\0')
    {
      node = xmlNewChild (inst, ns, BAD_CAST "owner", NULL);
      xmlNewTextChild (node, ns, BAD_CAST "project", BAD_CAST project);
    }
}
