/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cloud-init NoCloud renderer: every document is JSON built with json-glib,
 * so no spec value can inject YAML; values YAML 1.1 would still misread are
 * refused, with the field named. */
#include "config.h"

#include "cloudinit.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "errors.h"
#include "validate.h"

/* The NVIDIA driver install, run by runcmd as `sh -c SCRIPT NAME VERSION`:
 * the version arrives as $1, never spliced into the shell text. Ubuntu
 * packages the driver per branch (nvidia-driver-535), Debian as
 * nvidia-driver (non-free); both version strings start "<version>-". */
static const char nvidia_install_script[] =
  "set -eu\n"
  "v=\"$1\"\n"
  "export DEBIAN_FRONTEND=noninteractive\n"
  "apt-get update\n"
  "if apt-get install -s -y \"nvidia-driver-${v%%.*}=$v-*\" >/dev/null 2>&1; then\n"
  "  apt-get install -y \"nvidia-driver-${v%%.*}=$v-*\"\n"
  "else\n"
  "  apt-get install -y \"nvidia-driver=$v-*\"\n"
  "fi\n"
  "modprobe nvidia || true\n";

/* Top-level keys gpuvmd owns: an extra cloud-config setting them would
 * replace or bypass the default user, the hostname or the module lists the
 * agent install relies on. */
static const char *const refused_extra_keys[] = {
  "users", "user", "system_info", "ssh_authorized_keys", "hostname", "fqdn",
  "preserve_hostname", "prefer_fqdn_over_hostname", "cloud_init_modules",
  "cloud_config_modules", "cloud_final_modules", "merge_how", "merge_type", NULL,
};

/* System accounts a default user must not take over. */
static const char *const reserved_users[] = {
  "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news",
  "uucp", "proxy", "www-data", "backup", "list", "irc", "gnats", "nobody",
  "systemd-network", "systemd-resolve", "systemd-timesync", "messagebus",
  "sshd", "_apt", "syslog", NULL,
};

#define MAX_URL_LEN 2048
#define MAX_TOKEN_LEN 512
#define MAX_PASSWORD_HASH_LEN 512
#define MAX_MEMBER_NAME_LEN 1024
#define MAX_HEARTBEAT_INTERVAL 3600

GvdAgentFiles *
gvd_agent_files_new (const char *script, const char *unit)
{
  GvdAgentFiles *files = g_new0 (GvdAgentFiles, 1);

  files->script = g_strdup (script);
  files->unit = g_strdup (unit);
  return files;
}

void
gvd_agent_files_free (GvdAgentFiles *files)
{
  if (files == NULL)
    return;
  g_free (files->script);
  g_free (files->unit);
  g_free (files);
}

GvdCloudInitSeed *
gvd_cloudinit_seed_new (void)
{
  return g_new0 (GvdCloudInitSeed, 1);
}

void
gvd_cloudinit_seed_free (GvdCloudInitSeed *seed)
{
  if (seed == NULL)
    return;
  g_free (seed->meta_data);
  if (seed->user_data != NULL) /* carries the agent token */
    memset (seed->user_data, 0, strlen (seed->user_data));
  g_free (seed->user_data);
  g_free (seed->network_config);
  g_free (seed);
}

static gboolean
invalid (GError **error, const char *field, const char *why)
{
  g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "%s: %s", field, why);
  return FALSE;
}

/* Characters json-glib writes raw that YAML 1.1 (PyYAML, which cloud-init
 * parses user-data with) refuses (DEL, C1 controls, non-characters) or reads
 * as line breaks inside a quoted scalar (NEL, LS, PS), plus the BOM. */
static gboolean
yaml_unsafe_char (gunichar c)
{
  return c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0xfeff
         || c == 0xfffe || c == 0xffff;
}

/* @value must be valid UTF-8 of at most @max_len bytes whose characters all
 * survive JSON → YAML 1.1; control characters (which json-glib escapes)
 * only when @allow_control. */
static gboolean
check_text (const char *field, const char *value, gsize max_len, gboolean allow_control,
            GError **error)
{
  gsize len = strlen (value);

  if (len > max_len)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "%s: longer than %" G_GSIZE_FORMAT " bytes", field, max_len);
      return FALSE;
    }
  if (!g_utf8_validate (value, len, NULL))
    return invalid (error, field, "not valid UTF-8");
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (yaml_unsafe_char (c))
        return invalid (error, field, "contains a character YAML cannot carry "
                                      "(DEL, C1 control, line/paragraph separator or non-character)");
      if (!allow_control && c < 0x20)
        return invalid (error, field, "contains a control character");
    }
  return TRUE;
}

gboolean
gvd_cloudinit_validate_hostname (const char *hostname, GError **error)
{
  gsize len;

  g_return_val_if_fail (hostname != NULL, FALSE);
  len = strlen (hostname);
  if (len == 0 || len > 63)
    return invalid (error, "hostname", "must be 1-63 characters (RFC 1123 label)");
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (hostname[i]) && hostname[i] != '-')
      return invalid (error, "hostname", "may contain only letters, digits and '-' (RFC 1123 label)");
  if (hostname[0] == '-' || hostname[len - 1] == '-')
    return invalid (error, "hostname", "must not start or end with '-' (RFC 1123 label)");
  return TRUE;
}

gboolean
gvd_cloudinit_validate_user (const char *user, GError **error)
{
  gsize len;

  g_return_val_if_fail (user != NULL, FALSE);
  len = strlen (user);
  if (len == 0 || len > 32)
    return invalid (error, "user", "must be 1-32 characters");
  if (!(g_ascii_islower (user[0]) || user[0] == '_'))
    return invalid (error, "user", "must start with a lower-case letter or '_'");
  for (gsize i = 1; i < len; i++)
    if (!g_ascii_islower (user[i]) && !g_ascii_isdigit (user[i]) && user[i] != '_'
        && user[i] != '-')
      return invalid (error, "user", "may contain only a-z, 0-9, '_' and '-'");
  if (g_strv_contains (reserved_users, user))
    return invalid (error, "user", "names a system account");
  return TRUE;
}

static gboolean
is_base64_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

gboolean
gvd_cloudinit_validate_ssh_key (const char *key, GError **error)
{
  const char *sp, *blob, *end;
  g_autofree char *type = NULL;
  g_autofree char *blob_text = NULL;
  g_autofree guchar *decoded = NULL;
  gsize type_len, blob_len, pad = 0, decoded_len = 0;
  guint32 inner_len;

  g_return_val_if_fail (key != NULL, FALSE);
  if (!check_text ("ssh_keys", key, GVD_CLOUDINIT_MAX_SSH_KEY_LEN, FALSE, error))
    return FALSE;

  /* "TYPE BASE64 [comment]" on one line; no authorized_keys options. */
  sp = strchr (key, ' ');
  if (sp == NULL)
    return invalid (error, "ssh_keys", "must be 'TYPE BASE64 [comment]'");
  type_len = (gsize) (sp - key);
  type = g_strndup (key, type_len);
  if (!(g_str_equal (type, "ssh-ed25519") || g_str_equal (type, "ssh-rsa")
        || g_str_has_prefix (type, "ecdsa-sha2-") || g_str_has_prefix (type, "sk-"))
      || type_len > 64)
    return invalid (error, "ssh_keys",
                    "key type must be ssh-ed25519, ssh-rsa, ecdsa-sha2-* or sk-*");
  for (gsize i = 0; i < type_len; i++)
    if (!g_ascii_isalnum (type[i]) && strchr ("-@.", type[i]) == NULL)
      return invalid (error, "ssh_keys", "key type has unexpected characters");

  blob = sp + 1;
  for (end = blob; is_base64_char (*end); end++)
    ;
  while (*end == '=' && pad < 2)
    end++, pad++;
  blob_len = (gsize) (end - blob);
  if (blob_len < 16 || blob_len % 4 != 0)
    return invalid (error, "ssh_keys", "key data is not base64");
  if (*end != '\0' && *end != ' ')
    return invalid (error, "ssh_keys", "key data is not base64");

  /* The blob starts with the key type again (RFC 4253 string). */
  blob_text = g_strndup (blob, blob_len);
  decoded = g_base64_decode (blob_text, &decoded_len);
  if (decoded_len < 4 + type_len)
    return invalid (error, "ssh_keys", "key data is too short");
  inner_len = ((guint32) decoded[0] << 24) | ((guint32) decoded[1] << 16)
              | ((guint32) decoded[2] << 8) | (guint32) decoded[3];
  if (inner_len != type_len || memcmp (decoded + 4, type, type_len) != 0)
    return invalid (error, "ssh_keys", "key data does not match the key type");
  return TRUE;
}

gboolean
gvd_cloudinit_validate_package (const char *package, GError **error)
{
  const char *eq;
  gsize name_len;

  g_return_val_if_fail (package != NULL, FALSE);
  if (strlen (package) > GVD_CLOUDINIT_MAX_PACKAGE_LEN)
    return invalid (error, "packages", "entry longer than 256 characters");
  eq = strchr (package, '=');
  name_len = eq != NULL ? (gsize) (eq - package) : strlen (package);
  if (name_len < 2 || !(g_ascii_islower (package[0]) || g_ascii_isdigit (package[0])))
    return invalid (error, "packages",
                    "must be a Debian package name (a-z0-9 first, then a-z0-9+.-) "
                    "with an optional =version");
  for (gsize i = 1; i < name_len; i++)
    if (!g_ascii_islower (package[i]) && !g_ascii_isdigit (package[i])
        && strchr ("+.-", package[i]) == NULL)
      return invalid (error, "packages",
                      "must be a Debian package name (a-z0-9 first, then a-z0-9+.-) "
                      "with an optional =version");
  if (eq != NULL)
    {
      if (eq[1] == '\0')
        return invalid (error, "packages", "empty version after '='");
      for (const char *p = eq + 1; *p != '\0'; p++)
        if (!g_ascii_isalnum (*p) && strchr (".+~:-*", *p) == NULL)
          return invalid (error, "packages", "version may contain only A-Za-z0-9.+~:-*");
    }
  return TRUE;
}

static gboolean
validate_password_hash (const char *hash, GError **error)
{
  guint dollars = 0;

  if (strlen (hash) > MAX_PASSWORD_HASH_LEN)
    return invalid (error, "password_hash", "longer than 512 characters");
  if (hash[0] != '$')
    return invalid (error, "password_hash", "must be a crypt(3) hash ($id$salt$hash)");
  for (const char *p = hash; *p != '\0'; p++)
    {
      if (*p == '$')
        dollars++;
      else if (!g_ascii_isalnum (*p) && strchr ("./=,-", *p) == NULL)
        return invalid (error, "password_hash", "must be a crypt(3) hash ($id$salt$hash)");
    }
  if (dollars < 3)
    return invalid (error, "password_hash", "must be a crypt(3) hash ($id$salt$hash)");
  return TRUE;
}

static gboolean
validate_mac (const char *mac, GError **error)
{
  return gvd_validate_mac ("nics.mac", mac, NULL, error);
}

static GInetAddress *
parse_ip (const char *text, GSocketFamily family)
{
  g_autoptr(GInetAddress) addr = NULL;

  if (strlen (text) > 64)
    return NULL;
  /* IPv4 text follows the one rule (validate.h) whatever GIO accepts. */
  if ((family == G_SOCKET_FAMILY_IPV4 || strchr (text, ':') == NULL)
      && !gvd_validate_ipv4 ("address", text, NULL, NULL))
    return NULL;
  addr = g_inet_address_new_from_string (text);
  if (addr == NULL || (family != G_SOCKET_FAMILY_INVALID && g_inet_address_get_family (addr) != family))
    return NULL;
  return g_steal_pointer (&addr);
}

static guint32
ipv4_u32 (GInetAddress *addr)
{
  const guint8 *b = g_inet_address_to_bytes (addr);

  return ((guint32) b[0] << 24) | ((guint32) b[1] << 16) | ((guint32) b[2] << 8) | b[3];
}

/* "a.b.c.d/p" → canonical text, address and prefix. */
static gboolean
parse_ipv4_cidr (const char *text, char **out_cidr, GInetAddress **out_addr, guint *out_prefix,
                 GError **error)
{
  g_autofree char *canon = NULL;
  guint32 ip;
  guint prefix;

  if (!gvd_validate_ipv4_cidr ("nics.ipv4", text, 1, 32, &ip, &prefix, error))
    return FALSE;
  canon = gvd_ipv4_to_string (ip);
  *out_cidr = g_strdup_printf ("%s/%u", canon, prefix);
  *out_addr = g_inet_address_new_from_string (canon);
  *out_prefix = prefix;
  return TRUE;
}

/* The hostname the guest gets: spec->hostname, else the instance name. */
static const char *
spec_hostname (const GvdInstanceSpec *spec)
{
  return spec->hostname != NULL ? spec->hostname : spec->name;
}

static char *
generate (JsonNode *root)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  /* Pretty output: ": " and line breaks keep the document plain YAML flow
   * style for every YAML 1.1 parser. */
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static gboolean
check_identity (const GvdInstanceSpec *spec, GError **error)
{
  if (spec->uuid == NULL || !g_uuid_string_is_valid (spec->uuid))
    return invalid (error, "uuid", "must be a UUID (it is cloud-init's instance-id)");
  if (spec->name == NULL || spec->name[0] == '\0')
    return invalid (error, "name", "is required");
  if (!check_text ("name", spec->name, GVD_INSTANCE_NAME_MAX, FALSE, error))
    return FALSE;
  return gvd_cloudinit_validate_hostname (spec_hostname (spec), error);
}

char *
gvd_cloudinit_render_meta_data (const GvdInstanceSpec *spec, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *uuid = NULL;

  g_return_val_if_fail (spec != NULL, NULL);
  if (!check_identity (spec, error))
    return NULL;
  uuid = g_ascii_strdown (spec->uuid, -1);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "instance-id");
  json_builder_add_string_value (b, uuid);
  json_builder_set_member_name (b, "local-hostname");
  json_builder_add_string_value (b, spec_hostname (spec));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return generate (root);
}

static gboolean
build_nic (JsonBuilder *b, const GvdNicSpec *nic, guint index, GError **error)
{
  g_autofree char *id = g_strdup_printf ("eth%u", index);
  g_autofree char *mac = NULL;

  if (nic->mac == NULL)
    return invalid (error, "nics.mac", "is required");
  if (!validate_mac (nic->mac, error))
    return FALSE;
  mac = g_ascii_strdown (nic->mac, -1);

  json_builder_set_member_name (b, id);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "match");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "macaddress");
  json_builder_add_string_value (b, mac);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "set-name");
  json_builder_add_string_value (b, id);

  if (nic->ipv4 == NULL)
    {
      if (nic->gateway != NULL)
        return invalid (error, "nics.gateway", "needs a static ipv4 address");
      json_builder_set_member_name (b, "dhcp4");
      json_builder_add_boolean_value (b, TRUE);
    }
  else
    {
      g_autofree char *cidr = NULL;
      g_autoptr(GInetAddress) addr = NULL;
      guint prefix = 0;

      if (!parse_ipv4_cidr (nic->ipv4, &cidr, &addr, &prefix, error))
        return FALSE;
      json_builder_set_member_name (b, "dhcp4");
      json_builder_add_boolean_value (b, FALSE);
      json_builder_set_member_name (b, "addresses");
      json_builder_begin_array (b);
      json_builder_add_string_value (b, cidr);
      json_builder_end_array (b);
      if (nic->gateway != NULL)
        {
          g_autoptr(GInetAddress) gw = parse_ip (nic->gateway, G_SOCKET_FAMILY_IPV4);
          g_autofree char *gw_text = NULL;
          guint32 mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);

          if (gw == NULL)
            return invalid (error, "nics.gateway", "must be an IPv4 address");
          if ((ipv4_u32 (gw) & mask) != (ipv4_u32 (addr) & mask))
            return invalid (error, "nics.gateway", "is not inside the ipv4 subnet");
          gw_text = g_inet_address_to_string (gw);
          /* cloud-init 22.4's own renderers refuse "to: default"; 0.0.0.0/0
           * means the same to them and to netplan (gateway4 is deprecated). */
          json_builder_set_member_name (b, "routes");
          json_builder_begin_array (b);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "to");
          json_builder_add_string_value (b, "0.0.0.0/0");
          json_builder_set_member_name (b, "via");
          json_builder_add_string_value (b, gw_text);
          json_builder_end_object (b);
          json_builder_end_array (b);
        }
    }

  if (nic->dns != NULL && nic->dns[0] != NULL)
    {
      if (g_strv_length (nic->dns) > GVD_CLOUDINIT_MAX_DNS)
        return invalid (error, "nics.dns", "at most 8 servers");
      json_builder_set_member_name (b, "nameservers");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "addresses");
      json_builder_begin_array (b);
      for (guint i = 0; nic->dns[i] != NULL; i++)
        {
          g_autoptr(GInetAddress) ns = parse_ip (nic->dns[i], G_SOCKET_FAMILY_INVALID);
          g_autofree char *ns_text = NULL;

          if (ns == NULL)
            return invalid (error, "nics.dns", "must be IP addresses");
          ns_text = g_inet_address_to_string (ns);
          json_builder_add_string_value (b, ns_text);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  return TRUE;
}

gboolean
gvd_cloudinit_render_network_config (const GvdInstanceSpec *spec, char **out_config,
                                     GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (spec != NULL, FALSE);
  g_return_val_if_fail (out_config != NULL, FALSE);
  if (spec->nics == NULL || spec->nics->len == 0)
    {
      *out_config = NULL;
      return TRUE;
    }
  if (spec->nics->len > GVD_CLOUDINIT_MAX_NICS)
    return invalid (error, "nics", "at most 16 NICs");

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 2);
  json_builder_set_member_name (b, "ethernets");
  json_builder_begin_object (b);
  for (guint i = 0; i < spec->nics->len; i++)
    if (!build_nic (b, g_ptr_array_index (spec->nics, i), i, error))
      return FALSE;
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  *out_config = generate (root);
  return TRUE;
}

/* ---- user-data ------------------------------------------------------------ */

static gboolean
check_guest_fields (const GvdInstanceSpec *spec, GError **error)
{
  guint n;

  if (spec->user != NULL && !gvd_cloudinit_validate_user (spec->user, error))
    return FALSE;
  n = spec->ssh_keys != NULL ? g_strv_length (spec->ssh_keys) : 0;
  if (n > GVD_CLOUDINIT_MAX_SSH_KEYS)
    return invalid (error, "ssh_keys", "at most 32 keys");
  for (guint i = 0; i < n; i++)
    if (!gvd_cloudinit_validate_ssh_key (spec->ssh_keys[i], error))
      return FALSE;
  if (spec->password_hash != NULL && !validate_password_hash (spec->password_hash, error))
    return FALSE;
  n = spec->packages != NULL ? g_strv_length (spec->packages) : 0;
  if (n > GVD_CLOUDINIT_MAX_PACKAGES)
    return invalid (error, "packages", "at most 256 packages");
  for (guint i = 0; i < n; i++)
    if (!gvd_cloudinit_validate_package (spec->packages[i], error))
      return FALSE;

  if (spec->install_nvidia_driver)
    {
      const char *v = spec->nvidia_driver_version;
      guint dots = 0;

      if (v == NULL || v[0] == '\0')
        return invalid (error, "nvidia_driver_version",
                        "is required to install the NVIDIA driver (the host's version)");
      if (strlen (v) > 32 || !g_ascii_isdigit (v[0]) || !g_ascii_isdigit (v[strlen (v) - 1]))
        return invalid (error, "nvidia_driver_version", "must look like 535.129.03");
      for (const char *p = v; *p != '\0'; p++)
        {
          if (*p == '.')
            {
              if (p[1] == '.')
                return invalid (error, "nvidia_driver_version", "must look like 535.129.03");
              dots++;
            }
          else if (!g_ascii_isdigit (*p))
            return invalid (error, "nvidia_driver_version", "must look like 535.129.03");
        }
      if (dots < 1 || dots > 3)
        return invalid (error, "nvidia_driver_version", "must look like 535.129.03");
    }

  if (spec->agent_url != NULL)
    {
      g_autoptr(GUri) uri = NULL;
      const char *scheme;

      if (!check_text ("agent_url", spec->agent_url, MAX_URL_LEN, FALSE, error))
        return FALSE;
      uri = g_uri_parse (spec->agent_url, G_URI_FLAGS_NONE, NULL);
      scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
      if (scheme == NULL || !(g_str_equal (scheme, "http") || g_str_equal (scheme, "https"))
          || g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
        return invalid (error, "agent_url", "must be an http:// or https:// URL with a host");
      if (spec->agent_token == NULL || spec->agent_token[0] == '\0')
        return invalid (error, "agent_token", "is required with agent_url");
      if (strlen (spec->agent_token) > MAX_TOKEN_LEN)
        return invalid (error, "agent_token", "longer than 512 characters");
      for (const char *p = spec->agent_token; *p != '\0'; p++)
        if (!g_ascii_isalnum (*p) && strchr ("._~+/=-", *p) == NULL)
          return invalid (error, "agent_token", "may contain only A-Za-z0-9._~+/=-");
      if (spec->heartbeat_interval < 1 || spec->heartbeat_interval > MAX_HEARTBEAT_INTERVAL)
        return invalid (error, "heartbeat_interval", "must be 1-3600 seconds");
    }
  return TRUE;
}

/* A field path for error messages: member names appear only when they are
 * short plain identifiers, so hostile names never reach a log. */
static char *
child_path (const char *parent, const char *member)
{
  gboolean plain = strlen (member) <= 64 && member[0] != '\0';

  for (const char *p = member; plain && *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      plain = FALSE;
  return g_strdup_printf ("%s.%s", parent, plain ? member : "<member>");
}

typedef struct {
  guint nodes;
} ExtraWalk;

static gboolean
check_extra_node (JsonNode *node, const char *path, guint depth, ExtraWalk *walk, GError **error)
{
  if (++walk->nodes > GVD_CLOUDINIT_MAX_EXTRA_NODES)
    return invalid (error, "extra_cloud_config", "more than 16384 values");
  if (depth > GVD_CLOUDINIT_MAX_EXTRA_DEPTH)
    return invalid (error, path, "nested deeper than 32 levels");

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      return TRUE;
    case JSON_NODE_VALUE:
      {
        GType type = json_node_get_value_type (node);

        if (type == G_TYPE_STRING)
          return check_text (path, json_node_get_string (node), GVD_CLOUDINIT_MAX_EXTRA_STRING,
                             TRUE, error);
        if (type == G_TYPE_INT64 || type == G_TYPE_BOOLEAN)
          return TRUE;
        /* YAML 1.1 reads some JSON numbers ("1e+20") as strings. */
        return invalid (error, path,
                        "floating-point numbers are not supported; use an integer or a string");
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        g_autofree char *item_path = g_strdup_printf ("%s[]", path);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!check_extra_node (json_array_get_element (array, i), item_path, depth + 1, walk,
                                 error))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonObjectIter iter;
        const char *name;
        JsonNode *child;

        json_object_iter_init (&iter, object);
        while (json_object_iter_next (&iter, &name, &child))
          {
            g_autofree char *member_path = child_path (path, name);

            if (!check_text (member_path, name, MAX_MEMBER_NAME_LEN, TRUE, error))
              return FALSE;
            if (!check_extra_node (child, member_path, depth + 1, walk, error))
              return FALSE;
          }
        return TRUE;
      }
    default:
      return invalid (error, path, "unexpected value");
    }
}

/* Shape checks for the keys gpuvmd merges. */
static gboolean
check_extra_merged_keys (JsonObject *extra, GError **error)
{
  JsonNode *node;

  node = json_object_get_member (extra, "runcmd");
  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, "extra_cloud_config.runcmd", "must be an array");
  node = json_object_get_member (extra, "packages");
  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, "extra_cloud_config.packages", "must be an array");
  node = json_object_get_member (extra, "write_files");
  if (node != NULL)
    {
      JsonArray *files;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        return invalid (error, "extra_cloud_config.write_files", "must be an array");
      files = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (files); i++)
        {
          JsonNode *file = json_array_get_element (files, i);
          JsonNode *path_node;
          g_autofree char *path = NULL;

          if (!JSON_NODE_HOLDS_OBJECT (file))
            return invalid (error, "extra_cloud_config.write_files[]", "must be objects");
          path_node = json_object_get_member (json_node_get_object (file), "path");
          if (path_node == NULL || !JSON_NODE_HOLDS_VALUE (path_node)
              || json_node_get_value_type (path_node) != G_TYPE_STRING)
            return invalid (error, "extra_cloud_config.write_files[].path",
                            "must be a string");
          path = g_canonicalize_filename (json_node_get_string (path_node), "/");
          if (g_str_equal (path, GVD_AGENT_SCRIPT_PATH) || g_str_equal (path, GVD_AGENT_UNIT_PATH)
              || g_str_equal (path, GVD_AGENT_CONFIG_PATH))
            return invalid (error, "extra_cloud_config.write_files[].path",
                            "must not replace a guest agent file");
        }
    }
  return TRUE;
}

static gboolean
check_extra (JsonObject *extra, GError **error)
{
  g_autoptr(JsonNode) root = json_node_init_object (json_node_alloc (), extra);
  ExtraWalk walk = { 0 };

  for (guint i = 0; refused_extra_keys[i] != NULL; i++)
    if (json_object_has_member (extra, refused_extra_keys[i]))
      {
        g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                     "extra_cloud_config.%s: gpuvmd owns this key (default user, hostname "
                     "and module lists come from the instance spec)",
                     refused_extra_keys[i]);
        return FALSE;
      }
  if (!check_extra_node (root, "extra_cloud_config", 0, &walk, error))
    return FALSE;
  return check_extra_merged_keys (extra, error);
}

static JsonNode *
string_node (const char *value)
{
  return json_node_init_string (json_node_alloc (), value);
}

static void
add_write_file (JsonArray *files, const char *path, const char *content, const char *permissions)
{
  JsonObject *file = json_object_new ();

  json_object_set_string_member (file, "path", path);
  json_object_set_string_member (file, "content", content);
  json_object_set_string_member (file, "owner", "root:root");
  json_object_set_string_member (file, "permissions", permissions);
  json_array_add_object_element (files, file);
}

static JsonArray *
strv_array (const char *const *items)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; items[i] != NULL; i++)
    json_array_add_string_element (array, items[i]);
  return array;
}

static char *
agent_config_text (const GvdInstanceSpec *spec)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, spec->agent_url);
  json_builder_set_member_name (b, "instance");
  json_builder_add_string_value (b, spec->name);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, spec->agent_token);
  json_builder_set_member_name (b, "interval");
  json_builder_add_int_value (b, spec->heartbeat_interval);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return generate (root);
}

static JsonObject *
build_default_user (const GvdInstanceSpec *spec)
{
  JsonObject *user = json_object_new ();
  JsonArray *keys = json_array_new ();

  json_object_set_string_member (user, "name", spec->user != NULL ? spec->user : "gpuvm");
  json_object_set_string_member (user, "gecos", "gpuvmd default user");
  json_object_set_string_member (user, "groups", "adm,sudo");
  json_object_set_string_member (user, "shell", "/bin/bash");
  json_object_set_string_member (user, "sudo", "ALL=(ALL) NOPASSWD:ALL");
  if (spec->password_hash != NULL)
    {
      json_object_set_string_member (user, "passwd", spec->password_hash);
      json_object_set_boolean_member (user, "lock_passwd", FALSE);
    }
  else
    json_object_set_boolean_member (user, "lock_passwd", TRUE);
  for (guint i = 0; spec->ssh_keys != NULL && spec->ssh_keys[i] != NULL; i++)
    json_array_add_string_element (keys, spec->ssh_keys[i]);
  /* cloud-init's schema wants at least one key when the list is present. */
  if (json_array_get_length (keys) > 0)
    json_object_set_array_member (user, "ssh_authorized_keys", keys);
  else
    json_array_unref (keys);
  return user;
}

static gboolean
array_contains (JsonArray *array, JsonNode *node)
{
  for (guint i = 0; i < json_array_get_length (array); i++)
    if (json_node_equal (json_array_get_element (array, i), node))
      return TRUE;
  return FALSE;
}

char *
gvd_cloudinit_render_user_data (const GvdInstanceSpec *spec, const GvdAgentFiles *agent,
                                GError **error)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *doc;
  JsonArray *users, *packages, *files, *runcmd;
  JsonObject *extra = spec != NULL ? spec->extra_cloud_config : NULL;
  g_autofree char *json = NULL;
  char *user_data;

  g_return_val_if_fail (spec != NULL, NULL);
  if (!check_identity (spec, error) || !check_guest_fields (spec, error))
    return NULL;
  if (spec->agent_url != NULL && (agent == NULL || agent->script == NULL || agent->unit == NULL))
    {
      invalid (error, "agent_url", "the guest agent files are not available");
      return NULL;
    }
  if (extra != NULL && !check_extra (extra, error))
    return NULL;

  root = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (root, json_object_new ());
  doc = json_node_get_object (root);

  users = json_array_new ();
  json_array_add_object_element (users, build_default_user (spec));
  json_object_set_array_member (doc, "users", users);
  json_object_set_boolean_member (doc, "manage_etc_hosts", TRUE);

  packages = json_array_new ();
  for (guint i = 0; spec->packages != NULL && spec->packages[i] != NULL; i++)
    {
      g_autoptr(JsonNode) p = string_node (spec->packages[i]);
      if (!array_contains (packages, p))
        json_array_add_element (packages, g_steal_pointer (&p));
    }

  files = json_array_new ();
  runcmd = json_array_new ();
  if (spec->agent_url != NULL)
    {
      g_autofree char *config = agent_config_text (spec);
      static const char *const reload[] = { "systemctl", "daemon-reload", NULL };
      /* --no-block: the unit may be ordered after cloud-final, which is
       * running this very runcmd. */
      static const char *const enable[] = { "systemctl", "enable", "--now", "--no-block",
                                            "gpuvmd-agent.service", NULL };

      add_write_file (files, GVD_AGENT_SCRIPT_PATH, agent->script, "0755");
      add_write_file (files, GVD_AGENT_UNIT_PATH, agent->unit, "0644");
      add_write_file (files, GVD_AGENT_CONFIG_PATH, config, "0600");
      memset (config, 0, strlen (config));
      json_array_add_array_element (runcmd, strv_array (reload));
      json_array_add_array_element (runcmd, strv_array (enable));
    }
  if (spec->install_nvidia_driver)
    {
      const char *const install[] = { "sh", "-c", nvidia_install_script, "gpuvmd-nvidia-install",
                                      spec->nvidia_driver_version, NULL };
      json_array_add_array_element (runcmd, strv_array (install));
    }

  /* Merge: runcmd and write_files append after ours, packages are a union
   * (ours first), every other key comes from extra as is. */
  if (extra != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      json_object_iter_init (&iter, extra);
      while (json_object_iter_next (&iter, &name, &value))
        {
          JsonArray *target = NULL;
          gboolean unique = FALSE;

          if (g_str_equal (name, "runcmd"))
            target = runcmd;
          else if (g_str_equal (name, "write_files"))
            target = files;
          else if (g_str_equal (name, "packages"))
            target = packages, unique = TRUE;
          if (target == NULL)
            {
              json_object_set_member (doc, name, json_node_copy (value));
              continue;
            }
          for (guint i = 0; i < json_array_get_length (json_node_get_array (value)); i++)
            {
              JsonNode *item = json_array_get_element (json_node_get_array (value), i);
              if (!unique || !array_contains (target, item))
                json_array_add_element (target, json_node_copy (item));
            }
        }
    }

  if (json_array_get_length (packages) > 0)
    {
      if (!json_object_has_member (doc, "package_update"))
        json_object_set_boolean_member (doc, "package_update", TRUE);
      json_object_set_array_member (doc, "packages", packages);
    }
  else
    json_array_unref (packages);
  if (json_array_get_length (files) > 0)
    json_object_set_array_member (doc, "write_files", files);
  else
    json_array_unref (files);
  if (json_array_get_length (runcmd) > 0)
    json_object_set_array_member (doc, "runcmd", runcmd);
  else
    json_array_unref (runcmd);

  json = generate (root);
  user_data = g_strconcat ("#cloud-config\n", json, "\n", NULL);
  memset (json, 0, strlen (json));
  if (strlen (user_data) > GVD_CLOUDINIT_MAX_USER_DATA)
    {
      memset (user_data, 0, strlen (user_data));
      g_free (user_data);
      invalid (error, "extra_cloud_config", "user-data would exceed 1 MiB");
      return NULL;
    }
  return user_data;
}

GvdCloudInitSeed *
gvd_cloudinit_render (const GvdInstanceSpec *spec, const GvdAgentFiles *agent, GError **error)
{
  g_autoptr(GvdCloudInitSeed) seed = gvd_cloudinit_seed_new ();

  g_return_val_if_fail (spec != NULL, NULL);
  seed->meta_data = gvd_cloudinit_render_meta_data (spec, error);
  if (seed->meta_data == NULL)
    return NULL;
  if (!gvd_cloudinit_render_network_config (spec, &seed->network_config, error))
    return NULL;
  seed->user_data = gvd_cloudinit_render_user_data (spec, agent, error);
  if (seed->user_data == NULL)
    return NULL;
  return g_steal_pointer (&seed);
}
