/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A user-mode NIC with forwarded ports (domain-xml-forward.c). Debian 12's
 * libvirt 9.0 refuses <backend type='passt'/> (its Disable-passt-support
 * patch) and has no XML for QEMU's hostfwd, so such a NIC is QEMU's own
 * -netdev user with hostfwd plus a virtio-net-pci device, on QEMU's command
 * line; every other NIC stays an <interface>. */
#pragma once

#include <glib.h>
#include <libxml/xpath.h>

#include "domain-xml-render.h"

G_BEGIN_DECLS

/* At most this many forwarded ports per NIC. */
#define GVD_DOMAIN_XML_MAX_FORWARDS 16
/* The ids the renderer gives QEMU objects, followed by the NIC's index. */
#define GVD_DOMAIN_XML_FORWARD_NETDEV "gvdnet"
#define GVD_DOMAIN_XML_FORWARD_DEVICE "gvdnic"

/* Whether @nic is rendered on QEMU's command line. */
gboolean gvd_domain_xml_nic_forwards (const GvdNicSpec *nic);

/* Ports in range, no guest or host port twice, user mode only. */
gboolean gvd_domain_xml_validate_forwards (const GvdInstanceSpec *spec, GError **error);

/* Append @nic's -netdev and -device to r->qemu_commandline (created,
 * detached, on first use: the caller attaches it to <domain>). */
void gvd_domain_xml_render_forward_nic (Render *r, const GvdNicSpec *nic, guint index);

/* Read the NICs gvd_domain_xml_render_forward_nic() wrote from <domain>'s
 * <qemu:commandline> (prefix "q" registered in @ctx) into spec->nics. */
gboolean gvd_domain_xml_parse_forward_nics (xmlXPathContextPtr ctx, xmlNodePtr root,
                                            GvdInstanceSpec *spec, GError **error);

G_END_DECLS
