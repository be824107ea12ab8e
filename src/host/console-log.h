/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a domain's serial console log (virtlogd writes and rotates it):
 * its tail, then what is appended, across rotations. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where a reader is: the file it read (device, inode) and how far. */
typedef struct {
  guint64 dev;
  guint64 ino;
  guint64 offset;
} GvdConsoleCursor;

/* The last @max_bytes of the log at @path, with @cursor set to its end. A
 * log that does not exist yet (the domain never ran) is empty. The path is
 * opened without following symlinks and must be a regular file. */
GBytes *gvd_console_log_read_tail (const char *path, gsize max_bytes, GvdConsoleCursor *cursor,
                                   GError **error);

/* What was appended after @cursor, at most @max_bytes; the cursor moves past
 * what is returned. A log replaced (another inode: virtlogd rotated it) or
 * shorter than the cursor (truncated) is read from its start, and
 * *out_rotated is set. */
GBytes *gvd_console_log_read_more (const char *path, gsize max_bytes, GvdConsoleCursor *cursor,
                                   gboolean *out_rotated, GError **error);

G_END_DECLS
