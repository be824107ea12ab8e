/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain XML (as libvirt returns it) → instance spec, for recovery. */
#include "config.h"

#include "domain-xml.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "domain-xml-priv.h"
#include "errors.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

#define INVALID(...)                                                          \
  G_STMT_START {                                                              \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__);   \
    return FALSE;                                                             \
  } G_STMT_END

/* ---- XPath helpers ------------------------------------------------------------ */

static xmlXPathObjectPtr
eval (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  ctx->node = node;
  return xmlXPathEvalExpression (BAD_CAST expr, ctx);
}

/* The nodes @expr selects under @node; NULL when none. The object owns them. */
static xmlNodeSetPtr
nodes (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, xmlXPathObjectPtr *out_obj)
{
  xmlXPathObjectPtr obj = eval (ctx, node, expr);

  *out_obj = obj;
  if (obj == NULL || obj->type != XPATH_NODESET || obj->nodesetval == NULL
      || obj->nodesetval->nodeNr == 0)
    return NULL;
  return obj->nodesetval;
}

static xmlNodePtr
first (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set = nodes (ctx, node, expr, &obj);

  return set != NULL ? set->nodeTab[0] : NULL;
}

/* string(@expr) under @node; NULL when empty. */
static char *
str (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  g_autofree char *wrapped = g_strdup_printf ("string(%s)", expr);
  g_autoptr(xmlXPathObject) obj = eval (ctx, node, wrapped);

  if (obj == NULL || obj->type != XPATH_STRING || obj->stringval == NULL
      || obj->stringval[0] == '\0')
    return NULL;
  return g_strdup ((const char *) obj->stringval);
}

static gboolean
exists (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
  return first (ctx, node, expr) != NULL;
}

/* A decimal or 0x-hex number at @expr, bounded by @max; @fallback when the
 * attribute or element is absent. */
static gboolean
num (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, guint64 max, guint64 fallback,
     guint64 *out_value, GError **error)
{
  g_autofree char *s = str (ctx, node, expr);
  gboolean hex;

  if (s == NULL)
    {
      *out_value = fallback;
      return TRUE;
    }
  g_strstrip (s);
  hex = g_str_has_prefix (s, "0x");
  if (!g_ascii_string_to_unsigned (hex ? s + 2 : s, hex ? 16 : 10, 0, max, out_value, NULL))
    INVALID ("%s: '%s' is not a number up to %" G_GUINT64_FORMAT, expr, s, max);
  return TRUE;
}

/* libvirt scaled integers (<memory unit='KiB'>) → KiB. */
static gboolean
kib (xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr, guint64 *out_kib, GError **error)
{
  g_autofree char *unit_expr = g_strdup_printf ("%s/@unit", expr);
  g_autofree char *unit = str (ctx, node, unit_expr);
  guint64 value, shift;

  if (!num (ctx, node, expr, G_MAXUINT64 >> 20, 0, &value, error))
    return FALSE;
  if (unit == NULL || g_ascii_strcasecmp (unit, "KiB") == 0 || g_ascii_strcasecmp (unit, "k") == 0)
    shift = 0;
  else if (g_ascii_strcasecmp (unit, "MiB") == 0 || g_ascii_strcasecmp (unit, "M") == 0)
    shift = 10;
  else if (g_ascii_strcasecmp (unit, "GiB") == 0 || g_ascii_strcasecmp (unit, "G") == 0)
    shift = 20;
  else if (g_ascii_strcasecmp (unit, "b") == 0 || g_ascii_strcasecmp (unit, "bytes") == 0)
    {
      *out_kib = value / 1024;
      return TRUE;
    }
  else
    INVALID ("%s: unit '%s' not understood", expr, unit);
  *out_kib = value << shift;
  return TRUE;
}

static xmlDocPtr
read_doc (const char *xml, GError **error)
{
  gsize len;
  xmlDocPtr doc;
  xmlNodePtr root;

  g_return_val_if_fail (xml != NULL, NULL);
  gvd_domain_xml_init ();
  len = strlen (xml);
  if (len > GVD_DOMAIN_XML_MAX_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "domain XML larger than %u bytes", GVD_DOMAIN_XML_MAX_BYTES);
      return NULL;
    }
  /* No network, no entity substitution (XXE), no noise on stderr. */
  doc = xmlReadMemory (xml, (int) len, "domain.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    {
      const xmlError *e = xmlGetLastError ();
      g_autofree char *why = g_strdup (e != NULL && e->message != NULL ? e->message : "");
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "domain XML is not well-formed%s%s", *why != '\0' ? ": " : "",
                   g_strchomp (why));
      return NULL;
    }
  root = xmlDocGetRootElement (doc);
  if (root == NULL || xmlStrcmp (root->name, BAD_CAST "domain") != 0)
    {
      xmlFreeDoc (doc);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "not a libvirt <domain>");
      return NULL;
    }
  return doc;
}

static char *
format_pci (guint64 d, guint64 b, guint64 s, guint64 f)
{
  return g_strdup_printf ("%04x:%02x:%02x.%x", (guint) d, (guint) b, (guint) s, (guint) f);
}

/* <address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/> */
static char *
read_pci (xmlXPathContextPtr ctx, xmlNodePtr addr, GError **error)
{
  guint64 d, b, s, f;

  if (!num (ctx, addr, "@domain", 0xffff, 0, &d, error)
      || !num (ctx, addr, "@bus", 0xff, 0, &b, error)
      || !num (ctx, addr, "@slot", 0x1f, 0, &s, error)
      || !num (ctx, addr, "@function", 7, 0, &f, error))
    return NULL;
  return format_pci (d, b, s, f);
}

char **
gvd_domain_xml_hostdev_addresses (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  set = nodes (ctx, xmlDocGetRootElement (doc),
               "/domain/devices/hostdev[@type='pci']/source/address", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      char *addr = read_pci (ctx, set->nodeTab[i], error);
      if (addr == NULL)
        return NULL;
      g_ptr_array_add (out, addr);
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

char **
gvd_domain_xml_disk_sources (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  set = nodes (ctx, xmlDocGetRootElement (doc), "/domain/devices/disk/source", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *pool = str (ctx, set->nodeTab[i], "@pool");
      g_autofree char *volume = str (ctx, set->nodeTab[i], "@volume");
      g_autofree char *file = str (ctx, set->nodeTab[i], "@file");
      g_autofree char *dev = str (ctx, set->nodeTab[i], "@dev");

      if (pool != NULL && volume != NULL)
        g_ptr_array_add (out, g_strconcat (pool, "/", volume, NULL));
      if (file != NULL)
        g_ptr_array_add (out, g_steal_pointer (&file));
      if (dev != NULL)
        g_ptr_array_add (out, g_steal_pointer (&dev));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

/* ---- sections ------------------------------------------------------------------ */

static gboolean
parse_metadata (xmlXPathContextPtr ctx, xmlNodePtr inst, GvdInstanceSpec *spec, GError **error)
{
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func (g_free);
  xmlNodeSetPtr set;
  guint64 v;

  spec->name = str (ctx, inst, "g:name");
  if (!gvd_domain_xml_check_text ("metadata name", spec->name, GVD_INSTANCE_NAME_MAX, error))
    return FALSE;
  spec->uuid = str (ctx, inst, "g:uuid");
  spec->created_at = str (ctx, inst, "g:created-at");
  spec->image = str (ctx, inst, "g:image");
  if (!num (ctx, inst, "g:root-size-bytes", G_MAXUINT64, 0, &spec->root_size_bytes, error))
    return FALSE;
  if (!num (ctx, inst, "g:request/@gpus", GVD_DOMAIN_XML_MAX_HOSTDEVS, 0, &v, error))
    return FALSE;
  spec->requested_gpus = (guint) v;
  spec->requested_model = str (ctx, inst, "g:request/@model");
  set = nodes (ctx, inst, "g:request/g:device", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr && i < GVD_DOMAIN_XML_MAX_HOSTDEVS; i++)
    {
      char *device = str (ctx, set->nodeTab[i], ".");
      if (device != NULL)
        g_ptr_array_add (devices, device);
    }
  if (devices->len > 0)
    {
      g_ptr_array_add (devices, NULL);
      spec->requested_devices = (char **) g_ptr_array_free (g_steal_pointer (&devices), FALSE);
    }
  g_clear_pointer (&obj, xmlXPathFreeObject);

  set = nodes (ctx, inst, "g:labels/g:label", &obj);
  if (set != NULL)
    spec->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int i = 0; set != NULL && i < set->nodeNr && i < GVD_DOMAIN_XML_MAX_LABELS; i++)
    {
      char *key = str (ctx, set->nodeTab[i], "@key");
      char *value = str (ctx, set->nodeTab[i], ".");
      if (key == NULL)
        {
          g_free (value);
          continue;
        }
      g_hash_table_replace (spec->labels, key, value != NULL ? value : g_strdup (""));
    }
  if (!num (ctx, inst, "g:agent/@heartbeat-interval", 86400, 10, &v, error))
    return FALSE;
  spec->heartbeat_interval = (guint) v;
  return TRUE;
}

static gboolean
parse_machine (xmlXPathContextPtr ctx, xmlNodePtr root, GvdInstanceSpec *spec, GError **error)
{
  g_autofree char *type = str (ctx, root, "@type");
  g_autofree char *firmware = str (ctx, root, "os/@firmware");
  g_autofree char *nodeset = str (ctx, root, "numatune/memory/@nodeset");
  g_autofree char *uuid = str (ctx, root, "uuid");
  guint64 v, k;

  spec->kvm = g_strcmp0 (type, "kvm") == 0;
  if (uuid != NULL)
    {
      /* The domain's own UUID wins over the metadata copy. */
      g_free (spec->uuid);
      spec->uuid = g_steal_pointer (&uuid);
    }
  spec->domain_name = str (ctx, root, "name");
  if (!kib (ctx, root, "memory", &k, error))
    return FALSE;
  spec->memory_mib = k / 1024;
  if (!num (ctx, root, "vcpu", GVD_DOMAIN_XML_MAX_VCPUS, 1, &v, error))
    return FALSE;
  spec->vcpus = (guint) v;
  spec->cpuset = str (ctx, root, "vcpu/@cpuset");
  if (!num (ctx, root, "cpu/topology/@sockets", GVD_DOMAIN_XML_MAX_VCPUS, 0, &v, error))
    return FALSE;
  spec->sockets = (guint) v;
  if (!num (ctx, root, "cpu/topology/@cores", GVD_DOMAIN_XML_MAX_VCPUS, 0, &v, error))
    return FALSE;
  spec->cores = (guint) v;
  if (!num (ctx, root, "cpu/topology/@threads", GVD_DOMAIN_XML_MAX_VCPUS, 0, &v, error))
    return FALSE;
  spec->threads = (guint) v;
  spec->hugepages = exists (ctx, root, "memoryBacking/hugepages");
  spec->numa_node = -1;
  if (nodeset != NULL && g_ascii_string_to_unsigned (nodeset, 10, 0, 1023, &v, NULL))
    spec->numa_node = (int) v;
  if (!num (ctx, root, "iothreads", GVD_DOMAIN_XML_MAX_IOTHREADS, 0, &v, error))
    return FALSE;
  spec->iothreads = (guint) v;
  if (exists (ctx, root, "devices/controller[@type='pci'][@model='pcie-root']/pcihole64"))
    {
      if (!kib (ctx, root, "devices/controller[@type='pci'][@model='pcie-root']/pcihole64", &k,
                error))
        return FALSE;
      spec->mmio64_mib = k / 1024;
    }
  spec->firmware = g_strcmp0 (firmware, "efi") == 0
                       || exists (ctx, root, "os/loader[@type='pflash']")
                     ? GVD_FIRMWARE_EFI
                     : GVD_FIRMWARE_BIOS;
  spec->kernel = str (ctx, root, "os/kernel");
  spec->initrd = str (ctx, root, "os/initrd");
  spec->cmdline = str (ctx, root, "os/cmdline");
  /* libvirt writes its defaults out; NULL means "libvirt's default". */
  spec->on_reboot = str (ctx, root, "on_reboot");
  if (g_strcmp0 (spec->on_reboot, "restart") == 0)
    g_clear_pointer (&spec->on_reboot, g_free);
  spec->on_crash = str (ctx, root, "on_crash");
  if (g_strcmp0 (spec->on_crash, "destroy") == 0)
    g_clear_pointer (&spec->on_crash, g_free);
  spec->console_log = str (ctx, root, "devices/serial/log/@file");
  spec->vnc = exists (ctx, root, "devices/graphics[@type='vnc']");
  spec->vnc_password = str (ctx, root, "devices/graphics[@type='vnc']/@passwd");
  return TRUE;
}

static gboolean
parse_disk (xmlXPathContextPtr ctx, xmlNodePtr root, xmlNodePtr node, GvdInstanceSpec *spec,
            GError **error)
{
  g_autoptr(GvdDiskSpec) d = gvd_disk_spec_new ();
  g_autofree char *type = str (ctx, node, "@type");
  g_autofree char *device = str (ctx, node, "@device");
  g_autofree char *protocol = str (ctx, node, "source/@protocol");
  g_autofree char *bus = str (ctx, node, "target/@bus");
  g_autofree char *cache = str (ctx, node, "driver/@cache");
  g_autofree char *io = str (ctx, node, "driver/@io");
  guint64 v;

  if (g_strcmp0 (device, "cdrom") == 0)
    {
      if (spec->seed_pool == NULL && g_strcmp0 (type, "volume") == 0)
        {
          spec->seed_pool = str (ctx, node, "source/@pool");
          spec->seed_volume = str (ctx, node, "source/@volume");
        }
      return TRUE;
    }
  if (device != NULL && strcmp (device, "disk") != 0)
    return TRUE;
  if (g_strcmp0 (type, "volume") == 0)
    {
      d->type = GVD_DISK_VOLUME;
      d->pool = str (ctx, node, "source/@pool");
      d->volume = str (ctx, node, "source/@volume");
    }
  else if (g_strcmp0 (type, "file") == 0)
    {
      d->type = GVD_DISK_FILE;
      d->path = str (ctx, node, "source/@file");
    }
  else if (g_strcmp0 (type, "network") == 0
           && (g_strcmp0 (protocol, "nbd") == 0 || g_strcmp0 (protocol, "rbd") == 0))
    {
      d->type = strcmp (protocol, "nbd") == 0 ? GVD_DISK_NBD : GVD_DISK_RBD;
      d->source_name = str (ctx, node, "source/@name");
      d->host = str (ctx, node, "source/host/@name");
      if (!num (ctx, node, "source/host/@port", 65535, 0, &v, error))
        return FALSE;
      d->port = (guint) v;
      /* libvirt accepts <auth> in <source> and, older style, in <disk>. */
      d->auth_username = str (ctx, node, "(source/auth|auth)/@username");
      d->secret_uuid = str (ctx, node, "(source/auth|auth)/secret/@uuid");
    }
  else
    {
      g_debug ("domain XML: skipping a %s disk gpuvmd does not model", type);
      return TRUE;
    }
  d->format = str (ctx, node, "driver/@type");
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
      g_autofree char *controller = str (ctx, node, "address[@type='drive']/@controller");

      if (controller == NULL
          || !g_ascii_string_to_unsigned (controller, 10, 0, 255, NULL, NULL))
        {
          g_free (controller);
          controller = g_strdup ("0");
        }
      expr = g_strdup_printf ("devices/controller[@type='scsi'][@index='%s']/driver/@iothread",
                              controller);
      if (!num (ctx, root, expr, GVD_DOMAIN_XML_MAX_IOTHREADS, 0, &v, error))
        return FALSE;
    }
  else if (!num (ctx, node, "driver/@iothread", GVD_DOMAIN_XML_MAX_IOTHREADS, 0, &v, error))
    return FALSE;
  d->iothread = (guint) v;
  if (!num (ctx, node, "boot/@order", 1024, 0, &v, error))
    return FALSE;
  d->boot_order = (guint) v;
  d->readonly = exists (ctx, node, "readonly");
  d->target = str (ctx, node, "target/@dev");
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
  g_autofree char *type = str (ctx, node, "@type");
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set;

  if (g_strcmp0 (type, "user") == 0)
    nic->mode = GVD_NETWORK_USER;
  else if (g_strcmp0 (type, "bridge") == 0)
    {
      nic->mode = GVD_NETWORK_BRIDGE;
      nic->source = str (ctx, node, "source/@bridge");
    }
  else if (g_strcmp0 (type, "network") == 0)
    {
      nic->mode = GVD_NETWORK_NETWORK;
      nic->source = str (ctx, node, "source/@network");
    }
  else
    return TRUE;
  nic->mac = str (ctx, node, "mac/@address");
  if (nic->mac != NULL)
    {
      g_autofree char *lower = g_ascii_strdown (nic->mac, -1);
      xmlNodePtr meta = NULL;

      /* IP settings are gpuvmd's (cloud-init), found by MAC. */
      set = nodes (ctx, inst, "g:nics/g:nic", &obj);
      for (int i = 0; set != NULL && i < set->nodeNr && meta == NULL; i++)
        {
          g_autofree char *mac = str (ctx, set->nodeTab[i], "@mac");
          if (mac != NULL && g_ascii_strcasecmp (mac, lower) == 0)
            meta = set->nodeTab[i];
        }
      g_clear_pointer (&obj, xmlXPathFreeObject);
      if (meta != NULL)
        {
          g_autoptr(GPtrArray) dns = g_ptr_array_new ();

          nic->ipv4 = str (ctx, meta, "@ipv4");
          nic->gateway = str (ctx, meta, "@gateway");
          set = nodes (ctx, meta, "g:dns", &obj);
          for (int i = 0; set != NULL && i < set->nodeNr && i < 8; i++)
            {
              char *s = str (ctx, set->nodeTab[i], ".");
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
  g_autofree char *type = str (ctx, node, "@type");
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodePtr meta = NULL, guest;
  xmlNodeSetPtr set;
  g_autofree char *multifunction = NULL;
  guint64 v;

  if (g_strcmp0 (type, "pci") == 0)
    {
      xmlNodePtr addr = first (ctx, node, "source/address");
      if (addr == NULL)
        return TRUE;
      h->host_address = read_pci (ctx, addr, error);
      if (h->host_address == NULL)
        return FALSE;
    }
  else if (g_strcmp0 (type, "mdev") == 0)
    {
      h->mdev_uuid = str (ctx, node, "source/address/@uuid");
      if (h->mdev_uuid == NULL)
        return TRUE;
    }
  else
    return TRUE;

  set = nodes (ctx, inst, "g:hostdevs/g:hostdev", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr && meta == NULL; i++)
    {
      const char *want = h->mdev_uuid != NULL ? h->mdev_uuid : h->host_address;
      g_autofree char *key =
        str (ctx, set->nodeTab[i], h->mdev_uuid != NULL ? "@mdev-uuid" : "@address");

      if (key != NULL && g_ascii_strcasecmp (key, want) == 0)
        meta = set->nodeTab[i];
    }

  guest = first (ctx, node, "address[@type='pci']");
  if (guest != NULL)
    {
      if (!num (ctx, guest, "@slot", 0x1f, 0, &v, error))
        return FALSE;
      h->guest_slot = (guint) v;
      if (!num (ctx, guest, "@function", 7, 0, &v, error))
        return FALSE;
      h->guest_function = (guint) v;
      multifunction = str (ctx, guest, "@multifunction");
      h->multifunction = g_strcmp0 (multifunction, "on") == 0;
      if (!num (ctx, guest, "@bus", 0xff, 0, &v, error))
        return FALSE;
      /* A hand-made hostdev has no group: its guest bus stands in. */
      h->guest_bus = v > 0 ? (guint) v - 1 : 0;
    }
  if (meta != NULL)
    {
      if (!num (ctx, meta, "@group", GVD_DOMAIN_XML_MAX_GROUPS - 1, h->guest_bus, &v, error))
        return FALSE;
      h->guest_bus = (guint) v;
      if (!num (ctx, meta, "@clique", 15, G_MAXUINT64, &v, error))
        return FALSE;
      h->clique = v == G_MAXUINT64 ? -1 : (int) v;
      if (h->mdev_uuid != NULL)
        {
          h->mdev_type = str (ctx, meta, "@mdev-type");
          h->host_address = str (ctx, meta, "@address");
        }
    }
  if (spec->hostdevs->len >= GVD_DOMAIN_XML_MAX_HOSTDEVS)
    INVALID ("more than %d hostdevs", GVD_DOMAIN_XML_MAX_HOSTDEVS);
  g_ptr_array_add (spec->hostdevs, g_steal_pointer (&h));
  return TRUE;
}

static void
parse_share (xmlXPathContextPtr ctx, xmlNodePtr node, GvdInstanceSpec *spec)
{
  g_autoptr(GvdShareSpec) s = gvd_share_spec_new ();
  g_autofree char *driver = str (ctx, node, "driver/@type");

  s->tag = str (ctx, node, "target/@dir");
  s->source_dir = str (ctx, node, "source/@dir");
  if (s->tag == NULL || s->source_dir == NULL || spec->shares->len >= GVD_DOMAIN_XML_MAX_SHARES)
    return;
  s->virtiofs = g_strcmp0 (driver, "virtiofs") == 0;
  s->readonly = exists (ctx, node, "readonly");
  g_ptr_array_add (spec->shares, g_steal_pointer (&s));
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
  doc = read_doc (xml, error);
  if (doc == NULL)
    return NULL;
  root = xmlDocGetRootElement (doc);
  ctx = xmlXPathNewContext (doc);
  xmlXPathRegisterNs (ctx, BAD_CAST "g", BAD_CAST GVD_DOMAIN_XML_NS);
  xmlXPathRegisterNs (ctx, BAD_CAST "q", BAD_CAST QEMU_NS);

  /* libvirt keeps the element but may rename the prefix: match the URI. */
  inst = first (ctx, root, "metadata/g:instance");
  if (inst == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "not a gpuvmd domain");
      return NULL;
    }
  if (!num (ctx, inst, "@version", G_MAXUINT32, 0, &version, error))
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

  set = nodes (ctx, root, "devices/disk", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    if (!parse_disk (ctx, root, set->nodeTab[i], spec, error))
      return NULL;
  g_clear_pointer (&obj, xmlXPathFreeObject);
  set = nodes (ctx, root, "devices/interface", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    if (!parse_nic (ctx, inst, set->nodeTab[i], spec, error))
      return NULL;
  g_clear_pointer (&obj, xmlXPathFreeObject);
  set = nodes (ctx, root, "devices/hostdev[@mode='subsystem']", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    if (!parse_hostdev (ctx, inst, set->nodeTab[i], spec, error))
      return NULL;
  g_clear_pointer (&obj, xmlXPathFreeObject);
  set = nodes (ctx, root, "devices/filesystem[@type='mount']", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    parse_share (ctx, set->nodeTab[i], spec);
  return g_steal_pointer (&spec);
}
