/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host files named by API callers (image sources, kernels, initrds): only
 * regular files below operator-allowed directories, opened without following
 * symlinks and without ever opening anything that is not a regular file. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

#include "errors.h"

G_BEGIN_DECLS

/* Most entries of [storage] import_dirs. */
#define GVD_HOST_FILE_MAX_DIRS 32
/* Longest path a caller may name. */
#define GVD_HOST_FILE_PATH_MAX 1024

/* Pure: which entry of @dirs the absolute @path lies below, and the rest of
 * @path relative to it ("a/b.img"). @what names the field in messages
 * ("source_path", "boot.kernel"). A relative, empty, over-long path or a
 * "." component is GVD_ERROR_INVALID_ARGUMENT; a ".." component or a path
 * below none of @dirs is GVD_ERROR_FORBIDDEN. Every message names the
 * allowed directories. */
gboolean gvd_host_file_split (const char *const *dirs, const char *path, const char *what,
                              char **out_dir, char **out_rest, GError **error);

/* Open @path for reading. @path must pass gvd_host_file_split(); the
 * directory is opened O_PATH, the rest resolved with openat2()
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS as an O_PATH
 * descriptor (where openat2() is missing, ENOSYS: by an O_PATH | O_NOFOLLOW
 * walk of each component, refusing symlinks the same way), and only when fstat() says it is a regular file is that very
 * inode reopened for reading (through /proc/self/fd). A symlink anywhere
 * below the directory or a non-regular file is GVD_ERROR_FORBIDDEN; a missing
 * file GVD_ERROR_INVALID_ARGUMENT. Returns the descriptor (O_CLOEXEC) and its
 * stat in @out_st, or -1. */
int gvd_host_file_open (const char *const *dirs, const char *path, const char *what,
                        struct stat *out_st, GError **error);

/* The same checks as gvd_host_file_open() without opening the file for
 * reading: for paths QEMU opens later (kernels, initrds). */
gboolean gvd_host_file_check (const char *const *dirs, const char *path, const char *what,
                              GError **error);

/* The directory @path, at or below an entry of @dirs (the operator's list,
 * named by @key in refusals, e.g. "[host] share_dirs"), reached below it
 * with the same openat2() rules as gvd_host_file_open(): a symlink, a ".."
 * component, a path outside @dirs or anything but a directory is
 * GVD_ERROR_FORBIDDEN; a missing path GVD_ERROR_INVALID_ARGUMENT. For paths
 * QEMU or virtiofsd open later (shared directories). */
gboolean gvd_host_dir_check (const char *const *dirs, const char *key, const char *path,
                             const char *what, GError **error);

G_END_DECLS
