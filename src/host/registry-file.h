/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device registry's file, <state_dir>/registry.json: read through one
 * checked descriptor, written atomically (core/registry.h is the table). */
#pragma once

#include <glib.h>

#include "registry.h"

G_BEGIN_DECLS

/* A missing file is an empty registry; an unreadable or corrupt one is an
 * error naming the file, and so is one that is not a regular file owned by
 * the euid and not writable by group/others (gvd_state_file_check_fd). */
GvdRegistry *gvd_registry_load_file (const char *path, GError **error);
/* Atomic replace through gvd_state_file_write(): temp file (0600) in the
 * same directory, write, fsync, rename, fsync the directory. On failure
 * (ENOSPC included: "cannot write PATH: No space left on device") the old
 * file is untouched and no temp file is left behind, except when only the
 * final directory fsync fails: the new file is then in place (but maybe not
 * durable) and the error is still reported. */
gboolean gvd_registry_save_file (const GvdRegistry *registry, const char *path, GError **error);
/* The same for @data, a gvd_registry_serialize() made earlier: what a worker
 * writes while the registry itself stays on the main thread. */
gboolean gvd_registry_file_write (const char *path, const char *data, gsize len, GError **error);

G_END_DECLS
