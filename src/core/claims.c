/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device claims and quarantine (claims.h). */
#include "config.h"

#include "claims.h"

struct _GvdClaims {
  GHashTable *holders;     /* address → holder */
  GHashTable *quarantined; /* address → reason */
  GHashTable *cpus;        /* GUINT_TO_POINTER (cpu) → holder */
  gboolean ready;
};

GvdClaims *
gvd_claims_new (void)
{
  GvdClaims *claims = g_new0 (GvdClaims, 1);

  claims->holders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  claims->quarantined = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  claims->cpus = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  return claims;
}

void
gvd_claims_free (GvdClaims *claims)
{
  if (claims == NULL)
    return;
  g_hash_table_unref (claims->holders);
  g_hash_table_unref (claims->quarantined);
  g_hash_table_unref (claims->cpus);
  g_free (claims);
}

GHashTable *
gvd_claims_get_holders (GvdClaims *claims)
{
  return claims->holders;
}

GHashTable *
gvd_claims_get_quarantined (GvdClaims *claims)
{
  return claims->quarantined;
}

const char *
gvd_claims_get_holder (GvdClaims *claims, const char *address)
{
  return g_hash_table_lookup (claims->holders, address);
}

void
gvd_claims_set_holder (GvdClaims *claims, const char *address, const char *holder)
{
  g_return_if_fail (address != NULL && holder != NULL);
  g_hash_table_replace (claims->holders, g_strdup (address), g_strdup (holder));
}

void
gvd_claims_release (GvdClaims *claims, const char *holder)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, claims->holders);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (value, holder) == 0)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, claims->cpus);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (value, holder) == 0)
      g_hash_table_iter_remove (&iter);
}

GHashTable *
gvd_claims_get_cpu_holders (GvdClaims *claims)
{
  return claims->cpus;
}

const char *
gvd_claims_get_cpu_holder (GvdClaims *claims, guint cpu)
{
  return g_hash_table_lookup (claims->cpus, GUINT_TO_POINTER (cpu));
}

void
gvd_claims_set_cpu_holder (GvdClaims *claims, guint cpu, const char *holder)
{
  g_return_if_fail (holder != NULL);
  g_hash_table_replace (claims->cpus, GUINT_TO_POINTER (cpu), g_strdup (holder));
}

guint
gvd_claims_count_cpus (GvdClaims *claims)
{
  return g_hash_table_size (claims->cpus);
}

guint
gvd_claims_count (GvdClaims *claims)
{
  return g_hash_table_size (claims->holders);
}

const char *
gvd_claims_get_quarantine (GvdClaims *claims, const char *address)
{
  return g_hash_table_lookup (claims->quarantined, address);
}

void
gvd_claims_quarantine (GvdClaims *claims, const char *address, const char *reason)
{
  g_return_if_fail (address != NULL && reason != NULL);
  g_hash_table_replace (claims->quarantined, g_strdup (address), g_strdup (reason));
}

gboolean
gvd_claims_clear_quarantine (GvdClaims *claims, const char *address)
{
  return g_hash_table_remove (claims->quarantined, address);
}

guint
gvd_claims_count_quarantined (GvdClaims *claims)
{
  return g_hash_table_size (claims->quarantined);
}

gboolean
gvd_claims_is_ready (GvdClaims *claims)
{
  return claims->ready;
}

void
gvd_claims_set_ready (GvdClaims *claims, gboolean ready)
{
  claims->ready = ready;
}
