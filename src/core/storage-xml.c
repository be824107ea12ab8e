/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Storage as data: base images and their JSON, volume names, pool and
 * volume XML (libxml2) and image format detection. Pure: libvirt sees
 * this XML through src/virt/storage*.c, which initialises libxml2 before
 * any worker thread calls in here. */
#include "config.h"

#include "storage-xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#include "xml-util.h"

/* Volume XML is small; anything larger is not what libvirt sends. */
#define MAX_XML_BYTES (1024 * 1024)

/* ---- images ---------------------------------------------------------------- */

GvdImage *
gvd_image_new (void)
{
  GvdImage *image = g_new0 (GvdImage, 1);

  image->in_use_by = g_ptr_array_new_with_free_func (g_free);
  return image;
}

void
gvd_image_free (GvdImage *image)
{
  if (image == NULL)
    return;
  g_free (image->name);
  g_free (image->path);
  g_free (image->format);
  g_ptr_array_unref (image->in_use_by);
  g_free (image);
}

void
gvd_image_write_json (const GvdImage *image, JsonBuilder *b)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, image->name);
  /* "importing" is the state of a download (api-image-download.c). */
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, "ready");
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, image->path);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, image->format);
  json_builder_set_member_name (b, "capacity_bytes");
  json_builder_add_int_value (b, (gint64) MIN (image->capacity, (guint64) G_MAXINT64));
  json_builder_set_member_name (b, "allocation_bytes");
  json_builder_add_int_value (b, (gint64) MIN (image->allocation, (guint64) G_MAXINT64));
  json_builder_set_member_name (b, "in_use_by");
  json_builder_begin_array (b);
  for (guint i = 0; i < image->in_use_by->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (image->in_use_by, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
}

gboolean
gvd_storage_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL || !g_ascii_isalnum (name[0]))
    return FALSE;
  len = strlen (name);
  if (len > 128)
    return FALSE;
  for (gsize i = 1; i < len; i++)
    {
      char c = name[i];
      if (!g_ascii_isalnum (c) && c != '.' && c != '_' && c != '-')
        return FALSE;
    }
  return TRUE;
}

/* ---- XML (pure) ------------------------------------------------------------ */

void
gvd_volume_info_free (GvdVolumeInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->path);
  g_free (info->format);
  g_free (info->backing_path);
  g_free (info->backing_format);
  g_free (info);
}

static char *
doc_to_string (xmlDoc *doc)
{
  xmlChar *mem = NULL;
  int len = 0;
  char *out;

  xmlDocDumpFormatMemory (doc, &mem, &len, 1);
  out = g_strndup ((const char *) mem, len);
  xmlFree (mem);
  return out;
}

char *
gvd_storage_pool_xml (const char *name, const char *path)
{
  g_autoptr(xmlDoc) doc = NULL;
  xmlNode *pool, *target;

  g_return_val_if_fail (name != NULL && path != NULL, NULL);

  doc = xmlNewDoc (BAD_CAST "1.0");
  pool = xmlNewNode (NULL, BAD_CAST "pool");
  xmlDocSetRootElement (doc, pool);
  xmlNewProp (pool, BAD_CAST "type", BAD_CAST "dir");
  xmlNewTextChild (pool, NULL, BAD_CAST "name", BAD_CAST name);
  target = xmlNewChild (pool, NULL, BAD_CAST "target", NULL);
  xmlNewTextChild (target, NULL, BAD_CAST "path", BAD_CAST path);
  return doc_to_string (doc);
}

static void
add_format (xmlNode *parent, const char *format)
{
  xmlNode *node = xmlNewChild (parent, NULL, BAD_CAST "format", NULL);

  xmlNewProp (node, BAD_CAST "type", BAD_CAST format);
}

char *
gvd_storage_volume_xml (const char *name, guint64 capacity, const char *format,
                        const char *backing_path, const char *backing_format)
{
  g_autoptr(xmlDoc) doc = NULL;
  xmlNode *vol, *node;
  char num[32];

  g_return_val_if_fail (name != NULL && format != NULL, NULL);

  doc = xmlNewDoc (BAD_CAST "1.0");
  vol = xmlNewNode (NULL, BAD_CAST "volume");
  xmlDocSetRootElement (doc, vol);
  xmlNewTextChild (vol, NULL, BAD_CAST "name", BAD_CAST name);
  g_snprintf (num, sizeof num, "%" G_GUINT64_FORMAT, capacity);
  node = xmlNewTextChild (vol, NULL, BAD_CAST "capacity", BAD_CAST num);
  xmlNewProp (node, BAD_CAST "unit", BAD_CAST "bytes");
  /* A raw volume is fully written by the upload that follows: no need to
   * preallocate. A qcow2 overlay starts empty either way. */
  node = xmlNewTextChild (vol, NULL, BAD_CAST "allocation", BAD_CAST "0");
  xmlNewProp (node, BAD_CAST "unit", BAD_CAST "bytes");
  node = xmlNewChild (vol, NULL, BAD_CAST "target", NULL);
  add_format (node, format);
  if (backing_path != NULL)
    {
      node = xmlNewChild (vol, NULL, BAD_CAST "backingStore", NULL);
      xmlNewTextChild (node, NULL, BAD_CAST "path", BAD_CAST backing_path);
      add_format (node, backing_format != NULL ? backing_format : "raw");
    }
  return doc_to_string (doc);
}

static xmlNode *
child (xmlNode *parent, const char *name)
{
  if (parent == NULL)
    return NULL;
  for (xmlNode *n = parent->children; n != NULL; n = n->next)
    {
      if (n->type == XML_ELEMENT_NODE && g_str_equal ((const char *) n->name, name))
        return n;
    }
  return NULL;
}

static char *
node_text (xmlNode *node)
{
  xmlChar *content;
  char *out;

  if (node == NULL)
    return NULL;
  content = xmlNodeGetContent (node);
  out = g_strdup ((const char *) content);
  xmlFree (content);
  if (out != NULL)
    g_strstrip (out);
  return out;
}

static char *
node_prop (xmlNode *node, const char *name)
{
  xmlChar *value;
  char *out;

  if (node == NULL)
    return NULL;
  value = xmlGetProp (node, BAD_CAST name);
  out = g_strdup ((const char *) value);
  xmlFree (value);
  return out;
}

static xmlDoc *
parse_xml (const char *xml, const char *root_name, GError **error)
{
  g_autoptr(xmlDoc) doc = NULL;
  xmlNode *root;
  gsize len;

  g_return_val_if_fail (xml != NULL, NULL);

  len = strlen (xml);
  if (len > MAX_XML_BYTES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_LIBVIRT, "%s XML is over %u bytes", root_name,
                   MAX_XML_BYTES);
      return NULL;
    }
  doc = xmlReadMemory (xml, (int) len, NULL, NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  root = doc != NULL ? xmlDocGetRootElement (doc) : NULL;
  if (root == NULL || !g_str_equal ((const char *) root->name, root_name))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_LIBVIRT, "libvirt sent %s XML that cannot be read",
                   root_name);
      return NULL;
    }
  return g_steal_pointer (&doc);
}

gboolean
gvd_storage_parse_pool_xml (const char *xml, char **out_type, char **out_path, GError **error)
{
  g_autoptr(xmlDoc) doc = parse_xml (xml, "pool", error);
  xmlNode *root;
  g_autofree char *type = NULL;
  g_autofree char *path = NULL;

  if (doc == NULL)
    return FALSE;
  root = xmlDocGetRootElement (doc);
  type = node_prop (root, "type");
  path = node_text (child (child (root, "target"), "path"));
  if (type == NULL)
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_LIBVIRT, "pool XML has no type");
      return FALSE;
    }
  if (out_type != NULL)
    *out_type = g_steal_pointer (&type);
  if (out_path != NULL)
    *out_path = g_steal_pointer (&path);
  return TRUE;
}

static gboolean
parse_u64 (xmlNode *node, guint64 *out)
{
  g_autofree char *text = node_text (node);
  g_autofree char *unit = node_prop (node, "unit");

  /* libvirt always formats sizes in bytes; anything else is unexpected. */
  if (text == NULL || (unit != NULL && !g_str_equal (unit, "bytes")))
    return FALSE;
  return g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, out, NULL);
}

GvdVolumeInfo *
gvd_storage_parse_volume_xml (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = parse_xml (xml, "volume", error);
  g_autoptr(GvdVolumeInfo) info = NULL;
  xmlNode *root, *target, *backing;

  if (doc == NULL)
    return NULL;
  root = xmlDocGetRootElement (doc);
  info = g_new0 (GvdVolumeInfo, 1);
  info->name = node_text (child (root, "name"));
  target = child (root, "target");
  info->path = node_text (child (target, "path"));
  info->format = node_prop (child (target, "format"), "type");
  if (info->name == NULL || info->path == NULL
      || !parse_u64 (child (root, "capacity"), &info->capacity))
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_LIBVIRT,
                           "volume XML lacks a name, a target path or a capacity in bytes");
      return NULL;
    }
  if (!parse_u64 (child (root, "allocation"), &info->allocation))
    info->allocation = 0;
  backing = child (root, "backingStore");
  info->backing_path = node_text (child (backing, "path"));
  if (info->backing_path != NULL && info->backing_path[0] == '\0')
    g_clear_pointer (&info->backing_path, g_free);
  info->backing_format = node_prop (child (backing, "format"), "type");
  return g_steal_pointer (&info);
}

const char *
gvd_storage_detect_format (const guint8 *head, gsize len)
{
  static const guint8 qcow2_magic[4] = { 'Q', 'F', 'I', 0xfb };

  if (head != NULL && len >= sizeof qcow2_magic && memcmp (head, qcow2_magic, 4) == 0)
    return "qcow2";
  return "raw";
}
