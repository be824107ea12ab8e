/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One device at a time: what hot-plug hands libvirt and writes into
 * gpuvmd's metadata, built with the create's renderer (pure). */
#include "config.h"

#include "domain-xml-device.h"

#include <string.h>
#include <libxml/tree.h>
#include <libxml/xpathInternals.h>

#include "domain-xml-disks.h"
#include "domain-xml-forward.h"
#include "domain-xml-render.h"
#include "domain-xml-xpath.h"
#include "domain-xml.h"
#include "errors.h"
#include "instance-request-disks.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlBuffer, xmlBufferFree)

static char *
dump_node (xmlDocPtr doc, xmlNodePtr node, GError **error)
{
  g_autoptr(xmlBuffer) buf = xmlBufferCreate ();

  if (xmlNodeDump (buf, doc, node, 0, 0) < 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "cannot write a device's XML");
      return NULL;
    }
  return g_strdup ((const char *) xmlBufferContent (buf));
}

/* A document whose root <devices> the renderer appends one device to. */
static xmlDocPtr
devices_doc (xmlNodePtr *out_devices)
{
  xmlDocPtr doc;

  gvd_domain_xml_init ();
  doc = xmlNewDoc (BAD_CAST "1.0");
  *out_devices = xmlNewDocNode (doc, NULL, BAD_CAST "devices", NULL);
  xmlDocSetRootElement (doc, *out_devices);
  return doc;
}

static void
place (xmlNodePtr dev, guint pci_bus)
{
  xmlNodePtr a;

  if (pci_bus == 0)
    return;
  a = xmlNewChild (dev, NULL, BAD_CAST "address", NULL);
  xmlNewProp (a, BAD_CAST "type", BAD_CAST "pci");
  xmlNewProp (a, BAD_CAST "domain", BAD_CAST "0x0000");
  {
    g_autofree char *bus = g_strdup_printf ("0x%02x", pci_bus);
    xmlNewProp (a, BAD_CAST "bus", BAD_CAST bus);
  }
  xmlNewProp (a, BAD_CAST "slot", BAD_CAST "0x00");
  xmlNewProp (a, BAD_CAST "function", BAD_CAST "0x0");
}

char *
gvd_domain_xml_disk_device (const GvdDiskSpec *d, guint pci_bus, GError **error)
{
  g_autoptr(xmlDoc) doc = NULL;
  xmlNodePtr devices, disk;

  g_return_val_if_fail (d != NULL && d->target != NULL, NULL);
  doc = devices_doc (&devices);
  disk = gvd_domain_xml_render_disk (devices, d, d->target);
  /* SCSI and SATA disks sit on their controller, not on a PCI bus. */
  if (d->bus == GVD_DISK_BUS_VIRTIO)
    place (disk, pci_bus);
  return dump_node (doc, disk, error);
}

char *
gvd_domain_xml_nic_device (const GvdNicSpec *nic, guint pci_bus, GError **error)
{
  g_autoptr(xmlDoc) doc = NULL;
  xmlNodePtr devices, iface;

  g_return_val_if_fail (nic != NULL && nic->mac != NULL, NULL);
  if (gvd_domain_xml_nic_forwards (nic))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "a NIC with forwarded ports is part of QEMU's command line and cannot be "
                   "hot-plugged");
      return NULL;
    }
  doc = devices_doc (&devices);
  iface = gvd_domain_xml_render_nic (devices, nic);
  place (iface, pci_bus);
  return dump_node (doc, iface, error);
}

char **
gvd_domain_xml_disk_targets (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc), "/domain/devices/disk/target", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *dev = gvd_xp_str (ctx, set->nodeTab[i], "@dev");

      if (dev != NULL)
        g_strv_builder_add (b, dev);
    }
  return g_strv_builder_end (b);
}

char *
gvd_domain_xml_pick_target (GvdDiskBus bus, char **used)
{
  g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_disk_spec_free);
  GvdDiskSpec *d;

  for (gsize i = 0; used != NULL && used[i] != NULL; i++)
    {
      d = gvd_disk_spec_new ();
      d->target = g_strdup (used[i]);
      g_ptr_array_add (disks, d);
    }
  d = gvd_disk_spec_new ();
  d->bus = bus;
  g_ptr_array_add (disks, d);
  gvd_disk_specs_assign_targets (disks);
  return g_steal_pointer (&d->target);
}

gboolean
gvd_domain_xml_find_device (const char *xml, gboolean is_disk, const char *key, char **out_alias,
                            GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set;

  if (doc == NULL)
    return FALSE;
  ctx = xmlXPathNewContext (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc),
                      is_disk ? "/domain/devices/disk" : "/domain/devices/interface", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *k = gvd_xp_str (ctx, set->nodeTab[i],
                                       is_disk ? "target/@dev" : "mac/@address");

      if (k == NULL || (is_disk ? strcmp (k, key) : g_ascii_strcasecmp (k, key)) != 0)
        continue;
      if (out_alias != NULL)
        *out_alias = gvd_xp_str (ctx, set->nodeTab[i], "alias/@name");
      return TRUE;
    }
  if (out_alias != NULL)
    *out_alias = NULL;
  return FALSE;
}

/* ---- metadata ------------------------------------------------------------------------------ */

/* The <instance> document of @metadata and its gpuvmd namespace (NULL:
 * none, as libvirt gives it). */
static xmlDocPtr
read_metadata (const char *metadata, xmlNsPtr *out_ns, GError **error)
{
  g_autoptr(xmlDoc) doc = NULL;
  gsize len = strlen (metadata);
  xmlNodePtr root;

  gvd_domain_xml_init ();
  /* As gvd_xp_read_doc: bounded, no network, no entities. */
  if (len <= GVD_DOMAIN_XML_MAX_BYTES)
    doc = xmlReadMemory (metadata, (int) len, "metadata.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "gpuvmd's metadata is not readable");
      return NULL;
    }
  root = xmlDocGetRootElement (doc);
  /* libvirt hands the element out without its namespace (and puts the
   * key's back on every element when it is set again); rendered metadata
   * has it. */
  if (root == NULL || !xmlStrEqual (root->name, BAD_CAST "instance")
      || (root->ns != NULL
          && (root->ns->href == NULL
              || !xmlStrEqual (root->ns->href, BAD_CAST GVD_DOMAIN_XML_NS))))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "the domain has no gpuvmd metadata");
      return NULL;
    }
  *out_ns = root->ns;
  return g_steal_pointer (&doc);
}

/* The child <@name> of @parent in @ns, created when @create. */
static xmlNodePtr
ns_child (xmlNodePtr parent, xmlNsPtr ns, const char *name, gboolean create)
{
  for (xmlNodePtr c = parent->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual (c->name, BAD_CAST name)
        && (ns == NULL ? c->ns == NULL : c->ns != NULL && xmlStrEqual (c->ns->href, ns->href)))
      return c;
  return create ? xmlNewChild (parent, ns, BAD_CAST name, NULL) : NULL;
}

/* Unlink every <@name> child of @list whose @attr is @value. */
static void
remove_entries (xmlNodePtr list, const char *name, const char *attr, const char *value)
{
  xmlNodePtr next;

  for (xmlNodePtr c = list != NULL ? list->children : NULL; c != NULL; c = next)
    {
      g_autofree xmlChar *v = NULL;

      next = c->next;
      if (c->type != XML_ELEMENT_NODE || !xmlStrEqual (c->name, BAD_CAST name))
        continue;
      v = xmlGetProp (c, BAD_CAST attr);
      if (v != NULL && g_ascii_strcasecmp ((const char *) v, value) == 0)
        {
          xmlUnlinkNode (c);
          xmlFreeNode (c);
        }
    }
}

/* As gvd_domain_xml_render_metadata hands it to libvirt: libvirt declares
 * its key's prefix itself and fails when the element declares it too. */
static char *
write_metadata (xmlDocPtr doc, GError **error)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);

  for (xmlNsPtr ns = root->nsDef; ns != NULL; ns = ns->next)
    if (ns->href != NULL && xmlStrEqual (ns->href, BAD_CAST GVD_DOMAIN_XML_NS))
      {
        xmlFree ((xmlChar *) ns->prefix);
        ns->prefix = xmlStrdup (BAD_CAST "g");
      }
  return dump_node (doc, root, error);
}

char *
gvd_domain_xml_metadata_add_disk (const char *metadata, const GvdDiskSpec *d, GError **error)
{
  xmlNsPtr ns = NULL;
  g_autoptr(xmlDoc) doc = read_metadata (metadata, &ns, error);
  xmlNodePtr disks;

  g_return_val_if_fail (d->name != NULL && d->target != NULL, NULL);
  if (doc == NULL)
    return NULL;
  disks = ns_child (xmlDocGetRootElement (doc), ns, "disks", TRUE);
  remove_entries (disks, "disk", "target", d->target);
  gvd_domain_xml_render_one_disk_meta (disks, ns, d);
  return write_metadata (doc, error);
}

char *
gvd_domain_xml_metadata_remove_disk (const char *metadata, const char *target, GError **error)
{
  xmlNsPtr ns = NULL;
  g_autoptr(xmlDoc) doc = read_metadata (metadata, &ns, error);

  if (doc == NULL)
    return NULL;
  remove_entries (ns_child (xmlDocGetRootElement (doc), ns, "disks", FALSE), "disk", "target",
                  target);
  return write_metadata (doc, error);
}

char *
gvd_domain_xml_metadata_add_nic (const char *metadata, const GvdNicSpec *nic, GError **error)
{
  xmlNsPtr ns = NULL;
  g_autoptr(xmlDoc) doc = read_metadata (metadata, &ns, error);
  xmlNodePtr nics;

  g_return_val_if_fail (nic->mac != NULL, NULL);
  if (doc == NULL)
    return NULL;
  nics = ns_child (xmlDocGetRootElement (doc), ns, "nics", TRUE);
  remove_entries (nics, "nic", "mac", nic->mac);
  gvd_domain_xml_render_nic_meta (nics, ns, nic);
  return write_metadata (doc, error);
}

char *
gvd_domain_xml_metadata_remove_nic (const char *metadata, const char *mac, GError **error)
{
  xmlNsPtr ns = NULL;
  g_autoptr(xmlDoc) doc = read_metadata (metadata, &ns, error);

  if (doc == NULL)
    return NULL;
  remove_entries (ns_child (xmlDocGetRootElement (doc), ns, "nics", FALSE), "nic", "mac", mac);
  return write_metadata (doc, error);
}
