/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Admin bearer token files: generated atomically, trusted only when ours. */
#include "config.h"

#include "admin-token.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

/* Bound on what is read from a token file. */
#define TOKEN_FILE_MAX 4096
#define TOKEN_MIN_LEN 16

static gboolean
create_token (const char *path, GError **error)
{
  guint8 raw[GVD_ADMIN_TOKEN_BYTES];
  char text[GVD_ADMIN_TOKEN_BYTES * 2 + 2];
  g_autofree char *tmp = g_strdup_printf ("%s.XXXXXX", path);
  gsize done = 0, len;
  gboolean ok = TRUE;
  int fd;

  while (done < sizeof raw)
    {
      ssize_t n = getrandom (raw + done, sizeof raw - done, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "getrandom: %s", g_strerror (errno));
          return FALSE;
        }
      done += (gsize) n;
    }
  for (gsize i = 0; i < sizeof raw; i++)
    {
      text[2 * i] = "0123456789abcdef"[raw[i] >> 4];
      text[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
  explicit_bzero (raw, sizeof raw);
  text[2 * GVD_ADMIN_TOKEN_BYTES] = '\n';
  text[2 * GVD_ADMIN_TOKEN_BYTES + 1] = '\0';
  len = strlen (text);

  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      explicit_bzero (text, sizeof text);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot create %s: %s", tmp,
                   g_strerror (saved));
      return FALSE;
    }
  for (done = 0; ok && done < len;)
    {
      ssize_t n = write (fd, text + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "write %s: %s", tmp, g_strerror (errno));
          ok = FALSE;
          break;
        }
      done += (gsize) n;
    }
  explicit_bzero (text, sizeof text);
  if (ok && fsync (fd) < 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "fsync %s: %s", tmp, g_strerror (errno));
      ok = FALSE;
    }
  close (fd);
  /* link(), unlike rename(), never replaces a token created meanwhile. */
  if (ok && link (tmp, path) < 0 && errno != EEXIST)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot create %s: %s", path,
                   g_strerror (errno));
      ok = FALSE;
    }
  g_unlink (tmp);
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
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "admin token file %s: %s", path,
                       g_strerror (errno));
          return NULL;
        }
      if (!create_token (path, error))
        return NULL;
    }
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, "admin token file %s: %s", path,
                   g_strerror (errno));
      return NULL;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "admin token file %s is not a regular file", path);
      return NULL;
    }
  if (st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "admin token file %s is owned by uid %u with mode %04o: it must be owned by "
                   "uid %u with mode 0600 (chown %u %s; chmod 600 %s)",
                   path, (guint) st.st_uid, (guint) (st.st_mode & 07777), (guint) geteuid (),
                   (guint) geteuid (), path, path);
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
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot read %s: %s", path,
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
                   "admin token in %s must be one word of at least %d characters", path,
                   TOKEN_MIN_LEN);
      return NULL;
    }
  return g_steal_pointer (&token);
}
