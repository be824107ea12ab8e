/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A double of the kernel's mdev core for tests: creates and removes mdevs in
 * a copy of a fixture sysfs tree the way the kernel shows them (the
 * /sys/bus/mdev/devices/<uuid> link into the parent, the mdev_type link,
 * the type's devices/ entry, available_instances counting down), in place
 * of libvirt's node device API, which needs an mdev-capable parent. */
#pragma once

#include <glib.h>

#include "mdev.h"

typedef struct {
  GvdMdevOps ops;      /* first: the manager is handed &fake->ops */
  char *sysfs;         /* the copy's sys/ */
  guint fail_on;       /* refuse the Nth create (1-based); 0: none */
  guint creates;       /* creates asked for */
  guint removes;       /* removes asked for */
} GvdTestMdevFake;

GvdTestMdevFake *gvd_test_mdev_fake_new (const char *sysfs);
void gvd_test_mdev_fake_free (GvdTestMdevFake *fake);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdTestMdevFake, gvd_test_mdev_fake_free)

/* Copy the fixture host tests/data/hosts/@host (symlinks as symlinks) to a
 * new temporary directory; returns it (remove with gvd_test_rm_rf). */
char *gvd_test_copy_host (const char *host);
/* Does sysfs below @sysfs show mdev @uuid? */
gboolean gvd_test_mdev_exists (const char *sysfs, const char *uuid);
/* available_instances of @type on @parent below @sysfs. */
guint gvd_test_mdev_available (const char *sysfs, const char *parent, const char *type);
