/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Agent receiver core: tokens, report validation and its bounds, the health
 * state machine on an injected clock, the view, and the daemon secret. */
#include "config.h"

#include "testlib.h"

#include "agent.h"
#include "api.h"
#include "daemon-timers.h"
#include "errors.h"
#include "events.h"
#include "rate-limit.h"
#include "secret.h"
#include "validate.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define UUID_A "6f0e3c2a-8a4b-4b1e-9c7d-0123456789ab"
#define UUID_B "11111111-2222-3333-4444-555555555555"
/* python3 -c 'import hmac, hashlib; print(hmac.new(bytes(range(32)),
 *   b"6f0e3c2a-8a4b-4b1e-9c7d-0123456789ab", hashlib.sha256).hexdigest())' */
#define TOKEN_A "3d33c382f4ead95eec164569c1b05a9fdb3c659563ab71857e08bd3f2e6c6c4e"
/* same with b"11111111-2222-3333-4444-555555555555" */
#define TOKEN_B "86a535b944237cd9f09f5d4c027906e95a31396f443ac3e31c80d21c5502fdcb"

#define SEC G_GINT64_CONSTANT (1000000)
#define T0 (1000 * SEC) /* injected monotonic clock start */

static GBytes *
test_secret (void)
{
  guint8 key[32];

  for (guint i = 0; i < sizeof key; i++)
    key[i] = i;
  return g_bytes_new (key, sizeof key);
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  if (!json_parser_load_from_data (parser, json, -1, &error))
    fail_msg ("bad test JSON: %s: %s", error->message, json);
  assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* ---- tokens ------------------------------------------------------------------ */

static void
token_derive__known_vector__matches_python_hmac (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();
  g_autofree char *a = gvd_agent_token_derive (secret, UUID_A);
  g_autofree char *b = gvd_agent_token_derive (secret, UUID_B);

  assert_string_equal (a, TOKEN_A);
  assert_string_equal (b, TOKEN_B);
  assert_int_equal (strlen (a), GVD_AGENT_TOKEN_LEN);
}

static void
token_verify__own_token__accepted (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();

  assert_true (gvd_agent_token_verify (secret, UUID_A, TOKEN_A));
  assert_true (gvd_agent_token_verify (secret, UUID_B, TOKEN_B));
}

static void
token_verify__other_instance__rejected (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();

  assert_false (gvd_agent_token_verify (secret, UUID_A, TOKEN_B));
  assert_false (gvd_agent_token_verify (secret, UUID_B, TOKEN_A));
}

static void
token_verify__other_secret__rejected (void **state)
{
  guint8 key[32] = { 1 };
  g_autoptr(GBytes) other = g_bytes_new (key, sizeof key);

  assert_false (gvd_agent_token_verify (other, UUID_A, TOKEN_A));
}

static void
token_verify__truncated_or_extended__rejected (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();
  g_autofree char *truncated = g_strndup (TOKEN_A, GVD_AGENT_TOKEN_LEN - 1);
  g_autofree char *extended = g_strconcat (TOKEN_A, "0", NULL);

  assert_false (gvd_agent_token_verify (secret, UUID_A, truncated));
  assert_false (gvd_agent_token_verify (secret, UUID_A, extended));
  assert_false (gvd_agent_token_verify (secret, UUID_A, "3d33"));
}

static void
token_verify__different_case__rejected (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();
  g_autofree char *upper = g_ascii_strup (TOKEN_A, -1);

  assert_false (gvd_agent_token_verify (secret, UUID_A, upper));
}

static void
token_verify__empty_or_null__rejected (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();

  assert_false (gvd_agent_token_verify (secret, UUID_A, ""));
  assert_false (gvd_agent_token_verify (secret, UUID_A, NULL));
  assert_false (gvd_agent_token_verify (NULL, UUID_A, TOKEN_A));
}

/* ---- report validation -------------------------------------------------------- */

#define FULL_HEARTBEAT                                                                      \
  "{\"instance\": \"a\", \"boot_id\": \"b1\", \"seq\": 3, \"interval\": 10,"                \
  " \"surprise\": {\"x\": 1},"                                                              \
  " \"cloud_init\": {\"status\": \"done\", \"datasource\": \"DataSourceNoCloud\","          \
  "   \"errors\": [], \"extra\": 1},"                                                       \
  " \"addresses\": [{\"interface\": \"eth0\", \"family\": \"inet\","                        \
  "   \"address\": \"10.0.2.15\", \"prefix\": 24}],"                                        \
  " \"system\": {\"load1\": 0.5, \"load5\": 1, \"load15\": 0.25, \"mem_total_kib\": 1000,"  \
  "   \"mem_available_kib\": 500, \"uptime_seconds\": 12, \"root_total_bytes\": 3000,"       \
  "   \"root_available_bytes\": 2000},"                                                     \
  " \"nvidia_smi\": {\"status\": \"ok\", \"error\": null},"                                 \
  " \"gpus\": [{\"index\": 0, \"uuid\": \"GPU-1\", \"name\": \"A100\","                     \
  "   \"driver_version\": \"535\", \"utilization_percent\": 37,"                            \
  "   \"memory_used_mib\": 1024, \"memory_total_mib\": 40960, \"temperature_c\": 41,"        \
  "   \"power_draw_w\": 61.23, \"fan\": 3}],"                                               \
  " \"pci_gpus\": [{\"address\": \"0000:00:05.0\", \"class\": \"0x030200\","                \
  "   \"vendor\": \"0x10de\", \"device\": \"0x20b0\", \"driver\": \"nvidia\"}]}"

static void
report_validate__full_heartbeat__keeps_known_drops_unknown (void **state)
{
  g_autoptr(JsonObject) body = parse_object (FULL_HEARTBEAT);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) clean =
    gvd_agent_report_validate (GVD_AGENT_REPORT_HEARTBEAT, body, &error);
  JsonObject *gpu;

  assert_null (error);
  assert_non_null (clean);
  assert_false (json_object_has_member (clean, "surprise"));
  assert_false (json_object_has_member (json_object_get_object_member (clean, "cloud_init"),
                                        "extra"));
  gpu = json_array_get_object_element (json_object_get_array_member (clean, "gpus"), 0);
  assert_false (json_object_has_member (gpu, "fan"));
  assert_int_equal (json_object_get_int_member (gpu, "memory_total_mib"), 40960);
  assert_true (json_object_get_double_member (gpu, "power_draw_w") > 61.2);
  assert_string_equal (json_object_get_string_member (clean, "boot_id"), "b1");
  assert_true (json_object_get_null_member (json_object_get_object_member (clean, "nvidia_smi"),
                                            "error"));
  assert_int_equal (json_object_get_int_member (json_object_get_object_member (clean, "system"),
                                                "mem_total_kib"),
                    1000);
}

static void
report_validate__minimal_and_nulls__accepted (void **state)
{
  const char *bodies[] = {
    "{\"instance\": \"a\"}",
    "{\"instance\": \"a\", \"boot_id\": null, \"gpus\": null, \"system\": null,"
    " \"cloud_init\": null, \"addresses\": []}",
    "{\"instance\": \"a\", \"gpus\": [{\"index\": null, \"utilization_percent\": null,"
    " \"power_draw_w\": null}]}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(JsonObject) body = parse_object (bodies[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) clean =
        gvd_agent_report_validate (GVD_AGENT_REPORT_HEARTBEAT, body, &error);

      if (clean == NULL)
        fail_msg ("%s: %s", bodies[i], error->message);
    }
}

typedef struct {
  const char *body;
  const char *message; /* expected start of the error message */
} BadCase;

static void
check_bad (GvdAgentReportKind kind, const BadCase *c)
{
  g_autoptr(JsonObject) body = parse_object (c->body);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) clean = gvd_agent_report_validate (kind, body, &error);

  if (clean != NULL)
    fail_msg ("accepted: %s", c->body);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  if (!g_str_has_prefix (error->message, c->message))
    fail_msg ("%s: got '%s', want '%s...'", c->body, error->message, c->message);
}

static void
report_validate__wrong_types__error_names_the_field (void **state)
{
  static const BadCase cases[] = {
    { "{}", "instance: is required" },
    { "{\"instance\": 7}", "instance: must be a string" },
    { "{\"instance\": \"a\", \"boot_id\": 1}", "boot_id: must be a string" },
    { "{\"instance\": \"a\", \"seq\": \"1\"}", "seq: must be an integer" },
    { "{\"instance\": \"a\", \"seq\": 1.5}", "seq: must be an integer" },
    { "{\"instance\": \"a\", \"system\": []}", "system: must be an object" },
    { "{\"instance\": \"a\", \"system\": {\"load1\": \"x\"}}", "system.load1: must be a number" },
    { "{\"instance\": \"a\", \"system\": {\"load1\": true}}", "system.load1: must be a number" },
    { "{\"instance\": \"a\", \"gpus\": {}}", "gpus: must be an array" },
    { "{\"instance\": \"a\", \"gpus\": [1]}", "gpus[0]: must be an object" },
    { "{\"instance\": \"a\", \"gpus\": [{}, {\"name\": 5}]}", "gpus[1].name: must be a string" },
    { "{\"instance\": \"a\", \"pci_gpus\": [{\"vendor\": \"0x10de\"}]}",
      "pci_gpus[0].address: is required" },
    { "{\"instance\": \"a\", \"addresses\": [{\"address\": null}]}",
      "addresses[0].address: is required" },
    { "{\"instance\": \"a\", \"cloud_init\": {\"errors\": [1]}}",
      "cloud_init.errors[0]: must be a string" },
    { "{\"instance\": \"a\", \"nvidia_smi\": \"ok\"}", "nvidia_smi: must be an object" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    check_bad (GVD_AGENT_REPORT_HEARTBEAT, &cases[i]);
}

static char *
repeat_items (const char *item, guint n)
{
  g_autoptr(GString) s = g_string_new ("[");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%s", i > 0 ? "," : "", item);
  g_string_append_c (s, ']');
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
report_validate__array_bounds__at_most_64_items (void **state)
{
  const char *arrays[] = { "gpus", "pci_gpus", "addresses" };
  const char *items[] = { "{}", "{\"address\": \"0000:00:05.0\"}", "{\"address\": \"10.0.0.1\"}" };

  for (gsize i = 0; i < G_N_ELEMENTS (arrays); i++)
    {
      g_autofree char *ok_list = repeat_items (items[i], GVD_AGENT_MAX_ITEMS);
      g_autofree char *bad_list = repeat_items (items[i], GVD_AGENT_MAX_ITEMS + 1);
      g_autofree char *ok_json = g_strdup_printf ("{\"instance\": \"a\", \"%s\": %s}", arrays[i],
                                                  ok_list);
      g_autofree char *bad_json = g_strdup_printf ("{\"instance\": \"a\", \"%s\": %s}",
                                                   arrays[i], bad_list);
      g_autofree char *want = g_strdup_printf ("%s: must have at most 64 items", arrays[i]);
      g_autoptr(JsonObject) ok = parse_object (ok_json);
      g_autoptr(JsonObject) clean = gvd_agent_report_validate (GVD_AGENT_REPORT_PHONE_HOME, ok,
                                                               NULL);
      BadCase bad = { bad_json, want };

      assert_non_null (clean);
      check_bad (GVD_AGENT_REPORT_PHONE_HOME, &bad);
    }
  {
    g_autofree char *ok_list = repeat_items ("\"e\"", GVD_AGENT_MAX_ERRORS);
    g_autofree char *bad_list = repeat_items ("\"e\"", GVD_AGENT_MAX_ERRORS + 1);
    g_autofree char *ok_json =
      g_strdup_printf ("{\"instance\": \"a\", \"cloud_init\": {\"errors\": %s}}", ok_list);
    g_autofree char *bad_json =
      g_strdup_printf ("{\"instance\": \"a\", \"cloud_init\": {\"errors\": %s}}", bad_list);
    g_autoptr(JsonObject) ok = parse_object (ok_json);
    g_autoptr(JsonObject) clean = gvd_agent_report_validate (GVD_AGENT_REPORT_HEARTBEAT, ok,
                                                             NULL);
    BadCase bad = { bad_json, "cloud_init.errors: must have at most 16 items" };

    assert_non_null (clean);
    check_bad (GVD_AGENT_REPORT_HEARTBEAT, &bad);
  }
}

/* A string member of exactly @len bytes must pass, @len + 1 must not. */
static void
check_string_bound (const char *prefix, const char *suffix, guint len, const char *field)
{
  g_autofree char *at = g_strnfill (len, 'x');
  g_autofree char *over = g_strnfill (len + 1, 'x');
  g_autofree char *ok_json = g_strdup_printf ("%s\"%s\"%s", prefix, at, suffix);
  g_autofree char *bad_json = g_strdup_printf ("%s\"%s\"%s", prefix, over, suffix);
  g_autofree char *want = g_strdup_printf ("%s: must be at most %u bytes long", field, len);
  g_autoptr(JsonObject) ok = parse_object (ok_json);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) clean = gvd_agent_report_validate (GVD_AGENT_REPORT_PHONE_HOME, ok,
                                                           &error);
  BadCase bad = { bad_json, want };

  if (clean == NULL)
    fail_msg ("%s at %u bytes refused: %s", field, len, error->message);
  check_bad (GVD_AGENT_REPORT_PHONE_HOME, &bad);
}

static void
report_validate__string_bounds__at_limit_ok_over_refused (void **state)
{
  check_string_bound ("{\"instance\": ", "}", GVD_INSTANCE_NAME_MAX, "instance");
  check_string_bound ("{\"instance\": \"a\", \"kernel\": ", "}", 256, "kernel");
  check_string_bound ("{\"instance\": \"a\", \"hostname\": ", "}", 256, "hostname");
  check_string_bound ("{\"instance\": \"a\", \"boot_id\": ", "}", 64, "boot_id");
  check_string_bound ("{\"instance\": \"a\", \"agent_version\": ", "}", 32, "agent_version");
  check_string_bound ("{\"instance\": \"a\", \"gpus\": [{\"name\": ", "}]}", 256, "gpus[0].name");
  check_string_bound ("{\"instance\": \"a\", \"gpus\": [{\"uuid\": ", "}]}", 128, "gpus[0].uuid");
  check_string_bound ("{\"instance\": \"a\", \"pci_gpus\": [{\"address\": ", "}]}", 32,
                      "pci_gpus[0].address");
  check_string_bound ("{\"instance\": \"a\", \"pci_gpus\": [{\"address\": \"x\", \"driver\": ",
                      "}]}", 64, "pci_gpus[0].driver");
  check_string_bound ("{\"instance\": \"a\", \"nvidia_smi\": {\"error\": ", "}}", 512,
                      "nvidia_smi.error");
  check_string_bound ("{\"instance\": \"a\", \"cloud_init\": {\"errors\": [", "]}}", 512,
                      "cloud_init.errors[0]");
  check_string_bound ("{\"instance\": \"a\", \"addresses\": [{\"address\": ", "}]}", 64,
                      "addresses[0].address");
}

static void
report_validate__number_ranges__refused_outside (void **state)
{
  static const BadCase cases[] = {
    { "{\"instance\": \"a\", \"gpus\": [{\"utilization_percent\": 100.5}]}",
      "gpus[0].utilization_percent: must be between 0 and 100" },
    { "{\"instance\": \"a\", \"gpus\": [{\"utilization_percent\": -1}]}",
      "gpus[0].utilization_percent: must be between" },
    { "{\"instance\": \"a\", \"gpus\": [{\"index\": 1024}]}", "gpus[0].index: must be between 0 and 1023" },
    { "{\"instance\": \"a\", \"gpus\": [{\"index\": -1}]}", "gpus[0].index: must be between" },
    { "{\"instance\": \"a\", \"gpus\": [{\"memory_used_mib\": -5}]}",
      "gpus[0].memory_used_mib: must be between" },
    { "{\"instance\": \"a\", \"gpus\": [{\"temperature_c\": 1e9}]}",
      "gpus[0].temperature_c: must be between" },
    { "{\"instance\": \"a\", \"gpus\": [{\"power_draw_w\": 1e7}]}",
      "gpus[0].power_draw_w: must be between" },
    { "{\"instance\": \"a\", \"addresses\": [{\"address\": \"x\", \"prefix\": 129}]}",
      "addresses[0].prefix: must be between 0 and 128" },
    { "{\"instance\": \"a\", \"interval\": 86401}", "interval: must be between 0 and 86400" },
    { "{\"instance\": \"a\", \"seq\": -1}", "seq: must be between" },
    { "{\"instance\": \"a\", \"system\": {\"uptime_seconds\": 9007199254740992}}",
      "system.uptime_seconds: must be between" },
    { "{\"instance\": \"a\", \"system\": {\"load1\": -0.1}}", "system.load1: must be between" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    check_bad (GVD_AGENT_REPORT_HEARTBEAT, &cases[i]);
}

static void
report_validate__number_ranges__limits_accepted (void **state)
{
  g_autoptr(JsonObject) body = parse_object (
    "{\"instance\": \"a\", \"seq\": 9007199254740991, \"interval\": 86400,"
    " \"gpus\": [{\"index\": 1023, \"utilization_percent\": 100, \"memory_used_mib\": 0,"
    "  \"temperature_c\": -273, \"power_draw_w\": 0}],"
    " \"addresses\": [{\"address\": \"::1\", \"prefix\": 128}]}");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) clean = gvd_agent_report_validate (GVD_AGENT_REPORT_HEARTBEAT, body,
                                                           &error);

  if (clean == NULL)
    fail_msg ("%s", error->message);
}

/* ---- the tracker --------------------------------------------------------------- */

typedef struct {
  GvdAgentHub *hub;
  GPtrArray *changes; /* "name: old -> new" */
  gboolean forget_on_unresponsive;
} Fixture;

static void
record_change (GvdAgentHub *hub, const char *name, GvdAgentHealth old_health,
               GvdAgentHealth new_health, const char *reason, gpointer user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->changes, g_strdup_printf ("%s: %s -> %s", name,
                                                gvd_agent_health_to_string (old_health),
                                                gvd_agent_health_to_string (new_health)));
  if (f->forget_on_unresponsive && new_health == GVD_AGENT_HEALTH_UNRESPONSIVE)
    gvd_agent_hub_forget (hub, name);
}

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GBytes) secret = test_secret ();

  /* interval 10 s, 3 missed: unresponsive 30 s after the last report */
  f->hub = gvd_agent_hub_new (secret, 10, 3);
  f->changes = g_ptr_array_new_with_free_func (g_free);
  gvd_agent_hub_add_watch (f->hub, record_change, f);
  gvd_agent_hub_track (f->hub, "a", UUID_A);
  gvd_agent_hub_track (f->hub, "b", UUID_B);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  gvd_agent_hub_free (f->hub);
  g_ptr_array_unref (f->changes);
  g_free (f);
  return 0;
}

static gboolean
report (GvdAgentHub *hub, gboolean heartbeat, const char *name, const char *token,
        const char *json, gint64 now, GError **error)
{
  g_autoptr(JsonObject) body = parse_object (json);

  if (heartbeat)
    return gvd_agent_hub_handle_heartbeat (hub, name, token, body, now, error);
  return gvd_agent_hub_handle_phone_home (hub, name, token, body, now, error);
}

static void
ok_report (GvdAgentHub *hub, gboolean heartbeat, const char *json, gint64 now)
{
  g_autoptr(GError) error = NULL;

  if (!report (hub, heartbeat, "a", TOKEN_A, json, now, &error))
    fail_msg ("report refused: %s", error->message);
}

#define PH "{\"instance\": \"a\", \"boot_id\": \"boot-1\", \"kernel\": \"Linux 6.1\"}"
#define HB "{\"instance\": \"a\", \"boot_id\": \"boot-1\", \"seq\": 1}"

static void
assert_changes (Fixture *f, const char *const *want)
{
  gsize n = g_strv_length ((char **) want);

  for (guint i = 0; i < MIN (n, f->changes->len); i++)
    assert_string_equal (g_ptr_array_index (f->changes, i), want[i]);
  assert_int_equal (f->changes->len, n);
}

static void
hub__track__provisioning_without_deadline (void **state)
{
  Fixture *f = *state;

  assert_true (gvd_agent_hub_is_tracked (f->hub, "a"));
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_PROVISIONING);
  assert_int_equal (gvd_agent_hub_get_deadline (f->hub, "a"), 0);
  /* Provisioning has no deadline: a slow first boot is not unresponsive. */
  gvd_agent_hub_tick (f->hub, T0 + 3600 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_PROVISIONING);
  assert_int_equal (f->changes->len, 0);
}

static void
hub__get_token__derived_from_uuid (void **state)
{
  Fixture *f = *state;
  g_autofree char *a = gvd_agent_hub_get_token (f->hub, "a");
  g_autofree char *none = gvd_agent_hub_get_token (f->hub, "zzz");

  assert_string_equal (a, TOKEN_A);
  assert_null (none);
}

static void
hub__phone_home_then_heartbeat__ready_then_healthy (void **state)
{
  Fixture *f = *state;
  const char *want[] = { "a: provisioning -> ready", "a: ready -> healthy", NULL };

  ok_report (f->hub, FALSE, PH, T0);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_READY);
  assert_int_equal (gvd_agent_hub_get_deadline (f->hub, "a"), T0 + 30 * SEC);
  ok_report (f->hub, TRUE, HB, T0 + 10 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
  assert_int_equal (gvd_agent_hub_get_deadline (f->hub, "a"), T0 + 40 * SEC);
  /* More heartbeats: no change to report. */
  ok_report (f->hub, TRUE, HB, T0 + 20 * SEC);
  assert_changes (f, want);
  /* The other instance is untouched. */
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "b"), GVD_AGENT_HEALTH_PROVISIONING);
}

static void
hub__no_heartbeat__unresponsive_exactly_after_missed_intervals (void **state)
{
  Fixture *f = *state;
  const gint64 last = T0 + 10 * SEC;

  ok_report (f->hub, FALSE, PH, T0);
  ok_report (f->hub, TRUE, HB, last);
  gvd_agent_hub_tick (f->hub, last + 30 * SEC - 1);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
  gvd_agent_hub_tick (f->hub, last + 30 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_UNRESPONSIVE);
  assert_int_equal (gvd_agent_hub_get_deadline (f->hub, "a"), 0);
  /* Stays unresponsive, and says so only once. */
  gvd_agent_hub_tick (f->hub, last + 300 * SEC);
  assert_int_equal (f->changes->len, 3);
  assert_string_equal (g_ptr_array_index (f->changes, 2), "a: healthy -> unresponsive");
}

static void
wakeup_log (gint64 at, gpointer user_data)
{
  g_array_append_val ((GArray *) user_data, at);
}

static gboolean
asked_for (GArray *asked, gint64 at)
{
  for (guint i = 0; i < asked->len; i++)
    if (g_array_index (asked, gint64, i) == at)
      return TRUE;
  return FALSE;
}

static void
hub__next_wakeup__earliest_deadline_and_asked_for (void **state)
{
  Fixture *f = *state;
  g_autoptr(GArray) asked = g_array_new (FALSE, FALSE, sizeof (gint64));

  gvd_agent_hub_set_wakeup (f->hub, wakeup_log, asked, NULL);
  /* Provisioning has no deadline. */
  assert_int_equal (gvd_agent_hub_next_wakeup (f->hub), 0);
  ok_report (f->hub, FALSE, PH, T0 + 5 * SEC);
  assert_true (report (f->hub, FALSE, "b", TOKEN_B, "{\"instance\": \"b\"}", T0, NULL));
  /* 30 s after each report; the earliest is b's, and each was asked for. */
  assert_int_equal (gvd_agent_hub_next_wakeup (f->hub), T0 + 30 * SEC);
  assert_true (asked_for (asked, T0 + 35 * SEC));
  assert_true (asked_for (asked, T0 + 30 * SEC));
  for (guint i = 0; i < asked->len; i++)
    assert_true (g_array_index (asked, gint64, i) >= T0 + 30 * SEC);
  gvd_agent_hub_tick (f->hub, T0 + 30 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "b"), GVD_AGENT_HEALTH_UNRESPONSIVE);
  assert_int_equal (gvd_agent_hub_next_wakeup (f->hub), T0 + 35 * SEC);
  gvd_agent_hub_forget (f->hub, "a");
  assert_int_equal (gvd_agent_hub_next_wakeup (f->hub), 0);
}

static void
count_destroy (gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
hub__set_wakeup__replaced_or_freed__user_data_destroyed (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();
  GvdAgentHub *hub = gvd_agent_hub_new (secret, 10, 3);
  guint first = 0, second = 0;

  gvd_agent_hub_set_wakeup (hub, wakeup_log, &first, count_destroy);
  gvd_agent_hub_set_wakeup (hub, wakeup_log, &second, count_destroy);
  assert_int_equal (first, 1);
  assert_int_equal (second, 0);
  gvd_agent_hub_free (hub);
  assert_int_equal (second, 1);
}

static void
hub__phone_home_without_heartbeat__unresponsive (void **state)
{
  Fixture *f = *state;

  ok_report (f->hub, FALSE, PH, T0);
  gvd_agent_hub_tick (f->hub, T0 + 30 * SEC - 1);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_READY);
  gvd_agent_hub_tick (f->hub, T0 + 30 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_UNRESPONSIVE);
}

static void
hub__heartbeat_after_unresponsive__healthy_again (void **state)
{
  Fixture *f = *state;
  const char *want[] = { "a: provisioning -> ready", "a: ready -> healthy",
                         "a: healthy -> unresponsive", "a: unresponsive -> healthy", NULL };

  ok_report (f->hub, FALSE, PH, T0);
  ok_report (f->hub, TRUE, HB, T0 + SEC);
  gvd_agent_hub_tick (f->hub, T0 + 100 * SEC);
  ok_report (f->hub, TRUE, HB, T0 + 101 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
  assert_int_equal (gvd_agent_hub_get_deadline (f->hub, "a"), T0 + 131 * SEC);
  assert_changes (f, want);
}

static void
hub__heartbeat_without_phone_home__healthy (void **state)
{
  Fixture *f = *state;

  /* gpuvmd restarted under a running agent: heartbeats prove life. */
  ok_report (f->hub, TRUE, HB, T0);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
}

static void
hub__reboot_phone_home__ready_again (void **state)
{
  Fixture *f = *state;

  ok_report (f->hub, FALSE, PH, T0);
  ok_report (f->hub, TRUE, HB, T0 + SEC);
  ok_report (f->hub, FALSE, "{\"instance\": \"a\", \"boot_id\": \"boot-2\"}", T0 + 50 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_READY);
}

static void
hub__stopped__reports_do_not_revive_until_running (void **state)
{
  Fixture *f = *state;
  const char *want[] = { "a: provisioning -> ready", "a: ready -> healthy",
                         "a: healthy -> stopped", "a: stopped -> provisioning",
                         "a: provisioning -> ready", NULL };

  ok_report (f->hub, FALSE, PH, T0);
  ok_report (f->hub, TRUE, HB, T0 + SEC);
  gvd_agent_hub_set_running (f->hub, "a", FALSE, T0 + 2 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_STOPPED);
  assert_int_equal (gvd_agent_hub_get_deadline (f->hub, "a"), 0);
  /* A heartbeat still in flight when the domain stopped. */
  ok_report (f->hub, TRUE, HB, T0 + 3 * SEC);
  gvd_agent_hub_tick (f->hub, T0 + 1000 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_STOPPED);
  /* Running again without being stopped: nothing changes. */
  gvd_agent_hub_set_running (f->hub, "b", TRUE, T0);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "b"), GVD_AGENT_HEALTH_PROVISIONING);
  gvd_agent_hub_set_running (f->hub, "a", TRUE, T0 + 1001 * SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_PROVISIONING);
  ok_report (f->hub, FALSE, PH, T0 + 1002 * SEC);
  assert_changes (f, want);
}

#define PCI_NVIDIA(driver)                                                                  \
  "{\"address\": \"0000:00:05.0\", \"class\": \"0x030200\", \"vendor\": \"0x10de\","        \
  " \"device\": \"0x20b0\", \"driver\": " driver "}"
#define PCI_VGA "{\"address\": \"0000:00:01.0\", \"class\": \"0x030000\", \"vendor\": \"0x1234\"," \
  " \"device\": \"0x1111\", \"driver\": null}"

static void
hub__gpu_without_driver__degraded_naming_the_address (void **state)
{
  Fixture *f = *state;

  ok_report (f->hub, TRUE,
             "{\"instance\": \"a\", \"nvidia_smi\": {\"status\": \"absent\"},"
             " \"pci_gpus\": [" PCI_VGA ", " PCI_NVIDIA ("null") "]}",
             T0);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_DEGRADED);
  ok_report (f->hub, TRUE,
             "{\"instance\": \"a\", \"nvidia_smi\": {\"status\": \"ok\"},"
             " \"pci_gpus\": [" PCI_VGA ", " PCI_NVIDIA ("\"nvidia\"") "]}",
             T0 + SEC);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
  assert_string_equal (g_ptr_array_index (f->changes, 1), "a: degraded -> healthy");
}

static void
hub__nvidia_smi_failing__degraded (void **state)
{
  Fixture *f = *state;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) view = NULL;
  JsonObject *fault;

  ok_report (f->hub, TRUE,
             "{\"instance\": \"a\", \"nvidia_smi\": {\"status\": \"failed\","
             " \"error\": \"NVIDIA-SMI has failed\"}, \"pci_gpus\": [" PCI_NVIDIA ("\"nvidia\"") "]}",
             T0);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_DEGRADED);
  gvd_agent_hub_build_json (f->hub, "a", b, T0, 0);
  view = json_builder_get_root (b);
  assert_non_null (strstr (gvd_test_json_string (view, "reason"), "0000:00:05.0"));
  assert_non_null (strstr (gvd_test_json_string (view, "reason"), "NVIDIA-SMI has failed"));
  fault = json_array_get_object_element (
    json_node_get_array (gvd_test_json_path (view, "gpu_faults")), 0);
  assert_string_equal (json_object_get_string_member (fault, "driver"), "nvidia");
}

static void
hub__emulated_display_without_driver__healthy (void **state)
{
  Fixture *f = *state;

  ok_report (f->hub, TRUE, "{\"instance\": \"a\", \"pci_gpus\": [" PCI_VGA "]}", T0);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
}

static void
hub__unknown_instance__same_error_as_wrong_token (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) unknown = NULL;
  g_autoptr(GError) wrong = NULL;

  assert_false (report (f->hub, TRUE, "zzz", TOKEN_A, "{\"instance\": \"zzz\"}", T0, &unknown));
  assert_false (report (f->hub, TRUE, "a", TOKEN_B, HB, T0, &wrong));
  /* Nothing tells a caller whether the name exists. */
  assert_true (g_error_matches (unknown, GVD_ERROR, GVD_ERROR_UNAUTHORIZED));
  assert_true (g_error_matches (wrong, GVD_ERROR, GVD_ERROR_UNAUTHORIZED));
  assert_string_equal (unknown->message, wrong->message);
  assert_null (strstr (unknown->message, "zzz"));
}

static void
hub__token_of_other_instance__unauthorized (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;

  assert_false (report (f->hub, FALSE, "a", TOKEN_B, PH, T0, &e1));
  assert_true (g_error_matches (e1, GVD_ERROR, GVD_ERROR_UNAUTHORIZED));
  assert_false (report (f->hub, TRUE, "a", NULL, HB, T0, &e2));
  assert_true (g_error_matches (e2, GVD_ERROR, GVD_ERROR_UNAUTHORIZED));
  /* B's valid token with a body claiming to be A: the route names "b". */
  assert_false (report (f->hub, TRUE, "b", TOKEN_B, HB, T0, &e3));
  assert_true (g_error_matches (e3, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_PROVISIONING);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "b"), GVD_AGENT_HEALTH_PROVISIONING);
  assert_int_equal (f->changes->len, 0);
}

static void
hub__invalid_payload__refused_without_state_change (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;

  assert_false (report (f->hub, TRUE, "a", TOKEN_A, "{\"instance\": \"a\", \"seq\": \"x\"}", T0,
                        &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_PROVISIONING);
}

static void
hub__watcher_forgets_instance__safe (void **state)
{
  Fixture *f = *state;

  f->forget_on_unresponsive = TRUE;
  ok_report (f->hub, FALSE, PH, T0);
  gvd_agent_hub_tick (f->hub, T0 + 30 * SEC);
  assert_false (gvd_agent_hub_is_tracked (f->hub, "a"));
  assert_true (gvd_agent_hub_is_tracked (f->hub, "b"));
}

static void
hub__track_again__same_uuid_keeps_state_new_uuid_restarts (void **state)
{
  Fixture *f = *state;

  ok_report (f->hub, FALSE, PH, T0);
  gvd_agent_hub_track (f->hub, "a", UUID_A);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_READY);
  gvd_agent_hub_track (f->hub, "a", UUID_B);
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_PROVISIONING);
  /* The old token no longer reports for the new instance named "a". */
  {
    g_autoptr(GError) error = NULL;
    assert_false (report (f->hub, FALSE, "a", TOKEN_A, PH, T0, &error));
    assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_UNAUTHORIZED));
  }
}

static char *
map_address (const char *name, const char *guest_address, gpointer user_data)
{
  return g_strdup_printf ("host-of-%s-%s", name, guest_address);
}

static void
hub__build_json__view_with_times_and_reports (void **state)
{
  Fixture *f = *state;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) view = NULL;
  g_autoptr(JsonObject) hb = parse_object (FULL_HEARTBEAT);
  /* Real time 2024-01-02T03:04:05Z at monotonic T0 + 100 s. */
  const gint64 real = G_GINT64_CONSTANT (1704164645) * SEC;

  gvd_agent_hub_set_address_map (f->hub, map_address, NULL);
  json_object_set_array_member (hb, "pci_gpus", json_array_new ());
  ok_report (f->hub, FALSE,
             "{\"instance\": \"a\", \"boot_id\": \"b0\", \"kernel\": \"Linux 6.1\","
             " \"agent_version\": \"1\", \"hostname\": \"vm\", \"pci_gpus\": ["
             PCI_NVIDIA ("null") "]}",
             T0 + 10 * SEC);
  assert_true (gvd_agent_hub_handle_heartbeat (f->hub, "a", TOKEN_A, hb, T0 + 40 * SEC, NULL));
  gvd_agent_hub_set_guest_agent (f->hub, "a", "responsive");
  gvd_agent_hub_build_json (f->hub, "a", b, T0 + 100 * SEC, real);
  view = json_builder_get_root (b);

  assert_string_equal (gvd_test_json_string (view, "health"), "healthy");
  assert_null (gvd_test_json_string (view, "reason"));
  assert_string_equal (gvd_test_json_string (view, "last_phone_home"), "2024-01-02T03:02:35Z");
  assert_string_equal (gvd_test_json_string (view, "last_heartbeat"), "2024-01-02T03:03:05Z");
  assert_string_equal (gvd_test_json_string (view, "since"), "2024-01-02T03:03:05Z");
  assert_int_equal (gvd_test_json_int (view, "heartbeats"), 1);
  assert_string_equal (gvd_test_json_string (view, "boot_id"), "b1");
  assert_string_equal (gvd_test_json_string (view, "kernel"), "Linux 6.1");
  assert_string_equal (gvd_test_json_string (view, "cloud_init.status"), "done");
  assert_int_equal (gvd_test_json_int (view, "system.mem_available_kib"), 500);
  assert_int_equal (json_array_get_length (json_node_get_array (
                      gvd_test_json_path (view, "gpus"))),
                    1);
  assert_int_equal (json_array_get_length (json_node_get_array (
                      gvd_test_json_path (view, "gpu_faults"))),
                    0);
  assert_string_equal (gvd_test_json_string (view, "guest_agent"), "responsive");

  /* A faulty GPU carries its guest address and the mapped host address. */
  {
    g_autoptr(JsonBuilder) b2 = json_builder_new ();
    g_autoptr(JsonNode) v2 = NULL;
    JsonObject *fault;

    ok_report (f->hub, TRUE,
               "{\"instance\": \"a\", \"pci_gpus\": [" PCI_NVIDIA ("null") "]}", T0 + 50 * SEC);
    gvd_agent_hub_build_json (f->hub, "a", b2, T0 + 100 * SEC, real);
    v2 = json_builder_get_root (b2);
    assert_string_equal (gvd_test_json_string (v2, "health"), "degraded");
    fault = json_array_get_object_element (
      json_node_get_array (gvd_test_json_path (v2, "gpu_faults")), 0);
    assert_string_equal (json_object_get_string_member (fault, "guest_address"), "0000:00:05.0");
    assert_string_equal (json_object_get_string_member (fault, "host_address"),
                         "host-of-a-0000:00:05.0");
    assert_true (json_object_get_null_member (fault, "driver"));
  }
}

static void
hub__build_json__untracked_adds_nothing (void **state)
{
  Fixture *f = *state;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  assert_false (gvd_agent_hub_build_json (f->hub, "zzz", b, T0, 0));
  root = json_builder_get_root (b);
  assert_null (root);
}

/* A hub whose deadlines run on @ctx, as the daemon wires it. */
static GvdAgentHub *
hub_on_context (GBytes *secret, guint interval, guint missed, GMainContext *ctx)
{
  GvdAgentHub *hub = gvd_agent_hub_new (secret, interval, missed);

  gvd_daemon_timers_attach_agent (hub, ctx);
  return hub;
}

static void
hub__timer__dispatches_unresponsive_on_context (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GvdAgentHub) hub = hub_on_context (secret, 1, 2, ctx);
  g_autoptr(JsonObject) body = parse_object (HB);
  gint64 now = g_get_monotonic_time ();

  gvd_agent_hub_track (hub, "a", UUID_A);
  /* A heartbeat older than the 2 s window: its deadline has passed. */
  assert_true (gvd_agent_hub_handle_heartbeat (hub, "a", TOKEN_A, body, now - 5 * SEC, NULL));
  assert_int_equal (gvd_agent_hub_get_health (hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
  for (int i = 0; i < 100 && gvd_agent_hub_get_health (hub, "a") != GVD_AGENT_HEALTH_UNRESPONSIVE;
       i++)
    g_main_context_iteration (ctx, FALSE);
  assert_int_equal (gvd_agent_hub_get_health (hub, "a"), GVD_AGENT_HEALTH_UNRESPONSIVE);
  /* A fresh heartbeat re-arms the same timer, which does not fire early. */
  assert_true (gvd_agent_hub_handle_heartbeat (hub, "a", TOKEN_A, body, g_get_monotonic_time (),
                                               NULL));
  g_main_context_iteration (ctx, FALSE);
  assert_int_equal (gvd_agent_hub_get_health (hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
  /* Forgetting leaves nothing due: the hub's timer stays quiet. */
  gvd_agent_hub_forget (hub, "a");
  g_main_context_iteration (ctx, FALSE);
}

/* One source serves every instance of the hub: each turns unresponsive at
 * its own deadline, none early. */
static void
hub__timer__one_source_serves_every_instance (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_autoptr(GvdAgentHub) hub = hub_on_context (secret, 1, 2, ctx);
  g_autoptr(JsonObject) body_a = parse_object (HB);
  g_autoptr(JsonObject) body_b = parse_object ("{\"instance\": \"b\"}");
  gint64 now = g_get_monotonic_time ();
  gint64 b_deadline;

  gvd_agent_hub_track (hub, "a", UUID_A);
  gvd_agent_hub_track (hub, "b", UUID_B);
  /* b's deadline 0.5 s ahead, a's long past (asked for after b's). */
  assert_true (gvd_agent_hub_handle_heartbeat (hub, "b", TOKEN_B, body_b, now - 1500000, NULL));
  assert_true (gvd_agent_hub_handle_heartbeat (hub, "a", TOKEN_A, body_a, now - 5 * SEC, NULL));
  b_deadline = gvd_agent_hub_get_deadline (hub, "b");
  for (int i = 0; i < 100 && gvd_agent_hub_get_health (hub, "a") != GVD_AGENT_HEALTH_UNRESPONSIVE;
       i++)
    g_main_context_iteration (ctx, FALSE);
  assert_int_equal (gvd_agent_hub_get_health (hub, "a"), GVD_AGENT_HEALTH_UNRESPONSIVE);
  if (g_get_monotonic_time () < b_deadline)
    assert_int_equal (gvd_agent_hub_get_health (hub, "b"), GVD_AGENT_HEALTH_HEALTHY);
  while (gvd_agent_hub_get_health (hub, "b") != GVD_AGENT_HEALTH_UNRESPONSIVE
         && g_get_monotonic_time () < now + 30 * SEC)
    g_main_context_iteration (ctx, TRUE);
  assert_int_equal (gvd_agent_hub_get_health (hub, "b"), GVD_AGENT_HEALTH_UNRESPONSIVE);
  assert_true (g_get_monotonic_time () >= b_deadline);
}

/* ---- the daemon secret ---------------------------------------------------------- */

static void
secret__missing__created_0600_and_stable (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvd-secret-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "agent-secret", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) first = gvd_secret_load_or_create (path, GVD_SECRET_LEN, &error);
  g_autoptr(GBytes) second = NULL;
  struct stat st;
  g_autoptr(GDir) d = NULL;

  assert_non_null (first);
  assert_int_equal (g_bytes_get_size (first), GVD_SECRET_LEN);
  assert_int_equal (g_stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  second = gvd_secret_load_or_create (path, GVD_SECRET_LEN, &error);
  assert_non_null (second);
  assert_true (g_bytes_equal (first, second));
  /* No temporary file left behind. */
  d = g_dir_open (dir, 0, NULL);
  assert_string_equal (g_dir_read_name (d), "agent-secret");
  assert_null (g_dir_read_name (d));
  g_unlink (path);
  g_rmdir (dir);
}

static void
secret__bad_file__refused (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvd-secret-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "agent-secret", NULL);
  g_autofree char *link = g_build_filename (dir, "link", NULL);
  guint8 data[GVD_SECRET_LEN] = { 0 };

  /* Readable by the group. */
  assert_true (g_file_set_contents_full (path, (char *) data, sizeof data,
                                         G_FILE_SET_CONTENTS_NONE, 0640, NULL));
  assert_int_equal (chmod (path, 0640), 0); /* whatever the umask */
  {
    g_autoptr(GError) error = NULL;
    assert_null (gvd_secret_load_or_create (path, GVD_SECRET_LEN, &error));
    assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
    assert_non_null (strstr (error->message, "0640"));
  }
  /* Wrong length. */
  g_unlink (path);
  assert_true (g_file_set_contents_full (path, (char *) data, 5, G_FILE_SET_CONTENTS_NONE, 0600,
                                         NULL));
  assert_int_equal (chmod (path, 0600), 0);
  {
    g_autoptr(GError) error = NULL;
    assert_null (gvd_secret_load_or_create (path, GVD_SECRET_LEN, &error));
    assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
  }
  /* A symlink is not followed. */
  assert_int_equal (symlink (path, link), 0);
  {
    g_autoptr(GError) error = NULL;
    assert_null (gvd_secret_load_or_create (link, GVD_SECRET_LEN, &error));
    assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
  }
  g_unlink (link);
  g_unlink (path);
  g_rmdir (dir);
}

/* ---- rate limits ---------------------------------------------------------------- */

static void
rate_limit__burst_then_one_per_period__deterministic (void **state)
{
  GvdRateLimit rl;
  gint64 wait = -1;

  gvd_rate_limit_init (&rl, 3, 10 * SEC);
  for (int i = 0; i < 3; i++)
    assert_true (gvd_rate_limit_take (&rl, T0, NULL));
  assert_false (gvd_rate_limit_take (&rl, T0, &wait));
  assert_int_equal (wait, 10 * SEC);
  assert_int_equal (gvd_rate_limit_wait (&rl, T0 + 4 * SEC), 6 * SEC);
  assert_false (gvd_rate_limit_take (&rl, T0 + 10 * SEC - 1, &wait));
  assert_int_equal (wait, 1);
  assert_true (gvd_rate_limit_take (&rl, T0 + 10 * SEC, NULL));
  assert_false (gvd_rate_limit_take (&rl, T0 + 10 * SEC, NULL));
  /* A long pause refills to the burst, never beyond. */
  for (int i = 0; i < 3; i++)
    assert_true (gvd_rate_limit_take (&rl, T0 + 1000 * SEC, NULL));
  assert_false (gvd_rate_limit_take (&rl, T0 + 1000 * SEC, NULL));
  /* Forced takes go into debt and delay the next ordinary one. */
  gvd_rate_limit_force (&rl, T0 + 1000 * SEC);
  assert_int_equal (gvd_rate_limit_wait (&rl, T0 + 1000 * SEC), 20 * SEC);
}

static void
rate_limit__retry_after__whole_seconds_rounded_up (void **state)
{
  assert_int_equal (gvd_rate_limit_retry_after (1), 1);
  assert_int_equal (gvd_rate_limit_retry_after (SEC), 1);
  assert_int_equal (gvd_rate_limit_retry_after (SEC + 1), 2);
  assert_int_equal (gvd_rate_limit_retry_after (0), 1);
}

static void
report_validate__name_with_control_characters__refused (void **state)
{
  const char *const bodies[] = {
    "{\"instance\": \"a\\nb\"}",          /* log line forgery */
    "{\"instance\": \"a\\r\"}",
    "{\"instance\": \"a\\u0001\"}",       /* C0 */
    "{\"instance\": \"a\\u007f\"}",       /* DEL */
    "{\"instance\": \"a\\u0085\"}",       /* C1: NEL */
    "{\"instance\": \"a\\u009b31m\"}",    /* C1: CSI */
    "{\"instance\": \"A\"}",              /* not an instance name either */
    "{\"instance\": \"\"}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(JsonObject) body = parse_object (bodies[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) clean = NULL;

      clean = gvd_agent_report_validate (GVD_AGENT_REPORT_HEARTBEAT, body, &error);
      if (clean != NULL)
        fail_msg ("accepted: %s", bodies[i]);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      assert_true (g_str_has_prefix (error->message, "instance: "));
      /* The message never quotes the name back. */
      assert_null (strchr (error->message, '\n'));
    }
}

static void
hub__report_flood__429_after_burst_other_instance_unaffected (void **state)
{
  Fixture *f = *state;
  guint retry = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) hb = parse_object (HB);
  g_autoptr(JsonObject) hb_b = parse_object ("{\"instance\": \"b\"}");

  /* Interval 10 s: one report per 2 s after a burst of 10. */
  for (guint i = 0; i < GVD_AGENT_REQUEST_BURST; i++)
    assert_true (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT, "a", TOKEN_A, hb,
                                              T0, &retry, NULL));
  assert_false (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT, "a", TOKEN_A, hb,
                                             T0 + SEC, &retry, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_TOO_MANY_REQUESTS));
  assert_int_equal (retry, 1);
  g_clear_error (&error);
  /* Refused reports change nothing but still count. */
  assert_int_equal (gvd_agent_hub_get_deadline (f->hub, "a"), T0 + 30 * SEC);
  assert_true (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT, "a", TOKEN_A, hb,
                                            T0 + 2 * SEC, &retry, NULL));
  assert_false (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT, "a", TOKEN_A, hb,
                                             T0 + 2 * SEC, &retry, &error));
  assert_int_equal (retry, 2);
  /* Another instance has its own bucket. */
  assert_true (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT, "b", TOKEN_B,
                                            hb_b, T0 + 2 * SEC, &retry, NULL));
}

static void
hub__bad_token_flood__429_past_budget_valid_agent_still_served (void **state)
{
  Fixture *f = *state;
  guint retry = 0;
  g_autoptr(JsonObject) hb = parse_object (HB);
  g_autoptr(JsonObject) unknown = parse_object ("{\"instance\": \"zzz\"}");

  for (guint i = 0; i < GVD_AGENT_AUTH_FAILURE_BURST; i++)
    {
      g_autoptr(GError) error = NULL;

      assert_false (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT,
                                                 i % 2 ? "a" : "zzz", TOKEN_B,
                                                 i % 2 ? hb : unknown, T0, &retry, &error));
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_UNAUTHORIZED));
    }
  {
    g_autoptr(GError) error = NULL;

    assert_false (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT, "zzz",
                                               TOKEN_B, unknown, T0, &retry, &error));
    assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_TOO_MANY_REQUESTS));
    assert_int_equal (retry, 1);
  }
  /* The right token still gets in during the flood. */
  assert_true (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT, "a", TOKEN_A, hb,
                                            T0, &retry, NULL));
  /* One failure per second refills. */
  {
    g_autoptr(GError) error = NULL;

    assert_false (gvd_agent_hub_handle_report (f->hub, GVD_AGENT_REPORT_HEARTBEAT, "a", TOKEN_B,
                                               hb, T0 + SEC, &retry, &error));
    assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_UNAUTHORIZED));
  }
}

typedef struct {
  GPtrArray *names;
  GArray *changes; /* GvdAgentHealthChange */
} ChangeLog;

static void
log_change (GvdAgentHub *hub, const char *name, const GvdAgentHealthChange *change,
            gpointer user_data)
{
  ChangeLog *cl = user_data;

  g_ptr_array_add (cl->names, g_strdup (name));
  g_array_append_val (cl->changes, *change);
}

static void
change_log_init (ChangeLog *cl)
{
  cl->names = g_ptr_array_new_with_free_func (g_free);
  cl->changes = g_array_new (FALSE, FALSE, sizeof (GvdAgentHealthChange));
}

static void
change_log_clear (ChangeLog *cl)
{
  g_ptr_array_unref (cl->names);
  g_array_unref (cl->changes);
}

#define HB_FAULTY(smi_error)                                                                \
  "{\"instance\": \"a\", \"nvidia_smi\": {\"status\": \"failed\", \"error\": \"" smi_error "\"}," \
  " \"pci_gpus\": [" PCI_NVIDIA ("\"nvidia\"") "]}"
#define HB_NO_DRIVER "{\"instance\": \"a\", \"pci_gpus\": [" PCI_NVIDIA ("null") "]}"

/* Five told changes in five seconds, ending degraded. */
static void
spend_notify_burst (GvdAgentHub *hub, gint64 t)
{
  assert_int_equal (GVD_AGENT_NOTIFY_BURST, 5);
  ok_report (hub, FALSE, PH, t);                 /* provisioning -> ready */
  ok_report (hub, TRUE, HB, t + SEC);            /* -> healthy */
  ok_report (hub, TRUE, HB_NO_DRIVER, t + 2 * SEC);
  ok_report (hub, TRUE, HB, t + 3 * SEC);
  ok_report (hub, TRUE, HB_NO_DRIVER, t + 4 * SEC);
}

static void
hub__changes_over_limit__told_later_with_count (void **state)
{
  Fixture *f = *state;
  ChangeLog cl;
  const GvdAgentHealthChange *c;

  change_log_init (&cl);
  gvd_agent_hub_add_change_watch (f->hub, log_change, &cl);
  spend_notify_burst (f->hub, T0);
  assert_int_equal (cl.changes->len, 5);
  ok_report (f->hub, TRUE, HB, T0 + 5 * SEC);       /* held back */
  ok_report (f->hub, TRUE, HB_NO_DRIVER, T0 + 6 * SEC);
  ok_report (f->hub, TRUE, HB, T0 + 7 * SEC);
  assert_int_equal (cl.changes->len, 5);
  /* The API still shows the latest health. */
  assert_int_equal (gvd_agent_hub_get_health (f->hub, "a"), GVD_AGENT_HEALTH_HEALTHY);
  gvd_agent_hub_tick (f->hub, T0 + 30 * SEC - 1);
  assert_int_equal (cl.changes->len, 5);
  /* A token is back 30 s after the first: the held-back changes are told
   * as one, from what watchers last saw to what is now. */
  gvd_agent_hub_tick (f->hub, T0 + 30 * SEC);
  assert_int_equal (cl.changes->len, 6);
  c = &g_array_index (cl.changes, GvdAgentHealthChange, 5);
  assert_int_equal (c->old_health, GVD_AGENT_HEALTH_DEGRADED);
  assert_int_equal (c->new_health, GVD_AGENT_HEALTH_HEALTHY);
  assert_int_equal (c->reason, GVD_AGENT_REASON_HEARTBEAT);
  assert_int_equal (c->suppressed, 2);
  /* Nothing more is pending. */
  gvd_agent_hub_tick (f->hub, T0 + 31 * SEC);
  assert_int_equal (cl.changes->len, 6);
  /* The old-style watch saw the same notifications. */
  assert_int_equal (f->changes->len, 6);
  change_log_clear (&cl);
}

static void
hub__host_changes__told_at_once_over_the_limit (void **state)
{
  Fixture *f = *state;
  ChangeLog cl;
  const GvdAgentHealthChange *c;

  change_log_init (&cl);
  gvd_agent_hub_add_change_watch (f->hub, log_change, &cl);
  spend_notify_burst (f->hub, T0);
  ok_report (f->hub, TRUE, HB, T0 + 5 * SEC); /* held back */
  gvd_agent_hub_set_running (f->hub, "a", FALSE, T0 + 6 * SEC);
  assert_int_equal (cl.changes->len, 6);
  c = &g_array_index (cl.changes, GvdAgentHealthChange, 5);
  assert_int_equal (c->old_health, GVD_AGENT_HEALTH_DEGRADED);
  assert_int_equal (c->new_health, GVD_AGENT_HEALTH_STOPPED);
  assert_int_equal (c->reason, GVD_AGENT_REASON_STOPPED);
  assert_int_equal (c->suppressed, 1);
  assert_string_equal (gvd_agent_reason_to_string (c->reason), "stopped");
  change_log_clear (&cl);
}

static void
hub__free_text_changes__no_notifications (void **state)
{
  Fixture *f = *state;
  ChangeLog cl;

  change_log_init (&cl);
  gvd_agent_hub_add_change_watch (f->hub, log_change, &cl);
  /* 1,000 heartbeats, each with a new nvidia-smi error text (which the
   * view's reason quotes): the health and the reason code stay. */
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *json = g_strdup_printf (
        "{\"instance\": \"a\", \"nvidia_smi\": {\"status\": \"failed\", \"error\": \"oops %u\\n"
        "gpuvmd: instance b agent health healthy -> degraded\"},"
        " \"pci_gpus\": [" PCI_NVIDIA ("\"nvidia\"") "]}", i);

      ok_report (f->hub, TRUE, json, T0 + i * 2 * SEC);
      gvd_agent_hub_tick (f->hub, T0 + i * 2 * SEC);
    }
  assert_int_equal (cl.changes->len, 1);
  assert_int_equal (g_array_index (cl.changes, GvdAgentHealthChange, 0).reason,
                    GVD_AGENT_REASON_GPU_FAULT);
  /* The stored report keeps the latest text. */
  {
    g_autoptr(JsonBuilder) b = json_builder_new ();
    g_autoptr(JsonNode) view = NULL;

    assert_true (gvd_agent_hub_build_json (f->hub, "a", b, T0 + 2000 * SEC, 0));
    view = json_builder_get_root (b);
    assert_non_null (strstr (gvd_test_json_string (view, "reason"), "oops 999"));
  }
  change_log_clear (&cl);
}

static void
hub__flapping_heartbeats__bounded_events_other_instance_kept (void **state)
{
  Fixture *f = *state;
  g_autoptr(GvdEvents) events = gvd_events_new (GVD_EVENTS_RING_SIZE, g_get_real_time);
  g_autoptr(JsonObject) ph_b = parse_object ("{\"instance\": \"b\"}");
  g_autoptr(GPtrArray) kept = NULL;
  const gint64 end = T0 + 2 * SEC + 999 * 2 * SEC;
  guint from_a = 0, from_b = 0, suppressed = 0;

  gvd_api_agent_emit_events (f->hub, events);
  assert_true (gvd_agent_hub_handle_phone_home (f->hub, "b", TOKEN_B, ph_b, T0, NULL));
  /* 1,000 heartbeats from a, every 2 s (as fast as its bucket allows),
   * flipping between healthy and degraded each time. */
  for (guint i = 0; i < 1000; i++)
    {
      gint64 now = T0 + 2 * SEC + i * 2 * SEC;

      gvd_agent_hub_tick (f->hub, now);
      ok_report (f->hub, TRUE, i % 2 ? HB_NO_DRIVER : HB, now);
    }
  gvd_agent_hub_tick (f->hub, end + 60 * SEC);
  kept = gvd_events_since (events, 0);
  for (guint i = 0; i < kept->len; i++)
    {
      GvdEvent *ev = g_ptr_array_index (kept, i);
      g_autoptr(JsonNode) data = json_from_string (ev->data, NULL);

      assert_string_equal (ev->type, "agent.health");
      if (g_str_equal (gvd_test_json_string (data, "name"), "b"))
        from_b++;
      else
        {
          from_a++;
          suppressed += gvd_test_json_int (data, "suppressed");
          /* Only the fixed vocabulary. */
          assert_true (g_str_equal (gvd_test_json_string (data, "reason"), "heartbeat")
                       || g_str_equal (gvd_test_json_string (data, "reason"), "gpu_fault")
                       || g_str_equal (gvd_test_json_string (data, "reason"), "heartbeat_missed"));
        }
    }
  /* At most the burst, then one per 30 s of the ~2,000 s, plus the flush
   * and heartbeat_missed at the end. */
  assert_true (from_a <= GVD_AGENT_NOTIFY_BURST + (end - T0) / GVD_AGENT_NOTIFY_PERIOD + 2);
  assert_true (from_a >= 10);
  /* Every change is accounted for: told, or counted in a later one (the
   * 1,000 reports and the final heartbeat_missed). */
  assert_int_equal (from_a + suppressed, 1001);
  /* b's events (ready, then unresponsive: b sends nothing more) were not
   * pushed out of the replay ring: nothing was. */
  assert_int_equal (from_b, 2);
  assert_int_equal (gvd_events_last_id (events), kept->len);
  {
    GvdEvent *first = g_ptr_array_index (kept, 0);
    g_autoptr(JsonNode) data = json_from_string (first->data, NULL);

    assert_int_equal (first->id, 1);
    assert_string_equal (gvd_test_json_string (data, "name"), "b");
    assert_string_equal (gvd_test_json_string (data, "new"), "ready");
    assert_string_equal (gvd_test_json_string (data, "reason"), "phone_home");
  }
}

static void
hub__timer__sends_held_back_notification_on_context (void **state)
{
  g_autoptr(GBytes) secret = test_secret ();
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  /* A 300 s deadline: only the held-back notification is due here. */
  g_autoptr(GvdAgentHub) hub = hub_on_context (secret, 100, 3, ctx);
  gint64 t0 = g_get_monotonic_time () - 100 * SEC;
  ChangeLog cl;
  const GvdAgentHealthChange *c;

  if (t0 < 0)
    skip ();
  change_log_init (&cl);
  gvd_agent_hub_add_change_watch (hub, log_change, &cl);
  gvd_agent_hub_track (hub, "a", UUID_A);
  /* Backdated: the burst 100 s ago, two changes held back after it; the
   * limit let the next one through 70 s ago, so the timer fires at once. */
  spend_notify_burst (hub, t0);
  ok_report (hub, TRUE, HB, t0 + 5 * SEC);
  ok_report (hub, TRUE, HB_NO_DRIVER, t0 + 6 * SEC);
  assert_int_equal (cl.changes->len, 5);
  for (int i = 0; i < 100 && cl.changes->len < 6; i++)
    g_main_context_iteration (ctx, FALSE);
  assert_int_equal (cl.changes->len, 6);
  c = &g_array_index (cl.changes, GvdAgentHealthChange, 5);
  assert_int_equal (c->old_health, GVD_AGENT_HEALTH_DEGRADED);
  assert_int_equal (c->new_health, GVD_AGENT_HEALTH_DEGRADED);
  assert_int_equal (c->suppressed, 1);
  /* Told once; the heartbeat deadline is still ahead. */
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (ctx, FALSE);
  assert_int_equal (cl.changes->len, 6);
  assert_int_equal (gvd_agent_hub_get_health (hub, "a"), GVD_AGENT_HEALTH_DEGRADED);
  change_log_clear (&cl);
}

#define HUB_TEST(t) cmocka_unit_test_setup_teardown (t, setup, teardown)

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (token_derive__known_vector__matches_python_hmac),
    cmocka_unit_test (token_verify__own_token__accepted),
    cmocka_unit_test (token_verify__other_instance__rejected),
    cmocka_unit_test (token_verify__other_secret__rejected),
    cmocka_unit_test (token_verify__truncated_or_extended__rejected),
    cmocka_unit_test (token_verify__different_case__rejected),
    cmocka_unit_test (token_verify__empty_or_null__rejected),
    cmocka_unit_test (report_validate__full_heartbeat__keeps_known_drops_unknown),
    cmocka_unit_test (report_validate__minimal_and_nulls__accepted),
    cmocka_unit_test (report_validate__wrong_types__error_names_the_field),
    cmocka_unit_test (report_validate__array_bounds__at_most_64_items),
    cmocka_unit_test (report_validate__string_bounds__at_limit_ok_over_refused),
    cmocka_unit_test (report_validate__number_ranges__refused_outside),
    cmocka_unit_test (report_validate__number_ranges__limits_accepted),
    HUB_TEST (hub__track__provisioning_without_deadline),
    HUB_TEST (hub__get_token__derived_from_uuid),
    HUB_TEST (hub__phone_home_then_heartbeat__ready_then_healthy),
    HUB_TEST (hub__no_heartbeat__unresponsive_exactly_after_missed_intervals),
    HUB_TEST (hub__phone_home_without_heartbeat__unresponsive),
    HUB_TEST (hub__heartbeat_after_unresponsive__healthy_again),
    HUB_TEST (hub__heartbeat_without_phone_home__healthy),
    HUB_TEST (hub__reboot_phone_home__ready_again),
    HUB_TEST (hub__stopped__reports_do_not_revive_until_running),
    HUB_TEST (hub__gpu_without_driver__degraded_naming_the_address),
    HUB_TEST (hub__nvidia_smi_failing__degraded),
    HUB_TEST (hub__emulated_display_without_driver__healthy),
    HUB_TEST (hub__unknown_instance__same_error_as_wrong_token),
    HUB_TEST (hub__token_of_other_instance__unauthorized),
    HUB_TEST (hub__invalid_payload__refused_without_state_change),
    HUB_TEST (hub__watcher_forgets_instance__safe),
    HUB_TEST (hub__track_again__same_uuid_keeps_state_new_uuid_restarts),
    HUB_TEST (hub__build_json__view_with_times_and_reports),
    HUB_TEST (hub__build_json__untracked_adds_nothing),
    cmocka_unit_test (hub__timer__dispatches_unresponsive_on_context),
    cmocka_unit_test (hub__timer__one_source_serves_every_instance),
    HUB_TEST (hub__next_wakeup__earliest_deadline_and_asked_for),
    cmocka_unit_test (hub__set_wakeup__replaced_or_freed__user_data_destroyed),
    cmocka_unit_test (rate_limit__burst_then_one_per_period__deterministic),
    cmocka_unit_test (rate_limit__retry_after__whole_seconds_rounded_up),
    cmocka_unit_test (report_validate__name_with_control_characters__refused),
    HUB_TEST (hub__report_flood__429_after_burst_other_instance_unaffected),
    HUB_TEST (hub__bad_token_flood__429_past_budget_valid_agent_still_served),
    HUB_TEST (hub__changes_over_limit__told_later_with_count),
    HUB_TEST (hub__host_changes__told_at_once_over_the_limit),
    HUB_TEST (hub__free_text_changes__no_notifications),
    HUB_TEST (hub__flapping_heartbeats__bounded_events_other_instance_kept),
    cmocka_unit_test (hub__timer__sends_held_back_notification_on_context),
    cmocka_unit_test (secret__missing__created_0600_and_stable),
    cmocka_unit_test (secret__bad_file__refused),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
