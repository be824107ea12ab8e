/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rendered domains through the real libvirtd: define (validated), read back
 * as libvirt reformats them, parse to the same spec; what reaches QEMU. */
#include "config.h"

#include "testlib.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domain-xml-testlib.h"
#include "domain-xml.h"
#include "errors.h"

#define PREFIX "gvdtest-dom-"

static virConnectPtr conn;

/* Domains a crashed earlier run left behind. */
static void
remove_leftovers (void)
{
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains (conn, &doms, 0);

  for (int i = 0; i < n; i++)
    {
      if (g_str_has_prefix (virDomainGetName (doms[i]), PREFIX))
        {
          if (virDomainIsActive (doms[i]) == 1)
            virDomainDestroy (doms[i]);
          virDomainUndefineFlags (doms[i], VIR_DOMAIN_UNDEFINE_NVRAM);
        }
      virDomainFree (doms[i]);
    }
  free (doms);
  {
    virStoragePoolPtr pool = virStoragePoolLookupByName (conn, PREFIX "pool");
    if (pool != NULL)
      {
        virStoragePoolDestroy (pool);
        virStoragePoolFree (pool);
      }
  }
}

/* A transient dir pool PREFIX "pool" over @dir holding a 16 MiB raw
 * @volume: the translation to QEMU's command line and a start resolve pool
 * volumes, so these tests need real ones. */
static virStoragePoolPtr
pool_with_volume (const char *dir, const char *volume)
{
  g_autofree char *path = g_build_filename (dir, volume, NULL);
  g_autofree char *xml = g_strdup_printf ("<pool type='dir'><name>" PREFIX "pool</name>"
                                          "<target><path>%s</path></target></pool>", dir);
  virStoragePoolPtr pool;
  FILE *f = fopen (path, "w");

  assert_non_null (f);
  assert_int_equal (ftruncate (fileno (f), 16 * 1024 * 1024), 0);
  fclose (f);
  /* QEMU may run as libvirt-qemu: let it in. */
  assert_int_equal (g_chmod (dir, 0755), 0);
  assert_int_equal (g_chmod (path, 0666), 0);
  pool = virStoragePoolCreateXML (conn, xml, 0);
  if (pool == NULL)
    fail_msg ("pool: %s", virGetLastErrorMessage ());
  return pool;
}

static void
pool_remove (virStoragePoolPtr pool, const char *dir, const char *volume)
{
  g_autofree char *path = g_build_filename (dir, volume, NULL);

  virStoragePoolDestroy (pool);
  virStoragePoolFree (pool);
  g_unlink (path);
  g_rmdir (dir);
}

static GvdInstanceSpec *
spec_for_host (const GvdTestDomainCase *c)
{
  GvdInstanceSpec *spec = c->make ();

  /* No /dev/kvm here: TCG. */
  spec->kvm = FALSE;
  g_free (spec->domain_name);
  spec->domain_name = g_strconcat (PREFIX, c->name, NULL);
  g_free (spec->uuid);
  spec->uuid = g_uuid_string_random ();
  return spec;
}

/* Define @xml, read it back (inactive, with secrets) and undefine it. */
static char *
define_and_read_back (const char *xml)
{
  virDomainPtr dom = virDomainDefineXMLFlags (conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
  char *desc;
  char *out;

  if (dom == NULL)
    fail_msg ("libvirt refused the domain: %s\n%s", virGetLastErrorMessage (), xml);
  desc = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  assert_int_equal (virDomainUndefineFlags (dom, VIR_DOMAIN_UNDEFINE_NVRAM), 0);
  virDomainFree (dom);
  assert_non_null (desc);
  out = g_strdup (desc);
  free (desc);
  return out;
}

static void
define__golden_case__libvirt_reformatted_xml_parses_to_same_spec (void **state)
{
  const GvdTestDomainCase *c = *state;
  g_autoptr(GvdInstanceSpec) spec = spec_for_host (c);
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = gvd_domain_xml_render (spec, &error);
  g_autofree char *desc = NULL;
  g_auto(GStrv) addrs = NULL;
  guint n_pci = 0;

  if (xml == NULL)
    fail_msg ("render: %s", error->message);
  desc = define_and_read_back (xml);
  /* libvirt really did reformat it (added controllers, addresses). */
  assert_non_null (strstr (desc, "<emulator>"));
  back = gvd_domain_xml_parse (desc, &error);
  if (back == NULL)
    fail_msg ("parse: %s\n%s", error->message, desc);
  gvd_test_assert_spec_equal (spec, back);

  for (guint i = 0; i < spec->hostdevs->len; i++)
    n_pci += ((GvdHostdevSpec *) g_ptr_array_index (spec->hostdevs, i))->mdev_uuid == NULL;
  /* An SR-IOV NIC's VF is a PCI device the domain holds too. */
  for (guint i = 0; i < spec->nics->len; i++)
    n_pci += ((GvdNicSpec *) g_ptr_array_index (spec->nics, i))->mode == GVD_NETWORK_SRIOV;
  addrs = gvd_domain_xml_hostdev_addresses (desc, &error);
  assert_non_null (addrs);
  assert_int_equal (g_strv_length (addrs), n_pci);
}

static void
define__libvirt_without_metadata__not_found (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *desc = NULL;
  const char *xml = "<domain type='qemu'><name>" PREFIX "foreign</name>"
                    "<memory unit='MiB'>256</memory><vcpu>1</vcpu>"
                    "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
                    "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
                    "<address domain='0x0000' bus='0x7f' slot='0x00' function='0x0'/>"
                    "</source></hostdev></devices></domain>";
  g_auto(GStrv) addrs = NULL;

  desc = define_and_read_back (xml);
  assert_null (gvd_domain_xml_parse (desc, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_NOT_FOUND));
  g_clear_error (&error);
  /* A hand-made domain's devices still count as claimed. */
  addrs = gvd_domain_xml_hostdev_addresses (desc, &error);
  assert_non_null (addrs);
  assert_int_equal (g_strv_length (addrs), 1);
  assert_string_equal (addrs[0], "0000:7f:00.0");
}

static gboolean
argv_has (char **argv, const char *arg)
{
  for (gsize i = 0; argv[i] != NULL; i++)
    if (strstr (argv[i], arg) != NULL)
      return TRUE;
  return FALSE;
}

/* What libvirt 9.0 hands QEMU 7.2 for an 8-GPU, 1 TiB-aperture domain. */
static void
native__eight_gpus__aperture_phys_bits_and_cliques_reach_qemu (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_for_host (&gvd_test_domain_cases[1]);
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  g_auto(GStrv) argv = NULL;
  GvdDiskSpec *root = g_ptr_array_index (spec->disks, 0);
  g_autofree char *dir = NULL;
  virStoragePoolPtr pool;
  char *native;

  assert_string_equal (gvd_test_domain_cases[1].name, "eight-gpus");
  /* The translation resolves pool volumes and hugetlbfs mounts: keep to
   * what this host has. */
  dir = g_build_filename ("/var/tmp", PREFIX "XXXXXX", NULL);
  assert_non_null (g_mkdtemp (dir));
  pool = pool_with_volume (dir, "root.raw");
  root->type = GVD_DISK_VOLUME;
  g_free (root->pool);
  root->pool = g_strdup (PREFIX "pool");
  g_free (root->volume);
  root->volume = g_strdup ("root.raw");
  g_clear_pointer (&spec->seed_pool, g_free);
  g_clear_pointer (&spec->seed_volume, g_free);
  spec->hugepage_kib = 0;
  spec->numa_node = -1;
  xml = gvd_domain_xml_render (spec, &error);
  assert_non_null (xml);

  native = virConnectDomainXMLToNative (conn, "qemu-argv", xml, 0);
  pool_remove (pool, dir, "root.raw");
  if (native == NULL)
    fail_msg ("domxml-to-native: %s", virGetLastErrorMessage ());
  print_message ("%s\n", native);
  argv = g_strsplit (native, " ", -1);
  free (native);

  /* OVMF's aperture knob, via <qemu:commandline> (libvirt reserves
   * opt/ovmf/ in <sysinfo type='fwcfg'>). */
  assert_true (argv_has (argv, "name=opt/ovmf/X-PciMmio64Mb,string=1048576"));
  /* <pcihole64> → the q35 host bridge's 64-bit hole (ACPI _CRS). */
  assert_true (argv_has (argv, "q35-pcihost.pci-hole64-size=1073741824K"));
  /* <maxphysaddr mode='emulate' bits='41'/> on TCG. */
  assert_true (argv_has (argv, "qemu64,phys-bits=41"));
  /* <qemu:override> sets the vfio-pci property on the aliased devices. */
  assert_true (argv_has (argv, "\"id\":\"ua-hostdev7\""));
  assert_true (argv_has (argv, "\"x-nv-gpudirect-clique\":1"));
  assert_true (argv_has (argv, "\"host\":\"0000:db:00.0\""));
}

/* Define and really start a rendered UEFI domain with a 64-bit aperture
 * (phys bits, fw_cfg, pcihole64 all accepted by QEMU), then destroy it. */
static void
start__efi_with_aperture__qemu_runs (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = gvd_test_spec_minimal ("start");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *xml = NULL;
  GvdDiskSpec *root = g_ptr_array_index (spec->disks, 0);
  virStoragePoolPtr pool;
  virDomainPtr dom;
  int state_now = 0, reason = 0, rc;

  dir = g_build_filename ("/var/tmp", PREFIX "XXXXXX", NULL);
  assert_non_null (g_mkdtemp (dir));
  pool = pool_with_volume (dir, "root.raw");

  g_free (spec->domain_name);
  spec->domain_name = g_strdup (PREFIX "start");
  g_free (spec->uuid);
  spec->uuid = g_uuid_string_random ();
  g_free (root->pool);
  root->pool = g_strdup (PREFIX "pool");
  g_free (root->volume);
  root->volume = g_strdup ("root.raw");
  g_clear_pointer (&root->format, g_free);
  g_clear_pointer (&spec->seed_pool, g_free);
  g_clear_pointer (&spec->seed_volume, g_free);
  g_free (spec->console_log);
  spec->console_log = g_build_filename (dir, "console.log", NULL);
  spec->mmio64_mib = 256 * 1024;
  spec->vnc = TRUE;
  xml = gvd_domain_xml_render (spec, &error);
  assert_non_null (xml);

  dom = virDomainDefineXMLFlags (conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
  if (dom == NULL)
    fail_msg ("define: %s", virGetLastErrorMessage ());
  rc = virDomainCreate (dom);
  if (rc == 0)
    {
      assert_int_equal (virDomainGetState (dom, &state_now, &reason, 0), 0);
      virDomainDestroy (dom);
    }
  else
    print_message ("start failed: %s\n", virGetLastErrorMessage ());
  virDomainUndefineFlags (dom, VIR_DOMAIN_UNDEFINE_NVRAM);
  virDomainFree (dom);
  g_unlink (spec->console_log);
  pool_remove (pool, dir, "root.raw");
  assert_int_equal (rc, 0);
  assert_int_equal (state_now, VIR_DOMAIN_RUNNING);
}

int
main (void)
{
  g_autoptr(GArray) tests = g_array_new (FALSE, FALSE, sizeof (struct CMUnitTest));
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const struct CMUnitTest fixed[] = {
    cmocka_unit_test (define__libvirt_without_metadata__not_found),
    cmocka_unit_test (native__eight_gpus__aperture_phys_bits_and_cliques_reach_qemu),
    cmocka_unit_test (start__efi_with_aperture__qemu_runs),
  };
  int rc;

  gvd_test_require_libvirtd ();
  conn = virConnectOpen ("qemu:///system");
  assert_non_null (conn);
  remove_leftovers ();

  for (const GvdTestDomainCase *c = gvd_test_domain_cases; c->name != NULL; c++)
    {
      struct CMUnitTest t = cmocka_unit_test_prestate (
        define__golden_case__libvirt_reformatted_xml_parses_to_same_spec, (void *) c);
      char *name = g_strdup_printf ("define__%s__libvirt_xml_parses_to_same_spec", c->name);

      g_ptr_array_add (names, name);
      t.name = name;
      g_array_append_val (tests, t);
    }
  g_array_append_vals (tests, fixed, G_N_ELEMENTS (fixed));
  rc = _cmocka_run_group_tests ("domain-roundtrip", (const struct CMUnitTest *) tests->data,
                                tests->len, NULL, NULL);
  remove_leftovers ();
  virConnectClose (conn);
  return rc;
}
