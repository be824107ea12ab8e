/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hugepage sizes and arithmetic: the one place "2M"/"1G" are spelled. */
#include "config.h"

#include "hugepages.h"

#include "errors.h"

static const struct {
  const char *name;
  guint kib;
} sizes[] = {
  { "2M", GVD_HUGEPAGE_2M_KIB },
  { "1G", GVD_HUGEPAGE_1G_KIB },
};

guint
gvd_hugepage_size_from_name (const char *name)
{
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (sizes); i++)
    if (g_str_equal (name, sizes[i].name))
      return sizes[i].kib;
  return 0;
}

const char *
gvd_hugepage_size_name (guint kib)
{
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    if (sizes[i].kib == kib)
      return sizes[i].name;
  return NULL;
}

gboolean
gvd_hugepages_needed (const char *field, guint64 memory_mib, guint page_kib, guint64 *out_pages,
                      GError **error)
{
  guint64 page_mib = page_kib / 1024;

  g_return_val_if_fail (page_mib > 0, FALSE);

  if (memory_mib % page_mib != 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s': memory_mib %" G_GUINT64_FORMAT " is not a whole number of %s pages "
                   "(a multiple of %" G_GUINT64_FORMAT ")",
                   field, memory_mib, gvd_hugepage_size_name (page_kib), page_mib);
      return FALSE;
    }
  *out_pages = memory_mib / page_mib;
  return TRUE;
}

gboolean
gvd_hugepages_check_free (const char *field, guint page_kib, guint64 needed, guint64 free_pages,
                          guint64 promised, int node, GError **error)
{
  guint64 page_mib = page_kib / 1024;
  guint64 available = free_pages > promised ? free_pages - promised : 0;
  g_autofree char *where = node >= 0 ? g_strdup_printf (" on NUMA node %d", node)
                                     : g_strdup ("");
  g_autofree char *held = NULL;

  if (needed <= available)
    return TRUE;
  if (promised > 0)
    held = g_strdup_printf (" (%" G_GUINT64_FORMAT " MiB free, %" G_GUINT64_FORMAT
                            " MiB of them held for instances being created)",
                            free_pages * page_mib, promised * page_mib);
  g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
               "'%s': %" G_GUINT64_FORMAT " MiB of %s pages needed%s, %" G_GUINT64_FORMAT
               " MiB available%s: %" G_GUINT64_FORMAT " MiB (%" G_GUINT64_FORMAT
               " pages) short; the host must reserve more (vm.nr_hugepages or "
               "/sys/kernel/mm/hugepages)",
               field, needed * page_mib, gvd_hugepage_size_name (page_kib), where,
               available * page_mib, held != NULL ? held : "", (needed - available) * page_mib,
               needed - available);
  return FALSE;
}
