/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's free hugepages of one size, host-wide or on one NUMA node,
 * read through the host root (sysfs). */
#pragma once

#include <glib.h>

#include "host-root.h"

G_BEGIN_DECLS

/* free_hugepages of @page_kib pages: /sys/kernel/mm/hugepages/hugepages-NkB
 * when @node is -1, /sys/devices/system/node/nodeN/hugepages/hugepages-NkB
 * otherwise. A size the kernel does not offer (no such directory) has 0
 * free pages; an unreadable or malformed count is GVD_ERROR_IO naming the
 * file. */
gboolean gvd_host_hugepages_free (const GvdHostRoot *root, guint page_kib, int node,
                                  guint64 *out_free, GError **error);

G_END_DECLS
