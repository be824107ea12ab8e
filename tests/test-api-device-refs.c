/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One device reference, one answer: POST /v1/plans, POST /v1/reservations
 * and the instance create path (gvd_device_ref_resolve, which
 * instance-create.c calls) resolve "0000:03:00.0", "03:00.0" and a
 * registered name alike, and refuse the same unknown references with the
 * same code. Real soup server on loopback port 0, the fixture host
 * server-8gpu. Regression: plans took "03:00.0" while
 * instances answered device_not_found. */
#include "config.h"

#include "testlib.h"

#include "api.h"
#include "claims.h"
#include "device-ref.h"
#include "hostinfo.h"
#include "registry.h"
#include "reservations.h"

#include <string.h>

typedef struct {
  GvdDaemon *daemon;
  GvdApi *api;
  char *base;
} Fixture;

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

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  /* The real daemon's services on the fixture host; libvirt is never
   * started, so the claims are marked reconciled by hand. */
  f->daemon = gvd_test_daemon_build ("server-8gpu", "[daemon]\nmax_body_bytes=4096\n", NULL);
  gvd_claims_set_ready (f->daemon->claims, TRUE);
  assert_true (gvd_registry_add (f->daemon->registry, "gpu0", "0000:03:00.0", NULL));

  f->api = gvd_api_new (f->daemon, "admin", NULL);
  gvd_api_devices_register (f->api);
  gvd_api_plans_register (f->api);
  gvd_api_reservations_register (f->api);
  assert_true (gvd_api_listen (f->api, "127.0.0.1:0", &error));
  url = gvd_api_get_url (f->api);
  f->base = g_strndup (url, strlen (url) - 1);
  *state = f;
  return 0;
}

static int
teardown (void **state)
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

static char *
body_for (const char *ref)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, ref);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static const char *
first_string (JsonNode *root, const char *member)
{
  JsonArray *a = json_node_get_array (gvd_test_json_path (root, member));

  assert_true (json_array_get_length (a) >= 1);
  return json_array_get_string_element (a, 0);
}

static void
same_reference__plans_reservations_instances__same_device (void **state)
{
  Fixture *f = *state;
  const char *refs[] = { "0000:03:00.0", "03:00.0", "gpu0" };

  for (guint i = 0; i < G_N_ELEMENTS (refs); i++)
    {
      g_autofree char *body = body_for (refs[i]);
      g_autofree char *by_instances = NULL;
      g_autofree char *del = NULL;
      g_autoptr(JsonNode) plan = NULL;
      g_autoptr(JsonNode) reservation = NULL;
      g_autoptr(JsonNode) gone = NULL;
      guint status;

      plan = request (f, "POST", "/v1/plans", body, &status);
      if (status != 200)
        fail_msg ("plans refused '%s' (%u)", refs[i], status);
      assert_string_equal (first_string (plan, "gpus"), "0000:03:00.0");

      reservation = request (f, "POST", "/v1/reservations", body, &status);
      if (status != 201)
        fail_msg ("reservations refused '%s' (%u)", refs[i], status);
      assert_string_equal (first_string (reservation, "gpus"), "0000:03:00.0");
      del = g_strconcat ("/v1/reservations/", gvd_test_json_string (reservation, "id"), NULL);
      gone = request (f, "DELETE", del, NULL, &status);
      assert_true (status == 200 || status == 204);

      /* The instance path's resolver (instance-create.c resolve_devices). */
      by_instances = gvd_device_ref_resolve (f->daemon->registry, "devices[0]", refs[i], NULL);
      assert_string_equal (by_instances, "0000:03:00.0");
    }
}

static void
same_unknown_reference__everywhere__404_device_not_found (void **state)
{
  Fixture *f = *state;
  const char *refs[] = { "gpu9", "3:00.0", "0000:03:00", "0000:03:00.8", "03:00.0:0" };

  for (guint i = 0; i < G_N_ELEMENTS (refs); i++)
    {
      g_autofree char *body = body_for (refs[i]);
      g_autoptr(JsonNode) plan = NULL;
      g_autoptr(JsonNode) reservation = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *by_instances = NULL;
      guint status;

      plan = request (f, "POST", "/v1/plans", body, &status);
      assert_int_equal (status, 404);
      gvd_test_assert_error (plan, "device_not_found", "devices[0]");
      reservation = request (f, "POST", "/v1/reservations", body, &status);
      assert_int_equal (status, 404);
      gvd_test_assert_error (reservation, "device_not_found", "devices[0]");
      by_instances = gvd_device_ref_resolve (f->daemon->registry, "devices[0]", refs[i], &error);
      assert_null (by_instances);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND));
    }
}

static void
registry__short_form__canonical_and_usable_by_name (void **state)
{
  Fixture *f = *state;
  g_autofree char *body = body_for ("gpu4");
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonNode) bad = NULL;
  g_autoptr(JsonNode) plan = NULL;
  g_autoptr(JsonNode) by_short = NULL;
  guint status;

  created = request (f, "POST", "/v1/devices",
                     "{\"name\": \"gpu4\", \"pci_address\": \"04:00.0\"}", &status);
  assert_int_equal (status, 201);
  assert_string_equal (gvd_test_json_string (created, "pci_address"), "0000:04:00.0");
  by_short = request (f, "GET", "/v1/devices/04:00.0", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (by_short, "name"), "gpu4");
  plan = request (f, "POST", "/v1/plans", body, &status);
  assert_int_equal (status, 200);
  assert_string_equal (first_string (plan, "gpus"), "0000:04:00.0");
  bad = request (f, "POST", "/v1/devices",
                 "{\"name\": \"gpu5\", \"pci_address\": \"4:00.0\"}", &status);
  assert_int_equal (status, 400);
  gvd_test_assert_error (bad, "invalid_argument", "pci_address: '4:00.0' is not a PCI address");
}

static void
address_not_on_host__plans_and_reservations__404_device_not_found (void **state)
{
  Fixture *f = *state;
  g_autofree char *body = body_for ("0d:00.0");
  g_autoptr(JsonNode) plan = NULL;
  g_autoptr(JsonNode) reservation = NULL;
  guint status;

  plan = request (f, "POST", "/v1/plans", body, &status);
  assert_int_equal (status, 404);
  gvd_test_assert_error (plan, "device_not_found", NULL);
  reservation = request (f, "POST", "/v1/reservations", body, &status);
  assert_int_equal (status, 404);
  gvd_test_assert_error (reservation, "device_not_found", NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (same_reference__plans_reservations_instances__same_device,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (same_unknown_reference__everywhere__404_device_not_found,
                                     setup, teardown),
    cmocka_unit_test_setup_teardown (registry__short_form__canonical_and_usable_by_name, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (
      address_not_on_host__plans_and_reservations__404_device_not_found, setup, teardown),
  };

  return cmocka_run_group_tests_name ("api-device-refs", tests, NULL, NULL);
}
