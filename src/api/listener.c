/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listening sockets accepted by gpuvmd and handed to libsoup one connection
 * at a time: a cap per listener, a deadline for the whole request, one
 * request per connection (libsoup 3.2.3 leaks keep-alive connections the
 * client closed, in CLOSE-WAIT), and SO_PEERCRED on unix sockets. */
#include "config.h"

#include "listener.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>
#include <gio/gunixsocketaddress.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "gvd-config.h"

#define LISTEN_BACKLOG 128

struct _GvdListener {
  SoupServer *server;
  char *name;
  GvdListenerKind kind;
  GSocketService *service;
  guint max_connections;
  guint request_timeout;
  GTlsCertificate *tls;
  char *url;
  /* unix: the socket file we made, removed again at free */
  char *path;
  dev_t dev;
  ino_t ino;
  gboolean have_gid;
  gid_t gid;
  GHashTable *conns; /* Conn *: accepted and not yet destroyed */
  guint live;        /* counted connections */
  gboolean at_cap;   /* logged that the cap was reached */
  gulong signals[4];
};

/* One accepted connection. Lives as long as the local address object
 * handed to libsoup (qdata), which libsoup drops with the connection. */
typedef struct {
  GvdListenerPeer peer;
  GvdListener *listener; /* NULL once the listener is gone */
  GSocket *socket;
  GSource *deadline;
  gboolean released;
} Conn;

static GQuark
conn_quark (void)
{
  return g_quark_from_static_string ("gvd-listener-conn");
}

/* ---- accounting ---------------------------------------------------------- */

static void
conn_release (Conn *conn)
{
  if (conn->deadline != NULL)
    {
      g_source_destroy (conn->deadline);
      g_clear_pointer (&conn->deadline, g_source_unref);
    }
  if (conn->released)
    return;
  conn->released = TRUE;
  if (conn->listener != NULL)
    {
      conn->listener->live--;
      if (conn->listener->live < conn->listener->max_connections)
        conn->listener->at_cap = FALSE;
    }
}

static void
conn_destroy (gpointer data)
{
  Conn *conn = data;

  conn_release (conn);
  if (conn->listener != NULL)
    g_hash_table_remove (conn->listener->conns, conn);
  g_clear_object (&conn->socket);
  g_free (conn->peer.local_authority);
  g_free (conn);
}

static Conn *
conn_from_msg (SoupServerMessage *msg)
{
  GSocketAddress *local = soup_server_message_get_local_address (msg);

  if (local == NULL)
    return NULL;
  return g_object_get_qdata (G_OBJECT (local), conn_quark ());
}

const GvdListenerPeer *
gvd_listener_peer_from_msg (SoupServerMessage *msg)
{
  Conn *conn = conn_from_msg (msg);

  return conn != NULL ? &conn->peer : NULL;
}

/* The whole request must arrive within request_timeout of the accept: a
 * client that sends nothing, or dribbles headers, is cut off. Shutting the
 * socket down (not closing it) lets libsoup see EOF and free its side. */
static gboolean
deadline_cb (gpointer data)
{
  Conn *conn = data;

  g_debug ("%s listener: request not received within %u s, dropping the connection",
           conn->listener != NULL ? conn->listener->name : "?",
           conn->listener != NULL ? conn->listener->request_timeout : 0);
  g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
  g_clear_pointer (&conn->deadline, g_source_unref);
  conn_release (conn);
  return G_SOURCE_REMOVE;
}

/* ---- server signals (one request per connection) ------------------------- */

static Conn *
own_conn (GvdListener *l, SoupServerMessage *msg)
{
  Conn *conn = conn_from_msg (msg);

  return conn != NULL && conn->listener == l ? conn : NULL;
}

static void
request_started_cb (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  if (own_conn (user_data, msg) == NULL)
    return;
  /* One request per connection: libsoup then closes each connection after
   * its answer instead of keeping it alive (and leaking it). */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
}

static void
request_read_cb (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  Conn *conn = own_conn (user_data, msg);

  /* The request is in: handlers may take their time (event streams). */
  if (conn != NULL && conn->deadline != NULL)
    {
      g_source_destroy (conn->deadline);
      g_clear_pointer (&conn->deadline, g_source_unref);
    }
}

static void
request_done_cb (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  Conn *conn = own_conn (user_data, msg);

  if (conn != NULL)
    conn_release (conn);
}

/* ---- accepting ----------------------------------------------------------- */

/* Far over the cap: closed at once, unanswered. */
static void
refuse (GvdListener *l, GSocketConnection *connection)
{
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

static void
log_cap (GvdListener *l)
{
  if (l->at_cap)
    return;
  g_warning ("%s listener: %u connections open (the cap): answering 503 to new ones", l->name,
             l->live);
  l->at_cap = TRUE;
}

static char *
format_authority (GInetAddress *addr, guint16 port)
{
  g_autofree char *ip = NULL;
  const guint8 *b = g_inet_address_to_bytes (addr);

  /* A dual-stack socket sees IPv4 clients as ::ffff:a.b.c.d; they name
   * the address in its IPv4 form. */
  if (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6 && b[10] == 0xff && b[11] == 0xff
      && memcmp (b, "\0\0\0\0\0\0\0\0\0\0", 10) == 0)
    return g_strdup_printf ("%u.%u.%u.%u:%u", b[12], b[13], b[14], b[15], port);
  ip = g_inet_address_to_string (addr);
  if (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("[%s]:%u", ip, port);
  return g_strdup_printf ("%s:%u", ip, port);
}

gboolean
gvd_listener_user_in_group (uid_t uid, gid_t gid)
{
  struct passwd pw, *found = NULL;
  g_autofree char *buf = NULL;
  long size = sysconf (_SC_GETPW_R_SIZE_MAX);
  int ngroups = 64;

  if (size <= 0)
    size = 16384;
  buf = g_malloc (size);
  if (getpwuid_r (uid, &pw, buf, size, &found) != 0 || found == NULL)
    return FALSE;
  if (pw.pw_gid == gid)
    return TRUE;
  for (int attempt = 0; attempt < 4; attempt++)
    {
      g_autofree gid_t *groups = g_new (gid_t, ngroups);
      int n = ngroups;

      if (getgrouplist (pw.pw_name, pw.pw_gid, groups, &n) < 0)
        {
          /* n now holds the number needed (bounded: a user database answer). */
          ngroups = MIN (MAX (n, ngroups * 2), 65536);
          continue;
        }
      for (int i = 0; i < n; i++)
        if (groups[i] == gid)
          return TRUE;
      return FALSE;
    }
  return FALSE;
}

static void
read_peer_credentials (GvdListener *l, Conn *conn)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCredentials) creds = g_socket_get_credentials (conn->socket, &error);
  uid_t uid;

  if (creds == NULL || (uid = g_credentials_get_unix_user (creds, NULL)) == (uid_t) -1)
    {
      g_warning ("%s listener: cannot read the peer's credentials: %s", l->name,
                 error != NULL ? error->message : "unknown user");
      return;
    }
  conn->peer.peer_known = TRUE;
  conn->peer.peer_uid = uid;
  conn->peer.peer_pid = g_credentials_get_unix_pid (creds, NULL);
  conn->peer.peer_allowed = uid == 0 || uid == geteuid ()
                            || (l->have_gid && gvd_listener_user_in_group (uid, l->gid));
}

static gboolean
incoming_cb (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer user_data)
{
  GvdListener *l = user_data;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  Conn *conn;

  /* Up to GVD_LISTENER_OVERFLOW connections past the cap are read and
   * answered 503 (the routing layer sees over_cap), so clients learn why;
   * beyond that they are closed unanswered. */
  if (l->live >= l->max_connections + GVD_LISTENER_OVERFLOW)
    {
      log_cap (l);
      refuse (l, connection);
      return TRUE;
    }

  conn = g_new0 (Conn, 1);
  if (l->live >= l->max_connections)
    {
      log_cap (l);
      conn->peer.over_cap = TRUE;
    }
  conn->listener = l;
  conn->socket = g_object_ref (g_socket_connection_get_socket (connection));
  conn->peer.kind = l->kind;
  conn->peer.tls = l->tls != NULL;
  if (l->kind == GVD_LISTENER_TCP)
    {
      /* As libsoup does for the sockets it accepts: answers go out in
       * several writes, which Nagle would hold back for the client's ACK. */
      g_socket_set_option (conn->socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
      local = g_socket_connection_get_local_address (connection, NULL);
      remote = g_socket_connection_get_remote_address (connection, NULL);
      if (local != NULL && G_IS_INET_SOCKET_ADDRESS (local))
        {
          GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS (local);

          conn->peer.local_port = g_inet_socket_address_get_port (isa);
          conn->peer.local_authority =
            format_authority (g_inet_socket_address_get_address (isa), conn->peer.local_port);
          conn->peer.loopback =
            g_inet_address_get_is_loopback (g_inet_socket_address_get_address (isa))
            || g_str_has_prefix (conn->peer.local_authority, "127.");
        }
    }
  else
    {
      read_peer_credentials (l, conn);
      /* libsoup 3.2 reads inet addresses off every connection (HTTP/1.0
       * without Host); a unix peer gets a placeholder. */
      local = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
      remote = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
    }
  if (local == NULL || remote == NULL)
    {
      g_debug ("%s listener: connection without addresses, closed", l->name);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      conn->released = TRUE;
      conn->listener = NULL;
      conn_destroy (conn);
      return TRUE;
    }
  /* From here the connection is counted; it is uncounted when its request
   * finishes, its deadline passes or libsoup drops it, whichever is first. */
  l->live++;
  g_hash_table_add (l->conns, conn);
  g_object_set_qdata_full (G_OBJECT (local), conn_quark (), conn, conn_destroy);
  conn->deadline = g_timeout_source_new_seconds (l->request_timeout);
  g_source_set_callback (conn->deadline, deadline_cb, conn, NULL);
  g_source_set_name (conn->deadline, "gvd-listener-deadline");
  g_source_attach (conn->deadline, g_main_context_get_thread_default ());

  if (l->tls != NULL)
    {
      stream = (GIOStream *) g_tls_server_connection_new (G_IO_STREAM (connection), l->tls,
                                                          &error);
      if (stream == NULL)
        {
          g_warning ("%s listener: cannot start TLS: %s", l->name, error->message);
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          return TRUE; /* the address, and with it the Conn, goes now */
        }
      g_object_set (stream, "require-close-notify", FALSE, NULL);
    }
  else
    stream = g_object_ref (G_IO_STREAM (connection));
  if (!soup_server_accept_iostream (l->server, stream, local, remote, &error))
    {
      g_warning ("%s listener: %s", l->name, error->message);
      g_io_stream_close (stream, NULL, NULL);
    }
  return TRUE;
}

/* ---- construction -------------------------------------------------------- */

static GvdListener *
listener_new (SoupServer *server, const char *name, GvdListenerKind kind,
              const GvdListenerLimits *limits)
{
  GvdListener *l = g_new0 (GvdListener, 1);

  l->server = g_object_ref (server);
  l->name = g_strdup (name);
  l->kind = kind;
  l->max_connections = MAX (limits->max_connections, 1);
  l->request_timeout = MAX (limits->request_timeout, 1);
  if (kind == GVD_LISTENER_TCP && limits->tls != NULL)
    l->tls = g_object_ref (limits->tls);
  l->conns = g_hash_table_new (NULL, NULL);
  l->service = g_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (l->service), LISTEN_BACKLOG);
  g_signal_connect (l->service, "incoming", G_CALLBACK (incoming_cb), l);
  l->signals[0] = g_signal_connect (server, "request-started", G_CALLBACK (request_started_cb), l);
  l->signals[1] = g_signal_connect (server, "request-read", G_CALLBACK (request_read_cb), l);
  l->signals[2] = g_signal_connect (server, "request-finished", G_CALLBACK (request_done_cb), l);
  l->signals[3] = g_signal_connect (server, "request-aborted", G_CALLBACK (request_done_cb), l);
  return l;
}

GvdListener *
gvd_listener_new_tcp (SoupServer *server, const char *name, const char *listen,
                      const GvdListenerLimits *limits, GError **error)
{
  g_autoptr(GvdListener) l = NULL;
  g_autofree char *host = NULL;
  g_autofree char *authority = NULL;
  guint16 port;
  g_autoptr(GInetAddress) addr = NULL;
  g_autoptr(GSocketAddress) sa = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);
  g_return_val_if_fail (limits != NULL, NULL);

  if (!gvd_config_parse_listen (listen, &host, &port, error))
    return NULL;
  if (*host == '\0')
    addr = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  else if (g_str_equal (host, "localhost"))
    addr = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    addr = g_inet_address_new_from_string (host);
  sa = g_inet_socket_address_new (addr, port);

  l = listener_new (server, name, GVD_LISTENER_TCP, limits);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (l->service), sa, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &effective, &local_error))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                   /* TRANSLATORS: %s: the listener (admin or agent); %s: its address. */
                   _("%s listener cannot listen on %s: %s"), name, listen, local_error->message);
      return NULL;
    }
  authority = format_authority (addr,
                                g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective)));
  l->url = g_strdup_printf ("%s://%s/", l->tls != NULL ? "https" : "http", authority);
  g_socket_service_start (l->service);
  return g_steal_pointer (&l);
}

/* The directory holding the socket decides who may replace it: it must be
 * the daemon user's and writable by no one else. */
static gboolean
check_socket_dir (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  struct stat st;

  if (g_lstat (dir, &st) < 0)
    {
      if (errno != ENOENT)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("socket directory %s: %s"), dir,
                       g_strerror (errno));
          return FALSE;
        }
      if (g_mkdir_with_parents (dir, 0755) < 0 || g_chmod (dir, 0755) < 0)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                       _("cannot create the socket directory %s: %s"), dir, g_strerror (errno));
          return FALSE;
        }
      if (g_lstat (dir, &st) < 0)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("socket directory %s: %s"), dir,
                       g_strerror (errno));
          return FALSE;
        }
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("socket directory %s is not a directory"), dir);
      return FALSE;
    }
  if (st.st_uid != geteuid () || (st.st_mode & 022) != 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("socket directory %s is owned by uid %u with mode %04o: it must be owned "
                     "by uid %u and writable by no one else (chown %u %s; chmod 755 %s)"),
                   dir, (guint) st.st_uid, (guint) (st.st_mode & 07777), (guint) geteuid (),
                   (guint) geteuid (), dir, dir);
      return FALSE;
    }
  return TRUE;
}

/* A socket file left by a daemon that died is replaced; a live one (another
 * gpuvmd answering) and anything that is not a socket are refused. */
static gboolean
clear_stale_socket (const char *path, GError **error)
{
  struct stat st;
  g_autoptr(GSocket) probe = NULL;
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GError) probe_error = NULL;
  gboolean in_use = FALSE;

  if (g_lstat (path, &st) < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "%s: %s", path, g_strerror (errno));
      return FALSE;
    }
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("%s exists and is not a socket: refusing to replace it"), path);
      return FALSE;
    }
  probe = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                        NULL);
  addr = g_unix_socket_address_new (path);
  if (probe != NULL)
    {
      /* Never wait on a live daemon whose backlog is full: that is in use too. */
      g_socket_set_blocking (probe, FALSE);
      if (g_socket_connect (probe, addr, NULL, &probe_error)
          || g_error_matches (probe_error, G_IO_ERROR, G_IO_ERROR_PENDING)
          || g_error_matches (probe_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        in_use = TRUE;
    }
  if (in_use)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("%s is in use: another gpuvmd is serving on it"), path);
      return FALSE;
    }
  if (g_unlink (path) < 0 && errno != ENOENT)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot remove the stale socket %s: %s"), path,
                   g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static gboolean
lookup_group (const char *group, gid_t *out_gid)
{
  struct group gr, *found = NULL;
  long size = sysconf (_SC_GETGR_R_SIZE_MAX);
  g_autofree char *buf = NULL;

  if (size <= 0)
    size = 16384;
  buf = g_malloc (size);
  if (getgrnam_r (group, &gr, buf, size, &found) != 0 || found == NULL)
    return FALSE;
  *out_gid = gr.gr_gid;
  return TRUE;
}

GvdListener *
gvd_listener_new_unix (SoupServer *server, const char *name, const char *path, const char *group,
                       const GvdListenerLimits *limits, GError **error)
{
  g_autoptr(GvdListener) l = NULL;
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(GSocketAddress) addr = NULL;
  g_autoptr(GError) local_error = NULL;
  struct stat st;
  mode_t old_umask;
  gboolean bound;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);
  g_return_val_if_fail (path != NULL && g_path_is_absolute (path), NULL);

  if (strlen (path) >= 108)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("socket path %s is too long (at most 107 bytes)"), path);
      return NULL;
    }
  if (!check_socket_dir (path, error) || !clear_stale_socket (path, error))
    return NULL;

  l = listener_new (server, name, GVD_LISTENER_UNIX, limits);
  if (group != NULL && *group != '\0')
    {
      l->have_gid = lookup_group (group, &l->gid);
      if (!l->have_gid)
        g_message ("%s socket: group '%s' does not exist: the socket is root's alone "
                   "(groupadd %s, then restart, to share it)", name, group, group);
      else
        g_message ("%s socket: for root and group '%s'", name, group);
    }

  sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                       &local_error);
  if (sock == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                   /* TRANSLATORS: %s: the listener (admin or agent); %s: the error. */
                   _("%s listener: %s"), name, local_error->message);
      return NULL;
    }
  addr = g_unix_socket_address_new (path);
  /* Created 0600 so it is never, even briefly, open to others; the group
   * is granted below, once it is ours. */
  old_umask = umask (0177);
  bound = g_socket_bind (sock, addr, FALSE, &local_error);
  umask (old_umask);
  if (!bound)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                   /* TRANSLATORS: %s: the listener (admin or agent); %s: the socket. */
                   _("%s listener cannot bind %s: %s"), name, path,
                   local_error->message);
      return NULL;
    }
  l->path = g_strdup (path);
  if (g_lstat (path, &st) == 0)
    {
      l->dev = st.st_dev;
      l->ino = st.st_ino;
    }
  if (l->have_gid && (chown (path, (uid_t) -1, l->gid) < 0 || g_chmod (path, 0660) < 0))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, _("cannot give %s to group %s: %s"), path, group,
                   g_strerror (errno));
      return NULL;
    }
  g_socket_set_listen_backlog (sock, LISTEN_BACKLOG);
  if (!g_socket_listen (sock, &local_error)
      || !g_socket_listener_add_socket (G_SOCKET_LISTENER (l->service), sock, NULL, &local_error))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                   /* TRANSLATORS: %s: the listener (admin or agent); %s: the socket. */
                   _("%s listener cannot listen on %s: %s"), name, path, local_error->message);
      return NULL;
    }
  l->url = g_strdup_printf ("unix:%s", path);
  g_socket_service_start (l->service);
  return g_steal_pointer (&l);
}

void
gvd_listener_free (GvdListener *l)
{
  GHashTableIter iter;
  gpointer key;
  struct stat st;

  if (l == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (l->signals); i++)
    if (l->signals[i] != 0)
      g_signal_handler_disconnect (l->server, l->signals[i]);
  g_signal_handlers_disconnect_by_data (l->service, l);
  g_socket_service_stop (l->service);
  g_socket_listener_close (G_SOCKET_LISTENER (l->service));
  g_object_unref (l->service);
  /* Connections still in libsoup's hands outlive us: cut them loose. */
  g_hash_table_iter_init (&iter, l->conns);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Conn *conn = key;

      conn_release (conn);
      conn->listener = NULL;
    }
  g_hash_table_unref (l->conns);
  /* Remove the socket file only if it is still the one we made. */
  if (l->path != NULL && g_lstat (l->path, &st) == 0 && S_ISSOCK (st.st_mode)
      && st.st_dev == l->dev && st.st_ino == l->ino)
    g_unlink (l->path);
  g_clear_object (&l->tls);
  g_object_unref (l->server);
  g_free (l->path);
  g_free (l->url);
  g_free (l->name);
  g_free (l);
}

GvdListenerKind
gvd_listener_get_kind (GvdListener *l)
{
  return l->kind;
}

const char *
gvd_listener_get_url (GvdListener *l)
{
  return l->url;
}

guint
gvd_listener_get_connections (GvdListener *l)
{
  return l->live;
}
