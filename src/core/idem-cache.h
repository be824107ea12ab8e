/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Idempotency-Key cache of POST /v1/instances: first answers kept for a
 * day, bounded in entries and in bytes (pure: the clock is a parameter). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* All stored answers, keys and bookkeeping together stay below this. */
#define GVD_IDEM_CACHE_MAX_BYTES (4 * 1024 * 1024)
#define GVD_IDEM_CACHE_MAX_ENTRIES 10000
/* An answer bigger than this is not kept (a retry runs the request again). */
#define GVD_IDEM_CACHE_MAX_ENTRY_BYTES (256 * 1024)
#define GVD_IDEM_CACHE_TTL_USEC (24 * G_TIME_SPAN_HOUR)

typedef struct _GvdIdemCache GvdIdemCache;

typedef enum {
  GVD_IDEM_NEW,         /* the key is now reserved: run the request, then finish */
  GVD_IDEM_REPLAY,      /* answer with the stored status and body */
  GVD_IDEM_MISMATCH,    /* the key was used with another request body */
  GVD_IDEM_IN_PROGRESS, /* a request with this key is still running */
  GVD_IDEM_FULL,        /* every entry is a request in progress */
} GvdIdemResult;

GvdIdemCache *gvd_idem_cache_new (gsize max_bytes, guint max_entries, gsize max_entry_bytes,
                                  gint64 ttl_usec);
void gvd_idem_cache_free (GvdIdemCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdIdemCache, gvd_idem_cache_free)

/* Look @key up at time @now (monotonic µs), dropping expired answers first.
 * REPLAY sets @out_status and @out_response (borrowed until the next call on
 * the cache) and @out_len; NEW reserves @key for @body_sha256, evicting the
 * oldest stored answer when the entry count is at its bound. */
GvdIdemResult gvd_idem_cache_begin (GvdIdemCache *cache, const char *key, const char *body_sha256,
                                    gint64 now, guint *out_status, const char **out_response,
                                    gsize *out_len);

/* The answer to the request that reserved @key: kept (expiring @ttl after
 * @now) unless it is a 5xx (the client may retry) or bigger than the
 * per-entry bound, in which case the key is forgotten. The oldest stored
 * answers are evicted until the cache fits its byte budget. */
void gvd_idem_cache_finish (GvdIdemCache *cache, const char *key, guint status,
                            const char *response, gsize len, gint64 now);

/* Forget @key (stored or in progress). */
void gvd_idem_cache_forget (GvdIdemCache *cache, const char *key);

guint gvd_idem_cache_get_size (const GvdIdemCache *cache);
/* The bytes the cache accounts for (answers, keys, bookkeeping). */
gsize gvd_idem_cache_get_bytes (const GvdIdemCache *cache);

G_END_DECLS
