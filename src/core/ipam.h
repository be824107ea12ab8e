/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest MAC and static IPv4 allocation from [network] cidr (pure: rebuilt
 * from domain metadata at startup with gvd_ipam_reserve). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Owners (instances, reservations) the allocator tracks at most. */
#define GVD_IPAM_MAX_OWNERS 65536
#define GVD_IPAM_OWNER_MAX 256
/* Derived MACs tried per allocation before giving up. */
#define GVD_IPAM_MAC_ATTEMPTS 256

typedef struct _GvdIpam GvdIpam;

/* @cidr: "10.0.0.0/24" or NULL for MAC-only allocation (user-mode
 * networking or DHCP). @gateway: an address inside @cidr that is never
 * handed out, or NULL. */
GvdIpam *gvd_ipam_new (const char *cidr, const char *gateway, GError **error);
void gvd_ipam_free (GvdIpam *ipam);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdIpam, gvd_ipam_free)

/* Whether addresses are allocated (a CIDR is configured). */
gboolean gvd_ipam_has_ipv4 (const GvdIpam *ipam);
/* "10.0.0.0/24", or NULL. */
const char *gvd_ipam_get_cidr (const GvdIpam *ipam);

/* The @attempt-th MAC derived from @seed: 52:54:00:xx:xx:xx (deterministic). */
char *gvd_ipam_derive_mac (const char *seed, guint attempt);

/* Record @owner's existing @mac and optional @ip ("a.b.c.d" or
 * "a.b.c.d/prefix"): recovery from domain metadata, or a static address a
 * client asked for. The IP must be a host address of the CIDR other than the
 * gateway. CONFLICT when another owner holds the MAC or IP (the message names
 * both owners), ALREADY_EXISTS when @owner already has an allocation,
 * INVALID_ARGUMENT for malformed or out-of-range values. */
gboolean gvd_ipam_reserve (GvdIpam *ipam, const char *owner, const char *mac, const char *ip,
                           GError **error);

/* A MAC derived from @seed (the instance UUID) that no one holds and, with a
 * CIDR, the lowest free address as "a.b.c.d/prefix" (@out_ip is set to NULL
 * without one). CONFLICT when the range is exhausted. */
gboolean gvd_ipam_allocate (GvdIpam *ipam, const char *owner, const char *seed, char **out_mac,
                            char **out_ip, GError **error);

/* One NIC's lease, as the NICs after an instance's first get them: @mac
 * when given (a client's choice; CONFLICT when another owner holds it),
 * else a free MAC derived from @seed; @ip when given (as with
 * gvd_ipam_reserve), else with @want_ip and a CIDR the lowest free address,
 * else none. @out_ip is NULL without an address. */
gboolean gvd_ipam_allocate_nic (GvdIpam *ipam, const char *owner, const char *seed,
                                const char *mac, const char *ip, gboolean want_ip,
                                char **out_mac, char **out_ip, GError **error);

/* NICs one owner may hold leases for (an instance's NICs). */
#define GVD_IPAM_MAX_NICS 16

/* The owner key of NIC @index of @owner: @owner itself for NIC 0 (so a
 * one-NIC instance and a reservation hold the lease they always held),
 * "<owner>#<index>" for the others. '#' is in no instance name or
 * reservation id, so the keys never meet another owner's. */
char *gvd_ipam_nic_owner (const char *owner, guint index);

/* Free @owner's MAC and IP and those of its other NICs (see
 * gvd_ipam_nic_owner); FALSE when it had none. */
gboolean gvd_ipam_release (GvdIpam *ipam, const char *owner);

/* Free only NIC @index's lease of @owner (a hot-unplugged NIC). */
gboolean gvd_ipam_release_nic (GvdIpam *ipam, const char *owner, guint index);

/* @owner's MAC and IP ("a.b.c.d/prefix" or NULL); borrowed. */
gboolean gvd_ipam_lookup (const GvdIpam *ipam, const char *owner, const char **out_mac,
                          const char **out_ip);

guint gvd_ipam_get_n_owners (const GvdIpam *ipam);

G_END_DECLS
