/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cloud-init renderer: parsed-JSON golden checks, cloud-init 22.4's own
 * schema and network parsers, merge rules, and hostile input. */
#include "config.h"

#include "testlib.h"

#include "agent-files.h"
#include "cloudinit.h"
#include "errors.h"

#include <glib/gstdio.h>
#include <string.h>

#define UUID "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"

/* Run by /usr/bin/python3 (Debian's, with cloud-init and PyYAML) over
 * "KIND:LABEL:PATH" arguments; one "ok LABEL" or "FAIL LABEL: why" line per
 * argument. KIND user-data runs `cloud-init schema --config-file` and
 * network-config `cloud-init devel net-convert ... --output-kind networkd`
 * (the CLI's own handlers, in one process); every kind also checks that
 * YAML reads exactly what JSON reads. */
static const char validator_py[] =
  "import contextlib, functools, io, json, sys, yaml\n"
  "from cloudinit.config import schema\n"
  "schema.get_schema = functools.lru_cache()(schema.get_schema)  # the CLI loads it per run\n"
  "from cloudinit.cmd.devel import net_convert\n"
  "for arg in sys.argv[1:]:\n"
  "    kind, label, path = arg.split(':', 2)\n"
  "    out = io.StringIO()\n"
  "    try:\n"
  "        text = open(path, encoding='utf-8').read()\n"
  "        body = text\n"
  "        if kind.startswith('user-data'):\n"
  "            assert text.startswith('#cloud-config\\n'), 'no #cloud-config header'\n"
  "            body = text[len('#cloud-config\\n'):]\n"
  "        assert yaml.safe_load(text) == json.loads(body), 'YAML reads other values than JSON'\n"
  "        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):\n"
  "            if kind == 'user-data':\n"
  "                a = schema.get_parser().parse_args(['--config-file', path])\n"
  "                schema.handle_schema_args('schema', a)\n"
  "            elif kind == 'network-config':\n"
  "                a = net_convert.get_parser().parse_args(['--network-data', path,\n"
  "                    '--kind', 'yaml', '--distro', 'debian', '--output-kind', 'networkd',\n"
  "                    '-d', path + '.out'])\n"
  "                net_convert.handle_args('net-convert', a)\n"
  "        print('ok', label)\n"
  "    except BaseException as e:\n"
  "        print('FAIL', label + ':', repr(e), out.getvalue().replace('\\n', ' | ')[:2000])\n";

/* ---- helpers -------------------------------------------------------------- */

/* A well-formed public key of @type: the blob starts with the type. */
static char *
fake_key (const char *type, const char *comment)
{
  g_autoptr(GByteArray) blob = g_byte_array_new ();
  guint32 len = GUINT32_TO_BE ((guint32) strlen (type));
  g_autofree char *b64 = NULL;

  g_byte_array_append (blob, (const guint8 *) &len, 4);
  g_byte_array_append (blob, (const guint8 *) type, (guint) strlen (type));
  for (guint i = 0; i < 36; i++)
    {
      guint8 b = (guint8) (i * 7 + 1);
      g_byte_array_append (blob, &b, 1);
    }
  b64 = g_base64_encode (blob->data, blob->len);
  return comment != NULL ? g_strdup_printf ("%s %s %s", type, b64, comment)
                         : g_strdup_printf ("%s %s", type, b64);
}

static GvdAgentFiles *
agent_files (void)
{
  g_autoptr(GError) error = NULL;
  GvdAgentFiles *files = gvd_agent_files_load (&error);

  assert_null (error);
  assert_non_null (files);
  return files;
}

static GvdNicSpec *
nic (const char *mac, const char *ipv4, const char *gateway, const char *dns0)
{
  GvdNicSpec *n = gvd_nic_spec_new ();

  n->mac = g_strdup (mac);
  n->ipv4 = g_strdup (ipv4);
  n->gateway = g_strdup (gateway);
  if (dns0 != NULL)
    {
      n->dns = g_new0 (char *, 3);
      n->dns[0] = g_strdup (dns0);
      n->dns[1] = g_strdup ("2001:4860:4860::8888");
    }
  return n;
}

static GvdInstanceSpec *
spec_minimal (void)
{
  GvdInstanceSpec *spec = gvd_instance_spec_new ();

  spec->name = g_strdup ("train-7");
  spec->uuid = g_strdup (UUID);
  g_ptr_array_add (spec->nics, nic ("52:54:00:AB:CD:01", NULL, NULL, NULL));
  return spec;
}

static GvdInstanceSpec *
spec_full (void)
{
  GvdInstanceSpec *spec = spec_minimal ();

  spec->hostname = g_strdup ("gpu-box");
  spec->user = g_strdup ("alice");
  spec->ssh_keys = g_new0 (char *, 3);
  spec->ssh_keys[0] = fake_key ("ssh-ed25519", "alice@laptop");
  spec->ssh_keys[1] = fake_key ("ecdsa-sha2-nistp256", NULL);
  spec->password_hash = g_strdup ("$6$rounds=5000$saltsalt$abcdefghijklmnopqrstuvwxyz./0123456789");
  spec->packages = g_strsplit ("curl,htop=3.2.2-2,python3-numpy", ",", -1);
  spec->install_nvidia_driver = TRUE;
  spec->nvidia_driver_version = g_strdup ("535.129.03");
  spec->agent_url = g_strdup ("http://10.0.2.2:8788");
  spec->agent_token = g_strdup ("0123456789abcdef0123456789abcdef");
  spec->heartbeat_interval = 7;
  g_ptr_array_set_size (spec->nics, 0);
  g_ptr_array_add (spec->nics, nic ("52:54:00:ab:cd:01", "10.77.0.5/24", "10.77.0.1", "1.1.1.1"));
  g_ptr_array_add (spec->nics, nic ("52:54:00:ab:cd:02", NULL, NULL, NULL));
  return spec;
}

/* spec_full with a mounted virtiofs share, a mounted read-only 9p share and
 * an unmounted one. */
static GvdInstanceSpec *
spec_shares (void)
{
  GvdInstanceSpec *spec = spec_full ();
  static const struct { const char *tag, *mp; gboolean virtiofs, ro; } shares[] = {
    { "scratch", "/mnt/scratch", TRUE, FALSE },
    { "models", "/srv/models-ro", FALSE, TRUE },
    { "raw", NULL, FALSE, TRUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (shares); i++)
    {
      GvdShareSpec *s = gvd_share_spec_new ();
      s->tag = g_strdup (shares[i].tag);
      s->source_dir = g_strdup_printf ("/srv/host/%s", shares[i].tag);
      s->virtiofs = shares[i].virtiofs;
      s->readonly = shares[i].ro;
      s->mount_point = g_strdup (shares[i].mp);
      g_ptr_array_add (spec->shares, s);
    }
  return spec;
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  assert_true (json_parser_load_from_data (parser, json, -1, &error));
  root = json_parser_get_root (parser);
  assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

static JsonObject *
parse_user_data (const char *user_data)
{
  assert_true (g_str_has_prefix (user_data, "#cloud-config\n"));
  return parse_object (user_data + strlen ("#cloud-config\n"));
}

static JsonObject *
extra_from (const char *json)
{
  return parse_object (json);
}

static char *
render_user_data_ok (GvdInstanceSpec *spec)
{
  g_autoptr(GvdAgentFiles) agent = agent_files ();
  g_autoptr(GError) error = NULL;
  char *ud = gvd_cloudinit_render_user_data (spec, agent, &error);

  if (error != NULL)
    fail_msg ("render failed: %s", error->message);
  assert_non_null (ud);
  return ud;
}

/* Refused with GVD_ERROR_INVALID_ARGUMENT and a message starting "@field". */
static void
assert_refused (GvdInstanceSpec *spec, const char *field)
{
  g_autoptr(GvdAgentFiles) agent = agent_files ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCloudInitSeed) seed = gvd_cloudinit_render (spec, agent, &error);

  assert_null (seed);
  assert_non_null (error);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  if (!g_str_has_prefix (error->message, field))
    fail_msg ("expected an error about %s, got: %s", field, error->message);
}

static JsonArray *
member_array (JsonObject *o, const char *name)
{
  assert_true (json_object_has_member (o, name));
  return json_object_get_array_member (o, name);
}

static const char *
runcmd_word (JsonArray *runcmd, guint i, guint word)
{
  return json_array_get_string_element (json_array_get_array_element (runcmd, i), word);
}

/* Files handed to the Python validator in one run. */
typedef struct {
  char *dir;
  GPtrArray *args; /* "KIND:LABEL:PATH" */
} Batch;

static Batch *
batch_new (void)
{
  Batch *b = g_new0 (Batch, 1);

  b->dir = g_dir_make_tmp ("gvd-cloudinit-XXXXXX", NULL);
  assert_non_null (b->dir);
  b->args = g_ptr_array_new_with_free_func (g_free);
  return b;
}

static void
batch_add (Batch *b, const char *kind, const char *label, const char *text)
{
  g_autofree char *name = g_strdup_printf ("%u.%s", b->args->len, kind);
  g_autofree char *path = g_build_filename (b->dir, name, NULL);

  assert_true (g_file_set_contents (path, text, -1, NULL));
  g_ptr_array_add (b->args, g_strdup_printf ("%s:%s:%s", kind, label, path));
}

/* @schema: run cloud-init's schema check and network parser, else only the
 * YAML-equals-JSON check (kinds "*-yaml"). */
static void
batch_add_seed (Batch *b, const char *label, const GvdCloudInitSeed *seed, gboolean schema)
{
  batch_add (b, "meta-data", label, seed->meta_data);
  batch_add (b, schema ? "user-data" : "user-data-yaml", label, seed->user_data);
  if (seed->network_config != NULL)
    batch_add (b, schema ? "network-config" : "network-config-yaml", label, seed->network_config);
}

/* Runs the validator; every argument must come back "ok". */
static void
batch_run_and_free (Batch *b)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *rm = NULL;
  int status = 0;
  guint ok = 0, failed = 0;

  if (!g_file_test ("/usr/bin/cloud-init", G_FILE_TEST_IS_EXECUTABLE))
    fail_msg ("/usr/bin/cloud-init is missing (apt-get install cloud-init)");
  g_ptr_array_add (argv, (gpointer) "/usr/bin/python3");
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, (gpointer) validator_py);
  for (guint i = 0; i < b->args->len; i++)
    g_ptr_array_add (argv, g_ptr_array_index (b->args, i));
  g_ptr_array_add (argv, NULL);
  assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                             &err, &status, &error));
  if (!g_spawn_check_wait_status (status, NULL))
    fail_msg ("validator failed: %s", err);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "ok "))
        ok++;
      else if (lines[i][0] != '\0')
        {
          print_error ("%s\n", lines[i]);
          failed++;
        }
    }
  assert_int_equal (failed, 0);
  assert_int_equal (ok, b->args->len);

  rm = g_strdup_printf ("rm -rf '%s'", b->dir);
  assert_true (g_spawn_command_line_sync (rm, NULL, NULL, NULL, NULL));
  g_free (b->dir);
  g_ptr_array_unref (b->args);
  g_free (b);
}

/* ---- meta-data and network-config ----------------------------------------- */

static void
render_meta_data__spec__instance_id_and_hostname (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
  g_autoptr(GError) error = NULL;
  g_autofree char *md = NULL;
  g_autoptr(JsonObject) o = NULL;

  md = gvd_cloudinit_render_meta_data (spec, &error);
  assert_non_null (md);
  o = parse_object (md);
  assert_string_equal (json_object_get_string_member (o, "instance-id"), UUID);
  assert_string_equal (json_object_get_string_member (o, "local-hostname"), "train-7");
  assert_int_equal (json_object_get_size (o), 2);

  g_free (spec->hostname);
  spec->hostname = g_strdup ("Box-2");
  g_free (md);
  md = gvd_cloudinit_render_meta_data (spec, &error);
  json_object_unref (o);
  o = parse_object (md);
  assert_string_equal (json_object_get_string_member (o, "local-hostname"), "Box-2");
}

static void
render_meta_data__bad_identity__refused (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_minimal ();

  g_free (spec->uuid);
  spec->uuid = g_strdup ("not-a-uuid");
  assert_refused (spec, "uuid");
  g_free (spec->uuid);
  spec->uuid = g_strdup (UUID);
  g_free (spec->name);
  spec->name = g_strdup ("train_7"); /* fine as a name, not as a hostname */
  assert_refused (spec, "hostname");
  spec->hostname = g_strdup ("-x");
  assert_refused (spec, "hostname");
  g_free (spec->hostname);
  spec->hostname = g_strnfill (64, 'a');
  assert_refused (spec, "hostname");
  g_free (spec->hostname);
  spec->hostname = g_strnfill (63, 'a');
  assert_true (gvd_cloudinit_validate_hostname (spec->hostname, NULL));
}

static void
render_network_config__static_and_dhcp__v2_by_mac (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_full ();
  g_autoptr(GError) error = NULL;
  g_autofree char *nc = NULL;
  g_autoptr(JsonObject) o = NULL;
  JsonObject *eths, *e0, *e1, *route;

  assert_true (gvd_cloudinit_render_network_config (spec, &nc, &error));
  o = parse_object (nc);
  assert_int_equal (json_object_get_int_member (o, "version"), 2);
  eths = json_object_get_object_member (o, "ethernets");
  assert_int_equal (json_object_get_size (eths), 2);
  e0 = json_object_get_object_member (eths, "eth0");
  assert_string_equal (json_object_get_string_member (json_object_get_object_member (e0, "match"),
                                                      "macaddress"),
                       "52:54:00:ab:cd:01");
  assert_string_equal (json_object_get_string_member (e0, "set-name"), "eth0");
  assert_false (json_object_get_boolean_member (e0, "dhcp4"));
  assert_string_equal (json_array_get_string_element (member_array (e0, "addresses"), 0),
                       "10.77.0.5/24");
  route = json_array_get_object_element (member_array (e0, "routes"), 0);
  assert_string_equal (json_object_get_string_member (route, "to"), "0.0.0.0/0");
  assert_string_equal (json_object_get_string_member (route, "via"), "10.77.0.1");
  assert_false (json_object_has_member (e0, "gateway4"));
  assert_string_equal (json_array_get_string_element (
                         json_object_get_array_member (json_object_get_object_member (e0, "nameservers"),
                                                       "addresses"), 1),
                       "2001:4860:4860::8888");
  e1 = json_object_get_object_member (eths, "eth1");
  assert_true (json_object_get_boolean_member (e1, "dhcp4"));
  assert_false (json_object_has_member (e1, "addresses"));
}

/* networks: three NICs (static, DHCP, an SR-IOV VF), each matched by MAC;
 * only the first holds up boot; cloud-init's own parser takes it. */
static void
render_network_config__three_nics__each_by_mac_schema_valid (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_full ();
  g_autoptr(GvdAgentFiles) agent = agent_files ();
  g_autoptr(GvdCloudInitSeed) seed = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) o = NULL;
  GvdNicSpec *vf = nic ("52:54:00:ab:cd:03", NULL, NULL, NULL);
  JsonObject *eths;
  Batch *batch = batch_new ();

  vf->mode = GVD_NETWORK_SRIOV;
  vf->device = g_strdup ("0000:42:00.2");
  g_ptr_array_add (spec->nics, vf);
  seed = gvd_cloudinit_render (spec, agent, &error);
  if (seed == NULL)
    fail_msg ("render: %s", error->message);
  o = parse_object (seed->network_config);
  eths = json_object_get_object_member (o, "ethernets");
  assert_int_equal (json_object_get_size (eths), 3);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *id = g_strdup_printf ("eth%u", i);
      g_autofree char *mac = g_strdup_printf ("52:54:00:ab:cd:%02u", i + 1);
      JsonObject *e = json_object_get_object_member (eths, id);

      assert_non_null (e);
      assert_string_equal (json_object_get_string_member (
                             json_object_get_object_member (e, "match"), "macaddress"), mac);
      assert_string_equal (json_object_get_string_member (e, "set-name"), id);
      assert_int_equal (json_object_has_member (e, "optional"), i > 0);
      assert_int_equal (json_object_get_boolean_member (e, "dhcp4"), i > 0);
    }
  batch_add_seed (batch, "three-nics", seed, TRUE);
  batch_run_and_free (batch);
}

static void
render_network_config__no_nic__null (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
  char *nc = (char *) "untouched";

  g_ptr_array_set_size (spec->nics, 0);
  assert_true (gvd_cloudinit_render_network_config (spec, &nc, NULL));
  assert_null (nc);
}

static void
render_network_config__bad_values__refused_naming_field (void **state)
{
  static const struct { const char *mac, *ipv4, *gw, *dns, *field; } cases[] = {
    { "52:54:00:ab:cd", NULL, NULL, NULL, "nics.mac" },
    { "52-54-00-ab-cd-01", NULL, NULL, NULL, "nics.mac" },
    { "52:54:00:ab:cd:0g", NULL, NULL, NULL, "nics.mac" },
    { "52:54:00:ab:cd:01", "10.77.0.5", NULL, NULL, "nics.ipv4" },
    { "52:54:00:ab:cd:01", "10.77.0.5/33", NULL, NULL, "nics.ipv4" },
    { "52:54:00:ab:cd:01", "10.77.0.300/24", NULL, NULL, "nics.ipv4" },
    { "52:54:00:ab:cd:01", "fe80::1/64", NULL, NULL, "nics.ipv4" },
    { "52:54:00:ab:cd:01", "10.77.0.5/24\n", NULL, NULL, "nics.ipv4" },
    { "52:54:00:ab:cd:01", "10.77.0.5/24", "10.78.0.1", NULL, "nics.gateway" },
    { "52:54:00:ab:cd:01", "10.77.0.5/24", "gw", NULL, "nics.gateway" },
    { "52:54:00:ab:cd:01", NULL, "10.77.0.1", NULL, "nics.gateway" },
    { "52:54:00:ab:cd:01", NULL, NULL, "1.1.1.1 # x", "nics.dns" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GvdInstanceSpec) spec = spec_minimal ();

      g_ptr_array_set_size (spec->nics, 0);
      g_ptr_array_add (spec->nics, nic (cases[i].mac, cases[i].ipv4, cases[i].gw, cases[i].dns));
      assert_refused (spec, cases[i].field);
    }
}

/* ---- user-data ------------------------------------------------------------ */

static void
render_user_data__full_spec__user_packages_agent_driver (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_full ();
  g_autoptr(GvdAgentFiles) agent = agent_files ();
  g_autofree char *ud = render_user_data_ok (spec);
  g_autoptr(JsonObject) o = parse_user_data (ud);
  g_autoptr(JsonObject) config = NULL;
  JsonObject *user, *f;
  JsonArray *users, *keys, *files, *runcmd, *packages;

  users = member_array (o, "users");
  assert_int_equal (json_array_get_length (users), 1);
  user = json_array_get_object_element (users, 0);
  assert_string_equal (json_object_get_string_member (user, "name"), "alice");
  assert_string_equal (json_object_get_string_member (user, "sudo"), "ALL=(ALL) NOPASSWD:ALL");
  assert_string_equal (json_object_get_string_member (user, "passwd"), spec->password_hash);
  assert_false (json_object_get_boolean_member (user, "lock_passwd"));
  keys = member_array (user, "ssh_authorized_keys");
  assert_int_equal (json_array_get_length (keys), 2);
  assert_string_equal (json_array_get_string_element (keys, 0), spec->ssh_keys[0]);
  assert_string_equal (json_array_get_string_element (keys, 1), spec->ssh_keys[1]);

  packages = member_array (o, "packages");
  assert_int_equal (json_array_get_length (packages), 3);
  assert_string_equal (json_array_get_string_element (packages, 1), "htop=3.2.2-2");
  assert_true (json_object_get_boolean_member (o, "package_update"));

  files = member_array (o, "write_files");
  assert_int_equal (json_array_get_length (files), 3);
  f = json_array_get_object_element (files, 0);
  assert_string_equal (json_object_get_string_member (f, "path"), GVD_AGENT_SCRIPT_PATH);
  assert_string_equal (json_object_get_string_member (f, "permissions"), "0755");
  assert_string_equal (json_object_get_string_member (f, "content"), agent->script);
  f = json_array_get_object_element (files, 1);
  assert_string_equal (json_object_get_string_member (f, "path"), GVD_AGENT_UNIT_PATH);
  assert_string_equal (json_object_get_string_member (f, "content"), agent->unit);
  f = json_array_get_object_element (files, 2);
  assert_string_equal (json_object_get_string_member (f, "path"), GVD_AGENT_CONFIG_PATH);
  assert_string_equal (json_object_get_string_member (f, "permissions"), "0600");
  config = parse_object (json_object_get_string_member (f, "content"));
  assert_string_equal (json_object_get_string_member (config, "url"), "http://10.0.2.2:8788");
  assert_string_equal (json_object_get_string_member (config, "instance"), "train-7");
  assert_string_equal (json_object_get_string_member (config, "token"), spec->agent_token);
  assert_int_equal (json_object_get_int_member (config, "interval"), 7);
  /* The unit runs the script where write_files puts it. */
  assert_non_null (strstr (agent->unit, GVD_AGENT_SCRIPT_PATH));

  runcmd = member_array (o, "runcmd");
  assert_int_equal (json_array_get_length (runcmd), 3);
  assert_string_equal (runcmd_word (runcmd, 0, 1), "daemon-reload");
  assert_string_equal (runcmd_word (runcmd, 1, 1), "enable");
  assert_string_equal (runcmd_word (runcmd, 1, 3), "--no-block");
  assert_string_equal (runcmd_word (runcmd, 1, 4), "gpuvmd-agent.service");
  assert_string_equal (runcmd_word (runcmd, 2, 0), "sh");
  assert_string_equal (runcmd_word (runcmd, 2, 4), "535.129.03");
}

static void
render_user_data__minimal__locked_default_user_no_agent (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
  g_autofree char *ud = render_user_data_ok (spec);
  g_autoptr(JsonObject) o = parse_user_data (ud);
  JsonObject *user = json_array_get_object_element (member_array (o, "users"), 0);

  assert_string_equal (json_object_get_string_member (user, "name"), "gpuvm");
  assert_true (json_object_get_boolean_member (user, "lock_passwd"));
  assert_false (json_object_has_member (user, "passwd"));
  assert_false (json_object_has_member (o, "write_files"));
  assert_false (json_object_has_member (o, "runcmd"));
  assert_false (json_object_has_member (o, "packages"));
  assert_false (json_object_has_member (o, "package_update"));
}

static void
render_user_data__agent_without_files__refused (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_full ();
  g_autoptr(GError) error = NULL;
  g_autofree char *ud = gvd_cloudinit_render_user_data (spec, NULL, &error);

  assert_null (ud);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  g_free (spec->nvidia_driver_version);
  spec->nvidia_driver_version = NULL;
  assert_refused (spec, "nvidia_driver_version");
}

/* The driver script, run by sh with stub apt-get/modprobe: the Ubuntu branch
 * package when apt knows it, else Debian's nvidia-driver, pinned to the host
 * version both ways. */
static void
nvidia_install__script_run__pins_host_version (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_full ();
  g_autofree char *ud = render_user_data_ok (spec);
  g_autoptr(JsonObject) o = parse_user_data (ud);
  JsonArray *cmd = json_array_get_array_element (member_array (o, "runcmd"), 2);
  g_autofree char *dir = g_dir_make_tmp ("gvd-nvidia-XXXXXX", NULL);
  const char *stub =
    "#!/bin/sh\n"
    "echo \"$(basename $0) $*\" >> \"$STUB_LOG\"\n"
    "case \"$*\" in *-s*nvidia-driver-535=*) [ -n \"$UBUNTU\" ] || exit 100;; esac\n";

  for (guint ubuntu = 0; ubuntu < 2; ubuntu++)
    {
      g_autofree char *log = g_build_filename (dir, "log", NULL);
      g_autofree char *apt = g_build_filename (dir, "apt-get", NULL);
      g_autofree char *modprobe = g_build_filename (dir, "modprobe", NULL);
      g_autofree char *path = g_strdup_printf ("%s:/usr/bin:/bin", dir);
      g_autofree char *text = NULL;
      g_auto(GStrv) envp = g_get_environ ();
      const char *argv[8] = { 0 };
      int status = 0;

      assert_true (g_file_set_contents (apt, stub, -1, NULL));
      assert_true (g_file_set_contents (modprobe, stub, -1, NULL));
      assert_int_equal (g_chmod (apt, 0755), 0);
      assert_int_equal (g_chmod (modprobe, 0755), 0);
      (void) g_unlink (log);
      envp = g_environ_setenv (envp, "PATH", path, TRUE);
      envp = g_environ_setenv (envp, "STUB_LOG", log, TRUE);
      envp = ubuntu ? g_environ_setenv (envp, "UBUNTU", "1", TRUE) : g_environ_unsetenv (envp, "UBUNTU");
      assert_string_equal (json_array_get_string_element (cmd, 0), "sh");
      argv[0] = "/bin/sh";
      for (guint i = 1; i < json_array_get_length (cmd); i++)
        argv[i] = json_array_get_string_element (cmd, i);
      assert_true (g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                                 NULL, &status, NULL));
      assert_true (g_spawn_check_wait_status (status, NULL));
      assert_true (g_file_get_contents (log, &text, NULL, NULL));
      if (ubuntu)
        assert_non_null (strstr (text, "apt-get install -y nvidia-driver-535=535.129.03-*\n"));
      else
        assert_non_null (strstr (text, "apt-get install -y nvidia-driver=535.129.03-*\n"));
      assert_non_null (strstr (text, "apt-get update\n"));
      assert_non_null (strstr (text, "modprobe nvidia\n"));
      g_unlink (log);
      g_unlink (apt);
      g_unlink (modprobe);
    }
  g_rmdir (dir);
}

/* ---- extra cloud-config merge rules --------------------------------------- */

static void
merge__runcmd_and_write_files__appended_after_ours (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_full ();
  g_autofree char *ud = NULL;
  g_autoptr(JsonObject) o = NULL;
  JsonArray *runcmd, *files;

  spec->extra_cloud_config = extra_from (
    "{\"runcmd\": [\"echo one\", [\"touch\", \"/tmp/two\"]],"
    " \"write_files\": [{\"path\": \"/etc/motd\", \"content\": \"hi\\n\"}]}");
  ud = render_user_data_ok (spec);
  o = parse_user_data (ud);
  runcmd = member_array (o, "runcmd");
  assert_int_equal (json_array_get_length (runcmd), 5);
  assert_string_equal (runcmd_word (runcmd, 0, 1), "daemon-reload");
  assert_string_equal (json_array_get_string_element (runcmd, 3), "echo one");
  assert_string_equal (runcmd_word (runcmd, 4, 1), "/tmp/two");
  files = member_array (o, "write_files");
  assert_int_equal (json_array_get_length (files), 4);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (files, 3),
                                                      "path"),
                       "/etc/motd");
}

static void
merge__packages__union_ours_first (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_full ();
  g_autofree char *ud = NULL;
  g_autoptr(JsonObject) o = NULL;
  JsonArray *p;

  spec->extra_cloud_config = extra_from (
    "{\"packages\": [\"jq\", \"curl\", [\"nginx\", \"1.22.1-9\"], \"jq\"], \"package_update\": false}");
  ud = render_user_data_ok (spec);
  o = parse_user_data (ud);
  p = member_array (o, "packages");
  assert_int_equal (json_array_get_length (p), 5);
  assert_string_equal (json_array_get_string_element (p, 0), "curl");
  assert_string_equal (json_array_get_string_element (p, 2), "python3-numpy");
  assert_string_equal (json_array_get_string_element (p, 3), "jq");
  assert_string_equal (json_array_get_string_element (json_array_get_array_element (p, 4), 1),
                       "1.22.1-9");
  /* Keys gpuvmd only defaults are the operator's to override. */
  assert_false (json_object_get_boolean_member (o, "package_update"));
}

static void
merge__other_keys__taken_from_extra (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
  g_autofree char *ud = NULL;
  g_autoptr(JsonObject) o = NULL;

  spec->extra_cloud_config = extra_from (
    "{\"manage_etc_hosts\": false, \"ssh_pwauth\": true, \"timezone\": \"Europe/Paris\","
    " \"bootcmd\": [[\"echo\", \"early\"]], \"ntp\": {\"enabled\": true, \"servers\": [\"10.0.0.1\"]}}");
  ud = render_user_data_ok (spec);
  o = parse_user_data (ud);
  assert_false (json_object_get_boolean_member (o, "manage_etc_hosts"));
  assert_true (json_object_get_boolean_member (o, "ssh_pwauth"));
  assert_string_equal (json_object_get_string_member (o, "timezone"), "Europe/Paris");
  assert_string_equal (runcmd_word (member_array (o, "bootcmd"), 0, 1), "early");
  assert_string_equal (json_array_get_string_element (
                         json_object_get_array_member (json_object_get_object_member (o, "ntp"),
                                                       "servers"), 0),
                       "10.0.0.1");
  /* Our default user is still the only user. */
  assert_int_equal (json_array_get_length (member_array (o, "users")), 1);
}

static void
merge__owned_or_malformed_keys__refused (void **state)
{
  static const struct { const char *extra, *field; } cases[] = {
    { "{\"users\": [\"default\"]}", "extra_cloud_config.users" },
    { "{\"user\": {\"name\": \"x\"}}", "extra_cloud_config.user" },
    { "{\"system_info\": {\"default_user\": {\"name\": \"x\"}}}", "extra_cloud_config.system_info" },
    { "{\"ssh_authorized_keys\": []}", "extra_cloud_config.ssh_authorized_keys" },
    { "{\"hostname\": \"other\"}", "extra_cloud_config.hostname" },
    { "{\"fqdn\": \"a.b\"}", "extra_cloud_config.fqdn" },
    { "{\"cloud_final_modules\": []}", "extra_cloud_config.cloud_final_modules" },
    { "{\"merge_how\": \"x\"}", "extra_cloud_config.merge_how" },
    { "{\"runcmd\": \"echo\"}", "extra_cloud_config.runcmd" },
    { "{\"packages\": {}}", "extra_cloud_config.packages" },
    { "{\"write_files\": {}}", "extra_cloud_config.write_files" },
    { "{\"write_files\": [\"x\"]}", "extra_cloud_config.write_files" },
    { "{\"write_files\": [{\"content\": \"x\"}]}", "extra_cloud_config.write_files" },
    { "{\"write_files\": [{\"path\": \"/etc/gpuvmd-agent.json\"}]}", "extra_cloud_config.write_files" },
    { "{\"write_files\": [{\"path\": \"/etc//./gpuvmd-agent.json\"}]}", "extra_cloud_config.write_files" },
    { "{\"write_files\": [{\"path\": \"/usr/local/sbin/../sbin/gpuvmd-agent\"}]}",
      "extra_cloud_config.write_files" },
    { "{\"write_files\": [{\"path\": \"/etc/systemd/system/gpuvmd-agent.service\"}]}",
      "extra_cloud_config.write_files" },
    { "{\"power_state\": {\"delay\": 1.5}}", "extra_cloud_config.power_state.delay" },
    { "{\"x\": \"\\u0085\"}", "extra_cloud_config.x" },
    { "{\"x\": \"\\u2028\"}", "extra_cloud_config.x" },
    { "{\"x\": \"\\u007f\"}", "extra_cloud_config.x" },
    { "{\"x\": \"\\ufeff\"}", "extra_cloud_config.x" },
    { "{\"\\u0085\": 1}", "extra_cloud_config.<member>" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GvdInstanceSpec) spec = spec_full ();

      spec->extra_cloud_config = extra_from (cases[i].extra);
      assert_refused (spec, cases[i].field);
    }
}

static void
merge__bounds__depth_nodes_string_size_refused (void **state)
{
  g_autoptr(GString) deep = g_string_new ("{\"x\": ");
  g_autoptr(GString) wide = g_string_new ("{\"x\": [");
  g_autofree char *big = g_strnfill (GVD_CLOUDINIT_MAX_EXTRA_STRING + 1, 'a');
  g_autofree char *ok64k = g_strnfill (64 * 1024, 'b');
  g_autofree char *json = NULL;

  for (guint i = 0; i < 40; i++)
    g_string_append (deep, "[");
  for (guint i = 0; i < 40; i++)
    g_string_append (deep, "]");
  g_string_append (deep, "}");
  for (guint i = 0; i < GVD_CLOUDINIT_MAX_EXTRA_NODES; i++)
    g_string_append (wide, i ? ",1" : "1");
  g_string_append (wide, "]}");

  {
    g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
    spec->extra_cloud_config = extra_from (deep->str);
    assert_refused (spec, "extra_cloud_config.x");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
    spec->extra_cloud_config = extra_from (wide->str);
    assert_refused (spec, "extra_cloud_config");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
    json = g_strdup_printf ("{\"bootcmd\": [\"%s\"]}", big);
    spec->extra_cloud_config = extra_from (json);
    assert_refused (spec, "extra_cloud_config.bootcmd[]");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
    g_autofree char *ud = NULL;
    g_autoptr(JsonObject) o = NULL;
    g_autofree char *j64 = g_strdup_printf ("{\"bootcmd\": [\"%s\"]}", ok64k);

    spec->extra_cloud_config = extra_from (j64);
    ud = render_user_data_ok (spec);
    o = parse_user_data (ud);
    assert_string_equal (json_array_get_string_element (member_array (o, "bootcmd"), 0), ok64k);
  }
  {
    /* Four 256 KiB strings: each allowed, together over 1 MiB. */
    g_autoptr(GvdInstanceSpec) spec = spec_minimal ();
    g_autofree char *s = g_strnfill (GVD_CLOUDINIT_MAX_EXTRA_STRING, 'c');
    g_autofree char *j = g_strdup_printf ("{\"bootcmd\": [\"%s\", \"%s\", \"%s\", \"%s\"]}", s, s, s, s);

    spec->extra_cloud_config = extra_from (j);
    assert_refused (spec, "extra_cloud_config");
  }
}

/* ---- field validation ----------------------------------------------------- */

static void
validate__fields__accept_and_refuse (void **state)
{
  g_autofree char *k_ed = fake_key ("ssh-ed25519", "me@host # \"quoted\" &a *a");
  g_autofree char *k_rsa = fake_key ("ssh-rsa", NULL);
  g_autofree char *k_sk = fake_key ("sk-ssh-ed25519@openssh.com", "yubi");
  g_autofree char *k_ecdsa = fake_key ("ecdsa-sha2-nistp521", "x");
  g_autofree char *k_dss = fake_key ("ssh-dss", NULL);
  g_autofree char *k_nl = fake_key ("ssh-ed25519", "a\nssh-rsa AAAA evil");
  g_autofree char *k_wrong = NULL;
  g_autofree char *k_opts = NULL;
  g_autofree char *k_long = NULL;
  g_autofree char *pad = g_strnfill (GVD_CLOUDINIT_MAX_SSH_KEY_LEN, 'x');
  static const char *const good_users[] = { "alice", "_svc", "a1-b_c", NULL };
  static const char *const bad_users[] = { "", "Alice", "1abc", "root", "a b", "a:b", "a\n",
                                           "abcdefghijklmnopqrstuvwxyzabcdefg", "&a", NULL };
  static const char *const good_pkgs[] = { "curl", "g++", "libc6.1", "nginx=1.22.1-9~deb12u1",
                                           "kubelet=1.26.*", "python3-yaml=5.4:1", NULL };
  static const char *const bad_pkgs[] = { "c", "Curl", "-x", "curl;rm", "curl =1", "curl=",
                                          "curl=1 2", "curl\n", "!!python/object", "*a", NULL };

  assert_true (gvd_cloudinit_validate_ssh_key (k_ed, NULL));
  assert_true (gvd_cloudinit_validate_ssh_key (k_rsa, NULL));
  assert_true (gvd_cloudinit_validate_ssh_key (k_sk, NULL));
  assert_true (gvd_cloudinit_validate_ssh_key (k_ecdsa, NULL));
  assert_false (gvd_cloudinit_validate_ssh_key (k_dss, NULL));
  assert_false (gvd_cloudinit_validate_ssh_key (k_nl, NULL));
  /* The blob names another type than the prefix. */
  k_wrong = fake_key ("ssh-rsa", NULL);
  memcpy (k_wrong, "ssh-ed2", 7); /* "ssh-ed2 ..." is not a known type either */
  assert_false (gvd_cloudinit_validate_ssh_key (k_wrong, NULL));
  g_free (k_wrong);
  {
    g_autofree char *rsa = fake_key ("ssh-rsa", NULL);
    k_wrong = g_strconcat ("ssh-ed25519", rsa + strlen ("ssh-rsa"), NULL);
  }
  assert_false (gvd_cloudinit_validate_ssh_key (k_wrong, NULL));
  k_opts = g_strconcat ("command=\"/bin/sh\" ", k_ed, NULL);
  assert_false (gvd_cloudinit_validate_ssh_key (k_opts, NULL));
  k_long = g_strconcat (k_ed, pad, NULL);
  assert_false (gvd_cloudinit_validate_ssh_key (k_long, NULL));
  assert_false (gvd_cloudinit_validate_ssh_key ("ssh-ed25519 !!!!AAAA", NULL));
  assert_false (gvd_cloudinit_validate_ssh_key ("ssh-ed25519", NULL));

  for (guint i = 0; good_users[i] != NULL; i++)
    assert_true (gvd_cloudinit_validate_user (good_users[i], NULL));
  for (guint i = 0; bad_users[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      assert_false (gvd_cloudinit_validate_user (bad_users[i], &error));
      assert_true (g_str_has_prefix (error->message, "user: "));
    }
  for (guint i = 0; good_pkgs[i] != NULL; i++)
    assert_true (gvd_cloudinit_validate_package (good_pkgs[i], NULL));
  for (guint i = 0; bad_pkgs[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      assert_false (gvd_cloudinit_validate_package (bad_pkgs[i], &error));
      assert_true (g_str_has_prefix (error->message, "packages: "));
    }
}

static void
validate__spec_fields__refused_naming_field (void **state)
{
  {
    g_autoptr(GvdInstanceSpec) spec = spec_full ();
    g_free (spec->password_hash);
    spec->password_hash = g_strdup ("hunter2");
    assert_refused (spec, "password_hash");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_full ();
    g_free (spec->agent_url);
    spec->agent_url = g_strdup ("file:///etc/passwd");
    assert_refused (spec, "agent_url");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_full ();
    g_free (spec->agent_token);
    spec->agent_token = g_strdup ("abc\"def");
    assert_refused (spec, "agent_token");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_full ();
    spec->heartbeat_interval = 0;
    assert_refused (spec, "heartbeat_interval");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_full ();
    g_free (spec->nvidia_driver_version);
    spec->nvidia_driver_version = g_strdup ("535; reboot");
    assert_refused (spec, "nvidia_driver_version");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_full ();
    g_strfreev (spec->ssh_keys);
    spec->ssh_keys = g_new0 (char *, GVD_CLOUDINIT_MAX_SSH_KEYS + 2);
    for (guint i = 0; i <= GVD_CLOUDINIT_MAX_SSH_KEYS; i++)
      spec->ssh_keys[i] = fake_key ("ssh-ed25519", NULL);
    assert_refused (spec, "ssh_keys");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_full ();
    g_strfreev (spec->packages);
    spec->packages = g_new0 (char *, GVD_CLOUDINIT_MAX_PACKAGES + 2);
    for (guint i = 0; i <= GVD_CLOUDINIT_MAX_PACKAGES; i++)
      spec->packages[i] = g_strdup ("curl");
    assert_refused (spec, "packages");
  }
  {
    g_autoptr(GvdInstanceSpec) spec = spec_full ();
    g_free (spec->name);
    spec->name = g_strdup ("a\nb");
    assert_refused (spec, "name");
  }
}

/* ---- hostile input --------------------------------------------------------- */

static const char *const hostile[] = {
  "a\nb", "line\r\nbreak", "\"quoted\"", "'single'", "# comment", "a #b", "&anchor x",
  "*alias", "!!python/object/apply:os.system ['id']", "!!binary aGk=", "--- doc", "...",
  "key: value", "{a: 1}", "[1, 2]", "- item", "| block", "> folded", "%YAML 1.1", "@at", "`tick`",
  "~", "null", "true", "no", "0o17", "0x1F", "1e3", "12:30:00", "2024-01-01", "\t tab",
  "ünïcödé ✓ 😀", "\x01\x02\x1b[31m", "trailing space ", " leading", "\\backslash\\", "${HOME}",
  "$(id)", "a\u2028b", "a\xc2\x85" "b", "\x7f", "\xef\xbb\xbf", "\xff\xfe", "\xc3", "",
};

typedef enum {
  FIELD_HOSTNAME, FIELD_USER, FIELD_SSH_COMMENT, FIELD_PACKAGE, FIELD_NAME, FIELD_TOKEN,
  FIELD_PASSWORD, FIELD_EXTRA_VALUE, FIELD_EXTRA_MEMBER, FIELD_DRIVER, FIELD_DNS, N_FIELDS
} Field;

static const char *const field_names[] = {
  "hostname", "user", "ssh_keys", "packages", "name", "agent_token", "password_hash",
  "extra_cloud_config", "extra_cloud_config", "nvidia_driver_version", "nics.dns",
};

/* Puts @value into @field of a full spec, renders, and checks the outcome:
 * refused with the field named, or the value comes back exactly. Accepted
 * user-data goes to @batch (when not NULL) for the YAML-equals-JSON check. */
static gboolean
try_hostile (Field field, const char *value, Batch *batch, const char *label)
{
  g_autoptr(GvdInstanceSpec) spec = spec_full ();
  g_autoptr(GvdAgentFiles) agent = agent_files ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCloudInitSeed) seed = NULL;
  g_autoptr(JsonObject) ud = NULL;
  g_autoptr(JsonObject) md = NULL;
  g_autofree char *key = fake_key ("ssh-ed25519", NULL);
  g_autofree char *expect = NULL;
  const char *got = NULL;
  JsonObject *user;

  switch (field)
    {
    case FIELD_HOSTNAME: g_free (spec->hostname); spec->hostname = g_strdup (value); break;
    case FIELD_USER: g_free (spec->user); spec->user = g_strdup (value); break;
    case FIELD_SSH_COMMENT:
      expect = g_strdup_printf ("%s %s", key, value);
      g_free (spec->ssh_keys[0]);
      spec->ssh_keys[0] = g_strdup (expect);
      break;
    case FIELD_PACKAGE: g_free (spec->packages[0]); spec->packages[0] = g_strdup (value); break;
    case FIELD_NAME: g_free (spec->name); spec->name = g_strdup (value); break;
    case FIELD_TOKEN: g_free (spec->agent_token); spec->agent_token = g_strdup (value); break;
    case FIELD_PASSWORD:
      g_free (spec->password_hash);
      spec->password_hash = g_strdup (value);
      break;
    case FIELD_EXTRA_VALUE:
    case FIELD_EXTRA_MEMBER:
      {
        JsonObject *extra = json_object_new ();
        JsonObject *inner = json_object_new ();
        JsonArray *cmd = json_array_new ();
        JsonArray *cmds = json_array_new ();

        json_array_add_string_element (cmd, "echo");
        json_array_add_string_element (cmd, value);
        json_array_add_array_element (cmds, cmd);
        json_object_set_array_member (extra, "bootcmd", cmds);
        json_object_set_string_member (inner, field == FIELD_EXTRA_MEMBER ? value : "k", value);
        json_object_set_object_member (extra, "x-gpuvmd-test", inner);
        spec->extra_cloud_config = extra;
      }
      break;
    case FIELD_DRIVER:
      g_free (spec->nvidia_driver_version);
      spec->nvidia_driver_version = g_strdup (value);
      break;
    case FIELD_DNS:
      {
        GvdNicSpec *n = g_ptr_array_index (spec->nics, 0);
        g_free (n->dns[0]);
        n->dns[0] = g_strdup (value);
      }
      break;
    default:
      g_assert_not_reached ();
    }

  /* The 18 KiB agent script only slows the YAML check down where the field
   * does not end up in the agent's config. */
  if (field != FIELD_NAME && field != FIELD_TOKEN)
    g_clear_pointer (&spec->agent_url, g_free);
  seed = gvd_cloudinit_render (spec, agent, &error);
  if (seed == NULL)
    {
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      if (!g_str_has_prefix (error->message, field_names[field]))
        fail_msg ("field %s: error names another field: %s", field_names[field], error->message);
      return FALSE;
    }

  ud = parse_user_data (seed->user_data);
  md = parse_object (seed->meta_data);
  user = json_array_get_object_element (member_array (ud, "users"), 0);
  switch (field)
    {
    case FIELD_HOSTNAME: got = json_object_get_string_member (md, "local-hostname"); break;
    case FIELD_USER: got = json_object_get_string_member (user, "name"); break;
    case FIELD_SSH_COMMENT:
      got = json_array_get_string_element (member_array (user, "ssh_authorized_keys"), 0);
      value = expect;
      break;
    case FIELD_PACKAGE: got = json_array_get_string_element (member_array (ud, "packages"), 0); break;
    case FIELD_NAME:
    case FIELD_TOKEN:
      {
        JsonArray *files = member_array (ud, "write_files");
        g_autoptr(JsonObject) config = parse_object (json_object_get_string_member (
          json_array_get_object_element (files, 2), "content"));
        assert_string_equal (json_object_get_string_member (config, field == FIELD_NAME ? "instance"
                                                                                        : "token"),
                             value);
        got = value;
      }
      break;
    case FIELD_PASSWORD: got = json_object_get_string_member (user, "passwd"); break;
    case FIELD_EXTRA_VALUE:
    case FIELD_EXTRA_MEMBER:
      assert_string_equal (runcmd_word (member_array (ud, "bootcmd"), 0, 1), value);
      got = json_object_get_string_member (json_object_get_object_member (ud, "x-gpuvmd-test"),
                                           field == FIELD_EXTRA_MEMBER ? value : "k");
      break;
    case FIELD_DRIVER:
      got = runcmd_word (member_array (ud, "runcmd"), 0, 4);
      break;
    case FIELD_DNS:
      {
        g_autoptr(JsonObject) nc = parse_object (seed->network_config);
        JsonObject *e0 = json_object_get_object_member (json_object_get_object_member (nc, "ethernets"), "eth0");
        got = json_array_get_string_element (
          json_object_get_array_member (json_object_get_object_member (e0, "nameservers"), "addresses"), 0);
      }
      break;
    default:
      g_assert_not_reached ();
    }
  assert_non_null (got);
  if (strcmp (got, value) != 0)
    fail_msg ("field %s: value changed in the output", field_names[field]);
  if (batch != NULL)
    batch_add_seed (batch, label, seed, strstr (label, "/hostile-") != NULL);
  return TRUE;
}

static void
hostile__every_field__refused_or_exact (void **state)
{
  Batch *batch = batch_new ();
  g_autofree char *long64k = g_strnfill (64 * 1024, 'a');
  guint accepted = 0;

  for (guint f = 0; f < N_FIELDS; f++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
        {
          g_autofree char *label = g_strdup_printf ("%s/hostile-%u", field_names[f], i);
          accepted += try_hostile ((Field) f, hostile[i], batch, label);
        }
      try_hostile ((Field) f, long64k, NULL, NULL);
    }
  /* Free-form fields take most of them, exactly; fixed-format ones none. */
  assert_true (accepted > 60);
  assert_false (try_hostile (FIELD_HOSTNAME, "a\nb", NULL, NULL));
  assert_false (try_hostile (FIELD_USER, "&a", NULL, NULL));
  assert_true (try_hostile (FIELD_EXTRA_VALUE, "!!python/object/apply:os.system ['id']", NULL, NULL));
  assert_true (try_hostile (FIELD_SSH_COMMENT, "*alias &anchor #x", NULL, NULL));
  batch_run_and_free (batch);
}

/* Random bytes and random code points from a fixed seed. */
static void
hostile__random_strings__refused_or_exact_and_yaml_safe (void **state)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (20240611);
  Batch *batch = batch_new ();
  guint in_batch = 0;

  for (guint round = 0; round < 300; round++)
    {
      g_autoptr(GString) s = g_string_new (NULL);
      guint len = (guint) g_rand_int_range (rand, 0, 48);

      for (guint i = 0; i < len; i++)
        {
          if (round % 2 == 0)
            g_string_append_c (s, (char) g_rand_int_range (rand, 1, 256));
          else
            {
              gunichar c;
              do
                c = (gunichar) (g_rand_boolean (rand) ? g_rand_int_range (rand, 1, 0x300)
                                                      : g_rand_int_range (rand, 1, 0x110000));
              while (c >= 0xd800 && c <= 0xdfff);
              g_string_append_unichar (s, c);
            }
        }
      for (guint f = 0; f < N_FIELDS; f++)
        {
          /* Every accepted free-form document goes to YAML, a sample of the rest. */
          gboolean sample = (f == FIELD_EXTRA_VALUE || f == FIELD_EXTRA_MEMBER || round % 25 == 0)
                            && in_batch < 400;
          g_autofree char *label = g_strdup_printf ("%s/random-%u", field_names[f], round);

          if (try_hostile ((Field) f, s->str, sample ? batch : NULL, label) && sample)
            in_batch++;
        }
    }
  assert_true (in_batch > 50);
  batch_run_and_free (batch);
}

static void
render_user_data__shares__fstab_appended_and_mounted (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_shares ();
  g_autofree char *ud = render_user_data_ok (spec);
  g_autoptr(JsonObject) o = parse_user_data (ud);
  JsonArray *files = member_array (o, "write_files");
  JsonArray *runcmd = member_array (o, "runcmd");
  JsonObject *fstab = NULL;
  JsonArray *cmd;

  for (guint i = 0; i < json_array_get_length (files); i++)
    {
      JsonObject *f = json_array_get_object_element (files, i);
      if (g_str_equal (json_object_get_string_member (f, "path"), "/etc/fstab"))
        {
          assert_null (fstab);
          fstab = f;
        }
    }
  assert_non_null (fstab);
  assert_true (json_object_get_boolean_member (fstab, "append"));
  /* Only the shares with a mount point; 9p read-only in the guest too. */
  assert_string_equal (json_object_get_string_member (fstab, "content"),
                       "scratch /mnt/scratch virtiofs defaults,nofail 0 0\n"
                       "models /srv/models-ro 9p trans=virtio,version=9p2000.L,ro,nofail 0 0\n");
  /* The mounts come first in runcmd, before the agent and the driver. */
  cmd = json_array_get_array_element (runcmd, 0);
  assert_string_equal (json_array_get_string_element (cmd, 0), "mkdir");
  assert_string_equal (json_array_get_string_element (cmd, 2), "/mnt/scratch");
  cmd = json_array_get_array_element (runcmd, 1);
  assert_int_equal (json_array_get_length (cmd), 2);
  assert_string_equal (json_array_get_string_element (cmd, 0), "mount");
  assert_string_equal (json_array_get_string_element (cmd, 1), "/mnt/scratch");
  cmd = json_array_get_array_element (runcmd, 3);
  assert_string_equal (json_array_get_string_element (cmd, 1), "/srv/models-ro");
  cmd = json_array_get_array_element (runcmd, 4);
  assert_string_equal (json_array_get_string_element (cmd, 0), "systemctl");

  /* No mount point anywhere: no fstab entry at all. */
  {
    g_autoptr(GvdInstanceSpec) plain = spec_shares ();
    g_autofree char *ud2 = NULL;

    for (guint i = 0; i < plain->shares->len; i++)
      g_clear_pointer (&((GvdShareSpec *) g_ptr_array_index (plain->shares, i))->mount_point,
                       g_free);
    ud2 = render_user_data_ok (plain);
    assert_null (strstr (ud2, "/etc/fstab"));
  }
}

/* ---- cloud-init's own parsers --------------------------------------------- */

static void
cloud_init__golden_specs__schema_and_network_valid (void **state)
{
  g_autoptr(GvdAgentFiles) agent = agent_files ();
  Batch *batch = batch_new ();
  g_autofree char *hostile_key = fake_key ("ssh-ed25519", "\"q\" #c &a *a !!python/object ✓");
  struct { const char *label; GvdInstanceSpec *spec; } cases[7];

  cases[0].label = "minimal";
  cases[0].spec = spec_minimal ();
  cases[1].label = "full";
  cases[1].spec = spec_full ();
  cases[2].label = "extra-merged";
  cases[2].spec = spec_full ();
  cases[2].spec->extra_cloud_config = extra_from (
    "{\"runcmd\": [\"echo one\"], \"write_files\": [{\"path\": \"/etc/motd\", \"content\": "
    "\"---\\n&a *a !!python/object\\n\"}], \"packages\": [\"jq\", [\"nginx\", \"1.22\"]],"
    " \"ssh_pwauth\": true, \"timezone\": \"UTC\", \"package_upgrade\": false}");
  cases[3].label = "hostile-values";
  cases[3].spec = spec_full ();
  g_free (cases[3].spec->ssh_keys[0]);
  cases[3].spec->ssh_keys[0] = g_strdup (hostile_key);
  g_free (cases[3].spec->name);
  cases[3].spec->name = g_strdup ("n: &x *x # ünï");
  g_free (cases[3].spec->hostname);
  cases[3].spec->hostname = g_strdup ("h1");
  cases[3].spec->extra_cloud_config = extra_from (
    "{\"bootcmd\": [[\"echo\", \"a\\nb: c\\r\\t\\u0001\"]], \"final_message\": \"!!binary x\"}");
  cases[4].label = "no-nic";
  cases[4].spec = spec_full ();
  g_ptr_array_set_size (cases[4].spec->nics, 0);
  cases[5].label = "many-nics";
  cases[5].spec = spec_full ();
  for (guint i = 2; i < GVD_CLOUDINIT_MAX_NICS; i++)
    {
      g_autofree char *mac = g_strdup_printf ("52:54:00:00:00:%02x", i);
      g_autofree char *ip = g_strdup_printf ("10.%u.0.2/16", i);
      g_autofree char *gw = g_strdup_printf ("10.%u.255.254", i);
      g_ptr_array_add (cases[5].spec->nics, nic (mac, ip, i % 2 ? gw : NULL, "9.9.9.9"));
    }

  cases[6].label = "shares";
  cases[6].spec = spec_shares ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdCloudInitSeed) seed = gvd_cloudinit_render (cases[i].spec, agent, &error);

      if (seed == NULL)
        fail_msg ("%s: %s", cases[i].label, error->message);
      assert_true ((seed->network_config == NULL) == (cases[i].spec->nics->len == 0));
      batch_add_seed (batch, cases[i].label, seed, TRUE);
      gvd_instance_spec_free (cases[i].spec);
    }
  /* The validator itself must be able to fail. */
  {
    Batch *bad = batch_new ();
    g_autofree char *out = NULL;

    batch_add (bad, "user-data", "bad", "#cloud-config\n{\"packages\": [{\"a\": 1}]}\n");
    batch_add (bad, "network-config", "bad", "{\"version\": 2, \"ethernets\": {\"e\": {\"addresses\": [\"x\"]}}}");
    {
      const char *argv[] = { "/usr/bin/python3", "-c", validator_py,
                             g_ptr_array_index (bad->args, 0), g_ptr_array_index (bad->args, 1), NULL };
      assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                                 NULL, NULL));
    }
    assert_non_null (strstr (out, "FAIL bad:"));
    assert_null (strstr (out, "ok bad"));
    g_ptr_array_set_size (bad->args, 0);
    batch_run_and_free (bad);
  }
  batch_run_and_free (batch);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (render_meta_data__spec__instance_id_and_hostname),
    cmocka_unit_test (render_meta_data__bad_identity__refused),
    cmocka_unit_test (render_network_config__static_and_dhcp__v2_by_mac),
    cmocka_unit_test (render_network_config__three_nics__each_by_mac_schema_valid),
    cmocka_unit_test (render_network_config__no_nic__null),
    cmocka_unit_test (render_network_config__bad_values__refused_naming_field),
    cmocka_unit_test (render_user_data__full_spec__user_packages_agent_driver),
    cmocka_unit_test (render_user_data__minimal__locked_default_user_no_agent),
    cmocka_unit_test (render_user_data__agent_without_files__refused),
    cmocka_unit_test (nvidia_install__script_run__pins_host_version),
    cmocka_unit_test (merge__runcmd_and_write_files__appended_after_ours),
    cmocka_unit_test (merge__packages__union_ours_first),
    cmocka_unit_test (merge__other_keys__taken_from_extra),
    cmocka_unit_test (merge__owned_or_malformed_keys__refused),
    cmocka_unit_test (merge__bounds__depth_nodes_string_size_refused),
    cmocka_unit_test (validate__fields__accept_and_refuse),
    cmocka_unit_test (validate__spec_fields__refused_naming_field),
    cmocka_unit_test (hostile__every_field__refused_or_exact),
    cmocka_unit_test (hostile__random_strings__refused_or_exact_and_yaml_safe),
    cmocka_unit_test (render_user_data__shares__fstab_appended_and_mounted),
    cmocka_unit_test (cloud_init__golden_specs__schema_and_network_valid),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
