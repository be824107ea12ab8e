/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listening sockets for a SoupServer, accepted by gpuvmd itself so every
 * connection is counted, capped, timed out and (on unix sockets) checked
 * against its peer's credentials before libsoup sees a byte of it. */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct _GvdListener GvdListener;

typedef enum {
  GVD_LISTENER_TCP,
  GVD_LISTENER_UNIX,
} GvdListenerKind;

/* Connections past max_connections that still get a 503 answer; more are
 * closed unanswered. */
#define GVD_LISTENER_OVERFLOW 16

typedef struct {
  guint max_connections; /* live connections; more get 503 */
  guint request_timeout; /* seconds from accept to a fully read request */
  GTlsCertificate *tls;  /* TCP only: serve https; NULL for http */
} GvdListenerLimits;

/* What the routing layer needs to know about the connection a request
 * came on (gvd_listener_conn_from_msg). */
typedef struct {
  GvdListenerKind kind;
  gboolean tls;
  gboolean loopback;       /* TCP: the local address is a loopback one */
  char *local_authority;   /* TCP: "127.0.0.1:8787", "[::1]:8787"; unix: NULL */
  guint16 local_port;
  gboolean peer_known;     /* unix: SO_PEERCRED was read */
  uid_t peer_uid;
  pid_t peer_pid;
  gboolean peer_allowed;   /* unix: root, the daemon's user or the socket group */
  gboolean over_cap;       /* accepted past max_connections: answer 503 */
} GvdListenerPeer;

/* TCP on @listen ("host:port", see gvd_config_parse_listen). */
GvdListener *gvd_listener_new_tcp (SoupServer *server, const char *name, const char *listen,
                                   const GvdListenerLimits *limits, GError **error);
/* A unix socket at @path: parent directory created 0755 when missing and
 * refused when someone other than the daemon's user owns it or others can
 * write to it; a stale socket is replaced, any other file refused. Mode
 * 0660 with group @group when that group exists, else 0600. */
GvdListener *gvd_listener_new_unix (SoupServer *server, const char *name, const char *path,
                                    const char *group, const GvdListenerLimits *limits,
                                    GError **error);
/* Stops accepting; connections in flight are closed by the server. */
void gvd_listener_free (GvdListener *listener);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdListener, gvd_listener_free)

GvdListenerKind gvd_listener_get_kind (GvdListener *listener);
/* "http://127.0.0.1:8787/", "https://[::1]:8787/" or "unix:/run/gpuvmd/gpuvmd.sock". */
const char *gvd_listener_get_url (GvdListener *listener);
/* Connections accepted and not yet finished. */
guint gvd_listener_get_connections (GvdListener *listener);

/* The connection @msg arrived on; NULL for a message that did not come
 * through a GvdListener. */
const GvdListenerPeer *gvd_listener_peer_from_msg (SoupServerMessage *msg);

/* TRUE when the user @uid is in group @gid (primary or supplementary, from
 * the user database). */
gboolean gvd_listener_user_in_group (uid_t uid, gid_t gid);

G_END_DECLS
