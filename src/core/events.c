/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event bus: numbering, the replay ring, fan-out, SSE formatting. */
#include "config.h"

#include "events.h"

#include <string.h>

#include "json-util.h"

typedef struct {
  GvdEventsFunc func;
  gpointer user_data;
} Subscriber;

struct _GvdEvents {
  GvdEventsClock clock;
  guint64 last_id;
  GvdEvent **ring;  /* ring_size slots; slot of id n is (n - 1) % ring_size */
  guint ring_size;
  GHashTable *subscribers; /* id → Subscriber */
  guint next_sub_id;
};

static void
event_free (GvdEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->type);
  g_free (event->data);
  g_free (event);
}

GvdEvents *
gvd_events_new (guint ring_size, GvdEventsClock clock)
{
  GvdEvents *events;

  g_return_val_if_fail (clock != NULL, NULL);

  events = g_new0 (GvdEvents, 1);
  events->clock = clock;
  events->ring_size = MAX (ring_size, 1);
  events->ring = g_new0 (GvdEvent *, events->ring_size);
  events->subscribers = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  events->next_sub_id = 1;
  return events;
}

void
gvd_events_free (GvdEvents *events)
{
  if (events == NULL)
    return;
  for (guint i = 0; i < events->ring_size; i++)
    event_free (events->ring[i]);
  g_free (events->ring);
  g_hash_table_unref (events->subscribers);
  g_free (events);
}

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) precise = NULL;

  if (dt == NULL)
    return g_strdup ("");
  precise = g_date_time_add (dt, usec % G_USEC_PER_SEC);
  return g_date_time_format (precise != NULL ? precise : dt, "%Y-%m-%dT%H:%M:%S.%fZ");
}

guint64
gvd_events_emit (GvdEvents *events, const char *type, JsonNode *data)
{
  g_autoptr(JsonNode) node = data;
  g_autoptr(GArray) ids = NULL;
  g_autofree char *stamp = NULL;
  GHashTableIter iter;
  gpointer key;
  GvdEvent *event;
  guint slot;

  if (events == NULL)
    return 0;
  g_return_val_if_fail (type != NULL && strpbrk (type, "\r\n") == NULL, 0);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_clear_pointer (&node, json_node_unref);
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, json_object_new ());
    }

  event = g_new0 (GvdEvent, 1);
  event->id = ++events->last_id;
  event->time = events->clock ();
  event->type = g_strdup (type);
  stamp = format_time (event->time);
  json_object_set_string_member (json_node_get_object (node), "time", stamp);
  /* Compact json-glib output escapes control characters in strings, so it
   * is one line, as an SSE data field must be. */
  event->data = json_to_string (node, FALSE);
  g_assert (strpbrk (event->data, "\r\n") == NULL);

  slot = (guint) ((event->id - 1) % events->ring_size);
  event_free (events->ring[slot]);
  events->ring[slot] = event;

  /* Callbacks may unsubscribe: walk a snapshot of the ids. */
  ids = g_array_new (FALSE, FALSE, sizeof (guint));
  g_hash_table_iter_init (&iter, events->subscribers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      guint id = GPOINTER_TO_UINT (key);
      g_array_append_val (ids, id);
    }
  for (guint i = 0; i < ids->len; i++)
    {
      Subscriber *sub = g_hash_table_lookup (events->subscribers,
                                             GUINT_TO_POINTER (g_array_index (ids, guint, i)));
      if (sub != NULL)
        sub->func (event, sub->user_data);
    }
  return event->id;
}

guint
gvd_events_subscribe (GvdEvents *events, GvdEventsFunc func, gpointer user_data)
{
  Subscriber *sub = g_new0 (Subscriber, 1);
  guint id = events->next_sub_id++;

  if (events->next_sub_id == 0)
    events->next_sub_id = 1;
  sub->func = func;
  sub->user_data = user_data;
  g_hash_table_insert (events->subscribers, GUINT_TO_POINTER (id), sub);
  return id;
}

void
gvd_events_unsubscribe (GvdEvents *events, guint id)
{
  if (events != NULL && id != 0)
    g_hash_table_remove (events->subscribers, GUINT_TO_POINTER (id));
}

guint
gvd_events_n_subscribers (GvdEvents *events)
{
  return events != NULL ? g_hash_table_size (events->subscribers) : 0;
}

guint64
gvd_events_last_id (GvdEvents *events)
{
  return events->last_id;
}

GPtrArray *
gvd_events_since (GvdEvents *events, guint64 after)
{
  GPtrArray *out = g_ptr_array_new ();
  guint64 first = events->last_id >= events->ring_size ? events->last_id - events->ring_size + 1 : 1;

  for (guint64 id = MAX (after + 1, first); after < events->last_id && id <= events->last_id; id++)
    g_ptr_array_add (out, events->ring[(id - 1) % events->ring_size]);
  return out;
}

char *
gvd_event_format_sse (const GvdEvent *event)
{
  return g_strdup_printf ("id: %" G_GUINT64_FORMAT "\nevent: %s\ndata: %s\n\n", event->id,
                          event->type, event->data);
}

gboolean
gvd_events_parse_last_id (const char *value, guint64 *out_id)
{
  guint64 id;

  if (value == NULL || *value == '\0' || strlen (value) > 20)
    return FALSE;
  for (const char *p = value; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &id, NULL))
    return FALSE;
  *out_id = id;
  return TRUE;
}

/* ---- hooks ---------------------------------------------------------------- */

static JsonBuilder *
begin (void)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  return b;
}

static void
finish (GvdEvents *events, const char *type, JsonBuilder *b)
{
  json_builder_end_object (b);
  gvd_events_emit (events, type, json_builder_get_root (b));
}

void
gvd_events_emit_instance (GvdEvents *events, const char *type, const char *name)
{
  g_autoptr(JsonBuilder) b = NULL;

  if (events == NULL)
    return;
  b = begin ();
  gvd_json_add_string (b, "name", name);
  finish (events, type, b);
}

/* A change event: name, old and new value, an optional reason and, when
 * @counted, how many changes before it were not notified. */
static void
emit_change (GvdEvents *events, const char *type, const char *name, const char *old_value,
             const char *new_value, const char *reason, gboolean counted, guint suppressed)
{
  g_autoptr(JsonBuilder) b = NULL;

  if (events == NULL)
    return;
  b = begin ();
  gvd_json_add_string (b, "name", name);
  gvd_json_add_string (b, "old", old_value);
  gvd_json_add_string (b, "new", new_value);
  if (reason != NULL)
    gvd_json_add_string (b, "reason", reason);
  if (counted)
    {
      json_builder_set_member_name (b, "suppressed");
      json_builder_add_int_value (b, suppressed);
    }
  finish (events, type, b);
}

void
gvd_events_emit_change (GvdEvents *events, const char *type, const char *name,
                        const char *old_value, const char *new_value, const char *reason)
{
  emit_change (events, type, name, old_value, new_value, reason, FALSE, 0);
}

void
gvd_events_emit_counted_change (GvdEvents *events, const char *type, const char *name,
                                const char *old_value, const char *new_value, const char *reason,
                                guint suppressed)
{
  emit_change (events, type, name, old_value, new_value, reason, TRUE, suppressed);
}

void
gvd_events_emit_device (GvdEvents *events, const char *type, const char *address,
                        const char *reason)
{
  g_autoptr(JsonBuilder) b = NULL;

  if (events == NULL)
    return;
  b = begin ();
  gvd_json_add_string (b, "address", address);
  if (reason != NULL)
    gvd_json_add_string (b, "reason", reason);
  finish (events, type, b);
}

void
gvd_events_emit_reason (GvdEvents *events, const char *type, const char *reason)
{
  g_autoptr(JsonBuilder) b = NULL;

  if (events == NULL)
    return;
  b = begin ();
  if (reason != NULL)
    gvd_json_add_string (b, "reason", reason);
  finish (events, type, b);
}
