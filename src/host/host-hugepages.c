/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Free hugepages per size and NUMA node, from sysfs. */
#include "config.h"

#include "host-hugepages.h"

#include "errors.h"
#include "host-read.h"

gboolean
gvd_host_hugepages_free (const GvdHostRoot *root, guint page_kib, int node, guint64 *out_free,
                         GError **error)
{
  g_autofree char *size_dir = g_strdup_printf ("hugepages-%ukB", page_kib);
  g_autofree char *node_dir = node >= 0 ? g_strdup_printf ("node%d", node) : NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  guint64 value;

  g_return_val_if_fail (root != NULL && out_free != NULL, FALSE);

  if (node >= 0)
    dir = gvd_host_root_sysfs (root, "devices", "system", "node", node_dir, "hugepages", size_dir,
                               NULL);
  else
    dir = gvd_host_root_sysfs (root, "kernel", "mm", "hugepages", size_dir, NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      /* The kernel has no pool of this size (or no such node): none free. */
      *out_free = 0;
      return TRUE;
    }
  path = g_build_filename (dir, "free_hugepages", NULL);
  text = gvd_host_read (path, GVD_HOST_READ_SMALL, NULL, &local_error);
  if (text == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot read %s: %s", path,
                   local_error->message);
      return FALSE;
    }
  g_strstrip (text);
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64 / 2, &value, NULL))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "%s holds '%.32s', not a page count", path,
                   text);
      return FALSE;
    }
  *out_free = value;
  return TRUE;
}
