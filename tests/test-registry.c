/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device registry: names, addresses, lookups, JSON form and the atomic
 * file writer in a temporary directory. */
#include "config.h"

#include "testlib.h"

#include "errors.h"
#include "registry.h"
#include "registry-file.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
assert_error (GError *error, GvdErrorCode code, const char *needle)
{
  assert_non_null (error);
  assert_true (error->domain == GVD_ERROR);
  assert_int_equal (error->code, code);
  if (needle != NULL && strstr (error->message, needle) == NULL)
    fail_msg ("'%s' not in error message '%s'", needle, error->message);
}

static void
validate_name__patterns__accepted_or_refused (void **state)
{
  const char *good[] = { "gpu0", "A1", "gpu-0.a_b", "0x", "a-", NULL };
  const char *bad[] = { "", "a", "-gpu", ".gpu", "_gpu", "gpu 0", "gpu/0", "gpü", "0000:01:00.0",
                        "gpu:0", NULL };
  char longest[GVD_REGISTRY_NAME_MAX + 2];

  for (guint i = 0; good[i] != NULL; i++)
    assert_true (gvd_registry_validate_name (good[i], NULL));
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      assert_false (gvd_registry_validate_name (bad[i], &error));
      assert_error (error, GVD_ERROR_INVALID_ARGUMENT, NULL);
    }
  memset (longest, 'a', sizeof longest);
  longest[GVD_REGISTRY_NAME_MAX] = '\0';
  assert_true (gvd_registry_validate_name (longest, NULL));
  longest[GVD_REGISTRY_NAME_MAX] = 'a';
  longest[GVD_REGISTRY_NAME_MAX + 1] = '\0';
  assert_false (gvd_registry_validate_name (longest, NULL));
}

static void
parse_address__forms__canonical_or_refused (void **state)
{
  const char *bad[] = { "", "1:00.0", "0000:01:00.8", "0000:01:20.0", "0000:1:00.0",
                        "0000:01:00.0 ", "00000:01:00.0", "0000-01-00.0", "000g:01:00.0", NULL };
  g_autoptr(GvdRegistry) reg = gvd_registry_new ();

  /* The registry takes the one PCI address rule: the short form too. */
  assert_true (gvd_registry_add (reg, "gpu-a", "0000:AF:1F.7", NULL));
  assert_true (gvd_registry_add (reg, "gpu-b", "01:00.0", NULL));
  assert_string_equal (gvd_registry_lookup_name (reg, "gpu-a"), "0000:af:1f.7");
  assert_string_equal (gvd_registry_lookup_name (reg, "gpu-b"), "0000:01:00.0");
  assert_string_equal (gvd_registry_lookup_address (reg, "01:00.0"), "gpu-b");
  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("bad-%u", i);
      assert_false (gvd_registry_add (reg, name, bad[i], &error));
      assert_error (error, GVD_ERROR_INVALID_ARGUMENT, "dddd:bb:ss.f");
    }
}

static void
add__duplicates__already_exists_naming_other (void **state)
{
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  assert_true (gvd_registry_add (r, "gpu0", "0000:af:00.0", NULL));
  assert_false (gvd_registry_add (r, "gpu0", "0000:02:00.0", &e1));
  assert_error (e1, GVD_ERROR_ALREADY_EXISTS, "0000:af:00.0");
  /* Same address in another case is the same device. */
  assert_false (gvd_registry_add (r, "gpu1", "0000:AF:00.0", &e2));
  assert_error (e2, GVD_ERROR_ALREADY_EXISTS, "'gpu0'");
  assert_int_equal (gvd_registry_get_size (r), 1);
}

static void
add__bad_input__refused_unchanged (void **state)
{
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  assert_false (gvd_registry_add (r, "-x", "0000:01:00.0", &e1));
  assert_error (e1, GVD_ERROR_INVALID_ARGUMENT, NULL);
  assert_false (gvd_registry_add (r, "gpu0", "1:0.0", &e2));
  assert_error (e2, GVD_ERROR_INVALID_ARGUMENT, NULL);
  assert_int_equal (gvd_registry_get_size (r), 0);
}

static void
add__full__conflict (void **state)
{
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < GVD_REGISTRY_MAX_ENTRIES; i++)
    {
      g_autofree char *name = g_strdup_printf ("d%u", i);
      g_autofree char *addr = g_strdup_printf ("%04x:%02x:%02x.%x", i >> 8, i & 0xff, 0, 0);
      assert_true (gvd_registry_add (r, name, addr, NULL));
    }
  assert_false (gvd_registry_add (r, "one-more", "ffff:ff:1f.7", &error));
  assert_error (error, GVD_ERROR_CONFLICT, "full");
}

static void
lookup__both_directions__found_or_null (void **state)
{
  g_autoptr(GvdRegistry) r = gvd_registry_new ();

  assert_true (gvd_registry_add (r, "gpu0", "0000:01:00.0", NULL));
  assert_string_equal (gvd_registry_lookup_name (r, "gpu0"), "0000:01:00.0");
  assert_null (gvd_registry_lookup_name (r, "gpu1"));
  assert_true (gvd_registry_add (r, "nic0", "0000:0a:00.0", NULL));
  assert_string_equal (gvd_registry_lookup_address (r, "0000:01:00.0"), "gpu0");
  assert_string_equal (gvd_registry_lookup_address (r, "0000:0A:00.0"), "nic0");
  assert_null (gvd_registry_lookup_address (r, "0000:02:00.0"));
  assert_null (gvd_registry_lookup_address (r, "junk"));
  assert_string_equal (gvd_registry_find (r, "gpu0")->address, "0000:01:00.0");
  assert_string_equal (gvd_registry_find (r, "0000:01:00.0")->name, "gpu0");
  assert_null (gvd_registry_find (r, "nope"));
}

static void
remove__by_name_or_address__gone_both_ways (void **state)
{
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GError) error = NULL;

  assert_true (gvd_registry_add (r, "gpu0", "0000:01:00.0", NULL));
  assert_true (gvd_registry_add (r, "gpu1", "0000:02:00.0", NULL));
  assert_true (gvd_registry_remove (r, "gpu0", NULL));
  assert_null (gvd_registry_lookup_address (r, "0000:01:00.0"));
  assert_true (gvd_registry_remove (r, "0000:02:00.0", NULL));
  assert_null (gvd_registry_lookup_name (r, "gpu1"));
  assert_int_equal (gvd_registry_get_size (r), 0);
  assert_false (gvd_registry_remove (r, "gpu0", &error));
  assert_error (error, GVD_ERROR_DEVICE_NOT_FOUND, "gpu0");
  /* Both names and addresses are free again. */
  assert_true (gvd_registry_add (r, "gpu0", "0000:02:00.0", NULL));
}

static void
list__any_insertion_order__sorted_by_name (void **state)
{
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GPtrArray) list = NULL;
  const char *want[] = { "A0", "a1", "b2", "zz" };

  assert_true (gvd_registry_add (r, "zz", "0000:04:00.0", NULL));
  assert_true (gvd_registry_add (r, "a1", "0000:03:00.0", NULL));
  assert_true (gvd_registry_add (r, "b2", "0000:01:00.0", NULL));
  assert_true (gvd_registry_add (r, "A0", "0000:02:00.0", NULL));
  list = gvd_registry_list (r);
  assert_int_equal (list->len, 4);
  for (guint i = 0; i < 4; i++)
    assert_string_equal (((GvdRegistryEntry *) list->pdata[i])->name, want[i]);
}

static void
entry_to_json__entry__name_and_address (void **state)
{
  GvdRegistryEntry entry = { .name = (char *) "gpu0", .address = (char *) "0000:01:00.0" };
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  gvd_registry_entry_to_json (&entry, b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  assert_string_equal (text, "{\"name\":\"gpu0\",\"pci_address\":\"0000:01:00.0\"}");
}

static void
serialize__round_trip__same_entries (void **state)
{
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GvdRegistry) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;
  gsize len;

  assert_true (gvd_registry_add (r, "gpu1", "0000:02:00.0", NULL));
  assert_true (gvd_registry_add (r, "gpu0", "0000:01:00.0", NULL));
  text = gvd_registry_serialize (r, &len);
  assert_int_equal (len, strlen (text));
  assert_non_null (strstr (text, "\"version\" : 1"));
  back = gvd_registry_parse (text, len, "test", &error);
  assert_null (error);
  assert_int_equal (gvd_registry_get_size (back), 2);
  assert_string_equal (gvd_registry_lookup_name (back, "gpu1"), "0000:02:00.0");
  /* Deterministic output: the same registry serialises identically. */
  again = gvd_registry_serialize (back, NULL);
  assert_string_equal (text, again);
}

static void
parse__corrupt__refused_naming_source (void **state)
{
  const char *cases[] = {
    "",
    "{",
    "[]",
    "{\"devices\": []}",
    "{\"version\": 2, \"devices\": []}",
    "{\"version\": \"1\", \"devices\": []}",
    "{\"version\": 1}",
    "{\"version\": 1, \"devices\": {}}",
    "{\"version\": 1, \"devices\": [], \"extra\": 1}",
    "{\"version\": 1, \"devices\": [1]}",
    "{\"version\": 1, \"devices\": [{\"name\": \"gpu0\"}]}",
    "{\"version\": 1, \"devices\": [{\"name\": \"gpu0\", \"pci_address\": 5}]}",
    "{\"version\": 1, \"devices\": [{\"name\": \"gpu0\", \"pci_address\": \"0000:01:00.0\", "
    "\"x\": 1}]}",
    "{\"version\": 1, \"devices\": [{\"name\": \"-bad\", \"pci_address\": \"0000:01:00.0\"}]}",
    "{\"version\": 1, \"devices\": [{\"name\": \"gpu0\", \"pci_address\": \"1:00.0\"}]}",
    "{\"version\": 1, \"devices\": [{\"name\": \"gpu0\", \"pci_address\": \"0000:01:00.0\"}, "
    "{\"name\": \"gpu0\", \"pci_address\": \"0000:02:00.0\"}]}",
    "{\"version\": 1, \"devices\": [{\"name\": \"gpu0\", \"pci_address\": \"0000:01:00.0\"}, "
    "{\"name\": \"gpu1\", \"pci_address\": \"0000:01:00.0\"}]}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdRegistry) r = gvd_registry_parse (cases[i], strlen (cases[i]),
                                                     "/state/registry.json", &error);
      if (r != NULL)
        fail_msg ("case %" G_GSIZE_FORMAT " parsed: %s", i, cases[i]);
      assert_error (error, GVD_ERROR_INVALID_CONFIG, "/state/registry.json");
    }
}

static void
parse__binary__refused (void **state)
{
  const char data[] = "{\"version\": 1, \0 \"devices\": []}";
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdRegistry) r = gvd_registry_parse (data, sizeof data - 1, "f", &error);

  assert_null (r);
  assert_error (error, GVD_ERROR_INVALID_CONFIG, "UTF-8");
}

/* ---- files ------------------------------------------------------------------ */

typedef struct {
  char *dir;
  char *path;
} Tmp;

static int
tmp_setup (void **state)
{
  Tmp *t = g_new0 (Tmp, 1);

  t->dir = g_dir_make_tmp ("gvd-registry-XXXXXX", NULL);
  assert_non_null (t->dir);
  t->path = g_build_filename (t->dir, GVD_REGISTRY_FILE_NAME, NULL);
  *state = t;
  return 0;
}

static int
tmp_teardown (void **state)
{
  Tmp *t = *state;

  gvd_test_rm_rf (t->dir);
  g_free (t->dir);
  g_free (t->path);
  g_free (t);
  return 0;
}

static guint
count_dir_entries (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  assert_non_null (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
load_file__missing__empty_registry (void **state)
{
  Tmp *t = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdRegistry) r = gvd_registry_load_file (t->path, &error);

  assert_non_null (r);
  assert_null (error);
  assert_int_equal (gvd_registry_get_size (r), 0);
}

static void
save_file__round_trip__0600_and_no_temp_left (void **state)
{
  Tmp *t = *state;
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GvdRegistry) back = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  assert_true (gvd_registry_add (r, "gpu0", "0000:01:00.0", NULL));
  assert_true (gvd_registry_save_file (r, t->path, &error));
  assert_int_equal (g_stat (t->path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_int_equal (count_dir_entries (t->dir), 1);

  /* A second save replaces the file, still leaving one entry. */
  assert_true (gvd_registry_add (r, "gpu1", "0000:02:00.0", NULL));
  assert_true (gvd_registry_save_file (r, t->path, &error));
  assert_int_equal (count_dir_entries (t->dir), 1);

  back = gvd_registry_load_file (t->path, &error);
  assert_non_null (back);
  assert_int_equal (gvd_registry_get_size (back), 2);
  assert_string_equal (gvd_registry_lookup_address (back, "0000:02:00.0"), "gpu1");
}

static void
load_file__corrupt__refused_naming_file (void **state)
{
  Tmp *t = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdRegistry) r = NULL;

  assert_true (g_file_set_contents (t->path, "{\"version\": 1, \"devices\": [", -1, NULL));
  r = gvd_registry_load_file (t->path, &error);
  assert_null (r);
  assert_error (error, GVD_ERROR_INVALID_CONFIG, t->path);
}

/* What decides which device goes to guests must be ours: a registry that
 * is group-writable, a symlink, or (as root) owned by another uid is refused. */
static void
load_file__not_ours__refused (void **state)
{
  Tmp *t = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdRegistry) ok = NULL;
  g_autoptr(GvdRegistry) r = NULL;
  g_autofree char *link = g_strconcat (t->path, ".link", NULL);

  assert_true (g_file_set_contents (t->path, "{\"version\": 1, \"devices\": []}", -1, NULL));
  assert_int_equal (chmod (t->path, 0644), 0);
  ok = gvd_registry_load_file (t->path, &error);
  assert_non_null (ok);

  assert_int_equal (chmod (t->path, 0664), 0);
  r = gvd_registry_load_file (t->path, &error);
  assert_null (r);
  assert_error (error, GVD_ERROR_INVALID_CONFIG, t->path);
  g_clear_error (&error);

  assert_int_equal (chmod (t->path, 0600), 0);
  assert_int_equal (symlink (t->path, link), 0);
  r = gvd_registry_load_file (link, &error);
  g_unlink (link);
  assert_null (r);
  assert_error (error, GVD_ERROR_INVALID_CONFIG, link);
  g_clear_error (&error);

  if (geteuid () != 0)
    return;
  assert_int_equal (chown (t->path, 65534, 65534), 0);
  r = gvd_registry_load_file (t->path, &error);
  assert_null (r);
  assert_error (error, GVD_ERROR_INVALID_CONFIG, "uid 65534");
}

static void
load_file__directory__refused (void **state)
{
  Tmp *t = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdRegistry) r = NULL;

  assert_int_equal (g_mkdir (t->path, 0700), 0);
  r = gvd_registry_load_file (t->path, &error);
  assert_null (r);
  assert_error (error, GVD_ERROR_INVALID_CONFIG, t->path);
}

static void
save_file__rename_fails__old_file_kept_no_temp_left (void **state)
{
  Tmp *t = *state;
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *inner = g_build_filename (t->path, "keep", NULL);

  /* A non-empty directory where the file should be: rename() must fail. */
  assert_int_equal (g_mkdir (t->path, 0700), 0);
  assert_true (g_file_set_contents (inner, "x", -1, NULL));
  assert_true (gvd_registry_add (r, "gpu0", "0000:01:00.0", NULL));
  assert_false (gvd_registry_save_file (r, t->path, &error));
  assert_error (error, GVD_ERROR_IO, t->path);
  assert_int_equal (count_dir_entries (t->dir), 1);
  assert_true (g_file_test (inner, G_FILE_TEST_IS_REGULAR));
}

static void
save_file__missing_dir__io_error (void **state)
{
  Tmp *t = *state;
  g_autoptr(GvdRegistry) r = gvd_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (t->dir, "nope", "registry.json", NULL);

  assert_false (gvd_registry_save_file (r, path, &error));
  assert_error (error, GVD_ERROR_IO, path);
}

int
main (void)
{
  const struct CMUnitTest pure[] = {
    cmocka_unit_test (validate_name__patterns__accepted_or_refused),
    cmocka_unit_test (parse_address__forms__canonical_or_refused),
    cmocka_unit_test (add__duplicates__already_exists_naming_other),
    cmocka_unit_test (add__bad_input__refused_unchanged),
    cmocka_unit_test (add__full__conflict),
    cmocka_unit_test (lookup__both_directions__found_or_null),
    cmocka_unit_test (remove__by_name_or_address__gone_both_ways),
    cmocka_unit_test (list__any_insertion_order__sorted_by_name),
    cmocka_unit_test (entry_to_json__entry__name_and_address),
    cmocka_unit_test (serialize__round_trip__same_entries),
    cmocka_unit_test (parse__corrupt__refused_naming_source),
    cmocka_unit_test (parse__binary__refused),
  };
  const struct CMUnitTest files[] = {
    cmocka_unit_test_setup_teardown (load_file__missing__empty_registry, tmp_setup, tmp_teardown),
    cmocka_unit_test_setup_teardown (save_file__round_trip__0600_and_no_temp_left, tmp_setup,
                                     tmp_teardown),
    cmocka_unit_test_setup_teardown (load_file__corrupt__refused_naming_file, tmp_setup,
                                     tmp_teardown),
    cmocka_unit_test_setup_teardown (load_file__not_ours__refused, tmp_setup, tmp_teardown),
    cmocka_unit_test_setup_teardown (load_file__directory__refused, tmp_setup, tmp_teardown),
    cmocka_unit_test_setup_teardown (save_file__rename_fails__old_file_kept_no_temp_left,
                                     tmp_setup, tmp_teardown),
    cmocka_unit_test_setup_teardown (save_file__missing_dir__io_error, tmp_setup, tmp_teardown),
  };
  int failed = 0;

  failed += cmocka_run_group_tests_name ("registry", pure, NULL, NULL);
  failed += cmocka_run_group_tests_name ("registry-files", files, NULL, NULL);
  return failed == 0 ? 0 : 1;
}
