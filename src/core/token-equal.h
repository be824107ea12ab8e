/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Comparing a secret token with one a client sent, in constant time: the one
 * compare behind the admin token and the agent tokens (pure). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether @got equals @want. The time depends on @want's length only, never
 * on where the two differ nor on how long @got is (it is read up to one byte
 * past @want's length). NULL never matches. */
gboolean gvd_token_equal (const char *want, const char *got);

G_END_DECLS
