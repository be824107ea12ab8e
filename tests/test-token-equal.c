/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one constant-time token compare (admin token, agent tokens). */
#include "config.h"

#include "testlib.h"

#include "token-equal.h"

static void
equal__same__true (void **state)
{
  assert_true (gvd_token_equal ("s3cret-token", "s3cret-token"));
  assert_true (gvd_token_equal ("", ""));
}

static void
equal__prefix_longer_different_null__false (void **state)
{
  const char *want = "0123456789abcdef";
  const char *bad[] = { "", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeF",
                        "x123456789abcdef", "0123456789abcdef\n", NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    if (gvd_token_equal (want, bad[i]))
      fail_msg ("'%s' matched", bad[i]);
  assert_false (gvd_token_equal (want, NULL));
  assert_false (gvd_token_equal (NULL, want));
  assert_false (gvd_token_equal ("", "x"));
}

static void
equal__long_got__read_bounded (void **state)
{
  /* A huge candidate is only read one byte past the expected length. */
  g_autofree char *huge = g_strnfill (1 << 20, 'a');

  assert_false (gvd_token_equal ("aaaa", huge));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (equal__same__true),
    cmocka_unit_test (equal__prefix_longer_different_null__false),
    cmocka_unit_test (equal__long_got__read_bounded),
  };

  return cmocka_run_group_tests_name ("token-equal", tests, NULL, NULL);
}
