/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A server-sent events parser fed one line at a time (pure), for
 * /v1/events and a followed console. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *id;       /* last "id:" seen, or NULL */
  char *event;    /* "event:" of the current event, or NULL ("message") */
  GString *data;  /* "data:" lines joined with "\n" */
  gboolean has_data;
  gboolean dispatched; /* the fields describe an event handed out */
} GvdCtlSse;

GvdCtlSse *gvd_ctl_sse_new (void);
void gvd_ctl_sse_free (GvdCtlSse *sse);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCtlSse, gvd_ctl_sse_free)

/* Feed one line (without its line ending). TRUE when it completed an event
 * (a blank line after data): then id/event/data describe it until the next
 * call. Comments (": ...") and unknown fields are ignored. */
gboolean gvd_ctl_sse_feed (GvdCtlSse *sse, const char *line);

G_END_DECLS
