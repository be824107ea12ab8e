/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A domain's UEFI variable store (the file libvirt's <nvram> names), read
 * and written whole for disk snapshots: libvirt 9.0 has no API for it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Largest NVRAM file gpuvmd copies (OVMF's are 128 KiB to 4 MiB). */
#define GVD_NVRAM_MAX_BYTES (64u * 1024 * 1024)

/* The file's bytes; NULL with no error when it does not exist (a domain
 * that never started has none yet). */
GBytes *gvd_nvram_file_read (const char *path, GError **error);

/* Replace @path with @data (@data NULL: remove it, so that libvirt makes a
 * fresh one from its template at the next start). Written to a temporary
 * file beside it, given the old file's owner and mode, then renamed over. */
gboolean gvd_nvram_file_write (const char *path, GBytes *data, GError **error);

G_END_DECLS
