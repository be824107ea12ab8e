/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* domain-xml internals shared by the renderer, the parser and the tests. */
#pragma once

#include <glib.h>
#include <libxml/xpath.h>

#include "instance-spec.h"
#include "validate.h"
#include "xml-util.h"

G_BEGIN_DECLS

/* libxml2's one-time set-up, once per process, before any thread uses it. */
void gvd_domain_xml_init (void);

/* Field checks: each fails with GVD_ERROR_INVALID_ARGUMENT naming @what.
 * check_text: non-empty, at most @max bytes, UTF-8, no control characters
 * (C0, DEL, C1, U+FFFE/U+FFFF); opt_text: NULL or check_text. */
gboolean gvd_domain_xml_check_text (const char *what, const char *s, gsize max, GError **error);
gboolean gvd_domain_xml_check_opt_text (const char *what, const char *s, gsize max,
                                        GError **error);
/* Letters, digits and @extra; starts with a letter or digit. */
gboolean gvd_domain_xml_check_token (const char *what, const char *s, gsize max,
                                     const char *extra, GError **error);
/* Absolute, no "..", no "//". */
gboolean gvd_domain_xml_check_path (const char *what, const char *s, GError **error);
gboolean gvd_domain_xml_check_uuid (const char *what, const char *s, GError **error);
/* xx:xx:xx:xx:xx:xx, unicast. */
gboolean gvd_domain_xml_check_mac (const char *what, const char *s, GError **error);
gboolean gvd_domain_xml_check_ip (const char *what, const char *s, gboolean v4_only,
                                  GError **error);
/* "10.77.0.5/24" (a host address with its prefix). */
gboolean gvd_domain_xml_check_cidr (const char *what, const char *s, GError **error);
/* A libvirt pool/volume/image name: text without '/'. */
gboolean gvd_domain_xml_check_object_name (const char *what, const char *s, GError **error);


/* What validating a spec learns that rendering it needs. */
typedef struct {
  guint n_groups;       /* guest device groups: pcie-root-ports */
  gboolean any_scsi;    /* a virtio-scsi controller is needed */
  guint scsi_iothread;  /* its iothread; 0: none */
} GvdDomainLayout;

/* gvd_domain_xml_validate(), also filling @layout (may be NULL). */
gboolean gvd_domain_xml_validate_layout (const GvdInstanceSpec *spec, GvdDomainLayout *layout,
                                         GError **error);

/* domain-xml-cpu.c: vCPU and emulator pins (both or neither; one distinct
 * host CPU per vCPU). */
gboolean gvd_domain_xml_validate_cpu_pins (const GvdInstanceSpec *spec, GError **error);
/* <cputune>'s vcpupin/emulatorpin under @root into @spec (vcpus read first);
 * no vcpupin, or pins not in gpuvmd's shape (one CPU per vCPU): pins stay
 * NULL. */
gboolean gvd_domain_xml_parse_cputune (xmlXPathContextPtr ctx, xmlNodePtr root,
                                       GvdInstanceSpec *spec, GError **error);

/* Guest physical address bits for @mmio_mib of 64-bit MMIO above
 * @memory_mib of RAM (at least 40, at most 52). */
guint gvd_domain_xml_phys_bits_for (guint64 memory_mib, guint64 mmio_mib);

G_END_DECLS
