/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* snapshot-xml.c: names, the chain in the metadata, the root disk's
 * switch (on a real rendered domain: tests/data/domain/no-gpu.xml), the
 * NVRAM path rule, a live snapshot's file disk and <domainsnapshot>, the
 * list of unused volumes. */
#include "config.h"

#include "testlib.h"

#include <string.h>
#include <glib/gstdio.h>

#include "domain-xml.h"
#include "domain-xml-disks.h"
#include "snapshot-xml.h"

static char *
fixture (void)
{
  g_autofree char *path = gvd_test_data_path ("data", "domain", "no-gpu.xml", NULL);
  char *xml = NULL;

  assert_true (g_file_get_contents (path, &xml, NULL, NULL));
  return xml;
}

/* virt-xml-validate FILE domain: libvirt's own RelaxNG schema (as
 * tests/test-domain-xml.c does). */
static void
assert_schema_valid (const char *xml)
{
  g_autofree char *tool = g_find_program_in_path ("virt-xml-validate");
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (tool == NULL)
    fail_msg ("virt-xml-validate not found (apt-get install libvirt-clients)");
  dir = g_dir_make_tmp ("gvd-snapshot-XXXXXX", &error);
  assert_non_null (dir);
  path = g_build_filename (dir, "domain.xml", NULL);
  assert_true (g_file_set_contents (path, xml, -1, NULL));
  {
    const char *argv[] = { tool, path, "domain", NULL };
    assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, &error));
  }
  g_unlink (path);
  g_rmdir (dir);
  if (!g_spawn_check_wait_status (status, NULL))
    fail_msg ("virt-xml-validate refused:\n%s%s", out, err);
}

static void
name__hostile_and_good__only_good_pass (void **state)
{
  static const char *const good[] = { "a", "before-upgrade", "v1.2_x", "0" };
  static const char *const bad[] = { "", "-a", ".a", "A", "a b", "a/b", "a'b", "é", "../x" };
  g_autofree char *long_name = g_strnfill (64, 'a');

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    assert_true (gvd_snapshot_name_is_valid (good[i]));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_false (gvd_snapshot_name_is_valid (bad[i]));
  assert_false (gvd_snapshot_name_is_valid (NULL));
  assert_false (gvd_snapshot_name_is_valid (long_name));
  long_name[63] = '\0';
  assert_true (gvd_snapshot_name_is_valid (long_name));
}

static void
apply__two_snapshots__disk_moves_chain_round_trips_rest_kept (void **state)
{
  g_autofree char *xml = fixture ();
  g_autoptr(GPtrArray) chain = gvd_snapshot_chain_parse (xml, NULL);
  g_autoptr(GPtrArray) back = NULL;
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autofree char *top = NULL;
  g_autofree char *out1 = NULL;
  g_autofree char *out2 = NULL;
  g_autoptr(GError) error = NULL;
  GvdSnapshot *s;

  assert_non_null (chain);
  assert_int_equal (chain->len, 0);
  top = gvd_snapshot_current_top ("gpuvm-web-1", chain);
  assert_string_equal (top, "gpuvm-web-1-root.qcow2");

  /* The fixture's disk is "web-1-root.qcow2" in pool gpuvmd. */
  g_ptr_array_add (chain, gvd_snapshot_new ("one", "web-1-root.qcow2", "n1", "2026-12-02T10:00:00Z"));
  out1 = gvd_snapshot_chain_apply (xml, "gpuvmd", "web-1-root.qcow2", "web-1-snap-one.qcow2",
                                   chain, &error);
  assert_null (error);
  assert_non_null (strstr (out1, "volume=\"web-1-snap-one.qcow2\""));
  /* The seed cdrom is untouched. */
  assert_non_null (strstr (out1, "volume=\"web-1-seed.iso\""));

  s = gvd_snapshot_new ("two", "web-1-snap-one.qcow2", NULL, "2026-12-02T11:00:00Z");
  g_ptr_array_add (chain, s);
  ((GvdSnapshot *) g_ptr_array_index (chain, 0))->deleted = TRUE;
  out2 = gvd_snapshot_chain_apply (out1, "gpuvmd", "web-1-snap-one.qcow2", "web-1-snap-two.qcow2",
                                   chain, &error);
  assert_null (error);
  assert_non_null (strstr (out2, "volume=\"web-1-snap-two.qcow2\""));

  back = gvd_snapshot_chain_parse (out2, &error);
  assert_non_null (back);
  assert_int_equal (back->len, 2);
  s = g_ptr_array_index (back, 0);
  assert_string_equal (s->name, "one");
  assert_string_equal (s->volume, "web-1-root.qcow2");
  assert_string_equal (s->nvram_volume, "n1"); /* what the caller keeps is kept */
  assert_true (s->deleted);
  s = g_ptr_array_index (back, 1);
  assert_string_equal (s->name, "two");
  assert_null (s->nvram_volume);
  assert_false (s->deleted);
  assert_string_equal (s->created_at, "2026-12-02T11:00:00Z");
  assert_int_equal (gvd_snapshot_chain_find (back, "two"), 1);
  assert_int_equal (gvd_snapshot_chain_find (back, "three"), -1);
  g_free (top);
  top = gvd_snapshot_current_top ("web-1", back);
  assert_string_equal (top, "web-1-snap-two.qcow2");

  assert_schema_valid (out2);
  /* Everything gpuvmd reads back is still there. */
  spec = gvd_domain_xml_parse (out2, &error);
  assert_non_null (spec);
  assert_string_equal (spec->name, "web-1");
  assert_string_equal (((GvdDiskSpec *) g_ptr_array_index (spec->disks, 0))->volume,
                       "web-1-snap-two.qcow2");

  /* An empty chain removes the element. */
  g_ptr_array_set_size (chain, 0);
  g_free (out1);
  out1 = gvd_snapshot_chain_apply (out2, "gpuvmd", "web-1-snap-two.qcow2", "web-1-root.qcow2",
                                   chain, &error);
  assert_null (strstr (out1, "snapshots"));
}

static void
apply__no_such_disk__not_found (void **state)
{
  g_autofree char *xml = fixture ();
  g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_snapshot_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  /* The seed is a cdrom, not a root disk; another pool is not ours. */
  out = gvd_snapshot_chain_apply (xml, "gpuvmd", "web-1-seed.iso", "x.qcow2", chain, &error);
  assert_null (out);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_NOT_FOUND));
  g_clear_error (&error);
  out = gvd_snapshot_chain_apply (xml, "other", "web-1-root.qcow2", "x.qcow2", chain, &error);
  assert_null (out);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_NOT_FOUND));
}

static void
parse__malformed_entries__refused (void **state)
{
  static const char *const bad[] = {
    "<gpuvmd:snapshot volume='v'/>",
    "<gpuvmd:snapshot name='Bad!' volume='v'/>",
    "<gpuvmd:snapshot name='a'/>",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *xml = g_strdup_printf (
        "<domain><name>d</name><metadata><gpuvmd:instance xmlns:gpuvmd='urn:gpuvmd:domain:1'>"
        "<gpuvmd:snapshots>%s</gpuvmd:snapshots></gpuvmd:instance></metadata></domain>", bad[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) chain = gvd_snapshot_chain_parse (xml, &error);

      assert_null (chain);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
    }
}

static void
nvram_path__explicit_efi_bios__libvirt_rule (void **state)
{
  g_autofree char *efi = fixture ();
  g_autofree char *p1 = gvd_snapshot_nvram_path (efi, NULL);
  g_autofree char *p2 = gvd_snapshot_nvram_path (
    "<domain><name>d</name><os><nvram template='/t'> /x/d.fd </nvram></os></domain>", NULL);
  g_autofree char *p3 = gvd_snapshot_nvram_path ("<domain><name>d</name><os/></domain>", NULL);
  g_autofree char *p4 = gvd_snapshot_nvram_path (
    "<domain><name>../x</name><os firmware='efi'/></domain>", NULL);

  assert_string_equal (p1, "/var/lib/libvirt/qemu/nvram/gpuvm-web-1_VARS.fd");
  assert_string_equal (p2, "/x/d.fd");
  assert_null (p3);
  assert_null (p4);
}

static GPtrArray *
chain_of_metadata (const char *metadata)
{
  g_autofree char *xml = g_strconcat ("<domain type='qemu'><name>x</name><metadata>", metadata,
                                      "</metadata></domain>", NULL);
  g_autoptr(GError) error = NULL;
  GPtrArray *chain = gvd_snapshot_chain_parse (xml, &error);

  if (chain == NULL)
    fail_msg ("%s", error->message);
  return chain;
}

/* A resize rewrites gpuvmd's metadata from the spec, which has no chain:
 * the chain is carried into it (once, replacing any), deleted flags too,
 * and so is the list of volumes an interrupted operation left. */
static void
into_metadata__spec_metadata__chain_carried_replaced_removed (void **state)
{
  g_autofree char *xml = fixture ();
  g_autoptr(GvdInstanceSpec) spec = gvd_domain_xml_parse (xml, NULL);
  g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_snapshot_free);
  g_autoptr(GPtrArray) back = NULL;
  g_autoptr(GPtrArray) back2 = NULL;
  g_autoptr(GPtrArray) back3 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *meta = NULL;
  g_autofree char *with = NULL;
  g_autofree char *again = NULL;
  g_autofree char *none = NULL;
  const char *const unused[] = { "web-1-snap-two-R.qcow2", NULL };
  GvdSnapshot *s;

  assert_non_null (spec);
  meta = gvd_domain_xml_render_metadata (spec, &error);
  assert_non_null (meta);
  g_ptr_array_add (chain, gvd_snapshot_new ("one", "web-1-root.qcow2", "n1", "2026-12-02T10:00:00Z"));
  s = gvd_snapshot_new ("two", "web-1-snap-one.qcow2", NULL, "2026-12-02T11:00:00Z");
  s->deleted = TRUE;
  g_ptr_array_add (chain, s);

  with = gvd_snapshot_chain_into_metadata (meta, chain, unused, &error);
  if (with == NULL)
    fail_msg ("%s", error->message);
  back = chain_of_metadata (with);
  assert_int_equal (back->len, 2);
  assert_string_equal (((GvdSnapshot *) back->pdata[0])->volume, "web-1-root.qcow2");
  assert_string_equal (((GvdSnapshot *) back->pdata[0])->nvram_volume, "n1");
  assert_true (((GvdSnapshot *) back->pdata[1])->deleted);
  {
    g_autofree char *dom = g_strconcat ("<domain type='qemu'><name>x</name><metadata>", with,
                                        "</metadata></domain>", NULL);
    g_auto(GStrv) left = gvd_snapshot_unused_parse (dom, &error);

    assert_non_null (left);
    assert_int_equal (g_strv_length (left), 1);
    assert_string_equal (left[0], "web-1-snap-two-R.qcow2");
  }
  /* The rest of the metadata is the spec's. */
  assert_non_null (strstr (with, spec->name));

  g_ptr_array_set_size (chain, 1);
  again = gvd_snapshot_chain_into_metadata (with, chain, NULL, &error);
  assert_non_null (again);
  back2 = chain_of_metadata (again);
  assert_int_equal (back2->len, 1);

  g_ptr_array_set_size (chain, 0);
  none = gvd_snapshot_chain_into_metadata (again, chain, NULL, &error);
  assert_non_null (none);
  back3 = chain_of_metadata (none);
  assert_int_equal (back3->len, 0);
  assert_null (strstr (none, "snapshots"));
  assert_null (strstr (again, "unused-volumes"));

  assert_null (gvd_snapshot_chain_into_metadata ("<other/>", chain, NULL, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INTERNAL));
}

/* The fixture as libvirt shows it after a live snapshot: the root disk a
 * file (the new top, a volume's path) on a volume backing chain. */
static char *
live_fixture (void)
{
  g_autofree char *xml = fixture ();
  g_auto(GStrv) parts = g_strsplit (xml,
                                    "<disk type=\"volume\" device=\"disk\">\n"
                                    "      <driver name=\"qemu\" type=\"qcow2\"/>\n"
                                    "      <source pool=\"gpuvmd\" volume=\"web-1-root.qcow2\"/>\n",
                                    -1);

  assert_int_equal (g_strv_length (parts), 2);
  return g_strconcat (parts[0],
                      "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                      "<source file='/var/lib/gpuvmd/pool/web-1-snap-b.qcow2' index='3'/>"
                      "<backingStore type='file' index='2'><format type='qcow2'/>"
                      "<source file='/var/lib/gpuvmd/pool/web-1-snap-a.qcow2'/>"
                      "<backingStore type='volume' index='1'><format type='qcow2'/>"
                      "<source pool='gpuvmd' volume='web-1-root.qcow2'/><backingStore/>"
                      "</backingStore></backingStore>\n",
                      parts[1], NULL);
}

/* After a live snapshot: the root's volume is its file's name; the
 * apply turns it back into a pool volume (schema-valid), and recovery's
 * parser reads it as that volume meanwhile. */
static void
live__file_root_disk__read_as_volume_and_put_back (void **state)
{
  g_autofree char *live = live_fixture ();
  g_autofree char *xml = fixture ();
  g_autofree char *top = gvd_snapshot_root_volume (live, "gpuvmd");
  g_autofree char *plain_top = gvd_snapshot_root_volume (xml, "gpuvmd");
  g_autofree char *other = gvd_snapshot_root_volume (live, "other");
  g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_snapshot_free);
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autoptr(GvdInstanceSpec) spec2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  GvdDiskSpec *root;

  assert_string_equal (top, "web-1-snap-b.qcow2");
  assert_string_equal (plain_top, "web-1-root.qcow2");
  assert_null (other);

  spec = gvd_domain_xml_parse (live, &error);
  if (spec == NULL)
    fail_msg ("%s", error->message);
  root = g_ptr_array_index (spec->disks, 0);
  assert_int_equal (root->type, GVD_DISK_VOLUME);
  assert_string_equal (root->pool, "gpuvmd");
  assert_string_equal (root->volume, "web-1-snap-b.qcow2");

  g_ptr_array_add (chain, gvd_snapshot_new ("b", "web-1-snap-a.qcow2", NULL, "2026-12-02T10:00:00Z"));
  ((GvdSnapshot *) chain->pdata[0])->consistency = g_strdup (GVD_SNAPSHOT_CONSISTENCY_CRASH);
  out = gvd_snapshot_chain_apply (live, "gpuvmd", "web-1-snap-b.qcow2", "web-1-snap-b.qcow2",
                                  chain, &error);
  if (out == NULL)
    fail_msg ("%s", error->message);
  assert_null (strstr (out, "backingStore"));
  assert_null (strstr (out, "file="));
  assert_non_null (strstr (out, "<disk type=\"volume\" device=\"disk\">"));
  assert_non_null (strstr (out, "<source pool=\"gpuvmd\" volume=\"web-1-snap-b.qcow2\"/>"));
  assert_schema_valid (out);
  spec2 = gvd_domain_xml_parse (out, &error);
  assert_non_null (spec2);
  assert_string_equal (((GvdDiskSpec *) spec2->disks->pdata[0])->volume, "web-1-snap-b.qcow2");
  {
    g_autoptr(GPtrArray) back = gvd_snapshot_chain_parse (out, &error);

    assert_non_null (back);
    assert_string_equal (((GvdSnapshot *) back->pdata[0])->consistency, "crash");
  }
}

/* The <domainsnapshot> of a live snapshot: the root disk external onto
 * the new file, the seed CD-ROM left alone; no such disk: NOT_FOUND. */
static void
live_xml__root_and_cdrom__root_external_rest_no (void **state)
{
  g_autofree char *xml = fixture ();
  g_autofree char *live = live_fixture ();
  g_autoptr(GError) error = NULL;
  g_autofree char *snap = gvd_snapshot_live_xml (xml, "gpuvmd", "web-1-root.qcow2",
                                                 "/p/web-1-snap-x.qcow2", &error);
  g_autofree char *snap2 = NULL;

  if (snap == NULL)
    fail_msg ("%s", error->message);
  assert_non_null (strstr (snap, "<disk name=\"vda\" snapshot=\"external\" type=\"file\">"
                                 "<driver type=\"qcow2\"/><source file=\"/p/web-1-snap-x.qcow2\"/>"
                                 "</disk>"));
  assert_non_null (strstr (snap, "<disk name=\"sda\" snapshot=\"no\"/>"));
  /* The second live snapshot finds the root by its file. */
  snap2 = gvd_snapshot_live_xml (live, "gpuvmd", "web-1-snap-b.qcow2", "/p/n.qcow2", &error);
  assert_non_null (snap2);
  assert_non_null (strstr (snap2, "<source file=\"/p/n.qcow2\"/>"));
  assert_null (gvd_snapshot_live_xml (xml, "gpuvmd", "web-1-seed.iso", "/p/x", &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_NOT_FOUND));
}

/* The unused list round-trips beside the chain (which apply keeps), and
 * an empty one removes the element; a revert to the top's own snapshot
 * gets the alternate name. */
static void
unused__set_parse_clear__round_trip_and_fresh_top (void **state)
{
  g_autofree char *xml = fixture ();
  const char *vols[] = { "web-1-snap-x.qcow2", "web-1-snap-x.nvram", NULL };
  const char *taken[] = { "web-1-snap-x.qcow2", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *with = gvd_snapshot_unused_set (xml, vols, &error);
  g_autofree char *without = NULL;
  g_autofree char *fresh1 = gvd_snapshot_fresh_top ("web-1", "x", NULL);
  g_autofree char *fresh2 = gvd_snapshot_fresh_top ("web-1", "x", taken);
  g_auto(GStrv) back = NULL;
  g_auto(GStrv) none = gvd_snapshot_unused_parse (xml, &error);

  assert_non_null (none);
  assert_null (none[0]);
  assert_non_null (with);
  back = gvd_snapshot_unused_parse (with, &error);
  assert_int_equal (g_strv_length (back), 2);
  assert_string_equal (back[0], "web-1-snap-x.qcow2");
  assert_string_equal (back[1], "web-1-snap-x.nvram");
  assert_schema_valid (with);
  without = gvd_snapshot_unused_set (with, NULL, &error);
  assert_null (strstr (without, "unused-volumes"));
  assert_null (gvd_snapshot_unused_set ("<domain><name>x</name></domain>", vols, &error));

  assert_string_equal (fresh1, "web-1-snap-x.qcow2");
  assert_string_equal (fresh2, "web-1-snap-x-R.qcow2");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (name__hostile_and_good__only_good_pass),
    cmocka_unit_test (apply__two_snapshots__disk_moves_chain_round_trips_rest_kept),
    cmocka_unit_test (apply__no_such_disk__not_found),
    cmocka_unit_test (parse__malformed_entries__refused),
    cmocka_unit_test (nvram_path__explicit_efi_bios__libvirt_rule),
    cmocka_unit_test (into_metadata__spec_metadata__chain_carried_replaced_removed),
    cmocka_unit_test (live__file_root_disk__read_as_volume_and_put_back),
    cmocka_unit_test (live_xml__root_and_cdrom__root_external_rest_no),
    cmocka_unit_test (unused__set_parse_clear__round_trip_and_fresh_top),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
