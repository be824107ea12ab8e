/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Storage as data: base images and their JSON, volume names, pool and
 * volume XML (libxml2) and image format detection. Pure. */
#pragma once

#include <json-glib/json-glib.h>

#include "errors.h"

G_BEGIN_DECLS

/* Largest volume gpuvmd creates or imports (64 TiB). */
#define GVD_STORAGE_MAX_BYTES (G_GUINT64_CONSTANT (64) << 40)

/* A base image: a volume of the pool that is not an instance volume. */
typedef struct {
  char *name;         /* volume name, e.g. "debian-12.qcow2" */
  char *path;
  char *format;       /* "qcow2", "raw", ... as libvirt reads it */
  guint64 capacity;   /* virtual size, bytes */
  guint64 allocation; /* bytes used on the host */
  GPtrArray *in_use_by; /* char *: volumes whose backing store is this image */
} GvdImage;

GvdImage *gvd_image_new (void);
void gvd_image_free (GvdImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdImage, gvd_image_free)

/* Write @image as one JSON object: name, state ("ready"), path, format,
 * capacity_bytes, allocation_bytes, in_use_by. */
void gvd_image_write_json (const GvdImage *image, JsonBuilder *b);

/* Whether @name is a valid volume name: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$. */
gboolean gvd_storage_name_is_valid (const char *name);

/* What gpuvmd reads from a volume's XML. */
typedef struct {
  char *name;
  char *path;
  char *format;          /* <target><format type=...>; NULL when absent */
  guint64 capacity;
  guint64 allocation;
  char *backing_path;    /* <backingStore><path>; NULL when none */
  char *backing_format;
} GvdVolumeInfo;

void gvd_volume_info_free (GvdVolumeInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdVolumeInfo, gvd_volume_info_free)

/* <pool type='dir'><name/><target><path/></target></pool> */
char *gvd_storage_pool_xml (const char *name, const char *path);

/* The type and target path of a pool's XML. */
gboolean gvd_storage_parse_pool_xml (const char *xml, char **out_type, char **out_path,
                                     GError **error);

/* A volume: @format as <target><format>; with @backing_path, a
 * <backingStore> of @backing_format. */
char *gvd_storage_volume_xml (const char *name, guint64 capacity, const char *format,
                              const char *backing_path, const char *backing_format);

GvdVolumeInfo *gvd_storage_parse_volume_xml (const char *xml, GError **error);

/* "qcow2" when @head starts with qcow2's magic "QFI\xfb", else "raw". */
const char *gvd_storage_detect_format (const guint8 *head, gsize len);

G_END_DECLS
