/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Free hot-plug slots: libvirt places every device without an address on
 * the first empty pcie-root-port at define time, so spare ports are added
 * after libvirt placed the rest (see domain-xml-hotplug.h). */
#include "config.h"

#include "instance-priv.h"

#include "domain-xml-hotplug.h"
#include "virt-error.h"

gboolean
gvd_instance_ensure_hotplug_ports (virConnectPtr conn, virDomainPtr dom, guint want, GError **error)
{
  g_autofree char *xml = NULL;
  g_autofree char *grown = NULL;
  g_autoptr(GArray) free_ports = NULL;
  g_autoptr(virDomain) again = NULL;

  if (want == 0)
    return TRUE;
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  if (xml == NULL)
    {
      gvd_virt_error_set (error, "cannot read the domain XML");
      return FALSE;
    }
  free_ports = gvd_domain_xml_free_root_ports (xml, error);
  if (free_ports == NULL)
    return FALSE;
  if (free_ports->len >= want)
    return TRUE;
  grown = gvd_domain_xml_add_root_ports (xml, want - free_ports->len, error);
  if (grown == NULL)
    return FALSE;
  again = virDomainDefineXMLFlags (conn, grown, VIR_DOMAIN_DEFINE_VALIDATE);
  if (again == NULL)
    {
      gvd_virt_error_set (error, "libvirt refused the domain's spare hot-plug ports");
      return FALSE;
    }
  g_debug ("%s: %u spare pcie-root-ports added for hot-plug", virDomainGetName (dom),
           want - free_ports->len);
  return TRUE;
}
