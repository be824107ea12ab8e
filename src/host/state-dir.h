/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state directory is trusted only when it is the daemon's: owner and
 * mode checks for it and its files, and the one atomic file writer. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Permission bits a state file must not have (checked with & on st_mode). */
#define GVD_STATE_FILE_SECRET 0077 /* agent-secret, admin.token: 0600 at most */
#define GVD_STATE_FILE_PUBLIC 0022 /* registry.json: 0644 at most */

/* The state files gpuvmd itself keeps in the state directory. */
#define GVD_STATE_AGENT_SECRET "agent-secret"

/* Create @path (mode 0700; missing parents 0755) when it does not exist,
 * then require: every ancestor owned by root or the daemon's euid and not
 * writable by group/others unless sticky (/tmp); @path itself a directory,
 * not a symlink, owned by the euid, not writable by group/others; and each
 * state file that already exists in it (agent-secret, registry.json)
 * accepted by gvd_state_file_check(). Violations are
 * GVD_ERROR_INVALID_CONFIG with a message naming the path, its owner and
 * mode and the fix; other failures GVD_ERROR_IO. */
gboolean gvd_state_dir_prepare (const char *path, GError **error);

/* @path must be a regular file (not a symlink) owned by the euid with none
 * of @forbidden_mode's bits set. A missing file is fine: TRUE with
 * *@out_exists FALSE (@out_exists may be NULL). Checked through an O_PATH
 * descriptor, so a FIFO or device planted there is never opened. */
gboolean gvd_state_file_check (const char *path, guint forbidden_mode, gboolean *out_exists,
                               GError **error);

/* The same rules on an open descriptor (fstat), for readers that check the
 * very file they read. @path is only used in the message. */
gboolean gvd_state_file_check_fd (int fd, const char *path, guint forbidden_mode,
                                  GError **error);

typedef enum {
  GVD_STATE_WRITE_REPLACE = 0,    /* rename() over an existing file */
  GVD_STATE_WRITE_NO_REPLACE = 1, /* link(): an existing file wins (racing creators) */
} GvdStateWriteFlags;

/* Atomic write: a temporary file (@mode) next to @path, write, fsync, then
 * rename (or link) into place and fsync the directory. On any failure
 * (ENOSPC included) the temporary file is removed, the previous @path is
 * untouched, and the error (GVD_ERROR_IO) reads "cannot write PATH: REASON".
 * With NO_REPLACE an existing @path is success and stays as it was. When
 * only the final directory fsync fails, the new file is in place (maybe not
 * durable) and the error is still reported. */
gboolean gvd_state_file_write (const char *path, const void *data, gsize len, guint mode,
                               GvdStateWriteFlags flags, GError **error);

G_END_DECLS
