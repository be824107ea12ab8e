/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability checks for VMs and GPU passthrough (like virt-host-validate):
 * facts (gathered by src/host/capability-host.c and
 * src/virt/capability-gather.c) → evaluate → a report of checks, each
 * pass/warn/fail with a detail and a remedy. Pure. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "domcaps.h"

G_BEGIN_DECLS

/* The oldest QEMU gpuvmd accepts: 4.2.0, the QEMU of the oldest enterprise
 * platforms still supported (Ubuntu 20.04, RHEL 8) and the floor current
 * libvirt releases themselves moved to; QEMU before 4.0 also lacks the
 * virtio-*-non-transitional device models gpuvmd's q35 domains use. */
#define GVD_CAPABILITY_MIN_QEMU_VERSION 4002000UL

typedef enum {
  GVD_CHECK_PASS,
  GVD_CHECK_WARN,
  GVD_CHECK_FAIL,
} GvdCheckStatus;

typedef enum {
  GVD_CHECK_VM,          /* a failure blocks running VMs at all */
  GVD_CHECK_PASSTHROUGH, /* a failure blocks GPU passthrough */
} GvdCheckCategory;

typedef struct {
  char *name;            /* stable id: "kvm_device" */
  GvdCheckCategory category;
  GvdCheckStatus status;
  char *detail;          /* what was found */
  char *remedy;          /* what to do; NULL for pass */
} GvdCheck;

GvdCheck *gvd_check_new (const char *name, GvdCheckCategory category, GvdCheckStatus status,
                         const char *detail, const char *remedy);
void gvd_check_free (GvdCheck *check);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCheck, gvd_check_free)

const char *gvd_check_status_to_string (GvdCheckStatus status);     /* "pass" */
const char *gvd_check_category_to_string (GvdCheckCategory category); /* "vm" */

typedef struct {
  GPtrArray *checks;     /* GvdCheck *, in a fixed order */
  /* No vm check failed. */
  gboolean vm_capable;
  /* Only the hardware acceleration checks (kvm_device, cpu_virtualization)
   * failed among the vm checks: VMs run, but under slow TCG emulation. */
  gboolean vm_emulated;
  /* No passthrough check failed, whatever KVM says: VFIO works under TCG
   * too. Warnings never block. */
  gboolean passthrough_capable;
  GPtrArray *warnings;   /* char *: names of the checks that warned */
  GPtrArray *failures;   /* char *: names of the checks that failed */
  /* Details and remedies in the locale's language (`gpuvmd --check`), not
   * in the API's English. */
  gboolean localized;
} GvdCapReport;

void gvd_cap_report_free (GvdCapReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdCapReport, gvd_cap_report_free)

/* The check called @name, or NULL. */
const GvdCheck *gvd_cap_report_find (const GvdCapReport *report, const char *name);

/* ---- facts ---------------------------------------------------------------- */

typedef enum {
  GVD_CPU_VENDOR_UNKNOWN,
  GVD_CPU_VENDOR_INTEL,
  GVD_CPU_VENDOR_AMD,
} GvdCpuVendor;

typedef enum {
  GVD_TRISTATE_UNKNOWN = 0, /* could not be read */
  GVD_TRISTATE_NO,
  GVD_TRISTATE_YES,
} GvdTristate;

typedef enum {
  GVD_MODULE_ABSENT = 0,
  GVD_MODULE_LOADED,     /* a loaded module (/proc/modules or sysfs initstate) */
  GVD_MODULE_BUILTIN,    /* in sysfs without initstate: compiled in */
} GvdModuleState;

/* vfio, vfio_pci, vfio_iommu_type1 in that order. */
#define GVD_CAPABILITY_N_VFIO_MODULES 3
extern const char *const gvd_capability_vfio_modules[GVD_CAPABILITY_N_VFIO_MODULES];

/* /proc/cpuinfo, first processor plus a count. */
typedef struct {
  GvdCpuVendor vendor;
  char *model;           /* "model name", or NULL */
  guint count;           /* processor entries */
  gboolean vmx;
  gboolean svm;
  gboolean hypervisor;   /* running as a guest */
} GvdCpuInfo;

/* Everything evaluate looks at. Gathering fills it; tests build it by hand. */
typedef struct {
  /* devfs */
  char *kvm_path;
  gboolean kvm_exists;
  gboolean kvm_accessible;
  char *kvm_error;            /* why it is not accessible */
  gboolean vfio_dev_exists;   /* <devfs>/vfio/vfio */
  /* procfs */
  gboolean cpuinfo_ok;
  char *cpuinfo_error;
  GvdCpuInfo cpu;
  GStrv cmdline;              /* kernel arguments before "--"; NULL when unreadable */
  GvdTristate ir_active;      /* IR- interrupt chips in /proc/interrupts */
  guint64 mem_total_bytes;    /* 0 when unknown */
  /* sysfs */
  int iommu_groups;           /* -1: no <sysfs>/kernel/iommu_groups */
  GvdModuleState modules[GVD_CAPABILITY_N_VFIO_MODULES];
  GvdTristate allow_unsafe_interrupts; /* vfio_iommu_type1 parameter */
  GvdTristate ir_hardware;    /* some Intel DMAR unit's ecap has the IR bit */
  /* storage */
  char *pool_path;
  char *pool_checked;         /* pool_path or its nearest existing parent */
  gboolean pool_writable;
  char *pool_error;
  /* libvirt */
  char *libvirt_uri;
  gboolean libvirt_reachable;
  char *libvirt_error;
  unsigned long lib_version;  /* 0: unknown */
  unsigned long hv_version;   /* 0: unknown */
  char *kvm_refused;          /* libvirt's error when asked for virttype kvm */
  char *domcaps_virttype;     /* "kvm" or "qemu": what was answered */
  GvdDomainCaps *domcaps;     /* NULL with domcaps_error */
  char *domcaps_error;
} GvdHostFacts;

GvdHostFacts *gvd_host_facts_new (void);
void gvd_host_facts_free (GvdHostFacts *facts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdHostFacts, gvd_host_facts_free)

/* The virttype to ask libvirt's domain capabilities for: "kvm" when /dev/kvm
 * is usable, else "qemu" (TCG). */
const char *gvd_host_facts_virttype (const GvdHostFacts *facts);

/* Store @xml as the domain capabilities (parsed), or a parse error. */
void gvd_host_facts_set_domcaps (GvdHostFacts *facts, const char *xml, gsize len);

/* ---- pure parsers (capability-parse.c) -------------------------------------- */

/* Files larger than this are read only up to it. */
#define GVD_CAPABILITY_MAX_FILE (4 * 1024 * 1024)

void gvd_capability_parse_cpuinfo (const char *text, GvdCpuInfo *out_cpu);
void gvd_cpu_info_clear (GvdCpuInfo *cpu);
/* Kernel command line → its arguments before "--" (at most 1024). */
GStrv gvd_capability_parse_cmdline (const char *text);
/* The value of the last "@key=value" argument; "" for a bare "@key"; NULL. */
const char *gvd_capability_cmdline_get (const char *const *cmdline, const char *key);
/* Whether /proc/modules text lists @name. */
gboolean gvd_capability_modules_has (const char *text, const char *name);
/* Whether /proc/interrupts text shows an interrupt-remapping chip ("IR-PCI-MSI"). */
gboolean gvd_capability_interrupts_have_ir (const char *text);
/* MemTotal from /proc/meminfo in bytes, 0 if absent. */
guint64 gvd_capability_parse_meminfo (const char *text);
/* An Intel VT-d extended capability register (hex, sysfs "ecap") with the
 * Interrupt Remapping bit (3) set. */
gboolean gvd_capability_ecap_has_ir (const char *text);

/* ---- evaluate (capability-eval.c) ------------------------------------------------ */

/* Details and remedies in English: the API's report, whatever the locale. */
GvdCapReport *gvd_capability_evaluate (const GvdHostFacts *facts);
/* The same checks, with details and remedies from the message catalog of
 * the current locale: for a person reading `gpuvmd --check`. */
GvdCapReport *gvd_capability_evaluate_localized (const GvdHostFacts *facts);

/* An aligned table (status, category, check, detail; remedy lines under the
 * non-pass checks) followed by a verdict line. For people: the headings,
 * labels and verdict are in the locale's language. */
char *gvd_cap_report_format_table (const GvdCapReport *report);
/* "VMs yes, GPU passthrough no (3 failures, 1 warning)"; "VMs slow (no KVM:
 * TCG emulation), GPU passthrough yes (…)" when only KVM is missing. */
char *gvd_cap_report_format_verdict (const GvdCapReport *report);

/* Members "vm_capable", "vm_emulated", "passthrough_capable", "warnings", "failures",
 * "checks" into the open object of @b. */
void gvd_cap_report_to_json (const GvdCapReport *report, JsonBuilder *b);
const char *gvd_cpu_vendor_to_string (GvdCpuVendor vendor); /* "intel" */

G_END_DECLS
