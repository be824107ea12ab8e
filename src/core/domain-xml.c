/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instance spec → libvirt domain XML (libxml2 tree), validating every field. */
#include "config.h"

#include "domain-xml.h"
#include "pci-address.h"

#include <string.h>
#include <gio/gio.h>
#include <libxml/tree.h>

#include "domain-xml-priv.h"
#include "errors.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

#define INVALID(...)                                                          \
  G_STMT_START {                                                              \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__);   \
    return FALSE;                                                             \
  } G_STMT_END

/* ---- tree helpers ---------------------------------------------------------- */

static xmlNodePtr
child (xmlNodePtr parent, xmlNsPtr ns, const char *name)
{
  return xmlNewChild (parent, ns, BAD_CAST name, NULL);
}

/* xmlNewTextChild escapes @text; xmlNewChild would parse entities in it. */
static xmlNodePtr
text_child (xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
  return xmlNewTextChild (parent, ns, BAD_CAST name, BAD_CAST text);
}

static void
prop (xmlNodePtr node, const char *name, const char *value)
{
  xmlNewProp (node, BAD_CAST name, BAD_CAST value);
}

static void G_GNUC_PRINTF (3, 4)
propf (xmlNodePtr node, const char *name, const char *format, ...)
{
  g_autofree char *value = NULL;
  va_list ap;

  va_start (ap, format);
  value = g_strdup_vprintf (format, ap);
  va_end (ap);
  prop (node, name, value);
}

static xmlNodePtr G_GNUC_PRINTF (4, 5)
text_childf (xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *format, ...)
{
  g_autofree char *value = NULL;
  va_list ap;

  va_start (ap, format);
  value = g_strdup_vprintf (format, ap);
  va_end (ap);
  return text_child (parent, ns, name, value);
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
pci_address (xmlNodePtr parent, guint bus, guint slot, guint function, gboolean multifunction)
{
  xmlNodePtr a = child (parent, NULL, "address");

  prop (a, "type", "pci");
  prop (a, "domain", "0x0000");
  propf (a, "bus", "0x%02x", bus);
  propf (a, "slot", "0x%02x", slot);
  propf (a, "function", "0x%x", function);
  if (multifunction)
    prop (a, "multifunction", "on");
}

/* ---- render context ---------------------------------------------------------- */

typedef struct {
  const GvdInstanceSpec *spec;
  xmlNsPtr qemu_ns;
  xmlNodePtr qemu_commandline; /* created on first use */
  xmlNodePtr qemu_override;
  GHashTable *targets;         /* disk target names in use */
  guint next_vd, next_sd;
  guint n_groups;
  gboolean any_scsi;
  guint scsi_iothread;         /* the virtio-scsi controller's iothread */
} Render;

static void
render_clear (Render *r)
{
  g_clear_pointer (&r->targets, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Render, render_clear)

/* 0 → "a", 25 → "z", 26 → "aa" (libvirt's disk naming). */
static char *
disk_target_name (const char *prefix, guint index)
{
  char suffix[4] = { 0 };

  if (index < 26)
    suffix[0] = (char) ('a' + index);
  else
    {
      suffix[0] = (char) ('a' + index / 26 - 1);
      suffix[1] = (char) ('a' + index % 26);
    }
  return g_strconcat (prefix, suffix, NULL);
}

static char *
next_target (Render *r, GvdDiskBus bus)
{
  gboolean vd = bus == GVD_DISK_BUS_VIRTIO;
  guint *next = vd ? &r->next_vd : &r->next_sd;

  for (;;)
    {
      char *name = disk_target_name (vd ? "vd" : "sd", (*next)++);
      if (!g_hash_table_contains (r->targets, name))
        {
          g_hash_table_add (r->targets, g_strdup (name));
          return name;
        }
      g_free (name);
    }
}

/* The number of physical address bits a guest needs for an @mmio_mib
 * aperture that OVMF places, size-aligned, above RAM and the 32-bit hole. */
guint
gvd_domain_xml_phys_bits_for (guint64 memory_mib, guint64 mmio_mib)
{
  guint64 size = 1, top, base;
  guint bits = 40;

  while (size < mmio_mib)
    size <<= 1;
  top = memory_mib + 4096; /* MiB; RAM above 4 GiB at worst starts at 4 GiB */
  base = (top + size - 1) / size * size;
  while (bits < 52 && (G_GUINT64_CONSTANT (1) << (bits - 20)) < base + size)
    bits++;
  return bits;
}

/* ---- sections ---------------------------------------------------------------- */

static gboolean
render_metadata (Render *r, xmlNodePtr domain, GError **error)
{
  const GvdInstanceSpec *spec = r->spec;
  xmlNodePtr metadata = child (domain, NULL, "metadata");
  xmlNodePtr inst = child (metadata, NULL, "instance");
  xmlNsPtr ns = xmlNewNs (inst, BAD_CAST GVD_DOMAIN_XML_NS, BAD_CAST GVD_DOMAIN_XML_NS_PREFIX);
  xmlNodePtr node;

  xmlSetNs (inst, ns);
  propf (inst, "version", "%d", GVD_DOMAIN_XML_FORMAT_VERSION);
  text_child (inst, ns, "name", spec->name);
  text_child (inst, ns, "uuid", spec->uuid);
  if (spec->created_at != NULL)
    {
      g_autoptr(GDateTime) t = NULL;
      if (!gvd_domain_xml_check_text ("created_at", spec->created_at, 64, error))
        return FALSE;
      t = g_date_time_new_from_iso8601 (spec->created_at, NULL);
      if (t == NULL)
        INVALID ("created_at '%s' is not an ISO 8601 time with a zone", spec->created_at);
      text_child (inst, ns, "created-at", spec->created_at);
    }
  if (spec->image != NULL)
    {
      if (!gvd_domain_xml_check_object_name ("image", spec->image, error))
        return FALSE;
      text_child (inst, ns, "image", spec->image);
    }
  if (spec->root_size_bytes > 0)
    text_childf (inst, ns, "root-size-bytes", "%" G_GUINT64_FORMAT, spec->root_size_bytes);
  text_child (inst, ns, "firmware", spec->firmware == GVD_FIRMWARE_BIOS ? "bios" : "efi");

  node = child (inst, ns, "request");
  propf (node, "gpus", "%u", spec->requested_gpus);
  if (spec->requested_model != NULL)
    {
      if (!gvd_domain_xml_check_text ("requested_model", spec->requested_model, 128, error))
        return FALSE;
      prop (node, "model", spec->requested_model);
    }
  for (gsize i = 0; spec->requested_devices != NULL && spec->requested_devices[i] != NULL; i++)
    {
      if (i >= GVD_DOMAIN_XML_MAX_HOSTDEVS)
        INVALID ("more than %d requested devices", GVD_DOMAIN_XML_MAX_HOSTDEVS);
      if (!gvd_domain_xml_check_text ("requested device", spec->requested_devices[i], 128, error))
        return FALSE;
      text_child (node, ns, "device", spec->requested_devices[i]);
    }

  node = child (inst, ns, "hostdevs");
  for (guint i = 0; i < spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (spec->hostdevs, i);
      xmlNodePtr e = child (node, ns, "hostdev");

      if (h->mdev_uuid != NULL)
        {
          prop (e, "mdev-uuid", h->mdev_uuid);
          if (h->mdev_type != NULL)
            prop (e, "mdev-type", h->mdev_type);
        }
      if (h->host_address != NULL)
        prop (e, "address", h->host_address);
      propf (e, "group", "%u", h->guest_bus);
      propf (e, "function", "%u", h->guest_function);
      if (h->clique >= 0)
        propf (e, "clique", "%d", h->clique);
    }

  node = child (inst, ns, "nics");
  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);
      xmlNodePtr e = child (node, ns, "nic");

      prop (e, "mac", nic->mac);
      if (nic->ipv4 != NULL)
        {
          if (!gvd_domain_xml_check_cidr ("NIC ipv4", nic->ipv4, error))
            return FALSE;
          prop (e, "ipv4", nic->ipv4);
        }
      if (nic->gateway != NULL)
        {
          if (!gvd_domain_xml_check_ip ("NIC gateway", nic->gateway, TRUE, error))
            return FALSE;
          prop (e, "gateway", nic->gateway);
        }
      for (gsize j = 0; nic->dns != NULL && nic->dns[j] != NULL; j++)
        {
          if (j >= 8)
            INVALID ("more than 8 DNS servers");
          if (!gvd_domain_xml_check_ip ("DNS server", nic->dns[j], FALSE, error))
            return FALSE;
          text_child (e, ns, "dns", nic->dns[j]);
        }
    }

  node = child (inst, ns, "labels");
  if (spec->labels != NULL)
    {
      g_autofree gpointer *keys = NULL;
      guint n;

      if (g_hash_table_size (spec->labels) > GVD_DOMAIN_XML_MAX_LABELS)
        INVALID ("more than %d labels", GVD_DOMAIN_XML_MAX_LABELS);
      /* Sorted: golden files need one order. */
      keys = g_hash_table_get_keys_as_array (spec->labels, &n);
      qsort (keys, n, sizeof (gpointer), compare_strings);
      for (guint i = 0; i < n; i++)
        {
          const char *value = g_hash_table_lookup (spec->labels, keys[i]);
          xmlNodePtr e;

          if (!gvd_domain_xml_check_token ("label key", keys[i], 63, "._-/", error))
            return FALSE;
          if (value == NULL)
            value = "";
          if (*value != '\0' && !gvd_domain_xml_check_text ("label value", value, 256, error))
            return FALSE;
          e = text_child (node, ns, "label", value);
          prop (e, "key", keys[i]);
        }
    }

  if (spec->kernel != NULL)
    {
      node = child (inst, ns, "kernel-boot");
      text_child (node, ns, "kernel", spec->kernel);
      if (spec->initrd != NULL)
        text_child (node, ns, "initrd", spec->initrd);
      if (spec->cmdline != NULL)
        text_child (node, ns, "cmdline", spec->cmdline);
    }

  node = child (inst, ns, "agent");
  propf (node, "heartbeat-interval", "%u", spec->heartbeat_interval);
  return TRUE;
}

static gboolean
render_machine (Render *r, xmlNodePtr domain, GError **error)
{
  const GvdInstanceSpec *spec = r->spec;
  gboolean virtiofs = FALSE;
  guint sockets = spec->sockets, cores = spec->cores, threads = spec->threads;
  xmlNodePtr node, os, cpu;

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
  if (spec->mmio64_mib > G_GUINT64_CONSTANT (64) * 1024 * 1024)
    INVALID ("mmio64 aperture larger than 64 TiB");

  for (guint i = 0; i < spec->shares->len; i++)
    virtiofs |= ((GvdShareSpec *) g_ptr_array_index (spec->shares, i))->virtiofs;

  node = text_childf (domain, NULL, "memory", "%" G_GUINT64_FORMAT, spec->memory_mib * 1024);
  prop (node, "unit", "KiB");
  if (spec->hugepages || virtiofs)
    {
      node = child (domain, NULL, "memoryBacking");
      if (spec->hugepages)
        child (node, NULL, "hugepages");
      if (virtiofs)
        {
          /* vhost-user (virtiofsd) maps guest RAM: it must be shared. */
          prop (child (node, NULL, "source"), "type", "memfd");
          prop (child (node, NULL, "access"), "mode", "shared");
        }
    }

  node = text_childf (domain, NULL, "vcpu", "%u", spec->vcpus);
  prop (node, "placement", "static");
  if (spec->cpuset != NULL)
    {
      if (!gvd_domain_xml_check_text ("cpuset", spec->cpuset, 256, error))
        return FALSE;
      for (const char *p = spec->cpuset; *p != '\0'; p++)
        if (!g_ascii_isdigit (*p) && *p != ',' && *p != '-' && *p != '^')
          INVALID ("cpuset '%s' is not a CPU list (e.g. 0-7,16)", spec->cpuset);
      prop (node, "cpuset", spec->cpuset);
    }
  if (spec->iothreads > 0)
    text_childf (domain, NULL, "iothreads", "%u", spec->iothreads);
  if (spec->numa_node >= 0)
    {
      node = child (child (domain, NULL, "numatune"), NULL, "memory");
      prop (node, "mode", "strict");
      propf (node, "nodeset", "%d", spec->numa_node);
    }

  os = child (domain, NULL, "os");
  if (spec->firmware == GVD_FIRMWARE_EFI)
    prop (os, "firmware", "efi");
  node = text_child (os, NULL, "type", "hvm");
  prop (node, "arch", "x86_64");
  prop (node, "machine", "q35");
  if (spec->firmware == GVD_FIRMWARE_EFI)
    {
      /* Secure boot off: the NVIDIA driver cloud-init installs (DKMS) is
       * unsigned, and direct kernel boot bypasses shim. OVMF without
       * enrolled keys boots anything. */
      static const char *const off[] = { "enrolled-keys", "secure-boot" };

      node = child (os, NULL, "firmware");
      for (gsize i = 0; i < G_N_ELEMENTS (off); i++)
        {
          xmlNodePtr feature = child (node, NULL, "feature");
          prop (feature, "enabled", "no");
          prop (feature, "name", off[i]);
        }
    }
  if (spec->kernel != NULL)
    {
      if (!gvd_domain_xml_check_path ("kernel", spec->kernel, error)
          || (spec->initrd != NULL && !gvd_domain_xml_check_path ("initrd", spec->initrd, error))
          || !gvd_domain_xml_check_opt_text ("cmdline", spec->cmdline, 4096, error))
        return FALSE;
      text_child (os, NULL, "kernel", spec->kernel);
      if (spec->initrd != NULL)
        text_child (os, NULL, "initrd", spec->initrd);
      if (spec->cmdline != NULL)
        text_child (os, NULL, "cmdline", spec->cmdline);
    }
  else if (spec->initrd != NULL || spec->cmdline != NULL)
    INVALID ("initrd and cmdline need a kernel");

  /* UEFI on q35 needs ACPI; APIC for SMP. */
  node = child (domain, NULL, "features");
  child (node, NULL, "acpi");
  child (node, NULL, "apic");

  cpu = child (domain, NULL, "cpu");
  if (spec->kvm)
    {
      prop (cpu, "mode", "host-passthrough");
      prop (cpu, "check", "none");
      prop (cpu, "migratable", "on");
    }
  else
    {
      /* TCG: a named, migratable model every QEMU has. */
      prop (cpu, "mode", "custom");
      prop (cpu, "match", "exact");
      prop (cpu, "check", "none");
      node = text_child (cpu, NULL, "model", "qemu64");
      prop (node, "fallback", "forbid");
    }
  node = child (cpu, NULL, "topology");
  propf (node, "sockets", "%u", sockets);
  propf (node, "dies", "%u", 1u);
  propf (node, "cores", "%u", cores);
  propf (node, "threads", "%u", threads);
  if (spec->mmio64_mib > 0)
    {
      /* Large BARs sit above RAM: the guest must see enough physical
       * address bits. KVM: the host's; TCG: emulate what the aperture needs
       * (QEMU 7.2 TCG takes phys-bits up to 52). */
      node = child (cpu, NULL, "maxphysaddr");
      if (spec->kvm)
        prop (node, "mode", "passthrough");
      else
        {
          prop (node, "mode", "emulate");
          propf (node, "bits", "%u",
                 gvd_domain_xml_phys_bits_for (spec->memory_mib, spec->mmio64_mib));
        }
    }

  prop (child (domain, NULL, "clock"), "offset", "utc");
  text_child (domain, NULL, "on_poweroff", "destroy");
  if (spec->on_reboot != NULL)
    {
      /* What libvirt's QEMU driver accepts (preserve and rename-restart
       * are refused at define). */
      static const char *const ok[] = { "destroy", "restart", NULL };
      if (!g_strv_contains (ok, spec->on_reboot))
        INVALID ("on_reboot '%s' is not destroy or restart", spec->on_reboot);
      text_child (domain, NULL, "on_reboot", spec->on_reboot);
    }
  if (spec->on_crash != NULL)
    {
      static const char *const ok[] = { "destroy", "restart", "preserve", "coredump-destroy",
                                        "coredump-restart", NULL };
      if (!g_strv_contains (ok, spec->on_crash))
        INVALID ("on_crash '%s' is not a libvirt crash action", spec->on_crash);
      text_child (domain, NULL, "on_crash", spec->on_crash);
    }
  return TRUE;
}

static gboolean
check_disk (Render *r, const GvdDiskSpec *d, guint index, GError **error)
{
  g_autofree char *what = g_strdup_printf ("disk %u", index);

  switch (d->type)
    {
    case GVD_DISK_VOLUME:
      if (!gvd_domain_xml_check_object_name ("disk pool", d->pool, error)
          || !gvd_domain_xml_check_object_name ("disk volume", d->volume, error))
        return FALSE;
      break;
    case GVD_DISK_FILE:
      if (!gvd_domain_xml_check_path ("disk path", d->path, error))
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
  if (d->iothread > 0 && d->iothread > r->spec->iothreads)
    INVALID ("%s: iothread %u but the domain has %u", what, d->iothread, r->spec->iothreads);
  if (d->iothread > 0 && d->bus == GVD_DISK_BUS_SATA)
    INVALID ("%s: SATA disks cannot use an iothread", what);
  if (d->iothread > 0 && d->bus == GVD_DISK_BUS_SCSI)
    {
      /* virtio-scsi disks share their controller's iothread. */
      if (r->scsi_iothread != 0 && r->scsi_iothread != d->iothread)
        INVALID ("%s: SCSI disks share one controller and one iothread", what);
      r->scsi_iothread = d->iothread;
    }
  if (d->readonly && d->bus == GVD_DISK_BUS_SATA)
    INVALID ("%s: libvirt does not support read-only SATA disks", what);
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
      if (!g_hash_table_add (r->targets, g_strdup (d->target)))
        INVALID ("%s: target '%s' used twice", what, d->target);
    }
  r->any_scsi |= d->bus == GVD_DISK_BUS_SCSI;
  return TRUE;
}

static void
render_disk (Render *r, xmlNodePtr devices, const GvdDiskSpec *d)
{
  static const char *const types[] = { "volume", "file", "network", "network" };
  xmlNodePtr disk = child (devices, NULL, "disk");
  xmlNodePtr node, source;
  g_autofree char *target = d->target != NULL ? g_strdup (d->target) : next_target (r, d->bus);

  prop (disk, "type", types[d->type]);
  prop (disk, "device", "disk");
  node = child (disk, NULL, "driver");
  prop (node, "name", "qemu");
  prop (node, "type", d->format != NULL ? d->format : "raw");
  if (gvd_disk_cache_to_string (d->cache) != NULL)
    prop (node, "cache", gvd_disk_cache_to_string (d->cache));
  if (gvd_disk_io_to_string (d->io) != NULL)
    prop (node, "io", gvd_disk_io_to_string (d->io));
  if (d->iothread > 0 && d->bus == GVD_DISK_BUS_VIRTIO)
    propf (node, "iothread", "%u", d->iothread);

  source = child (disk, NULL, "source");
  switch (d->type)
    {
    case GVD_DISK_VOLUME:
      prop (source, "pool", d->pool);
      prop (source, "volume", d->volume);
      break;
    case GVD_DISK_FILE:
      prop (source, "file", d->path);
      break;
    case GVD_DISK_NBD:
    case GVD_DISK_RBD:
    default:
      prop (source, "protocol", d->type == GVD_DISK_NBD ? "nbd" : "rbd");
      if (d->source_name != NULL)
        prop (source, "name", d->source_name);
      if (d->host != NULL)
        {
          node = child (source, NULL, "host");
          prop (node, "name", d->host);
          if (d->port > 0)
            propf (node, "port", "%u", d->port);
        }
      if (d->auth_username != NULL)
        {
          node = child (source, NULL, "auth");
          prop (node, "username", d->auth_username);
          node = child (node, NULL, "secret");
          prop (node, "type", "ceph");
          prop (node, "uuid", d->secret_uuid);
        }
      break;
    }
  node = child (disk, NULL, "target");
  prop (node, "dev", target);
  prop (node, "bus", gvd_disk_bus_to_string (d->bus));
  if (d->boot_order > 0)
    propf (child (disk, NULL, "boot"), "order", "%u", d->boot_order);
  if (d->readonly)
    child (disk, NULL, "readonly");
}

static gboolean
render_disks (Render *r, xmlNodePtr devices, GError **error)
{
  const GvdInstanceSpec *spec = r->spec;
  g_autoptr(GHashTable) boot = g_hash_table_new (NULL, NULL);

  if (spec->disks->len == 0)
    INVALID ("an instance needs a root disk");
  if (spec->disks->len > GVD_DOMAIN_XML_MAX_DISKS)
    INVALID ("more than %d disks", GVD_DOMAIN_XML_MAX_DISKS);
  for (guint i = 0; i < spec->disks->len; i++)
    {
      const GvdDiskSpec *d = g_ptr_array_index (spec->disks, i);

      if (!check_disk (r, d, i, error))
        return FALSE;
      if (d->boot_order > 0 && !g_hash_table_add (boot, GUINT_TO_POINTER (d->boot_order)))
        INVALID ("boot order %u used twice", d->boot_order);
    }
  /* Explicit targets are reserved above; now hand out the rest in order. */
  for (guint i = 0; i < spec->disks->len; i++)
    render_disk (r, devices, g_ptr_array_index (spec->disks, i));

  if ((spec->seed_pool == NULL) != (spec->seed_volume == NULL))
    INVALID ("the seed ISO needs both a pool and a volume");
  if (spec->seed_pool != NULL)
    {
      xmlNodePtr disk, node;
      g_autofree char *target = NULL;

      if (!gvd_domain_xml_check_object_name ("seed pool", spec->seed_pool, error)
          || !gvd_domain_xml_check_object_name ("seed volume", spec->seed_volume, error))
        return FALSE;
      target = next_target (r, GVD_DISK_BUS_SATA);
      disk = child (devices, NULL, "disk");
      prop (disk, "type", "volume");
      prop (disk, "device", "cdrom");
      node = child (disk, NULL, "driver");
      prop (node, "name", "qemu");
      prop (node, "type", "raw");
      node = child (disk, NULL, "source");
      prop (node, "pool", spec->seed_pool);
      prop (node, "volume", spec->seed_volume);
      node = child (disk, NULL, "target");
      prop (node, "dev", target);
      prop (node, "bus", "sata");
      child (disk, NULL, "readonly");
    }
  return TRUE;
}

/* One pcie-root-port per guest device group: index = group + 1, so the
 * group's functions live on bus group + 1, slot 0. */
static gboolean
render_controllers (Render *r, xmlNodePtr devices, GError **error)
{
  const GvdInstanceSpec *spec = r->spec;
  xmlNodePtr node;

  node = child (devices, NULL, "controller");
  prop (node, "type", "pci");
  prop (node, "index", "0");
  prop (node, "model", "pcie-root");
  if (spec->mmio64_mib > 0)
    {
      /* Reaches QEMU as -global q35-pcihost.pci-hole64-size=...K: the
       * 64-bit window QEMU's ACPI tables describe (see the fw_cfg note in
       * gvd_domain_xml_render for what the firmware does). */
      node = text_childf (node, NULL, "pcihole64", "%" G_GUINT64_FORMAT, spec->mmio64_mib * 1024);
      prop (node, "unit", "KiB");
    }
  for (guint g = 0; g < r->n_groups; g++)
    {
      node = child (devices, NULL, "controller");
      prop (node, "type", "pci");
      propf (node, "index", "%u", g + 1);
      prop (node, "model", "pcie-root-port");
    }
  if (r->any_scsi)
    {
      node = child (devices, NULL, "controller");
      prop (node, "type", "scsi");
      prop (node, "index", "0");
      prop (node, "model", "virtio-scsi");
      if (r->scsi_iothread > 0)
        propf (child (node, NULL, "driver"), "iothread", "%u", r->scsi_iothread);
    }
  return TRUE;
}

static gboolean
render_shares (Render *r, xmlNodePtr devices, GError **error)
{
  const GvdInstanceSpec *spec = r->spec;
  g_autoptr(GHashTable) tags = g_hash_table_new (g_str_hash, g_str_equal);

  if (spec->shares->len > GVD_DOMAIN_XML_MAX_SHARES)
    INVALID ("more than %d shares", GVD_DOMAIN_XML_MAX_SHARES);
  for (guint i = 0; i < spec->shares->len; i++)
    {
      const GvdShareSpec *s = g_ptr_array_index (spec->shares, i);
      xmlNodePtr fs, node;

      /* 9p mount tags are at most 31 bytes, virtiofs tags 36. */
      if (!gvd_domain_xml_check_token ("share tag", s->tag, 31, "._-", error)
          || !gvd_domain_xml_check_path ("share source", s->source_dir, error))
        return FALSE;
      if (!g_hash_table_add (tags, s->tag))
        INVALID ("share tag '%s' used twice", s->tag);
      if (s->virtiofs && s->readonly)
        INVALID ("share '%s': libvirt 9.0 has no read-only virtiofs", s->tag);
      fs = child (devices, NULL, "filesystem");
      prop (fs, "type", "mount");
      /* virtiofs only knows passthrough; 9p 'mapped' keeps guest
       * ownership in xattrs instead of chown()ing host files. */
      prop (fs, "accessmode", s->virtiofs ? "passthrough" : "mapped");
      if (s->virtiofs)
        prop (child (fs, NULL, "driver"), "type", "virtiofs");
      node = child (fs, NULL, "source");
      prop (node, "dir", s->source_dir);
      node = child (fs, NULL, "target");
      prop (node, "dir", s->tag);
      if (s->readonly)
        child (fs, NULL, "readonly");
    }
  return TRUE;
}

static gboolean
render_nics (Render *r, xmlNodePtr devices, GError **error)
{
  const GvdInstanceSpec *spec = r->spec;
  g_autoptr(GHashTable) macs = g_hash_table_new (g_str_hash, g_str_equal);

  if (spec->nics->len > GVD_DOMAIN_XML_MAX_NICS)
    INVALID ("more than %d NICs", GVD_DOMAIN_XML_MAX_NICS);
  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);
      xmlNodePtr iface;

      if (!gvd_domain_xml_check_mac ("NIC MAC", nic->mac, error))
        return FALSE;
      if (!g_hash_table_add (macs, nic->mac))
        INVALID ("MAC %s used twice", nic->mac);
      iface = child (devices, NULL, "interface");
      switch (nic->mode)
        {
        case GVD_NETWORK_USER:
          prop (iface, "type", "user");
          break;
        case GVD_NETWORK_BRIDGE:
        case GVD_NETWORK_NETWORK:
          if (!gvd_domain_xml_check_token ("NIC source", nic->source, 64, "._-:", error))
            return FALSE;
          prop (iface, "type", nic->mode == GVD_NETWORK_BRIDGE ? "bridge" : "network");
          break;
        default:
          INVALID ("NIC %u: unknown network mode", i);
        }
      prop (child (iface, NULL, "mac"), "address", nic->mac);
      if (nic->mode != GVD_NETWORK_USER)
        prop (child (iface, NULL, "source"), nic->mode == GVD_NETWORK_BRIDGE ? "bridge" : "network",
              nic->source);
      prop (child (iface, NULL, "model"), "type", "virtio");
    }
  return TRUE;
}

static gboolean
render_consoles (Render *r, xmlNodePtr devices, GError **error)
{
  const GvdInstanceSpec *spec = r->spec;
  xmlNodePtr node, target;

  node = child (devices, NULL, "serial");
  prop (node, "type", "pty");
  if (spec->console_log != NULL)
    {
      xmlNodePtr log;
      if (!gvd_domain_xml_check_path ("console log", spec->console_log, error))
        return FALSE;
      /* virtlogd writes it: survives daemon restarts, rotated by virtlogd. */
      log = child (node, NULL, "log");
      prop (log, "file", spec->console_log);
      prop (log, "append", "on");
    }
  target = child (node, NULL, "target");
  prop (target, "type", "isa-serial");
  prop (target, "port", "0");
  prop (child (target, NULL, "model"), "name", "isa-serial");
  node = child (devices, NULL, "console");
  prop (node, "type", "pty");
  target = child (node, NULL, "target");
  prop (target, "type", "serial");
  prop (target, "port", "0");

  node = child (devices, NULL, "channel");
  prop (node, "type", "unix");
  target = child (node, NULL, "target");
  prop (target, "type", "virtio");
  prop (target, "name", "org.qemu.guest_agent.0");

  if (spec->vnc)
    {
      /* A unix socket in the domain's private directory (libvirt picks the
       * path), never a TCP port: on 127.0.0.1 every local user and, through
       * user-mode networking's 10.0.2.2, every guest could reach it. */
      node = child (devices, NULL, "graphics");
      prop (node, "type", "vnc");
      if (spec->vnc_password != NULL)
        {
          /* The VNC protocol uses 8 bytes of it: refuse rather than truncate. */
          if (!gvd_domain_xml_check_text ("VNC password", spec->vnc_password, 8, error))
            return FALSE;
          for (const char *p = spec->vnc_password; *p != '\0'; p++)
            if (*p <= ' ' || *p > '~')
              INVALID ("VNC password: printable ASCII without spaces only");
          prop (node, "passwd", spec->vnc_password);
        }
      target = child (node, NULL, "listen");
      prop (target, "type", "socket");
      node = child (child (devices, NULL, "video"), NULL, "model");
      prop (node, "type", "vga");
    }
  else if (spec->vnc_password != NULL)
    INVALID ("a VNC password without VNC");
  return TRUE;
}

/* Checks the plan's hostdevs: known groups 0..n-1, each with a function 0,
 * no (group, function) twice, no host device twice. */
static gboolean
check_hostdevs (Render *r, GError **error)
{
  const GPtrArray *hostdevs = r->spec->hostdevs;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint32 has_function[GVD_DOMAIN_XML_MAX_GROUPS] = { 0 };

  if (hostdevs->len > GVD_DOMAIN_XML_MAX_HOSTDEVS)
    INVALID ("more than %d hostdevs", GVD_DOMAIN_XML_MAX_HOSTDEVS);
  r->n_groups = 0;
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
      r->n_groups = MAX (r->n_groups, h->guest_bus + 1);
    }
  for (guint g = 0; g < r->n_groups; g++)
    if ((has_function[g] & 1) == 0)
      INVALID ("guest group %u has no function 0 (the guest would not see it)", g);
  return TRUE;
}

static gboolean
group_is_multifunction (Render *r, guint group)
{
  guint n = 0;

  for (guint i = 0; i < r->spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (r->spec->hostdevs, i);
      if (h->guest_bus == group && (++n > 1 || h->multifunction))
        return TRUE;
    }
  return FALSE;
}

static void
render_hostdevs (Render *r, xmlNodePtr devices)
{
  for (guint i = 0; i < r->spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (r->spec->hostdevs, i);
      xmlNodePtr hd = child (devices, NULL, "hostdev");
      xmlNodePtr source, node;
      g_autofree char *alias = g_strdup_printf ("ua-hostdev%u", i);

      prop (hd, "mode", "subsystem");
      if (h->mdev_uuid != NULL)
        {
          prop (hd, "type", "mdev");
          prop (hd, "model", "vfio-pci");
          source = child (hd, NULL, "source");
          prop (child (source, NULL, "address"), "uuid", h->mdev_uuid);
        }
      else
        {
          guint d = 0, b = 0, s = 0, f = 0;

          gvd_pci_address_parse (h->host_address, &d, &b, &s, &f);
          prop (hd, "type", "pci");
          /* libvirt binds vfio-pci at start and the host driver at stop. */
          prop (hd, "managed", "yes");
          /* VFIO is the only backend; naming it lets libvirt turn the domain
           * into a QEMU command line (virConnectDomainXMLToNative) without
           * probing the host device. */
          prop (child (hd, NULL, "driver"), "name", "vfio");
          source = child (hd, NULL, "source");
          node = child (source, NULL, "address");
          propf (node, "domain", "0x%04x", d);
          propf (node, "bus", "0x%02x", b);
          propf (node, "slot", "0x%02x", s);
          propf (node, "function", "0x%x", f);
        }
      prop (child (hd, NULL, "alias"), "name", alias);
      pci_address (hd, h->guest_bus + 1, 0, h->guest_function,
                   h->guest_function == 0 && group_is_multifunction (r, h->guest_bus));

      if (h->clique >= 0)
        {
          /* NVIDIA GPUDirect P2P between passed-through GPUs: QEMU's vfio-pci
           * advertises the clique in the GPU's config space. libvirt has no
           * element for it, only a per-device property override. */
          xmlNodePtr dev, prop_node;

          if (r->qemu_override == NULL)
            r->qemu_override = xmlNewNode (r->qemu_ns, BAD_CAST "override");
          dev = child (r->qemu_override, r->qemu_ns, "device");
          prop (dev, "alias", alias);
          prop_node = child (child (dev, r->qemu_ns, "frontend"), r->qemu_ns, "property");
          prop (prop_node, "name", "x-nv-gpudirect-clique");
          prop (prop_node, "type", "unsigned");
          propf (prop_node, "value", "%d", h->clique);
        }
    }
}

char *
gvd_domain_xml_render (const GvdInstanceSpec *spec, GError **error)
{
  g_auto(Render) r = { 0 };
  g_autoptr(xmlDoc) doc = NULL;
  xmlNodePtr domain, devices;
  gboolean need_qemu = FALSE;
  xmlChar *mem = NULL;
  int size = 0;
  char *out;

  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gvd_domain_xml_init ();
  r.spec = spec;
  r.targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (!gvd_domain_xml_check_token ("instance name", spec->name, GVD_INSTANCE_NAME_MAX, "-_.", error)
      || !gvd_domain_xml_check_token ("domain name", spec->domain_name, 128, "-_.", error)
      || !gvd_domain_xml_check_uuid ("uuid", spec->uuid, error))
    return NULL;
  if (spec->firmware != GVD_FIRMWARE_EFI && spec->firmware != GVD_FIRMWARE_BIOS)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "unknown firmware");
      return NULL;
    }
  if (spec->heartbeat_interval > 86400)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "heartbeat interval too long");
      return NULL;
    }
  if (!check_hostdevs (&r, error))
    return NULL;

  doc = xmlNewDoc (BAD_CAST "1.0");
  domain = xmlNewDocNode (doc, NULL, BAD_CAST "domain", NULL);
  xmlDocSetRootElement (doc, domain);
  prop (domain, "type", spec->kvm ? "kvm" : "qemu");
  /* The qemu namespace only when something needs it. */
  for (guint i = 0; i < spec->hostdevs->len; i++)
    need_qemu |= ((GvdHostdevSpec *) g_ptr_array_index (spec->hostdevs, i))->clique >= 0;
  need_qemu |= spec->mmio64_mib > 0 && spec->firmware == GVD_FIRMWARE_EFI;
  if (need_qemu)
    r.qemu_ns = xmlNewNs (domain, BAD_CAST QEMU_NS, BAD_CAST "qemu");

  text_child (domain, NULL, "name", spec->domain_name);
  text_child (domain, NULL, "uuid", spec->uuid);
  if (!render_metadata (&r, domain, error) || !render_machine (&r, domain, error))
    return NULL;

  devices = child (domain, NULL, "devices");
  if (!render_disks (&r, devices, error) || !render_controllers (&r, devices, error)
      || !render_shares (&r, devices, error) || !render_nics (&r, devices, error)
      || !render_consoles (&r, devices, error))
    return NULL;
  render_hostdevs (&r, devices);
  /* VFIO pins all guest RAM: a balloon could never return any. */
  prop (child (devices, NULL, "memballoon"), "model", "none");

  if (spec->mmio64_mib > 0 && spec->firmware == GVD_FIRMWARE_EFI)
    {
      /* Where the 64-bit aperture comes from, measured here (libvirt 9.0,
       * QEMU 7.2, Debian OVMF 2022.11; a Linux guest with a 64 GiB
       * ivshmem BAR, TCG, 40 phys bits):
       * - default: OVMF sizes the window from the guest's phys bits (1/8 of
       *   the address space at its top: 128 GiB at 0xe000000000);
       * - opt/ovmf/X-PciMmio64Mb=N: OVMF honours it, an N MiB window right
       *   above RAM (the BAR moved to 0x2000000000);
       * - pci-hole64-size (<pcihole64>): only widens the window QEMU's ACPI
       *   _CRS describes; OVMF's placement does not change.
       * So the size OVMF uses is pinned here, and <maxphysaddr> makes sure
       * the guest can address it. libvirt refuses opt/ovmf/ names in
       * <sysinfo type='fwcfg'> ("That firmware name is reserved"), hence
       * QEMU's command line (libvirt marks the domain "custom-argv"). */
      xmlNodePtr arg;

      r.qemu_commandline = xmlNewChild (domain, r.qemu_ns, BAD_CAST "commandline", NULL);
      arg = child (r.qemu_commandline, r.qemu_ns, "arg");
      prop (arg, "value", "-fw_cfg");
      arg = child (r.qemu_commandline, r.qemu_ns, "arg");
      propf (arg, "value", "name=opt/ovmf/X-PciMmio64Mb,string=%" G_GUINT64_FORMAT,
             spec->mmio64_mib);
    }
  if (r.qemu_override != NULL)
    xmlAddChild (domain, r.qemu_override);

  xmlDocDumpFormatMemoryEnc (doc, &mem, &size, "UTF-8", 1);
  if (mem == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "cannot serialise the domain XML");
      return NULL;
    }
  out = g_strndup ((const char *) mem, (gsize) size);
  xmlFree (mem);
  return out;
}
