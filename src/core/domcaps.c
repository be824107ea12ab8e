/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parse libvirt's domain capabilities XML with libxml2 (tree walk, no I/O). */
#include "config.h"

#include "domcaps.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#include "errors.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

GvdDomainCaps *
gvd_domcaps_new (void)
{
  GvdDomainCaps *caps = g_new0 (GvdDomainCaps, 1);

  caps->loaders = g_new0 (char *, 1);
  return caps;
}

void
gvd_domcaps_free (GvdDomainCaps *caps)
{
  if (caps == NULL)
    return;
  g_free (caps->emulator);
  g_free (caps->domain_type);
  g_free (caps->machine);
  g_free (caps->arch);
  g_strfreev (caps->loaders);
  g_free (caps);
}

static gboolean
is_element (const xmlNode *node, const char *name)
{
  return node != NULL && node->type == XML_ELEMENT_NODE
         && g_strcmp0 ((const char *) node->name, name) == 0;
}

/* The first child element called @name, or NULL. */
static xmlNode *
child (const xmlNode *parent, const char *name)
{
  if (parent == NULL)
    return NULL;
  for (xmlNode *n = parent->children; n != NULL; n = n->next)
    if (is_element (n, name))
      return n;
  return NULL;
}

/* The text of element @node, trimmed; NULL when empty. */
static char *
text_of (const xmlNode *node)
{
  g_autofree char *raw = NULL;
  xmlChar *content;

  if (node == NULL)
    return NULL;
  content = xmlNodeGetContent (node);
  if (content == NULL)
    return NULL;
  raw = g_strdup ((const char *) content);
  xmlFree (content);
  g_strstrip (raw);
  if (*raw == '\0')
    return NULL;
  return g_steal_pointer (&raw);
}

static gboolean
attr_equals (const xmlNode *node, const char *attr, const char *value)
{
  xmlChar *v;
  gboolean equal;

  if (node == NULL)
    return FALSE;
  v = xmlGetProp (node, (const xmlChar *) attr);
  equal = v != NULL && g_strcmp0 ((const char *) v, value) == 0;
  xmlFree (v);
  return equal;
}

/* Whether <enum name='@name'> below @parent lists @value. */
static gboolean
enum_has (const xmlNode *parent, const char *name, const char *value)
{
  if (parent == NULL)
    return FALSE;
  for (xmlNode *e = parent->children; e != NULL; e = e->next)
    {
      if (!is_element (e, "enum") || !attr_equals (e, "name", name))
        continue;
      for (xmlNode *v = e->children; v != NULL; v = v->next)
        {
          g_autofree char *text = is_element (v, "value") ? text_of (v) : NULL;

          if (g_strcmp0 (text, value) == 0)
            return TRUE;
        }
    }
  return FALSE;
}

static void
parse_os (GvdDomainCaps *caps, const xmlNode *os)
{
  g_autoptr(GStrvBuilder) loaders = g_strv_builder_new ();
  xmlNode *loader;
  guint n = 0;

  caps->firmware_efi = enum_has (os, "firmware", "efi");
  loader = child (os, "loader");
  if (loader != NULL && attr_equals (loader, "supported", "yes"))
    {
      for (xmlNode *v = loader->children; v != NULL && n < GVD_DOMCAPS_MAX_LOADERS; v = v->next)
        {
          g_autofree char *path = is_element (v, "value") ? text_of (v) : NULL;

          if (path != NULL)
            {
              g_strv_builder_add (loaders, path);
              n++;
            }
        }
    }
  g_strfreev (caps->loaders);
  caps->loaders = g_strv_builder_end (loaders);
}

static void
parse_cpu (GvdDomainCaps *caps, const xmlNode *cpu)
{
  if (cpu == NULL)
    return;
  for (xmlNode *m = cpu->children; m != NULL; m = m->next)
    if (is_element (m, "mode") && attr_equals (m, "name", "host-passthrough"))
      caps->cpu_host_passthrough = attr_equals (m, "supported", "yes");
}

static void
parse_hostdev (GvdDomainCaps *caps, const xmlNode *hostdev)
{
  if (hostdev == NULL || !attr_equals (hostdev, "supported", "yes"))
    return;
  caps->hostdev_supported = TRUE;
  caps->hostdev_pci = enum_has (hostdev, "subsysType", "pci");
  caps->hostdev_vfio = enum_has (hostdev, "pciBackend", "vfio");
}

GvdDomainCaps *
gvd_domcaps_parse (const char *xml, gsize len, GError **error)
{
  g_autoptr(GvdDomainCaps) caps = NULL;
  g_autoptr(xmlDoc) doc = NULL;
  xmlNode *root;

  g_return_val_if_fail (xml != NULL || len == 0, NULL);

  if (len > GVD_DOMCAPS_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "domain capabilities of %" G_GSIZE_FORMAT " bytes exceed the limit of %d",
                   len, GVD_DOMCAPS_MAX_BYTES);
      return NULL;
    }
  /* NONET: never fetch anything; no NOENT: entities are not substituted. */
  doc = xmlReadMemory (xml, (int) len, "domcapabilities.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    {
      const xmlError *xerr = xmlGetLastError ();
      g_autofree char *why = g_strdup (xerr != NULL && xerr->message != NULL ? xerr->message
                                                                            : "parse error");

      g_strstrip (why);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "domain capabilities are not well-formed XML: %s", why);
      return NULL;
    }
  root = xmlDocGetRootElement (doc);
  if (!is_element (root, "domainCapabilities"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "not domain capabilities: the root element is <%s>",
                   root != NULL ? (const char *) root->name : "");
      return NULL;
    }

  caps = gvd_domcaps_new ();
  caps->emulator = text_of (child (root, "path"));
  caps->domain_type = text_of (child (root, "domain"));
  caps->machine = text_of (child (root, "machine"));
  caps->arch = text_of (child (root, "arch"));
  parse_os (caps, child (root, "os"));
  parse_cpu (caps, child (root, "cpu"));
  parse_hostdev (caps, child (child (root, "devices"), "hostdev"));
  return g_steal_pointer (&caps);
}

gboolean
gvd_domcaps_is_q35 (const GvdDomainCaps *caps)
{
  g_return_val_if_fail (caps != NULL, FALSE);
  return caps->machine != NULL && strstr (caps->machine, "q35") != NULL;
}

gboolean
gvd_domcaps_has_efi (const GvdDomainCaps *caps)
{
  g_return_val_if_fail (caps != NULL, FALSE);
  return caps->firmware_efi || (caps->loaders != NULL && caps->loaders[0] != NULL);
}
