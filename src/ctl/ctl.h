/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What gpuvmctl's commands share: the parsed command line, the client,
 * the output format, and the command tables each ctl-commands-*.c file
 * provides. */
#pragma once

#include <glib.h>

#include "ctl-args.h"
#include "ctl-client.h"
#include "ctl-output.h"

G_BEGIN_DECLS

typedef struct {
  GvdCtlClient *client;
  GvdCtlFormat format;
  gboolean tty;       /* stdout is a terminal: tables fit its width */
  gboolean progress;  /* show progress on stderr (a terminal, not --quiet) */
  GvdCtlArgs *args;   /* options, and the words after the command's own */
} GvdCtl;

typedef struct {
  const char *name;       /* "device add" */
  const char *synopsis;   /* "NAME ADDR [--x]" (not translated: syntax) */
  const char *summary;    /* N_("...") */
  guint min_args;
  guint max_args;
  const GvdCtlOption *options; /* ends with a NULL long_name; may be NULL */
  gboolean (*run) (GvdCtl *ctl, GError **error);
} GvdCtlCommand;

/* Each table ends with an entry whose name is NULL. */
extern const GvdCtlCommand gvd_ctl_host_commands[];
extern const GvdCtlCommand gvd_ctl_image_commands[];
extern const GvdCtlCommand gvd_ctl_instance_commands[];
extern const GvdCtlCommand gvd_ctl_snapshot_commands[];
extern const GvdCtlCommand gvd_ctl_gpu_commands[];
extern const GvdCtlCommand gvd_ctl_hotplug_commands[];
extern const GvdCtlCommand gvd_ctl_event_commands[];

/* The n-th word after the command (borrowed). */
const char *gvd_ctl_arg (GvdCtl *ctl, guint n);

/* Print an answer: JSON/YAML as is; for a table, @member's array as a
 * table of @columns; for names, the string at @name_path of each element. */
void gvd_ctl_print_list (GvdCtl *ctl, JsonNode *answer, const char *member,
                         const GvdCtlColumn *columns, guint n_columns, const char *name_path);
/* Print one object: JSON/YAML as is; a table as YAML (what people read
 * best for a nested document); names as the string at @name_path. */
void gvd_ctl_print_object (GvdCtl *ctl, JsonNode *answer, const char *name_path);
/* A line for people on stdout in table mode only (scripts get the data). */
void gvd_ctl_say (GvdCtl *ctl, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Progress on stderr: one line rewritten in place; _done ends it. */
void gvd_ctl_progress (GvdCtl *ctl, const char *format, ...) G_GNUC_PRINTF (2, 3);
void gvd_ctl_progress_done (GvdCtl *ctl);

/* create's progress and --wait ready (ctl-progress.c). @body is the
 * create request; returns the created instance (or the dry run). */
JsonNode *gvd_ctl_create_with_progress (GvdCtl *ctl, const char *name, JsonNode *body,
                                        gboolean wait_ready, guint timeout_s, GError **error);
/* A lifecycle action, showing the seconds waited on a terminal. */
JsonNode *gvd_ctl_action_with_progress (GvdCtl *ctl, const char *name, const char *action,
                                        JsonNode *body, GError **error);

G_END_DECLS
