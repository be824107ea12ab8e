/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability checks, evaluated: gathered facts → a report of checks,
 * each pass/warn/fail with a detail and a remedy. Pure. */
#include "config.h"

#include "capability.h"

#include <glib/gi18n-lib.h>
#include <string.h>

/* Details and remedies are in the report's language: English for the API
 * (gvd_capability_evaluate), the locale's for `gpuvmd --check`
 * (gvd_capability_evaluate_localized). xgettext knows cap_text and
 * cap_ntext as keywords (po/Makevars). */
static const char *cap_text (const GvdCapReport *r, const char *msgid) G_GNUC_FORMAT (2);
static const char *cap_ntext (const GvdCapReport *r, const char *msgid, const char *plural,
                              gulong n) G_GNUC_FORMAT (2) G_GNUC_FORMAT (3);

static const char *
cap_text (const GvdCapReport *r, const char *msgid)
{
  return r->localized ? g_dgettext (GETTEXT_PACKAGE, msgid) : msgid;
}

static const char *
cap_ntext (const GvdCapReport *r, const char *msgid, const char *plural, gulong n)
{
  if (r->localized)
    return g_dngettext (GETTEXT_PACKAGE, msgid, plural, n);
  return n == 1 ? msgid : plural;
}

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

/* Why interrupts are not remapped although an IOMMU is active. */
static const char *
iommu_no_remap (const GvdCapReport *r, GvdCpuVendor vendor)
{
  switch (vendor)
    {
    case GVD_CPU_VENDOR_INTEL:
      return cap_text (r, "VT-d does not remap interrupts");
    case GVD_CPU_VENDOR_AMD:
      return cap_text (r, "AMD-Vi does not remap interrupts");
    case GVD_CPU_VENDOR_UNKNOWN:
      break;
    }
  return cap_text (r, "the IOMMU does not remap interrupts");
}

static void
check_kvm (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *path = f->kvm_path != NULL ? f->kvm_path : "/dev/kvm";
  const char *remedy;

  if (f->kvm_exists && f->kvm_accessible && f->kvm_refused != NULL)
    {
      add (r, "kvm_device", GVD_CHECK_VM, GVD_CHECK_FAIL,
           /* TRANSLATORS: %s: the device path (/dev/kvm); %s: libvirt's error. */
           g_strdup_printf (cap_text (r, "%s is present, but libvirt cannot use KVM: %s"), path,
                            f->kvm_refused),
           cap_text (r, "let libvirt's QEMU open /dev/kvm (group kvm, user/group in qemu.conf), "
                        "and make sure --host-root describes the host libvirtd runs on"));
      return;
    }
  if (f->kvm_exists && f->kvm_accessible)
    {
      add (r, "kvm_device", GVD_CHECK_VM, GVD_CHECK_PASS,
           g_strdup_printf (cap_text (r, "%s is present and read-write for this user"), path),
           NULL);
      return;
    }
  if (f->kvm_exists)
    {
      add (r, "kvm_device", GVD_CHECK_VM, GVD_CHECK_FAIL,
           /* TRANSLATORS: %s: the device path (/dev/kvm); %s: the reason. */
           g_strdup_printf (cap_text (r, "%s is present but not usable: %s"), path,
                            f->kvm_error != NULL ? f->kvm_error : cap_text (r, "access denied")),
           cap_text (r, "run gpuvmd as root, or add its user to the group owning /dev/kvm "
                        "(usually kvm)"));
      return;
    }
  if (f->cpu.vmx)
    /* TRANSLATORS: "VMX disabled by BIOS" is the kernel's message: keep it. */
    remedy = cap_text (r, "load KVM: modprobe kvm_intel (and check dmesg for \"VMX disabled by "
                          "BIOS\")");
  else if (f->cpu.svm)
    /* TRANSLATORS: "SVM disabled by BIOS" is the kernel's message: keep it. */
    remedy = cap_text (r, "load KVM: modprobe kvm_amd (and check dmesg for \"SVM disabled by "
                          "BIOS\")");
  else if (f->cpu.hypervisor)
    remedy = cap_text (r, "this host is a VM: enable nested virtualization on the outer host "
                          "and give this guest the vmx/svm CPU flag (host-passthrough CPU)");
  else
    remedy = cap_text (r, "enable Intel VT-x or AMD-V (SVM) in the firmware setup, then "
                          "modprobe kvm_intel or kvm_amd");
  add (r, "kvm_device", GVD_CHECK_VM, GVD_CHECK_FAIL,
       g_strdup_printf (cap_text (r, "%s does not exist: VMs could only run under slow TCG "
                                     "emulation"), path),
       remedy);
}

static void
check_cpu (GvdCapReport *r, const GvdHostFacts *f)
{
  if (!f->cpuinfo_ok)
    {
      add (r, "cpu_virtualization", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup_printf (cap_text (r, "cannot read the CPU flags: %s"),
                            f->cpuinfo_error != NULL ? f->cpuinfo_error
                                                     : cap_text (r, "unknown error")),
           cap_text (r, "mount procfs (or point [host] procfs_root at it)"));
      return;
    }
  if (f->cpu.vmx || f->cpu.svm)
    {
      add (r, "cpu_virtualization", GVD_CHECK_VM, GVD_CHECK_PASS,
           g_strdup (f->cpu.vmx ? cap_text (r, "Intel VT-x (vmx CPU flag)")
                                : cap_text (r, "AMD-V (svm CPU flag)")),
           NULL);
      return;
    }
  if (f->cpu.hypervisor)
    add (r, "cpu_virtualization", GVD_CHECK_VM, GVD_CHECK_FAIL,
         g_strdup (cap_text (r, "no vmx/svm CPU flag: this host is itself a virtual machine "
                                "without nested virtualization")),
         cap_text (r, "enable nested virtualization on the outer host (kvm_intel/kvm_amd "
                      "nested=1) and use a host-passthrough CPU for this guest"));
  else
    add (r, "cpu_virtualization", GVD_CHECK_VM, GVD_CHECK_FAIL,
         g_strdup (cap_text (r, "no vmx/svm CPU flag: hardware virtualization is off or "
                                "missing")),
         cap_text (r, "enable Intel VT-x or AMD-V (SVM) in the firmware setup"));
}

#define LIBVIRT_REMEDY(r) \
  cap_text (r, "start libvirtd (systemctl start libvirtd) or fix [libvirt] uri / --libvirt-uri")

static void
check_libvirt (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *uri = f->libvirt_uri != NULL ? f->libvirt_uri : "libvirt";

  if (f->libvirt_reachable)
    {
      g_autofree char *v = f->lib_version != 0 ? format_version (f->lib_version) : NULL;

      add (r, "libvirt", GVD_CHECK_VM, GVD_CHECK_PASS,
           /* TRANSLATORS: %s: the libvirt URI; %s: libvirt's version. */
           v != NULL ? g_strdup_printf (cap_text (r, "connected to %s (libvirt %s)"), uri, v)
                     : g_strdup_printf (cap_text (r, "connected to %s"), uri),
           NULL);
      return;
    }
  add (r, "libvirt", GVD_CHECK_VM, GVD_CHECK_FAIL,
       /* TRANSLATORS: %s: the libvirt URI; %s: libvirt's error. */
       g_strdup_printf (cap_text (r, "cannot connect to %s: %s"), uri,
                        f->libvirt_error != NULL ? f->libvirt_error
                                                 : cap_text (r, "unknown error")),
       LIBVIRT_REMEDY (r));
}

static void
check_qemu_version (GvdCapReport *r, const GvdHostFacts *f)
{
  g_autofree char *min = format_version (GVD_CAPABILITY_MIN_QEMU_VERSION);
  g_autofree char *v = NULL;

  if (!f->libvirt_reachable)
    {
      add (r, "qemu_version", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup (cap_text (r, "unknown: libvirt is not reachable")), LIBVIRT_REMEDY (r));
      return;
    }
  if (f->hv_version == 0)
    {
      add (r, "qemu_version", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup (cap_text (r, "libvirt did not report a hypervisor version")),
           cap_text (r, "install QEMU (qemu-system-x86) and the libvirt QEMU driver"));
      return;
    }
  v = format_version (f->hv_version);
  if (f->hv_version < GVD_CAPABILITY_MIN_QEMU_VERSION)
    {
      /* TRANSLATORS: %s: the oldest QEMU version gpuvmd accepts. */
      g_autofree char *remedy = g_strdup_printf (cap_text (r, "upgrade QEMU to %s or later"), min);

      /* TRANSLATORS: %s: this host's QEMU version; %s: the oldest accepted. */
      add (r, "qemu_version", GVD_CHECK_VM, GVD_CHECK_FAIL,
           g_strdup_printf (cap_text (r, "QEMU %s is older than %s"), v, min), remedy);
      return;
    }
  add (r, "qemu_version", GVD_CHECK_VM, GVD_CHECK_PASS,
       /* TRANSLATORS: %s: this host's QEMU version; %s: the oldest accepted. */
       g_strdup_printf (cap_text (r, "QEMU %s (at least %s)"), v, min), NULL);
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
      add (r, name, category, GVD_CHECK_FAIL,
           g_strdup (cap_text (r, "unknown: libvirt is not reachable")), LIBVIRT_REMEDY (r));
      return TRUE;
    }
  /* TRANSLATORS: %s: the virtualization type (kvm or qemu); keep the command. */
  remedy = g_strdup_printf (cap_text (r, "install qemu-system-x86 and check `virsh "
                                         "domcapabilities --arch x86_64 --machine q35 "
                                         "--virttype %s`"),
                            virttype);
  add (r, name, category, GVD_CHECK_FAIL,
       /* TRANSLATORS: %s: the virtualization type (kvm or qemu); %s: libvirt's error. */
       g_strdup_printf (cap_text (r, "libvirt has no domain capabilities for x86_64 q35 %s: %s"),
                        virttype,
                        f->domcaps_error != NULL ? f->domcaps_error
                                                 : cap_text (r, "unknown error")),
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
         /* TRANSLATORS: %s: the machine type (pc-q35-7.2); %s: the domain type
          * (kvm or qemu); %s: the emulator's path or "default emulator". */
         g_strdup_printf (cap_text (r, "%s (domain type %s, %s)"), c->machine,
                          c->domain_type != NULL ? c->domain_type : "?",
                          c->emulator != NULL ? c->emulator : cap_text (r, "default emulator")),
         NULL);
  else
    add (r, "q35_machine", GVD_CHECK_VM, GVD_CHECK_FAIL,
         /* TRANSLATORS: %s: the machine type the emulator offers, or "(none)". */
         g_strdup_printf (cap_text (r, "the emulator offers machine %s, not q35"),
                          c->machine != NULL ? c->machine : cap_text (r, "(none)")),
         cap_text (r, "install a QEMU build with the q35 machine type (qemu-system-x86)"));
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
           g_strdup (cap_text (r, "libvirt lists no UEFI firmware for q35 (no firmware=efi, no "
                                  "loader)")),
           cap_text (r, "install OVMF (apt-get install ovmf, dnf install edk2-ovmf)"));
      return;
    }
  n = g_strv_length (c->loaders);
  if (n == 0)
    add (r, "efi_firmware", GVD_CHECK_VM, GVD_CHECK_PASS,
         g_strdup (cap_text (r, "UEFI available (firmware auto-selection lists efi)")), NULL);
  else if (n == 1)
    add (r, "efi_firmware", GVD_CHECK_VM, GVD_CHECK_PASS,
         /* TRANSLATORS: %s: the firmware file's path. */
         g_strdup_printf (cap_text (r, "UEFI loader %s"), c->loaders[0]), NULL);
  else
    add (r, "efi_firmware", GVD_CHECK_VM, GVD_CHECK_PASS,
         /* TRANSLATORS: %s: the first firmware file's path; %u: how many more. */
         g_strdup_printf (cap_ntext (r, "UEFI loader %s and %u more", "UEFI loader %s and %u more",
                                     n - 1),
                          c->loaders[0], n - 1),
         NULL);
}

static void
check_storage (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *path = f->pool_path != NULL ? f->pool_path : cap_text (r, "(unset)");

  if (f->pool_writable && g_strcmp0 (f->pool_path, f->pool_checked) == 0)
    add (r, "storage_pool", GVD_CHECK_VM, GVD_CHECK_PASS,
         /* TRANSLATORS: %s: the storage pool's directory. */
         g_strdup_printf (cap_text (r, "%s is writable"), path), NULL);
  else if (f->pool_writable)
    add (r, "storage_pool", GVD_CHECK_VM, GVD_CHECK_PASS,
         /* TRANSLATORS: %s: the storage pool's directory; %s: its nearest existing parent. */
         g_strdup_printf (cap_text (r, "%s does not exist yet; %s is writable, so it can be "
                                       "created"),
                          path, f->pool_checked),
         NULL);
  else
    add (r, "storage_pool", GVD_CHECK_VM, GVD_CHECK_FAIL,
         /* TRANSLATORS: %s: a directory; %s: the reason. */
         g_strdup_printf (cap_text (r, "%s is not writable: %s"),
                          f->pool_checked != NULL ? f->pool_checked : path,
                          f->pool_error != NULL ? f->pool_error : cap_text (r, "unknown error")),
         cap_text (r, "point [storage] pool_path at a writable directory on a disk with room "
                      "for images"));
}

static void
check_iommu_groups (GvdCapReport *r, const GvdHostFacts *f)
{
  g_autofree char *remedy = NULL;

  if (f->iommu_groups > 0)
    {
      add (r, "iommu_groups", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
           g_strdup_printf (cap_ntext (r, "%d IOMMU group", "%d IOMMU groups",
                                       (gulong) f->iommu_groups),
                            f->iommu_groups),
           NULL);
      return;
    }
  if (f->cpu.hypervisor)
    /* TRANSLATORS: keep the libvirt XML as it is. */
    remedy = g_strdup (cap_text (r, "this host is a VM: give it a virtual IOMMU with interrupt "
                                    "remapping (libvirt <iommu model='intel'><driver "
                                    "intremap='on'/></iommu>) and the GPUs from the outer "
                                    "host"));
  else if (f->cpu.vendor == GVD_CPU_VENDOR_AMD)
    /* TRANSLATORS: "IOMMU" and "SVM" are the firmware setup's names. */
    remedy = g_strdup (cap_text (r, "enable the IOMMU (AMD-Vi, \"IOMMU\" or \"SVM\") in the "
                                    "firmware setup; add iommu=pt to the kernel command line"));
  else
    remedy = g_strdup (cap_text (r, "enable VT-d in the firmware setup and add intel_iommu=on "
                                    "iommu=pt to the kernel command line"));
  add (r, "iommu_groups", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
       g_strdup (cap_text (r, "no IOMMU groups: the kernel runs without an IOMMU, so no device "
                              "can be assigned with VFIO")),
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
  /* TRANSLATORS: appended to what the kernel command line says about the
   * IOMMU ("intel_iommu=on; iommu=pt set"). */
  const char *pt_note = pt ? cap_text (r, "; iommu=pt set")
                           : cap_text (r, "; iommu=pt not set (optional: host devices skip DMA "
                                          "translation)");
  GvdCpuVendor vendor = f->cpu.vendor;

  if (cmd == NULL)
    {
      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
           g_strdup (cap_text (r, "cannot read the kernel command line")),
           cap_text (r, "mount procfs (or point [host] procfs_root at it)"));
      return;
    }
  if (option_list_has (iommu, "off")
      || (vendor != GVD_CPU_VENDOR_AMD && option_list_has (intel, "off"))
      || (vendor != GVD_CPU_VENDOR_INTEL && option_list_has (amd, "off")))
    {
      const char *which = option_list_has (iommu, "off") ? "iommu=off"
                          : option_list_has (intel, "off") ? "intel_iommu=off" : "amd_iommu=off";

      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
           /* TRANSLATORS: %s: a kernel argument (iommu=off). */
           g_strdup_printf (cap_text (r, "%s on the kernel command line disables the IOMMU"),
                            which),
           cap_text (r, "remove it from the kernel command line (GRUB_CMDLINE_LINUX), "
                        "update-grub, reboot"));
      return;
    }
  if (vendor == GVD_CPU_VENDOR_AMD)
    {
      /* amd_iommu has no "on": the AMD IOMMU is on unless disabled. */
      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
           /* TRANSLATORS: %s: "; iommu=pt set" or "; iommu=pt not set (...)". */
           g_strdup_printf (cap_text (r, "AMD IOMMU not disabled (on by default)%s"), pt_note),
           NULL);
      return;
    }
  if (option_list_has (intel, "on") || (vendor == GVD_CPU_VENDOR_UNKNOWN
                                        && (option_list_has (amd, "on") || pt)))
    {
      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
           g_strdup_printf ("%s%s", intel != NULL ? "intel_iommu=on"
                                                  : cap_text (r, "IOMMU requested"),
                            pt_note),
           NULL);
      return;
    }
  if (vendor == GVD_CPU_VENDOR_UNKNOWN)
    {
      add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
           g_strdup (cap_text (r, "unknown CPU vendor and no IOMMU option on the kernel command "
                                  "line")),
           cap_text (r, "add intel_iommu=on (Intel) and iommu=pt to the kernel command line"));
      return;
    }
  if (f->iommu_groups > 0)
    add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
         /* TRANSLATORS: %s: "; iommu=pt set" or "; iommu=pt not set (...)". */
         g_strdup_printf (cap_text (r, "intel_iommu=on is not set: VT-d is on only because this "
                                       "kernel enables it by default%s"),
                          pt_note),
         cap_text (r, "add intel_iommu=on iommu=pt to GRUB_CMDLINE_LINUX so a kernel change "
                      "cannot turn it off"));
  else
    add (r, "iommu_cmdline", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
         g_strdup (cap_text (r, "intel_iommu=on is not on the kernel command line")),
         cap_text (r, "add intel_iommu=on iommu=pt to GRUB_CMDLINE_LINUX, update-grub, reboot"));
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
        /* TRANSLATORS: after a kernel module's name: compiled into the kernel. */
        g_string_append (s, cap_text (r, " (built in)"));
    }
  if (missing->len == 0)
    add (r, "vfio_modules", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
         /* TRANSLATORS: %s: kernel module names (vfio, vfio_pci, ...). */
         g_strdup_printf (cap_text (r, "loaded: %s"), present->str), NULL);
  else
    /* A warning: libvirt loads vfio-pci itself when it first detaches a
     * managed device; the hostdev_vfio check catches a missing /dev/vfio. */
    add (r, "vfio_modules", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
         /* TRANSLATORS: %s: kernel module names (vfio, vfio_pci, ...). */
         g_strdup_printf (cap_text (r, "not loaded: %s"), missing->str),
         cap_text (r, "modprobe vfio-pci vfio_iommu_type1, and list them in "
                      "/etc/modules-load.d/vfio.conf"));
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
           g_strdup (cap_text (r, "active (remapped IR- interrupt chips in /proc/interrupts)")),
           NULL);
      return;
    }
  if (f->ir_active == GVD_TRISTATE_UNKNOWN)
    {
      add (r, "interrupt_remapping", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
           g_strdup (cap_text (r, "unknown: /proc/interrupts cannot be read")),
           cap_text (r, "mount procfs (or point [host] procfs_root at it)"));
      return;
    }
  if (option_list_has (intremap, "off"))
    why = g_strdup (cap_text (r, "intremap=off is on the kernel command line"));
  else if (f->ir_hardware == GVD_TRISTATE_YES)
    why = g_strdup (cap_text (r, "the IOMMU supports it (VT-d ecap IR bit) but the kernel did "
                                 "not enable it"));
  else if (f->iommu_groups <= 0)
    why = g_strdup (cap_text (r, "no IOMMU is active"));
  else
    why = g_strdup (iommu_no_remap (r, f->cpu.vendor));

  if (f->allow_unsafe_interrupts == GVD_TRISTATE_YES)
    add (r, "interrupt_remapping", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
         /* TRANSLATORS: %s: why interrupts are not remapped. */
         g_strdup_printf (cap_text (r, "not active (%s); vfio_iommu_type1 "
                                       "allow_unsafe_interrupts=Y assigns devices anyway, "
                                       "without MSI isolation"),
                          why),
         cap_text (r, "enable interrupt remapping (firmware setup, no intremap=off, x2APIC on) "
                      "and drop allow_unsafe_interrupts"));
  else
    add (r, "interrupt_remapping", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
         /* TRANSLATORS: %s: why interrupts are not remapped. */
         g_strdup_printf (cap_text (r, "not active (%s): VFIO refuses to assign devices"), why),
         cap_text (r, "enable interrupt remapping (firmware setup, no intremap=off, x2APIC on); "
                      "only if guests are trusted: options vfio_iommu_type1 "
                      "allow_unsafe_interrupts=1"));
}

static void
check_acs_override (GvdCapReport *r, const GvdHostFacts *f)
{
  const char *acs = gvd_capability_cmdline_get ((const char *const *) f->cmdline,
                                                "pcie_acs_override");

  if (acs == NULL)
    add (r, "acs_override", GVD_CHECK_PASSTHROUGH, GVD_CHECK_PASS,
         g_strdup (cap_text (r, "pcie_acs_override is not set: IOMMU groups reflect real "
                                "isolation")),
         NULL);
  else
    add (r, "acs_override", GVD_CHECK_PASSTHROUGH, GVD_CHECK_WARN,
         /* TRANSLATORS: %s: the kernel argument's value. */
         g_strdup_printf (cap_text (r, "pcie_acs_override=%s splits IOMMU groups the hardware "
                                       "does not isolate: devices in \"separate\" groups can "
                                       "still reach each other by peer-to-peer DMA"),
                          acs),
         cap_text (r, "remove pcie_acs_override and put GPUs behind ACS-capable root ports or "
                      "switches"));
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
           g_strdup (cap_text (r, "libvirt offers PCI host devices with the vfio backend")),
           NULL);
      return;
    }
  if (!c->hostdev_supported || !c->hostdev_pci)
    {
      add (r, "hostdev_vfio", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
           g_strdup (cap_text (r, "libvirt offers no PCI host devices for this emulator")),
           cap_text (r, "install a QEMU build with vfio-pci (qemu-system-x86)"));
      return;
    }
  add (r, "hostdev_vfio", GVD_CHECK_PASSTHROUGH, GVD_CHECK_FAIL,
       g_strdup (cap_text (r, "libvirt offers no vfio backend for PCI host devices (it needs an "
                              "active IOMMU and /dev/vfio/vfio)")),
       f->iommu_groups <= 0
         ? cap_text (r, "enable the IOMMU (see iommu_groups), then modprobe vfio-pci")
       : !f->vfio_dev_exists
         ? cap_text (r, "modprobe vfio-pci so /dev/vfio/vfio exists")
         : cap_text (r, "libvirtd sees no IOMMU or /dev/vfio/vfio although this host has "
                        "them: check that libvirtd runs on this host (and that --host-root "
                        "describes it)"));
}

static GvdCapReport *
evaluate (const GvdHostFacts *facts, gboolean localized)
{
  g_autoptr(GvdCapReport) r = cap_report_new ();
  gboolean vm_failed = FALSE;
  gboolean accel_failed = FALSE;
  gboolean pt_failed = FALSE;

  g_return_val_if_fail (facts != NULL, NULL);

  r->localized = localized;
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

GvdCapReport *
gvd_capability_evaluate (const GvdHostFacts *facts)
{
  return evaluate (facts, FALSE);
}

GvdCapReport *
gvd_capability_evaluate_localized (const GvdHostFacts *facts)
{
  return evaluate (facts, TRUE);
}
