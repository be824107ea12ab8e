/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI addresses in the form sysfs uses: dddd:bb:ss.f (pure). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exactly dddd:bb:ss.f in hex (either case), slot < 32, function < 8.
 * Outputs may be NULL and are untouched on failure. */
gboolean gvd_pci_address_parse (const char *text, guint *out_domain, guint *out_bus,
                                guint *out_slot, guint *out_function);

/* The lower-case form of a strict address, or NULL when @text is not one. */
char *gvd_pci_address_canonical (const char *text);

G_END_DECLS
