/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What storage.c, storage-pool.c, storage-upload.c and storage-import.c
 * share: the GvdStorage object and the volume helpers. */
#pragma once

#include "storage.h"

G_BEGIN_DECLS

struct _GvdStorage {
  /* Serialises the check-then-act sequences (image in use → delete; base
   * exists → overlay; pool definition) and guards importing. */
  GMutex lock;
  /* The images being imported, hidden until their upload has completed:
   * "pool/name" → itself. */
  GHashTable *importing;
  /* Where imports are journalled (journal.h), or NULL: set once,
   * before any worker uses the object. */
  char *journal_dir;
};

/* Claim @name of @pool for an import: hidden from listings, overlays and
 * other imports until released; ALREADY_EXISTS when another import holds
 * it or the volume exists. With a journal, the claim is recorded there
 * before this returns (the volume may then be created). */
gboolean gvd_storage_claim (GvdStorage *storage, virStoragePoolPtr pool, const char *pool_name,
                            const char *name, GError **error);
/* Release the claim (and its journal entry); the volume is either
 * verified or deleted by now. FALSE when the journal entry could not be
 * removed: a kept volume must then be deleted (the next start would). */
gboolean gvd_storage_release (GvdStorage *storage, const char *pool_name, const char *name,
                              GError **error);
/* What libvirt reads back from an uploaded volume: @want ("raw" or
 * "qcow2"), no backing file; else INVALID_ARGUMENT. */
GvdVolumeInfo *gvd_storage_verify_import (virStoragePoolPtr pool, virStorageVolPtr vol,
                                          const char *want, GError **error);

/* GVD_ERROR_INVALID_ARGUMENT unless @name is a valid volume name; @what
 * names it ("image", "volume", "storage pool"). */
gboolean gvd_storage_check_name (const char *what, const char *name, GError **error);
virStoragePoolPtr gvd_storage_lookup_pool (virConnectPtr conn, const char *pool_name,
                                          GError **error);
GvdVolumeInfo *gvd_storage_volume_info (virStorageVolPtr vol, GError **error);
gboolean gvd_storage_is_instance_volume (const char *name, const char *instance_prefix);
/* @info as an image; its users are the volumes of @all backed by it. */
GvdImage *gvd_storage_image_from_info (const GvdVolumeInfo *info, GPtrArray *all);
/* TRUE, with *error set (ALREADY_EXISTS or the lookup's), unless the
 * volume is known not to exist. */
gboolean gvd_storage_volume_exists (virStoragePoolPtr pool, const char *name, GError **error);
/* The volume's path in g_malloc memory. */
char *gvd_storage_volume_path (virStorageVolPtr vol, GError **error);

/* storage-upload.c */
typedef struct {
  int fd;            /* source file, or -1 */
  GBytes *bytes;     /* or source bytes */
  guint64 offset;
  guint64 length;    /* never send more than this */
  int saved_errno;
} GvdUploadSource;

void gvd_storage_delete_quietly (virStorageVolPtr vol);
/* A new raw volume of @src->length bytes filled from @src; deleted on
 * failure. */
virStorageVolPtr gvd_storage_create_and_upload (virConnectPtr conn, virStoragePoolPtr pool,
                                                const char *name, GvdUploadSource *src,
                                                GError **error);

G_END_DECLS
