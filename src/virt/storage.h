/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Storage through libvirt: the dir pool, base images, qcow2 overlays and
 * in-memory volumes (seed ISOs) uploaded through streams. */
#pragma once

#include <libvirt/libvirt.h>

#include "storage-xml.h"

G_BEGIN_DECLS

/* What the storage functions share within one daemon: the lock over their
 * check-then-act sequences (image in use → delete, base exists → overlay,
 * pool definition) and the set of images being imported (hidden until
 * complete). Made by whoever wires the daemon; workers hold a reference,
 * so it outlives a job still running at shutdown. Initialises libxml2. */
typedef struct _GvdStorage GvdStorage;

GvdStorage *gvd_storage_new (void);
GvdStorage *gvd_storage_ref (GvdStorage *storage);
void gvd_storage_unref (GvdStorage *storage);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdStorage, gvd_storage_unref)
/* Journal imports in @dir (journal.h) so that a volume a crash left
 * half-written is swept at the next start (gvd_storage_sweep_imports);
 * NULL: no journal. Call before any worker uses @storage. */
void gvd_storage_set_journal_dir (GvdStorage *storage, const char *dir);

/* All functions below do blocking libvirt calls: run them in worker
 * threads. They are thread-safe. Those that take a GvdStorage serialise
 * with each other through it. */

/* Make the libvirt dir pool @pool_name at @pool_path exist, built, active
 * and autostarted, and refresh it. A pool of that name with another type or
 * path is GVD_ERROR_CONFLICT (never reused). */
gboolean gvd_storage_ensure_pool (GvdStorage *storage, virConnectPtr conn,
                                  const char *pool_name, const char *pool_path, GError **error);

/* The pool's images (volumes whose names do not start with
 * @instance_prefix), sorted by name. */
GPtrArray *gvd_storage_list_images (GvdStorage *storage, virConnectPtr conn, const char *pool,
                                    const char *instance_prefix, GError **error);

/* One image, or GVD_ERROR_IMAGE_NOT_FOUND. */
GvdImage *gvd_storage_get_image (GvdStorage *storage, virConnectPtr conn, const char *pool,
                                 const char *name, const char *instance_prefix, GError **error);

/* Copy the local file @source_path into a new volume @name through a
 * libvirt stream. @source_path must be a regular file below one of
 * @import_dirs, reached without symlinks (see gvd_host_file_open()):
 * anything else is GVD_ERROR_FORBIDDEN or INVALID_ARGUMENT. @format: "raw", "qcow2", or NULL to detect
 * (qcow2 by its magic, else raw). A qcow2 with a backing file is refused.
 * The partial volume is deleted on any failure. */
GvdImage *gvd_storage_import_image (GvdStorage *storage, virConnectPtr conn, const char *pool,
                                    const char *name,
                                    const char *source_path, const char *format,
                                    const char *instance_prefix,
                                    const char *const *import_dirs, GError **error);

/* An import fed piece by piece (a download): the volume @name of @length
 * bytes is created (claimed and journalled as gvd_storage_import_image
 * does, hidden until finished) and a libvirt upload stream opened on it. */
typedef struct _GvdStorageSink GvdStorageSink;

GvdStorageSink *gvd_storage_sink_open (GvdStorage *storage, virConnectPtr conn, const char *pool,
                                       const char *name, guint64 length,
                                       const char *instance_prefix, GError **error);
/* Send @len bytes; more than the length given at open is refused. */
gboolean gvd_storage_sink_write (GvdStorageSink *sink, const void *data, gsize len,
                                 GError **error);
/* Finish the stream once every byte was written, check that libvirt reads
 * the volume as @format ("raw" or "qcow2") without a backing file, and
 * release it as an image. On failure the volume is deleted. Either way
 * the sink is done: free it next. */
GvdImage *gvd_storage_sink_finish (GvdStorageSink *sink, const char *format, GError **error);
/* Abort the stream and delete the volume unless it was finished, release
 * the name, free. NULL-safe. */
void gvd_storage_sink_free (GvdStorageSink *sink);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdStorageSink, gvd_storage_sink_free)

/* Delete the volumes the import journal names and no import of this
 * process holds (a crash left them half-written), and their entries.
 * @out_swept gets "pool/name" of each volume deleted or found gone. */
gboolean gvd_storage_sweep_imports (GvdStorage *storage, virConnectPtr conn, GStrv *out_swept,
                                    GError **error);

/* A qcow2 volume @vol_name backed by image @base_image, of @size_bytes
 * (0: the base's virtual size; smaller than the base: INVALID_ARGUMENT).
 * Returns its path. */
char *gvd_storage_create_overlay (GvdStorage *storage, virConnectPtr conn, const char *pool,
                                  const char *vol_name, const char *base_image,
                                  guint64 size_bytes, GError **error);

/* A volume @vol_name holding exactly @data (e.g. a seed ISO built in
 * memory). @format: "raw" or NULL. Returns its path. */
char *gvd_storage_upload_volume (virConnectPtr conn, const char *pool, const char *vol_name,
                                 GBytes *data, const char *format, GError **error);

/* storage-volume.c: a new blank volume @vol_name of @capacity bytes and
 * @format ("qcow2", "raw"; sparse); an existing name is ALREADY_EXISTS (and
 * left alone). Returns its path. */
char *gvd_storage_create_volume (virConnectPtr conn, const char *pool, const char *vol_name,
                                 guint64 capacity, const char *format, GError **error);
/* What libvirt says of @vol_name; GVD_ERROR_NOT_FOUND when missing. */
GvdVolumeInfo *gvd_storage_get_volume (virConnectPtr conn, const char *pool,
                                       const char *vol_name, GError **error);
/* Grow @vol_name to @capacity bytes (equal: nothing to do); a smaller
 * @capacity is INVALID_ARGUMENT: shrinking would cut the guest's data. */
gboolean gvd_storage_grow_volume (virConnectPtr conn, const char *pool, const char *vol_name,
                                  guint64 capacity, GError **error);
/* The whole content of volume @vol_name (at most @max_bytes, else an
 * error), read through a libvirt stream. */
GBytes *gvd_storage_download_volume (virConnectPtr conn, const char *pool, const char *vol_name,
                                     guint64 max_bytes, GError **error);

/* Delete @vol_name; a missing volume is success (idempotent rollback). */
gboolean gvd_storage_delete_volume (virConnectPtr conn, const char *pool, const char *vol_name,
                                    GError **error);

/* Delete image @name: GVD_ERROR_IMAGE_NOT_FOUND when missing (or an
 * instance volume), GVD_ERROR_CONFLICT naming the overlays using it. */
gboolean gvd_storage_delete_image (GvdStorage *storage, virConnectPtr conn, const char *pool,
                                   const char *name, const char *instance_prefix,
                                   GError **error);

/* The names and paths (parallel, NULL-terminated) of the pool's volumes
 * whose names start with @instance_prefix, for recovery's sweep of volumes
 * no domain uses. A pool that does not exist has none; one that exists but
 * is not active (libvirtd still autostarting it) is GVD_ERROR_NOT_READY. */
gboolean gvd_storage_list_instance_volumes (virConnectPtr conn, const char *pool_name,
                                            const char *instance_prefix, GStrv *out_names,
                                            GStrv *out_paths, GError **error);

G_END_DECLS
