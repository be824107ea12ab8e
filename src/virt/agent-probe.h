/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-guest-agent probe: tells "our agent died but the guest runs" from
 * "the guest hung while QEMU still runs" when an instance is unresponsive. */
#pragma once

#include <gio/gio.h>
#include "virt-conn.h"

G_BEGIN_DECLS

/* Send {"execute":"guest-ping"} to the qemu-guest-agent of domain
 * @domain_name through libvirt (virDomainQemuAgentCommand), waiting at most
 * @timeout_seconds (1..60). The domain lookup and the command both run in a
 * worker thread: nothing here blocks the caller's main loop. */
void gvd_agent_probe_async (GvdVirtConn *virt, const char *domain_name, int timeout_seconds,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data);

/* "responsive", "unresponsive" (the agent channel exists but did not answer
 * in time) or "unavailable" (no guest agent channel, domain not running,
 * libvirt error); static strings, never NULL. */
const char *gvd_agent_probe_finish (GAsyncResult *result);

G_END_DECLS
