/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NoCloud seed ISO (ISO 9660 + Joliet + Rock Ridge, volume id "cidata"),
 * written in-process with libisofs. */
#pragma once

#include <glib.h>

#include "cloudinit.h"

G_BEGIN_DECLS

/* The volume id cloud-init's NoCloud datasource looks for. */
#define GVD_SEED_ISO_VOLUME_ID "cidata"

/* The ISO image holding meta-data, user-data and (when set) network-config,
 * in memory (for a libvirt volume upload). */
GBytes *gvd_seed_iso_build (const GvdCloudInitSeed *seed, GError **error);

/* The same image written to @path atomically (temporary file + rename),
 * mode 0600: user-data carries the agent token. */
gboolean gvd_seed_iso_write_file (const GvdCloudInitSeed *seed, const char *path, GError **error);

G_END_DECLS
