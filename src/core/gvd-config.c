/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmd.conf: one table row per key (type, bounds, default), so parsing,
 * validation and the documented defaults cannot drift apart. */
#include "config.h"

#include "gvd-config.h"
#include "errors.h"
#include "validate.h"
#include "pci-address.h"
#include "qmp-policy.h"
#include "image-url.h"
#include "cpu-alloc.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <stdio.h>
#include <string.h>

typedef enum {
  KEY_STRING,   /* non-empty string */
  KEY_PATH,     /* absolute path */
  KEY_OPT_PATH, /* absolute path or empty (unset) */
  KEY_UINT,
  KEY_ADDRS,    /* list of PCI addresses */
  KEY_STRV,
  KEY_LISTEN,
  KEY_OPT_LISTEN, /* listen address or empty (off) */
  KEY_PREFIX,   /* domain name prefix */
  KEY_NETMODE,
  KEY_OPT_CIDR,
  KEY_CPULIST,  /* host CPU list ("0-1,8") or empty (none) */
  KEY_OPT_STRING,
  KEY_URL,
  KEY_PATHS,    /* list of absolute paths */
  KEY_QMP_NAMES, /* list of QMP command names */
  KEY_URL_PREFIXES, /* list of http(s) URL prefixes (image-url.h) */
  KEY_OPT_PORTS, /* "lo-hi" TCP port range or empty */
  KEY_DISK_PROTOCOLS, /* list of "nbd", "rbd" */
  KEY_LOOPBACK_NET, /* IPv4 network inside 127.0.0.0/8 without 127.0.0.1 */
} KeyType;

typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  gsize offset;
  guint min;
  guint max;
  const char *def;
} KeySpec;

#define F(field) G_STRUCT_OFFSET (GvdConfig, field)

static const KeySpec keys[] = {
  { "daemon", "socket", KEY_OPT_PATH, F (socket_path), 0, 0, "/run/gpuvmd/gpuvmd.sock" },
  { "daemon", "socket_group", KEY_OPT_STRING, F (socket_group), 0, 0, "gpuvmd" },
  { "daemon", "listen", KEY_OPT_LISTEN, F (listen), 0, 0, "" },
  { "daemon", "admin_token_file", KEY_OPT_PATH, F (admin_token_file), 0, 0, "" },
  { "daemon", "tls_cert_file", KEY_OPT_PATH, F (tls_cert_file), 0, 0, "" },
  { "daemon", "tls_key_file", KEY_OPT_PATH, F (tls_key_file), 0, 0, "" },
  { "daemon", "max_connections", KEY_UINT, F (max_connections), 1, 4096, "128" },
  { "daemon", "request_timeout", KEY_UINT, F (request_timeout), 1, 300, "10" },
  { "daemon", "state_dir", KEY_PATH, F (state_dir), 0, 0, "/var/lib/gpuvmd" },
  { "daemon", "max_body_bytes", KEY_UINT, F (max_body_bytes), 1024, 64 * 1024 * 1024, "1048576" },
  { "libvirt", "uri", KEY_STRING, F (libvirt_uri), 0, 0, "qemu:///system" },
  { "libvirt", "domain_prefix", KEY_PREFIX, F (domain_prefix), 0, 0, "gpuvm-" },
  { "libvirt", "keepalive_interval", KEY_UINT, F (keepalive_interval), 1, 60, "5" },
  { "libvirt", "keepalive_count", KEY_UINT, F (keepalive_count), 1, 20, "3" },
  { "libvirt", "reconnect_max_delay", KEY_UINT, F (reconnect_max_delay), 1, 300, "5" },
  { "storage", "pool", KEY_PREFIX, F (pool_name), 0, 0, "gpuvmd" },
  { "storage", "pool_path", KEY_PATH, F (pool_path), 0, 0, "/var/lib/gpuvmd/pool" },
  { "storage", "import_dirs", KEY_PATHS, F (import_dirs), 0, 32, "/var/lib/gpuvmd/import" },
  { "images", "url_allow", KEY_URL_PREFIXES, F (url_allow), 0, 64, "" },
  { "images", "max_download_mib", KEY_UINT, F (max_download_mib), 1, 16777216, "16384" },
  { "images", "stall_timeout", KEY_UINT, F (stall_timeout), 1, 3600, "60" },
  { "storage", "network_disks", KEY_DISK_PROTOCOLS, F (network_disks), 0, 2, "" },
  { "storage", "network_disk_hosts", KEY_STRV, F (network_disk_hosts), 0, 64, "" },
  { "host", "sysfs_root", KEY_PATH, F (sysfs_root), 0, 0, "/sys" },
  { "host", "procfs_root", KEY_PATH, F (procfs_root), 0, 0, "/proc" },
  { "host", "devfs_root", KEY_PATH, F (devfs_root), 0, 0, "/dev" },
  { "host", "host_critical", KEY_ADDRS, F (host_critical), 0, 256, "" },
  { "host", "passthrough_devices", KEY_ADDRS, F (passthrough_devices), 0, 256, "" },
  { "host", "reserved_cpus", KEY_CPULIST, F (reserved_cpus), 0, 0, "0" },
  { "host", "share_dirs", KEY_PATHS, F (share_dirs), 0, 32, "" },
  { "host", "share_dirs_writable", KEY_PATHS, F (share_dirs_writable), 0, 32, "" },
  { "network", "mode", KEY_NETMODE, F (network_mode), 0, 0, "user" },
  { "network", "source", KEY_OPT_STRING, F (network_source), 0, 0, "" },
  { "network", "cidr", KEY_OPT_CIDR, F (network_cidr), 0, 0, "" },
  { "network", "gateway", KEY_OPT_STRING, F (network_gateway), 0, 0, "" },
  { "network", "dns", KEY_STRV, F (network_dns), 0, 8, "" },
  { "network", "allowed_sources", KEY_STRV, F (network_allowed_sources), 0, 64, "" },
  { "network", "forward_ports", KEY_OPT_PORTS, F (network_forward_ports), 0, 0, "40000-40999" },
  { "network", "forward_addresses", KEY_LOOPBACK_NET, F (network_forward_addresses), 0, 0,
    "127.77.0.0/16" },
  { "agent", "listen", KEY_LISTEN, F (agent_listen), 0, 0, "127.0.0.1:8788" },
  { "agent", "url", KEY_URL, F (agent_url), 0, 0, "http://10.0.2.2:8788" },
  { "agent", "max_connections", KEY_UINT, F (agent_max_connections), 1, 4096, "128" },
  { "agent", "heartbeat_interval", KEY_UINT, F (heartbeat_interval), 1, 3600, "10" },
  { "agent", "missed_heartbeats", KEY_UINT, F (missed_heartbeats), 1, 100, "3" },
  { "instances", "shutdown_timeout", KEY_UINT, F (shutdown_timeout), 0, 3600, "60" },
  { "instances", "device_timeout", KEY_UINT, F (device_timeout), 5, 3600, "120" },
  { "instances", "hotplug_ports", KEY_UINT, F (hotplug_ports), 0, 16, "4" },
  { "instances", "qmp_allow", KEY_QMP_NAMES, F (qmp_allow), 0, 64, "" },
};

#undef F

static const char *const network_modes[] = { "user", "bridge", "network" };

/* How gpuvmd.conf(5) names each type. */
static const char *const type_names[] = {
  [KEY_STRING] = "string",
  [KEY_PATH] = "absolute path",
  [KEY_OPT_PATH] = "absolute path or empty",
  [KEY_UINT] = "integer",
  [KEY_ADDRS] = "list of PCI addresses",
  [KEY_STRV] = "list of strings",
  [KEY_LISTEN] = "listen address",
  [KEY_OPT_LISTEN] = "listen address or empty",
  [KEY_PREFIX] = "name",
  [KEY_NETMODE] = "network mode",
  [KEY_OPT_CIDR] = "IPv4 CIDR or empty",
  [KEY_CPULIST] = "CPU list or empty",
  [KEY_OPT_STRING] = "string or empty",
  [KEY_URL] = "URL",
  [KEY_PATHS] = "list of absolute paths",
  [KEY_QMP_NAMES] = "list of QMP command names",
  [KEY_URL_PREFIXES] = "list of URL prefixes",
  [KEY_OPT_PORTS] = "port range or empty",
  [KEY_DISK_PROTOCOLS] = "list of network disk protocols",
  [KEY_LOOPBACK_NET] = "loopback network",
};
G_STATIC_ASSERT (G_N_ELEMENTS (type_names) == KEY_LOOPBACK_NET + 1);

gboolean
gvd_config_key_info (guint index, GvdConfigKeyInfo *out_info)
{
  const KeySpec *spec;

  g_return_val_if_fail (out_info != NULL, FALSE);

  if (index >= G_N_ELEMENTS (keys))
    return FALSE;
  spec = &keys[index];
  out_info->group = spec->group;
  out_info->key = spec->key;
  out_info->type = type_names[spec->type];
  out_info->def = spec->def;
  out_info->min = spec->min;
  out_info->max = spec->max;
  return TRUE;
}

const char *
gvd_network_mode_to_string (GvdNetworkMode mode)
{
  if (mode == GVD_NETWORK_SRIOV)
    return "sriov";
  if ((guint) mode >= G_N_ELEMENTS (network_modes))
    return "unknown";
  return network_modes[mode];
}

static gboolean
is_string_key (KeyType type)
{
  return type != KEY_UINT && type != KEY_ADDRS && type != KEY_STRV && type != KEY_NETMODE
         && type != KEY_PATHS && type != KEY_QMP_NAMES && type != KEY_URL_PREFIXES
         && type != KEY_DISK_PROTOCOLS;
}

static gboolean
is_strv_key (KeyType type)
{
  return type == KEY_ADDRS || type == KEY_STRV || type == KEY_PATHS || type == KEY_QMP_NAMES
         || type == KEY_URL_PREFIXES || type == KEY_DISK_PROTOCOLS;
}

static void
config_clear (GvdConfig *config)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      gpointer field = G_STRUCT_MEMBER_P (config, keys[i].offset);
      if (is_string_key (keys[i].type))
        g_clear_pointer ((char **) field, g_free);
      else if (is_strv_key (keys[i].type))
        g_clear_pointer ((char ***) field, g_strfreev);
    }
}

void
gvd_config_free (GvdConfig *config)
{
  if (config == NULL)
    return;
  config_clear (config);
  g_free (config);
}

static gboolean
valid_prefix (const char *s)
{
  if (*s == '\0' || strlen (s) > 32)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

gboolean
gvd_config_parse_listen (const char *listen, char **out_host, guint16 *out_port,
                         GError **error)
{
  g_autofree char *host = NULL;
  const char *port_str;
  guint64 port;

  g_return_val_if_fail (listen != NULL, FALSE);

  if (listen[0] == '[')
    {
      const char *end = strchr (listen, ']');
      if (end == NULL || end[1] != ':')
        goto bad;
      host = g_strndup (listen + 1, end - listen - 1);
      port_str = end + 2;
    }
  else
    {
      const char *colon = strrchr (listen, ':');
      if (colon == NULL || strchr (listen, ':') != colon)
        goto bad;
      host = g_strndup (listen, colon - listen);
      port_str = colon + 1;
    }
  if (!g_ascii_string_to_unsigned (port_str, 10, 0, 65535, &port, NULL))
    goto bad;
  if (*host != '\0' && !g_hostname_is_ip_address (host) && g_strcmp0 (host, "localhost") != 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("'%s': the address must be an IP address or localhost"), listen);
      return FALSE;
    }
  if (out_host != NULL)
    *out_host = g_steal_pointer (&host);
  if (out_port != NULL)
    *out_port = (guint16) port;
  return TRUE;

bad:
  g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
               _("'%s' is not an address and port (expected e.g. 127.0.0.1:8787 or [::1]:8787)"),
               listen);
  return FALSE;
}

gboolean
gvd_config_parse_cidr (const char *cidr, guint32 *out_network, guint *out_prefix,
                       GError **error)
{
  g_autoptr(GError) local_error = NULL;

  /* The one IPv4 rule (validate.h), as a configuration error. */
  if (!gvd_validate_ipv4_network ("cidr", cidr, 8, 30, out_network, out_prefix, &local_error))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, local_error->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
gvd_config_parse_port_range (const char *range, guint *out_lo, guint *out_hi, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (range, "-", 3);
  guint64 lo, hi;

  if (g_strv_length (parts) != 2
      || !g_ascii_string_to_unsigned (parts[0], 10, 1024, 65535, &lo, NULL)
      || !g_ascii_string_to_unsigned (parts[1], 10, 1024, 65535, &hi, NULL) || lo > hi)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "'%s' is not a port range LO-HI with 1024 <= LO <= HI <= 65535", range);
      return FALSE;
    }
  if (out_lo != NULL)
    *out_lo = (guint) lo;
  if (out_hi != NULL)
    *out_hi = (guint) hi;
  return TRUE;
}

gboolean
gvd_config_parse_forward_addresses (const char *cidr, guint32 *out_first, guint32 *out_last,
                                    GError **error)
{
  g_autoptr(GError) local_error = NULL;
  guint32 network, last;
  guint prefix;

  /* /30 still leaves two addresses once the first and last are skipped. */
  if (!gvd_validate_ipv4_network ("forward_addresses", cidr, 8, 30, &network, &prefix,
                                  &local_error))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, local_error->message);
      return FALSE;
    }
  last = network | (0xffffffffu >> prefix);
  /* Anything else would be reachable from outside the host. */
  if ((network >> 24) != 127)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "'%s' is not inside 127.0.0.0/8, the host's loopback", cidr);
      return FALSE;
    }
  /* Every user-mode guest reaches 127.0.0.1 as 10.0.2.2. */
  if (network <= 0x7f000001u && 0x7f000001u <= last)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   "'%s' contains 127.0.0.1, which every user-mode guest reaches as 10.0.2.2",
                   cidr);
      return FALSE;
    }
  if (out_first != NULL)
    *out_first = network + 1;
  if (out_last != NULL)
    *out_last = last - 1;
  return TRUE;
}

/* Check and store one value; @value is the raw string from the key file. */
static gboolean
apply_key (GvdConfig *config, const KeySpec *spec, GKeyFile *kf, const char *source,
           GError **error)
{
  gpointer field = G_STRUCT_MEMBER_P (config, spec->offset);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *value = NULL;

#define FAIL(...)                                                              \
  G_STMT_START {                                                               \
    g_autofree char *why_ = g_strdup_printf (__VA_ARGS__);                     \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, "%s: [%s] %s: %s", \
                 source, spec->group, spec->key, why_);                        \
    return FALSE;                                                              \
  } G_STMT_END

  if (is_strv_key (spec->type))
    {
      gsize n = 0;
      g_auto(GStrv) list = NULL;

      value = g_key_file_get_value (kf, spec->group, spec->key, NULL);
      if (value != NULL && g_strstrip (value)[0] == '\0')
        list = g_new0 (char *, 1);
      else
        list = g_key_file_get_string_list (kf, spec->group, spec->key, &n, &local_error);
      if (list == NULL)
        FAIL ("%s", local_error->message);
      for (gsize i = 0; list[i] != NULL; i++)
        g_strstrip (list[i]);
      if (g_strv_length (list) > spec->max)
        FAIL (_("at most %u entries"), spec->max);
      for (gsize i = 0; list[i] != NULL; i++)
        {
          if (spec->type == KEY_ADDRS && !gvd_pci_address_parse (list[i], NULL, NULL, NULL, NULL))
            FAIL (_("'%s' is not a PCI address (expected dddd:bb:ss.f, e.g. 0000:01:00.0)"),
                  list[i]);
          if (list[i][0] == '\0')
            FAIL (_("empty entry in list"));
          if (spec->type == KEY_PATHS && !g_path_is_absolute (list[i]))
            FAIL (_("'%s' is not an absolute path"), list[i]);
          if (spec->type == KEY_PATHS && (strstr (list[i], "/./") != NULL
                                          || strstr (list[i], "/../") != NULL
                                          || g_str_has_suffix (list[i], "/.")
                                          || g_str_has_suffix (list[i], "/..")))
            FAIL (_("'%s' has a '.' or '..' component"), list[i]);
          if (spec->type == KEY_QMP_NAMES && !gvd_qmp_name_valid (list[i]))
            FAIL (_("'%s' is not a QMP command name (letters, digits, '-' and '_', at most %d)"),
                  list[i], GVD_QMP_NAME_MAX);
          if (spec->type == KEY_URL_PREFIXES
              && !gvd_image_url_check (spec->key, list[i], &local_error))
            FAIL ("%s", local_error->message);
          if (spec->type == KEY_DISK_PROTOCOLS && !g_str_equal (list[i], "nbd")
              && !g_str_equal (list[i], "rbd"))
            FAIL ("'%s' is not a network disk protocol (nbd, rbd)", list[i]);
        }
      g_strfreev (*(char ***) field);
      *(char ***) field = g_steal_pointer (&list);
      return TRUE;
    }

  value = g_key_file_get_string (kf, spec->group, spec->key, &local_error);
  if (value == NULL)
    FAIL ("%s", local_error->message);
  g_strstrip (value);

  switch (spec->type)
    {
    case KEY_UINT:
      {
        guint64 v;
        if (!g_ascii_string_to_unsigned (value, 10, spec->min, spec->max, &v, NULL))
          FAIL (_("'%s' is not a whole number from %u to %u"), value, spec->min, spec->max);
        *(guint *) field = (guint) v;
        return TRUE;
      }
    case KEY_NETMODE:
      for (guint i = 0; i < G_N_ELEMENTS (network_modes); i++)
        if (g_strcmp0 (value, network_modes[i]) == 0)
          {
            *(GvdNetworkMode *) field = i;
            return TRUE;
          }
      FAIL (_("'%s' is not one of user, bridge, network"), value);
    case KEY_STRING:
      if (*value == '\0')
        FAIL (_("must not be empty"));
      break;
    case KEY_PATH:
      if (!g_path_is_absolute (value))
        FAIL (_("'%s' is not an absolute path"), value);
      break;
    case KEY_OPT_PATH:
      if (*value != '\0' && !g_path_is_absolute (value))
        FAIL (_("'%s' is not an absolute path"), value);
      break;
    case KEY_PREFIX:
      if (!valid_prefix (value))
        FAIL (_("'%s' must be 1-32 characters of letters, digits, '-', '_' or '.'"), value);
      break;
    case KEY_LISTEN:
      if (!gvd_config_parse_listen (value, NULL, NULL, &local_error))
        FAIL ("%s", local_error->message);
      break;
    case KEY_OPT_LISTEN:
      if (*value != '\0' && !gvd_config_parse_listen (value, NULL, NULL, &local_error))
        FAIL ("%s", local_error->message);
      break;
    case KEY_OPT_CIDR:
      if (*value != '\0' && !gvd_config_parse_cidr (value, NULL, NULL, &local_error))
        FAIL ("%s", local_error->message);
      break;
    case KEY_CPULIST:
      {
        g_autoptr(GArray) cpus = gvd_cpulist_parse ("reserved_cpus", value, &local_error);
        if (cpus == NULL)
          FAIL ("%s", local_error->message);
        break;
      }
    case KEY_OPT_PORTS:
      if (*value != '\0' && !gvd_config_parse_port_range (value, NULL, NULL, &local_error))
        FAIL ("%s", local_error->message);
      break;
    case KEY_LOOPBACK_NET:
      if (!gvd_config_parse_forward_addresses (value, NULL, NULL, &local_error))
        FAIL ("%s", local_error->message);
      break;
    case KEY_URL:
      if (!g_str_has_prefix (value, "http://") && !g_str_has_prefix (value, "https://"))
        FAIL (_("'%s' is not an http:// or https:// URL"), value);
      if (!g_uri_is_valid (value, G_URI_FLAGS_NONE, &local_error))
        FAIL ("%s", local_error->message);
      break;
    case KEY_OPT_STRING:
    case KEY_ADDRS:
    case KEY_STRV:
    case KEY_PATHS:
    case KEY_QMP_NAMES:
    case KEY_URL_PREFIXES:
    default:
      break;
    }
#undef FAIL

  g_free (*(char **) field);
  /* Optional values that are empty mean "unset". */
  *(char **) field = *value == '\0' ? NULL : g_steal_pointer (&value);
  return TRUE;
}

static const KeySpec *
find_key (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group) && g_str_equal (keys[i].key, key))
      return &keys[i];
  return NULL;
}

static gboolean
group_known (const char *group)
{
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    if (g_str_equal (keys[i].group, group))
      return TRUE;
  return FALSE;
}

static GvdConfig *
config_copy (const GvdConfig *src)
{
  GvdConfig *dst = g_memdup2 (src, sizeof *src);

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      gpointer field = G_STRUCT_MEMBER_P (dst, keys[i].offset);
      if (is_string_key (keys[i].type))
        *(char **) field = g_strdup (*(char **) field);
      else if (is_strv_key (keys[i].type))
        *(char ***) field = g_strdupv (*(char ***) field);
    }
  return dst;
}

static gboolean
load_keyfile (GvdConfig *config, GKeyFile *kf, const char *source, GError **error)
{
  g_autoptr(GvdConfig) work = config_copy (config);
  g_auto(GStrv) groups = g_key_file_get_groups (kf, NULL);

  for (gsize g = 0; groups[g] != NULL; g++)
    {
      g_auto(GStrv) names = NULL;

      if (!group_known (groups[g]))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                       /* TRANSLATORS: %s: the file (or "command line"); [%s]: a group. */
                       _("%s: unknown group [%s]"), source, groups[g]);
          return FALSE;
        }
      names = g_key_file_get_keys (kf, groups[g], NULL, NULL);
      for (gsize k = 0; names != NULL && names[k] != NULL; k++)
        {
          const KeySpec *spec = find_key (groups[g], names[k]);
          if (spec == NULL)
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                           /* TRANSLATORS: %s: the file; '%s': the key; [%s]: its group. */
                           _("%s: unknown key '%s' in group [%s]"), source, names[k],
                           groups[g]);
              return FALSE;
            }
          if (!apply_key (work, spec, kf, source, error))
            return FALSE;
        }
    }

  /* Commit only a fully valid file. */
  config_clear (config);
  memcpy (config, work, sizeof *config);
  g_free (g_steal_pointer (&work));
  return TRUE;
}

GvdConfig *
gvd_config_new (void)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  GvdConfig *config = g_new0 (GvdConfig, 1);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    g_key_file_set_value (kf, keys[i].group, keys[i].key, keys[i].def);
  if (!load_keyfile (config, kf, "defaults", &error))
    g_critical ("built-in configuration defaults are invalid: %s", error->message);
  return config;
}

gboolean
gvd_config_load_data (GvdConfig *config, const char *data, gsize len, const char *source,
                      GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (source == NULL)
    source = "configuration";
  g_key_file_set_list_separator (kf, ',');
  if (!g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG, "%s: %s", source,
                   local_error->message);
      return FALSE;
    }
  return load_keyfile (config, kf, source, error);
}

gboolean
gvd_config_listen_is_loopback (const char *listen)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) addr = NULL;

  if (!gvd_config_parse_listen (listen, &host, NULL, NULL))
    return FALSE;
  if (g_strcmp0 (host, "localhost") == 0)
    return TRUE;
  addr = g_inet_address_new_from_string (host);
  return addr != NULL && g_inet_address_get_is_loopback (addr);
}

gboolean
gvd_config_validate (const GvdConfig *config, GError **error)
{
  if (config->network_mode != GVD_NETWORK_USER && config->network_source == NULL)
    {
      if (config->network_mode == GVD_NETWORK_BRIDGE)
        g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                             _("[network] mode = bridge needs [network] source (the bridge "
                               "name)"));
      else
        g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                             _("[network] mode = network needs [network] source (the libvirt "
                               "network name)"));
      return FALSE;
    }
  if (config->network_cidr != NULL && config->network_mode == GVD_NETWORK_USER)
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                           _("[network] cidr is for bridge or network mode: user-mode "
                             "networking assigns guest addresses itself"));
      return FALSE;
    }
  if (config->listen == NULL && config->socket_path == NULL)
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                           _("[daemon] socket and [daemon] listen are both empty: the admin "
                             "API would be unreachable"));
      return FALSE;
    }
  if ((config->tls_cert_file == NULL) != (config->tls_key_file == NULL))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                           _("[daemon] tls_cert_file and [daemon] tls_key_file go together: "
                             "set both or neither"));
      return FALSE;
    }
  /* A bearer token crosses the network in the clear without TLS. */
  if (config->listen != NULL && config->tls_cert_file == NULL
      && !gvd_config_listen_is_loopback (config->listen))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("[daemon] listen = %s is not a loopback address: set [daemon] "
                     "tls_cert_file and tls_key_file so the admin API is served over TLS"),
                   config->listen);
      return FALSE;
    }
  if (g_strcmp0 (config->listen, config->agent_listen) == 0
      && !g_str_has_suffix (config->listen, ":0"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                   _("[daemon] listen and [agent] listen are both %s: the agent listener "
                     "must be separate from the admin API"),
                   config->listen);
      return FALSE;
    }
  return TRUE;
}
