/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal of image imports in progress: one file per image in a
 * directory of the state directory, written before the volume is created
 * and removed once it is verified or deleted, so that a volume a crash left
 * half-written is found and deleted at the next start. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The journal's directory below the state directory. */
#define GVD_IMPORT_JOURNAL_DIR "imports"

/* Record that image @name (a valid volume name) of pool @pool is being
 * written: <@dir>/<@name>.import holding @pool, written atomically and durably
 * (@dir is created 0700 when missing). GVD_ERROR_IO on failure. */
gboolean gvd_import_journal_add (const char *dir, const char *pool, const char *name,
                                 GError **error);

/* Forget @name, durably (the directory is fsynced). A missing entry is
 * success. */
gboolean gvd_import_journal_remove (const char *dir, const char *name, GError **error);

/* The entries: names and their pools (parallel, NULL-terminated). A
 * missing @dir has none; entries whose names are not volume names, that
 * are not regular files or whose pool is not a valid name are skipped. */
gboolean gvd_import_journal_list (const char *dir, GStrv *out_names, GStrv *out_pools,
                                  GError **error);

G_END_DECLS
