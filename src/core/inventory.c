/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's PCI inventory as plain data: devices, IOMMU groups, their
 * indexes, the pure parsers of sysfs/procfs text and the JSON writer. The
 * scan that fills it lives in host/hostinfo.c. */
#include "config.h"

#include "inventory.h"
#include "pci-address.h"
#include "json-util.h"

#include <string.h>

#include "errors.h"

/* ---- objects ----------------------------------------------------------------- */

GvdMdevType *
gvd_mdev_type_new (void)
{
  return g_new0 (GvdMdevType, 1);
}

void
gvd_mdev_type_free (GvdMdevType *type)
{
  if (type == NULL)
    return;
  g_free (type->id);
  g_free (type->name);
  g_free (type->device_api);
  g_free (type->description);
  g_free (type);
}

GvdPciDevice *
gvd_pci_device_new (const char *address)
{
  GvdPciDevice *dev = g_new0 (GvdPciDevice, 1);

  dev->address = g_strdup (address);
  if (address != NULL)
    gvd_pci_address_parse (address, &dev->domain, &dev->bus, &dev->slot, &dev->function);
  dev->iommu_group = -1;
  dev->numa_node = -1;
  dev->parents = g_ptr_array_new_with_free_func (g_free);
  dev->companions = g_ptr_array_new_with_free_func (g_free);
  dev->virtfns = g_ptr_array_new_with_free_func (g_free);
  dev->mdev_types = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_mdev_type_free);
  dev->bars = g_array_new (FALSE, TRUE, sizeof (GvdPciBar));
  return dev;
}

void
gvd_pci_device_free (GvdPciDevice *dev)
{
  if (dev == NULL)
    return;
  g_free (dev->address);
  g_free (dev->vendor_name);
  g_free (dev->device_name);
  g_free (dev->subsys_name);
  g_free (dev->class_name);
  g_free (dev->driver);
  g_ptr_array_unref (dev->parents);
  g_ptr_array_unref (dev->companions);
  g_ptr_array_unref (dev->virtfns);
  g_free (dev->physfn);
  g_ptr_array_unref (dev->mdev_types);
  g_array_unref (dev->bars);
  g_free (dev->host_critical);
  g_free (dev->details_dir);
  g_free (dev);
}

GvdIommuGroup *
gvd_iommu_group_new (guint number)
{
  GvdIommuGroup *group = g_new0 (GvdIommuGroup, 1);

  group->number = number;
  group->devices = g_ptr_array_new_with_free_func (g_free);
  return group;
}

void
gvd_iommu_group_free (GvdIommuGroup *group)
{
  if (group == NULL)
    return;
  g_ptr_array_unref (group->devices);
  g_free (group);
}

GvdInventory *
gvd_inventory_new (void)
{
  GvdInventory *inv = g_new0 (GvdInventory, 1);

  inv->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_pci_device_free);
  inv->by_address = g_hash_table_new (g_str_hash, g_str_equal);
  inv->groups = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_iommu_group_free);
  inv->by_group = g_hash_table_new (g_direct_hash, g_direct_equal);
  return inv;
}

void
gvd_inventory_free (GvdInventory *inv)
{
  if (inv == NULL)
    return;
  g_hash_table_unref (inv->by_address);
  g_hash_table_unref (inv->by_group);
  g_ptr_array_unref (inv->groups);
  g_ptr_array_unref (inv->devices);
  g_free (inv->nvidia_driver_version);
  g_free (inv);
}

void
gvd_inventory_add_device (GvdInventory *inv, GvdPciDevice *dev)
{
  g_return_if_fail (inv != NULL && dev != NULL && dev->address != NULL);
  g_ptr_array_add (inv->devices, dev);
}

static int
compare_devices (gconstpointer a, gconstpointer b)
{
  const GvdPciDevice *da = *(GvdPciDevice *const *) a;
  const GvdPciDevice *db = *(GvdPciDevice *const *) b;

  return strcmp (da->address, db->address);
}

static int
compare_groups (gconstpointer a, gconstpointer b)
{
  const GvdIommuGroup *ga = *(GvdIommuGroup *const *) a;
  const GvdIommuGroup *gb = *(GvdIommuGroup *const *) b;

  return ga->number < gb->number ? -1 : ga->number > gb->number;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

gboolean
gvd_pci_class_travels_with_gpu (guint32 class_code)
{
  guint32 subclass = class_code >> 8;

  return subclass == 0x0403 || subclass == 0x0c03 || subclass == 0x0c80;
}

void
gvd_inventory_finish (GvdInventory *inv)
{
  g_return_if_fail (inv != NULL);

  g_ptr_array_sort (inv->devices, compare_devices);
  g_hash_table_remove_all (inv->by_address);
  g_hash_table_remove_all (inv->by_group);
  g_ptr_array_set_size (inv->groups, 0);

  for (guint i = 0; i < inv->devices->len; i++)
    {
      GvdPciDevice *dev = g_ptr_array_index (inv->devices, i);
      GvdIommuGroup *group;

      g_hash_table_insert (inv->by_address, dev->address, dev);
      if ((dev->class_code >> 16) == 0x03 && !dev->is_bridge)
        dev->passthrough_candidate = TRUE;
      if (dev->iommu_group < 0)
        continue;
      inv->iommu = TRUE;
      group = g_hash_table_lookup (inv->by_group, GINT_TO_POINTER (dev->iommu_group));
      if (group == NULL)
        {
          group = gvd_iommu_group_new (dev->iommu_group);
          g_ptr_array_add (inv->groups, group);
          g_hash_table_insert (inv->by_group, GINT_TO_POINTER (dev->iommu_group), group);
        }
      g_ptr_array_add (group->devices, g_strdup (dev->address));
    }
  g_ptr_array_sort (inv->groups, compare_groups);
  for (guint i = 0; i < inv->groups->len; i++)
    {
      GvdIommuGroup *group = g_ptr_array_index (inv->groups, i);

      g_ptr_array_sort (group->devices, compare_strings);
      /* The override splits groups the hardware does not isolate, and which
       * ones it split cannot be told afterwards: every group is suspect. */
      group->weakened = inv->acs_override;
    }

  /* Companions: the functions that travel with a GPU, i.e. the audio, USB
   * and serial-bus (USB-C controller) functions on a GPU's slot. Any other
   * slot-mate (an AHCI controller next to an SMBus function, the other port
   * of a NIC, an LPC bridge) is the host's own device, never a companion.
   * Devices are sorted, so a slot's functions are neighbours. */
  for (guint i = 0; i < inv->devices->len;)
    {
      GvdPciDevice *first = g_ptr_array_index (inv->devices, i);
      guint j = i;

      while (j < inv->devices->len)
        {
          GvdPciDevice *d = g_ptr_array_index (inv->devices, j);
          if (d->domain != first->domain || d->bus != first->bus || d->slot != first->slot)
            break;
          j++;
        }
      for (guint a = i; a < j; a++)
        {
          GvdPciDevice *da = g_ptr_array_index (inv->devices, a);

          g_ptr_array_set_size (da->companions, 0);
          if ((da->class_code >> 16) != 0x03 || da->is_bridge)
            continue;
          for (guint b = i; b < j; b++)
            {
              const GvdPciDevice *db = g_ptr_array_index (inv->devices, b);

              if (a != b && gvd_pci_class_travels_with_gpu (db->class_code))
                g_ptr_array_add (da->companions, g_strdup (db->address));
            }
        }
      i = j;
    }
}

const GvdPciDevice *
gvd_inventory_lookup (const GvdInventory *inv, const char *address)
{
  g_return_val_if_fail (inv != NULL, NULL);
  if (address == NULL)
    return NULL;
  return g_hash_table_lookup (inv->by_address, address);
}

const GvdIommuGroup *
gvd_inventory_get_group (const GvdInventory *inv, int number)
{
  g_return_val_if_fail (inv != NULL, NULL);
  if (number < 0)
    return NULL;
  return g_hash_table_lookup (inv->by_group, GINT_TO_POINTER (number));
}

GPtrArray *
gvd_inventory_group_peers (const GvdInventory *inv, const char *address)
{
  const GvdPciDevice *dev = gvd_inventory_lookup (inv, address);
  const GvdIommuGroup *group;
  GPtrArray *peers;

  if (dev == NULL || (group = gvd_inventory_get_group (inv, dev->iommu_group)) == NULL)
    return NULL;
  peers = g_ptr_array_new ();
  for (guint i = 0; i < group->devices->len; i++)
    {
      const char *a = g_ptr_array_index (group->devices, i);
      if (!g_str_equal (a, dev->address))
        g_ptr_array_add (peers, (gpointer) a);
    }
  return peers;
}

/* ---- pure parsers ---------------------------------------------------------- */

GArray *
gvd_pci_parse_resource (const char *text, gsize len, GError **error)
{
  g_autoptr(GArray) bars = g_array_new (FALSE, TRUE, sizeof (GvdPciBar));
  g_autofree char *copy = g_strndup (text, len);
  g_auto(GStrv) lines = g_strsplit (copy, "\n", 64);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      GvdPciBar bar = { 0 };
      g_auto(GStrv) f = NULL;
      char *end;

      if (lines[i][0] == '\0')
        continue;
      f = g_strsplit_set (g_strstrip (lines[i]), " \t", 0);
      if (g_strv_length (f) != 3)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                       "resource line %u: expected 3 fields (start end flags)", i + 1);
          return NULL;
        }
      for (guint k = 0; k < 3; k++)
        {
          guint64 v;

          errno = 0;
          v = g_ascii_strtoull (f[k], &end, 16);
          if (errno != 0 || end == f[k] || *end != '\0')
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_IO,
                           "resource line %u: '%s' is not a hexadecimal number", i + 1, f[k]);
              return NULL;
            }
          if (k == 0)
            bar.start = v;
          else if (k == 1)
            bar.end = v;
          else
            bar.flags = v;
        }
      if (bar.start == 0 && bar.end == 0)
        continue;
      if (bar.end < bar.start)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_IO, "resource line %u: end before start",
                       i + 1);
          return NULL;
        }
      bar.index = i;
      g_array_append_val (bars, bar);
    }
  return g_steal_pointer (&bars);
}

guint64
gvd_pci_bars_mmio64 (const GArray *bars)
{
  guint64 total = 0;

  if (bars == NULL)
    return 0;
  for (guint i = 0; i < bars->len; i++)
    {
      const GvdPciBar *bar = &g_array_index (bars, GvdPciBar, i);

      if (bar->index > 5 || !(bar->flags & GVD_IORESOURCE_MEM)
          || !(bar->flags & GVD_IORESOURCE_MEM_64))
        continue;
      total += bar->end - bar->start + 1;
    }
  return total;
}

GPtrArray *
gvd_pci_parents_from_path (const char *real_path, const char *address)
{
  g_auto(GStrv) parts = g_strsplit (real_path != NULL ? real_path : "", "/", 0);
  GPtrArray *parents = g_ptr_array_new_with_free_func (g_free);

  for (gssize i = (gssize) g_strv_length (parts) - 1; i >= 0; i--)
    {
      if (!gvd_pci_address_is_canonical (parts[i]) || g_strcmp0 (parts[i], address) == 0)
        continue;
      g_ptr_array_add (parents, g_strdup (parts[i]));
    }
  return parents;
}

char *
gvd_pci_address_in_path (const char *real_path)
{
  g_auto(GStrv) parts = g_strsplit (real_path != NULL ? real_path : "", "/", 0);

  for (gssize i = (gssize) g_strv_length (parts) - 1; i >= 0; i--)
    if (gvd_pci_address_is_canonical (parts[i]))
      return g_strdup (parts[i]);
  return NULL;
}

gboolean
gvd_hostinfo_parse_acs_override (const char *cmdline)
{
  g_auto(GStrv) words = g_strsplit_set (cmdline != NULL ? cmdline : "", " \t\n", 0);

  for (guint i = 0; words[i] != NULL; i++)
    if (g_str_has_prefix (words[i], "pcie_acs_override="))
      return TRUE;
  return FALSE;
}

char *
gvd_hostinfo_parse_default_route (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", 4096);
  char *best = NULL;
  guint64 best_metric = G_MAXUINT64;

  /* Iface Destination Gateway Flags RefCnt Use Metric Mask ...; the first
   * line is the header. The lowest metric wins, as the kernel picks. An
   * empty text has no header line to skip. */
  if (lines[0] == NULL)
    return NULL;
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = g_strsplit_set (lines[i], " \t", 0);
      g_autoptr(GPtrArray) fields = g_ptr_array_new ();
      guint64 flags, metric;

      for (guint k = 0; f[k] != NULL; k++)
        if (f[k][0] != '\0')
          g_ptr_array_add (fields, f[k]);
      if (fields->len < 8)
        continue;
      if (!g_str_equal (g_ptr_array_index (fields, 1), "00000000")
          || !g_str_equal (g_ptr_array_index (fields, 7), "00000000"))
        continue;
      flags = g_ascii_strtoull (g_ptr_array_index (fields, 3), NULL, 16);
      if (!(flags & 0x1)) /* RTF_UP */
        continue;
      metric = g_ascii_strtoull (g_ptr_array_index (fields, 6), NULL, 10);
      if (best == NULL || metric < best_metric)
        {
          g_free (best);
          best = g_strdup (g_ptr_array_index (fields, 0));
          best_metric = metric;
        }
    }
  return best;
}

char *
gvd_hostinfo_parse_root_device (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", 65536);
  char *dev = NULL;

  /* The last mount on "/" is the one in effect. */
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = g_strsplit (lines[i], " ", 4);

      if (g_strv_length (f) < 3 || !g_str_equal (f[1], "/"))
        continue;
      g_free (dev);
      dev = g_strdup (f[0]);
    }
  return dev;
}

char *
gvd_hostinfo_parse_nvidia_version (const char *text)
{
  g_auto(GStrv) words = g_strsplit_set (text != NULL ? text : "", " \t\n", 0);

  /* sysfs: just "550.54.15"; procfs: "NVRM version: NVIDIA UNIX x86_64
   * Kernel Module  550.54.15  Tue Mar ..." — the first dotted number. */
  for (guint i = 0; words[i] != NULL; i++)
    {
      const char *w = words[i];
      gboolean ok = g_ascii_isdigit (w[0]) && strchr (w, '.') != NULL;

      for (const char *p = w; ok && *p != '\0'; p++)
        ok = g_ascii_isdigit (*p) || *p == '.';
      if (ok)
        return g_strdup (w);
    }
  return NULL;
}

/* ---- JSON ------------------------------------------------------------------- */

static void
add_hex (JsonBuilder *b, const char *member, guint value, int width)
{
  g_autofree char *s = g_strdup_printf ("%0*x", width, value);

  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, s);
}

static void
add_string_array (JsonBuilder *b, const char *member, const GPtrArray *strings)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; strings != NULL && i < strings->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (strings, i));
  json_builder_end_array (b);
}

void
gvd_pci_device_to_json_with_details (const GvdPciDevice *dev, const GvdPciDevice *details,
                                     JsonBuilder *b)
{
  g_return_if_fail (dev != NULL && b != NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "address");
  json_builder_add_string_value (b, dev->address);
  add_hex (b, "vendor_id", dev->vendor_id, 4);
  add_hex (b, "device_id", dev->device_id, 4);
  add_hex (b, "subsystem_vendor_id", dev->subsys_vendor_id, 4);
  add_hex (b, "subsystem_device_id", dev->subsys_device_id, 4);
  add_hex (b, "class", dev->class_code, 6);
  gvd_json_add_string (b, "vendor", dev->vendor_name);
  gvd_json_add_string (b, "device", dev->device_name);
  gvd_json_add_string (b, "subsystem", dev->subsys_name);
  gvd_json_add_string (b, "class_name", dev->class_name);
  json_builder_set_member_name (b, "iommu_group");
  if (dev->iommu_group >= 0)
    json_builder_add_int_value (b, dev->iommu_group);
  else
    json_builder_add_null_value (b);
  gvd_json_add_string (b, "driver", dev->driver);
  json_builder_set_member_name (b, "numa_node");
  json_builder_add_int_value (b, details->numa_node);
  json_builder_set_member_name (b, "is_bridge");
  json_builder_add_boolean_value (b, dev->is_bridge);
  json_builder_set_member_name (b, "boot_vga");
  json_builder_add_boolean_value (b, dev->boot_vga);
  add_string_array (b, "parents", details->parents);
  add_string_array (b, "companions", dev->companions);
  json_builder_set_member_name (b, "sriov");
  if (details->sriov_totalvfs > 0)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "totalvfs");
      json_builder_add_int_value (b, details->sriov_totalvfs);
      json_builder_set_member_name (b, "numvfs");
      json_builder_add_int_value (b, details->sriov_numvfs);
      add_string_array (b, "virtfns", details->virtfns);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  gvd_json_add_string (b, "physfn", details->physfn);
  json_builder_set_member_name (b, "mdev_types");
  json_builder_begin_array (b);
  for (guint i = 0; i < dev->mdev_types->len; i++)
    {
      const GvdMdevType *t = g_ptr_array_index (dev->mdev_types, i);

      json_builder_begin_object (b);
      gvd_json_add_string (b, "id", t->id);
      gvd_json_add_string (b, "name", t->name);
      gvd_json_add_string (b, "device_api", t->device_api);
      gvd_json_add_string (b, "description", t->description);
      json_builder_set_member_name (b, "available_instances");
      json_builder_add_int_value (b, t->available_instances);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "mmio64_mib");
  json_builder_add_int_value (b, (gint64) ((details->mmio64_bytes + (1 << 20) - 1) >> 20));
  json_builder_set_member_name (b, "passthrough_candidate");
  json_builder_add_boolean_value (b, dev->passthrough_candidate);
  json_builder_set_member_name (b, "host_critical");
  json_builder_add_boolean_value (b, dev->host_critical != NULL);
  gvd_json_add_string (b, "host_critical_reason", dev->host_critical);
  json_builder_end_object (b);
}
