/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Idempotency-Key cache: a table plus a queue of stored answers, oldest first. */
#include "config.h"

#include "idem-cache.h"

#include <string.h>

typedef struct {
  char *key;
  char *body_sha256;
  gboolean in_progress;
  guint status;
  char *response;
  gsize response_len;
  gint64 expires;  /* monotonic; stored answers only */
  gsize bytes;     /* what this entry counts against the budget */
  GList *link;     /* in cache->stored, or NULL while in progress */
} Entry;

struct _GvdIdemCache {
  GHashTable *by_key; /* key → Entry (owned) */
  GQueue stored;      /* Entry, in the order they were stored: expiry order too */
  gsize bytes;
  gsize max_bytes;
  guint max_entries;
  gsize max_entry_bytes;
  gint64 ttl;
};

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_free (e->key);
  g_free (e->body_sha256);
  g_free (e->response);
  g_free (e);
}

GvdIdemCache *
gvd_idem_cache_new (gsize max_bytes, guint max_entries, gsize max_entry_bytes, gint64 ttl_usec)
{
  GvdIdemCache *cache = g_new0 (GvdIdemCache, 1);

  cache->by_key = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_free);
  g_queue_init (&cache->stored);
  cache->max_bytes = max_bytes;
  cache->max_entries = max_entries;
  cache->max_entry_bytes = max_entry_bytes;
  cache->ttl = ttl_usec;
  return cache;
}

void
gvd_idem_cache_free (GvdIdemCache *cache)
{
  if (cache == NULL)
    return;
  g_queue_clear (&cache->stored);
  g_hash_table_unref (cache->by_key);
  g_free (cache);
}

static void
remove_entry (GvdIdemCache *cache, Entry *e)
{
  if (e->link != NULL)
    g_queue_delete_link (&cache->stored, e->link);
  cache->bytes -= e->bytes;
  g_hash_table_remove (cache->by_key, e->key); /* frees e */
}

/* Drop the oldest stored answer; FALSE when there is none. */
static gboolean
evict_oldest (GvdIdemCache *cache)
{
  Entry *e = g_queue_peek_head (&cache->stored);

  if (e == NULL)
    return FALSE;
  remove_entry (cache, e);
  return TRUE;
}

GvdIdemResult
gvd_idem_cache_begin (GvdIdemCache *cache, const char *key, const char *body_sha256, gint64 now,
                      guint *out_status, const char **out_response, gsize *out_len)
{
  Entry *e;

  g_return_val_if_fail (cache != NULL && key != NULL && body_sha256 != NULL, GVD_IDEM_FULL);

  /* Stored in order, all with the same TTL: the expired ones are in front. */
  while ((e = g_queue_peek_head (&cache->stored)) != NULL && e->expires <= now)
    remove_entry (cache, e);

  e = g_hash_table_lookup (cache->by_key, key);
  if (e == NULL)
    {
      while (g_hash_table_size (cache->by_key) >= cache->max_entries)
        if (!evict_oldest (cache))
          return GVD_IDEM_FULL;
      e = g_new0 (Entry, 1);
      e->key = g_strdup (key);
      e->body_sha256 = g_strdup (body_sha256);
      e->in_progress = TRUE;
      e->bytes = sizeof *e + strlen (key) + 1 + strlen (body_sha256) + 1;
      cache->bytes += e->bytes;
      g_hash_table_insert (cache->by_key, e->key, e);
      return GVD_IDEM_NEW;
    }
  if (!g_str_equal (e->body_sha256, body_sha256))
    return GVD_IDEM_MISMATCH;
  if (e->in_progress)
    return GVD_IDEM_IN_PROGRESS;
  if (out_status != NULL)
    *out_status = e->status;
  if (out_response != NULL)
    *out_response = e->response;
  if (out_len != NULL)
    *out_len = e->response_len;
  return GVD_IDEM_REPLAY;
}

void
gvd_idem_cache_finish (GvdIdemCache *cache, const char *key, guint status, const char *response,
                       gsize len, gint64 now)
{
  Entry *e;

  g_return_if_fail (cache != NULL && key != NULL);

  e = g_hash_table_lookup (cache->by_key, key);
  if (e == NULL || !e->in_progress)
    return;
  /* Only final answers are replayed: a retry after a transient failure
   * (5xx: libvirt away, not ready) must be able to try again. */
  if (status >= 500 || len > cache->max_entry_bytes || (response == NULL && len > 0))
    {
      remove_entry (cache, e);
      return;
    }
  e->in_progress = FALSE;
  e->status = status;
  e->response = g_malloc (len + 1);
  if (len > 0)
    memcpy (e->response, response, len);
  e->response[len] = '\0';
  e->response_len = len;
  e->expires = now + cache->ttl;
  e->bytes += len + 1;
  cache->bytes += len + 1;
  g_queue_push_tail (&cache->stored, e);
  e->link = g_queue_peek_tail_link (&cache->stored);
  /* The newest answer is within the per-entry bound, so it always fits. */
  while (cache->bytes > cache->max_bytes && g_queue_peek_head (&cache->stored) != e)
    evict_oldest (cache);
}

void
gvd_idem_cache_forget (GvdIdemCache *cache, const char *key)
{
  Entry *e;

  g_return_if_fail (cache != NULL && key != NULL);

  e = g_hash_table_lookup (cache->by_key, key);
  if (e != NULL)
    remove_entry (cache, e);
}

guint
gvd_idem_cache_get_size (const GvdIdemCache *cache)
{
  return g_hash_table_size (cache->by_key);
}

gsize
gvd_idem_cache_get_bytes (const GvdIdemCache *cache)
{
  return cache->bytes;
}
