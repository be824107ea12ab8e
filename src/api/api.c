/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* API listeners: routing, bearer-token check, body bounds, JSON answers. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "json-util.h"
#include "listener.h"
#include "token-equal.h"

struct _GvdApi {
  GvdDaemon *daemon;
  char *name;
  char *token;
  SoupServer *server;
  guint max_body;
  GvdListenerLimits limits;
  GPtrArray *listeners; /* GvdListener * */
  GPtrArray *host_aliases; /* extra "host:port" names the TCP listeners answer to */
  guint streams;           /* streaming answers open (gvd_api_stream_acquire) */
};

typedef struct {
  GvdApi *api;
  GvdApiHandler handler;
  GvdApiRouteFlags flags;
  char *prefix;
} Route;

static void
route_free (gpointer data)
{
  Route *route = data;

  g_free (route->prefix);
  g_free (route);
}

/* ---- answers ------------------------------------------------------------ */

void
gvd_api_reply_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autofree char *body = json_to_string (node, FALSE);
  gsize len = strlen (body);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&body), len);
}

void
gvd_api_reply_builder (SoupServerMessage *msg, guint status, JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  gvd_api_reply_json (msg, status, root);
}

void
gvd_api_reply_error_details (SoupServerMessage *msg, const GError *error, JsonNode *details)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  GvdErrorCode code = gvd_error_get_code (error);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, gvd_error_code_name (code));
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, error != NULL ? error->message : "unknown error");
  if (details != NULL)
    {
      json_builder_set_member_name (b, "details");
      json_builder_add_value (b, json_node_copy (details));
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
  gvd_api_reply_builder (msg, gvd_error_code_http_status (code), b);
}

void
gvd_api_reply_error (SoupServerMessage *msg, const GError *error)
{
  gvd_api_reply_error_details (msg, error, NULL);
}

void
gvd_api_reply_errorf (SoupServerMessage *msg, GvdErrorCode code, const char *format, ...)
{
  g_autoptr(GError) error = NULL;
  va_list ap;

  va_start (ap, format);
  error = g_error_new_valist (GVD_ERROR, code, format, ap);
  va_end (ap);
  gvd_api_reply_error (msg, error);
}

void
gvd_api_reply_method_not_allowed (SoupServerMessage *msg, const char *allow)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allow);
  gvd_api_reply_errorf (msg, GVD_ERROR_METHOD_NOT_ALLOWED, "%s is not allowed here (allowed: %s)",
                        soup_server_message_get_method (msg), allow);
}

/* ---- requests ------------------------------------------------------------ */

JsonObject *
gvd_api_read_object (SoupServerMessage *msg, gboolean empty_ok, GError **error)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *ctype;

  /* Checked before the empty case: a browser can send a bodiless cross-site
   * POST with a "simple" type (text/plain, form), never application/json. */
  ctype = soup_message_headers_get_content_type (headers, NULL);
  if (ctype == NULL || g_ascii_strcasecmp (ctype, "application/json") != 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_UNSUPPORTED_MEDIA_TYPE,
                   "the request must be sent as JSON (Content-Type: application/json, also "
                   "with an empty body), not %s",
                   ctype != NULL ? ctype : "unspecified");
      return NULL;
    }
  if (body->length == 0 && empty_ok)
    return json_object_new ();
  if (body->length == 0)
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_JSON,
                           "the request body is empty: a JSON object is required");
      return NULL;
    }
  return gvd_api_parse_object (body->data, body->length, error);
}

JsonObject *
gvd_api_parse_object (const char *data, gsize length, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (memchr (data, '\0', length) != NULL || !g_utf8_validate (data, length, NULL))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_JSON,
                           "the request body is not valid UTF-8 text");
      return NULL;
    }
  /* json-glib recurses once per level without a bound: never hand it a
   * body nested deeper than we allow. */
  if (!gvd_json_check_depth (data, length, GVD_JSON_MAX_DEPTH, error)
      || !gvd_json_check_no_nul (data, length, error))
    return NULL;
  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_JSON, "the request body is not valid JSON: %s",
                   local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_JSON,
                           "the request body must be a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

GStrv
gvd_api_path_segments (const char *path, const char *prefix)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  const char *rest;
  g_auto(GStrv) parts = NULL;

  if (!g_str_has_prefix (path, prefix))
    return NULL;
  rest = path + strlen (prefix);
  if (*rest == '\0')
    return g_strv_builder_end (b);
  if (*rest != '/' || rest[1] == '\0')
    return rest[0] == '/' ? g_strv_builder_end (b) : NULL;
  parts = g_strsplit (rest + 1, "/", 16);
  for (gsize i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0')
        return NULL;
      g_strv_builder_add (b, parts[i]);
    }
  return g_strv_builder_end (b);
}

/* ---- routing ------------------------------------------------------------- */

static gboolean
authorized (GvdApi *api, SoupServerMessage *msg)
{
  const char *auth;

  if (api->token == NULL)
    return TRUE;
  auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                       "Authorization");
  if (auth == NULL || g_ascii_strncasecmp (auth, "Bearer ", 7) != 0)
    return FALSE;
  auth += 7;
  return gvd_token_equal (api->token, auth);
}

/* "Host: a:80" and "Host: a" name the same http listener. Lower case,
 * with the port spelled out. */
static char *
normalize_authority (const char *authority, guint default_port)
{
  const char *bracket = strrchr (authority, ']');
  const char *colon = strrchr (authority, ':');
  g_autofree char *with_port = NULL;

  if (colon == NULL || (bracket != NULL && colon < bracket))
    {
      with_port = g_strdup_printf ("%s:%u", authority, default_port);
      return g_ascii_strdown (with_port, -1);
    }
  return g_ascii_strdown (authority, -1);
}

static gboolean
authority_equal (const char *a, const char *b, guint default_port)
{
  g_autofree char *na = normalize_authority (a, default_port);
  g_autofree char *nb = normalize_authority (b, default_port);

  return g_str_equal (na, nb);
}

/* The names a request may give for the listener it came in on: DNS
 * rebinding gives the attacker's name, which none of these is. */
static gboolean
host_allowed (GvdApi *api, const GvdListenerPeer *peer, const char *host)
{
  guint default_port = peer->tls ? 443 : 80;

  if (host == NULL || *host == '\0' || strlen (host) > 255)
    return FALSE;
  if (peer->kind == GVD_LISTENER_UNIX)
    return authority_equal (host, "localhost", 80);
  if (peer->local_authority != NULL && authority_equal (host, peer->local_authority, default_port))
    return TRUE;
  if (peer->loopback)
    {
      g_autofree char *local = g_strdup_printf ("localhost:%u", peer->local_port);
      if (authority_equal (host, local, default_port))
        return TRUE;
    }
  for (guint i = 0; i < api->host_aliases->len; i++)
    if (authority_equal (host, api->host_aliases->pdata[i], default_port))
      return TRUE;
  return FALSE;
}

/* The authority libsoup resolved the request to (an absolute-form request
 * line overrides Host). */
static char *
uri_authority (SoupServerMessage *msg, guint default_port)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;
  gint port;

  if (host == NULL)
    return NULL;
  port = g_uri_get_port (uri);
  if (port < 0)
    port = (gint) default_port;
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%d", host, port);
  return g_strdup_printf ("%s:%d", host, port);
}

/* Who may talk to this listener at all, before any route runs: the unix
 * socket's peer, the Host the request names, and browsers (a foreign
 * Origin). FALSE after answering 403. */
static gboolean
transport_allowed (GvdApi *api, SoupServerMessage *msg)
{
  const GvdListenerPeer *peer = gvd_listener_peer_from_msg (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *host = soup_message_headers_get_one (headers, "Host");
  const char *origin = soup_message_headers_get_one (headers, "Origin");
  const char *scheme;
  g_autofree char *resolved = NULL;

  if (peer == NULL)
    return TRUE;
  if (peer->over_cap)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Retry-After", "1");
      gvd_api_reply_errorf (msg, GVD_ERROR_UNAVAILABLE,
                            "too many connections to the %s listener: retry later", api->name);
      return FALSE;
    }
  scheme = peer->tls ? "https" : "http";
  if (peer->kind == GVD_LISTENER_UNIX && !peer->peer_allowed)
    {
      g_message ("%s socket: refused a request from uid %u (not root, the daemon's user or "
                 "the socket group)", api->name, (guint) peer->peer_uid);
      gvd_api_reply_errorf (msg, GVD_ERROR_FORBIDDEN,
                            "uid %u may not use this socket: only root and members of the "
                            "socket's group may", (guint) peer->peer_uid);
      return FALSE;
    }
  resolved = uri_authority (msg, peer->tls ? 443 : 80);
  if (!host_allowed (api, peer, host) || resolved == NULL || !host_allowed (api, peer, resolved))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_FORBIDDEN,
                            "the Host header must name this listener (got %s)",
                            host != NULL ? "another name" : "none");
      return FALSE;
    }
  if (origin != NULL)
    {
      gsize n = strlen (scheme);

      if (g_ascii_strncasecmp (origin, scheme, n) != 0 || strncmp (origin + n, "://", 3) != 0
          || !authority_equal (origin + n + 3, host, peer->tls ? 443 : 80))
        {
          gvd_api_reply_errorf (msg, GVD_ERROR_FORBIDDEN,
                                "cross-origin requests are refused (Origin is not %s://%s)",
                                scheme, host);
          return FALSE;
        }
    }
  return TRUE;
}

static void
route_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
          gpointer user_data)
{
  Route *route = user_data;
  const GvdListenerPeer *peer = gvd_listener_peer_from_msg (msg);

  /* A prefix route must not swallow "/healthzzz": only the prefix itself or
   * the prefix followed by '/'. */
  if (!g_str_equal (path, route->prefix) && path[strlen (route->prefix)] != '/')
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  /* The unix socket is the credential (its peer was checked early); TCP
   * needs the bearer token. */
  if (!(route->flags & GVD_API_ROUTE_PUBLIC)
      && (peer == NULL || peer->kind != GVD_LISTENER_UNIX) && !authorized (route->api, msg))
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "WWW-Authenticate", "Bearer realm=\"gpuvmd\"");
      gvd_api_reply_errorf (msg, GVD_ERROR_UNAUTHORIZED,
                            "a valid bearer token is required (Authorization: Bearer ...)");
      return;
    }
  g_debug ("%s %s %s", route->api->name, soup_server_message_get_method (msg), path);
  route->handler (route->api, msg, path, query);
}

static void
not_found_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
              gpointer user_data)
{
  gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
}

/* Before the body is read: refuse bodies over the bound, and chunked
 * uploads whose size is unknown, without buffering them. */
static void
early_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
          gpointer user_data)
{
  GvdApi *api = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupEncoding enc = soup_message_headers_get_encoding (headers);

  if (!transport_allowed (api, msg))
    return;
  if (enc == SOUP_ENCODING_CHUNKED || enc == SOUP_ENCODING_EOF)
    {
      g_autoptr(GError) error =
        g_error_new (GVD_ERROR, GVD_ERROR_PAYLOAD_TOO_LARGE,
                     "request bodies need a Content-Length (at most %u bytes)", api->max_body);
      gvd_api_reply_error (msg, error);
      soup_server_message_set_status (msg, SOUP_STATUS_LENGTH_REQUIRED, NULL);
      return;
    }
  if (enc == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (headers) > api->max_body)
    gvd_api_reply_errorf (msg, GVD_ERROR_PAYLOAD_TOO_LARGE,
                          "request body of %" G_GINT64_FORMAT " bytes is over the limit of %u",
                          soup_message_headers_get_content_length (headers), api->max_body);
}

void
gvd_api_add_route (GvdApi *api, const char *prefix, GvdApiRouteFlags flags, GvdApiHandler handler)
{
  Route *route = g_new0 (Route, 1);

  route->api = api;
  route->handler = handler;
  route->flags = flags;
  route->prefix = g_strdup (prefix);
  soup_server_add_handler (api->server, prefix, route_cb, route, route_free);
  /* libsoup finds early handlers by path like handlers, so each route
   * needs its own for the body bound to apply. */
  soup_server_add_early_handler (api->server, prefix, early_cb, api, NULL);
}

GvdApi *
gvd_api_new (GvdDaemon *daemon, const char *name, const char *token)
{
  GvdApi *api = g_new0 (GvdApi, 1);

  api->daemon = daemon;
  api->name = g_strdup (name);
  api->token = g_strdup (token);
  api->max_body = daemon->config->max_body_bytes;
  api->limits.max_connections = daemon->config->max_connections;
  api->limits.request_timeout = daemon->config->request_timeout;
  api->listeners = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_listener_free);
  api->host_aliases = g_ptr_array_new_with_free_func (g_free);
  api->server = soup_server_new ("server-header", "gpuvmd/" PACKAGE_VERSION " ", NULL);
  soup_server_add_early_handler (api->server, NULL, early_cb, api, NULL);
  soup_server_add_handler (api->server, NULL, not_found_cb, api, NULL);
  gvd_api_metrics_watch_requests (api->server, daemon);
  return api;
}

void
gvd_api_free (GvdApi *api)
{
  if (api == NULL)
    return;
  /* Stop accepting first; then libsoup closes what is in flight. */
  g_ptr_array_unref (api->listeners);
  soup_server_disconnect (api->server);
  g_object_unref (api->server);
  g_clear_object (&api->limits.tls);
  g_ptr_array_unref (api->host_aliases);
  if (api->token != NULL)
    memset (api->token, 0, strlen (api->token));
  g_free (api->token);
  g_free (api->name);
  g_free (api);
}

void
gvd_api_set_limits (GvdApi *api, guint max_connections, guint request_timeout)
{
  api->limits.max_connections = max_connections;
  api->limits.request_timeout = request_timeout;
}

void
gvd_api_set_tls (GvdApi *api, GTlsCertificate *certificate)
{
  g_set_object (&api->limits.tls, certificate);
}

gboolean
gvd_api_add_host_alias (GvdApi *api, const char *url, GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, error);
  const char *host;

  if (uri == NULL)
    return FALSE;
  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, "%s names no host", url);
      return FALSE;
    }
  if (g_uri_get_port (uri) < 0)
    g_ptr_array_add (api->host_aliases,
                     g_strdup_printf (strchr (host, ':') != NULL ? "[%s]" : "%s", host));
  else
    g_ptr_array_add (api->host_aliases,
                     g_strdup_printf (strchr (host, ':') != NULL ? "[%s]:%d" : "%s:%d", host,
                                      g_uri_get_port (uri)));
  return TRUE;
}

gboolean
gvd_api_listen (GvdApi *api, const char *listen, GError **error)
{
  GvdListener *l = gvd_listener_new_tcp (api->server, api->name, listen, &api->limits, error);

  if (l == NULL)
    return FALSE;
  g_ptr_array_add (api->listeners, l);
  return TRUE;
}

gboolean
gvd_api_listen_unix (GvdApi *api, const char *path, const char *group, GError **error)
{
  GvdListener *l = gvd_listener_new_unix (api->server, api->name, path, group, &api->limits,
                                          error);

  if (l == NULL)
    return FALSE;
  g_ptr_array_add (api->listeners, l);
  return TRUE;
}

static GvdListener *
find_listener (GvdApi *api, GvdListenerKind kind)
{
  for (guint i = 0; i < api->listeners->len; i++)
    if (gvd_listener_get_kind (api->listeners->pdata[i]) == kind)
      return api->listeners->pdata[i];
  return NULL;
}

char *
gvd_api_get_url (GvdApi *api)
{
  GvdListener *l = find_listener (api, GVD_LISTENER_TCP);

  return l != NULL ? g_strdup (gvd_listener_get_url (l)) : NULL;
}

char *
gvd_api_get_unix_url (GvdApi *api)
{
  GvdListener *l = find_listener (api, GVD_LISTENER_UNIX);

  return l != NULL ? g_strdup (gvd_listener_get_url (l)) : NULL;
}

guint
gvd_api_get_connections (GvdApi *api)
{
  guint n = 0;

  for (guint i = 0; i < api->listeners->len; i++)
    n += gvd_listener_get_connections (api->listeners->pdata[i]);
  return n;
}

GvdDaemon *
gvd_api_get_daemon (GvdApi *api)
{
  return api->daemon;
}

void
gvd_api_set_max_body (GvdApi *api, guint max_body)
{
  api->max_body = max_body;
}

gboolean
gvd_api_stream_acquire (GvdApi *api, guint limit)
{
  g_return_val_if_fail (api != NULL, FALSE);

  if (api->streams >= limit)
    return FALSE;
  api->streams++;
  return TRUE;
}

void
gvd_api_stream_release (GvdApi *api)
{
  g_return_if_fail (api != NULL && api->streams > 0);

  api->streams--;
}
