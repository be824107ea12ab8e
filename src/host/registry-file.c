/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading and saving the device registry (host/registry-file.h). */
#include "config.h"

#include "registry-file.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "state-dir.h"

/* ---- the file ------------------------------------------------------------- */

GvdRegistry *
gvd_registry_load_file (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  struct stat st;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  /* Checked and read through one descriptor: no symlink, no FIFO wait, and
   * the file read is the file whose owner and mode were checked. */
  fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        return gvd_registry_new ();
      g_set_error (error, GVD_ERROR, saved == ELOOP ? GVD_ERROR_INVALID_CONFIG : GVD_ERROR_IO,
                   _("cannot read the device registry %s: %s"), path,
                   g_strerror (saved));
      return NULL;
    }
  if (!gvd_state_file_check_fd (fd, path, GVD_STATE_FILE_PUBLIC, error))
    {
      close (fd);
      return NULL;
    }
  if (fstat (fd, &st) < 0 || st.st_size > GVD_REGISTRY_MAX_FILE_BYTES)
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("the device registry %s is not a regular file of at most %d bytes"), path,
                   GVD_REGISTRY_MAX_FILE_BYTES);
      return NULL;
    }
  data = g_malloc ((gsize) st.st_size + 1);
  while (len < (gsize) st.st_size)
    {
      ssize_t n = read (fd, data + len, (gsize) st.st_size - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;
          close (fd);
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                       _("cannot read the device registry %s: %s"), path,
                       n == 0 ? _("short read") : g_strerror (saved));
          return NULL;
        }
      len += (gsize) n;
    }
  close (fd);
  data[len] = '\0';
  return gvd_registry_parse (data, len, path, error);
}

gboolean
gvd_registry_save_file (const GvdRegistry *registry, const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len;

  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  data = gvd_registry_serialize (registry, &len);
  return gvd_registry_file_write (path, data, len, error);
}

gboolean
gvd_registry_file_write (const char *path, const char *data, gsize len, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);

  return gvd_state_file_write (path, data, len, 0600, GVD_STATE_WRITE_REPLACE, error);
}
