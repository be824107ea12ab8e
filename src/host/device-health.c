/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device nodes, their holders (procfs fd links), and the post-release check. */
#include "config.h"

#include "device-health.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errors.h"
#include "host-read.h"

/* Bounds on a procfs scan: a host has far fewer, but a hostile or broken
 * /proc must not make the daemon walk forever. */
#define MAX_PROCESSES 65536
#define MAX_FDS_PER_PROCESS 65536

void
gvd_device_holder_free (GvdDeviceHolder *holder)
{
  if (holder == NULL)
    return;
  g_free (holder->comm);
  g_free (holder->node);
  g_free (holder);
}

gboolean
gvd_nvidia_parse_minor (const char *information, guint *out_minor)
{
  g_auto(GStrv) lines = NULL;

  if (information == NULL)
    return FALSE;
  lines = g_strsplit (information, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *colon = strchr (lines[i], ':');
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;
      guint64 minor;

      if (colon == NULL)
        continue;
      key = g_strstrip (g_strndup (lines[i], colon - lines[i]));
      if (!g_str_equal (key, "Device Minor"))
        continue;
      value = g_strstrip (g_strdup (colon + 1));
      if (!g_ascii_string_to_unsigned (value, 10, 0, 255, &minor, NULL))
        return FALSE;
      if (out_minor != NULL)
        *out_minor = (guint) minor;
      return TRUE;
    }
  return FALSE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

GStrv
gvd_device_nodes (const GvdHostRoot *root, const char *address)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *drm = gvd_host_root_sysfs (root, "bus", "pci", "devices", address, "drm", NULL);
  g_autofree char *info_path = gvd_host_root_procfs (root, "driver", "nvidia", "gpus", address,
                                                     "information", NULL);
  g_autofree char *info = NULL;
  g_autoptr(GDir) dir = g_dir_open (drm, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint minor;

  if (dir != NULL)
    {
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        if (g_str_has_prefix (name, "card") || g_str_has_prefix (name, "renderD"))
          g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_sort (names, compare_strings);
      for (guint i = 0; i < names->len; i++)
        {
          g_autofree char *node = g_strconcat ("/dev/dri/", (char *) g_ptr_array_index (names, i), NULL);
          g_strv_builder_add (b, node);
        }
    }
  if ((info = gvd_host_read_small (info_path)) != NULL && gvd_nvidia_parse_minor (info, &minor))
    {
      g_autofree char *node = g_strdup_printf ("/dev/nvidia%u", minor);
      g_strv_builder_add (b, node);
    }
  return g_strv_builder_end (b);
}

static gboolean
all_digits (const char *s)
{
  if (*s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

GPtrArray *
gvd_device_holders (const GvdHostRoot *root, const char *const *nodes)
{
  GPtrArray *holders = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_device_holder_free);
  g_autoptr(GDir) proc = NULL;
  const char *pid_name;
  guint n_proc = 0;

  if (nodes == NULL || nodes[0] == NULL)
    return holders;
  proc = g_dir_open (root->procfs, 0, NULL);
  if (proc == NULL)
    return holders;
  while ((pid_name = g_dir_read_name (proc)) != NULL && n_proc < MAX_PROCESSES)
    {
      g_autofree char *fd_dir = NULL;
      g_autoptr(GDir) fds = NULL;
      const char *fd_name;
      guint n_fd = 0;

      if (!all_digits (pid_name))
        continue;
      n_proc++;
      fd_dir = g_build_filename (root->procfs, pid_name, "fd", NULL);
      fds = g_dir_open (fd_dir, 0, NULL);
      if (fds == NULL)
        continue; /* exited, or a kernel thread */
      /* Report the first of @nodes the process holds, whatever the fd order. */
      gint best = -1;
      while ((fd_name = g_dir_read_name (fds)) != NULL && n_fd++ < MAX_FDS_PER_PROCESS)
        {
          g_autofree char *link = g_build_filename (fd_dir, fd_name, NULL);
          g_autofree char *target = g_file_read_link (link, NULL);

          for (gint k = 0; target != NULL && nodes[k] != NULL; k++)
            if (g_str_equal (nodes[k], target) && (best < 0 || k < best))
              best = k;
        }
      if (best >= 0)
        {
          GvdDeviceHolder *h = g_new0 (GvdDeviceHolder, 1);
          g_autofree char *comm_path = g_build_filename (root->procfs, pid_name, "comm", NULL);
          g_autofree char *comm = NULL;

          h->pid = (int) g_ascii_strtoll (pid_name, NULL, 10);
          h->comm = (comm = gvd_host_read_small (comm_path)) != NULL
                      ? g_strdup (g_strstrip (comm))
                      : g_strdup ("?");
          h->node = g_strdup (nodes[best]);
          g_ptr_array_add (holders, h);
        }
    }
  return holders;
}

static int
compare_holders (gconstpointer a, gconstpointer b)
{
  const GvdDeviceHolder *ha = *(GvdDeviceHolder *const *) a;
  const GvdDeviceHolder *hb = *(GvdDeviceHolder *const *) b;

  return ha->pid - hb->pid;
}

gboolean
gvd_device_check_not_busy (const GvdHostRoot *root, const char *const *addresses, GError **error)
{
  g_autoptr(GString) why = g_string_new (NULL);

  for (gsize i = 0; addresses != NULL && addresses[i] != NULL; i++)
    {
      g_auto(GStrv) nodes = gvd_device_nodes (root, addresses[i]);
      g_autoptr(GPtrArray) holders = gvd_device_holders (root, (const char *const *) nodes);

      g_ptr_array_sort (holders, compare_holders);
      for (guint h = 0; h < holders->len; h++)
        {
          GvdDeviceHolder *holder = g_ptr_array_index (holders, h);
          g_string_append_printf (why, "%s%s is held by pid %d (%s) through %s",
                                  why->len > 0 ? "; " : "", addresses[i], holder->pid,
                                  holder->comm, holder->node);
        }
    }
  if (why->len == 0)
    return TRUE;
  g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_BUSY,
               "host processes use the device: %s. Stop them (or their display manager) "
               "before passing the device through", why->str);
  return FALSE;
}

gboolean
gvd_device_check_released (const GvdHostRoot *root, const char *address,
                           const char *expected_driver, char **out_reason)
{
  g_autofree char *dir = gvd_host_root_sysfs (root, "bus", "pci", "devices", address, NULL);
  g_autofree char *config = g_build_filename (dir, "config", NULL);
  g_autofree char *driver_link = g_build_filename (dir, "driver", NULL);
  g_autofree char *data = NULL;
  g_autofree char *target = NULL;
  g_autofree char *driver = NULL;
  gsize len = 0;

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      *out_reason = g_strdup_printf ("%s is gone from the PCI bus after release", address);
      return FALSE;
    }
  if ((data = gvd_host_read (config, GVD_HOST_READ_SMALL, &len, NULL)) == NULL || len < 2)
    {
      *out_reason = g_strdup_printf ("%s: its config space cannot be read after release", address);
      return FALSE;
    }
  if ((guchar) data[0] == 0xff && (guchar) data[1] == 0xff)
    {
      *out_reason = g_strdup_printf ("%s: config space reads 0xffff after release (the device "
                                     "did not come back from reset)", address);
      return FALSE;
    }
  target = g_file_read_link (driver_link, NULL);
  if (target != NULL)
    driver = g_path_get_basename (target);
  if (expected_driver != NULL && g_strcmp0 (driver, expected_driver) != 0)
    {
      *out_reason = g_strdup_printf ("%s: bound to %s after release, expected the host driver %s",
                                     address, driver != NULL ? driver : "no driver", expected_driver);
      return FALSE;
    }
  return TRUE;
}

/* Linux's PID_MAX_LIMIT: a larger number in a pidfile is not a pid. */
#define PID_MAX 4194304
#define PIDFILE_MAX_BYTES 64

/* The target of /proc/@pid/exe under @root, or NULL with @out_reason. */
static char *
read_exe (const GvdHostRoot *root, int pid, char **out_reason)
{
  g_autofree char *pid_str = g_strdup_printf ("%d", pid);
  g_autofree char *link = gvd_host_root_procfs (root, pid_str, "exe", NULL);
  g_autoptr(GError) error = NULL;
  char *target = g_file_read_link (link, &error);

  if (target == NULL)
    *out_reason = g_strdup_printf ("cannot read %s: %s", link, error->message);
  return target;
}

int
gvd_device_find_persistenced (const GvdHostRoot *root, char **out_reason)
{
  g_autofree char *pidfile = gvd_host_root_hostfs (root, GVD_PERSISTENCED_PIDFILE, NULL);
  g_autofree char *data = NULL;
  g_autofree char *exe = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  guint64 pid;

  g_return_val_if_fail (out_reason != NULL && *out_reason == NULL, 0);

  if ((data = gvd_host_read (pidfile, GVD_HOST_READ_SMALL, &len, &error)) == NULL)
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        *out_reason = g_strdup_printf ("cannot read %s: %s", pidfile, error->message);
      return 0;
    }
  if (len > PIDFILE_MAX_BYTES || memchr (data, '\0', len) != NULL
      || !g_ascii_string_to_unsigned (g_strstrip (data), 10, 2, PID_MAX, &pid, NULL))
    {
      *out_reason = g_strdup_printf ("%s does not hold a pid", pidfile);
      return 0;
    }
  exe = read_exe (root, (int) pid, out_reason);
  if (exe == NULL)
    return 0;
  if (!g_str_equal (exe, GVD_PERSISTENCED_EXE))
    {
      *out_reason = g_strdup_printf ("pid %d from %s runs %s, not %s", (int) pid, pidfile,
                                     g_utf8_validate (exe, -1, NULL) ? exe : "(not UTF-8)",
                                     GVD_PERSISTENCED_EXE);
      return 0;
    }
  return (int) pid;
}

gboolean
gvd_device_stop_process (const GvdHostRoot *root, int pid, const char *exe, guint timeout_ms,
                         char **out_reason)
{
  g_autofree char *target = NULL;
  struct pollfd pfd = { .events = POLLIN };
  int pidfd;
  int rc;

  g_return_val_if_fail (root != NULL && exe != NULL, FALSE);
  g_return_val_if_fail (out_reason != NULL && *out_reason == NULL, FALSE);

  if (!g_str_equal (root->procfs, "/proc"))
    {
      *out_reason = g_strdup_printf ("pid %d comes from the procfs root %s, not the host's /proc",
                                     pid, root->procfs);
      return FALSE;
    }
  if (pid <= 1)
    {
      *out_reason = g_strdup_printf ("refusing to signal pid %d", pid);
      return FALSE;
    }
  /* The pidfd pins the process (not the number): if it exits and the pid
   * is reused before the exe check, pidfd_send_signal fails with ESRCH
   * instead of hitting the newcomer. */
  pidfd = (int) syscall (SYS_pidfd_open, (pid_t) pid, 0);
  if (pidfd < 0)
    {
      *out_reason = g_strdup_printf ("pid %d: %s", pid, g_strerror (errno));
      return FALSE;
    }
  target = read_exe (root, pid, out_reason);
  if (target == NULL || !g_str_equal (target, exe))
    {
      if (target != NULL)
        *out_reason = g_strdup_printf ("pid %d runs %s, not %s", pid,
                                       g_utf8_validate (target, -1, NULL) ? target : "(not UTF-8)",
                                       exe);
      close (pidfd);
      return FALSE;
    }
  if (syscall (SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
    {
      *out_reason = g_strdup_printf ("pid %d: %s", pid, g_strerror (errno));
      close (pidfd);
      return FALSE;
    }
  /* A pidfd polls readable once its process has exited. */
  pfd.fd = pidfd;
  do
    rc = poll (&pfd, 1, (int) timeout_ms);
  while (rc < 0 && errno == EINTR);
  if (rc == 0)
    *out_reason = g_strdup_printf ("pid %d (%s) did not exit within %u ms of SIGTERM", pid, exe,
                                   timeout_ms);
  close (pidfd);
  return TRUE;
}
