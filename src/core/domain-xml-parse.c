/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain XML (as libvirt returns it) → instance spec, for recovery. */
#include "config.h"

#include "domain-xml.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "domain-xml-forward.h"
#include "domain-xml-disks.h"
#include "domain-xml-priv.h"
#include "domain-xml-xpath.h"
#include "errors.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

#define INVALID(...)                                                          \
  G_STMT_START {                                                              \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__);   \
    return FALSE;                                                             \
  } G_STMT_END

/* ---- sections ------------------------------------------------------------------ */

static gboolean
parse_metadata (xmlXPathContextPtr ctx, xmlNodePtr inst, GvdInstanceSpec *spec, GError **error)
{
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func (g_free);
  xmlNodeSetPtr set;
  guint64 v;

  spec->name = gvd_xp_str (ctx, inst, "g:name");
  if (!gvd_domain_xml_check_text ("metadata name", spec->name, GVD_INSTANCE_NAME_MAX, error))
    return FALSE;
  spec->uuid = gvd_xp_str (ctx, inst, "g:uuid");
  spec->created_at = gvd_xp_str (ctx, inst, "g:created-at");
  spec->image = gvd_xp_str (ctx, inst, "g:image");
  if (!gvd_xp_num (ctx, inst, "g:root-size-bytes", G_MAXUINT64, 0, &spec->root_size_bytes, error))
    return FALSE;
  if (!gvd_xp_num (ctx, inst, "g:request/@gpus", GVD_DOMAIN_XML_MAX_HOSTDEVS, 0, &v, error))
    return FALSE;
  spec->requested_gpus = (guint) v;
  spec->requested_model = gvd_xp_str (ctx, inst, "g:request/@model");
  set = gvd_xp_nodes (ctx, inst, "g:request/g:device", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr && i < GVD_DOMAIN_XML_MAX_HOSTDEVS; i++)
    {
      char *device = gvd_xp_str (ctx, set->nodeTab[i], ".");
      if (device != NULL)
        g_ptr_array_add (devices, device);
    }
  if (devices->len > 0)
    {
      g_ptr_array_add (devices, NULL);
      spec->requested_devices = (char **) g_ptr_array_free (g_steal_pointer (&devices), FALSE);
    }
  g_clear_pointer (&obj, xmlXPathFreeObject);

  set = gvd_xp_nodes (ctx, inst, "g:labels/g:label", &obj);
  if (set != NULL)
    spec->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int i = 0; set != NULL && i < set->nodeNr && i < GVD_DOMAIN_XML_MAX_LABELS; i++)
    {
      char *key = gvd_xp_str (ctx, set->nodeTab[i], "@key");
      char *value = gvd_xp_str (ctx, set->nodeTab[i], ".");
      if (key == NULL)
        {
          g_free (value);
          continue;
        }
      g_hash_table_replace (spec->labels, key, value != NULL ? value : g_strdup (""));
    }
  if (!gvd_xp_num (ctx, inst, "g:agent/@heartbeat-interval", 86400, 10, &v, error))
    return FALSE;
  spec->heartbeat_interval = (guint) v;
  return TRUE;
}

/* <hugepages><page size='N' unit='U'/></hugepages>: one page size for all
 * of the guest's memory (gpuvmd renders exactly one <page>). A <hugepages/>
 * without a <page> (the host's default size, which gpuvmd never writes)
 * or in a unit gpuvmd never writes reads as 0: no size gpuvmd knows. */
static gboolean
parse_hugepage_size (xmlXPathContextPtr ctx, xmlNodePtr root, GvdInstanceSpec *spec,
                     GError **error)
{
  g_autofree char *unit = gvd_xp_str (ctx, root, "memoryBacking/hugepages/page[1]/@unit");
  guint64 size, scale = 1;

  if (!gvd_xp_num (ctx, root, "memoryBacking/hugepages/page[1]/@size", G_MAXUINT32, 0, &size,
                   error))
    return FALSE;
  if (unit == NULL || g_ascii_strcasecmp (unit, "KiB") == 0 || g_ascii_strcasecmp (unit, "k") == 0)
    scale = 1;
  else if (g_ascii_strcasecmp (unit, "MiB") == 0 || g_ascii_strcasecmp (unit, "M") == 0)
    scale = 1024;
  else if (g_ascii_strcasecmp (unit, "GiB") == 0 || g_ascii_strcasecmp (unit, "G") == 0)
    scale = 1024 * 1024;
  else
    size = 0; /* a unit gpuvmd never writes: the size is unknown */
  if (size * scale <= G_MAXUINT)
    spec->hugepage_kib = (guint) (size * scale);
  return TRUE;
}

static gboolean
parse_machine (xmlXPathContextPtr ctx, xmlNodePtr root, GvdInstanceSpec *spec, GError **error)
{
  g_autofree char *type = gvd_xp_str (ctx, root, "@type");
  g_autofree char *firmware = gvd_xp_str (ctx, root, "os/@firmware");
  g_autofree char *nodeset = gvd_xp_str (ctx, root, "numatune/memory/@nodeset");
  g_autofree char *uuid = gvd_xp_str (ctx, root, "uuid");
  guint64 v, k;

  spec->kvm = g_strcmp0 (type, "kvm") == 0;
  if (uuid != NULL)
    {
      /* The domain's own UUID wins over the metadata copy. */
      g_free (spec->uuid);
      spec->uuid = g_steal_pointer (&uuid);
    }
  spec->domain_name = gvd_xp_str (ctx, root, "name");
  if (!gvd_xp_kib (ctx, root, "memory", &k, error))
    return FALSE;
  spec->memory_mib = k / 1024;
  if (!gvd_xp_num (ctx, root, "vcpu", GVD_DOMAIN_XML_MAX_VCPUS, 1, &v, error))
    return FALSE;
  spec->vcpus = (guint) v;
  if (!gvd_xp_num (ctx, root, "cpu/topology/@sockets", GVD_DOMAIN_XML_MAX_VCPUS, 0, &v, error))
    return FALSE;
  spec->sockets = (guint) v;
  if (!gvd_xp_num (ctx, root, "cpu/topology/@cores", GVD_DOMAIN_XML_MAX_VCPUS, 0, &v, error))
    return FALSE;
  spec->cores = (guint) v;
  if (!gvd_xp_num (ctx, root, "cpu/topology/@threads", GVD_DOMAIN_XML_MAX_VCPUS, 0, &v, error))
    return FALSE;
  spec->threads = (guint) v;
  if (!gvd_domain_xml_parse_cputune (ctx, root, spec, error))
    return FALSE;
  if (gvd_xp_exists (ctx, root, "memoryBacking/hugepages")
      && !parse_hugepage_size (ctx, root, spec, error))
    return FALSE;
  spec->numa_node = -1;
  if (nodeset != NULL && g_ascii_string_to_unsigned (nodeset, 10, 0, 1023, &v, NULL))
    spec->numa_node = (int) v;
  if (!gvd_xp_num (ctx, root, "iothreads", GVD_DOMAIN_XML_MAX_IOTHREADS, 0, &v, error))
    return FALSE;
  spec->iothreads = (guint) v;
  if (gvd_xp_exists (ctx, root, "devices/controller[@type='pci'][@model='pcie-root']/pcihole64"))
    {
      if (!gvd_xp_kib (ctx, root, "devices/controller[@type='pci'][@model='pcie-root']/pcihole64", &k,
                error))
        return FALSE;
      spec->mmio64_mib = k / 1024;
    }
  spec->firmware = g_strcmp0 (firmware, "efi") == 0
                       || gvd_xp_exists (ctx, root, "os/loader[@type='pflash']")
                     ? GVD_FIRMWARE_EFI
                     : GVD_FIRMWARE_BIOS;
  spec->kernel = gvd_xp_str (ctx, root, "os/kernel");
  spec->initrd = gvd_xp_str (ctx, root, "os/initrd");
  spec->cmdline = gvd_xp_str (ctx, root, "os/cmdline");
  spec->console_log = gvd_xp_str (ctx, root, "devices/serial/log/@file");
  spec->vnc = gvd_xp_exists (ctx, root, "devices/graphics[@type='vnc']");
  return TRUE;
}

static gboolean
parse_disk (xmlXPathContextPtr ctx, xmlNodePtr root, xmlNodePtr node, GvdInstanceSpec *spec,
            GError **error)
{
  g_autoptr(GvdDiskSpec) d = gvd_disk_spec_new ();
  g_autofree char *type = gvd_xp_str (ctx, node, "@type");
  g_autofree char *device = gvd_xp_str (ctx, node, "@device");
  g_autofree char *protocol = gvd_xp_str (ctx, node, "source/@protocol");
  g_autofree char *bus = gvd_xp_str (ctx, node, "target/@bus");
  g_autofree char *cache = gvd_xp_str (ctx, node, "driver/@cache");
  g_autofree char *io = gvd_xp_str (ctx, node, "driver/@io");
  guint64 v;

  if (g_strcmp0 (device, "cdrom") == 0)
    {
      if (spec->seed_pool == NULL && g_strcmp0 (type, "volume") == 0)
        {
          spec->seed_pool = gvd_xp_str (ctx, node, "source/@pool");
          spec->seed_volume = gvd_xp_str (ctx, node, "source/@volume");
        }
      return TRUE;
    }
  if (device != NULL && strcmp (device, "disk") != 0)
    return TRUE;
  if (g_strcmp0 (type, "volume") == 0)
    {
      d->type = GVD_DISK_VOLUME;
      d->pool = gvd_xp_str (ctx, node, "source/@pool");
      d->volume = gvd_xp_str (ctx, node, "source/@volume");
    }
  else if (g_strcmp0 (type, "file") == 0
           && gvd_xp_exists (ctx, node, "descendant::backingStore[@type='volume']"))
    {
      /* A live snapshot leaves a running domain's root disk a file: its
       * top overlay, a volume of the pool its backing layers are in, named
       * as its file (instance-snapshot.c). */
      g_autofree char *file = gvd_xp_str (ctx, node, "source/@file");

      d->type = GVD_DISK_VOLUME;
      d->pool = gvd_xp_str (ctx, node, "descendant::backingStore[@type='volume'][1]/source/@pool");
      d->volume = file != NULL ? g_path_get_basename (file) : NULL;
    }
  else if (g_strcmp0 (type, "network") == 0
           && (g_strcmp0 (protocol, "nbd") == 0 || g_strcmp0 (protocol, "rbd") == 0))
    {
      d->type = strcmp (protocol, "nbd") == 0 ? GVD_DISK_NBD : GVD_DISK_RBD;
      d->source_name = gvd_xp_str (ctx, node, "source/@name");
      d->host = gvd_xp_str (ctx, node, "source/host/@name");
      if (!gvd_xp_num (ctx, node, "source/host/@port", 65535, 0, &v, error))
        return FALSE;
      d->port = (guint) v;
      /* libvirt accepts <auth> in <source> and, older style, in <disk>. */
      d->auth_username = gvd_xp_str (ctx, node, "(source/auth|auth)/@username");
      d->secret_uuid = gvd_xp_str (ctx, node, "(source/auth|auth)/secret/@uuid");
    }
  else
    {
      g_debug ("domain XML: skipping a %s disk gpuvmd does not model", type);
      return TRUE;
    }
  d->format = gvd_xp_str (ctx, node, "driver/@type");
  d->bus = g_strcmp0 (bus, "scsi") == 0   ? GVD_DISK_BUS_SCSI
           : g_strcmp0 (bus, "sata") == 0 ? GVD_DISK_BUS_SATA
                                          : GVD_DISK_BUS_VIRTIO;
  for (GvdDiskCache c = GVD_DISK_CACHE_NONE; c <= GVD_DISK_CACHE_WRITETHROUGH; c++)
    if (g_strcmp0 (cache, gvd_disk_cache_to_string (c)) == 0)
      d->cache = c;
  for (GvdDiskIo i = GVD_DISK_IO_NATIVE; i <= GVD_DISK_IO_URING; i++)
    if (g_strcmp0 (io, gvd_disk_io_to_string (i)) == 0)
      d->io = i;
  if (d->bus == GVD_DISK_BUS_SCSI)
    {
      /* virtio-scsi disks run in their controller's iothread. */
      g_autofree char *expr = NULL;
      g_autofree char *controller = gvd_xp_str (ctx, node, "address[@type='drive']/@controller");

      if (controller == NULL
          || !g_ascii_string_to_unsigned (controller, 10, 0, 255, NULL, NULL))
        {
          g_free (controller);
          controller = g_strdup ("0");
        }
      expr = g_strdup_printf ("devices/controller[@type='scsi'][@index='%s']/driver/@iothread",
                              controller);
      if (!gvd_xp_num (ctx, root, expr, GVD_DOMAIN_XML_MAX_IOTHREADS, 0, &v, error))
        return FALSE;
    }
  else if (!gvd_xp_num (ctx, node, "driver/@iothread", GVD_DOMAIN_XML_MAX_IOTHREADS, 0, &v, error))
    return FALSE;
  d->iothread = (guint) v;
  if (!gvd_xp_num (ctx, node, "boot/@order", 1024, 0, &v, error))
    return FALSE;
  d->boot_order = (guint) v;
  d->readonly = gvd_xp_exists (ctx, node, "readonly");
  d->target = gvd_xp_str (ctx, node, "target/@dev");
  d->serial = gvd_xp_str (ctx, node, "serial");
  if (spec->disks->len >= GVD_DOMAIN_XML_MAX_DISKS)
    INVALID ("more than %d disks", GVD_DOMAIN_XML_MAX_DISKS);
  g_ptr_array_add (spec->disks, g_steal_pointer (&d));
  return TRUE;
}

static gboolean
parse_nic (xmlXPathContextPtr ctx, xmlNodePtr inst, xmlNodePtr node, GvdInstanceSpec *spec,
           GError **error)
{
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
  g_autofree char *type = gvd_xp_str (ctx, node, "@type");
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set;

  if (g_strcmp0 (type, "user") == 0)
    nic->mode = GVD_NETWORK_USER;
  else if (g_strcmp0 (type, "bridge") == 0)
    {
      nic->mode = GVD_NETWORK_BRIDGE;
      nic->source = gvd_xp_str (ctx, node, "source/@bridge");
    }
  else if (g_strcmp0 (type, "network") == 0)
    {
      nic->mode = GVD_NETWORK_NETWORK;
      nic->source = gvd_xp_str (ctx, node, "source/@network");
    }
  else if (g_strcmp0 (type, "hostdev") == 0)
    {
      xmlNodePtr addr = gvd_xp_first (ctx, node, "source/address[@type='pci']");
      if (addr == NULL)
        return TRUE;
      nic->mode = GVD_NETWORK_SRIOV;
      nic->device = gvd_xp_read_pci (ctx, addr, error);
      if (nic->device == NULL)
        return FALSE;
    }
  else
    return TRUE;
  nic->mac = gvd_xp_str (ctx, node, "mac/@address");
  if (nic->mac != NULL)
    {
      g_autofree char *lower = g_ascii_strdown (nic->mac, -1);
      xmlNodePtr meta = NULL;

      /* IP settings are gpuvmd's (cloud-init), found by MAC. */
      set = gvd_xp_nodes (ctx, inst, "g:nics/g:nic", &obj);
      for (int i = 0; set != NULL && i < set->nodeNr && meta == NULL; i++)
        {
          g_autofree char *mac = gvd_xp_str (ctx, set->nodeTab[i], "@mac");
          if (mac != NULL && g_ascii_strcasecmp (mac, lower) == 0)
            meta = set->nodeTab[i];
        }
      g_clear_pointer (&obj, xmlXPathFreeObject);
      if (meta != NULL)
        {
          g_autoptr(GPtrArray) dns = g_ptr_array_new ();

          nic->ipv4 = gvd_xp_str (ctx, meta, "@ipv4");
          nic->gateway = gvd_xp_str (ctx, meta, "@gateway");
          set = gvd_xp_nodes (ctx, meta, "g:dns", &obj);
          for (int i = 0; set != NULL && i < set->nodeNr && i < 8; i++)
            {
              char *s = gvd_xp_str (ctx, set->nodeTab[i], ".");
              if (s != NULL)
                g_ptr_array_add (dns, s);
            }
          if (dns->len > 0)
            {
              g_ptr_array_add (dns, NULL);
              nic->dns = (char **) g_ptr_array_free (g_steal_pointer (&dns), FALSE);
            }
        }
    }
  if (spec->nics->len >= GVD_DOMAIN_XML_MAX_NICS)
    INVALID ("more than %d NICs", GVD_DOMAIN_XML_MAX_NICS);
  g_ptr_array_add (spec->nics, g_steal_pointer (&nic));
  return TRUE;
}

static gboolean
parse_hostdev (xmlXPathContextPtr ctx, xmlNodePtr inst, xmlNodePtr node, GvdInstanceSpec *spec,
               GError **error)
{
  g_autoptr(GvdHostdevSpec) h = gvd_hostdev_spec_new ();
  g_autofree char *type = gvd_xp_str (ctx, node, "@type");
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodePtr meta = NULL, guest;
  xmlNodeSetPtr set;
  g_autofree char *multifunction = NULL;
  guint64 v;

  if (g_strcmp0 (type, "pci") == 0)
    {
      xmlNodePtr addr = gvd_xp_first (ctx, node, "source/address");
      if (addr == NULL)
        return TRUE;
      h->host_address = gvd_xp_read_pci (ctx, addr, error);
      if (h->host_address == NULL)
        return FALSE;
    }
  else if (g_strcmp0 (type, "mdev") == 0)
    {
      h->mdev_uuid = gvd_xp_str (ctx, node, "source/address/@uuid");
      if (h->mdev_uuid == NULL)
        return TRUE;
    }
  else
    return TRUE;

  set = gvd_xp_nodes (ctx, inst, "g:hostdevs/g:hostdev", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr && meta == NULL; i++)
    {
      const char *want = h->mdev_uuid != NULL ? h->mdev_uuid : h->host_address;
      g_autofree char *key =
        gvd_xp_str (ctx, set->nodeTab[i], h->mdev_uuid != NULL ? "@mdev-uuid" : "@address");

      if (key != NULL && g_ascii_strcasecmp (key, want) == 0)
        meta = set->nodeTab[i];
    }

  guest = gvd_xp_first (ctx, node, "address[@type='pci']");
  if (guest != NULL)
    {
      if (!gvd_xp_num (ctx, guest, "@slot", 0x1f, 0, &v, error))
        return FALSE;
      h->guest_slot = (guint) v;
      if (!gvd_xp_num (ctx, guest, "@function", 7, 0, &v, error))
        return FALSE;
      h->guest_function = (guint) v;
      multifunction = gvd_xp_str (ctx, guest, "@multifunction");
      h->multifunction = g_strcmp0 (multifunction, "on") == 0;
      if (!gvd_xp_num (ctx, guest, "@bus", 0xff, 0, &v, error))
        return FALSE;
      /* A hand-made hostdev has no group: its guest bus stands in. */
      h->guest_bus = v > 0 ? (guint) v - 1 : 0;
    }
  if (meta != NULL)
    {
      if (!gvd_xp_num (ctx, meta, "@group", GVD_DOMAIN_XML_MAX_GROUPS - 1, h->guest_bus, &v, error))
        return FALSE;
      h->guest_bus = (guint) v;
      if (!gvd_xp_num (ctx, meta, "@clique", 15, G_MAXUINT64, &v, error))
        return FALSE;
      h->clique = v == G_MAXUINT64 ? -1 : (int) v;
      if (h->mdev_uuid != NULL)
        {
          h->mdev_type = gvd_xp_str (ctx, meta, "@mdev-type");
          h->host_address = gvd_xp_str (ctx, meta, "@address");
        }
    }
  if (spec->hostdevs->len >= GVD_DOMAIN_XML_MAX_HOSTDEVS)
    INVALID ("more than %d hostdevs", GVD_DOMAIN_XML_MAX_HOSTDEVS);
  g_ptr_array_add (spec->hostdevs, g_steal_pointer (&h));
  return TRUE;
}

static void
parse_share (xmlXPathContextPtr ctx, xmlNodePtr inst, xmlNodePtr node, GvdInstanceSpec *spec)
{
  g_autoptr(GvdShareSpec) s = gvd_share_spec_new ();
  g_autofree char *driver = gvd_xp_str (ctx, node, "driver/@type");
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set;

  s->tag = gvd_xp_str (ctx, node, "target/@dir");
  s->source_dir = gvd_xp_str (ctx, node, "source/@dir");
  if (s->tag == NULL || s->source_dir == NULL || spec->shares->len >= GVD_DOMAIN_XML_MAX_SHARES)
    return;
  s->virtiofs = g_strcmp0 (driver, "virtiofs") == 0;
  s->readonly = gvd_xp_exists (ctx, node, "readonly");
  /* The metadata's mount point for this tag (matched here, not in an XPath
   * built from a tag the XML itself supplied). */
  set = gvd_xp_nodes (ctx, inst, "g:shares/g:share", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr && s->mount_point == NULL; i++)
    {
      g_autofree char *tag = gvd_xp_str (ctx, set->nodeTab[i], "@tag");

      if (g_strcmp0 (tag, s->tag) == 0)
        s->mount_point = gvd_xp_str (ctx, set->nodeTab[i], "@mount-point");
    }
  g_ptr_array_add (spec->shares, g_steal_pointer (&s));
}

/* disks[0] is the root disk everywhere (delete, resize, snapshots), but
 * libvirt orders a domain's disks by bus: a SCSI data disk ("sda") comes
 * before the virtio root ("vda"). The root is the disk gpuvmd boots from
 * (boot order 1, which data disks cannot have), else the first disk that
 * is not a named data disk. */
static void
move_root_disk_first (GvdInstanceSpec *spec)
{
  guint root = G_MAXUINT;

  for (guint i = 0; i < spec->disks->len && root == G_MAXUINT; i++)
    if (((GvdDiskSpec *) g_ptr_array_index (spec->disks, i))->boot_order == 1)
      root = i;
  for (guint i = 0; i < spec->disks->len && root == G_MAXUINT; i++)
    if (((GvdDiskSpec *) g_ptr_array_index (spec->disks, i))->name == NULL)
      root = i;
  if (root != G_MAXUINT && root > 0)
    g_ptr_array_insert (spec->disks, 0, g_ptr_array_steal_index (spec->disks, root));
}

GvdInstanceSpec *
gvd_domain_xml_parse (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set;
  xmlNodePtr root, inst;
  guint64 version;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  doc = gvd_xp_read_doc (xml, error);
  if (doc == NULL)
    return NULL;
  root = xmlDocGetRootElement (doc);
  ctx = xmlXPathNewContext (doc);
  xmlXPathRegisterNs (ctx, BAD_CAST "g", BAD_CAST GVD_DOMAIN_XML_NS);
  xmlXPathRegisterNs (ctx, BAD_CAST "q", BAD_CAST QEMU_NS);

  /* libvirt keeps the element but may rename the prefix: match the URI. */
  inst = gvd_xp_first (ctx, root, "metadata/g:instance");
  if (inst == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "not a gpuvmd domain");
      return NULL;
    }
  if (!gvd_xp_num (ctx, inst, "@version", G_MAXUINT32, 0, &version, error))
    return NULL;
  if (version == 0 || version > GVD_DOMAIN_XML_FORMAT_VERSION)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "gpuvmd metadata version %" G_GUINT64_FORMAT " is not %d", version,
                   GVD_DOMAIN_XML_FORMAT_VERSION);
      return NULL;
    }

  spec = gvd_instance_spec_new ();
  if (!parse_metadata (ctx, inst, spec, error) || !parse_machine (ctx, root, spec, error))
    return NULL;

  set = gvd_xp_nodes (ctx, root, "devices/disk", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    if (!parse_disk (ctx, root, set->nodeTab[i], spec, error))
      return NULL;
  g_clear_pointer (&obj, xmlXPathFreeObject);
  if (!gvd_domain_xml_parse_disk_meta (ctx, inst, spec, error))
    return NULL;
  move_root_disk_first (spec);
  set = gvd_xp_nodes (ctx, root, "devices/interface", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    if (!parse_nic (ctx, inst, set->nodeTab[i], spec, error))
      return NULL;
  g_clear_pointer (&obj, xmlXPathFreeObject);
  if (!gvd_domain_xml_parse_forward_nics (ctx, root, spec, error))
    return NULL;
  set = gvd_xp_nodes (ctx, root, "devices/hostdev[@mode='subsystem']", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    if (!parse_hostdev (ctx, inst, set->nodeTab[i], spec, error))
      return NULL;
  g_clear_pointer (&obj, xmlXPathFreeObject);
  set = gvd_xp_nodes (ctx, root, "devices/filesystem[@type='mount']", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    parse_share (ctx, inst, set->nodeTab[i], spec);
  return g_steal_pointer (&spec);
}
