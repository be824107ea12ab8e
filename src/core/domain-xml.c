/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instance spec → libvirt domain XML (libxml2 tree). The spec is validated
 * first (domain-xml-validate.c), so no section here can fail. */
#include "config.h"

#include "domain-xml.h"
#include "domain-xml-compat.h"
#include "domain-xml-disks.h"
#include "pci-address.h"

#include <string.h>
#include <gio/gio.h>
#include <libxml/tree.h>

#include "domain-xml-forward.h"
#include "domain-xml-render.h"
#include "errors.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
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
    gvd_domain_xml_render_nic_meta (node, ns, g_ptr_array_index (spec->nics, i));

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
  gvd_domain_xml_render_disk_meta (inst, ns, spec);

  if (spec->kernel != NULL)
    {
      node = child (inst, ns, "kernel-boot");
      text_child (node, ns, "kernel", spec->kernel);
      if (spec->initrd != NULL)
        text_child (node, ns, "initrd", spec->initrd);
      if (spec->cmdline != NULL)
        text_child (node, ns, "cmdline", spec->cmdline);
    }

  /* Where cloud-init mounts each share: the guest's side, which the
   * <filesystem> elements do not carry. */
  node = NULL;
  for (guint i = 0; i < spec->shares->len; i++)
    {
      const GvdShareSpec *s = g_ptr_array_index (spec->shares, i);
      xmlNodePtr e;

      if (s->mount_point == NULL)
        continue;
      if (node == NULL)
        node = child (inst, ns, "shares");
      e = child (node, ns, "share");
      prop (e, "tag", s->tag);
      prop (e, "mount-point", s->mount_point);
    }

  node = child (inst, ns, "agent");
  propf (node, "heartbeat-interval", "%u", spec->heartbeat_interval);
}

void
gvd_domain_xml_render_nic_meta (xmlNodePtr nics, xmlNsPtr ns, const GvdNicSpec *nic)
{
  xmlNodePtr e = child (nics, ns, "nic");

  prop (e, "mac", nic->mac);
  if (nic->ipv4 != NULL)
    prop (e, "ipv4", nic->ipv4);
  if (nic->gateway != NULL)
    prop (e, "gateway", nic->gateway);
  for (gsize j = 0; nic->dns != NULL && nic->dns[j] != NULL; j++)
    text_child (e, ns, "dns", nic->dns[j]);
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
  if (spec->hugepage_kib != 0 || virtiofs)
    {
      node = child (domain, NULL, "memoryBacking");
      if (spec->hugepage_kib != 0)
        {
          xmlNodePtr page = child (child (node, NULL, "hugepages"), NULL, "page");

          propf (page, "size", "%u", spec->hugepage_kib);
          prop (page, "unit", "KiB");
        }
      if (virtiofs)
        {
          /* vhost-user (virtiofsd) maps guest RAM: it must be shared.
           * Hugepages are a hugetlbfs file, shareable as they are; without
           * them the RAM is a memfd. */
          if (spec->hugepage_kib == 0)
            prop (child (node, NULL, "source"), "type", "memfd");
          prop (child (node, NULL, "access"), "mode", "shared");
        }
    }

  node = text_childf (domain, NULL, "vcpu", "%u", spec->vcpus);
  prop (node, "placement", "static");
  if (spec->iothreads > 0)
    text_childf (domain, NULL, "iothreads", "%u", spec->iothreads);
  gvd_domain_xml_render_cputune (domain, spec);
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
  for (guint i = 0; i < spec->nics->len; i++)
    need_qemu |= gvd_domain_xml_nic_forwards (g_ptr_array_index (spec->nics, i));
  if (need_qemu)
    r.qemu_ns = xmlNewNs (domain, BAD_CAST QEMU_NS, BAD_CAST "qemu");

  text_child (domain, NULL, "name", spec->domain_name);
  text_child (domain, NULL, "uuid", spec->uuid);
  render_metadata (&r, domain);
  render_machine (&r, domain);

  devices = child (domain, NULL, "devices");
  gvd_domain_xml_render_devices (&r, devices);
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

      if (r.qemu_commandline == NULL)
        r.qemu_commandline = xmlNewNode (r.qemu_ns, BAD_CAST "commandline");
      arg = child (r.qemu_commandline, r.qemu_ns, "arg");
      prop (arg, "value", "-fw_cfg");
      arg = child (r.qemu_commandline, r.qemu_ns, "arg");
      propf (arg, "value", "name=opt/ovmf/X-PciMmio64Mb,string=%" G_GUINT64_FORMAT,
             spec->mmio64_mib);
    }
  if (r.qemu_commandline != NULL)
    xmlAddChild (domain, r.qemu_commandline);
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
