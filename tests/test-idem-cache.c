/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Idempotency-Key cache: replay, body mismatch, 5xx and oversized
 * answers forgotten, the byte budget and entry bound by eviction of the
 * oldest, and the 24 h expiry (an injected clock). */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "idem-cache.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static GvdIdemCache *
new_default (void)
{
  return gvd_idem_cache_new (GVD_IDEM_CACHE_MAX_BYTES, GVD_IDEM_CACHE_MAX_ENTRIES,
                             GVD_IDEM_CACHE_MAX_ENTRY_BYTES, GVD_IDEM_CACHE_TTL_USEC);
}

static void
begin__stored_answer__replayed_until_expiry (void **state)
{
  g_autoptr(GvdIdemCache) c = new_default ();
  const char *body = "{\"name\": \"vm1\"}";
  guint status = 0;
  const char *response = NULL;
  gsize len = 0;

  assert_int_equal (gvd_idem_cache_begin (c, "k1", SHA_A, 0, NULL, NULL, NULL), GVD_IDEM_NEW);
  assert_int_equal (gvd_idem_cache_begin (c, "k1", SHA_A, 1, NULL, NULL, NULL),
                    GVD_IDEM_IN_PROGRESS);
  gvd_idem_cache_finish (c, "k1", 201, body, strlen (body), 10);
  assert_int_equal (gvd_idem_cache_begin (c, "k1", SHA_A, 20, &status, &response, &len),
                    GVD_IDEM_REPLAY);
  assert_int_equal (status, 201);
  assert_int_equal (len, strlen (body));
  assert_memory_equal (response, body, len);
  assert_int_equal (gvd_idem_cache_begin (c, "k1", SHA_B, 21, NULL, NULL, NULL),
                    GVD_IDEM_MISMATCH);
  /* Still there just before 24 h, gone at 24 h. */
  assert_int_equal (gvd_idem_cache_begin (c, "k1", SHA_A, 10 + GVD_IDEM_CACHE_TTL_USEC - 1, NULL,
                                          NULL, NULL),
                    GVD_IDEM_REPLAY);
  assert_int_equal (gvd_idem_cache_begin (c, "k1", SHA_B, 10 + GVD_IDEM_CACHE_TTL_USEC, NULL, NULL,
                                          NULL),
                    GVD_IDEM_NEW);
}

static void
finish__5xx_or_oversized__forgotten (void **state)
{
  g_autoptr(GvdIdemCache) c = new_default ();
  g_autofree char *big = g_malloc0 (GVD_IDEM_CACHE_MAX_ENTRY_BYTES + 1);

  assert_int_equal (gvd_idem_cache_begin (c, "k", SHA_A, 0, NULL, NULL, NULL), GVD_IDEM_NEW);
  gvd_idem_cache_finish (c, "k", 503, "{}", 2, 0);
  assert_int_equal (gvd_idem_cache_get_size (c), 0);
  assert_int_equal (gvd_idem_cache_get_bytes (c), 0);
  assert_int_equal (gvd_idem_cache_begin (c, "k", SHA_A, 0, NULL, NULL, NULL), GVD_IDEM_NEW);
  memset (big, 'x', GVD_IDEM_CACHE_MAX_ENTRY_BYTES);
  gvd_idem_cache_finish (c, "k", 201, big, GVD_IDEM_CACHE_MAX_ENTRY_BYTES + 1, 0);
  assert_int_equal (gvd_idem_cache_get_size (c), 0);
  assert_int_equal (gvd_idem_cache_get_bytes (c), 0);
}

/* 1000 answers of 100 KiB (100 MB offered) stay within the 4 MiB budget;
 * the newest are the ones kept and still replay. */
static void
finish__many_big_answers__within_budget_oldest_evicted (void **state)
{
  g_autoptr(GvdIdemCache) c = new_default ();
  g_autofree char *answer = g_malloc (100 * 1024);
  const char *response = NULL;
  guint status = 0;
  gsize len = 0;

  memset (answer, 'a', 100 * 1024);
  for (int i = 0; i < 1000; i++)
    {
      g_autofree char *key = g_strdup_printf ("key-%d", i);
      assert_int_equal (gvd_idem_cache_begin (c, key, SHA_A, i, NULL, NULL, NULL), GVD_IDEM_NEW);
      gvd_idem_cache_finish (c, key, 201, answer, 100 * 1024, i);
      assert_true (gvd_idem_cache_get_bytes (c) <= GVD_IDEM_CACHE_MAX_BYTES);
    }
  assert_true (gvd_idem_cache_get_size (c) >= 30);
  assert_true (gvd_idem_cache_get_size (c) <= 41);
  assert_int_equal (gvd_idem_cache_begin (c, "key-999", SHA_A, 1000, &status, &response, &len),
                    GVD_IDEM_REPLAY);
  assert_int_equal (status, 201);
  assert_int_equal (len, 100 * 1024);
  /* The oldest went first. */
  assert_int_equal (gvd_idem_cache_begin (c, "key-0", SHA_B, 1000, NULL, NULL, NULL),
                    GVD_IDEM_NEW);
}

static void
begin__entry_bound__oldest_evicted_then_full_when_all_in_progress (void **state)
{
  g_autoptr(GvdIdemCache) c = gvd_idem_cache_new (1024 * 1024, 3, 1024, G_TIME_SPAN_HOUR);

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *key = g_strdup_printf ("k%d", i);
      assert_int_equal (gvd_idem_cache_begin (c, key, SHA_A, i, NULL, NULL, NULL), GVD_IDEM_NEW);
      gvd_idem_cache_finish (c, key, 201, "{}", 2, i);
    }
  assert_int_equal (gvd_idem_cache_begin (c, "k3", SHA_A, 3, NULL, NULL, NULL), GVD_IDEM_NEW);
  assert_int_equal (gvd_idem_cache_get_size (c), 3);
  assert_int_equal (gvd_idem_cache_begin (c, "k0", SHA_B, 4, NULL, NULL, NULL), GVD_IDEM_NEW);
  assert_int_equal (gvd_idem_cache_begin (c, "k1", SHA_B, 4, NULL, NULL, NULL), GVD_IDEM_NEW);
  /* k3, k0, k1 are in progress: nothing can be evicted. */
  assert_int_equal (gvd_idem_cache_begin (c, "k9", SHA_A, 5, NULL, NULL, NULL), GVD_IDEM_FULL);
  gvd_idem_cache_forget (c, "k3");
  assert_int_equal (gvd_idem_cache_begin (c, "k9", SHA_A, 5, NULL, NULL, NULL), GVD_IDEM_NEW);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (begin__stored_answer__replayed_until_expiry),
    cmocka_unit_test (finish__5xx_or_oversized__forgotten),
    cmocka_unit_test (finish__many_big_answers__within_budget_oldest_evicted),
    cmocka_unit_test (begin__entry_bound__oldest_evicted_then_full_when_all_in_progress),
  };

  return cmocka_run_group_tests_name ("idem-cache", tests, NULL, NULL);
}
