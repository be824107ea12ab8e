/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Comparing a secret token with one a client sent, in constant time (pure). */
#include "config.h"

#include "token-equal.h"

#include <string.h>

gboolean
gvd_token_equal (const char *want, const char *got)
{
  gsize want_len, got_len;
  guint diff;

  if (want == NULL || got == NULL)
    return FALSE;
  want_len = strlen (want);
  got_len = strnlen (got, want_len + 1);
  /* Walk the whole expected token whatever @got holds. */
  diff = (guint) (want_len ^ got_len);
  for (gsize i = 0; i < want_len; i++)
    diff |= (guchar) want[i] ^ (guchar) (i < got_len ? got[i] : 0);
  return diff == 0;
}
