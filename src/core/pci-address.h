/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI addresses: the one grammar every route, file and sysfs reader shares (pure). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The rule: "dddd:bb:ss.f" (sysfs, libvirt) or lspci's short "bb:ss.f",
 * which means domain 0000; hex digits in either case, fixed widths,
 * slot < 32, function < 8, nothing before or after. Outputs may be NULL
 * and are untouched on failure. */
gboolean gvd_pci_address_parse (const char *text, guint *out_domain, guint *out_bus,
                                guint *out_slot, guint *out_function);

/* The canonical form of an address: lower-case "dddd:bb:ss.f" (the short
 * form gets its domain 0000), or NULL when @text is not an address. */
char *gvd_pci_address_canonical (const char *text);

/* Whether @text is an address already in canonical form: what resolved
 * requests, plans, specs and the registry hold, and how sysfs names
 * devices (so scans take only these as PCI entries). */
gboolean gvd_pci_address_is_canonical (const char *text);

/* The canonical form of @text, or INVALID_ARGUMENT naming @field (the
 * request or file member the address came from). */
char *gvd_pci_address_normalize (const char *field, const char *text, GError **error);

/* Words for error messages that explain the rule. */
#define GVD_PCI_ADDRESS_RULE "dddd:bb:ss.f or bb:ss.f, e.g. 0000:01:00.0 or 01:00.0"

G_END_DECLS
