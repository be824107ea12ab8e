/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/images {"url", "sha256"|"sha512"} through the built daemon on
 * the real libvirtd (its own pool, gvdtest-imgurl-pool), downloading from
 * a small HTTP server in this process that serves the fixtures whole,
 * slowly, stalled, truncated, chunked, redirected, gated (held half-way
 * for cancel and crash cases), or not at all. With GVD_TEST_GUEST_IMAGE
 * set to a file (the e2e guest image), that file is downloaded too and the
 * rate is printed. */
#include "config.h"

#include "testlib.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "virt-conn.h"

#define POOL "gvdtest-imgurl-pool"
#define POOL_PATH "/var/tmp/gvdtest-imgurl-pool"
#define PREFIX "gvdimgurl-"
#define GATED_BYTES (8 * 1024 * 1024)
#define GATED_FIRST (1024 * 1024)

/* ---- the HTTP server ----------------------------------------------------------- */

static struct {
  GSocketListener *listener;
  GCancellable *cancel;
  GThread *thread;
  guint16 port;
  GBytes *tiny;
  GBytes *backing;
  GBytes *gated;
  GMappedFile *guest;
  GMutex lock;
  GCond cond;
  gboolean gate_open;
  gboolean quit;
  gint gated_sent; /* atomic: the first part of /img/gated.raw went out */
} srv;

static virConnectPtr conn;
static char *state_dir;

static gboolean
send_all (GOutputStream *out, const void *data, gsize len)
{
  return g_output_stream_write_all (out, data, len, NULL, NULL, NULL);
}

static gboolean
send_head (GOutputStream *out, const char *status, const char *extra, gint64 length)
{
  g_autofree char *head = NULL;

  if (length >= 0)
    head = g_strdup_printf ("HTTP/1.1 %s\r\nContent-Length: %" G_GINT64_FORMAT "\r\n%s"
                            "Connection: close\r\n\r\n", status, length, extra);
  else
    head = g_strdup_printf ("HTTP/1.1 %s\r\n%sConnection: close\r\n\r\n", status, extra);
  return send_all (out, head, strlen (head));
}

/* Sleep up to @ms unless the server quits (or, with @gate, the gate opens). */
static void
wait_ms (guint ms, gboolean gate)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  g_mutex_lock (&srv.lock);
  while (!srv.quit && !(gate && srv.gate_open))
    if (!g_cond_wait_until (&srv.cond, &srv.lock, end))
      break;
  g_mutex_unlock (&srv.lock);
}

static void
serve (GOutputStream *out, const char *path)
{
  gsize len = 0;
  const guint8 *tiny = g_bytes_get_data (srv.tiny, &len);

  if (g_str_equal (path, "/img/tiny.qcow2") || g_str_equal (path, "/img/tiny.qcow2?sig=s3cret"))
    (void) (send_head (out, "200 OK", "", (gint64) len) && send_all (out, tiny, len));
  else if (g_str_equal (path, "/img/backing.qcow2"))
    {
      gsize blen = 0;
      const void *b = g_bytes_get_data (srv.backing, &blen);

      (void) (send_head (out, "200 OK", "", (gint64) blen) && send_all (out, b, blen));
    }
  else if (g_str_equal (path, "/img/slow.qcow2"))
    {
      /* 9 pieces, 0.5 s apart: 4.5 s in all, more than the stall timeout
       * (2 s), but never 2 s without a byte. */
      if (!send_head (out, "200 OK", "", (gint64) len))
        return;
      for (gsize off = 0; off < len && !srv.quit; off += 1536)
        {
          if (!send_all (out, tiny + off, MIN (1536, len - off)))
            return;
          g_output_stream_flush (out, NULL, NULL);
          wait_ms (500, FALSE);
        }
    }
  else if (g_str_equal (path, "/img/stall.qcow2"))
    {
      (void) (send_head (out, "200 OK", "", (gint64) len) && send_all (out, tiny, 4096));
      wait_ms (30000, FALSE);
    }
  else if (g_str_equal (path, "/img/truncated.qcow2"))
    (void) (send_head (out, "200 OK", "", (gint64) len) && send_all (out, tiny, len / 2));
  else if (g_str_equal (path, "/img/chunked.qcow2"))
    {
      g_autofree char *size = g_strdup_printf ("%zx\r\n", len);

      (void) (send_head (out, "200 OK", "Transfer-Encoding: chunked\r\n", -1)
              && send_all (out, size, strlen (size)) && send_all (out, tiny, len)
              && send_all (out, "\r\n0\r\n\r\n", 7));
    }
  else if (g_str_equal (path, "/img/image.qcow2.xz"))
    {
      static const guint8 xz[64] = { 0xfd, '7', 'z', 'X', 'Z', 0 };

      (void) (send_head (out, "200 OK", "", sizeof xz) && send_all (out, xz, sizeof xz));
    }
  else if (g_str_equal (path, "/img/huge.raw"))
    send_head (out, "200 OK", "", G_GINT64_CONSTANT (1) << 40);
  else if (g_str_equal (path, "/img/redirect-ok"))
    send_head (out, "302 Found", "Location: /img/tiny.qcow2\r\n", 0);
  else if (g_str_equal (path, "/img/redirect-out"))
    send_head (out, "302 Found", "Location: /private/tiny.qcow2\r\n", 0);
  else if (g_str_equal (path, "/img/redirect-loop"))
    send_head (out, "302 Found", "Location: /img/redirect-loop\r\n", 0);
  else if (g_str_equal (path, "/img/gated.raw"))
    {
      const guint8 *g = g_bytes_get_data (srv.gated, NULL);

      if (!send_head (out, "200 OK", "", GATED_BYTES) || !send_all (out, g, GATED_FIRST))
        return;
      g_output_stream_flush (out, NULL, NULL);
      g_atomic_int_set (&srv.gated_sent, 1);
      wait_ms (60000, TRUE);
      if (srv.gate_open)
        send_all (out, g + GATED_FIRST, GATED_BYTES - GATED_FIRST);
    }
  else if (g_str_equal (path, "/img/guest") && srv.guest != NULL)
    {
      const char *g = g_mapped_file_get_contents (srv.guest);
      gsize glen = g_mapped_file_get_length (srv.guest);

      if (!send_head (out, "200 OK", "", (gint64) glen))
        return;
      for (gsize off = 0; off < glen; off += 1 << 20)
        if (!send_all (out, g + off, MIN ((gsize) 1 << 20, glen - off)))
          return;
    }
  else
    send_head (out, "404 Not Found", "", 0);
}

static gpointer
connection_thread (gpointer data)
{
  g_autoptr(GSocketConnection) sc = data;
  g_autoptr(GDataInputStream) in = g_data_input_stream_new (
    g_io_stream_get_input_stream (G_IO_STREAM (sc)));
  g_autofree char *request = NULL;
  g_auto(GStrv) parts = NULL;
  char *line;

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (in), FALSE);
  request = g_data_input_stream_read_line (in, NULL, NULL, NULL);
  /* The rest of the head. */
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, NULL)) != NULL)
    {
      gboolean end = line[0] == '\0' || g_str_equal (line, "\r");

      g_free (line);
      if (end)
        break;
    }
  if (request != NULL)
    {
      parts = g_strsplit (request, " ", 3);
      if (g_strv_length (parts) == 3)
        serve (g_io_stream_get_output_stream (G_IO_STREAM (sc)), parts[1]);
    }
  g_io_stream_close (G_IO_STREAM (sc), NULL, NULL);
  return NULL;
}

static gpointer
accept_thread (gpointer data)
{
  for (;;)
    {
      GSocketConnection *sc = g_socket_listener_accept (srv.listener, NULL, srv.cancel, NULL);

      if (sc == NULL)
        return NULL;
      g_thread_unref (g_thread_new ("http-conn", connection_thread, sc));
    }
}

static void
server_start (void)
{
  g_autofree char *tiny = gvd_test_data_path ("data", "images", "tiny.qcow2", NULL);
  g_autofree char *backing = gvd_test_data_path ("data", "images", "backing.qcow2", NULL);
  const char *guest = g_getenv ("GVD_TEST_GUEST_IMAGE");
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  guint8 *gated = g_malloc (GATED_BYTES);
  char *data = NULL;
  gsize len = 0;

  assert_true (g_file_get_contents (tiny, &data, &len, NULL));
  srv.tiny = g_bytes_new_take (data, len);
  assert_true (g_file_get_contents (backing, &data, &len, NULL));
  srv.backing = g_bytes_new_take (data, len);
  for (gsize i = 0; i < GATED_BYTES; i++)
    gated[i] = (guint8) (i * 2654435761u >> 13);
  srv.gated = g_bytes_new_take (gated, GATED_BYTES);
  if (guest != NULL && guest[0] != '\0')
    {
      srv.guest = g_mapped_file_new (guest, FALSE, &error);
      assert_non_null (srv.guest);
    }
  srv.listener = g_socket_listener_new ();
  srv.cancel = g_cancellable_new ();
  assert_true (g_socket_listener_add_address (srv.listener, addr, G_SOCKET_TYPE_STREAM,
                                              G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
  srv.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  srv.thread = g_thread_new ("http-accept", accept_thread, NULL);
}

static void
server_stop (void)
{
  g_mutex_lock (&srv.lock);
  srv.quit = TRUE;
  g_cond_broadcast (&srv.cond);
  g_mutex_unlock (&srv.lock);
  g_cancellable_cancel (srv.cancel);
  g_socket_listener_close (srv.listener);
  g_thread_join (srv.thread);
  g_clear_object (&srv.listener);
  g_clear_object (&srv.cancel);
}

static void
gate_set (gboolean open)
{
  g_mutex_lock (&srv.lock);
  srv.gate_open = open;
  g_cond_broadcast (&srv.cond);
  g_mutex_unlock (&srv.lock);
}

/* ---- helpers ------------------------------------------------------------------ */

static char *
src_url (const char *path)
{
  return g_strdup_printf ("http://127.0.0.1:%u%s", srv.port, path);
}

static char *
config_text (guint stall_timeout)
{
  return g_strdup_printf ("[daemon]\nstate_dir=%s\n"
                          "[libvirt]\ndomain_prefix=" PREFIX "\n"
                          "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"
                          "[agent]\nlisten=127.0.0.1:0\n"
                          "[images]\nurl_allow=http://127.0.0.1:%u/img/\n"
                          "stall_timeout=%u\nmax_download_mib=%u\n",
                          state_dir, srv.port, stall_timeout, srv.guest != NULL ? 8192 : 64);
}

static gboolean
libvirt_connected (gpointer data)
{
  GvdTestDaemon *d = data;
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *health = g_strconcat (d->url, "/healthz", NULL);
  guint status = 0;
  g_autoptr(JsonNode) node = gvd_test_http (session, "GET", health, NULL, NULL, &status);

  return status == 200 && node != NULL && gvd_test_json_bool (node, "libvirt.connected");
}

/* Stall timeout 2 s, or 30 s with @patient (cases that hold a download
 * half-way, so that a loaded machine cannot turn them into timeouts). */
static GvdTestDaemon *
start_daemon_full (const char *crash_at, gboolean patient)
{
  g_autofree char *config = config_text (patient ? 30 : 2);
  GvdTestDaemon *d;

  if (crash_at != NULL)
    g_setenv ("GVD_TEST_CRASH_AT", crash_at, TRUE);
  d = gvd_test_daemon_start (config, NULL);
  g_unsetenv ("GVD_TEST_CRASH_AT");
  assert_true (gvd_test_wait_until (libvirt_connected, d, 20000));
  return d;
}

static GvdTestDaemon *
start_daemon (const char *crash_at)
{
  return start_daemon_full (crash_at, FALSE);
}

static char *
sha256_of (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

static char *
import_body (const char *name, const char *url, const char *algo, const char *digest,
             const char *format)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, url);
  if (algo != NULL)
    {
      json_builder_set_member_name (b, algo);
      json_builder_add_string_value (b, digest);
    }
  if (format != NULL)
    {
      json_builder_set_member_name (b, "format");
      json_builder_add_string_value (b, format);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static JsonNode *
api (GvdTestDaemon *d, SoupSession *session, const char *method, const char *path,
     const char *body, guint *out_status)
{
  g_autofree char *url = g_strconcat (d->url, path, NULL);

  return gvd_test_http (session, method, url, NULL, body, out_status);
}

static gboolean
volume_exists (const char *name)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, POOL);
  g_autoptr(virStorageVol) vol = NULL;

  if (pool == NULL)
    return FALSE;
  virStoragePoolRefresh (pool, 0);
  vol = virStorageVolLookupByName (pool, name);
  return vol != NULL;
}

static guint
journal_entries (void)
{
  g_autofree char *dir = g_build_filename (state_dir, "imports", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

/* Nothing of @name anywhere: no volume, no listing, no journal entry. */
static void
assert_nothing_left (GvdTestDaemon *d, SoupSession *session, const char *name)
{
  g_autofree char *one = g_strconcat ("/v1/images/", name, NULL);
  g_autoptr(JsonNode) node = NULL;
  guint status = 0;

  if (volume_exists (name))
    fail_msg ("volume %s was left in the pool", name);
  node = api (d, session, "GET", one, NULL, &status);
  assert_int_equal (status, 404);
  assert_int_equal (journal_entries (), 0);
}

/* POST and expect a refusal: status, code, a needle in the message, and
 * nothing left behind. */
static void
expect_refused (GvdTestDaemon *d, SoupSession *session, const char *name, const char *body,
                guint want_status, const char *code, const char *needle)
{
  g_autoptr(JsonNode) node = NULL;
  guint status = 0;
  gint64 t0 = g_get_monotonic_time ();

  node = api (d, session, "POST", "/v1/images", body, &status);
  if (status != want_status)
    print_error ("%s: %u %s\n", body, status,
                 node != NULL ? gvd_test_json_string (node, "error.message") : "");
  assert_int_equal (status, want_status);
  gvd_test_assert_error (node, code, needle);
  print_message ("  %s: %u %s in %.1f s\n", name, status, code,
                 (g_get_monotonic_time () - t0) / 1e6);
  assert_nothing_left (d, session, name);
}

static int
group_setup (void **state)
{
  g_autoptr(GError) error = NULL;

  conn = virConnectOpen ("qemu:///system");
  assert_non_null (conn);
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  state_dir = g_dir_make_tmp ("gvdtest-imgurl-XXXXXX", &error);
  assert_non_null (state_dir);
  server_start ();
  return 0;
}

static int
group_teardown (void **state)
{
  server_stop ();
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
  gvd_test_rm_rf (state_dir);
  g_clear_pointer (&state_dir, g_free);
  virConnectClose (conn);
  return 0;
}

/* ---- cases ------------------------------------------------------------------- */

static void
download__good_digest__imported_identical_with_events (void **state)
{
  g_autoptr(GvdTestDaemon) d = start_daemon (NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autoptr(SoupSession) sse = gvd_test_daemon_session (d, 2);
  g_autofree char *url = src_url ("/img/tiny.qcow2?sig=s3cret");
  g_autofree char *digest = sha256_of (srv.tiny);
  g_autofree char *body = import_body ("tiny-url.qcow2", url, "sha256", digest, NULL);
  g_autofree char *upper = g_ascii_strup (digest, -1);
  g_autofree char *body2 = NULL;
  g_autofree char *redirect = src_url ("/img/redirect-ok");
  g_autofree char *pool_file = g_build_filename (POOL_PATH, "tiny-url.qcow2", NULL);
  g_autofree char *events_url = g_strconcat (d->url, "/v1/events", NULL);
  g_autofree char *events = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *got = NULL;
  gsize got_len = 0;
  gsize want_len = 0;
  const void *want = g_bytes_get_data (srv.tiny, &want_len);
  guint status = 0;

  node = api (d, session, "POST", "/v1/images", body, &status);
  if (status != 201)
    print_error ("%u %s\n", status, gvd_test_json_string (node, "error.message"));
  assert_int_equal (status, 201);
  assert_string_equal (gvd_test_json_string (node, "name"), "tiny-url.qcow2");
  assert_string_equal (gvd_test_json_string (node, "format"), "qcow2");
  assert_string_equal (gvd_test_json_string (node, "state"), "ready");
  assert_int_equal (gvd_test_json_int (node, "capacity_bytes"), 64 * 1024 * 1024);
  g_clear_pointer (&node, json_node_unref);

  /* Byte for byte what the server sent, in the pool, and no journal left. */
  assert_true (g_file_get_contents (pool_file, &got, &got_len, NULL));
  assert_int_equal (got_len, want_len);
  assert_memory_equal (got, want, want_len);
  assert_int_equal (journal_entries (), 0);

  /* Listed as an ordinary image; a second import of the name is 409. */
  node = api (d, session, "GET", "/v1/images/tiny-url.qcow2", NULL, &status);
  assert_int_equal (status, 200);
  g_clear_pointer (&node, json_node_unref);
  node = api (d, session, "POST", "/v1/images", body, &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (node, "already_exists", "tiny-url.qcow2");
  g_clear_pointer (&node, json_node_unref);

  /* A redirect inside the allow list, an upper-case digest. */
  body2 = import_body ("tiny-redirected.qcow2", redirect, "sha256", upper, "qcow2");
  node = api (d, session, "POST", "/v1/images", body2, &status);
  assert_int_equal (status, 201);
  g_clear_pointer (&node, json_node_unref);

  /* Progress from 0 to the total, then imported; the query is never told. */
  events = gvd_test_sse_replay (sse, events_url);
  assert_non_null (strstr (events, "event: image.progress\ndata: {\"name\":\"tiny-url.qcow2\","
                                   "\"bytes_done\":0,\"bytes_total\":12544"));
  assert_non_null (strstr (events, "\"bytes_done\":12544,\"bytes_total\":12544"));
  assert_non_null (strstr (events, "event: image.imported\ndata: {\"name\":\"tiny-url.qcow2\""));
  assert_null (strstr (events, "s3cret"));

  node = api (d, session, "DELETE", "/v1/images/tiny-url.qcow2", NULL, &status);
  assert_int_equal (status, 204);
  g_clear_pointer (&node, json_node_unref);
  node = api (d, session, "DELETE", "/v1/images/tiny-redirected.qcow2", NULL, &status);
  assert_int_equal (status, 204);
  gvd_test_daemon_stop (d, TRUE);
}

static void
download__failures__clear_errors_nothing_left (void **state)
{
  g_autoptr(GvdTestDaemon) d = start_daemon (NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *digest = sha256_of (srv.tiny);
  g_autofree char *wrong = g_strnfill (64, 'a');
  g_autofree char *sha512 = g_strnfill (128, 'b');
  g_autofree char *backing_digest = sha256_of (srv.backing);
  static const guint8 xz[64] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
  g_autofree char *xz_digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, xz, sizeof xz);
  const struct {
    const char *name;
    const char *path;
    const char *algo;
    const char *digest;
    const char *format;
    guint status;
    const char *code;
    const char *needle;
  } cases[] = {
    { "wrong-digest", "/img/tiny.qcow2", "sha256", wrong, NULL, 502, "download_failed",
      "digest" },
    { "wrong-sha512", "/img/tiny.qcow2", "sha512", sha512, NULL, 502, "download_failed",
      "'sha512'" },
    { "truncated", "/img/truncated.qcow2", "sha256", digest, NULL, 502, "download_failed",
      "6272 of its 12544" },
    { "missing", "/img/missing.qcow2", "sha256", digest, NULL, 502, "download_failed", "404" },
    { "stalled", "/img/stall.qcow2", "sha256", digest, NULL, 504, "timeout", "stall_timeout" },
    { "chunked", "/img/chunked.qcow2", "sha256", digest, NULL, 502, "download_failed",
      "Content-Length" },
    { "huge", "/img/huge.raw", "sha256", digest, NULL, 413, "payload_too_large",
      "max_download_mib" },
    { "redirect-out", "/img/redirect-out", "sha256", digest, NULL, 403, "forbidden",
      "url_allow" },
    { "redirect-loop", "/img/redirect-loop", "sha256", digest, NULL, 502, "download_failed",
      "redirects" },
    { "as-raw", "/img/tiny.qcow2", "sha256", digest, "raw", 400, "invalid_argument",
      "'format'" },
    { "compressed", "/img/image.qcow2.xz", "sha256", xz_digest, NULL, 400, "invalid_argument",
      "xz-compressed" },
    { "chained", "/img/backing.qcow2", "sha256", backing_digest, NULL, 400, "invalid_argument",
      "backing file" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *url = src_url (cases[i].path);
      g_autofree char *body = import_body (cases[i].name, url, cases[i].algo, cases[i].digest,
                                           cases[i].format);

      expect_refused (d, session, cases[i].name, body, cases[i].status, cases[i].code,
                      cases[i].needle);
    }
  /* The daemon is fine afterwards: a good import still works. */
  {
    g_autofree char *url = src_url ("/img/tiny.qcow2");
    g_autofree char *body = import_body ("after.qcow2", url, "sha256", digest, NULL);
    g_autoptr(JsonNode) node = api (d, session, "POST", "/v1/images", body, NULL);

    assert_true (volume_exists ("after.qcow2"));
  }
  gvd_test_daemon_stop (d, TRUE);
  gvd_test_libvirt_cleanup (conn, PREFIX, POOL);
}

static void
download__bad_requests__4xx_before_any_download (void **state)
{
  g_autoptr(GvdTestDaemon) d = start_daemon (NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *digest = sha256_of (srv.tiny);
  g_autofree char *good = src_url ("/img/tiny.qcow2");
  g_autofree char *outside = src_url ("/private/tiny.qcow2");
  g_autofree char *no_digest = g_strdup_printf ("{\"name\": \"x\", \"url\": \"%s\"}", good);
  g_autofree char *both = g_strdup_printf ("{\"name\": \"x\", \"url\": \"%s\", \"sha256\": "
                                           "\"%s\", \"sha512\": \"%s\"}", good, digest, digest);
  g_autofree char *path_too = g_strdup_printf ("{\"name\": \"x\", \"url\": \"%s\", "
                                               "\"source_path\": \"/x\", \"sha256\": \"%s\"}",
                                               good, digest);
  g_autofree char *short_digest = import_body ("x", good, "sha256", "abc", NULL);
  g_autofree char *not_allowed = import_body ("x", outside, "sha256", digest, NULL);
  g_autofree char *other_host = import_body ("x", "https://cloud.debian.org/img/x.qcow2",
                                             "sha256", digest, NULL);
  g_autofree char *ftp = import_body ("x", "ftp://127.0.0.1/img/x", "sha256", digest, NULL);
  g_autofree char *creds = g_strdup_printf ("{\"name\": \"x\", \"url\": "
                                            "\"http://u:p@127.0.0.1:%u/img/tiny.qcow2\", "
                                            "\"sha256\": \"%s\"}", srv.port, digest);
  g_autofree char *digest_with_path = g_strdup_printf ("{\"name\": \"x\", \"source_path\": "
                                                       "\"/x\", \"sha256\": \"%s\"}", digest);
  const struct {
    const char *body;
    guint status;
    const char *code;
    const char *needle;
  } cases[] = {
    { no_digest, 400, "invalid_argument", "'sha256' or 'sha512' is required" },
    { both, 400, "invalid_argument", "exclude" },
    { path_too, 400, "invalid_argument", "exclude" },
    { short_digest, 400, "invalid_argument", "64 hex digits" },
    { not_allowed, 403, "forbidden", "[images] url_allow" },
    { other_host, 403, "forbidden", "[images] url_allow" },
    { ftp, 400, "invalid_argument", "'url'" },
    { creds, 400, "invalid_argument", "user info" },
    { digest_with_path, 400, "invalid_argument", "'sha256' goes with 'url' only" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) node = NULL;
      guint status = 0;

      node = api (d, session, "POST", "/v1/images", cases[i].body, &status);
      if (status != cases[i].status)
        print_error ("%s: %u\n", cases[i].body, status);
      assert_int_equal (status, cases[i].status);
      gvd_test_assert_error (node, cases[i].code, cases[i].needle);
    }
  gvd_test_daemon_stop (d, TRUE);
}

static void
download__slow_server__completes (void **state)
{
  g_autoptr(GvdTestDaemon) d = start_daemon (NULL);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *url = src_url ("/img/slow.qcow2");
  g_autofree char *digest = sha256_of (srv.tiny);
  g_autofree char *body = import_body ("slow.qcow2", url, "sha256", digest, NULL);
  g_autoptr(JsonNode) node = NULL;
  gint64 t0 = g_get_monotonic_time ();
  double took;
  guint status = 0;

  node = api (d, session, "POST", "/v1/images", body, &status);
  took = (g_get_monotonic_time () - t0) / 1e6;
  print_message ("  slow server: %u after %.1f s (stall timeout 2 s)\n", status, took);
  assert_int_equal (status, 201);
  /* Longer than the stall timeout in all: the timeout is per read. */
  assert_true (took > 3.0);
  g_clear_pointer (&node, json_node_unref);
  node = api (d, session, "DELETE", "/v1/images/slow.qcow2", NULL, &status);
  assert_int_equal (status, 204);
  gvd_test_daemon_stop (d, TRUE);
}

typedef struct {
  GvdTestDaemon *d;
  char *body;
  guint status;
  JsonNode *reply;
} Post;

static gpointer
post_thread (gpointer data)
{
  Post *p = data;
  g_autoptr(SoupSession) session = gvd_test_daemon_session (p->d, 0);

  p->reply = api (p->d, session, "POST", "/v1/images", p->body, &p->status);
  return NULL;
}

static gboolean
gated_half_sent (gpointer data)
{
  GvdTestDaemon *d = data;
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autoptr(JsonNode) node = NULL;
  guint status = 0;

  if (!g_atomic_int_get (&srv.gated_sent))
    return FALSE;
  node = api (d, session, "GET", "/v1/images/gated.raw", NULL, &status);
  return status == 200 && gvd_test_json_int (node, "bytes_done") >= GATED_FIRST;
}

static void
download__delete_mid_download__cancelled_nothing_left (void **state)
{
  g_autoptr(GvdTestDaemon) d = start_daemon_full (NULL, TRUE);
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autofree char *url = src_url ("/img/gated.raw");
  g_autofree char *digest = sha256_of (srv.gated);
  Post post = { .d = d, .body = import_body ("gated.raw", url, "sha256", digest, NULL) };
  g_autoptr(JsonNode) node = NULL;
  GThread *thread;
  guint status = 0;

  gate_set (FALSE);
  g_atomic_int_set (&srv.gated_sent, 0);
  thread = g_thread_new ("post", post_thread, &post);
  assert_true (gvd_test_wait_until (gated_half_sent, d, 10000));

  /* While it downloads: listed as importing, with its progress, and not
   * usable (its volume is hidden). */
  node = api (d, session, "GET", "/v1/images", NULL, &status);
  assert_int_equal (status, 200);
  {
    JsonArray *list = json_node_get_array (gvd_test_json_path (node, "images"));
    JsonObject *one;

    assert_int_equal (json_array_get_length (list), 1);
    one = json_array_get_object_element (list, 0);
    assert_string_equal (json_object_get_string_member (one, "state"), "importing");
    assert_int_equal (json_object_get_int_member (one, "bytes_total"), GATED_BYTES);
    assert_string_equal (json_object_get_string_member (one, "source_url"), url);
  }
  g_clear_pointer (&node, json_node_unref);
  assert_int_equal (journal_entries (), 1);

  node = api (d, session, "DELETE", "/v1/images/gated.raw", NULL, &status);
  assert_int_equal (status, 204);
  g_thread_join (thread);
  assert_int_equal (post.status, 409);
  gvd_test_assert_error (post.reply, "conflict", "cancelled");
  assert_nothing_left (d, session, "gated.raw");
  gate_set (TRUE);

  /* The same download, let through, imports. */
  g_atomic_int_set (&srv.gated_sent, 0);
  g_clear_pointer (&post.reply, json_node_unref);
  thread = g_thread_new ("post", post_thread, &post);
  g_thread_join (thread);
  assert_int_equal (post.status, 201);
  assert_int_equal (gvd_test_json_int (post.reply, "capacity_bytes"), GATED_BYTES);
  g_clear_pointer (&post.reply, json_node_unref);
  g_clear_pointer (&node, json_node_unref);
  node = api (d, session, "DELETE", "/v1/images/gated.raw", NULL, &status);
  assert_int_equal (status, 204);
  g_free (post.body);
  gvd_test_daemon_stop (d, TRUE);
}

static gboolean
volume_gone (gpointer data)
{
  return !volume_exists (data);
}

static void
download__crash_mid_download__swept_at_restart (void **state)
{
  g_autoptr(GvdTestDaemon) d = start_daemon ("image-write");
  g_autoptr(GvdTestDaemon) d2 = NULL;
  g_autoptr(SoupSession) session = gvd_test_daemon_session (d, 0);
  g_autoptr(SoupSession) session2 = NULL;
  g_autoptr(SoupSession) sse = NULL;
  g_autofree char *url = src_url ("/img/gated.raw");
  g_autofree char *digest = sha256_of (srv.gated);
  g_autofree char *body = import_body ("crashed.raw", url, "sha256", digest, NULL);
  g_autofree char *events_url = NULL;
  g_autofree char *events = NULL;
  g_autoptr(JsonNode) node = NULL;
  guint status = 0;

  gate_set (FALSE);
  node = api (d, session, "POST", "/v1/images", body, &status);
  /* No answer: the daemon died (SIGKILL) after the first chunk was written. */
  assert_int_equal (status, 0);
  gvd_test_daemon_stop (d, FALSE);
  gate_set (TRUE);
  /* What it left: the half-written volume and its journal entry. */
  assert_true (volume_exists ("crashed.raw"));
  assert_int_equal (journal_entries (), 1);

  d2 = start_daemon (NULL);
  session2 = gvd_test_daemon_session (d2, 0);
  assert_true (gvd_test_wait_until (volume_gone, "crashed.raw", 10000));
  assert_nothing_left (d2, session2, "crashed.raw");
  sse = gvd_test_daemon_session (d2, 2);
  events_url = g_strconcat (d2->url, "/v1/events", NULL);
  events = gvd_test_sse_replay (sse, events_url);
  assert_non_null (strstr (events, "event: image.swept\ndata: {\"name\":\"crashed.raw\",\"pool\":\""
                                   POOL "\""));
  gvd_test_daemon_stop (d2, TRUE);
}

typedef struct {
  GvdTestDaemon *d;
  gint stop;
  GArray *ms; /* double: each /healthz round trip */
} Probe;

/* GET /healthz every 50 ms: the main loop's answer time while it reads,
 * hashes and queues the download. */
static gpointer
probe_thread (gpointer data)
{
  Probe *p = data;
  g_autoptr(SoupSession) session = gvd_test_daemon_session (p->d, 10);
  g_autofree char *url = g_strconcat (p->d->url, "/healthz", NULL);

  while (!g_atomic_int_get (&p->stop))
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(JsonNode) node = gvd_test_http (session, "GET", url, NULL, NULL, NULL);
      double ms = (g_get_monotonic_time () - t0) / 1000.0;

      g_array_append_val (p->ms, ms);
      g_usleep (50000);
    }
  return NULL;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* The e2e guest image, when the environment names it: a real-size
 * download, identical in the pool; the rate and the main loop's answer
 * times meanwhile are printed. */
static void
download__guest_image__identical (void **state)
{
  g_autoptr(GvdTestDaemon) d = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autofree char *url = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *body = NULL;
  g_autofree char *pool_file = NULL;
  g_autoptr(GMappedFile) got = NULL;
  g_autoptr(JsonNode) node = NULL;
  gint64 t0;
  double took;
  gsize len;
  guint status = 0;

  if (srv.guest == NULL)
    {
      /* Before any allocation: skip () jumps over the cleanups. */
      print_message ("  GVD_TEST_GUEST_IMAGE unset: skipped\n");
      skip ();
    }
  url = src_url ("/img/guest");
  pool_file = g_build_filename (POOL_PATH, "guest.img", NULL);
  len = g_mapped_file_get_length (srv.guest);
  digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                        (const guchar *) g_mapped_file_get_contents (srv.guest),
                                        len);
  body = import_body ("guest.img", url, "sha256", digest, NULL);
  d = start_daemon (NULL);
  session = gvd_test_daemon_session (d, 0);
  {
    Probe probe = { d, 0, g_array_new (FALSE, FALSE, sizeof (double)) };
    GThread *prober = g_thread_new ("probe", probe_thread, &probe);
    guint n;

    t0 = g_get_monotonic_time ();
    node = api (d, session, "POST", "/v1/images", body, &status);
    took = (g_get_monotonic_time () - t0) / 1e6;
    g_atomic_int_set (&probe.stop, 1);
    g_thread_join (prober);
    g_array_sort (probe.ms, compare_doubles);
    n = probe.ms->len;
    assert_int_equal (status, 201);
    print_message ("  guest image: %zu bytes in %.1f s (%.0f MiB/s); /healthz meanwhile (%u "
                   "probes): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", len, took,
                   len / took / 1048576.0, n, g_array_index (probe.ms, double, n / 2),
                   g_array_index (probe.ms, double, n * 99 / 100),
                   g_array_index (probe.ms, double, n - 1));
    g_array_unref (probe.ms);
  }
  got = g_mapped_file_new (pool_file, FALSE, NULL);
  assert_non_null (got);
  assert_int_equal (g_mapped_file_get_length (got), len);
  assert_memory_equal (g_mapped_file_get_contents (got), g_mapped_file_get_contents (srv.guest),
                       len);
  g_clear_pointer (&node, json_node_unref);
  node = api (d, session, "DELETE", "/v1/images/guest.img", NULL, &status);
  assert_int_equal (status, 204);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (download__good_digest__imported_identical_with_events),
    cmocka_unit_test (download__failures__clear_errors_nothing_left),
    cmocka_unit_test (download__bad_requests__4xx_before_any_download),
    cmocka_unit_test (download__slow_server__completes),
    cmocka_unit_test (download__delete_mid_download__cancelled_nothing_left),
    cmocka_unit_test (download__crash_mid_download__swept_at_restart),
    cmocka_unit_test (download__guest_image__identical),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
