/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* XPath helpers for the domain XML parser (domain-xml-xpath.c). Every
 * expression is evaluated relative to @node (NULL: the context's). */
#pragma once

#include <glib.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

G_BEGIN_DECLS

xmlXPathObjectPtr gvd_xp_eval (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr);
/* The nodes @expr selects under @node; NULL when none. *@out_obj owns them. */
xmlNodeSetPtr gvd_xp_nodes (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr,
                            xmlXPathObjectPtr *out_obj);
xmlNodePtr gvd_xp_first (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr);
/* string(@expr) under @node; NULL when empty. */
char *gvd_xp_str (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr);
gboolean gvd_xp_exists (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr);
/* A decimal or 0x-hex number at @expr, bounded by @max; @fallback when the
 * attribute or element is absent. */
gboolean gvd_xp_num (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, guint64 max,
                     guint64 fallback, guint64 *out, GError **error);
/* libvirt scaled integers (<memory unit='KiB'>) → KiB. */
gboolean gvd_xp_kib (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr,
                     guint64 *out_kib, GError **error);
/* A bounded, network-free, entity-free parse of a libvirt <domain>. */
xmlDocPtr gvd_xp_read_doc (const char *xml, GError **error);
/* "0000:41:00.0" */
char *gvd_xp_format_pci (guint64 d, guint64 b, guint64 s, guint64 f);
/* <address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/> */
char *gvd_xp_read_pci (xmlXPathContextPtr ctx, xmlNodePtr addr, GError **error);

G_END_DECLS
