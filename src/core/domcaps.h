/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt domain capabilities XML (virConnectGetDomainCapabilities) → the
 * few facts gpuvmd needs: machine, firmware, hostdev VFIO. Pure. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Larger documents are refused: libvirt's are about 10 KiB. */
#define GVD_DOMCAPS_MAX_BYTES (1024 * 1024)
/* At most this many <loader><value> paths are kept. */
#define GVD_DOMCAPS_MAX_LOADERS 32

typedef struct {
  char *emulator;            /* <path>, or NULL */
  char *domain_type;         /* <domain>: "kvm", "qemu" */
  char *machine;             /* <machine>: "pc-q35-7.2" */
  char *arch;                /* <arch> */
  gboolean firmware_efi;     /* <os><enum name='firmware'> lists efi */
  GStrv loaders;             /* <os><loader supported='yes'><value>s; never NULL */
  gboolean hostdev_supported;   /* <devices><hostdev supported='yes'> */
  gboolean hostdev_pci;         /* ... <enum name='subsysType'> lists pci */
  gboolean hostdev_vfio;        /* ... <enum name='pciBackend'> lists vfio */
  gboolean cpu_host_passthrough; /* <cpu><mode name='host-passthrough' supported='yes'> */
} GvdDomainCaps;

GvdDomainCaps *gvd_domcaps_new (void);
void gvd_domcaps_free (GvdDomainCaps *caps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdDomainCaps, gvd_domcaps_free)

/* Parse @xml (@len bytes, not necessarily NUL-terminated). Malformed XML, a
 * root other than <domainCapabilities> or more than GVD_DOMCAPS_MAX_BYTES is
 * GVD_ERROR_INVALID_ARGUMENT. No network access, no entity expansion. */
GvdDomainCaps *gvd_domcaps_parse (const char *xml, gsize len, GError **error);

/* Whether the machine type is a q35 one ("q35", "pc-q35-7.2"). */
gboolean gvd_domcaps_is_q35 (const GvdDomainCaps *caps);
/* UEFI available: the firmware enum lists efi, or (older libvirt without
 * firmware auto-selection) at least one loader path is listed. */
gboolean gvd_domcaps_has_efi (const GvdDomainCaps *caps);

G_END_DECLS
