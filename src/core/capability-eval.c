/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability checks, evaluated: gathered facts → a report of checks,
 * each pass/warn/fail with a detail and a remedy. Pure. */
#include "config.h"

#include "capability.h"

#include <string.h>

/* "9.0.0" from libvirt's major * 1000000 + minor * 1000 + micro (as
 * gvd_virt_format_version, which src/core cannot reach). */
static char *
format_version (unsigned long v)
{
  return g_strdup_printf ("%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}

static GvdCapReport *
cap_report_new (void)
{
  GvdCapReport *report = g_new0 (GvdCapReport, 1);

  report->checks = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_check_free);
  report->warnings = g_ptr_array_new_with_free_func (g_free);
  report->failures = g_ptr_array_new_with_free_func (g_free);
  return report;
}

/* Whether the comma-separated option list @value contains @option. */
static gboolean
option_list_has (const char *value, const char *option)
{
  g_auto(GStrv) parts = NULL;

  if (value == NULL)
    return FALSE;
  parts = g_strsplit (value, ",", 64);
  return g_strv_contains ((const char *const *) parts, option);
}

/* ---- evaluate --------------------------------------------------------------------- */

static void
add (GvdCapReport *r, const char *name, GvdCheckCategory category, GvdCheckStatus status,
     char *detail /* owned */, const char *remedy)
{
  g_autofree char *d = detail;

  g_ptr_array_add (r->checks,
                   gvd_check_new (name, category, status, d,
                                  status == GVD_CHECK_PASS ? NULL : remedy));
}

static const char *
vendor_iommu_name (GvdCpuVendor vendor)
{
  switch (vendor)
    {
    case GVD_CPU_VENDOR_INTEL:
      return "VT-d";
    case GVD_CPU_VENDOR_AMD:
      return "AMD-Vi";
    case GVD_CPU_VENDOR_UNKNOWN:
      break;
    }
  return "the IOMMU";
}

static void
check_kvm (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *path = f->kvm_path != NULL ? f->kvm_path : "/dev/kvm";
  const char *remedy;

  if (f->kvm_exists && f->kvm_accessible && f->kvm_refused != NULL)
    {
      add (r, "kvm_device", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup_printf ("%s is present, but libvirt cannot use KVM: %s", path, f->kvm_refused),
           "let libvirt's QEMU open /dev/kvm (group kvm, user/group in qemu.conf), and make "
           "sure --host-root describes the host libvirtd runs on");
      return;
    }
  if (f->kvm_exists && f->kvm_accessible)
    {
      add (r, "kvm_device", GVD_CHECK_VM, GVD_CHECK_PASS,
           g_strdup_printf ("%s is present and read-write for this user", path), NULL);
      return;
    }
  if (f->kvm_exists)
    {
      add (r, "kvm_device", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup_printf ("%s is present but not usable: %s", path,
                            f->kvm_error != NULL ? f->kvm_error : "access denied"),
           "run gpuvmd as root, or add its user to the group owning /dev/kvm (usually kvm)");
      return;
    }
  if (f->cpu.vmx)
    remedy = "load KVM: modprobe kvm_intel (and check dmesg for \"VMX disabled by BIOS\")";
  else if (f->cpu.svm)
    remedy = "load KVM: modprobe kvm_amd (and check dmesg for \"SVM disabled by BIOS\")";
  else if (f->cpu.hypervisor)
    remedy = "this host is a VM: enable nested virtualization on the outer host and give this "
             "guest the vmx/svm CPU flag (host-passthrough CPU)";
  else
    remedy = "enable Intel VT-x or AMD-V (SVM) in the firmware setup, then modprobe kvm_intel "
             "or kvm_amd";
  add (r, "kvm_device", GVD_CHECK_VM, GVD_CHECK_FAIL,
       g_strdup_printf ("%s does not exist: VMs could only run under slow TCG emulation", path),
       remedy);
}

static void
check_cpu (GvdCapReport *r, const GvdHostFacts *f)
{
  if (!f->cpuinfo_ok)
    {
      add (r, "cpu_virtualization", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup_printf ("cannot read the CPU flags: %s",
                            f->cpuinfo_error != NULL ? f->cpuinfo_error : "unknown error"),
           "mount procfs (or point [host] procfs_root at it)");
      return;
    }
  if (f->cpu.vmx || f->cpu.svm)
    {
      add (r, "cpu_virtualization", GVD_CHECK_VM, GVD_CHECK_PASS,
           g_strdup (f->cpu.vmx ? "Intel VT-x (vmx CPU flag)" : "AMD-V (svm CPU flag)"), NULL);
      return;
    }
  if (f->cpu.hypervisor)
    add (r, "cpu_virtualization", GVD_CHECK_VM, GVD_CHECK_FAIL,
         g_strdup ("no vmx/svm CPU flag: this host is itself a virtual machine without nested "
                   "virtualization"),
         "enable nested virtualization on the outer host (kvm_intel/kvm_amd nested=1) and "
         "use a host-passthrough CPU for this guest");
  else
    add (r, "cpu_virtualization", GVD_CHECK_VM, GVD_CHECK_FAIL,
         g_strdup ("no vmx/svm CPU flag: hardware virtualization is off or missing"),
         "enable Intel VT-x or AMD-V (SVM) in the firmware setup");
}

static const char *const LIBVIRT_REMEDY =
  "start libvirtd (systemctl start libvirtd) or fix [libvirt] uri / --libvirt-uri";

static void
check_libvirt (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *uri = f->libvirt_uri != NULL ? f->libvirt_uri : "libvirt";

  if (f->libvirt_reachable)
    {
      g_autofree char *v = f->lib_version != 0 ? format_version (f->lib_version) : NULL;

      add (r, "libvirt", GVD_CHECK_VM, GVD_CHECK_PASS,
           v != NULL ? g_strdup_printf ("connected to %s (libvirt %s)", uri, v)
                     : g_strdup_printf ("connected to %s", uri),
           NULL);
      return;
    }
  add (r, "libvirt", GVD_CHECK_VM, GVD_CHECK_FAIL,
       g_strdup_printf ("cannot connect to %s: %s", uri,
                        f->libvirt_error != NULL ? f->libvirt_error : "unknown error"),
       LIBVIRT_REMEDY);
}

static void
check_qemu_version (GvdCapReport *r, const GvdHostFacts *f)
{
  g_autofree char *min = format_version (GVD_CAPABILITY_MIN_QEMU_VERSION);
  g_autofree char *v = NULL;

  if (!f->libvirt_reachable)
    {
      add (r, "qemu_version", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup ("unknown: libvirt is not reachable"), LIBVIRT_REMEDY);
      return;
    }
  if (f->hv_version == 0)
    {
      add (r, "qemu_version", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup ("libvirt did not report a hypervisor version"),
           "install QEMU (qemu-system-x86) and the libvirt QEMU driver");
      return;
    }
  v = format_version (f->hv_version);
  if (f->hv_version < GVD_CAPABILITY_MIN_QEMU_VERSION)
    {
      g_autofree char *remedy = g_strdup_printf ("upgrade QEMU to %s or later", min);

      add (r, "qemu_version", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup_printf ("QEMU %s is older than %s", v, min), remedy);
      return;
    }
  add (r, "qemu_version", GVD_CHECK_VM, GVD_CHECK_PASS,
       g_strdup_printf ("QEMU %s (at least %s)", v, min), NULL);
}

/* A failed domain-capabilities query fails each check that needs it. */
static gboolean
domcaps_missing (GvdCapReport *r, const GvdHostFacts *f, const char *name,
                 GvdCheckCategory category)
{
  const char *virttype = f->domcaps_virttype != NULL ? f->domcaps_virttype : "qemu";
  g_autofree char *remedy = NULL;

  if (f->domcaps != NULL)
    return FALSE;
  if (!f->libvirt_reachable)
    {
      add (r, name, category, GVD_CHECK_FAIL, g_strdup ("unknown: libvirt is not reachable"),
           LIBVIRT_REMEDY);
      return TRUE;
    }
  remedy = g_strdup_printf ("install qemu-system-x86 and check "
                            "`virsh domcapabilities --arch x86_64 --machine q35 --virttype %s`",
                            virttype);
  add (r, name, category, GVD_CHECK_FAIL,
       g_strdup_printf ("libvirt has no domain capabilities for x86_64 q35 %s: %s", virttype,
                        f->domcaps_error != NULL ? f->domcaps_error : "unknown error"),
       remedy);
  return TRUE;
}

static void
check_q35 (GvdCapReport *r, const GvdHostFacts *f)
{
  const GvdDomainCaps *c = f->domcaps;

  if (domcaps_missing (r, f, "q35_machine", GVD_CHECK_VM))
    return;
  if (gvd_domcaps_is_q35 (c))
    add (r, "q35_machine", GVD_CHECK_VM, GVD_CHECK_PASS,
         g_strdup_printf ("%s (domain type %s, %s)", c->machine,
                          c->domain_type != NULL ? c->domain_type : "?",
                          c->emulator != NULL ? c->emulator : "default emulator"),
         NULL);
  else
    add (r, "q35_machine", GVD_CHECK_VM, GVD_CHECK_FAIL,
         g_strdup_printf ("the emulator offers machine %s, not q35",
                          c->machine != NULL ? c->machine : "(none)"),
         "install a QEMU build with the q35 machine type (qemu-system-x86)");
}

static void
check_efi (GvdCapReport *r, const GvdHostFacts *f)
{
  const GvdDomainCaps *c = f->domcaps;
  guint n;

  if (domcaps_missing (r, f, "efi_firmware", GVD_CHECK_VM))
    return;
  if (!gvd_domcaps_has_efi (c))
    {
      add (r, "efi_firmware", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup ("libvirt lists no UEFI firmware for q35 (no firmware=efi, no loader)"),
           "install OVMF (apt-get install ovmf, dnf install edk2-ovmf)");
      return;
    }
  n = g_strv_length (c->loaders);
  if (n == 0)
    add (r, "efi_firmware", GVD_CHECK_VM, GVD_CHECK_PASS,
         g_strdup ("UEFI available (firmware auto-selection lists efi)"), NULL);
  else if (n == 1)
    add (r, "efi_firmware", GVD_CHECK_VM, GVD_CHECK_PASS,
         g_strdup_printf ("UEFI loader %s", c->loaders[0]), NULL);
  else
    add (r, "efi_firmware", GVD_CHECK_VM, GVD_CHECK_PASS,
         g_strdup_printf ("UEFI loader %s and %u more", c->loaders[0], n - 1), NULL);
}

static void
check_storage (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *path = f->pool_path != NULL ? f->pool_path : "(unset)";

  if (f->pool_writable && g_strcmp0 (f->pool_path, f->pool_checked) == 0)
    add (r, "storage_pool", GVD_CHECK_VM, GVD_CHECK_PASS,
         g_strdup_printf ("%s is writable", path), NULL);
  else if (f->pool_writable)
    add (r, "storage_pool", GVD_CHECK_VM, GVD_CHECK_PASS,
         g_strdup_printf ("%s does not exist yet; %s is writable, so it can be created", path,
                          f->pool_checked),
         NULL);
  else
    add (r, "storage_pool", GVD_CHECK_VM, GVD_CHECK_FAIL,
         g_strdup_printf ("%s is not writable: %s", f->pool_checked != NULL ? f->pool_checked : path,
                          f->pool_error != NULL ? f->pool_error : "unknown error"),
         "point [storage] pool_path at a writable directory on a disk with room for images");
}

static void
check_iommu_groups (GvdCapReport *r, const GvdHostFacts *f)
{
  g_autofree char *remedy = NULL;

  if (f->iommu_groups > 0)
    {
      add (r, "iommu_groups", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
           g_strdup_printf ("%d IOMMU group%s", f->iommu_groups,
                            f->iommu_groups == 1 ? "" : "s"),
           NULL);
      return;
    }
  if (f->cpu.hypervisor)
    remedy = g_strdup ("this host is a VM: give it a virtual IOMMU with interrupt remapping "
                       "(libvirt <iommu model='intel'><driver intremap='on'/></iommu>) and "
                       "the GPUs from the outer host");
  else if (f->cpu.vendor == GVD_CPU_VENDOR_AMD)
    remedy = g_strdup ("enable the IOMMU (AMD-Vi, \"IOMMU\" or \"SVM\") in the firmware setup; "
                       "add iommu=pt to the kernel command line");
  else
    remedy = g_strdup ("enable VT-d in the firmware setup and add intel_iommu=on iommu=pt to the "
                       "kernel command line");
  add (r, "iommu_groups", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
       g_strdup ("no IOMMU groups: the kernel runs without an IOMMU, so no device can be "
                 "assigned with VFIO"),
       remedy);
}

static void
check_iommu_cmdline (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *const *cmd = (const char *const *) f->cmdline;
  const char *intel = gvd_capability_cmdline_get (cmd, "intel_iommu");
  const char *amd = gvd_capability_cmdline_get (cmd, "amd_iommu");
  const char *iommu = gvd_capability_cmdline_get (cmd, "iommu");
  gboolean pt = option_list_has (iommu, "pt");
  const char *pt_note = pt ? "; iommu=pt set" : "; iommu=pt not set (optional: host devices "
                                                "skip DMA translation)";
  GvdCpuVendor vendor = f->cpu.vendor;

  if (cmd == NULL)
    {
      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
           g_strdup ("cannot read the kernel command line"),
           "mount procfs (or point [host] procfs_root at it)");
      return;
    }
  if (option_list_has (iommu, "off")
      || (vendor != GVD_CPU_VENDOR_AMD && option_list_has (intel, "off"))
      || (vendor != GVD_CPU_VENDOR_INTEL && option_list_has (amd, "off")))
    {
      const char *which = option_list_has (iommu, "off") ? "iommu=off"
                          : option_list_has (intel, "off") ? "intel_iommu=off" : "amd_iommu=off";

      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
           g_strdup_printf ("%s on the kernel command line disables the IOMMU", which),
           "remove it from the kernel command line (GRUB_CMDLINE_LINUX), update-grub, reboot");
      return;
    }
  if (vendor == GVD_CPU_VENDOR_AMD)
    {
      /* amd_iommu has no "on": the AMD IOMMU is on unless disabled. */
      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
           g_strdup_printf ("AMD IOMMU not disabled (on by default)%s", pt_note), NULL);
      return;
    }
  if (option_list_has (intel, "on") || (vendor == GVD_CPU_VENDOR_UNKNOWN
                                        && (option_list_has (amd, "on") || pt)))
    {
      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
           g_strdup_printf ("%s%s", intel != NULL ? "intel_iommu=on" : "IOMMU requested", pt_note),
           NULL);
      return;
    }
  if (vendor == GVD_CPU_VENDOR_UNKNOWN)
    {
      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
           g_strdup ("unknown CPU vendor and no IOMMU option on the kernel command line"),
           "add intel_iommu=on (Intel) and iommu=pt to the kernel command line");
      return;
    }
  if (f->iommu_groups > 0)
    add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
         g_strdup_printf ("intel_iommu=on is not set: VT-d is on only because this kernel "
                          "enables it by default%s", pt_note),
         "add intel_iommu=on iommu=pt to GRUB_CMDLINE_LINUX so a kernel change cannot turn "
         "it off");
  else
    add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
         g_strdup ("intel_iommu=on is not on the kernel command line"),
         "add intel_iommu=on iommu=pt to GRUB_CMDLINE_LINUX, update-grub, reboot");
}

static void
check_vfio_modules (GvdCapReport *r, const GvdHostFacts *f)
{
  g_autoptr(GString) present = g_string_new (NULL);
  g_autoptr(GString) missing = g_string_new (NULL);

  for (guint i = 0; i < GVD_CAPABILITY_N_VFIO_MODULES; i++)
    {
      GString *s = f->modules[i] == GVD_MODULE_ABSENT ? missing : present;

      if (s->len > 0)
        g_string_append (s, ", ");
      g_string_append (s, gvd_capability_vfio_modules[i]);
      if (f->modules[i] == GVD_MODULE_BUILTIN)
        g_string_append (s, " (built in)");
    }
  if (missing->len == 0)
    add (r, "vfio_modules", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
         g_strdup_printf ("loaded: %s", present->str), NULL);
  else
    /* A warning: libvirt loads vfio-pci itself when it first detaches a
     * managed device; the hostdev_vfio check catches a missing /dev/vfio. */
    add (r, "vfio_modules", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
         g_strdup_printf ("not loaded: %s", missing->str),
         "modprobe vfio-pci vfio_iommu_type1, and list them in /etc/modules-load.d/vfio.conf");
}

/* Interrupt remapping is what isolates a device's MSIs: without it VFIO
 * refuses to assign devices ("No interrupt remapping support") unless
 * vfio_iommu_type1 allow_unsafe_interrupts=1 is set. /proc/interrupts shows
 * whether the kernel actually remaps (IR- chips, Intel and AMD alike); the
 * VT-d ecap IR bit only says the hardware could. */
static void
check_interrupt_remapping (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *intremap = gvd_capability_cmdline_get ((const char *const *) f->cmdline,
                                                     "intremap");
  g_autofree char *why = NULL;

  if (f->ir_active == GVD_TRISTATE_YES)
    {
      add (r, "interrupt_remapping", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
           g_strdup ("active (remapped IR- interrupt chips in /proc/interrupts)"), NULL);
      return;
    }
  if (f->ir_active == GVD_TRISTATE_UNKNOWN)
    {
      add (r, "interrupt_remapping", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
           g_strdup ("unknown: /proc/interrupts cannot be read"),
           "mount procfs (or point [host] procfs_root at it)");
      return;
    }
  if (option_list_has (intremap, "off"))
    why = g_strdup ("intremap=off is on the kernel command line");
  else if (f->ir_hardware == GVD_TRISTATE_YES)
    why = g_strdup ("the IOMMU supports it (VT-d ecap IR bit) but the kernel did not enable it");
  else if (f->iommu_groups <= 0)
    why = g_strdup ("no IOMMU is active");
  else
    why = g_strdup_printf ("%s does not remap interrupts", vendor_iommu_name (f->cpu.vendor));

  if (f->allow_unsafe_interrupts == GVD_TRISTATE_YES)
    add (r, "interrupt_remapping", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
         g_strdup_printf ("not active (%s); vfio_iommu_type1 allow_unsafe_interrupts=Y assigns "
                          "devices anyway, without MSI isolation", why),
         "enable interrupt remapping (firmware setup, no intremap=off, x2APIC on) and drop "
         "allow_unsafe_interrupts");
  else
    add (r, "interrupt_remapping", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
         g_strdup_printf ("not active (%s): VFIO refuses to assign devices", why),
         "enable interrupt remapping (firmware setup, no intremap=off, x2APIC on); only if "
         "guests are trusted: options vfio_iommu_type1 allow_unsafe_interrupts=1");
}

static void
check_acs_override (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *acs = gvd_capability_cmdline_get ((const char *const *) f->cmdline,
                                                "pcie_acs_override");

  if (acs == NULL)
    add (r, "acs_override", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
         g_strdup ("pcie_acs_override is not set: IOMMU groups reflect real isolation"), NULL);
  else
    add (r, "acs_override", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
         g_strdup_printf ("pcie_acs_override=%s splits IOMMU groups the hardware does not "
                          "isolate: devices in \"separate\" groups can still reach each other "
                          "by peer-to-peer DMA", acs),
         "remove pcie_acs_override and put GPUs behind ACS-capable root ports or switches");
}

static void
check_hostdev_vfio (GvdCapReport *r, const GvdHostFacts *f)
{
  const GvdDomainCaps *c = f->domcaps;

  if (domcaps_missing (r, f, "hostdev_vfio", GVD_CHECK_PASSTHROUGH))
    return;
  if (c->hostdev_supported && c->hostdev_pci && c->hostdev_vfio)
    {
      add (r, "hostdev_vfio", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
           g_strdup ("libvirt offers PCI host devices with the vfio backend"), NULL);
      return;
    }
  if (!c->hostdev_supported || !c->hostdev_pci)
    {
      add (r, "hostdev_vfio", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
           g_strdup ("libvirt offers no PCI host devices for this emulator"),
           "install a QEMU build with vfio-pci (qemu-system-x86)");
      return;
    }
  add (r, "hostdev_vfio", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
       g_strdup ("libvirt offers no vfio backend for PCI host devices (it needs an active "
                 "IOMMU and /dev/vfio/vfio)"),
       f->iommu_groups <= 0 ? "enable the IOMMU (see iommu_groups), then modprobe vfio-pci"
       : !f->vfio_dev_exists ? "modprobe vfio-pci so /dev/vfio/vfio exists"
                             : "libvirtd sees no IOMMU or /dev/vfio/vfio although this host "
                               "has them: check that libvirtd runs on this host (and that "
                               "--host-root describes it)");
}

GvdCapReport *
gvd_capability_evaluate (const GvdHostFacts *facts)
{
  g_autoptr(GvdCapReport) r = cap_report_new ();
  gboolean vm_failed = FALSE;
  gboolean accel_failed = FALSE;
  gboolean pt_failed = FALSE;

  g_return_val_if_fail (facts != NULL, NULL);

  check_kvm (r, facts);
  check_cpu (r, facts);
  check_libvirt (r, facts);
  check_qemu_version (r, facts);
  check_q35 (r, facts);
  check_efi (r, facts);
  check_storage (r, facts);
  check_iommu_groups (r, facts);
  check_iommu_cmdline (r, facts);
  check_vfio_modules (r, facts);
  check_interrupt_remapping (r, facts);
  check_acs_override (r, facts);
  check_hostdev_vfio (r, facts);

  for (guint i = 0; i < r->checks->len; i++)
    {
      const GvdCheck *c = g_ptr_array_index (r->checks, i);

      if (c->status == GVD_CHECK_WARN)
        g_ptr_array_add (r->warnings, g_strdup (c->name));
      else if (c->status == GVD_CHECK_FAIL)
        {
          g_ptr_array_add (r->failures, g_strdup (c->name));
          if (c->category == GVD_CHECK_PASSTHROUGH)
            pt_failed = TRUE;
          else if (g_str_equal (c->name, "kvm_device")
                   || g_str_equal (c->name, "cpu_virtualization"))
            accel_failed = TRUE;
          else
            vm_failed = TRUE;
        }
    }
  r->vm_capable = !vm_failed && !accel_failed;
  r->vm_emulated = !vm_failed && accel_failed;
  r->passthrough_capable = !pt_failed;
  return g_steal_pointer (&r);
}
