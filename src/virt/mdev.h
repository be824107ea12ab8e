/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Creating and removing mediated devices (vGPUs) through libvirt's node
 * device API, behind a small table of operations so that tests can put a
 * double of the kernel in libvirt's place (a host without an mdev-capable
 * parent cannot create one). */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

typedef struct _GvdMdevOps GvdMdevOps;

struct _GvdMdevOps {
  /* Create mdev @uuid of @type on @parent (a PCI address), persistent and
   * started. Worker thread. On failure nothing of it is left. */
  gboolean (*create) (const GvdMdevOps *ops, virConnectPtr conn, const char *parent,
                      const char *type, const char *uuid, GError **error);
  /* Stop and forget mdev @uuid; one that is not there is no error. */
  gboolean (*remove) (const GvdMdevOps *ops, virConnectPtr conn, const char *uuid,
                      GError **error);
  gpointer data;
};

/* libvirt's: virNodeDeviceDefineXML + virNodeDeviceCreate + autostart;
 * virNodeDeviceDestroy + virNodeDeviceUndefine to remove. */
const GvdMdevOps *gvd_mdev_ops_libvirt (void);

/* <device><parent>pci_0000_41_00_0</parent><capability type='mdev'>
 * <type id='nvidia-63'/><uuid>…</uuid></capability></device> */
char *gvd_mdev_device_xml (const char *parent, const char *type, const char *uuid);
/* libvirt's node device name of PCI address @address: "pci_0000_41_00_0". */
char *gvd_mdev_parent_nodedev_name (const char *address);

G_END_DECLS
