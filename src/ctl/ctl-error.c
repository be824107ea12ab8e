/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* API error bodies → exit codes and messages for gpuvmctl (pure). */
#include "config.h"

#include "ctl-error.h"

#include <json-glib/json-glib.h>
#include <glib/gi18n.h>
#include <string.h>

G_DEFINE_QUARK (gvd-ctl-error-quark, gvd_ctl_error)

/* Codes that mean "no such thing" / "clashes with what exists", whatever the
 * status a proxy might have rewritten. */
static const char *const not_found_codes[] = {
  "not_found", "image_not_found", "device_not_found", NULL,
};
static const char *const conflict_codes[] = {
  "already_exists", "conflict", "invalid_state", "device_in_use", "device_busy",
  "device_quarantined", "insufficient_gpus", NULL,
};

GvdCtlExit
gvd_ctl_exit_for_api (guint status, const char *code)
{
  if (code != NULL && g_strv_contains (not_found_codes, code))
    return GVD_CTL_EXIT_NOT_FOUND;
  if (code != NULL && g_strv_contains (conflict_codes, code))
    return GVD_CTL_EXIT_CONFLICT;
  if (status == 404)
    return GVD_CTL_EXIT_NOT_FOUND;
  if (status == 409)
    return GVD_CTL_EXIT_CONFLICT;
  return GVD_CTL_EXIT_API;
}

static const char *
member_string (JsonObject *obj, const char *member)
{
  JsonNode *n = obj != NULL ? json_object_get_member (obj, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

GError *
gvd_ctl_error_from_api (guint status, const char *reason, const char *body, gsize len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *err = NULL;
  const char *code = NULL;
  const char *message = NULL;
  g_autoptr(GString) text = NULL;

  if (body != NULL && len > 0 && json_parser_load_from_data (parser, body, (gssize) len, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      JsonObject *root = json_node_get_object (json_parser_get_root (parser));
      JsonNode *e = json_object_get_member (root, "error");

      if (e != NULL && JSON_NODE_HOLDS_OBJECT (e))
        err = json_node_get_object (e);
    }
  code = member_string (err, "code");
  message = member_string (err, "message");
  if (code == NULL || message == NULL)
    return g_error_new (GVD_CTL_ERROR, gvd_ctl_exit_for_api (status, NULL), _("HTTP %u %s"), status,
                        reason != NULL ? reason : "");

  text = g_string_new (NULL);
  g_string_append_printf (text, "%s (%s)", message, code);
  {
    JsonNode *details = json_object_get_member (err, "details");

    if (details != NULL && JSON_NODE_HOLDS_ARRAY (details))
      {
        JsonArray *a = json_node_get_array (details);

        for (guint i = 0; i < json_array_get_length (a); i++)
          {
            JsonNode *d = json_array_get_element (a, i);
            const char *m = JSON_NODE_HOLDS_OBJECT (d)
                              ? member_string (json_node_get_object (d), "message") : NULL;

            if (m != NULL)
              g_string_append_printf (text, "\n  - %s", m);
          }
      }
  }
  return g_error_new_literal (GVD_CTL_ERROR, gvd_ctl_exit_for_api (status, code), text->str);
}

GvdCtlExit
gvd_ctl_exit_for_error (const GError *error)
{
  if (error == NULL)
    return GVD_CTL_EXIT_OK;
  if (error->domain == GVD_CTL_ERROR && error->code >= GVD_CTL_EXIT_API
      && error->code <= GVD_CTL_EXIT_CONFLICT)
    return error->code;
  return GVD_CTL_EXIT_API;
}
