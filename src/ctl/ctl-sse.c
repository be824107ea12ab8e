/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Server-sent events, line by line, as the HTML spec parses them (pure). */
#include "config.h"

#include "ctl-sse.h"

#include <string.h>

GvdCtlSse *
gvd_ctl_sse_new (void)
{
  GvdCtlSse *sse = g_new0 (GvdCtlSse, 1);

  sse->data = g_string_new (NULL);
  return sse;
}

void
gvd_ctl_sse_free (GvdCtlSse *sse)
{
  if (sse == NULL)
    return;
  g_free (sse->id);
  g_free (sse->event);
  g_string_free (sse->data, TRUE);
  g_free (sse);
}

gboolean
gvd_ctl_sse_feed (GvdCtlSse *sse, const char *line)
{
  const char *colon;
  g_autofree char *field = NULL;
  const char *value;
  gsize len = strlen (line);

  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len == 0)
    {
      /* Dispatch; the event's fields are kept for the caller until the
       * next line resets them. */
      if (sse->has_data)
        {
          sse->has_data = FALSE;
          sse->dispatched = TRUE;
          return TRUE;
        }
      g_clear_pointer (&sse->event, g_free);
      g_string_truncate (sse->data, 0);
      return FALSE;
    }
  if (sse->dispatched)
    {
      sse->dispatched = FALSE;
      /* The first line after a dispatched event starts a new one. */
      g_string_truncate (sse->data, 0);
      g_clear_pointer (&sse->event, g_free);
    }
  if (line[0] == ':')
    return FALSE;
  colon = memchr (line, ':', len);
  field = g_strndup (line, colon != NULL ? (gsize) (colon - line) : len);
  value = colon != NULL ? colon + 1 : line + len;
  if (*value == ' ')
    value++;
  {
    g_autofree char *v = g_strndup (value, len - (value - line));

    if (g_str_equal (field, "data"))
      {
        if (sse->has_data)
          g_string_append_c (sse->data, '\n');
        else
          g_string_truncate (sse->data, 0);
        g_string_append (sse->data, v);
        sse->has_data = TRUE;
      }
    else if (g_str_equal (field, "event"))
      {
        g_free (sse->event);
        sse->event = g_steal_pointer (&v);
      }
    else if (g_str_equal (field, "id"))
      {
        g_free (sse->id);
        sse->id = g_steal_pointer (&v);
      }
  }
  return FALSE;
}
