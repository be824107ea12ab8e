/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The create request's "networks" member: several NICs, each on user-mode
 * networking, a bridge, a libvirt network or an SR-IOV virtual function. */
#include "config.h"

#include "instance-request.h"

#include <string.h>

#include "device-ref.h"
#include "domain-xml.h"
#include "errors.h"
#include "json-field.h"

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)
/* In parse_nic: fail with a message, the NIC freed. */
#define FAIL(...) \
  do { g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__); return NULL; } \
  while (0)

gboolean
gvd_network_source_name_valid (const char *name)
{
  gsize len = name != NULL ? strlen (name) : 0;

  if (len == 0 || len > GVD_NETWORK_SOURCE_MAX)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

static gboolean
parse_mode (JsonNode *v, const char *field, GvdNetworkMode *out, GError **error)
{
  g_autofree char *mode = NULL;

  if (!gvd_json_field_string (v, field, 16, FALSE, &mode, error))
    return FALSE;
  if (g_str_equal (mode, "user"))
    *out = GVD_NETWORK_USER;
  else if (g_str_equal (mode, "bridge"))
    *out = GVD_NETWORK_BRIDGE;
  else if (g_str_equal (mode, "network"))
    *out = GVD_NETWORK_NETWORK;
  else if (g_str_equal (mode, "sriov"))
    *out = GVD_NETWORK_SRIOV;
  else
    return INVALID (error, "'%s' must be user, bridge, network or sriov, not '%s'", field, mode);
  return TRUE;
}

/* "PREFIX.member", or "member" for a NIC that is a whole body. */
static char *
member_path (const char *prefix, const char *m)
{
  return prefix != NULL ? g_strdup_printf ("%s.%s", prefix, m) : g_strdup (m);
}

/* One element: {"mode", "source"?, "ipv4"?, "mac"?, "device"?}. */
GvdNicSpec *
gvd_nic_request_parse (JsonNode *node, const char *prefix, GError **error)
{
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
  g_autofree char *f_mode = member_path (prefix, "mode");
  g_autofree char *f_source = member_path (prefix, "source");
  g_autofree char *f_ipv4 = member_path (prefix, "ipv4");
  g_autofree char *f_device = member_path (prefix, "device");
  g_autoptr(GList) members = NULL;
  JsonObject *obj;
  gboolean has_mode = FALSE;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    FAIL ("'%s' must be an object", prefix != NULL ? prefix : "network");
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);
      g_autofree char *field = member_path (prefix, m);

      if (g_str_equal (m, "mode"))
        {
          if (!parse_mode (v, field, &nic->mode, error))
            return NULL;
          has_mode = TRUE;
        }
      else if (g_str_equal (m, "source"))
        {
          if (!gvd_json_field_string (v, field, GVD_NETWORK_SOURCE_MAX, FALSE, &nic->source, error))
            return NULL;
          if (!gvd_network_source_name_valid (nic->source))
            FAIL ("'%s' must be an interface or network name (letters, digits, '-', '_', '.')",
                  field);
        }
      else if (g_str_equal (m, "ipv4"))
        {
          if (!gvd_json_field_string (v, field, 15, FALSE, &nic->ipv4, error))
            return NULL;
          {
            g_autofree char *quoted = g_strdup_printf ("'%s'", field);
            if (!gvd_validate_ipv4 (quoted, nic->ipv4, NULL, error))
              return NULL;
          }
        }
      else if (g_str_equal (m, "mac"))
        {
          g_autofree char *raw = NULL;
          g_autofree char *quoted = g_strdup_printf ("'%s'", field);

          if (!gvd_json_field_string (v, field, 17, FALSE, &raw, error)
              || !gvd_validate_mac (quoted, raw, &nic->mac, error))
            return NULL;
        }
      else if (g_str_equal (m, "device"))
        {
          if (!gvd_json_field_string (v, field, GVD_DEVICE_REF_MAX, FALSE, &nic->device, error))
            return NULL;
        }
      else
        FAIL ("unknown member '%s' (mode, source, ipv4, mac, device)", field);
    }

  if (!has_mode)
    FAIL ("'%s' is required (user, bridge, network or sriov)", f_mode);
  switch (nic->mode)
    {
    case GVD_NETWORK_USER:
      if (nic->source != NULL)
        FAIL ("'%s' needs bridge or network mode", f_source);
      else if (nic->ipv4 != NULL)
        FAIL ("'%s' needs bridge or network mode: user-mode networking assigns "
              "guest addresses itself", f_ipv4);
      break;
    case GVD_NETWORK_BRIDGE:
    case GVD_NETWORK_NETWORK:
      if (nic->source == NULL)
        FAIL ("'%s' is required for network mode %s", f_source,
              gvd_network_mode_to_string (nic->mode));
      break;
    case GVD_NETWORK_SRIOV:
      if (nic->device == NULL)
        FAIL ("'%s' is required for network mode sriov (a VF's registry name "
              "or PCI address)", f_device);
      else if (nic->source != NULL)
        FAIL ("'%s' is not used in sriov mode: the VF is the source", f_source);
      else if (nic->ipv4 != NULL)
        FAIL ("'%s' is not allocated in sriov mode: the fabric's own DHCP or "
              "subnet manager addresses a VF", f_ipv4);
      break;
    default:
      g_assert_not_reached ();
    }
  if (nic->device != NULL && nic->mode != GVD_NETWORK_SRIOV)
    FAIL ("'%s' is only for network mode sriov", f_device);
  return g_steal_pointer (&nic);
}

gboolean
gvd_create_request_parse_networks (JsonNode *node, JsonObject *body, GvdCreateRequest *req,
                                   GError **error)
{
  g_autoptr(GPtrArray) nics = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_nic_spec_free);
  g_autoptr(GHashTable) macs = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) devices = g_hash_table_new (g_str_hash, g_str_equal);
  JsonArray *array;
  guint n;

  if (json_object_has_member (body, "network"))
    return INVALID (error, "give either 'network' (one NIC) or 'networks' (several), not both");
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return INVALID (error, "'networks' must be an array of NIC objects");
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n == 0)
    return INVALID (error, "'networks' is empty: leave it out for the default NIC");
  if (n > GVD_DOMAIN_XML_MAX_NICS)
    return INVALID (error, "'networks' has %u entries; at most %d are allowed", n,
                    GVD_DOMAIN_XML_MAX_NICS);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *prefix = g_strdup_printf ("networks[%u]", i);
      GvdNicSpec *nic = gvd_nic_request_parse (json_array_get_element (array, i), prefix, error);

      if (nic == NULL)
        return FALSE;
      g_ptr_array_add (nics, nic);
      if (nic->mac != NULL && !g_hash_table_add (macs, nic->mac))
        return INVALID (error, "'networks[%u].mac' %s is already used by another NIC", i,
                        nic->mac);
      if (nic->device != NULL && !g_hash_table_add (devices, nic->device))
        return INVALID (error, "'networks[%u].device' %s is already used by another NIC", i,
                        nic->device);
    }
  g_clear_pointer (&req->networks, g_ptr_array_unref);
  req->networks = g_steal_pointer (&nics);
  return TRUE;
}
