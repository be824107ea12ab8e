/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tables and trees through libsmartcols, JSON, YAML and name lists for
 * gpuvmctl (pure: JSON nodes in, text out). */
#include "config.h"

#include "ctl-output.h"

#include <glib/gi18n.h>
#include <libsmartcols.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-error.h"

gboolean
gvd_ctl_format_parse (const char *text, GvdCtlFormat *out_format, GError **error)
{
  static const struct {
    const char *name;
    GvdCtlFormat format;
  } formats[] = {
    { "table", GVD_CTL_FORMAT_TABLE },
    { "json", GVD_CTL_FORMAT_JSON },
    { "yaml", GVD_CTL_FORMAT_YAML },
    { "name", GVD_CTL_FORMAT_NAME },
  };

  for (gsize i = 0; text != NULL && i < G_N_ELEMENTS (formats); i++)
    if (g_str_equal (text, formats[i].name))
      {
        *out_format = formats[i].format;
        return TRUE;
      }
  g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
               _("unknown output format '%s' (table, json, yaml or name)"),
               text != NULL ? text : "");
  return FALSE;
}

/* ---- cells ----------------------------------------------------------------- */

static JsonNode *
one_path (JsonNode *node, const char *path, gsize len)
{
  g_autofree char *copy = g_strndup (path, len);
  g_auto(GStrv) parts = g_strsplit (copy, ".", -1);

  for (gsize i = 0; parts[i] != NULL; i++)
    {
      if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
        return NULL;
      node = json_object_get_member (json_node_get_object (node), parts[i]);
    }
  return node;
}

JsonNode *
gvd_ctl_json_path (JsonNode *node, const char *path)
{
  const char *p = path;

  while (TRUE)
    {
      const char *bar = strchr (p, '|');
      JsonNode *n = one_path (node, p, bar != NULL ? (gsize) (bar - p) : strlen (p));

      if (n != NULL && !JSON_NODE_HOLDS_NULL (n))
        return n;
      if (bar == NULL)
        return n;
      p = bar + 1;
    }
}

char *
gvd_ctl_format_bytes (guint64 bytes)
{
  g_autofree char *text = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_autoptr(GString) s = g_string_new (text);

  /* GLib puts a no-break space before the unit; tables (and scripts
   * reading them) want a plain one. */
  g_string_replace (s, "\xc2\xa0", " ", 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static char *
scalar_text (JsonNode *n)
{
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return g_strdup ("-");
  if (!JSON_NODE_HOLDS_VALUE (n))
    return json_to_string (n, FALSE);
  switch (json_node_get_value_type (n))
    {
    case G_TYPE_STRING:
      return g_strdup (json_node_get_string (n));
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (n) ? _("yes") : _("no"));
    default:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup (g_ascii_formatd (buf, sizeof buf, "%g", json_node_get_double (n)));
      }
    }
}

static gboolean
number_of (JsonNode *n, guint64 *out)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  if (json_node_get_value_type (n) == G_TYPE_INT64 && json_node_get_int (n) >= 0)
    *out = (guint64) json_node_get_int (n);
  else if (json_node_get_value_type (n) == G_TYPE_DOUBLE && json_node_get_double (n) >= 0)
    *out = (guint64) json_node_get_double (n);
  else
    return FALSE;
  return TRUE;
}

char *
gvd_ctl_cell_text (JsonNode *row, const char *path, GvdCtlCell cell)
{
  JsonNode *n = gvd_ctl_json_path (row, path);
  guint64 v = 0;

  switch (cell)
    {
    case GVD_CTL_CELL_BYTES:
      return number_of (n, &v) ? gvd_ctl_format_bytes (v) : scalar_text (n);
    case GVD_CTL_CELL_MIB:
      return number_of (n, &v) && v < G_MAXUINT64 / (1024 * 1024)
               ? gvd_ctl_format_bytes (v * 1024 * 1024) : scalar_text (n);
    case GVD_CTL_CELL_COUNT:
      if (n != NULL && JSON_NODE_HOLDS_ARRAY (n))
        return g_strdup_printf ("%u", json_array_get_length (json_node_get_array (n)));
      return scalar_text (n);
    case GVD_CTL_CELL_LIST:
      if (n != NULL && JSON_NODE_HOLDS_ARRAY (n))
        {
          JsonArray *a = json_node_get_array (n);
          g_autoptr(GString) s = g_string_new (NULL);

          for (guint i = 0; i < json_array_get_length (a); i++)
            {
              g_autofree char *t = scalar_text (json_array_get_element (a, i));
              g_string_append_printf (s, "%s%s", i > 0 ? "," : "", t);
            }
          return s->len > 0 ? g_string_free (g_steal_pointer (&s), FALSE) : g_strdup ("-");
        }
      return scalar_text (n);
    case GVD_CTL_CELL_TEXT:
    default:
      return scalar_text (n);
    }
}

/* ---- tables and trees ------------------------------------------------------ */

static struct libscols_table *
new_table (const GvdCtlColumn *columns, guint n_columns, gboolean tree, gboolean tty)
{
  struct libscols_table *tb = scols_new_table ();

  scols_table_set_termforce (tb, tty ? SCOLS_TERMFORCE_ALWAYS : SCOLS_TERMFORCE_NEVER);
  for (guint i = 0; i < n_columns; i++)
    {
      int flags = columns[i].right ? SCOLS_FL_RIGHT : 0;

      if (tree && i == 0)
        flags |= SCOLS_FL_TREE;
      /* On a terminal the last column gives way first (long details). */
      if (tty && i == n_columns - 1 && !columns[i].right)
        flags |= SCOLS_FL_TRUNC;
      scols_table_new_column (tb, columns[i].header, 0, flags);
    }
  return tb;
}

static void
fill_line (struct libscols_line *ln, const GvdCtlColumn *columns, guint n_columns, JsonNode *row)
{
  for (guint i = 0; i < n_columns; i++)
    {
      g_autofree char *text = gvd_ctl_cell_text (row, columns[i].path, columns[i].cell);
      scols_line_set_data (ln, i, text);
    }
}

static char *
table_to_string (struct libscols_table *tb)
{
  char *data = NULL;
  g_autoptr(GString) s = NULL;

  if (scols_print_table_to_string (tb, &data) != 0 || data == NULL)
    {
      scols_unref_table (tb);
      return g_strdup ("");
    }
  scols_unref_table (tb);
  s = g_string_new (data);
  free (data);
  if (s->len > 0 && s->str[s->len - 1] != '\n')
    g_string_append_c (s, '\n');
  return g_string_free (g_steal_pointer (&s), FALSE);
}

char *
gvd_ctl_render_table (const GvdCtlColumn *columns, guint n_columns, JsonArray *rows,
                      gboolean tty)
{
  struct libscols_table *tb = new_table (columns, n_columns, FALSE, tty);

  for (guint i = 0; rows != NULL && i < json_array_get_length (rows); i++)
    fill_line (scols_table_new_line (tb, NULL), columns, n_columns,
               json_array_get_element (rows, i));
  return table_to_string (tb);
}

typedef struct {
  char *key;      /* the group's value as text */
  gboolean numeric;
  gint64 number;
  GPtrArray *rows; /* JsonNode *, borrowed */
} Group;

static void
group_free (gpointer p)
{
  Group *g = p;

  g_free (g->key);
  g_ptr_array_unref (g->rows);
  g_free (g);
}

static int
group_cmp (gconstpointer a, gconstpointer b)
{
  const Group *ga = *(Group *const *) a;
  const Group *gb = *(Group *const *) b;

  if (ga->numeric != gb->numeric)
    return ga->numeric ? -1 : 1;
  if (ga->numeric)
    return ga->number < gb->number ? -1 : ga->number > gb->number;
  return strcmp (ga->key, gb->key);
}

char *
gvd_ctl_render_tree (const GvdCtlColumn *columns, guint n_columns, JsonArray *rows,
                     const char *group_path, const char *group_label,
                     const char *children_member, gboolean tty)
{
  struct libscols_table *tb = new_table (columns, n_columns, TRUE, tty);
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func (group_free);

  for (guint i = 0; rows != NULL && i < json_array_get_length (rows); i++)
    {
      JsonNode *row = json_array_get_element (rows, i);
      JsonNode *gn = gvd_ctl_json_path (row, group_path);
      g_autofree char *key = gvd_ctl_cell_text (row, group_path, GVD_CTL_CELL_TEXT);
      Group *g = NULL;

      for (guint j = 0; j < groups->len && g == NULL; j++)
        if (g_str_equal (((Group *) groups->pdata[j])->key, key))
          g = groups->pdata[j];
      if (g == NULL)
        {
          g = g_new0 (Group, 1);
          g->key = g_strdup (key);
          g->numeric = gn != NULL && JSON_NODE_HOLDS_VALUE (gn)
                       && json_node_get_value_type (gn) == G_TYPE_INT64;
          g->number = g->numeric ? json_node_get_int (gn) : 0;
          g->rows = g_ptr_array_new ();
          g_ptr_array_add (groups, g);
        }
      g_ptr_array_add (g->rows, row);
    }
  g_ptr_array_sort (groups, group_cmp);

  for (guint i = 0; i < groups->len; i++)
    {
      Group *g = groups->pdata[i];
      struct libscols_line *parent = scols_table_new_line (tb, NULL);
      g_autofree char *label = g_strdup_printf ("%s %s", group_label, g->key);

      scols_line_set_data (parent, 0, label);
      for (guint j = 0; j < g->rows->len; j++)
        {
          JsonNode *row = g->rows->pdata[j];
          struct libscols_line *ln = scols_table_new_line (tb, parent);
          JsonNode *kids = children_member != NULL ? gvd_ctl_json_path (row, children_member) : NULL;

          fill_line (ln, columns, n_columns, row);
          if (kids != NULL && JSON_NODE_HOLDS_ARRAY (kids))
            {
              JsonArray *a = json_node_get_array (kids);

              for (guint k = 0; k < json_array_get_length (a); k++)
                fill_line (scols_table_new_line (tb, ln), columns, n_columns,
                           json_array_get_element (a, k));
            }
        }
    }
  return table_to_string (tb);
}

/* ---- JSON and names (YAML: ctl-yaml.c) ----------------------------------- */

char *
gvd_ctl_render_json (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  return g_strconcat (text, "\n", NULL);
}

char *
gvd_ctl_render_names (JsonArray *rows, const char *path)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; rows != NULL && i < json_array_get_length (rows); i++)
    {
      JsonNode *n = gvd_ctl_json_path (json_array_get_element (rows, i), path);

      if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
        g_string_append_printf (out, "%s\n", json_node_get_string (n));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
gvd_ctl_console_sanitize (const char *text)
{
  g_autoptr(GString) out = g_string_sized_new (strlen (text));
  const guchar *p = (const guchar *) text;

  while (*p != '\0')
    {
      if (*p == 0x1b)
        {
          p++;
          if (*p == '[')
            {
              /* CSI: parameters and intermediates, then one final byte. */
              for (p++; *p != '\0' && !(*p >= 0x40 && *p <= 0x7e); p++)
                ;
              if (*p != '\0')
                p++;
            }
          else if (*p == ']' || *p == 'P' || *p == '_' || *p == '^' || *p == 'X')
            {
              /* OSC, DCS, APC, PM, SOS: up to BEL or ST (ESC \\). */
              for (p++; *p != '\0' && *p != 0x07 && !(p[0] == 0x1b && p[1] == '\\'); p++)
                ;
              if (*p == 0x07)
                p++;
              else if (*p == 0x1b)
                p += 2;
            }
          else if (*p != '\0')
            p++;
          continue;
        }
      if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
        {
          p++;
          continue;
        }
      if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
        {
          p += 2; /* a C1 control (U+0080..U+009F), CSI among them */
          continue;
        }
      g_string_append_c (out, (char) *p);
      p++;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}
