/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/instances bodies: parsed and validated into a GvdCreateRequest
 * (pure: JSON in, plain struct or a GError naming the field out). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "instance-spec.h"
#include "validate.h"

G_BEGIN_DECLS

#define GVD_MAX_DEVICES 64
#define GVD_MAX_SSH_KEYS 32
#define GVD_MAX_PACKAGES 256
#define GVD_MAX_LABELS 64

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
  GPtrArray *disks;         /* GvdDiskSpec: data disks (instance-request-disks.h); may be NULL */
} GvdCreateRequest;

GvdCreateRequest *gvd_create_request_new (void);
void gvd_create_request_free (GvdCreateRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCreateRequest, gvd_create_request_free)

/* Parse and validate a request body. Unknown members, wrong types and
 * out-of-range values are GVD_ERROR_INVALID_ARGUMENT naming the member. */
GvdCreateRequest *gvd_create_request_parse (JsonObject *body, GError **error);

G_END_DECLS
