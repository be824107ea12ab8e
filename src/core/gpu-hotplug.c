/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU hot-plug (pure): request, guest placement, hostdev XML, and the
 * all-or-nothing attach sequence (see gpu-hotplug.h). */
#include "config.h"

#include "gpu-hotplug.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <string.h>

#include "device-ref.h"
#include "domain-xml.h"
#include "domain-xml-render.h"
#include "domain-xml-xpath.h"
#include "json-field.h"
#include "pci-address.h"
#include "xml-util.h"

#define INVALID(...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

GvdGpuAttachRequest *
gvd_gpu_attach_request_new (void)
{
  return g_new0 (GvdGpuAttachRequest, 1);
}

void
gvd_gpu_attach_request_free (GvdGpuAttachRequest *req)
{
  if (req == NULL)
    return;
  g_strfreev (req->devices);
  g_free (req->gpu_vendor);
  g_free (req->gpu_model);
  g_free (req);
}

/* "devices": 1 to GVD_PLAN_MAX_DEVICES non-empty strings (resolved later,
 * against the registry, as at create). */
static gboolean
read_devices (JsonNode *node, char ***out, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  JsonArray *arr;
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return INVALID ("'devices': expected an array of device names or PCI addresses, got %s",
                    gvd_json_type_name (node));
  arr = json_node_get_array (node);
  n = json_array_get_length (arr);
  if (n == 0 || n > GVD_PLAN_MAX_DEVICES)
    return INVALID ("'devices': expected 1 to %d entries, got %u", GVD_PLAN_MAX_DEVICES, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *field = g_strdup_printf ("devices[%u]", i);
      g_autofree char *s = NULL;

      if (!gvd_json_field_string (json_array_get_element (arr, i), field, GVD_DEVICE_REF_MAX, FALSE,
                                  &s, error))
        return FALSE;
      g_strv_builder_add (b, s);
    }
  *out = g_strv_builder_end (b);
  return TRUE;
}

GvdGpuAttachRequest *
gvd_gpu_attach_request_parse (JsonObject *body, GError **error)
{
  g_autoptr(GvdGpuAttachRequest) req = gvd_gpu_attach_request_new ();
  g_autoptr(GList) members = json_object_get_members (body);
  gboolean has_count = FALSE;
  guint64 v;

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *n = json_object_get_member (body, m);
      gboolean ok;

      if (g_str_equal (m, "devices"))
        ok = read_devices (n, &req->devices, error);
      else if (g_str_equal (m, "count"))
        ok = gvd_json_field_uint (n, m, 1, GVD_PLAN_MAX_GPUS, &v, error)
             && ((req->count = v), (has_count = TRUE));
      else if (g_str_equal (m, "gpu_vendor"))
        ok = gvd_json_field_string (n, m, 64, FALSE, &req->gpu_vendor, error);
      else if (g_str_equal (m, "gpu_model"))
        ok = gvd_json_field_string (n, m, 128, FALSE, &req->gpu_model, error);
      else if (g_str_equal (m, "allow_weakened_isolation"))
        ok = gvd_json_field_bool (n, m, &req->allow_weakened_isolation, error);
      else
        ok = INVALID ("'%s': unknown member (devices, count, gpu_vendor, gpu_model, "
                      "allow_weakened_isolation)", m);
      if (!ok)
        return NULL;
    }
  if (req->devices != NULL && has_count)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "'devices' and 'count' exclude each other: name the devices or count them");
      return NULL;
    }
  if (req->devices == NULL && !has_count)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "'devices': give the devices to attach, or 'count'");
      return NULL;
    }
  if ((req->gpu_vendor != NULL || req->gpu_model != NULL) && !has_count)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "'gpu_vendor' and 'gpu_model' filter 'count': set 'count'");
      return NULL;
    }
  return g_steal_pointer (&req);
}

GPtrArray *
gvd_gpu_hotplug_place (const GvdPlan *plan, const GArray *free_ports, const char *instance,
                       GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_hostdev_spec_free);
  guint p = 0;

  for (guint i = 0; i < plan->hostdevs->len; i++)
    {
      const GvdPlanHostdev *ph = g_ptr_array_index (plan->hostdevs, i);
      GvdHostdevSpec *h;

      /* Groups beyond what the metadata can record are not usable. */
      while (p < free_ports->len
             && g_array_index (free_ports, guint, p) > GVD_DOMAIN_XML_MAX_GROUPS)
        p++;
      if (p >= free_ports->len)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                       "instance '%s' has %u free pcie-root-port(s) for hot-plug and the plan "
                       "needs %u (one per function); raise [instances] hotplug_ports (applied "
                       "at the next start) or detach a device first",
                       instance, free_ports->len, plan->hostdevs->len);
          return NULL;
        }
      h = gvd_hostdev_spec_new ();
      h->host_address = g_strdup (ph->address);
      h->guest_bus = g_array_index (free_ports, guint, p++) - 1;
      h->guest_slot = 0;
      h->guest_function = 0;
      h->multifunction = FALSE;
      h->clique = -1;
      g_ptr_array_add (out, h);
    }
  return g_steal_pointer (&out);
}

char *
gvd_gpu_hotplug_alias (const char *host_address)
{
  g_autofree char *s = g_strdup (host_address);

  g_strdelimit (s, ":.", '-');
  return g_strconcat ("ua-gpu-", s, NULL);
}

static char *
hostdev_xml (const GvdHostdevSpec *h, gboolean placed, GError **error)
{
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr hd, node;
  g_autofree char *alias = NULL;
  xmlBufferPtr buf;
  char *xml;
  guint d = 0, b = 0, s = 0, f = 0;

  if (h->host_address == NULL || h->mdev_uuid != NULL
      || !gvd_pci_address_parse (h->host_address, &d, &b, &s, &f))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s' is not a PCI device address", h->host_address ? h->host_address : "");
      return NULL;
    }
  alias = gvd_gpu_hotplug_alias (h->host_address);
  hd = xmlNewNode (NULL, BAD_CAST "hostdev");
  xmlDocSetRootElement (doc, hd);
  prop (hd, "mode", "subsystem");
  prop (hd, "type", "pci");
  prop (hd, "managed", "yes");
  prop (child (hd, NULL, "driver"), "name", "vfio");
  node = child (child (hd, NULL, "source"), NULL, "address");
  propf (node, "domain", "0x%04x", d);
  propf (node, "bus", "0x%02x", b);
  propf (node, "slot", "0x%02x", s);
  propf (node, "function", "0x%x", f);
  if (placed)
    {
      prop (child (hd, NULL, "alias"), "name", alias);
      pci_address (hd, h->guest_bus + 1, 0, h->guest_function, FALSE);
    }
  buf = xmlBufferCreate ();
  if (xmlNodeDump (buf, doc, hd, 0, 0) < 0)
    {
      xmlBufferFree (buf);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "cannot format the hostdev XML");
      return NULL;
    }
  xml = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return xml;
}

char *
gvd_gpu_hotplug_hostdev_xml (const GvdHostdevSpec *hostdev, GError **error)
{
  return hostdev_xml (hostdev, TRUE, error);
}

char *
gvd_gpu_hotplug_detach_xml (const char *host_address, GError **error)
{
  GvdHostdevSpec h = { .host_address = (char *) host_address, .clique = -1 };

  return hostdev_xml (&h, FALSE, error);
}

gboolean
gvd_gpu_hotplug_attach_all (const GvdGpuHotplugOps *ops, gpointer ctx, GPtrArray *xmls,
                            const char *const *addresses, gboolean *out_kept,
                            GError **out_rollback_error, GError **error)
{
  guint done;

  for (done = 0; done < xmls->len; done++)
    {
      g_autoptr(GError) e = NULL;

      if (ops->attach (ctx, g_ptr_array_index (xmls, done), &e))
        continue;
      g_propagate_prefixed_error (error, g_steal_pointer (&e), "attaching %s: ", addresses[done]);
      break;
    }
  if (done == xmls->len)
    return TRUE;
  /* All or nothing: undo what was attached, last first. */
  while (done-- > 0)
    {
      g_autoptr(GError) e = NULL;

      if (ops->detach (ctx, g_ptr_array_index (xmls, done), &e))
        continue;
      if (out_kept != NULL)
        out_kept[done] = TRUE;
      if (out_rollback_error != NULL && *out_rollback_error == NULL)
        g_propagate_prefixed_error (out_rollback_error, g_steal_pointer (&e),
                                    "rolling back %s: ", addresses[done]);
    }
  return FALSE;
}

char *
gvd_gpu_hotplug_alias_of (const char *xml, const char *host_address)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, NULL);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc), "devices/hostdev[@type='pci']", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      xmlNodePtr addr = gvd_xp_first (ctx, set->nodeTab[i], "source/address");
      g_autofree char *a = addr != NULL ? gvd_xp_read_pci (ctx, addr, NULL) : NULL;

      if (a != NULL && g_ascii_strcasecmp (a, host_address) == 0)
        return gvd_xp_str (ctx, set->nodeTab[i], "alias/@name");
    }
  return NULL;
}

gboolean
gvd_gpu_hotplug_has_alias (const char *xml, const char *alias)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, NULL);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodeSetPtr set;

  if (doc == NULL)
    return TRUE; /* unreadable: assume still there */
  ctx = xmlXPathNewContext (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc), "devices/*/alias/@name", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *s = (char *) xmlNodeGetContent (set->nodeTab[i]);
      if (g_strcmp0 (s, alias) == 0)
        return TRUE;
    }
  return FALSE;
}

char *
gvd_gpu_hotplug_alias_in_xml (const char *hostdev_xml)
{
  /* No network, no entities, no noise: as gvd_xp_read_doc, for a device. */
  g_autoptr(xmlDoc) doc = xmlReadMemory (hostdev_xml, (int) strnlen (hostdev_xml, 64 * 1024),
                                         "device.xml", NULL,
                                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  g_autoptr(xmlXPathContext) ctx = NULL;

  if (doc == NULL || xmlDocGetRootElement (doc) == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  return gvd_xp_str (ctx, xmlDocGetRootElement (doc), "alias/@name");
}
