/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-daemon secrets kept in the state directory (e.g. agent-secret). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GVD_SECRET_LEN 32

/* Read the @len-byte secret at @path, creating it from the kernel's random
 * source when missing: written to a temporary file in the same directory
 * (mode 0600), fsynced, then linked into place (gvd_state_file_write), so a
 * crash or a full disk never leaves a partial secret and two racing daemons
 * end up with the same one. A file not owned by the euid, with group/other
 * permissions, of another length, or not a regular file is refused
 * (GVD_ERROR_INVALID_CONFIG). */
GBytes *gvd_secret_load_or_create (const char *path, gsize len, GError **error);

/* @len bytes from getrandom(2) (retried on EINTR). */
gboolean gvd_secret_fill_random (guint8 *buf, gsize len, GError **error);

G_END_DECLS
