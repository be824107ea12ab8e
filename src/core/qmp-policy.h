/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which QMP commands POST /v1/instances/{name}/qmp passes to QEMU (pure). */
#pragma once

#include <glib.h>

#include "errors.h"

G_BEGIN_DECLS

/* Longest QMP command name accepted (QEMU's longest is about 40). */
#define GVD_QMP_NAME_MAX 64

/* Letters, digits, '-' and '_', 1 to GVD_QMP_NAME_MAX characters. */
gboolean gvd_qmp_name_valid (const char *name);

/* The commands allowed besides query-*, NULL-terminated. */
const char *const *gvd_qmp_policy_builtin (void);

/* Whether @command may run: any "query-*", the built-in list, or one of
 * @extra ([instances] qmp_allow). A malformed name is
 * GVD_ERROR_INVALID_ARGUMENT; any other command GVD_ERROR_FORBIDDEN naming
 * it and what is allowed. */
gboolean gvd_qmp_policy_check (const char *command, const char *const *extra, GError **error);

G_END_DECLS
