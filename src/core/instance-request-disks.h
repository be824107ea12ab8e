/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The create request's "disks": data disks as disk specs (pure), the
 * operator's policy on network disks, and the names of data disk volumes. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "domain-xml.h"
#include "gvd-config.h"
#include "instance-spec.h"

G_BEGIN_DECLS

/* The root disk is one of the domain's disks. */
#define GVD_MAX_DATA_DISKS (GVD_DOMAIN_XML_MAX_DISKS - 1)
/* ^[a-z0-9][a-z0-9_]{0,31}$: no '-', so "-disk-" ends a volume's instance name. */
#define GVD_DISK_NAME_MAX 32
/* QEMU truncates a virtio-blk serial to 20 bytes (VIRTIO_BLK_ID_BYTES). */
#define GVD_DISK_SERIAL_MAX 20
#define GVD_DISK_MIN_GIB 1
#define GVD_DISK_MAX_GIB (64 * 1024)
/* An iothread id a disk may ask for (the domain gets that many). */
#define GVD_DISK_MAX_IOTHREAD 16
/* Monitors of one RBD disk (the renderer writes one <host>). */
#define GVD_DISK_RBD_MAX_MONITORS 1

/* Parse the "disks" array into GvdDiskSpec (type VOLUME with volume NULL
 * and created set: a new volume of size_bytes; VOLUME with volume set: an
 * existing volume; NBD; RBD). Pool and targets are left for the caller.
 * Errors are GVD_ERROR_INVALID_ARGUMENT naming the member ('disks[2].bus'). */
gboolean gvd_disk_requests_parse (JsonNode *node, GPtrArray **out_disks, GError **error);

/* One disk object as in "disks" (the same members and rules), its
 * members named "@field.member", or "member" when @field is NULL (a disk
 * that is a whole request body: POST /v1/instances/{name}/disks). */
GvdDiskSpec *gvd_disk_request_parse (JsonNode *node, const char *field, GError **error);

/* The operator's say on @disks: NBD/RBD only when [storage] network_disks
 * lists the protocol, and only to hosts in [storage] network_disk_hosts
 * (GVD_ERROR_FORBIDDEN naming the member and the key). */
gboolean gvd_disk_requests_check_policy (GPtrArray *disks, const GvdConfig *config,
                                         GError **error);
/* The same for one disk whose members are named as gvd_disk_request_parse
 * names them. */
gboolean gvd_disk_request_check_policy (const GvdDiskSpec *d, const char *field,
                                        const GvdConfig *config, GError **error);

/* The volume gpuvmd makes for data disk @disk of domain @domain_name:
 * "<domain>-disk-<disk>.<format>", or "<domain>-kept-<disk>.<format>" when
 * it is kept (recovery's sweep never takes a kept volume). */
char *gvd_disk_volume_name (const char *domain_name, const char *disk, gboolean keep,
                            const char *format);

/* The instance a data disk volume of @prefix belongs to when it is one
 * gpuvmd deletes with its instance ("<prefix><name>-disk-<disk>.qcow2|raw"),
 * else NULL. */
char *gvd_disk_volume_instance (const char *volume, const char *prefix);

/* Whether @volume is a kept data disk volume of @prefix
 * ("<prefix><name>-kept-<disk>.qcow2|raw", <disk> not "root" or "seed"). */
gboolean gvd_disk_volume_is_kept (const char *volume, const char *prefix);

/* Give every disk without a target one: "vd?" for virtio, "sd?" for SCSI
 * and SATA, in order, after those already taken. Metadata and recovery key
 * data disks by target. */
void gvd_disk_specs_assign_targets (GPtrArray *disks);

/* POST /v1/instances/{name}/resize: {"root_disk_gib": N, "disks": {"NAME":
 * N, ...}}, at least one of them; sizes in GiB, 1..GVD_DISK_MAX_GIB.
 * *@out_root_gib is 0 when the root disk is not named; *@out_disks maps disk
 * names to guint64 GiB (g_free'd), empty when none. */
gboolean gvd_resize_request_parse (JsonObject *body, guint64 *out_root_gib,
                                   GHashTable **out_disks, GError **error);

G_END_DECLS
