/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cloud-init renderer internals shared by cloudinit.c and cloudinit-user-data.c. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "instance-spec.h"

G_BEGIN_DECLS

/* Sets GVD_ERROR_INVALID_ARGUMENT "FIELD: WHY"; returns FALSE. */
gboolean gvd_cloudinit_invalid (GError **error, const char *field, const char *why);
/* @value: valid UTF-8 of at most @max_len bytes whose characters all survive
 * JSON → YAML 1.1; control characters only when @allow_control. */
gboolean gvd_cloudinit_check_text (const char *field, const char *value, gsize max_len,
                                   gboolean allow_control, GError **error);
gboolean gvd_cloudinit_validate_password_hash (const char *hash, GError **error);
/* uuid, name and hostname, as meta-data needs them. */
gboolean gvd_cloudinit_check_identity (const GvdInstanceSpec *spec, GError **error);
/* The hostname the guest gets: spec->hostname, else the instance name. */
const char *gvd_cloudinit_hostname (const GvdInstanceSpec *spec);
/* fstab lines (write_files) and mount commands (runcmd) for the shares
 * with a mount point (cloudinit-mounts.c). */
void gvd_cloudinit_add_share_mounts (const GvdInstanceSpec *spec, JsonArray *files,
                                     JsonArray *runcmd);
/* Pretty JSON text of @root (plain YAML flow style for YAML 1.1 parsers). */
char *gvd_cloudinit_generate (JsonNode *root);

G_END_DECLS
