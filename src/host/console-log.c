/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Serial console log reader: one checked descriptor per read, pread only. */
#include "config.h"

#include "console-log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

/* -1 with errno ENOENT: no log yet; -1 with @error set: a failure. */
static int
open_log (const char *path, struct stat *st, GError **error)
{
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    {
      int saved = errno;

      if (saved != ENOENT)
        g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot open the console log %s: %s", path,
                     g_strerror (saved));
      errno = saved;
      return -1;
    }
  if (fstat (fd, st) < 0 || !S_ISREG (st->st_mode))
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "the console log %s is not a regular file",
                   path);
      errno = EINVAL;
      return -1;
    }
  return fd;
}

static GBytes *
read_range (int fd, const char *path, guint64 from, gsize len, GError **error)
{
  g_autofree char *buf = g_malloc (len > 0 ? len : 1);
  gsize got = 0;

  while (got < len)
    {
      ssize_t n = pread (fd, buf + got, len - got, (off_t) (from + got));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot read the console log %s: %s", path,
                       g_strerror (errno));
          return NULL;
        }
      if (n == 0)
        break; /* truncated under us: what we have */
      got += (gsize) n;
    }
  return g_bytes_new_take (g_steal_pointer (&buf), got);
}

GBytes *
gvd_console_log_read_tail (const char *path, gsize max_bytes, GvdConsoleCursor *cursor,
                           GError **error)
{
  struct stat st;
  guint64 from;
  GBytes *bytes;
  int fd;

  g_return_val_if_fail (path != NULL && cursor != NULL, NULL);

  *cursor = (GvdConsoleCursor) { 0 };
  fd = open_log (path, &st, error);
  if (fd < 0)
    return errno == ENOENT ? g_bytes_new (NULL, 0) : NULL;
  from = (guint64) st.st_size > max_bytes ? (guint64) st.st_size - max_bytes : 0;
  bytes = read_range (fd, path, from, (gsize) ((guint64) st.st_size - from), error);
  close (fd);
  if (bytes == NULL)
    return NULL;
  cursor->dev = (guint64) st.st_dev;
  cursor->ino = (guint64) st.st_ino;
  cursor->offset = from + g_bytes_get_size (bytes);
  return bytes;
}

GBytes *
gvd_console_log_read_more (const char *path, gsize max_bytes, GvdConsoleCursor *cursor,
                           gboolean *out_rotated, GError **error)
{
  struct stat st;
  gsize len;
  GBytes *bytes;
  int fd;

  g_return_val_if_fail (path != NULL && cursor != NULL, NULL);

  if (out_rotated != NULL)
    *out_rotated = FALSE;
  fd = open_log (path, &st, error);
  if (fd < 0)
    return errno == ENOENT ? g_bytes_new (NULL, 0) : NULL;
  if ((guint64) st.st_dev != cursor->dev || (guint64) st.st_ino != cursor->ino
      || (guint64) st.st_size < cursor->offset)
    {
      /* A first read after the log appeared counts as a start, not a
       * rotation. */
      if (out_rotated != NULL)
        *out_rotated = cursor->ino != 0;
      cursor->dev = (guint64) st.st_dev;
      cursor->ino = (guint64) st.st_ino;
      cursor->offset = 0;
    }
  len = (gsize) MIN ((guint64) st.st_size - cursor->offset, (guint64) max_bytes);
  bytes = read_range (fd, path, cursor->offset, len, error);
  close (fd);
  if (bytes != NULL)
    cursor->offset += g_bytes_get_size (bytes);
  return bytes;
}
