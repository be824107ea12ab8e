/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parse and validate POST /v1/instances bodies. */
#include "config.h"

#include "instance-request.h"

#include <string.h>

#include <gio/gio.h>

#include "device-ref.h"
#include "errors.h"
#include "json-field.h"
#include "instance-request-disks.h"

GvdCreateRequest *
gvd_create_request_new (void)
{
  GvdCreateRequest *req = g_new0 (GvdCreateRequest, 1);

  req->vcpus = 1;
  req->memory_mib = 1024;
  req->firmware = GVD_FIRMWARE_EFI;
  req->start = TRUE;
  return req;
}

void
gvd_create_request_free (GvdCreateRequest *req)
{
  if (req == NULL)
    return;
  g_free (req->name);
  g_free (req->image);
  g_strfreev (req->devices);
  g_free (req->gpu_vendor);
  g_free (req->gpu_model);
  g_free (req->reservation);
  g_free (req->user);
  g_strfreev (req->ssh_keys);
  g_free (req->password_hash);
  g_strfreev (req->packages);
  g_clear_pointer (&req->cloud_config, json_object_unref);
  g_free (req->network_source);
  g_free (req->ipv4);
  g_clear_pointer (&req->networks, g_ptr_array_unref);
  g_clear_pointer (&req->ports, g_array_unref);
  g_free (req->kernel);
  g_free (req->initrd);
  g_free (req->kernel_volume);
  g_free (req->initrd_volume);
  g_free (req->cmdline);
  g_clear_pointer (&req->labels, g_hash_table_unref);
  g_clear_pointer (&req->shares, g_ptr_array_unref);
  g_clear_pointer (&req->vgpus, g_ptr_array_unref);
  g_clear_pointer (&req->disks, g_ptr_array_unref);
  g_free (req);
}

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

static gboolean
get_strv (JsonNode *node, const char *field, guint max_items, gsize max_len, char ***out,
          GError **error)
{
  JsonArray *array;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return INVALID (error, "'%s' must be an array of strings, not %s", field, gvd_json_type_name (node));
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n > max_items)
    return INVALID (error, "'%s' has %u entries; at most %u are allowed", field, n, max_items);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *item = NULL;
      g_autofree char *name = g_strdup_printf ("%s[%u]", field, i);

      if (!gvd_json_field_string (json_array_get_element (array, i), name, max_len, TRUE, &item, error))
        return FALSE;
      if (*item == '\0')
        return INVALID (error, "'%s' is empty", name);
      g_strv_builder_add (b, item);
    }
  g_strfreev (*out);
  *out = g_strv_builder_end (b);
  return TRUE;
}

static gboolean
valid_abs_path (const char *s)
{
  return g_path_is_absolute (s) && strstr (s, "/../") == NULL && !g_str_has_suffix (s, "/..");
}

/* {"vnc": bool}: consoles beyond the serial one, which is always logged. */
static gboolean
parse_console (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'console' must be an object, not %s", gvd_json_type_name (node));
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;

      if (g_str_equal (m, "vnc"))
        {
          if (!gvd_json_field_bool (json_object_get_member (obj, m), "console.vnc", &req->console_vnc, error))
            return FALSE;
        }
      else
        return INVALID (error, "unknown member 'console.%s' (vnc)", m);
    }
  return TRUE;
}

static gboolean
parse_network (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'network' must be an object, not %s", gvd_json_type_name (node));
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  req->network_set = TRUE;
  req->network_mode = GVD_NETWORK_USER;
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);
      g_autofree char *mode = NULL;

      if (g_str_equal (m, "mode"))
        {
          if (!gvd_json_field_string (v, "network.mode", 16, TRUE, &mode, error))
            return FALSE;
          if (g_str_equal (mode, "user"))
            req->network_mode = GVD_NETWORK_USER;
          else if (g_str_equal (mode, "bridge"))
            req->network_mode = GVD_NETWORK_BRIDGE;
          else if (g_str_equal (mode, "network"))
            req->network_mode = GVD_NETWORK_NETWORK;
          else
            return INVALID (error, "'network.mode' must be user, bridge or network, not '%s'", mode);
        }
      else if (g_str_equal (m, "source"))
        {
          if (!gvd_json_field_string (v, "network.source", 64, TRUE, &req->network_source, error))
            return FALSE;
          for (const char *p = req->network_source; *p; p++)
            if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
              return INVALID (error, "'network.source' must be an interface or network name");
        }
      else if (g_str_equal (m, "ipv4"))
        {
          if (!gvd_json_field_string (v, "network.ipv4", 15, TRUE, &req->ipv4, error)
              || !gvd_validate_ipv4 ("'network.ipv4'", req->ipv4, NULL, error))
            return FALSE;
        }
      else
        return INVALID (error, "unknown member 'network.%s'", m);
    }
  if (req->network_mode != GVD_NETWORK_USER && req->network_source == NULL)
    return INVALID (error, "'network.source' is required for network mode %s",
                    gvd_network_mode_to_string (req->network_mode));
  if (req->network_mode == GVD_NETWORK_USER && req->ipv4 != NULL)
    return INVALID (error, "'network.ipv4' needs bridge or network mode: user-mode networking "
                           "assigns guest addresses itself");
  return TRUE;
}

static gboolean
parse_boot (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'boot' must be an object, not %s", gvd_json_type_name (node));
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);

      if (g_str_equal (m, "firmware"))
        {
          g_autofree char *fw = NULL;
          if (!gvd_json_field_string (v, "boot.firmware", 8, TRUE, &fw, error))
            return FALSE;
          if (g_str_equal (fw, "efi"))
            req->firmware = GVD_FIRMWARE_EFI;
          else if (g_str_equal (fw, "bios"))
            req->firmware = GVD_FIRMWARE_BIOS;
          else
            return INVALID (error, "'boot.firmware' must be efi or bios, not '%s'", fw);
        }
      else if (g_str_equal (m, "kernel") || g_str_equal (m, "initrd"))
        {
          gboolean is_kernel = g_str_equal (m, "kernel");
          g_autofree char *field = g_strdup_printf ("boot.%s", m);
          char **dst = is_kernel ? &req->kernel : &req->initrd;
          char **vol = is_kernel ? &req->kernel_volume : &req->initrd_volume;

          /* A host path (checked against [storage] import_dirs when the
           * instance is created) or {"volume": NAME}, an image of the pool. */
          if (JSON_NODE_HOLDS_OBJECT (v))
            {
              JsonObject *o = json_node_get_object (v);
              g_autofree char *vfield = g_strdup_printf ("boot.%s.volume", m);

              if (json_object_get_size (o) != 1 || !json_object_has_member (o, "volume"))
                return INVALID (error, "'%s' must be a host path or {\"volume\": NAME}", field);
              if (!gvd_json_field_string (json_object_get_member (o, "volume"), vfield, 128, TRUE, vol, error))
                return FALSE;
              g_clear_pointer (dst, g_free);
              continue;
            }
          if (!gvd_json_field_string (v, field, 1024, TRUE, dst, error))
            return FALSE;
          if (!valid_abs_path (*dst))
            return INVALID (error, "'%s' must be an absolute host path or {\"volume\": NAME}",
                            field);
          g_clear_pointer (vol, g_free);
        }
      else if (g_str_equal (m, "cmdline"))
        {
          if (!gvd_json_field_string (v, "boot.cmdline", 2048, TRUE, &req->cmdline, error))
            return FALSE;
        }
      else
        return INVALID (error, "unknown member 'boot.%s'", m);
    }
  if ((req->initrd != NULL || req->initrd_volume != NULL || req->cmdline != NULL)
      && req->kernel == NULL && req->kernel_volume == NULL)
    return INVALID (error, "'boot.initrd' and 'boot.cmdline' need 'boot.kernel'");
  return TRUE;
}

static gboolean
parse_labels (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'labels' must be an object of strings, not %s", gvd_json_type_name (node));
  obj = json_node_get_object (node);
  if (json_object_get_size (obj) > GVD_MAX_LABELS)
    return INVALID (error, "'labels' has more than %d entries", GVD_MAX_LABELS);
  members = json_object_get_members (obj);
  req->labels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *k = l->data;
      g_autofree char *field = g_strdup_printf ("labels.%s", k);
      g_autofree char *value = NULL;

      if (*k == '\0' || strlen (k) > 63)
        return INVALID (error, "label keys must be 1 to 63 bytes");
      for (const char *p = k; *p; p++)
        if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.' && *p != '/')
          return INVALID (error, "label key '%s' may hold only letters, digits, '-', '_', '.', '/'",
                          k);
      if (!gvd_json_field_string (json_object_get_member (obj, k), field, 256, TRUE, &value, error))
        return FALSE;
      g_hash_table_insert (req->labels, g_strdup (k), g_steal_pointer (&value));
    }
  return TRUE;
}

/* Rules across members, once all are read. */
static gboolean
check_members (const GvdCreateRequest *req, GError **error)
{
  gboolean has_devices = req->devices != NULL && req->devices[0] != NULL;

  if (req->name == NULL)
    return INVALID (error, "'name' is required");
  if (!gvd_validate_instance_name ("name", req->name, error))
    return FALSE;
  if (req->image == NULL)
    return INVALID (error, "'image' is required (see GET /v1/images)");
  if (has_devices && req->gpus > 0)
    return INVALID (error, "give either 'devices' or 'gpus', not both");
  if (req->reservation != NULL && (has_devices || req->gpus > 0 || req->vgpus != NULL))
    return INVALID (error, "'reservation' already names the devices: drop 'devices'/'gpus'/'vgpu'");
  if ((req->gpu_vendor != NULL || req->gpu_model != NULL) && req->gpus == 0)
    return INVALID (error, "'gpu_vendor' and 'gpu_model' filter 'gpus': set 'gpus'");
  return gvd_create_request_check_cpu (req, error);
}

GvdCreateRequest *
gvd_create_request_parse (JsonObject *body, GError **error)
{
  g_autoptr(GvdCreateRequest) req = gvd_create_request_new ();
  g_autoptr(GList) members = json_object_get_members (body);
  guint64 v;

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *n = json_object_get_member (body, m);
      gboolean ok;

      if (g_str_equal (m, "name"))
        ok = gvd_json_field_string (n, m, 256, TRUE, &req->name, error);
      else if (g_str_equal (m, "image"))
        ok = gvd_json_field_string (n, m, 128, TRUE, &req->image, error);
      else if (g_str_equal (m, "vcpus"))
        ok = gvd_json_field_uint (n, m, 1, 256, &v, error) && ((req->vcpus = v), TRUE);
      else if (g_str_equal (m, "memory_mib"))
        ok = gvd_json_field_uint (n, m, 128, 4 * 1024 * 1024, &req->memory_mib, error);
      else if (g_str_equal (m, "root_disk_gib"))
        ok = gvd_json_field_uint (n, m, 0, 64 * 1024, &req->root_disk_gib, error);
      else if (g_str_equal (m, "devices"))
        ok = get_strv (n, m, GVD_MAX_DEVICES, GVD_DEVICE_REF_MAX, &req->devices, error);
      else if (g_str_equal (m, "gpus"))
        ok = gvd_json_field_uint (n, m, 0, GVD_MAX_DEVICES, &v, error) && ((req->gpus = v), TRUE);
      else if (g_str_equal (m, "gpu_vendor"))
        ok = gvd_json_field_string (n, m, 64, TRUE, &req->gpu_vendor, error);
      else if (g_str_equal (m, "gpu_model"))
        ok = gvd_json_field_string (n, m, 128, TRUE, &req->gpu_model, error);
      else if (g_str_equal (m, "reservation"))
        ok = gvd_json_field_string (n, m, 64, TRUE, &req->reservation, error);
      else if (g_str_equal (m, "allow_weakened_isolation"))
        ok = gvd_json_field_bool (n, m, &req->allow_weakened_isolation, error);
      else if (g_str_equal (m, "user"))
        ok = gvd_json_field_string (n, m, 32, TRUE, &req->user, error);
      else if (g_str_equal (m, "ssh_keys"))
        ok = get_strv (n, m, GVD_MAX_SSH_KEYS, 16 * 1024, &req->ssh_keys, error);
      else if (g_str_equal (m, "password_hash"))
        ok = gvd_json_field_string (n, m, 512, TRUE, &req->password_hash, error);
      else if (g_str_equal (m, "packages"))
        ok = get_strv (n, m, GVD_MAX_PACKAGES, 128, &req->packages, error);
      else if (g_str_equal (m, "cloud_config"))
        {
          ok = JSON_NODE_HOLDS_OBJECT (n)
               || INVALID (error, "'cloud_config' must be an object, not %s", gvd_json_type_name (n));
          if (ok)
            req->cloud_config = json_object_ref (json_node_get_object (n));
        }
      else if (g_str_equal (m, "install_nvidia_driver"))
        ok = gvd_json_field_bool (n, m, &req->install_nvidia_driver, error);
      else if (g_str_equal (m, "network"))
        ok = parse_network (n, req, error);
      else if (g_str_equal (m, "networks"))
        ok = gvd_create_request_parse_networks (n, body, req, error);
      else if (g_str_equal (m, "ports"))
        ok = gvd_create_request_parse_ports (n, req, error);
      else if (g_str_equal (m, "boot"))
        ok = parse_boot (n, req, error);
      else if (g_str_equal (m, "labels"))
        ok = parse_labels (n, req, error);
      else if (g_str_equal (m, "start"))
        ok = gvd_json_field_bool (n, m, &req->start, error);
      else if (g_str_equal (m, "dry_run"))
        ok = gvd_json_field_bool (n, m, &req->dry_run, error);
      else if (g_str_equal (m, "autostart"))
        ok = gvd_json_field_bool (n, m, &req->autostart, error);
      else if (g_str_equal (m, "console"))
        ok = parse_console (n, req, error);
      else if (g_str_equal (m, "cpu"))
        ok = gvd_create_request_parse_cpu (n, req, error);
      else if (g_str_equal (m, "shares"))
        ok = gvd_create_request_parse_shares (n, req, error);
      else if (g_str_equal (m, "memory"))
        ok = gvd_create_request_parse_memory (n, req, error);
      else if (g_str_equal (m, "vgpu"))
        ok = gvd_create_request_parse_vgpu (n, req, error);
      else if (g_str_equal (m, "disks"))
        ok = gvd_disk_requests_parse (n, &req->disks, error);
      else
        ok = INVALID (error, "unknown member '%s'", m);
      if (!ok)
        return NULL;
    }

  if (!check_members (req, error))
    return NULL;
  return g_steal_pointer (&req);
}
