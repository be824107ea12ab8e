/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl events: /v1/events printed one line per event. */
#include "config.h"

#include "ctl.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "ctl-error.h"

#define MAX_COUNT 1000000

typedef struct {
  GvdCtl *ctl;
  guint64 count;   /* 0: no limit */
  guint64 seen;
} Events;

static gboolean
print_event (const char *id, const char *type, const char *data, gpointer user_data)
{
  Events *e = user_data;

  switch (e->ctl->format)
    {
    case GVD_CTL_FORMAT_JSON:
    case GVD_CTL_FORMAT_YAML:
      {
        /* JSON lines: {"id", "type", "data"}, one per event (YAML would
         * not stream; it gets the same). */
        g_autoptr(JsonBuilder) b = json_builder_new ();
        g_autoptr(JsonParser) parser = json_parser_new ();
        g_autoptr(JsonNode) node = NULL;
        g_autofree char *line = NULL;

        json_builder_begin_object (b);
        json_builder_set_member_name (b, "id");
        json_builder_add_string_value (b, id);
        json_builder_set_member_name (b, "type");
        json_builder_add_string_value (b, type);
        json_builder_set_member_name (b, "data");
        if (json_parser_load_from_data (parser, data, -1, NULL))
          json_builder_add_value (b, json_node_copy (json_parser_get_root (parser)));
        else
          json_builder_add_string_value (b, data);
        json_builder_end_object (b);
        node = json_builder_get_root (b);
        line = json_to_string (node, FALSE);
        printf ("%s\n", line);
        break;
      }
    case GVD_CTL_FORMAT_NAME:
      printf ("%s\n", type != NULL ? type : "message");
      break;
    case GVD_CTL_FORMAT_TABLE:
    default:
      printf ("%-6s %-22s %s\n", id != NULL ? id : "-", type != NULL ? type : "message", data);
      break;
    }
  fflush (stdout);
  e->seen++;
  return e->count == 0 || e->seen < e->count;
}

static gboolean
ended (gpointer data)
{
  return gvd_ctl_stream_ended (data, NULL);
}

static gboolean
run_events (GvdCtl *ctl, GError **error)
{
  const char *since = gvd_ctl_args_get (ctl->args, "since");
  const char *count = gvd_ctl_args_get (ctl->args, "count");
  Events e = { ctl, 0, 0 };
  g_autoptr(GvdCtlStream) s = NULL;
  const GError *why = NULL;
  guint64 id = 0;

  if (since != NULL && !gvd_ctl_parse_uint (since, "--since", 0, G_MAXINT64, &id, error))
    return FALSE;
  if (count != NULL && !gvd_ctl_parse_uint (count, "--count", 1, MAX_COUNT, &e.count, error))
    return FALSE;
  s = gvd_ctl_stream_open (ctl->client, "/v1/events", since, error);
  if (s == NULL)
    return FALSE;
  gvd_ctl_stream_start (s, print_event, &e);
  gvd_ctl_run_until (ended, s, 0);
  if (e.count > 0 && e.seen >= e.count)
    return TRUE;
  gvd_ctl_stream_ended (s, &why);
  g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_UNREACHABLE, _("the event stream ended%s%s"),
               why != NULL ? ": " : "", why != NULL ? why->message : "");
  return FALSE;
}

static const GvdCtlOption events_options[] = {
  { "since", 0, TRUE, FALSE },
  { "count", 'n', TRUE, FALSE },
  { NULL },
};

const GvdCtlCommand gvd_ctl_event_commands[] = {
  { "events", "[--since ID] [--count N]",
    N_("follow the daemon's events (--since ID: replay those after ID first)"), 0, 0,
    events_options, run_events },
  { NULL },
};
