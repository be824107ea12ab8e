/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reservations: claims and a MAC/IP held for a bounded time, expired on
 * the owner's timer, expired records remembered for a while. */
#include "config.h"

#include "reservations.h"
#include "json-util.h"

#include <string.h>

#include "errors.h"

/* Devices one reservation may claim (a plan's hostdevs: GPUs, their
 * companions and group peers). */
#define MAX_DEVICES 256

typedef struct {
  GvdReservation pub;   /* first: a Record is a GvdReservation */
} Record;

struct _GvdReservations {
  GHashTable *claims;   /* borrowed */
  GvdIpam *ipam;        /* borrowed; may be NULL */
  GvdClockFunc clock;
  GHashTable *records;  /* id → Record (owned) */
  GvdWakeupFunc wakeup_func; /* NULL: nobody runs the expiry timer */
  gpointer wakeup_data;
  GDestroyNotify wakeup_destroy;
};

static void
record_free (gpointer data)
{
  Record *rec = data;

  g_free (rec->pub.id);
  g_free (rec->pub.holder);
  g_ptr_array_unref (rec->pub.devices);
  g_ptr_array_unref (rec->pub.gpus);
  g_free (rec->pub.mac);
  g_free (rec->pub.ip);
  g_free (rec);
}

GvdReservations *
gvd_reservations_new (GHashTable *claims, GvdIpam *ipam, GvdClockFunc clock)
{
  GvdReservations *set;

  g_return_val_if_fail (claims != NULL, NULL);
  g_return_val_if_fail (clock != NULL, NULL);

  set = g_new0 (GvdReservations, 1);
  set->claims = claims;
  set->ipam = ipam;
  set->clock = clock;
  set->records = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, record_free);
  return set;
}

void
gvd_reservations_free (GvdReservations *set)
{
  if (set == NULL)
    return;
  /* First: the owner's timer must not call into a set being torn down. */
  gvd_reservations_set_wakeup (set, NULL, NULL, NULL);
  g_hash_table_unref (set->records);
  g_free (set);
}

void
gvd_reservations_set_wakeup (GvdReservations *set, GvdWakeupFunc func, gpointer user_data,
                             GDestroyNotify destroy)
{
  gpointer old_data = set->wakeup_data;
  GDestroyNotify old_destroy = set->wakeup_destroy;

  set->wakeup_func = func;
  set->wakeup_data = user_data;
  set->wakeup_destroy = destroy;
  if (old_destroy != NULL)
    old_destroy (old_data);
}

gint64
gvd_reservations_next_expiry (GvdReservations *set)
{
  GHashTableIter iter;
  gpointer value;
  gint64 next = 0;

  g_hash_table_iter_init (&iter, set->records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Record *rec = value;

      if (rec->pub.state == GVD_RESERVATION_ACTIVE && (next == 0 || rec->pub.expires_at < next))
        next = rec->pub.expires_at;
    }
  return next;
}

gint64
gvd_reservations_now (GvdReservations *set)
{
  return set->clock ();
}

const char *
gvd_reservation_state_to_string (GvdReservationState state)
{
  return state == GVD_RESERVATION_ACTIVE ? "active" : "expired";
}

/* Give back what @rec holds, where it still holds it. */
static void
release_holdings (GvdReservations *set, Record *rec)
{
  for (guint i = 0; i < rec->pub.devices->len; i++)
    {
      const char *address = rec->pub.devices->pdata[i];
      const char *holder = g_hash_table_lookup (set->claims, address);

      if (g_strcmp0 (holder, rec->pub.holder) == 0)
        g_hash_table_remove (set->claims, address);
    }
  if (set->ipam != NULL)
    gvd_ipam_release (set->ipam, rec->pub.holder);
}

static void
expire (GvdReservations *set, Record *rec)
{
  release_holdings (set, rec);
  rec->pub.state = GVD_RESERVATION_EXPIRED;
  rec->pub.expired_at = set->clock ();
  /* The one log line of an expiry: it changes what is free on the host. */
  g_message ("reservation %s expired unused after %u s; released %u device(s)", rec->pub.id,
             rec->pub.ttl_seconds, rec->pub.devices->len);
}

/* Forget expired records past their keep time. */
static void
prune (GvdReservations *set)
{
  gint64 now = set->clock ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, set->records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Record *rec = value;

      if (rec->pub.state == GVD_RESERVATION_EXPIRED
          && now - rec->pub.expired_at >= GVD_RESERVATION_KEEP_EXPIRED_SECONDS * G_USEC_PER_SEC)
        g_hash_table_iter_remove (&iter);
    }
}

guint
gvd_reservations_expire_due (GvdReservations *set)
{
  gint64 now = set->clock ();
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, set->records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Record *rec = value;

      if (rec->pub.state == GVD_RESERVATION_ACTIVE && rec->pub.expires_at <= now)
        {
          expire (set, rec);
          n++;
        }
    }
  prune (set);
  return n;
}

/* Room for one more record: drop the oldest expired one if need be. */
static gboolean
make_room (GvdReservations *set, GError **error)
{
  GHashTableIter iter;
  gpointer value;
  Record *oldest = NULL;

  prune (set);
  if (g_hash_table_size (set->records) < GVD_RESERVATIONS_MAX)
    return TRUE;
  g_hash_table_iter_init (&iter, set->records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Record *rec = value;

      if (rec->pub.state == GVD_RESERVATION_EXPIRED
          && (oldest == NULL || rec->pub.expired_at < oldest->pub.expired_at))
        oldest = rec;
    }
  if (oldest == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "%d reservations are active: consume or delete one first",
                   GVD_RESERVATIONS_MAX);
      return FALSE;
    }
  g_hash_table_remove (set->records, oldest->pub.id);
  return TRUE;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static GPtrArray *
sorted_copy (const char *const *strv)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    g_ptr_array_add (out, g_strdup (strv[i]));
  g_ptr_array_sort (out, compare_strings);
  return out;
}

const GvdReservation *
gvd_reservations_add (GvdReservations *set, const char *const *devices, const char *const *gpus,
                      guint ttl_seconds, GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *mac = NULL;
  g_autofree char *ip = NULL;
  g_autofree char *id = NULL;
  g_autofree char *holder = NULL;
  Record *rec;
  guint n;

  g_return_val_if_fail (set != NULL, NULL);

  if (ttl_seconds < 1 || ttl_seconds > GVD_RESERVATION_TTL_MAX)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "ttl_seconds must be from 1 to %d (got %u)", GVD_RESERVATION_TTL_MAX,
                   ttl_seconds);
      return NULL;
    }
  n = devices != NULL ? g_strv_length ((char **) devices) : 0;
  if (n == 0 || n > MAX_DEVICES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "a reservation holds 1 to %d devices (got %u)", MAX_DEVICES, n);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      const char *holder_now = g_hash_table_lookup (set->claims, devices[i]);

      if (!g_hash_table_add (seen, (gpointer) devices[i]))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "device %s is listed twice", devices[i]);
          return NULL;
        }
      if (holder_now != NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE, "device %s is in use by %s",
                       devices[i], holder_now);
          return NULL;
        }
    }
  if (!make_room (set, error))
    return NULL;

  id = g_uuid_string_random ();
  holder = g_strconcat (GVD_RESERVATION_HOLDER_PREFIX, id, NULL);
  if (set->ipam != NULL && !gvd_ipam_allocate (set->ipam, holder, id, &mac, &ip, error))
    return NULL;

  rec = g_new0 (Record, 1);
  rec->pub.id = g_steal_pointer (&id);
  rec->pub.holder = g_steal_pointer (&holder);
  rec->pub.state = GVD_RESERVATION_ACTIVE;
  rec->pub.devices = sorted_copy (devices);
  rec->pub.gpus = sorted_copy (gpus);
  rec->pub.mac = g_steal_pointer (&mac);
  rec->pub.ip = g_steal_pointer (&ip);
  rec->pub.ttl_seconds = ttl_seconds;
  rec->pub.created_at = set->clock ();
  rec->pub.expires_at = rec->pub.created_at + (gint64) ttl_seconds * G_USEC_PER_SEC;

  for (guint i = 0; i < n; i++)
    g_hash_table_insert (set->claims, g_strdup (devices[i]), g_strdup (rec->pub.holder));

  g_hash_table_insert (set->records, rec->pub.id, rec);
  if (set->wakeup_func != NULL)
    set->wakeup_func (rec->pub.expires_at, set->wakeup_data);
  return &rec->pub;
}

const GvdReservation *
gvd_reservations_lookup (GvdReservations *set, const char *id)
{
  g_return_val_if_fail (set != NULL && id != NULL, NULL);

  prune (set);
  return g_hash_table_lookup (set->records, id);
}

static gint
compare_records (gconstpointer a, gconstpointer b)
{
  const GvdReservation *ra = *(const GvdReservation *const *) a;
  const GvdReservation *rb = *(const GvdReservation *const *) b;

  if (ra->created_at != rb->created_at)
    return ra->created_at < rb->created_at ? -1 : 1;
  return strcmp (ra->id, rb->id);
}

GPtrArray *
gvd_reservations_list (GvdReservations *set)
{
  GPtrArray *list;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (set != NULL, NULL);

  prune (set);
  list = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, set->records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, compare_records);
  return list;
}

static Record *
find (GvdReservations *set, const char *id, GError **error)
{
  Record *rec;

  prune (set);
  rec = g_hash_table_lookup (set->records, id);
  if (rec == NULL)
    g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no reservation '%s'",
                 g_utf8_validate (id, -1, NULL) ? id : "(not UTF-8)");
  return rec;
}

gboolean
gvd_reservations_cancel (GvdReservations *set, const char *id, GError **error)
{
  Record *rec;

  g_return_val_if_fail (set != NULL && id != NULL, FALSE);

  if ((rec = find (set, id, error)) == NULL)
    return FALSE;
  if (rec->pub.state == GVD_RESERVATION_ACTIVE)
    release_holdings (set, rec);
  g_hash_table_remove (set->records, id);
  return TRUE;
}

gboolean
gvd_reservations_take (GvdReservations *set, const char *id, char ***out_addresses,
                       char **out_mac, char **out_ip, GError **error)
{
  Record *rec;

  g_return_val_if_fail (set != NULL && id != NULL, FALSE);

  if ((rec = find (set, id, error)) == NULL)
    return FALSE;
  if (rec->pub.state != GVD_RESERVATION_ACTIVE)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                   "reservation %s expired unused; its devices were released", id);
      return FALSE;
    }
  if (out_addresses != NULL)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

      for (guint i = 0; i < rec->pub.devices->len; i++)
        g_strv_builder_add (b, rec->pub.devices->pdata[i]);
      *out_addresses = g_strv_builder_end (b);
    }
  if (out_mac != NULL)
    *out_mac = g_strdup (rec->pub.mac);
  if (out_ip != NULL)
    *out_ip = g_strdup (rec->pub.ip);
  /* Claims and the IPAM lease stay: the caller re-labels them. */
  g_hash_table_remove (set->records, id);
  return TRUE;
}

static void
add_string_array (JsonBuilder *b, const char *member, GPtrArray *strings)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < strings->len; i++)
    json_builder_add_string_value (b, strings->pdata[i]);
  json_builder_end_array (b);
}

void
gvd_reservation_to_json (const GvdReservation *r, gint64 now, JsonBuilder *b)
{
  gint64 left = 0;

  g_return_if_fail (r != NULL && b != NULL);

  if (r->state == GVD_RESERVATION_ACTIVE && r->expires_at > now)
    left = (r->expires_at - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, r->id);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, gvd_reservation_state_to_string (r->state));
  add_string_array (b, "devices", r->devices);
  add_string_array (b, "gpus", r->gpus);
  gvd_json_add_string (b, "mac", r->mac);
  gvd_json_add_string (b, "ip", r->ip);
  json_builder_set_member_name (b, "ttl_seconds");
  json_builder_add_int_value (b, r->ttl_seconds);
  json_builder_set_member_name (b, "expires_in_seconds");
  json_builder_add_int_value (b, left);
  json_builder_end_object (b);
}
