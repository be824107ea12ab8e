/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state directory is trusted only when it is the daemon's: the checks
 * themselves, the real daemon refusing planted directories and secrets
 * (exit 2), and writes on a full file system leaving old files intact. */
#include "config.h"

#include "testlib.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "registry.h"
#include "registry-file.h"
#include "secret.h"
#include "state-dir.h"

#define NOBODY 65534

typedef struct {
  char *base;  /* scratch directory, 0700 */
  char *state; /* base/state (not created) */
} Fx;

static int
setup (void **state)
{
  Fx *f = g_new0 (Fx, 1);

  f->base = g_dir_make_tmp ("gvd-state-dir-XXXXXX", NULL);
  assert_non_null (f->base);
  f->state = g_build_filename (f->base, "state", NULL);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fx *f = *state;

  /* A failed assertion may leave the tmpfs of the disk-full test mounted. */
  if (geteuid () == 0)
    gvd_test_umount (f->state);
  gvd_test_rm_rf (f->base);
  g_free (f->base);
  g_free (f->state);
  g_free (f);
  return 0;
}

static void
require_root (void)
{
  if (geteuid () != 0)
    skip ();
}

static char *
in_state (Fx *f, const char *name)
{
  return g_build_filename (f->state, name, NULL);
}

static void
put (const char *path, const char *data, gssize len, mode_t mode)
{
  assert_true (g_file_set_contents (path, data, len, NULL));
  assert_int_equal (chmod (path, mode), 0);
}

/* ---- the checks ---------------------------------------------------------- */

static void
prepare__missing__created_0700_and_accepted (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;
  struct stat st;

  assert_true (gvd_state_dir_prepare (f->state, &error));
  assert_int_equal (lstat (f->state, &st), 0);
  assert_true (S_ISDIR (st.st_mode));
  assert_int_equal (st.st_mode & 07777, 0700);
  assert_int_equal (st.st_uid, geteuid ());
  /* Again, now that it exists. */
  assert_true (gvd_state_dir_prepare (f->state, &error));
}

static void
prepare__owned_by_other_uid__invalid_config_naming_owner_and_fix (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;

  require_root ();
  assert_int_equal (g_mkdir (f->state, 0700), 0);
  assert_int_equal (chown (f->state, NOBODY, NOBODY), 0);
  assert_false (gvd_state_dir_prepare (f->state, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, f->state));
  assert_non_null (strstr (error->message, "uid 65534"));
  assert_non_null (strstr (error->message, "mode 0700"));
  assert_non_null (strstr (error->message, "chown root:root"));
  assert_non_null (strstr (error->message, "chmod 700"));
}

static void
prepare__world_writable__invalid_config (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;

  assert_int_equal (g_mkdir (f->state, 0700), 0);
  assert_int_equal (chmod (f->state, 0777), 0);
  assert_false (gvd_state_dir_prepare (f->state, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, "mode 0777"));
  g_clear_error (&error);
  assert_int_equal (chmod (f->state, 0770), 0);
  assert_false (gvd_state_dir_prepare (f->state, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
}

static void
prepare__symlink__refused (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *real = g_build_filename (f->base, "real", NULL);

  assert_int_equal (g_mkdir (real, 0700), 0);
  assert_int_equal (symlink (real, f->state), 0);
  assert_false (gvd_state_dir_prepare (f->state, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, "symlink"));
}

static void
prepare__parent_writable_by_others__refused (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;

  /* base is 0700; open it to the world, without the sticky bit. */
  assert_int_equal (chmod (f->base, 0777), 0);
  assert_false (gvd_state_dir_prepare (f->state, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, f->base));
  g_clear_error (&error);
  /* Sticky (like /tmp): nobody can rename our directory away. */
  assert_int_equal (chmod (f->base, 01777), 0);
  assert_true (gvd_state_dir_prepare (f->state, &error));
  assert_int_equal (chmod (f->base, 0700), 0);
}

static void
prepare__planted_secret__refused (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = in_state (f, GVD_STATE_AGENT_SECRET);
  g_autofree char *registry = in_state (f, GVD_REGISTRY_FILE_NAME);

  assert_int_equal (g_mkdir (f->state, 0700), 0);
  put (secret, "0123456789abcdef0123456789abcdef", 32, 0644);
  assert_false (gvd_state_dir_prepare (f->state, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, secret));
  assert_non_null (strstr (error->message, "mode 0644"));
  assert_non_null (strstr (error->message, "chmod 600"));
  g_clear_error (&error);

  /* The registry holds no secret: 0644 is fine, 0664 is not. */
  assert_int_equal (chmod (secret, 0600), 0);
  put (registry, "{\"version\": 1, \"devices\": []}", -1, 0644);
  assert_true (gvd_state_dir_prepare (f->state, &error));
  assert_int_equal (chmod (registry, 0664), 0);
  assert_false (gvd_state_dir_prepare (f->state, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, registry));
}

static void
file_check__owner_type_mode__checked (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_build_filename (f->base, "admin.token", NULL);
  g_autofree char *link = g_build_filename (f->base, "link", NULL);
  g_autofree char *fifo = g_build_filename (f->base, "fifo", NULL);
  gboolean exists = TRUE;

  /* Missing is fine, and says so. */
  assert_true (gvd_state_file_check (file, GVD_STATE_FILE_SECRET, &exists, &error));
  assert_false (exists);

  put (file, "token-token-token", -1, 0600);
  assert_true (gvd_state_file_check (file, GVD_STATE_FILE_SECRET, &exists, &error));
  assert_true (exists);

  assert_int_equal (chmod (file, 0640), 0);
  assert_false (gvd_state_file_check (file, GVD_STATE_FILE_SECRET, NULL, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  g_clear_error (&error);
  assert_true (gvd_state_file_check (file, GVD_STATE_FILE_PUBLIC, NULL, &error));

  /* A symlink to a good file is refused, and a FIFO is never opened. */
  assert_int_equal (chmod (file, 0600), 0);
  assert_int_equal (symlink (file, link), 0);
  assert_false (gvd_state_file_check (link, GVD_STATE_FILE_SECRET, NULL, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  g_clear_error (&error);
  assert_int_equal (mkfifo (fifo, 0600), 0);
  assert_false (gvd_state_file_check (fifo, GVD_STATE_FILE_SECRET, NULL, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, "not a regular file"));
  g_clear_error (&error);

  if (geteuid () != 0)
    return;
  assert_int_equal (chown (file, NOBODY, NOBODY), 0);
  assert_false (gvd_state_file_check (file, GVD_STATE_FILE_SECRET, NULL, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, "uid 65534"));
}

static void
secret_load__owned_by_nobody__refused (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) ok = NULL;
  g_autoptr(GBytes) planted = NULL;
  g_autofree char *secret = NULL;

  require_root ();
  assert_true (gvd_state_dir_prepare (f->state, &error));
  secret = in_state (f, GVD_STATE_AGENT_SECRET);
  ok = gvd_secret_load_or_create (secret, GVD_SECRET_LEN, &error);
  assert_non_null (ok);
  /* The reader checks the descriptor it reads (fstat), not just the path. */
  assert_int_equal (chown (secret, NOBODY, NOBODY), 0);
  planted = gvd_secret_load_or_create (secret, GVD_SECRET_LEN, &error);
  assert_null (planted);
  g_assert_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG);
  assert_non_null (strstr (error->message, "uid 65534"));
}

/* ---- the atomic writer --------------------------------------------------- */

static guint
count_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  assert_non_null (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
write__replace_and_no_replace__as_documented (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->base, "file", NULL);
  g_autofree char *data = NULL;
  struct stat st;

  assert_true (gvd_state_file_write (path, "one", 3, 0600, GVD_STATE_WRITE_REPLACE, &error));
  assert_true (gvd_state_file_write (path, "two", 3, 0600, GVD_STATE_WRITE_REPLACE, &error));
  assert_true (g_file_get_contents (path, &data, NULL, NULL));
  assert_string_equal (data, "two");
  g_clear_pointer (&data, g_free);
  assert_true (gvd_state_file_write (path, "three", 5, 0600, GVD_STATE_WRITE_NO_REPLACE, &error));
  assert_true (g_file_get_contents (path, &data, NULL, NULL));
  assert_string_equal (data, "two");
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_int_equal (count_entries (f->base), 1); /* no temporary files left */
}

/* registry.json and agent-secret on a full file system: the writes fail
 * with ENOSPC named, the old registry stays byte-identical, no temporary
 * file is left, and no partial secret appears. */
static void
write__file_system_full__clean_failure_old_files_intact (void **state)
{
  Fx *f = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *registry = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len = 0;
  gsize after_len = 0;
  g_autoptr(GvdRegistry) reg = gvd_registry_new ();
  g_autoptr(GBytes) bytes = NULL;

  require_root ();
  assert_int_equal (g_mkdir (f->state, 0700), 0);
  if (!gvd_test_mount_small_tmpfs (f->state, &reason))
    {
      print_message ("skipped: %s\n", reason);
      skip ();
    }
  registry = in_state (f, GVD_REGISTRY_FILE_NAME);
  secret = in_state (f, GVD_STATE_AGENT_SECRET);
  assert_true (gvd_registry_add (reg, "gpu0", "0000:01:00.0", &error));
  assert_true (gvd_registry_save_file (reg, registry, &error));
  assert_true (g_file_get_contents (registry, &before, &before_len, NULL));

  gvd_test_fill_fs (f->state);
  for (int i = 1; i < 40; i++)
    {
      g_autofree char *name = g_strdup_printf ("gpu%d", i);
      g_autofree char *addr = g_strdup_printf ("0000:%02x:00.0", i + 1);
      assert_true (gvd_registry_add (reg, name, addr, &error));
    }
  assert_false (gvd_registry_save_file (reg, registry, &error));
  g_assert_error (error, GVD_ERROR, GVD_ERROR_IO);
  assert_non_null (strstr (error->message, "cannot write"));
  assert_non_null (strstr (error->message, "registry.json"));
  assert_non_null (strstr (error->message, g_strerror (ENOSPC)));
  g_clear_error (&error);
  assert_true (g_file_get_contents (registry, &after, &after_len, NULL));
  assert_int_equal (after_len, before_len);
  assert_memory_equal (after, before, before_len);

  bytes = gvd_secret_load_or_create (secret, GVD_SECRET_LEN, &error);
  assert_null (bytes);
  g_assert_error (error, GVD_ERROR, GVD_ERROR_IO);
  assert_non_null (strstr (error->message, "agent-secret"));
  assert_non_null (strstr (error->message, g_strerror (ENOSPC)));
  assert_false (g_file_test (secret, G_FILE_TEST_EXISTS));
  /* registry.json and the filler: nothing else. */
  assert_int_equal (count_entries (f->state), 2);

  gvd_test_umount (f->state);
}

/* ---- the real daemon ----------------------------------------------------- */

/* Run gpuvmd on @state_dir until it exits; its exit status and stderr. */
static int
run_daemon (const char *state_dir, char **out_stderr)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *conf_dir = g_dir_make_tmp ("gvd-state-conf-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename (conf_dir, "gpuvmd.conf", NULL);
  g_autofree char *text = g_strdup_printf ("[daemon]\nstate_dir=%s\n[libvirt]\nuri=test:///default\n"
                                           "[agent]\nlisten=127.0.0.1:0\n", state_dir);
  g_autofree char *bin = gvd_test_build_path ("src", "gpuvmd", NULL);
  const char *argv[] = { bin, "--config", conf, "--listen", "127.0.0.1:0", NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *err = NULL;
  int status;

  assert_true (g_file_set_contents (conf, text, -1, NULL));
  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            &error);
  assert_non_null (proc);
  /* A daemon that does not refuse keeps running: a timeout is a failure. */
  assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error));
  assert_true (g_subprocess_get_if_exited (proc));
  status = g_subprocess_get_exit_status (proc);
  g_unlink (conf);
  g_rmdir (conf_dir);
  *out_stderr = g_steal_pointer (&err);
  return status;
}

static void
daemon__dir_owned_by_nobody__exit_2_naming_path_owner_fix (void **state)
{
  Fx *f = *state;
  g_autofree char *err = NULL;

  require_root ();
  assert_int_equal (g_mkdir (f->state, 0700), 0);
  assert_int_equal (chown (f->state, NOBODY, NOBODY), 0);
  assert_int_equal (run_daemon (f->state, &err), 2);
  print_message ("gpuvmd said: %s", err);
  assert_non_null (strstr (err, f->state));
  assert_non_null (strstr (err, "uid 65534"));
  assert_non_null (strstr (err, "chown root:root"));
}

static void
daemon__world_writable_dir__exit_2 (void **state)
{
  Fx *f = *state;
  g_autofree char *err = NULL;

  assert_int_equal (g_mkdir (f->state, 0700), 0);
  assert_int_equal (chmod (f->state, 0777), 0);
  assert_int_equal (run_daemon (f->state, &err), 2);
  assert_non_null (strstr (err, "mode 0777"));
  assert_non_null (strstr (err, "chmod 700"));
}

static void
daemon__planted_secret__exit_2 (void **state)
{
  Fx *f = *state;
  g_autofree char *err = NULL;
  g_autofree char *err2 = NULL;
  g_autofree char *secret = in_state (f, GVD_STATE_AGENT_SECRET);

  require_root ();
  assert_int_equal (g_mkdir (f->state, 0700), 0);
  put (secret, "0123456789abcdef0123456789abcdef", 32, 0600);
  assert_int_equal (chown (secret, NOBODY, NOBODY), 0);
  assert_int_equal (run_daemon (f->state, &err), 2);
  assert_non_null (strstr (err, secret));
  assert_non_null (strstr (err, "uid 65534"));

  assert_int_equal (chown (secret, 0, 0), 0);
  assert_int_equal (chmod (secret, 0644), 0);
  assert_int_equal (run_daemon (f->state, &err2), 2);
  assert_non_null (strstr (err2, "mode 0644"));
}

static void
daemon__fresh_state_dir__starts_and_creates_0700 (void **state)
{
  Fx *f = *state;
  g_autofree char *text = g_strdup_printf ("[daemon]\nstate_dir=%s\n[libvirt]\nuri=test:///default\n"
                                           "[agent]\nlisten=127.0.0.1:0\n", f->state);
  g_autofree char *secret = in_state (f, GVD_STATE_AGENT_SECRET);
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (text, NULL);
  struct stat st;

  assert_int_equal (lstat (f->state, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0700);
  assert_int_equal (lstat (secret, &st), 0);
  assert_true (S_ISREG (st.st_mode));
  assert_int_equal (st.st_mode & 07777, 0600);
  gvd_test_daemon_stop (d, TRUE);
  /* And again on the directory it made. */
  {
    g_autoptr(GvdTestDaemon) again = gvd_test_daemon_start (text, NULL);
    gvd_test_daemon_stop (again, TRUE);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown (name, setup, teardown)
    T (prepare__missing__created_0700_and_accepted),
    T (prepare__owned_by_other_uid__invalid_config_naming_owner_and_fix),
    T (prepare__world_writable__invalid_config),
    T (prepare__symlink__refused),
    T (prepare__parent_writable_by_others__refused),
    T (prepare__planted_secret__refused),
    T (file_check__owner_type_mode__checked),
    T (secret_load__owned_by_nobody__refused),
    T (write__replace_and_no_replace__as_documented),
    T (write__file_system_full__clean_failure_old_files_intact),
    T (daemon__dir_owned_by_nobody__exit_2_naming_path_owner_fix),
    T (daemon__world_writable_dir__exit_2),
    T (daemon__planted_secret__exit_2),
    T (daemon__fresh_state_dir__starts_and_creates_0700),
#undef T
  };

  return cmocka_run_group_tests_name ("state-dir", tests, NULL, NULL);
}
