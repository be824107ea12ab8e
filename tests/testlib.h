/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared test helpers: fixture paths, skip rules, HTTP, the daemon binary. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "daemon.h"

G_BEGIN_DECLS

/* Exit code automake reads as "skipped". */
#define GVD_TEST_SKIP 77

/* $GVD_TEST_SRCDIR/tests/<parts...>: fixtures in the source tree. */
char *gvd_test_data_path (const char *first, ...) G_GNUC_NULL_TERMINATED;
/* $GVD_TEST_BUILDDIR/<parts...>: built programs. */
char *gvd_test_build_path (const char *first, ...) G_GNUC_NULL_TERMINATED;

/* For integration tests: a missing precondition skips the whole program
 * (exit 77), unless GVD_REQUIRE_INTEGRATION=1 (CI), where it fails. */
void gvd_test_require (gboolean ok, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Root, and qemu:///system answering. */
void gvd_test_require_libvirtd (void);

/* The pid libvirtd wrote to /run/libvirtd.pid, or 0. */
GPid gvd_test_libvirtd_pid (void);
/* Kill libvirtd (SIGTERM, then wait for it to exit); TRUE when it is gone. */
gboolean gvd_test_libvirtd_stop (void);
/* Start libvirtd -d and wait until it answers. */
gboolean gvd_test_libvirtd_start (void);

/* One HTTP request; returns the parsed JSON answer (NULL when the body is
 * not JSON) and the status in @out_status. @body may be NULL. */
JsonNode *gvd_test_http (SoupSession *session, const char *method, const char *url,
                         const char *token, const char *body, guint *out_status);

/* A request to a server running in this process: it is sent from a thread
 * while this thread's default main context serves it. */
typedef struct {
  const char *method;
  char *url;                 /* full URL; freed by gvd_test_request_clear */
  const char *token;         /* bearer token, or NULL */
  const char *body;          /* or NULL */
  const char *content_type;  /* NULL: application/json; "": none (also sent on a bodiless POST) */
  gsize body_len;            /* 0: strlen (body) */
  gboolean chunked;          /* send the body without a Content-Length */
  /* results */
  guint status;
  char *reply;
  char *allow;               /* the Allow header */
  gint done;
} GvdTestRequest;

/* Run @n requests at once; returns when all are answered. */
void gvd_test_requests_in_loop (GvdTestRequest *requests, guint n);
/* One request; the reply parsed as JSON (NULL when it is not JSON). */
JsonNode *gvd_test_request_in_loop (GvdTestRequest *request);
void gvd_test_request_clear (GvdTestRequest *request);
/* Let an in-process server see its clients' closed connections. */
void gvd_test_drain_main_context (void);

/* An API error answer: {"error": {"code": @code, "message": ...}} whose
 * message contains @needle (NULL: any non-trivial message). */
void gvd_test_assert_error (JsonNode *node, const char *code, const char *needle);

/* Remove a directory tree (test scratch space; does not follow symlinks). */
void gvd_test_rm_rf (const char *path);

/* Member lookup on a parsed answer, asserting the path exists:
 * gvd_test_json_path (root, "libvirt.state"). */
JsonNode *gvd_test_json_path (JsonNode *root, const char *path);
const char *gvd_test_json_string (JsonNode *root, const char *path);
gint64 gvd_test_json_int (JsonNode *root, const char *path);
gboolean gvd_test_json_bool (JsonNode *root, const char *path);

/* The built gpuvmd, running. By default it serves its admin API only on a
 * unix socket in its temporary directory; tests talk to it through
 * @session (or gvd_test_daemon_session ()) at @url, "http://localhost". */
typedef struct {
  GSubprocess *proc;
  GPid pid;
  char *url;          /* admin API base URL, no trailing '/': http://localhost over
                       * the unix socket, or the TCP listener when there is no socket */
  char *socket_path;  /* the admin socket, or NULL (--socket "") */
  char *tcp_url;      /* TCP admin listener (--listen), e.g. http://127.0.0.1:40123; or NULL */
  char *agent_url;    /* agent listener, e.g. http://127.0.0.1:40124 */
  char *config_path;
  char *tmpdir;
  SoupSession *session; /* reaches @url (timeout 300 s) */
  GPtrArray *lines;   /* unused, kept for callers */
} GvdTestDaemon;

/* Start src/gpuvmd with @config_text written to a temporary file and
 * --socket <tmpdir>/gpuvmd.sock; waits for its "admin" and "agent" lines.
 * @extra_args: NULL-terminated extra arguments (a later --socket or
 * --listen wins), or NULL. */
GvdTestDaemon *gvd_test_daemon_start (const char *config_text, const char *const *extra_args);
/* A new session that reaches @d's @url (its unix socket when it has one);
 * @timeout_s 0 for none. Usable from any one thread. */
SoupSession *gvd_test_daemon_session (GvdTestDaemon *d, guint timeout_s);
/* A session for the unix socket at @path (URLs http://localhost/...). */
SoupSession *gvd_test_unix_session (const char *path, guint timeout_s);
/* Wait (up to @timeout_ms) until @d has reconciled with libvirt: until
 * then creates answer 503 not_ready. Fails the test when it does not. */
void gvd_test_daemon_wait_ready (GvdTestDaemon *d, guint timeout_ms);
/* POST /v1/images {"name": @name, "source_path": @path}: 201, or 409 when
 * an earlier test imported it already; anything else fails the test. */
void gvd_test_daemon_import_image (GvdTestDaemon *d, const char *name, const char *path);
/* One request to @d's admin API without a token: @method @path (e.g.
 * "/v1/instances"), @body or NULL; the answer as gvd_test_http gives it. */
JsonNode *gvd_test_api (GvdTestDaemon *d, const char *method, const char *path,
                        const char *body, guint *out_status);
/* SIGTERM and wait; asserts a clean exit when @expect_clean. */
void gvd_test_daemon_stop (GvdTestDaemon *d, gboolean expect_clean);
void gvd_test_daemon_free (GvdTestDaemon *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdTestDaemon, gvd_test_daemon_free)

/* gpuvmd's qemu-guest-agent probe (agent-probe.h) on a qemu:///system
 * domain, run to completion: "responsive", "unresponsive" or "unavailable". */
const char *gvd_test_probe_guest_agent (const char *domain_name);

/* GET @url (a server-sent event stream, e.g. d->url + "/v1/events") with
 * Last-Event-ID: 0, so the daemon replays the events it kept; returns the
 * text read until @session's I/O timeout ends the quiet stream (or "" on
 * error). */
char *gvd_test_sse_replay (SoupSession *session, const char *url);

/* Poll @cond every 50 ms for up to @timeout_ms; TRUE once it holds. */
gboolean gvd_test_wait_until (gboolean (*cond) (gpointer), gpointer data, guint timeout_ms);

/* A 64 KiB tmpfs mounted on the existing directory @dir (root only; the
 * test skips when the mount fails: FALSE with the reason in @out_reason). */
gboolean gvd_test_mount_small_tmpfs (const char *dir, char **out_reason);
/* Fill the file system holding @dir to the last byte (a file "filler"). */
void gvd_test_fill_fs (const char *dir);
/* Unmount @dir (lazily when busy). */
void gvd_test_umount (const char *dir);

/* A blank raw disk image: the sparse file @dir/@name of @size bytes, all
 * zeros (64 MiB is enough for the firmware to run). Returns its path. */
char *gvd_test_blank_image (const char *dir, const char *name, goffset size);

/* Integration tests start and end clean: destroy and undefine (with NVRAM)
 * every domain whose name starts with @domain_prefix, then delete every
 * volume of the storage pool @pool_name (NULL: none) and the pool itself. */
typedef struct _virConnect *virConnectPtr;
void gvd_test_libvirt_cleanup (virConnectPtr conn, const char *domain_prefix,
                               const char *pool_name);

/* A daemon built in this process by gvd_daemon_new, as main.c builds it:
 * host root the fixture tests/data/hosts/@host, libvirt test:///default
 * (not connected until gvd_daemon_start), a new temporary state directory;
 * @config_text (or NULL) is gpuvmd.conf text applied on top; @options NULL:
 * agent deadlines off, the monotonic clock. Claims start not ready, as in
 * the daemon before libvirt answered. */
GvdDaemon *gvd_test_daemon_build (const char *host, const char *config_text,
                                  const GvdDaemonOptions *options);
/* Free @d and remove its state directory. NULL-safe. */
void gvd_test_daemon_destroy (GvdDaemon *d);

G_END_DECLS
