/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-daemon secrets: created atomically, refused when readable by others. */
#include "config.h"

#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "state-dir.h"

gboolean
gvd_secret_fill_random (guint8 *buf, gsize len, GError **error)
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

/* Create @path with fresh random bytes unless it exists; TRUE when @path
 * exists afterwards (ours or a racing creator's). */
static gboolean
create_secret (const char *path, gsize len, GError **error)
{
  g_autofree guint8 *buf = g_malloc (len);
  gboolean ok;

  if (!gvd_secret_fill_random (buf, len, error))
    return FALSE;
  ok = gvd_state_file_write (path, buf, len, 0600, GVD_STATE_WRITE_NO_REPLACE, error);
  explicit_bzero (buf, len);
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
                   _("cannot open secret %s: %s"), path, g_strerror (errno));
      return NULL;
    }
  /* The very file we read: a regular file, ours, 0600 at most. A secret
   * someone else planted would let them mint every token. */
  if (!gvd_state_file_check_fd (fd, path, GVD_STATE_FILE_SECRET, error))
    {
      close (fd);
      return NULL;
    }
  if (fstat (fd, &st) < 0)
    {
      int saved = errno;
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot read secret %s: %s"), path,
                   g_strerror (saved));
      return NULL;
    }
  if (st.st_size != (off_t) len)
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("secret %s has %lld bytes, not %lu: remove it to create a new one "
                     "(tokens change)"),
                   path, (long long) st.st_size, (gulong) len);
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
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot read secret %s: %s"), path,
                       n == 0 ? _("short read") : g_strerror (saved));
          return NULL;
        }
      got += (gsize) n;
    }
  close (fd);
  return g_bytes_new_take (g_steal_pointer (&buf), len);
}
