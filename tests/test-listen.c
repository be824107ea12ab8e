/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's listeners, on the real binary: the admin unix socket (mode,
 * group, peer credentials), TCP only with a token and TLS off loopback,
 * Host/Origin checks, and the bounds every listener has (no fd leak, a
 * connection cap, a request deadline). libvirt is test:///default. */
#include "config.h"

#include "testlib.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#define NOBODY 65534
#define NOGROUP "nogroup"
#define NO_SUCH_GROUP "gvd-test-no-such-group"

typedef struct {
  char *dir; /* state directory and scratch space */
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);

  f->dir = g_dir_make_tmp ("gvd-listen-XXXXXX", NULL);
  assert_non_null (f->dir);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  gvd_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f);
  return 0;
}

static char *
config_text (Fixture *f, const char *group, const char *extra_daemon)
{
  /* The default socket is overridden by --socket; refused starts must not
   * touch /run either. */
  return g_strdup_printf ("[daemon]\nstate_dir=%s/state\nsocket=%s/default.sock\n"
                          "socket_group=%s\n%s"
                          "[libvirt]\nuri=test:///default\n"
                          "[agent]\nlisten=127.0.0.1:0\n",
                          f->dir, f->dir, group, extra_daemon != NULL ? extra_daemon : "");
}

/* Run gpuvmd to completion (it is expected to refuse to start). */
static int
run_refused (const char *config, const char *const *args, char **out_err)
{
  g_autofree char *gpuvmd = gvd_test_build_path ("src", "gpuvmd", NULL);
  g_autofree char *dir = g_dir_make_tmp ("gvd-refused-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename (dir, "c.conf", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  int status = 0;

  assert_true (g_file_set_contents (conf, config, -1, NULL));
  g_ptr_array_add (argv, gpuvmd);
  g_ptr_array_add (argv, "--config");
  g_ptr_array_add (argv, conf);
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  /* A daemon that did start would never exit: bound the wait. */
  g_ptr_array_insert (argv, 0, "10");
  g_ptr_array_insert (argv, 0, "timeout");
  assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                             NULL, out_err, &status, NULL));
  g_unlink (conf);
  g_rmdir (dir);
  assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

/* One raw exchange: @request sent as is, the whole answer read until the
 * server closes (or 10 s pass). NULL when the connection failed. */
static char *
raw_exchange (GSocketAddress *addr, const char *request)
{
  g_autoptr(GSocket) sock = g_socket_new (g_socket_address_get_family (addr),
                                          G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GString) answer = g_string_new (NULL);
  char buf[4096];

  assert_non_null (sock);
  g_socket_set_timeout (sock, 10);
  if (!g_socket_connect (sock, addr, NULL, NULL))
    return NULL;
  if (request != NULL && g_socket_send (sock, request, strlen (request), NULL, NULL) < 0)
    return NULL;
  for (;;)
    {
      gssize n = g_socket_receive (sock, buf, sizeof buf, NULL, NULL);
      if (n <= 0)
        break;
      g_string_append_len (answer, buf, n);
    }
  return g_string_free (g_steal_pointer (&answer), FALSE);
}

static GSocketAddress *
tcp_address (const char *url)
{
  /* "http://127.0.0.1:PORT" */
  const char *hostport = strstr (url, "://") + 3;

  return g_inet_socket_address_new_from_string ("127.0.0.1",
                                                (guint) atoi (strrchr (hostport, ':') + 1));
}

static guint
status_of (const char *answer)
{
  if (answer == NULL
      || (!g_str_has_prefix (answer, "HTTP/1.1 ") && !g_str_has_prefix (answer, "HTTP/1.0 ")))
    return 0;
  return (guint) atoi (answer + 9);
}

/* Sockets the daemon holds open, from /proc/PID/fd. */
static guint
count_sockets (GPid pid)
{
  g_autofree char *dir = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  assert_non_null (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);
      if (target != NULL && g_str_has_prefix (target, "socket:"))
        n++;
    }
  return n;
}

/* ---- the unix socket ----------------------------------------------------- */

static void
socket__group_missing__0600_root_only (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  struct stat st;
  guint status = 0;
  g_autofree char *url = g_strconcat (d->url, "/v1/instances", NULL);
  g_autoptr(JsonNode) node = NULL;

  assert_null (d->tcp_url);
  assert_int_equal (g_lstat (d->socket_path, &st), 0);
  assert_true (S_ISSOCK (st.st_mode));
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_int_equal (st.st_uid, geteuid ());
  /* The socket is the credential: no token. */
  node = gvd_test_http (d->session, "GET", url, NULL, NULL, &status);
  assert_int_equal (status, 200);
  gvd_test_daemon_stop (d, TRUE);
  /* A clean exit removes the socket. */
  assert_false (g_file_test (d->socket_path, G_FILE_TEST_EXISTS));
}

static void
become_nobody (gpointer data)
{
  if (setgroups (0, NULL) < 0 || setgid (NOBODY) < 0 || setuid (NOBODY) < 0)
    _exit (120);
}

/* curl as nobody:nogroup (set up between fork and exec, so the test
 * process itself is never another user): one request to the socket at
 * @path. 0: 200; 3: 403 forbidden; 4: connect refused (file mode); 5:
 * anything else. */
static int
request_as_nobody (const char *path)
{
  const char *argv[] = { "curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", path,
                         "http://localhost/v1/instances", NULL };
  g_autofree char *out = NULL;
  g_autofree char *curl = g_find_program_in_path ("curl");
  int status = 0;

  gvd_test_require (curl != NULL, "needs curl");
  assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                             G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, become_nobody, NULL,
                             &out, NULL, &status, NULL));
  assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) == 7) /* curl: failed to connect */
    return 4;
  if (WEXITSTATUS (status) != 0)
    return 5;
  if (g_str_has_suffix (out, "\n200"))
    return 0;
  if (g_str_has_suffix (out, "\n403") && strstr (out, "\"forbidden\"") != NULL)
    return 3;
  return 5;
}

static void
socket__group_member__0660_and_allowed (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NOGROUP, NULL);
  g_autoptr(GvdTestDaemon) d = NULL;
  struct group *gr = getgrnam (NOGROUP);
  struct stat st;

  gvd_test_require (geteuid () == 0 && gr != NULL, "needs root and the group " NOGROUP);
  d = gvd_test_daemon_start (config, NULL);
  assert_int_equal (g_lstat (d->socket_path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0660);
  assert_int_equal (st.st_uid, 0);
  assert_int_equal (st.st_gid, gr->gr_gid);
  /* nobody's primary group is nogroup: a member. */
  assert_int_equal (g_chmod (d->tmpdir, 0711), 0);
  assert_int_equal (request_as_nobody (d->socket_path), 0);
  gvd_test_daemon_stop (d, TRUE);
}

static void
socket__peer_not_allowed__403_forbidden (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  g_autoptr(GvdTestDaemon) d = NULL;

  gvd_test_require (geteuid () == 0, "needs root to act as another user");
  d = gvd_test_daemon_start (config, NULL);
  assert_int_equal (g_chmod (d->tmpdir, 0711), 0);
  /* The file mode keeps nobody out... */
  assert_int_equal (request_as_nobody (d->socket_path), 4);
  /* ...and should someone open it up, SO_PEERCRED still does. */
  assert_int_equal (g_chmod (d->socket_path, 0666), 0);
  assert_int_equal (request_as_nobody (d->socket_path), 3);
  gvd_test_daemon_stop (d, TRUE);
}

static void
socket__unsafe_places__refused_exit_2 (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  g_autofree char *open_dir = g_build_filename (f->dir, "open", NULL);
  g_autofree char *in_open = g_build_filename (open_dir, "s.sock", NULL);
  g_autofree char *file = g_build_filename (f->dir, "not-a-socket", NULL);
  g_autofree char *err1 = NULL;
  g_autofree char *err2 = NULL;
  const char *args1[] = { "--socket", in_open, NULL };
  const char *args2[] = { "--socket", file, NULL };

  assert_int_equal (g_mkdir (open_dir, 0777), 0);
  assert_int_equal (g_chmod (open_dir, 0777), 0);
  assert_int_equal (run_refused (config, args1, &err1), 2);
  assert_non_null (strstr (err1, "writable by no one else"));
  assert_false (g_file_test (in_open, G_FILE_TEST_EXISTS));

  assert_true (g_file_set_contents (file, "keep me", -1, NULL));
  assert_int_equal (run_refused (config, args2, &err2), 2);
  assert_non_null (strstr (err2, "is not a socket"));
  assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));
}

static void
socket__stale_socket__replaced (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  g_autofree char *path = g_build_filename (f->dir, "stale.sock", NULL);
  const char *args[] = { "--socket", path, NULL };
  g_autoptr(GSocket) old = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                         G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (path);
  g_autoptr(GvdTestDaemon) d = NULL;
  guint status = 0;
  g_autofree char *url = NULL;
  g_autoptr(JsonNode) node = NULL;

  /* A socket file nobody listens on, as a killed daemon leaves. */
  assert_true (g_socket_bind (old, addr, FALSE, NULL));
  g_socket_close (old, NULL);
  assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  d = gvd_test_daemon_start (config, args);
  assert_string_equal (d->socket_path, path);
  url = g_strconcat (d->url, "/healthz", NULL);
  node = gvd_test_http (d->session, "GET", url, NULL, NULL, &status);
  assert_int_equal (status, 200);
  gvd_test_daemon_stop (d, TRUE);
}

static void
socket__in_use__refused_exit_2_and_kept (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  const char *args[] = { "--socket", d->socket_path, NULL };
  g_autofree char *err = NULL;
  g_autofree char *url = g_strconcat (d->url, "/healthz", NULL);
  g_autoptr(JsonNode) node = NULL;
  guint status = 0;

  assert_int_equal (run_refused (config, args, &err), 2);
  assert_non_null (strstr (err, "another gpuvmd is serving on it"));
  /* The first daemon's socket is untouched. */
  node = gvd_test_http (d->session, "GET", url, NULL, NULL, &status);
  assert_int_equal (status, 200);
  gvd_test_daemon_stop (d, TRUE);
}

/* ---- TCP: token, TLS ----------------------------------------------------- */

static void
tcp__no_token__401_and_token_file_generated_0600_reused (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  const char *args[] = { "--listen", "127.0.0.1:0", NULL };
  g_autofree char *token_path = g_strdup_printf ("%s/state/admin.token", f->dir);
  g_autofree char *token = NULL;
  g_autofree char *token2 = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, args);
  g_autoptr(SoupSession) tcp = soup_session_new ();
  g_autofree char *instances = g_strconcat (d->tcp_url, "/v1/instances", NULL);
  g_autofree char *health = g_strconcat (d->tcp_url, "/healthz", NULL);
  g_autoptr(JsonNode) none = NULL;
  g_autoptr(JsonNode) wrong = NULL;
  g_autoptr(JsonNode) good = NULL;
  g_autoptr(JsonNode) public = NULL;
  struct stat st;
  guint status = 0;

  assert_non_null (d->tcp_url);
  assert_true (g_str_has_prefix (d->tcp_url, "http://127.0.0.1:"));
  none = gvd_test_http (tcp, "GET", instances, NULL, NULL, &status);
  assert_int_equal (status, 401);
  gvd_test_assert_error (none, "unauthorized", NULL);
  wrong = gvd_test_http (tcp, "GET", instances, "0123456789abcdef0123", NULL, &status);
  assert_int_equal (status, 401);
  public = gvd_test_http (tcp, "GET", health, NULL, NULL, &status);
  assert_int_equal (status, 200);

  assert_int_equal (g_lstat (token_path, &st), 0);
  assert_true (S_ISREG (st.st_mode));
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_int_equal (st.st_uid, geteuid ());
  assert_true (g_file_get_contents (token_path, &token, NULL, NULL));
  g_strstrip (token);
  assert_int_equal (strlen (token), 64); /* 32 random bytes, hex */
  good = gvd_test_http (tcp, "GET", instances, token, NULL, &status);
  assert_int_equal (status, 200);
  gvd_test_daemon_stop (d, TRUE);
  g_clear_pointer (&d, gvd_test_daemon_free);

  /* Reused on the next start. */
  d = gvd_test_daemon_start (config, args);
  assert_true (g_file_get_contents (token_path, &token2, NULL, NULL));
  g_strstrip (token2);
  assert_string_equal (token, token2);
  {
    g_autofree char *again = g_strconcat (d->tcp_url, "/v1/instances", NULL);
    g_autoptr(JsonNode) ok = gvd_test_http (tcp, "GET", again, token, NULL, &status);
    assert_int_equal (status, 200);
  }
  gvd_test_daemon_stop (d, TRUE);

  /* A token others can read is not trusted. */
  assert_int_equal (g_chmod (token_path, 0644), 0);
  assert_int_equal (run_refused (config, args, &err), 2);
  assert_non_null (strstr (err, "mode 0600"));
}

static void
tcp__not_loopback_without_tls__exit_2 (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  const char *args[] = { "--listen", "0.0.0.0:0", NULL };
  g_autofree char *err = NULL;

  assert_int_equal (run_refused (config, args, &err), 2);
  assert_non_null (strstr (err, "tls_cert_file"));
}

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                        gpointer user_data)
{
  return TRUE;
}

static void
tcp__tls_on_loopback__https_with_token (void **state)
{
  Fixture *f = *state;
  g_autofree char *cert = g_build_filename (f->dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (f->dir, "key.pem", NULL);
  g_autofree char *extra = g_strdup_printf ("tls_cert_file=%s\ntls_key_file=%s\n", cert, key);
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, extra);
  g_autofree char *token_path = g_strdup_printf ("%s/state/admin.token", f->dir);
  g_autofree char *token = NULL;
  const char *args[] = { "--listen", "127.0.0.1:0", NULL };
  const char *openssl[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                            NULL };
  int status = 0;
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *url = NULL;
  g_autofree char *auth = NULL;
  g_autofree char *plain = NULL;
  g_autoptr(GSocketAddress) addr = NULL;

  gvd_test_require (g_spawn_sync (NULL, (char **) openssl, NULL,
                                  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                                    | G_SPAWN_STDERR_TO_DEV_NULL,
                                  NULL, NULL, NULL, NULL, &status, NULL)
                      && g_spawn_check_wait_status (status, NULL),
                    "openssl cannot make a test certificate");
  d = gvd_test_daemon_start (config, args);
  assert_true (g_str_has_prefix (d->tcp_url, "https://127.0.0.1:"));
  assert_true (g_file_get_contents (token_path, &token, NULL, NULL));
  g_strstrip (token);

  url = g_strconcat (d->tcp_url, "/v1/instances", NULL);
  msg = soup_message_new ("GET", url);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  auth = g_strdup_printf ("Bearer %s", token);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  body = soup_session_send_and_read (session, msg, NULL, NULL);
  assert_non_null (body);
  assert_int_equal (soup_message_get_status (msg), 200);
  assert_non_null (soup_message_get_tls_peer_certificate (msg));

  /* Plain http on the TLS port gets no answer. */
  addr = tcp_address (d->tcp_url);
  plain = raw_exchange (addr, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  assert_int_equal (status_of (plain), 0);
  gvd_test_daemon_stop (d, TRUE);
}

/* ---- browsers ------------------------------------------------------------ */

static void
browsers__foreign_origin_or_host__403 (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  const char *args[] = { "--listen", "127.0.0.1:0", NULL };
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, args);
  g_autoptr(GSocketAddress) unix_addr = g_unix_socket_address_new (d->socket_path);
  g_autoptr(GSocketAddress) tcp_addr = tcp_address (d->tcp_url);
  g_autoptr(GSocketAddress) agent_addr = tcp_address (d->agent_url);
  guint port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (tcp_addr));
  guint agent_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (agent_addr));
  struct {
    GSocketAddress *addr;
    char *request;
    guint status;
  } cases[] = {
    { unix_addr, g_strdup ("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"), 200 },
    { unix_addr, g_strdup ("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                           "Origin: http://localhost\r\n\r\n"), 200 },
    { unix_addr, g_strdup ("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                           "Origin: http://evil.example\r\n\r\n"), 403 },
    { unix_addr, g_strdup ("GET /v1/instances HTTP/1.1\r\nHost: evil.example\r\n\r\n"), 403 },
    { unix_addr, g_strdup ("GET /healthz HTTP/1.0\r\n\r\n"), 403 },
    { unix_addr, g_strdup ("GET http://evil.example/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"),
      403 },
    { tcp_addr, g_strdup_printf ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", port),
      200 },
    { tcp_addr, g_strdup_printf ("GET /healthz HTTP/1.1\r\nHost: localhost:%u\r\n\r\n", port),
      200 },
    /* DNS rebinding: the attacker's name, resolving to 127.0.0.1. */
    { tcp_addr, g_strdup_printf ("GET /healthz HTTP/1.1\r\nHost: evil.example:%u\r\n\r\n", port),
      403 },
    { tcp_addr, g_strdup_printf ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                                 "Origin: http://evil.example\r\n\r\n", port), 403 },
    { tcp_addr, g_strdup_printf ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                                 "Origin: null\r\n\r\n", port), 403 },
    { tcp_addr, g_strdup_printf ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                                 "Origin: http://127.0.0.1:%u\r\n\r\n", port, port), 200 },
    /* The agent listener answers to the name guests use ([agent] url). */
    { agent_addr, g_strdup ("POST /v1/agent/heartbeat HTTP/1.1\r\nHost: 10.0.2.2:8788\r\n"
                            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"), 400 },
    { agent_addr, g_strdup_printf ("POST /v1/agent/heartbeat HTTP/1.1\r\nHost: evil.example:%u\r\n"
                                   "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
                                   agent_port), 403 },
    { agent_addr, g_strdup ("POST /v1/agent/heartbeat HTTP/1.1\r\nHost: 10.0.2.2:8788\r\n"
                            "Origin: http://evil.example\r\n"
                            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"), 403 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *answer = raw_exchange (cases[i].addr, cases[i].request);

      if (status_of (answer) != cases[i].status)
        fail_msg ("case %zu: expected %u, got:\n%s", i, cases[i].status,
                  answer != NULL ? answer : "(no connection)");
      if (cases[i].status == 403)
        assert_non_null (strstr (answer, "\"forbidden\""));
      /* Every answer closes its connection. */
      assert_non_null (strstr (answer, "Connection: close"));
      g_free (cases[i].request);
    }
  gvd_test_daemon_stop (d, TRUE);
}

/* ---- bounds -------------------------------------------------------------- */

/* libsoup 3.2.3 kept every keep-alive connection the client closed, in
 * CLOSE-WAIT: ~240 requests exhausted 256 fds. */
static void
bounds__1000_requests__socket_count_flat (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, NULL);
  const char *args[] = { "--listen", "127.0.0.1:0", NULL };
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, args);
  g_autoptr(GSocketAddress) unix_addr = g_unix_socket_address_new (d->socket_path);
  g_autoptr(GSocketAddress) tcp_addr = tcp_address (d->tcp_url);
  g_autoptr(GSocketAddress) agent_addr = tcp_address (d->agent_url);
  g_autofree char *tcp_req = NULL;
  g_autofree char *agent_req = NULL;
  guint before, after;

  tcp_req = g_strdup_printf ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n",
                             g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (tcp_addr)));
  agent_req = g_strdup_printf ("POST /v1/agent/heartbeat HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                               "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
                               g_inet_socket_address_get_port (
                                 G_INET_SOCKET_ADDRESS (agent_addr)));
  /* Warm up (lazy sockets, e.g. the libvirt connection). */
  g_free (raw_exchange (unix_addr, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  g_usleep (200 * 1000);
  before = count_sockets (d->pid);
  for (guint i = 0; i < 1000; i++)
    {
      /* HTTP/1.1 without "Connection: close": the client would keep the
       * connection alive, then closes it after the answer. */
      g_autofree char *a = raw_exchange (unix_addr,
                                         "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
      g_autofree char *b = raw_exchange (tcp_addr, tcp_req);
      g_autofree char *c = raw_exchange (agent_addr, agent_req);

      assert_int_equal (status_of (a), 200);
      assert_int_equal (status_of (b), 200);
      assert_int_equal (status_of (c), 400);
    }
  g_usleep (200 * 1000);
  after = count_sockets (d->pid);
  print_message ("daemon sockets: %u before, %u after 3 x 1000 requests\n", before, after);
  assert_true (after <= before + 2);
  gvd_test_daemon_stop (d, TRUE);
}

static gboolean
admin_answers (gpointer data)
{
  GvdTestDaemon *d = data;
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (d->socket_path);
  g_autofree char *a = raw_exchange (addr, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");

  return status_of (a) == 200;
}

static void
bounds__over_cap__503_then_recovers (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, "max_connections=4\nrequest_timeout=30\n");
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (d->socket_path);
  GSocket *idle[4];
  g_autofree char *refused = NULL;

  /* Four clients that connect and say nothing hold the four places. */
  for (guint i = 0; i < G_N_ELEMENTS (idle); i++)
    {
      idle[i] = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                              G_SOCKET_PROTOCOL_DEFAULT, NULL);
      assert_true (g_socket_connect (idle[i], addr, NULL, NULL));
    }
  g_usleep (300 * 1000);
  refused = raw_exchange (addr, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  assert_int_equal (status_of (refused), 503);
  assert_non_null (strstr (refused, "\"unavailable\""));
  /* Places come back as clients leave. */
  for (guint i = 0; i < G_N_ELEMENTS (idle); i++)
    {
      g_socket_close (idle[i], NULL);
      g_object_unref (idle[i]);
    }
  assert_true (gvd_test_wait_until (admin_answers, d, 5000));
  gvd_test_daemon_stop (d, TRUE);
}

static void
bounds__slow_or_silent_client__dropped_after_timeout (void **state)
{
  Fixture *f = *state;
  g_autofree char *config = config_text (f, NO_SUCH_GROUP, "request_timeout=2\n");
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (config, NULL);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (d->socket_path);
  g_autoptr(GSocket) silent = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GSocket) slow = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_DEFAULT, NULL);
  gint64 t0 = g_get_monotonic_time ();
  gboolean slow_closed = FALSE;
  double slow_s = 0, silent_s;
  char buf[256];

  assert_true (g_socket_connect (silent, addr, NULL, NULL));
  assert_true (g_socket_connect (slow, addr, NULL, NULL));
  g_socket_set_timeout (silent, 10);
  /* The slow one sends a header line every 0.3 s, never finishing. */
  {
    static const char head[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
    assert_true (g_socket_send (slow, head, strlen (head), NULL, NULL) == (gssize) strlen (head));
  }
  for (int i = 0; i < 30 && !slow_closed; i++)
    {
      g_usleep (300 * 1000);
      if (g_socket_condition_check (slow, G_IO_IN | G_IO_HUP | G_IO_ERR) != 0
          && g_socket_receive (slow, buf, sizeof buf, NULL, NULL) <= 0)
        {
          slow_closed = TRUE;
          slow_s = (g_get_monotonic_time () - t0) / 1e6;
        }
      else
        g_socket_send (slow, "X-Slow: 1\r\n", 11, NULL, NULL);
    }
  /* The silent one: EOF without a byte of answer. */
  assert_int_equal (g_socket_receive (silent, buf, sizeof buf, NULL, NULL), 0);
  silent_s = (g_get_monotonic_time () - t0) / 1e6;
  print_message ("dropped: slow client after %.1f s, silent client after %.1f s "
                 "(request_timeout 2 s)\n", slow_s, silent_s);
  assert_true (slow_closed);
  assert_true (slow_s >= 1.5 && slow_s < 4.5);
  assert_true (silent_s >= 1.5 && silent_s < 4.5);
  /* The daemon still serves. */
  assert_true (admin_answers (d));
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (socket__group_missing__0600_root_only, setup, teardown),
    cmocka_unit_test_setup_teardown (socket__group_member__0660_and_allowed, setup, teardown),
    cmocka_unit_test_setup_teardown (socket__peer_not_allowed__403_forbidden, setup, teardown),
    cmocka_unit_test_setup_teardown (socket__unsafe_places__refused_exit_2, setup, teardown),
    cmocka_unit_test_setup_teardown (socket__stale_socket__replaced, setup, teardown),
    cmocka_unit_test_setup_teardown (socket__in_use__refused_exit_2_and_kept, setup, teardown),
    cmocka_unit_test_setup_teardown (tcp__no_token__401_and_token_file_generated_0600_reused,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (tcp__not_loopback_without_tls__exit_2, setup, teardown),
    cmocka_unit_test_setup_teardown (tcp__tls_on_loopback__https_with_token, setup, teardown),
    cmocka_unit_test_setup_teardown (browsers__foreign_origin_or_host__403, setup, teardown),
    cmocka_unit_test_setup_teardown (bounds__1000_requests__socket_count_flat, setup, teardown),
    cmocka_unit_test_setup_teardown (bounds__over_cap__503_then_recovers, setup, teardown),
    cmocka_unit_test_setup_teardown (bounds__slow_or_silent_client__dropped_after_timeout, setup,
                                     teardown),
  };

  return cmocka_run_group_tests_name ("listen", tests, NULL, NULL);
}
