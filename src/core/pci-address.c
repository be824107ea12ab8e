/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI addresses: the one grammar every route, file and sysfs reader shares (pure). */
#include "config.h"

#include "pci-address.h"

#include <string.h>

#include "errors.h"

/* Exactly @width hex digits ending at @sep; advances *p past the separator. */
static gboolean
parse_field (const char **p, gsize width, char sep, guint max, guint *out)
{
  guint v = 0;

  for (gsize j = 0; j < width; j++, (*p)++)
    {
      if (!g_ascii_isxdigit (**p))
        return FALSE;
      v = v * 16 + (guint) g_ascii_xdigit_value (**p);
    }
  if (**p != sep || v > max)
    return FALSE;
  if (sep != '\0')
    (*p)++;
  *out = v;
  return TRUE;
}

gboolean
gvd_pci_address_parse (const char *text, guint *out_domain, guint *out_bus, guint *out_slot,
                       guint *out_function)
{
  guint domain = 0, bus, slot, function;
  const char *p = text;
  gsize len;

  if (text == NULL)
    return FALSE;
  len = strnlen (text, 13);
  if (len != 12 && len != 7)
    return FALSE;
  if (len == 12 && !parse_field (&p, 4, ':', 0xffff, &domain))
    return FALSE;
  if (!parse_field (&p, 2, ':', 0xff, &bus) || !parse_field (&p, 2, '.', 0x1f, &slot)
      || !parse_field (&p, 1, '\0', 0x7, &function))
    return FALSE;
  if (out_domain != NULL)
    *out_domain = domain;
  if (out_bus != NULL)
    *out_bus = bus;
  if (out_slot != NULL)
    *out_slot = slot;
  if (out_function != NULL)
    *out_function = function;
  return TRUE;
}

char *
gvd_pci_address_canonical (const char *text)
{
  guint domain, bus, slot, function;

  if (!gvd_pci_address_parse (text, &domain, &bus, &slot, &function))
    return NULL;
  return g_strdup_printf ("%04x:%02x:%02x.%x", domain, bus, slot, function);
}

char *
gvd_pci_address_normalize (const char *field, const char *text, GError **error)
{
  char *canonical = gvd_pci_address_canonical (text);

  if (canonical == NULL)
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                 "%s: '%s' is not a PCI address (" GVD_PCI_ADDRESS_RULE ")", field,
                 text != NULL && g_utf8_validate (text, -1, NULL) ? text : "(not UTF-8)");
  return canonical;
}

gboolean
gvd_pci_address_is_canonical (const char *text)
{
  /* Allocation-free: scans call this for every sysfs entry. */
  if (!gvd_pci_address_parse (text, NULL, NULL, NULL, NULL) || strlen (text) != 12)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}
