/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* API listeners: routing, bearer-token check, body bounds, JSON answers. */
#include "config.h"

#include "api.h"

#include <string.h>

struct _GvdApi {
  GvdDaemon *daemon;
  char *name;
  char *token;
  SoupServer *server;
  guint max_body;
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

  if (body->length == 0 && empty_ok)
    return json_object_new ();

  ctype = soup_message_headers_get_content_type (headers, NULL);
  if (ctype == NULL || g_ascii_strcasecmp (ctype, "application/json") != 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_UNSUPPORTED_MEDIA_TYPE,
                   "the request body must be JSON (Content-Type: application/json), not %s",
                   ctype != NULL ? ctype : "unspecified");
      return NULL;
    }
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
  gsize want, got;
  guint diff;

  if (api->token == NULL)
    return TRUE;
  auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                       "Authorization");
  if (auth == NULL || g_ascii_strncasecmp (auth, "Bearer ", 7) != 0)
    return FALSE;
  auth += 7;
  /* Constant time in the token's length. */
  want = strlen (api->token);
  got = strlen (auth);
  diff = want ^ got;
  for (gsize i = 0; i < want; i++)
    diff |= (guchar) api->token[i] ^ (guchar) (i < got ? auth[i] : 0);
  return diff == 0;
}

static void
route_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
          gpointer user_data)
{
  Route *route = user_data;

  /* A prefix route must not swallow "/healthzzz": only the prefix itself or
   * the prefix followed by '/'. */
  if (!g_str_equal (path, route->prefix) && path[strlen (route->prefix)] != '/')
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (!(route->flags & GVD_API_ROUTE_PUBLIC) && !authorized (route->api, msg))
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
  api->server = soup_server_new ("server-header", "gpuvmd/" PACKAGE_VERSION " ", NULL);
  soup_server_add_early_handler (api->server, NULL, early_cb, api, NULL);
  soup_server_add_handler (api->server, NULL, not_found_cb, api, NULL);
  return api;
}

void
gvd_api_free (GvdApi *api)
{
  if (api == NULL)
    return;
  soup_server_disconnect (api->server);
  g_object_unref (api->server);
  if (api->token != NULL)
    memset (api->token, 0, strlen (api->token));
  g_free (api->token);
  g_free (api->name);
  g_free (api);
}

gboolean
gvd_api_listen (GvdApi *api, const char *listen, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port;
  g_autoptr(GInetAddress) addr = NULL;
  g_autoptr(GSocketAddress) sa = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!gvd_config_parse_listen (listen, &host, &port, error))
    return FALSE;
  if (*host == '\0')
    addr = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  else if (g_str_equal (host, "localhost"))
    addr = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    addr = g_inet_address_new_from_string (host);
  sa = g_inet_socket_address_new (addr, port);
  if (!soup_server_listen (api->server, sa, 0, &local_error))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "%s listener cannot listen on %s: %s",
                   api->name, listen, local_error->message);
      return FALSE;
    }
  return TRUE;
}

char *
gvd_api_get_url (GvdApi *api)
{
  GSList *uris = soup_server_get_uris (api->server);
  char *url = NULL;

  if (uris != NULL)
    url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return url;
}

GvdDaemon *
gvd_api_get_daemon (GvdApi *api)
{
  return api->daemon;
}
