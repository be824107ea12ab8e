/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cloud-init user-data: the default user, packages, the guest agent, the
 * NVIDIA driver install and the operator's extra cloud-config, merged under
 * the rules in README.md ("cloud-init"), as one JSON document. */
#include "config.h"

#include "cloudinit.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "cloudinit-priv.h"
#include "errors.h"

#define MAX_URL_LEN 2048
#define MAX_TOKEN_LEN 512
#define MAX_MEMBER_NAME_LEN 1024
#define MAX_HEARTBEAT_INTERVAL 3600

/* The NVIDIA driver install, run by runcmd as `sh -c SCRIPT NAME VERSION`:
 * the version arrives as $1, never spliced into the shell text. Ubuntu
 * packages the driver per branch (nvidia-driver-535), Debian as
 * nvidia-driver (non-free); both version strings start "<version>-". */
static const char nvidia_install_script[] =
  "set -eu\n"
  "v=\"$1\"\n"
  "export DEBIAN_FRONTEND=noninteractive\n"
  "apt-get update\n"
  "if apt-get install -s -y \"nvidia-driver-${v%%.*}=$v-*\" >/dev/null 2>&1; then\n"
  "  apt-get install -y \"nvidia-driver-${v%%.*}=$v-*\"\n"
  "else\n"
  "  apt-get install -y \"nvidia-driver=$v-*\"\n"
  "fi\n"
  "modprobe nvidia || true\n";

/* Top-level keys gpuvmd owns: an extra cloud-config setting them would
 * replace or bypass the default user, the hostname or the module lists the
 * agent install relies on. */
static const char *const refused_extra_keys[] = {
  "users", "user", "system_info", "ssh_authorized_keys", "hostname", "fqdn",
  "preserve_hostname", "prefer_fqdn_over_hostname", "cloud_init_modules",
  "cloud_config_modules", "cloud_final_modules", "merge_how", "merge_type", NULL,
};

static gboolean
check_guest_fields (const GvdInstanceSpec *spec, GError **error)
{
  guint n;

  if (spec->user != NULL && !gvd_cloudinit_validate_user (spec->user, error))
    return FALSE;
  n = spec->ssh_keys != NULL ? g_strv_length (spec->ssh_keys) : 0;
  if (n > GVD_CLOUDINIT_MAX_SSH_KEYS)
    return gvd_cloudinit_invalid (error, "ssh_keys", "at most 32 keys");
  for (guint i = 0; i < n; i++)
    if (!gvd_cloudinit_validate_ssh_key (spec->ssh_keys[i], error))
      return FALSE;
  if (spec->password_hash != NULL && !gvd_cloudinit_validate_password_hash (spec->password_hash,
                                                                            error))
    return FALSE;
  n = spec->packages != NULL ? g_strv_length (spec->packages) : 0;
  if (n > GVD_CLOUDINIT_MAX_PACKAGES)
    return gvd_cloudinit_invalid (error, "packages", "at most 256 packages");
  for (guint i = 0; i < n; i++)
    if (!gvd_cloudinit_validate_package (spec->packages[i], error))
      return FALSE;

  if (spec->install_nvidia_driver)
    {
      const char *v = spec->nvidia_driver_version;
      guint dots = 0;

      if (v == NULL || v[0] == '\0')
        return gvd_cloudinit_invalid (error, "nvidia_driver_version",
                        "is required to install the NVIDIA driver (the host's version)");
      if (strlen (v) > 32 || !g_ascii_isdigit (v[0]) || !g_ascii_isdigit (v[strlen (v) - 1]))
        return gvd_cloudinit_invalid (error, "nvidia_driver_version", "must look like 535.129.03");
      for (const char *p = v; *p != '\0'; p++)
        {
          if (*p == '.')
            {
              if (p[1] == '.')
                return gvd_cloudinit_invalid (error, "nvidia_driver_version",
                                              "must look like 535.129.03");
              dots++;
            }
          else if (!g_ascii_isdigit (*p))
            return gvd_cloudinit_invalid (error, "nvidia_driver_version",
                                          "must look like 535.129.03");
        }
      if (dots < 1 || dots > 3)
        return gvd_cloudinit_invalid (error, "nvidia_driver_version", "must look like 535.129.03");
    }

  if (spec->agent_url != NULL)
    {
      g_autoptr(GUri) uri = NULL;
      const char *scheme;

      if (!gvd_cloudinit_check_text ("agent_url", spec->agent_url, MAX_URL_LEN, FALSE, error))
        return FALSE;
      uri = g_uri_parse (spec->agent_url, G_URI_FLAGS_NONE, NULL);
      scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
      if (scheme == NULL || !(g_str_equal (scheme, "http") || g_str_equal (scheme, "https"))
          || g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
        return gvd_cloudinit_invalid (error, "agent_url",
                                      "must be an http:// or https:// URL with a host");
      if (spec->agent_token == NULL || spec->agent_token[0] == '\0')
        return gvd_cloudinit_invalid (error, "agent_token", "is required with agent_url");
      if (strlen (spec->agent_token) > MAX_TOKEN_LEN)
        return gvd_cloudinit_invalid (error, "agent_token", "longer than 512 characters");
      for (const char *p = spec->agent_token; *p != '\0'; p++)
        if (!g_ascii_isalnum (*p) && strchr ("._~+/=-", *p) == NULL)
          return gvd_cloudinit_invalid (error, "agent_token", "may contain only A-Za-z0-9._~+/=-");
      if (spec->heartbeat_interval < 1 || spec->heartbeat_interval > MAX_HEARTBEAT_INTERVAL)
        return gvd_cloudinit_invalid (error, "heartbeat_interval", "must be 1-3600 seconds");
    }
  return TRUE;
}

/* A field path for error messages: member names appear only when they are
 * short plain identifiers, so hostile names never reach a log. */
static char *
child_path (const char *parent, const char *member)
{
  gboolean plain = strlen (member) <= 64 && member[0] != '\0';

  for (const char *p = member; plain && *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      plain = FALSE;
  return g_strdup_printf ("%s.%s", parent, plain ? member : "<member>");
}

typedef struct {
  guint nodes;
} ExtraWalk;

static gboolean
check_extra_node (JsonNode *node, const char *path, guint depth, ExtraWalk *walk, GError **error)
{
  if (++walk->nodes > GVD_CLOUDINIT_MAX_EXTRA_NODES)
    return gvd_cloudinit_invalid (error, "extra_cloud_config", "more than 16384 values");
  if (depth > GVD_CLOUDINIT_MAX_EXTRA_DEPTH)
    return gvd_cloudinit_invalid (error, path, "nested deeper than 32 levels");

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      return TRUE;
    case JSON_NODE_VALUE:
      {
        GType type = json_node_get_value_type (node);

        if (type == G_TYPE_STRING)
          return gvd_cloudinit_check_text (path, json_node_get_string (node),
                                           GVD_CLOUDINIT_MAX_EXTRA_STRING,
                             TRUE, error);
        if (type == G_TYPE_INT64 || type == G_TYPE_BOOLEAN)
          return TRUE;
        /* YAML 1.1 reads some JSON numbers ("1e+20") as strings. */
        return gvd_cloudinit_invalid (error, path,
                        "floating-point numbers are not supported; use an integer or a string");
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        g_autofree char *item_path = g_strdup_printf ("%s[]", path);

        for (guint i = 0; i < json_array_get_length (array); i++)
          if (!check_extra_node (json_array_get_element (array, i), item_path, depth + 1, walk,
                                 error))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonObjectIter iter;
        const char *name;
        JsonNode *child;

        json_object_iter_init (&iter, object);
        while (json_object_iter_next (&iter, &name, &child))
          {
            g_autofree char *member_path = child_path (path, name);

            if (!gvd_cloudinit_check_text (member_path, name, MAX_MEMBER_NAME_LEN, TRUE, error))
              return FALSE;
            if (!check_extra_node (child, member_path, depth + 1, walk, error))
              return FALSE;
          }
        return TRUE;
      }
    default:
      return gvd_cloudinit_invalid (error, path, "unexpected value");
    }
}

/* Shape checks for the keys gpuvmd merges. */
static gboolean
check_extra_merged_keys (JsonObject *extra, GError **error)
{
  JsonNode *node;

  node = json_object_get_member (extra, "runcmd");
  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    return gvd_cloudinit_invalid (error, "extra_cloud_config.runcmd", "must be an array");
  node = json_object_get_member (extra, "packages");
  if (node != NULL && !JSON_NODE_HOLDS_ARRAY (node))
    return gvd_cloudinit_invalid (error, "extra_cloud_config.packages", "must be an array");
  node = json_object_get_member (extra, "write_files");
  if (node != NULL)
    {
      JsonArray *files;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        return gvd_cloudinit_invalid (error, "extra_cloud_config.write_files", "must be an array");
      files = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (files); i++)
        {
          JsonNode *file = json_array_get_element (files, i);
          JsonNode *path_node;
          g_autofree char *path = NULL;

          if (!JSON_NODE_HOLDS_OBJECT (file))
            return gvd_cloudinit_invalid (error, "extra_cloud_config.write_files[]",
                                          "must be objects");
          path_node = json_object_get_member (json_node_get_object (file), "path");
          if (path_node == NULL || !JSON_NODE_HOLDS_VALUE (path_node)
              || json_node_get_value_type (path_node) != G_TYPE_STRING)
            return gvd_cloudinit_invalid (error, "extra_cloud_config.write_files[].path",
                            "must be a string");
          path = g_canonicalize_filename (json_node_get_string (path_node), "/");
          if (g_str_equal (path, GVD_AGENT_SCRIPT_PATH) || g_str_equal (path, GVD_AGENT_UNIT_PATH)
              || g_str_equal (path, GVD_AGENT_CONFIG_PATH))
            return gvd_cloudinit_invalid (error, "extra_cloud_config.write_files[].path",
                            "must not replace a guest agent file");
        }
    }
  return TRUE;
}

static gboolean
check_extra (JsonObject *extra, GError **error)
{
  g_autoptr(JsonNode) root = json_node_init_object (json_node_alloc (), extra);
  ExtraWalk walk = { 0 };

  for (guint i = 0; refused_extra_keys[i] != NULL; i++)
    if (json_object_has_member (extra, refused_extra_keys[i]))
      {
        g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                     "extra_cloud_config.%s: gpuvmd owns this key (default user, hostname "
                     "and module lists come from the instance spec)",
                     refused_extra_keys[i]);
        return FALSE;
      }
  if (!check_extra_node (root, "extra_cloud_config", 0, &walk, error))
    return FALSE;
  return check_extra_merged_keys (extra, error);
}

static JsonNode *
string_node (const char *value)
{
  return json_node_init_string (json_node_alloc (), value);
}

static void
add_write_file (JsonArray *files, const char *path, const char *content, const char *permissions)
{
  JsonObject *file = json_object_new ();

  json_object_set_string_member (file, "path", path);
  json_object_set_string_member (file, "content", content);
  json_object_set_string_member (file, "owner", "root:root");
  json_object_set_string_member (file, "permissions", permissions);
  json_array_add_object_element (files, file);
}

static JsonArray *
strv_array (const char *const *items)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; items[i] != NULL; i++)
    json_array_add_string_element (array, items[i]);
  return array;
}

static char *
agent_config_text (const GvdInstanceSpec *spec)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, spec->agent_url);
  json_builder_set_member_name (b, "instance");
  json_builder_add_string_value (b, spec->name);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, spec->agent_token);
  json_builder_set_member_name (b, "interval");
  json_builder_add_int_value (b, spec->heartbeat_interval);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return gvd_cloudinit_generate (root);
}

static JsonObject *
build_default_user (const GvdInstanceSpec *spec)
{
  JsonObject *user = json_object_new ();
  JsonArray *keys = json_array_new ();

  json_object_set_string_member (user, "name", spec->user != NULL ? spec->user : "gpuvm");
  json_object_set_string_member (user, "gecos", "gpuvmd default user");
  json_object_set_string_member (user, "groups", "adm,sudo");
  json_object_set_string_member (user, "shell", "/bin/bash");
  json_object_set_string_member (user, "sudo", "ALL=(ALL) NOPASSWD:ALL");
  if (spec->password_hash != NULL)
    {
      json_object_set_string_member (user, "passwd", spec->password_hash);
      json_object_set_boolean_member (user, "lock_passwd", FALSE);
    }
  else
    json_object_set_boolean_member (user, "lock_passwd", TRUE);
  for (guint i = 0; spec->ssh_keys != NULL && spec->ssh_keys[i] != NULL; i++)
    json_array_add_string_element (keys, spec->ssh_keys[i]);
  /* cloud-init's schema wants at least one key when the list is present. */
  if (json_array_get_length (keys) > 0)
    json_object_set_array_member (user, "ssh_authorized_keys", keys);
  else
    json_array_unref (keys);
  return user;
}

static gboolean
array_contains (JsonArray *array, JsonNode *node)
{
  for (guint i = 0; i < json_array_get_length (array); i++)
    if (json_node_equal (json_array_get_element (array, i), node))
      return TRUE;
  return FALSE;
}

char *
gvd_cloudinit_render_user_data (const GvdInstanceSpec *spec, const GvdAgentFiles *agent,
                                GError **error)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *doc;
  JsonArray *users, *packages, *files, *runcmd;
  JsonObject *extra = spec != NULL ? spec->extra_cloud_config : NULL;
  g_autofree char *json = NULL;
  char *user_data;

  g_return_val_if_fail (spec != NULL, NULL);
  if (!gvd_cloudinit_check_identity (spec, error) || !check_guest_fields (spec, error))
    return NULL;
  if (spec->agent_url != NULL && (agent == NULL || agent->script == NULL || agent->unit == NULL))
    {
      gvd_cloudinit_invalid (error, "agent_url", "the guest agent files are not available");
      return NULL;
    }
  if (extra != NULL && !check_extra (extra, error))
    return NULL;

  root = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (root, json_object_new ());
  doc = json_node_get_object (root);

  users = json_array_new ();
  json_array_add_object_element (users, build_default_user (spec));
  json_object_set_array_member (doc, "users", users);
  json_object_set_boolean_member (doc, "manage_etc_hosts", TRUE);

  packages = json_array_new ();
  for (guint i = 0; spec->packages != NULL && spec->packages[i] != NULL; i++)
    {
      g_autoptr(JsonNode) p = string_node (spec->packages[i]);
      if (!array_contains (packages, p))
        json_array_add_element (packages, g_steal_pointer (&p));
    }

  files = json_array_new ();
  runcmd = json_array_new ();
  gvd_cloudinit_add_share_mounts (spec, files, runcmd);
  if (spec->agent_url != NULL)
    {
      g_autofree char *config = agent_config_text (spec);
      static const char *const reload[] = { "systemctl", "daemon-reload", NULL };
      /* --no-block: the unit may be ordered after cloud-final, which is
       * running this very runcmd. */
      static const char *const enable[] = { "systemctl", "enable", "--now", "--no-block",
                                            "gpuvmd-agent.service", NULL };

      add_write_file (files, GVD_AGENT_SCRIPT_PATH, agent->script, "0755");
      add_write_file (files, GVD_AGENT_UNIT_PATH, agent->unit, "0644");
      add_write_file (files, GVD_AGENT_CONFIG_PATH, config, "0600");
      memset (config, 0, strlen (config));
      json_array_add_array_element (runcmd, strv_array (reload));
      json_array_add_array_element (runcmd, strv_array (enable));
    }
  if (spec->install_nvidia_driver)
    {
      const char *const install[] = { "sh", "-c", nvidia_install_script, "gpuvmd-nvidia-install",
                                      spec->nvidia_driver_version, NULL };
      json_array_add_array_element (runcmd, strv_array (install));
    }

  /* Merge: runcmd and write_files append after ours, packages are a union
   * (ours first), every other key comes from extra as is. */
  if (extra != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      json_object_iter_init (&iter, extra);
      while (json_object_iter_next (&iter, &name, &value))
        {
          JsonArray *target = NULL;
          gboolean unique = FALSE;

          if (g_str_equal (name, "runcmd"))
            target = runcmd;
          else if (g_str_equal (name, "write_files"))
            target = files;
          else if (g_str_equal (name, "packages"))
            target = packages, unique = TRUE;
          if (target == NULL)
            {
              json_object_set_member (doc, name, json_node_copy (value));
              continue;
            }
          for (guint i = 0; i < json_array_get_length (json_node_get_array (value)); i++)
            {
              JsonNode *item = json_array_get_element (json_node_get_array (value), i);
              if (!unique || !array_contains (target, item))
                json_array_add_element (target, json_node_copy (item));
            }
        }
    }

  if (json_array_get_length (packages) > 0)
    {
      if (!json_object_has_member (doc, "package_update"))
        json_object_set_boolean_member (doc, "package_update", TRUE);
      json_object_set_array_member (doc, "packages", packages);
    }
  else
    json_array_unref (packages);
  if (json_array_get_length (files) > 0)
    json_object_set_array_member (doc, "write_files", files);
  else
    json_array_unref (files);
  if (json_array_get_length (runcmd) > 0)
    json_object_set_array_member (doc, "runcmd", runcmd);
  else
    json_array_unref (runcmd);

  json = gvd_cloudinit_generate (root);
  user_data = g_strconcat ("#cloud-config\n", json, "\n", NULL);
  memset (json, 0, strlen (json));
  if (strlen (user_data) > GVD_CLOUDINIT_MAX_USER_DATA)
    {
      memset (user_data, 0, strlen (user_data));
      g_free (user_data);
      gvd_cloudinit_invalid (error, "extra_cloud_config", "user-data would exceed 1 MiB");
      return NULL;
    }
  return user_data;
}

