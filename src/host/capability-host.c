/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability facts from the host: read devfs, procfs and sysfs below
 * the host root and probe the storage pool directory. */
#include "config.h"

#include "capability-host.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "host-read.h"

/* Directory entries counted at most (IOMMU groups, IOMMU units). */
#define MAX_DIR_ENTRIES 65536
/* Parent directories walked up from the pool path at most. */
#define MAX_POOL_DEPTH 256

/* At most the first GVD_CAPABILITY_MAX_FILE bytes of @path (host-read.h). */
static char *
read_bounded (const char *path, GError **error)
{
  return gvd_host_read_head (path, GVD_CAPABILITY_MAX_FILE, NULL, error);
}

static int
count_entries (const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  int n = 0;

  if (dir == NULL)
    return -1;
  while (g_dir_read_name (dir) != NULL && n < MAX_DIR_ENTRIES)
    n++;
  return n;
}

static GvdTristate
read_bool_param (const char *path)
{
  g_autofree char *text = read_bounded (path, NULL);

  if (text == NULL)
    return GVD_TRISTATE_UNKNOWN;
  g_strstrip (text);
  if (g_str_equal (text, "Y") || g_str_equal (text, "1"))
    return GVD_TRISTATE_YES;
  if (g_str_equal (text, "N") || g_str_equal (text, "0"))
    return GVD_TRISTATE_NO;
  return GVD_TRISTATE_UNKNOWN;
}

static void
gather_devfs (GvdHostFacts *f, const GvdHostRoot *root)
{
  g_autofree char *vfio = gvd_host_root_devfs (root, "vfio", "vfio", NULL);

  g_free (f->kvm_path);
  f->kvm_path = gvd_host_root_devfs (root, "kvm", NULL);
  f->kvm_exists = g_file_test (f->kvm_path, G_FILE_TEST_EXISTS);
  f->kvm_accessible = f->kvm_exists && g_access (f->kvm_path, R_OK | W_OK) == 0;
  if (f->kvm_exists && !f->kvm_accessible)
    f->kvm_error = g_strdup (g_strerror (errno));
  f->vfio_dev_exists = g_file_test (vfio, G_FILE_TEST_EXISTS);
}

static void
gather_procfs (GvdHostFacts *f, const GvdHostRoot *root, char **out_modules)
{
  g_autofree char *cpuinfo_path = gvd_host_root_procfs (root, "cpuinfo", NULL);
  g_autofree char *cmdline_path = gvd_host_root_procfs (root, "cmdline", NULL);
  g_autofree char *irq_path = gvd_host_root_procfs (root, "interrupts", NULL);
  g_autofree char *mem_path = gvd_host_root_procfs (root, "meminfo", NULL);
  g_autofree char *mod_path = gvd_host_root_procfs (root, "modules", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  text = read_bounded (cpuinfo_path, &error);
  f->cpuinfo_ok = text != NULL;
  if (text != NULL)
    gvd_capability_parse_cpuinfo (text, &f->cpu);
  else
    f->cpuinfo_error = g_strdup (error->message);
  g_clear_pointer (&text, g_free);

  text = read_bounded (cmdline_path, NULL);
  if (text != NULL)
    f->cmdline = gvd_capability_parse_cmdline (text);
  g_clear_pointer (&text, g_free);

  text = read_bounded (irq_path, NULL);
  if (text != NULL)
    f->ir_active = gvd_capability_interrupts_have_ir (text) ? GVD_TRISTATE_YES : GVD_TRISTATE_NO;
  g_clear_pointer (&text, g_free);

  text = read_bounded (mem_path, NULL);
  f->mem_total_bytes = gvd_capability_parse_meminfo (text);
  g_clear_pointer (&text, g_free);

  /* A kernel without module support has no /proc/modules: NULL is fine. */
  *out_modules = read_bounded (mod_path, NULL);
}

/* The IR bit of any Intel DMAR unit (<sysfs>/class/iommu/dmarN/intel-iommu/ecap). */
static GvdTristate
gather_ir_hardware (const GvdHostRoot *root)
{
  g_autofree char *class_path = gvd_host_root_sysfs (root, "class", "iommu", NULL);
  g_autoptr(GDir) dir = g_dir_open (class_path, 0, NULL);
  GvdTristate result = GVD_TRISTATE_UNKNOWN;
  const char *name;
  int n = 0;

  if (dir == NULL)
    return GVD_TRISTATE_UNKNOWN;
  while ((name = g_dir_read_name (dir)) != NULL && n++ < MAX_DIR_ENTRIES)
    {
      g_autofree char *ecap_path = g_build_filename (class_path, name, "intel-iommu", "ecap",
                                                     NULL);
      g_autofree char *ecap = read_bounded (ecap_path, NULL);

      if (ecap == NULL)
        continue;
      if (gvd_capability_ecap_has_ir (ecap))
        return GVD_TRISTATE_YES;
      result = GVD_TRISTATE_NO;
    }
  return result;
}

static void
gather_sysfs (GvdHostFacts *f, const GvdHostRoot *root, const char *proc_modules)
{
  g_autofree char *groups = gvd_host_root_sysfs (root, "kernel", "iommu_groups", NULL);
  g_autofree char *unsafe = gvd_host_root_sysfs (root, "module", "vfio_iommu_type1", "parameters",
                                                 "allow_unsafe_interrupts", NULL);

  f->iommu_groups = count_entries (groups);

  /* A loaded module has <sysfs>/module/<name>/initstate; a built-in one
   * appears there (when it has parameters) without initstate, and never in
   * /proc/modules. */
  for (guint i = 0; i < GVD_CAPABILITY_N_VFIO_MODULES; i++)
    {
      const char *name = gvd_capability_vfio_modules[i];
      g_autofree char *dir = gvd_host_root_sysfs (root, "module", name, NULL);
      g_autofree char *initstate = g_build_filename (dir, "initstate", NULL);

      if (gvd_capability_modules_has (proc_modules, name)
          || g_file_test (initstate, G_FILE_TEST_EXISTS))
        f->modules[i] = GVD_MODULE_LOADED;
      else if (g_file_test (dir, G_FILE_TEST_IS_DIR))
        f->modules[i] = GVD_MODULE_BUILTIN;
      else
        f->modules[i] = GVD_MODULE_ABSENT;
    }

  f->allow_unsafe_interrupts = read_bool_param (unsafe);
  f->ir_hardware = gather_ir_hardware (root);
}

/* The pool directory need not exist yet: gpuvmd creates it. Check the
 * nearest existing ancestor is a writable directory. */
static void
gather_pool (GvdHostFacts *f, const char *pool_path)
{
  g_autofree char *path = NULL;

  g_free (f->pool_path);
  f->pool_path = g_strdup (pool_path);
  if (pool_path == NULL || !g_path_is_absolute (pool_path))
    {
      f->pool_error = g_strdup ("[storage] pool_path is not an absolute path");
      return;
    }
  path = g_canonicalize_filename (pool_path, NULL);
  for (int depth = 0; depth < MAX_POOL_DEPTH && !g_file_test (path, G_FILE_TEST_EXISTS); depth++)
    {
      g_autofree char *parent = g_path_get_dirname (path);

      g_free (path);
      path = g_steal_pointer (&parent);
    }
  f->pool_checked = g_strdup (path);
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      f->pool_error = g_strdup ("not a directory");
      return;
    }
  if (g_access (path, W_OK | X_OK) != 0)
    {
      f->pool_error = g_strdup (g_strerror (errno));
      return;
    }
  f->pool_writable = TRUE;
}

void
gvd_capability_gather_host (GvdHostFacts *facts, const GvdHostRoot *root, const char *pool_path)
{
  g_autofree char *proc_modules = NULL;

  g_return_if_fail (facts != NULL && root != NULL);

  gather_devfs (facts, root);
  gather_procfs (facts, root, &proc_modules);
  gather_sysfs (facts, root, proc_modules);
  gather_pool (facts, pool_path);
}
