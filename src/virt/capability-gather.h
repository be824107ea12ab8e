/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability facts from libvirt, and `gpuvmd --check` (gather
 * everything, evaluate). */
#pragma once

#include <libvirt/libvirt.h>

#include "capability-host.h"
#include "capability.h"
#include "gvd-config.h"

G_BEGIN_DECLS

/* Versions and domain capabilities from @conn; @conn NULL means libvirt is
 * unreachable and @conn_error (may be NULL) says why. Call after
 * gvd_capability_gather_host: the virttype depends on /dev/kvm. When libvirt
 * refuses kvm although /dev/kvm is usable, that is recorded in kvm_refused
 * and the qemu (TCG) capabilities are asked for instead. Blocking. */
void gvd_capability_gather_libvirt (GvdHostFacts *facts, const char *uri, virConnectPtr conn,
                                    const GError *conn_error);
/* For `gpuvmd --check`: gather everything for @config (opening its libvirt
 * URI synchronously) and evaluate, in the locale's language (a report for
 * a person, never for the API). @out_facts may be NULL. Blocking. */
GvdCapReport *gvd_capability_check_host (const GvdConfig *config, GvdHostFacts **out_facts);

G_END_DECLS
