/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GvdInstanceSpec: everything gpuvmd decides about one VM, as plain data.
 * The domain XML renderer, the cloud-init renderer and the metadata parser
 * work on it; the API builds it from a request plus a VFIO plan. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "gvd-config.h"

G_BEGIN_DECLS

typedef enum {
  GVD_FIRMWARE_EFI,
  GVD_FIRMWARE_BIOS,
} GvdFirmware;

typedef enum {
  GVD_DISK_VOLUME,  /* a volume in a libvirt storage pool */
  GVD_DISK_NBD,     /* <disk type='network'><source protocol='nbd'> */
  GVD_DISK_RBD,     /* <disk type='network'><source protocol='rbd'> */
} GvdDiskType;

typedef enum { GVD_DISK_BUS_VIRTIO, GVD_DISK_BUS_SCSI, GVD_DISK_BUS_SATA } GvdDiskBus;
typedef enum {
  GVD_DISK_CACHE_DEFAULT, /* libvirt's default: no attribute */
  GVD_DISK_CACHE_NONE,
  GVD_DISK_CACHE_WRITEBACK,
  GVD_DISK_CACHE_WRITETHROUGH,
} GvdDiskCache;
typedef enum {
  GVD_DISK_IO_DEFAULT,
  GVD_DISK_IO_NATIVE,
  GVD_DISK_IO_THREADS,
  GVD_DISK_IO_URING,
} GvdDiskIo;

typedef struct {
  GvdDiskType type;
  char *pool;          /* VOLUME */
  char *volume;        /* VOLUME */
  char *format;        /* "qcow2", "raw"; NULL: raw */
  char *host;          /* NBD/RBD: server (RBD: monitor) */
  guint port;          /* NBD/RBD: 0 = protocol default */
  char *source_name;   /* NBD: export name; RBD: "pool/image" */
  char *auth_username; /* RBD */
  char *secret_uuid;   /* RBD: libvirt secret with the key */
  GvdDiskBus bus;
  GvdDiskCache cache;
  GvdDiskIo io;
  guint iothread;      /* 0: none, else iothread id (1-based) */
  guint boot_order;    /* 0: not bootable */
  gboolean readonly;
  char *target;        /* "vda"; NULL: the renderer assigns one per bus */
  char *serial;        /* <serial>: what the guest sees (/dev/disk/by-id); NULL: none */
  /* Data disks (disks[1..]): recorded in gpuvmd's metadata. */
  char *name;          /* the request's disk name; NULL: the root disk */
  guint64 size_bytes;  /* VOLUME: its capacity; 0: unknown */
  gboolean created;    /* VOLUME: gpuvmd made it for this instance */
  gboolean keep;       /* created: it survives the instance's delete */
} GvdDiskSpec;

/* A TCP port of the guest reachable on a host loopback address (user mode). */
typedef struct {
  guint guest;
  guint host;
  guint32 address;     /* host order, in 127.0.0.0/8: the instance's [network]
                        * forward_addresses address (127.0.0.1: made before it) */
} GvdPortForward;

typedef struct {
  GvdNetworkMode mode;
  char *source;        /* bridge or libvirt network name */
  char *mac;           /* "52:54:00:xx:xx:xx" */
  char *ipv4;          /* "10.77.0.5/24" or NULL for DHCP */
  char *gateway;       /* NULL: none */
  char **dns;          /* NULL-terminated, may be NULL */
  char *device;        /* SRIOV: the VF's host PCI address ("0000:42:00.2") */
  GArray *forwards;    /* GvdPortForward; user mode only; NULL or empty: none */
} GvdNicSpec;

typedef struct {
  char *host_address;  /* "0000:41:00.0" (PCI) */
  char *mdev_uuid;     /* non-NULL: an mdev hostdev instead of PCI */
  char *mdev_type;     /* e.g. "nvidia-63" (recorded in metadata) */
  /* Guest placement, decided by the VFIO planner: guest_bus is a 0-based
   * guest device group; the domain renderer gives each group its own
   * pcie-root-port and places the group's entries on slot 0 of that port's
   * bus, function = guest_function. A GPU and its audio function share one
   * group (functions 0 and 1); function 0 carries multifunction. */
  guint guest_bus;
  guint guest_slot;
  guint guest_function;
  gboolean multifunction;
  int clique;          /* NVIDIA GPUDirect P2P clique id; -1: none */
} GvdHostdevSpec;

typedef struct {
  char *tag;           /* mount tag the guest uses */
  char *source_dir;    /* host directory */
  gboolean virtiofs;   /* else 9p */
  gboolean readonly;
  char *mount_point;   /* where cloud-init mounts it in the guest; NULL: not mounted */
} GvdShareSpec;

typedef struct {
  /* identity */
  char *name;          /* instance name (API) */
  char *domain_name;   /* <prefix><name> (libvirt) */
  char *uuid;          /* libvirt domain UUID = cloud-init instance-id */
  char *created_at;    /* ISO 8601 UTC */
  char *image;         /* base image name */
  guint64 root_size_bytes;
  GHashTable *labels;  /* char* → char*, may be NULL */
  /* requested devices as the client named them (recorded for recovery) */
  char **requested_devices; /* names or PCI addresses; may be NULL */
  guint requested_gpus;
  char *requested_model;    /* model filter for "gpus: N"; may be NULL */

  /* machine */
  gboolean kvm;        /* domain type kvm (else qemu/TCG) */
  GvdFirmware firmware;
  guint vcpus;
  guint sockets, cores, threads; /* 0: one socket, vcpus cores, 1 thread */
  guint64 memory_mib;
  guint hugepage_kib;  /* hugepage size backing all memory (2048, 1048576); 0: none */
  int numa_node;       /* -1: no numatune */
  /* Dedicated CPUs (cpu.policy): vCPU i runs on host CPU vcpu_pins[i], the
   * emulator threads on emulator_pins; both NULL for shared vCPUs. */
  GArray *vcpu_pins;     /* guint, vcpus entries */
  GArray *emulator_pins; /* guint */
  guint iothreads;
  guint64 mmio64_mib;  /* 64-bit PCI MMIO aperture for large BARs; 0: default */

  /* devices */
  GPtrArray *disks;    /* GvdDiskSpec; disks[0] is the root disk */
  char *seed_pool;     /* cloud-init seed ISO volume (sata cdrom) */
  char *seed_volume;
  GPtrArray *nics;     /* GvdNicSpec */
  GPtrArray *hostdevs; /* GvdHostdevSpec */
  GPtrArray *shares;   /* GvdShareSpec */
  char *console_log;   /* serial console log file */
  gboolean vnc;
  /* libvirt's autostart flag (not in the XML: libvirt keeps it, recovery
   * reads it back with virDomainGetAutostart). */
  gboolean autostart;

  /* direct kernel boot (all NULL: boot from disk) */
  char *kernel;
  char *initrd;
  char *cmdline;

  /* guest configuration (cloud-init) */
  char *hostname;      /* NULL: the instance name */
  char *user;          /* default user; NULL: "gpuvm" */
  char **ssh_keys;
  char *password_hash; /* crypt(3) hash; NULL: password login locked */
  char **packages;
  JsonObject *extra_cloud_config; /* operator cloud-config, may be NULL */
  gboolean install_nvidia_driver;
  char *nvidia_driver_version;    /* host driver version to pin */
  char *agent_url;     /* guest agent: where to report; NULL: no agent */
  char *agent_token;
  guint heartbeat_interval;
} GvdInstanceSpec;

GvdDiskSpec *gvd_disk_spec_new (void);
void gvd_disk_spec_free (GvdDiskSpec *disk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdDiskSpec, gvd_disk_spec_free)

GvdNicSpec *gvd_nic_spec_new (void);
void gvd_nic_spec_free (GvdNicSpec *nic);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdNicSpec, gvd_nic_spec_free)

GvdHostdevSpec *gvd_hostdev_spec_new (void);
void gvd_hostdev_spec_free (GvdHostdevSpec *hostdev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdHostdevSpec, gvd_hostdev_spec_free)

GvdShareSpec *gvd_share_spec_new (void);
void gvd_share_spec_free (GvdShareSpec *share);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdShareSpec, gvd_share_spec_free)

/* All arrays allocated and empty, numa_node -1, firmware EFI, 1 vCPU. */
GvdInstanceSpec *gvd_instance_spec_new (void);
void gvd_instance_spec_free (GvdInstanceSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdInstanceSpec, gvd_instance_spec_free)

const char *gvd_disk_bus_to_string (GvdDiskBus bus);
const char *gvd_disk_cache_to_string (GvdDiskCache cache); /* NULL for DEFAULT */
const char *gvd_disk_io_to_string (GvdDiskIo io);          /* NULL for DEFAULT */

G_END_DECLS
