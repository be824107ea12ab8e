/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Journals of operations in progress: one small file per entry in a
 * directory of the state directory, "<name><suffix>" holding one value,
 * written atomically and durably before the operation makes anything and
 * removed once it finished or was undone, so that what a crash left
 * half-made is found and removed at the next start. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *suffix;                       /* ".import" */
  gboolean (*name_ok) (const char *name);   /* entries failing either are skipped */
  gboolean (*value_ok) (const char *value);
} GvdJournalKind;

/* Image imports: <state_dir>/imports/<volume>.import holding the pool, for
 * a volume a crash left half-written. */
#define GVD_IMPORT_JOURNAL_DIR "imports"
extern const GvdJournalKind gvd_journal_imports;

/* vGPUs being made or removed: <state_dir>/mdevs/<uuid>.mdev holding the
 * instance's name, for an mdev that a crash left without its domain. */
#define GVD_MDEV_JOURNAL_DIR "mdevs"
extern const GvdJournalKind gvd_journal_mdevs;

/* Record entry @name with @value (both valid for @kind) in @dir, created
 * 0700 when missing. GVD_ERROR_IO on failure. */
gboolean gvd_journal_add (const GvdJournalKind *kind, const char *dir, const char *name,
                          const char *value, GError **error);

/* Forget @name, durably (the directory is fsynced). A missing entry is
 * success. */
gboolean gvd_journal_remove (const GvdJournalKind *kind, const char *dir, const char *name,
                             GError **error);

/* The entries: names and values (parallel, NULL-terminated). A missing
 * @dir has none; entries that are not regular files or whose name or value
 * is not valid for @kind are skipped. */
gboolean gvd_journal_list (const GvdJournalKind *kind, const char *dir, GStrv *out_names,
                           GStrv *out_values, GError **error);

G_END_DECLS
