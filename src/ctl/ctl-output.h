/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's output: aligned tables and trees (libsmartcols) for people;
 * JSON, YAML and one name per line for scripts. Pure: text in, text out. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  GVD_CTL_FORMAT_TABLE,
  GVD_CTL_FORMAT_JSON,
  GVD_CTL_FORMAT_YAML,
  GVD_CTL_FORMAT_NAME,
} GvdCtlFormat;

/* "table", "json", "yaml" or "name". */
gboolean gvd_ctl_format_parse (const char *text, GvdCtlFormat *out_format, GError **error);

typedef enum {
  GVD_CTL_CELL_TEXT,   /* strings as they are, numbers, true/false as yes/no, null as "-" */
  GVD_CTL_CELL_BYTES,  /* a byte count as 1.5 GiB */
  GVD_CTL_CELL_MIB,    /* a MiB count as 1.5 GiB */
  GVD_CTL_CELL_COUNT,  /* an array's length */
  GVD_CTL_CELL_LIST,   /* an array of scalars joined with "," */
} GvdCtlCell;

typedef struct {
  const char *header;
  /* Dotted member path ("health.health"); alternatives separated by '|'
   * ("device.driver|driver"): the first one present wins. */
  const char *path;
  GvdCtlCell cell;
  gboolean right;       /* right-aligned (numbers) */
} GvdCtlColumn;

/* One cell's text for @row (an object node); never NULL. */
char *gvd_ctl_cell_text (JsonNode *row, const char *path, GvdCtlCell cell);
/* 1536 → "1.5 KiB"; below 1024 "N B". */
char *gvd_ctl_format_bytes (guint64 bytes);
/* The node at a dotted path below @node, or NULL. */
JsonNode *gvd_ctl_json_path (JsonNode *node, const char *path);

/* A table: one line per element of @rows (objects). @tty: fit the terminal
 * width (truncating); otherwise never truncate. Ends with "\n". */
char *gvd_ctl_render_table (const GvdCtlColumn *columns, guint n_columns, JsonArray *rows,
                            gboolean tty);
/* A tree: rows grouped under a parent line per distinct value at @group_path
 * (first column "@group_label VALUE", VALUE "-" when absent), each row's
 * @children_member array (may be NULL) drawn below it with the same
 * columns. Groups sorted numerically when they are numbers. */
char *gvd_ctl_render_tree (const GvdCtlColumn *columns, guint n_columns, JsonArray *rows,
                           const char *group_path, const char *group_label,
                           const char *children_member, gboolean tty);

/* Pretty JSON (2-space indent), ending with "\n". */
char *gvd_ctl_render_json (JsonNode *node);
/* A faithful YAML 1.2 rendering of @node (block style; strings quoted
 * whenever YAML would read them as something else), ending with "\n". */
char *gvd_ctl_render_yaml (JsonNode *node);
/* One line per element of @rows: the string at @path (alternatives with
 * '|'); elements without one are skipped. */
char *gvd_ctl_render_names (JsonArray *rows, const char *path);

/* Console text made safe for a terminal: escape sequences (CSI, OSC and
 * the rest), C0 controls but newline and tab, DEL and C1 controls are
 * dropped, so a guest cannot drive the operator's terminal. */
char *gvd_ctl_console_sanitize (const char *text);

G_END_DECLS
