/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether a TCP port on the host's loopback is free: a bind test. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when a socket can bind 127.0.0.1:@port right now (with
 * SO_REUSEADDR, as QEMU's forwarder binds it) and, when @user_data points
 * to a guint32 address (host order), ADDRESS:@port too: forwarded ports
 * stay unique on the host's loopback whatever address they are on.
 * Matches GvdPortProbe. */
gboolean gvd_port_probe_free (guint port, gpointer user_data);

G_END_DECLS
