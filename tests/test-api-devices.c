/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/devices on a real soup server on loopback port 0, with a daemon built
 * by gvd_daemon_new on the fixture host workstation-2gpu (claims, quarantine,
 * and a registry in a temporary state directory). */
#include "config.h"

#include "testlib.h"

#include "api.h"
#include "hostinfo.h"
#include "registry.h"
#include "registry-file.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  GvdDaemon *daemon;
  GvdApi *api;
  char *base;
  char *state_dir;
  char *registry_path;
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

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  f->daemon = gvd_test_daemon_build ("workstation-2gpu",
                                     "[daemon]\nmax_body_bytes=4096\n"
                                     "[host]\nhost_critical=0000:02:00.0\n", NULL);
  gvd_claims_set_ready (f->daemon->claims, TRUE);
  f->state_dir = g_strdup (f->daemon->config->state_dir);
  f->registry_path = g_build_filename (f->state_dir, GVD_REGISTRY_FILE_NAME, NULL);

  f->api = gvd_api_new (f->daemon, "admin", NULL);
  gvd_api_devices_register (f->api);
  /* The planner's GET /v1/devices/available shares the prefix. */
  gvd_api_plans_register (f->api);
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
  /* The disk-full test's tmpfs, when an assertion left it mounted. */
  if (geteuid () == 0)
    gvd_test_umount (f->state_dir);
  gvd_test_daemon_destroy (f->daemon);
  g_free (f->state_dir);
  g_free (f->registry_path);
  g_free (f->base);
  g_free (f);
  return 0;
}

#define GPU0 "{\"name\": \"gpu0\", \"pci_address\": \"0000:01:00.0\"}"

static void
register_gpu0 (Fixture *f)
{
  guint status;
  g_autoptr(JsonNode) node = request (f, "POST", "/v1/devices", GPU0, &status);

  assert_int_equal (status, 201);
}

static GvdRegistry *
load_saved (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  GvdRegistry *r = gvd_registry_load_file (f->registry_path, &error);

  if (r == NULL)
    fail_msg ("load: %s", error->message);
  return r;
}

static void
list__empty__no_devices (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = request (f, "GET", "/v1/devices", NULL, &status);

  assert_int_equal (status, 200);
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (node, "devices"))),
                    0);
}

static void
post__gpu__201_persisted_listed_and_shown (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) created = request (f, "POST", "/v1/devices", GPU0, &status);
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) by_name = NULL;
  g_autoptr(JsonNode) by_address = NULL;
  g_autoptr(GvdRegistry) saved = NULL;
  JsonArray *devices;

  assert_int_equal (status, 201);
  assert_string_equal (gvd_test_json_string (created, "name"), "gpu0");
  assert_string_equal (gvd_test_json_string (created, "pci_address"), "0000:01:00.0");
  assert_string_equal (gvd_test_json_string (created, "state"), "free");
  assert_null (gvd_test_json_string (created, "holder"));
  assert_string_equal (gvd_test_json_string (created, "inventory.address"), "0000:01:00.0");

  saved = load_saved (f);
  assert_string_equal (gvd_registry_lookup_name (saved, "gpu0"), "0000:01:00.0");

  list = request (f, "GET", "/v1/devices", NULL, &status);
  assert_int_equal (status, 200);
  devices = json_node_get_array (gvd_test_json_path (list, "devices"));
  assert_int_equal (json_array_get_length (devices), 1);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (devices, 0),
                                                      "name"),
                       "gpu0");

  by_name = request (f, "GET", "/v1/devices/gpu0", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (by_name, "pci_address"), "0000:01:00.0");
  by_address = request (f, "GET", "/v1/devices/0000:01:00.0", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (by_address, "name"), "gpu0");
}

/* Writes run in a worker one at a time: requests sent at once are checked
 * in turn (one of two same-name registrations wins, the other sees it), and
 * the file ends exactly as memory. */
static void
post__many_at_once__serialised_file_matches_memory (void **state)
{
  Fixture *f = *state;
  GvdTestRequest r[] = {
    { .method = "POST", .body = GPU0 },
    { .method = "POST", .body = GPU0 },
    { .method = "POST", .body = "{\"name\": \"gpu1\", \"pci_address\": \"0000:01:00.0\"}" },
    { .method = "POST", .body = "{\"name\": \"gpu2\", \"pci_address\": \"0000:01:00.0\"}" },
  };
  g_autoptr(GvdRegistry) saved = NULL;
  g_autoptr(JsonNode) list = NULL;
  guint created = 0, conflicts = 0, status;
  JsonArray *devices;

  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    r[i].url = g_strconcat (f->base, "/v1/devices", NULL);
  gvd_test_requests_in_loop (r, G_N_ELEMENTS (r));
  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    {
      if (r[i].status == 201)
        created++;
      else if (r[i].status == 409)
        conflicts++;
      gvd_test_request_clear (&r[i]);
    }
  /* One address: the first registration checked wins, each later one
   * sees it. */
  assert_int_equal (created, 1);
  assert_int_equal (conflicts, 3);

  saved = load_saved (f);
  list = request (f, "GET", "/v1/devices", NULL, &status);
  assert_int_equal (status, 200);
  devices = json_node_get_array (gvd_test_json_path (list, "devices"));
  assert_int_equal (json_array_get_length (devices), 1);
  assert_int_equal (gvd_registry_get_size (saved), 1);
  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      JsonObject *o = json_array_get_object_element (devices, i);
      assert_string_equal (gvd_registry_lookup_name (saved, json_object_get_string_member (o, "name")),
                           json_object_get_string_member (o, "pci_address"));
    }
}

static void
post__bad_input__400_naming_the_problem (void **state)
{
  Fixture *f = *state;
  struct {
    const char *body;
    const char *code;
    const char *needle;
  } cases[] = {
    { "{\"name\": \"gpu0\", \"pci_address\": \"0000:01:00.0\", \"color\": 1}", "invalid_argument",
      "color" },
    { "{\"pci_address\": \"0000:01:00.0\"}", "invalid_argument", "name" },
    { "{\"name\": \"gpu0\"}", "invalid_argument", "pci_address" },
    { "{\"name\": 5, \"pci_address\": \"0000:01:00.0\"}", "invalid_argument", "name" },
    { "{\"name\": \"-gpu\", \"pci_address\": \"0000:01:00.0\"}", "invalid_argument", "-gpu" },
    { "{\"name\": \"gpu0\", \"pci_address\": \"01:00\"}", "invalid_argument", "01:00" },
    { "{\"name\": \"available\", \"pci_address\": \"0000:01:00.0\"}", "invalid_argument",
      "reserved" },
    { "[1]", "invalid_json", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint status;
      g_autoptr(JsonNode) node = request (f, "POST", "/v1/devices", cases[i].body, &status);
      assert_int_equal (status, 400);
      gvd_test_assert_error (node, cases[i].code, cases[i].needle);
    }
  assert_int_equal (gvd_registry_get_size (f->daemon->registry), 0);
  assert_false (g_file_test (f->registry_path, G_FILE_TEST_EXISTS));
}

static void
post__not_a_candidate__4xx (void **state)
{
  Fixture *f = *state;
  struct {
    const char *address;
    guint status;
    const char *code;
  } cases[] = {
    { "0000:09:00.0", 404, "device_not_found" },
    { "0000:00:14.0", 422, "not_passthrough_capable" }, /* USB controller */
    { "0000:02:00.0", 422, "host_critical" },            /* listed in host_critical */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint status;
      g_autofree char *body =
        g_strdup_printf ("{\"name\": \"dev%" G_GSIZE_FORMAT "\", \"pci_address\": \"%s\"}", i,
                         cases[i].address);
      g_autoptr(JsonNode) node = request (f, "POST", "/v1/devices", body, &status);
      assert_int_equal (status, cases[i].status);
      gvd_test_assert_error (node, cases[i].code, cases[i].address);
    }
  assert_int_equal (gvd_registry_get_size (f->daemon->registry), 0);
}

static void
post__duplicate__409_already_exists (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) same_name = NULL;
  g_autoptr(JsonNode) same_address = NULL;

  register_gpu0 (f);
  same_name = request (f, "POST", "/v1/devices", GPU0, &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (same_name, "already_exists", "gpu0");
  same_address = request (f, "POST", "/v1/devices",
                          "{\"name\": \"other\", \"pci_address\": \"0000:01:00.0\"}", &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (same_address, "already_exists", "'gpu0'");
}

static void
post__write_fails__500_registry_unchanged (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) list = NULL;

  /* The state directory is gone: the temp file cannot be created. */
  g_free (f->daemon->config->state_dir);
  f->daemon->config->state_dir = g_build_filename (f->state_dir, "missing", NULL);
  node = request (f, "POST", "/v1/devices", GPU0, &status);
  assert_int_equal (status, 500);
  gvd_test_assert_error (node, "io_error", "registry");
  assert_int_equal (gvd_registry_get_size (f->daemon->registry), 0);
  list = request (f, "GET", "/v1/devices/gpu0", NULL, &status);
  assert_int_equal (status, 404);
}

/* The state directory's file system is full: POST and DELETE answer 500
 * io_error naming ENOSPC, memory stays as it was, registry.json stays
 * byte-identical and no temporary file is left. */
static void
write__file_system_full__500_memory_and_file_unchanged (void **state)
{
  Fixture *f = *state;
  g_autofree char *reason = NULL;
  g_autofree char *filler = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize before_len = 0;
  gsize after_len = 0;
  guint status;

  if (geteuid () != 0)
    skip ();
  if (!gvd_test_mount_small_tmpfs (f->state_dir, &reason))
    {
      print_message ("skipped: %s\n", reason);
      skip ();
    }
  filler = g_build_filename (f->state_dir, "filler", NULL);
  gvd_test_fill_fs (f->state_dir);
  {
    g_autoptr(JsonNode) node = request (f, "POST", "/v1/devices", GPU0, &status);
    g_autoptr(JsonNode) get = NULL;

    assert_int_equal (status, 500);
    gvd_test_assert_error (node, "io_error", "No space left on device");
    assert_non_null (strstr (gvd_test_json_string (node, "error.message"), "registry.json"));
    assert_int_equal (gvd_registry_get_size (f->daemon->registry), 0);
    get = request (f, "GET", "/v1/devices/gpu0", NULL, &status);
    assert_int_equal (status, 404);
    assert_false (g_file_test (f->registry_path, G_FILE_TEST_EXISTS));
  }

  assert_int_equal (g_unlink (filler), 0);
  register_gpu0 (f);
  assert_true (g_file_get_contents (f->registry_path, &before, &before_len, NULL));
  gvd_test_fill_fs (f->state_dir);
  {
    g_autoptr(JsonNode) node = request (f, "DELETE", "/v1/devices/gpu0", NULL, &status);
    g_autoptr(JsonNode) get = NULL;

    assert_int_equal (status, 500);
    gvd_test_assert_error (node, "io_error", "No space left on device");
    get = request (f, "GET", "/v1/devices/gpu0", NULL, &status);
    assert_int_equal (status, 200);
  }
  assert_true (g_file_get_contents (f->registry_path, &after, &after_len, NULL));
  assert_int_equal (after_len, before_len);
  assert_memory_equal (after, before, before_len);
  {
    g_autoptr(GDir) dir = g_dir_open (f->state_dir, 0, NULL);
    const char *name;
    guint n = 0;

    while ((name = g_dir_read_name (dir)) != NULL)
      n++;
    assert_int_equal (n, 2); /* registry.json and the filler */
  }
  gvd_test_umount (f->state_dir);
}

static void
get__unknown__404_device_not_found (void **state)
{
  Fixture *f = *state;
  const char *paths[] = { "/v1/devices/nope", "/v1/devices/0000:01:00.0" };

  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      guint status;
      g_autoptr(JsonNode) node = request (f, "GET", paths[i], NULL, &status);
      assert_int_equal (status, 404);
      gvd_test_assert_error (node, "device_not_found", NULL);
    }
}

static void
routing__wrong_paths_and_methods__404_405 (void **state)
{
  Fixture *f = *state;
  struct {
    const char *method;
    const char *path;
    guint status;
  } cases[] = {
    { "PUT", "/v1/devices", 405 },
    { "POST", "/v1/devices/gpu0", 405 },
    { "GET", "/v1/devices/gpu0/clear", 405 },
    { "GET", "/v1/devices/gpu0/other", 404 },
    { "GET", "/v1/devices/gpu0/clear/x", 404 },
    { "GET", "/v1/devicesx", 404 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint status;
      g_autoptr(JsonNode) node = request (f, cases[i].method, cases[i].path, NULL, &status);
      if (status != cases[i].status)
        fail_msg ("%s %s: %u", cases[i].method, cases[i].path, status);
      assert_non_null (node);
    }
}

static void
available__planner_route__not_swallowed (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;
  JsonArray *devices;
  gboolean seen = FALSE;

  register_gpu0 (f);
  node = request (f, "GET", "/v1/devices/available", NULL, &status);
  assert_int_equal (status, 200);
  /* The planner's answer, which shows registered names too. */
  devices = json_node_get_array (gvd_test_json_path (node, "devices"));
  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      JsonObject *dev = json_array_get_object_element (devices, i);
      if (g_str_equal (json_object_get_string_member (dev, "address"), "0000:01:00.0"))
        {
          assert_string_equal (json_object_get_string_member (dev, "name"), "gpu0");
          seen = TRUE;
        }
    }
  assert_true (seen);
}

static void
in_use__shown_with_holder (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;

  register_gpu0 (f);
  gvd_claims_set_holder (f->daemon->claims, "0000:01:00.0", "train-7");
  node = request (f, "GET", "/v1/devices/gpu0", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (node, "state"), "in_use");
  assert_string_equal (gvd_test_json_string (node, "holder"), "train-7");
}

static void
delete__in_use__409_naming_holder (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;

  register_gpu0 (f);
  gvd_claims_set_holder (f->daemon->claims, "0000:01:00.0", "train-7");
  node = request (f, "DELETE", "/v1/devices/gpu0", NULL, &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (node, "device_in_use", "train-7");
  assert_int_equal (gvd_registry_get_size (f->daemon->registry), 1);
}

static void
delete__claims_not_ready__503_fail_closed (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) shown = NULL;

  register_gpu0 (f);
  gvd_claims_set_ready (f->daemon->claims, FALSE);
  node = request (f, "DELETE", "/v1/devices/gpu0", NULL, &status);
  assert_int_equal (status, 503);
  gvd_test_assert_error (node, "not_ready", NULL);
  assert_int_equal (gvd_registry_get_size (f->daemon->registry), 1);
  shown = request (f, "GET", "/v1/devices/gpu0", NULL, &status);
  assert_string_equal (gvd_test_json_string (shown, "state"), "unknown");
}

static void
delete__free__204_and_persisted (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(GvdRegistry) saved = NULL;

  register_gpu0 (f);
  node = request (f, "DELETE", "/v1/devices/0000:01:00.0", NULL, &status);
  assert_int_equal (status, 204);
  assert_null (node);
  saved = load_saved (f);
  assert_int_equal (gvd_registry_get_size (saved), 0);
  again = request (f, "DELETE", "/v1/devices/gpu0", NULL, &status);
  assert_int_equal (status, 404);
  gvd_test_assert_error (again, "device_not_found", "gpu0");
}

static void
delete__write_fails__500_registry_unchanged (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;

  register_gpu0 (f);
  g_free (f->daemon->config->state_dir);
  f->daemon->config->state_dir = g_build_filename (f->state_dir, "missing", NULL);
  node = request (f, "DELETE", "/v1/devices/gpu0", NULL, &status);
  assert_int_equal (status, 500);
  assert_string_equal (gvd_registry_lookup_name (f->daemon->registry, "gpu0"), "0000:01:00.0");
}

static void
clear__quarantined__200_and_removed (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) shown = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) bare = NULL;

  register_gpu0 (f);
  gvd_claims_quarantine (f->daemon->claims, "0000:01:00.0", "did not return to its host driver");
  gvd_claims_quarantine (f->daemon->claims, "0000:01:00.1", "reset failed");
  shown = request (f, "GET", "/v1/devices/gpu0", NULL, &status);
  assert_string_equal (gvd_test_json_string (shown, "state"), "quarantined");
  assert_string_equal (gvd_test_json_string (shown, "quarantine_reason"),
                       "did not return to its host driver");

  node = request (f, "POST", "/v1/devices/gpu0/clear", NULL, &status);
  assert_int_equal (status, 200);
  assert_string_equal (gvd_test_json_string (node, "state"), "free");
  assert_null (gvd_claims_get_quarantine (f->daemon->claims, "0000:01:00.0"));

  /* An unregistered device is cleared by its address. */
  bare = request (f, "POST", "/v1/devices/0000:01:00.1/clear", NULL, &status);
  assert_int_equal (status, 200);
  assert_null (gvd_test_json_string (bare, "name"));
  assert_int_equal (gvd_claims_count_quarantined (f->daemon->claims), 0);
}

static void
clear__not_quarantined__409_or_404 (void **state)
{
  Fixture *f = *state;
  guint status;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) unknown = NULL;

  register_gpu0 (f);
  node = request (f, "POST", "/v1/devices/gpu0/clear", NULL, &status);
  assert_int_equal (status, 409);
  gvd_test_assert_error (node, "invalid_state", "0000:01:00.0");
  unknown = request (f, "POST", "/v1/devices/nope/clear", NULL, &status);
  assert_int_equal (status, 404);
  gvd_test_assert_error (unknown, "device_not_found", "nope");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (list__empty__no_devices, setup, teardown),
    cmocka_unit_test_setup_teardown (post__gpu__201_persisted_listed_and_shown, setup, teardown),
    cmocka_unit_test_setup_teardown (post__many_at_once__serialised_file_matches_memory, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (post__bad_input__400_naming_the_problem, setup, teardown),
    cmocka_unit_test_setup_teardown (post__not_a_candidate__4xx, setup, teardown),
    cmocka_unit_test_setup_teardown (post__duplicate__409_already_exists, setup, teardown),
    cmocka_unit_test_setup_teardown (post__write_fails__500_registry_unchanged, setup, teardown),
    cmocka_unit_test_setup_teardown (write__file_system_full__500_memory_and_file_unchanged, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (get__unknown__404_device_not_found, setup, teardown),
    cmocka_unit_test_setup_teardown (routing__wrong_paths_and_methods__404_405, setup, teardown),
    cmocka_unit_test_setup_teardown (available__planner_route__not_swallowed, setup, teardown),
    cmocka_unit_test_setup_teardown (in_use__shown_with_holder, setup, teardown),
    cmocka_unit_test_setup_teardown (delete__in_use__409_naming_holder, setup, teardown),
    cmocka_unit_test_setup_teardown (delete__claims_not_ready__503_fail_closed, setup, teardown),
    cmocka_unit_test_setup_teardown (delete__free__204_and_persisted, setup, teardown),
    cmocka_unit_test_setup_teardown (delete__write_fails__500_registry_unchanged, setup, teardown),
    cmocka_unit_test_setup_teardown (clear__quarantined__200_and_removed, setup, teardown),
    cmocka_unit_test_setup_teardown (clear__not_quarantined__409_or_404, setup, teardown),
  };

  return cmocka_run_group_tests_name ("api-devices", tests, NULL, NULL);
}
