/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared test helpers. */
#include "config.h"

#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "agent-probe.h"

static char *
build_from_env (const char *var, const char *fallback, const char *sub, const char *first,
                va_list ap)
{
  const char *base = g_getenv (var);
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();

  g_ptr_array_add (parts, (gpointer) (base != NULL ? base : fallback));
  if (sub != NULL)
    g_ptr_array_add (parts, (gpointer) sub);
  for (const char *p = first; p != NULL; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

char *
gvd_test_data_path (const char *first, ...)
{
  va_list ap;
  char *path;
  char *built;

  va_start (ap, first);
  path = build_from_env ("GVD_TEST_SRCDIR", "..", "tests", first, ap);
  va_end (ap);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return path;
  /* Fixtures unpacked into the build tree (a dist tarball ships the
   * symlink-laden host trees as a tar). */
  va_start (ap, first);
  built = build_from_env ("GVD_TEST_BUILDDIR", "..", "tests", first, ap);
  va_end (ap);
  if (g_file_test (built, G_FILE_TEST_EXISTS))
    {
      g_free (path);
      return built;
    }
  g_free (built);
  return path;
}

char *
gvd_test_build_path (const char *first, ...)
{
  va_list ap;
  char *path;

  va_start (ap, first);
  path = build_from_env ("GVD_TEST_BUILDDIR", "..", NULL, first, ap);
  va_end (ap);
  return path;
}

void
gvd_test_require (gboolean ok, const char *format, ...)
{
  g_autofree char *why = NULL;
  va_list ap;

  if (ok)
    return;
  va_start (ap, format);
  why = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (g_strcmp0 (g_getenv ("GVD_REQUIRE_INTEGRATION"), "1") == 0)
    {
      fprintf (stderr, "FAIL: integration test cannot run: %s "
                       "(GVD_REQUIRE_INTEGRATION=1 forbids skipping)\n", why);
      exit (1);
    }
  fprintf (stderr, "SKIP: %s\n", why);
  exit (GVD_TEST_SKIP);
}

static gboolean
libvirtd_answers (void)
{
  virConnectPtr conn;

  conn = virConnectOpen ("qemu:///system");
  if (conn == NULL)
    return FALSE;
  virConnectClose (conn);
  return TRUE;
}

static void
quiet (void *data, virErrorPtr err)
{
}

void
gvd_test_require_libvirtd (void)
{
  virSetErrorFunc (NULL, quiet);
  gvd_test_require (geteuid () == 0, "integration tests need root (they drive the system libvirtd)");
  gvd_test_require (libvirtd_answers (),
                    "libvirtd does not answer on qemu:///system (scripts/run-tests starts it): %s",
                    virGetLastErrorMessage ());
}

GPid
gvd_test_libvirtd_pid (void)
{
  g_autofree char *data = NULL;
  guint64 pid;

  if (!g_file_get_contents ("/run/libvirtd.pid", &data, NULL, NULL))
    return 0;
  g_strstrip (data);
  if (!g_ascii_string_to_unsigned (data, 10, 1, G_MAXINT, &pid, NULL))
    return 0;
  if (kill ((pid_t) pid, 0) < 0)
    return 0;
  return (GPid) pid;
}

gboolean
gvd_test_libvirtd_stop (void)
{
  GPid pid = gvd_test_libvirtd_pid ();

  if (pid == 0)
    return FALSE;
  if (kill (pid, SIGTERM) < 0)
    return FALSE;
  for (int i = 0; i < 200; i++)
    {
      if (kill (pid, 0) < 0 && errno == ESRCH)
        return TRUE;
      g_usleep (50 * 1000);
    }
  kill (pid, SIGKILL);
  g_usleep (200 * 1000);
  return kill (pid, 0) < 0;
}

gboolean
gvd_test_libvirtd_start (void)
{
  const char *argv[] = { "libvirtd", "-d", NULL };
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                     &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return FALSE;
  for (int i = 0; i < 200; i++)
    {
      if (libvirtd_answers ())
        return TRUE;
      g_usleep (50 * 1000);
    }
  return FALSE;
}

JsonNode *
gvd_test_http (SoupSession *session, const char *method, const char *url, const char *token,
               const char *body, guint *out_status)
{
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  gconstpointer data;
  gsize len;

  assert_non_null (msg);
  if (token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", token);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  else if (g_str_equal (method, "POST"))
    /* gpuvmd wants the JSON type on every POST, also without a body. */
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Content-Type",
                                  "application/json");
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  if (reply == NULL)
    {
      if (out_status != NULL)
        *out_status = 0;
      return NULL;
    }
  if (out_status != NULL)
    *out_status = soup_message_get_status (msg);
  data = g_bytes_get_data (reply, &len);
  if (len == 0 || !json_parser_load_from_data (parser, data, len, NULL))
    return NULL;
  return json_node_copy (json_parser_get_root (parser));
}

static gpointer
request_thread (gpointer data)
{
  GvdTestRequest *r = data;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = soup_message_new (r->method, r->url);
  g_autoptr(GBytes) reply = NULL;
  const char *ctype = r->content_type != NULL ? r->content_type : "application/json";

  if (r->token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", r->token);
      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  if (r->body != NULL)
    {
      gsize len = r->body_len != 0 ? r->body_len : strlen (r->body);
      g_autoptr(GBytes) bytes = g_bytes_new (r->body, len);

      if (r->chunked)
        {
          g_autoptr(GInputStream) in = g_memory_input_stream_new_from_bytes (bytes);
          soup_message_set_request_body (msg, ctype, in, -1);
        }
      else
        soup_message_set_request_body_from_bytes (msg, ctype, bytes);
    }
  else if (g_str_equal (r->method, "POST") && ctype[0] != '\0')
    /* gpuvmd wants the JSON type on every POST, also without a body. */
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Content-Type", ctype);
  reply = soup_session_send_and_read (session, msg, NULL, NULL);
  r->status = soup_message_get_status (msg);
  if (reply != NULL)
    r->reply = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  r->allow = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                     "Allow"));
  g_atomic_int_set (&r->done, TRUE);
  g_main_context_wakeup (NULL);
  return NULL;
}

void
gvd_test_requests_in_loop (GvdTestRequest *requests, guint n)
{
  g_autofree GThread **threads = g_new0 (GThread *, n);

  for (guint i = 0; i < n; i++)
    threads[i] = g_thread_new ("client", request_thread, &requests[i]);
  for (guint i = 0; i < n; i++)
    while (!g_atomic_int_get (&requests[i].done))
      g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < n; i++)
    g_thread_join (threads[i]);
}

JsonNode *
gvd_test_request_in_loop (GvdTestRequest *request)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  gvd_test_requests_in_loop (request, 1);
  if (request->reply == NULL || *request->reply == '\0'
      || !json_parser_load_from_data (parser, request->reply, -1, NULL))
    return NULL;
  return json_node_copy (json_parser_get_root (parser));
}

void
gvd_test_request_clear (GvdTestRequest *request)
{
  g_clear_pointer (&request->url, g_free);
  g_clear_pointer (&request->reply, g_free);
  g_clear_pointer (&request->allow, g_free);
}

void
gvd_test_drain_main_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

void
gvd_test_assert_error (JsonNode *node, const char *code, const char *needle)
{
  const char *message;

  assert_non_null (node);
  assert_string_equal (gvd_test_json_string (node, "error.code"), code);
  message = gvd_test_json_string (node, "error.message");
  assert_non_null (message);
  if (needle == NULL && strlen (message) <= 10)
    fail_msg ("error message '%s' says too little", message);
  if (needle != NULL && strstr (message, needle) == NULL)
    fail_msg ("'%s' not in error message '%s'", needle, message);
}

void
gvd_test_rm_rf (const char *path)
{
  GDir *dir;
  const char *name;

  if (g_file_test (path, G_FILE_TEST_IS_SYMLINK) || (dir = g_dir_open (path, 0, NULL)) == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      gvd_test_rm_rf (child);
    }
  g_dir_close (dir);
  g_rmdir (path);
}

JsonNode *
gvd_test_json_path (JsonNode *root, const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = root;

  assert_non_null (root);
  for (gsize i = 0; parts[i] != NULL; i++)
    {
      JsonObject *obj;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        fail_msg ("'%s' in '%s': not an object", parts[i], path);
      obj = json_node_get_object (node);
      if (!json_object_has_member (obj, parts[i]))
        fail_msg ("'%s' has no member '%s'", path, parts[i]);
      node = json_object_get_member (obj, parts[i]);
    }
  return node;
}

const char *
gvd_test_json_string (JsonNode *root, const char *path)
{
  JsonNode *node = gvd_test_json_path (root, path);

  if (JSON_NODE_HOLDS_NULL (node))
    return NULL;
  assert_true (JSON_NODE_HOLDS_VALUE (node));
  return json_node_get_string (node);
}

gint64
gvd_test_json_int (JsonNode *root, const char *path)
{
  JsonNode *node = gvd_test_json_path (root, path);

  assert_true (JSON_NODE_HOLDS_VALUE (node));
  return json_node_get_int (node);
}

gboolean
gvd_test_json_bool (JsonNode *root, const char *path)
{
  JsonNode *node = gvd_test_json_path (root, path);

  assert_true (JSON_NODE_HOLDS_VALUE (node));
  return json_node_get_boolean (node);
}

SoupSession *
gvd_test_unix_session (const char *path, guint timeout_s)
{
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (path);

  return soup_session_new_with_options ("remote-connectable", addr, "timeout", timeout_s, NULL);
}

SoupSession *
gvd_test_daemon_session (GvdTestDaemon *d, guint timeout_s)
{
  if (d->socket_path != NULL)
    return gvd_test_unix_session (d->socket_path, timeout_s);
  return soup_session_new_with_options ("timeout", timeout_s, NULL);
}

static char *
strip_slash (const char *url)
{
  char *copy = g_strdup (url);

  if (g_str_has_suffix (copy, "/"))
    copy[strlen (copy) - 1] = '\0';
  return copy;
}

GvdTestDaemon *
gvd_test_daemon_start (const char *config_text, const char *const *extra_args)
{
  g_autoptr(GvdTestDaemon) d = g_new0 (GvdTestDaemon, 1);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *socket_path = NULL;

  d->tmpdir = g_dir_make_tmp ("gpuvmd-test-XXXXXX", &error);
  assert_non_null (d->tmpdir);
  d->config_path = g_build_filename (d->tmpdir, "gpuvmd.conf", NULL);
  assert_true (g_file_set_contents (d->config_path, config_text != NULL ? config_text : "", -1,
                                    NULL));
  d->lines = g_ptr_array_new_with_free_func (g_free);
  socket_path = g_build_filename (d->tmpdir, "gpuvmd.sock", NULL);

  g_ptr_array_add (argv, gvd_test_build_path ("src", "gpuvmd", NULL));
  g_ptr_array_add (argv, g_strdup ("--config"));
  g_ptr_array_add (argv, g_strdup (d->config_path));
  /* The admin API on a socket of the test's own (a later --socket wins). */
  g_ptr_array_add (argv, g_strdup ("--socket"));
  g_ptr_array_add (argv, g_strdup (socket_path));
  for (gsize i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra_args[i]));
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  /* The daemon logs operational warnings (a device wedged, an address
   * conflict); only criticals, which are programming errors, must abort it. */
  g_subprocess_launcher_setenv (launcher, "G_DEBUG", "fatal-criticals,gc-friendly", TRUE);
  /* The daemon's own log goes to our stderr, i.e. into the test's .log. */
  d->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  if (d->proc == NULL)
    fail_msg ("cannot start gpuvmd: %s", error->message);
  d->pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (d->proc), NULL, 10);

  /* "admin unix:PATH" and/or "admin http://HOST:PORT/", then "agent URL". */
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (d->proc));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
      if (line == NULL)
        fail_msg ("gpuvmd exited before it was listening");
      if (g_str_has_prefix (line, "admin unix:"))
        d->socket_path = g_strdup (line + strlen ("admin unix:"));
      else if (g_str_has_prefix (line, "admin "))
        d->tcp_url = strip_slash (line + strlen ("admin "));
      else if (g_str_has_prefix (line, "agent "))
        {
          d->agent_url = strip_slash (line + strlen ("agent "));
          break;
        }
    }
  if (d->socket_path == NULL && d->tcp_url == NULL)
    fail_msg ("gpuvmd printed no 'admin' line before the agent line");
  d->url = d->socket_path != NULL ? g_strdup ("http://localhost") : g_strdup (d->tcp_url);
  d->session = gvd_test_daemon_session (d, 300);
  return g_steal_pointer (&d);
}

void
gvd_test_daemon_wait_ready (GvdTestDaemon *d, guint timeout_ms)
{
  g_autofree char *url = g_strconcat (d->url, "/v1/devices/available", NULL);

  for (guint waited = 0; waited <= timeout_ms; waited += 50)
    {
      guint status = 0;
      g_autoptr(JsonNode) n = gvd_test_http (d->session, "GET", url, NULL, NULL, &status);

      if (status == 200)
        return;
      g_usleep (50 * 1000);
    }
  fail_msg ("gpuvmd did not become ready within %u ms", timeout_ms);
}

void
gvd_test_daemon_import_image (GvdTestDaemon *d, const char *name, const char *path)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) answer = NULL;
  g_autofree char *body = NULL;
  g_autofree char *url = g_strconcat (d->url, "/v1/images", NULL);
  guint status = 0;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "source_path");
  json_builder_add_string_value (b, path);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, NULL);
  answer = gvd_test_http (d->session, "POST", url, NULL, body, &status);
  if (status != 201 && status != 409)
    fail_msg ("image import of %s answered %u", name, status);
}

JsonNode *
gvd_test_api (GvdTestDaemon *d, const char *method, const char *path, const char *body,
              guint *out_status)
{
  g_autofree char *url = g_strconcat (d->url, path, NULL);

  return gvd_test_http (d->session, method, url, NULL, body, out_status);
}

void
gvd_test_daemon_stop (GvdTestDaemon *d, gboolean expect_clean)
{
  g_autoptr(GError) error = NULL;

  if (d->proc == NULL)
    return;
  g_subprocess_send_signal (d->proc, SIGTERM);
  assert_true (g_subprocess_wait (d->proc, NULL, &error));
  if (expect_clean)
    {
      assert_true (g_subprocess_get_if_exited (d->proc));
      assert_int_equal (g_subprocess_get_exit_status (d->proc), 0);
    }
  g_clear_object (&d->proc);
}

void
gvd_test_daemon_free (GvdTestDaemon *d)
{
  if (d == NULL)
    return;
  if (d->proc != NULL)
    {
      g_subprocess_force_exit (d->proc);
      g_subprocess_wait (d->proc, NULL, NULL);
      g_object_unref (d->proc);
    }
  g_clear_object (&d->session);
  if (d->config_path != NULL)
    g_unlink (d->config_path);
  if (d->tmpdir != NULL)
    {
      /* A killed daemon leaves its socket behind. */
      g_autofree char *sock = g_build_filename (d->tmpdir, "gpuvmd.sock", NULL);
      g_unlink (sock);
      g_rmdir (d->tmpdir);
    }
  g_free (d->config_path);
  g_free (d->tmpdir);
  g_free (d->url);
  g_free (d->socket_path);
  g_free (d->tcp_url);
  g_free (d->agent_url);
  if (d->lines != NULL)
    g_ptr_array_unref (d->lines);
  g_free (d);
}

static void
probe_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  const char **out = user_data;

  *out = gvd_agent_probe_finish (res);
}

const char *
gvd_test_probe_guest_agent (const char *domain_name)
{
  g_autoptr(GvdVirtConn) virt = gvd_virt_conn_new ("qemu:///system", 5, 3, 5);
  const char *verdict = NULL;

  gvd_virt_conn_start (virt);
  for (int i = 0; i < 200 && gvd_virt_conn_get_state (virt) != GVD_VIRT_CONNECTED; i++)
    g_main_context_iteration (NULL, TRUE);
  assert_int_equal (gvd_virt_conn_get_state (virt), GVD_VIRT_CONNECTED);
  gvd_agent_probe_async (virt, domain_name, 5, NULL, probe_done, &verdict);
  while (verdict == NULL)
    g_main_context_iteration (NULL, TRUE);
  gvd_virt_conn_close (virt);
  return verdict;
}

gboolean
gvd_test_wait_until (gboolean (*cond) (gpointer), gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  do
    {
      if (cond (data))
        return TRUE;
      g_usleep (50 * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return cond (data);
}

gboolean
gvd_test_mount_small_tmpfs (const char *dir, char **out_reason)
{
  if (mount ("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") < 0)
    {
      *out_reason = g_strdup_printf ("cannot mount a tmpfs on %s: %s", dir, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

void
gvd_test_fill_fs (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "filler", NULL);
  char block[4096];
  int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

  assert_true (fd >= 0);
  memset (block, 'x', sizeof block);
  /* Whole blocks first, then single bytes until nothing fits. */
  while (write (fd, block, sizeof block) > 0)
    ;
  assert_int_equal (errno, ENOSPC);
  while (write (fd, block, 1) > 0)
    ;
  close (fd);
}

void
gvd_test_umount (const char *dir)
{
  if (umount (dir) < 0)
    umount2 (dir, MNT_DETACH);
}

char *
gvd_test_blank_image (const char *dir, const char *name, goffset size)
{
  char *path = g_build_filename (dir, name, NULL);
  FILE *f = fopen (path, "w");

  assert_non_null (f);
  assert_int_equal (fseek (f, size - 1, SEEK_SET), 0);
  assert_int_equal (fputc (0, f), 0);
  fclose (f);
  return path;
}

char *
gvd_test_sse_replay (SoupSession *session, const char *url)
{
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  char buf[4096];
  gssize n;

  assert_non_null (msg);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Last-Event-ID", "0");
  in = soup_session_send (session, msg, NULL, NULL);
  if (in == NULL || soup_message_get_status (msg) != 200)
    return g_strdup ("");
  /* The session's I/O timeout ends the read once the replay is over. */
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len (text, buf, n);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

void
gvd_test_libvirt_cleanup (virConnectPtr conn, const char *domain_prefix, const char *pool_name)
{
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains (conn, &doms, 0);
  virStoragePoolPtr pool;

  for (int i = 0; i < n; i++)
    {
      if (g_str_has_prefix (virDomainGetName (doms[i]), domain_prefix))
        {
          if (virDomainIsActive (doms[i]) == 1)
            virDomainDestroy (doms[i]);
          virDomainUndefineFlags (doms[i], VIR_DOMAIN_UNDEFINE_NVRAM);
        }
      virDomainFree (doms[i]);
    }
  free (doms);
  pool = pool_name != NULL ? virStoragePoolLookupByName (conn, pool_name) : NULL;
  if (pool != NULL)
    {
      virStorageVolPtr *vols = NULL;
      int nv = virStoragePoolListAllVolumes (pool, &vols, 0);
      for (int i = 0; i < nv; i++)
        {
          virStorageVolDelete (vols[i], 0);
          virStorageVolFree (vols[i]);
        }
      free (vols);
      if (virStoragePoolIsActive (pool) == 1)
        virStoragePoolDestroy (pool);
      virStoragePoolUndefine (pool);
      virStoragePoolFree (pool);
    }
}

GvdDaemon *
gvd_test_daemon_build (const char *host, const char *config_text,
                       const GvdDaemonOptions *options)
{
  g_autofree char *root = gvd_test_data_path ("data", "hosts", host, NULL);
  g_autofree char *state_dir = g_dir_make_tmp ("gvd-test-daemon-XXXXXX", NULL);
  g_autoptr(GvdConfig) config = gvd_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  GvdDaemon *d;

  assert_non_null (state_dir);
  base = g_strdup_printf ("[daemon]\nstate_dir=%s\n"
                          "[libvirt]\nuri=test:///default\n"
                          "[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\ndevfs_root=%s/dev\n",
                          state_dir, root, root, root);
  if (!gvd_config_load_data (config, base, strlen (base), "test", &error)
      || (config_text != NULL
          && !gvd_config_load_data (config, config_text, strlen (config_text), "test", &error))
      || !gvd_config_validate (config, &error))
    fail_msg ("configuration: %s", error->message);
  d = gvd_daemon_new (g_steal_pointer (&config), options, &error);
  if (d == NULL)
    fail_msg ("gvd_daemon_new: %s", error->message);
  return d;
}

void
gvd_test_daemon_destroy (GvdDaemon *d)
{
  g_autofree char *state_dir = NULL;

  if (d == NULL)
    return;
  state_dir = g_strdup (d->config->state_dir);
  gvd_daemon_free (d);
  gvd_test_rm_rf (state_dir);
}
