/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host port and loopback address allocation for forwarded guest ports (see
 * port-table.h). */
#include "config.h"

#include "port-table.h"

#include "errors.h"
#include "validate.h"

struct _GvdPortTable {
  guint lo, hi;
  GHashTable *owners; /* GUINT_TO_POINTER (port) → owner (owned string) */
  guint32 addr_first, addr_last; /* 0, 0: no address range */
  GHashTable *addr_owners; /* GUINT_TO_POINTER (address) → owner (owned string) */
};

G_STATIC_ASSERT (sizeof (guint32) <= sizeof (gpointer));

GvdPortTable *
gvd_port_table_new (guint lo, guint hi)
{
  GvdPortTable *table;

  g_return_val_if_fail (lo <= hi && hi <= 65535 && (lo > 0 || hi == 0), NULL);
  table = g_new0 (GvdPortTable, 1);
  table->lo = lo;
  table->hi = hi;
  table->owners = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  table->addr_owners = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  return table;
}

void
gvd_port_table_free (GvdPortTable *table)
{
  if (table == NULL)
    return;
  g_hash_table_unref (table->owners);
  g_hash_table_unref (table->addr_owners);
  g_free (table);
}

gboolean
gvd_port_table_take (GvdPortTable *table, const char *owner, guint port, GError **error)
{
  const char *holder;

  g_return_val_if_fail (table != NULL && owner != NULL, FALSE);
  if (port == 0 || port > 65535)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "%u is not a TCP port", port);
      return FALSE;
    }
  holder = g_hash_table_lookup (table->owners, GUINT_TO_POINTER (port));
  if (holder != NULL && !g_str_equal (holder, owner))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "host port %u is held by '%s', wanted by '%s'", port, holder, owner);
      return FALSE;
    }
  g_hash_table_replace (table->owners, GUINT_TO_POINTER (port), g_strdup (owner));
  return TRUE;
}

gboolean
gvd_port_table_allocate (GvdPortTable *table, const char *owner, guint n, GvdPortProbe probe,
                         gpointer user_data, guint *out_ports, GError **error)
{
  g_autofree guint *found = g_new0 (guint, MAX (n, 1));
  guint got = 0;

  g_return_val_if_fail (table != NULL && owner != NULL && (n == 0 || out_ports != NULL), FALSE);
  for (guint port = table->lo; port != 0 && port <= table->hi && got < n; port++)
    {
      if (g_hash_table_contains (table->owners, GUINT_TO_POINTER (port)))
        continue;
      /* Something else on the host (another program, a domain gpuvmd does
       * not know) may hold it: QEMU would then fail to start. */
      if (probe != NULL && !probe (port, user_data))
        continue;
      found[got++] = port;
    }
  if (got < n)
    {
      if (table->hi == 0)
        g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                     "'ports': port forwarding is off ([network] forward_ports is empty)");
      else
        g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                     "'ports': no %u free host port(s) left in [network] forward_ports %u-%u",
                     n, table->lo, table->hi);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      g_hash_table_replace (table->owners, GUINT_TO_POINTER (found[i]), g_strdup (owner));
      out_ports[i] = found[i];
    }
  return TRUE;
}

void
gvd_port_table_set_addresses (GvdPortTable *table, guint32 first, guint32 last)
{
  g_return_if_fail (table != NULL && first != 0 && first <= last);
  table->addr_first = first;
  table->addr_last = last;
}

gboolean
gvd_port_table_take_address (GvdPortTable *table, const char *owner, guint32 address,
                             GError **error)
{
  const char *holder;

  g_return_val_if_fail (table != NULL && owner != NULL, FALSE);
  if (table->addr_last == 0 || address < table->addr_first || address > table->addr_last)
    return TRUE;
  holder = g_hash_table_lookup (table->addr_owners, GUINT_TO_POINTER (address));
  if (holder != NULL && !g_str_equal (holder, owner))
    {
      g_autofree char *text = gvd_ipv4_to_string (address);

      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "forward address %s is held by '%s', wanted by '%s'", text, holder, owner);
      return FALSE;
    }
  g_hash_table_replace (table->addr_owners, GUINT_TO_POINTER (address), g_strdup (owner));
  return TRUE;
}

gboolean
gvd_port_table_allocate_address (GvdPortTable *table, const char *owner, guint32 *out_address,
                                 GError **error)
{
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (table != NULL && owner != NULL && out_address != NULL, FALSE);
  g_hash_table_iter_init (&iter, table->addr_owners);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (g_str_equal (value, owner))
      {
        *out_address = GPOINTER_TO_UINT (key);
        return TRUE;
      }
  /* The walk ends after at most (addresses held + 1) steps. */
  for (guint64 a = table->addr_first; table->addr_last != 0 && a <= table->addr_last; a++)
    {
      if (g_hash_table_contains (table->addr_owners, GUINT_TO_POINTER ((guint32) a)))
        continue;
      g_hash_table_replace (table->addr_owners, GUINT_TO_POINTER ((guint32) a), g_strdup (owner));
      *out_address = (guint32) a;
      return TRUE;
    }
  if (table->addr_last == 0)
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                 "'ports': port forwarding is off ([network] forward_addresses is empty)");
  else
    {
      g_autofree char *first = gvd_ipv4_to_string (table->addr_first);
      g_autofree char *last = gvd_ipv4_to_string (table->addr_last);

      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "'ports': no free address left in [network] forward_addresses (%s-%s)",
                   first, last);
    }
  return FALSE;
}

const char *
gvd_port_table_address_owner (const GvdPortTable *table, guint32 address)
{
  g_return_val_if_fail (table != NULL, NULL);
  return g_hash_table_lookup (table->addr_owners, GUINT_TO_POINTER (address));
}

guint
gvd_port_table_get_n_addresses (const GvdPortTable *table)
{
  g_return_val_if_fail (table != NULL, 0);
  return g_hash_table_size (table->addr_owners);
}

static gboolean
held_by (gpointer key, gpointer value, gpointer user_data)
{
  (void) key;
  return g_str_equal (value, user_data);
}

guint
gvd_port_table_release (GvdPortTable *table, const char *owner)
{
  g_return_val_if_fail (table != NULL && owner != NULL, 0);
  g_hash_table_foreach_remove (table->addr_owners, held_by, (gpointer) owner);
  return g_hash_table_foreach_remove (table->owners, held_by, (gpointer) owner);
}

static gboolean
held_by_prefix (gpointer key, gpointer value, gpointer user_data)
{
  (void) key;
  return g_str_has_prefix (value, user_data);
}

guint
gvd_port_table_release_prefix (GvdPortTable *table, const char *prefix)
{
  g_return_val_if_fail (table != NULL && prefix != NULL, 0);
  g_hash_table_foreach_remove (table->addr_owners, held_by_prefix, (gpointer) prefix);
  return g_hash_table_foreach_remove (table->owners, held_by_prefix, (gpointer) prefix);
}

const char *
gvd_port_table_owner (const GvdPortTable *table, guint port)
{
  g_return_val_if_fail (table != NULL, NULL);
  return g_hash_table_lookup (table->owners, GUINT_TO_POINTER (port));
}

guint
gvd_port_table_get_n_held (const GvdPortTable *table)
{
  g_return_val_if_fail (table != NULL, 0);
  return g_hash_table_size (table->owners);
}
