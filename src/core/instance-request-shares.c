/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The "shares" and "memory" members of a create request (pure): host
 * directories shared into the guest (virtiofs or 9p) and hugepage-backed
 * memory. Whether a source may be shared is the host's question
 * (instance-build-shares.c); here only its form is checked. */
#include "config.h"

#include "instance-request.h"

#include <string.h>

#include "domain-xml.h"
#include "errors.h"
#include "json-field.h"
#include "hugepages.h"

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

/* Longest share source and mount point. */
#define SHARE_PATH_MAX 1024
#define MOUNT_POINT_MAX 256

/* Absolute, no empty, "." or ".." component, no trailing '/'. */
static gboolean
normalised_abs_path (const char *s)
{
  g_auto(GStrv) parts = NULL;

  if (s[0] != '/' || (s[1] != '\0' && g_str_has_suffix (s, "/")))
    return FALSE;
  if (s[1] == '\0')
    return TRUE;
  parts = g_strsplit (s + 1, "/", -1);
  for (gsize i = 0; parts[i] != NULL; i++)
    if (parts[i][0] == '\0' || g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

/* Guest directories a share must not hide: the system's own, and the
 * places cloud-init and logins need. */
static const char *const guest_system_dirs[] = {
  "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
  "/root", "/run", "/sbin", "/sys", "/usr", "/var",
};
static const char *const guest_exact_dirs[] = { "/", "/home", "/tmp", "/mnt", "/media", "/srv",
                                                "/opt" };

static gboolean
check_mount_point (const char *field, const char *mp, GError **error)
{
  if (!normalised_abs_path (mp))
    return INVALID (error, "'%s': '%s' is not a normalised absolute path (like /mnt/data)",
                    field, mp);
  /* fstab fields are separated by blanks and cloud-init writes them as
   * they are: a conservative character set keeps the line one line. */
  for (const char *p = mp; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("/._-+@", *p) == NULL)
      return INVALID (error, "'%s': '%s' may hold only letters, digits and / . _ - + @", field,
                      mp);
  for (gsize i = 0; i < G_N_ELEMENTS (guest_exact_dirs); i++)
    if (g_str_equal (mp, guest_exact_dirs[i]))
      return INVALID (error, "'%s': mounting over %s would hide it; name a directory below it "
                             "(like /mnt/data)", field, mp);
  for (gsize i = 0; i < G_N_ELEMENTS (guest_system_dirs); i++)
    {
      const char *d = guest_system_dirs[i];
      gsize n = strlen (d);

      if (strncmp (mp, d, n) == 0 && (mp[n] == '\0' || mp[n] == '/'))
        return INVALID (error, "'%s': '%s' is in the guest's system directory %s; use /mnt, "
                               "/srv, /data or /home/...", field, mp, d);
    }
  return TRUE;
}

/* Letters, digits, '.', '_', '-', starting with a letter or digit: a QEMU
 * device property, a guest fstab field and a mount(8) argument. */
static gboolean
check_tag (const char *field, const char *tag, gboolean virtiofs, GError **error)
{
  gsize max = virtiofs ? GVD_SHARE_TAG_MAX_VIRTIOFS : GVD_SHARE_TAG_MAX_9P;

  if (strlen (tag) > max)
    return INVALID (error, "'%s': a %s mount tag is at most %zu bytes", field,
                    virtiofs ? "virtiofs" : "9p", max);
  if (!g_ascii_isalnum (tag[0]))
    return INVALID (error, "'%s' must start with a letter or digit", field);
  for (const char *p = tag; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
      return INVALID (error, "'%s' may hold only letters, digits, '.', '_' and '-'", field);
  return TRUE;
}

static gboolean
parse_share (JsonNode *node, guint index, GvdShareSpec **out, GError **error)
{
  g_autoptr(GvdShareSpec) s = gvd_share_spec_new ();
  g_autoptr(GList) members = NULL;
  g_autofree char *prefix = g_strdup_printf ("shares[%u]", index);
  g_autofree char *type = NULL;
  gboolean readonly_set = FALSE;
  JsonObject *obj;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'%s' must be an object {\"source\", \"tag\", ...}", prefix);
  obj = json_node_get_object (node);
  s->readonly = TRUE;
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;
      JsonNode *v = json_object_get_member (obj, m);
      g_autofree char *field = g_strdup_printf ("%s.%s", prefix, m);
      gboolean ok;

      if (g_str_equal (m, "source"))
        ok = gvd_json_field_string (v, field, SHARE_PATH_MAX, FALSE, &s->source_dir, error)
             && (normalised_abs_path (s->source_dir)
                 || INVALID (error, "'%s': '%s' is not a normalised absolute host path", field,
                             s->source_dir));
      else if (g_str_equal (m, "tag"))
        ok = gvd_json_field_string (v, field, 64, FALSE, &s->tag, error);
      else if (g_str_equal (m, "type"))
        ok = gvd_json_field_string (v, field, 16, FALSE, &type, error);
      else if (g_str_equal (m, "readonly"))
        ok = gvd_json_field_bool (v, field, &s->readonly, error) && (readonly_set = TRUE);
      else if (g_str_equal (m, "mount_point"))
        ok = gvd_json_field_string (v, field, MOUNT_POINT_MAX, FALSE, &s->mount_point, error)
             && check_mount_point (field, s->mount_point, error);
      else
        ok = INVALID (error, "unknown member '%s' (source, tag, type, readonly, mount_point)",
                      field);
      if (!ok)
        return FALSE;
    }
  if (s->source_dir == NULL)
    return INVALID (error, "'%s.source' is required: a host directory below [host] share_dirs",
                    prefix);
  if (s->tag == NULL)
    return INVALID (error, "'%s.tag' is required: the name the guest mounts it by", prefix);
  if (type == NULL || g_str_equal (type, "9p"))
    s->virtiofs = FALSE;
  else if (g_str_equal (type, "virtiofs"))
    s->virtiofs = TRUE;
  else
    return INVALID (error, "'%s.type' must be virtiofs or 9p, not '%s'", prefix, type);
  {
    g_autofree char *tfield = g_strdup_printf ("%s.tag", prefix);
    if (!check_tag (tfield, s->tag, s->virtiofs, error))
      return FALSE;
  }
  /* libvirt 9.0 cannot make virtiofs read-only (virtiofsd has no such mode
   * there): a virtiofs share is writable, and must say so. */
  if (s->virtiofs && s->readonly)
    return INVALID (error, "'%s.readonly': a virtiofs share cannot be read-only here (libvirt "
                           "9.0, QEMU 7.2's virtiofsd); use type 9p for a read-only share, or "
                           "set readonly: false below [host] share_dirs_writable%s", prefix,
                    readonly_set ? "" : " (readonly defaults to true)");
  *out = g_steal_pointer (&s);
  return TRUE;
}

gboolean
gvd_create_request_parse_shares (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  g_autoptr(GPtrArray) shares =
    g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_share_spec_free);
  g_autoptr(GHashTable) tags = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) mounts = g_hash_table_new (g_str_hash, g_str_equal);
  JsonArray *array;
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return INVALID (error, "'shares' must be an array of objects");
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if (n > GVD_DOMAIN_XML_MAX_SHARES)
    return INVALID (error, "'shares' has %u entries; at most %d are allowed", n,
                    GVD_DOMAIN_XML_MAX_SHARES);
  for (guint i = 0; i < n; i++)
    {
      GvdShareSpec *s = NULL;

      if (!parse_share (json_array_get_element (array, i), i, &s, error))
        return FALSE;
      g_ptr_array_add (shares, s);
      if (!g_hash_table_add (tags, s->tag))
        return INVALID (error, "'shares[%u].tag': '%s' is used by another share", i, s->tag);
      if (s->mount_point != NULL && !g_hash_table_add (mounts, s->mount_point))
        return INVALID (error, "'shares[%u].mount_point': '%s' is used by another share", i,
                        s->mount_point);
    }
  g_clear_pointer (&req->shares, g_ptr_array_unref);
  req->shares = g_steal_pointer (&shares);
  return TRUE;
}

/* {"hugepages": "2M"|"1G"}; the size stays memory_mib. */
gboolean
gvd_create_request_parse_memory (JsonNode *node, GvdCreateRequest *req, GError **error)
{
  g_autoptr(GList) members = NULL;
  JsonObject *obj;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return INVALID (error, "'memory' must be an object like {\"hugepages\": \"2M\"}");
  obj = json_node_get_object (node);
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *m = l->data;

      if (g_str_equal (m, "hugepages"))
        {
          g_autofree char *size = NULL;

          if (!gvd_json_field_string (json_object_get_member (obj, m), "memory.hugepages", 8, FALSE, &size, error))
            return FALSE;
          req->hugepage_kib = gvd_hugepage_size_from_name (size);
          if (req->hugepage_kib == 0)
            return INVALID (error, "'memory.hugepages' must be \"2M\" or \"1G\", not '%s'", size);
        }
      else
        return INVALID (error, "unknown member 'memory.%s' (hugepages; the size is memory_mib)",
                        m);
    }
  return TRUE;
}
