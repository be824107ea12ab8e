/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small JSON helpers: JsonBuilder shortcuts and the pre-parse nesting check. */
#include "config.h"

#include "json-util.h"

#include <string.h>

#include "errors.h"

void
gvd_json_add_string (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

gboolean
gvd_json_check_depth (const char *data, gsize len, guint max_depth, GError **error)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++; /* the escaped character, whatever it is, cannot end the string */
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '[':
        case '{':
          if (++depth > max_depth)
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_JSON,
                           "the request body nests arrays and objects more than %u levels deep "
                           "(at byte %" G_GSIZE_FORMAT ")",
                           max_depth, i);
              return FALSE;
            }
          break;
        case ']':
        case '}':
          if (depth == 0)
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_JSON,
                           "the request body is not valid JSON: unbalanced '%c' at byte %"
                           G_GSIZE_FORMAT, c, i);
              return FALSE;
            }
          depth--;
          break;
        default:
          break;
        }
    }
  return TRUE;
}

gboolean
gvd_json_check_no_nul (const char *data, gsize len, GError **error)
{
  gboolean in_string = FALSE;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  for (gsize i = 0; i < len; i++)
    {
      if (!in_string)
        {
          in_string = data[i] == '"';
          continue;
        }
      if (data[i] == '"')
        in_string = FALSE;
      else if (data[i] == '\\')
        {
          if (len - i > 5 && memcmp (data + i + 1, "u0000", 5) == 0)
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_JSON,
                           "the request body holds a \\u0000 escape (at byte %" G_GSIZE_FORMAT
                           "): strings cannot contain NUL",
                           i);
              return FALSE;
            }
          i++; /* the escaped character cannot end the string */
        }
    }
  return TRUE;
}
