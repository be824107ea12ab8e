/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest MAC and static IPv4 allocation: hash sets of what is taken, lowest
 * free address first, so even a /8 costs only what is allocated. */
#include "config.h"

#include "ipam.h"

#include <gio/gio.h>
#include <string.h>

#include "errors.h"
#include "validate.h"
#include "gvd-config.h"

typedef struct {
  char *owner;
  char *mac;     /* canonical, lower case */
  char *ip_text; /* "a.b.c.d/prefix" or NULL */
  guint32 ip;    /* host order; valid when ip_text != NULL */
} Lease;

struct _GvdIpam {
  char *cidr;          /* NULL: MAC only */
  guint32 network;     /* host order */
  guint prefix;
  guint32 broadcast;
  guint32 gateway;
  gboolean has_gateway;
  /* Every host address below the hint is taken (or the gateway): the
   * lowest-free scan starts here, so allocation is amortised O(1). */
  guint32 hint;
  GHashTable *leases;  /* owner → Lease (owned) */
  GHashTable *macs;    /* mac → Lease */
  GHashTable *ips;     /* GUINT_TO_POINTER (ip) → Lease */
};

static void
lease_free (gpointer data)
{
  Lease *lease = data;

  g_free (lease->owner);
  g_free (lease->mac);
  g_free (lease->ip_text);
  g_free (lease);
}

static const char *
printable (const char *s)
{
  return g_utf8_validate (s, -1, NULL) ? s : "(not UTF-8)";
}

GvdIpam *
gvd_ipam_new (const char *cidr, const char *gateway, GError **error)
{
  g_autoptr(GvdIpam) ipam = g_new0 (GvdIpam, 1);

  ipam->leases = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, lease_free);
  ipam->macs = g_hash_table_new (g_str_hash, g_str_equal);
  ipam->ips = g_hash_table_new (g_direct_hash, g_direct_equal);
  if (cidr == NULL)
    {
      if (gateway != NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                       "[network] gateway %s needs a [network] cidr", printable (gateway));
          return NULL;
        }
      return g_steal_pointer (&ipam);
    }

  if (!gvd_config_parse_cidr (cidr, &ipam->network, &ipam->prefix, error))
    return NULL;
  ipam->cidr = g_strdup (cidr);
  ipam->broadcast = ipam->network | (0xffffffffu >> ipam->prefix);
  ipam->hint = ipam->network + 1;
  if (gateway != NULL)
    {
      if (!gvd_validate_ipv4 ("[network] gateway", gateway, &ipam->gateway, NULL)
          || ipam->gateway <= ipam->network
          || ipam->gateway >= ipam->broadcast)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                       "[network] gateway '%s' is not a host address in %s", printable (gateway),
                       cidr);
          return NULL;
        }
      ipam->has_gateway = TRUE;
    }
  return g_steal_pointer (&ipam);
}

void
gvd_ipam_free (GvdIpam *ipam)
{
  if (ipam == NULL)
    return;
  g_clear_pointer (&ipam->ips, g_hash_table_unref);
  g_clear_pointer (&ipam->macs, g_hash_table_unref);
  g_clear_pointer (&ipam->leases, g_hash_table_unref);
  g_free (ipam->cidr);
  g_free (ipam);
}

gboolean
gvd_ipam_has_ipv4 (const GvdIpam *ipam)
{
  g_return_val_if_fail (ipam != NULL, FALSE);

  return ipam->cidr != NULL;
}

const char *
gvd_ipam_get_cidr (const GvdIpam *ipam)
{
  g_return_val_if_fail (ipam != NULL, NULL);

  return ipam->cidr;
}

guint
gvd_ipam_get_n_owners (const GvdIpam *ipam)
{
  g_return_val_if_fail (ipam != NULL, 0);

  return g_hash_table_size (ipam->leases);
}

char *
gvd_ipam_derive_mac (const char *seed, guint attempt)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *counter = g_strdup_printf ("%u", attempt);
  guint8 digest[32];
  gsize len = sizeof digest;

  g_return_val_if_fail (seed != NULL, NULL);

  /* The NUL separates seed from counter so ("a1", 0) and ("a", 10) differ. */
  g_checksum_update (sum, (const guchar *) seed, strlen (seed) + 1);
  g_checksum_update (sum, (const guchar *) counter, -1);
  g_checksum_get_digest (sum, digest, &len);
  return g_strdup_printf ("52:54:00:%02x:%02x:%02x", digest[0], digest[1], digest[2]);
}

static gboolean
check_owner (GvdIpam *ipam, const char *owner, GError **error)
{
  Lease *lease;

  if (*owner == '\0' || strlen (owner) > GVD_IPAM_OWNER_MAX || !g_utf8_validate (owner, -1, NULL))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "an address owner needs a UTF-8 name of 1 to %d bytes", GVD_IPAM_OWNER_MAX);
      return FALSE;
    }
  if ((lease = g_hash_table_lookup (ipam->leases, owner)) != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                   "'%s' already holds MAC %s%s%s", owner, lease->mac,
                   lease->ip_text != NULL ? " and IP " : "",
                   lease->ip_text != NULL ? lease->ip_text : "");
      return FALSE;
    }
  if (g_hash_table_size (ipam->leases) >= GVD_IPAM_MAX_OWNERS)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "cannot allocate addresses for '%s': %d owners is the limit", owner,
                   GVD_IPAM_MAX_OWNERS);
      return FALSE;
    }
  return TRUE;
}

static gboolean
is_host_address (const GvdIpam *ipam, guint32 ip)
{
  return ip > ipam->network && ip < ipam->broadcast && !(ipam->has_gateway && ip == ipam->gateway);
}

static void
insert_lease (GvdIpam *ipam, const char *owner, char *mac, gboolean has_ip, guint32 ip)
{
  Lease *lease = g_new0 (Lease, 1);

  lease->owner = g_strdup (owner);
  lease->mac = mac;
  if (has_ip)
    {
      g_autofree char *text = gvd_ipv4_to_string (ip);

      lease->ip = ip;
      lease->ip_text = g_strdup_printf ("%s/%u", text, ipam->prefix);
      g_hash_table_insert (ipam->ips, GUINT_TO_POINTER (ip), lease);
    }
  g_hash_table_insert (ipam->leases, lease->owner, lease);
  g_hash_table_insert (ipam->macs, lease->mac, lease);
}

gboolean
gvd_ipam_reserve (GvdIpam *ipam, const char *owner, const char *mac, const char *ip,
                  GError **error)
{
  g_autofree char *canonical_mac = NULL;
  guint32 addr = 0;
  Lease *other;

  g_return_val_if_fail (ipam != NULL, FALSE);
  g_return_val_if_fail (owner != NULL && mac != NULL, FALSE);

  if (!check_owner (ipam, owner, error))
    return FALSE;
  if (!gvd_validate_mac ("MAC", mac, &canonical_mac, NULL))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "MAC '%s' of '%s' is not a MAC address a guest can use (" GVD_MAC_RULE ")",
                   printable (mac), owner);
      return FALSE;
    }
  if ((other = g_hash_table_lookup (ipam->macs, canonical_mac)) != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT, "MAC %s is claimed by both '%s' and '%s'",
                   canonical_mac, other->owner, owner);
      return FALSE;
    }

  if (ip != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (ip, "/", 2);

      if (ipam->cidr == NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "IP %s of '%s' cannot be used: no [network] cidr is configured",
                       printable (ip), owner);
          return FALSE;
        }
      if (parts[1] != NULL
            ? !gvd_validate_ipv4_cidr ("IP", ip, ipam->prefix, ipam->prefix, &addr, NULL, NULL)
            : !gvd_validate_ipv4 ("IP", ip, &addr, NULL))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "IP '%s' of '%s' is not an IPv4 address (a.b.c.d or a.b.c.d/%u)",
                       printable (ip), owner, ipam->prefix);
          return FALSE;
        }
      if (!is_host_address (ipam, addr) || (addr & ~(0xffffffffu >> ipam->prefix)) != ipam->network)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "IP %s of '%s' is not a usable address in %s (network, broadcast and "
                       "gateway are excluded)", parts[0], owner, ipam->cidr);
          return FALSE;
        }
      if ((other = g_hash_table_lookup (ipam->ips, GUINT_TO_POINTER (addr))) != NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                       "IP %s is claimed by both '%s' and '%s'", parts[0], other->owner, owner);
          return FALSE;
        }
    }

  insert_lease (ipam, owner, g_steal_pointer (&canonical_mac), ip != NULL, addr);
  return TRUE;
}

gboolean
gvd_ipam_allocate (GvdIpam *ipam, const char *owner, const char *seed, char **out_mac,
                   char **out_ip, GError **error)
{
  g_autofree char *mac = NULL;
  gboolean found_ip = FALSE;
  guint32 addr = 0;
  Lease *lease;

  g_return_val_if_fail (ipam != NULL, FALSE);
  g_return_val_if_fail (owner != NULL && seed != NULL, FALSE);

  if (!check_owner (ipam, owner, error))
    return FALSE;

  if (ipam->cidr != NULL)
    {
      /* Lowest free first: at most (taken + gateway + 1) steps, whatever the
       * size of the range, and usually one thanks to the hint. */
      for (guint32 a = ipam->hint; a < ipam->broadcast; a++)
        {
          if (is_host_address (ipam, a) && !g_hash_table_contains (ipam->ips, GUINT_TO_POINTER (a)))
            {
              addr = a;
              found_ip = TRUE;
              break;
            }
        }
      if (!found_ip)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT, "no free address in %s for '%s'",
                       ipam->cidr, owner);
          return FALSE;
        }
    }

  /* Collisions perturb the derivation deterministically. */
  for (guint attempt = 0; attempt < GVD_IPAM_MAC_ATTEMPTS && mac == NULL; attempt++)
    {
      g_autofree char *candidate = gvd_ipam_derive_mac (seed, attempt);

      if (!g_hash_table_contains (ipam->macs, candidate))
        mac = g_steal_pointer (&candidate);
    }
  if (mac == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "no free MAC for '%s' after %d derivations", owner, GVD_IPAM_MAC_ATTEMPTS);
      return FALSE;
    }

  insert_lease (ipam, owner, g_steal_pointer (&mac), found_ip, addr);
  if (found_ip)
    ipam->hint = addr + 1;
  lease = g_hash_table_lookup (ipam->leases, owner);
  if (out_mac != NULL)
    *out_mac = g_strdup (lease->mac);
  if (out_ip != NULL)
    *out_ip = g_strdup (lease->ip_text);
  return TRUE;
}

gboolean
gvd_ipam_allocate_nic (GvdIpam *ipam, const char *owner, const char *seed, const char *mac,
                       const char *ip, gboolean want_ip, char **out_mac, char **out_ip,
                       GError **error)
{
  g_autofree char *derived = NULL;
  g_autofree char *free_ip = NULL;
  Lease *lease;

  g_return_val_if_fail (ipam != NULL && owner != NULL && seed != NULL, FALSE);

  if (!check_owner (ipam, owner, error))
    return FALSE;
  for (guint attempt = 0; mac == NULL && attempt < GVD_IPAM_MAC_ATTEMPTS; attempt++)
    {
      g_autofree char *candidate = gvd_ipam_derive_mac (seed, attempt);

      if (!g_hash_table_contains (ipam->macs, candidate))
        mac = derived = g_steal_pointer (&candidate);
    }
  if (mac == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "no free MAC for '%s' after %d derivations", owner, GVD_IPAM_MAC_ATTEMPTS);
      return FALSE;
    }
  if (ip == NULL && want_ip && ipam->cidr != NULL)
    {
      for (guint32 a = ipam->hint; a < ipam->broadcast && free_ip == NULL; a++)
        if (is_host_address (ipam, a) && !g_hash_table_contains (ipam->ips, GUINT_TO_POINTER (a)))
          free_ip = gvd_ipv4_to_string (a);
      if (free_ip == NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT, "no free address in %s for '%s'",
                       ipam->cidr, owner);
          return FALSE;
        }
      ip = free_ip;
    }
  if (!gvd_ipam_reserve (ipam, owner, mac, ip, error))
    return FALSE;
  lease = g_hash_table_lookup (ipam->leases, owner);
  if (free_ip != NULL)
    ipam->hint = lease->ip + 1;
  if (out_mac != NULL)
    *out_mac = g_strdup (lease->mac);
  if (out_ip != NULL)
    *out_ip = g_strdup (lease->ip_text);
  return TRUE;
}

char *
gvd_ipam_nic_owner (const char *owner, guint index)
{
  g_return_val_if_fail (owner != NULL, NULL);

  return index == 0 ? g_strdup (owner) : g_strdup_printf ("%s#%u", owner, index);
}

static gboolean
release_one (GvdIpam *ipam, const char *owner)
{
  Lease *lease;

  lease = g_hash_table_lookup (ipam->leases, owner);
  if (lease == NULL)
    return FALSE;
  g_hash_table_remove (ipam->macs, lease->mac);
  if (lease->ip_text != NULL)
    {
      g_hash_table_remove (ipam->ips, GUINT_TO_POINTER (lease->ip));
      if (lease->ip < ipam->hint)
        ipam->hint = lease->ip;
    }
  g_hash_table_remove (ipam->leases, owner);
  return TRUE;
}

gboolean
gvd_ipam_release (GvdIpam *ipam, const char *owner)
{
  gboolean any;

  g_return_val_if_fail (ipam != NULL && owner != NULL, FALSE);

  any = release_one (ipam, owner);
  for (guint i = 1; i < GVD_IPAM_MAX_NICS; i++)
    {
      g_autofree char *nic_owner = gvd_ipam_nic_owner (owner, i);
      any |= release_one (ipam, nic_owner);
    }
  return any;
}

gboolean
gvd_ipam_release_nic (GvdIpam *ipam, const char *owner, guint index)
{
  g_autofree char *key = NULL;

  g_return_val_if_fail (ipam != NULL && owner != NULL, FALSE);
  key = gvd_ipam_nic_owner (owner, index);
  return release_one (ipam, key);
}

gboolean
gvd_ipam_lookup (const GvdIpam *ipam, const char *owner, const char **out_mac,
                 const char **out_ip)
{
  Lease *lease;

  g_return_val_if_fail (ipam != NULL && owner != NULL, FALSE);

  lease = g_hash_table_lookup (ipam->leases, owner);
  if (lease == NULL)
    return FALSE;
  if (out_mac != NULL)
    *out_mac = lease->mac;
  if (out_ip != NULL)
    *out_ip = lease->ip_text;
  return TRUE;
}
