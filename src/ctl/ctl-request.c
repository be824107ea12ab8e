/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Options → request bodies for create, plan and reservations (pure). */
#include "config.h"

#include "ctl-request.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ctl-error.h"

/* The API's own limits, checked here too so a typo fails before a request. */
#define MAX_GPUS 64
#define MAX_VCPUS 256
#define MAX_TTL 86400

char **
gvd_ctl_parse_ssh_keys (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);
  g_autoptr(GStrvBuilder) keys = g_strv_builder_new ();

  for (gsize i = 0; lines[i] != NULL; i++)
    {
      char *l = g_strstrip (lines[i]);

      if (l[0] != '\0' && l[0] != '#')
        g_strv_builder_add (keys, l);
    }
  return g_strv_builder_end (keys);
}

JsonNode *
gvd_ctl_parse_cloud_config (const char *path, const char *text, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local = NULL;

  if (g_str_has_prefix (text, "#cloud-config"))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("%s: --cloud-config takes a JSON object (the API's cloud_config); convert "
                     "YAML first, e.g. with: python3 -c 'import json,sys,yaml; "
                     "print(json.dumps(yaml.safe_load(sys.stdin)))' < FILE"),
                   path);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, -1, &local)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("%s: --cloud-config takes a JSON object: %s"), path,
                   local != NULL ? local->message : _("not an object"));
      return NULL;
    }
  return json_node_copy (json_parser_get_root (parser));
}

gboolean
gvd_ctl_is_url (const char *source)
{
  const char *p = source;

  if (source == NULL || !g_ascii_isalpha (*p))
    return FALSE;
  while (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.')
    p++;
  return g_str_has_prefix (p, "://");
}

static gboolean
add_uint (JsonBuilder *b, const GvdCtlArgs *args, const char *option, const char *member,
          guint64 min, guint64 max, GError **error)
{
  const char *v = gvd_ctl_args_get (args, option);
  guint64 n = 0;
  g_autofree char *what = g_strdup_printf ("--%s", option);

  if (v == NULL)
    return TRUE;
  if (!gvd_ctl_parse_uint (v, what, min, max, &n, error))
    return FALSE;
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, (gint64) n);
  return TRUE;
}

static void
add_string (JsonBuilder *b, const GvdCtlArgs *args, const char *option, const char *member)
{
  const char *v = gvd_ctl_args_get (args, option);

  if (v == NULL)
    return;
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, v);
}

static gboolean
add_devices (JsonBuilder *b, const GvdCtlArgs *args, gboolean required, GError **error)
{
  const char *const *devices = gvd_ctl_args_get_all (args, "device");
  gboolean gpus = gvd_ctl_args_has (args, "gpus");

  if (devices[0] != NULL && gpus)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("give either --gpus or --device, not both"));
      return FALSE;
    }
  if (required && devices[0] == NULL && !gpus)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("give --gpus N or --device D"));
      return FALSE;
    }
  if ((gvd_ctl_args_has (args, "model") || gvd_ctl_args_has (args, "vendor")) && !gpus)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("--model and --vendor filter --gpus; give --gpus N"));
      return FALSE;
    }
  if (devices[0] != NULL)
    {
      json_builder_set_member_name (b, "devices");
      json_builder_begin_array (b);
      for (gsize i = 0; devices[i] != NULL; i++)
        json_builder_add_string_value (b, devices[i]);
      json_builder_end_array (b);
    }
  return add_uint (b, args, "gpus", "gpus", 1, MAX_GPUS, error);
}

static gboolean
add_guest_files (JsonBuilder *b, const GvdCtlArgs *args, GvdCtlReadFile read_file,
                 GError **error)
{
  const char *const *key_files = gvd_ctl_args_get_all (args, "ssh-key");
  const char *cc = gvd_ctl_args_get (args, "cloud-config");

  if (key_files[0] != NULL)
    {
      json_builder_set_member_name (b, "ssh_keys");
      json_builder_begin_array (b);
      for (gsize i = 0; key_files[i] != NULL; i++)
        {
          g_autofree char *text = read_file (key_files[i], error);
          g_auto(GStrv) keys = NULL;

          if (text == NULL)
            return FALSE;
          keys = gvd_ctl_parse_ssh_keys (text);
          if (keys[0] == NULL)
            {
              g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                           _("%s: no SSH public key in this file"), key_files[i]);
              return FALSE;
            }
          for (gsize k = 0; keys[k] != NULL; k++)
            json_builder_add_string_value (b, keys[k]);
        }
      json_builder_end_array (b);
    }
  if (cc != NULL)
    {
      g_autofree char *text = read_file (cc, error);
      JsonNode *node;

      if (text == NULL || (node = gvd_ctl_parse_cloud_config (cc, text, error)) == NULL)
        return FALSE;
      json_builder_set_member_name (b, "cloud_config");
      json_builder_add_value (b, node);
    }
  return TRUE;
}

static gboolean
add_labels (JsonBuilder *b, const GvdCtlArgs *args, GError **error)
{
  const char *const *labels = gvd_ctl_args_get_all (args, "label");

  if (labels[0] == NULL)
    return TRUE;
  json_builder_set_member_name (b, "labels");
  json_builder_begin_object (b);
  for (gsize i = 0; labels[i] != NULL; i++)
    {
      g_autofree char *k = NULL;
      g_autofree char *v = NULL;

      if (!gvd_ctl_parse_label (labels[i], &k, &v, error))
        return FALSE;
      json_builder_set_member_name (b, k);
      json_builder_add_string_value (b, v);
    }
  json_builder_end_object (b);
  return TRUE;
}

JsonNode *
gvd_ctl_create_body (const char *name, const GvdCtlArgs *args, GvdCtlReadFile read_file,
                     GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const char *v;

  if (gvd_ctl_args_get (args, "image") == NULL)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("create needs --image IMAGE"));
      return NULL;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  add_string (b, args, "image", "image");
  if (gvd_ctl_args_has (args, "reservation")
      && (gvd_ctl_args_has (args, "gpus") || gvd_ctl_args_has (args, "device")))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("--reservation brings its own devices: drop --gpus/--device"));
      return NULL;
    }
  add_string (b, args, "reservation", "reservation");
  if (!add_devices (b, args, FALSE, error))
    return NULL;
  add_string (b, args, "model", "gpu_model");
  add_string (b, args, "vendor", "gpu_vendor");
  if (!add_uint (b, args, "vcpus", "vcpus", 1, MAX_VCPUS, error))
    return NULL;
  if ((v = gvd_ctl_args_get (args, "memory")) != NULL)
    {
      guint64 mib = 0;

      if (!gvd_ctl_parse_size_mib (v, "--memory", &mib, error))
        return NULL;
      json_builder_set_member_name (b, "memory_mib");
      json_builder_add_int_value (b, (gint64) mib);
    }
  if ((v = gvd_ctl_args_get (args, "disk")) != NULL)
    {
      guint64 gib = 0;

      if (!gvd_ctl_parse_size_gib (v, "--disk", &gib, error))
        return NULL;
      json_builder_set_member_name (b, "root_disk_gib");
      json_builder_add_int_value (b, (gint64) gib);
    }
  add_string (b, args, "user", "user");
  if (!add_guest_files (b, args, read_file, error) || !add_labels (b, args, error))
    return NULL;
  if (gvd_ctl_args_has (args, "no-start"))
    {
      json_builder_set_member_name (b, "start");
      json_builder_add_boolean_value (b, FALSE);
    }
  if (gvd_ctl_args_has (args, "autostart"))
    {
      json_builder_set_member_name (b, "autostart");
      json_builder_add_boolean_value (b, TRUE);
    }
  if (gvd_ctl_args_has (args, "dedicated-cpus"))
    {
      json_builder_set_member_name (b, "cpu");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "policy");
      json_builder_add_string_value (b, "dedicated");
      json_builder_end_object (b);
    }
  if (gvd_ctl_args_has (args, "vnc"))
    {
      json_builder_set_member_name (b, "console");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "vnc");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_end_object (b);
    }
  if (gvd_ctl_args_get_all (args, "port")[0] != NULL)
    {
      const char *const *ports = gvd_ctl_args_get_all (args, "port");

      /* --port 22: forward the guest's port 22 to a host port gpuvmd picks. */
      json_builder_set_member_name (b, "ports");
      json_builder_begin_array (b);
      for (gsize i = 0; ports[i] != NULL; i++)
        {
          guint64 n = 0;

          if (!gvd_ctl_parse_uint (ports[i], "--port", 1, 65535, &n, error))
            return NULL;
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "guest");
          json_builder_add_int_value (b, (gint64) n);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  if (gvd_ctl_args_has (args, "dry-run"))
    {
      json_builder_set_member_name (b, "dry_run");
      json_builder_add_boolean_value (b, TRUE);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
gvd_ctl_plan_body (const GvdCtlArgs *args, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  if (!add_devices (b, args, TRUE, error))
    return NULL;
  add_string (b, args, "model", "model");
  add_string (b, args, "vendor", "vendor");
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
gvd_ctl_reservation_body (const GvdCtlArgs *args, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  if (gvd_ctl_args_has (args, "model") || gvd_ctl_args_has (args, "vendor"))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("reservations take --gpus N or --device D (no filters)"));
      return NULL;
    }
  if (!add_devices (b, args, TRUE, error)
      || !add_uint (b, args, "ttl", "ttl_seconds", 1, MAX_TTL, error))
    return NULL;
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
