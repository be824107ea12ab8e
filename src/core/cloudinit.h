/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cloud-init NoCloud renderer (pure): meta-data, user-data, network-config. */
#pragma once

#include <glib.h>

#include "instance-spec.h"

G_BEGIN_DECLS

/* Bounds on what a spec may ask of cloud-init. */
#define GVD_CLOUDINIT_MAX_SSH_KEYS 32
#define GVD_CLOUDINIT_MAX_SSH_KEY_LEN 16384
#define GVD_CLOUDINIT_MAX_PACKAGES 256
#define GVD_CLOUDINIT_MAX_PACKAGE_LEN 256
#define GVD_CLOUDINIT_MAX_NICS 16
#define GVD_CLOUDINIT_MAX_DNS 8
#define GVD_CLOUDINIT_MAX_EXTRA_DEPTH 32
#define GVD_CLOUDINIT_MAX_EXTRA_NODES 16384
#define GVD_CLOUDINIT_MAX_EXTRA_STRING (256 * 1024)
#define GVD_CLOUDINIT_MAX_USER_DATA (1024 * 1024)

/* Where cloud-init installs the guest agent. */
#define GVD_AGENT_SCRIPT_PATH "/usr/local/sbin/gpuvmd-agent"
#define GVD_AGENT_UNIT_PATH "/etc/systemd/system/gpuvmd-agent.service"
#define GVD_AGENT_CONFIG_PATH "/etc/gpuvmd-agent.json"

/* The guest agent's files, as text (the I/O layer loads them from the
 * binary's GResource: gvd_agent_files_load()). */
typedef struct {
  char *script; /* Python 3 script, installed 0755 */
  char *unit;   /* systemd unit */
} GvdAgentFiles;

GvdAgentFiles *gvd_agent_files_new (const char *script, const char *unit);
void gvd_agent_files_free (GvdAgentFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdAgentFiles, gvd_agent_files_free)

/* The three NoCloud seed files. */
typedef struct {
  char *meta_data;
  char *user_data;      /* "#cloud-config\n" + one JSON document */
  char *network_config; /* NULL: the spec has no NIC (cloud-init's fallback) */
} GvdCloudInitSeed;

GvdCloudInitSeed *gvd_cloudinit_seed_new (void);
void gvd_cloudinit_seed_free (GvdCloudInitSeed *seed);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCloudInitSeed, gvd_cloudinit_seed_free)

/* meta-data: {"instance-id": uuid, "local-hostname": hostname}. */
char *gvd_cloudinit_render_meta_data (const GvdInstanceSpec *spec, GError **error);

/* network-config version 2: one ethernet per NIC matched by MAC, static
 * address + default route + nameservers, or DHCP when the NIC has no ipv4.
 * Sets *out_config to NULL when the spec has no NIC. */
gboolean gvd_cloudinit_render_network_config (const GvdInstanceSpec *spec, char **out_config,
                                              GError **error);

/* user-data (#cloud-config as JSON): default user, packages, the guest agent
 * (when spec->agent_url is set; @agent is then required), the optional
 * NVIDIA driver install, and spec->extra_cloud_config merged under the rules
 * in README.md ("cloud-init"). */
char *gvd_cloudinit_render_user_data (const GvdInstanceSpec *spec, const GvdAgentFiles *agent,
                                      GError **error);

/* All three; GVD_ERROR_INVALID_ARGUMENT naming the field on a bad spec. */
GvdCloudInitSeed *gvd_cloudinit_render (const GvdInstanceSpec *spec, const GvdAgentFiles *agent,
                                        GError **error);

/* Field validators, exported for the API's request validation. */
gboolean gvd_cloudinit_validate_hostname (const char *hostname, GError **error);
gboolean gvd_cloudinit_validate_user (const char *user, GError **error);
gboolean gvd_cloudinit_validate_ssh_key (const char *key, GError **error);
gboolean gvd_cloudinit_validate_package (const char *package, GError **error);

G_END_DECLS
