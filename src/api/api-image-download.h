/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Images from URLs: libsoup downloads on the main loop feeding a libvirt
 * upload stream written by a worker thread (storage.h's sink), through a
 * bounded queue; the digest is checked before the image is released. */
#pragma once

#include "api.h"

G_BEGIN_DECLS

/* Downloads running at once, per daemon. */
#define GVD_IMAGE_MAX_DOWNLOADS 4

/* The downloads of one daemon (main thread only). */
typedef struct _GvdImageDownloads GvdImageDownloads;

GvdImageDownloads *gvd_image_downloads_new (GvdDaemon *daemon);
/* Running downloads are cancelled and left to finish on their own (their
 * volumes are deleted; a journal entry left behind is swept at the next
 * start); they answer nobody and emit nothing. NULL-safe. */
void gvd_image_downloads_free (GvdImageDownloads *downloads);

/* A checked request (api-images.c): every member set but @format. */
typedef struct {
  char *name;
  char *url;
  char *format;            /* "raw", "qcow2" or NULL: detect */
  GChecksumType digest_type;
  char *digest;            /* lower-case hex */
} GvdImageUrlRequest;

void gvd_image_url_request_free (GvdImageUrlRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdImageUrlRequest, gvd_image_url_request_free)

/* Download @req into the pool; @msg (not yet paused) is paused and
 * answered when done: 201 with the image, or the error. Refused at once
 * (FALSE, @msg untouched): a name already downloading (ALREADY_EXISTS),
 * too many downloads (UNAVAILABLE), libvirt not connected. */
gboolean gvd_image_downloads_start (GvdImageDownloads *downloads, SoupServerMessage *msg,
                                    GvdImageUrlRequest *req, GError **error);

/* DELETE of @name while it downloads: cancel it; @msg is paused and
 * answered 204 once the volume is gone (the POST then answers 409
 * `conflict`). FALSE when @name is not downloading (@msg untouched). */
gboolean gvd_image_downloads_cancel (GvdImageDownloads *downloads, const char *name,
                                     SoupServerMessage *msg);

/* Whether @name is downloading. */
gboolean gvd_image_downloads_has (GvdImageDownloads *downloads, const char *name);

/* The downloading image @name as one JSON object: name, state
 * "importing", source_url (without its query), bytes_done, bytes_total
 * (0 until the server answered). Every one, sorted by name, when @name is
 * NULL, leaving out the names in @skip (may be NULL). */
void gvd_image_downloads_write_json (GvdImageDownloads *downloads, const char *name,
                                     GHashTable *skip, JsonBuilder *b);

G_END_DECLS
