/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where the host's sysfs, procfs and devfs live: the one place host paths
 * come from, so tests can point every reader at a fixture tree. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *sysfs;
  char *procfs;
  char *devfs;
} GvdHostRoot;

/* NULL for any root means the real one (/sys, /proc, /dev). */
GvdHostRoot *gvd_host_root_new (const char *sysfs, const char *procfs, const char *devfs);
/* All three roots below one directory: @dir/sys, @dir/proc, @dir/dev. */
GvdHostRoot *gvd_host_root_new_prefixed (const char *dir);
GvdHostRoot *gvd_host_root_copy (const GvdHostRoot *root);
void gvd_host_root_free (GvdHostRoot *root);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdHostRoot, gvd_host_root_free)

/* Paths below each root, e.g. gvd_host_root_sysfs (root, "bus", "pci", NULL). */
char *gvd_host_root_sysfs (const GvdHostRoot *root, const char *first, ...) G_GNUC_NULL_TERMINATED;
char *gvd_host_root_procfs (const GvdHostRoot *root, const char *first, ...) G_GNUC_NULL_TERMINATED;
char *gvd_host_root_devfs (const GvdHostRoot *root, const char *first, ...) G_GNUC_NULL_TERMINATED;
/* Any other host path (e.g. "var", "run", ...): below the directory that
 * holds the procfs root, i.e. "/" for /proc and DIR for DIR/proc, so a
 * fixture tree carries its own var/run next to its proc/. */
char *gvd_host_root_hostfs (const GvdHostRoot *root, const char *first, ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS
