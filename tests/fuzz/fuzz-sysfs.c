/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the sysfs and procfs text parsers of the PCI inventory
 * (src/host/hostinfo.c, src/core/inventory.c, src/core/pci-address.c) and the capability checks
 * (src/virt/capability-parse.c). The input is split at NUL bytes: piece N is
 * the text of file kind N below (missing pieces are absent files), as
 * gvd_hostinfo_scan() and gvd_capability_gather_host() would read them;
 * the parsed host facts then go through the capability evaluation. */
#include "config.h"

#include "fuzz-common.h"

#include "capability.h"
#include "hostinfo.h"
#include "pci-address.h"

enum {
  PIECE_RESOURCE,       /* <dev>/resource */
  PIECE_REAL_PATH,      /* realpath of /sys/bus/pci/devices/<addr>, a block device, a NIC */
  PIECE_ADDRESS,        /* a PCI address (sysfs names, config lists) */
  PIECE_CMDLINE,        /* /proc/cmdline */
  PIECE_ROUTE,          /* /proc/net/route */
  PIECE_MOUNTS,         /* /proc/mounts */
  PIECE_NVIDIA_VERSION, /* /sys/module/nvidia/version */
  PIECE_CPUINFO,        /* /proc/cpuinfo */
  PIECE_MODULES,        /* /proc/modules */
  PIECE_INTERRUPTS,     /* /proc/interrupts */
  PIECE_MEMINFO,        /* /proc/meminfo */
  PIECE_ECAP,           /* /sys/class/iommu/dmarN/intel-iommu/ecap */
  N_PIECES
};

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gvd_fuzz_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *piece[N_PIECES] = { NULL };
  gsize piece_len[N_PIECES] = { 0 };
  g_autofree char *copy = g_malloc (size + 1);
  g_autoptr(GvdHostFacts) facts = gvd_host_facts_new ();
  g_autoptr(GvdCapReport) report = NULL;
  g_autofree char *table = NULL;
  gsize start = 0;
  guint n = 0;

  /* Each piece in its own exact-size allocation, so ASan sees a read past
   * its end. */
  memcpy (copy, data, size);
  copy[size] = '\0';
  for (gsize i = 0; i <= size && n < N_PIECES; i++)
    if (i == size || copy[i] == '\0')
      {
        piece_len[n] = i - start;
        piece[n++] = g_memdup2 (copy + start, i - start + 1);
        start = i + 1;
      }

  if (piece[PIECE_RESOURCE] != NULL)
    {
      g_autoptr(GArray) bars = gvd_pci_parse_resource (piece[PIECE_RESOURCE],
                                                       piece_len[PIECE_RESOURCE], NULL);
      if (bars != NULL)
        (void) gvd_pci_bars_mmio64 (bars);
    }
  if (piece[PIECE_REAL_PATH] != NULL)
    {
      g_autofree char *address = gvd_pci_address_in_path (piece[PIECE_REAL_PATH]);

      if (address != NULL)
        g_ptr_array_unref (gvd_pci_parents_from_path (piece[PIECE_REAL_PATH], address));
      if (piece[PIECE_ADDRESS] != NULL)
        g_ptr_array_unref (gvd_pci_parents_from_path (piece[PIECE_REAL_PATH],
                                                      piece[PIECE_ADDRESS]));
    }
  if (piece[PIECE_ADDRESS] != NULL)
    {
      guint d, b, s, f;
      g_autofree char *canonical = gvd_pci_address_canonical (piece[PIECE_ADDRESS]);
      g_autofree char *canonical2 = NULL;

      if (gvd_pci_address_parse (piece[PIECE_ADDRESS], &d, &b, &s, &f))
        g_assert (canonical != NULL);
      /* The canonical form is a fixed point. */
      if (canonical != NULL)
        {
          canonical2 = gvd_pci_address_canonical (canonical);
          g_assert (canonical2 != NULL && g_str_equal (canonical, canonical2));
        }
    }
  if (piece[PIECE_CMDLINE] != NULL)
    {
      (void) gvd_hostinfo_parse_acs_override (piece[PIECE_CMDLINE]);
      facts->cmdline = gvd_capability_parse_cmdline (piece[PIECE_CMDLINE]);
      if (facts->cmdline != NULL)
        (void) gvd_capability_cmdline_get ((const char *const *) facts->cmdline, "intel_iommu");
    }
  if (piece[PIECE_ROUTE] != NULL)
    g_free (gvd_hostinfo_parse_default_route (piece[PIECE_ROUTE]));
  if (piece[PIECE_MOUNTS] != NULL)
    g_free (gvd_hostinfo_parse_root_device (piece[PIECE_MOUNTS]));
  if (piece[PIECE_NVIDIA_VERSION] != NULL)
    g_free (gvd_hostinfo_parse_nvidia_version (piece[PIECE_NVIDIA_VERSION]));
  if (piece[PIECE_CPUINFO] != NULL)
    {
      facts->cpuinfo_ok = TRUE;
      gvd_capability_parse_cpuinfo (piece[PIECE_CPUINFO], &facts->cpu);
    }
  for (guint i = 0; i < GVD_CAPABILITY_N_VFIO_MODULES; i++)
    facts->modules[i] = gvd_capability_modules_has (piece[PIECE_MODULES],
                                                    gvd_capability_vfio_modules[i])
                            ? GVD_MODULE_LOADED
                            : GVD_MODULE_ABSENT;
  if (piece[PIECE_INTERRUPTS] != NULL)
    facts->ir_active = gvd_capability_interrupts_have_ir (piece[PIECE_INTERRUPTS])
                           ? GVD_TRISTATE_YES
                           : GVD_TRISTATE_NO;
  facts->mem_total_bytes = gvd_capability_parse_meminfo (piece[PIECE_MEMINFO]);
  if (piece[PIECE_ECAP] != NULL)
    facts->ir_hardware = gvd_capability_ecap_has_ir (piece[PIECE_ECAP]) ? GVD_TRISTATE_YES
                                                                        : GVD_TRISTATE_NO;
  report = gvd_capability_evaluate (facts);
  table = gvd_cap_report_format_table (report);

  for (guint i = 0; i < n; i++)
    g_free ((char *) piece[i]);
  return 0;
}
