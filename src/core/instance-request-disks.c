/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/instances "disks": data disks, parsed and checked (pure). */
#include "config.h"

#include "instance-request-disks.h"

#include <string.h>

#include "errors.h"
#include "json-field.h"

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

/* A string of 1..@max bytes, every byte in [A-Za-z0-9] or @extra. */
static gboolean
get_token (JsonNode *node, const char *field, gsize max, const char *extra, char **out,
           GError **error)
{
  const char *s;
  gsize len;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return INVALID (error, "'%s' must be a string, not %s", field, gvd_json_type_name (node));
  s = json_node_get_string (node);
  len = strlen (s);
  if (len == 0 || len > max)
    return INVALID (error, "'%s' must be 1 to %zu bytes", field, max);
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr (extra, *p) == NULL)
      return INVALID (error, "'%s' may hold only letters, digits and '%s'", field, extra);
  g_free (*out);
  *out = g_strdup (s);
  return TRUE;
}

/* One of @names (NULL-terminated) → its index. */
static gboolean
get_choice (JsonNode *node, const char *field, const char *const *names, guint *out,
            GError **error)
{
  g_autofree char *s = NULL;
  g_autofree char *all = g_strjoinv (", ", (char **) names);

  if (!get_token (node, field, 16, "_", &s, error))
    return FALSE;
  for (guint i = 0; names[i] != NULL; i++)
    if (g_str_equal (s, names[i]))
      {
        *out = i;
        return TRUE;
      }
  return INVALID (error, "'%s' must be one of %s, not '%s'", field, all, s);
}

/* A host name or an IP address (IPv6 without brackets). */
static gboolean
check_host (const char *field, const char *host, GError **error)
{
  if (g_hostname_is_ip_address (host))
    return TRUE;
  if (*host == '\0' || strlen (host) > 253 || *host == '-' || *host == '.')
    return INVALID (error, "'%s' must be a host name or an IP address", field);
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return INVALID (error, "'%s' must be a host name or an IP address", field);
  return TRUE;
}

static gboolean
parse_nbd (JsonNode *node, const char *field, GvdDiskSpec *d, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'%s' must be an object {host, port, export}, not %s", field,
                    gvd_json_type_name (node));
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  d->type = GVD_DISK_NBD;
  d->port = 10809;
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);
      g_autofree char *f = g_strdup_printf ("%s.%s", field, m);
      guint64 n;

      if (g_str_equal (m, "host"))
        {
          if (!get_token (v, f, 253, ".-:", &d->host, error) || !check_host (f, d->host, error))
            return FALSE;
        }
      else if (g_str_equal (m, "port"))
        {
          if (!gvd_json_field_uint (v, f, 1, 65535, &n, error))
            return FALSE;
          d->port = (guint) n;
        }
      else if (g_str_equal (m, "export"))
        {
          if (!get_token (v, f, 255, "._-/", &d->source_name, error))
            return FALSE;
        }
      else
        return INVALID (error, "unknown member '%s' (host, port, export)", f);
    }
  if (d->host == NULL)
    return INVALID (error, "'%s.host' is required", field);
  return TRUE;
}

/* "host:port", "[v6]:port" or "host" (port 6789). */
static gboolean
parse_monitor (JsonNode *node, const char *field, GvdDiskSpec *d, GError **error)
{
  g_autofree char *s = NULL;
  g_autofree char *host = NULL;
  const char *colon;
  guint64 port = 6789;

  if (!get_token (node, field, 262, ".-:[]", &s, error))
    return FALSE;
  if (s[0] == '[')
    {
      const char *end = strchr (s, ']');
      if (end == NULL)
        return INVALID (error, "'%s' must be host:port or [address]:port", field);
      host = g_strndup (s + 1, end - s - 1);
      colon = end[1] == ':' ? end + 1 : NULL;
      if (end[1] != '\0' && colon == NULL)
        return INVALID (error, "'%s' must be host:port or [address]:port", field);
    }
  else
    {
      colon = strrchr (s, ':');
      if (colon != NULL && strchr (s, ':') != colon)
        return INVALID (error, "'%s': write an IPv6 address as [address]:port", field);
      host = colon != NULL ? g_strndup (s, colon - s) : g_strdup (s);
    }
  if (!check_host (field, host, error))
    return FALSE;
  if (colon != NULL
      && !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return INVALID (error, "'%s': the port must be from 1 to 65535", field);
  g_free (d->host);
  d->host = g_steal_pointer (&host);
  d->port = (guint) port;
  return TRUE;
}

static gboolean
parse_rbd (JsonNode *node, const char *field, GvdDiskSpec *d, GError **error)
{
  JsonObject *obj;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'%s' must be an object {monitors, image, user, secret_uuid}, not %s",
                    field, gvd_json_type_name (node));
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  d->type = GVD_DISK_RBD;
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);
      g_autofree char *f = g_strdup_printf ("%s.%s", field, m);

      if (g_str_equal (m, "monitors"))
        {
          JsonArray *a;
          guint n;

          if (!JSON_NODE_HOLDS_ARRAY (v))
            return INVALID (error, "'%s' must be an array of \"host:port\", not %s", f,
                            gvd_json_type_name (v));
          a = json_node_get_array (v);
          n = json_array_get_length (a);
          if (n == 0 || n > GVD_DISK_RBD_MAX_MONITORS)
            return INVALID (error, "'%s' must have 1 to %d entries", f, GVD_DISK_RBD_MAX_MONITORS);
          for (guint i = 0; i < n; i++)
            {
              g_autofree char *fi = g_strdup_printf ("%s[%u]", f, i);
              if (!parse_monitor (json_array_get_element (a, i), fi, d, error))
                return FALSE;
            }
        }
      else if (g_str_equal (m, "image"))
        {
          const char *slash;

          if (!get_token (v, f, 255, "._-/", &d->source_name, error))
            return FALSE;
          slash = strchr (d->source_name, '/');
          if (slash == NULL || slash == d->source_name || slash[1] == '\0'
              || strchr (slash + 1, '/') != NULL)
            return INVALID (error, "'%s' must be \"pool/image\"", f);
        }
      else if (g_str_equal (m, "user"))
        {
          if (!get_token (v, f, 128, "._-", &d->auth_username, error))
            return FALSE;
        }
      else if (g_str_equal (m, "secret_uuid"))
        {
          if (!get_token (v, f, 36, "-", &d->secret_uuid, error))
            return FALSE;
          if (!g_uuid_string_is_valid (d->secret_uuid))
            return INVALID (error, "'%s' must be a UUID (a libvirt secret)", f);
        }
      else
        return INVALID (error, "unknown member '%s' (monitors, image, user, secret_uuid)", f);
    }
  if (d->host == NULL)
    return INVALID (error, "'%s.monitors' is required", field);
  if (d->source_name == NULL)
    return INVALID (error, "'%s.image' is required", field);
  if ((d->auth_username == NULL) != (d->secret_uuid == NULL))
    return INVALID (error, "'%s.user' and '%s.secret_uuid' go together (cephx)", field, field);
  return TRUE;
}

static const char *const buses[] = { "virtio", "scsi", "sata", NULL };
static const char *const caches[] = { "default", "none", "writeback", "writethrough", NULL };
static const char *const ios[] = { "default", "native", "threads", "io_uring", NULL };
static const char *const formats[] = { "qcow2", "raw", NULL };

/* "FIELD.member", or "member" for a disk that is the whole body (@field
 * NULL: POST /v1/instances/{name}/disks). */
static char *
member_path (const char *field, const char *m)
{
  return field != NULL ? g_strdup_printf ("%s.%s", field, m) : g_strdup (m);
}

/* Rules between one disk's members, once all are read. */
static gboolean
check_disk (const GvdDiskSpec *d, const char *field, gboolean size_set, gboolean format_set,
            gboolean keep_set, GError **error)
{
  guint sources = (size_set ? 1 : 0) + (d->volume != NULL ? 1 : 0)
                  + (d->type == GVD_DISK_NBD ? 1 : 0) + (d->type == GVD_DISK_RBD ? 1 : 0);
  g_autofree char *whole = field != NULL ? g_strdup_printf ("'%s'", field) : g_strdup ("a disk");
  g_autofree char *f_name = member_path (field, "name");
  g_autofree char *f_format = member_path (field, "format");
  g_autofree char *f_keep = member_path (field, "keep");
  g_autofree char *f_io = member_path (field, "io");
  g_autofree char *f_iothread = member_path (field, "iothread");
  g_autofree char *f_readonly = member_path (field, "readonly");

  if (d->name == NULL)
    return INVALID (error, "'%s' is required", f_name);
  if (sources != 1)
    return INVALID (error, "%s needs exactly one of 'size_gib' (a new volume), 'volume', "
                           "'nbd' or 'rbd'", whole);
  if (format_set && !size_set)
    return INVALID (error, "'%s' is for new volumes (an existing one keeps its own)",
                    f_format);
  if (keep_set && !size_set)
    return INVALID (error, "'%s' is for new volumes: gpuvmd never deletes an existing "
                           "volume or a network disk", f_keep);
  if (d->io == GVD_DISK_IO_NATIVE && d->cache != GVD_DISK_CACHE_NONE)
    return INVALID (error, "'%s': native needs 'cache': \"none\" (O_DIRECT)", f_io);
  if (d->iothread > 0 && d->bus == GVD_DISK_BUS_SATA)
    return INVALID (error, "'%s': SATA disks cannot use an iothread", f_iothread);
  if (d->readonly && d->bus == GVD_DISK_BUS_SATA)
    return INVALID (error, "'%s': libvirt has no read-only SATA disks (use virtio or "
                           "scsi)", f_readonly);
  return TRUE;
}

GvdDiskSpec *
gvd_disk_request_parse (JsonNode *node, const char *field, GError **error)
{
  g_autoptr(GvdDiskSpec) d = gvd_disk_spec_new ();
  g_autoptr(GList) members = NULL;
  gboolean size_set = FALSE, format_set = FALSE, keep_set = FALSE;
  JsonObject *obj;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "'%s' must be an object, not %s",
                   field != NULL ? field : "disk", gvd_json_type_name (node));
      return NULL;
    }
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  d->type = GVD_DISK_VOLUME;
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);
      g_autofree char *f = member_path (field, m);
      guint64 n;
      guint c;
      gboolean ok;

      if (g_str_equal (m, "name"))
        {
          ok = get_token (v, f, GVD_DISK_NAME_MAX, "_", &d->name, error);
          if (ok && (!g_ascii_isalnum (d->name[0]) || g_ascii_isupper (d->name[0])))
            ok = INVALID (error, "'%s' must start with a lower-case letter or a digit", f);
          for (const char *p = ok ? d->name : ""; *p; p++)
            if (g_ascii_isupper (*p))
              {
                ok = INVALID (error, "'%s' may hold only lower-case letters, digits and '_'", f);
                break;
              }
          /* "<domain>-disk-root.qcow2" would be the root volume of an
           * instance named "<name>-disk". */
          if (ok && (g_str_equal (d->name, "root") || g_str_equal (d->name, "seed")))
            ok = INVALID (error, "'%s': '%s' is reserved", f, d->name);
        }
      else if (g_str_equal (m, "size_gib"))
        {
          ok = gvd_json_field_uint (v, f, GVD_DISK_MIN_GIB, GVD_DISK_MAX_GIB, &n, error);
          d->size_bytes = n << 30;
          size_set = d->created = TRUE;
        }
      else if (g_str_equal (m, "format"))
        {
          ok = get_choice (v, f, formats, &c, error);
          g_free (d->format);
          d->format = ok ? g_strdup (formats[c]) : NULL;
          format_set = TRUE;
        }
      else if (g_str_equal (m, "volume"))
        ok = get_token (v, f, 128, "._-", &d->volume, error);
      else if (g_str_equal (m, "nbd"))
        ok = parse_nbd (v, f, d, error);
      else if (g_str_equal (m, "rbd"))
        ok = parse_rbd (v, f, d, error);
      else if (g_str_equal (m, "bus"))
        ok = get_choice (v, f, buses, &c, error) && ((d->bus = c), TRUE);
      else if (g_str_equal (m, "cache"))
        ok = get_choice (v, f, caches, &c, error) && ((d->cache = c), TRUE);
      else if (g_str_equal (m, "io"))
        ok = get_choice (v, f, ios, &c, error) && ((d->io = c), TRUE);
      else if (g_str_equal (m, "iothread"))
        {
          if (JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_BOOLEAN)
            ok = (d->iothread = json_node_get_boolean (v) ? 1 : 0, TRUE);
          else if (JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_INT64)
            ok = gvd_json_field_uint (v, f, 1, GVD_DISK_MAX_IOTHREAD, &n, error) && ((d->iothread = n), TRUE);
          else
            ok = INVALID (error, "'%s' must be true, false or an iothread number from 1 to %d, "
                                 "not %s", f, GVD_DISK_MAX_IOTHREAD, gvd_json_type_name (v));
        }
      else if (g_str_equal (m, "boot_order"))
        ok = gvd_json_field_uint (v, f, 2, 64, &n, error) && ((d->boot_order = n), TRUE);
      else if (g_str_equal (m, "readonly"))
        ok = gvd_json_field_bool (v, f, &d->readonly, error);
      else if (g_str_equal (m, "serial"))
        ok = get_token (v, f, GVD_DISK_SERIAL_MAX, "._-", &d->serial, error);
      else if (g_str_equal (m, "keep"))
        ok = gvd_json_field_bool (v, f, &d->keep, error) && ((keep_set = TRUE), TRUE);
      else
        ok = INVALID (error, "unknown member '%s'", f);
      if (!ok)
        return NULL;
    }
  if (!check_disk (d, field, size_set, format_set, keep_set, error))
    return NULL;
  if (size_set && d->format == NULL)
    d->format = g_strdup ("qcow2");
  if (d->type != GVD_DISK_VOLUME)
    d->format = g_strdup ("raw");
  return g_steal_pointer (&d);
}

gboolean
gvd_disk_requests_parse (JsonNode *node, GPtrArray **out_disks, GError **error)
{
  g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_disk_spec_free);
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) boot = g_hash_table_new (NULL, NULL);
  JsonArray *array;
  guint n, scsi_iothread = 0;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return INVALID (error, "'disks' must be an array of objects, not %s", gvd_json_type_name (node));
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n > GVD_MAX_DATA_DISKS)
    return INVALID (error, "'disks' has %u entries; at most %d are allowed", n,
                    GVD_MAX_DATA_DISKS);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *field = g_strdup_printf ("disks[%u]", i);
      GvdDiskSpec *d = gvd_disk_request_parse (json_array_get_element (array, i), field, error);

      if (d == NULL)
        return FALSE;
      g_ptr_array_add (disks, d);
      if (!g_hash_table_add (names, d->name))
        return INVALID (error, "'disks[%u].name': '%s' is used twice", i, d->name);
      if (d->boot_order > 0 && !g_hash_table_add (boot, GUINT_TO_POINTER (d->boot_order)))
        return INVALID (error, "'disks[%u].boot_order': %u is used twice", i, d->boot_order);
      for (guint j = 0; d->volume != NULL && j < i; j++)
          if (g_strcmp0 (((GvdDiskSpec *) g_ptr_array_index (disks, j))->volume, d->volume) == 0)
            return INVALID (error, "'disks[%u].volume': '%s' is attached twice", i, d->volume);
      if (d->bus == GVD_DISK_BUS_SCSI && d->iothread > 0)
        {
          /* virtio-scsi disks share their controller, and its iothread. */
          if (scsi_iothread != 0 && scsi_iothread != d->iothread)
            return INVALID (error, "'disks[%u].iothread': SCSI disks share one controller and "
                                   "its iothread (%u)", i, scsi_iothread);
          scsi_iothread = d->iothread;
        }
    }
  g_clear_pointer (out_disks, g_ptr_array_unref);
  *out_disks = g_steal_pointer (&disks);
  return TRUE;
}

static gboolean
host_allowed (const GvdConfig *config, const char *host)
{
  for (gsize i = 0; config->network_disk_hosts != NULL && config->network_disk_hosts[i]; i++)
    if (g_ascii_strcasecmp (config->network_disk_hosts[i], host) == 0)
      return TRUE;
  return FALSE;
}

gboolean
gvd_disk_request_check_policy (const GvdDiskSpec *d, const char *field, const GvdConfig *config,
                               GError **error)
{
  const char *proto = d->type == GVD_DISK_NBD ? "nbd" : "rbd";
  g_autofree char *f = NULL;

  if (d->type != GVD_DISK_NBD && d->type != GVD_DISK_RBD)
    return TRUE;
  f = member_path (field, proto);
  if (config->network_disks == NULL
      || !g_strv_contains ((const char *const *) config->network_disks, proto))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
                   "'%s': %s disks are not enabled on this host ([storage] "
                   "network_disks)", f, proto);
      return FALSE;
    }
  /* QEMU connects from the host: without the allow-list a tenant could
   * make it reach any address the host can (SSRF). */
  if (!host_allowed (config, d->host))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
                   "'%s.%s': host '%s' is not in [storage] network_disk_hosts",
                   f, d->type == GVD_DISK_NBD ? "host" : "monitors[0]", d->host);
      return FALSE;
    }
  return TRUE;
}

gboolean
gvd_disk_requests_check_policy (GPtrArray *disks, const GvdConfig *config, GError **error)
{
  for (guint i = 0; disks != NULL && i < disks->len; i++)
    {
      g_autofree char *field = g_strdup_printf ("disks[%u]", i);

      if (!gvd_disk_request_check_policy (g_ptr_array_index (disks, i), field, config, error))
        return FALSE;
    }
  return TRUE;
}

char *
gvd_disk_volume_name (const char *domain_name, const char *disk, gboolean keep,
                      const char *format)
{
  return g_strdup_printf ("%s-%s-%s.%s", domain_name, keep ? "kept" : "disk", disk,
                          format != NULL ? format : "raw");
}

/* "<disk>.qcow2" or "<disk>.raw", the disk a name gpuvmd gave. */
static gboolean
is_disk_suffix (const char *s)
{
  const char *dot = strrchr (s, '.');

  if (dot == NULL || dot == s || (strcmp (dot, ".qcow2") != 0 && strcmp (dot, ".raw") != 0))
    return FALSE;
  for (const char *p = s; p < dot; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '_')
      return FALSE;
  return !g_str_has_prefix (s, "root.") && !g_str_has_prefix (s, "seed.");
}

gboolean
gvd_disk_volume_is_kept (const char *volume, const char *prefix)
{
  const char *mark;

  if (prefix == NULL || !g_str_has_prefix (volume, prefix))
    return FALSE;
  mark = g_strrstr (volume, "-kept-");
  return mark != NULL && mark >= volume + strlen (prefix) + 1 && is_disk_suffix (mark + 6);
}

char *
gvd_disk_volume_instance (const char *volume, const char *prefix)
{
  const char *mark;

  if (prefix == NULL || !g_str_has_prefix (volume, prefix))
    return NULL;
  /* Disk names hold no '-': the last "-disk-" ends the instance name. */
  mark = g_strrstr (volume, "-disk-");
  if (mark == NULL || mark < volume + strlen (prefix) + 1 || !is_disk_suffix (mark + 6))
    return NULL;
  return g_strndup (volume + strlen (prefix), mark - volume - strlen (prefix));
}

static char *
target_name (const char *prefix, guint index)
{
  char suffix[3] = { 0 };

  if (index < 26)
    suffix[0] = (char) ('a' + index);
  else
    {
      suffix[0] = (char) ('a' + index / 26 - 1);
      suffix[1] = (char) ('a' + index % 26);
    }
  return g_strconcat (prefix, suffix, NULL);
}

void
gvd_disk_specs_assign_targets (GPtrArray *disks)
{
  g_autoptr(GHashTable) used = g_hash_table_new (g_str_hash, g_str_equal);
  guint next_vd = 0, next_sd = 0;

  for (guint i = 0; i < disks->len; i++)
    {
      const GvdDiskSpec *d = g_ptr_array_index (disks, i);
      if (d->target != NULL)
        g_hash_table_add (used, d->target);
    }
  for (guint i = 0; i < disks->len; i++)
    {
      GvdDiskSpec *d = g_ptr_array_index (disks, i);
      gboolean vd = d->bus == GVD_DISK_BUS_VIRTIO;
      guint *next = vd ? &next_vd : &next_sd;

      while (d->target == NULL)
        {
          char *name = target_name (vd ? "vd" : "sd", (*next)++);

          if (g_hash_table_contains (used, name))
            g_free (name);
          else
            {
              d->target = name;
              g_hash_table_add (used, name);
            }
        }
    }
}

gboolean
gvd_resize_request_parse (JsonObject *body, guint64 *out_root_gib, GHashTable **out_disks,
                          GError **error)
{
  g_autoptr(GHashTable) disks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GList) members = json_object_get_members (body);
  guint64 root = 0;

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (body, m);

      if (g_str_equal (m, "root_disk_gib"))
        {
          if (!gvd_json_field_uint (v, m, GVD_DISK_MIN_GIB, GVD_DISK_MAX_GIB, &root, error))
            return FALSE;
        }
      else if (g_str_equal (m, "disks"))
        {
          JsonObject *obj;
          g_autoptr(GList) names = NULL;

          if (!JSON_NODE_HOLDS_OBJECT (v))
            return INVALID (error, "'disks' must be an object {\"NAME\": size_gib}, not %s",
                            gvd_json_type_name (v));
          obj = json_node_get_object (v);
          if (json_object_get_size (obj) > GVD_MAX_DATA_DISKS)
            return INVALID (error, "'disks' names more than %d disks", GVD_MAX_DATA_DISKS);
          names = json_object_get_members (obj);
          for (GList *k = names; k != NULL; k = k->next)
            {
              g_autofree char *f = g_strdup_printf ("disks.%s", (const char *) k->data);
              guint64 *gib = g_new0 (guint64, 1);

              if (strlen (k->data) > GVD_DISK_NAME_MAX
                  || !gvd_json_field_uint (json_object_get_member (obj, k->data), f, GVD_DISK_MIN_GIB,
                                GVD_DISK_MAX_GIB, gib, error))
                {
                  if (error != NULL && *error == NULL)
                    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                                 "'disks': a disk name has at most %d bytes", GVD_DISK_NAME_MAX);
                  g_free (gib);
                  return FALSE;
                }
              g_hash_table_replace (disks, g_strdup (k->data), gib);
            }
        }
      else
        return INVALID (error, "unknown member '%s' (root_disk_gib, disks)", m);
    }
  if (root == 0 && g_hash_table_size (disks) == 0)
    return INVALID (error, "give 'root_disk_gib' or 'disks' (the new sizes in GiB)");
  *out_root_gib = root;
  g_clear_pointer (out_disks, g_hash_table_unref);
  *out_disks = g_steal_pointer (&disks);
  return TRUE;
}
