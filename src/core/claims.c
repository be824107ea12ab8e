/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device claims and quarantine (claims.h). */
#include "config.h"

#include "claims.h"

#include <string.h>

struct _GvdClaims {
  GHashTable *holders;     /* address → holder */
  GHashTable *quarantined; /* address → reason */
  GHashTable *cpus;        /* GUINT_TO_POINTER (cpu) → holder */
  GHashTable *mdevs;       /* lower-case uuid → GvdMdevClaim */
  gboolean ready;
};

static void
mdev_claim_free (GvdMdevClaim *c)
{
  g_free (c->uuid);
  g_free (c->parent);
  g_free (c->type);
  g_free (c->holder);
  g_free (c);
}

GvdClaims *
gvd_claims_new (void)
{
  GvdClaims *claims = g_new0 (GvdClaims, 1);

  claims->holders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  claims->quarantined = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  claims->cpus = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  claims->mdevs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) mdev_claim_free);
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
  g_hash_table_unref (claims->mdevs);
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
gvd_claims_release_device (GvdClaims *claims, const char *address, const char *holder)
{
  if (g_strcmp0 (g_hash_table_lookup (claims->holders, address), holder) == 0)
    g_hash_table_remove (claims->holders, address);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Hold (or free) @parent as the mdev claims on it say: "vgpu:" and their
 * holders, sorted and unique. A parent held whole by another is left alone. */
static void
hold_parent (GvdClaims *claims, const char *parent)
{
  const char *now = g_hash_table_lookup (claims->holders, parent);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GString) holder = g_string_new (GVD_CLAIMS_VGPU_PREFIX);
  GHashTableIter iter;
  gpointer value;

  if (now != NULL && !g_str_has_prefix (now, GVD_CLAIMS_VGPU_PREFIX))
    return;
  g_hash_table_iter_init (&iter, claims->mdevs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GvdMdevClaim *c = value;
      if (g_strcmp0 (c->parent, parent) == 0)
        g_ptr_array_add (names, c->holder);
    }
  if (names->len == 0)
    {
      if (now != NULL)
        g_hash_table_remove (claims->holders, parent);
      return;
    }
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++)
    if (i == 0 || strcmp (g_ptr_array_index (names, i), g_ptr_array_index (names, i - 1)) != 0)
      {
        if (i > 0)
          g_string_append_c (holder, ',');
        g_string_append (holder, g_ptr_array_index (names, i));
      }
  g_hash_table_replace (claims->holders, g_strdup (parent),
                        g_string_free (g_steal_pointer (&holder), FALSE));
}

/* Hold every parent that has mdev claims, free those that have none. */
static void
hold_all_parents (GvdClaims *claims)
{
  g_autoptr(GHashTable) parents = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, claims->holders);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (g_str_has_prefix (value, GVD_CLAIMS_VGPU_PREFIX))
      g_hash_table_add (parents, g_strdup (key));
  g_hash_table_iter_init (&iter, claims->mdevs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((GvdMdevClaim *) value)->parent != NULL)
      g_hash_table_add (parents, g_strdup (((GvdMdevClaim *) value)->parent));
  g_hash_table_iter_init (&iter, parents);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    hold_parent (claims, key);
}

void
gvd_claims_release (GvdClaims *claims, const char *holder)
{
  GHashTableIter iter;
  gpointer value;
  gboolean had_mdevs = FALSE;

  g_hash_table_iter_init (&iter, claims->holders);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (value, holder) == 0)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, claims->cpus);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (value, holder) == 0)
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, claims->mdevs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((GvdMdevClaim *) value)->holder, holder) == 0)
      {
        g_hash_table_iter_remove (&iter);
        had_mdevs = TRUE;
      }
  if (had_mdevs)
    hold_all_parents (claims);
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

void
gvd_claims_add_mdev (GvdClaims *claims, const char *uuid, const char *parent, const char *type,
                     const char *holder)
{
  GvdMdevClaim *c;

  g_return_if_fail (uuid != NULL && holder != NULL);
  c = g_new0 (GvdMdevClaim, 1);
  c->uuid = g_ascii_strdown (uuid, -1);
  c->parent = g_strdup (parent);
  c->type = g_strdup (type);
  c->holder = g_strdup (holder);
  g_hash_table_replace (claims->mdevs, g_strdup (c->uuid), c);
  if (parent != NULL)
    hold_parent (claims, parent);
}

const GvdMdevClaim *
gvd_claims_get_mdev (GvdClaims *claims, const char *uuid)
{
  g_autofree char *key = uuid != NULL ? g_ascii_strdown (uuid, -1) : NULL;

  return key != NULL ? g_hash_table_lookup (claims->mdevs, key) : NULL;
}

static int
compare_mdev_claims (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(GvdMdevClaim *const *) a)->uuid, (*(GvdMdevClaim *const *) b)->uuid);
}

GPtrArray *
gvd_claims_list_mdevs (GvdClaims *claims)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, claims->mdevs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, compare_mdev_claims);
  return list;
}

void
gvd_claims_retain_mdevs (GvdClaims *claims, GHashTable *keep)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, claims->mdevs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (keep == NULL || !g_hash_table_contains (keep, ((GvdMdevClaim *) value)->holder))
      g_hash_table_iter_remove (&iter);
  hold_all_parents (claims);
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
