/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helpers for a daemon built in this process (gvd_test_daemon_build on
 * libvirt's test:///default): its instance manager driven as the API
 * drives it, each call run to completion on this thread's default main
 * context. */
#pragma once

#include "testlib.h"

#include "instance.h"

G_BEGIN_DECLS

/* How long an in-process wait may take before the test fails (valgrind and
 * a shared machine are slow). */
#define GVD_TEST_WAIT_MS 20000

/* The in-process fixture: a daemon and the test's own connection to
 * test:///default. That driver keeps its state (domains, pools, volumes)
 * only while a connection is open, and through this one the test changes
 * things behind the daemon's back. */
typedef struct {
  virConnectPtr conn;
  GvdDaemon *d;
} GvdTestInproc;

/* Open the connection and build the daemon (gvd_test_daemon_build
 * (@host, @config_text, NULL)); not started, so a test can look at it
 * before libvirt answered or put in doubles first. */
GvdTestInproc *gvd_test_inproc_new (const char *host, const char *config_text);
/* Destroy the daemon, let its finished sources (libvirt's, the manager's
 * workers) go, close the connection. NULL-safe. */
void gvd_test_inproc_free (GvdTestInproc *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdTestInproc, gvd_test_inproc_free)

/* gvd_daemon_start (@d), then iterate until its instance manager has
 * reconciled with libvirt and accepts creates. */
void gvd_test_daemon_start_ready (GvdDaemon *d);

/* Iterate the default main context until @cond (@data) holds; fails the
 * test after GVD_TEST_WAIT_MS. (gvd_test_wait_until only polls: for a
 * daemon in another process.) */
void gvd_test_iterate_until (gboolean (*cond) (gpointer), gpointer data);
/* Iterate until @d's instance manager knows the instance @name (@present)
 * or no longer knows it (!@present). */
void gvd_test_wait_instance (GvdDaemon *d, const char *name, gboolean present);

/* The outcome of one instance manager call run to completion. */
typedef struct {
  GvdInstanceManager *mgr;  /* the manager the call ran on */
  gboolean done;            /* the call has finished */
  JsonNode *doc;            /* create: the answer; NULL when it failed */
  JsonNode *details;        /* create: a refusal's details, or NULL */
  GError *error;            /* why the call failed, or NULL */
} GvdTestResult;

/* Free what @r holds (not @r itself). */
void gvd_test_result_clear (GvdTestResult *r);

/* POST /v1/instances as the API runs it: the request @json parsed (the
 * test fails when the parser refuses it), then the create run to
 * completion. @out_result is overwritten (clear what it held first) and
 * holds the outcome, for gvd_test_result_clear. */
void gvd_test_create (GvdDaemon *d, const char *json, GvdTestResult *out_result);
/* DELETE /v1/instances/@name run to completion; the outcome in
 * @out_result (its error set when the delete failed). */
void gvd_test_delete (GvdDaemon *d, const char *name, GvdTestResult *out_result);
/* The domain XML a dry-run create request @json renders: what gpuvmd would
 * define. Fails the test when the create is refused. */
char *gvd_test_dry_run_xml (GvdDaemon *d, const char *json);

G_END_DECLS
