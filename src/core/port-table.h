/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host ports and loopback addresses for forwarded guest ports: which port
 * of [network] forward_ports and which address of [network]
 * forward_addresses each instance holds (pure: rebuilt from the domains'
 * forwards at recovery with gvd_port_table_take and _take_address). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether @port is free on the host right now (a bind test, src/host). */
typedef gboolean (*GvdPortProbe) (guint port, gpointer user_data);

typedef struct _GvdPortTable GvdPortTable;

/* Ports @lo..@hi inclusive (1 <= lo <= hi <= 65535); lo = hi = 0: no
 * range, every allocation fails. */
GvdPortTable *gvd_port_table_new (guint lo, guint hi);
void gvd_port_table_free (GvdPortTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdPortTable, gvd_port_table_free)

/* Record that @owner holds @port (recovery; ports outside the range are
 * recorded too, so a foreign forward is never handed out). CONFLICT naming
 * both owners when another owner holds it. */
gboolean gvd_port_table_take (GvdPortTable *table, const char *owner, guint port,
                              GError **error);

/* @n ports for @owner: the lowest ones of the range that nobody holds and
 * @probe (may be NULL) finds free on the host. Fills @out_ports (n
 * entries). CONFLICT when the range has fewer than @n such ports; nothing is
 * held then. */
gboolean gvd_port_table_allocate (GvdPortTable *table, const char *owner, guint n,
                                  GvdPortProbe probe, gpointer user_data, guint *out_ports,
                                  GError **error);

/* The addresses @first..@last inclusive (host byte order, first <= last)
 * that gvd_port_table_allocate_address hands out, one per owner; without a
 * call, every address allocation fails. */
void gvd_port_table_set_addresses (GvdPortTable *table, guint32 first, guint32 last);

/* Record that @owner listens on @address (recovery). Addresses outside the
 * range are not recorded (they are never handed out: an instance made
 * before the range, on 127.0.0.1, or a foreign forward). CONFLICT naming
 * both owners when another owner holds it. */
gboolean gvd_port_table_take_address (GvdPortTable *table, const char *owner, guint32 address,
                                      GError **error);

/* An address for @owner: the one it holds already, else the lowest one of
 * the range that nobody holds. CONFLICT when none is left. */
gboolean gvd_port_table_allocate_address (GvdPortTable *table, const char *owner,
                                          guint32 *out_address, GError **error);

/* Who holds @address, or NULL; borrowed. */
const char *gvd_port_table_address_owner (const GvdPortTable *table, guint32 address);
guint gvd_port_table_get_n_addresses (const GvdPortTable *table);

/* Free every port and address @owner holds; the number of ports freed. */
guint gvd_port_table_release (GvdPortTable *table, const char *owner);

/* Free every port and address whose owner starts with @prefix (recovery
 * rebuilds those of domains that are not gpuvmd's); the number of ports
 * freed. */
guint gvd_port_table_release_prefix (GvdPortTable *table, const char *prefix);

/* Who holds @port, or NULL; borrowed. */
const char *gvd_port_table_owner (const GvdPortTable *table, guint port);
guint gvd_port_table_get_n_held (const GvdPortTable *table);

G_END_DECLS
