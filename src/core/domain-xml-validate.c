/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every check an instance spec passes before it is rendered as domain XML:
 * once a spec is valid, rendering it cannot fail (domain-xml.c). */
#include "config.h"

#include "domain-xml.h"
#include "pci-address.h"

#include <string.h>

#include "domain-xml-forward.h"
#include "domain-xml-priv.h"
#include "errors.h"
#include "hugepages.h"

#define INVALID(...)                                                          \
  G_STMT_START {                                                              \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__);   \
    return FALSE;                                                             \
  } G_STMT_END

/* Identity, firmware, agent. */
static gboolean
validate_identity (const GvdInstanceSpec *spec, GError **error)
{
  if (!gvd_domain_xml_check_token ("instance name", spec->name, GVD_INSTANCE_NAME_MAX, "-_.",
                                      error)
      || !gvd_domain_xml_check_token ("domain name", spec->domain_name, 128, "-_.", error)
      || !gvd_domain_xml_check_uuid ("uuid", spec->uuid, error))
    return FALSE;
  if (spec->firmware != GVD_FIRMWARE_EFI && spec->firmware != GVD_FIRMWARE_BIOS)
    INVALID ("unknown firmware");
  if (spec->heartbeat_interval > 86400)
    INVALID ("heartbeat interval too long");
  return TRUE;
}

/* The plan's hostdevs: known groups, each used one with a function 0, no
 * (group, function) twice, no host device twice. A hot-plugged GPU sits on
 * a free root port further up, so the groups in use may have gaps. */
static gboolean
validate_hostdevs (const GvdInstanceSpec *spec, GvdDomainLayout *layout, GError **error)
{
  const GPtrArray *hostdevs = spec->hostdevs;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint32 has_function[GVD_DOMAIN_XML_MAX_GROUPS] = { 0 };

  if (hostdevs->len > GVD_DOMAIN_XML_MAX_HOSTDEVS)
    INVALID ("more than %d hostdevs", GVD_DOMAIN_XML_MAX_HOSTDEVS);
  layout->n_groups = 0;
  for (guint i = 0; i < hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (hostdevs, i);

      if (h->mdev_uuid != NULL)
        {
          if (!gvd_domain_xml_check_uuid ("mdev UUID", h->mdev_uuid, error))
            return FALSE;
          if (h->mdev_type != NULL
              && !gvd_domain_xml_check_token ("mdev type", h->mdev_type, 64, "-_", error))
            return FALSE;
          if (h->host_address != NULL && !gvd_pci_address_is_canonical (h->host_address))
            INVALID ("hostdev %u: parent '%s' is not a PCI address in canonical form "
                     "(0000:41:00.0)", i, h->host_address);
          if (!g_hash_table_add (seen, g_ascii_strdown (h->mdev_uuid, -1)))
            INVALID ("mdev %s planned twice", h->mdev_uuid);
        }
      else
        {
          if (!gvd_domain_xml_check_text ("hostdev address", h->host_address, 12, error))
            return FALSE;
          if (!gvd_pci_address_is_canonical (h->host_address))
            INVALID ("hostdev %u: '%s' is not a PCI address in canonical form (0000:41:00.0)", i,
                     h->host_address);
          if (!g_hash_table_add (seen, g_ascii_strdown (h->host_address, -1)))
            INVALID ("PCI device %s planned twice", h->host_address);
        }
      if (h->guest_bus >= GVD_DOMAIN_XML_MAX_GROUPS)
        INVALID ("hostdev %u: guest group %u out of range (max %d)", i, h->guest_bus,
                 GVD_DOMAIN_XML_MAX_GROUPS - 1);
      if (h->guest_function > 7)
        INVALID ("hostdev %u: guest function %u out of range", i, h->guest_function);
      if (h->clique < -1 || h->clique > 15)
        INVALID ("hostdev %u: P2P clique %d out of range (0-15)", i, h->clique);
      if (has_function[h->guest_bus] & (1u << h->guest_function))
        INVALID ("hostdev %u: guest group %u function %u used twice", i, h->guest_bus,
                 h->guest_function);
      has_function[h->guest_bus] |= 1u << h->guest_function;
      layout->n_groups = MAX (layout->n_groups, h->guest_bus + 1);
    }
  for (guint g = 0; g < layout->n_groups; g++)
    if (has_function[g] != 0 && (has_function[g] & 1) == 0)
      INVALID ("guest group %u has no function 0 (the guest would not see it)", g);
  return TRUE;
}

/* What only gpuvmd's <metadata> carries. */
static gboolean
validate_metadata (const GvdInstanceSpec *spec, GError **error)
{
  if (spec->created_at != NULL)
    {
      g_autoptr(GDateTime) t = NULL;

      if (!gvd_domain_xml_check_text ("created_at", spec->created_at, 64, error))
        return FALSE;
      t = g_date_time_new_from_iso8601 (spec->created_at, NULL);
      if (t == NULL)
        INVALID ("created_at '%s' is not an ISO 8601 time with a zone", spec->created_at);
    }
  if (spec->image != NULL && !gvd_domain_xml_check_object_name ("image", spec->image, error))
    return FALSE;
  if (spec->requested_model != NULL
      && !gvd_domain_xml_check_text ("requested_model", spec->requested_model, 128, error))
    return FALSE;
  for (gsize i = 0; spec->requested_devices != NULL && spec->requested_devices[i] != NULL; i++)
    {
      if (i >= GVD_DOMAIN_XML_MAX_HOSTDEVS)
        INVALID ("more than %d requested devices", GVD_DOMAIN_XML_MAX_HOSTDEVS);
      if (!gvd_domain_xml_check_text ("requested device", spec->requested_devices[i], 128, error))
        return FALSE;
    }
  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);

      if (nic->ipv4 != NULL && !gvd_domain_xml_check_cidr ("NIC ipv4", nic->ipv4, error))
        return FALSE;
      if (nic->gateway != NULL
          && !gvd_domain_xml_check_ip ("NIC gateway", nic->gateway, TRUE, error))
        return FALSE;
      for (gsize j = 0; nic->dns != NULL && nic->dns[j] != NULL; j++)
        {
          if (j >= 8)
            INVALID ("more than 8 DNS servers");
          if (!gvd_domain_xml_check_ip ("DNS server", nic->dns[j], FALSE, error))
            return FALSE;
        }
    }
  if (spec->labels != NULL)
    {
      g_autofree gpointer *keys = NULL;
      guint n;

      if (g_hash_table_size (spec->labels) > GVD_DOMAIN_XML_MAX_LABELS)
        INVALID ("more than %d labels", GVD_DOMAIN_XML_MAX_LABELS);
      keys = g_hash_table_get_keys_as_array (spec->labels, &n);
      for (guint i = 0; i < n; i++)
        {
          const char *value = g_hash_table_lookup (spec->labels, keys[i]);

          if (!gvd_domain_xml_check_token ("label key", keys[i], 63, "._-/", error))
            return FALSE;
          if (value != NULL && *value != '\0'
              && !gvd_domain_xml_check_text ("label value", value, 256, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* vCPUs, memory, firmware, kernel boot, lifecycle actions. */
static gboolean
validate_machine (const GvdInstanceSpec *spec, GError **error)
{
  guint sockets = spec->sockets, cores = spec->cores, threads = spec->threads;

  if (spec->vcpus == 0 || spec->vcpus > GVD_DOMAIN_XML_MAX_VCPUS)
    INVALID ("vcpus must be 1 to %d", GVD_DOMAIN_XML_MAX_VCPUS);
  if (sockets == 0 && cores == 0 && threads == 0)
    {
      sockets = 1;
      cores = spec->vcpus;
      threads = 1;
    }
  if (sockets == 0 || cores == 0 || threads == 0
      || (guint64) sockets * cores * threads != spec->vcpus)
    INVALID ("topology %u sockets x %u cores x %u threads does not give %u vCPUs", sockets, cores,
             threads, spec->vcpus);
  if (spec->memory_mib < 64 || spec->memory_mib > 16u * 1024 * 1024)
    INVALID ("memory must be 64 MiB to 16 TiB");
  if (spec->iothreads > GVD_DOMAIN_XML_MAX_IOTHREADS)
    INVALID ("more than %d iothreads", GVD_DOMAIN_XML_MAX_IOTHREADS);
  if (spec->numa_node < -1 || spec->numa_node > 1023)
    INVALID ("NUMA node %d out of range", spec->numa_node);
  if (spec->hugepage_kib != 0)
    {
      guint64 pages;

      if (gvd_hugepage_size_name (spec->hugepage_kib) == NULL)
        INVALID ("hugepage size %u KiB is not 2M or 1G", spec->hugepage_kib);
      if (!gvd_hugepages_needed ("memory.hugepages", spec->memory_mib, spec->hugepage_kib,
                                 &pages, error))
        return FALSE;
    }
  if (spec->mmio64_mib > G_GUINT64_CONSTANT (64) * 1024 * 1024)
    INVALID ("mmio64 aperture larger than 64 TiB");
  if (!gvd_domain_xml_validate_cpu_pins (spec, error))
    return FALSE;
  if (spec->kernel != NULL)
    {
      if (!gvd_domain_xml_check_path ("kernel", spec->kernel, error)
          || (spec->initrd != NULL && !gvd_domain_xml_check_path ("initrd", spec->initrd, error))
          || !gvd_domain_xml_check_opt_text ("cmdline", spec->cmdline, 4096, error))
        return FALSE;
    }
  else if (spec->initrd != NULL || spec->cmdline != NULL)
    INVALID ("initrd and cmdline need a kernel");
  return TRUE;
}

static gboolean
validate_disk (const GvdInstanceSpec *spec, const GvdDiskSpec *d, guint index,
               GHashTable *targets, GvdDomainLayout *layout, GError **error)
{
  g_autofree char *what = g_strdup_printf ("disk %u", index);

  switch (d->type)
    {
    case GVD_DISK_VOLUME:
      if (!gvd_domain_xml_check_object_name ("disk pool", d->pool, error)
          || !gvd_domain_xml_check_object_name ("disk volume", d->volume, error))
        return FALSE;
      break;
    case GVD_DISK_NBD:
    case GVD_DISK_RBD:
      if (d->type == GVD_DISK_NBD && d->host == NULL)
        INVALID ("%s: an NBD disk needs a host", what);
      if (d->type == GVD_DISK_RBD && d->source_name == NULL)
        INVALID ("%s: an RBD disk needs a pool/image name", what);
      /* A host name or an IP literal (libvirt takes IPv6 unbracketed). */
      if (d->host != NULL && !g_hostname_is_ip_address (d->host)
          && !gvd_domain_xml_check_token ("disk host", d->host, 255, ".-_", error))
        return FALSE;
      if (d->port > 65535)
        INVALID ("%s: port %u out of range", what, d->port);
      if (!gvd_domain_xml_check_opt_text ("disk source name", d->source_name, 1024, error))
        return FALSE;
      if ((d->auth_username == NULL) != (d->secret_uuid == NULL))
        INVALID ("%s: RBD auth needs both a username and a secret UUID", what);
      if (d->auth_username != NULL && d->type != GVD_DISK_RBD)
        INVALID ("%s: auth is for RBD disks", what);
      if (d->auth_username != NULL
          && (!gvd_domain_xml_check_token ("disk auth username", d->auth_username, 128, ".-_",
                                           error)
              || !gvd_domain_xml_check_uuid ("disk secret", d->secret_uuid, error)))
        return FALSE;
      break;
    default:
      INVALID ("%s: unknown type", what);
    }
  if (d->format != NULL && strcmp (d->format, "raw") != 0 && strcmp (d->format, "qcow2") != 0)
    INVALID ("%s: format must be raw or qcow2", what);
  if (d->bus > GVD_DISK_BUS_SATA || d->cache > GVD_DISK_CACHE_WRITETHROUGH
      || d->io > GVD_DISK_IO_URING)
    INVALID ("%s: unknown bus, cache or io mode", what);
  if (d->io == GVD_DISK_IO_NATIVE && d->cache != GVD_DISK_CACHE_NONE)
    INVALID ("%s: io=native needs cache=none (O_DIRECT)", what);
  if (d->iothread > 0 && d->iothread > spec->iothreads)
    INVALID ("%s: iothread %u but the domain has %u", what, d->iothread, spec->iothreads);
  if (d->iothread > 0 && d->bus == GVD_DISK_BUS_SATA)
    INVALID ("%s: SATA disks cannot use an iothread", what);
  if (d->iothread > 0 && d->bus == GVD_DISK_BUS_SCSI)
    {
      /* virtio-scsi disks share their controller's iothread. */
      if (layout->scsi_iothread != 0 && layout->scsi_iothread != d->iothread)
        INVALID ("%s: SCSI disks share one controller and one iothread", what);
      layout->scsi_iothread = d->iothread;
    }
  if (d->readonly && d->bus == GVD_DISK_BUS_SATA)
    INVALID ("%s: libvirt does not support read-only SATA disks", what);
  /* QEMU keeps 20 bytes of a virtio-blk serial. */
  if (d->serial != NULL
      && !gvd_domain_xml_check_token ("disk serial", d->serial, 20, "._-", error))
    return FALSE;
  if (d->name != NULL
      && !gvd_domain_xml_check_token ("disk name", d->name, 32, "_", error))
    return FALSE;
  if (d->target != NULL)
    {
      const char *prefix = d->bus == GVD_DISK_BUS_VIRTIO ? "vd" : "sd";
      gsize len = strlen (d->target);

      if (!g_str_has_prefix (d->target, prefix) || len < 3 || len > 4)
        INVALID ("%s: target '%s' must be %sa..%szz for its bus", what, d->target, prefix, prefix);
      for (gsize i = 2; i < len; i++)
        if (!g_ascii_islower (d->target[i]))
          INVALID ("%s: target '%s' must be %sa..%szz for its bus", what, d->target, prefix,
                   prefix);
      if (!g_hash_table_add (targets, d->target))
        INVALID ("%s: target '%s' used twice", what, d->target);
    }
  layout->any_scsi |= d->bus == GVD_DISK_BUS_SCSI;
  return TRUE;
}

static gboolean
validate_disks (const GvdInstanceSpec *spec, GvdDomainLayout *layout, GError **error)
{
  g_autoptr(GHashTable) boot = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) targets = g_hash_table_new (g_str_hash, g_str_equal);

  if (spec->disks->len == 0)
    INVALID ("an instance needs a root disk");
  if (spec->disks->len > GVD_DOMAIN_XML_MAX_DISKS)
    INVALID ("more than %d disks", GVD_DOMAIN_XML_MAX_DISKS);
  for (guint i = 0; i < spec->disks->len; i++)
    {
      const GvdDiskSpec *d = g_ptr_array_index (spec->disks, i);

      if (!validate_disk (spec, d, i, targets, layout, error))
        return FALSE;
      if (d->boot_order > 0 && !g_hash_table_add (boot, GUINT_TO_POINTER (d->boot_order)))
        INVALID ("boot order %u used twice", d->boot_order);
    }
  if ((spec->seed_pool == NULL) != (spec->seed_volume == NULL))
    INVALID ("the seed ISO needs both a pool and a volume");
  if (spec->seed_pool != NULL
      && (!gvd_domain_xml_check_object_name ("seed pool", spec->seed_pool, error)
          || !gvd_domain_xml_check_object_name ("seed volume", spec->seed_volume, error)))
    return FALSE;
  return TRUE;
}

static gboolean
validate_shares (const GvdInstanceSpec *spec, GError **error)
{
  g_autoptr(GHashTable) tags = g_hash_table_new (g_str_hash, g_str_equal);

  if (spec->shares->len > GVD_DOMAIN_XML_MAX_SHARES)
    INVALID ("more than %d shares", GVD_DOMAIN_XML_MAX_SHARES);
  for (guint i = 0; i < spec->shares->len; i++)
    {
      const GvdShareSpec *s = g_ptr_array_index (spec->shares, i);

      /* 9p mount tags are at most 31 bytes, virtiofs tags 36. */
      if (!gvd_domain_xml_check_token ("share tag", s->tag,
                                       s->virtiofs ? GVD_SHARE_TAG_MAX_VIRTIOFS
                                                   : GVD_SHARE_TAG_MAX_9P,
                                       "._-", error)
          || !gvd_domain_xml_check_path ("share source", s->source_dir, error)
          || (s->mount_point != NULL
              && !gvd_domain_xml_check_path ("share mount point", s->mount_point, error)))
        return FALSE;
      if (!g_hash_table_add (tags, s->tag))
        INVALID ("share tag '%s' used twice", s->tag);
      if (s->virtiofs && s->readonly)
        INVALID ("share '%s': libvirt 9.0 has no read-only virtiofs", s->tag);
    }
  return TRUE;
}

static gboolean
validate_nics (const GvdInstanceSpec *spec, GError **error)
{
  g_autoptr(GHashTable) macs = g_hash_table_new (g_str_hash, g_str_equal);

  if (spec->nics->len > GVD_DOMAIN_XML_MAX_NICS)
    INVALID ("more than %d NICs", GVD_DOMAIN_XML_MAX_NICS);
  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);

      if (!gvd_domain_xml_check_mac ("NIC MAC", nic->mac, error))
        return FALSE;
      if (!g_hash_table_add (macs, nic->mac))
        INVALID ("MAC %s used twice", nic->mac);
      switch (nic->mode)
        {
        case GVD_NETWORK_USER:
          break;
        case GVD_NETWORK_BRIDGE:
        case GVD_NETWORK_NETWORK:
          if (!gvd_domain_xml_check_token ("NIC source", nic->source, 64, "._-:", error))
            return FALSE;
          break;
        case GVD_NETWORK_SRIOV:
          if (nic->device == NULL || !gvd_pci_address_is_canonical (nic->device))
            INVALID ("NIC %u: the VF '%s' is not a PCI address in canonical form "
                     "(0000:41:00.2)", i, nic->device != NULL ? nic->device : "(none)");
          for (guint k = 0; k < spec->hostdevs->len; k++)
            if (g_strcmp0 (((GvdHostdevSpec *) g_ptr_array_index (spec->hostdevs, k))->host_address,
                           nic->device) == 0)
              INVALID ("NIC %u: the VF %s is a hostdev too", i, nic->device);
          break;
        default:
          INVALID ("NIC %u: unknown network mode", i);
        }
    }
  if (!gvd_domain_xml_validate_forwards (spec, error))
    return FALSE;
  return TRUE;
}

static gboolean
validate_consoles (const GvdInstanceSpec *spec, GError **error)
{
  if (spec->console_log != NULL
      && !gvd_domain_xml_check_path ("console log", spec->console_log, error))
    return FALSE;
  return TRUE;
}

gboolean
gvd_domain_xml_validate_layout (const GvdInstanceSpec *spec, GvdDomainLayout *layout,
                                GError **error)
{
  GvdDomainLayout scratch = { 0 };

  g_return_val_if_fail (spec != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (layout == NULL)
    layout = &scratch;
  *layout = (GvdDomainLayout) { 0 };
  /* In the order the sections appear in the domain. */
  return validate_identity (spec, error) && validate_hostdevs (spec, layout, error)
         && validate_metadata (spec, error) && validate_machine (spec, error)
         && validate_disks (spec, layout, error) && validate_shares (spec, error)
         && validate_nics (spec, error) && validate_consoles (spec, error);
}

gboolean
gvd_domain_xml_validate (const GvdInstanceSpec *spec, GError **error)
{
  return gvd_domain_xml_validate_layout (spec, NULL, error);
}
