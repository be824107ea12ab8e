/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device references in requests (a registered name or a PCI address) →
 * canonical PCI addresses: the one resolver of plans, reservations and
 * instances (pure). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "registry.h"

G_BEGIN_DECLS

/* Bytes of one reference: a registry name (GVD_REGISTRY_NAME_MAX) or an
 * address (12), with room to spare. */
#define GVD_DEVICE_REF_MAX 64

/* @ref is a PCI address in the one form pci-address.h accepts (short
 * "bb:ss.f" included) or a name in @registry (may be NULL: addresses only)
 * → the canonical "dddd:bb:ss.f". Whether the device exists on the host is
 * the planner's question, not this one's. Errors name @field
 * ("devices[1]"): INVALID_ARGUMENT for an empty or over-long reference,
 * DEVICE_NOT_FOUND for one that is neither an address nor a registered
 * name. */
char *gvd_device_ref_resolve (const GvdRegistry *registry, const char *field, const char *ref,
                              GError **error);

/* A request's "devices" member: an array of 1 to @max references, each
 * resolved as above → NULL-terminated canonical addresses. Errors name the
 * member or the element ("devices[2]"). */
char **gvd_device_ref_resolve_array (const GvdRegistry *registry, JsonNode *devices, guint max,
                                     GError **error);

G_END_DECLS
