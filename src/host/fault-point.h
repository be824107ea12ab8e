/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TEST-ONLY failure injection: stop or kill the daemon at a named step so
 * integration tests can check crash consistency (tests/test-faults.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Read GVD_TEST_CRASH_AT and GVD_TEST_STOP_AT once (main() calls it before
 * any thread starts). Each names one step (e.g. "overlay"); unset or empty,
 * every fault point is a single NULL test. Never set them in production. */
void gvd_fault_init (void);

/* At step @name: raise (SIGKILL) when GVD_TEST_CRASH_AT names it (the
 * daemon dies as under `kill -9`), raise (SIGSTOP) when GVD_TEST_STOP_AT
 * names it, the first time only (the test then acts and sends SIGCONT). Steps in use: "claimed",
 * "pool", "overlay", "seed", "define", "start" (create) and "shutdown". */
void gvd_fault_point (const char *name);

G_END_DECLS
