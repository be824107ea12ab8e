/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The create request's "disks" and the resize body: what each member
 * becomes, one refusal per rule (each naming the member), the operator's
 * network disk policy, volume names and targets, and the metadata that
 * recovery reads back. */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "domain-xml-disks.h"
#include "domain-xml.h"
#include "errors.h"
#include "instance-request-disks.h"
#include "instance-request.h"

static JsonNode *
parse_node (const char *text)
{
  g_autoptr(JsonParser) p = json_parser_new ();

  if (!json_parser_load_from_data (p, text, -1, NULL))
    fail_msg ("bad test JSON: %s", text);
  return json_node_copy (json_parser_get_root (p));
}

static GPtrArray *
parse_ok (const char *text)
{
  g_autoptr(JsonNode) node = parse_node (text);
  g_autoptr(GError) error = NULL;
  GPtrArray *disks = NULL;

  if (!gvd_disk_requests_parse (node, &disks, &error))
    fail_msg ("%s: %s", text, error->message);
  return disks;
}

static void
parse__every_member__applied (void **state)
{
  g_autoptr(GPtrArray) disks = parse_ok (
    "[{\"name\": \"data\", \"size_gib\": 100, \"format\": \"raw\", \"bus\": \"scsi\","
    "  \"cache\": \"none\", \"io\": \"native\", \"iothread\": 3, \"boot_order\": 2,"
    "  \"readonly\": false, \"serial\": \"SN-0123456789abcdef\", \"keep\": true},"
    " {\"name\": \"ref_1\", \"volume\": \"datasets.qcow2\", \"readonly\": true, \"iothread\": true},"
    " {\"name\": \"n\", \"nbd\": {\"host\": \"nbd.lan\", \"port\": 10810, \"export\": \"sets/a\"}},"
    " {\"name\": \"r\", \"rbd\": {\"monitors\": [\"[fd00::1]:3300\"], \"image\": \"rbd/img\","
    "  \"user\": \"gpuvmd\", \"secret_uuid\": \"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"},"
    "  \"bus\": \"sata\", \"cache\": \"writethrough\", \"io\": \"io_uring\"}]");
  const GvdDiskSpec *d;

  assert_int_equal (disks->len, 4);
  d = g_ptr_array_index (disks, 0);
  assert_string_equal (d->name, "data");
  assert_int_equal (d->type, GVD_DISK_VOLUME);
  assert_null (d->volume);
  assert_true (d->created);
  assert_true (d->size_bytes == G_GUINT64_CONSTANT (100) << 30);
  assert_string_equal (d->format, "raw");
  assert_int_equal (d->bus, GVD_DISK_BUS_SCSI);
  assert_int_equal (d->cache, GVD_DISK_CACHE_NONE);
  assert_int_equal (d->io, GVD_DISK_IO_NATIVE);
  assert_int_equal (d->iothread, 3);
  assert_int_equal (d->boot_order, 2);
  assert_false (d->readonly);
  assert_string_equal (d->serial, "SN-0123456789abcdef");
  assert_true (d->keep);

  d = g_ptr_array_index (disks, 1);
  assert_int_equal (d->type, GVD_DISK_VOLUME);
  assert_string_equal (d->volume, "datasets.qcow2");
  assert_false (d->created);
  assert_null (d->format); /* the volume's own, learnt at create */
  assert_true (d->readonly);
  assert_int_equal (d->iothread, 1);
  assert_int_equal (d->bus, GVD_DISK_BUS_VIRTIO);

  d = g_ptr_array_index (disks, 2);
  assert_int_equal (d->type, GVD_DISK_NBD);
  assert_string_equal (d->host, "nbd.lan");
  assert_int_equal (d->port, 10810);
  assert_string_equal (d->source_name, "sets/a");
  assert_string_equal (d->format, "raw");

  d = g_ptr_array_index (disks, 3);
  assert_int_equal (d->type, GVD_DISK_RBD);
  assert_string_equal (d->host, "fd00::1");
  assert_int_equal (d->port, 3300);
  assert_string_equal (d->source_name, "rbd/img");
  assert_string_equal (d->auth_username, "gpuvmd");
  assert_string_equal (d->secret_uuid, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
  assert_int_equal (d->bus, GVD_DISK_BUS_SATA);
  assert_int_equal (d->cache, GVD_DISK_CACHE_WRITETHROUGH);
  assert_int_equal (d->io, GVD_DISK_IO_URING);
}

static void
parse__defaults__qcow2_virtio_nbd_port_rbd_port (void **state)
{
  g_autoptr(GPtrArray) disks = parse_ok (
    "[{\"name\": \"a\", \"size_gib\": 1}, {\"name\": \"b\", \"nbd\": {\"host\": \"10.0.0.2\"}},"
    " {\"name\": \"c\", \"rbd\": {\"monitors\": [\"mon1\"], \"image\": \"p/i\"}}]");
  const GvdDiskSpec *a = g_ptr_array_index (disks, 0);
  const GvdDiskSpec *b = g_ptr_array_index (disks, 1);
  const GvdDiskSpec *c = g_ptr_array_index (disks, 2);

  assert_string_equal (a->format, "qcow2");
  assert_int_equal (a->bus, GVD_DISK_BUS_VIRTIO);
  assert_int_equal (a->cache, GVD_DISK_CACHE_DEFAULT);
  assert_false (a->keep);
  assert_null (a->serial);
  assert_int_equal (b->port, 10809);
  assert_null (b->source_name);
  assert_int_equal (c->port, 6789);
  assert_null (c->auth_username);
}

/* Through the whole create request too: the one dispatch line. */
static void
create_request__disks_member__parsed (void **state)
{
  g_autoptr(JsonNode) node = parse_node (
    "{\"name\": \"a\", \"image\": \"img\", \"disks\": [{\"name\": \"d\", \"size_gib\": 2}]}");
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (json_node_get_object (node), &error);

  assert_null (error);
  assert_int_equal (req->disks->len, 1);

  {
    g_autoptr(JsonNode) bad = parse_node (
      "{\"name\": \"a\", \"image\": \"img\", \"disks\": [{}, {\"name\": \"d\", \"size_gib\": 0}]}");
    g_autoptr(GError) e2 = NULL;

    assert_null (gvd_create_request_parse (json_node_get_object (bad), &e2));
    assert_true (g_error_matches (e2, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
    assert_non_null (strstr (e2->message, "'disks[0]"));
  }
}

typedef struct {
  const char *json;
  const char *fragment; /* the message names this */
} BadCase;

static const BadCase bad_cases[] = {
  { "{}", "'disks' must be an array" },
  { "[1]", "'disks[0]' must be an object" },
  { "[{\"size_gib\": 1}]", "'disks[0].name' is required" },
  { "[{\"name\": \"a\"}]", "'disks[0]' needs exactly one of" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"volume\": \"v\"}]", "'disks[0]' needs exactly one of" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"nbd\": {\"host\": \"h\"}}]", "'disks[0]' needs exactly one" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"colour\": \"red\"}]", "unknown member 'disks[0].colour'" },
  { "[{\"name\": \"A\", \"size_gib\": 1}]", "'disks[0].name' must start with a lower-case" },
  { "[{\"name\": \"a-b\", \"size_gib\": 1}]", "'disks[0].name' may hold only" },
  { "[{\"name\": \"aB\", \"size_gib\": 1}]", "'disks[0].name' may hold only lower-case" },
  { "[{\"name\": \"\", \"size_gib\": 1}]", "'disks[0].name' must be 1 to 32 bytes" },
  { "[{\"name\": \"root\", \"size_gib\": 1}]", "'disks[0].name': 'root' is reserved" },
  { "[{\"name\": \"seed\", \"size_gib\": 1}]", "'disks[0].name': 'seed' is reserved" },
  { "[{\"name\": \"abcdefghijabcdefghijabcdefghijabc\", \"size_gib\": 1}]", "'disks[0].name' must be 1 to 32" },
  { "[{\"name\": \"a\", \"size_gib\": 1}, {\"name\": \"b\", \"size_gib\": 1},"
    " {\"name\": \"a\", \"size_gib\": 1}]", "'disks[2].name': 'a' is used twice" },
  { "[{\"name\": \"a\", \"size_gib\": 0}]", "'disks[0].size_gib' must be from 1 to 65536" },
  { "[{\"name\": \"a\", \"size_gib\": 65537}]", "'disks[0].size_gib' must be from 1 to 65536" },
  { "[{\"name\": \"a\", \"size_gib\": -1}]", "'disks[0].size_gib' must be from" },
  { "[{\"name\": \"a\", \"size_gib\": 1.5}]", "'disks[0].size_gib' must be a whole number" },
  { "[{\"name\": \"a\", \"size_gib\": \"10\"}]", "'disks[0].size_gib' must be a whole number" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"format\": \"vmdk\"}]", "'disks[0].format' must be one of qcow2, raw" },
  { "[{\"name\": \"a\", \"volume\": \"v\", \"format\": \"raw\"}]", "'disks[0].format' is for new volumes" },
  { "[{\"name\": \"a\", \"volume\": \"v\", \"keep\": true}]", "'disks[0].keep' is for new volumes" },
  { "[{\"name\": \"a\", \"nbd\": {\"host\": \"h\"}, \"keep\": false}]", "'disks[0].keep' is for new" },
  { "[{\"name\": \"a\", \"volume\": \"../etc/passwd\"}]", "'disks[0].volume' may hold only" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"bus\": \"ide\"}]", "'disks[0].bus' must be one of virtio, scsi, sata" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"cache\": \"unsafe\"}]", "'disks[0].cache' must be one of" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"io\": \"aio\"}]", "'disks[0].io' must be one of" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"io\": \"native\"}]", "'disks[0].io': native needs" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"iothread\": 17}]", "'disks[0].iothread' must be from 1 to 16" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"iothread\": \"yes\"}]", "'disks[0].iothread' must be true" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"bus\": \"sata\", \"iothread\": true}]", "'disks[0].iothread': SATA" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"bus\": \"sata\", \"readonly\": true}]", "'disks[0].readonly': libvirt" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"bus\": \"scsi\", \"iothread\": 1},"
    " {\"name\": \"b\", \"size_gib\": 1, \"bus\": \"scsi\", \"iothread\": 2}]", "'disks[1].iothread': SCSI disks share" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"boot_order\": 1}]", "'disks[0].boot_order' must be from 2" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"boot_order\": 3},"
    " {\"name\": \"b\", \"size_gib\": 1, \"boot_order\": 3}]", "'disks[1].boot_order': 3 is used twice" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"readonly\": 1}]", "'disks[0].readonly' must be true or false" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"serial\": \"123456789012345678901\"}]", "'disks[0].serial' must be 1 to 20" },
  { "[{\"name\": \"a\", \"size_gib\": 1, \"serial\": \"a b\"}]", "'disks[0].serial' may hold only" },
  { "[{\"name\": \"a\", \"volume\": \"v\"}, {\"name\": \"b\", \"volume\": \"v\"}]", "'disks[1].volume': 'v' is attached twice" },
  { "[{\"name\": \"a\", \"nbd\": \"h:1\"}]", "'disks[0].nbd' must be an object" },
  { "[{\"name\": \"a\", \"nbd\": {}}]", "'disks[0].nbd.host' is required" },
  { "[{\"name\": \"a\", \"nbd\": {\"host\": \"-x\"}}]", "'disks[0].nbd.host' must be a host name" },
  { "[{\"name\": \"a\", \"nbd\": {\"host\": \"h\", \"port\": 0}}]", "'disks[0].nbd.port' must be from 1" },
  { "[{\"name\": \"a\", \"nbd\": {\"host\": \"h\", \"tls\": true}}]", "unknown member 'disks[0].nbd.tls'" },
  { "[{\"name\": \"a\", \"nbd\": {\"host\": \"h\", \"export\": \"a b\"}}]", "'disks[0].nbd.export' may hold" },
  { "[{\"name\": \"a\", \"rbd\": {\"image\": \"p/i\"}}]", "'disks[0].rbd.monitors' is required" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [\"m\"]}}]", "'disks[0].rbd.image' is required" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [], \"image\": \"p/i\"}}]", "'disks[0].rbd.monitors' must have 1" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [\"m:0\"], \"image\": \"p/i\"}}]", "'disks[0].rbd.monitors[0]': the port" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [\"fd00::1\"], \"image\": \"p/i\"}}]", "'disks[0].rbd.monitors[0]': write an IPv6" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [\"m\"], \"image\": \"img\"}}]", "'disks[0].rbd.image' must be \"pool/image\"" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [\"m\"], \"image\": \"p/i/j\"}}]", "'disks[0].rbd.image' must be" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [\"m\"], \"image\": \"p/i\", \"user\": \"u\"}}]", "'disks[0].rbd.user' and" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [\"m\"], \"image\": \"p/i\", \"user\": \"u\","
    " \"secret_uuid\": \"not-a-uuid\"}}]", "'disks[0].rbd.secret_uuid' must be a UUID" },
  { "[{\"name\": \"a\", \"rbd\": {\"monitors\": [\"m\"], \"image\": \"p/i\", \"key\": \"k\"}}]", "unknown member 'disks[0].rbd.key'" },
};

static void
parse__bad_member__invalid_argument_naming_it (void **state)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autoptr(JsonNode) node = parse_node (bad_cases[i].json);
      g_autoptr(GError) error = NULL;
      GPtrArray *disks = NULL;

      print_message ("bad case %" G_GSIZE_FORMAT ": %s\n", i, bad_cases[i].json);
      assert_false (gvd_disk_requests_parse (node, &disks, &error));
      assert_null (disks);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      if (strstr (error->message, bad_cases[i].fragment) == NULL)
        fail_msg ("'%s' does not contain '%s'", error->message, bad_cases[i].fragment);
    }
}

static void
parse__too_many__refused (void **state)
{
  g_autoptr(GString) s = g_string_new ("[");
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *disks = NULL;

  for (guint i = 0; i <= GVD_MAX_DATA_DISKS; i++)
    g_string_append_printf (s, "%s{\"name\": \"d%u\", \"size_gib\": 1}", i ? "," : "", i);
  g_string_append (s, "]");
  node = parse_node (s->str);
  assert_false (gvd_disk_requests_parse (node, &disks, &error));
  assert_non_null (strstr (error->message, "'disks' has 32 entries; at most 31"));
}

static GvdConfig *
config_with (const char *storage)
{
  GvdConfig *c = gvd_config_new ();
  g_autofree char *text = g_strdup_printf ("[storage]\n%s\n", storage);
  g_autoptr(GError) error = NULL;

  if (!gvd_config_load_data (c, text, -1, "test", &error))
    fail_msg ("%s", error->message);
  return c;
}

static void
policy__network_disks__default_deny_then_protocol_and_host (void **state)
{
  g_autoptr(GPtrArray) disks = parse_ok (
    "[{\"name\": \"a\", \"size_gib\": 1}, {\"name\": \"n\", \"nbd\": {\"host\": \"NBD.lan\"}},"
    " {\"name\": \"r\", \"rbd\": {\"monitors\": [\"10.0.0.9:6789\"], \"image\": \"p/i\"}}]");
  g_autoptr(GPtrArray) local = parse_ok ("[{\"name\": \"a\", \"size_gib\": 1}]");
  GvdConfig *c;
  g_autoptr(GError) error = NULL;

  /* Default: refused, naming the member and the key. */
  c = config_with ("");
  assert_true (gvd_disk_requests_check_policy (local, c, NULL));
  assert_false (gvd_disk_requests_check_policy (disks, c, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_FORBIDDEN));
  assert_non_null (strstr (error->message, "'disks[1].nbd'"));
  assert_non_null (strstr (error->message, "[storage] network_disks"));
  gvd_config_free (c);
  g_clear_error (&error);

  /* The protocol, but not the host. */
  c = config_with ("network_disks=nbd,rbd\nnetwork_disk_hosts=nbd.lan");
  assert_false (gvd_disk_requests_check_policy (disks, c, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_FORBIDDEN));
  assert_non_null (strstr (error->message, "'disks[2].rbd.monitors[0]': host '10.0.0.9'"));
  assert_non_null (strstr (error->message, "network_disk_hosts"));
  gvd_config_free (c);
  g_clear_error (&error);

  /* Only nbd enabled. */
  c = config_with ("network_disks=nbd\nnetwork_disk_hosts=nbd.lan,10.0.0.9");
  assert_false (gvd_disk_requests_check_policy (disks, c, &error));
  assert_non_null (strstr (error->message, "'disks[2].rbd': rbd disks are not enabled"));
  gvd_config_free (c);
  g_clear_error (&error);

  c = config_with ("network_disks=nbd,rbd\nnetwork_disk_hosts=nbd.lan,10.0.0.9");
  assert_true (gvd_disk_requests_check_policy (disks, c, &error));
  gvd_config_free (c);

  /* The key takes only protocols. */
  c = gvd_config_new ();
  assert_false (gvd_config_load_data (c, "[storage]\nnetwork_disks=iscsi\n", -1, "test", &error));
  assert_non_null (strstr (error->message, "iscsi"));
  gvd_config_free (c);
}

static void
volume_names__kept_differ__sweep_recognises_only_deleted (void **state)
{
  g_autofree char *v1 = gvd_disk_volume_name ("gpuvm-a-disk-b", "data", FALSE, "qcow2");
  g_autofree char *v2 = gvd_disk_volume_name ("gpuvm-web", "logs_1", TRUE, "raw");
  g_autofree char *i1 = gvd_disk_volume_instance (v1, "gpuvm-");
  g_autofree char *i2 = gvd_disk_volume_instance (v2, "gpuvm-");
  g_autofree char *i3 = gvd_disk_volume_instance ("gpuvm-web-disk-x.iso", "gpuvm-");
  g_autofree char *i4 = gvd_disk_volume_instance ("other-web-disk-x.raw", "gpuvm-");
  g_autofree char *i5 = gvd_disk_volume_instance ("gpuvm--disk-x.raw", "gpuvm-");
  g_autofree char *i6 = gvd_disk_volume_instance ("gpuvm-w-disk-x-y.raw", "gpuvm-");

  assert_string_equal (v1, "gpuvm-a-disk-b-disk-data.qcow2");
  assert_string_equal (v2, "gpuvm-web-kept-logs_1.raw");
  /* An instance name holding "-disk-" still parses: disk names hold no '-'. */
  assert_string_equal (i1, "a-disk-b");
  assert_null (i2);
  assert_null (i3);
  assert_null (i4);
  assert_null (i5);
  assert_null (i6);

  /* Kept volumes, exactly: not an instance's root whose name holds "-kept". */
  assert_true (gvd_disk_volume_is_kept (v2, "gpuvm-"));
  assert_true (gvd_disk_volume_is_kept ("gpuvm-a-kept-b-kept-c.qcow2", "gpuvm-"));
  assert_false (gvd_disk_volume_is_kept ("gpuvm-x-kept-root.qcow2", "gpuvm-"));
  assert_false (gvd_disk_volume_is_kept ("gpuvm-b-kept-c-root.qcow2", "gpuvm-"));
  assert_false (gvd_disk_volume_is_kept ("gpuvm-b-kept-c-seed.iso", "gpuvm-"));
  assert_false (gvd_disk_volume_is_kept ("gpuvm--kept-c.raw", "gpuvm-"));
  assert_false (gvd_disk_volume_is_kept ("other-a-kept-c.raw", "gpuvm-"));
  assert_false (gvd_disk_volume_is_kept (v1, "gpuvm-"));
  {
    g_autofree char *root_like = gvd_disk_volume_instance ("gpuvm-x-disk-root.qcow2", "gpuvm-");
    assert_null (root_like);
  }
}

static void
assign_targets__per_bus_after_taken (void **state)
{
  g_autoptr(GPtrArray) disks = parse_ok (
    "[{\"name\": \"a\", \"size_gib\": 1}, {\"name\": \"b\", \"size_gib\": 1, \"bus\": \"scsi\"},"
    " {\"name\": \"c\", \"size_gib\": 1, \"bus\": \"sata\"}, {\"name\": \"d\", \"size_gib\": 1}]");
  GvdDiskSpec *root = gvd_disk_spec_new ();

  root->target = g_strdup ("vda");
  g_ptr_array_insert (disks, 0, root);
  gvd_disk_specs_assign_targets (disks);
  assert_string_equal (((GvdDiskSpec *) g_ptr_array_index (disks, 1))->target, "vdb");
  assert_string_equal (((GvdDiskSpec *) g_ptr_array_index (disks, 2))->target, "sda");
  assert_string_equal (((GvdDiskSpec *) g_ptr_array_index (disks, 3))->target, "sdb");
  assert_string_equal (((GvdDiskSpec *) g_ptr_array_index (disks, 4))->target, "vdc");
}

/* Recovery reads back what delete needs: which volumes gpuvmd made and
 * which it keeps. */
static void
metadata__data_disks__round_trip (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_instance_spec_new ();
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GPtrArray) disks = parse_ok (
    "[{\"name\": \"data\", \"size_gib\": 3, \"keep\": true, \"serial\": \"S1\"},"
    " {\"name\": \"tmp\", \"size_gib\": 1, \"format\": \"raw\", \"bus\": \"scsi\"}]");
  GvdDiskSpec *root = gvd_disk_spec_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *meta = NULL;

  spec->name = g_strdup ("m");
  spec->domain_name = g_strdup ("gpuvm-m");
  spec->uuid = g_strdup ("6f1c3b1e-8a43-4d0c-9a57-2f1f2d6c1a01");
  spec->vcpus = 1;
  spec->memory_mib = 512;
  spec->heartbeat_interval = 10;
  root->pool = g_strdup ("gpuvmd");
  root->volume = g_strdup ("gpuvm-m-root.qcow2");
  root->format = g_strdup ("qcow2");
  g_ptr_array_add (spec->disks, root);
  for (guint i = 0; i < disks->len; i++)
    {
      GvdDiskSpec *d = g_ptr_array_index (disks, i);
      d->pool = g_strdup ("gpuvmd");
      d->volume = gvd_disk_volume_name (spec->domain_name, d->name, d->keep, d->format);
    }
  g_ptr_array_extend_and_steal (spec->disks, g_steal_pointer (&disks));
  gvd_disk_specs_assign_targets (spec->disks);

  xml = gvd_domain_xml_render (spec, &error);
  assert_non_null (xml);
  back = gvd_domain_xml_parse (xml, &error);
  assert_non_null (back);
  assert_int_equal (back->disks->len, 3);
  for (guint i = 1; i < 3; i++)
    {
      const GvdDiskSpec *w = g_ptr_array_index (spec->disks, i);
      const GvdDiskSpec *g = g_ptr_array_index (back->disks, i);

      assert_string_equal (w->name, g->name);
      assert_string_equal (w->volume, g->volume);
      assert_true (w->size_bytes == g->size_bytes);
      assert_int_equal (w->keep, g->keep);
      assert_true (g->created);
      assert_string_equal (w->target, g->target);
      assert_string_equal (w->format, g->format);
    }
  assert_string_equal (((GvdDiskSpec *) g_ptr_array_index (back->disks, 1))->serial, "S1");
  assert_null (((GvdDiskSpec *) g_ptr_array_index (back->disks, 0))->name);

  /* The element a resize hands to virDomainSetMetadata. */
  meta = gvd_domain_xml_render_metadata (spec, &error);
  assert_non_null (meta);
  assert_true (g_str_has_prefix (meta, "<g:instance xmlns:g=\"urn:gpuvmd:domain:1\""));
  assert_non_null (strstr (meta, "name=\"tmp\" size-bytes=\"1073741824\" created=\"yes\" keep=\"no\""));
  assert_true (g_str_has_suffix (meta, "</g:instance>"));
}

static void
resize_request__members__parsed_and_refused (void **state)
{
  static const BadCase bad[] = {
    { "{}", "give 'root_disk_gib' or 'disks'" },
    { "{\"root_disk_gib\": 0}", "'root_disk_gib' must be from 1 to 65536" },
    { "{\"root_disk_gib\": \"9\"}", "'root_disk_gib' must be a whole number" },
    { "{\"disks\": [\"data\"]}", "'disks' must be an object" },
    { "{\"disks\": {\"data\": 70000}}", "'disks.data' must be from 1 to 65536" },
    { "{\"disks\": {\"data\": true}}", "'disks.data' must be a whole number" },
    { "{\"size\": 3}", "unknown member 'size'" },
  };
  g_autoptr(JsonNode) ok = parse_node ("{\"root_disk_gib\": 40, \"disks\": {\"data\": 200}}");
  g_autoptr(GHashTable) disks = NULL;
  g_autoptr(GError) error = NULL;
  guint64 root = 0;

  assert_true (gvd_resize_request_parse (json_node_get_object (ok), &root, &disks, &error));
  assert_int_equal (root, 40);
  assert_int_equal (g_hash_table_size (disks), 1);
  assert_int_equal (*(guint64 *) g_hash_table_lookup (disks, "data"), 200);
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) node = parse_node (bad[i].json);
      g_autoptr(GHashTable) d = NULL;
      g_autoptr(GError) e = NULL;

      assert_false (gvd_resize_request_parse (json_node_get_object (node), &root, &d, &e));
      assert_null (d);
      assert_true (g_error_matches (e, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      if (strstr (e->message, bad[i].fragment) == NULL)
        fail_msg ("'%s' does not contain '%s'", e->message, bad[i].fragment);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse__every_member__applied),
    cmocka_unit_test (parse__defaults__qcow2_virtio_nbd_port_rbd_port),
    cmocka_unit_test (create_request__disks_member__parsed),
    cmocka_unit_test (parse__bad_member__invalid_argument_naming_it),
    cmocka_unit_test (parse__too_many__refused),
    cmocka_unit_test (policy__network_disks__default_deny_then_protocol_and_host),
    cmocka_unit_test (volume_names__kept_differ__sweep_recognises_only_deleted),
    cmocka_unit_test (assign_targets__per_bus_after_taken),
    cmocka_unit_test (metadata__data_disks__round_trip),
    cmocka_unit_test (resize_request__members__parsed_and_refused),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
