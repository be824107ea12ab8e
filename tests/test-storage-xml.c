/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* storage.c's pure parts: pool/volume XML both ways, names, formats, JSON. */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "storage-xml.h"

static void
pool_xml__dir__round_trips (void **state)
{
  g_autofree char *xml = gvd_storage_pool_xml ("gpuvmd", "/var/lib/gpuvmd/pool");
  g_autofree char *type = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  assert_non_null (strstr (xml, "<pool type=\"dir\">"));
  assert_non_null (strstr (xml, "<name>gpuvmd</name>"));
  assert_true (gvd_storage_parse_pool_xml (xml, &type, &path, &error));
  assert_null (error);
  assert_string_equal (type, "dir");
  assert_string_equal (path, "/var/lib/gpuvmd/pool");
}

static void
pool_xml__markup_in_path__escaped (void **state)
{
  g_autofree char *xml = gvd_storage_pool_xml ("p", "/tmp/a<b>&c");
  g_autofree char *path = NULL;

  assert_null (strstr (xml, "a<b>"));
  assert_true (gvd_storage_parse_pool_xml (xml, NULL, &path, NULL));
  assert_string_equal (path, "/tmp/a<b>&c");
}

static void
parse_pool_xml__libvirt_logical__type_and_path (void **state)
{
  const char *xml = "<pool type='logical'><name>vg</name><source><name>vg0</name></source>"
                    "<target><path>/dev/vg0</path></target></pool>";
  g_autofree char *type = NULL;
  g_autofree char *path = NULL;

  assert_true (gvd_storage_parse_pool_xml (xml, &type, &path, NULL));
  assert_string_equal (type, "logical");
  assert_string_equal (path, "/dev/vg0");
}

static void
parse_pool_xml__garbage__error_outputs_untouched (void **state)
{
  char *type = (char *) "untouched";
  g_autoptr(GError) error = NULL;

  assert_false (gvd_storage_parse_pool_xml ("<volume/>", &type, NULL, &error));
  assert_non_null (error);
  assert_string_equal (type, "untouched");
  g_clear_error (&error);
  assert_false (gvd_storage_parse_pool_xml ("not xml <", &type, NULL, &error));
  assert_int_equal (error->code, GVD_ERROR_LIBVIRT);
  g_clear_error (&error);
  assert_false (gvd_storage_parse_pool_xml ("<pool><name>x</name></pool>", &type, NULL, &error));
  assert_string_equal (type, "untouched");
}

static void
volume_xml__overlay__round_trips (void **state)
{
  g_autofree char *xml = gvd_storage_volume_xml ("gpuvm-a-root.qcow2", 10737418240, "qcow2",
                                                 "/pool/debian-12.qcow2", "qcow2");
  g_autoptr(GvdVolumeInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  /* parse_volume_xml needs a target path, which libvirt adds. */
  g_autoptr(GString) with_path = g_string_new (xml);

  assert_non_null (strstr (xml, "<capacity unit=\"bytes\">10737418240</capacity>"));
  assert_non_null (strstr (xml, "<backingStore>"));
  g_string_replace (with_path, "<target>", "<target><path>/pool/gpuvm-a-root.qcow2</path>", 1);
  info = gvd_storage_parse_volume_xml (with_path->str, &error);
  assert_non_null (info);
  assert_string_equal (info->name, "gpuvm-a-root.qcow2");
  assert_string_equal (info->path, "/pool/gpuvm-a-root.qcow2");
  assert_string_equal (info->format, "qcow2");
  assert_true (info->capacity == G_GUINT64_CONSTANT (10737418240));
  assert_string_equal (info->backing_path, "/pool/debian-12.qcow2");
  assert_string_equal (info->backing_format, "qcow2");
}

static void
volume_xml__plain__no_backing_store (void **state)
{
  g_autofree char *xml = gvd_storage_volume_xml ("seed.iso", 4096, "raw", NULL, NULL);

  assert_null (strstr (xml, "backingStore"));
  assert_non_null (strstr (xml, "<format type=\"raw\"/>"));
}

static void
parse_volume_xml__libvirt_output__all_fields (void **state)
{
  /* As libvirt 9.0 formats an overlay (vol-dumpxml). */
  const char *xml =
    "<volume type='file'>\n"
    "  <name>gpuvm-x-root.qcow2</name>\n"
    "  <key>/p/gpuvm-x-root.qcow2</key>\n"
    "  <capacity unit='bytes'>134217728</capacity>\n"
    "  <allocation unit='bytes'>200704</allocation>\n"
    "  <physical unit='bytes'>196616</physical>\n"
    "  <target>\n"
    "    <path>/p/gpuvm-x-root.qcow2</path>\n"
    "    <format type='qcow2'/>\n"
    "    <permissions><mode>0600</mode><owner>0</owner><group>0</group></permissions>\n"
    "  </target>\n"
    "  <backingStore>\n"
    "    <path>/p/t.qcow2</path>\n"
    "    <format type='raw'/>\n"
    "  </backingStore>\n"
    "</volume>\n";
  g_autoptr(GvdVolumeInfo) info = gvd_storage_parse_volume_xml (xml, NULL);

  assert_non_null (info);
  assert_int_equal (info->capacity, 134217728);
  assert_int_equal (info->allocation, 200704);
  assert_string_equal (info->backing_path, "/p/t.qcow2");
  assert_string_equal (info->backing_format, "raw");
}

static void
parse_volume_xml__missing_or_bad_capacity__error (void **state)
{
  g_autoptr(GError) error = NULL;
  GvdVolumeInfo *info;

  info = gvd_storage_parse_volume_xml (
    "<volume><name>a</name><target><path>/a</path></target></volume>", &error);
  assert_null (info);
  assert_int_equal (error->code, GVD_ERROR_LIBVIRT);
  g_clear_error (&error);
  info = gvd_storage_parse_volume_xml ("<volume><name>a</name><capacity unit='KiB'>4</capacity>"
                                       "<target><path>/a</path></target></volume>",
                                       &error);
  assert_null (info);
  g_clear_error (&error);
  info = gvd_storage_parse_volume_xml ("<volume><name>a</name><capacity>-4</capacity>"
                                       "<target><path>/a</path></target></volume>",
                                       &error);
  assert_null (info);
}

static void
parse_volume_xml__empty_backing_store__none (void **state)
{
  g_autoptr(GvdVolumeInfo) info = gvd_storage_parse_volume_xml (
    "<volume><name>a</name><capacity>1</capacity><target><path>/a</path></target>"
    "<backingStore/></volume>",
    NULL);

  assert_non_null (info);
  assert_null (info->backing_path);
  assert_null (info->format);
}

static void
name_is_valid__table__matches_rule (void **state)
{
  g_autofree char *max = g_strnfill (128, 'a');
  g_autofree char *over = g_strnfill (129, 'a');

  assert_true (gvd_storage_name_is_valid ("debian-12.qcow2"));
  assert_true (gvd_storage_name_is_valid ("A_b.C-9"));
  assert_true (gvd_storage_name_is_valid ("0"));
  assert_true (gvd_storage_name_is_valid (max));
  assert_false (gvd_storage_name_is_valid (over));
  assert_false (gvd_storage_name_is_valid (NULL));
  assert_false (gvd_storage_name_is_valid (""));
  assert_false (gvd_storage_name_is_valid (".hidden"));
  assert_false (gvd_storage_name_is_valid ("-x"));
  assert_false (gvd_storage_name_is_valid ("a/b"));
  assert_false (gvd_storage_name_is_valid ("../etc"));
  assert_false (gvd_storage_name_is_valid ("a b"));
  assert_false (gvd_storage_name_is_valid ("caf\xc3\xa9"));
}

static void
detect_format__magic__qcow2_else_raw (void **state)
{
  const guint8 qcow2[] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
  const guint8 almost[] = { 'Q', 'F', 'I', 0xfa };
  const guint8 iso[] = { 0, 0, 0, 0 };

  assert_string_equal (gvd_storage_detect_format (qcow2, sizeof qcow2), "qcow2");
  assert_string_equal (gvd_storage_detect_format (qcow2, 4), "qcow2");
  assert_string_equal (gvd_storage_detect_format (qcow2, 3), "raw");
  assert_string_equal (gvd_storage_detect_format (almost, 4), "raw");
  assert_string_equal (gvd_storage_detect_format (iso, 4), "raw");
  assert_string_equal (gvd_storage_detect_format (NULL, 0), "raw");
}

static void
detect_format__fixture__qcow2 (void **state)
{
  g_autofree char *path = gvd_test_data_path ("data", "images", "tiny.qcow2", NULL);
  g_autofree char *data = NULL;
  gsize len = 0;

  assert_true (g_file_get_contents (path, &data, &len, NULL));
  assert_string_equal (gvd_storage_detect_format ((const guint8 *) data, len), "qcow2");
}

static void
image_write_json__image__all_members (void **state)
{
  g_autoptr(GvdImage) image = gvd_image_new ();
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  JsonArray *users;

  image->name = g_strdup ("debian-12.qcow2");
  image->path = g_strdup ("/p/debian-12.qcow2");
  image->format = g_strdup ("qcow2");
  image->capacity = G_GUINT64_CONSTANT (3221225472);
  image->allocation = 123;
  g_ptr_array_add (image->in_use_by, g_strdup ("gpuvm-a-root.qcow2"));
  gvd_image_write_json (image, b);
  root = json_builder_get_root (b);
  assert_string_equal (gvd_test_json_string (root, "name"), "debian-12.qcow2");
  assert_string_equal (gvd_test_json_string (root, "path"), "/p/debian-12.qcow2");
  assert_string_equal (gvd_test_json_string (root, "format"), "qcow2");
  assert_true (gvd_test_json_int (root, "capacity_bytes") == 3221225472);
  assert_int_equal (gvd_test_json_int (root, "allocation_bytes"), 123);
  users = json_node_get_array (gvd_test_json_path (root, "in_use_by"));
  assert_int_equal (json_array_get_length (users), 1);
  assert_string_equal (json_array_get_string_element (users, 0), "gpuvm-a-root.qcow2");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (pool_xml__dir__round_trips),
    cmocka_unit_test (pool_xml__markup_in_path__escaped),
    cmocka_unit_test (parse_pool_xml__libvirt_logical__type_and_path),
    cmocka_unit_test (parse_pool_xml__garbage__error_outputs_untouched),
    cmocka_unit_test (volume_xml__overlay__round_trips),
    cmocka_unit_test (volume_xml__plain__no_backing_store),
    cmocka_unit_test (parse_volume_xml__libvirt_output__all_fields),
    cmocka_unit_test (parse_volume_xml__missing_or_bad_capacity__error),
    cmocka_unit_test (parse_volume_xml__empty_backing_store__none),
    cmocka_unit_test (name_is_valid__table__matches_rule),
    cmocka_unit_test (detect_format__magic__qcow2_else_raw),
    cmocka_unit_test (detect_format__fixture__qcow2),
    cmocka_unit_test (image_write_json__image__all_members),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
