/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hot-plug, the pure half: one disk's or NIC's device XML (rendered by the
 * create's own code), finding a device and its alias in a domain, and
 * adding or removing one device's entry in gpuvmd's metadata. */
#pragma once

#include <glib.h>

#include "instance-spec.h"

G_BEGIN_DECLS

/* <disk> of @d (a data disk with its target set) or <interface> of @nic
 * (its MAC set, no port forwards), for virDomainAttachDeviceFlags and
 * virDomainDetachDeviceFlags. @pci_bus > 0: the device sits on slot 0 of
 * that bus (an empty pcie-root-port); 0: libvirt places it. */
char *gvd_domain_xml_disk_device (const GvdDiskSpec *d, guint pci_bus, GError **error);
char *gvd_domain_xml_nic_device (const GvdNicSpec *nic, guint pci_bus, GError **error);

/* The target of every <disk> of domain @xml (cdroms too), NULL-terminated. */
char **gvd_domain_xml_disk_targets (const char *xml, GError **error);

/* The first free target for a disk on @bus ("vd?" or "sd?") given the
 * targets in @used (NULL-terminated, may be NULL): the create's rule
 * (gvd_disk_specs_assign_targets). */
char *gvd_domain_xml_pick_target (GvdDiskBus bus, char **used);

/* Whether domain @xml has the disk at @target (@is_disk) or the interface
 * with MAC @key; its alias (libvirt's or a user alias) in @out_alias when
 * the XML has one (live XML), else NULL. */
gboolean gvd_domain_xml_find_device (const char *xml, gboolean is_disk, const char *key,
                                     char **out_alias, GError **error);

/* gpuvmd's <instance> metadata element @metadata (as virDomainGetMetadata
 * gives it) with one entry added or removed: <disks><disk target=…> for a
 * data disk, <nics><nic mac=…> for a NIC. The result declares the
 * namespace under the prefix "g", ready for virDomainSetMetadata. Removing
 * an entry that is not there changes nothing. */
char *gvd_domain_xml_metadata_add_disk (const char *metadata, const GvdDiskSpec *d,
                                        GError **error);
char *gvd_domain_xml_metadata_remove_disk (const char *metadata, const char *target,
                                           GError **error);
char *gvd_domain_xml_metadata_add_nic (const char *metadata, const GvdNicSpec *nic,
                                       GError **error);
char *gvd_domain_xml_metadata_remove_nic (const char *metadata, const char *mac,
                                          GError **error);

G_END_DECLS
