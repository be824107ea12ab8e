/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Images from URLs as data: which URLs an import may name, which the
 * operator allows, and the digest the download must have (pure). */
#include "config.h"

#include "image-url.h"

#include <string.h>

#include "errors.h"

static gboolean
fail (GError **error, const char *field, const char *url, const char *why)
{
  g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "'%s': '%s' %s", field, url, why);
  return FALSE;
}

/* Each segment of the (still encoded) path: not "." or "..", however
 * spelled, and no encoded '/' or '\' that a server might split on. */
static gboolean
path_is_plain (const char *path)
{
  g_auto(GStrv) segs = g_strsplit (path, "/", -1);

  for (gsize i = 0; segs[i] != NULL; i++)
    {
      g_autofree char *plain = g_uri_unescape_string (segs[i], "/\\");

      if (plain == NULL || g_str_equal (plain, ".") || g_str_equal (plain, ".."))
        return FALSE;
    }
  return TRUE;
}

/* GUri removes dot segments while parsing: check the path as written. */
static gboolean
raw_path_is_plain (const char *url)
{
  const char *authority = strstr (url, "://");
  const char *path = authority != NULL ? strchr (authority + 3, '/') : NULL;
  g_autofree char *raw = NULL;

  if (path == NULL)
    return TRUE;
  raw = g_strndup (path, strcspn (path, "?#"));
  return path_is_plain (raw);
}

gboolean
gvd_image_url_check (const char *field, const char *url, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  const char *scheme;
  const char *host;
  gsize len;

  g_return_val_if_fail (field != NULL, FALSE);

  if (url == NULL || url[0] == '\0')
    return fail (error, field, "", "is empty");
  len = strlen (url);
  if (len > GVD_IMAGE_URL_MAX)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s': the URL is %zu bytes (at most %d)", field, len, GVD_IMAGE_URL_MAX);
      return FALSE;
    }
  for (const char *p = url; *p != '\0'; p++)
    if ((guchar) *p <= 0x20 || (guchar) *p >= 0x7f || *p == '\\')
      return fail (error, field, url,
                   "has a space, control, backslash or non-ASCII character (percent-encode it)");
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return fail (error, field, url, "is not a valid absolute URL");
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    return fail (error, field, url, "is not an http:// or https:// URL");
  host = g_uri_get_host (uri);
  if (host == NULL || host[0] == '\0')
    return fail (error, field, url, "has no host");
  if (g_uri_get_userinfo (uri) != NULL)
    return fail (error, field, url, "has user info (credentials do not belong in a URL)");
  if (g_uri_get_fragment (uri) != NULL)
    return fail (error, field, url, "has a fragment");
  if (!path_is_plain (g_uri_get_path (uri)) || !raw_path_is_plain (url))
    return fail (error, field, url, "has a '.' or '..' path segment or an encoded '/' or '\\'");
  return TRUE;
}

static int
effective_port (GUri *uri)
{
  int port = g_uri_get_port (uri);

  if (port > 0)
    return port;
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

static gboolean
below (GUri *uri, GUri *entry)
{
  const char *path = g_uri_get_path (uri);
  const char *prefix = g_uri_get_path (entry);
  gsize n = strlen (prefix);

  if (g_ascii_strcasecmp (g_uri_get_scheme (uri), g_uri_get_scheme (entry)) != 0
      || g_ascii_strcasecmp (g_uri_get_host (uri), g_uri_get_host (entry)) != 0
      || effective_port (uri) != effective_port (entry))
    return FALSE;
  if (path[0] == '\0')
    path = "/";
  if (n == 0 || g_str_equal (prefix, "/"))
    return TRUE;
  if (strncmp (path, prefix, n) != 0)
    return FALSE;
  return prefix[n - 1] == '/' || path[n] == '\0' || path[n] == '/';
}

gboolean
gvd_image_url_allowed (const char *url, const char *const *allow)
{
  g_autoptr(GUri) uri = NULL;

  if (url == NULL || allow == NULL || !gvd_image_url_check ("url", url, NULL))
    return FALSE;
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  for (gsize i = 0; allow[i] != NULL; i++)
    {
      g_autoptr(GUri) entry = NULL;

      if (!gvd_image_url_check ("url_allow", allow[i], NULL))
        continue;
      entry = g_uri_parse (allow[i], G_URI_FLAGS_ENCODED, NULL);
      if (entry != NULL && below (uri, entry))
        return TRUE;
    }
  return FALSE;
}

gboolean
gvd_image_digest_parse (const char *algorithm, const char *hex, GChecksumType *out_type,
                        char **out_hex, GError **error)
{
  GChecksumType type;
  gsize want;

  g_return_val_if_fail (algorithm != NULL, FALSE);

  if (g_str_equal (algorithm, "sha256"))
    type = G_CHECKSUM_SHA256, want = 64;
  else if (g_str_equal (algorithm, "sha512"))
    type = G_CHECKSUM_SHA512, want = 128;
  else
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a supported digest (sha256 or sha512)", algorithm);
      return FALSE;
    }
  if (hex == NULL || strlen (hex) != want)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "field '%s': a %s digest is %zu hex digits", algorithm, algorithm, want);
      return FALSE;
    }
  for (const char *p = hex; *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p))
      {
        g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                     "field '%s': '%c' is not a hex digit", algorithm, *p);
        return FALSE;
      }
  if (out_type != NULL)
    *out_type = type;
  if (out_hex != NULL)
    *out_hex = g_ascii_strdown (hex, -1);
  return TRUE;
}

const char *
gvd_image_compression (const guint8 *head, gsize len)
{
  static const struct {
    const char *name;
    guint8 magic[4];
    gsize n;
  } magics[] = {
    { "xz", { 0xfd, '7', 'z', 'X' }, 4 },
    { "gzip", { 0x1f, 0x8b }, 2 },
    { "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
    { "bzip2", { 'B', 'Z', 'h' }, 3 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (magics); i++)
    if (len >= magics[i].n && memcmp (head, magics[i].magic, magics[i].n) == 0)
      return magics[i].name;
  return NULL;
}
