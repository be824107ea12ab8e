/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest PCI address → host PCI address of an instance's passthrough devices,
 * from the placement the domain renderer gives each hostdev (pure). */
#include "config.h"

#include "guest-pci-map.h"

#include <string.h>

#include "pci-address.h"

char *
gvd_guest_pci_normalize (const char *bus_id)
{
  gsize len;

  if (bus_id == NULL)
    return NULL;
  len = strnlen (bus_id, 17);
  /* nvidia-smi prints a 32-bit domain; guests here only have domain 0. */
  if (len == 16 && strncmp (bus_id, "0000", 4) == 0)
    bus_id += 4;
  return gvd_pci_address_canonical (bus_id);
}

char *
gvd_guest_pci_address_of (const GvdHostdevSpec *hostdev)
{
  g_return_val_if_fail (hostdev != NULL, NULL);
  return g_strdup_printf ("0000:%02x:00.%x", hostdev->guest_bus + 1,
                          hostdev->guest_function & 7);
}

char *
gvd_guest_pci_host_address (const GvdInstanceSpec *spec, const char *guest_address)
{
  g_autofree char *want = gvd_guest_pci_normalize (guest_address);

  if (spec == NULL || spec->hostdevs == NULL || want == NULL)
    return NULL;
  for (guint i = 0; i < spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (spec->hostdevs, i);
      g_autofree char *at = NULL;

      if (h->host_address == NULL || h->mdev_uuid != NULL)
        continue;
      at = gvd_guest_pci_address_of (h);
      if (g_str_equal (at, want))
        return g_strdup (h->host_address);
    }
  return NULL;
}
