/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A create's "shares" and "memory" on this host: which directories the
 * operator lets guests see (and write), and whether the host has the
 * hugepages the guest's RAM needs; plus how both show in instance JSON. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include "host-file.h"
#include "host-hugepages.h"
#include "hugepages.h"

/* Hugepages promised to a create in flight: free_hugepages does not count
 * them until its domain starts. */
typedef struct {
  guint page_kib;
  int node;       /* -1: anywhere on the host */
  guint64 pages;
} HugepageHold;

/* Every share source is a directory at or below [host] share_dirs (or
 * share_dirs_writable), reached without symlinks; a writable one only
 * below share_dirs_writable. */
static gboolean
check_share_source (const GvdConfig *c, const GvdShareSpec *s, guint index, GError **error)
{
  g_autofree char *field = g_strdup_printf ("'shares[%u].source'", index);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) readable = NULL;
  g_autoptr(GError) local_error = NULL;

  if (c->share_dirs != NULL)
    g_strv_builder_addv (b, (const char **) c->share_dirs);
  if (c->share_dirs_writable != NULL)
    g_strv_builder_addv (b, (const char **) c->share_dirs_writable);
  readable = g_strv_builder_end (b);
  if (readable[0] == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
                   "%s: this host shares no directories ([host] share_dirs is empty)", field);
      return FALSE;
    }
  if (!gvd_host_dir_check ((const char *const *) readable, "[host] share_dirs", s->source_dir,
                           field, error))
    return FALSE;
  if (s->readonly)
    return TRUE;
  if (!gvd_host_dir_check ((const char *const *) c->share_dirs_writable,
                           "[host] share_dirs_writable", s->source_dir, field, &local_error))
    {
      g_set_error (error, GVD_ERROR, local_error->code,
                   "'shares[%u].readonly': false needs a writable share directory: %s", index,
                   local_error->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
gvd_instance_build_shares (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                           GvdInstanceSpec *spec, GError **error)
{
  for (guint i = 0; req->shares != NULL && i < req->shares->len; i++)
    {
      const GvdShareSpec *r = g_ptr_array_index (req->shares, i);
      GvdShareSpec *s;

      if (!check_share_source (mgr->d->config, r, i, error))
        return FALSE;
      s = gvd_share_spec_new ();
      s->tag = g_strdup (r->tag);
      s->source_dir = g_strdup (r->source_dir);
      s->virtiofs = r->virtiofs;
      s->readonly = r->readonly;
      s->mount_point = g_strdup (r->mount_point);
      g_ptr_array_add (spec->shares, s);
    }
  return TRUE;
}

/* Pages of @page_kib held for other creates that may come from @node. */
static guint64
promised_pages (GvdInstanceManager *mgr, guint page_kib, int node)
{
  GHashTableIter iter;
  gpointer value;
  guint64 total = 0;

  if (mgr->hugepage_holds == NULL)
    return 0;
  g_hash_table_iter_init (&iter, mgr->hugepage_holds);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const HugepageHold *h = value;

      if (h->page_kib == page_kib && (node < 0 || h->node < 0 || h->node == node))
        total += h->pages;
    }
  return total;
}

gboolean
gvd_instance_build_memory (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                           GvdInstanceSpec *spec, GError **error)
{
  guint64 needed, free_pages;
  HugepageHold *hold;

  if (req->hugepage_kib == 0)
    return TRUE;
  if (!gvd_hugepages_needed ("memory.hugepages", spec->memory_mib, req->hugepage_kib, &needed,
                             error))
    return FALSE;
  /* spec->numa_node is the GPUs' node when the plan has one: numatune
   * binds the memory there (strict), so that node's pages are what count. */
  if (!gvd_host_hugepages_free (mgr->d->host_root, req->hugepage_kib, spec->numa_node,
                                &free_pages, error)
      || !gvd_hugepages_check_free ("memory.hugepages", req->hugepage_kib, needed, free_pages,
                                    promised_pages (mgr, req->hugepage_kib, spec->numa_node),
                                    spec->numa_node, error))
    return FALSE;
  spec->hugepage_kib = req->hugepage_kib;
  if (req->dry_run)
    return TRUE;
  if (mgr->hugepage_holds == NULL)
    mgr->hugepage_holds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  hold = g_new0 (HugepageHold, 1);
  hold->page_kib = req->hugepage_kib;
  hold->node = spec->numa_node;
  hold->pages = needed;
  g_hash_table_replace (mgr->hugepage_holds, g_strdup (spec->name), hold);
  return TRUE;
}

void
gvd_instance_release_hugepages (GvdInstanceManager *mgr, const char *name)
{
  if (mgr->hugepage_holds != NULL)
    g_hash_table_remove (mgr->hugepage_holds, name);
}

void
gvd_instance_write_shares_json (const GvdInstanceSpec *s, JsonBuilder *b)
{
  json_builder_set_member_name (b, "memory");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mib");
  json_builder_add_int_value (b, s->memory_mib);
  json_builder_set_member_name (b, "hugepages");
  if (gvd_hugepage_size_name (s->hugepage_kib) != NULL)
    json_builder_add_string_value (b, gvd_hugepage_size_name (s->hugepage_kib));
  else if (s->hugepage_kib != 0)
    json_builder_add_string_value (b, "default"); /* a size set outside gpuvmd */
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "numa_node");
  if (s->numa_node >= 0)
    json_builder_add_int_value (b, s->numa_node);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "shares");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->shares->len; i++)
    {
      const GvdShareSpec *sh = g_ptr_array_index (s->shares, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "source");
      json_builder_add_string_value (b, sh->source_dir);
      json_builder_set_member_name (b, "tag");
      json_builder_add_string_value (b, sh->tag);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, sh->virtiofs ? "virtiofs" : "9p");
      json_builder_set_member_name (b, "readonly");
      json_builder_add_boolean_value (b, sh->readonly);
      json_builder_set_member_name (b, "mount_point");
      if (sh->mount_point != NULL)
        json_builder_add_string_value (b, sh->mount_point);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}
