/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk snapshots as data: names, the chain gpuvmd keeps in a domain's
 * metadata, and the domain XML edit that moves the root disk to a new top
 * overlay. Pure (libxml2). */
#pragma once

#include <json-glib/json-glib.h>

#include "errors.h"

G_BEGIN_DECLS

/* Snapshots one instance may hold (deleted ones whose layer is kept count). */
#define GVD_SNAPSHOT_MAX 32

/* One snapshot: the layer frozen when it was taken. The chain is ordered
 * oldest first; entry i's volume is the backing store of the layer above. */
typedef struct {
  char *name;
  char *volume;        /* the qcow2 layer holding the disk as it was */
  char *nvram_volume;  /* raw copy of the NVRAM, or NULL (none existed) */
  char *created_at;    /* RFC 3339 UTC */
  gboolean deleted;    /* deleted while the newest: its layer stays, unlisted */
  char *consistency;   /* GVD_SNAPSHOT_CONSISTENCY_*; NULL: taken stopped */
} GvdSnapshot;

/* How consistent a snapshot's disk state is: taken while the instance was
 * off; while it ran with the guest's filesystems frozen by
 * qemu-guest-agent; while it ran without (as after a power cut). */
#define GVD_SNAPSHOT_CONSISTENCY_STOPPED "stopped"
#define GVD_SNAPSHOT_CONSISTENCY_FILESYSTEM "filesystem"
#define GVD_SNAPSHOT_CONSISTENCY_CRASH "crash"

GvdSnapshot *gvd_snapshot_new (const char *name, const char *volume, const char *nvram_volume,
                               const char *created_at);
void gvd_snapshot_free (GvdSnapshot *snap);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdSnapshot, gvd_snapshot_free)

/* ^[a-z0-9][a-z0-9._-]{0,62}$ */
gboolean gvd_snapshot_name_is_valid (const char *name);

/* "<domain_name>-snap-<snap>.qcow2": the top overlay made when @snap was
 * taken (or reverted to); ".nvram" for its NVRAM copy. */
char *gvd_snapshot_top_volume (const char *domain_name, const char *snap);
char *gvd_snapshot_nvram_volume (const char *domain_name, const char *snap);

/* The name for a new top overlay on @snap's layer: the top volume name of
 * @snap, or that name with "-R" before ".qcow2" (never a
 * snapshot's: those are lower case) when the first is among @taken (the
 * top and the layers a revert drops). Alternating keeps the new overlay
 * beside the old ones until the domain is switched over. */
char *gvd_snapshot_fresh_top (const char *domain_name, const char *snap,
                              const char *const *taken);

/* The volume of @pool the root disk of @xml (the disk booted first) uses:
 * of type 'volume', or of type 'file' as a live snapshot leaves it (its
 * file's name, a volume of the same pool). NULL when there is no such
 * disk. */
char *gvd_snapshot_root_volume (const char *xml, const char *pool);

/* The volumes listed in @xml's gpuvmd metadata as made or dropped by a
 * snapshot operation that may not have finished (a crash): deleted by the
 * next one when the domain does not use them. NULL-terminated, maybe empty. */
char **gvd_snapshot_unused_parse (const char *xml, GError **error);
/* @xml with that list replaced by @volumes (NULL or empty: none). */
char *gvd_snapshot_unused_set (const char *xml, const char *const *volumes, GError **error);

/* The chain in @xml's gpuvmd metadata (GvdSnapshot *, oldest first; empty
 * when none). */
GPtrArray *gvd_snapshot_chain_parse (const char *xml, GError **error);

/* The volume the root disk uses now: the top of @chain, or
 * "<domain_name>-root.qcow2" without snapshots. */
char *gvd_snapshot_current_top (const char *domain_name, GPtrArray *chain);

/* The index of the snapshot named @name in @chain, or -1. */
int gvd_snapshot_chain_find (GPtrArray *chain, const char *name);

/* Where libvirt's QEMU driver keeps NVRAM files it names itself. */
#define GVD_LIBVIRT_NVRAM_DIR "/var/lib/libvirt/qemu/nvram"

/* The domain's NVRAM file: its <os><nvram> path, else for firmware='efi'
 * libvirt's default "<GVD_LIBVIRT_NVRAM_DIR>/<name>_VARS.fd"; NULL for a
 * BIOS domain. */
char *gvd_snapshot_nvram_path (const char *xml, GError **error);

/* @xml with the <disk> whose source is volume @old_top of @pool (or, after a
 * live snapshot, the file of that name) switched to volume @new_top, and gpuvmd's <snapshots> metadata replaced by @chain. Everything
 * else is kept as libvirt wrote it. GVD_ERROR_NOT_FOUND when no disk uses
 * @old_top. */
char *gvd_snapshot_chain_apply (const char *xml, const char *pool, const char *old_top,
                                const char *new_top, GPtrArray *chain, GError **error);

/* gpuvmd's metadata element @metadata (as gvd_domain_xml_render_metadata
 * writes it, without the chain) with its <snapshots> replaced by @chain and
 * its <unused-volumes> by @unused (NULL or empty: none): whoever rewrites
 * the metadata from a spec keeps both. */
char *gvd_snapshot_chain_into_metadata (const char *metadata, GPtrArray *chain,
                                        const char *const *unused, GError **error);

/* The <domainsnapshot> of a live, disk-only snapshot of the running
 * domain @live_xml: its disk on volume @top of @pool (or the file of that
 * name) goes external onto the qcow2 file @new_path, every other disk
 * (data disks, the seed CD-ROM) is left out. */
char *gvd_snapshot_live_xml (const char *live_xml, const char *pool, const char *top,
                             const char *new_path, GError **error);

/* {name, volume, nvram_volume, created_at, consistency} */
void gvd_snapshot_write_json (const GvdSnapshot *snap, JsonBuilder *b);

G_END_DECLS
