/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reservations: claims and MAC/IP held for a while, expiry (injected clock
 * and one real timer), cancel, take; and /v1/reservations on a real soup
 * server with the fixture host server-8gpu. */
#include "config.h"

#include "testlib.h"

#include "api.h"
#include "daemon-timers.h"
#include "errors.h"
#include "hostinfo.h"
#include "registry.h"
#include "reservations.h"

#include <string.h>

static gint64 fake_now = 1000 * G_USEC_PER_SEC;

static gint64
fake_clock (void)
{
  return fake_now;
}

static void
assert_error (GError *error, GvdErrorCode code, const char *needle)
{
  assert_non_null (error);
  assert_true (error->domain == GVD_ERROR);
  assert_int_equal (error->code, code);
  if (needle != NULL && strstr (error->message, needle) == NULL)
    fail_msg ("'%s' not in error message '%s'", needle, error->message);
}

typedef struct {
  GHashTable *claims;
  GvdIpam *ipam;
  GvdReservations *set;
} Core;

static int
core_setup (void **state)
{
  Core *c = g_new0 (Core, 1);

  c->claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->ipam = gvd_ipam_new ("10.0.0.0/16", "10.0.0.1", NULL);
  c->set = gvd_reservations_new (c->claims, c->ipam, fake_clock);
  *state = c;
  return 0;
}

static int
core_teardown (void **state)
{
  Core *c = *state;

  gvd_reservations_free (c->set);
  gvd_ipam_free (c->ipam);
  g_hash_table_unref (c->claims);
  g_free (c);
  return 0;
}

static const char *const two_devices[] = { "0000:02:00.0", "0000:01:00.0", NULL };
static const char *const one_gpu[] = { "0000:01:00.0", NULL };

static void
add__free_devices__claimed_with_holder_mac_ip (void **state)
{
  Core *c = *state;
  g_autoptr(GError) error = NULL;
  const GvdReservation *r = gvd_reservations_add (c->set, two_devices, one_gpu, 60, &error);
  const char *mac, *ip;

  assert_non_null (r);
  assert_int_equal (strlen (r->id), 36);
  assert_string_equal (r->holder + strlen (GVD_RESERVATION_HOLDER_PREFIX), r->id);
  assert_int_equal (r->state, GVD_RESERVATION_ACTIVE);
  assert_int_equal (r->devices->len, 2);
  assert_string_equal (r->devices->pdata[0], "0000:01:00.0");
  assert_string_equal (r->devices->pdata[1], "0000:02:00.0");
  assert_int_equal (r->gpus->len, 1);
  assert_string_equal (g_hash_table_lookup (c->claims, "0000:01:00.0"), r->holder);
  assert_string_equal (g_hash_table_lookup (c->claims, "0000:02:00.0"), r->holder);
  assert_string_equal (r->ip, "10.0.0.2/16");
  assert_true (g_str_has_prefix (r->mac, "52:54:00:"));
  assert_true (gvd_ipam_lookup (c->ipam, r->holder, &mac, &ip));
  assert_string_equal (mac, r->mac);
  assert_int_equal (r->expires_at - r->created_at, 60 * G_USEC_PER_SEC);
  assert_ptr_equal (gvd_reservations_lookup (c->set, r->id), r);
}

static void
add__claimed_device__device_in_use_nothing_held (void **state)
{
  Core *c = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;

  g_hash_table_insert (c->claims, g_strdup ("0000:01:00.0"), g_strdup ("train-7"));
  assert_null (gvd_reservations_add (c->set, two_devices, NULL, 60, &error));
  assert_error (error, GVD_ERROR_DEVICE_IN_USE, "train-7");
  assert_false (g_hash_table_contains (c->claims, "0000:02:00.0"));
  assert_int_equal (gvd_ipam_get_n_owners (c->ipam), 0);
  list = gvd_reservations_list (c->set);
  assert_int_equal (list->len, 0);
}

static void
add__bad_ttl_or_list__invalid_argument (void **state)
{
  Core *c = *state;
  const char *const none[] = { NULL };
  const char *const twice[] = { "0000:01:00.0", "0000:01:00.0", NULL };
  struct {
    const char *const *devices;
    guint ttl;
  } cases[] = {
    { one_gpu, 0 }, { one_gpu, GVD_RESERVATION_TTL_MAX + 1 }, { none, 60 }, { NULL, 60 },
    { twice, 60 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      assert_null (gvd_reservations_add (c->set, cases[i].devices, NULL, cases[i].ttl, &error));
      assert_error (error, GVD_ERROR_INVALID_ARGUMENT, NULL);
    }
  assert_int_equal (g_hash_table_size (c->claims), 0);
  assert_non_null (gvd_reservations_add (c->set, one_gpu, NULL, GVD_RESERVATION_TTL_MAX, NULL));
}

static void
expire_due__time_up__released_then_forgotten (void **state)
{
  Core *c = *state;
  const GvdReservation *r = gvd_reservations_add (c->set, two_devices, one_gpu, 60, NULL);
  g_autofree char *id = g_strdup (r->id);
  g_autofree char *holder = g_strdup (r->holder);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  fake_now += 59 * G_USEC_PER_SEC;
  assert_int_equal (gvd_reservations_expire_due (c->set), 0);
  assert_int_equal (g_hash_table_size (c->claims), 2);
  fake_now += 1 * G_USEC_PER_SEC;
  assert_int_equal (gvd_reservations_expire_due (c->set), 1);
  assert_int_equal (g_hash_table_size (c->claims), 0);
  assert_false (gvd_ipam_lookup (c->ipam, holder, NULL, NULL));

  /* Still answered as expired for a while. */
  r = gvd_reservations_lookup (c->set, id);
  assert_non_null (r);
  assert_int_equal (r->state, GVD_RESERVATION_EXPIRED);
  gvd_reservation_to_json (r, fake_now, b);
  node = json_builder_get_root (b);
  assert_string_equal (gvd_test_json_string (node, "state"), "expired");
  assert_int_equal (gvd_test_json_int (node, "expires_in_seconds"), 0);

  fake_now += (GVD_RESERVATION_KEEP_EXPIRED_SECONDS - 1) * G_USEC_PER_SEC;
  assert_non_null (gvd_reservations_lookup (c->set, id));
  fake_now += 1 * G_USEC_PER_SEC;
  assert_null (gvd_reservations_lookup (c->set, id));
}

static void
expire__claim_relabelled_meanwhile__left_alone (void **state)
{
  Core *c = *state;
  const GvdReservation *r = gvd_reservations_add (c->set, two_devices, NULL, 10, NULL);

  assert_non_null (r);
  g_hash_table_insert (c->claims, g_strdup ("0000:02:00.0"), g_strdup ("vm9"));
  fake_now += 10 * G_USEC_PER_SEC;
  assert_int_equal (gvd_reservations_expire_due (c->set), 1);
  assert_string_equal (g_hash_table_lookup (c->claims, "0000:02:00.0"), "vm9");
  assert_false (g_hash_table_contains (c->claims, "0000:01:00.0"));
}

static void
cancel__active_expired_unknown__released_forgotten_not_found (void **state)
{
  Core *c = *state;
  const GvdReservation *r = gvd_reservations_add (c->set, two_devices, NULL, 10, NULL);
  g_autofree char *id = g_strdup (r->id);
  const GvdReservation *r2 = NULL;
  g_autofree char *id2 = NULL;
  g_autoptr(GError) error = NULL;

  assert_true (gvd_reservations_cancel (c->set, id, NULL));
  assert_int_equal (g_hash_table_size (c->claims), 0);
  assert_int_equal (gvd_ipam_get_n_owners (c->ipam), 0);
  assert_null (gvd_reservations_lookup (c->set, id));
  assert_false (gvd_reservations_cancel (c->set, id, &error));
  assert_error (error, GVD_ERROR_NOT_FOUND, id);

  r2 = gvd_reservations_add (c->set, one_gpu, NULL, 10, NULL);
  id2 = g_strdup (r2->id);
  fake_now += 10 * G_USEC_PER_SEC;
  gvd_reservations_expire_due (c->set);
  assert_true (gvd_reservations_cancel (c->set, id2, NULL));
  assert_null (gvd_reservations_lookup (c->set, id2));
}

static void
take__active__outputs_and_claims_kept (void **state)
{
  Core *c = *state;
  const GvdReservation *r = gvd_reservations_add (c->set, two_devices, one_gpu, 60, NULL);
  g_autofree char *id = g_strdup (r->id);
  g_autofree char *holder = g_strdup (r->holder);
  g_autofree char *want_mac = g_strdup (r->mac);
  g_auto(GStrv) addresses = NULL;
  g_autofree char *mac = NULL;
  g_autofree char *ip = NULL;

  assert_true (gvd_reservations_take (c->set, id, &addresses, &mac, &ip, NULL));
  assert_int_equal (g_strv_length (addresses), 2);
  assert_string_equal (addresses[0], "0000:01:00.0");
  assert_string_equal (mac, want_mac);
  assert_string_equal (ip, "10.0.0.2/16");
  assert_null (gvd_reservations_lookup (c->set, id));
  /* The caller re-labels these. */
  assert_string_equal (g_hash_table_lookup (c->claims, "0000:01:00.0"), holder);
  assert_true (gvd_ipam_lookup (c->ipam, holder, NULL, NULL));
  /* Its timer is gone: time passing changes nothing. */
  fake_now += 120 * G_USEC_PER_SEC;
  assert_int_equal (gvd_reservations_expire_due (c->set), 0);
  assert_string_equal (g_hash_table_lookup (c->claims, "0000:01:00.0"), holder);
}

static void
take__expired_or_unknown__error_outputs_untouched (void **state)
{
  Core *c = *state;
  const GvdReservation *r = gvd_reservations_add (c->set, one_gpu, NULL, 5, NULL);
  g_autofree char *id = g_strdup (r->id);
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  char **addresses = (char **) 0x1;
  char *mac = (char *) "m";

  fake_now += 5 * G_USEC_PER_SEC;
  gvd_reservations_expire_due (c->set);
  assert_false (gvd_reservations_take (c->set, id, &addresses, &mac, NULL, &e1));
  assert_error (e1, GVD_ERROR_INVALID_STATE, "expired");
  assert_false (gvd_reservations_take (c->set, "nope", &addresses, &mac, NULL, &e2));
  assert_error (e2, GVD_ERROR_NOT_FOUND, "nope");
  assert_ptr_equal (addresses, (char **) 0x1);
  assert_string_equal (mac, "m");
}

static void
add__full__conflict_until_an_expired_one_is_dropped (void **state)
{
  Core *c = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;

  for (guint i = 0; i < GVD_RESERVATIONS_MAX; i++)
    {
      g_autofree char *dev = g_strdup_printf ("0000:%02x:%02x.0", i / 32, i % 32);
      const char *const devices[] = { dev, NULL };
      assert_non_null (gvd_reservations_add (c->set, devices, NULL, i == 0 ? 10 : 1000, NULL));
    }
  {
    const char *const devices[] = { "0000:ff:00.0", NULL };
    assert_null (gvd_reservations_add (c->set, devices, NULL, 60, &error));
    assert_error (error, GVD_ERROR_CONFLICT, "active");
    fake_now += 10 * G_USEC_PER_SEC;
    assert_int_equal (gvd_reservations_expire_due (c->set), 1);
    assert_non_null (gvd_reservations_add (c->set, devices, NULL, 60, NULL));
  }
  list = gvd_reservations_list (c->set);
  assert_int_equal (list->len, GVD_RESERVATIONS_MAX);
}

static void
wakeup_log (gint64 at, gpointer user_data)
{
  g_array_append_val ((GArray *) user_data, at);
}

static void
count_destroy (gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
next_expiry__active_only__earliest_and_asked_for (void **state)
{
  Core *c = *state;
  g_autoptr(GArray) asked = g_array_new (FALSE, FALSE, sizeof (gint64));
  const gint64 t0 = fake_now;
  const GvdReservation *r;
  g_autofree char *early = NULL;

  gvd_reservations_set_wakeup (c->set, wakeup_log, asked, NULL);
  assert_int_equal (gvd_reservations_next_expiry (c->set), 0);
  assert_non_null (gvd_reservations_add (c->set, one_gpu, NULL, 60, NULL));
  r = gvd_reservations_add (c->set, (const char *const[]) { "0000:02:00.0", NULL }, NULL, 20,
                            NULL);
  assert_non_null (r);
  early = g_strdup (r->id);
  /* Each add asks for its own expiry; the earliest active one is next. */
  assert_int_equal (asked->len, 2);
  assert_int_equal (g_array_index (asked, gint64, 0), t0 + 60 * G_USEC_PER_SEC);
  assert_int_equal (g_array_index (asked, gint64, 1), t0 + 20 * G_USEC_PER_SEC);
  assert_int_equal (gvd_reservations_next_expiry (c->set), t0 + 20 * G_USEC_PER_SEC);
  /* Expired ones are not due again. */
  fake_now = t0 + 20 * G_USEC_PER_SEC;
  assert_int_equal (gvd_reservations_expire_due (c->set), 1);
  assert_int_equal (gvd_reservations_next_expiry (c->set), t0 + 60 * G_USEC_PER_SEC);
  /* A cancelled (or taken) one is not either. */
  assert_true (gvd_reservations_cancel (c->set, early, NULL));
  assert_int_equal (gvd_reservations_next_expiry (c->set), t0 + 60 * G_USEC_PER_SEC);
  fake_now = t0 + 60 * G_USEC_PER_SEC;
  assert_int_equal (gvd_reservations_expire_due (c->set), 1);
  assert_int_equal (gvd_reservations_next_expiry (c->set), 0);
  assert_int_equal (asked->len, 2);
}

static void
set_wakeup__replaced_or_freed__user_data_destroyed (void **state)
{
  g_autoptr(GHashTable) claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GvdReservations *set = gvd_reservations_new (claims, NULL, fake_clock);
  guint first = 0, second = 0;

  gvd_reservations_set_wakeup (set, wakeup_log, &first, count_destroy);
  gvd_reservations_set_wakeup (set, wakeup_log, &second, count_destroy);
  assert_int_equal (first, 1);
  assert_int_equal (second, 0);
  gvd_reservations_free (set);
  assert_int_equal (second, 1);
}

static gboolean
is_expired (gpointer data)
{
  const GvdReservation *r = data;
  return r->state == GVD_RESERVATION_EXPIRED;
}

/* One source serves the whole set: a later add with an earlier expiry
 * brings it forward, and the other reservation still expires on time. */
static void
timer__earlier_reservation_added__expires_first_later_one_kept (void **state)
{
  g_autoptr(GHashTable) claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GvdReservations) set = gvd_reservations_new (claims, NULL, g_get_monotonic_time);
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + 30 * G_USEC_PER_SEC;
  const GvdReservation *late, *early;

  gvd_daemon_timers_attach_reservations (set, NULL);
  late = gvd_reservations_add (set, one_gpu, NULL, 2, NULL);
  early = gvd_reservations_add (set, (const char *const[]) { "0000:02:00.0", NULL }, NULL, 1,
                                NULL);
  assert_non_null (late);
  assert_non_null (early);
  while (!is_expired ((gpointer) early) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  assert_true (is_expired ((gpointer) early));
  assert_false (is_expired ((gpointer) late));
  assert_true (g_get_monotonic_time () - start >= 1 * G_USEC_PER_SEC);
  while (!is_expired ((gpointer) late) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  assert_true (is_expired ((gpointer) late));
  assert_true (g_get_monotonic_time () - start >= 2 * G_USEC_PER_SEC);
  assert_int_equal (g_hash_table_size (claims), 0);
}

static void
timer__one_second__expires_on_the_main_loop (void **state)
{
  g_autoptr(GHashTable) claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GvdReservations) set = gvd_reservations_new (claims, NULL, g_get_monotonic_time);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  const GvdReservation *r;

  /* As the daemon wires it: the expiry runs on the default main context. */
  gvd_daemon_timers_attach_reservations (set, NULL);
  r = gvd_reservations_add (set, one_gpu, NULL, 1, NULL);
  assert_non_null (r);
  assert_null (r->mac);
  while (!is_expired ((gpointer) r) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  assert_true (is_expired ((gpointer) r));
  assert_int_equal (g_hash_table_size (claims), 0);
}

/* ---- /v1/reservations --------------------------------------------------------- */

typedef struct {
  GvdDaemon *daemon;
  GvdApi *api;
  char *base;
} Fixture;

/* The request runs on a thread while this thread's main context serves it. */
static JsonNode *
request (Fixture *f, const char *method, const char *path, const char *body, guint *out_status)
{
  GvdTestRequest r = { .method = method, .body = body };
  JsonNode *node;

  r.url = g_strconcat (f->base, path, NULL);
  node = gvd_test_request_in_loop (&r);
  *out_status = r.status;
  gvd_test_request_clear (&r);
  return node;
}

#define GPU0 "0000:03:00.0"

static int
api_setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  const GvdDaemonOptions options = { .clock = fake_clock };

  f->daemon = gvd_test_daemon_build ("server-8gpu",
                                     "[daemon]\nmax_body_bytes=4096\n"
                                     "[network]\nmode=bridge\nsource=br0\ncidr=10.0.0.0/24\n"
                                     "gateway=10.0.0.1\n",
                                     &options);
  gvd_claims_set_ready (f->daemon->claims, TRUE);
  assert_true (gvd_registry_add (f->daemon->registry, "gpu0", GPU0, NULL));

  f->api = gvd_api_new (f->daemon, "admin", NULL);
  gvd_api_reservations_register (f->api);
  assert_true (gvd_api_listen (f->api, "127.0.0.1:0", &error));
  url = gvd_api_get_url (f->api);
  f->base = g_strndup (url, strlen (url) - 1);
  *state = f;
  return 0;
}

static int
api_teardown (void **state)
{
  Fixture *f = *state;

  gvd_test_drain_main_context ();
  gvd_api_free (f->api);
  gvd_test_drain_main_context ();
  gvd_test_daemon_destroy (f->daemon);
  g_free (f->base);
  g_free (f);
  return 0;
}

static gboolean
array_contains (JsonNode *root, const char *path, const char *value)
{
  JsonArray *arr = json_node_get_array (gvd_test_json_path (root, path));

  for (guint i = 0; i < json_array_get_length (arr); i++)
    if (g_str_equal (json_array_get_string_element (arr, i), value))
      return TRUE;
  return FALSE;
}

static void
post__named_device__201_claims_and_address (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = request (f, "POST", "/v1/reservations",
                                      "{\"devices\": [\"gpu0\"], \"ttl_seconds\": 120}", &status);
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) list = NULL;
  g_autofree char *path = NULL;
  g_autofree char *holder = NULL;

  assert_int_equal (status, 201);
  assert_string_equal (gvd_test_json_string (node, "state"), "active");
  assert_true (array_contains (node, "devices", GPU0));
  assert_true (array_contains (node, "gpus", GPU0));
  assert_string_equal (gvd_test_json_string (node, "ip"), "10.0.0.2/24");
  assert_int_equal (gvd_test_json_int (node, "ttl_seconds"), 120);
  assert_int_equal (gvd_test_json_int (node, "expires_in_seconds"), 120);
  holder = g_strconcat ("reservation:", gvd_test_json_string (node, "id"), NULL);
  assert_string_equal (gvd_claims_get_holder (f->daemon->claims, GPU0), holder);

  path = g_strconcat ("/v1/reservations/", gvd_test_json_string (node, "id"), NULL);
  shown = request (f, "GET", path, NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (shown, "id"), gvd_test_json_string (node, "id"));
  list = request (f, "GET", "/v1/reservations", NULL, &status);
  assert_int_equal (status, 200);
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (list,
                                                                                    "reservations"))),
                    1);
}

static void
post__gpus__planner_picks_and_claims (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = request (f, "POST", "/v1/reservations", "{\"gpus\": 2}", &status);
  g_autoptr(JsonNode) again = NULL;
  g_autofree char *holder = NULL;
  g_autofree char *body = NULL;
  JsonArray *gpus;

  assert_int_equal (status, 201);
  gpus = json_node_get_array (gvd_test_json_path (node, "gpus"));
  assert_int_equal (json_array_get_length (gpus), 2);
  assert_int_equal (gvd_test_json_int (node, "ttl_seconds"), GVD_RESERVATION_TTL_DEFAULT);
  holder = g_strconcat ("reservation:", gvd_test_json_string (node, "id"), NULL);
  for (guint i = 0; i < 2; i++)
    assert_string_equal (gvd_claims_get_holder (f->daemon->claims,
                                              json_array_get_string_element (gpus, i)),
                         holder);
  /* A held GPU cannot go to another reservation. */
  body = g_strdup_printf ("{\"devices\": [\"%s\"]}", json_array_get_string_element (gpus, 1));
  again = request (f, "POST", "/v1/reservations", body, &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (again, "device_in_use", holder);
}

static void
post__bad_input__4xx (void **state)
{
  Fixture *f = *state;
  struct {
    const char *body;
    guint status;
    const char *code;
    const char *needle;
  } cases[] = {
    { "{\"gpus\": 1, \"color\": 1}", 400, "invalid_argument", "color" },
    { "{}", 400, "invalid_argument", "exactly one" },
    { "{\"gpus\": 1, \"devices\": [\"gpu0\"]}", 400, "invalid_argument", "exactly one" },
    { "{\"gpus\": 0}", 400, "invalid_argument", "gpus" },
    { "{\"gpus\": \"1\"}", 400, "invalid_argument", "gpus" },
    { "{\"devices\": []}", 400, "invalid_argument", "devices" },
    { "{\"devices\": [5]}", 400, "invalid_argument", "devices[0]" },
    { "{\"gpus\": 1, \"ttl_seconds\": 0}", 400, "invalid_argument", "ttl_seconds" },
    { "{\"gpus\": 1, \"ttl_seconds\": 86401}", 400, "invalid_argument", "ttl_seconds" },
    { "{\"devices\": [\"nosuch\"]}", 404, "device_not_found", "nosuch" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint status;
      g_autoptr(JsonNode) node = request (f, "POST", "/v1/reservations", cases[i].body, &status);
      if (status != cases[i].status)
        fail_msg ("%s: status %u", cases[i].body, status);
      gvd_test_assert_error (node, cases[i].code, cases[i].needle);
    }
  assert_int_equal (gvd_claims_count (f->daemon->claims), 0);
}

static void
post__device_in_use__409_naming_holder (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;

  gvd_claims_set_holder (f->daemon->claims, GPU0, "train-7");
  node = request (f, "POST", "/v1/reservations", "{\"devices\": [\"" GPU0 "\"]}", &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (node, "device_in_use", "train-7");
}

static void
post__claims_not_ready__503 (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;

  gvd_claims_set_ready (f->daemon->claims, FALSE);
  node = request (f, "POST", "/v1/reservations", "{\"gpus\": 1}", &status);
  assert_int_equal (status, 503);
  gvd_test_assert_error (node, "not_ready", NULL);
}

static void
delete__active__204_released_then_404 (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = request (f, "POST", "/v1/reservations", "{\"devices\": [\"gpu0\"]}",
                                      &status);
  g_autoptr(JsonNode) gone = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autofree char *path = g_strconcat ("/v1/reservations/", gvd_test_json_string (node, "id"), NULL);

  assert_int_equal (status, 201);
  gone = request (f, "DELETE", path, NULL, &status);
  assert_int_equal (status, 204);
  assert_int_equal (gvd_claims_count (f->daemon->claims), 0);
  again = request (f, "GET", path, NULL, &status);
  assert_int_equal (status, 404);
  gvd_test_assert_error (again, "not_found", NULL);
}

static void
get__expired__still_answered_as_expired (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = request (f, "POST", "/v1/reservations",
                                      "{\"devices\": [\"gpu0\"], \"ttl_seconds\": 30}", &status);
  g_autoptr(JsonNode) shown = NULL;
  g_autofree char *path = g_strconcat ("/v1/reservations/", gvd_test_json_string (node, "id"), NULL);

  fake_now += 30 * G_USEC_PER_SEC;
  assert_int_equal (gvd_reservations_expire_due (f->daemon->reservations), 1);
  shown = request (f, "GET", path, NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (shown, "state"), "expired");
  assert_int_equal (gvd_claims_count (f->daemon->claims), 0);
}

static void
routing__wrong_method_or_path__405_404 (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) a = request (f, "PUT", "/v1/reservations", NULL, &status);
  g_autoptr(JsonNode) b = NULL;

  assert_int_equal (status, 405);
  b = request (f, "GET", "/v1/reservations/x/y", NULL, &status);
  assert_int_equal (status, 404);
}

int
main (void)
{
  const struct CMUnitTest core[] = {
    cmocka_unit_test_setup_teardown (add__free_devices__claimed_with_holder_mac_ip, core_setup,
                                     core_teardown),
    cmocka_unit_test_setup_teardown (add__claimed_device__device_in_use_nothing_held, core_setup,
                                     core_teardown),
    cmocka_unit_test_setup_teardown (add__bad_ttl_or_list__invalid_argument, core_setup,
                                     core_teardown),
    cmocka_unit_test_setup_teardown (expire_due__time_up__released_then_forgotten, core_setup,
                                     core_teardown),
    cmocka_unit_test_setup_teardown (expire__claim_relabelled_meanwhile__left_alone, core_setup,
                                     core_teardown),
    cmocka_unit_test_setup_teardown (cancel__active_expired_unknown__released_forgotten_not_found,
                                     core_setup, core_teardown),
    cmocka_unit_test_setup_teardown (take__active__outputs_and_claims_kept, core_setup,
                                     core_teardown),
    cmocka_unit_test_setup_teardown (take__expired_or_unknown__error_outputs_untouched,
                                     core_setup, core_teardown),
    cmocka_unit_test_setup_teardown (add__full__conflict_until_an_expired_one_is_dropped,
                                     core_setup, core_teardown),
    cmocka_unit_test_setup_teardown (next_expiry__active_only__earliest_and_asked_for, core_setup,
                                     core_teardown),
    cmocka_unit_test (set_wakeup__replaced_or_freed__user_data_destroyed),
    cmocka_unit_test (timer__one_second__expires_on_the_main_loop),
    cmocka_unit_test (timer__earlier_reservation_added__expires_first_later_one_kept),
  };
  const struct CMUnitTest api[] = {
    cmocka_unit_test_setup_teardown (post__named_device__201_claims_and_address, api_setup,
                                     api_teardown),
    cmocka_unit_test_setup_teardown (post__gpus__planner_picks_and_claims, api_setup, api_teardown),
    cmocka_unit_test_setup_teardown (post__bad_input__4xx, api_setup, api_teardown),
    cmocka_unit_test_setup_teardown (post__device_in_use__409_naming_holder, api_setup,
                                     api_teardown),
    cmocka_unit_test_setup_teardown (post__claims_not_ready__503, api_setup, api_teardown),
    cmocka_unit_test_setup_teardown (delete__active__204_released_then_404, api_setup,
                                     api_teardown),
    cmocka_unit_test_setup_teardown (get__expired__still_answered_as_expired, api_setup,
                                     api_teardown),
    cmocka_unit_test_setup_teardown (routing__wrong_method_or_path__405_404, api_setup,
                                     api_teardown),
  };
  int failed = 0;

  failed += cmocka_run_group_tests_name ("reservations", core, NULL, NULL);
  failed += cmocka_run_group_tests_name ("api-reservations", api, NULL, NULL);
  return failed == 0 ? 0 : 1;
}
