/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instance spec → libvirt domain XML, and domain XML → instance spec (recovery). */
#pragma once

#include <glib.h>

#include "instance-spec.h"

G_BEGIN_DECLS

/* gpuvmd's <metadata> element: <gpuvmd:instance version="1"> in this
 * namespace (README.md, "Domain metadata"). */
#define GVD_DOMAIN_XML_NS "urn:gpuvmd:domain:1"
#define GVD_DOMAIN_XML_NS_PREFIX "gpuvmd"
#define GVD_DOMAIN_XML_FORMAT_VERSION 1

/* Bounds on what one domain may carry. */
#define GVD_DOMAIN_XML_MAX_BYTES (4u * 1024 * 1024)
#define GVD_DOMAIN_XML_MAX_VCPUS 512
#define GVD_DOMAIN_XML_MAX_DISKS 32
#define GVD_DOMAIN_XML_MAX_NICS 16
#define GVD_DOMAIN_XML_MAX_HOSTDEVS 64
#define GVD_DOMAIN_XML_MAX_GROUPS 32
#define GVD_DOMAIN_XML_MAX_SHARES 16
/* Mount tags: QEMU's 9p device and virtio-fs's config space (tag[36]). */
#define GVD_SHARE_TAG_MAX_9P 31
#define GVD_SHARE_TAG_MAX_VIRTIOFS 36
#define GVD_DOMAIN_XML_MAX_LABELS 64
#define GVD_DOMAIN_XML_MAX_IOTHREADS 64

/* Every check gvd_domain_xml_render() makes, without rendering: anything
 * libvirt would refuse or misread fails with GVD_ERROR_INVALID_ARGUMENT
 * naming the field (domain-xml-validate.c). */
gboolean gvd_domain_xml_validate (const GvdInstanceSpec *spec, GError **error);

/* Render @spec as a libvirt domain (q35, EFI or BIOS, virtio devices, VFIO
 * hostdevs, gpuvmd metadata). The output is deterministic: the same spec
 * gives the same bytes. The spec is validated first
 * (gvd_domain_xml_validate); a valid spec always renders. */
char *gvd_domain_xml_render (const GvdInstanceSpec *spec, GError **error);

/* Read a domain back: identity, request, labels and the plan's guest
 * placement from gpuvmd's metadata; disks, NICs, hostdevs, vCPUs, memory,
 * firmware and kernel boot from the domain itself (as libvirt reformats it).
 * A domain without gpuvmd metadata fails with GVD_ERROR_NOT_FOUND ("not a
 * gpuvmd domain"): callers skip it. Cloud-init-only fields (user, keys,
 * agent token…) are not recovered. */
GvdInstanceSpec *gvd_domain_xml_parse (const char *xml, GError **error);

/* The host PCI addresses ("0000:41:00.0") of every <hostdev type='pci'> in
 * any domain XML, gpuvmd's or not. NULL-terminated, possibly empty. */
char **gvd_domain_xml_hostdev_addresses (const char *xml, GError **error);
/* The uuids of a domain's mdev hostdevs (any domain, not only gpuvmd's). */
char **gvd_domain_xml_mdev_uuids (const char *xml, GError **error);

/* The host TCP/UDP ports any domain XML forwards (NULL-terminated array of
 * guint in a GArray): QEMU "hostfwd" rules on <qemu:commandline> (-netdev
 * as JSON or key=value) and passt <portForward> ranges. Recovery counts a
 * foreign domain's forwards as taken (domain-xml-forward.c). */
GArray *gvd_domain_xml_forwarded_host_ports (const char *xml, GError **error);
/* The IPv4 host addresses (guint32, host order) those forwards name. */
GArray *gvd_domain_xml_forwarded_host_addresses (const char *xml, GError **error);

/* What every <disk> of any domain XML uses: "POOL/VOLUME" for volume disks,
 * the path for file and block disks (network disks have none).
 * NULL-terminated, possibly empty. Recovery keeps volumes a domain uses. */
char **gvd_domain_xml_disk_sources (const char *xml, GError **error);

/* Every host CPU any domain XML, gpuvmd's or not, pins a vCPU (and, with
 * @with_emulator, its emulator threads) to (<cputune> vcpupin,
 * emulatorpin), distinct, possibly empty. Recovery counts them as claimed. */
GArray *gvd_domain_xml_pinned_cpus (const char *xml, gboolean with_emulator, GError **error);

G_END_DECLS
