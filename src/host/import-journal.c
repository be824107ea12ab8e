/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal of image imports in progress (import-journal.h): small
 * files in <state_dir>/imports, written with the state directory's atomic
 * writer. */
#include "config.h"

#include "import-journal.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "state-dir.h"
#include "storage-xml.h"

/* Entries are "<name>.import": the atomic writer's temporary files
 * ("<name>.import.XXXXXX") are never taken for one. */
#define SUFFIX ".import"

static char *
entry_path (const char *dir, const char *name)
{
  g_autofree char *file = g_strconcat (name, SUFFIX, NULL);

  return g_build_filename (dir, file, NULL);
}

gboolean
gvd_import_journal_add (const char *dir, const char *pool, const char *name, GError **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (dir != NULL && pool != NULL, FALSE);
  g_return_val_if_fail (gvd_storage_name_is_valid (name), FALSE);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot create %s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  path = entry_path (dir, name);
  return gvd_state_file_write (path, pool, strlen (pool), 0600, GVD_STATE_WRITE_REPLACE, error);
}

gboolean
gvd_import_journal_remove (const char *dir, const char *name, GError **error)
{
  g_autofree char *path = NULL;
  int fd;

  g_return_val_if_fail (dir != NULL, FALSE);
  g_return_val_if_fail (gvd_storage_name_is_valid (name), FALSE);

  path = entry_path (dir, name);
  if (g_unlink (path) < 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        return TRUE;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot remove %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  /* Durable: an entry that came back after a crash would delete a
   * finished image at the next start. */
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) != 0)
    {
      int saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot sync %s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

gboolean
gvd_import_journal_list (const char *dir, GStrv *out_names, GStrv *out_pools, GError **error)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) pools = g_strv_builder_new ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &local_error);
  const char *file;

  if (d == NULL && !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "%s", local_error->message);
      return FALSE;
    }
  while (d != NULL && (file = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *name = g_str_has_suffix (file, SUFFIX)
                              ? g_strndup (file, strlen (file) - strlen (SUFFIX)) : NULL;
      g_autofree char *path = NULL;
      g_autofree char *pool = NULL;
      gboolean exists = FALSE;
      gsize len = 0;

      if (name == NULL || !gvd_storage_name_is_valid (name))
        continue; /* the atomic writer's temporary files, strays */
      path = g_build_filename (dir, file, NULL);
      if (!gvd_state_file_check (path, GVD_STATE_FILE_PUBLIC, &exists, NULL) || !exists
          || !g_file_get_contents (path, &pool, &len, NULL) || !gvd_storage_name_is_valid (pool))
        {
          g_debug ("import journal: %s skipped", path);
          continue;
        }
      g_strv_builder_add (names, name);
      g_strv_builder_add (pools, pool);
    }
  *out_names = g_strv_builder_end (names);
  *out_pools = g_strv_builder_end (pools);
  return TRUE;
}
