/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live snapshots: QGA freeze, libvirt's external disk-only snapshot onto a
 * pool volume gpuvmd made, thaw (see snapshot-live.h). */
#include "config.h"

#include "snapshot-live.h"

#include <stdlib.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "errors.h"
#include "snapshot-xml.h"
#include "virt-conn.h"

/* Whether the guest agent answers a ping in time. A guest without one
 * (or not booted far enough) answers at once with "not connected". */
static gboolean
agent_answers (virDomainPtr dom)
{
  char *reply = virDomainQemuAgentCommand (dom, "{\"execute\":\"guest-ping\"}",
                                           GVD_SNAPSHOT_AGENT_PING_SECONDS, 0);
  gboolean ok = reply != NULL;

  if (!ok)
    {
      g_debug ("snapshot: guest agent of %s does not answer: %s", virDomainGetName (dom),
               virGetLastErrorMessage ());
      virResetLastError ();
    }
  free (reply);
  return ok;
}

/* Freeze with a bounded wait (libvirt's default waits for the agent as long
 * as it takes). Returns whether the filesystems are frozen; *@out_asked
 * whether a freeze was sent (one that timed out may still take effect). */
static gboolean
freeze (virDomainPtr dom, gboolean *out_asked)
{
  int n;

  *out_asked = FALSE;
  if (!agent_answers (dom))
    return FALSE;
  *out_asked = TRUE;
  if (virDomainAgentSetResponseTimeout (dom, GVD_SNAPSHOT_AGENT_FREEZE_SECONDS, 0) < 0)
    virResetLastError ();
  n = virDomainFSFreeze (dom, NULL, 0, 0);
  if (n < 0)
    {
      g_debug ("snapshot: cannot freeze the filesystems of %s (crash-consistent then): %s",
               virDomainGetName (dom), virGetLastErrorMessage ());
      virResetLastError ();
      return FALSE;
    }
  g_debug ("snapshot: froze %d filesystem(s) of %s", n, virDomainGetName (dom));
  return TRUE;
}

static void
thaw (virDomainPtr dom)
{
  if (virDomainFSThaw (dom, NULL, 0, 0) < 0)
    {
      g_debug ("snapshot: cannot thaw the filesystems of %s: %s", virDomainGetName (dom),
               virGetLastErrorMessage ());
      virResetLastError ();
    }
  if (virDomainAgentSetResponseTimeout (dom, VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_DEFAULT, 0) < 0)
    virResetLastError ();
}

gboolean
gvd_snapshot_live_capture (virDomainPtr dom, const char *pool, const char *top,
                           const char *new_path, const char **out_consistency, GError **error)
{
  char *live = virDomainGetXMLDesc (dom, 0);
  g_autofree char *snap_xml = NULL;
  virDomainSnapshotPtr snap;
  gboolean frozen, asked;

  if (live == NULL)
    {
      gvd_virt_error_set (error, "cannot read the running domain's XML");
      return FALSE;
    }
  snap_xml = gvd_snapshot_live_xml (live, pool, top, new_path, error);
  free (live);
  if (snap_xml == NULL)
    return FALSE;
  /* Thawed below on every path whenever a freeze was asked for. */
  frozen = freeze (dom, &asked);
  snap = virDomainSnapshotCreateXML (dom, snap_xml,
                                     VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
                                       | VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT
                                       | VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA
                                       | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC);
  if (snap == NULL)
    gvd_virt_error_set (error, "cannot take the live disk snapshot");
  if (asked)
    thaw (dom);
  if (snap == NULL)
    return FALSE;
  virDomainSnapshotFree (snap);
  *out_consistency = frozen ? GVD_SNAPSHOT_CONSISTENCY_FILESYSTEM : GVD_SNAPSHOT_CONSISTENCY_CRASH;
  return TRUE;
}
