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
  g_free (snap->consistency);
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
gvd_snapshot_fresh_top (const char *domain_name, const char *snap, const char *const *taken)
{
  g_autofree char *top = gvd_snapshot_top_volume (domain_name, snap);

  if (taken == NULL || !g_strv_contains (taken, top))
    return g_steal_pointer (&top);
  return g_strdup_printf ("%s-snap-%s-R.qcow2", domain_name, snap);
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
      g_autofree char *consistency = gvd_xp_str (ctx, n, "@consistency");
      GvdSnapshot *snap;

      if (!gvd_snapshot_name_is_valid (name) || volume == NULL || i >= GVD_SNAPSHOT_MAX
          || (consistency != NULL && !g_str_equal (consistency, GVD_SNAPSHOT_CONSISTENCY_FILESYSTEM)
              && !g_str_equal (consistency, GVD_SNAPSHOT_CONSISTENCY_CRASH)))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "snapshot %d in the domain's metadata is malformed", i);
          return NULL;
        }
      snap = gvd_snapshot_new (name, volume, nvram, created);
      snap->deleted = g_strcmp0 (deleted, "yes") == 0;
      snap->consistency = g_steal_pointer (&consistency);
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
      if (s->consistency != NULL)
        xmlNewProp (e, BAD_CAST "consistency", BAD_CAST s->consistency);
    }
}

/* The <disk> element of @root's root disk: gpuvmd boots from it first
 * (instance-build.c), data disks never get that order. */
static xmlNodePtr
root_disk (xmlXPathContextPtr ctx, xmlNodePtr root)
{
  return gvd_xp_first (ctx, root, "/domain/devices/disk[@device='disk'][boot/@order='1']");
}

/* The volume name @disk (type 'volume' in @pool, or a live snapshot's
 * type 'file') has, or NULL. */
static char *
disk_volume (xmlXPathContextPtr ctx, xmlNodePtr disk, const char *pool)
{
  g_autofree char *type = gvd_xp_str (ctx, disk, "@type");

  if (g_strcmp0 (type, "volume") == 0)
    {
      g_autofree char *p = gvd_xp_str (ctx, disk, "source/@pool");

      return g_strcmp0 (p, pool) == 0 ? gvd_xp_str (ctx, disk, "source/@volume") : NULL;
    }
  if (g_strcmp0 (type, "file") == 0)
    {
      /* A live snapshot's overlay is a volume of the pool its backing
       * layers are in, and a dir pool names a volume as its file. */
      g_autofree char *p = gvd_xp_str (ctx, disk, "descendant::backingStore[@type='volume'][1]/source/@pool");
      g_autofree char *file = gvd_xp_str (ctx, disk, "source/@file");

      if (file != NULL && (p == NULL || g_strcmp0 (p, pool) == 0))
        return g_path_get_basename (file);
    }
  return NULL;
}

char *
gvd_snapshot_root_volume (const char *xml, const char *pool)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, NULL);
  g_autoptr(xmlXPathContext) ctx = NULL;
  xmlNodePtr disk;

  if (doc == NULL)
    return NULL;
  ctx = new_context (doc);
  disk = root_disk (ctx, xmlDocGetRootElement (doc));
  return disk != NULL ? disk_volume (ctx, disk, pool) : NULL;
}

#define UNUSED_XPATH "/domain/metadata/g:instance/g:unused-volumes"

char **
gvd_snapshot_unused_parse (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GStrvBuilder) out = g_strv_builder_new ();
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = new_context (doc);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc), UNUSED_XPATH "/g:volume", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr && i < 2 * GVD_SNAPSHOT_MAX + 2; i++)
    {
      g_autofree char *name = gvd_xp_str (ctx, set->nodeTab[i], "@name");

      if (name != NULL)
        g_strv_builder_add (out, name);
    }
  return g_strv_builder_end (out);
}

static char *
dump (xmlDocPtr doc)
{
  xmlChar *out = NULL;
  int len = 0;
  char *result;

  xmlDocDumpMemoryEnc (doc, &out, &len, "UTF-8");
  result = g_strndup ((const char *) out, len);
  xmlFree (out);
  return result;
}

char *
gvd_snapshot_unused_set (const char *xml, const char *const *volumes, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  xmlNodePtr inst, old, list;
  xmlNsPtr ns;

  if (doc == NULL)
    return NULL;
  ctx = new_context (doc);
  inst = gvd_xp_first (ctx, xmlDocGetRootElement (doc), "/domain/metadata/g:instance");
  if (inst == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "the domain has no gpuvmd metadata");
      return NULL;
    }
  while ((old = gvd_xp_first (ctx, xmlDocGetRootElement (doc), UNUSED_XPATH)) != NULL)
    {
      xmlUnlinkNode (old);
      xmlFreeNode (old);
    }
  if (volumes != NULL && volumes[0] != NULL)
    {
      ns = xmlSearchNsByHref (doc, inst, BAD_CAST GVD_DOMAIN_XML_NS);
      list = xmlNewChild (inst, ns, BAD_CAST "unused-volumes", NULL);
      for (guint i = 0; volumes[i] != NULL; i++)
        xmlNewProp (xmlNewChild (list, ns, BAD_CAST "volume", NULL), BAD_CAST "name",
                    BAD_CAST volumes[i]);
    }
  return dump (doc);
}

char *
gvd_snapshot_chain_apply (const char *xml, const char *pool, const char *old_top,
                          const char *new_top, GPtrArray *chain, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodePtr root, disk = NULL, source, inst, old;
  xmlNodeSetPtr set;

  if (doc == NULL)
    return NULL;
  ctx = new_context (doc);
  root = xmlDocGetRootElement (doc);
  /* Compared in C, not spliced into the XPath: names never become syntax. */
  set = gvd_xp_nodes (ctx, root, "/domain/devices/disk[@device='disk'][source]", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr && disk == NULL; i++)
    {
      g_autofree char *v = disk_volume (ctx, set->nodeTab[i], pool);

      if (g_strcmp0 (v, old_top) == 0)
        disk = set->nodeTab[i];
    }
  inst = gvd_xp_first (ctx, root, "/domain/metadata/g:instance");
  if (disk == NULL || inst == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                   "the domain has no root disk on volume '%s' of pool '%s'", old_top, pool);
      return NULL;
    }
  /* A live snapshot leaves a file disk with its backing chain: back to
   * gpuvmd's form, a pool volume whose chain libvirt reads from the image. */
  while ((old = gvd_xp_first (ctx, disk, "backingStore")) != NULL)
    {
      xmlUnlinkNode (old);
      xmlFreeNode (old);
    }
  xmlSetProp (disk, BAD_CAST "type", BAD_CAST "volume");
  source = gvd_xp_first (ctx, disk, "source");
  xmlUnsetProp (source, BAD_CAST "file");
  xmlUnsetProp (source, BAD_CAST "index");
  xmlSetProp (source, BAD_CAST "pool", BAD_CAST pool);
  xmlSetProp (source, BAD_CAST "volume", BAD_CAST new_top);
  while ((old = gvd_xp_first (ctx, root, SNAPSHOTS_XPATH)) != NULL)
    {
      xmlUnlinkNode (old);
      xmlFreeNode (old);
    }
  if (chain->len > 0)
    render_chain (inst, chain);
  return dump (doc);
}

char *
gvd_snapshot_live_xml (const char *live_xml, const char *pool, const char *top,
                       const char *new_path, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (live_xml, error);
  g_autoptr(xmlDoc) out = NULL;
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodePtr disks;
  xmlNodeSetPtr set;
  gboolean found = FALSE;

  if (doc == NULL)
    return NULL;
  ctx = new_context (doc);
  out = xmlNewDoc (BAD_CAST "1.0");
  xmlDocSetRootElement (out, xmlNewNode (NULL, BAD_CAST "domainsnapshot"));
  disks = xmlNewChild (xmlDocGetRootElement (out), NULL, BAD_CAST "disks", NULL);
  set = gvd_xp_nodes (ctx, xmlDocGetRootElement (doc), "/domain/devices/disk[target/@dev]", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *dev = gvd_xp_str (ctx, set->nodeTab[i], "target/@dev");
      g_autofree char *device = gvd_xp_str (ctx, set->nodeTab[i], "@device");
      g_autofree char *volume = disk_volume (ctx, set->nodeTab[i], pool);
      xmlNodePtr d = xmlNewChild (disks, NULL, BAD_CAST "disk", NULL);

      xmlNewProp (d, BAD_CAST "name", BAD_CAST dev);
      if (!found && g_strcmp0 (device, "disk") == 0 && g_strcmp0 (volume, top) == 0)
        {
          found = TRUE;
          xmlNewProp (d, BAD_CAST "snapshot", BAD_CAST "external");
          xmlNewProp (d, BAD_CAST "type", BAD_CAST "file");
          xmlNewProp (xmlNewChild (d, NULL, BAD_CAST "driver", NULL), BAD_CAST "type",
                      BAD_CAST "qcow2");
          xmlNewProp (xmlNewChild (d, NULL, BAD_CAST "source", NULL), BAD_CAST "file",
                      BAD_CAST new_path);
        }
      else
        xmlNewProp (d, BAD_CAST "snapshot", BAD_CAST "no");
    }
  if (!found)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                   "the running domain has no root disk on volume '%s' of pool '%s'", top, pool);
      return NULL;
    }
  return dump (out);
}

char *
gvd_snapshot_chain_into_metadata (const char *metadata, GPtrArray *chain,
                                  const char *const *unused, GError **error)
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
          && (xmlStrEqual (n->name, BAD_CAST "snapshots")
              || xmlStrEqual (n->name, BAD_CAST "unused-volumes")))
        {
          xmlUnlinkNode (n);
          xmlFreeNode (n);
        }
    }
  if (chain->len > 0)
    render_chain (root, chain);
  if (unused != NULL && unused[0] != NULL)
    {
      xmlNodePtr list = xmlNewChild (root, root->ns, BAD_CAST "unused-volumes", NULL);

      for (guint i = 0; unused[i] != NULL; i++)
        xmlNewProp (xmlNewChild (list, root->ns, BAD_CAST "volume", NULL), BAD_CAST "name",
                    BAD_CAST unused[i]);
    }
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
  json_builder_set_member_name (b, "consistency");
  json_builder_add_string_value (b, snap->consistency != NULL ? snap->consistency
                                                              : GVD_SNAPSHOT_CONSISTENCY_STOPPED);
  json_builder_end_object (b);
}
