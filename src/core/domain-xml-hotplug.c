/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Free PCIe hot-plug slots in a q35 domain's XML (pure); see the header. */
#include "config.h"

#include "domain-xml-hotplug.h"

#include <libxml/tree.h>

#include "domain-xml-xpath.h"
#include "errors.h"
#include "xml-util.h"

/* The highest pci controller index, and whether bus @b carries a device. */
typedef struct {
  guint64 max_index;
  GHashTable *busy;     /* bus numbers (GUINT_TO_POINTER (bus + 1)) */
} Buses;

static gboolean
read_buses (xmlXPathContextPtr ctx, xmlNodePtr root, Buses *out, GError **error)
{
  g_autoptr(xmlXPathObject) addrs = NULL;
  g_autoptr(xmlXPathObject) ctrls = NULL;
  xmlNodeSetPtr set;

  out->max_index = 0;
  out->busy = g_hash_table_new (NULL, NULL);
  /* A device's own guest address is a direct child; a hostdev's host
   * address (source/address) says nothing about the guest's buses. */
  set = gvd_xp_nodes (ctx, root, "devices/*/address[@type='pci']", &addrs);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      guint64 bus;

      if (!gvd_xp_num (ctx, set->nodeTab[i], "@bus", 0xff, 0, &bus, error))
        return FALSE;
      g_hash_table_add (out->busy, GUINT_TO_POINTER ((guint) bus + 1));
    }
  set = gvd_xp_nodes (ctx, root, "devices/controller[@type='pci'][@index]", &ctrls);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      guint64 index;

      if (!gvd_xp_num (ctx, set->nodeTab[i], "@index", 0xff, 0, &index, error))
        return FALSE;
      out->max_index = MAX (out->max_index, index);
    }
  return TRUE;
}

static gint
compare_bus (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

GArray *
gvd_domain_xml_free_root_ports (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) ports = NULL;
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (guint));
  Buses buses = { 0 };
  xmlNodePtr root;
  xmlNodeSetPtr set;
  gboolean ok;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  root = xmlDocGetRootElement (doc);
  ok = read_buses (ctx, root, &buses, error);
  set = ok ? gvd_xp_nodes (ctx, root, "devices/controller[@type='pci'][@model='pcie-root-port'][@index]",
                           &ports)
           : NULL;
  for (int i = 0; ok && set != NULL && i < set->nodeNr; i++)
    {
      guint64 index;

      ok = gvd_xp_num (ctx, set->nodeTab[i], "@index", 0xff, 0, &index, error);
      if (ok && index > 0 && !g_hash_table_contains (buses.busy, GUINT_TO_POINTER ((guint) index + 1)))
        {
          guint bus = (guint) index;
          g_array_append_val (out, bus);
        }
    }
  g_hash_table_unref (buses.busy);
  if (!ok)
    return NULL;
  g_array_sort (out, compare_bus);
  return g_steal_pointer (&out);
}

char *
gvd_domain_xml_add_root_ports (const char *xml, guint n, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) pci = NULL;
  Buses buses = { 0 };
  xmlNodePtr root, devices, after = NULL;
  xmlNodeSetPtr set;
  xmlChar *mem = NULL;
  int len = 0;
  char *out;
  gboolean ok;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  root = xmlDocGetRootElement (doc);
  devices = gvd_xp_first (ctx, root, "devices");
  if (devices == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "domain XML has no <devices>");
      return NULL;
    }
  ok = read_buses (ctx, root, &buses, error);
  g_hash_table_unref (buses.busy);
  if (!ok)
    return NULL;
  if (buses.max_index + n > 0xff)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "no PCI bus numbers left for %u more root ports", n);
      return NULL;
    }
  set = gvd_xp_nodes (ctx, devices, "controller[@type='pci']", &pci);
  if (set != NULL && set->nodeNr > 0)
    after = set->nodeTab[set->nodeNr - 1];
  for (guint i = 0; i < n; i++)
    {
      xmlNodePtr node = xmlNewNode (NULL, BAD_CAST "controller");
      g_autofree char *index = g_strdup_printf ("%u", (guint) buses.max_index + 1 + i);

      xmlNewProp (node, BAD_CAST "type", BAD_CAST "pci");
      xmlNewProp (node, BAD_CAST "index", BAD_CAST index);
      xmlNewProp (node, BAD_CAST "model", BAD_CAST "pcie-root-port");
      if (after != NULL)
        after = xmlAddNextSibling (after, node);
      else
        after = xmlAddChild (devices, node);
    }
  xmlDocDumpMemoryEnc (doc, &mem, &len, "UTF-8");
  if (mem == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "cannot serialise the domain XML");
      return NULL;
    }
  out = g_strndup ((const char *) mem, (gsize) len);
  xmlFree (mem);
  return out;
}
