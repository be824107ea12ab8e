/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Images from URLs as data: the URL rules, the operator's allow list
 * ([images] url_allow) and the expected digest (pure). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Longest URL an import may name (bytes). */
#define GVD_IMAGE_URL_MAX 2048
/* Redirects followed (each checked against the allow list). */
#define GVD_IMAGE_URL_MAX_REDIRECTS 5

/* An absolute http:// or https:// URL of at most GVD_IMAGE_URL_MAX bytes
 * with a host, no user info, no fragment, no whitespace or control
 * characters and no "." or ".." path segment (plain or %-encoded: a prefix
 * match must mean what it says). INVALID_ARGUMENT naming @field. */
gboolean gvd_image_url_check (const char *field, const char *url, GError **error);

/* Whether @url (already checked) lies below one of @allow (each an
 * http(s) URL prefix as gvd_image_url_check accepts): same scheme, same
 * host (case-insensitive), same port (the scheme's default when absent),
 * and a path that equals the entry's or continues it after a '/' (the
 * entry "https://h/a" allows "https://h/a/x" but not "https://h/ab").
 * A query is never part of the match. NULL or empty @allow allows none. */
gboolean gvd_image_url_allowed (const char *url, const char *const *allow);

/* The expected digest: @algorithm "sha256" or "sha512" and @hex of 64 or
 * 128 hex digits (either case). @out_type gets the checksum type and
 * @out_hex the lower-case digits. INVALID_ARGUMENT naming the field. */
gboolean gvd_image_digest_parse (const char *algorithm, const char *hex, GChecksumType *out_type,
                                 char **out_hex, GError **error);

/* The compression @head (a file's first bytes) starts with: "xz", "gzip",
 * "zstd" or "bzip2"; NULL for none of them. gpuvmd does not decompress:
 * such a download would become a raw image of compressed bytes. */
const char *gvd_image_compression (const guint8 *head, gsize len);

G_END_DECLS
