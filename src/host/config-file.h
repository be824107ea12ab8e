/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading gpuvmd.conf: a bounded read of a regular file, handed to the
 * pure parser (gvd_config_load_data()). */
#pragma once

#include <glib.h>

#include "gvd-config.h"

G_BEGIN_DECLS

/* Largest configuration file read, in bytes. */
#define GVD_CONFIG_FILE_MAX (1024 * 1024)

/* Read @path (a regular file of at most GVD_CONFIG_FILE_MAX bytes; a
 * symlink to one is fine) and apply it over the values in @config. Every
 * error is GVD_ERROR_INVALID_CONFIG naming @path; on failure @config is
 * unchanged. */
gboolean gvd_config_file_load (GvdConfig *config, const char *path, GError **error);

G_END_DECLS
