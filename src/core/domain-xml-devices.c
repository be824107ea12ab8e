/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The <devices> of a rendered domain: disks, controllers, shares, NICs,
 * consoles and hostdevs. The spec was validated first, so nothing here fails. */
#include "config.h"

#include <string.h>

#include "domain-xml-forward.h"
#include "domain-xml-render.h"
#include "pci-address.h"

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

xmlNodePtr
gvd_domain_xml_render_disk (xmlNodePtr devices, const GvdDiskSpec *d, const char *target)
{
  static const char *const types[] = { "volume", "network", "network" };
  xmlNodePtr disk = child (devices, NULL, "disk");
  xmlNodePtr node, source;

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
  if (d->serial != NULL)
    text_child (disk, NULL, "serial", d->serial);
  return disk;
}

static void
render_disk (Render *r, xmlNodePtr devices, const GvdDiskSpec *d)
{
  g_autofree char *target = d->target != NULL ? g_strdup (d->target) : next_target (r, d->bus);

  gvd_domain_xml_render_disk (devices, d, target);
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

static gboolean
group_used (Render *r, guint group)
{
  for (guint i = 0; i < r->spec->hostdevs->len; i++)
    if (((const GvdHostdevSpec *) g_ptr_array_index (r->spec->hostdevs, i))->guest_bus == group)
      return TRUE;
  return FALSE;
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
      if (!group_used (r, g))
        continue; /* a gap: the port of a hot-plugged group is libvirt's */
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

/* <address type='pci' domain=… bus=… slot=… function=…/> of a host device. */
static void
host_pci_source (xmlNodePtr source, const char *host_address)
{
  guint d = 0, b = 0, s = 0, f = 0;
  xmlNodePtr node = child (source, NULL, "address");

  gvd_pci_address_parse (host_address, &d, &b, &s, &f);
  prop (node, "type", "pci");
  propf (node, "domain", "0x%04x", d);
  propf (node, "bus", "0x%02x", b);
  propf (node, "slot", "0x%02x", s);
  propf (node, "function", "0x%x", f);
}

xmlNodePtr
gvd_domain_xml_render_nic (xmlNodePtr devices, const GvdNicSpec *nic)
{
  xmlNodePtr iface = child (devices, NULL, "interface");

  switch (nic->mode)
    {
    case GVD_NETWORK_BRIDGE:
    case GVD_NETWORK_NETWORK:
      prop (iface, "type", nic->mode == GVD_NETWORK_BRIDGE ? "bridge" : "network");
      break;
    case GVD_NETWORK_SRIOV:
      /* An <interface>, not a plain <hostdev>: libvirt then sets the
       * MAC on the VF through its PF before handing it to vfio-pci, so
       * the guest's MAC is gpuvmd's lease and not whatever the VF had. */
      prop (iface, "type", "hostdev");
      prop (iface, "managed", "yes");
      break;
    case GVD_NETWORK_USER:
    default:
      prop (iface, "type", "user");
      break;
    }
  prop (child (iface, NULL, "mac"), "address", nic->mac);
  if (nic->mode == GVD_NETWORK_SRIOV)
    {
      prop (child (iface, NULL, "driver"), "name", "vfio");
      host_pci_source (child (iface, NULL, "source"), nic->device);
    }
  else if (nic->mode != GVD_NETWORK_USER)
    prop (child (iface, NULL, "source"), nic->mode == GVD_NETWORK_BRIDGE ? "bridge" : "network",
          nic->source);
  /* A VF runs its own driver in the guest. */
  if (nic->mode != GVD_NETWORK_SRIOV)
    prop (child (iface, NULL, "model"), "type", "virtio");
  return iface;
}

static void
render_nics (Render *r, xmlNodePtr devices)
{
  const GvdInstanceSpec *spec = r->spec;

  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);

      if (gvd_domain_xml_nic_forwards (nic))
        gvd_domain_xml_render_forward_nic (r, nic, i);
      else
        gvd_domain_xml_render_nic (devices, nic);
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

void
gvd_domain_xml_render_devices (Render *r, xmlNodePtr devices)
{
  render_disks (r, devices);
  render_controllers (r, devices);
  render_shares (r, devices);
  render_nics (r, devices);
  render_consoles (r, devices);
  render_hostdevs (r, devices);
}
