/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host path roots (sysfs, procfs, devfs) and path building below them. */
#include "config.h"

#include "host-root.h"

GvdHostRoot *
gvd_host_root_new (const char *sysfs, const char *procfs, const char *devfs)
{
  GvdHostRoot *root = g_new0 (GvdHostRoot, 1);

  root->sysfs = g_strdup (sysfs != NULL ? sysfs : "/sys");
  root->procfs = g_strdup (procfs != NULL ? procfs : "/proc");
  root->devfs = g_strdup (devfs != NULL ? devfs : "/dev");
  return root;
}

GvdHostRoot *
gvd_host_root_new_prefixed (const char *dir)
{
  g_autofree char *sys = g_build_filename (dir, "sys", NULL);
  g_autofree char *proc = g_build_filename (dir, "proc", NULL);
  g_autofree char *dev = g_build_filename (dir, "dev", NULL);

  g_return_val_if_fail (dir != NULL, NULL);
  return gvd_host_root_new (sys, proc, dev);
}

GvdHostRoot *
gvd_host_root_copy (const GvdHostRoot *root)
{
  g_return_val_if_fail (root != NULL, NULL);
  return gvd_host_root_new (root->sysfs, root->procfs, root->devfs);
}

void
gvd_host_root_free (GvdHostRoot *root)
{
  if (root == NULL)
    return;
  g_free (root->sysfs);
  g_free (root->procfs);
  g_free (root->devfs);
  g_free (root);
}

static char *
build_below (const char *base, const char *first, va_list ap)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();

  g_ptr_array_add (parts, (gpointer) base);
  for (const char *p = first; p != NULL; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

#define DEFINE_ROOT_PATH(fn, field)                                   \
  char *fn (const GvdHostRoot *root, const char *first, ...)          \
  {                                                                   \
    va_list ap;                                                       \
    char *path;                                                       \
    g_return_val_if_fail (root != NULL, NULL);                        \
    va_start (ap, first);                                             \
    path = build_below (root->field, first, ap);                      \
    va_end (ap);                                                      \
    return path;                                                      \
  }

DEFINE_ROOT_PATH (gvd_host_root_sysfs, sysfs)
DEFINE_ROOT_PATH (gvd_host_root_procfs, procfs)
DEFINE_ROOT_PATH (gvd_host_root_devfs, devfs)

char *
gvd_host_root_hostfs (const GvdHostRoot *root, const char *first, ...)
{
  g_autofree char *base = NULL;
  va_list ap;
  char *path;

  g_return_val_if_fail (root != NULL, NULL);
  base = g_path_get_dirname (root->procfs);
  va_start (ap, first);
  path = build_below (base, first, ap);
  va_end (ap);
  return path;
}
