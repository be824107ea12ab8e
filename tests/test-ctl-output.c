/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's pure parts without a daemon: argument parsing, option values,
 * request bodies, exit codes from API errors, SSE parsing, and table, tree,
 * JSON, YAML and name output. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "ctl-args.h"
#include "ctl-error.h"
#include "ctl-output.h"
#include "ctl-request.h"
#include "ctl-sse.h"

static JsonNode *
parse (const char *text)
{
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) error = NULL;

  if (!json_parser_load_from_data (p, text, -1, &error))
    fail_msg ("bad test JSON: %s", error->message);
  return json_node_copy (json_parser_get_root (p));
}

static JsonArray *
array_of (JsonNode *node, const char *member)
{
  return json_node_get_array (json_object_get_member (json_node_get_object (node), member));
}

/* Parse a command line given as one string (words split on spaces). */
static GvdCtlArgs *
parse_args (const char *line, const GvdCtlOption *opts, GError **error)
{
  static const GvdCtlOption global[] = {
    { "output", 'o', TRUE, FALSE }, { "json", 0, FALSE, FALSE }, { NULL },
  };
  const GvdCtlOption *const tables[] = { global, opts, NULL };
  g_auto(GStrv) argv = g_strsplit (line, " ", -1);
  g_autoptr(GvdCtlArgs) args = gvd_ctl_args_new ();

  if (!gvd_ctl_args_parse (args, tables, g_strv_length (argv), argv, FALSE, NULL, error))
    return NULL;
  return g_steal_pointer (&args);
}

static const GvdCtlOption create_opts[] = {
  { "image", 0, TRUE, FALSE }, { "gpus", 0, TRUE, FALSE }, { "model", 0, TRUE, FALSE },
  { "vendor", 0, TRUE, FALSE }, { "device", 0, TRUE, TRUE }, { "reservation", 0, TRUE, FALSE },
  { "vcpus", 0, TRUE, FALSE }, { "memory", 0, TRUE, FALSE }, { "disk", 0, TRUE, FALSE },
  { "ssh-key", 0, TRUE, TRUE }, { "cloud-config", 0, TRUE, FALSE }, { "label", 0, TRUE, TRUE },
  { "user", 0, TRUE, FALSE }, { "no-start", 0, FALSE, FALSE }, { "dry-run", 0, FALSE, FALSE },
  { "autostart", 0, FALSE, FALSE }, { "vnc", 0, FALSE, FALSE },
  { "dedicated-cpus", 0, FALSE, FALSE }, { "port", 0, TRUE, TRUE },
  { "ttl", 0, TRUE, FALSE }, { "follow", 'f', FALSE, FALSE }, { NULL },
};

/* ---- arguments ---------------------------------------------------------------- */

static void
args_parse__options_between_words__values_and_positionals (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCtlArgs) a = parse_args ("vm1 --image=deb --device gpu0 -o json --device gpu1 "
                                        "-f extra -- --not-an-option",
                                        create_opts, &error);

  assert_non_null (a);
  assert_int_equal (a->positional->len, 3);
  assert_string_equal (g_ptr_array_index (a->positional, 0), "vm1");
  assert_string_equal (g_ptr_array_index (a->positional, 1), "extra");
  assert_string_equal (g_ptr_array_index (a->positional, 2), "--not-an-option");
  assert_string_equal (gvd_ctl_args_get (a, "image"), "deb");
  assert_string_equal (gvd_ctl_args_get (a, "output"), "json");
  assert_true (gvd_ctl_args_has (a, "follow"));
  assert_false (gvd_ctl_args_has (a, "dry-run"));
  assert_string_equal (gvd_ctl_args_get_all (a, "device")[0], "gpu0");
  assert_string_equal (gvd_ctl_args_get_all (a, "device")[1], "gpu1");
  assert_null (gvd_ctl_args_get_all (a, "device")[2]);
  assert_null (gvd_ctl_args_get_all (a, "label")[0]);
  {
    g_autoptr(GvdCtlArgs) b = parse_args ("-ojson", create_opts, &error);
    assert_string_equal (gvd_ctl_args_get (b, "output"), "json");
  }
}

static void
args_parse__bad_lines__usage_errors (void **state)
{
  static const char *const bad[] = {
    "--bogus", "-x", "vm --image", "--image a --image b", "--dry-run=yes", "-fvalue",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdCtlArgs) a = parse_args (bad[i], create_opts, &error);

      if (a != NULL)
        fail_msg ("'%s' was accepted", bad[i]);
      assert_true (g_error_matches (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE));
      assert_int_equal (gvd_ctl_exit_for_error (error), 2);
    }
}

static void
args_stop_at_positional__globals_before_command__consumed_counted (void **state)
{
  static const GvdCtlOption global[] = { { "socket", 0, TRUE, FALSE }, { NULL } };
  const GvdCtlOption *const tables[] = { global, NULL };
  char *argv[] = { "--socket", "/s", "list", "--socket", "/t" };
  g_autoptr(GvdCtlArgs) a = gvd_ctl_args_new ();
  int used = -1;

  assert_true (gvd_ctl_args_parse (a, tables, 5, argv, TRUE, &used, NULL));
  assert_int_equal (used, 2);
  assert_string_equal (gvd_ctl_args_get (a, "socket"), "/s");
  assert_int_equal (a->positional->len, 0);
}

static void
parse_values__sizes_counts_labels__bounded (void **state)
{
  guint64 v = 0;
  g_autofree char *k = NULL;
  g_autofree char *val = NULL;

  assert_true (gvd_ctl_parse_size_mib ("4096", "--memory", &v, NULL));
  assert_int_equal (v, 4096);
  assert_true (gvd_ctl_parse_size_mib ("4G", "--memory", &v, NULL));
  assert_int_equal (v, 4096);
  assert_true (gvd_ctl_parse_size_mib ("512MiB", "--memory", &v, NULL));
  assert_int_equal (v, 512);
  assert_true (gvd_ctl_parse_size_mib ("1T", "--memory", &v, NULL));
  assert_int_equal (v, 1024 * 1024);
  assert_true (gvd_ctl_parse_size_gib ("20", "--disk", &v, NULL));
  assert_int_equal (v, 20);
  assert_true (gvd_ctl_parse_size_gib ("2Ti", "--disk", &v, NULL));
  assert_int_equal (v, 2048);
  assert_false (gvd_ctl_parse_size_gib ("512M", "--disk", &v, NULL));
  assert_false (gvd_ctl_parse_size_mib ("4X", "--memory", &v, NULL));
  assert_false (gvd_ctl_parse_size_mib ("-4", "--memory", &v, NULL));
  assert_false (gvd_ctl_parse_size_mib ("0", "--memory", &v, NULL));
  assert_false (gvd_ctl_parse_size_mib ("", "--memory", &v, NULL));
  assert_true (gvd_ctl_parse_uint ("8", "--gpus", 1, 64, &v, NULL));
  assert_false (gvd_ctl_parse_uint ("65", "--gpus", 1, 64, &v, NULL));
  assert_false (gvd_ctl_parse_uint ("2x", "--gpus", 1, 64, &v, NULL));
  assert_true (gvd_ctl_parse_label ("team=vision=1", &k, &val, NULL));
  assert_string_equal (k, "team");
  assert_string_equal (val, "vision=1");
  assert_false (gvd_ctl_parse_label ("=x", &k, &val, NULL));
  assert_false (gvd_ctl_parse_label ("novalue", &k, &val, NULL));
  assert_true (gvd_ctl_is_url ("https://example.com/debian.qcow2"));
  assert_true (gvd_ctl_is_url ("ftp://h/x"));
  assert_false (gvd_ctl_is_url ("/srv/debian.qcow2"));
  assert_false (gvd_ctl_is_url ("debian:12.qcow2"));
}

/* ---- request bodies ---------------------------------------------------------------- */

static char *
fake_read (const char *path, GError **error)
{
  if (g_str_equal (path, "keys"))
    return g_strdup ("# mine\nssh-ed25519 AAAA one\n\n  ssh-rsa BBBB two  \n");
  if (g_str_equal (path, "cc.json"))
    return g_strdup ("{\"runcmd\": [[\"true\"]]}");
  if (g_str_equal (path, "cc.yaml"))
    return g_strdup ("#cloud-config\nruncmd: [[true]]\n");
  g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, "%s: no such file", path);
  return NULL;
}

static void
create_body__every_option__api_fields (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCtlArgs) a = parse_args ("--image deb --gpus 2 --model A100 --vcpus 8 --memory 16G "
                                        "--disk 40 --ssh-key keys --cloud-config cc.json "
                                        "--label team=ml --label tier= --user ops --no-start "
                                        "--autostart --vnc --dedicated-cpus --port 22 --port 8888 --dry-run",
                                        create_opts, &error);
  g_autoptr(JsonNode) body = gvd_ctl_create_body ("vm1", a, fake_read, &error);
  g_autoptr(JsonNode) want = parse (
    "{\"name\":\"vm1\",\"image\":\"deb\",\"gpus\":2,\"gpu_model\":\"A100\",\"vcpus\":8,"
    "\"memory_mib\":16384,\"root_disk_gib\":40,\"user\":\"ops\","
    "\"ssh_keys\":[\"ssh-ed25519 AAAA one\",\"ssh-rsa BBBB two\"],"
    "\"cloud_config\":{\"runcmd\":[[\"true\"]]},\"labels\":{\"team\":\"ml\",\"tier\":\"\"},"
    "\"start\":false,\"autostart\":true,\"cpu\":{\"policy\":\"dedicated\"},"
    "\"console\":{\"vnc\":true},\"ports\":[{\"guest\":22},{\"guest\":8888}],\"dry_run\":true}");

  if (body == NULL)
    fail_msg ("%s", error->message);
  assert_true (json_node_equal (body, want));
}

static void
create_body__contradictions__usage_errors (void **state)
{
  static const char *const bad[] = {
    "--gpus 1",                                  /* no image */
    "--image i --gpus 1 --device gpu0",          /* both */
    "--image i --model A100",                    /* filter without --gpus */
    "--image i --reservation r --gpus 1",        /* reservation brings devices */
    "--image i --label novalue",
    "--image i --memory lots",
    "--image i --gpus 0",
    "--image i --cloud-config cc.yaml",          /* YAML: JSON only */
    "--image i --ssh-key missing",
    "--image i --port 0",
    "--image i --port ssh",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdCtlArgs) a = parse_args (bad[i], create_opts, &error);
      g_autoptr(JsonNode) body = NULL;

      assert_non_null (a);
      body = gvd_ctl_create_body ("vm1", a, fake_read, &error);
      if (body != NULL)
        fail_msg ("'%s' gave a body", bad[i]);
      assert_int_equal (gvd_ctl_exit_for_error (error), GVD_CTL_EXIT_USAGE);
    }
}

static void
plan_and_reservation_bodies__options__api_fields (void **state)
{
  g_autoptr(GvdCtlArgs) a = parse_args ("--gpus 2 --model A100", create_opts, NULL);
  g_autoptr(GvdCtlArgs) r = parse_args ("--device gpu0 --device 0000:03:00.0 --ttl 600",
                                        create_opts, NULL);
  g_autoptr(GvdCtlArgs) none = parse_args ("--ttl 600", create_opts, NULL);
  g_autoptr(JsonNode) plan = gvd_ctl_plan_body (a, NULL);
  g_autoptr(JsonNode) res = gvd_ctl_reservation_body (r, NULL);
  g_autoptr(JsonNode) want_plan = parse ("{\"gpus\":2,\"model\":\"A100\"}");
  g_autoptr(JsonNode) want_res = parse ("{\"devices\":[\"gpu0\",\"0000:03:00.0\"],"
                                        "\"ttl_seconds\":600}");
  g_autoptr(GError) error = NULL;

  assert_true (json_node_equal (plan, want_plan));
  assert_true (json_node_equal (res, want_res));
  assert_null (gvd_ctl_reservation_body (none, &error));
  assert_int_equal (gvd_ctl_exit_for_error (error), GVD_CTL_EXIT_USAGE);
}

/* ---- exit codes ----------------------------------------------------------------- */

static void
exit_for_api__codes_then_statuses__documented_exit_codes (void **state)
{
  assert_int_equal (gvd_ctl_exit_for_api (404, "not_found"), 4);
  assert_int_equal (gvd_ctl_exit_for_api (404, "image_not_found"), 4);
  assert_int_equal (gvd_ctl_exit_for_api (404, "device_not_found"), 4);
  assert_int_equal (gvd_ctl_exit_for_api (409, "already_exists"), 5);
  assert_int_equal (gvd_ctl_exit_for_api (409, "invalid_state"), 5);
  assert_int_equal (gvd_ctl_exit_for_api (409, "device_in_use"), 5);
  assert_int_equal (gvd_ctl_exit_for_api (409, "insufficient_gpus"), 5);
  assert_int_equal (gvd_ctl_exit_for_api (409, "some_new_code"), 5);
  assert_int_equal (gvd_ctl_exit_for_api (404, NULL), 4);
  assert_int_equal (gvd_ctl_exit_for_api (400, "invalid_argument"), 1);
  assert_int_equal (gvd_ctl_exit_for_api (401, "unauthorized"), 1);
  assert_int_equal (gvd_ctl_exit_for_api (403, "forbidden"), 1);
  assert_int_equal (gvd_ctl_exit_for_api (422, "group_conflict"), 1);
  assert_int_equal (gvd_ctl_exit_for_api (503, "not_ready"), 1);
  assert_int_equal (gvd_ctl_exit_for_api (500, NULL), 1);
}

static void
error_from_api__error_body__message_code_details (void **state)
{
  const char *nf = "{\"error\": {\"code\": \"not_found\", \"message\": \"no instance named 'x'\"}}";
  const char *refused = "{\"error\": {\"code\": \"plan_refused\", \"message\": \"no plan\","
                        " \"details\": [{\"code\": \"group_conflict\", \"message\": \"A shares\"},"
                        " {\"code\": \"host_critical\", \"message\": \"B is the boot disk\"}]}}";
  g_autoptr(GError) e1 = gvd_ctl_error_from_api (404, "Not Found", nf, strlen (nf));
  g_autoptr(GError) e2 = gvd_ctl_error_from_api (422, "Unprocessable", refused, strlen (refused));
  g_autoptr(GError) e3 = gvd_ctl_error_from_api (502, "Bad Gateway", "<html>", 6);
  g_autoptr(GError) e4 = gvd_ctl_error_from_api (409, "Conflict", NULL, 0);

  assert_string_equal (e1->message, "no instance named 'x' (not_found)");
  assert_int_equal (gvd_ctl_exit_for_error (e1), 4);
  assert_string_equal (e2->message, "no plan (plan_refused)\n  - A shares\n  - B is the boot disk");
  assert_int_equal (gvd_ctl_exit_for_error (e2), 1);
  assert_string_equal (e3->message, "HTTP 502 Bad Gateway");
  assert_int_equal (gvd_ctl_exit_for_error (e3), 1);
  assert_int_equal (gvd_ctl_exit_for_error (e4), 5);
  {
    g_autoptr(GError) other = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "x");
    assert_int_equal (gvd_ctl_exit_for_error (other), 1);
    assert_int_equal (gvd_ctl_exit_for_error (NULL), 0);
  }
}

/* ---- SSE --------------------------------------------------------------------------- */

static void
sse_feed__events_comments_multiline__dispatched_in_order (void **state)
{
  g_autoptr(GvdCtlSse) s = gvd_ctl_sse_new ();
  const char *lines[] = { ": gpuvmd events", "", "id: 7", "event: instance.state",
                          "data: {\"name\":\"a\"}", "", ": keepalive", "", "id: 8",
                          "data: one", "data: two\r", "", NULL };
  guint got = 0;

  for (gsize i = 0; lines[i] != NULL; i++)
    if (gvd_ctl_sse_feed (s, lines[i]))
      {
        got++;
        if (got == 1)
          {
            assert_string_equal (s->id, "7");
            assert_string_equal (s->event, "instance.state");
            assert_string_equal (s->data->str, "{\"name\":\"a\"}");
          }
        else
          {
            assert_string_equal (s->id, "8");
            assert_null (s->event); /* a new event does not inherit the type */
            assert_string_equal (s->data->str, "one\ntwo");
          }
      }
  assert_int_equal (got, 2);
}

/* ---- output ------------------------------------------------------------------------ */

static const char *instances_json =
  "{\"instances\": ["
  "{\"name\": \"train-7\", \"state\": \"running\", \"vcpus\": 16, \"memory_mib\": 65536,"
  " \"devices\": [{\"pci_address\": \"0000:41:00.0\"}], \"health\": {\"health\": \"healthy\"},"
  " \"image\": \"debian-12.qcow2\", \"ok\": true},"
  "{\"name\": \"b\", \"state\": \"shutoff\", \"vcpus\": 1, \"memory_mib\": 1536,"
  " \"devices\": [], \"health\": null, \"image\": null, \"ok\": false}]}";

static void
render_table__instances__aligned_units_and_dashes (void **state)
{
  const GvdCtlColumn cols[] = {
    { "NAME", "name", GVD_CTL_CELL_TEXT, FALSE },
    { "STATE", "state", GVD_CTL_CELL_TEXT, FALSE },
    { "HEALTH", "health.health", GVD_CTL_CELL_TEXT, FALSE },
    { "VCPUS", "vcpus", GVD_CTL_CELL_TEXT, TRUE },
    { "MEMORY", "memory_mib", GVD_CTL_CELL_MIB, TRUE },
    { "DEVICES", "devices", GVD_CTL_CELL_COUNT, TRUE },
    { "OK", "ok", GVD_CTL_CELL_TEXT, FALSE },
    { "IMAGE", "image", GVD_CTL_CELL_TEXT, FALSE },
  };
  g_autoptr(JsonNode) doc = parse (instances_json);
  g_autofree char *t = gvd_ctl_render_table (cols, G_N_ELEMENTS (cols), array_of (doc, "instances"),
                                             FALSE);

  assert_string_equal (t,
    "NAME    STATE   HEALTH  VCPUS   MEMORY DEVICES OK  IMAGE\n"
    "train-7 running healthy    16 64.0 GiB       1 yes debian-12.qcow2\n"
    "b       shutoff -           1  1.5 GiB       0 no  -\n");
}

static void
render_tree__devices_by_group__groups_sorted_children_below (void **state)
{
  const GvdCtlColumn cols[] = {
    { "ADDRESS", "address", GVD_CTL_CELL_TEXT, FALSE },
    { "DRIVER", "device.driver|driver", GVD_CTL_CELL_TEXT, FALSE },
  };
  g_autoptr(JsonNode) doc = parse (
    "{\"devices\": ["
    "{\"address\": \"0000:41:00.0\", \"device\": {\"iommu_group\": 12, \"driver\": \"nvidia\"},"
    " \"group_peers\": [{\"address\": \"0000:41:00.1\", \"driver\": \"snd_hda_intel\"}]},"
    "{\"address\": \"0000:03:00.0\", \"device\": {\"iommu_group\": 6, \"driver\": \"vfio-pci\"},"
    " \"group_peers\": []},"
    "{\"address\": \"0000:04:00.0\", \"device\": {\"iommu_group\": 6, \"driver\": null}}]}");
  g_autofree char *t = gvd_ctl_render_tree (cols, G_N_ELEMENTS (cols), array_of (doc, "devices"),
                                            "device.iommu_group", "group", "group_peers", FALSE);
  g_auto(GStrv) lines = g_strsplit (t, "\n", -1);

  /* Group 6 (numerically before 12) with its two devices, then group 12
   * with its device and that device's peer one level further in. */
  assert_int_equal (g_strv_length (lines), 8); /* 7 lines and the final "" */
  assert_true (g_str_has_prefix (lines[0], "ADDRESS"));
  assert_true (g_str_has_prefix (lines[1], "group 6"));
  assert_non_null (strstr (lines[2], "0000:03:00.0"));
  assert_non_null (strstr (lines[2], "vfio-pci"));
  assert_non_null (strstr (lines[3], "0000:04:00.0"));
  assert_true (g_str_has_prefix (lines[4], "group 12"));
  assert_non_null (strstr (lines[5], "0000:41:00.0"));
  assert_non_null (strstr (lines[6], "snd_hda_intel"));
  /* Deeper lines start further right. */
  assert_true (strstr (lines[6], "0000:41:00.1") - lines[6] > strstr (lines[5], "0000:41:00.0") - lines[5]);
  assert_true (strstr (lines[2], "0000:03") - lines[2] > 0);
}

static void
render_json__answer__pretty_and_equal (void **state)
{
  g_autoptr(JsonNode) doc = parse (instances_json);
  g_autofree char *text = gvd_ctl_render_json (doc);
  g_autoptr(JsonNode) back = parse (text);

  assert_true (json_node_equal (doc, back));
  assert_true (g_str_has_prefix (text, "{\n  \"instances\" : [\n"));
  assert_true (g_str_has_suffix (text, "}\n"));
}

static const char *tricky_json =
  "{\"plain\": \"debian-12.qcow2\", \"empty\": \"\", \"yes\": \"yes\", \"null_word\": \"null\","
  " \"num_string\": \"0123\", \"version\": \"1.0\", \"colon\": \"a: b\", \"hash\": \"a #b\","
  " \"lead_dash\": \"- x\", \"newline\": \"l1\\nl2\", \"quote\": \"say \\\"hi\\\"\","
  " \"star\": \"*x\", \"unicode\": \"Grüße\", \"int\": 42, \"neg\": -7, \"float\": 1.5,"
  " \"t\": true, \"n\": null, \"obj\": {}, \"arr\": [],"
  " \"list\": [1, \"two\", null, [3, [\"deep\"]], {\"k\": \"v\", \"k2\": [1, 2]}, {}],"
  " \"m1\": \"l1\\nl2\", \"m2\": \"l1\\n\", \"m3\": \"l1\\n\\n\", \"m4\": \"\\nstart\","
  " \"m5\": \" lead\\nx\", \"m6\": \"a\\n  b\\n\\n c\\n\", \"m7\": \"x\\n  \", \"m8\": \"#!/bin/sh\\n- a: b\\n\","
  " \"m9\": [\"x\\ny\", {\"k\": \"p\\nq\\n\"}], \"m10\": \"tab\\there\\nx\","
  " \"nested\": {\"a\": {\"b\": [{\"c\": 1}]}}, \"key: odd\": 1, \"\": \"empty key\"}";

static void
render_yaml__tricky_values__expected_text (void **state)
{
  g_autoptr(JsonNode) doc = parse ("{\"a\": \"yes\", \"b\": [1, {\"c\": \"x: y\", \"d\": []}, [true]],"
                                   " \"e\": {}, \"f\": null, \"g\": \"plain text\"}");
  g_autofree char *y = gvd_ctl_render_yaml (doc);
  g_autoptr(JsonNode) scalar = parse ("\"1.0\"");
  g_autofree char *ys = gvd_ctl_render_yaml (scalar);

  assert_string_equal (y,
    "a: \"yes\"\n"
    "b:\n"
    "  - 1\n"
    "  - c: \"x: y\"\n"
    "    d: []\n"
    "  -\n"
    "    - true\n"
    "e: {}\n"
    "f: null\n"
    "g: plain text\n");
  assert_string_equal (ys, "\"1.0\"\n");
}

/* A real YAML parser reads the YAML back as the JSON it came from. */
static void
render_yaml__tricky_values__python_yaml_reads_same_json (void **state)
{
  g_autoptr(JsonNode) doc = parse (tricky_json);
  g_autofree char *y = gvd_ctl_render_yaml (doc);
  g_autofree char *j = json_to_string (doc, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *input = NULL;
  const char *script =
    "import json, sys, yaml\n"
    "y, j = sys.stdin.read().split('\\0')\n"
    "a = yaml.safe_load(y); b = json.loads(j)\n"
    "print('same' if a == b else 'DIFFERENT: %r != %r' % (a, b))\n";

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    skip ();
  p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                          | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                        &error, "/usr/bin/python3", "-c", script, NULL);
  assert_non_null (p);
  input = g_strdup_printf ("%s%c%s", y, '\0', j);
  {
    g_autoptr(GBytes) in = g_bytes_new (input, strlen (y) + 1 + strlen (j));
    g_autoptr(GBytes) ob = NULL;
    g_autoptr(GBytes) eb = NULL;

    assert_true (g_subprocess_communicate (p, in, NULL, &ob, &eb, &error));
    out = g_strndup (g_bytes_get_size (ob) > 0 ? g_bytes_get_data (ob, NULL) : "",
                     g_bytes_get_size (ob));
    err = g_strndup (g_bytes_get_size (eb) > 0 ? g_bytes_get_data (eb, NULL) : "",
                     g_bytes_get_size (eb));
  }
  if (strstr (err, "No module named 'yaml'") != NULL)
    skip ();
  if (!g_str_equal (out, "same\n"))
    fail_msg ("YAML:\n%s\npython: %s%s", y, out, err);
}

static void
render_names__list__one_per_line_skipping_missing (void **state)
{
  g_autoptr(JsonNode) doc = parse ("{\"devices\": [{\"name\": \"gpu0\", \"address\": \"A\"},"
                                   " {\"name\": null, \"address\": \"B\"}, {\"x\": 1}]}");
  g_autofree char *names = gvd_ctl_render_names (array_of (doc, "devices"), "name");
  g_autofree char *either = gvd_ctl_render_names (array_of (doc, "devices"), "name|address");

  assert_string_equal (names, "gpu0\n");
  assert_string_equal (either, "gpu0\nB\n");
}

static void
format_parse__names__formats_or_usage_error (void **state)
{
  GvdCtlFormat f = GVD_CTL_FORMAT_TABLE;
  g_autoptr(GError) error = NULL;

  assert_true (gvd_ctl_format_parse ("yaml", &f, NULL));
  assert_int_equal (f, GVD_CTL_FORMAT_YAML);
  assert_true (gvd_ctl_format_parse ("name", &f, NULL));
  assert_int_equal (f, GVD_CTL_FORMAT_NAME);
  assert_false (gvd_ctl_format_parse ("xml", &f, &error));
  assert_int_equal (gvd_ctl_exit_for_error (error), GVD_CTL_EXIT_USAGE);
}

static void
cell_text__kinds__human_units (void **state)
{
  g_autoptr(JsonNode) row = parse ("{\"b\": 3221225472, \"l\": [\"a\", \"b\"], \"e\": [],"
                                   " \"s\": \"x\", \"d\": 0.25}");
  g_autofree char *b = gvd_ctl_cell_text (row, "b", GVD_CTL_CELL_BYTES);
  g_autofree char *l = gvd_ctl_cell_text (row, "l", GVD_CTL_CELL_LIST);
  g_autofree char *e = gvd_ctl_cell_text (row, "e", GVD_CTL_CELL_LIST);
  g_autofree char *m = gvd_ctl_cell_text (row, "missing", GVD_CTL_CELL_TEXT);
  g_autofree char *alt = gvd_ctl_cell_text (row, "missing|s", GVD_CTL_CELL_TEXT);
  g_autofree char *d = gvd_ctl_cell_text (row, "d", GVD_CTL_CELL_TEXT);

  assert_string_equal (b, "3.0 GiB");
  assert_string_equal (l, "a,b");
  assert_string_equal (e, "-");
  assert_string_equal (m, "-");
  assert_string_equal (alt, "x");
  assert_string_equal (d, "0.25");
}

static void
console_sanitize__escapes_and_controls__dropped_text_kept (void **state)
{
  g_autofree char *a = gvd_ctl_console_sanitize (
    "a\x1b[31mred\x1b[0m\x1b]0;title\x07" "b\rc\x01\td\n\xc2\x9b" "2J\x1b]8;;x\x1b\\e\x7f"
    "Gr\xc3\xbc\xc3\x9f" "e\x1b" "c!");
  g_autofree char *unterminated = gvd_ctl_console_sanitize ("ok\x1b[12;3");

  assert_string_equal (a, "aredbc\td\n2JeGr\xc3\xbc\xc3\x9f" "e!");
  assert_string_equal (unterminated, "ok");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (args_parse__options_between_words__values_and_positionals),
    cmocka_unit_test (args_parse__bad_lines__usage_errors),
    cmocka_unit_test (args_stop_at_positional__globals_before_command__consumed_counted),
    cmocka_unit_test (parse_values__sizes_counts_labels__bounded),
    cmocka_unit_test (create_body__every_option__api_fields),
    cmocka_unit_test (create_body__contradictions__usage_errors),
    cmocka_unit_test (plan_and_reservation_bodies__options__api_fields),
    cmocka_unit_test (exit_for_api__codes_then_statuses__documented_exit_codes),
    cmocka_unit_test (error_from_api__error_body__message_code_details),
    cmocka_unit_test (sse_feed__events_comments_multiline__dispatched_in_order),
    cmocka_unit_test (render_table__instances__aligned_units_and_dashes),
    cmocka_unit_test (render_tree__devices_by_group__groups_sorted_children_below),
    cmocka_unit_test (render_json__answer__pretty_and_equal),
    cmocka_unit_test (render_yaml__tricky_values__expected_text),
    cmocka_unit_test (render_yaml__tricky_values__python_yaml_reads_same_json),
    cmocka_unit_test (render_names__list__one_per_line_skipping_missing),
    cmocka_unit_test (format_parse__names__formats_or_usage_error),
    cmocka_unit_test (cell_text__kinds__human_units),
    cmocka_unit_test (console_sanitize__escapes_and_controls__dropped_text_kept),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
