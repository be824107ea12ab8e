/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A domain's NVRAM file, read and replaced whole (disk snapshots). */
#include "config.h"

#include "nvram-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

static gboolean
set_io_error (GError **error, const char *what, const char *path, int saved_errno)
{
  g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "cannot %s NVRAM file %s: %s", what, path,
               g_strerror (saved_errno));
  return FALSE;
}

GBytes *
gvd_nvram_file_read (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  struct stat st;
  gsize len = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if (g_stat (path, &st) < 0)
    {
      if (errno == ENOENT)
        return NULL;
      set_io_error (error, "read", path, errno);
      return NULL;
    }
  if (!S_ISREG (st.st_mode) || (guint64) st.st_size > GVD_NVRAM_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL,
                   "NVRAM %s is not a regular file of at most %u bytes", path, GVD_NVRAM_MAX_BYTES);
      return NULL;
    }
  if (!g_file_get_contents (path, &data, &len, &local_error))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "cannot read NVRAM file %s: %s", path,
                   local_error->message);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&data), len);
}

gboolean
gvd_nvram_file_write (const char *path, GBytes *data, GError **error)
{
  g_autofree char *tmp = NULL;
  struct stat st;
  gboolean have_old;
  const guint8 *p;
  gsize len, done = 0;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);

  if (data == NULL)
    {
      if (g_unlink (path) < 0 && errno != ENOENT)
        return set_io_error (error, "remove", path, errno);
      return TRUE;
    }
  have_old = g_stat (path, &st) == 0;
  tmp = g_strconcat (path, ".gpuvmd-tmp", NULL);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return set_io_error (error, "write", tmp, errno);
  p = g_bytes_get_data (data, &len);
  while (done < len)
    {
      ssize_t n = write (fd, p + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          close (fd);
          g_unlink (tmp);
          return set_io_error (error, "write", tmp, saved);
        }
      done += (gsize) n;
    }
  if ((have_old && (fchown (fd, st.st_uid, st.st_gid) < 0 || fchmod (fd, st.st_mode & 07777) < 0))
      || fsync (fd) < 0)
    {
      int saved = errno;
      close (fd);
      g_unlink (tmp);
      return set_io_error (error, "write", tmp, saved);
    }
  close (fd);
  if (g_rename (tmp, path) < 0)
    {
      int saved = errno;
      g_unlink (tmp);
      return set_io_error (error, "replace", path, saved);
    }
  return TRUE;
}
