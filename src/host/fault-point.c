/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TEST-ONLY failure injection (see fault-point.h). */
#include "config.h"

#include "fault-point.h"

#include <signal.h>

/* Written once by gvd_fault_init () before threads exist, then only read. */
static char *crash_at;
static char *stop_at;
static char *slow_at;
static char *fail_at;
static gint stop_fired; /* atomic: the stop fires once per process */

static char *
read_step (const char *variable)
{
  const char *value = g_getenv (variable);

  return value != NULL && value[0] != '\0' ? g_strdup (value) : NULL;
}

void
gvd_fault_init (void)
{
  g_clear_pointer (&crash_at, g_free);
  g_clear_pointer (&stop_at, g_free);
  g_clear_pointer (&slow_at, g_free);
  g_clear_pointer (&fail_at, g_free);
  g_atomic_int_set (&stop_fired, 0);
  crash_at = read_step ("GVD_TEST_CRASH_AT");
  stop_at = read_step ("GVD_TEST_STOP_AT");
  slow_at = read_step ("GVD_TEST_SLOW_AT");
  fail_at = read_step ("GVD_TEST_FAIL_AT");
  if (fail_at != NULL)
    g_message ("TEST-ONLY fault injection armed (GVD_TEST_FAIL_AT=%s)", fail_at);
  if (crash_at != NULL || stop_at != NULL || slow_at != NULL)
    g_message ("TEST-ONLY fault injection armed (GVD_TEST_CRASH_AT=%s GVD_TEST_STOP_AT=%s "
               "GVD_TEST_SLOW_AT=%s)", crash_at != NULL ? crash_at : "",
               stop_at != NULL ? stop_at : "", slow_at != NULL ? slow_at : "");
}

void
gvd_fault_point (const char *name)
{
  if (G_LIKELY (crash_at == NULL && stop_at == NULL && slow_at == NULL))
    return;
  if (g_strcmp0 (slow_at, name) == 0)
    {
      g_message ("TEST-ONLY fault point '%s': sleeping %d ms", name, GVD_FAULT_SLOW_MS);
      g_usleep (GVD_FAULT_SLOW_MS * 1000);
    }
  if (g_strcmp0 (crash_at, name) == 0)
    {
      g_message ("TEST-ONLY fault point '%s': raising SIGKILL", name);
      raise (SIGKILL);
    }
  if (g_strcmp0 (stop_at, name) == 0 && g_atomic_int_compare_and_exchange (&stop_fired, 0, 1))
    {
      g_message ("TEST-ONLY fault point '%s': raising SIGSTOP", name);
      raise (SIGSTOP);
    }
}

gboolean
gvd_fault_fails (const char *name)
{
  if (G_LIKELY (fail_at == NULL) || g_strcmp0 (fail_at, name) != 0)
    return FALSE;
  g_message ("TEST-ONLY fault point '%s': failing the step", name);
  return TRUE;
}
