/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain XML: golden files, libvirt schema validation, parse round trips,
 * hostile input and every refused field. */
#include "config.h"

#include "testlib.h"

#include "domain-xml-priv.h"
#include "domain-xml-testlib.h"
#include "domain-xml.h"
#include "domain-xml-compat.h"
#include "errors.h"

#include <string.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>

/* ---- helpers ------------------------------------------------------------------ */

static char *
render_ok (const GvdInstanceSpec *spec)
{
  g_autoptr(GError) error = NULL;
  char *xml = gvd_domain_xml_render (spec, &error);

  if (xml == NULL)
    fail_msg ("render failed: %s", error->message);
  return xml;
}

static void
assert_well_formed (const char *xml)
{
  xmlDocPtr doc = xmlReadMemory (xml, (int) strlen (xml), "t.xml", NULL,
                                 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  assert_non_null (doc);
  xmlFreeDoc (doc);
}

/* virt-xml-validate FILE domain: libvirt's own RelaxNG schema. */
static void
assert_schema_valid (const char *xml, const char *name)
{
  const char *tool = g_getenv ("VIRT_XML_VALIDATE");
  g_autofree char *found = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (tool == NULL || *tool == '\0')
    tool = found = g_find_program_in_path ("virt-xml-validate");
  if (tool == NULL)
    fail_msg ("virt-xml-validate not found (apt-get install libvirt-clients)");
  dir = g_dir_make_tmp ("gvd-domain-XXXXXX", &error);
  assert_non_null (dir);
  path = g_build_filename (dir, name, NULL);
  assert_true (g_file_set_contents (path, xml, -1, NULL));
  {
    const char *argv[] = { tool, path, "domain", NULL };
    assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, &error));
  }
  g_unlink (path);
  g_rmdir (dir);
  if (!g_spawn_check_wait_status (status, NULL))
    fail_msg ("virt-xml-validate refused %s:\n%s%s", name, out, err);
}

static void
assert_invalid (const GvdInstanceSpec *spec, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) validate_error = NULL;
  g_autofree char *xml = gvd_domain_xml_render (spec, &error);

  if (xml != NULL)
    fail_msg ("rendered a spec that should fail with '%s'", fragment);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  if (strstr (error->message, fragment) == NULL)
    fail_msg ("error '%s' does not mention '%s'", error->message, fragment);
  /* Validation alone refuses it the same way: rendering adds no check. */
  assert_false (gvd_domain_xml_validate (spec, &validate_error));
  assert_true (g_error_matches (validate_error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  assert_string_equal (validate_error->message, error->message);
}

/* ---- golden files -------------------------------------------------------------- */

/* No console or character device of ours listens on the network: VNC on a
 * unix socket, serial on a pty, the guest agent channel on a unix socket. */
static void
assert_no_network_listener (const char *xml)
{
  const char *banned[] = { "type=\"tcp\"", "type=\"udp\"", "type=\"spice\"",
                           "type=\"rdp\"", "listen=\"", "<listen type=\"address\"",
                           "<listen type=\"network\"", "autoport=", "websocket=" };

  for (gsize i = 0; i < G_N_ELEMENTS (banned); i++)
    if (strstr (xml, banned[i]) != NULL)
      fail_msg ("the domain XML has %s: a console must not listen on the network", banned[i]);
  if (strstr (xml, "<graphics") != NULL)
    assert_non_null (strstr (xml, "<listen type=\"socket\"/>"));
}

static void
render__golden_case__matches_file_validates_and_parses_back (void **state)
{
  const GvdTestDomainCase *c = *state;
  g_autoptr(GvdInstanceSpec) spec = c->make ();
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = render_ok (spec);
  g_autofree char *again = render_ok (spec);
  g_autofree char *file = g_strconcat (c->name, ".xml", NULL);
  g_autofree char *path = gvd_test_data_path ("data", "domain", file, NULL);
  g_autofree char *golden = NULL;

  /* Deterministic: the same spec, the same bytes. */
  assert_string_equal (xml, again);
  /* What renders, validates. */
  assert_true (gvd_domain_xml_validate (spec, &error));
  if (g_strcmp0 (g_getenv ("GVD_TEST_REGENERATE"), "1") == 0)
    assert_true (g_file_set_contents (path, xml, -1, NULL));
  if (!g_file_get_contents (path, &golden, NULL, &error))
    fail_msg ("%s (GVD_TEST_REGENERATE=1 writes it)", error->message);
  if (strcmp (golden, xml) != 0)
    fail_msg ("%s differs from the rendered XML (GVD_TEST_REGENERATE=1 to update):\n%s", path,
              xml);
  assert_schema_valid (xml, file);
  assert_no_network_listener (xml);

  back = gvd_domain_xml_parse (xml, &error);
  if (back == NULL)
    fail_msg ("parse: %s", error->message);
  gvd_test_assert_spec_equal (spec, back);
}

/* virtiofsd needs shared guest RAM: a memfd, or the hugepages themselves
 * (hugetlbfs files, shared as they are; a memfd would drop the page size). */
static void
render__virtiofs__shared_memory_with_or_without_hugepages (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_test_spec_minimal ("fs-1");
  GvdShareSpec *sh = gvd_share_spec_new ();
  g_autofree char *plain = NULL;
  g_autofree char *huge = NULL;

  sh->tag = g_strnfill (36, 'v');
  assert_int_equal (strlen (sh->tag), 36);
  sh->source_dir = g_strdup ("/srv/x");
  sh->virtiofs = TRUE;
  g_ptr_array_add (spec->shares, sh);
  plain = render_ok (spec);
  assert_non_null (strstr (plain, "<source type=\"memfd\"/>\n    <access mode=\"shared\"/>"));
  assert_null (strstr (plain, "<hugepages"));

  spec->memory_mib = 2048;
  spec->hugepage_kib = 1048576;
  huge = render_ok (spec);
  assert_non_null (strstr (huge, "<page size=\"1048576\" unit=\"KiB\"/>"));
  assert_non_null (strstr (huge, "<access mode=\"shared\"/>"));
  assert_null (strstr (huge, "memfd"));
  assert_schema_valid (huge, "virtiofs-hugepages.xml");
}

static void
render__eight_gpus__cliques_aperture_and_ports (void **state)
{
  const GvdTestDomainCase *c = &gvd_test_domain_cases[1];
  g_autoptr(GvdInstanceSpec) spec = c->make ();
  g_autofree char *xml = render_ok (spec);

  assert_string_equal (c->name, "eight-gpus");
  /* One pcie-root-port per group, GPUs on slot 0 of buses 1..8. */
  assert_non_null (strstr (xml, "<controller type=\"pci\" index=\"8\" model=\"pcie-root-port\"/>"));
  assert_null (strstr (xml, "index=\"9\""));
  assert_non_null (strstr (xml, "bus=\"0x08\" slot=\"0x00\" function=\"0x0\""));
  assert_non_null (strstr (xml, "<qemu:device alias=\"ua-hostdev7\">"));
  assert_non_null (strstr (xml, "name=\"x-nv-gpudirect-clique\" type=\"unsigned\" value=\"1\""));
  assert_non_null (strstr (xml, "<pcihole64 unit=\"KiB\">1073741824</pcihole64>"));
  assert_non_null (strstr (xml, "name=opt/ovmf/X-PciMmio64Mb,string=1048576"));
  assert_non_null (strstr (xml, "<maxphysaddr mode=\"passthrough\"/>"));
  /* Single-function groups carry no multifunction flag. */
  assert_null (strstr (xml, "multifunction"));
}

static void
render__bios_with_aperture__no_ovmf_knob (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_test_domain_cases[5].make ();
  g_autofree char *xml = render_ok (spec);

  assert_null (strstr (xml, "X-PciMmio64Mb"));
  assert_null (strstr (xml, "xmlns:qemu"));
  assert_null (strstr (xml, "firmware=\"efi\""));
  assert_non_null (strstr (xml, "<pcihole64 unit=\"KiB\">268435456</pcihole64>"));
  /* 1 GiB RAM + 256 GiB aperture aligned at 256 GiB: ends at 512 GiB. */
  assert_non_null (strstr (xml, "<maxphysaddr mode=\"emulate\" bits=\"40\"/>"));
}

static void
phys_bits_for__apertures__cover_aligned_window (void **state)
{
  assert_int_equal (gvd_domain_xml_phys_bits_for (1024, 32 * 1024), 40);
  /* 1 TiB aperture above 512 GiB RAM: base 1 TiB, end 2 TiB. */
  assert_int_equal (gvd_domain_xml_phys_bits_for (512 * 1024, 1024 * 1024), 41);
  /* 2 TiB RAM (+4 GiB hole) pushes a 1 TiB window to 3 TiB..4 TiB. */
  assert_int_equal (gvd_domain_xml_phys_bits_for (2048 * 1024, 1024 * 1024), 42);
  /* Not a power of two: rounded up to 2 TiB, base 2 TiB. */
  assert_int_equal (gvd_domain_xml_phys_bits_for (1024, 1536 * 1024), 42);
  assert_int_equal (gvd_domain_xml_phys_bits_for (1024, G_GUINT64_CONSTANT (1) << 40), 52);
}

/* ---- hostile input ------------------------------------------------------------- */

static void
render__hostile_text__escaped_and_round_trips (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_test_spec_minimal ("hostile");
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  const char *evil = "\"'><script>&amp;&lt;]]></gpuvmd:instance>";
  const char *devices[] = { "gpu-\"a\"&<b>", "ünïcødé-GPU-✓", NULL };

  spec->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (spec->labels, g_strdup ("owner"), g_strdup (evil));
  g_hash_table_insert (spec->labels, g_strdup ("name"), g_strdup ("Zoë 日本語 🚀"));
  g_hash_table_insert (spec->labels, g_strdup ("project"), g_strdup (evil));
  spec->kernel = g_strdup ("/boot/vmlinuz");
  spec->cmdline = g_strdup ("root=/dev/vda init=\"/bin/sh -c 'echo <x> && true'\"");
  spec->requested_devices = g_strdupv ((char **) devices);
  spec->requested_model = g_strdup ("A100 <80GB> & \"SXM\"");

  xml = render_ok (spec);
  assert_well_formed (xml);
  assert_null (strstr (xml, "<script>"));
  assert_null (strstr (xml, "]]></gpuvmd"));
  assert_non_null (strstr (xml, "&lt;script&gt;&amp;amp;"));
  assert_schema_valid (xml, "hostile.xml");
  back = gvd_domain_xml_parse (xml, &error);
  if (back == NULL)
    fail_msg ("parse: %s", error->message);
  gvd_test_assert_spec_equal (spec, back);
  assert_string_equal (g_hash_table_lookup (back->labels, "owner"), evil);
  /* The Nova-shaped owner/project copy is escaped the same way. */
  assert_non_null (strstr (xml, "<gpuvmd:project>\"'&gt;&lt;script&gt;"));
  assert_non_null (strstr (xml, "<gpuvmd:flavor name=\"2xA100-80GB-SXM-"));
}

static void
flavor_name__shapes__gpus_model_vcpus_memory (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_instance_spec_new ();
  g_autofree char *none = NULL, *model = NULL, *devices = NULL, *odd = NULL, *junk = NULL;
  const char *devs[] = { "gpu-a", "gpu-b", "gpu-c", NULL };

  spec->vcpus = 16;
  spec->memory_mib = 64 * 1024;
  none = gvd_domain_flavor_name (spec);
  assert_string_equal (none, "16c-64g");
  spec->requested_gpus = 2;
  spec->requested_model = g_strdup ("A100");
  model = gvd_domain_flavor_name (spec);
  assert_string_equal (model, "2xA100-16c-64g");
  spec->requested_gpus = 0;
  g_clear_pointer (&spec->requested_model, g_free);
  spec->requested_devices = g_strdupv ((char **) devs);
  devices = gvd_domain_flavor_name (spec);
  assert_string_equal (devices, "3xGPU-16c-64g");
  spec->memory_mib = 1536;
  odd = gvd_domain_flavor_name (spec);
  assert_string_equal (odd, "3xGPU-16c-1536m");
  spec->requested_model = g_strdup ("  <\"';&>  ");
  junk = gvd_domain_flavor_name (spec);
  assert_string_equal (junk, "3xGPU-16c-1536m");
}

static void
render__control_characters__refused (void **state)
{
  static const char *const bad[] = { "line\nbreak", "tab\there", "cr\r", "del\x7f",
                                     "c1-\xc2\x85-nel", "bad-utf8-\xff\xfe", "bell\a" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GvdInstanceSpec) label = gvd_test_spec_minimal ("ctl");
      g_autoptr(GvdInstanceSpec) cmdline = gvd_test_spec_minimal ("ctl");
      g_autoptr(GvdInstanceSpec) model = gvd_test_spec_minimal ("ctl");

      label->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_insert (label->labels, g_strdup ("k"), g_strdup (bad[i]));
      assert_invalid (label, "label value");
      cmdline->kernel = g_strdup ("/boot/vmlinuz");
      cmdline->cmdline = g_strdup (bad[i]);
      assert_invalid (cmdline, "cmdline");
      model->requested_model = g_strdup (bad[i]);
      assert_invalid (model, "requested_model");
    }
}

typedef void (*Mutate) (GvdInstanceSpec *spec);

#define MUTATION(fn, ...) \
  static void fn (GvdInstanceSpec *s) { __VA_ARGS__; }

static GvdDiskSpec *
root_disk (GvdInstanceSpec *s)
{
  return g_ptr_array_index (s->disks, 0);
}

static GvdDiskSpec *
add_disk (GvdInstanceSpec *s, GvdDiskBus bus)
{
  GvdDiskSpec *d = gvd_disk_spec_new ();

  d->type = GVD_DISK_VOLUME;
  d->pool = g_strdup ("gpuvmd");
  d->volume = g_strdup ("x.raw");
  d->bus = bus;
  g_ptr_array_add (s->disks, d);
  return d;
}

static GvdHostdevSpec *
add_gpu (GvdInstanceSpec *s, const char *addr, guint group, guint function)
{
  GvdHostdevSpec *h = gvd_test_hostdev (addr, group, function, -1);
  g_ptr_array_add (s->hostdevs, h);
  return h;
}

MUTATION (m_name_space, g_free (s->name); s->name = g_strdup ("a b"))
MUTATION (m_name_slash, g_free (s->domain_name); s->domain_name = g_strdup ("gpuvm-a/b"))
MUTATION (m_name_quote, g_free (s->name); s->name = g_strdup ("x'y"))
MUTATION (m_name_missing, g_clear_pointer (&s->name, g_free))
MUTATION (m_uuid, g_free (s->uuid); s->uuid = g_strdup ("not-a-uuid"))
MUTATION (m_created, g_free (s->created_at); s->created_at = g_strdup ("yesterday"))
MUTATION (m_mac, g_free (((GvdNicSpec *) s->nics->pdata[0])->mac);
          ((GvdNicSpec *) s->nics->pdata[0])->mac = g_strdup ("52:54:00:12:34"))
MUTATION (m_mac_multicast, g_free (((GvdNicSpec *) s->nics->pdata[0])->mac);
          ((GvdNicSpec *) s->nics->pdata[0])->mac = g_strdup ("01:00:5e:00:00:01"))
MUTATION (m_mac_twice, GvdNicSpec *n = gvd_nic_spec_new (); n->mac = g_strdup ("52:54:00:12:34:56");
          g_ptr_array_add (s->nics, n))
MUTATION (m_cidr, ((GvdNicSpec *) s->nics->pdata[0])->ipv4 = g_strdup ("10.0.0.300/24"))
MUTATION (m_dns, const char *d[] = { "dns.example", NULL };
          ((GvdNicSpec *) s->nics->pdata[0])->dns = g_strdupv ((char **) d))
MUTATION (m_bridge_no_source, ((GvdNicSpec *) s->nics->pdata[0])->mode = GVD_NETWORK_BRIDGE)
MUTATION (m_kernel_relative, s->kernel = g_strdup ("boot/vmlinuz"))
MUTATION (m_kernel_dotdot, s->kernel = g_strdup ("/boot/../etc/shadow"))
MUTATION (m_cmdline_no_kernel, s->cmdline = g_strdup ("quiet"))
MUTATION (m_log_relative, g_free (s->console_log); s->console_log = g_strdup ("console.log"))
MUTATION (m_pci_bad, add_gpu (s, "41:00.0", 0, 0))
MUTATION (m_pci_slot, add_gpu (s, "0000:41:20.0", 0, 0))
MUTATION (m_function, add_gpu (s, "0000:41:00.0", 0, 8))
MUTATION (m_group_gap, add_gpu (s, "0000:41:00.0", 0, 0); add_gpu (s, "0000:42:00.0", 2, 0);
          add_gpu (s, "0000:42:00.1", 2, 1); add_gpu (s, "0000:43:00.1", 1, 1))
MUTATION (m_group_twice, add_gpu (s, "0000:41:00.0", 0, 0); add_gpu (s, "0000:42:00.0", 0, 0))
MUTATION (m_host_twice, add_gpu (s, "0000:41:00.0", 0, 0); add_gpu (s, "0000:41:00.0", 1, 0))
MUTATION (m_group_range, add_gpu (s, "0000:41:00.0", 40, 0))
MUTATION (m_clique, add_gpu (s, "0000:41:00.0", 0, 0)->clique = 16)
MUTATION (m_mdev_uuid, GvdHostdevSpec *h = add_gpu (s, "0000:41:00.0", 0, 0);
          h->mdev_uuid = g_strdup ("zzz"))
MUTATION (m_topology, s->vcpus = 8; s->sockets = 2; s->cores = 3; s->threads = 1)
MUTATION (m_vcpus, s->vcpus = 0)
MUTATION (m_memory, s->memory_mib = 16)
MUTATION (m_pins_count, s->vcpus = 2; s->vcpu_pins = g_array_new (FALSE, TRUE, sizeof (guint));
          g_array_set_size (s->vcpu_pins, 1); s->emulator_pins = g_array_copy (s->vcpu_pins))
MUTATION (m_pins_twice, s->vcpus = 2; s->vcpu_pins = g_array_new (FALSE, TRUE, sizeof (guint));
          g_array_set_size (s->vcpu_pins, 2); s->emulator_pins = g_array_copy (s->vcpu_pins))
MUTATION (m_pins_alone, s->vcpu_pins = g_array_new (FALSE, TRUE, sizeof (guint));
          g_array_set_size (s->vcpu_pins, 1))
MUTATION (m_numa, s->numa_node = 5000)
MUTATION (m_no_disk, g_ptr_array_set_size (s->disks, 0))
MUTATION (m_native_cache, root_disk (s)->io = GVD_DISK_IO_NATIVE)
MUTATION (m_sata_ro, add_disk (s, GVD_DISK_BUS_SATA)->readonly = TRUE)
MUTATION (m_sata_iothread, s->iothreads = 1; add_disk (s, GVD_DISK_BUS_SATA)->iothread = 1)
MUTATION (m_iothread_range, s->iothreads = 1; root_disk (s)->iothread = 2)
MUTATION (m_scsi_iothreads, s->iothreads = 2; add_disk (s, GVD_DISK_BUS_SCSI)->iothread = 1;
          add_disk (s, GVD_DISK_BUS_SCSI)->iothread = 2)
MUTATION (m_boot_twice, add_disk (s, GVD_DISK_BUS_VIRTIO)->boot_order = 1)
MUTATION (m_target_bus, add_disk (s, GVD_DISK_BUS_SATA)->target = g_strdup ("vdb"))
MUTATION (m_target_twice, root_disk (s)->target = g_strdup ("vdb");
          add_disk (s, GVD_DISK_BUS_VIRTIO)->target = g_strdup ("vdb"))
MUTATION (m_format, g_free (root_disk (s)->format); root_disk (s)->format = g_strdup ("vmdk"))
MUTATION (m_pool_slash, g_free (root_disk (s)->pool); root_disk (s)->pool = g_strdup ("a/b"))
MUTATION (m_nbd_host, add_disk (s, GVD_DISK_BUS_VIRTIO)->type = GVD_DISK_NBD)
MUTATION (m_rbd_name, GvdDiskSpec *d = add_disk (s, GVD_DISK_BUS_VIRTIO); d->type = GVD_DISK_RBD;
          d->host = g_strdup ("mon1"))
MUTATION (m_rbd_auth_half, GvdDiskSpec *d = add_disk (s, GVD_DISK_BUS_VIRTIO);
          d->type = GVD_DISK_RBD; d->source_name = g_strdup ("p/i");
          d->auth_username = g_strdup ("admin"))
MUTATION (m_nbd_host_evil, GvdDiskSpec *d = add_disk (s, GVD_DISK_BUS_VIRTIO);
          d->type = GVD_DISK_NBD; d->host = g_strdup ("h\"/><x y=\""))
MUTATION (m_virtiofs_ro, GvdShareSpec *sh = gvd_share_spec_new (); sh->tag = g_strdup ("t");
          sh->source_dir = g_strdup ("/srv"); sh->virtiofs = TRUE; sh->readonly = TRUE;
          g_ptr_array_add (s->shares, sh))
MUTATION (m_share_tag, GvdShareSpec *sh = gvd_share_spec_new ();
          sh->tag = g_strdup ("a-tag-that-is-much-too-long-for-9p");
          sh->source_dir = g_strdup ("/srv");
          g_ptr_array_add (s->shares, sh))
MUTATION (m_virtiofs_tag, GvdShareSpec *sh = gvd_share_spec_new ();
          sh->tag = g_strnfill (37, 'v');
          sh->source_dir = g_strdup ("/srv"); sh->virtiofs = TRUE;
          g_ptr_array_add (s->shares, sh))
MUTATION (m_mount_point, GvdShareSpec *sh = gvd_share_spec_new (); sh->tag = g_strdup ("t");
          sh->source_dir = g_strdup ("/srv"); sh->mount_point = g_strdup ("mnt/t");
          g_ptr_array_add (s->shares, sh))
MUTATION (m_page_size, s->hugepage_kib = 4096)
MUTATION (m_page_multiple, s->hugepage_kib = 1048576; s->memory_mib = 1536)
MUTATION (m_label_key, s->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
          g_hash_table_insert (s->labels, g_strdup ("bad key"), g_strdup ("v")))
MUTATION (m_seed_half, g_clear_pointer (&s->seed_volume, g_free))

typedef struct {
  const char *name;
  Mutate mutate;
  const char *fragment;
} BadCase;

static const BadCase bad_cases[] = {
  { "name with space", m_name_space, "instance name" },
  { "domain name with slash", m_name_slash, "domain name" },
  { "name with quote", m_name_quote, "instance name" },
  { "no name", m_name_missing, "instance name is empty" },
  { "uuid", m_uuid, "not a UUID" },
  { "created_at", m_created, "ISO 8601" },
  { "short MAC", m_mac, "not a MAC" },
  { "multicast MAC", m_mac_multicast, "multicast" },
  { "MAC twice", m_mac_twice, "used twice" },
  { "CIDR", m_cidr, "not an IPv4" },
  { "DNS name", m_dns, "not an IP" },
  { "bridge without source", m_bridge_no_source, "NIC source is empty" },
  { "relative kernel", m_kernel_relative, "not an absolute path" },
  { "kernel with ..", m_kernel_dotdot, "not a normalised path" },
  { "cmdline without kernel", m_cmdline_no_kernel, "need a kernel" },
  { "relative console log", m_log_relative, "not an absolute path" },
  { "PCI address form", m_pci_bad, "not a PCI address" },
  { "PCI slot", m_pci_slot, "not a PCI address" },
  { "guest function", m_function, "function 8" },
  { "group without function 0", m_group_gap, "no function 0" },
  { "group function twice", m_group_twice, "used twice" },
  { "host device twice", m_host_twice, "planned twice" },
  { "group range", m_group_range, "out of range" },
  { "clique", m_clique, "clique 16" },
  { "mdev uuid", m_mdev_uuid, "not a UUID" },
  { "topology", m_topology, "topology" },
  { "no vcpus", m_vcpus, "vcpus" },
  { "memory", m_memory, "memory" },
  { "pins for too few vCPUs", m_pins_count, "vCPU pins" },
  { "one CPU for two vCPUs", m_pins_twice, "two vCPUs" },
  { "vCPU pins without emulator pins", m_pins_alone, "go together" },
  { "numa node", m_numa, "NUMA" },
  { "no disks", m_no_disk, "root disk" },
  { "io=native without cache=none", m_native_cache, "cache=none" },
  { "read-only SATA", m_sata_ro, "read-only SATA" },
  { "SATA iothread", m_sata_iothread, "SATA disks cannot" },
  { "iothread out of range", m_iothread_range, "iothread 2" },
  { "SCSI iothreads differ", m_scsi_iothreads, "one iothread" },
  { "boot order twice", m_boot_twice, "boot order 1" },
  { "target for another bus", m_target_bus, "for its bus" },
  { "target twice", m_target_twice, "used twice" },
  { "disk format", m_format, "raw or qcow2" },
  { "pool with slash", m_pool_slash, "may not contain" },
  { "NBD without host", m_nbd_host, "needs a host" },
  { "RBD without name", m_rbd_name, "pool/image" },
  { "RBD auth half", m_rbd_auth_half, "both a username" },
  { "NBD host markup", m_nbd_host_evil, "disk host" },
  { "read-only virtiofs", m_virtiofs_ro, "read-only virtiofs" },
  { "share tag length", m_share_tag, "share tag" },
  { "virtiofs tag length", m_virtiofs_tag, "share tag" },
  { "relative mount point", m_mount_point, "share mount point" },
  { "hugepage size", m_page_size, "4096 KiB" },
  { "memory not whole pages", m_page_multiple, "not a whole number of 1G pages" },
  { "label key", m_label_key, "label key" },
  { "seed half", m_seed_half, "seed ISO" },
};

static void
render__bad_field__invalid_argument (void **state)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autoptr(GvdInstanceSpec) spec = gvd_test_spec_minimal ("bad");

      bad_cases[i].mutate (spec);
      print_message ("bad case: %s\n", bad_cases[i].name);
      assert_invalid (spec, bad_cases[i].fragment);
    }
}

static void
render__nbd_ipv6_host__accepted_unbracketed (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_test_spec_minimal ("v6");
  g_autoptr(GvdInstanceSpec) back = NULL;
  GvdDiskSpec *d = gvd_disk_spec_new ();
  g_autofree char *xml = NULL;

  d->type = GVD_DISK_NBD;
  d->host = g_strdup ("fd00::5");
  g_ptr_array_add (spec->disks, d);
  xml = render_ok (spec);
  assert_non_null (strstr (xml, "<host name=\"fd00::5\"/>"));
  assert_schema_valid (xml, "v6.xml");
  back = gvd_domain_xml_parse (xml, NULL);
  gvd_test_assert_spec_equal (spec, back);
}

/* ---- parser ------------------------------------------------------------------- */

static void
parse__foreign_domain__not_found (void **state)
{
  g_autoptr(GError) error = NULL;
  const char *xml = "<domain type='qemu'><name>hand-made</name>"
                    "<metadata><app:x xmlns:app='urn:other'/></metadata>"
                    "<memory unit='KiB'>524288</memory><vcpu>1</vcpu>"
                    "<os><type>hvm</type></os></domain>";

  assert_null (gvd_domain_xml_parse (xml, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_NOT_FOUND));
  assert_string_equal (error->message, "not a gpuvmd domain");
}

static void
parse__bad_documents__invalid_argument (void **state)
{
  static const char *const docs[] = {
    "<domain><name>x</name",
    "<network><name>x</name></network>",
    "<domain><metadata><g:instance xmlns:g='urn:gpuvmd:domain:1' version='2'>"
    "<g:name>x</g:name></g:instance></metadata></domain>",
    "<domain><metadata><g:instance xmlns:g='urn:gpuvmd:domain:1' version='1'>"
    "<g:name>x</g:name></g:instance></metadata><vcpu>many</vcpu></domain>",
    /* An external entity must not be fetched or expanded. */
    "<!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><domain><metadata>"
    "<g:instance xmlns:g='urn:gpuvmd:domain:1' version='1'><g:name>&e;</g:name>"
    "</g:instance></metadata></domain>",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdInstanceSpec) spec = gvd_domain_xml_parse (docs[i], &error);

      print_message ("document %" G_GSIZE_FORMAT "\n", i);
      assert_null (spec);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
    }
}

/* libvirt reformats: other prefix, added aliases, addresses, controllers. */
static void
parse__libvirt_style_prefix_and_additions__same_spec (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_test_domain_cases[0].make ();
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = render_ok (spec);
  g_autoptr(GString) s = g_string_new (xml);

  g_string_replace (s, "<gpuvmd:", "<ns0:", 0);
  g_string_replace (s, "</gpuvmd:", "</ns0:", 0);
  g_string_replace (s, "xmlns:gpuvmd=", "xmlns:ns0=", 0);
  g_string_replace (s, "<devices>",
                    "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
                    "<controller type='usb' index='0' model='qemu-xhci'/>"
                    "<interface type='ethernet'><mac address='52:54:00:00:00:99'/></interface>"
                    "<disk type='block' device='disk'><source dev='/dev/sdz'/>"
                    "<target dev='vdz' bus='virtio'/></disk>",
                    1);
  g_string_replace (s, "<memory unit=\"KiB\">1048576</memory>",
                    "<memory unit='KiB'>1048576</memory>"
                    "<currentMemory unit='KiB'>1048576</currentMemory>",
                    1);
  back = gvd_domain_xml_parse (s->str, &error);
  if (back == NULL)
    fail_msg ("parse: %s", error->message);
  gvd_test_assert_spec_equal (spec, back);
}

static void
hostdev_addresses__any_domain__pci_only (void **state)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) addrs = NULL;
  g_auto(GStrv) none = NULL;
  const char *xml =
    "<domain type='kvm'><name>hand</name><devices>"
    "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
    "<address domain='0x0000' bus='0xAB' slot='0x1f' function='0x7'/></source></hostdev>"
    "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
    "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>"
    "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/></source></hostdev>"
    "<hostdev mode='subsystem' type='pci'><source>"
    "<address domain='0x0001' bus='0x02' slot='0x03' function='0x1'/></source></hostdev>"
    "</devices></domain>";

  addrs = gvd_domain_xml_hostdev_addresses (xml, &error);
  assert_non_null (addrs);
  assert_int_equal (g_strv_length (addrs), 2);
  assert_string_equal (addrs[0], "0000:ab:1f.7");
  assert_string_equal (addrs[1], "0001:02:03.1");

  none = gvd_domain_xml_hostdev_addresses ("<domain><name>x</name></domain>", &error);
  assert_non_null (none);
  assert_int_equal (g_strv_length (none), 0);
  assert_null (gvd_domain_xml_hostdev_addresses ("<domain>", &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
}

static void
disk_sources__any_domain__volumes_files_and_devices (void **state)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) refs = NULL;
  g_auto(GStrv) none = NULL;
  g_autoptr(GvdInstanceSpec) spec = gvd_test_domain_cases[0].make ();
  g_autofree char *ours = render_ok (spec);
  g_auto(GStrv) rendered = NULL;
  const char *xml =
    "<domain type='kvm'><name>hand</name><devices>"
    "<disk type='volume' device='disk'><source pool='p' volume='v.qcow2'/></disk>"
    "<disk type='file' device='cdrom'><source file='/var/lib/x.iso'/></disk>"
    "<disk type='block' device='disk'><source dev='/dev/vg/lv'/></disk>"
    "<disk type='network' device='disk'><source protocol='nbd' name='e'/></disk>"
    "<disk type='file' device='cdrom'/>"
    "</devices></domain>";

  refs = gvd_domain_xml_disk_sources (xml, &error);
  assert_non_null (refs);
  assert_int_equal (g_strv_length (refs), 3);
  assert_string_equal (refs[0], "p/v.qcow2");
  assert_string_equal (refs[1], "/var/lib/x.iso");
  assert_string_equal (refs[2], "/dev/vg/lv");

  /* gpuvmd's own domains name their root and seed volumes. */
  rendered = gvd_domain_xml_disk_sources (ours, &error);
  assert_non_null (rendered);
  {
    const GvdDiskSpec *root = g_ptr_array_index (spec->disks, 0);
    g_autofree char *root_ref = g_strconcat (root->pool, "/", root->volume, NULL);
    g_autofree char *seed_ref = g_strconcat (spec->seed_pool, "/", spec->seed_volume, NULL);

    assert_true (g_strv_contains ((const char *const *) rendered, root_ref));
    assert_true (g_strv_contains ((const char *const *) rendered, seed_ref));
  }

  none = gvd_domain_xml_disk_sources ("<domain><name>x</name></domain>", &error);
  assert_non_null (none);
  assert_int_equal (g_strv_length (none), 0);
  assert_null (gvd_domain_xml_disk_sources ("<domain>", &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
}

static void
parse__hand_added_hostdev__counted_with_bus_as_group (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_test_domain_cases[0].make ();
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = render_ok (spec);
  g_autoptr(GString) s = g_string_new (xml);
  const GvdHostdevSpec *extra;

  g_string_replace (s, "<memballoon",
                    "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
                    "<address domain='0x0000' bus='0x99' slot='0x00' function='0x0'/></source>"
                    "<address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>"
                    "</hostdev><memballoon",
                    1);
  back = gvd_domain_xml_parse (s->str, &error);
  assert_non_null (back);
  assert_int_equal (back->hostdevs->len, 3);
  extra = g_ptr_array_index (back->hostdevs, 2);
  assert_string_equal (extra->host_address, "0000:99:00.0");
  assert_int_equal (extra->guest_bus, 4);
  assert_int_equal (extra->clique, -1);
}

/* Any domain's forwarded host ports: gpuvmd's JSON hostfwd, a hand-made
 * key=value -netdev, passt <portForward> ranges (excluded ones skipped). */
static void
forwarded_host_ports__any_domain__hostfwd_and_passt_ranges (void **state)
{
  const GvdTestDomainCase *c = NULL;
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autofree char *ours = NULL;
  g_autoptr(GArray) got = NULL;
  g_autoptr(GArray) foreign = NULL;
  g_autoptr(GArray) none = NULL;
  g_autoptr(GError) error = NULL;
  const char *xml =
    "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>f</name>"
    "<devices><interface type='user'><backend type='passt'/>"
    "<portForward proto='tcp'><range start='2000' end='2002' to='20'/>"
    "<range start='2001' exclude='yes'/></portForward>"
    "<portForward proto='udp' address='127.0.0.1'><range start='3000'/></portForward>"
    "</interface></devices>"
    "<qemu:commandline><qemu:arg value='-netdev'/>"
    "<qemu:arg value='user,id=n,hostfwd=tcp::2222-:22,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80'/>"
    "<qemu:arg value='-netdev'/><qemu:arg value='{\"type\":\"user\",\"id\":\"x\","
    "\"hostfwd\":[{\"str\":\"udp::5353-:53\"},{\"str\":\"garbage\"}]}'/>"
    "</qemu:commandline></domain>";
  const guint want[] = { 2222, 8080, 5353, 2000, 2001, 2002, 3000 };

  for (c = gvd_test_domain_cases; c->name != NULL && !g_str_equal (c->name, "forwarded-ports"); c++)
    ;
  assert_non_null (c->name);
  spec = c->make ();
  ours = render_ok (spec);
  got = gvd_domain_xml_forwarded_host_ports (ours, &error);
  assert_non_null (got);
  assert_int_equal (got->len, 2);
  assert_int_equal (g_array_index (got, guint, 0), 40000);
  assert_int_equal (g_array_index (got, guint, 1), 40001);

  foreign = gvd_domain_xml_forwarded_host_ports (xml, &error);
  assert_non_null (foreign);
  assert_int_equal (foreign->len, G_N_ELEMENTS (want));
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    assert_int_equal (g_array_index (foreign, guint, i), want[i]);

  none = gvd_domain_xml_forwarded_host_ports ("<domain><name>x</name></domain>", &error);
  assert_non_null (none);
  assert_int_equal (none->len, 0);
  assert_null (gvd_domain_xml_forwarded_host_ports ("<domain>", &error));
}

/* libvirt lists a domain's disks by bus, so a SCSI data disk ("sda") comes
 * before the virtio root ("vda"): the parser still gives the root back as
 * disks[0], which delete, resize and snapshots take for the root. */
static void
parse__data_disk_listed_before_root__root_first (void **state)
{
  const GvdTestDomainCase *c = gvd_test_domain_cases;
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *moved = NULL;
  xmlDocPtr doc;
  xmlNodePtr devices, first_disk = NULL, last_disk = NULL;
  xmlChar *mem = NULL;
  int size = 0;

  while (c->name != NULL && strcmp (c->name, "data-disks") != 0)
    c++;
  assert_non_null (c->name);
  spec = c->make ();
  xml = render_ok (spec);
  doc = xmlReadMemory (xml, (int) strlen (xml), "domain.xml", NULL, XML_PARSE_NONET);
  assert_non_null (doc);
  devices = xmlDocGetRootElement (doc)->children;
  while (devices != NULL && !xmlStrEqual (devices->name, BAD_CAST "devices"))
    devices = devices->next;
  assert_non_null (devices);
  for (xmlNodePtr n = devices != NULL ? devices->children : NULL; n != NULL; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "disk"))
      {
        if (first_disk == NULL)
          first_disk = n;
        last_disk = n;
      }
  assert_true (first_disk != NULL && last_disk != first_disk);
  xmlUnlinkNode (first_disk);
  xmlAddNextSibling (last_disk, first_disk);
  xmlDocDumpMemory (doc, &mem, &size);
  moved = g_strndup ((const char *) mem, (gsize) size);
  xmlFree (mem);
  xmlFreeDoc (doc);

  back = gvd_domain_xml_parse (moved, &error);
  if (back == NULL)
    fail_msg ("parse: %s", error->message);
  assert_string_equal (((GvdDiskSpec *) g_ptr_array_index (back->disks, 0))->volume,
                       ((GvdDiskSpec *) g_ptr_array_index (spec->disks, 0))->volume);
  assert_int_equal (((GvdDiskSpec *) g_ptr_array_index (back->disks, 0))->boot_order, 1);
  assert_int_equal (back->disks->len, spec->disks->len);
}

int
main (void)
{
  g_autoptr(GArray) tests = g_array_new (FALSE, FALSE, sizeof (struct CMUnitTest));
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const struct CMUnitTest fixed[] = {
    cmocka_unit_test (render__eight_gpus__cliques_aperture_and_ports),
    cmocka_unit_test (render__virtiofs__shared_memory_with_or_without_hugepages),
    cmocka_unit_test (render__bios_with_aperture__no_ovmf_knob),
    cmocka_unit_test (phys_bits_for__apertures__cover_aligned_window),
    cmocka_unit_test (render__hostile_text__escaped_and_round_trips),
    cmocka_unit_test (parse__data_disk_listed_before_root__root_first),
    cmocka_unit_test (flavor_name__shapes__gpus_model_vcpus_memory),
    cmocka_unit_test (render__control_characters__refused),
    cmocka_unit_test (render__bad_field__invalid_argument),
    cmocka_unit_test (render__nbd_ipv6_host__accepted_unbracketed),
    cmocka_unit_test (parse__foreign_domain__not_found),
    cmocka_unit_test (parse__bad_documents__invalid_argument),
    cmocka_unit_test (parse__libvirt_style_prefix_and_additions__same_spec),
    cmocka_unit_test (parse__hand_added_hostdev__counted_with_bus_as_group),
    cmocka_unit_test (hostdev_addresses__any_domain__pci_only),
    cmocka_unit_test (disk_sources__any_domain__volumes_files_and_devices),
    cmocka_unit_test (forwarded_host_ports__any_domain__hostfwd_and_passt_ranges),
  };
  int rc;

  for (const GvdTestDomainCase *c = gvd_test_domain_cases; c->name != NULL; c++)
    {
      struct CMUnitTest t = cmocka_unit_test_prestate (
        render__golden_case__matches_file_validates_and_parses_back, (void *) c);
      char *name = g_strdup_printf ("render__%s__matches_golden_validates_parses_back", c->name);

      g_ptr_array_add (names, name);
      t.name = name;
      g_array_append_val (tests, t);
    }
  g_array_append_vals (tests, fixed, G_N_ELEMENTS (fixed));
  rc = _cmocka_run_group_tests ("domain-xml", (const struct CMUnitTest *) tests->data, tests->len,
                                NULL, NULL);
  xmlCleanupParser ();
  return rc;
}
