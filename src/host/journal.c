/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Journals of operations in progress (journal.h): small files in a
 * directory of the state directory, written with its atomic writer. */
#include "config.h"

#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "state-dir.h"
#include "storage-xml.h"
#include "validate.h"

static gboolean
uuid_ok (const char *s)
{
  return s != NULL && g_uuid_string_is_valid (s);
}

/* Entries are "<name><suffix>": the atomic writer's temporary files
 * ("<name><suffix>.XXXXXX") are never taken for one. */
const GvdJournalKind gvd_journal_imports = { ".import", gvd_storage_name_is_valid,
                                             gvd_storage_name_is_valid };
const GvdJournalKind gvd_journal_mdevs = { ".mdev", uuid_ok, gvd_instance_name_valid };

static char *
entry_path (const GvdJournalKind *kind, const char *dir, const char *name)
{
  g_autofree char *file = g_strconcat (name, kind->suffix, NULL);

  return g_build_filename (dir, file, NULL);
}

gboolean
gvd_journal_add (const GvdJournalKind *kind, const char *dir, const char *name, const char *value,
                 GError **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (dir != NULL && value != NULL, FALSE);
  g_return_val_if_fail (kind->name_ok (name) && kind->value_ok (value), FALSE);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot create %s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  path = entry_path (kind, dir, name);
  return gvd_state_file_write (path, value, strlen (value), 0600, GVD_STATE_WRITE_REPLACE, error);
}

gboolean
gvd_journal_remove (const GvdJournalKind *kind, const char *dir, const char *name, GError **error)
{
  g_autofree char *path = NULL;
  int fd;

  g_return_val_if_fail (dir != NULL, FALSE);
  g_return_val_if_fail (kind->name_ok (name), FALSE);

  path = entry_path (kind, dir, name);
  if (g_unlink (path) < 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        return TRUE;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot remove %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  /* Durable: an entry that came back after a crash would undo a finished
   * operation at the next start (delete an image, an instance's mdev). */
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
gvd_journal_list (const GvdJournalKind *kind, const char *dir, GStrv *out_names, GStrv *out_values,
                  GError **error)
{
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) values = g_strv_builder_new ();
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
      g_autofree char *name = g_str_has_suffix (file, kind->suffix)
                              ? g_strndup (file, strlen (file) - strlen (kind->suffix)) : NULL;
      g_autofree char *path = NULL;
      g_autofree char *value = NULL;
      gboolean exists = FALSE;
      gsize len = 0;

      if (name == NULL || !kind->name_ok (name))
        continue; /* the atomic writer's temporary files, strays */
      path = g_build_filename (dir, file, NULL);
      if (!gvd_state_file_check (path, GVD_STATE_FILE_PUBLIC, &exists, NULL) || !exists
          || !g_file_get_contents (path, &value, &len, NULL) || strlen (value) != len
          || !kind->value_ok (value))
        {
          g_debug ("journal: %s skipped", path);
          continue;
        }
      g_strv_builder_add (names, name);
      g_strv_builder_add (values, value);
    }
  *out_names = g_strv_builder_end (names);
  *out_values = g_strv_builder_end (values);
  return TRUE;
}
