/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scanning the host's PCI inventory: libpci for identities and names, sysfs
 * for the rest (groups, parents, SR-IOV, mdev, BARs), procfs for
 * host-critical marks. The inventory itself is core/inventory.c. */
#include "config.h"

#include "hostinfo.h"
#include "host-read.h"
#include "pci-address.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pci/pci.h>

#include "errors.h"

#define PCI_IDS_PATH "/usr/share/misc/pci.ids"
/* Bounds on what a (possibly hostile or broken) sysfs may make us hold. */
#define MAX_DEVICES 65536
#define MAX_VIRTFNS 256
#define MAX_MDEV_TYPES 64

/* ---- the scan (I/O) ---------------------------------------------------------- */

/* libpci reports fatal errors through a callback that must not return. */
static __thread jmp_buf *scan_jmp;
static __thread char *scan_error;

static void G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN
pci_error_cb (char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  g_free (scan_error);
  scan_error = g_strdup_vprintf (format, ap);
  va_end (ap);
  longjmp (*scan_jmp, 1);
}

static void G_GNUC_PRINTF (1, 2)
pci_quiet_cb (char *format, ...)
{
}

static gboolean
read_uint (const char *dir, const char *name, guint64 *out)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *text = gvd_host_read_small (path);
  char *end;

  if (text == NULL)
    return FALSE;
  g_strstrip (text);
  *out = g_ascii_strtoull (text, &end, 0);
  return end != text;
}

static void
mark_critical (GvdInventory *inv, const char *address, const char *reason)
{
  GvdPciDevice *dev = g_hash_table_lookup (inv->by_address, address != NULL ? address : "");

  if (dev == NULL)
    return;
  if (dev->host_critical == NULL)
    dev->host_critical = g_strdup (reason);
  else if (strstr (dev->host_critical, reason) == NULL)
    {
      char *joined = g_strdup_printf ("%s; %s", dev->host_critical, reason);
      g_free (dev->host_critical);
      dev->host_critical = joined;
    }
}

/* The PCI controller of the disk holding "/": mounts → /dev/X → sysfs
 * class/block/X → the deepest PCI address on its real path. */
static void
mark_root_disk (GvdInventory *inv, const GvdHostRoot *root)
{
  g_autofree char *mounts_path = gvd_host_root_procfs (root, "mounts", NULL);
  g_autofree char *mounts = NULL;
  g_autofree char *device = NULL;
  g_autofree char *link = NULL;
  g_autofree char *target = NULL;
  g_autofree char *address = NULL;
  g_autofree char *reason = NULL;
  const char *name;

  if ((mounts = gvd_host_read (mounts_path, GVD_HOST_READ_LARGE, NULL, NULL)) == NULL)
    return;
  device = gvd_hostinfo_parse_root_device (mounts);
  if (device == NULL || !g_str_has_prefix (device, "/dev/"))
    {
      g_debug ("root filesystem on %s: not a block device gpuvmd can trace",
               device != NULL ? device : "(none)");
      return;
    }
  name = device + strlen ("/dev/");
  if (strchr (name, '/') != NULL || name[0] == '.')
    return;
  link = gvd_host_root_sysfs (root, "class", "block", name, NULL);
  target = realpath (link, NULL);
  if (target == NULL)
    return;
  address = gvd_pci_address_in_path (target);
  reason = g_strdup_printf ("controller of the root filesystem's disk (%s)", device);
  mark_critical (inv, address, reason);
}

/* The NIC carrying the default route: net/route → iface → class/net/IF/device. */
static void
mark_route_nic (GvdInventory *inv, const GvdHostRoot *root)
{
  g_autofree char *route_path = gvd_host_root_procfs (root, "net", "route", NULL);
  g_autofree char *route = NULL;
  g_autofree char *iface = NULL;
  g_autofree char *link = NULL;
  g_autofree char *target = NULL;
  g_autofree char *address = NULL;
  g_autofree char *reason = NULL;

  if ((route = gvd_host_read (route_path, GVD_HOST_READ_LARGE, NULL, NULL)) == NULL)
    return;
  iface = gvd_hostinfo_parse_default_route (route);
  if (iface == NULL || strchr (iface, '/') != NULL || iface[0] == '.')
    return;
  link = gvd_host_root_sysfs (root, "class", "net", iface, "device", NULL);
  target = realpath (link, NULL);
  if (target == NULL)
    return;
  address = gvd_pci_address_in_path (target);
  reason = g_strdup_printf ("NIC carrying the default route (%s)", iface);
  mark_critical (inv, address, reason);
}

static int
compare_mdev_types (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(GvdMdevType *const *) a)->id, (*(GvdMdevType *const *) b)->id);
}

static void
read_mdev_types (GvdPciDevice *dev, const char *dir)
{
  g_autofree char *types_dir = g_build_filename (dir, "mdev_supported_types", NULL);
  g_autoptr(GDir) d = g_dir_open (types_dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL && dev->mdev_types->len < MAX_MDEV_TYPES)
    {
      g_autofree char *tdir = g_build_filename (types_dir, name, NULL);
      g_autofree char *p_name = g_build_filename (tdir, "name", NULL);
      g_autofree char *p_api = g_build_filename (tdir, "device_api", NULL);
      g_autofree char *p_desc = g_build_filename (tdir, "description", NULL);
      GvdMdevType *t = gvd_mdev_type_new ();
      guint64 avail = 0;

      t->id = g_strdup (name);
      t->name = gvd_host_read_small (p_name);
      t->device_api = gvd_host_read_small (p_api);
      t->description = gvd_host_read_small (p_desc);
      if (t->name != NULL)
        g_strstrip (t->name);
      if (t->device_api != NULL)
        g_strstrip (t->device_api);
      if (t->description != NULL)
        g_strstrip (t->description);
      if (read_uint (tdir, "available_instances", &avail))
        t->available_instances = (guint) MIN (avail, G_MAXUINT);
      g_ptr_array_add (dev->mdev_types, t);
    }
  g_ptr_array_sort (dev->mdev_types, compare_mdev_types);
}

/* What the planner reads beyond identities, and the JSON shows: the chain
 * of bridges (from the bus/pci/devices symlink), the NUMA node and the BARs.
 * @dir: <sysfs>/bus/pci/devices/ADDR. */
static void
read_details (GvdPciDevice *dev, const char *address, const char *dir)
{
  g_autofree char *target = g_file_read_link (dir, NULL);
  g_autofree char *numa_path = g_build_filename (dir, "numa_node", NULL);
  g_autofree char *numa = gvd_host_read_small (numa_path);
  g_autofree char *resource_path = g_build_filename (dir, "resource", NULL);
  g_autofree char *resource = NULL;
  gsize resource_len = 0;

  /* The symlink's target holds the whole chain of bridges:
   * ../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0 */
  if (target != NULL)
    {
      g_ptr_array_unref (dev->parents);
      dev->parents = gvd_pci_parents_from_path (target, address);
    }
  /* As libpci reads it (atoi); absent or negative: unknown. */
  if (numa != NULL)
    {
      gint64 n = g_ascii_strtoll (numa, NULL, 10);
      dev->numa_node = n < 0 || n > G_MAXINT ? -1 : (int) n;
    }
  /* BARs matter for what a guest may get; bridges never go. */
  if (!dev->is_bridge
      && (resource = gvd_host_read (resource_path, GVD_HOST_READ_SMALL, &resource_len, NULL))
           != NULL)
    {
      g_autoptr(GError) error = NULL;
      GArray *bars = gvd_pci_parse_resource (resource, resource_len, &error);

      if (bars != NULL)
        {
          g_array_unref (dev->bars);
          dev->bars = bars;
          dev->mmio64_bytes = gvd_pci_bars_mmio64 (bars);
        }
      else
        g_debug ("%s: %s", address, error->message);
    }
}

/* SR-IOV: a PF has sriov_totalvfs and virtfnN links, a VF a physfn link. */
static void
read_sriov (GvdPciDevice *dev, const char *dir)
{
  guint64 v;

  if (read_uint (dir, "sriov_totalvfs", &v) && v > 0)
    {
      dev->sriov_totalvfs = (guint) MIN (v, G_MAXUINT);
      if (read_uint (dir, "sriov_numvfs", &v))
        dev->sriov_numvfs = (guint) MIN (v, G_MAXUINT);
      for (guint i = 0; i < MIN (dev->sriov_numvfs, MAX_VIRTFNS); i++)
        {
          g_autofree char *name = g_strdup_printf ("virtfn%u", i);
          g_autofree char *vlink = g_build_filename (dir, name, NULL);
          g_autofree char *vtarget = g_file_read_link (vlink, NULL);
          g_autofree char *base = vtarget != NULL ? g_path_get_basename (vtarget) : NULL;

          if (base == NULL || !gvd_pci_address_is_canonical (base))
            break;
          g_ptr_array_add (dev->virtfns, g_steal_pointer (&base));
        }
    }
  {
    g_autofree char *plink = g_build_filename (dir, "physfn", NULL);
    g_autofree char *ptarget = g_file_read_link (plink, NULL);
    g_autofree char *base = ptarget != NULL ? g_path_get_basename (ptarget) : NULL;

    if (base != NULL && gvd_pci_address_is_canonical (base))
      dev->physfn = g_steal_pointer (&base);
  }
}

static void
read_sysfs_extras (GvdPciDevice *dev, const char *bus_pci_devices, gboolean probe_passthrough)
{
  g_autofree char *dir = g_build_filename (bus_pci_devices, dev->address, NULL);
  guint64 v;

  read_details (dev, dev->address, dir);
  /* Only display controllers have boot_vga. */
  if ((dev->class_code >> 16) == 0x03 && read_uint (dir, "boot_vga", &v))
    dev->boot_vga = v == 1;
  /* Normally known from bus/pci/drivers already (read_drivers). */
  if (dev->driver == NULL)
    {
      g_autofree char *dlink = g_build_filename (dir, "driver", NULL);
      g_autofree char *dtarget = g_file_read_link (dlink, NULL);

      if (dtarget != NULL)
        dev->driver = g_path_get_basename (dtarget);
    }

  /* SR-IOV and mdev only matter for what may be passed through: display
   * controllers and the configured extras (sysfs reads cost a syscall each,
   * and a big host has thousands of other functions). */
  if (!probe_passthrough)
    return;
  read_sriov (dev, dir);
  read_mdev_types (dev, dir);
}

static char *
lookup_name (struct pci_access *acc, int flags, ...)
{
  char buf[256];
  char *name;
  va_list ap;

  /* pci_lookup_name is variadic with no va_list twin: pass the ids on. */
  va_start (ap, flags);
  {
    int a = va_arg (ap, int);
    int b = va_arg (ap, int);
    int c = va_arg (ap, int);
    int d = va_arg (ap, int);
    name = pci_lookup_name (acc, buf, sizeof buf, flags | PCI_LOOKUP_NO_NUMBERS, a, b, c, d);
  }
  va_end (ap);
  return name != NULL ? g_strdup (name) : NULL;
}

/* Everything libpci gives, device by device. Runs under the error jmp_buf. */
static gboolean
scan_libpci (struct pci_access *acc, GvdInventory *inv, GError **error)
{
  guint n = 0;

  pci_scan_bus (acc);
  for (struct pci_dev *d = acc->devices; d != NULL; d = d->next)
    {
      g_autofree char *address = NULL;
      GvdPciDevice *dev;
      unsigned int known;
      u8 header[64];

      if (++n > MAX_DEVICES)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "more than %d PCI devices", MAX_DEVICES);
          return FALSE;
        }
      /* Not PCI_FILL_IOMMU_GROUP / PCI_FILL_DRIVER: libpci resolves those
       * links with realpath(), a readlink per path component; the group and
       * driver directories list them all (read_iommu_groups, read_drivers).
       * Not PCI_FILL_NUMA_NODE: three syscalls a device, and only the
       * devices read_details() visits need it. */
      /* One read of the standard header instead of one per field. */
      if (pci_read_block (d, 0, header, sizeof header))
        pci_setup_cache (d, header, sizeof header);
      known = pci_fill_info (d, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT
                                  | PCI_FILL_SUBSYS);
      pci_setup_cache (d, NULL, 0);
      address = g_strdup_printf ("%04x:%02x:%02x.%x", (guint) d->domain, d->bus, d->dev, d->func);
      dev = gvd_pci_device_new (address);
      dev->vendor_id = d->vendor_id;
      dev->device_id = d->device_id;
      dev->class_code = ((guint32) d->device_class << 8)
                        | ((known & PCI_FILL_CLASS_EXT) ? d->prog_if : 0);
      if (known & PCI_FILL_SUBSYS)
        {
          dev->subsys_vendor_id = d->subsys_vendor_id;
          dev->subsys_device_id = d->subsys_id;
        }
      /* PCI-to-PCI bridges (header type 1): VFIO tolerates them in a
       * group and they never go to a guest. */
      dev->is_bridge = (dev->class_code >> 8) == 0x0604 || (dev->class_code >> 8) == 0x0609;
      dev->vendor_name = lookup_name (acc, PCI_LOOKUP_VENDOR, d->vendor_id, 0, 0, 0);
      dev->device_name = lookup_name (acc, PCI_LOOKUP_DEVICE, d->vendor_id, d->device_id, 0, 0);
      if (dev->subsys_vendor_id != 0)
        dev->subsys_name = lookup_name (acc, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE,
                                        d->vendor_id, d->device_id, dev->subsys_vendor_id,
                                        dev->subsys_device_id);
      dev->class_name = lookup_name (acc, PCI_LOOKUP_CLASS, d->device_class, 0, 0, 0);
      gvd_inventory_add_device (inv, dev);
    }
  return TRUE;
}

/* Calls @fn with each name in the directory @path (relative to @at), with
 * getdents64 straight into a buffer: no per-directory fstat as opendir does,
 * and the path resolved from @at. Returns FALSE when it cannot be opened. */
static gboolean
for_each_name (int at, const char *path, gboolean (*fn) (const char *name, gpointer data),
               gpointer data)
{
  char buf[8192];
  int fd = openat (at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return FALSE;
  while ((n = getdents64 (fd, buf, sizeof buf)) > 0)
    {
      for (ssize_t off = 0; off < n;)
        {
          struct dirent64 *e = (struct dirent64 *) (buf + off);

          off += e->d_reclen;
          if (g_str_equal (e->d_name, ".") || g_str_equal (e->d_name, ".."))
            continue;
          if (!fn (e->d_name, data))
            {
              close (fd);
              return TRUE;
            }
        }
    }
  close (fd);
  return TRUE;
}

typedef struct {
  GHashTable *map;     /* address → NAME, or its number + 1 */
  gboolean numbers;
  int top;             /* fd of the listed directory */
  const char *sub;     /* below each NAME: "devices", or NULL */
  const char *name;    /* the NAME being read */
  guint number;
} Listing;

static gboolean
listing_member (const char *member, gpointer data)
{
  Listing *l = data;

  if (!gvd_pci_address_is_canonical (member))
    return TRUE;
  if (g_hash_table_size (l->map) >= MAX_DEVICES)
    return FALSE;
  g_hash_table_replace (l->map, g_strdup (member),
                        l->numbers ? GUINT_TO_POINTER (l->number + 1)
                                   : (gpointer) g_strdup (l->name));
  return TRUE;
}

static gboolean
listing_entry (const char *name, gpointer data)
{
  Listing *l = data;
  g_autofree char *path = l->sub != NULL ? g_strconcat (name, "/", l->sub, NULL) : g_strdup (name);
  guint64 number = 0;

  if (l->numbers && !g_ascii_string_to_unsigned (name, 10, 0, G_MAXINT, &number, NULL))
    return TRUE;
  l->name = name;
  l->number = (guint) number;
  for_each_name (l->top, path, listing_member, l);
  return g_hash_table_size (l->map) < MAX_DEVICES;
}

/* address → value for each PCI-address-named entry of @dir/NAME/@sub, NAME
 * running over @dir's subdirectories: IOMMU groups (kernel/iommu_groups/N/
 * devices/ADDR) and drivers (bus/pci/drivers/DRV/ADDR) list their devices,
 * a readdir per group or driver instead of a readlink per device. The value
 * is NAME (a g_strdup), or its number for @numbers. */
static GHashTable *
read_listing (const char *dir, const char *sub, gboolean numbers)
{
  Listing l = { 0 };

  l.map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, numbers ? NULL : g_free);
  l.numbers = numbers;
  l.sub = sub;
  l.top = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (l.top < 0)
    return l.map;
  for_each_name (l.top, ".", listing_entry, &l);
  close (l.top);
  return l.map;
}

/* The devices whose details the planner reads: passthrough candidates, the
 * other functions of their slots, every member of those devices' IOMMU
 * groups (a guest gets whole groups), and the bridges above all of them.
 * Everything else has its details read by gvd_pci_device_to_json(). */
static GHashTable *
detailed_set (const GvdInventory *inv, GHashTable *probe)
{
  GHashTable *set = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autoptr(GPtrArray) seeds = g_ptr_array_new ();

  for (guint i = 0; i < inv->devices->len; i++)
    {
      GvdPciDevice *dev = g_ptr_array_index (inv->devices, i);

      if (!dev->passthrough_candidate && !g_hash_table_contains (probe, dev))
        continue;
      g_ptr_array_add (seeds, dev);
      for (guint k = 0; k < dev->companions->len; k++)
        {
          GvdPciDevice *c = g_hash_table_lookup (inv->by_address,
                                                 g_ptr_array_index (dev->companions, k));
          if (c != NULL)
            g_ptr_array_add (seeds, c);
        }
    }
  for (guint i = 0; i < seeds->len; i++)
    {
      GvdPciDevice *dev = g_ptr_array_index (seeds, i);
      const GvdIommuGroup *group = gvd_inventory_get_group (inv, dev->iommu_group);

      g_hash_table_add (set, dev);
      for (guint k = 0; group != NULL && k < group->devices->len; k++)
        {
          GvdPciDevice *m = g_hash_table_lookup (inv->by_address,
                                                 g_ptr_array_index (group->devices, k));
          if (m != NULL)
            g_hash_table_add (set, m);
        }
    }
  return set;
}

/* pci_init and the scan under the error jmp_buf. No automatic cleanups in
 * this frame: a longjmp skips them. */
static gboolean
scan_guarded (struct pci_access *acc, GvdInventory *inv, const char *bus_pci, GError **error)
{
  jmp_buf jmp;
  volatile gboolean ok = FALSE;

  scan_jmp = &jmp;
  if (setjmp (jmp) == 0)
    {
      pci_init (acc);
      ok = scan_libpci (acc, inv, error);
    }
  else
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "libpci cannot read %s: %s", bus_pci,
                   scan_error != NULL ? scan_error : "unknown error");
      g_clear_pointer (&scan_error, g_free);
      ok = FALSE;
    }
  scan_jmp = NULL;
  return ok;
}

GvdInventory *
gvd_hostinfo_scan (const GvdHostRoot *root, const char *const *host_critical,
                   const char *const *passthrough_devices, GError **error)
{
  g_autoptr(GvdInventory) inv = gvd_inventory_new ();
  g_autofree char *bus_pci = NULL;
  g_autofree char *bus_pci_devices = NULL;
  g_autofree char *groups_dir = NULL;
  g_autofree char *drivers_dir = NULL;
  g_autoptr(GHashTable) groups = NULL;
  g_autoptr(GHashTable) drivers = NULL;
  g_autoptr(GHashTable) probe = NULL;
  g_autoptr(GHashTable) detailed = NULL;
  g_autoptr(GPtrArray) work = NULL;
  g_autofree char *cmdline_path = NULL;
  g_autofree char *cmdline = NULL;
  struct pci_access *acc;
  gboolean ok;

  g_return_val_if_fail (root != NULL, NULL);

  bus_pci = gvd_host_root_sysfs (root, "bus", "pci", NULL);
  bus_pci_devices = gvd_host_root_sysfs (root, "bus", "pci", "devices", NULL);
  if (!g_file_test (bus_pci_devices, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "no PCI devices in sysfs: %s is missing",
                   bus_pci_devices);
      return NULL;
    }

  acc = pci_alloc ();
  acc->method = PCI_ACCESS_SYS_BUS_PCI;
  /* Bus-centric: libpci reads no resource/irq files during the scan (we
   * parse `resource` ourselves); identities come from pci_fill_info. */
  acc->buscentric = 1;
  acc->error = pci_error_cb;
  acc->warning = pci_quiet_cb;
  acc->debug = pci_quiet_cb;
  /* Names from the system pci.ids only: no udev hwdb, no network. */
  acc->id_lookup_mode = PCI_LOOKUP_NO_HWDB;
  pci_set_name_list_path (acc, (char *) PCI_IDS_PATH, 0);
  if (pci_set_param (acc, (char *) "sysfs.path", bus_pci) != 0)
    {
      pci_cleanup (acc);
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INTERNAL,
                           "libpci does not know the sysfs.path parameter");
      return NULL;
    }
  ok = scan_guarded (acc, inv, bus_pci, error);
  pci_cleanup (acc);
  if (!ok)
    return NULL;

  /* Groups and drivers: one listing each, not a readlink per device. */
  groups_dir = gvd_host_root_sysfs (root, "kernel", "iommu_groups", NULL);
  drivers_dir = gvd_host_root_sysfs (root, "bus", "pci", "drivers", NULL);
  groups = read_listing (groups_dir, "devices", TRUE);
  drivers = read_listing (drivers_dir, NULL, FALSE);
  probe = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint i = 0; i < inv->devices->len; i++)
    {
      GvdPciDevice *dev = g_ptr_array_index (inv->devices, i);
      guint group = GPOINTER_TO_UINT (g_hash_table_lookup (groups, dev->address));
      gboolean listed = FALSE;

      if (group > 0)
        dev->iommu_group = (int) (group - 1);
      dev->driver = g_strdup (g_hash_table_lookup (drivers, dev->address));
      for (const char *const *p = passthrough_devices; !listed && p != NULL && *p != NULL; p++)
        {
          g_autofree char *canon = gvd_pci_address_canonical (*p);
          listed = canon != NULL && g_str_equal (canon, dev->address);
        }
      /* SR-IOV and mdev only matter for what may be passed through. */
      if ((dev->class_code >> 16) == 0x03 || listed)
        g_hash_table_add (probe, dev);
    }

  cmdline_path = gvd_host_root_procfs (root, "cmdline", NULL);
  if ((cmdline = gvd_host_read (cmdline_path, GVD_HOST_READ_LARGE, NULL, NULL)) != NULL)
    inv->acs_override = gvd_hostinfo_parse_acs_override (cmdline);

  gvd_inventory_finish (inv);
  if (!g_file_test (groups_dir, G_FILE_TEST_IS_DIR))
    inv->iommu = FALSE;

  for (const char *const *p = passthrough_devices; p != NULL && *p != NULL; p++)
    {
      g_autofree char *canon = gvd_pci_address_canonical (*p);
      GvdPciDevice *dev;

      if (canon != NULL
          && (dev = g_hash_table_lookup (inv->by_address, canon)) != NULL && !dev->is_bridge)
        dev->passthrough_candidate = TRUE;
    }

  /* Details (parents, NUMA node, BARs, boot_vga, SR-IOV, mdev) for the
   * devices the planner may touch, and for the bridges above them; a big
   * host has thousands of other functions, and sysfs reads cost a syscall
   * each. The others keep where to read them for the JSON view. */
  detailed = detailed_set (inv, probe);
  work = g_ptr_array_new ();
  for (guint i = 0; i < inv->devices->len; i++)
    if (g_hash_table_contains (detailed, g_ptr_array_index (inv->devices, i)))
      g_ptr_array_add (work, g_ptr_array_index (inv->devices, i));
  for (guint i = 0; i < work->len; i++)
    {
      GvdPciDevice *dev = g_ptr_array_index (work, i);

      read_sysfs_extras (dev, bus_pci_devices, g_hash_table_contains (probe, dev));
      for (guint k = 0; k < dev->parents->len; k++)
        {
          GvdPciDevice *bridge = g_hash_table_lookup (inv->by_address,
                                                      g_ptr_array_index (dev->parents, k));
          if (bridge != NULL && g_hash_table_add (detailed, bridge))
            g_ptr_array_add (work, bridge);
        }
    }
  for (guint i = 0; i < inv->devices->len; i++)
    {
      GvdPciDevice *dev = g_ptr_array_index (inv->devices, i);

      if (!g_hash_table_contains (detailed, dev))
        dev->details_dir = g_build_filename (bus_pci_devices, dev->address, NULL);
    }

  for (const char *const *p = host_critical; p != NULL && *p != NULL; p++)
    {
      g_autofree char *canon = gvd_pci_address_canonical (*p);

      if (canon != NULL)
        mark_critical (inv, canon, "listed in [host] host_critical");
    }
  for (guint i = 0; i < inv->devices->len; i++)
    {
      GvdPciDevice *dev = g_ptr_array_index (inv->devices, i);
      if (dev->boot_vga)
        mark_critical (inv, dev->address, "boot VGA (the host console)");
    }
  mark_root_disk (inv, root);
  mark_route_nic (inv, root);

  {
    g_autofree char *sys_ver = gvd_host_root_sysfs (root, "module", "nvidia", "version", NULL);
    g_autofree char *proc_ver = gvd_host_root_procfs (root, "driver", "nvidia", "version", NULL);
    g_autofree char *text = gvd_host_read_small (sys_ver);

    if (text == NULL)
      text = gvd_host_read_small (proc_ver);
    if (text != NULL)
      inv->nvidia_driver_version = gvd_hostinfo_parse_nvidia_version (text);
  }
  return g_steal_pointer (&inv);
}

void
gvd_hostinfo_device_to_json (const GvdPciDevice *dev, JsonBuilder *builder)
{
  g_autoptr(GvdPciDevice) lazy = NULL;

  g_return_if_fail (dev != NULL && builder != NULL);

  /* A device the scan left out of its detailed pass: read its details now,
   * into a scratch device (@dev stays untouched, callers may share it). */
  if (dev->details_dir != NULL)
    {
      lazy = gvd_pci_device_new (NULL);
      lazy->is_bridge = dev->is_bridge;
      read_details (lazy, dev->address, dev->details_dir);
      /* A NIC's PF and VFs, for /v1/devices (the scan reads SR-IOV only for
       * what may be passed through). */
      if ((dev->class_code >> 16) == 0x02)
        read_sriov (lazy, dev->details_dir);
    }
  gvd_pci_device_to_json_with_details (dev, lazy != NULL ? lazy : dev, builder);
}
