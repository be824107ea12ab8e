/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl -o yaml: a JSON document as block-style YAML that any YAML
 * parser reads back as the same JSON (pure). */
#include "config.h"

#include "ctl-output.h"

#include <string.h>

/* Whether a plain (unquoted) YAML scalar would read @s as something other
 * than this exact string. */
static gboolean
yaml_needs_quotes (const char *s)
{
  static const char *const special[] = {
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ".inf", "-.inf", "+.inf", ".nan", NULL,
  };
  gsize len = strlen (s);
  g_autofree char *lower = g_ascii_strdown (s, -1);

  if (len == 0 || g_strv_contains (special, lower))
    return TRUE;
  if (strchr ("-?:,[]{}#&*!|>'\"%@` \t", s[0]) != NULL)
    return TRUE;
  if (g_ascii_isdigit (s[0]) || ((s[0] == '+' || s[0] == '.') && len > 1))
    return TRUE; /* numbers, dates, versions like 1.0: keep them strings */
  if (s[len - 1] == ' ' || s[len - 1] == ':' || s[len - 1] == '\t')
    return TRUE;
  if (strstr (s, ": ") != NULL || strstr (s, " #") != NULL || strstr (s, ":\t") != NULL)
    return TRUE;
  for (const char *p = s; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

static void
yaml_string (GString *out, const char *s)
{
  if (yaml_needs_quotes (s))
    {
      /* JSON's string escapes are valid in YAML's double-quoted style. */
      g_autoptr(JsonNode) n = json_node_init_string (json_node_alloc (), s);
      g_autofree char *q = json_to_string (n, FALSE);

      g_string_append (out, q);
    }
  else
    g_string_append (out, s);
}

/* Whether @s reads back exactly from a literal block ("|"): multi-line
 * text without control characters, whose first line does not start with a
 * space (that would need an indentation indicator), and whose last line is
 * not only blanks. */
static gboolean
yaml_block_ok (const char *s)
{
  const char *last = strrchr (s, '\n');

  if (last == NULL || s[0] == ' ' || s[0] == '\n')
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (((guchar) *p < 0x20 && *p != '\n') || *p == 0x7f)
      return FALSE;
  for (const char *p = last + 1; *p != '\0'; p++)
    if (*p != ' ')
      return TRUE;
  return last[1] == '\0';
}

/* A literal block: "|" keeps one final newline, "|-" none, "|+" all. */
static void
yaml_literal (GString *out, const char *s, guint indent)
{
  gsize len = strlen (s);
  g_auto(GStrv) lines = NULL;
  gsize n;

  if (len >= 2 && s[len - 1] == '\n' && s[len - 2] == '\n')
    g_string_append (out, "|+\n");
  else if (s[len - 1] == '\n')
    g_string_append (out, "|\n");
  else
    g_string_append (out, "|-\n");
  lines = g_strsplit (s, "\n", -1);
  n = g_strv_length (lines);
  /* A final newline leaves one empty piece: it is the chomping's business. */
  if (n > 0 && s[len - 1] == '\n')
    n--;
  for (gsize i = 0; i < n; i++)
    {
      if (lines[i][0] != '\0')
        g_string_append_printf (out, "%*s%s", (int) indent, "", lines[i]);
      g_string_append_c (out, '\n');
    }
}

static void
yaml_scalar (GString *out, JsonNode *n)
{
  if (JSON_NODE_HOLDS_NULL (n))
    g_string_append (out, "null");
  else if (json_node_get_value_type (n) == G_TYPE_STRING)
    yaml_string (out, json_node_get_string (n));
  else if (json_node_get_value_type (n) == G_TYPE_BOOLEAN)
    g_string_append (out, json_node_get_boolean (n) ? "true" : "false");
  else
    {
      g_autofree char *t = json_to_string (n, FALSE);
      g_string_append (out, t);
    }
}

static gboolean
empty_collection (JsonNode *n, const char **out_text)
{
  if (JSON_NODE_HOLDS_OBJECT (n) && json_object_get_size (json_node_get_object (n)) == 0)
    *out_text = "{}";
  else if (JSON_NODE_HOLDS_ARRAY (n) && json_array_get_length (json_node_get_array (n)) == 0)
    *out_text = "[]";
  else
    return FALSE;
  return TRUE;
}

static void yaml_block (GString *out, JsonNode *n, guint indent);

/* The value after "key:" or "- ": inline when scalar or empty. */
static void
yaml_value (GString *out, JsonNode *n, guint indent)
{
  const char *empty = NULL;

  if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
      && yaml_block_ok (json_node_get_string (n)))
    {
      g_string_append_c (out, ' ');
      yaml_literal (out, json_node_get_string (n), indent + 2);
    }
  else if (JSON_NODE_HOLDS_VALUE (n) || JSON_NODE_HOLDS_NULL (n))
    {
      g_string_append_c (out, ' ');
      yaml_scalar (out, n);
      g_string_append_c (out, '\n');
    }
  else if (empty_collection (n, &empty))
    g_string_append_printf (out, " %s\n", empty);
  else
    {
      g_string_append_c (out, '\n');
      yaml_block (out, n, indent + 2);
    }
}

static void
yaml_block (GString *out, JsonNode *n, guint indent)
{
  if (JSON_NODE_HOLDS_OBJECT (n))
    {
      JsonObject *o = json_node_get_object (n);
      g_autoptr(GList) members = json_object_get_members (o);

      for (GList *l = members; l != NULL; l = l->next)
        {
          g_string_append_printf (out, "%*s", (int) indent, "");
          yaml_string (out, l->data);
          g_string_append_c (out, ':');
          yaml_value (out, json_object_get_member (o, l->data), indent);
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (n))
    {
      JsonArray *a = json_node_get_array (n);

      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          JsonNode *e = json_array_get_element (a, i);
          const char *empty = NULL;

          if (JSON_NODE_HOLDS_OBJECT (e) && !empty_collection (e, &empty))
            {
              /* "- first: x" then the other members under it. */
              g_autoptr(GString) sub = g_string_new (NULL);

              yaml_block (sub, e, indent + 2);
              g_string_append_printf (out, "%*s- ", (int) indent, "");
              g_string_append (out, sub->str + indent + 2);
            }
          else
            {
              g_string_append_printf (out, "%*s-", (int) indent, "");
              yaml_value (out, e, indent);
            }
        }
    }
}

char *
gvd_ctl_render_yaml (JsonNode *node)
{
  g_autoptr(GString) out = g_string_new (NULL);
  const char *empty = NULL;

  if (node == NULL || JSON_NODE_HOLDS_VALUE (node) || JSON_NODE_HOLDS_NULL (node))
    {
      if (node == NULL)
        g_string_append (out, "null");
      else
        yaml_scalar (out, node);
      g_string_append_c (out, '\n');
    }
  else if (empty_collection (node, &empty))
    g_string_append_printf (out, "%s\n", empty);
  else
    yaml_block (out, node, 0);
  return g_string_free (g_steal_pointer (&out), FALSE);
}
