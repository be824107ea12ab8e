/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helpers that look at libvirt directly: domains and storage volumes. */
#include "config.h"

#include "testlib-libvirt.h"
#include "testlib.h"

#include <libxml/tree.h>
#include <string.h>

gboolean
gvd_test_domain_exists (virConnectPtr conn, const char *domain_name)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, domain_name);

  return dom != NULL;
}

char *
gvd_test_domain_xml (virConnectPtr conn, const char *domain_name, unsigned int flags)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, domain_name);
  char *xml;
  char *copy;

  if (dom == NULL)
    return NULL;
  /* libvirt's string is malloc'd: hand out a GLib one. */
  xml = virDomainGetXMLDesc (dom, flags);
  copy = g_strdup (xml);
  free (xml);
  return copy;
}

/* @doc's root element serialized, without the XML declaration. */
static char *
xml_to_string (xmlDoc *doc)
{
  xmlBuffer *buf = xmlBufferCreate ();
  char *text;

  assert_true (xmlNodeDump (buf, doc, xmlDocGetRootElement (doc), 0, 0) >= 0);
  text = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return text;
}

void
gvd_test_pool_define (virConnectPtr conn, const char *name, const char *path)
{
  xmlDoc *doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNode *pool = xmlNewDocNode (doc, NULL, BAD_CAST "pool", NULL);
  xmlNode *target;
  g_autofree char *xml = NULL;
  g_autoptr(virStoragePool) p = NULL;

  xmlDocSetRootElement (doc, pool);
  xmlNewProp (pool, BAD_CAST "type", BAD_CAST "dir");
  xmlNewTextChild (pool, NULL, BAD_CAST "name", BAD_CAST name);
  target = xmlNewChild (pool, NULL, BAD_CAST "target", NULL);
  xmlNewTextChild (target, NULL, BAD_CAST "path", BAD_CAST path);
  xml = xml_to_string (doc);
  xmlFreeDoc (doc);
  p = virStoragePoolDefineXML (conn, xml, 0);
  if (p == NULL)
    fail_msg ("pool %s: %s", name, virGetLastErrorMessage ());
  if (virStoragePoolCreate (p, 0) != 0)
    fail_msg ("pool %s: %s", name, virGetLastErrorMessage ());
}

void
gvd_test_volume_create (virConnectPtr conn, const char *pool_name, const char *name,
                        const char *format)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, pool_name);
  xmlDoc *doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNode *vol = xmlNewDocNode (doc, NULL, BAD_CAST "volume", NULL);
  xmlNode *target;
  xmlNode *fmt;
  g_autofree char *xml = NULL;
  g_autoptr(virStorageVol) v = NULL;

  assert_non_null (pool);
  xmlDocSetRootElement (doc, vol);
  xmlNewTextChild (vol, NULL, BAD_CAST "name", BAD_CAST name);
  xmlNewTextChild (vol, NULL, BAD_CAST "capacity", BAD_CAST "1048576");
  target = xmlNewChild (vol, NULL, BAD_CAST "target", NULL);
  fmt = xmlNewChild (target, NULL, BAD_CAST "format", NULL);
  xmlNewProp (fmt, BAD_CAST "type", BAD_CAST format);
  xml = xml_to_string (doc);
  xmlFreeDoc (doc);
  v = virStorageVolCreateXML (pool, xml, 0);
  if (v == NULL)
    fail_msg ("volume %s: %s", name, virGetLastErrorMessage ());
}

gboolean
gvd_test_volume_exists (virConnectPtr conn, const char *pool_name, const char *name)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, pool_name);
  g_autoptr(virStorageVol) vol = NULL;

  assert_non_null (pool);
  virStoragePoolRefresh (pool, 0);
  vol = virStorageVolLookupByName (pool, name);
  return vol != NULL;
}

guint
gvd_test_count_volumes (virConnectPtr conn, const char *pool_name, const char *needle)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, pool_name);
  virStorageVolPtr *vols = NULL;
  guint count = 0;
  int n;

  if (pool == NULL)
    return 0;
  virStoragePoolRefresh (pool, 0);
  n = virStoragePoolListAllVolumes (pool, &vols, 0);
  for (int i = 0; i < n; i++)
    {
      if (strstr (virStorageVolGetName (vols[i]), needle) != NULL)
        {
          g_debug ("volume %s has '%s' in its name", virStorageVolGetName (vols[i]), needle);
          count++;
        }
      virStorageVolFree (vols[i]);
    }
  free (vols);
  return count;
}

char *
gvd_test_scratch_new (virConnectPtr conn, const char *prefix, const char *pool_name,
                      const char *image_name, goffset image_size, char **out_image_file)
{
  g_autofree char *template = g_strconcat (prefix, "XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  char *dir;

  gvd_test_libvirt_cleanup (conn, prefix, pool_name);
  dir = g_dir_make_tmp (template, &error);
  if (dir == NULL)
    fail_msg ("scratch directory: %s", error->message);
  *out_image_file = gvd_test_blank_image (dir, image_name, image_size);
  return dir;
}

void
gvd_test_scratch_remove (virConnectPtr conn, const char *prefix, const char *pool_name,
                         const char *dir)
{
  gvd_test_libvirt_cleanup (conn, prefix, pool_name);
  gvd_test_rm_rf (dir);
}
