/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device references in requests → canonical PCI addresses (pure). */
#include "config.h"

#include "device-ref.h"

#include <string.h>

#include "errors.h"
#include "pci-address.h"

char *
gvd_device_ref_resolve (const GvdRegistry *registry, const char *field, const char *ref,
                        GError **error)
{
  char *address;
  const char *by_name;
  gsize len;

  g_return_val_if_fail (field != NULL, NULL);

  len = ref != NULL ? strnlen (ref, GVD_DEVICE_REF_MAX + 1) : 0;
  if (len == 0 || len > GVD_DEVICE_REF_MAX)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "%s must be a PCI address or a registered device name of 1 to %d bytes",
                   field, GVD_DEVICE_REF_MAX);
      return NULL;
    }
  if ((address = gvd_pci_address_canonical (ref)) != NULL)
    return address;
  if (registry != NULL && (by_name = gvd_registry_lookup_name (registry, ref)) != NULL)
    return g_strdup (by_name);
  g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND,
               "%s: '%s' is neither a PCI address (" GVD_PCI_ADDRESS_RULE ") nor a registered "
               "device name (see GET /v1/devices)",
               field, g_utf8_validate (ref, -1, NULL) ? ref : "(not UTF-8)");
  return NULL;
}

char **
gvd_device_ref_resolve_array (const GvdRegistry *registry, JsonNode *devices, guint max,
                              GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  JsonArray *arr;
  guint n;

  g_return_val_if_fail (devices != NULL, NULL);

  if (!JSON_NODE_HOLDS_ARRAY (devices)
      || (n = json_array_get_length (arr = json_node_get_array (devices))) == 0 || n > max)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "\"devices\" must be an array of 1 to %u names or PCI addresses", max);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      g_autofree char *field = g_strdup_printf ("devices[%u]", i);
      g_autofree char *address = NULL;

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "%s must be a PCI address or a device name (a string)", field);
          return NULL;
        }
      address = gvd_device_ref_resolve (registry, field, json_node_get_string (e), error);
      if (address == NULL)
        return NULL;
      g_strv_builder_add (b, address);
    }
  return g_strv_builder_end (b);
}
