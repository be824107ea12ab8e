/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* XPath helpers for reading domain XML back, and the two readers that work
 * on any domain (hostdev addresses, disk sources). */
#include "config.h"

#include "domain-xml.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "domain-xml-priv.h"
#include "domain-xml-xpath.h"
#include "errors.h"

#define INVALID(...)                                                          \
  G_STMT_START {                                                              \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__);   \
    return FALSE;                                                             \
  } G_STMT_END

xmlXPathObjectPtr
gvd_xp_eval (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  ctx->node = node;
  return xmlXPathEvalExpression (BAD_CAST expr, ctx);
}

/* The nodes @expr selects under @node; NULL when none. The object owns them. */
xmlNodeSetPtr
gvd_xp_nodes (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, xmlXPathObjectPtr *out_obj)
{
  xmlXPathObjectPtr obj = gvd_xp_eval (ctx, node, expr);

  *out_obj = obj;
  if (obj == NULL || obj->type != XPATH_NODESET || obj->nodesetval == NULL
      || obj->nodesetval->nodeNr == 0)
    return NULL;
  return obj->nodesetval;
}

xmlNodePtr
gvd_xp_first (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set = gvd_xp_nodes (ctx, node, expr, &obj);

  return set != NULL ? set->nodeTab[0] : NULL;
}

/* string(@expr) under @node; NULL when empty. */
char *
gvd_xp_str (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  g_autofree char *wrapped = g_strdup_printf ("string(%s)", expr);
  g_autoptr(xmlXPathObject) obj = gvd_xp_eval (ctx, node, wrapped);

  if (obj == NULL || obj->type != XPATH_STRING || obj->stringval == NULL
      || obj->stringval[0] == '\0')
    return NULL;
  return g_strdup ((const char *) obj->stringval);
}

gboolean
gvd_xp_exists (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  return gvd_xp_first (ctx, node, expr) != NULL;
}

/* A decimal or 0x-hex number at @expr, bounded by @max; @fallback when the
 * attribute or element is absent. */
gboolean
gvd_xp_num (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, guint64 max, guint64 fallback,
     guint64 *out_value, GError **error)
{
  g_autofree char *s = gvd_xp_str (ctx, node, expr);
  gboolean hex;

  if (s == NULL)
    {
      *out_value = fallback;
      return TRUE;
    }
  g_strstrip (s);
  hex = g_str_has_prefix (s, "0x");
  if (!g_ascii_string_to_unsigned (hex ? s + 2 : s, hex ? 16 : 10, 0, max, out_value, NULL))
    INVALID ("%s: '%s' is not a number up to %" G_GUINT64_FORMAT, expr, s, max);
  return TRUE;
}

/* libvirt scaled integers (<memory unit='KiB'>) → KiB. */
gboolean
gvd_xp_kib (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, guint64 *out_kib, GError **error)
{
  g_autofree char *unit_expr = g_strdup_printf ("%s/@unit", expr);
  g_autofree char *unit = gvd_xp_str (ctx, node, unit_expr);
  guint64 value, shift;

  if (!gvd_xp_num (ctx, node, expr, G_MAXUINT64 >> 20, 0, &value, error))
    return FALSE;
  if (unit == NULL || g_ascii_strcasecmp (unit, "KiB") == 0 || g_ascii_strcasecmp (unit, "k") == 0)
    shift = 0;
  else if (g_ascii_strcasecmp (unit, "MiB") == 0 || g_ascii_strcasecmp (unit, "M") == 0)
    shift = 10;
  else if (g_ascii_strcasecmp (unit, "GiB") == 0 || g_ascii_strcasecmp (unit, "G") == 0)
    shift = 20;
  else if (g_ascii_strcasecmp (unit, "b") == 0 || g_ascii_strcasecmp (unit, "bytes") == 0)
    {
      *out_kib = value / 1024;
      return TRUE;
    }
  else
    INVALID ("%s: unit '%s' not understood", expr, unit);
  *out_kib = value << shift;
  return TRUE;
}

xmlDocPtr
gvd_xp_read_doc (const char *xml, GError **error)
{
  gsize len;
  xmlDocPtr doc;
  xmlNodePtr root;

  g_return_val_if_fail (xml != NULL, NULL);
  gvd_domain_xml_init ();
  len = strlen (xml);
  if (len > GVD_DOMAIN_XML_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "domain XML larger than %u bytes", GVD_DOMAIN_XML_MAX_BYTES);
      return NULL;
    }
  /* No network, no entity substitution (XXE), no noise on stderr. */
  doc = xmlReadMemory (xml, (int) len, "domain.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    {
      const xmlError *e = xmlGetLastError ();
      g_autofree char *why = g_strdup (e != NULL && e->message != NULL ? e->message : "");
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "domain XML is not well-formed%s%s", *why != '\0' ? ": " : "",
                   g_strchomp (why));
      return NULL;
    }
  root = xmlDocGetRootElement (doc);
  if (root == NULL || xmlStrcmp (root->name, BAD_CAST "domain") != 0)
    {
      xmlFreeDoc (doc);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "not a libvirt <domain>");
      return NULL;
    }
  return doc;
}

char *
gvd_xp_format_pci (guint64 d, guint64 b, guint64 s, guint64 f)
{
  return g_strdup_printf ("%04x:%02x:%02x.%x", (guint) d, (guint) b, (guint) s, (guint) f);
}

/* <address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/> */
char *
gvd_xp_read_pci (xmlXPathContextPtr ctx, xmlNodePtr addr, GError **error)
{
  guint64 d, b, s, f;

  if (!gvd_xp_num (ctx, addr, "@domain", 0xffff, 0, &d, error)
      || !gvd_xp_num (ctx, addr, "@bus", 0xff, 0, &b, error)
      || !gvd_xp_num (ctx, addr, "@slot", 0x1f, 0, &s, error)
      || !gvd_xp_num (ctx, addr, "@function", 7, 0, &f, error))
    return NULL;
  return gvd_xp_format_pci (d, b, s, f);
}

char **
gvd_domain_xml_hostdev_addresses (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc),
               "/domain/devices/hostdev[@type='pci']/source/address"
               " | /domain/devices/interface[@type='hostdev']/source/address[@type='pci']",
               &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      char *addr = gvd_xp_read_pci (ctx, set->nodeTab[i], error);
      if (addr == NULL)
        return NULL;
      g_ptr_array_add (out, addr);
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

char **
gvd_domain_xml_mdev_uuids (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GStrvBuilder) out = g_strv_builder_new ();
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc),
                      "/domain/devices/hostdev[@type='mdev']/source/address", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *uuid = gvd_xp_str (ctx, set->nodeTab[i], "@uuid");

      if (uuid != NULL && g_uuid_string_is_valid (uuid))
        g_strv_builder_add (out, uuid);
    }
  return g_strv_builder_end (out);
}

char **
gvd_domain_xml_disk_sources (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc), "/domain/devices/disk/source", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *pool = gvd_xp_str (ctx, set->nodeTab[i], "@pool");
      g_autofree char *volume = gvd_xp_str (ctx, set->nodeTab[i], "@volume");
      g_autofree char *file = gvd_xp_str (ctx, set->nodeTab[i], "@file");
      g_autofree char *dev = gvd_xp_str (ctx, set->nodeTab[i], "@dev");

      if (pool != NULL && volume != NULL)
        g_ptr_array_add (out, g_strconcat (pool, "/", volume, NULL));
      if (file != NULL)
        g_ptr_array_add (out, g_steal_pointer (&file));
      if (dev != NULL)
        g_ptr_array_add (out, g_steal_pointer (&dev));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}
