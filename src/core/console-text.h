/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The serial console's text as the API gives it: the last lines of a log,
 * made valid UTF-8, and the server-sent event that carries a chunk of it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bounds of GET /v1/instances/{name}/console. */
#define GVD_CONSOLE_DEFAULT_LINES 200
#define GVD_CONSOLE_MAX_LINES 10000
#define GVD_CONSOLE_MAX_BYTES (1024 * 1024)
/* Where libvirt's virtlogd keeps a domain's serial console log. */
#define GVD_CONSOLE_LOG_DIR "/var/log/libvirt/qemu"

/* The console log gpuvmd asks libvirt for: DIR/<domain>-console.log. */
char *gvd_console_log_path (const char *log_dir, const char *domain_name);

/* The last @lines lines of @data (a final line without a newline counts),
 * as valid UTF-8: invalid sequences become U+FFFD. Control characters are
 * kept; JSON escapes them and clients decide what a terminal may see. */
char *gvd_console_text_tail (const char *data, gsize len, guint lines);

/* "event: console\ndata: {\"text\": ...}\n\n" for one chunk of log (made
 * valid UTF-8); @rotated: the log started over before this chunk. */
char *gvd_console_text_sse (const char *data, gsize len, gboolean rotated);

G_END_DECLS
