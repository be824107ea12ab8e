/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instance specs for the domain XML tests, and a spec comparison. */
#include "config.h"

#include "domain-xml-testlib.h"

#include "testlib.h"

#include <string.h>

#include "instance-request-disks.h"

GvdInstanceSpec *
gvd_test_spec_minimal (const char *name)
{
  GvdInstanceSpec *spec = gvd_instance_spec_new ();
  GvdDiskSpec *root = gvd_disk_spec_new ();
  GvdNicSpec *nic = gvd_nic_spec_new ();

  spec->name = g_strdup (name);
  spec->domain_name = g_strconcat ("gpuvm-", name, NULL);
  spec->uuid = g_strdup ("6f1c3b1e-8a43-4d0c-9a57-2f1f2d6c1a01");
  spec->created_at = g_strdup ("2026-11-22T10:00:00Z");
  spec->image = g_strdup ("debian-12");
  spec->root_size_bytes = G_GUINT64_CONSTANT (20) * 1024 * 1024 * 1024;
  spec->vcpus = 2;
  spec->memory_mib = 1024;

  root->type = GVD_DISK_VOLUME;
  root->pool = g_strdup ("gpuvmd");
  root->volume = g_strdup_printf ("%s-root.qcow2", name);
  root->format = g_strdup ("qcow2");
  root->boot_order = 1;
  g_ptr_array_add (spec->disks, root);
  spec->seed_pool = g_strdup ("gpuvmd");
  spec->seed_volume = g_strdup_printf ("%s-seed.iso", name);

  nic->mode = GVD_NETWORK_USER;
  nic->mac = g_strdup ("52:54:00:12:34:56");
  g_ptr_array_add (spec->nics, nic);
  spec->console_log = g_strdup_printf ("/var/log/gpuvmd/%s.console.log", name);
  return spec;
}

GvdHostdevSpec *
gvd_test_hostdev (const char *address, guint group, guint function, int clique)
{
  GvdHostdevSpec *h = gvd_hostdev_spec_new ();

  h->host_address = g_strdup (address);
  h->guest_bus = group;
  h->guest_function = function;
  h->clique = clique;
  return h;
}

static void
add_label (GvdInstanceSpec *spec, const char *key, const char *value)
{
  if (spec->labels == NULL)
    spec->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_replace (spec->labels, g_strdup (key), g_strdup (value));
}

/* 1 GPU with its audio function in one guest group. */
static GvdInstanceSpec *
spec_one_gpu (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("train-1");
  GvdHostdevSpec *gpu = gvd_test_hostdev ("0000:41:00.0", 0, 0, -1);
  const char *devices[] = { "gpu-a", NULL };

  gpu->multifunction = TRUE;
  g_ptr_array_add (spec->hostdevs, gpu);
  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:41:00.1", 0, 1, -1));
  spec->requested_devices = g_strdupv ((char **) devices);
  spec->vnc = TRUE;
  add_label (spec, "team", "ml-research");
  add_label (spec, "cost-center", "4711");
  return spec;
}

/* 8 GPUs in two NVLink halves (cliques 0 and 1), 1 TiB of 64-bit MMIO, KVM,
 * 1G hugepages pinned to NUMA node 1. */
static GvdInstanceSpec *
spec_eight_gpus (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("train-8");
  static const guint buses[] = { 0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb };

  spec->kvm = TRUE;
  spec->vcpus = 64;
  spec->sockets = 2;
  spec->cores = 16;
  spec->threads = 2;
  spec->memory_mib = 512 * 1024;
  spec->hugepage_kib = 1048576;
  spec->numa_node = 1;
  /* Dedicated: guest core k is host core 32+k of node 1 with its sibling
   * 96+k; the emulator threads on the host's reserved CPUs. */
  spec->vcpu_pins = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint k = 0; k < 32; k++)
    {
      guint a = 32 + k, b = 96 + k;
      g_array_append_val (spec->vcpu_pins, a);
      g_array_append_val (spec->vcpu_pins, b);
    }
  spec->emulator_pins = g_array_new (FALSE, FALSE, sizeof (guint));
  {
    guint e[] = { 0, 64 };
    g_array_append_vals (spec->emulator_pins, e, 2);
  }
  spec->iothreads = 2;
  spec->mmio64_mib = 1024 * 1024;
  spec->requested_gpus = 8;
  spec->requested_model = g_strdup ("H100 80GB HBM3");
  ((GvdDiskSpec *) spec->disks->pdata[0])->iothread = 1;
  ((GvdDiskSpec *) spec->disks->pdata[0])->cache = GVD_DISK_CACHE_NONE;
  ((GvdDiskSpec *) spec->disks->pdata[0])->io = GVD_DISK_IO_NATIVE;
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *addr = g_strdup_printf ("0000:%02x:00.0", buses[i]);
      g_ptr_array_add (spec->hostdevs, gvd_test_hostdev (addr, i, 0, i < 4 ? 0 : 1));
    }
  add_label (spec, "job", "llm-pretrain");
  add_label (spec, "project", "ml-research");
  return spec;
}

/* No GPU; a bridge NIC with a static address. */
static GvdInstanceSpec *
spec_no_gpu (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("web-1");
  GvdNicSpec *nic = g_ptr_array_index (spec->nics, 0);
  const char *dns[] = { "10.77.0.1", "2001:4860:4860::8888", NULL };

  nic->mode = GVD_NETWORK_BRIDGE;
  nic->source = g_strdup ("br0");
  nic->ipv4 = g_strdup ("10.77.0.5/24");
  nic->gateway = g_strdup ("10.77.0.1");
  nic->dns = g_strdupv ((char **) dns);
  g_clear_pointer (&spec->console_log, g_free);
  spec->heartbeat_interval = 30;
  return spec;
}

static GvdDiskSpec *
disk (GvdDiskType type, GvdDiskBus bus, GvdDiskCache cache, GvdDiskIo io)
{
  GvdDiskSpec *d = gvd_disk_spec_new ();

  d->type = type;
  d->bus = bus;
  d->cache = cache;
  d->io = io;
  return d;
}

/* NBD, RBD with cephx, virtio-scsi with an iothread, SATA, a host file. */
static GvdInstanceSpec *
spec_network_disks (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("data-1");
  GvdDiskSpec *d;

  spec->iothreads = 3;
  d = disk (GVD_DISK_NBD, GVD_DISK_BUS_VIRTIO, GVD_DISK_CACHE_NONE, GVD_DISK_IO_NATIVE);
  d->host = g_strdup ("nbd.example.net");
  d->port = 10809;
  d->source_name = g_strdup ("datasets");
  d->iothread = 2;
  d->readonly = TRUE;
  g_ptr_array_add (spec->disks, d);

  d = disk (GVD_DISK_RBD, GVD_DISK_BUS_VIRTIO, GVD_DISK_CACHE_WRITEBACK, GVD_DISK_IO_THREADS);
  d->host = g_strdup ("10.0.0.11");
  d->port = 6789;
  d->source_name = g_strdup ("rbd/scratch-data-1");
  d->auth_username = g_strdup ("gpuvmd");
  d->secret_uuid = g_strdup ("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
  d->iothread = 3;
  g_ptr_array_add (spec->disks, d);

  d = disk (GVD_DISK_VOLUME, GVD_DISK_BUS_SCSI, GVD_DISK_CACHE_WRITETHROUGH, GVD_DISK_IO_URING);
  d->pool = g_strdup ("fast");
  d->volume = g_strdup ("data-1-scratch.qcow2");
  d->format = g_strdup ("qcow2");
  d->iothread = 1;
  g_ptr_array_add (spec->disks, d);

  d = disk (GVD_DISK_VOLUME, GVD_DISK_BUS_SCSI, GVD_DISK_CACHE_DEFAULT, GVD_DISK_IO_DEFAULT);
  d->pool = g_strdup ("fast");
  d->volume = g_strdup ("data-1-logs.raw");
  d->iothread = 1;
  d->target = g_strdup ("sdc");
  g_ptr_array_add (spec->disks, d);

  d = disk (GVD_DISK_VOLUME, GVD_DISK_BUS_SATA, GVD_DISK_CACHE_DEFAULT, GVD_DISK_IO_THREADS);
  d->pool = g_strdup ("gpuvmd");
  d->volume = g_strdup ("tools.raw");
  d->boot_order = 2;
  g_ptr_array_add (spec->disks, d);
  return spec;
}

static GvdShareSpec *
share (const char *tag, const char *dir, gboolean virtiofs, gboolean readonly)
{
  GvdShareSpec *s = gvd_share_spec_new ();

  s->tag = g_strdup (tag);
  s->source_dir = g_strdup (dir);
  s->virtiofs = virtiofs;
  s->readonly = readonly;
  return s;
}

/* UEFI direct kernel boot; a virtiofs and a 9p share; a libvirt network. */
static GvdInstanceSpec *
spec_kernel_shares (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("dev-1");
  GvdNicSpec *nic = g_ptr_array_index (spec->nics, 0);

  spec->kernel = g_strdup ("/var/lib/gpuvmd/boot/vmlinuz-6.1.0-27-amd64");
  spec->initrd = g_strdup ("/var/lib/gpuvmd/boot/initrd.img-6.1.0-27-amd64");
  spec->cmdline = g_strdup ("root=/dev/vda console=ttyS0 quiet ds=nocloud;s=/dev/sr0");
  g_ptr_array_add (spec->shares, share ("datasets", "/srv/datasets", TRUE, FALSE));
  g_ptr_array_add (spec->shares, share ("home", "/srv/home/dev-1", FALSE, TRUE));
  nic->mode = GVD_NETWORK_NETWORK;
  nic->source = g_strdup ("gpuvmd-net");
  spec->heartbeat_interval = 5;
  return spec;
}

/* What a create with "shares" and "memory" builds: a writable virtiofs
 * share and a read-only 9p share, both mounted by cloud-init, on 2M
 * hugepages (shared for virtiofsd) pinned to the GPU's NUMA node. */
static GvdInstanceSpec *
spec_shares_hugepages (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("data-1");
  GvdShareSpec *s;

  spec->memory_mib = 4096;
  spec->hugepage_kib = 2048;
  spec->numa_node = 0;
  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:41:00.0", 0, 0, -1));
  s = share ("scratch", "/srv/gpuvmd/scratch/data-1", TRUE, FALSE);
  s->mount_point = g_strdup ("/mnt/scratch");
  g_ptr_array_add (spec->shares, s);
  s = share ("datasets-imagenet-2012-full-train-x", "/srv/datasets/imagenet", TRUE, FALSE);
  g_ptr_array_add (spec->shares, s);
  s = share ("models", "/srv/models", FALSE, TRUE);
  s->mount_point = g_strdup ("/mnt/models");
  g_ptr_array_add (spec->shares, s);
  return spec;
}

/* Legacy BIOS (SeaBIOS), with a 64-bit aperture under TCG. */
static GvdInstanceSpec *
spec_bios (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("legacy-1");

  spec->firmware = GVD_FIRMWARE_BIOS;
  spec->mmio64_mib = 256 * 1024;
  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:65:00.0", 0, 0, -1));
  return spec;
}

/* Two vGPU mdevs on one parent. */
static GvdInstanceSpec *
spec_mdev (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("vgpu-1");
  static const char *const uuids[] = { "c2177883-f1bb-47f0-914d-32a22e3a8804",
                                       "0c8e4a9d-1b52-4a0e-9a1e-7d3a9c2b5f10" };

  for (guint i = 0; i < 2; i++)
    {
      GvdHostdevSpec *h = gvd_hostdev_spec_new ();
      h->mdev_uuid = g_strdup (uuids[i]);
      h->mdev_type = g_strdup ("nvidia-63");
      h->host_address = g_strdup ("0000:3b:00.0");
      h->guest_bus = i;
      g_ptr_array_add (spec->hostdevs, h);
    }
  spec->requested_gpus = 2;
  return spec;
}

/* A whole GPU with its audio function, and a vGPU on another parent in
 * the next guest group (what a create with "devices" and "vgpu" renders). */
static GvdInstanceSpec *
spec_mdev_mixed (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("mixed-1");
  GvdHostdevSpec *gpu = gvd_test_hostdev ("0000:41:00.0", 0, 0, -1);
  GvdHostdevSpec *h = gvd_hostdev_spec_new ();

  gpu->multifunction = TRUE;
  g_ptr_array_add (spec->hostdevs, gpu);
  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:41:00.1", 0, 1, -1));
  h->mdev_uuid = g_strdup ("6d1f3c2a-9b7e-4c5d-8e2f-0a1b2c3d4e5f");
  h->mdev_type = g_strdup ("nvidia-222");
  h->host_address = g_strdup ("0000:81:00.0");
  h->guest_bus = 1;
  g_ptr_array_add (spec->hostdevs, h);
  spec->requested_gpus = 1;
  spec->mmio64_mib = 64 * 1024;
  return spec;
}

static GvdNicSpec *
nic_new (GvdNetworkMode mode, const char *source, const char *mac, const char *ipv4,
         const char *device)
{
  GvdNicSpec *nic = gvd_nic_spec_new ();

  nic->mode = mode;
  nic->source = g_strdup (source);
  nic->mac = g_strdup (mac);
  nic->ipv4 = g_strdup (ipv4);
  nic->device = g_strdup (device);
  return nic;
}

/* A training node's NICs: user, a bridge with a static address, a libvirt
 * network on DHCP and an SR-IOV VF (the sriov-nic fixture's) next to a GPU. */
static GvdInstanceSpec *
spec_nics (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("fabric-1");
  const char *dns[] = { "10.77.0.1", NULL };
  GvdNicSpec *nic;

  nic = nic_new (GVD_NETWORK_BRIDGE, "br-gvd", "52:54:00:12:34:57", "10.77.0.6/24", NULL);
  nic->gateway = g_strdup ("10.77.0.1");
  nic->dns = g_strdupv ((char **) dns);
  g_ptr_array_add (spec->nics, nic);
  g_ptr_array_add (spec->nics,
                   nic_new (GVD_NETWORK_NETWORK, "gvd-fabric", "52:54:00:12:34:58", NULL, NULL));
  g_ptr_array_add (spec->nics,
                   nic_new (GVD_NETWORK_SRIOV, NULL, "52:54:00:12:34:59", NULL, "0000:42:00.2"));
  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:41:00.0", 0, 0, -1));
  spec->mmio64_mib = 256 * 1024;
  spec->requested_gpus = 1;
  return spec;
}

/* A user-mode NIC with forwarded ports (QEMU's command line, next to the
 * EFI aperture knob) after a bridged NIC, and one GPU. */
static GvdInstanceSpec *
spec_forwarded_ports (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("dev-1");
  GvdNicSpec *user = g_ptr_array_steal_index (spec->nics, 0);
  GvdNicSpec *bridge = gvd_nic_spec_new ();
  /* On the instance's own loopback address 127.77.0.1, not 127.0.0.1. */
  const GvdPortForward forwards[] = { { .guest = 22, .host = 40000, .address = 0x7f4d0001 },
                                      { .guest = 8888, .host = 40001, .address = 0x7f4d0001 } };

  bridge->mode = GVD_NETWORK_BRIDGE;
  bridge->source = g_strdup ("br0");
  bridge->mac = g_strdup ("52:54:00:12:34:57");
  g_ptr_array_add (spec->nics, bridge);
  user->forwards = g_array_new (FALSE, FALSE, sizeof (GvdPortForward));
  g_array_append_vals (user->forwards, forwards, G_N_ELEMENTS (forwards));
  g_ptr_array_add (spec->nics, user);
  spec->mmio64_mib = 64 * 1024;
  g_ptr_array_add (spec->hostdevs, gvd_test_hostdev ("0000:41:00.0", 0, 0, -1));
  return spec;
}

/* A request's "disks" as POST /v1/instances turns them into a spec: a new
 * kept qcow2 on virtio with a serial and an iothread, a new raw on SCSI, a
 * new qcow2 on SATA, and an image attached read-only on virtio. */
static GvdInstanceSpec *
spec_data_disks (void)
{
  GvdInstanceSpec *spec = gvd_test_spec_minimal ("data-2");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GPtrArray) disks = NULL;
  g_autoptr(GError) error = NULL;

  assert_true (json_parser_load_from_data (parser,
    "[{\"name\": \"data\", \"size_gib\": 100, \"cache\": \"none\", \"io\": \"native\","
    "  \"iothread\": true, \"serial\": \"DATA-0001\", \"keep\": true, \"boot_order\": 2},"
    " {\"name\": \"scratch\", \"size_gib\": 10, \"format\": \"raw\", \"bus\": \"scsi\"},"
    " {\"name\": \"logs\", \"size_gib\": 1, \"bus\": \"sata\", \"cache\": \"writeback\"},"
    " {\"name\": \"ref\", \"volume\": \"datasets.raw\", \"readonly\": true}]", -1, NULL));
  if (!gvd_disk_requests_parse (json_parser_get_root (parser), &disks, &error))
    fail_msg ("%s", error->message);
  for (guint i = 0; i < disks->len; i++)
    {
      GvdDiskSpec *d = g_ptr_array_index (disks, i);

      d->pool = g_strdup ("gpuvmd");
      if (d->created)
        d->volume = gvd_disk_volume_name (spec->domain_name, d->name, d->keep, d->format);
      else
        {
          d->format = g_strdup ("raw");
          d->size_bytes = G_GUINT64_CONSTANT (5) << 30;
        }
      spec->iothreads = MAX (spec->iothreads, d->iothread);
    }
  g_ptr_array_extend_and_steal (spec->disks, g_steal_pointer (&disks));
  gvd_disk_specs_assign_targets (spec->disks);
  return spec;
}

const GvdTestDomainCase gvd_test_domain_cases[] = {
  { "one-gpu", spec_one_gpu },
  { "eight-gpus", spec_eight_gpus },
  { "no-gpu", spec_no_gpu },
  { "network-disks", spec_network_disks },
  { "kernel-shares", spec_kernel_shares },
  { "bios", spec_bios },
  { "mdev", spec_mdev },
  { "shares-hugepages", spec_shares_hugepages },
  { "mdev-mixed", spec_mdev_mixed },
  { "nics", spec_nics },
  { "forwarded-ports", spec_forwarded_ports },
  { "data-disks", spec_data_disks },
  { NULL, NULL },
};

/* ---- comparison ---------------------------------------------------------- */

static void
str_eq (const char *field, const char *want, const char *got)
{
  if (g_strcmp0 (want, got) != 0)
    fail_msg ("%s: want '%s', got '%s'", field, want != NULL ? want : "(null)",
              got != NULL ? got : "(null)");
}

static void
uint_eq (const char *field, guint64 want, guint64 got)
{
  if (want != got)
    fail_msg ("%s: want %" G_GUINT64_FORMAT ", got %" G_GUINT64_FORMAT, field, want, got);
}

static void
strv_eq (const char *field, char **want, char **got)
{
  guint nw = want != NULL ? g_strv_length (want) : 0;
  guint ng = got != NULL ? g_strv_length (got) : 0;

  uint_eq (field, nw, ng);
  for (guint i = 0; i < nw; i++)
    str_eq (field, want[i], got[i]);
}

void
gvd_test_assert_spec_equal (const GvdInstanceSpec *want, const GvdInstanceSpec *got)
{
  guint ws = want->sockets, wc = want->cores, wt = want->threads;

  assert_non_null (got);
  str_eq ("name", want->name, got->name);
  str_eq ("domain_name", want->domain_name, got->domain_name);
  str_eq ("uuid", want->uuid, got->uuid);
  str_eq ("created_at", want->created_at, got->created_at);
  str_eq ("image", want->image, got->image);
  uint_eq ("root_size_bytes", want->root_size_bytes, got->root_size_bytes);
  uint_eq ("labels", want->labels != NULL ? g_hash_table_size (want->labels) : 0,
           got->labels != NULL ? g_hash_table_size (got->labels) : 0);
  if (want->labels != NULL)
    {
      GHashTableIter it;
      gpointer k, v;

      g_hash_table_iter_init (&it, want->labels);
      while (g_hash_table_iter_next (&it, &k, &v))
        str_eq (k, v, g_hash_table_lookup (got->labels, k));
    }
  strv_eq ("requested_devices", want->requested_devices, got->requested_devices);
  uint_eq ("requested_gpus", want->requested_gpus, got->requested_gpus);
  str_eq ("requested_model", want->requested_model, got->requested_model);

  uint_eq ("kvm", want->kvm, got->kvm);
  uint_eq ("firmware", want->firmware, got->firmware);
  uint_eq ("vcpus", want->vcpus, got->vcpus);
  if (ws == 0 && wc == 0 && wt == 0)
    {
      ws = 1;
      wc = want->vcpus;
      wt = 1;
    }
  uint_eq ("sockets", ws, got->sockets);
  uint_eq ("cores", wc, got->cores);
  uint_eq ("threads", wt, got->threads);
  uint_eq ("memory_mib", want->memory_mib, got->memory_mib);
  uint_eq ("hugepage_kib", want->hugepage_kib, got->hugepage_kib);
  uint_eq ("numa_node", (guint64) (gint64) want->numa_node, (guint64) (gint64) got->numa_node);
  uint_eq ("vcpu_pins", want->vcpu_pins != NULL ? want->vcpu_pins->len : 0,
           got->vcpu_pins != NULL ? got->vcpu_pins->len : 0);
  for (guint i = 0; want->vcpu_pins != NULL && i < want->vcpu_pins->len; i++)
    uint_eq ("vcpu_pins[i]", g_array_index (want->vcpu_pins, guint, i),
             g_array_index (got->vcpu_pins, guint, i));
  uint_eq ("emulator_pins", want->emulator_pins != NULL ? want->emulator_pins->len : 0,
           got->emulator_pins != NULL ? got->emulator_pins->len : 0);
  for (guint i = 0; want->emulator_pins != NULL && i < want->emulator_pins->len; i++)
    uint_eq ("emulator_pins[i]", g_array_index (want->emulator_pins, guint, i),
             g_array_index (got->emulator_pins, guint, i));
  uint_eq ("iothreads", want->iothreads, got->iothreads);
  uint_eq ("mmio64_mib", want->mmio64_mib, got->mmio64_mib);

  uint_eq ("disks", want->disks->len, got->disks->len);
  for (guint i = 0; i < want->disks->len; i++)
    {
      const GvdDiskSpec *w = g_ptr_array_index (want->disks, i);
      const GvdDiskSpec *g = g_ptr_array_index (got->disks, i);

      /* libvirt groups disks by bus when it defines a domain (a virtio disk
       * after a SCSI one moves up): match by target where there is one. */
      for (guint j = 0; w->target != NULL && j < got->disks->len; j++)
        if (g_strcmp0 (((const GvdDiskSpec *) g_ptr_array_index (got->disks, j))->target,
                       w->target) == 0)
          g = g_ptr_array_index (got->disks, j);
      uint_eq ("disk.type", w->type, g->type);
      str_eq ("disk.pool", w->pool, g->pool);
      str_eq ("disk.volume", w->volume, g->volume);
          str_eq ("disk.format", w->format != NULL ? w->format : "raw", g->format);
      str_eq ("disk.host", w->host, g->host);
      uint_eq ("disk.port", w->port, g->port);
      str_eq ("disk.source_name", w->source_name, g->source_name);
      str_eq ("disk.auth_username", w->auth_username, g->auth_username);
      str_eq ("disk.secret_uuid", w->secret_uuid, g->secret_uuid);
      uint_eq ("disk.bus", w->bus, g->bus);
      uint_eq ("disk.cache", w->cache, g->cache);
      uint_eq ("disk.io", w->io, g->io);
      uint_eq ("disk.iothread", w->iothread, g->iothread);
      uint_eq ("disk.boot_order", w->boot_order, g->boot_order);
      uint_eq ("disk.readonly", w->readonly, g->readonly);
      str_eq ("disk.serial", w->serial, g->serial);
      str_eq ("disk.name", w->name, g->name);
      uint_eq ("disk.size_bytes", w->size_bytes, g->size_bytes);
      uint_eq ("disk.created", w->created, g->created);
      uint_eq ("disk.keep", w->keep, g->keep);
      if (w->target != NULL)
        str_eq ("disk.target", w->target, g->target);
      assert_non_null (g->target);
    }
  str_eq ("seed_pool", want->seed_pool, got->seed_pool);
  str_eq ("seed_volume", want->seed_volume, got->seed_volume);

  uint_eq ("nics", want->nics->len, got->nics->len);
  for (guint i = 0; i < want->nics->len; i++)
    {
      const GvdNicSpec *w = g_ptr_array_index (want->nics, i);
      const GvdNicSpec *g = g_ptr_array_index (got->nics, i);

      uint_eq ("nic.mode", w->mode, g->mode);
      str_eq ("nic.source", w->mode == GVD_NETWORK_USER ? NULL : w->source, g->source);
      str_eq ("nic.mac", w->mac, g->mac);
      str_eq ("nic.ipv4", w->ipv4, g->ipv4);
      str_eq ("nic.gateway", w->gateway, g->gateway);
      strv_eq ("nic.dns", w->dns, g->dns);
      str_eq ("nic.device", w->device, g->device);
      uint_eq ("nic.forwards", w->forwards != NULL ? w->forwards->len : 0,
               g->forwards != NULL ? g->forwards->len : 0);
      for (guint j = 0; w->forwards != NULL && j < w->forwards->len; j++)
        {
          uint_eq ("nic.forwards.guest", g_array_index (w->forwards, GvdPortForward, j).guest,
                   g_array_index (g->forwards, GvdPortForward, j).guest);
          uint_eq ("nic.forwards.host", g_array_index (w->forwards, GvdPortForward, j).host,
                   g_array_index (g->forwards, GvdPortForward, j).host);
          uint_eq ("nic.forwards.address", g_array_index (w->forwards, GvdPortForward, j).address,
                   g_array_index (g->forwards, GvdPortForward, j).address);
        }
    }

  uint_eq ("hostdevs", want->hostdevs->len, got->hostdevs->len);
  for (guint i = 0; i < want->hostdevs->len; i++)
    {
      const GvdHostdevSpec *w = g_ptr_array_index (want->hostdevs, i);
      const GvdHostdevSpec *g = g_ptr_array_index (got->hostdevs, i);

      str_eq ("hostdev.host_address", w->host_address, g->host_address);
      str_eq ("hostdev.mdev_uuid", w->mdev_uuid, g->mdev_uuid);
      str_eq ("hostdev.mdev_type", w->mdev_type, g->mdev_type);
      uint_eq ("hostdev.guest_bus", w->guest_bus, g->guest_bus);
      uint_eq ("hostdev.guest_slot", 0, g->guest_slot);
      uint_eq ("hostdev.guest_function", w->guest_function, g->guest_function);
      uint_eq ("hostdev.multifunction", w->multifunction, g->multifunction);
      uint_eq ("hostdev.clique", (guint64) (gint64) w->clique, (guint64) (gint64) g->clique);
    }

  uint_eq ("shares", want->shares->len, got->shares->len);
  for (guint i = 0; i < want->shares->len; i++)
    {
      const GvdShareSpec *w = g_ptr_array_index (want->shares, i);
      const GvdShareSpec *g = g_ptr_array_index (got->shares, i);

      str_eq ("share.tag", w->tag, g->tag);
      str_eq ("share.source_dir", w->source_dir, g->source_dir);
      uint_eq ("share.virtiofs", w->virtiofs, g->virtiofs);
      uint_eq ("share.readonly", w->readonly, g->readonly);
      str_eq ("share.mount_point", w->mount_point, g->mount_point);
    }
  str_eq ("console_log", want->console_log, got->console_log);
  uint_eq ("vnc", want->vnc, got->vnc);
  str_eq ("kernel", want->kernel, got->kernel);
  str_eq ("initrd", want->initrd, got->initrd);
  str_eq ("cmdline", want->cmdline, got->cmdline);
  uint_eq ("heartbeat_interval", want->heartbeat_interval, got->heartbeat_interval);
}
