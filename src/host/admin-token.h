/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The admin API's bearer token for TCP listeners: read from a file the
 * daemon's user owns (mode 0600), or generated on first start. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GVD_ADMIN_TOKEN_FILE_NAME "admin.token"
/* Random bytes in a generated token (hex in the file). */
#define GVD_ADMIN_TOKEN_BYTES 32

/* The token in @path (surrounding white space stripped, at least 16
 * characters). When @create and @path is missing, a token of
 * GVD_ADMIN_TOKEN_BYTES random bytes from getrandom(2) is written there
 * first (hex, mode 0600, atomically). A file that is not a regular file,
 * not owned by the daemon's user, or open to group or others is refused
 * (GVD_ERROR_INVALID_CONFIG). */
char *gvd_admin_token_load (const char *path, gboolean create, GError **error);

G_END_DECLS
