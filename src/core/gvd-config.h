/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmd.conf: defaults, parsing and validation (GKeyFile). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  GVD_NETWORK_USER,
  GVD_NETWORK_BRIDGE,
  GVD_NETWORK_NETWORK,
  GVD_NETWORK_SRIOV,   /* a NIC VF passed through; requests only, never [network] mode */
} GvdNetworkMode;

typedef struct {
  /* [daemon] */
  char *socket_path;          /* admin API unix socket; NULL: none */
  char *socket_group;         /* group allowed on the socket; NULL: root only */
  char *listen;               /* host:port of the TCP admin API; NULL: none */
  char *admin_token_file;     /* bearer token file; NULL: <state_dir>/admin.token */
  char *tls_cert_file;        /* PEM; required for a non-loopback listen */
  char *tls_key_file;
  guint max_connections;      /* per admin listener */
  guint request_timeout;      /* seconds to receive a whole request */
  char *state_dir;
  guint max_body_bytes;
  /* [libvirt] */
  char *libvirt_uri;
  char *domain_prefix;
  guint keepalive_interval;   /* seconds */
  guint keepalive_count;
  guint reconnect_max_delay;  /* seconds */
  /* [storage] */
  char *pool_name;
  char *pool_path;
  char **import_dirs;         /* image sources, kernels and initrds only below these */
  /* [images] */
  char **url_allow;           /* URL prefixes imports may download from; empty: none */
  guint max_download_mib;     /* largest download */
  guint stall_timeout;        /* seconds a download may go without a byte */
  char **network_disks;       /* "nbd", "rbd": network disk protocols tenants may use */
  char **network_disk_hosts;  /* the only hosts network disks may name */
  /* [host] */
  char *sysfs_root;
  char *procfs_root;
  char *devfs_root;
  char **host_critical;       /* PCI addresses never passed through */
  char **passthrough_devices; /* PCI addresses allowed besides GPUs */
  char *reserved_cpus;        /* host CPUs kept from dedicated instances; NULL: none */
  char **share_dirs;          /* "shares" sources only at or below these (read-only) */
  char **share_dirs_writable; /* ... and these, where a share may also be writable */
  /* [network] */
  GvdNetworkMode network_mode;
  char *network_source;       /* bridge or libvirt network name */
  char *network_cidr;         /* static allocation range; NULL: DHCP */
  char *network_gateway;
  char **network_dns;
  char **network_allowed_sources; /* bridges/networks a request may name besides source */
  char *network_forward_ports; /* "40000-40999": host ports for forwarded guest ports; NULL: off */
  char *network_forward_addresses; /* "127.77.0.0/16": one loopback address per instance */
  /* [agent] */
  char *agent_listen;
  char *agent_url;            /* the agent listener as guests reach it */
  guint agent_max_connections;
  guint heartbeat_interval;   /* seconds */
  guint missed_heartbeats;
  /* [instances] */
  guint shutdown_timeout;     /* seconds */
  guint device_timeout;       /* seconds a start/stop with GPUs may take */
  guint hotplug_ports;        /* empty pcie-root-ports kept in every domain */
  char **qmp_allow;           /* QMP commands allowed besides the built-in list */
} GvdConfig;

GvdConfig *gvd_config_new (void);
void gvd_config_free (GvdConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdConfig, gvd_config_free)

/* Parse @data (GKeyFile syntax) over the values already in @config.
 * Unknown groups or keys and out-of-range values are errors; @source names
 * the file in messages. On failure @config is unchanged. */
gboolean gvd_config_load_data (GvdConfig *config, const char *data, gsize len,
                               const char *source, GError **error);
/* Reading the file is the host layer's: gvd_config_file_load(). */

/* Cross-key checks after all overrides are applied (e.g. a bridge network
 * needs a source, a non-loopback admin listener needs a token file). */
gboolean gvd_config_validate (const GvdConfig *config, GError **error);

/* "host:port", "[v6]:port" or ":port" (all addresses) → host and port. */
gboolean gvd_config_parse_listen (const char *listen, char **out_host,
                                  guint16 *out_port, GError **error);

/* TRUE when @listen names a loopback address (or localhost). */
gboolean gvd_config_listen_is_loopback (const char *listen);

/* "10.1.0.0/24" → network (host order) and prefix length. */
gboolean gvd_config_parse_cidr (const char *cidr, guint32 *out_network,
                                guint *out_prefix, GError **error);

/* "40000-40999" → 40000 and 40999 (1024 <= lo <= hi <= 65535). */
gboolean gvd_config_parse_port_range (const char *range, guint *out_lo, guint *out_hi,
                                      GError **error);

/* "127.77.0.0/16" → the first and last address handed out (the network's
 * first and last skipped), host order: a network inside 127.0.0.0/8 that
 * does not contain 127.0.0.1, prefix up to /30. */
gboolean gvd_config_parse_forward_addresses (const char *cidr, guint32 *out_first,
                                             guint32 *out_last, GError **error);

const char *gvd_network_mode_to_string (GvdNetworkMode mode);

/* One accepted key, as gpuvmd.conf(5) documents it. */
typedef struct {
  const char *group;
  const char *key;
  const char *type;   /* "integer", "absolute path", "list of PCI addresses", ... */
  const char *def;    /* the default as written in the file; "" when unset */
  guint min;          /* integers: the range; lists: max is the most entries */
  guint max;          /* 0 for other types */
} GvdConfigKeyInfo;

/* The @index'th key of the table (from 0), for documentation and the test
 * that keeps the manual page in step; FALSE past the last key. */
gboolean gvd_config_key_info (guint index, GvdConfigKeyInfo *out_info);

G_END_DECLS
