/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's instance commands: list, show, create, the lifecycle actions,
 * delete, console and qmp. */
#include "config.h"

#include "ctl.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ctl-error.h"
#include "ctl-request.h"

#define MAX_TAIL 100000
#define MAX_WAIT_SECONDS 86400
#define DEFAULT_WAIT_SECONDS 600

static char *
instance_path (GvdCtl *ctl, const char *suffix)
{
  g_autofree char *name = g_uri_escape_string (gvd_ctl_arg (ctl, 0), NULL, FALSE);

  return g_strdup_printf ("/v1/instances/%s%s", name, suffix);
}

static gboolean
run_list (GvdCtl *ctl, GError **error)
{
  const GvdCtlColumn cols[] = {
    { _("NAME"), "name", GVD_CTL_CELL_TEXT, FALSE },
    { _("STATE"), "state", GVD_CTL_CELL_TEXT, FALSE },
    { _("HEALTH"), "health.health", GVD_CTL_CELL_TEXT, FALSE },
    { _("VCPUS"), "vcpus", GVD_CTL_CELL_TEXT, TRUE },
    { _("MEMORY"), "memory_mib", GVD_CTL_CELL_MIB, TRUE },
    { _("DEVICES"), "devices", GVD_CTL_CELL_COUNT, TRUE },
    { _("IMAGE"), "image", GVD_CTL_CELL_TEXT, FALSE },
  };
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "GET", "/v1/instances", NULL,
                                                    NULL, NULL, error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_print_list (ctl, answer, "instances", cols, G_N_ELEMENTS (cols), "name");
  return TRUE;
}

static gboolean
run_show (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = instance_path (ctl, "");
  g_autoptr(JsonNode) inst = gvd_ctl_client_call (ctl->client, "GET", path, NULL, NULL, NULL,
                                                  error);

  if (inst == NULL)
    return FALSE;
  gvd_ctl_print_object (ctl, inst, "name");
  return TRUE;
}

static char *
read_file (const char *path, GError **error)
{
  char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;

  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, "%s", local->message);
      return NULL;
    }
  if (memchr (text, '\0', len) != NULL || !g_utf8_validate (text, len, NULL))
    {
      g_free (text);
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("%s: not a UTF-8 text file"),
                   path);
      return NULL;
    }
  return text;
}

static gboolean
run_create (GvdCtl *ctl, GError **error)
{
  const char *name = gvd_ctl_arg (ctl, 0);
  const char *wait = gvd_ctl_args_get (ctl->args, "wait");
  const char *timeout = gvd_ctl_args_get (ctl->args, "timeout");
  guint64 timeout_s = DEFAULT_WAIT_SECONDS;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) inst = NULL;
  gboolean dry_run = gvd_ctl_args_has (ctl->args, "dry-run");

  if (wait != NULL && !g_str_equal (wait, "ready"))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("--wait takes 'ready' (the guest agent has reported)"));
      return FALSE;
    }
  if (wait != NULL && (dry_run || gvd_ctl_args_has (ctl->args, "no-start")))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("--wait ready needs a started instance (not with --dry-run or --no-start)"));
      return FALSE;
    }
  if (timeout != NULL
      && !gvd_ctl_parse_uint (timeout, "--timeout", 1, MAX_WAIT_SECONDS, &timeout_s, error))
    return FALSE;
  body = gvd_ctl_create_body (name, ctl->args, read_file, error);
  if (body == NULL)
    return FALSE;
  inst = gvd_ctl_create_with_progress (ctl, name, body, wait != NULL, (guint) timeout_s, error);
  if (inst == NULL)
    return FALSE;
  if (dry_run && ctl->format == GVD_CTL_FORMAT_TABLE)
    {
      JsonNode *xml = gvd_ctl_json_path (inst, "domain_xml");
      g_autofree char *text = xml != NULL && JSON_NODE_HOLDS_VALUE (xml)
                                  && json_node_get_value_type (xml) == G_TYPE_STRING
                                ? g_strdup (json_node_get_string (xml)) : NULL;

      /* For people: the plan and cloud-init as YAML, then the XML as is. */
      if (JSON_NODE_HOLDS_OBJECT (inst))
        json_object_remove_member (json_node_get_object (inst), "domain_xml");
      gvd_ctl_print_object (ctl, inst, NULL);
      if (text != NULL)
        printf ("\n%s", text);
      return TRUE;
    }
  if (ctl->format == GVD_CTL_FORMAT_TABLE)
    {
      g_autofree char *state = gvd_ctl_cell_text (inst, "state", GVD_CTL_CELL_TEXT);
      g_autofree char *health = gvd_ctl_cell_text (inst, "health.health", GVD_CTL_CELL_TEXT);

      printf (_("instance %s created: %s, agent %s\n"), name, state, health);
      return TRUE;
    }
  gvd_ctl_print_object (ctl, inst, "name");
  return TRUE;
}

static gboolean
action (GvdCtl *ctl, const char *verb, JsonNode *body, GError **error)
{
  g_autoptr(JsonNode) inst = gvd_ctl_action_with_progress (ctl, gvd_ctl_arg (ctl, 0), verb, body,
                                                           error);
  g_autofree char *state = NULL;

  if (inst == NULL)
    return FALSE;
  if (ctl->format != GVD_CTL_FORMAT_TABLE)
    {
      gvd_ctl_print_object (ctl, inst, "name");
      return TRUE;
    }
  state = gvd_ctl_cell_text (inst, "state", GVD_CTL_CELL_TEXT);
  printf (_("instance %s: %s\n"), gvd_ctl_arg (ctl, 0), state);
  return TRUE;
}

static gboolean
run_start (GvdCtl *ctl, GError **error)
{
  return action (ctl, "start", NULL, error);
}

static gboolean
run_stop (GvdCtl *ctl, GError **error)
{
  return action (ctl, "stop", NULL, error);
}

static gboolean
run_reboot (GvdCtl *ctl, GError **error)
{
  return action (ctl, "reboot", NULL, error);
}

static gboolean
run_reset (GvdCtl *ctl, GError **error)
{
  return action (ctl, "reset", NULL, error);
}

/* resize NAME [--root SIZE] [--data-disk NAME=SIZE...]: grow a stopped
 * instance's disks. */
static gboolean
run_resize (GvdCtl *ctl, GError **error)
{
  const char *root = gvd_ctl_args_get (ctl->args, "root");
  const char *const *data = gvd_ctl_args_get_all (ctl->args, "data-disk");
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  guint64 gib = 0;

  if (root == NULL && (data == NULL || data[0] == NULL))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("give --root SIZE and/or --data-disk NAME=SIZE"));
      return FALSE;
    }
  json_builder_begin_object (b);
  if (root != NULL)
    {
      if (!gvd_ctl_parse_size_gib (root, "--root", &gib, error))
        return FALSE;
      json_builder_set_member_name (b, "root_disk_gib");
      json_builder_add_int_value (b, (gint64) gib);
    }
  if (data != NULL && data[0] != NULL)
    {
      json_builder_set_member_name (b, "disks");
      json_builder_begin_object (b);
      for (guint i = 0; data[i] != NULL; i++)
        {
          g_autofree char *key = NULL;
          g_autofree char *value = NULL;

          if (!gvd_ctl_parse_label (data[i], &key, &value, error)
              || !gvd_ctl_parse_size_gib (value, "--data-disk", &gib, error))
            return FALSE;
          json_builder_set_member_name (b, key);
          json_builder_add_int_value (b, (gint64) gib);
        }
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  return action (ctl, "resize", body, error);
}

static gboolean
run_shutdown (GvdCtl *ctl, GError **error)
{
  const char *t = gvd_ctl_args_get (ctl->args, "timeout");
  g_autoptr(JsonNode) body = NULL;
  guint64 seconds = 0;

  if (t != NULL)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      if (!gvd_ctl_parse_uint (t, "--timeout", 1, 3600, &seconds, error))
        return FALSE;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "timeout_seconds");
      json_builder_add_int_value (b, (gint64) seconds);
      json_builder_end_object (b);
      body = json_builder_get_root (b);
    }
  return action (ctl, "shutdown", body, error);
}

static gboolean
run_delete (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = instance_path (ctl, "");
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "DELETE", path, NULL, NULL, NULL,
                                                    error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_say (ctl, _("instance %s deleted\n"), gvd_ctl_arg (ctl, 0));
  return TRUE;
}

/* ---- console ------------------------------------------------------------------- */

static void
write_console_text (GvdCtl *ctl, const char *text)
{
  /* What a guest prints reaches a terminal only filtered. */
  g_autofree char *safe = ctl->tty ? gvd_ctl_console_sanitize (text) : NULL;

  fputs (safe != NULL ? safe : text, stdout);
  fflush (stdout);
}

/* {"text"} (or another string member, or the answer as JSON). */
static void
write_console_json (GvdCtl *ctl, JsonNode *root)
{
  static const char *const members[] = { "text", "log", "data", "content", "output" };
  JsonNode *lines = gvd_ctl_json_path (root, "lines");

  if (lines != NULL && JSON_NODE_HOLDS_ARRAY (lines))
    {
      JsonArray *a = json_node_get_array (lines);

      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          JsonNode *l = json_array_get_element (a, i);

          if (JSON_NODE_HOLDS_VALUE (l) && json_node_get_value_type (l) == G_TYPE_STRING)
            {
              write_console_text (ctl, json_node_get_string (l));
              write_console_text (ctl, "\n");
            }
        }
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (members); i++)
    {
      JsonNode *t = gvd_ctl_json_path (root, members[i]);

      if (t != NULL && JSON_NODE_HOLDS_VALUE (t) && json_node_get_value_type (t) == G_TYPE_STRING)
        {
          write_console_text (ctl, json_node_get_string (t));
          return;
        }
    }
  {
    g_autofree char *pretty = gvd_ctl_render_json (root);
    fputs (pretty, stdout);
  }
}

/* Followed console: "console" events {"text", "rotated"?}; "end"
 * {"reason"} when the instance goes away. */
static gboolean
print_console_event (const char *id, const char *type, const char *data, gpointer user_data)
{
  GvdCtl *ctl = user_data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  gboolean json = json_parser_load_from_data (parser, data, -1, NULL);

  if (g_strcmp0 (type, "end") == 0)
    {
      JsonNode *why = json ? gvd_ctl_json_path (json_parser_get_root (parser), "reason") : NULL;

      fprintf (stderr, _("gpuvmctl: the console ended (%s)\n"),
               why != NULL && JSON_NODE_HOLDS_VALUE (why)
                   && json_node_get_value_type (why) == G_TYPE_STRING
                 ? json_node_get_string (why) : "end");
      return FALSE;
    }
  if (json)
    write_console_json (ctl, json_parser_get_root (parser));
  else
    write_console_text (ctl, data);
  return TRUE;
}

static gboolean
stream_ended (gpointer data)
{
  return gvd_ctl_stream_ended (data, NULL);
}

/* A console answer: JSON with the log in a member, or text as is. */
static void
print_console (GvdCtl *ctl, GBytes *bytes, const char *content_type)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (g_strcmp0 (content_type, "application/json") == 0
      && json_parser_load_from_data (parser, data, (gssize) len, NULL))
    {
      write_console_json (ctl, json_parser_get_root (parser));
      return;
    }
  {
    g_autofree char *text = g_strndup (data, len);
    write_console_text (ctl, text);
  }
}

static gboolean
run_console (GvdCtl *ctl, GError **error)
{
  const char *tail = gvd_ctl_args_get (ctl->args, "tail");
  guint64 n = 0;
  g_autoptr(GString) query = g_string_new (NULL);
  g_autofree char *path = NULL;

  if (tail != NULL)
    {
      if (!gvd_ctl_parse_uint (tail, "--tail", 0, MAX_TAIL, &n, error))
        return FALSE;
      g_string_append_printf (query, "?tail=%" G_GUINT64_FORMAT, n);
    }
  if (gvd_ctl_args_has (ctl->args, "follow"))
    g_string_append_printf (query, "%sfollow=1", query->len > 0 ? "&" : "?");
  g_string_prepend (query, "/console");
  path = instance_path (ctl, query->str);

  if (gvd_ctl_args_has (ctl->args, "follow"))
    {
      g_autoptr(GvdCtlStream) s = gvd_ctl_stream_open (ctl->client, path, NULL, error);
      const GError *why = NULL;

      if (s == NULL)
        return FALSE;
      gvd_ctl_stream_start (s, print_console_event, ctl);
      gvd_ctl_run_until (stream_ended, s, 0);
      if (gvd_ctl_stream_ended (s, &why) && why != NULL)
        {
          g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_UNREACHABLE,
                       _("the console stream broke: %s"), why->message);
          return FALSE;
        }
      return TRUE;
    }
  {
    g_autofree char *type = NULL;
    g_autoptr(GBytes) bytes = gvd_ctl_client_call_raw (ctl->client, "GET", path, NULL, NULL, NULL,
                                                       &type, error);
    if (bytes == NULL)
      return FALSE;
    if (ctl->format == GVD_CTL_FORMAT_JSON || ctl->format == GVD_CTL_FORMAT_YAML)
      {
        /* Scripts get the API's document ({"instance", "text", "bytes"}). */
        g_autoptr(JsonParser) parser = json_parser_new ();
        gsize len = 0;
        const char *data = g_bytes_get_data (bytes, &len);

        if (json_parser_load_from_data (parser, data, (gssize) len, NULL))
          {
            gvd_ctl_print_object (ctl, json_parser_get_root (parser), "instance");
            return TRUE;
          }
      }
    print_console (ctl, bytes, type);
  }
  return TRUE;
}

/* ---- qmp ----------------------------------------------------------------------- */

static gboolean
run_qmp (GvdCtl *ctl, GError **error)
{
  const char *text = gvd_ctl_arg (ctl, 1);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) answer = NULL;
  g_autofree char *path = instance_path (ctl, "/qmp");
  g_autofree char *pretty = NULL;

  if (text[0] != '{')
    {
      /* A bare command name: `gpuvmctl qmp vm1 query-status`. */
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "execute");
      json_builder_add_string_value (b, text);
      json_builder_end_object (b);
      body = json_builder_get_root (b);
    }
  else if (json_parser_load_from_data (parser, text, -1, NULL)
           && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    body = json_node_copy (json_parser_get_root (parser));
  else
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("the QMP command is a JSON object ({\"execute\": ...}) or a command name"));
      return FALSE;
    }
  answer = gvd_ctl_client_call (ctl->client, "POST", path, body, NULL, NULL, error);
  if (answer == NULL)
    return FALSE;
  if (ctl->format == GVD_CTL_FORMAT_YAML)
    pretty = gvd_ctl_render_yaml (answer);
  else
    pretty = gvd_ctl_render_json (answer);
  fputs (pretty, stdout);
  return TRUE;
}

/* The host port forwarded to the guest's port 22, the host address it is
 * on (127.0.0.1 from a daemon that shows none) and the login the
 * instance's "ssh" hint names (NULL without one). */
static guint
ssh_port_of (JsonNode *inst, char **out_address, char **out_user)
{
  JsonObject *obj = JSON_NODE_HOLDS_OBJECT (inst) ? json_node_get_object (inst) : NULL;
  JsonNode *ports = obj != NULL ? json_object_get_member (obj, "ports") : NULL;
  const char *hint = obj != NULL && json_object_has_member (obj, "ssh")
                         ? json_object_get_string_member_with_default (obj, "ssh", NULL) : NULL;
  const char *at;

  *out_user = NULL;
  *out_address = NULL;
  if (hint != NULL && (at = strchr (hint, '@')) != NULL)
    {
      const char *start = at;
      while (start > hint && start[-1] != ' ')
        start--;
      *out_user = g_strndup (start, (gsize) (at - start));
    }
  if (ports == NULL || !JSON_NODE_HOLDS_ARRAY (ports))
    return 0;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (ports)); i++)
    {
      JsonNode *e = json_array_get_element (json_node_get_array (ports), i);
      JsonObject *p = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
      const char *address;

      if (p == NULL || json_object_get_int_member_with_default (p, "guest", 0) != 22)
        continue;
      /* Only an IP address goes on ssh's command line. */
      address = json_object_get_string_member_with_default (p, "address", NULL);
      *out_address = g_strdup (address != NULL && g_hostname_is_ip_address (address)
                                 ? address : "127.0.0.1");
      return (guint) json_object_get_int_member_with_default (p, "host", 0);
    }
  return 0;
}

/* ssh to the guest through its forwarded port 22: execs ssh(1), so ssh's
 * exit status and terminal handling are the command's. */
static gboolean
run_ssh (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = instance_path (ctl, "");
  g_autoptr(JsonNode) inst = gvd_ctl_client_call (ctl->client, "GET", path, NULL, NULL, NULL,
                                                  error);
  g_autofree char *hint_user = NULL;
  g_autofree char *address = NULL;
  g_autofree char *port = NULL;
  g_autofree char *login = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *user = gvd_ctl_args_get (ctl->args, "user");
  guint p;

  if (inst == NULL)
    return FALSE;
  p = ssh_port_of (inst, &address, &hint_user);
  if (p == 0)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_CONFLICT,
                   _("instance %s forwards no port 22 (create it with \"ports\": "
                     "[{\"guest\": 22}])"), gvd_ctl_arg (ctl, 0));
      return FALSE;
    }
  if (user == NULL)
    user = hint_user != NULL ? hint_user : "gpuvm";
  port = g_strdup_printf ("%u", p);
  login = g_strdup_printf ("%s@%s", user, address);
  g_ptr_array_add (argv, (char *) "ssh");
  g_ptr_array_add (argv, (char *) "-p");
  g_ptr_array_add (argv, port);
  g_ptr_array_add (argv, login);
  for (guint i = 1; gvd_ctl_arg (ctl, i) != NULL; i++)
    g_ptr_array_add (argv, (char *) gvd_ctl_arg (ctl, i));
  g_ptr_array_add (argv, NULL);
  fflush (stdout);
  execvp ("ssh", (char **) argv->pdata);
  g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("cannot run ssh: %s"),
               g_strerror (errno));
  return FALSE;
}

static const GvdCtlOption ssh_options[] = {
  { "user", 0, TRUE, FALSE },
  { NULL },
};

static const GvdCtlOption create_options[] = {
  { "image", 0, TRUE, FALSE },
  { "gpus", 0, TRUE, FALSE },
  { "model", 0, TRUE, FALSE },
  { "vendor", 0, TRUE, FALSE },
  { "device", 0, TRUE, TRUE },
  { "reservation", 0, TRUE, FALSE },
  { "vcpus", 0, TRUE, FALSE },
  { "memory", 0, TRUE, FALSE },
  { "disk", 0, TRUE, FALSE },
  { "ssh-key", 0, TRUE, TRUE },
  { "cloud-config", 0, TRUE, FALSE },
  { "label", 0, TRUE, TRUE },
  { "user", 0, TRUE, FALSE },
  { "no-start", 0, FALSE, FALSE },
  { "autostart", 0, FALSE, FALSE },
  { "vnc", 0, FALSE, FALSE },
  { "dedicated-cpus", 0, FALSE, FALSE },
  { "port", 0, TRUE, TRUE },
  { "dry-run", 0, FALSE, FALSE },
  { "wait", 0, TRUE, FALSE },
  { "timeout", 0, TRUE, FALSE },
  { NULL },
};
static const GvdCtlOption shutdown_options[] = {
  { "timeout", 0, TRUE, FALSE },
  { NULL },
};
static const GvdCtlOption resize_options[] = {
  { "root", 0, TRUE, FALSE },
  { "data-disk", 0, TRUE, TRUE },
  { NULL },
};
static const GvdCtlOption console_options[] = {
  { "tail", 0, TRUE, FALSE },
  { "follow", 'f', FALSE, FALSE },
  { NULL },
};

const GvdCtlCommand gvd_ctl_instance_commands[] = {
  { "list", "", N_("list instances"), 0, 0, NULL, run_list },
  { "show", "NAME", N_("one instance, in full"), 1, 1, NULL, run_show },
  { "create",
    "NAME --image IMAGE [--gpus N [--model M] [--vendor V] | --device D... | --reservation ID] "
    "[--vcpus N] [--memory SIZE] [--disk SIZE] [--ssh-key FILE...] [--cloud-config FILE] "
    "[--label KEY=VALUE...] [--user USER] [--no-start] [--autostart] [--vnc] [--dedicated-cpus] "
    "[--port N...] [--dry-run] "
    "[--wait ready] "
    "[--timeout SECONDS]",
    N_("create and start an instance"), 1, 1, create_options, run_create },
  { "start", "NAME", N_("start an instance"), 1, 1, NULL, run_start },
  { "shutdown", "NAME [--timeout SECONDS]",
    N_("ACPI power-down, then power off after the timeout"), 1, 1, shutdown_options,
    run_shutdown },
  { "stop", "NAME", N_("power off at once"), 1, 1, NULL, run_stop },
  { "reboot", "NAME", N_("reboot the guest"), 1, 1, NULL, run_reboot },
  { "reset", "NAME", N_("hard reset"), 1, 1, NULL, run_reset },
  { "delete", "NAME", N_("destroy an instance and delete its volumes"), 1, 1, NULL, run_delete },
  { "resize", "NAME [--root SIZE] [--data-disk NAME=SIZE...]",
    N_("grow a stopped instance's disks"), 1, 1, resize_options, run_resize },
  { "console", "NAME [--tail N] [--follow]", N_("the serial console log"), 1, 1,
    console_options, run_console },
  { "qmp", "NAME JSON|COMMAND", N_("one allowed QMP command; prints QEMU's answer"), 2, 2, NULL,
    run_qmp },
  { "ssh", "NAME [--user USER] [-- COMMAND...]",
    N_("ssh to the guest through its forwarded port 22"), 1, 64, ssh_options, run_ssh },
  { NULL },
};
