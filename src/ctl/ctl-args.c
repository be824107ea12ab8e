/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Command-line parsing for gpuvmctl: options anywhere between the words,
 * as virsh and incus take them (pure). */
#include "config.h"

#include "ctl-args.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <string.h>

#include "ctl-error.h"

static void
values_free (gpointer p)
{
  g_ptr_array_unref (p);
}

GvdCtlArgs *
gvd_ctl_args_new (void)
{
  GvdCtlArgs *args = g_new0 (GvdCtlArgs, 1);

  args->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, values_free);
  args->positional = g_ptr_array_new_with_free_func (g_free);
  return args;
}

void
gvd_ctl_args_free (GvdCtlArgs *args)
{
  if (args == NULL)
    return;
  g_hash_table_unref (args->values);
  g_ptr_array_unref (args->positional);
  g_free (args);
}

static const GvdCtlOption *
find_long (const GvdCtlOption *const *tables, const char *name, gsize len)
{
  for (gsize t = 0; tables[t] != NULL; t++)
    for (const GvdCtlOption *o = tables[t]; o->long_name != NULL; o++)
      if (strlen (o->long_name) == len && strncmp (o->long_name, name, len) == 0)
        return o;
  return NULL;
}

static const GvdCtlOption *
find_short (const GvdCtlOption *const *tables, char c)
{
  for (gsize t = 0; tables[t] != NULL; t++)
    for (const GvdCtlOption *o = tables[t]; o->long_name != NULL; o++)
      if (o->short_name != 0 && o->short_name == c)
        return o;
  return NULL;
}

static gboolean
add_value (GvdCtlArgs *args, const GvdCtlOption *o, const char *value, GError **error)
{
  GPtrArray *values = g_hash_table_lookup (args->values, o->long_name);

  if (values == NULL)
    {
      /* NULL-terminated, so get_all can hand out the array itself. */
      values = g_ptr_array_new_null_terminated (1, g_free, TRUE);
      g_hash_table_insert (args->values, g_strdup (o->long_name), values);
    }
  else if (!o->repeat)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("option --%s given twice"),
                   o->long_name);
      return FALSE;
    }
  g_ptr_array_add (values, g_strdup (value));
  return TRUE;
}

gboolean
gvd_ctl_args_parse (GvdCtlArgs *args, const GvdCtlOption *const *tables, int argc, char **argv,
                    gboolean stop_at_positional, int *out_consumed, GError **error)
{
  int i = 0;

  for (; i < argc; i++)
    {
      const char *a = argv[i];
      const GvdCtlOption *o = NULL;
      const char *value = NULL;

      if (g_str_equal (a, "--"))
        {
          if (stop_at_positional)
            {
              i++;
              break;
            }
          for (i++; i < argc; i++)
            g_ptr_array_add (args->positional, g_strdup (argv[i]));
          break;
        }
      if (a[0] != '-' || a[1] == '\0')
        {
          if (stop_at_positional)
            break;
          g_ptr_array_add (args->positional, g_strdup (a));
          continue;
        }
      if (a[1] == '-')
        {
          const char *eq = strchr (a + 2, '=');

          o = find_long (tables, a + 2, eq != NULL ? (gsize) (eq - a - 2) : strlen (a + 2));
          if (o == NULL)
            {
              g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("unknown option '%.*s'"),
                           eq != NULL ? (int) (eq - a) : (int) strlen (a), a);
              return FALSE;
            }
          if (eq != NULL && !o->has_value)
            {
              g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                           _("option --%s takes no value"), o->long_name);
              return FALSE;
            }
          value = eq != NULL ? eq + 1 : NULL;
        }
      else
        {
          o = find_short (tables, a[1]);
          if (o == NULL)
            {
              g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("unknown option '-%c'"),
                           a[1]);
              return FALSE;
            }
          if (a[2] != '\0')
            {
              if (!o->has_value)
                {
                  g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                               _("option -%c takes no value"), a[1]);
                  return FALSE;
                }
              value = a + 2;
            }
        }
      if (o->has_value && value == NULL)
        {
          if (i + 1 >= argc)
            {
              g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                           _("option --%s needs a value"), o->long_name);
              return FALSE;
            }
          value = argv[++i];
        }
      if (!add_value (args, o, o->has_value ? value : "", error))
        return FALSE;
    }
  if (out_consumed != NULL)
    *out_consumed = i;
  return TRUE;
}

gboolean
gvd_ctl_args_has (const GvdCtlArgs *args, const char *name)
{
  return g_hash_table_contains (args->values, name);
}

const char *
gvd_ctl_args_get (const GvdCtlArgs *args, const char *name)
{
  GPtrArray *values = g_hash_table_lookup (args->values, name);

  return values != NULL && values->len > 0 ? g_ptr_array_index (values, values->len - 1) : NULL;
}

const char *const *
gvd_ctl_args_get_all (const GvdCtlArgs *args, const char *name)
{
  static const char *const none[] = { NULL };
  GPtrArray *values = g_hash_table_lookup (args->values, name);

  return values != NULL ? (const char *const *) values->pdata : none;
}

gboolean
gvd_ctl_parse_uint (const char *text, const char *what, guint64 min, guint64 max,
                    guint64 *out_value, GError **error)
{
  guint64 v = 0;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, min, max, &v, NULL))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("%s must be a whole number from %" PRIu64 " to %" PRIu64 " (got '%s')"),
                   what, min, max, text != NULL ? text : "");
      return FALSE;
    }
  *out_value = v;
  return TRUE;
}

/* "4G" → 4 and its unit's shift relative to MiB (M 0, G 10, T 20);
 * @default_shift applies to a bare number. */
static gboolean
parse_size (const char *text, const char *what, int default_shift, int min_shift,
            guint64 *out_value, GError **error)
{
  g_autofree char *digits = NULL;
  const char *end = text;
  guint64 n = 0;
  int shift = default_shift;

  while (text != NULL && g_ascii_isdigit (*end))
    end++;
  if (text != NULL && end != text)
    {
      digits = g_strndup (text, end - text);
      if (*end == '\0')
        shift = default_shift;
      else if (g_ascii_strcasecmp (end, "M") == 0 || g_ascii_strcasecmp (end, "MiB") == 0
               || g_ascii_strcasecmp (end, "Mi") == 0)
        shift = 0;
      else if (g_ascii_strcasecmp (end, "G") == 0 || g_ascii_strcasecmp (end, "GiB") == 0
               || g_ascii_strcasecmp (end, "Gi") == 0)
        shift = 10;
      else if (g_ascii_strcasecmp (end, "T") == 0 || g_ascii_strcasecmp (end, "TiB") == 0
               || g_ascii_strcasecmp (end, "Ti") == 0)
        shift = 20;
      else
        shift = -1;
    }
  if (digits == NULL || shift < min_shift
      || !g_ascii_string_to_unsigned (digits, 10, 1, G_MAXUINT32, &n, NULL))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("%s must be a size such as 4096, 512M, 4G or 1T (got '%s')"), what,
                   text != NULL ? text : "");
      return FALSE;
    }
  *out_value = n << (shift - min_shift);
  return TRUE;
}

gboolean
gvd_ctl_parse_size_mib (const char *text, const char *what, guint64 *out_mib, GError **error)
{
  return parse_size (text, what, 0, 0, out_mib, error);
}

gboolean
gvd_ctl_parse_size_gib (const char *text, const char *what, guint64 *out_gib, GError **error)
{
  return parse_size (text, what, 10, 10, out_gib, error);
}

gboolean
gvd_ctl_parse_label (const char *text, char **out_key, char **out_value, GError **error)
{
  const char *eq = text != NULL ? strchr (text, '=') : NULL;

  if (eq == NULL || eq == text)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("a label is KEY=VALUE (got '%s')"), text != NULL ? text : "");
      return FALSE;
    }
  *out_key = g_strndup (text, eq - text);
  *out_value = g_strdup (eq + 1);
  return TRUE;
}
