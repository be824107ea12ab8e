/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/instances body validation: a full request, defaults, and one
 * refusal per rule, each naming the member. */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "errors.h"
#include "instance-request.h"

static JsonObject *
parse_json (const char *text)
{
  g_autoptr(JsonParser) p = json_parser_new ();

  assert_true (json_parser_load_from_data (p, text, -1, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

static void
parse__full_request__every_member_applied (void **state)
{
  g_autoptr(JsonObject) body = parse_json (
    "{\"name\": \"train-7\", \"image\": \"debian-12.qcow2\", \"vcpus\": 16,"
    " \"memory_mib\": 65536, \"root_disk_gib\": 40, \"devices\": [\"gpu0\", \"0000:41:00.0\"],"
    " \"allow_weakened_isolation\": true, \"user\": \"ml\", \"ssh_keys\": [\"ssh-ed25519 AAAA x\"],"
    " \"password_hash\": \"$6$x$y\", \"packages\": [\"htop\"], \"cloud_config\": {\"timezone\": \"UTC\"},"
    " \"install_nvidia_driver\": true,"
    " \"network\": {\"mode\": \"bridge\", \"source\": \"br0\", \"ipv4\": \"10.0.0.5\"},"
    " \"boot\": {\"firmware\": \"bios\", \"kernel\": \"/k\", \"initrd\": \"/i\", \"cmdline\": \"root=/dev/vda\"},"
    " \"labels\": {\"team\": \"vision\", \"k8s.io/node\": \"n1\"}, \"start\": false, \"dry_run\": true,"
    " \"autostart\": true, \"console\": {\"vnc\": true},"
    " \"ports\": [{\"guest\": 22}, {\"guest\": 8888, \"proto\": \"tcp\"}]}");
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (body, &error);

  assert_null (error);
  assert_non_null (req);
  assert_string_equal (req->name, "train-7");
  assert_string_equal (req->image, "debian-12.qcow2");
  assert_int_equal (req->vcpus, 16);
  assert_int_equal (req->memory_mib, 65536);
  assert_int_equal (req->root_disk_gib, 40);
  assert_int_equal (g_strv_length (req->devices), 2);
  assert_string_equal (req->devices[1], "0000:41:00.0");
  assert_true (req->allow_weakened_isolation);
  assert_string_equal (req->user, "ml");
  assert_string_equal (req->ssh_keys[0], "ssh-ed25519 AAAA x");
  assert_string_equal (req->password_hash, "$6$x$y");
  assert_string_equal (req->packages[0], "htop");
  assert_string_equal (json_object_get_string_member (req->cloud_config, "timezone"), "UTC");
  assert_true (req->install_nvidia_driver);
  assert_true (req->network_set);
  assert_int_equal (req->network_mode, GVD_NETWORK_BRIDGE);
  assert_string_equal (req->network_source, "br0");
  assert_string_equal (req->ipv4, "10.0.0.5");
  assert_int_equal (req->firmware, GVD_FIRMWARE_BIOS);
  assert_string_equal (req->kernel, "/k");
  assert_string_equal (req->cmdline, "root=/dev/vda");
  assert_string_equal (g_hash_table_lookup (req->labels, "k8s.io/node"), "n1");
  assert_false (req->start);
  assert_true (req->dry_run);
  assert_true (req->autostart);
  assert_true (req->console_vnc);
  assert_int_equal (req->ports->len, 2);
  assert_int_equal (g_array_index (req->ports, guint, 0), 22);
  assert_int_equal (g_array_index (req->ports, guint, 1), 8888);
}

static void
parse__boot_volumes__names_kept_paths_unset (void **state)
{
  g_autoptr(JsonObject) body = parse_json (
    "{\"name\": \"a\", \"image\": \"img\", \"boot\": {\"kernel\": {\"volume\": \"vmlinuz-6.1\"},"
    " \"initrd\": {\"volume\": \"initrd-6.1\"}, \"cmdline\": \"root=/dev/vda\"}}");
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (body, &error);

  assert_null (error);
  assert_string_equal (req->kernel_volume, "vmlinuz-6.1");
  assert_string_equal (req->initrd_volume, "initrd-6.1");
  assert_null (req->kernel);
  assert_null (req->initrd);
}

static void
parse__minimal__defaults (void **state)
{
  g_autoptr(JsonObject) body = parse_json ("{\"name\": \"a\", \"image\": \"img\"}");
  g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (body, NULL);

  assert_non_null (req);
  assert_int_equal (req->vcpus, 1);
  assert_int_equal (req->memory_mib, 1024);
  assert_int_equal (req->root_disk_gib, 0);
  assert_int_equal (req->gpus, 0);
  assert_null (req->devices);
  assert_false (req->network_set);
  assert_int_equal (req->firmware, GVD_FIRMWARE_EFI);
  assert_true (req->start);
  assert_false (req->dry_run);
  /* Off unless asked for: no autostart, no console beyond the serial log. */
  assert_false (req->autostart);
  assert_false (req->console_vnc);
  /* No port is forwarded unless asked for. */
  assert_null (req->ports);
}

static void
parse__bad_requests__refused_naming_member (void **state)
{
  struct {
    const char *json;
    const char *expect;
  } cases[] = {
    { "{\"image\": \"i\"}", "'name' is required" },
    { "{\"name\": \"a\"}", "'image' is required" },
    { "{\"name\": \"Train\", \"image\": \"i\"}", "'name' must be 1 to 63 lower-case" },
    { "{\"name\": \"-a\", \"image\": \"i\"}", "'name' must be" },
    { "{\"name\": \"a-\", \"image\": \"i\"}", "'name' must be" },
    { "{\"name\": \"a_b\", \"image\": \"i\"}", "'name' must be" },
    { "{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"image\": \"i\"}", "'name' must be" },
    { "{\"name\": 5, \"image\": \"i\"}", "'name' must be a string, not a number" },
    { "{\"name\": \"a\", \"image\": \"i\", \"vcpus\": 0}", "'vcpus' must be from 1 to 256" },
    { "{\"name\": \"a\", \"image\": \"i\", \"vcpus\": 1.5}", "'vcpus' must be a whole number" },
    { "{\"name\": \"a\", \"image\": \"i\", \"vcpus\": \"2\"}", "'vcpus' must be a whole number, not a string" },
    { "{\"name\": \"a\", \"image\": \"i\", \"memory_mib\": 64}", "'memory_mib' must be from 128" },
    { "{\"name\": \"a\", \"image\": \"i\", \"memory_mib\": -1}", "'memory_mib' must be from 128" },
    { "{\"name\": \"a\", \"image\": \"i\", \"colour\": 1}", "unknown member 'colour'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"devices\": \"gpu0\"}", "'devices' must be an array" },
    { "{\"name\": \"a\", \"image\": \"i\", \"devices\": [1]}", "'devices[0]' must be a string" },
    { "{\"name\": \"a\", \"image\": \"i\", \"devices\": [\"\"]}", "'devices[0]' is empty" },
    { "{\"name\": \"a\", \"image\": \"i\", \"devices\": [\"g\"], \"gpus\": 1}", "either 'devices' or 'gpus'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"gpus\": 65}", "'gpus' must be from 0 to 64" },
    { "{\"name\": \"a\", \"image\": \"i\", \"gpu_model\": \"A100\"}", "filter 'gpus'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"reservation\": \"r\", \"gpus\": 1}", "'reservation' already names" },
    { "{\"name\": \"a\", \"image\": \"i\", \"user\": \"a\\nb\"}", "'user' contains a control character" },
    { "{\"name\": \"a\", \"image\": \"i\", \"start\": \"yes\"}", "'start' must be true or false" },
    { "{\"name\": \"a\", \"image\": \"i\", \"cloud_config\": []}", "'cloud_config' must be an object" },
    { "{\"name\": \"a\", \"image\": \"i\", \"network\": {\"mode\": \"nat\"}}", "'network.mode' must be user, bridge or network" },
    { "{\"name\": \"a\", \"image\": \"i\", \"network\": {\"mode\": \"bridge\"}}", "'network.source' is required" },
    { "{\"name\": \"a\", \"image\": \"i\", \"network\": {\"ipv4\": \"10.0.0.5\"}}", "'network.ipv4' needs bridge" },
    { "{\"name\": \"a\", \"image\": \"i\", \"network\": {\"mode\": \"bridge\", \"source\": \"br0\", \"ipv4\": \"10.0.0\"}}", "'network.ipv4' '10.0.0' is not an IPv4 address" },
    { "{\"name\": \"a\", \"image\": \"i\", \"network\": {\"mode\": \"bridge\", \"source\": \"br 0\"}}", "interface or network name" },
    { "{\"name\": \"a\", \"image\": \"i\", \"network\": {\"vlan\": 5}}", "unknown member 'network.vlan'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"boot\": {\"firmware\": \"coreboot\"}}", "'boot.firmware' must be efi or bios" },
    { "{\"name\": \"a\", \"image\": \"i\", \"boot\": {\"kernel\": \"vmlinuz\"}}", "'boot.kernel' must be an absolute host path" },
    { "{\"name\": \"a\", \"image\": \"i\", \"boot\": {\"kernel\": \"/a/../etc/shadow\"}}", "absolute host path" },
    { "{\"name\": \"a\", \"image\": \"i\", \"boot\": {\"cmdline\": \"x\"}}", "need 'boot.kernel'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"boot\": {\"initrd\": {\"volume\": \"i\"}}}", "need 'boot.kernel'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"boot\": {\"kernel\": {\"path\": \"/k\"}}}", "host path or {\"volume\": NAME}" },
    { "{\"name\": \"a\", \"image\": \"i\", \"boot\": {\"kernel\": {\"volume\": \"k\", \"x\": 1}}}", "host path or {\"volume\": NAME}" },
    { "{\"name\": \"a\", \"image\": \"i\", \"boot\": {\"kernel\": {\"volume\": 7}}}", "'boot.kernel.volume' must be a string" },
    { "{\"name\": \"a\", \"image\": \"i\", \"labels\": {\"a b\": \"x\"}}", "label key 'a b'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"labels\": {\"a\": 1}}", "'labels.a' must be a string" },
    { "{\"name\": \"a\", \"image\": \"i\", \"autostart\": 1}", "'autostart' must be true or false" },
    { "{\"name\": \"a\", \"image\": \"i\", \"console\": true}", "'console' must be an object" },
    { "{\"name\": \"a\", \"image\": \"i\", \"console\": {\"vnc\": \"on\"}}", "'console.vnc' must be true or false" },
    { "{\"name\": \"a\", \"image\": \"i\", \"console\": {\"spice\": true}}", "unknown member 'console.spice'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": 22}", "'ports' must be an array" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [22]}", "'ports[0]' must be an object" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{}]}", "'ports[0].guest' is required" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{\"guest\": 0}]}", "'ports[0].guest' must be a TCP port from 1 to 65535" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{\"guest\": 65536}]}", "'ports[0].guest' must be a TCP port" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{\"guest\": \"22\"}]}", "'ports[0].guest' must be a whole number" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{\"guest\": 22.5}]}", "'ports[0].guest' must be a whole number" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{\"guest\": 22}, {\"guest\": 22}]}", "'ports[1].guest': port 22 is already forwarded" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{\"guest\": 22, \"host\": 2222}]}", "unknown member 'ports[0].host'" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{\"guest\": 53, \"proto\": \"udp\"}]}", "'ports[0].proto' must be \"tcp\"" },
    { "{\"name\": \"a\", \"image\": \"i\", \"ports\": [{\"guest\": 1}, {\"guest\": 2}, {\"guest\": 3}, {\"guest\": 4}, {\"guest\": 5}, {\"guest\": 6}, {\"guest\": 7}, {\"guest\": 8}, {\"guest\": 9}, {\"guest\": 10}, {\"guest\": 11}, {\"guest\": 12}, {\"guest\": 13}, {\"guest\": 14}, {\"guest\": 15}, {\"guest\": 16}, {\"guest\": 17}]}", "'ports' may forward at most 16 ports, not 17" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonObject) body = parse_json (cases[i].json);
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (body, &error);

      assert_null (req);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      if (strstr (error->message, cases[i].expect) == NULL)
        fail_msg ("case %zu (%s): '%s' lacks '%s'", i, cases[i].json, error->message, cases[i].expect);
    }
}

static void
parse__bounds__counts_and_lengths_refused (void **state)
{
  g_autoptr(GString) json = g_string_new ("{\"name\": \"a\", \"image\": \"i\", \"ssh_keys\": [");
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = NULL;
  g_autofree char *long_image = g_strnfill (129, 'x');
  g_autofree char *json2 = g_strdup_printf ("{\"name\": \"a\", \"image\": \"%s\"}", long_image);
  g_autoptr(JsonObject) body2 = parse_json (json2);
  g_autoptr(GError) error2 = NULL;

  for (int i = 0; i < GVD_MAX_SSH_KEYS + 1; i++)
    g_string_append_printf (json, "%s\"ssh-ed25519 AAAA%d\"", i ? "," : "", i);
  g_string_append (json, "]}");
  body = parse_json (json->str);
  req = gvd_create_request_parse (body, &error);
  assert_null (req);
  assert_non_null (strstr (error->message, "'ssh_keys' has 33 entries; at most 32"));

  assert_null (gvd_create_request_parse (body2, &error2));
  assert_non_null (strstr (error2->message, "'image' is longer than 128 bytes"));
}

static void
name_valid__forms (void **state)
{
  assert_true (gvd_instance_name_valid ("a"));
  assert_true (gvd_instance_name_valid ("train-7"));
  assert_true (gvd_instance_name_valid ("7b"));
  assert_false (gvd_instance_name_valid (""));
  assert_false (gvd_instance_name_valid (NULL));
  assert_false (gvd_instance_name_valid ("a.b"));
  assert_false (gvd_instance_name_valid ("a/b"));
  assert_false (gvd_instance_name_valid ("ä"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse__full_request__every_member_applied),
    cmocka_unit_test (parse__minimal__defaults),
    cmocka_unit_test (parse__boot_volumes__names_kept_paths_unset),
    cmocka_unit_test (parse__bad_requests__refused_naming_member),
    cmocka_unit_test (parse__bounds__counts_and_lengths_refused),
    cmocka_unit_test (name_valid__forms),
  };

  return cmocka_run_group_tests_name ("instance-request", tests, NULL, NULL);
}
