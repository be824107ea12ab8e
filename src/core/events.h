/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event bus behind GET /v1/events: numbered events, a replay ring and
 * subscribers; SSE formatting. Main thread only. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define GVD_EVENTS_RING_SIZE 256

typedef struct {
  guint64 id;      /* 1, 2, ... in emit order */
  gint64 time;     /* wall clock, microseconds since the epoch */
  char *type;      /* "instance.state" */
  char *data;      /* one line of JSON: the payload with a "time" member */
} GvdEvent;

typedef struct _GvdEvents GvdEvents;

/* Wall clock in microseconds: the daemon passes g_get_real_time, tests
 * their own. */
typedef gint64 (*GvdEventsClock) (void);
typedef void (*GvdEventsFunc) (const GvdEvent *event, gpointer user_data);

/* @ring_size: events kept for Last-Event-ID replay (at least 1). */
GvdEvents *gvd_events_new (guint ring_size, GvdEventsClock clock);
void gvd_events_free (GvdEvents *events);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdEvents, gvd_events_free)

/* Numbers, stamps, keeps and fans out one event; @data (a JSON object, or
 * NULL for {}) is consumed. NULL @events drops it. Returns the id (0 when
 * dropped). Subscribers may unsubscribe (themselves or others) from the
 * callback. */
guint64 gvd_events_emit (GvdEvents *events, const char *type, JsonNode *data);

/* Returns an id for unsubscribe (never 0). */
guint gvd_events_subscribe (GvdEvents *events, GvdEventsFunc func, gpointer user_data);
void gvd_events_unsubscribe (GvdEvents *events, guint id);
guint gvd_events_n_subscribers (GvdEvents *events);
/* The id the next event gets minus one (0 before any). */
guint64 gvd_events_last_id (GvdEvents *events);

/* The kept events with an id above @after, oldest first (borrowed, valid
 * until the next emit). An @after at or beyond the last id gives none. */
GPtrArray *gvd_events_since (GvdEvents *events, guint64 after);

/* "id: N\nevent: TYPE\ndata: JSON\n\n". */
char *gvd_event_format_sse (const GvdEvent *event);
/* A Last-Event-ID header value: decimal digits, no sign, fits 64 bits. */
gboolean gvd_events_parse_last_id (const char *value, guint64 *out_id);

/* One-line hooks for the daemon's code (all NULL-safe on @events). */
/* {name} */
void gvd_events_emit_instance (GvdEvents *events, const char *type, const char *name);
/* {name, old, new} plus {reason} when @reason is not NULL. */
void gvd_events_emit_change (GvdEvents *events, const char *type, const char *name,
                             const char *old_value, const char *new_value, const char *reason);
/* {name, old, new, reason, suppressed}: a change told after @suppressed
 * others were held back by a rate limit (0 normally); @reason from a fixed
 * vocabulary, or NULL (then the member is left out). */
void gvd_events_emit_counted_change (GvdEvents *events, const char *type, const char *name,
                                     const char *old_value, const char *new_value,
                                     const char *reason, guint suppressed);
/* {address} plus {reason} when not NULL. */
void gvd_events_emit_device (GvdEvents *events, const char *type, const char *address,
                             const char *reason);
/* {reason} or {} */
void gvd_events_emit_reason (GvdEvents *events, const char *type, const char *reason);

G_END_DECLS
