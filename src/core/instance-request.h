/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/instances bodies: parsed and validated into a GvdCreateRequest
 * (pure: JSON in, plain struct or a GError naming the field out). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "instance-spec.h"
#include "validate.h"
#include "vgpu.h"

G_BEGIN_DECLS

#define GVD_MAX_DEVICES 64
#define GVD_MAX_SSH_KEYS 32
#define GVD_MAX_PACKAGES 256
#define GVD_MAX_LABELS 64
/* Bytes of a bridge or libvirt network name. */
#define GVD_NETWORK_SOURCE_MAX 64
#define GVD_MAX_PORTS 16

typedef struct {
  char *name;
  char *image;
  guint vcpus;
  guint64 memory_mib;
  guint64 root_disk_gib;    /* 0: the image's own size */
  char **devices;           /* registry names or PCI addresses; may be NULL */
  guint gpus;               /* "N GPUs"; 0: none */
  char *gpu_vendor;         /* filters for gpus */
  char *gpu_model;
  char *reservation;        /* reservation id to consume */
  gboolean allow_weakened_isolation;
  /* guest */
  char *user;
  char **ssh_keys;
  char *password_hash;
  char **packages;
  JsonObject *cloud_config; /* extra cloud-config */
  gboolean install_nvidia_driver;
  /* network: mode/source default to the daemon's config */
  gboolean network_set;
  GvdNetworkMode network_mode;
  char *network_source;
  char *ipv4;               /* static address (bridge/network with a cidr) */
  /* networks: several NICs (GvdNicSpec as the client gave them: mode,
   * source, ipv4 without prefix, mac, device = the VF's reference); NULL:
   * the single 'network' above. */
  GPtrArray *networks;
  GArray *ports;            /* guint: guest TCP ports to forward; NULL: none */
  /* boot */
  GvdFirmware firmware;
  char *kernel;             /* host path (below [storage] import_dirs) */
  char *initrd;
  char *kernel_volume;      /* or a volume of gpuvmd's pool ({"volume": NAME}) */
  char *initrd_volume;
  char *cmdline;
  GHashTable *labels;       /* char* → char* */
  gboolean start;           /* default TRUE */
  gboolean dry_run;         /* default FALSE */
  gboolean autostart;       /* libvirt starts the domain when libvirtd starts */
  gboolean console_vnc;     /* a VNC console (a unix socket); default FALSE */
  /* cpu (instance-request-cpu.c) */
  gboolean cpu_dedicated;   /* "policy": "dedicated": pinned host CPUs */
  guint cpu_threads_per_core; /* guest topology; 0: not given (1) */
  guint cpu_sockets;        /* 0: not given (1) */
  GPtrArray *shares;        /* GvdShareSpec (source_dir not yet checked on the host); may be NULL */
  guint hugepage_kib;       /* memory.hugepages: page size; 0: none */
  GPtrArray *vgpus;         /* GvdVgpuRequest, one per vGPU; NULL: none */
  GPtrArray *disks;         /* GvdDiskSpec: data disks (instance-request-disks.h); may be NULL */
} GvdCreateRequest;

GvdCreateRequest *gvd_create_request_new (void);
void gvd_create_request_free (GvdCreateRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCreateRequest, gvd_create_request_free)

/* Parse and validate a request body. Unknown members, wrong types and
 * out-of-range values are GVD_ERROR_INVALID_ARGUMENT naming the member. */
GvdCreateRequest *gvd_create_request_parse (JsonObject *body, GError **error);

/* instance-request-cpu.c: the "cpu" member, and its rules against "vcpus"
 * once every member is read. */
#define GVD_MAX_THREADS_PER_CORE 8
#define GVD_MAX_SOCKETS 16
gboolean gvd_create_request_parse_cpu (JsonNode *node, GvdCreateRequest *req, GError **error);
gboolean gvd_create_request_check_cpu (const GvdCreateRequest *req, GError **error);
/* instance-request-shares.c: the "shares" array and the "memory" object. */
gboolean gvd_create_request_parse_shares (JsonNode *node, GvdCreateRequest *req, GError **error);
gboolean gvd_create_request_parse_memory (JsonNode *node, GvdCreateRequest *req, GError **error);
/* "vgpu" (instance-request-vgpu.c): {"type", "count", "parent"} or an array
 * of them → @req->vgpus, one entry per vGPU. */
gboolean gvd_create_request_parse_vgpu (JsonNode *node, GvdCreateRequest *req, GError **error);
/* The "networks" member (instance-request-networks.c): 1 to
 * GVD_DOMAIN_XML_MAX_NICS NIC objects; @body is the whole request, so that
 * "network" and "networks" together are refused. */
gboolean gvd_create_request_parse_networks (JsonNode *node, JsonObject *body,
                                            GvdCreateRequest *req, GError **error);
/* One NIC object as in "networks", its members named "@prefix.member", or
 * "member" when @prefix is NULL (POST /v1/instances/{name}/networks). */
GvdNicSpec *gvd_nic_request_parse (JsonNode *node, const char *prefix, GError **error);
/* A bridge or libvirt network name: 1 to GVD_NETWORK_SOURCE_MAX of
 * letters, digits, '-', '_', '.'. */
gboolean gvd_network_source_name_valid (const char *name);
/* "ports": [{"guest": 22}, ...] (instance-request-ports.c). */
gboolean gvd_create_request_parse_ports (JsonNode *node, GvdCreateRequest *req, GError **error);

G_END_DECLS
