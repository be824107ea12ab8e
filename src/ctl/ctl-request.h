/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request bodies gpuvmctl sends, built from parsed options (pure: files are
 * read through a callback, so tests need no files). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ctl-args.h"

G_BEGIN_DECLS

/* Reads a whole file named on the command line. */
typedef char *(*GvdCtlReadFile) (const char *path, GError **error);

/* POST /v1/instances from `create NAME` options: --image, --gpus, --model,
 * --vendor, --device..., --reservation, --vcpus, --memory, --disk,
 * --ssh-key FILE..., --cloud-config FILE (a JSON object), --label K=V...,
 * --user, --no-start, --autostart, --vnc, --dedicated-cpus, --dry-run. */
JsonNode *gvd_ctl_create_body (const char *name, const GvdCtlArgs *args, GvdCtlReadFile read_file,
                               GError **error);
/* POST /v1/plans from `plan`: --gpus N [--model M] [--vendor V] or
 * --device D... */
JsonNode *gvd_ctl_plan_body (const GvdCtlArgs *args, GError **error);
/* POST /v1/reservations from `reservation add`: --gpus N or --device D...,
 * [--ttl SECONDS]. */
JsonNode *gvd_ctl_reservation_body (const GvdCtlArgs *args, GError **error);

/* The keys of an authorized_keys-style file: non-empty lines that are not
 * comments. */
char **gvd_ctl_parse_ssh_keys (const char *text);
/* A --cloud-config file: a JSON object (YAML is refused with a hint). */
JsonNode *gvd_ctl_parse_cloud_config (const char *path, const char *text, GError **error);

/* Whether an image source is a URL (scheme://...) rather than a path. */
gboolean gvd_ctl_is_url (const char *source);

G_END_DECLS
