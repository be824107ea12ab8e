/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* storage.c's pure parts, exported for unit tests: pool and volume XML
 * (libxml2) and format detection. */
#pragma once

#include "storage.h"

G_BEGIN_DECLS

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
