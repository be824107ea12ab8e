/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's exit codes and its error domain: API error bodies and HTTP
 * statuses mapped to an exit code (pure). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exit codes, documented in gpuvmctl(1); also the codes of GVD_CTL_ERROR. */
typedef enum {
  GVD_CTL_EXIT_OK = 0,
  GVD_CTL_EXIT_API = 1,          /* the API answered with an error */
  GVD_CTL_EXIT_USAGE = 2,        /* bad command line */
  GVD_CTL_EXIT_UNREACHABLE = 3,  /* no daemon at the socket/URL */
  GVD_CTL_EXIT_NOT_FOUND = 4,    /* 404: no such instance, image, device... */
  GVD_CTL_EXIT_CONFLICT = 5,     /* 409: exists already, in use, wrong state */
} GvdCtlExit;

#define GVD_CTL_ERROR (gvd_ctl_error_quark ())
GQuark gvd_ctl_error_quark (void);

/* The exit code for an API error: by its code when known, else by the
 * HTTP status (404 → not found, 409 → conflict, anything else → API error). */
GvdCtlExit gvd_ctl_exit_for_api (guint status, const char *code);

/* An error answer (@body, the raw bytes of {"error": {"code", "message",
 * "details"?}}) as a GVD_CTL_ERROR whose message is "MESSAGE (CODE)",
 * followed by one indented line per details[].message. A body that is not
 * an error document gives "HTTP STATUS REASON". */
GError *gvd_ctl_error_from_api (guint status, const char *reason, const char *body, gsize len);

/* The exit code a GError stands for (GVD_CTL_ERROR codes are exit codes;
 * any other domain is an API-level failure, 1). */
GvdCtlExit gvd_ctl_exit_for_error (const GError *error);

G_END_DECLS
