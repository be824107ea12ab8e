/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt connection: opened off the main loop, kept alive, reopened
 * with backoff when libvirtd goes away (its errors: virt-error.h). */
#pragma once

#include <glib-object.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt-error.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virStoragePool, virStoragePoolFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virStorageVol, virStorageVolFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virStream, virStreamFree)

/* Register libvirt's default event implementation, which dispatches on GLib's
 * default main context. Must run before any connection is opened and the
 * daemon must run that context; idempotent. */
void gvd_virt_event_loop_start (void);

/* "9.0.0" from libvirt's major * 1000000 + minor * 1000 + micro. */
char *gvd_virt_format_version (unsigned long version);

typedef enum {
  GVD_VIRT_DISCONNECTED,
  GVD_VIRT_CONNECTING,
  GVD_VIRT_CONNECTED,
} GvdVirtState;

#define GVD_TYPE_VIRT_CONN (gvd_virt_conn_get_type ())
G_DECLARE_FINAL_TYPE (GvdVirtConn, gvd_virt_conn, GVD, VIRT_CONN, GObject)

/* Signals, emitted on the main context the object was created in:
 *   "connected" ()                  a (new) connection is up
 *   "disconnected" (const char *why) the connection was lost */
GvdVirtConn *gvd_virt_conn_new (const char *uri, guint keepalive_interval,
                                guint keepalive_count, guint max_retry_delay);

/* Begin connecting in the background; retries until gvd_virt_conn_close(). */
void gvd_virt_conn_start (GvdVirtConn *self);
/* Close the connection and stop retrying. */
void gvd_virt_conn_close (GvdVirtConn *self);

/* A new reference to the live connection (release with virConnectClose), or
 * NULL with GVD_ERROR_LIBVIRT_UNAVAILABLE. Safe from any thread. */
virConnectPtr gvd_virt_conn_get (GvdVirtConn *self, GError **error);

/* Main-thread accessors for status reporting. */
GvdVirtState gvd_virt_conn_get_state (GvdVirtConn *self);
const char *gvd_virt_conn_get_uri (GvdVirtConn *self);
unsigned long gvd_virt_conn_get_lib_version (GvdVirtConn *self);
unsigned long gvd_virt_conn_get_hv_version (GvdVirtConn *self);
const char *gvd_virt_conn_get_hv_type (GvdVirtConn *self);
const char *gvd_virt_conn_get_last_error (GvdVirtConn *self);
guint gvd_virt_conn_get_reconnects (GvdVirtConn *self);
const char *gvd_virt_state_to_string (GvdVirtState state);

G_END_DECLS
