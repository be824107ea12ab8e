/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability checks: the text parsers, the domain-capabilities parser on
 * saved XML, gathering from the fixture hosts, every check's pass/warn/fail,
 * the verdict per fixture host, the table, the JSON and GET /v1/host. */
#include "config.h"

#include "testlib.h"

#include "api.h"
#include "capability-gather.h"
#include "domcaps.h"

#include <string.h>

/* ---- helpers --------------------------------------------------------------- */

static char *
read_data (const char *first, ...)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_autofree char *path = NULL;
  char *text = NULL;
  va_list ap;

  va_start (ap, first);
  for (const char *p = first; p != NULL; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  {
    g_autofree char *rel = g_build_filenamev ((char **) parts->pdata);
    path = gvd_test_data_path (rel, NULL);
  }
  if (!g_file_get_contents (path, &text, NULL, NULL))
    fail_msg ("cannot read fixture %s", path);
  return text;
}

static GvdDomainCaps *
load_domcaps (const char *file)
{
  g_autofree char *xml = read_data ("data", "domcaps", file, NULL);
  g_autoptr(GError) error = NULL;
  GvdDomainCaps *caps = gvd_domcaps_parse (xml, strlen (xml), &error);

  if (caps == NULL)
    fail_msg ("%s: %s", file, error->message);
  return caps;
}

/* A pool path below /tmp that does not exist: its parent is writable. */
static char *
pool_path (void)
{
  return g_build_filename (g_get_tmp_dir (), "gpuvmd-test-no-such-dir", "pool", NULL);
}

/* Facts as the daemon gathers them on fixture host @scenario, with libvirt
 * answering libvirt 9.0.0, QEMU 7.2.0 and @domcaps_xml (a file under
 * tests/data/domcaps, or NULL for the libvirt-down case). */
static GvdHostFacts *
fixture_facts (const char *scenario, const char *domcaps_file)
{
  g_autofree char *dir = gvd_test_data_path ("data", "hosts", scenario, NULL);
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (dir);
  g_autofree char *pool = pool_path ();
  GvdHostFacts *facts = gvd_host_facts_new ();

  gvd_capability_gather_host (facts, root, pool);
  facts->libvirt_uri = g_strdup ("qemu:///system");
  if (domcaps_file != NULL)
    {
      g_autofree char *xml = read_data ("data", "domcaps", domcaps_file, NULL);

      facts->libvirt_reachable = TRUE;
      facts->lib_version = 9000000;
      facts->hv_version = 7002000;
      facts->domcaps_virttype = g_strdup (gvd_host_facts_virttype (facts));
      gvd_host_facts_set_domcaps (facts, xml, strlen (xml));
    }
  else
    facts->libvirt_error = g_strdup ("Failed to connect socket to '/run/libvirt/libvirt-sock'");
  return facts;
}

static void
assert_check (const GvdCapReport *report, const char *name, GvdCheckStatus status)
{
  const GvdCheck *c = gvd_cap_report_find (report, name);

  if (c == NULL)
    fail_msg ("no check %s", name);
  if (c->status != status)
    fail_msg ("%s: %s (%s), expected %s", name, gvd_check_status_to_string (c->status),
              c->detail, gvd_check_status_to_string (status));
  assert_non_null (c->detail);
  if (status == GVD_CHECK_PASS)
    assert_null (c->remedy);
  else
    {
      assert_non_null (c->remedy);
      assert_true (strlen (c->remedy) > 10);
    }
}

static gboolean
detail_contains (const GvdCapReport *report, const char *name, const char *needle)
{
  const GvdCheck *c = gvd_cap_report_find (report, name);

  return c != NULL && strstr (c->detail, needle) != NULL;
}

static char *
join_names (const GPtrArray *names)
{
  g_autoptr(GString) s = g_string_new (NULL);

  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (s, "%s%s", i > 0 ? "," : "", (const char *) g_ptr_array_index (names, i));
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* ---- text parsers ------------------------------------------------------------- */

static void
parse_cpuinfo__intel_fixture__vendor_model_vmx_count (void **state)
{
  g_autofree char *text = read_data ("data", "hosts", "server-8gpu", "proc", "cpuinfo", NULL);
  GvdCpuInfo cpu = { 0 };

  gvd_capability_parse_cpuinfo (text, &cpu);
  assert_int_equal (cpu.vendor, GVD_CPU_VENDOR_INTEL);
  assert_string_equal (cpu.model, "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz");
  assert_int_equal (cpu.count, 8);
  assert_true (cpu.vmx);
  assert_false (cpu.svm);
  assert_false (cpu.hypervisor);
  gvd_cpu_info_clear (&cpu);
}

static void
parse_cpuinfo__guest__hypervisor_without_svm (void **state)
{
  g_autofree char *text = read_data ("data", "hosts", "nested-guest", "proc", "cpuinfo", NULL);
  GvdCpuInfo cpu = { 0 };

  gvd_capability_parse_cpuinfo (text, &cpu);
  assert_int_equal (cpu.vendor, GVD_CPU_VENDOR_AMD);
  assert_string_equal (cpu.model, "AMD EPYC");
  assert_true (cpu.hypervisor);
  assert_false (cpu.svm);
  assert_false (cpu.vmx);
  gvd_cpu_info_clear (&cpu);

  /* Keys that only look alike ("flagsx") do not count; NULL text is empty. */
  gvd_capability_parse_cpuinfo ("processor\t: 0\nflagsx\t: vmx\nmodel name : X\n", &cpu);
  assert_false (cpu.vmx);
  assert_string_equal (cpu.model, "X");
  assert_int_equal (cpu.count, 1);
  gvd_cpu_info_clear (&cpu);
  gvd_capability_parse_cpuinfo (NULL, &cpu);
  assert_int_equal (cpu.count, 0);
  assert_null (cpu.model);
}

static void
parse_cmdline__init_arguments__stop_at_double_dash (void **state)
{
  g_auto(GStrv) args = gvd_capability_parse_cmdline ("  ro  quiet intel_iommu=on,sm_on\n"
                                                     "iommu=pt -- pcie_acs_override=downstream\n");

  assert_int_equal (g_strv_length (args), 4);
  assert_string_equal (args[0], "ro");
  assert_string_equal (gvd_capability_cmdline_get ((const char *const *) args, "intel_iommu"),
                       "on,sm_on");
  assert_string_equal (gvd_capability_cmdline_get ((const char *const *) args, "iommu"), "pt");
  assert_string_equal (gvd_capability_cmdline_get ((const char *const *) args, "quiet"), "");
  assert_null (gvd_capability_cmdline_get ((const char *const *) args, "pcie_acs_override"));
  /* "iommu" must not match "intel_iommu" or "iommu.strict". */
  assert_null (gvd_capability_cmdline_get ((const char *const *) args, "intel"));
}

static void
cmdline_get__repeated_key__last_wins (void **state)
{
  g_auto(GStrv) args = gvd_capability_parse_cmdline ("intel_iommu=on iommu.strict=1 "
                                                     "intel_iommu=off");

  assert_string_equal (gvd_capability_cmdline_get ((const char *const *) args, "intel_iommu"),
                       "off");
  assert_null (gvd_capability_cmdline_get ((const char *const *) args, "iommu"));
  assert_null (gvd_capability_cmdline_get (NULL, "iommu"));
}

static void
modules_has__name_prefixes__whole_names_only (void **state)
{
  const char *text = "vfio_pci 49152 0 - Live 0x0\nvfio_iommu_type1 45056 0 - Live 0x0\n"
                     "kvm 1114112 1 kvm_intel, Live 0x0";

  assert_true (gvd_capability_modules_has (text, "vfio_pci"));
  assert_true (gvd_capability_modules_has (text, "kvm"));
  assert_false (gvd_capability_modules_has (text, "vfio"));
  assert_false (gvd_capability_modules_has (text, "kvm_intel"));
  assert_false (gvd_capability_modules_has (NULL, "vfio"));
}

static void
interrupts_have_ir__remapped_chips__true (void **state)
{
  g_autofree char *ir = read_data ("data", "hosts", "workstation-2gpu", "proc", "interrupts", NULL);
  g_autofree char *plain = read_data ("data", "hosts", "no-iommu", "proc", "interrupts", NULL);

  assert_true (gvd_capability_interrupts_have_ir (ir));
  assert_false (gvd_capability_interrupts_have_ir (plain));
  /* Only a whole token starting with "IR-" counts. */
  assert_true (gvd_capability_interrupts_have_ir ("  24:  1  IR-PCI-MSIX-0000:00:01.0  0-edge  x"));
  assert_false (gvd_capability_interrupts_have_ir ("  24:  1  PCI-MSIX-0000:00:01.0 0-edge  AIR-x"));
  assert_false (gvd_capability_interrupts_have_ir (NULL));
}

static void
parse_meminfo__memtotal__bytes (void **state)
{
  assert_int_equal (gvd_capability_parse_meminfo ("MemTotal:       24683620 kB\nMemFree: 1 kB\n"),
                    24683620ULL * 1024);
  assert_int_equal (gvd_capability_parse_meminfo ("MemFree: 1 kB\n"), 0);
  assert_int_equal (gvd_capability_parse_meminfo ("XMemTotal: 5 kB\n"), 0);
  assert_int_equal (gvd_capability_parse_meminfo ("MemTotal: 99999999999999999999 kB\n"), 0);
  assert_int_equal (gvd_capability_parse_meminfo (NULL), 0);
}

static void
ecap_has_ir__bit3__detected (void **state)
{
  assert_true (gvd_capability_ecap_has_ir ("f020de\n"));   /* ...1110: bit 3 set */
  assert_false (gvd_capability_ecap_has_ir ("f020d6\n"));  /* ...0110: bit 3 clear */
  assert_false (gvd_capability_ecap_has_ir ("zz"));
  assert_false (gvd_capability_ecap_has_ir (""));
  assert_false (gvd_capability_ecap_has_ir (NULL));
}

/* ---- domain capabilities ------------------------------------------------------- */

static void
domcaps_parse__saved_tcg_host__q35_efi_no_vfio (void **state)
{
  g_autoptr(GvdDomainCaps) caps = load_domcaps ("debian12-qemu-tcg.xml");

  assert_string_equal (caps->domain_type, "qemu");
  assert_string_equal (caps->machine, "pc-q35-7.2");
  assert_string_equal (caps->arch, "x86_64");
  assert_string_equal (caps->emulator, "/usr/bin/qemu-system-x86_64");
  assert_true (gvd_domcaps_is_q35 (caps));
  assert_true (caps->firmware_efi);
  assert_int_equal (g_strv_length (caps->loaders), 3);
  assert_string_equal (caps->loaders[0], "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
  assert_true (gvd_domcaps_has_efi (caps));
  assert_true (caps->hostdev_supported);
  assert_true (caps->hostdev_pci);
  assert_false (caps->hostdev_vfio);
  assert_false (caps->cpu_host_passthrough);
}

static void
domcaps_parse__kvm_host__vfio_and_host_passthrough (void **state)
{
  g_autoptr(GvdDomainCaps) caps = load_domcaps ("kvm-host-vfio.xml");

  assert_string_equal (caps->domain_type, "kvm");
  assert_true (caps->hostdev_pci);
  assert_true (caps->hostdev_vfio);
  assert_true (caps->cpu_host_passthrough);
}

static void
domcaps_parse__old_libvirt_loaders_only__efi (void **state)
{
  const char *xml = "<domainCapabilities><machine>pc-i440fx-2.11</machine>"
                    "<os supported='yes'><loader supported='yes'>"
                    "<value>/usr/share/OVMF/OVMF_CODE.fd</value>"
                    "<enum name='type'><value>pflash</value></enum></loader></os>"
                    "<devices><hostdev supported='no'/></devices></domainCapabilities>";
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdDomainCaps) caps = gvd_domcaps_parse (xml, strlen (xml), &error);

  assert_non_null (caps);
  assert_false (caps->firmware_efi);
  assert_true (gvd_domcaps_has_efi (caps));
  assert_false (gvd_domcaps_is_q35 (caps));
  assert_false (caps->hostdev_supported);
  assert_false (caps->hostdev_pci);
  assert_null (caps->domain_type);
}

static void
domcaps_parse__no_firmware__no_efi (void **state)
{
  const char *xml = "<domainCapabilities><machine>pc-q35-7.2</machine>"
                    "<os supported='yes'><enum name='firmware'/>"
                    "<loader supported='yes'><enum name='type'><value>rom</value></enum>"
                    "</loader></os></domainCapabilities>";
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdDomainCaps) caps = gvd_domcaps_parse (xml, strlen (xml), &error);

  assert_non_null (caps);
  assert_false (gvd_domcaps_has_efi (caps));
  assert_int_equal (g_strv_length (caps->loaders), 0);
}

static void
domcaps_parse__bad_input__invalid_argument (void **state)
{
  const char *cases[] = {
    "", "<domainCapabilities>", "<capabilities/>", "not xml at all",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdDomainCaps) caps = gvd_domcaps_parse (cases[i], strlen (cases[i]), &error);

      assert_null (caps);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
    }
  {
    g_autoptr(GError) error = NULL;
    gsize len = GVD_DOMCAPS_MAX_BYTES + 1;
    g_autofree char *big = g_malloc0 (len);
    g_autoptr(GvdDomainCaps) caps = gvd_domcaps_parse (big, len, &error);

    assert_null (caps);
    assert_non_null (strstr (error->message, "limit"));
  }
}

static void
domcaps_parse__external_entity__not_loaded (void **state)
{
  g_autofree char *target = gvd_test_data_path ("data", "domcaps", "kvm-host-vfio.xml", NULL);
  g_autofree char *xml =
    g_strdup_printf ("<!DOCTYPE domainCapabilities [<!ENTITY x SYSTEM \"file://%s\">]>"
                     "<domainCapabilities><machine>q35&x;</machine></domainCapabilities>",
                     target);
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdDomainCaps) caps = gvd_domcaps_parse (xml, strlen (xml), &error);

  assert_non_null (caps);
  assert_string_equal (caps->machine, "q35");
}

/* ---- gathering from fixture trees ------------------------------------------------- */

static void
gather_host__workstation__every_fact (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("workstation-2gpu", NULL);

  assert_true (f->kvm_exists);
  assert_true (f->kvm_accessible);
  assert_true (g_str_has_suffix (f->kvm_path, "workstation-2gpu/dev/kvm"));
  assert_true (f->vfio_dev_exists);
  assert_true (f->cpuinfo_ok);
  assert_int_equal (f->cpu.vendor, GVD_CPU_VENDOR_INTEL);
  assert_true (f->cpu.vmx);
  assert_string_equal (gvd_capability_cmdline_get ((const char *const *) f->cmdline,
                                                   "intel_iommu"), "on");
  assert_int_equal (f->ir_active, GVD_TRISTATE_YES);
  assert_int_equal (f->mem_total_bytes, 65536000ULL * 1024);
  assert_true (f->iommu_groups > 0);
  for (guint i = 0; i < GVD_CAPABILITY_N_VFIO_MODULES; i++)
    assert_int_equal (f->modules[i], GVD_MODULE_LOADED);
  assert_int_equal (f->allow_unsafe_interrupts, GVD_TRISTATE_UNKNOWN);
  assert_string_equal (gvd_host_facts_virttype (f), "kvm");
  /* The pool does not exist; /tmp, its nearest parent, is writable. */
  assert_true (f->pool_writable);
  assert_string_equal (f->pool_checked, g_get_tmp_dir ());
}

static void
gather_host__builtin_vfio_unsafe_interrupts__from_sysfs (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("unsafe-interrupts", NULL);

  for (guint i = 0; i < GVD_CAPABILITY_N_VFIO_MODULES; i++)
    assert_int_equal (f->modules[i], GVD_MODULE_BUILTIN);
  assert_int_equal (f->allow_unsafe_interrupts, GVD_TRISTATE_YES);
  assert_int_equal (f->ir_hardware, GVD_TRISTATE_YES);
  assert_int_equal (f->ir_active, GVD_TRISTATE_NO);
  assert_int_equal (f->iommu_groups, 3);
}

static void
gather_host__nested_guest__nothing_usable (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("nested-guest", NULL);

  assert_false (f->kvm_exists);
  assert_false (f->vfio_dev_exists);
  assert_string_equal (gvd_host_facts_virttype (f), "qemu");
  assert_true (f->cpu.hypervisor);
  assert_int_equal (f->iommu_groups, -1);
  for (guint i = 0; i < GVD_CAPABILITY_N_VFIO_MODULES; i++)
    assert_int_equal (f->modules[i], GVD_MODULE_ABSENT);
  assert_int_equal (f->ir_active, GVD_TRISTATE_NO);
  assert_int_equal (f->ir_hardware, GVD_TRISTATE_UNKNOWN);
  /* Arguments after "--" belong to init. */
  assert_null (gvd_capability_cmdline_get ((const char *const *) f->cmdline, "--init-arg"));
  assert_string_equal (f->cmdline[g_strv_length (f->cmdline) - 1], "pti=on");
}

static void
gather_host__missing_root__unknowns_not_crashes (void **state)
{
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed ("/nonexistent/gpuvmd-host");
  g_autoptr(GvdHostFacts) f = gvd_host_facts_new ();
  g_autoptr(GvdCapReport) r = NULL;

  gvd_capability_gather_host (f, root, "relative/pool");
  assert_false (f->kvm_exists);
  assert_false (f->cpuinfo_ok);
  assert_non_null (strstr (f->cpuinfo_error, "/nonexistent/gpuvmd-host/proc/cpuinfo"));
  assert_null (f->cmdline);
  assert_int_equal (f->ir_active, GVD_TRISTATE_UNKNOWN);
  assert_int_equal (f->mem_total_bytes, 0);
  assert_false (f->pool_writable);

  r = gvd_capability_evaluate (f);
  assert_check (r, "cpu_virtualization", GVD_CHECK_FAIL);
  assert_check (r, "iommu_cmdline", GVD_CHECK_WARN);
  assert_check (r, "interrupt_remapping", GVD_CHECK_WARN);
  assert_check (r, "storage_pool", GVD_CHECK_FAIL);
}

/* ---- verdicts per fixture host ------------------------------------------------------ */

typedef struct {
  const char *scenario;
  const char *domcaps;
  gboolean vm_capable;
  gboolean passthrough_capable;
  const char *failures;  /* comma-joined, in check order */
  const char *warnings;
} HostCase;

static void
evaluate__fixture_hosts__expected_verdicts (void **state)
{
  const HostCase cases[] = {
    { "workstation-2gpu", "kvm-host-vfio.xml", TRUE, TRUE, "", "" },
    { "server-8gpu", "kvm-host-vfio.xml", TRUE, TRUE, "", "" },
    { "amd-gpu", "kvm-host-vfio.xml", TRUE, TRUE, "", "acs_override" },
    { "sriov-mdev", "kvm-host-vfio.xml", TRUE, TRUE, "", "vfio_modules" },
    { "unsafe-interrupts", "kvm-host-vfio.xml", TRUE, TRUE, "", "interrupt_remapping" },
    /* No IOMMU: libvirt (rightly) offers no vfio backend either. */
    { "no-iommu", "debian12-qemu-tcg.xml", TRUE, FALSE,
      "iommu_groups,iommu_cmdline,interrupt_remapping,hostdev_vfio", "vfio_modules" },
    /* This build machine's shape: a VM without nested virtualization. */
    { "nested-guest", "debian12-qemu-tcg.xml", FALSE, FALSE,
      "kvm_device,cpu_virtualization,iommu_groups,interrupt_remapping,hostdev_vfio",
      "vfio_modules" },
    /* libvirt down: every libvirt check fails, nothing crashes. */
    { "server-8gpu", NULL, FALSE, FALSE, "libvirt,qemu_version,q35_machine,efi_firmware,"
      "hostdev_vfio", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const HostCase *c = &cases[i];
      g_autoptr(GvdHostFacts) f = fixture_facts (c->scenario, c->domcaps);
      g_autoptr(GvdCapReport) r = gvd_capability_evaluate (f);
      g_autofree char *failures = join_names (r->failures);
      g_autofree char *warnings = join_names (r->warnings);

      print_message ("%-18s %s: failures [%s] warnings [%s]\n", c->scenario,
                     c->domcaps != NULL ? c->domcaps : "(libvirt down)", failures, warnings);
      assert_int_equal (r->checks->len, 13);
      assert_string_equal (failures, c->failures);
      assert_string_equal (warnings, c->warnings);
      assert_int_equal (r->vm_capable, c->vm_capable);
      assert_int_equal (r->passthrough_capable, c->passthrough_capable);
    }
}

/* ---- each check ------------------------------------------------------------------------- */

static void
check_kvm__states__pass_or_fail_with_remedy (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("server-8gpu", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) r1 = NULL, r2 = NULL, r3 = NULL;

  r1 = gvd_capability_evaluate (f);
  assert_check (r1, "kvm_device", GVD_CHECK_PASS);

  /* Usable here, refused by libvirt (its QEMU cannot open it). */
  {
    g_autoptr(GvdCapReport) r = NULL;

    f->kvm_refused = g_strdup ("invalid argument: the accel 'kvm' is not supported");
    r = gvd_capability_evaluate (f);
    assert_check (r, "kvm_device", GVD_CHECK_FAIL);
    assert_true (detail_contains (r, "kvm_device", "libvirt cannot use KVM: invalid argument"));
    assert_false (r->vm_capable);
    g_clear_pointer (&f->kvm_refused, g_free);
  }

  f->kvm_accessible = FALSE;
  f->kvm_error = g_strdup ("Permission denied");
  r2 = gvd_capability_evaluate (f);
  assert_check (r2, "kvm_device", GVD_CHECK_FAIL);
  assert_true (detail_contains (r2, "kvm_device", "Permission denied"));
  assert_non_null (strstr (gvd_cap_report_find (r2, "kvm_device")->remedy, "kvm"));
  assert_false (r2->vm_capable);
  /* Without KVM VMs are slow, not impossible, and VFIO works under TCG:
   * passthrough readiness stands on its own. */
  assert_true (r2->vm_emulated);
  assert_true (r2->passthrough_capable);
  {
    g_autofree char *v = gvd_cap_report_format_verdict (r2);
    assert_string_equal (v, "VMs slow (no KVM: TCG emulation), GPU passthrough yes "
                            "(1 failure, 0 warnings)");
  }

  f->kvm_exists = FALSE;
  r3 = gvd_capability_evaluate (f);
  assert_check (r3, "kvm_device", GVD_CHECK_FAIL);
  /* vmx is there: the remedy is loading the module, not the firmware. */
  assert_non_null (strstr (gvd_cap_report_find (r3, "kvm_device")->remedy, "kvm_intel"));
}

static void
check_cpu__bare_metal_without_flags__firmware_remedy (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("amd-gpu", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) r1 = gvd_capability_evaluate (f);
  g_autoptr(GvdCapReport) r2 = NULL;

  assert_check (r1, "cpu_virtualization", GVD_CHECK_PASS);
  assert_true (detail_contains (r1, "cpu_virtualization", "svm"));
  f->cpu.svm = FALSE;
  r2 = gvd_capability_evaluate (f);
  assert_check (r2, "cpu_virtualization", GVD_CHECK_FAIL);
  assert_non_null (strstr (gvd_cap_report_find (r2, "cpu_virtualization")->remedy, "firmware"));
}

static void
check_libvirt_and_qemu__versions__minimum_enforced (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("server-8gpu", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) ok = gvd_capability_evaluate (f);
  g_autoptr(GvdCapReport) old = NULL, unknown = NULL;

  assert_check (ok, "libvirt", GVD_CHECK_PASS);
  assert_true (detail_contains (ok, "libvirt", "libvirt 9.0.0"));
  assert_check (ok, "qemu_version", GVD_CHECK_PASS);
  assert_true (detail_contains (ok, "qemu_version", "7.2.0"));

  f->hv_version = 4001000;
  old = gvd_capability_evaluate (f);
  assert_check (old, "qemu_version", GVD_CHECK_FAIL);
  assert_true (detail_contains (old, "qemu_version", "4.1.0 is older than 4.2.0"));
  assert_false (old->vm_capable);

  f->hv_version = GVD_CAPABILITY_MIN_QEMU_VERSION;
  g_clear_pointer (&old, gvd_cap_report_free);
  old = gvd_capability_evaluate (f);
  assert_check (old, "qemu_version", GVD_CHECK_PASS);

  f->hv_version = 0;
  unknown = gvd_capability_evaluate (f);
  assert_check (unknown, "qemu_version", GVD_CHECK_FAIL);
}

static void
check_domcaps__missing_or_lacking__fail (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("server-8gpu", "kvm-host-vfio.xml");
  const char *i440fx = "<domainCapabilities><domain>kvm</domain><machine>pc-i440fx-7.2</machine>"
                       "<os supported='yes'><enum name='firmware'/></os></domainCapabilities>";
  g_autoptr(GvdCapReport) ok = gvd_capability_evaluate (f);
  g_autoptr(GvdCapReport) bad = NULL, err = NULL;

  assert_check (ok, "q35_machine", GVD_CHECK_PASS);
  assert_true (detail_contains (ok, "q35_machine", "pc-q35-7.2"));
  assert_check (ok, "efi_firmware", GVD_CHECK_PASS);
  assert_true (detail_contains (ok, "efi_firmware", "OVMF_CODE_4M.ms.fd and 2 more"));
  assert_check (ok, "hostdev_vfio", GVD_CHECK_PASS);

  gvd_host_facts_set_domcaps (f, i440fx, strlen (i440fx));
  bad = gvd_capability_evaluate (f);
  assert_check (bad, "q35_machine", GVD_CHECK_FAIL);
  assert_check (bad, "efi_firmware", GVD_CHECK_FAIL);
  assert_non_null (strstr (gvd_cap_report_find (bad, "efi_firmware")->remedy, "ovmf"));
  assert_check (bad, "hostdev_vfio", GVD_CHECK_FAIL);

  /* libvirt answered but refused (e.g. "the accel 'kvm' is not supported"). */
  g_clear_pointer (&f->domcaps, gvd_domcaps_free);
  f->domcaps_error = g_strdup ("invalid argument: the accel 'kvm' is not supported");
  err = gvd_capability_evaluate (f);
  assert_check (err, "q35_machine", GVD_CHECK_FAIL);
  assert_true (detail_contains (err, "q35_machine", "accel 'kvm' is not supported"));
  assert_non_null (strstr (gvd_cap_report_find (err, "q35_machine")->remedy,
                           "--virttype kvm"));
  assert_check (err, "efi_firmware", GVD_CHECK_FAIL);
  assert_check (err, "hostdev_vfio", GVD_CHECK_FAIL);
  assert_false (err->vm_capable);
}

static void
check_storage__unwritable__fail (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("server-8gpu", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) ok = gvd_capability_evaluate (f);
  g_autoptr(GvdCapReport) bad = NULL;

  assert_check (ok, "storage_pool", GVD_CHECK_PASS);
  assert_true (detail_contains (ok, "storage_pool", "does not exist yet"));
  f->pool_writable = FALSE;
  f->pool_error = g_strdup ("Read-only file system");
  bad = gvd_capability_evaluate (f);
  assert_check (bad, "storage_pool", GVD_CHECK_FAIL);
  assert_true (detail_contains (bad, "storage_pool", "Read-only file system"));
  assert_false (bad->vm_capable);
}

static void
check_iommu_cmdline__vendor_aware (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("server-8gpu", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) r = NULL;

  /* Intel, intel_iommu=on iommu=pt. */
  r = gvd_capability_evaluate (f);
  assert_check (r, "iommu_cmdline", GVD_CHECK_PASS);
  assert_true (detail_contains (r, "iommu_cmdline", "iommu=pt set"));

  /* Intel, groups present by kernel default: warn. */
  g_strfreev (f->cmdline);
  f->cmdline = gvd_capability_parse_cmdline ("ro quiet");
  g_clear_pointer (&r, gvd_cap_report_free);
  r = gvd_capability_evaluate (f);
  assert_check (r, "iommu_cmdline", GVD_CHECK_WARN);
  assert_true (r->passthrough_capable);

  /* Explicitly off. */
  g_strfreev (f->cmdline);
  f->cmdline = gvd_capability_parse_cmdline ("ro intel_iommu=on intel_iommu=off");
  g_clear_pointer (&r, gvd_cap_report_free);
  r = gvd_capability_evaluate (f);
  assert_check (r, "iommu_cmdline", GVD_CHECK_FAIL);
  assert_true (detail_contains (r, "iommu_cmdline", "intel_iommu=off"));
  assert_false (r->passthrough_capable);

  g_strfreev (f->cmdline);
  f->cmdline = gvd_capability_parse_cmdline ("iommu=off");
  g_clear_pointer (&r, gvd_cap_report_free);
  r = gvd_capability_evaluate (f);
  assert_check (r, "iommu_cmdline", GVD_CHECK_FAIL);

  /* AMD: on by default, amd_iommu=off on an AMD host fails; intel_iommu=off
   * on an AMD host means nothing. */
  f->cpu.vendor = GVD_CPU_VENDOR_AMD;
  g_strfreev (f->cmdline);
  f->cmdline = gvd_capability_parse_cmdline ("ro intel_iommu=off");
  g_clear_pointer (&r, gvd_cap_report_free);
  r = gvd_capability_evaluate (f);
  assert_check (r, "iommu_cmdline", GVD_CHECK_PASS);
  assert_true (detail_contains (r, "iommu_cmdline", "iommu=pt not set"));
  g_strfreev (f->cmdline);
  f->cmdline = gvd_capability_parse_cmdline ("ro amd_iommu=off");
  g_clear_pointer (&r, gvd_cap_report_free);
  r = gvd_capability_evaluate (f);
  assert_check (r, "iommu_cmdline", GVD_CHECK_FAIL);

  /* Unknown vendor, nothing on the command line. */
  f->cpu.vendor = GVD_CPU_VENDOR_UNKNOWN;
  g_strfreev (f->cmdline);
  f->cmdline = gvd_capability_parse_cmdline ("ro");
  g_clear_pointer (&r, gvd_cap_report_free);
  r = gvd_capability_evaluate (f);
  assert_check (r, "iommu_cmdline", GVD_CHECK_WARN);
}

static void
check_no_iommu__remedies_name_vendor_options (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("no-iommu", "debian12-qemu-tcg.xml");
  g_autoptr(GvdCapReport) r = gvd_capability_evaluate (f);

  assert_check (r, "iommu_groups", GVD_CHECK_FAIL);
  assert_non_null (strstr (gvd_cap_report_find (r, "iommu_groups")->remedy, "intel_iommu=on"));
  assert_check (r, "iommu_cmdline", GVD_CHECK_FAIL);
  assert_check (r, "vfio_modules", GVD_CHECK_WARN);
  assert_true (detail_contains (r, "vfio_modules", "vfio, vfio_pci, vfio_iommu_type1"));
  assert_check (r, "interrupt_remapping", GVD_CHECK_FAIL);
  assert_true (detail_contains (r, "interrupt_remapping", "no IOMMU is active"));
  assert_check (r, "hostdev_vfio", GVD_CHECK_FAIL);
  assert_non_null (strstr (gvd_cap_report_find (r, "hostdev_vfio")->remedy, "enable the IOMMU"));
}

static void
check_interrupt_remapping__unsafe_allowed__warn_else_fail (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("unsafe-interrupts", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) warn = gvd_capability_evaluate (f);
  g_autoptr(GvdCapReport) fail = NULL, unknown = NULL;

  assert_check (warn, "interrupt_remapping", GVD_CHECK_WARN);
  assert_true (detail_contains (warn, "interrupt_remapping", "intremap=off"));
  assert_true (detail_contains (warn, "interrupt_remapping", "allow_unsafe_interrupts=Y"));
  assert_check (warn, "vfio_modules", GVD_CHECK_PASS);
  assert_true (detail_contains (warn, "vfio_modules", "vfio_pci (built in)"));

  f->allow_unsafe_interrupts = GVD_TRISTATE_NO;
  g_strfreev (f->cmdline);
  f->cmdline = gvd_capability_parse_cmdline ("intel_iommu=on");
  fail = gvd_capability_evaluate (f);
  assert_check (fail, "interrupt_remapping", GVD_CHECK_FAIL);
  assert_true (detail_contains (fail, "interrupt_remapping", "ecap IR bit"));
  assert_false (fail->passthrough_capable);
  assert_true (fail->vm_capable);

  f->ir_active = GVD_TRISTATE_UNKNOWN;
  unknown = gvd_capability_evaluate (f);
  assert_check (unknown, "interrupt_remapping", GVD_CHECK_WARN);
}

static void
check_acs_override__set__warn_not_fail (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("amd-gpu", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) r = gvd_capability_evaluate (f);

  assert_check (r, "acs_override", GVD_CHECK_WARN);
  assert_true (detail_contains (r, "acs_override", "pcie_acs_override=downstream,multifunction"));
  assert_true (r->passthrough_capable);
  assert_check (r, "iommu_cmdline", GVD_CHECK_PASS);
  assert_true (detail_contains (r, "iommu_cmdline", "AMD IOMMU"));
}

/* ---- output -------------------------------------------------------------------------------- */

static void
format_table__mixed_report__aligned_with_remedies (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("nested-guest", "debian12-qemu-tcg.xml");
  g_autoptr(GvdCapReport) r = gvd_capability_evaluate (f);
  g_autofree char *table = gvd_cap_report_format_table (r);
  g_auto(GStrv) lines = g_strsplit (table, "\n", -1);
  gsize detail_col, rows = 0, remedies = 0, n = g_strv_length (lines);

  for (gsize i = 0; lines[i] != NULL; i++)
    print_message ("%s\n", lines[i]);
  assert_true (g_str_has_prefix (lines[0], "STATUS "));
  detail_col = strstr (lines[0], "DETAIL") - lines[0];
  assert_true (detail_col > strlen ("STATUS CATEGORY cpu_virtualization"));
  for (gsize i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      const char *line = lines[i];

      assert_true (strlen (line) > detail_col);
      if (line[0] == ' ')
        {
          /* A remedy, under the detail column, right after a non-pass row. */
          for (gsize k = 0; k < detail_col; k++)
            assert_int_equal (line[k], ' ');
          assert_true (g_str_has_prefix (line + detail_col, "remedy: "));
          assert_false (g_str_has_prefix (lines[i - 1], "PASS"));
          remedies++;
          continue;
        }
      assert_true (g_str_has_prefix (line, "PASS ") || g_str_has_prefix (line, "WARN ")
                   || g_str_has_prefix (line, "FAIL "));
      assert_int_equal (line[detail_col - 1], ' ');
      assert_int_not_equal (line[detail_col], ' ');
      if (!g_str_has_prefix (line, "PASS"))
        assert_true (lines[i + 1] != NULL && lines[i + 1][0] == ' ');
      rows++;
    }
  assert_int_equal (rows, r->checks->len);
  assert_int_equal (remedies, r->failures->len + r->warnings->len);
  /* Blank line, verdict, final newline. */
  assert_string_equal (lines[n - 3], "");
  assert_string_equal (lines[n - 2], "verdict: VMs slow (no KVM: TCG emulation), GPU passthrough "
                                     "no (5 failures, 1 warning)");
  assert_string_equal (lines[n - 1], "");
}

static void
format_verdict__all_pass__yes_yes (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("server-8gpu", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) r = gvd_capability_evaluate (f);
  g_autofree char *verdict = gvd_cap_report_format_verdict (r);
  g_autofree char *table = gvd_cap_report_format_table (r);

  assert_string_equal (verdict, "VMs yes, GPU passthrough yes (0 failures, 0 warnings)");
  assert_null (strstr (table, "remedy:"));
}

static void
report_to_json__members__round_trip (void **state)
{
  g_autoptr(GvdHostFacts) f = fixture_facts ("amd-gpu", "kvm-host-vfio.xml");
  g_autoptr(GvdCapReport) r = gvd_capability_evaluate (f);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autofree char *text = NULL;
  JsonArray *checks;
  JsonObject *acs = NULL;

  json_builder_begin_object (b);
  gvd_cap_report_to_json (r, b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  again = json_from_string (text, NULL);
  assert_non_null (again);
  assert_true (gvd_test_json_bool (again, "vm_capable"));
  assert_true (gvd_test_json_bool (again, "passthrough_capable"));
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (again, "warnings"))), 1);
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (again, "failures"))), 0);
  checks = json_node_get_array (gvd_test_json_path (again, "checks"));
  assert_int_equal (json_array_get_length (checks), 13);
  for (guint i = 0; i < json_array_get_length (checks); i++)
    {
      JsonObject *o = json_array_get_object_element (checks, i);

      if (g_str_equal (json_object_get_string_member (o, "name"), "acs_override"))
        acs = o;
      else if (g_str_equal (json_object_get_string_member (o, "status"), "pass"))
        assert_true (json_object_get_null_member (o, "remedy"));
    }
  assert_non_null (acs);
  assert_string_equal (json_object_get_string_member (acs, "status"), "warn");
  assert_string_equal (json_object_get_string_member (acs, "category"), "passthrough");
  assert_non_null (json_object_get_string_member (acs, "remedy"));
}

/* ---- GET /v1/host with libvirt down ----------------------------------------------------------- */

static void
api_host__libvirt_down__report_with_libvirt_failed (void **state)
{
  g_autofree char *pool = pool_path ();
  g_autofree char *conf = g_strdup_printf ("[storage]\npool_path=%s\n", pool);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autoptr(JsonNode) node = NULL;
  GvdDaemon *daemon;
  GvdApi *api;
  GvdTestRequest reqs[3] = { { 0 } };
  const char *methods[3] = { "GET", "GET", "POST" };
  JsonArray *checks;

  /* Never started: gvd_virt_conn_get fails like a libvirtd that is down. */
  daemon = gvd_test_daemon_build ("workstation-2gpu", conf, NULL);
  api = gvd_api_new (daemon, "admin", NULL);
  gvd_api_host_register (api);
  assert_true (gvd_api_listen (api, "127.0.0.1:0", &error));
  url = gvd_api_get_url (api);

  /* Two GETs at once share one gathering; POST is refused. */
  for (guint i = 0; i < 3; i++)
    {
      reqs[i].url = g_strconcat (url, "v1/host", NULL);
      reqs[i].method = methods[i];
    }
  gvd_test_requests_in_loop (reqs, 3);

  assert_int_equal (reqs[2].status, 405);
  assert_int_equal (reqs[0].status, 200);
  assert_int_equal (reqs[1].status, 200);
  assert_string_equal (reqs[0].reply, reqs[1].reply);
  node = json_from_string (reqs[0].reply, NULL);
  assert_non_null (node);
  assert_false (gvd_test_json_bool (node, "vm_capable"));
  assert_false (gvd_test_json_bool (node, "passthrough_capable"));
  assert_false (gvd_test_json_bool (node, "libvirt.reachable"));
  assert_string_equal (gvd_test_json_string (node, "libvirt.uri"), "test:///default");
  assert_null (gvd_test_json_string (node, "versions.libvirt"));
  assert_null (gvd_test_json_string (node, "versions.qemu"));
  assert_string_equal (gvd_test_json_string (node, "versions.gpuvmd"), PACKAGE_VERSION);
  assert_string_equal (gvd_test_json_string (node, "cpu.model"),
                       "12th Gen Intel(R) Core(TM) i9-12900K");
  assert_string_equal (gvd_test_json_string (node, "cpu.vendor"), "intel");
  assert_int_equal (gvd_test_json_int (node, "cpu.count"), 4);
  assert_int_equal (gvd_test_json_int (node, "memory_bytes"), 65536000LL * 1024);
  assert_string_equal (gvd_test_json_string (node, "hostname"), g_get_host_name ());
  /* The fixture's three GPUs, from the inventory the daemon scanned. */
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (node, "gpus"))),
                    3);
  checks = json_node_get_array (gvd_test_json_path (node, "checks"));
  assert_int_equal (json_array_get_length (checks), 13);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (checks, 2),
                                                      "name"), "libvirt");
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (checks, 2),
                                                      "status"), "fail");
  /* The fixture's own checks still pass. */
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (checks, 0),
                                                      "status"), "pass");

  for (guint i = 0; i < 3; i++)
    gvd_test_request_clear (&reqs[i]);
  gvd_test_drain_main_context ();
  gvd_api_free (api);
  gvd_test_drain_main_context ();
  gvd_test_daemon_destroy (daemon);
}

/* The gathering in flight belongs to its daemon: two daemons in one process
 * asked at once each answer with their own host. */
static void
api_host__two_daemons_at_once__each_its_own_report (void **state)
{
  const char *hosts[2] = { "workstation-2gpu", "amd-gpu" };
  const char *models[2] = { "12th Gen Intel(R) Core(TM) i9-12900K",
                            "AMD Ryzen 9 5950X 16-Core Processor" };
  g_autofree char *pool = pool_path ();
  g_autofree char *conf = g_strdup_printf ("[storage]\npool_path=%s\n", pool);
  GvdDaemon *daemons[2];
  GvdApi *apis[2];
  GvdTestRequest reqs[4] = { { 0 } };

  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *url = NULL;
      g_autoptr(GError) error = NULL;

      daemons[i] = gvd_test_daemon_build (hosts[i], conf, NULL);
      apis[i] = gvd_api_new (daemons[i], "admin", NULL);
      gvd_api_host_register (apis[i]);
      assert_true (gvd_api_listen (apis[i], "127.0.0.1:0", &error));
      url = gvd_api_get_url (apis[i]);
      /* Interleaved: A, B, A, B. */
      reqs[i].url = g_strconcat (url, "v1/host", NULL);
      reqs[i + 2].url = g_strconcat (url, "v1/host", NULL);
      reqs[i].method = reqs[i + 2].method = "GET";
    }
  gvd_test_requests_in_loop (reqs, 4);

  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(JsonNode) node = json_from_string (reqs[i].reply, NULL);

      assert_int_equal (reqs[i].status, 200);
      assert_non_null (node);
      assert_string_equal (gvd_test_json_string (node, "cpu.model"), models[i % 2]);
      gvd_test_request_clear (&reqs[i]);
    }
  gvd_test_drain_main_context ();
  for (guint i = 0; i < 2; i++)
    {
      gvd_api_free (apis[i]);
      gvd_test_drain_main_context ();
      gvd_test_daemon_destroy (daemons[i]);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse_cpuinfo__intel_fixture__vendor_model_vmx_count),
    cmocka_unit_test (parse_cpuinfo__guest__hypervisor_without_svm),
    cmocka_unit_test (parse_cmdline__init_arguments__stop_at_double_dash),
    cmocka_unit_test (cmdline_get__repeated_key__last_wins),
    cmocka_unit_test (modules_has__name_prefixes__whole_names_only),
    cmocka_unit_test (interrupts_have_ir__remapped_chips__true),
    cmocka_unit_test (parse_meminfo__memtotal__bytes),
    cmocka_unit_test (ecap_has_ir__bit3__detected),
    cmocka_unit_test (domcaps_parse__saved_tcg_host__q35_efi_no_vfio),
    cmocka_unit_test (domcaps_parse__kvm_host__vfio_and_host_passthrough),
    cmocka_unit_test (domcaps_parse__old_libvirt_loaders_only__efi),
    cmocka_unit_test (domcaps_parse__no_firmware__no_efi),
    cmocka_unit_test (domcaps_parse__bad_input__invalid_argument),
    cmocka_unit_test (domcaps_parse__external_entity__not_loaded),
    cmocka_unit_test (gather_host__workstation__every_fact),
    cmocka_unit_test (gather_host__builtin_vfio_unsafe_interrupts__from_sysfs),
    cmocka_unit_test (gather_host__nested_guest__nothing_usable),
    cmocka_unit_test (gather_host__missing_root__unknowns_not_crashes),
    cmocka_unit_test (evaluate__fixture_hosts__expected_verdicts),
    cmocka_unit_test (check_kvm__states__pass_or_fail_with_remedy),
    cmocka_unit_test (check_cpu__bare_metal_without_flags__firmware_remedy),
    cmocka_unit_test (check_libvirt_and_qemu__versions__minimum_enforced),
    cmocka_unit_test (check_domcaps__missing_or_lacking__fail),
    cmocka_unit_test (check_storage__unwritable__fail),
    cmocka_unit_test (check_iommu_cmdline__vendor_aware),
    cmocka_unit_test (check_no_iommu__remedies_name_vendor_options),
    cmocka_unit_test (check_interrupt_remapping__unsafe_allowed__warn_else_fail),
    cmocka_unit_test (check_acs_override__set__warn_not_fail),
    cmocka_unit_test (format_table__mixed_report__aligned_with_remedies),
    cmocka_unit_test (format_verdict__all_pass__yes_yes),
    cmocka_unit_test (report_to_json__members__round_trip),
    cmocka_unit_test (api_host__libvirt_down__report_with_libvirt_failed),
    cmocka_unit_test (api_host__two_daemons_at_once__each_its_own_report),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
