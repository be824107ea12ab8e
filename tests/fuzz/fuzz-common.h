/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared set-up of the libFuzzer targets: GLib criticals and warnings are
 * bugs (a g_return_if_fail tripped by input), so they abort the run; so do
 * g_assert and GVD_FUZZ_FAIL. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* GLib breaks into a debugger (SIGTRAP) on fatal messages, which libFuzzer
 * does not catch: abort instead, so the input is saved as a crash. */
static inline void
gvd_fuzz_log_handler (const char *domain, GLogLevelFlags level, const char *message,
                      gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_printerr ("%s: %s\n", domain != NULL ? domain : "(null)", message);
      abort ();
    }
}

static inline GLogWriterOutput
gvd_fuzz_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                     gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

/* A failed property check: print and abort (a crash with its input saved). */
#define GVD_FUZZ_FAIL(...) (g_printerr (__VA_ARGS__), g_printerr ("\n"), abort ())

static inline void
gvd_fuzz_init (void)
{
  g_log_set_default_handler (gvd_fuzz_log_handler, NULL);
  g_log_set_writer_func (gvd_fuzz_log_writer, NULL, NULL);
}
