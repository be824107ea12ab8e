/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Admin bearer token files: generated atomically, trusted only when ours. */
#include "config.h"

#include "admin-token.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "secret.h"
#include "state-dir.h"

/* Bound on what is read from a token file. */
#define TOKEN_FILE_MAX 4096
#define TOKEN_MIN_LEN 16

static gboolean
create_token (const char *path, GError **error)
{
  guint8 raw[GVD_ADMIN_TOKEN_BYTES];
  char text[GVD_ADMIN_TOKEN_BYTES * 2 + 1];
  gboolean ok;

  if (!gvd_secret_fill_random (raw, sizeof raw, error))
    return FALSE;
  for (gsize i = 0; i < sizeof raw; i++)
    {
      text[2 * i] = "0123456789abcdef"[raw[i] >> 4];
      text[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
  explicit_bzero (raw, sizeof raw);
  text[2 * GVD_ADMIN_TOKEN_BYTES] = '\n';
  /* NO_REPLACE: link(), unlike rename(), never replaces a token created
   * meanwhile. */
  ok = gvd_state_file_write (path, text, sizeof text, 0600, GVD_STATE_WRITE_NO_REPLACE, error);
  explicit_bzero (text, sizeof text);
  return ok;
}

char *
gvd_admin_token_load (const char *path, gboolean create, GError **error)
{
  struct stat st;
  char buf[TOKEN_FILE_MAX + 1];
  gsize got = 0;
  g_autofree char *token = NULL;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  if (create && g_lstat (path, &st) < 0)
    {
      if (errno != ENOENT)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("admin token file %s: %s"), path,
                       g_strerror (errno));
          return NULL;
        }
      if (!create_token (path, error))
        return NULL;
    }
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, _("admin token file %s: %s"), path,
                   g_strerror (errno));
      return NULL;
    }
  if (!gvd_state_file_check_fd (fd, path, GVD_STATE_FILE_SECRET, error))
    {
      close (fd);
      return NULL;
    }
  while (got < TOKEN_FILE_MAX)
    {
      ssize_t n = read (fd, buf + got, TOKEN_FILE_MAX - got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          close (fd);
          explicit_bzero (buf, sizeof buf);
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot read %s: %s"), path,
                       g_strerror (saved));
          return NULL;
        }
      if (n == 0)
        break;
      got += (gsize) n;
    }
  close (fd);
  buf[got] = '\0';
  token = g_strstrip (g_strdup (buf));
  explicit_bzero (buf, sizeof buf);
  if (strlen (token) < TOKEN_MIN_LEN || strlen (token) != strcspn (token, " \t\r\n"))
    {
      explicit_bzero (token, strlen (token));
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("admin token in %s must be one word of at least %d characters"), path,
                   TOKEN_MIN_LEN);
      return NULL;
    }
  return g_steal_pointer (&token);
}
