/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What gpuvmd records about data disks in its domain metadata (name, keep,
 * whether gpuvmd made the volume, its size), keyed by target (pure). */
#pragma once

#include <glib.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "instance-spec.h"

G_BEGIN_DECLS

/* <disks><disk target="vdb" name="data" size-bytes="…" created="yes"
 * keep="no"/></disks> under gpuvmd's <instance> element @inst (namespace
 * @ns), for every disk with a name and a target; nothing without any. */
void gvd_domain_xml_render_disk_meta (xmlNodePtr inst, xmlNsPtr ns, const GvdInstanceSpec *spec);

/* One data disk's <disk> entry under <disks> (@d has a name and a target). */
void gvd_domain_xml_render_one_disk_meta (xmlNodePtr disks, xmlNsPtr ns, const GvdDiskSpec *d);

/* The reverse, onto @spec's disks (already parsed from <devices>): an entry
 * naming a target no disk has is ignored. */
gboolean gvd_domain_xml_parse_disk_meta (xmlXPathContextPtr ctx, xmlNodePtr inst,
                                         GvdInstanceSpec *spec, GError **error);

/* gpuvmd's whole <instance> metadata element for @spec, as a string (for
 * virDomainSetMetadata after a change such as a resize), its namespace
 * under the prefix "g" (libvirt adds its key's own). */
char *gvd_domain_xml_render_metadata (const GvdInstanceSpec *spec, GError **error);

G_END_DECLS
