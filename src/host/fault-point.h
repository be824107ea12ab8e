/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TEST-ONLY failure injection: stop or kill the daemon at a named step so
 * integration tests can check crash consistency (tests/test-faults.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How long GVD_TEST_SLOW_AT makes its step take. */
#define GVD_FAULT_SLOW_MS 2000

/* Read GVD_TEST_CRASH_AT, GVD_TEST_STOP_AT and GVD_TEST_SLOW_AT once (main() calls it before
 * any thread starts). Each names one step (e.g. "overlay"); unset or empty,
 * every fault point is a single NULL test. Never set them in production. */
void gvd_fault_init (void);

/* At step @name: raise (SIGKILL) when GVD_TEST_CRASH_AT names it (the
 * daemon dies as under `kill -9`), raise (SIGSTOP) when GVD_TEST_STOP_AT
 * names it, the first time only (the test then acts and sends SIGCONT);
 * sleep GVD_FAULT_SLOW_MS in the calling thread, every time, when
 * GVD_TEST_SLOW_AT names it (a slow disk or libvirtd: tests/test-mainloop.c).
 * Steps in use: "claimed", "pool", "overlay", "seed", "define", "start"
 * (create), "shutdown", "reconnect" (before events are subscribed on a new
 * connection), "registry-write" and "image-write" (a URL import's first
 * chunk written to its volume). */
void gvd_fault_point (const char *name);

/* TRUE when GVD_TEST_FAIL_AT names step @name: the caller then fails that
 * step as if the system had refused it (e.g. "gpu-attach-function": the
 * attach of a group's second function, to exercise the rollback). */
gboolean gvd_fault_fails (const char *name);

G_END_DECLS
