/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-daemon secrets: created atomically, refused when readable by others. */
#include "config.h"

#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

static gboolean
fill_random (guint8 *buf, gsize len, GError **error)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t n = getrandom (buf + done, len - done, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "getrandom: %s", g_strerror (errno));
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

static gboolean
write_all (int fd, const guint8 *buf, gsize len, GError **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "write: %s", g_strerror (errno));
          return FALSE;
        }
      buf += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static void
fsync_dir (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd >= 0)
    {
      fsync (fd);
      close (fd);
    }
}

/* Create @path with fresh random bytes unless it exists; TRUE when @path
 * exists afterwards (ours or a racing creator's). */
static gboolean
create_secret (const char *path, gsize len, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.XXXXXX", path);
  g_autofree guint8 *buf = g_malloc (len);
  gboolean ok;
  int fd;

  if (!fill_random (buf, len, error))
    return FALSE;
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      explicit_bzero (buf, len);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot create %s: %s", tmp,
                   g_strerror (saved));
      return FALSE;
    }
  ok = write_all (fd, buf, len, error);
  explicit_bzero (buf, len);
  if (ok && fsync (fd) < 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "fsync %s: %s", tmp, g_strerror (errno));
      ok = FALSE;
    }
  close (fd);
  /* link(), unlike rename(), never replaces a secret another process
   * created meanwhile. */
  if (ok && link (tmp, path) < 0 && errno != EEXIST)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot create %s: %s", path,
                   g_strerror (errno));
      ok = FALSE;
    }
  g_unlink (tmp);
  if (ok)
    fsync_dir (path);
  return ok;
}

GBytes *
gvd_secret_load_or_create (const char *path, gsize len, GError **error)
{
  struct stat st;
  g_autofree guint8 *buf = NULL;
  gsize got = 0;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (len > 0 && len <= 4096, NULL);

  if (g_lstat (path, &st) < 0)
    {
      if (errno != ENOENT)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "%s: %s", path, g_strerror (errno));
          return NULL;
        }
      if (!create_secret (path, len, error))
        return NULL;
    }

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      g_set_error (error, GVD_ERROR, errno == ELOOP ? GVD_ERROR_INVALID_CONFIG : GVD_ERROR_IO,
                   "cannot open secret %s: %s", path, g_strerror (errno));
      return NULL;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, "secret %s is not a regular file",
                   path);
      return NULL;
    }
  if ((st.st_mode & 077) != 0)
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "secret %s is accessible by others (mode %04o): chmod 600 it", path,
                   (guint) (st.st_mode & 07777));
      return NULL;
    }
  if (st.st_size != (off_t) len)
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "secret %s has %lld bytes, not %" G_GSIZE_FORMAT
                   ": remove it to create a new one (tokens change)",
                   path, (long long) st.st_size, len);
      return NULL;
    }
  buf = g_malloc (len);
  while (got < len)
    {
      ssize_t n = read (fd, buf + got, len - got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;
          close (fd);
          explicit_bzero (buf, len);
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot read secret %s: %s", path,
                       n == 0 ? "short read" : g_strerror (saved));
          return NULL;
        }
      got += (gsize) n;
    }
  close (fd);
  return g_bytes_new_take (g_steal_pointer (&buf), len);
}
