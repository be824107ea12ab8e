/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Detach devices from a running domain and wait until libvirt says they are
 * gone (VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED), for gpuvmd's hot-unplug. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

/* Worker thread (the events are dispatched on the main context, which must
 * be running): ask libvirt to unplug each device of @aliases from @dom's
 * running machine (virDomainDetachDeviceAlias: asynchronous, where a
 * detach by XML blocks up to 5 s per device inside libvirt first), then
 * wait up to @timeout_s seconds until every one has been reported removed
 * (or is no longer in the live XML).
 * FALSE with GVD_ERROR_TIMEOUT naming the aliases still there when the
 * guest did not release them in time, with GVD_ERROR_LIBVIRT when libvirt
 * refused a detach (the aliases before it were asked already) or reported
 * a failed removal. Never touches the persistent definition. */
gboolean gvd_device_detach_live_and_wait (virConnectPtr conn, virDomainPtr dom,
                                          const char *const *aliases, guint timeout_s,
                                          GError **error);

G_END_DECLS
