/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounded reads of sysfs, procfs and other host files. */
#include "config.h"

#include "host-read.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

static void
set_errno_error (GError **error, const char *path, int saved)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", path,
               g_strerror (saved));
}

static char *
read_bounded (const char *path, gsize max, gboolean head, gsize *out_len, GError **error)
{
  g_autoptr(GString) buf = NULL;
  char chunk[8192];
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
  if (fd < 0)
    {
      set_errno_error (error, path, errno);
      return NULL;
    }
  buf = g_string_sized_new (MIN (max, sizeof chunk) + 1);
  /* One byte more than @max tells a file of exactly @max from a bigger one. */
  while (buf->len <= max)
    {
      gsize want = MIN (sizeof chunk, max + 1 - buf->len);
      gssize n = read (fd, chunk, want);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          close (fd);
          set_errno_error (error, path, saved);
          return NULL;
        }
      if (n == 0)
        break;
      g_string_append_len (buf, chunk, n);
    }
  close (fd);
  if (buf->len > max && head)
    g_string_truncate (buf, max);
  else if (buf->len > max)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "%s: longer than %" G_GSIZE_FORMAT " bytes", path, max);
      return NULL;
    }
  if (out_len != NULL)
    *out_len = buf->len;
  return g_string_free (g_steal_pointer (&buf), FALSE);
}

char *
gvd_host_read (const char *path, gsize max, gsize *out_len, GError **error)
{
  return read_bounded (path, max, FALSE, out_len, error);
}

char *
gvd_host_read_head (const char *path, gsize max, gsize *out_len, GError **error)
{
  return read_bounded (path, max, TRUE, out_len, error);
}

char *
gvd_host_read_small (const char *path)
{
  return gvd_host_read (path, GVD_HOST_READ_SMALL, NULL, NULL);
}
