/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hugepage sizes and the arithmetic of backing guest RAM with them (pure):
 * the names the API uses ("2M", "1G"), pages needed, and the refusal that
 * names a shortfall. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GVD_HUGEPAGE_2M_KIB 2048u
#define GVD_HUGEPAGE_1G_KIB 1048576u

/* "2M" → 2048, "1G" → 1048576; 0 for anything else. */
guint gvd_hugepage_size_from_name (const char *name);
/* 2048 → "2M", 1048576 → "1G"; NULL for other sizes. */
const char *gvd_hugepage_size_name (guint kib);

/* Pages of @page_kib that back @memory_mib; GVD_ERROR_INVALID_ARGUMENT
 * naming @field when the memory is not a whole number of pages. */
gboolean gvd_hugepages_needed (const char *field, guint64 memory_mib, guint page_kib,
                               guint64 *out_pages, GError **error);

/* GVD_ERROR_CONFLICT (409: the request is sound, the host cannot hold it
 * now) naming @field and the shortfall when @needed pages are more than
 * @free_pages minus @promised (pages held for creates in flight). @node:
 * the NUMA node counted, -1: the whole host. */
gboolean gvd_hugepages_check_free (const char *field, guint page_kib, guint64 needed,
                                   guint64 free_pages, guint64 promised, int node,
                                   GError **error);

G_END_DECLS
