/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vGPU parents read live from sysfs (hostinfo-vgpu.h). */
#include "config.h"

#include "hostinfo-vgpu.h"
#include "host-read.h"
#include "pci-address.h"

#include <string.h>

static char *
read_line (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  char *text = gvd_host_read_small (path);

  if (text != NULL)
    g_strstrip (text);
  if (text != NULL && *text == '\0')
    g_clear_pointer (&text, g_free);
  return text;
}

static int
compare_types (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(GvdVgpuType *const *) a)->type, (*(GvdVgpuType *const *) b)->type);
}

static int
compare_mdevs (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(GvdMdev *const *) a)->uuid, (*(GvdMdev *const *) b)->uuid);
}

static int
compare_parents (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(GvdVgpuParent *const *) a)->address, (*(GvdVgpuParent *const *) b)->address);
}

/* The last component of a symlink's target, or NULL. */
static char *
link_basename (const char *path)
{
  g_autofree char *target = g_file_read_link (path, NULL);

  return target != NULL ? g_path_get_basename (target) : NULL;
}

/* An mdev's parent: the directory above it on the link's target path. */
static char *
mdev_link_parent (const char *link)
{
  g_autofree char *target = g_file_read_link (link, NULL);
  g_autofree char *dir = target != NULL ? g_path_get_dirname (target) : NULL;
  g_autofree char *base = dir != NULL ? g_path_get_basename (dir) : NULL;

  return base != NULL && gvd_pci_address_is_canonical (base) ? g_steal_pointer (&base) : NULL;
}

static gboolean
uuid_like (const char *s)
{
  return g_uuid_string_is_valid (s);
}

GvdVgpuParent *
gvd_hostinfo_read_vgpu_parent (const GvdHostRoot *root, const char *address, int numa_node)
{
  g_autofree char *types_dir = gvd_host_root_sysfs (root, "bus", "pci", "devices", address,
                                                    "mdev_supported_types", NULL);
  g_autofree char *bus_dir = gvd_host_root_sysfs (root, "bus", "mdev", "devices", NULL);
  g_autoptr(GDir) d = g_dir_open (types_dir, 0, NULL);
  g_autoptr(GDir) bus = NULL;
  g_autoptr(GvdVgpuParent) p = NULL;
  const char *name;

  if (d == NULL)
    return NULL;
  p = gvd_vgpu_parent_new (address);
  p->numa_node = numa_node;
  while ((name = g_dir_read_name (d)) != NULL && p->types->len < GVD_VGPU_MAX_TYPES)
    {
      g_autofree char *tdir = g_build_filename (types_dir, name, NULL);
      g_autofree char *avail = NULL;
      GvdVgpuType *t;

      if (!gvd_vgpu_type_is_valid (name))
        continue;
      t = gvd_vgpu_type_new ();
      t->type = g_strdup (name);
      t->name = read_line (tdir, "name");
      t->description = read_line (tdir, "description");
      t->device_api = read_line (tdir, "device_api");
      avail = read_line (tdir, "available_instances");
      if (avail != NULL)
        t->available = (guint) MIN (g_ascii_strtoull (avail, NULL, 10), G_MAXUINT);
      g_ptr_array_add (p->types, t);
    }
  g_ptr_array_sort (p->types, compare_types);

  /* The mdevs on this parent: /sys/bus/mdev/devices/<uuid> links into it. */
  bus = g_dir_open (bus_dir, 0, NULL);
  while (bus != NULL && (name = g_dir_read_name (bus)) != NULL
         && p->mdevs->len < GVD_VGPU_MAX_MDEVS)
    {
      g_autofree char *link = g_build_filename (bus_dir, name, NULL);
      g_autofree char *parent = NULL;
      g_autofree char *type_link = NULL;
      g_autofree char *type = NULL;

      if (!uuid_like (name) || (parent = mdev_link_parent (link)) == NULL
          || !g_str_equal (parent, address))
        continue;
      type_link = g_build_filename (link, "mdev_type", NULL);
      type = link_basename (type_link);
      g_ptr_array_add (p->mdevs, gvd_mdev_new (name, type));
    }
  g_ptr_array_sort (p->mdevs, compare_mdevs);
  return g_steal_pointer (&p);
}

GPtrArray *
gvd_hostinfo_read_vgpu (const GvdHostRoot *root, const GvdInventory *inventory)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_parent_free);

  for (guint i = 0; i < inventory->devices->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (inventory->devices, i);
      GvdVgpuParent *p;

      /* The scan saw the types; a driver loaded since is seen at the next scan. */
      if (dev->mdev_types->len == 0)
        continue;
      p = gvd_hostinfo_read_vgpu_parent (root, dev->address, dev->numa_node);
      if (p != NULL)
        g_ptr_array_add (out, p);
    }
  g_ptr_array_sort (out, compare_parents);
  return out;
}

char *
gvd_hostinfo_mdev_parent (const GvdHostRoot *root, const char *uuid)
{
  g_autofree char *lower = NULL;
  g_autofree char *link = NULL;

  if (!uuid_like (uuid))
    return NULL;
  lower = g_ascii_strdown (uuid, -1);
  link = gvd_host_root_sysfs (root, "bus", "mdev", "devices", lower, NULL);
  return mdev_link_parent (link);
}

void
gvd_hostinfo_vgpu_members (const GvdHostRoot *root, const GvdPciDevice *dev, GvdClaims *claims,
                           JsonBuilder *b)
{
  g_autoptr(GvdVgpuParent) p = NULL;

  if (dev != NULL && dev->mdev_types->len > 0)
    p = gvd_hostinfo_read_vgpu_parent (root, dev->address, dev->numa_node);
  if (p == NULL)
    p = gvd_vgpu_parent_new (dev != NULL ? dev->address : NULL);
  gvd_vgpu_parent_add_members (p, claims, b);
}
