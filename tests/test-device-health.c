/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device nodes, holders and the post-release check on a fixture host tree
 * built in a temporary directory (real symlinks, as procfs and sysfs have). */
#include "config.h"

#include "testlib.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device-health.h"
#include "errors.h"
#include "instance-priv.h"

typedef struct {
  char *dir;
  GvdHostRoot *root;
} Tree;

static void
put (Tree *t, const char *rel, const void *data, gssize len)
{
  g_autofree char *path = g_build_filename (t->dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (path);

  assert_int_equal (g_mkdir_with_parents (parent, 0755), 0);
  assert_true (g_file_set_contents (path, data, len, NULL));
}

static void
link_to (Tree *t, const char *rel, const char *target)
{
  g_autofree char *path = g_build_filename (t->dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (path);

  assert_int_equal (g_mkdir_with_parents (parent, 0755), 0);
  assert_int_equal (symlink (target, path), 0);
}

static void
mkdir_in (Tree *t, const char *rel)
{
  g_autofree char *path = g_build_filename (t->dir, rel, NULL);
  assert_int_equal (g_mkdir_with_parents (path, 0755), 0);
}

/* 0000:01:00.0: a GPU on nouveau with DRM nodes card1/renderD128, held by
 * Xorg (pid 1200); 0000:02:00.0: an NVIDIA GPU (minor 3) held by
 * nvidia-smi (pid 1300) through /dev/nvidia3, and nvidia-persistenced
 * running (pid 900); 0000:03:00.0: a GPU whose config space reads 0xffff;
 * pid 1400 holds only /dev/null. */
static int
setup (void **state)
{
  Tree *t = g_new0 (Tree, 1);
  const guchar nv[4] = { 0xde, 0x10, 0x04, 0x22 };
  const guchar dead[4] = { 0xff, 0xff, 0xff, 0xff };
  const guchar nouveau[4] = { 0xde, 0x10, 0x82, 0x1b };

  t->dir = g_dir_make_tmp ("gvd-health-XXXXXX", NULL);
  put (t, "sys/bus/pci/devices/0000:01:00.0/config", nouveau, 4);
  mkdir_in (t, "sys/bus/pci/devices/0000:01:00.0/drm/card1");
  mkdir_in (t, "sys/bus/pci/devices/0000:01:00.0/drm/renderD128");
  mkdir_in (t, "sys/bus/pci/devices/0000:01:00.0/drm/controlD64");
  mkdir_in (t, "sys/bus/pci/drivers/nouveau");
  link_to (t, "sys/bus/pci/devices/0000:01:00.0/driver", "../../../bus/pci/drivers/nouveau");
  put (t, "sys/bus/pci/devices/0000:02:00.0/config", nv, 4);
  mkdir_in (t, "sys/bus/pci/drivers/vfio-pci");
  link_to (t, "sys/bus/pci/devices/0000:02:00.0/driver", "../../../bus/pci/drivers/vfio-pci");
  put (t, "proc/driver/nvidia/gpus/0000:02:00.0/information",
       "Model: \t\t NVIDIA A100\nIRQ:   \t\t 62\nDevice Minor: \t 3\nBus Location: \t 0000:02:00.0\n", -1);
  put (t, "sys/bus/pci/devices/0000:03:00.0/config", dead, 4);

  put (t, "proc/1200/comm", "Xorg\n", -1);
  link_to (t, "proc/1200/fd/0", "/dev/null");
  link_to (t, "proc/1200/fd/12", "/dev/dri/card1");
  link_to (t, "proc/1200/fd/13", "/dev/dri/renderD128");
  put (t, "proc/1300/comm", "nvidia-smi\n", -1);
  link_to (t, "proc/1300/fd/4", "/dev/nvidia3");
  put (t, "proc/1400/comm", "sleep\n", -1);
  link_to (t, "proc/1400/fd/0", "/dev/null");
  /* nvidia-persistenced as it really runs: its pidfile names pid 900,
   * whose exe is the real binary. Pid 950 only names itself like it. */
  put (t, "proc/900/comm", "nvidia-persiste\n", -1);
  link_to (t, "proc/900/exe", GVD_PERSISTENCED_EXE);
  put (t, GVD_PERSISTENCED_PIDFILE, "900\n", -1);
  put (t, "proc/950/comm", "nvidia-persiste\n", -1);
  link_to (t, "proc/950/exe", "/home/mallory/nvidia-persistenced");
  put (t, "proc/self", "not a pid\n", -1);
  t->root = gvd_host_root_new_prefixed (t->dir);
  *state = t;
  return 0;
}

static int
teardown (void **state)
{
  Tree *t = *state;
  g_autoptr(GFile) dir = g_file_new_for_path (t->dir);
  g_autoptr(GFileEnumerator) e = NULL;
  /* rm -r through GIO: walk depth-first. */
  GQueue todo = G_QUEUE_INIT;
  GPtrArray *all = g_ptr_array_new_with_free_func (g_object_unref);

  g_queue_push_tail (&todo, g_object_ref (dir));
  while (!g_queue_is_empty (&todo))
    {
      GFile *f = g_queue_pop_head (&todo);
      g_autoptr(GFileEnumerator) en = g_file_enumerate_children (f, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                                                 G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                                                 G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                                 NULL, NULL);
      g_ptr_array_add (all, f);
      if (en == NULL)
        continue;
      for (;;)
        {
          GFileInfo *info = NULL;
          GFile *child = NULL;
          if (!g_file_enumerator_iterate (en, &info, &child, NULL, NULL) || info == NULL)
            break;
          if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
            g_queue_push_tail (&todo, g_object_ref (child));
          else
            g_file_delete (child, NULL, NULL);
        }
    }
  for (guint i = all->len; i > 0; i--)
    g_file_delete (g_ptr_array_index (all, i - 1), NULL, NULL);
  g_ptr_array_unref (all);
  gvd_host_root_free (t->root);
  g_free (t->dir);
  g_free (t);
  return 0;
}

static void
parse_minor__information_file__minor (void **state)
{
  guint minor = 99;

  assert_true (gvd_nvidia_parse_minor ("Model: x\nDevice Minor: \t 7\n", &minor));
  assert_int_equal (minor, 7);
  assert_false (gvd_nvidia_parse_minor ("Model: x\n", &minor));
  assert_false (gvd_nvidia_parse_minor ("Device Minor: seven\n", &minor));
  assert_false (gvd_nvidia_parse_minor ("Device Minor: 256\n", &minor));
  assert_false (gvd_nvidia_parse_minor (NULL, &minor));
}

static void
nodes__drm_and_nvidia__host_paths (void **state)
{
  Tree *t = *state;
  g_auto(GStrv) a = gvd_device_nodes (t->root, "0000:01:00.0");
  g_auto(GStrv) b = gvd_device_nodes (t->root, "0000:02:00.0");
  g_auto(GStrv) c = gvd_device_nodes (t->root, "0000:09:00.0");

  assert_int_equal (g_strv_length (a), 2);
  assert_string_equal (a[0], "/dev/dri/card1");
  assert_string_equal (a[1], "/dev/dri/renderD128");
  assert_int_equal (g_strv_length (b), 1);
  assert_string_equal (b[0], "/dev/nvidia3");
  assert_int_equal (g_strv_length (c), 0);
}

static void
check_not_busy__held__device_busy_naming_processes (void **state)
{
  Tree *t = *state;
  const char *addrs[] = { "0000:01:00.0", "0000:02:00.0", NULL };
  const char *free_addrs[] = { "0000:03:00.0", NULL };
  g_autoptr(GError) error = NULL;

  assert_false (gvd_device_check_not_busy (t->root, addrs, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_BUSY));
  assert_non_null (strstr (error->message, "0000:01:00.0 is held by pid 1200 (Xorg) through /dev/dri/card1"));
  assert_non_null (strstr (error->message, "0000:02:00.0 is held by pid 1300 (nvidia-smi) through /dev/nvidia3"));
  assert_null (strstr (error->message, "1400"));
  assert_true (gvd_device_check_not_busy (t->root, free_addrs, NULL));
}

/* Where capture_log() puts messages while a test listens; NULL: GLib's
 * default writer. GLib takes one writer per process, for good, so the
 * writer stays installed and only this pointer changes. */
static GPtrArray *captured_lines;

static GLogWriterOutput
capture_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (captured_lines == NULL)
    return g_log_writer_default (level, fields, n_fields, data);
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      g_ptr_array_add (captured_lines, g_strdup (fields[i].value));
  return G_LOG_WRITER_HANDLED;
}

/* The rig found it: a start refused with device_busy left nothing in the
 * log. The refusal is logged once, naming the device and its holder. */
static void
log_start_refused__device_busy__one_line_naming_the_holder (void **state)
{
  Tree *t = *state;
  const char *addrs[] = { "0000:01:00.0", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  assert_false (gvd_device_check_not_busy (t->root, addrs, &error));
  g_log_set_writer_func (capture_log, NULL, NULL);
  captured_lines = lines;
  gvd_instance_log_start_refused ("vm1", "start", error);
  captured_lines = NULL;
  assert_int_equal (lines->len, 1);
  assert_non_null (strstr (g_ptr_array_index (lines, 0), "instance vm1: start refused (device_busy)"));
  assert_non_null (strstr (g_ptr_array_index (lines, 0),
                           "0000:01:00.0 is held by pid 1200 (Xorg) through /dev/dri/card1"));
}

static void
check_released__states__reasons (void **state)
{
  Tree *t = *state;
  g_autofree char *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL;

  assert_true (gvd_device_check_released (t->root, "0000:01:00.0", "nouveau", &r1));
  assert_null (r1);
  assert_true (gvd_device_check_released (t->root, "0000:01:00.0", NULL, &r1));
  assert_false (gvd_device_check_released (t->root, "0000:02:00.0", "nvidia", &r2));
  assert_non_null (strstr (r2, "bound to vfio-pci after release, expected the host driver nvidia"));
  assert_false (gvd_device_check_released (t->root, "0000:03:00.0", NULL, &r3));
  assert_non_null (strstr (r3, "config space reads 0xffff"));
  assert_false (gvd_device_check_released (t->root, "0000:04:00.0", NULL, &r4));
  assert_non_null (strstr (r4, "gone from the PCI bus"));
}

static void
find_persistenced__pidfile_with_real_exe__pid (void **state)
{
  Tree *t = *state;
  g_autoptr(GvdHostRoot) empty = gvd_host_root_new ("/nonexistent/sys", "/nonexistent/proc", NULL);
  g_autofree char *why = NULL;
  g_autofree char *why_empty = NULL;

  assert_int_equal (gvd_device_find_persistenced (t->root, &why), 900);
  assert_null (why);
  /* No pidfile: not running, nothing to say. */
  assert_int_equal (gvd_device_find_persistenced (empty, &why_empty), 0);
  assert_null (why_empty);
}

/* A process any user can start under the name "nvidia-persiste" is never
 * chosen: without a pidfile nothing is found, and a pidfile naming it is
 * refused because of its exe. */
static void
find_persistenced__impostor__left_alone_with_reason (void **state)
{
  Tree *t = *state;
  g_autofree char *pidfile = g_build_filename (t->dir, GVD_PERSISTENCED_PIDFILE, NULL);
  g_autofree char *why = NULL;
  g_autofree char *why_gone = NULL;
  g_autofree char *why_bad = NULL;
  g_autofree char *why_none = NULL;

  assert_true (g_file_set_contents (pidfile, "950\n", -1, NULL));
  assert_int_equal (gvd_device_find_persistenced (t->root, &why), 0);
  assert_non_null (why);
  assert_non_null (strstr (why, "pid 950"));
  assert_non_null (strstr (why, "/home/mallory/nvidia-persistenced"));

  assert_true (g_file_set_contents (pidfile, "4242\n", -1, NULL));
  assert_int_equal (gvd_device_find_persistenced (t->root, &why_gone), 0);
  assert_non_null (strstr (why_gone, "4242"));

  assert_true (g_file_set_contents (pidfile, "-1 or 99999999999\n", -1, NULL));
  assert_int_equal (gvd_device_find_persistenced (t->root, &why_bad), 0);
  assert_non_null (strstr (why_bad, "does not hold a pid"));

  assert_int_equal (g_unlink (pidfile), 0);
  assert_int_equal (gvd_device_find_persistenced (t->root, &why_none), 0);
  assert_null (why_none);
  assert_true (g_file_set_contents (pidfile, "900\n", -1, NULL));
}

/* A pid read from a fixture tree is never signalled, even when it is a
 * real process of this host. */
static void
stop_process__fixture_root__never_signalled (void **state)
{
  Tree *t = *state;
  g_autofree char *why = NULL;

  assert_false (gvd_device_stop_process (t->root, (int) getpid (), GVD_PERSISTENCED_EXE, 10, &why));
  assert_non_null (strstr (why, "not the host's /proc"));
}

/* On the real /proc, with a child of ours: the wrong exe leaves it alone,
 * the right one stops it. */
static void
stop_process__real_proc__only_matching_exe_signalled (void **state)
{
  g_autoptr(GvdHostRoot) host = gvd_host_root_new (NULL, NULL, NULL);
  const char *argv[] = { "sleep", "60", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *exe_link = NULL;
  g_autofree char *exe = NULL;
  g_autofree char *why = NULL;
  g_autofree char *why_ok = NULL;
  GPid child;
  int status;

  assert_true (g_spawn_async (NULL, (char **) argv, NULL,
                              G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &child,
                              &error));
  /* Wait until the child has exec'd sleep. */
  exe_link = g_strdup_printf ("/proc/%d/exe", child);
  for (int i = 0; i < 200; i++)
    {
      g_free (exe);
      exe = g_file_read_link (exe_link, NULL);
      if (exe != NULL && g_str_has_suffix (exe, "/sleep"))
        break;
      g_usleep (10 * 1000);
    }
  assert_non_null (exe);
  assert_true (g_str_has_suffix (exe, "/sleep"));

  assert_false (gvd_device_stop_process (host, child, GVD_PERSISTENCED_EXE, 10, &why));
  if (strstr (why, g_strerror (ENOSYS)) != NULL)
    {
      /* valgrind does not know pidfd_open (the kernel here does). */
      kill (child, SIGKILL);
      waitpid (child, &status, 0);
      print_message ("skipped: %s\n", why);
      /* skip () jumps out: free what the cleanups would. */
      g_clear_pointer (&why, g_free);
      g_clear_pointer (&exe, g_free);
      g_clear_pointer (&exe_link, g_free);
      g_clear_pointer (&host, gvd_host_root_free);
      skip ();
    }
  assert_non_null (strstr (why, GVD_PERSISTENCED_EXE));
  assert_int_equal (waitpid (child, &status, WNOHANG), 0); /* still running */

  assert_true (gvd_device_stop_process (host, child, exe, 5000, &why_ok));
  assert_null (why_ok);
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFSIGNALED (status));
  assert_int_equal (WTERMSIG (status), SIGTERM);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse_minor__information_file__minor),
    cmocka_unit_test (nodes__drm_and_nvidia__host_paths),
    cmocka_unit_test (check_not_busy__held__device_busy_naming_processes),
    cmocka_unit_test (check_released__states__reasons),
    cmocka_unit_test (find_persistenced__pidfile_with_real_exe__pid),
    cmocka_unit_test (find_persistenced__impostor__left_alone_with_reason),
    cmocka_unit_test (stop_process__fixture_root__never_signalled),
    cmocka_unit_test (stop_process__real_proc__only_matching_exe_signalled),
    cmocka_unit_test (log_start_refused__device_busy__one_line_naming_the_holder),
  };

  return cmocka_run_group_tests_name ("device-health", tests, setup, teardown);
}
