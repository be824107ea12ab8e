/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The renderer's internals: its context and libxml2 tree helpers, shared by
 * domain-xml.c (domain, metadata, machine) and domain-xml-devices.c. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "domain-xml-priv.h"

G_BEGIN_DECLS

typedef struct {
  const GvdInstanceSpec *spec;
  xmlNsPtr qemu_ns;
  xmlNodePtr qemu_commandline; /* created on first use */
  xmlNodePtr qemu_override;
  GHashTable *targets;         /* disk target names in use */
  guint next_vd, next_sd;
  GvdDomainLayout layout;      /* from validation */
} Render;

static inline void
render_clear (Render *r)
{
  g_clear_pointer (&r->targets, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Render, render_clear)


/* ---- tree helpers ---------------------------------------------------------- */

static inline xmlNodePtr
child (xmlNodePtr parent, xmlNsPtr ns, const char *name)
{
  return xmlNewChild (parent, ns, BAD_CAST name, NULL);
}

/* xmlNewTextChild escapes @text; xmlNewChild would parse entities in it. */
static inline xmlNodePtr
text_child (xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
  return xmlNewTextChild (parent, ns, BAD_CAST name, BAD_CAST text);
}

static inline void
prop (xmlNodePtr node, const char *name, const char *value)
{
  xmlNewProp (node, BAD_CAST name, BAD_CAST value);
}

static inline void G_GNUC_PRINTF (3, 4)
propf (xmlNodePtr node, const char *name, const char *format, ...)
{
  g_autofree char *value = NULL;
  va_list ap;

  va_start (ap, format);
  value = g_strdup_vprintf (format, ap);
  va_end (ap);
  prop (node, name, value);
}

static inline xmlNodePtr G_GNUC_PRINTF (4, 5)
text_childf (xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *format, ...)
{
  g_autofree char *value = NULL;
  va_list ap;

  va_start (ap, format);
  value = g_strdup_vprintf (format, ap);
  va_end (ap);
  return text_child (parent, ns, name, value);
}

static inline void
pci_address (xmlNodePtr parent, guint bus, guint slot, guint function, gboolean multifunction)
{
  xmlNodePtr a = child (parent, NULL, "address");

  prop (a, "type", "pci");
  prop (a, "domain", "0x0000");
  propf (a, "bus", "0x%02x", bus);
  propf (a, "slot", "0x%02x", slot);
  propf (a, "function", "0x%x", function);
  if (multifunction)
    prop (a, "multifunction", "on");
}

/* domain-xml-cpu.c: <cputune> with a <vcpupin> per vCPU and the
 * <emulatorpin>, when the spec has pins. */
void gvd_domain_xml_render_cputune (xmlNodePtr domain, const GvdInstanceSpec *spec);

/* domain-xml-devices.c: one <disk> (at @target) or <interface> appended to
 * @devices; the create's renderer and hot-plug (domain-xml-device.c) both
 * use them, so a device is the same XML whenever it is added. A NIC with
 * port forwards is not an <interface> (domain-xml-forward.c). */
xmlNodePtr gvd_domain_xml_render_disk (xmlNodePtr devices, const GvdDiskSpec *d,
                                       const char *target);
xmlNodePtr gvd_domain_xml_render_nic (xmlNodePtr devices, const GvdNicSpec *nic);
/* domain-xml.c: one NIC's <nic> entry of gpuvmd's metadata under @nics. */
void gvd_domain_xml_render_nic_meta (xmlNodePtr nics, xmlNsPtr ns, const GvdNicSpec *nic);

/* domain-xml-devices.c: <devices>' children, in order (disks, controllers,
 * shares, NICs, consoles, hostdevs). */
void gvd_domain_xml_render_devices (Render *r, xmlNodePtr devices);

G_END_DECLS
