/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Serial console text: tails, UTF-8 repair, server-sent events. */
#include "config.h"

#include "console-text.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* Valid UTF-8 without NUL bytes (a C string holds all of it): invalid
 * sequences and NULs become U+FFFD. */
static char *
make_text (const char *data, gsize len)
{
  g_autoptr(GString) s = g_string_sized_new (len);

  for (gsize i = 0; i < len; i++)
    {
      if (data[i] == '\0')
        g_string_append (s, "\xef\xbf\xbd");
      else
        g_string_append_c (s, data[i]);
    }
  return g_utf8_make_valid (s->str, (gssize) s->len);
}

char *
gvd_console_log_path (const char *log_dir, const char *domain_name)
{
  g_autofree char *file = NULL;

  g_return_val_if_fail (log_dir != NULL && domain_name != NULL, NULL);
  file = g_strconcat (domain_name, "-console.log", NULL);
  return g_build_filename (log_dir, file, NULL);
}

char *
gvd_console_text_tail (const char *data, gsize len, guint lines)
{
  gsize start = len;
  guint seen = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (lines == 0 || len == 0)
    return g_strdup ("");
  /* A final newline ends the last line; it does not start another. */
  if (data[len - 1] == '\n')
    start--;
  while (start > 0)
    {
      if (data[start - 1] == '\n' && ++seen == lines)
        break;
      start--;
    }
  return make_text (data + start, len - start);
}

char *
gvd_console_text_sse (const char *data, gsize len, gboolean rotated)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = make_text (data != NULL ? data : "", data != NULL ? len : 0);
  g_autofree char *json = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text);
  if (rotated)
    {
      json_builder_set_member_name (b, "rotated");
      json_builder_add_boolean_value (b, TRUE);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  /* One line: the generator escapes every newline inside the text. */
  json = json_generator_to_data (gen, NULL);
  return g_strdup_printf ("event: console\ndata: %s\n\n", json);
}
