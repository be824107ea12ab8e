/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest agent tokens: HMAC-SHA256 of the instance uuid under the daemon
 * secret, checked in constant time. */
#include "config.h"

#include "agent.h"
#include "token-equal.h"

#include <string.h>

char *
gvd_agent_token_derive (GBytes *secret, const char *uuid)
{
  gsize len;
  const guchar *key;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (uuid != NULL, NULL);

  key = g_bytes_get_data (secret, &len);
  /* g_compute_hmac_for_data prints lowercase hex. */
  return g_compute_hmac_for_data (G_CHECKSUM_SHA256, key, len, (const guchar *) uuid,
                                  strlen (uuid));
}

gboolean
gvd_agent_token_verify (GBytes *secret, const char *uuid, const char *token)
{
  g_autofree char *want = NULL;
  gboolean ok;

  if (secret == NULL || uuid == NULL || token == NULL)
    return FALSE;
  want = gvd_agent_token_derive (secret, uuid);
  ok = gvd_token_equal (want, token);
  explicit_bzero (want, strlen (want));
  return ok;
}
