/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mediated devices through libvirt's node device API (mdev.h).
 *
 * Persistent (define + create + autostart) rather than transient
 * (virNodeDeviceCreateXML): gpuvmd's domains are persistent and may be
 * autostarted, and a transient mdev is gone after a host reboot, which would
 * leave the domain unable to start. libvirt (≥ 7.3) hands mdevs to mdevctl
 * either way; without mdevctl installed both calls fail with libvirt's
 * error, which gpuvmd reports as it is. */
#include "config.h"

#include "mdev.h"

#include <string.h>

#include "errors.h"
#include "virt-error.h"
#include "xml-util.h"

char *
gvd_mdev_parent_nodedev_name (const char *address)
{
  g_autofree char *name = g_strconcat ("pci_", address, NULL);

  g_strdelimit (name, ":.", '_');
  return g_steal_pointer (&name);
}

char *
gvd_mdev_device_xml (const char *parent, const char *type, const char *uuid)
{
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr device = xmlNewNode (NULL, BAD_CAST "device");
  xmlNodePtr cap, t;
  g_autofree char *parent_name = gvd_mdev_parent_nodedev_name (parent);
  xmlChar *mem = NULL;
  int len = 0;
  char *out;

  xmlDocSetRootElement (doc, device);
  xmlNewTextChild (device, NULL, BAD_CAST "parent", BAD_CAST parent_name);
  cap = xmlNewChild (device, NULL, BAD_CAST "capability", NULL);
  xmlSetProp (cap, BAD_CAST "type", BAD_CAST "mdev");
  t = xmlNewChild (cap, NULL, BAD_CAST "type", NULL);
  xmlSetProp (t, BAD_CAST "id", BAD_CAST type);
  xmlNewTextChild (cap, NULL, BAD_CAST "uuid", BAD_CAST uuid);
  xmlDocDumpFormatMemory (doc, &mem, &len, 1);
  out = g_strndup ((const char *) mem, len);
  xmlFree (mem);
  return out;
}

/* The uuid in a node device's XML (mdev capability), or NULL. */
static char *
nodedev_uuid (virNodeDevicePtr dev)
{
  char *xml = virNodeDeviceGetXMLDesc (dev, 0);
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  char *uuid = NULL;

  if (xml == NULL)
    return NULL;
  doc = xmlReadMemory (xml, strlen (xml), "nodedev.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR
                                                                 | XML_PARSE_NOWARNING);
  free (xml);
  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  obj = xmlXPathEvalExpression (BAD_CAST "string(/device/capability[@type='mdev']/uuid)", ctx);
  if (obj != NULL && obj->type == XPATH_STRING && obj->stringval != NULL && *obj->stringval)
    uuid = g_strdup ((const char *) obj->stringval);
  return uuid;
}

static gboolean
libvirt_create (const GvdMdevOps *ops, virConnectPtr conn, const char *parent, const char *type,
                const char *uuid, GError **error)
{
  g_autofree char *xml = gvd_mdev_device_xml (parent, type, uuid);
  g_autofree char *what = g_strdup_printf ("cannot create vGPU %s (mdev %s) on %s", type, uuid,
                                           parent);
  virNodeDevicePtr dev;

  dev = virNodeDeviceDefineXML (conn, xml, 0);
  if (dev == NULL)
    {
      gvd_virt_set_error (error, gvd_virt_error_code (GVD_ERROR_CONFLICT), what);
      return FALSE;
    }
  if (virNodeDeviceCreate (dev, 0) < 0)
    {
      gvd_virt_set_error (error, gvd_virt_error_code (GVD_ERROR_CONFLICT), what);
      if (virNodeDeviceUndefine (dev, 0) < 0)
        g_debug ("mdev %s: undefine after a failed start: %s", uuid, virGetLastErrorMessage ());
      virNodeDeviceFree (dev);
      return FALSE;
    }
  /* The domain is persistent: its mdev must come back after a host reboot. */
  if (virNodeDeviceSetAutostart (dev, 1) < 0)
    {
      gvd_virt_set_error (error, gvd_virt_error_code (GVD_ERROR_CONFLICT), what);
      virNodeDeviceDestroy (dev);
      virNodeDeviceUndefine (dev, 0);
      virNodeDeviceFree (dev);
      return FALSE;
    }
  virNodeDeviceFree (dev);
  return TRUE;
}

static gboolean
libvirt_remove (const GvdMdevOps *ops, virConnectPtr conn, const char *uuid, GError **error)
{
  virNodeDevicePtr *devs = NULL;
  int n = virConnectListAllNodeDevices (conn, &devs, VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV);
  gboolean ok = TRUE;

  if (n < 0)
    {
      g_autofree char *what = g_strdup_printf ("cannot list mdevs to remove %s", uuid);
      gvd_virt_set_error (error, gvd_virt_error_code (GVD_ERROR_LIBVIRT), what);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      g_autofree char *u = ok ? nodedev_uuid (devs[i]) : NULL;

      if (u != NULL && g_ascii_strcasecmp (u, uuid) == 0)
        {
          g_autofree char *what = g_strdup_printf ("cannot remove mdev %s", uuid);

          if (virNodeDeviceIsActive (devs[i]) == 1 && virNodeDeviceDestroy (devs[i]) < 0)
            {
              gvd_virt_set_error (error, gvd_virt_error_code (GVD_ERROR_LIBVIRT), what);
              ok = FALSE;
            }
          else if (virNodeDeviceIsPersistent (devs[i]) == 1 && virNodeDeviceUndefine (devs[i], 0) < 0)
            {
              gvd_virt_set_error (error, gvd_virt_error_code (GVD_ERROR_LIBVIRT), what);
              ok = FALSE;
            }
        }
      virNodeDeviceFree (devs[i]);
    }
  free (devs);
  return ok;
}

static const GvdMdevOps libvirt_ops = {
  .create = libvirt_create,
  .remove = libvirt_remove,
  .data = NULL,
};

const GvdMdevOps *
gvd_mdev_ops_libvirt (void)
{
  return &libvirt_ops;
}
