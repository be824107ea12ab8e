/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP/JSON API: listeners, routing, authentication, JSON bodies and
 * the {"error": {"code", "message"}} answers. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "daemon.h"

G_BEGIN_DECLS

typedef struct _GvdApi GvdApi;

typedef enum {
  GVD_API_ROUTE_DEFAULT = 0,
  GVD_API_ROUTE_PUBLIC = 1 << 0, /* no bearer token needed (health probes) */
} GvdApiRouteFlags;

/* @path is the full request path; the route matched its prefix. */
typedef void (*GvdApiHandler) (GvdApi *api, SoupServerMessage *msg, const char *path,
                               GHashTable *query);

/* @token: bearer token every non-public route requires on TCP listeners;
 * NULL for none. Requests over a unix socket need none: its peer is
 * checked instead. Every request must name the listener in Host and may
 * not carry a foreign Origin (403). Connection cap and request timeout
 * start from [daemon] max_connections and request_timeout. */
GvdApi *gvd_api_new (GvdDaemon *daemon, const char *name, const char *token);
void gvd_api_free (GvdApi *api);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdApi, gvd_api_free)

/* For listeners added after the call: live connections per listener, and
 * seconds a client has to send its whole request. */
void gvd_api_set_limits (GvdApi *api, guint max_connections, guint request_timeout);
/* Serve TCP listeners added after the call over TLS. */
void gvd_api_set_tls (GvdApi *api, GTlsCertificate *certificate);
/* Accept the authority of @url ("http://10.0.2.2:8788") in Host too: the
 * name clients use through a NAT or proxy. */
gboolean gvd_api_add_host_alias (GvdApi *api, const char *url, GError **error);

/* TCP on "host:port". */
gboolean gvd_api_listen (GvdApi *api, const char *listen, GError **error);
/* A unix socket at @path for root, the daemon's user and @group (see
 * gvd_listener_new_unix). */
gboolean gvd_api_listen_unix (GvdApi *api, const char *path, const char *group,
                              GError **error);
/* "http://127.0.0.1:8787/" with the port actually bound (the first TCP
 * listener), or NULL. */
char *gvd_api_get_url (GvdApi *api);
/* "unix:/run/gpuvmd/gpuvmd.sock", or NULL. */
char *gvd_api_get_unix_url (GvdApi *api);
/* Connections open on all listeners. */
guint gvd_api_get_connections (GvdApi *api);
GvdDaemon *gvd_api_get_daemon (GvdApi *api);
/* Bound request bodies of this listener to @max_body bytes (refused from
 * the Content-Length, before buffering); the default is max_body_bytes. */
void gvd_api_set_max_body (GvdApi *api, guint max_body);

/* One (method, path template) a handler serves; "{x}" in @path matches
 * one non-empty segment. Tables end with { NULL, NULL }. */
typedef struct {
  const char *method;
  const char *path;
} GvdApiRoute;

/* Everything under @prefix goes to @handler (no table: prefer the below). */
void gvd_api_add_route (GvdApi *api, const char *prefix, GvdApiRouteFlags flags,
                        GvdApiHandler handler);
/* As above, but only the requests @routes names reach @handler: a path no
 * template matches is 404, a method the path does not serve 405 with the
 * table's methods in Allow. Each row is logged (g_debug "route NAME METHOD
 * PATH [public]"): the table the OpenAPI contract test walks. */
void gvd_api_add_routes (GvdApi *api, const char *prefix, GvdApiRouteFlags flags,
                         const GvdApiRoute *routes, GvdApiHandler handler);

/* Answers. The JSON node is not consumed. */
void gvd_api_reply_json (SoupServerMessage *msg, guint status, JsonNode *node);
void gvd_api_reply_builder (SoupServerMessage *msg, guint status, JsonBuilder *builder);
void gvd_api_reply_error (SoupServerMessage *msg, const GError *error);
/* As above with an extra "details" member inside "error" (e.g. plan reasons). */
void gvd_api_reply_error_details (SoupServerMessage *msg, const GError *error,
                                  JsonNode *details);
void gvd_api_reply_errorf (SoupServerMessage *msg, GvdErrorCode code, const char *format,
                           ...) G_GNUC_PRINTF (3, 4);
/* 405 with an Allow header. */
void gvd_api_reply_method_not_allowed (SoupServerMessage *msg, const char *allow);

/* The request body as a JSON object (new reference). Checks the media type
 * and the size bound; an empty body is an empty object when @empty_ok. */
JsonObject *gvd_api_read_object (SoupServerMessage *msg, gboolean empty_ok, GError **error);

/* The body check behind gvd_api_read_object (pure, also what the fuzz
 * targets feed): @length bytes of UTF-8 without NUL holding one JSON object
 * (new reference), else GVD_ERROR_INVALID_JSON. */
JsonObject *gvd_api_parse_object (const char *data, gsize length, GError **error);

/* Path segments after @prefix: "/v1/instances/a/start" with prefix
 * "/v1/instances" gives {"a", "start"}. Empty segments are errors (NULL). */
GStrv gvd_api_path_segments (const char *path, const char *prefix);

/* Long-lived streaming answers (server-sent events) open on this API:
 * acquire fails when @limit are open; release when the answer finishes. */
gboolean gvd_api_stream_acquire (GvdApi *api, guint limit);
void gvd_api_stream_release (GvdApi *api);

/* GET /v1/instances/{name}/console (api-console.c; routed by api-instances.c). */
void gvd_api_console_handle (GvdApi *api, SoupServerMessage *msg, const char *name,
                             GHashTable *query);

/* /v1/instances/{name}/snapshots[/{snap}[/revert]] (api-snapshots.c;
 * routed by api-instances.c): @seg are the segments after /v1/instances. */
void gvd_api_snapshots_handle (GvdApi *api, SoupServerMessage *msg, char **seg,
                               GHashTable *query);

/* /v1/instances/{name}/gpus[/{address}] (api-gpus.c; routed by
 * api-instances.c): @seg are the segments after /v1/instances. */
void gvd_api_gpus_handle (GvdApi *api, SoupServerMessage *msg, char **seg);
/* /v1/instances/{name}/disks[/{target}] and /networks[/{mac}]: hot-plug
 * (api-hotplug.c; routed by api-instances.c): @seg are the segments after
 * /v1/instances, seg[1] "disks" or "networks". */
void gvd_api_hotplug_handle (GvdApi *api, SoupServerMessage *msg, char **seg, GHashTable *query);

/* Route registration, one per API area (api-*.c). */
void gvd_api_health_register (GvdApi *api);
void gvd_api_instances_register (GvdApi *api);
/* GET /metrics: Prometheus text format, admin auth (api-metrics.c). */
void gvd_api_metrics_register (GvdApi *api);
/* Count every request @server answers in @daemon->metrics (when set). */
void gvd_api_metrics_watch_requests (SoupServer *server, GvdDaemon *daemon);
/* Count an instance operation (@op: "create", "start"...; NULL: not
 * counted) begun at @started (monotonic µs) and ended with @error (NULL:
 * success) in the daemon's metrics. */
void gvd_api_metrics_observe_op (GvdApi *api, const char *op, gint64 started,
                                 const GError *error);
/* Count an agent report that authenticated and passed (@accepted) or not. */
void gvd_api_agent_count_report (GvdApi *api, gboolean heartbeat, gboolean accepted);
/* A GvdAgentAddressMapFunc over @user_data, the GvdDaemon: the host address
 * an instance's hostdev has at a guest PCI address. */
char *gvd_api_metrics_map_guest_address (const char *name, const char *guest_address,
                                         gpointer user_data);
GvdIdemCache *gvd_api_instances_idempotency_new (void);
/* POST /v1/plans and GET /v1/devices/available (api-plans.c). */
void gvd_api_plans_register (GvdApi *api);
/* GET /v1/host: capability report, versions, host facts, GPUs (api-host.c). */
void gvd_api_host_register (GvdApi *api);
/* /v1/devices (not /v1/devices/available): the named-device registry. */
void gvd_api_devices_register (GvdApi *api);
/* /v1/reservations: devices and a MAC/IP held for a later create. */
void gvd_api_reservations_register (GvdApi *api);
/* /v1/images: base images in the storage pool (api-images.c). */
void gvd_api_images_register (GvdApi *api);
/* POST /v1/agent/{phone-home,heartbeat} on the agent listener, served by
 * gvd_api_get_daemon (api)->agent (api-agent.c). */
void gvd_api_agent_register (GvdApi *api);
/* Log every agent health change (g_message with GVD_INSTANCE); watch id. */
guint gvd_api_agent_log_health (GvdAgentHub *hub);
/* Emit every agent health notification as an agent.health event on
 * @events (GvdAgentHealthChange: name, old, new, reason, suppressed). */
guint gvd_api_agent_emit_events (GvdAgentHub *hub, GvdEvents *events);
/* GET /v1/events: server-sent events from gvd_api_get_daemon (api)->events
 * (api-events.c). Free the listener before the bus. */
void gvd_api_events_register (GvdApi *api);

G_END_DECLS
