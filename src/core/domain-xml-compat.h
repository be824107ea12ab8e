/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Nova-shaped part of gpuvmd's domain metadata that existing libvirt
 * exporters label domains with: name, flavor, owner/project (pure). */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "instance-spec.h"

G_BEGIN_DECLS

/* The label key whose value becomes <owner><project>. */
#define GVD_DOMAIN_XML_PROJECT_LABEL "project"

/* A flavor name for the instance's shape: "2xA100-16c-64g" (GPU count and
 * model filter, vCPUs, memory in GiB, or "m" MiB when not whole), "2xGPU-…"
 * without a model, "16c-64g" without GPUs. Only [A-Za-z0-9.-]. */
char *gvd_domain_flavor_name (const GvdInstanceSpec *spec);

/* Add <flavor name="…"/> and, when the instance has a "project" label,
 * <owner><project>…</project></owner> to gpuvmd's <instance> element @inst
 * (namespace @ns), after its labels (already checked). The exporters match
 * instance/name, instance/flavor/@name and instance/owner/project by local
 * name in any namespace (prometheus-libvirt-exporter
 * --libvirt.export-nova-metadata, collectd's virt plugin with an XPath). */
void gvd_domain_xml_render_compat (xmlNodePtr inst, xmlNsPtr ns, const GvdInstanceSpec *spec);

G_END_DECLS
