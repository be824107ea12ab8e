/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading gpuvmd.conf: bounded, regular files only; parsing is the core's. */
#include "config.h"

#include "config-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "errors.h"

static gboolean
read_error (GError **error, const char *path, int saved_errno)
{
  g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, _("cannot read %s: %s"), path,
               g_strerror (saved_errno));
  return FALSE;
}

/* The whole of @path, NUL-terminated, or NULL with @error set. */
static char *
read_bounded (const char *path, gsize *out_len, GError **error)
{
  g_autofree char *data = NULL;
  struct stat st;
  gsize len = 0;
  int fd;

  /* O_NONBLOCK: a FIFO named as the configuration must not hang the open;
   * fstat() refuses it below. */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    {
      read_error (error, path, errno);
      return NULL;
    }
  if (fstat (fd, &st) < 0)
    {
      int saved = errno;
      close (fd);
      read_error (error, path, saved);
      return NULL;
    }
  /* The null device (1:3) is the usual way to say "no file, defaults":
   * it reads as empty. Any other device, FIFO or directory is refused. */
  if (S_ISCHR (st.st_mode) && major (st.st_rdev) == 1 && minor (st.st_rdev) == 3)
    {
      close (fd);
      *out_len = 0;
      return g_strdup ("");
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("cannot read %s: not a regular file"), path);
      return NULL;
    }
  /* One byte more than allowed: a file that grows while read is still
   * caught. */
  data = g_malloc (GVD_CONFIG_FILE_MAX + 2);
  for (;;)
    {
      ssize_t n = read (fd, data + len, GVD_CONFIG_FILE_MAX + 1 - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          close (fd);
          read_error (error, path, saved);
          return NULL;
        }
      if (n == 0)
        break;
      len += (gsize) n;
      if (len > GVD_CONFIG_FILE_MAX)
        {
          close (fd);
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                       _("cannot read %s: larger than %d bytes"), path, GVD_CONFIG_FILE_MAX);
          return NULL;
        }
    }
  close (fd);
  data[len] = '\0';
  *out_len = len;
  return g_steal_pointer (&data);
}

gboolean
gvd_config_file_load (GvdConfig *config, const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  data = read_bounded (path, &len, error);
  if (data == NULL)
    return FALSE;
  return gvd_config_load_data (config, data, len, path, error);
}
