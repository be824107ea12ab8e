/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability facts from libvirt (versions, domain capabilities), and
 * `gpuvmd --check`: gather everything and evaluate. */
#include "config.h"

#include "capability-gather.h"

#include <string.h>

#include "virt-conn.h"

void
gvd_capability_gather_libvirt (GvdHostFacts *facts, const char *uri, virConnectPtr conn,
                               const GError *conn_error)
{
  const char *virttype;
  char *xml;

  g_return_if_fail (facts != NULL);

  g_free (facts->libvirt_uri);
  facts->libvirt_uri = g_strdup (uri);
  if (conn == NULL || virConnectIsAlive (conn) != 1)
    {
      facts->libvirt_reachable = FALSE;
      facts->libvirt_error = g_strdup (conn_error != NULL ? conn_error->message
                                                          : "the connection is not alive");
      return;
    }
  facts->libvirt_reachable = TRUE;
  if (virConnectGetLibVersion (conn, &facts->lib_version) < 0)
    facts->lib_version = 0;
  if (virConnectGetVersion (conn, &facts->hv_version) < 0)
    facts->hv_version = 0;

  virttype = gvd_host_facts_virttype (facts);
  xml = virConnectGetDomainCapabilities (conn, NULL, "x86_64", "q35", virttype, 0);
  if (xml == NULL && g_str_equal (virttype, "kvm"))
    {
      /* One root cause, reported once (kvm_device); the other checks look
       * at what libvirt can do without KVM. */
      facts->kvm_refused = g_strdup (virGetLastErrorMessage ());
      virttype = "qemu";
      xml = virConnectGetDomainCapabilities (conn, NULL, "x86_64", "q35", virttype, 0);
    }
  facts->domcaps_virttype = g_strdup (virttype);
  if (xml == NULL)
    {
      facts->domcaps_error = g_strdup (virGetLastErrorMessage ());
      return;
    }
  gvd_host_facts_set_domcaps (facts, xml, strlen (xml));
  free (xml);
}

static void
quiet_libvirt (void *data, virErrorPtr err)
{
}

GvdCapReport *
gvd_capability_check_host (const GvdConfig *config, GvdHostFacts **out_facts)
{
  g_autoptr(GvdHostRoot) root = NULL;
  g_autoptr(GvdHostFacts) facts = gvd_host_facts_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = NULL;
  GvdCapReport *report;

  g_return_val_if_fail (config != NULL, NULL);

  root = gvd_host_root_new (config->sysfs_root, config->procfs_root, config->devfs_root);
  gvd_capability_gather_host (facts, root, config->pool_path);

  /* libvirt prints every error on stderr by default; they end up in the report. */
  virSetErrorFunc (NULL, quiet_libvirt);
  conn = virConnectOpen (config->libvirt_uri);
  if (conn == NULL)
    g_set_error_literal (&error, GVD_ERROR, GVD_ERROR_LIBVIRT_UNAVAILABLE,
                         virGetLastErrorMessage ());
  gvd_capability_gather_libvirt (facts, config->libvirt_uri, conn, error);

  report = gvd_capability_evaluate_localized (facts);
  if (out_facts != NULL)
    *out_facts = g_steal_pointer (&facts);
  return report;
}
