/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel's mdev core, doubled for tests (mdev-fake.h). */
#include "config.h"

#include "mdev-fake.h"
#include "testlib.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "errors.h"

static void
copy_tree (const char *src, const char *dst)
{
  g_autoptr(GDir) dir = g_dir_open (src, 0, NULL);
  const char *name;

  assert_non_null (dir);
  assert_int_equal (g_mkdir_with_parents (dst, 0755), 0);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *s = g_build_filename (src, name, NULL);
      g_autofree char *d = g_build_filename (dst, name, NULL);
      g_autofree char *target = NULL;

      if (g_file_test (s, G_FILE_TEST_IS_SYMLINK))
        {
          target = g_file_read_link (s, NULL);
          assert_non_null (target);
          assert_int_equal (symlink (target, d), 0);
        }
      else if (g_file_test (s, G_FILE_TEST_IS_DIR))
        copy_tree (s, d);
      else
        {
          g_autofree char *text = NULL;
          gsize len = 0;

          assert_true (g_file_get_contents (s, &text, &len, NULL));
          assert_true (g_file_set_contents (d, text, len, NULL));
        }
    }
}

char *
gvd_test_copy_host (const char *host)
{
  g_autofree char *src = gvd_test_data_path ("data", "hosts", host, NULL);
  char *tmp = g_dir_make_tmp ("gvd-test-host-XXXXXX", NULL);

  assert_non_null (tmp);
  copy_tree (src, tmp);
  return tmp;
}

static char *
type_dir (const char *sysfs, const char *parent, const char *type)
{
  return g_build_filename (sysfs, "bus", "pci", "devices", parent, "mdev_supported_types", type,
                           NULL);
}

static guint
read_available (const char *tdir)
{
  g_autofree char *path = g_build_filename (tdir, "available_instances", NULL);
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return (guint) g_ascii_strtoull (text, NULL, 10);
}

static void
write_available (const char *tdir, guint n)
{
  g_autofree char *path = g_build_filename (tdir, "available_instances", NULL);
  g_autofree char *text = g_strdup_printf ("%u\n", n);

  assert_true (g_file_set_contents (path, text, -1, NULL));
}

guint
gvd_test_mdev_available (const char *sysfs, const char *parent, const char *type)
{
  g_autofree char *tdir = type_dir (sysfs, parent, type);

  return read_available (tdir);
}

gboolean
gvd_test_mdev_exists (const char *sysfs, const char *uuid)
{
  g_autofree char *link = g_build_filename (sysfs, "bus", "mdev", "devices", uuid, NULL);

  return g_file_test (link, G_FILE_TEST_IS_DIR);
}

/* As the kernel answers a write to mdev_supported_types/<type>/create. */
static gboolean
fake_create (const GvdMdevOps *ops, virConnectPtr conn, const char *parent, const char *type,
             const char *uuid, GError **error)
{
  GvdTestMdevFake *fake = (GvdTestMdevFake *) ops;
  g_autofree char *pci_link = g_build_filename (fake->sysfs, "bus", "pci", "devices", parent, NULL);
  g_autofree char *pci_target = g_file_read_link (pci_link, NULL);
  g_autofree char *tdir = type_dir (fake->sysfs, parent, type);
  g_autofree char *mdev_dir = g_build_filename (pci_link, uuid, NULL);
  g_autofree char *type_link = g_build_filename (mdev_dir, "mdev_type", NULL);
  g_autofree char *type_target = g_build_filename ("..", "mdev_supported_types", type, NULL);
  g_autofree char *bus_dir = g_build_filename (fake->sysfs, "bus", "mdev", "devices", NULL);
  g_autofree char *bus_link = g_build_filename (bus_dir, uuid, NULL);
  g_autofree char *bus_target = NULL;
  g_autofree char *devices_dir = g_build_filename (tdir, "devices", NULL);
  g_autofree char *devices_link = g_build_filename (devices_dir, uuid, NULL);
  g_autofree char *devices_target = g_build_filename ("..", "..", "..", uuid, NULL);
  guint avail;

  fake->creates++;
  if (fake->fail_on != 0 && fake->creates == fake->fail_on)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "cannot create vGPU %s (mdev %s) on %s: write error: No space left on device",
                   type, uuid, parent);
      return FALSE;
    }
  if (pci_target == NULL || !g_file_test (tdir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "cannot create vGPU %s (mdev %s) on %s: invalid parent device or type", type,
                   uuid, parent);
      return FALSE;
    }
  avail = read_available (tdir);
  if (avail == 0 || g_file_test (bus_link, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "cannot create vGPU %s (mdev %s) on %s: %s", type, uuid, parent,
                   avail == 0 ? "No space left on device" : "File exists");
      return FALSE;
    }
  /* bus/mdev/devices sits as deep as bus/pci/devices: the PCI link's
   * target plus the uuid is the mdev's. */
  bus_target = g_build_filename (pci_target, uuid, NULL);
  assert_int_equal (g_mkdir_with_parents (mdev_dir, 0755), 0);
  assert_int_equal (symlink (type_target, type_link), 0);
  assert_int_equal (g_mkdir_with_parents (bus_dir, 0755), 0);
  assert_int_equal (symlink (bus_target, bus_link), 0);
  assert_int_equal (g_mkdir_with_parents (devices_dir, 0755), 0);
  assert_int_equal (symlink (devices_target, devices_link), 0);
  write_available (tdir, avail - 1);
  return TRUE;
}

/* As the kernel answers a write to /sys/bus/mdev/devices/<uuid>/remove. */
static gboolean
fake_remove (const GvdMdevOps *ops, virConnectPtr conn, const char *uuid, GError **error)
{
  GvdTestMdevFake *fake = (GvdTestMdevFake *) ops;
  g_autofree char *bus_link = g_build_filename (fake->sysfs, "bus", "mdev", "devices", uuid, NULL);
  g_autofree char *type_link = g_build_filename (bus_link, "mdev_type", NULL);
  g_autofree char *type_rel = g_file_read_link (type_link, NULL);
  g_autofree char *mdev_dir = NULL;
  g_autofree char *tdir = NULL;
  g_autofree char *devices_link = NULL;

  fake->removes++;
  if (!g_file_test (bus_link, G_FILE_TEST_IS_DIR))
    return TRUE;
  assert_non_null (type_rel);
  {
    g_autofree char *target = g_file_read_link (bus_link, NULL);
    g_autofree char *bus_dir = g_path_get_dirname (bus_link);
    mdev_dir = g_build_filename (bus_dir, target, NULL);
  }
  tdir = g_build_filename (mdev_dir, type_rel, NULL);
  devices_link = g_build_filename (tdir, "devices", uuid, NULL);
  /* tdir goes through mdev_dir/..: count up before the directory goes. */
  write_available (tdir, read_available (tdir) + 1);
  assert_int_equal (g_unlink (devices_link), 0);
  assert_int_equal (g_unlink (type_link), 0);
  assert_int_equal (g_rmdir (mdev_dir), 0);
  assert_int_equal (g_unlink (bus_link), 0);
  return TRUE;
}

GvdTestMdevFake *
gvd_test_mdev_fake_new (const char *sysfs)
{
  GvdTestMdevFake *fake = g_new0 (GvdTestMdevFake, 1);

  fake->ops.create = fake_create;
  fake->ops.remove = fake_remove;
  fake->ops.data = fake;
  fake->sysfs = g_strdup (sysfs);
  return fake;
}

void
gvd_test_mdev_fake_free (GvdTestMdevFake *fake)
{
  if (fake == NULL)
    return;
  g_free (fake->sysfs);
  g_free (fake);
}
