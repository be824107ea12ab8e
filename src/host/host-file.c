/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host files named by API callers: below [storage] import_dirs, regular,
 * reached without symlinks, checked before they are opened for reading; and
 * shared directories below [host] share_dirs, checked the same way. */
#include "config.h"

#include "host-file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Which directories a caller's path must lie below, and the configuration
 * key that lists them (named in every refusal). */
typedef struct {
  const char *const *dirs;
  const char *key;     /* "[storage] import_dirs" */
  const char *noun;    /* "an import directory" */
  gboolean dir_itself; /* the listed directory itself may be named */
} Scope;

#define IMPORT_SCOPE(d) { (d), "[storage] import_dirs", "an import directory", FALSE }

/* "allowed: below /a, /b ([storage] import_dirs)" */
static char *
allowed_text (const Scope *scope)
{
  g_autofree char *list = NULL;

  if (scope->dirs == NULL || scope->dirs[0] == NULL)
    return g_strdup_printf ("no directory is configured (%s is empty)", scope->key);
  list = g_strjoinv (", ", (char **) scope->dirs);
  return g_strdup_printf ("allowed: %s %s (%s)", scope->dir_itself ? "at or below" : "below",
                          list, scope->key);
}

/* The non-empty components of @path; NULL when one is "." or "..", with
 * @out_bad set to it. */
static char **
components (const char *path, const char **out_bad)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (gsize i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0')
        continue;
      if (g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
        {
          *out_bad = g_str_equal (parts[i], ".") ? "." : "..";
          return NULL;
        }
      g_strv_builder_add (b, parts[i]);
    }
  return g_strv_builder_end (b);
}

static gboolean
split (const Scope *scope, const char *path, const char *what, char **out_dir, char **out_rest,
       GError **error)
{
  const char *const *dirs = scope->dirs;
  g_autofree char *allowed = allowed_text (scope);
  g_auto(GStrv) comps = NULL;
  const char *bad = NULL;

  g_return_val_if_fail (path != NULL && what != NULL, FALSE);

  if (strlen (path) > GVD_HOST_FILE_PATH_MAX)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "%s is longer than %d bytes", what, GVD_HOST_FILE_PATH_MAX);
      return FALSE;
    }
  if (!g_path_is_absolute (path))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "%s '%s' is not an absolute path (%s)", what, path, allowed);
      return FALSE;
    }
  comps = components (path, &bad);
  if (comps == NULL)
    {
      g_set_error (error, GVD_ERROR,
                   g_str_equal (bad, "..") ? GVD_ERROR_FORBIDDEN : GVD_ERROR_INVALID_ARGUMENT,
                   "%s '%s' has a '%s' component: name the file directly (%s)", what, path, bad,
                   allowed);
      return FALSE;
    }
  for (gsize d = 0; dirs != NULL && dirs[d] != NULL; d++)
    {
      const char *unused = NULL;
      g_auto(GStrv) dcomps = components (dirs[d], &unused);
      guint nd, np = g_strv_length (comps);
      gboolean below = TRUE;

      if (dcomps == NULL || !g_path_is_absolute (dirs[d]))
        continue; /* the configuration refuses these; never match one */
      nd = g_strv_length (dcomps);
      if (np < nd || (np == nd && !scope->dir_itself))
        continue;
      for (guint i = 0; i < nd && below; i++)
        below = g_str_equal (comps[i], dcomps[i]);
      if (!below)
        continue;
      if (out_dir != NULL)
        *out_dir = g_strdup (dirs[d]);
      if (out_rest != NULL)
        *out_rest = np == nd ? g_strdup (".") : g_strjoinv ("/", comps + nd);
      return TRUE;
    }
  g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN, "%s '%s' is not below %s (%s)",
               what, path, scope->noun, allowed);
  return FALSE;
}

gboolean
gvd_host_file_split (const char *const *dirs, const char *path, const char *what,
                     char **out_dir, char **out_rest, GError **error)
{
  const Scope scope = IMPORT_SCOPE (dirs);

  return split (&scope, path, what, out_dir, out_rest, error);
}

static const char *
file_type_name (mode_t mode)
{
  if (S_ISDIR (mode))
    return "a directory";
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  if (S_ISSOCK (mode))
    return "a socket";
  if (S_ISLNK (mode))
    return "a symbolic link";
  return "not a regular file";
}

/* openat2() without the syscall (kernels before 5.6; valgrind 3.19 does not
 * know it): the same walk by hand, one component at a time, each opened
 * O_PATH | O_NOFOLLOW, so a symlink is seen as itself and refused (ELOOP).
 * @rest has no "." or ".." (gvd_host_file_split), so it cannot climb out. */
static int
walk_beneath (int dirfd, const char *rest)
{
  g_auto(GStrv) comps = g_strsplit (rest, "/", -1);
  int cur = dup (dirfd);

  if (cur < 0)
    return -1;
  for (gsize i = 0; comps[i] != NULL; i++)
    {
      struct stat st;
      int next = openat (cur, comps[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
      int saved = errno;

      close (cur);
      if (next < 0)
        {
          errno = saved;
          return -1;
        }
      if (fstat (next, &st) < 0)
        {
          saved = errno;
          close (next);
          errno = saved;
          return -1;
        }
      if (S_ISLNK (st.st_mode))
        {
          close (next);
          errno = ELOOP;
          return -1;
        }
      if (comps[i + 1] != NULL && !S_ISDIR (st.st_mode))
        {
          close (next);
          errno = ENOTDIR;
          return -1;
        }
      cur = next;
    }
  return cur;
}

/* An O_PATH descriptor of @path below @scope's directories (never opened
 * for I/O), and its stat; -1 on refusal. It must be a regular file, or a
 * directory when @want_dir. */
static int
open_path (const Scope *scope, gboolean want_dir, const char *path, const char *what,
           struct stat *out_st, GError **error)
{
  g_autofree char *allowed = allowed_text (scope);
  g_autofree char *dir = NULL;
  g_autofree char *rest = NULL;
  struct open_how how = {
    .flags = O_PATH | O_CLOEXEC,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  struct stat st;
  int dirfd, fd, saved;

  if (!split (scope, path, what, &dir, &rest, error))
    return -1;
  /* The operator's directory itself may be reached through symlinks. */
  dirfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    {
      saved = errno;
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "%s '%s': the directory %s (%s) cannot be opened: %s", what, path, dir,
                   scope->key,
                   g_strerror (saved));
      return -1;
    }
  do
    fd = (int) syscall (SYS_openat2, dirfd, rest, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  if (fd < 0 && errno == ENOSYS)
    fd = walk_beneath (dirfd, rest);
  saved = errno;
  close (dirfd);
  if (fd < 0)
    {
      switch (saved)
        {
        case ELOOP:
          g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
                       "%s '%s' is or passes through a symbolic link, which is not followed (%s)",
                       what, path, allowed);
          break;
        case EXDEV:
          g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
                       "%s '%s' leads out of the directory %s (%s)", what, path, dir,
                       allowed);
          break;
        case EACCES:
        case EPERM:
          g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN, "%s '%s': %s", what, path,
                       g_strerror (saved));
          break;
        default:
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "cannot open %s '%s': %s",
                       what, path, g_strerror (saved));
          break;
        }
      return -1;
    }
  if (fstat (fd, &st) < 0)
    {
      saved = errno;
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "cannot stat %s '%s': %s", what, path,
                   g_strerror (saved));
      return -1;
    }
  if (want_dir ? !S_ISDIR (st.st_mode) : !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN, "%s '%s' is %s, not %s (%s)", what,
                   path, S_ISREG (st.st_mode) ? "a regular file" : file_type_name (st.st_mode),
                   want_dir ? "a directory" : "a regular file", allowed);
      return -1;
    }
  *out_st = st;
  return fd;
}

gboolean
gvd_host_file_check (const char *const *dirs, const char *path, const char *what, GError **error)
{
  const Scope scope = IMPORT_SCOPE (dirs);
  struct stat st;
  int fd = open_path (&scope, FALSE, path, what, &st, error);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

int
gvd_host_file_open (const char *const *dirs, const char *path, const char *what,
                    struct stat *out_st, GError **error)
{
  const Scope scope = IMPORT_SCOPE (dirs);
  struct stat st, again;
  char proc_path[64];
  int opath, fd, saved;

  g_return_val_if_fail (out_st != NULL, -1);

  opath = open_path (&scope, FALSE, path, what, &st, error);
  if (opath < 0)
    return -1;
  /* Reopen the inode just checked, not the path again (which may have been
   * replaced since). The magic link must be followed: no O_NOFOLLOW here. */
  g_snprintf (proc_path, sizeof proc_path, "/proc/self/fd/%d", opath);
  do
    fd = open (proc_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  saved = errno;
  close (opath);
  if (fd < 0)
    {
      g_set_error (error, GVD_ERROR, saved == EACCES ? GVD_ERROR_FORBIDDEN : GVD_ERROR_IO,
                   "cannot open %s '%s' for reading: %s", what, path, g_strerror (saved));
      return -1;
    }
  if (fstat (fd, &again) < 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino
      || !S_ISREG (again.st_mode))
    {
      close (fd);
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "%s '%s' changed while it was opened", what,
                   path);
      return -1;
    }
  *out_st = again;
  return fd;
}

gboolean
gvd_host_dir_check (const char *const *dirs, const char *key, const char *path, const char *what,
                    GError **error)
{
  const Scope scope = { dirs, key, "a directory listed there", TRUE };
  struct stat st;
  int fd;

  g_return_val_if_fail (key != NULL, FALSE);

  fd = open_path (&scope, TRUE, path, what, &st, error);
  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}
