/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing answers to stdout in the chosen format, and progress to stderr. */
#include "config.h"

#include "ctl.h"

#include <stdio.h>

const char *
gvd_ctl_arg (GvdCtl *ctl, guint n)
{
  return n < ctl->args->positional->len ? g_ptr_array_index (ctl->args->positional, n) : NULL;
}

static void
put (char *text /* taken */)
{
  fputs (text, stdout);
  g_free (text);
}

void
gvd_ctl_print_list (GvdCtl *ctl, JsonNode *answer, const char *member,
                    const GvdCtlColumn *columns, guint n_columns, const char *name_path)
{
  JsonNode *rows = member != NULL ? gvd_ctl_json_path (answer, member) : answer;
  JsonArray *a = rows != NULL && JSON_NODE_HOLDS_ARRAY (rows) ? json_node_get_array (rows) : NULL;

  switch (ctl->format)
    {
    case GVD_CTL_FORMAT_JSON:
      put (gvd_ctl_render_json (answer));
      break;
    case GVD_CTL_FORMAT_YAML:
      put (gvd_ctl_render_yaml (answer));
      break;
    case GVD_CTL_FORMAT_NAME:
      put (gvd_ctl_render_names (a, name_path));
      break;
    case GVD_CTL_FORMAT_TABLE:
    default:
      put (gvd_ctl_render_table (columns, n_columns, a, ctl->tty));
      break;
    }
}

void
gvd_ctl_print_object (GvdCtl *ctl, JsonNode *answer, const char *name_path)
{
  switch (ctl->format)
    {
    case GVD_CTL_FORMAT_JSON:
      put (gvd_ctl_render_json (answer));
      break;
    case GVD_CTL_FORMAT_NAME:
      {
        JsonNode *n = name_path != NULL ? gvd_ctl_json_path (answer, name_path) : NULL;

        if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
          printf ("%s\n", json_node_get_string (n));
        break;
      }
    case GVD_CTL_FORMAT_YAML:
    case GVD_CTL_FORMAT_TABLE:
    default:
      put (gvd_ctl_render_yaml (answer));
      break;
    }
}

void
gvd_ctl_say (GvdCtl *ctl, const char *format, ...)
{
  va_list ap;

  if (ctl->format != GVD_CTL_FORMAT_TABLE)
    return;
  va_start (ap, format);
  vprintf (format, ap);
  va_end (ap);
  fflush (stdout);
}

void
gvd_ctl_progress (GvdCtl *ctl, const char *format, ...)
{
  va_list ap;

  if (!ctl->progress)
    return;
  fputs ("\r\033[K", stderr);
  va_start (ap, format);
  vfprintf (stderr, format, ap);
  va_end (ap);
  fflush (stderr);
}

void
gvd_ctl_progress_done (GvdCtl *ctl)
{
  if (ctl->progress)
    fputs ("\n", stderr);
}
