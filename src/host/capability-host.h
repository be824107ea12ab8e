/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability facts from the host: devfs, procfs and sysfs below the
 * host root, and the storage pool directory. */
#pragma once

#include "capability.h"
#include "host-root.h"

G_BEGIN_DECLS

/* Read devfs, procfs and sysfs below @root and probe @pool_path. */
void gvd_capability_gather_host (GvdHostFacts *facts, const GvdHostRoot *root,
                                 const char *pool_path);

G_END_DECLS
