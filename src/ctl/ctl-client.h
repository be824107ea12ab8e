/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's transport: HTTP over gpuvmd's unix socket (or TCP with a
 * bearer token) through libsoup, API errors mapped to GVD_CTL_ERROR, and
 * server-sent event streams read on the main loop. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define GVD_CTL_DEFAULT_SOCKET "/run/gpuvmd/gpuvmd.sock"

typedef struct {
  SoupSession *session;
  char *base;   /* "http://localhost" on the socket, else the URL without a trailing '/' */
  char *token;  /* bearer token or NULL; never printed */
  char *where;  /* "unix:PATH" or the URL, for messages */
} GvdCtlClient;

/* @url NULL: the unix socket @socket_path; else TCP to @url with @token. */
GvdCtlClient *gvd_ctl_client_new (const char *socket_path, const char *url, const char *token,
                                  GError **error);
void gvd_ctl_client_free (GvdCtlClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCtlClient, gvd_ctl_client_free)

/* Called about once a second while a call runs (progress on a terminal). */
typedef void (*GvdCtlTick) (guint seconds, gpointer user_data);

/* One request; @path may carry a query. A 2xx answer comes back as bytes
 * with its Content-Type in @out_content_type (may be NULL); anything else
 * is a GVD_CTL_ERROR (the API's message and code; exit code by status). A
 * daemon that cannot be reached is GVD_CTL_EXIT_UNREACHABLE. */
GBytes *gvd_ctl_client_call_raw (GvdCtlClient *client, const char *method, const char *path,
                                 JsonNode *body, GvdCtlTick tick, gpointer tick_data,
                                 char **out_content_type, GError **error);
/* The same, parsed as JSON; 204 and empty answers give a JSON null node. */
JsonNode *gvd_ctl_client_call (GvdCtlClient *client, const char *method, const char *path,
                               JsonNode *body, GvdCtlTick tick, gpointer tick_data,
                               GError **error);

/* An open event stream. @func gets each event (@type may be NULL) and
 * returns FALSE to stop reading. */
typedef gboolean (*GvdCtlEventFunc) (const char *id, const char *type, const char *data,
                                     gpointer user_data);
typedef struct _GvdCtlStream GvdCtlStream;

/* GET @path as text/event-stream (with Last-Event-ID: @last_event_id when
 * not NULL); returns once the answer's headers are in, so events emitted
 * after this returns are seen. Errors as for calls. */
GvdCtlStream *gvd_ctl_stream_open (GvdCtlClient *client, const char *path,
                                   const char *last_event_id, GError **error);
/* Read events on the default main context, handing each to @func. */
void gvd_ctl_stream_start (GvdCtlStream *stream, GvdCtlEventFunc func, gpointer user_data);
/* TRUE once the stream ended (closed by the daemon, an error, or @func
 * returned FALSE); *@out_error (may be NULL) says why when it failed. */
gboolean gvd_ctl_stream_ended (GvdCtlStream *stream, const GError **out_error);
void gvd_ctl_stream_free (GvdCtlStream *stream);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCtlStream, gvd_ctl_stream_free)

/* Iterate the default main context until @done (checked after each
 * dispatch) returns TRUE or @timeout_ms passes (0: no limit); FALSE on
 * timeout. */
gboolean gvd_ctl_run_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms);

G_END_DECLS
