/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-guest-agent guest-ping through libvirt, off the main loop. */
#include "config.h"

#include "agent-probe.h"

#include <stdlib.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

typedef struct {
  GvdVirtConn *virt;
  char *domain_name;
  int timeout;
} Probe;

static void
probe_free (gpointer data)
{
  Probe *p = data;

  g_object_unref (p->virt);
  g_free (p->domain_name);
  g_free (p);
}

static void
probe_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Probe *p = task_data;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (p->virt, NULL);
  g_autoptr(virDomain) dom = NULL;
  char *reply;
  const char *state;

  if (conn == NULL || (dom = virDomainLookupByName (conn, p->domain_name)) == NULL)
    {
      virResetLastError ();
      g_task_return_pointer (task, (gpointer) "unavailable", NULL);
      return;
    }
  reply = virDomainQemuAgentCommand (dom, "{\"execute\":\"guest-ping\"}", p->timeout, 0);
  if (reply != NULL)
    state = "responsive";
  else
    {
      virErrorPtr err = virGetLastError ();

      state = err != NULL && err->code == VIR_ERR_AGENT_UNRESPONSIVE ? "unresponsive"
                                                                     : "unavailable";
      g_debug ("guest-ping on %s: %s", p->domain_name,
               err != NULL && err->message != NULL ? err->message : "failed");
      virResetLastError ();
    }
  free (reply);
  g_task_return_pointer (task, (gpointer) state, NULL);
}

void
gvd_agent_probe_async (GvdVirtConn *virt, const char *domain_name, int timeout_seconds,
                       GCancellable *cancellable, GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  Probe *p = g_new0 (Probe, 1);

  p->virt = g_object_ref (virt);
  p->domain_name = g_strdup (domain_name);
  p->timeout = CLAMP (timeout_seconds, 1, 60);
  g_task_set_source_tag (task, gvd_agent_probe_async);
  g_task_set_task_data (task, p, probe_free);
  g_task_run_in_thread (task, probe_thread);
}

const char *
gvd_agent_probe_finish (GAsyncResult *result)
{
  const char *state;

  g_return_val_if_fail (g_task_is_valid (result, NULL), "unavailable");
  state = g_task_propagate_pointer (G_TASK (result), NULL);
  return state != NULL ? state : "unavailable";
}
