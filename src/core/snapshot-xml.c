/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk snapshots as data: the chain in gpuvmd's domain metadata
 * (<gpuvmd:snapshots><gpuvmd:snapshot name= volume= nvram-volume=
 * created-at= deleted=/>) and the root disk's switch to a new top. */
#include "config.h"

#include "snapshot-xml.h"

#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "domain-xml.h"
#include "domain-xml-xpath.h"
#include "xml-util.h"

GvdSnapshot *
gvd_snapshot_new (const char *name, const char *volume, const char *nvram_volume,
                  const char *created_at)
{
  GvdSnapshot *snap = g_new0 (GvdSnapshot, 1);

  snap->name = g_strdup (name);
  snap->volume = g_strdup (volume);
  snap->nvram_volume = g_strdup (nvram_volume);
  snap->created_at = g_strdup (created_at);
  return snap;
}

void
gvd_snapshot_free (GvdSnapshot *snap)
{
  if (snap == NULL)
    return;
  g_free (snap->name);
  g_free (snap->volume);
  g_free (snap->nvram_volume);
  g_free (snap->created_at);
  g_free (snap);
}

gboolean
gvd_snapshot_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL || !(g_ascii_islower (name[0]) || g_ascii_isdigit (name[0])))
    return FALSE;
  len = strlen (name);
  if (len > 63)
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!g_ascii_islower (name[i]) && !g_ascii_isdigit (name[i]) && name[i] != '.'
        && name[i] != '_' && name[i] != '-')
      return FALSE;
  return TRUE;
}

char *
gvd_snapshot_top_volume (const char *domain_name, const char *snap)
{
  return g_strdup_printf ("%s-snap-%s.qcow2", domain_name, snap);
}

char *
gvd_snapshot_nvram_volume (const char *domain_name, const char *snap)
{
  return g_strdup_printf ("%s-snap-%s.nvram", domain_name, snap);
}

char *
gvd_snapshot_current_top (const char *domain_name, GPtrArray *chain)
{
  if (chain == NULL || chain->len == 0)
    return g_strdup_printf ("%s-root.qcow2", domain_name);
  return gvd_snapshot_top_volume (
    domain_name, ((GvdSnapshot *) g_ptr_array_index (chain, chain->len - 1))->name);
}

int
gvd_snapshot_chain_find (GPtrArray *chain, const char *name)
{
  for (guint i = 0; i < chain->len; i++)
    if (g_strcmp0 (((GvdSnapshot *) g_ptr_array_index (chain, i))->name, name) == 0)
      return (int) i;
  return -1;
}

static xmlXPathContextPtr
new_context (xmlDocPtr doc)
{
  xmlXPathContextPtr ctx = xmlXPathNewContext (doc);

  xmlXPathRegisterNs (ctx, BAD_CAST "g", BAD_CAST GVD_DOMAIN_XML_NS);
  return ctx;
}

#define SNAPSHOTS_XPATH "/domain/metadata/g:instance/g:snapshots"

GPtrArray *
gvd_snapshot_chain_parse (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_snapshot_free);
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = new_context (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc), SNAPSHOTS_XPATH "/g:snapshot", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      xmlNodePtr n = set->nodeTab[i];
      g_autofree char *name = gvd_xp_str (ctx, n, "@name");
      g_autofree char *volume = gvd_xp_str (ctx, n, "@volume");
      g_autofree char *nvram = gvd_xp_str (ctx, n, "@nvram-volume");
      g_autofree char *created = gvd_xp_str (ctx, n, "@created-at");
      g_autofree char *deleted = gvd_xp_str (ctx, n, "@deleted");
      GvdSnapshot *snap;

      if (!gvd_snapshot_name_is_valid (name) || volume == NULL || i >= GVD_SNAPSHOT_MAX)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "snapshot %d in the domain's metadata is malformed", i);
          return NULL;
        }
      snap = gvd_snapshot_new (name, volume, nvram, created);
      snap->deleted = g_strcmp0 (deleted, "yes") == 0;
      g_ptr_array_add (chain, snap);
    }
  return g_steal_pointer (&chain);
}

char *
gvd_snapshot_nvram_path (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  char *path;

  if (doc == NULL)
    return NULL;
  ctx = new_context (doc);
  path = gvd_xp_str (ctx, xmlDocGetRootElement (doc), "/domain/os/nvram");
  if (path != NULL)
    return g_strstrip (path);
  /* libvirt 9.0 picks UEFI firmware at start, so an inactive definition
   * with firmware='efi' names no <nvram>: the file is then libvirt's
   * default, "<nvram_dir>/<domain>_VARS.fd" (qemuDomainNVRAMPathFormat). */
  if (gvd_xp_exists (ctx, xmlDocGetRootElement (doc), "/domain/os[@firmware='efi']"))
    {
      g_autofree char *name = gvd_xp_str (ctx, xmlDocGetRootElement (doc), "/domain/name");

      if (name != NULL && strchr (name, '/') == NULL && !g_str_equal (name, "..")
          && !g_str_equal (name, "."))
        return g_strdup_printf ("%s/%s_VARS.fd", GVD_LIBVIRT_NVRAM_DIR, name);
    }
  return NULL;
}

static void
render_chain (xmlNodePtr inst, GPtrArray *chain)
{
  xmlNsPtr ns = xmlSearchNsByHref (inst->doc, inst, BAD_CAST GVD_DOMAIN_XML_NS);
  xmlNodePtr list = xmlNewChild (inst, ns, BAD_CAST "snapshots", NULL);

  for (guint i = 0; i < chain->len; i++)
    {
      const GvdSnapshot *s = g_ptr_array_index (chain, i);
      xmlNodePtr e = xmlNewChild (list, ns, BAD_CAST "snapshot", NULL);

      xmlNewProp (e, BAD_CAST "name", BAD_CAST s->name);
      xmlNewProp (e, BAD_CAST "volume", BAD_CAST s->volume);
      if (s->nvram_volume != NULL)
        xmlNewProp (e, BAD_CAST "nvram-volume", BAD_CAST s->nvram_volume);
      if (s->created_at != NULL)
        xmlNewProp (e, BAD_CAST "created-at", BAD_CAST s->created_at);
      if (s->deleted)
        xmlNewProp (e, BAD_CAST "deleted", BAD_CAST "yes");
    }
}

char *
gvd_snapshot_chain_apply (const char *xml, const char *pool, const char *old_top,
                          const char *new_top, GPtrArray *chain, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodePtr root, source = NULL, inst, old;
  xmlNodeSetPtr set;
  xmlChar *out = NULL;
  int len = 0;
  char *result;

  if (doc == NULL)
    return NULL;
  ctx = new_context (doc);
  root = xmlDocGetRootElement (doc);
  /* Compared in C, not spliced into the XPath: names never become syntax. */
  set = gvd_xp_nodes (ctx, root, "/domain/devices/disk[@type='volume'][@device='disk']/source", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr && source == NULL; i++)
    {
      g_autofree char *p = gvd_xp_str (ctx, set->nodeTab[i], "@pool");
      g_autofree char *v = gvd_xp_str (ctx, set->nodeTab[i], "@volume");

      if (g_strcmp0 (p, pool) == 0 && g_strcmp0 (v, old_top) == 0)
        source = set->nodeTab[i];
    }
  inst = gvd_xp_first (ctx, root, "/domain/metadata/g:instance");
  if (source == NULL || inst == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                   "the domain has no root disk on volume '%s' of pool '%s'", old_top, pool);
      return NULL;
    }
  xmlSetProp (source, BAD_CAST "volume", BAD_CAST new_top);
  while ((old = gvd_xp_first (ctx, root, SNAPSHOTS_XPATH)) != NULL)
    {
      xmlUnlinkNode (old);
      xmlFreeNode (old);
    }
  if (chain->len > 0)
    render_chain (inst, chain);
  xmlDocDumpMemoryEnc (doc, &out, &len, "UTF-8");
  result = g_strndup ((const char *) out, len);
  xmlFree (out);
  return result;
}

char *
gvd_snapshot_chain_into_metadata (const char *metadata, GPtrArray *chain, GError **error)
{
  g_autoptr(xmlDoc) doc = NULL;
  xmlBufferPtr buf;
  xmlNodePtr root, next;
  char *out;

  g_return_val_if_fail (metadata != NULL && chain != NULL, NULL);
  doc = xmlReadMemory (metadata, (int) strlen (metadata), "metadata.xml", NULL,
                       XML_PARSE_NONET);
  root = doc != NULL ? xmlDocGetRootElement (doc) : NULL;
  if (root == NULL || root->ns == NULL
      || !xmlStrEqual (root->ns->href, BAD_CAST GVD_DOMAIN_XML_NS)
      || !xmlStrEqual (root->name, BAD_CAST "instance"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "not gpuvmd's metadata element");
      return NULL;
    }
  for (xmlNodePtr n = root->children; n != NULL; n = next)
    {
      next = n->next;
      if (n->type == XML_ELEMENT_NODE && n->ns != NULL
          && xmlStrEqual (n->ns->href, BAD_CAST GVD_DOMAIN_XML_NS)
          && xmlStrEqual (n->name, BAD_CAST "snapshots"))
        {
          xmlUnlinkNode (n);
          xmlFreeNode (n);
        }
    }
  if (chain->len > 0)
    render_chain (root, chain);
  buf = xmlBufferCreate ();
  if (buf == NULL || xmlNodeDump (buf, doc, root, 0, 0) < 0)
    {
      if (buf != NULL)
        xmlBufferFree (buf);
      g_set_error (error, GVD_ERROR, GVD_ERROR_INTERNAL, "cannot serialise the metadata");
      return NULL;
    }
  out = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return out;
}

void
gvd_snapshot_write_json (const GvdSnapshot *snap, JsonBuilder *b)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, snap->name);
  json_builder_set_member_name (b, "volume");
  json_builder_add_string_value (b, snap->volume);
  json_builder_set_member_name (b, "nvram_volume");
  if (snap->nvram_volume != NULL)
    json_builder_add_string_value (b, snap->nvram_volume);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "created_at");
  json_builder_add_string_value (b, snap->created_at != NULL ? snap->created_at : "");
  json_builder_end_object (b);
}
