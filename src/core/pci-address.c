/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI addresses in the form sysfs uses: dddd:bb:ss.f (pure). */
#include "config.h"

#include "pci-address.h"

#include <string.h>

gboolean
gvd_pci_address_parse (const char *text, guint *out_domain, guint *out_bus, guint *out_slot,
                       guint *out_function)
{
  static const gsize widths[] = { 4, 2, 2, 1 };
  static const char seps[] = { ':', ':', '.', '\0' };
  static const guint max[] = { 0xffff, 0xff, 0x1f, 0x7 };
  guint v[4];
  const char *p = text;

  if (text == NULL || strlen (text) != 12)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (v); i++)
    {
      v[i] = 0;
      for (gsize j = 0; j < widths[i]; j++, p++)
        {
          if (!g_ascii_isxdigit (*p))
            return FALSE;
          v[i] = v[i] * 16 + (guint) g_ascii_xdigit_value (*p);
        }
      if (*p != seps[i] || v[i] > max[i])
        return FALSE;
      if (*p != '\0')
        p++;
    }
  if (out_domain != NULL)
    *out_domain = v[0];
  if (out_bus != NULL)
    *out_bus = v[1];
  if (out_slot != NULL)
    *out_slot = v[2];
  if (out_function != NULL)
    *out_function = v[3];
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
