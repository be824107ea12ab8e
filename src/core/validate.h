/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One validator and one limit per user-given quantity: instance names, MAC
 * addresses, IPv4 addresses and CIDRs (pure). Every route, parser and check
 * uses these; PCI addresses live in pci-address.h. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An instance name is the suffix of its libvirt domain name ([libvirt]
 * domain_prefix, at most 32, + name), of its volume names (+ "-root.qcow2",
 * "-seed.iso": within the 128 of a volume name) and the guest's hostname, an
 * RFC 1123 label of at most 63: the hostname is the binding bound. */
#define GVD_INSTANCE_NAME_MAX 63
#define GVD_INSTANCE_NAME_RULE                                                    \
  "1 to " G_STRINGIFY (GVD_INSTANCE_NAME_MAX) " lower-case letters, digits or '-', " \
  "starting with a letter or digit and not ending with '-'"

/* Lower-case letters, digits and '-', starting with a letter or digit, not
 * ending with '-', 1 to GVD_INSTANCE_NAME_MAX bytes. */
gboolean gvd_instance_name_valid (const char *name);
/* The same, as INVALID_ARGUMENT naming @field. */
gboolean gvd_validate_instance_name (const char *field, const char *name, GError **error);

/* A guest MAC: six hex octets separated by ':' (either case), unicast (bit 0
 * of the first octet clear: a multicast source address is dropped by every
 * switch), not all zero. Locally administered (52:54:00:…, what gpuvmd
 * generates) and vendor (universally administered) addresses are both
 * accepted: a guest may need to keep its licensed vendor MAC.
 * @out_canonical (may be NULL) gets the lower-case form. */
#define GVD_MAC_RULE "six hex octets like 52:54:00:12:34:56, unicast (first octet even)"
gboolean gvd_validate_mac (const char *field, const char *text, char **out_canonical,
                           GError **error);

/* Dotted-quad IPv4: four decimal octets 0-255 without leading zeros (no
 * octal or hex forms, no short forms like "10.1"). @out_addr (may be NULL)
 * gets it in host byte order. */
gboolean gvd_validate_ipv4 (const char *field, const char *text, guint32 *out_addr,
                            GError **error);

/* "a.b.c.d/p", an address with a prefix from @min_prefix to @max_prefix
 * (host bits allowed: an interface's address). */
gboolean gvd_validate_ipv4_cidr (const char *field, const char *text, guint min_prefix,
                                 guint max_prefix, guint32 *out_addr, guint *out_prefix,
                                 GError **error);

/* The same, for a network: the host bits must be zero. */
gboolean gvd_validate_ipv4_network (const char *field, const char *text, guint min_prefix,
                                    guint max_prefix, guint32 *out_network, guint *out_prefix,
                                    GError **error);

/* Host-order IPv4 → "a.b.c.d". */
char *gvd_ipv4_to_string (guint32 addr);

G_END_DECLS
