/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cloud-init NoCloud renderer: every document is JSON built with json-glib,
 * so no spec value can inject YAML; values YAML 1.1 would still misread are
 * refused, with the field named. Here: the text checks, meta-data and
 * network-config; user-data is cloudinit-user-data.c. */
#include "config.h"

#include "cloudinit.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "cloudinit-priv.h"
#include "errors.h"
#include "validate.h"

/* System accounts a default user must not take over. */
static const char *const reserved_users[] = {
  "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news",
  "uucp", "proxy", "www-data", "backup", "list", "irc", "gnats", "nobody",
  "systemd-network", "systemd-resolve", "systemd-timesync", "messagebus",
  "sshd", "_apt", "syslog", NULL,
};

#define MAX_PASSWORD_HASH_LEN 512

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
  /* Boot waits for the first NIC only: a fabric NIC without DHCP must not
   * hold it up. */
  if (index > 0)
    {
      json_builder_set_member_name (b, "optional");
      json_builder_add_boolean_value (b, TRUE);
    }

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

/* ---- for cloudinit-user-data.c (cloudinit-priv.h) -------------------------- */

gboolean
gvd_cloudinit_invalid (GError **error, const char *field, const char *why)
{
  return invalid (error, field, why);
}

gboolean
gvd_cloudinit_check_text (const char *field, const char *value, gsize max_len,
                          gboolean allow_control, GError **error)
{
  return check_text (field, value, max_len, allow_control, error);
}

gboolean
gvd_cloudinit_validate_password_hash (const char *hash, GError **error)
{
  return validate_password_hash (hash, error);
}

gboolean
gvd_cloudinit_check_identity (const GvdInstanceSpec *spec, GError **error)
{
  return check_identity (spec, error);
}

const char *
gvd_cloudinit_hostname (const GvdInstanceSpec *spec)
{
  return spec_hostname (spec);
}

char *
gvd_cloudinit_generate (JsonNode *root)
{
  return generate (root);
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
