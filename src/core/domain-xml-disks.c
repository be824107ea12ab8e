/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Data disks in gpuvmd's domain metadata: recovery and delete learn from it
 * which volumes gpuvmd made and which of them outlive the instance. */
#include "config.h"

#include "domain-xml-disks.h"

#include <libxml/xpathInternals.h>

#include "domain-xml.h"
#include "domain-xml-xpath.h"
#include "errors.h"
#include "xml-util.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlBuffer, xmlBufferFree)

void
gvd_domain_xml_render_one_disk_meta (xmlNodePtr disks, xmlNsPtr ns, const GvdDiskSpec *d)
{
  xmlNodePtr e = xmlNewChild (disks, ns, BAD_CAST "disk", NULL);

  xmlNewProp (e, BAD_CAST "target", BAD_CAST d->target);
  xmlNewProp (e, BAD_CAST "name", BAD_CAST d->name);
  if (d->size_bytes > 0)
    {
      g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT, d->size_bytes);
      xmlNewProp (e, BAD_CAST "size-bytes", BAD_CAST size);
    }
  xmlNewProp (e, BAD_CAST "created", BAD_CAST (d->created ? "yes" : "no"));
  xmlNewProp (e, BAD_CAST "keep", BAD_CAST (d->keep ? "yes" : "no"));
}

void
gvd_domain_xml_render_disk_meta (xmlNodePtr inst, xmlNsPtr ns, const GvdInstanceSpec *spec)
{
  xmlNodePtr node = NULL;

  for (guint i = 0; i < spec->disks->len; i++)
    {
      const GvdDiskSpec *d = g_ptr_array_index (spec->disks, i);

      if (d->name == NULL || d->target == NULL)
        continue;
      if (node == NULL)
        node = xmlNewChild (inst, ns, BAD_CAST "disks", NULL);
      gvd_domain_xml_render_one_disk_meta (node, ns, d);
    }
}

gboolean
gvd_domain_xml_parse_disk_meta (xmlXPathContextPtr ctx, xmlNodePtr inst, GvdInstanceSpec *spec,
                                GError **error)
{
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set = gvd_xp_nodes (ctx, inst, "g:disks/g:disk", &obj);

  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *target = gvd_xp_str (ctx, set->nodeTab[i], "@target");
      g_autofree char *name = gvd_xp_str (ctx, set->nodeTab[i], "@name");
      g_autofree char *created = gvd_xp_str (ctx, set->nodeTab[i], "@created");
      g_autofree char *keep = gvd_xp_str (ctx, set->nodeTab[i], "@keep");
      guint64 size;

      if (target == NULL || name == NULL)
        continue;
      if (!gvd_xp_num (ctx, set->nodeTab[i], "@size-bytes", G_MAXUINT64, 0, &size, error))
        return FALSE;
      for (guint j = 0; j < spec->disks->len; j++)
        {
          GvdDiskSpec *d = g_ptr_array_index (spec->disks, j);

          if (g_strcmp0 (d->target, target) != 0 || d->name != NULL)
            continue;
          d->name = g_steal_pointer (&name);
          d->size_bytes = size;
          d->created = g_strcmp0 (created, "yes") == 0;
          d->keep = g_strcmp0 (keep, "yes") == 0;
          break;
        }
    }
  return TRUE;
}

char *
gvd_domain_xml_render_metadata (const GvdInstanceSpec *spec, GError **error)
{
  g_autofree char *xml = gvd_domain_xml_render (spec, error);
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlBuffer) buf = NULL;
  xmlNodePtr inst;

  if (xml == NULL || (doc = gvd_xp_read_doc (xml, error)) == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  xmlXPathRegisterNs (ctx, BAD_CAST "g", BAD_CAST GVD_DOMAIN_XML_NS);
  inst = gvd_xp_first (ctx, xmlDocGetRootElement (doc), "metadata/g:instance");
  if (inst == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "the rendered domain has no metadata");
      return NULL;
    }
  /* libvirt declares its key's prefix on the element it is given and fails
   * when the element already declares it: hand the same namespace over
   * under another prefix (readers match the URI). */
  if (inst->nsDef == NULL || inst->nsDef->prefix == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "the metadata has no namespace");
      return NULL;
    }
  xmlFree ((xmlChar *) inst->nsDef->prefix);
  inst->nsDef->prefix = xmlStrdup (BAD_CAST "g");
  buf = xmlBufferCreate ();
  if (xmlNodeDump (buf, doc, inst, 0, 0) < 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "cannot write the metadata");
      return NULL;
    }
  return g_strdup ((const char *) xmlBufferContent (buf));
}
