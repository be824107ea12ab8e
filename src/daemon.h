/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's services, wired together by main.c and handed to the API. */
#pragma once

#include <glib.h>

#include "gvd-config.h"
#include "host-root.h"
#include "virt-conn.h"

G_BEGIN_DECLS

typedef struct _GvdInventory GvdInventory; /* hostinfo.h */

typedef struct {
  GvdConfig *config;
  GvdHostRoot *host_root;
  GvdVirtConn *virt;
  gint64 started_at;    /* g_get_monotonic_time () at start */
  GvdInventory *inventory; /* host PCI inventory, scanned at start */
  /* Device claims: PCI address → holder (instance or reservation name),
   * maintained by the instance manager. Until claims_ready (reconcile with
   * libvirt has run) no device may be considered free. */
  GHashTable *claims;
  gboolean claims_ready;
} GvdDaemon;

G_END_DECLS
