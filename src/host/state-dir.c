/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* State directory trust checks (owner, mode, no symlinks) and the atomic writer. */
#include "config.h"

#include "state-dir.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "registry.h"

/* "uid 65534 (nobody)" or "uid 1234". */
static char *
describe_uid (uid_t uid)
{
  struct passwd pw;
  struct passwd *res = NULL;
  char buf[1024];

  if (getpwuid_r (uid, &pw, buf, sizeof buf, &res) == 0 && res != NULL)
    return g_strdup_printf ("uid %u (%s)", (guint) uid, res->pw_name);
  return g_strdup_printf ("uid %u", (guint) uid);
}

gboolean
gvd_state_file_check_fd (int fd, const char *path, guint forbidden_mode, GError **error)
{
  struct stat st;
  uid_t euid = geteuid ();

  g_return_val_if_fail (path != NULL, FALSE);

  if (fstat (fd, &st) < 0)
    {
      int saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot check %s: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("state file %s is not a regular file (a symlink, directory or device); "
                     "remove it"), path);
      return FALSE;
    }
  if (st.st_uid != euid || (st.st_mode & forbidden_mode) != 0)
    {
      g_autofree char *owner = describe_uid (st.st_uid);
      g_autofree char *want = describe_uid (euid);
      g_autofree char *ids = euid == 0 ? g_strdup ("root:root")
                                       : g_strdup_printf ("%u:%u", (guint) euid,
                                                          (guint) getegid ());

      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   /* TRANSLATORS: the file, its owner ("uid 1000 (alice)") and mode, the
                    * owner it needs and the loosest mode allowed, then the fix: a command
                    * with the owner (root:root) and the file twice. */
                   _("state file %s is owned by %s with mode %04o; it must be owned by %s and "
                     "have mode %04o or less. Fix: chown %s %s && chmod 600 %s (or remove it "
                     "if you did not create it)"),
                   path, owner, (guint) (st.st_mode & 07777), want, 0666 & ~forbidden_mode,
                   ids, path, path);
      return FALSE;
    }
  return TRUE;
}

gboolean
gvd_state_file_check (const char *path, guint forbidden_mode, gboolean *out_exists,
                      GError **error)
{
  int fd;
  gboolean ok;

  g_return_val_if_fail (path != NULL, FALSE);

  /* O_PATH: fstat without opening (a planted FIFO would block, a device
   * node could act on open); O_NOFOLLOW: a symlink is itself refused. */
  fd = open (path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        {
          if (out_exists != NULL)
            *out_exists = FALSE;
          return TRUE;
        }
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot check %s: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  ok = gvd_state_file_check_fd (fd, path, forbidden_mode, error);
  close (fd);
  if (ok && out_exists != NULL)
    *out_exists = TRUE;
  return ok;
}

/* An ancestor another user can write to could swap the state directory
 * for one of theirs (rename); sticky directories (/tmp) do not allow that. */
static gboolean
check_ancestors (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  uid_t euid = geteuid ();

  for (;;)
    {
      struct stat st;
      g_autofree char *parent = NULL;

      if (stat (dir, &st) < 0)
        {
          int saved = errno;
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot check %s: %s"), dir,
                       g_strerror (saved));
          return FALSE;
        }
      if ((st.st_uid != 0 && st.st_uid != euid)
          || ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0))
        {
          g_autofree char *owner = describe_uid (st.st_uid);

          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                       /* TRANSLATORS: the directory, its owner ("uid 1000 (alice)") and
                        * mode, then the directory twice in the fix. */
                       _("the state directory's parent %s is owned by %s with mode %04o; every "
                         "parent must be owned by root and not writable by group or others "
                         "(unless sticky). Fix: chown root:root %s && chmod go-w %s, or choose "
                         "a state_dir elsewhere"),
                       dir, owner, (guint) (st.st_mode & 07777), dir, dir);
          return FALSE;
        }
      parent = g_path_get_dirname (dir);
      if (g_str_equal (parent, dir))
        return TRUE;
      g_free (dir);
      dir = g_steal_pointer (&parent);
    }
}

gboolean
gvd_state_dir_prepare (const char *path, GError **error)
{
  const char *const files[] = { GVD_STATE_AGENT_SECRET, GVD_REGISTRY_FILE_NAME };
  const guint masks[] = { GVD_STATE_FILE_SECRET, GVD_STATE_FILE_PUBLIC };
  g_autofree char *parent = NULL;
  struct stat st;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_path_is_absolute (path))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("state directory %s is not an absolute path"), path);
      return FALSE;
    }
  parent = g_path_get_dirname (path);
  if (g_mkdir_with_parents (parent, 0755) < 0 || (mkdir (path, 0700) < 0 && errno != EEXIST))
    {
      int saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot create the state directory %s: %s"),
                   path, g_strerror (saved));
      return FALSE;
    }
  if (!check_ancestors (path, error))
    return FALSE;

  fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;

      if (saved == ELOOP || saved == ENOTDIR)
        g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                     _("state directory %s is a symlink or not a directory; it must be a real "
                       "directory owned by root. Fix: remove it (gpuvmd creates it, mode 0700)"),
                     path);
      else
        g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot open the state directory %s: %s"),
                     path, g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) < 0)
    {
      int saved = errno;
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                   _("cannot check the state directory %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  if (st.st_uid != geteuid () || (st.st_mode & 022) != 0)
    {
      g_autofree char *owner = describe_uid (st.st_uid);
      g_autofree char *want = describe_uid (geteuid ());

      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   /* TRANSLATORS: the directory, its owner ("uid 1000 (alice)") and mode,
                    * the owner it needs, then the directory twice in the fix. */
                   _("state directory %s is owned by %s with mode %04o; it must be owned by %s "
                     "and not writable by group or others. Fix: chown root:root %s && chmod "
                     "700 %s (and check that nobody planted files in it)"),
                   path, owner, (guint) (st.st_mode & 07777), want, path, path);
      return FALSE;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *file = g_build_filename (path, files[i], NULL);

      if (!gvd_state_file_check (file, masks[i], NULL, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- the atomic writer --------------------------------------------------- */

static gboolean
write_all (int fd, const guint8 *buf, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      if (n == 0)
        {
          errno = EIO;
          return FALSE;
        }
      buf += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
fsync_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  gboolean ok;
  int saved;

  if (fd < 0)
    return FALSE;
  ok = fsync (fd) == 0;
  saved = errno;
  close (fd);
  errno = saved;
  return ok;
}

gboolean
gvd_state_file_write (const char *path, const void *data, gsize len, guint mode,
                      GvdStateWriteFlags flags, GError **error)
{
  g_autofree char *tmp = NULL;
  g_autofree char *dir = NULL;
  gboolean renamed = FALSE;
  int fd;
  int saved = 0;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  dir = g_path_get_dirname (path);
  tmp = g_strconcat (path, ".XXXXXX", NULL);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, (int) mode);
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot write %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  /* close() can report a deferred write error (NFS, some FUSE): check it. */
  if (!write_all (fd, data, len) || fsync (fd) != 0)
    {
      saved = errno;
      close (fd);
    }
  else if (close (fd) != 0)
    saved = errno;
  if (saved == 0)
    {
      if (flags & GVD_STATE_WRITE_NO_REPLACE)
        {
          /* link(), unlike rename(), never replaces a file another process
           * created meanwhile. */
          if (link (tmp, path) < 0 && errno != EEXIST)
            saved = errno;
        }
      else if (rename (tmp, path) < 0)
        saved = errno;
      else
        renamed = TRUE;
    }
  if (!renamed)
    g_unlink (tmp);
  if (saved != 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot write %s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  /* The rename is only durable once the directory entry is on disk. */
  if (!fsync_dir (dir))
    {
      saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "%s was written but syncing %s failed: %s",
                   path, dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}
