/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instance spec → libvirt domain XML (libxml2 tree). The spec is validated
 * first (domain-xml-validate.c), so no section here can fail. */
#include "config.h"

#include "domain-xml.h"
#include "domain-xml-compat.h"
#include "pci-address.h"

#include <string.h>
#include <gio/gio.h>
#include <libxml/tree.h>

#include "domain-xml-priv.h"
#include "errors.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

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
  GvdDomainLayout layout;      /* from validation */
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

static void
render_metadata (Render *r, xmlNodePtr domain)
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
    text_child (inst, ns, "created-at", spec->created_at);
  if (spec->image != NULL)
    text_child (inst, ns, "image", spec->image);
  if (spec->root_size_bytes > 0)
    text_childf (inst, ns, "root-size-bytes", "%" G_GUINT64_FORMAT, spec->root_size_bytes);
  text_child (inst, ns, "firmware", spec->firmware == GVD_FIRMWARE_BIOS ? "bios" : "efi");

  node = child (inst, ns, "request");
  propf (node, "gpus", "%u", spec->requested_gpus);
  if (spec->requested_model != NULL)
    prop (node, "model", spec->requested_model);
  for (gsize i = 0; spec->requested_devices != NULL && spec->requested_devices[i] != NULL; i++)
    text_child (node, ns, "device", spec->requested_devices[i]);

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
        prop (e, "ipv4", nic->ipv4);
      if (nic->gateway != NULL)
        prop (e, "gateway", nic->gateway);
      for (gsize j = 0; nic->dns != NULL && nic->dns[j] != NULL; j++)
        text_child (e, ns, "dns", nic->dns[j]);
    }

  node = child (inst, ns, "labels");
  if (spec->labels != NULL)
    {
      g_autofree gpointer *keys = NULL;
      guint n;

      /* Sorted: golden files need one order. */
      keys = g_hash_table_get_keys_as_array (spec->labels, &n);
      qsort (keys, n, sizeof (gpointer), compare_strings);
      for (guint i = 0; i < n; i++)
        {
          const char *value = g_hash_table_lookup (spec->labels, keys[i]);
          xmlNodePtr e;

          e = text_child (node, ns, "label", value != NULL ? value : "");
          prop (e, "key", keys[i]);
        }
    }
  gvd_domain_xml_render_compat (inst, ns, spec);

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
}

static void
render_machine (Render *r, xmlNodePtr domain)
{
  const GvdInstanceSpec *spec = r->spec;
  gboolean virtiofs = FALSE;
  guint sockets = spec->sockets, cores = spec->cores, threads = spec->threads;
  xmlNodePtr node, os, cpu;

  if (sockets == 0 && cores == 0 && threads == 0)
    {
      sockets = 1;
      cores = spec->vcpus;
      threads = 1;
    }

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
    prop (node, "cpuset", spec->cpuset);
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
      text_child (os, NULL, "kernel", spec->kernel);
      if (spec->initrd != NULL)
        text_child (os, NULL, "initrd", spec->initrd);
      if (spec->cmdline != NULL)
        text_child (os, NULL, "cmdline", spec->cmdline);
    }

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
    text_child (domain, NULL, "on_reboot", spec->on_reboot);
  if (spec->on_crash != NULL)
    text_child (domain, NULL, "on_crash", spec->on_crash);
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

static void
render_disks (Render *r, xmlNodePtr devices)
{
  const GvdInstanceSpec *spec = r->spec;

  /* Explicit targets first (validation made them unique); then hand out
   * the rest in order. */
  for (guint i = 0; i < spec->disks->len; i++)
    {
      const GvdDiskSpec *d = g_ptr_array_index (spec->disks, i);
      if (d->target != NULL)
        g_hash_table_add (r->targets, g_strdup (d->target));
    }
  for (guint i = 0; i < spec->disks->len; i++)
    render_disk (r, devices, g_ptr_array_index (spec->disks, i));

  if (spec->seed_pool != NULL)
    {
      xmlNodePtr disk, node;
      g_autofree char *target = NULL;

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
}

/* One pcie-root-port per guest device group: index = group + 1, so the
 * group's functions live on bus group + 1, slot 0. */
static void
render_controllers (Render *r, xmlNodePtr devices)
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
  for (guint g = 0; g < r->layout.n_groups; g++)
    {
      node = child (devices, NULL, "controller");
      prop (node, "type", "pci");
      propf (node, "index", "%u", g + 1);
      prop (node, "model", "pcie-root-port");
    }
  if (r->layout.any_scsi)
    {
      node = child (devices, NULL, "controller");
      prop (node, "type", "scsi");
      prop (node, "index", "0");
      prop (node, "model", "virtio-scsi");
      if (r->layout.scsi_iothread > 0)
        propf (child (node, NULL, "driver"), "iothread", "%u", r->layout.scsi_iothread);
    }
}

static void
render_shares (Render *r, xmlNodePtr devices)
{
  const GvdInstanceSpec *spec = r->spec;

  for (guint i = 0; i < spec->shares->len; i++)
    {
      const GvdShareSpec *s = g_ptr_array_index (spec->shares, i);
      xmlNodePtr fs, node;

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
}

static void
render_nics (Render *r, xmlNodePtr devices)
{
  const GvdInstanceSpec *spec = r->spec;

  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);
      xmlNodePtr iface;

      iface = child (devices, NULL, "interface");
      switch (nic->mode)
        {
        case GVD_NETWORK_BRIDGE:
        case GVD_NETWORK_NETWORK:
          prop (iface, "type", nic->mode == GVD_NETWORK_BRIDGE ? "bridge" : "network");
          break;
        case GVD_NETWORK_USER:
        default:
          prop (iface, "type", "user");
          break;
        }
      prop (child (iface, NULL, "mac"), "address", nic->mac);
      if (nic->mode != GVD_NETWORK_USER)
        prop (child (iface, NULL, "source"), nic->mode == GVD_NETWORK_BRIDGE ? "bridge" : "network",
              nic->source);
      prop (child (iface, NULL, "model"), "type", "virtio");
    }
}

static void
render_consoles (Render *r, xmlNodePtr devices)
{
  const GvdInstanceSpec *spec = r->spec;
  xmlNodePtr node, target;

  node = child (devices, NULL, "serial");
  prop (node, "type", "pty");
  if (spec->console_log != NULL)
    {
      xmlNodePtr log;

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
        prop (node, "passwd", spec->vnc_password);
      target = child (node, NULL, "listen");
      prop (target, "type", "socket");
      node = child (child (devices, NULL, "video"), NULL, "model");
      prop (node, "type", "vga");
    }
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

  if (!gvd_domain_xml_validate_layout (spec, &r.layout, error))
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
  render_metadata (&r, domain);
  render_machine (&r, domain);

  devices = child (domain, NULL, "devices");
  render_disks (&r, devices);
  render_controllers (&r, devices);
  render_shares (&r, devices);
  render_nics (&r, devices);
  render_consoles (&r, devices);
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
