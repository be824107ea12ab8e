/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's PCI inventory as plain data: devices, names, IOMMU groups,
 * drivers, NUMA nodes, parent bridges, SR-IOV, mdev types, BARs and
 * host-critical marks, and the pure parsers of the text they come from.
 * host/hostinfo.h fills one from a host. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>


G_BEGIN_DECLS

typedef struct _GvdInventory GvdInventory;

/* One BAR (or ROM/bridge window) line of a sysfs `resource` file. */
typedef struct {
  guint index;         /* line number: 0-5 BARs, 6 ROM, 7+ IOV BARs/windows */
  guint64 start;
  guint64 end;
  guint64 flags;       /* IORESOURCE_* */
} GvdPciBar;

#define GVD_IORESOURCE_IO       0x00000100
#define GVD_IORESOURCE_MEM      0x00000200
#define GVD_IORESOURCE_PREFETCH 0x00002000
#define GVD_IORESOURCE_MEM_64   0x00100000

typedef struct {
  char *id;            /* "nvidia-222" */
  char *name;          /* "GRID T4-1B" */
  char *device_api;    /* "vfio-pci" */
  char *description;   /* the driver's text; may be NULL */
  guint available_instances;
} GvdMdevType;

typedef struct {
  char *address;       /* "0000:01:00.0" */
  guint domain, bus, slot, function;
  guint16 vendor_id, device_id;
  guint16 subsys_vendor_id, subsys_device_id;
  guint32 class_code;  /* 24 bits: class, subclass, prog-if (0x030000) */
  char *vendor_name;   /* pci.ids; NULL when unknown */
  char *device_name;
  char *subsys_name;
  char *class_name;
  int iommu_group;     /* -1: none (no IOMMU) */
  char *driver;        /* bound driver; NULL: none */
  int numa_node;       /* -1: unknown / single node */
  gboolean is_bridge;  /* PCI-to-PCI bridge (class 0x0604, 0x0609) */
  gboolean boot_vga;
  /* PCI bridges above the device, nearest first, up to the root port
   * (from the device's real path under /sys/devices/pciDDDD:BB/...). */
  GPtrArray *parents;    /* char * */
  GPtrArray *companions; /* char *: a GPU's audio/USB/serial-bus slot-mates */
  /* SR-IOV */
  guint sriov_totalvfs;
  guint sriov_numvfs;
  GPtrArray *virtfns;    /* char *: VF addresses (virtfnN order) */
  char *physfn;          /* PF address when this is a VF */
  GPtrArray *mdev_types; /* GvdMdevType, sorted by id */
  GArray *bars;          /* GvdPciBar, the non-empty lines of `resource` */
  guint64 mmio64_bytes;  /* sum of the 64-bit memory BARs 0-5 */
  gboolean passthrough_candidate; /* GPU class, or listed in passthrough_devices */
  char *host_critical;   /* why the host cannot give it away; NULL: it can */
  /* Private to host/hostinfo.c. A scan reads numa_node, parents, bars and
   * mmio64_bytes only for the devices the planner can touch (candidates,
   * their slot-mates, their IOMMU groups' members and the bridges above
   * them); for the others this is their sysfs directory, and
   * gvd_hostinfo_device_to_json() reads those fields from it. NULL: all read. */
  char *details_dir;
} GvdPciDevice;

typedef struct {
  guint number;
  GPtrArray *devices;  /* char *, sorted addresses */
  gboolean weakened;   /* ACS override in effect: isolation not guaranteed */
} GvdIommuGroup;

struct _GvdInventory {
  GPtrArray *devices;     /* GvdPciDevice, sorted by address */
  GHashTable *by_address; /* address → GvdPciDevice (borrowed from devices) */
  GPtrArray *groups;      /* GvdIommuGroup, sorted by number */
  GHashTable *by_group;   /* GUINT_TO_POINTER (number) → GvdIommuGroup (borrowed) */
  gboolean iommu;         /* the kernel exposes IOMMU groups */
  gboolean acs_override;  /* pcie_acs_override= on the kernel command line */
  char *nvidia_driver_version; /* host NVIDIA driver; NULL: none loaded */
};

GvdMdevType *gvd_mdev_type_new (void);
void gvd_mdev_type_free (GvdMdevType *type);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdMdevType, gvd_mdev_type_free)

GvdPciDevice *gvd_pci_device_new (const char *address);
void gvd_pci_device_free (GvdPciDevice *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdPciDevice, gvd_pci_device_free)

GvdIommuGroup *gvd_iommu_group_new (guint number);
void gvd_iommu_group_free (GvdIommuGroup *group);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdIommuGroup, gvd_iommu_group_free)

/* An empty inventory (no devices, no IOMMU). */
GvdInventory *gvd_inventory_new (void);
void gvd_inventory_free (GvdInventory *inventory);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdInventory, gvd_inventory_free)

/* Building an inventory by hand (tests, synthetic hosts): add devices with
 * their fields set (iommu_group, parents…), then finish, which sorts them,
 * indexes them, derives groups, companions and candidates. */
void gvd_inventory_add_device (GvdInventory *inventory, GvdPciDevice *dev /* owned */);
void gvd_inventory_finish (GvdInventory *inventory);

/* Whether a function of this class (24 bits) travels with a GPU on its slot:
 * audio (0x0403), USB (0x0c03) or serial bus (0x0c80, a USB-C controller). */
gboolean gvd_pci_class_travels_with_gpu (guint32 class_code);

const GvdPciDevice *gvd_inventory_lookup (const GvdInventory *inventory, const char *address);
const GvdIommuGroup *gvd_inventory_get_group (const GvdInventory *inventory, int number);
/* The other devices of @address's IOMMU group (borrowed strings); NULL when
 * the device is unknown or in no group. Free the array only. */
GPtrArray *gvd_inventory_group_peers (const GvdInventory *inventory, const char *address);

/* JSON object for one device (API answers): identities from @dev, the
 * details (numa_node, parents, BARs) from @details, which is @dev itself
 * unless the scan left them unread (host/hostinfo.h reads them). */
void gvd_pci_device_to_json_with_details (const GvdPciDevice *dev, const GvdPciDevice *details,
                                          JsonBuilder *builder);

/* ---- pure parsers --------------------------------------------------------- */

/* Text of a sysfs `resource` file → its non-empty lines as GvdPciBar. */
GArray *gvd_pci_parse_resource (const char *text, gsize len, GError **error);
/* Bytes the 64-bit memory BARs (0-5) of @bars span. */
guint64 gvd_pci_bars_mmio64 (const GArray *bars);
/* The PCI bridges on a device's real sysfs path, nearest first, the device
 * itself excluded: ".../pci0000:00/0000:00:01.0/0000:01:00.0" → {"0000:00:01.0"}. */
GPtrArray *gvd_pci_parents_from_path (const char *real_path, const char *address);
/* The deepest PCI address on a sysfs path (a block device's or NIC's
 * controller), or NULL. */
char *gvd_pci_address_in_path (const char *real_path);
/* Does the kernel command line carry pcie_acs_override=? */
gboolean gvd_hostinfo_parse_acs_override (const char *cmdline);
/* /proc/net/route text → the interface of the default route, or NULL. */
char *gvd_hostinfo_parse_default_route (const char *text);
/* /proc/mounts text → the device mounted on "/", or NULL. */
char *gvd_hostinfo_parse_root_device (const char *text);
/* /sys/module/nvidia/version or /proc/driver/nvidia/version text → "550.54.15". */
char *gvd_hostinfo_parse_nvidia_version (const char *text);

G_END_DECLS
