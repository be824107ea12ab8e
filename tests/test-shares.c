/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The "shares" and "memory" create fields below the daemon: the request
 * parser (every refusal names its field), the share directory check on a
 * real temporary tree (symlinks, "..", files, other directories), hugepage
 * arithmetic and the free-page reader on the server-8gpu fixture host. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "host-file.h"
#include "host-hugepages.h"
#include "hugepages.h"
#include "instance-request.h"

static JsonObject *
parse_json (const char *text)
{
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) error = NULL;

  if (!json_parser_load_from_data (p, text, -1, &error))
    fail_msg ("bad test JSON %s: %s", text, error->message);
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

/* {"name": "s-1", "image": "i", MEMBERS} */
static GvdCreateRequest *
parse_with (const char *members, GError **error)
{
  g_autofree char *text = g_strdup_printf ("{\"name\": \"s-1\", \"image\": \"i\", %s}", members);
  g_autoptr(JsonObject) body = parse_json (text);

  return gvd_create_request_parse (body, error);
}

/* ---- request parser ------------------------------------------------------------ */

static void
parse__shares_and_memory__applied_with_defaults (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = parse_with (
    "\"memory_mib\": 4096, \"memory\": {\"hugepages\": \"1G\"}, \"shares\": ["
    "{\"source\": \"/srv/datasets/imagenet\", \"tag\": \"datasets\"},"
    "{\"source\": \"/srv/scratch\", \"tag\": \"scratch.v2_x\", \"type\": \"virtiofs\","
    " \"readonly\": false, \"mount_point\": \"/mnt/scratch\"},"
    "{\"source\": \"/srv/m\", \"tag\": \"m\", \"type\": \"9p\", \"readonly\": false,"
    " \"mount_point\": \"/home/ml/models\"}]", &error);
  const GvdShareSpec *s;

  if (req == NULL)
    fail_msg ("%s", error->message);
  assert_int_equal (req->hugepage_kib, 1048576);
  assert_int_equal (req->memory_mib, 4096);
  assert_int_equal (req->shares->len, 3);
  s = g_ptr_array_index (req->shares, 0);
  /* Defaults: 9p, read-only, not mounted. */
  assert_string_equal (s->source_dir, "/srv/datasets/imagenet");
  assert_string_equal (s->tag, "datasets");
  assert_false (s->virtiofs);
  assert_true (s->readonly);
  assert_null (s->mount_point);
  s = g_ptr_array_index (req->shares, 1);
  assert_true (s->virtiofs);
  assert_false (s->readonly);
  assert_string_equal (s->mount_point, "/mnt/scratch");
  s = g_ptr_array_index (req->shares, 2);
  assert_false (s->virtiofs);
  assert_false (s->readonly);

  /* Neither member: nothing shared, no hugepages. */
  {
    g_autoptr(GvdCreateRequest) plain = parse_with ("\"vcpus\": 1", &error);
    assert_non_null (plain);
    assert_null (plain->shares);
    assert_int_equal (plain->hugepage_kib, 0);
  }
}

static void
parse__bad_shares_and_memory__refused_naming_field (void **state)
{
  g_autofree char *long_tag = g_strnfill (32, 't');
  g_autofree char *long_vtag = g_strnfill (37, 'v');
  g_autofree char *ok_vtag = g_strnfill (36, 'v');
  g_autofree char *tag9 = g_strdup_printf (
    "\"shares\": [{\"source\": \"/s\", \"tag\": \"%s\"}]", long_tag);
  g_autofree char *tagv = g_strdup_printf (
    "\"shares\": [{\"source\": \"/s\", \"tag\": \"%s\", \"type\": \"virtiofs\", "
    "\"readonly\": false}]", long_vtag);
  g_autofree char *tagv_ok = g_strdup_printf (
    "\"shares\": [{\"source\": \"/s\", \"tag\": \"%s\", \"type\": \"virtiofs\", "
    "\"readonly\": false}]", ok_vtag);
  GString *many = g_string_new ("\"shares\": [");
  struct {
    const char *members;
    const char *field; /* the message names it */
    const char *why;
  } cases[] = {
    { "\"shares\": {}", "'shares'", "array" },
    { "\"shares\": [3]", "'shares[0]'", "object" },
    { "\"shares\": [{\"tag\": \"a\"}]", "'shares[0].source'", "required" },
    { "\"shares\": [{\"source\": \"/s\"}]", "'shares[0].tag'", "required" },
    { "\"shares\": [{\"source\": \"s\", \"tag\": \"a\"}]", "'shares[0].source'", "absolute" },
    { "\"shares\": [{\"source\": \"/srv/../etc\", \"tag\": \"a\"}]", "'shares[0].source'",
      "normalised" },
    { "\"shares\": [{\"source\": \"/srv/./x\", \"tag\": \"a\"}]", "'shares[0].source'",
      "normalised" },
    { "\"shares\": [{\"source\": \"/srv/x/\", \"tag\": \"a\"}]", "'shares[0].source'",
      "normalised" },
    { "\"shares\": [{\"source\": \"/srv/\\nx\", \"tag\": \"a\"}]", "'shares[0].source'",
      "control" },
    { "\"shares\": [{\"source\": \"\", \"tag\": \"a\"}]", "'shares[0].source'", "empty" },
    { "\"shares\": [{\"source\": 7, \"tag\": \"a\"}]", "'shares[0].source'", "string" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a b\"}]", "'shares[0].tag'", "letters" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"-a\"}]", "'shares[0].tag'", "start" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a,ro\"}]", "'shares[0].tag'", "letters" },
    { tag9, "'shares[0].tag'", "9p mount tag is at most 31" },
    { tagv, "'shares[0].tag'", "virtiofs mount tag is at most 36" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"type\": \"nfs\"}]",
      "'shares[0].type'", "virtiofs or 9p" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"type\": \"virtiofs\"}]",
      "'shares[0].readonly'", "defaults to true" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"type\": \"virtiofs\", "
      "\"readonly\": true}]", "'shares[0].readonly'", "cannot be read-only" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"readonly\": \"no\"}]",
      "'shares[0].readonly'", "true or false" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"size\": 1}]", "'shares[0].size'",
      "unknown" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\"}, {\"source\": \"/t\", \"tag\": \"a\"}]",
      "'shares[1].tag'", "another share" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/mnt/x\"},"
      " {\"source\": \"/t\", \"tag\": \"b\", \"mount_point\": \"/mnt/x\"}]",
      "'shares[1].mount_point'", "another share" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"mnt\"}]",
      "'shares[0].mount_point'", "absolute" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/\"}]",
      "'shares[0].mount_point'", "hide" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/home\"}]",
      "'shares[0].mount_point'", "hide" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/etc\"}]",
      "'shares[0].mount_point'", "system directory /etc" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/boot/efi\"}]",
      "'shares[0].mount_point'", "system directory /boot" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/usr/local/x\"}]",
      "'shares[0].mount_point'", "system directory /usr" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/proc\"}]",
      "'shares[0].mount_point'", "system directory /proc" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/mnt/../etc\"}]",
      "'shares[0].mount_point'", "normalised" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/mnt/a b\"}]",
      "'shares[0].mount_point'", "only letters" },
    { "\"shares\": [{\"source\": \"/s\", \"tag\": \"a\", \"mount_point\": \"/mnt/a\\\\040b\"}]",
      "'shares[0].mount_point'", "only letters" },
    { "\"memory\": 2", "'memory'", "object" },
    { "\"memory\": {\"hugepages\": \"4K\"}", "'memory.hugepages'", "\"2M\" or \"1G\"" },
    { "\"memory\": {\"hugepages\": true}", "'memory.hugepages'", "string" },
    { "\"memory\": {\"size_mib\": 4}", "'memory.size_mib'", "memory_mib" },
    { NULL, "'shares'", "at most 16" },
  };

  for (guint i = 0; i < 17; i++)
    g_string_append_printf (many, "%s{\"source\": \"/s\", \"tag\": \"t%u\"}", i ? "," : "", i);
  g_string_append (many, "]");
  cases[G_N_ELEMENTS (cases) - 1].members = many->str;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdCreateRequest) req = parse_with (cases[i].members, &error);

      if (req != NULL)
        fail_msg ("accepted: %s", cases[i].members);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      if (strstr (error->message, cases[i].field) == NULL
          || strstr (error->message, cases[i].why) == NULL)
        fail_msg ("%s: message '%s' should name %s and say '%s'", cases[i].members,
                  error->message, cases[i].field, cases[i].why);
    }
  g_string_free (many, TRUE);

  /* The bounds themselves are accepted. */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *tag31 = g_strnfill (31, 'n');
    g_autofree char *m9 = g_strdup_printf ("\"shares\": [{\"source\": \"/s\", \"tag\": \"%s\"}]",
                                           tag31);
    g_autoptr(GvdCreateRequest) a = parse_with (tagv_ok, &error);
    g_autoptr(GvdCreateRequest) b = parse_with (m9, &error);

    assert_non_null (a);
    assert_non_null (b);
  }
}

/* ---- share directories on the host --------------------------------------------- */

static void
dir_check__tree__beneath_listed_dirs_without_symlinks (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("gvdtest-shares-XXXXXX", &error);
  g_autofree char *shared = g_build_filename (root, "shared", NULL);
  g_autofree char *other = g_build_filename (root, "other", NULL);
  g_autofree char *sub = g_build_filename (shared, "sub", NULL);
  g_autofree char *file = g_build_filename (shared, "file", NULL);
  g_autofree char *link_out = g_build_filename (shared, "out", NULL);
  g_autofree char *link_in = g_build_filename (shared, "in", NULL);
  g_autofree char *via_link = g_build_filename (shared, "in", "deeper", NULL);
  g_autofree char *deeper = g_build_filename (sub, "deeper", NULL);
  g_autofree char *dotdot = g_build_filename (shared, "sub", "..", "..", "other", NULL);
  g_autofree char *missing = g_build_filename (shared, "missing", NULL);
  g_autofree char *prefix_twin = g_strconcat (shared, "-twin", NULL);
  const char *dirs[] = { shared, NULL };
  const char *none[] = { NULL };
  struct {
    const char *path;
    GvdErrorCode code; /* 0: accepted */
    const char *why;
  } cases[] = {
    { shared, 0, NULL },                  /* the listed directory itself */
    { sub, 0, NULL },
    { deeper, 0, NULL },
    { file, GVD_ERROR_FORBIDDEN, "not a directory" },
    { link_out, GVD_ERROR_FORBIDDEN, "symbolic link" }, /* -> ../other */
    { link_in, GVD_ERROR_FORBIDDEN, "symbolic link" },  /* -> sub, even inside */
    { via_link, GVD_ERROR_FORBIDDEN, "symbolic link" },
    { dotdot, GVD_ERROR_FORBIDDEN, "'..' component" },
    { other, GVD_ERROR_FORBIDDEN, "is not below" },
    { prefix_twin, GVD_ERROR_FORBIDDEN, "is not below" },
    { "/", GVD_ERROR_FORBIDDEN, "is not below" },
    { "relative/dir", GVD_ERROR_INVALID_ARGUMENT, "not an absolute path" },
    { missing, GVD_ERROR_INVALID_ARGUMENT, "No such file" },
  };

  assert_non_null (root);
  assert_int_equal (g_mkdir (shared, 0755), 0);
  assert_int_equal (g_mkdir (other, 0755), 0);
  assert_int_equal (g_mkdir (sub, 0755), 0);
  assert_int_equal (g_mkdir (deeper, 0755), 0);
  assert_int_equal (g_mkdir (prefix_twin, 0755), 0);
  assert_true (g_file_set_contents (file, "x", 1, NULL));
  assert_int_equal (symlink ("../other", link_out), 0);
  assert_int_equal (symlink ("sub", link_in), 0);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) e = NULL;
      gboolean ok = gvd_host_dir_check (dirs, "[host] share_dirs", cases[i].path,
                                        "'shares[0].source'", &e);

      if (cases[i].code == 0)
        {
          if (!ok)
            fail_msg ("%s refused: %s", cases[i].path, e->message);
          continue;
        }
      if (ok)
        fail_msg ("%s accepted", cases[i].path);
      if (!g_error_matches (e, GVD_ERROR, cases[i].code) || strstr (e->message, cases[i].why) == NULL
          || strstr (e->message, "'shares[0].source'") == NULL)
        fail_msg ("%s: %s (want code %d, '%s')", cases[i].path, e->message, cases[i].code,
                  cases[i].why);
      /* Every refusal for place or kind names the key the operator edits. */
      if (cases[i].code == GVD_ERROR_FORBIDDEN && strstr (e->message, "[host] share_dirs") == NULL)
        fail_msg ("%s: '%s' does not name [host] share_dirs", cases[i].path, e->message);
    }

  /* Nothing listed: everything refused, naming the empty key. */
  {
    g_autoptr(GError) e = NULL;
    assert_false (gvd_host_dir_check (none, "[host] share_dirs_writable", sub, "'x'", &e));
    assert_true (g_error_matches (e, GVD_ERROR, GVD_ERROR_FORBIDDEN));
    assert_non_null (strstr (e->message, "[host] share_dirs_writable is empty"));
  }
  /* A listed directory reached through a symlink is the operator's choice. */
  {
    g_autoptr(GError) e = NULL;
    g_autofree char *alias = g_build_filename (root, "alias", NULL);
    g_autofree char *alias_sub = g_build_filename (alias, "sub", NULL);
    const char *alias_dirs[] = { alias, NULL };

    assert_int_equal (symlink ("shared", alias), 0);
    if (!gvd_host_dir_check (alias_dirs, "[host] share_dirs", alias_sub, "'x'", &e))
      fail_msg ("%s", e->message);
  }
  gvd_test_rm_rf (root);
}

/* ---- hugepages ----------------------------------------------------------------- */

static void
hugepages__arithmetic__pages_and_named_shortfall (void **state)
{
  g_autoptr(GError) error = NULL;
  guint64 pages = 0;

  assert_int_equal (gvd_hugepage_size_from_name ("2M"), 2048);
  assert_int_equal (gvd_hugepage_size_from_name ("1G"), 1048576);
  assert_int_equal (gvd_hugepage_size_from_name ("2m"), 0);
  assert_int_equal (gvd_hugepage_size_from_name (NULL), 0);
  assert_string_equal (gvd_hugepage_size_name (2048), "2M");
  assert_null (gvd_hugepage_size_name (4));

  assert_true (gvd_hugepages_needed ("memory.hugepages", 16384, 2048, &pages, &error));
  assert_int_equal (pages, 8192);
  assert_true (gvd_hugepages_needed ("memory.hugepages", 4096, 1048576, &pages, &error));
  assert_int_equal (pages, 4);
  assert_false (gvd_hugepages_needed ("memory.hugepages", 1536, 1048576, &pages, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  assert_non_null (strstr (error->message, "'memory.hugepages': memory_mib 1536"));
  assert_int_equal (pages, 4); /* untouched on failure */
  g_clear_error (&error);
  assert_false (gvd_hugepages_needed ("memory.hugepages", 129, 2048, &pages, &error));
  g_clear_error (&error);

  /* Enough, exactly enough, short; and short because of holds. */
  assert_true (gvd_hugepages_check_free ("memory.hugepages", 2048, 100, 200, 0, 0, &error));
  assert_true (gvd_hugepages_check_free ("memory.hugepages", 2048, 200, 200, 0, -1, &error));
  assert_false (gvd_hugepages_check_free ("memory.hugepages", 2048, 8192, 2048, 0, 0, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_string_equal (error->message,
                       "'memory.hugepages': 16384 MiB of 2M pages needed on NUMA node 0, "
                       "4096 MiB available: 12288 MiB (6144 pages) short; the host must reserve "
                       "more (vm.nr_hugepages or /sys/kernel/mm/hugepages)");
  g_clear_error (&error);
  assert_false (gvd_hugepages_check_free ("memory.hugepages", 1048576, 4, 6, 3, -1, &error));
  assert_non_null (strstr (error->message, "4096 MiB of 1G pages needed, 3072 MiB available "
                                           "(6144 MiB free, 3072 MiB of them held for instances "
                                           "being created): 1024 MiB (1 pages) short"));
  g_clear_error (&error);
  /* More held than free (pages freed by a stop meanwhile): never wraps. */
  assert_false (gvd_hugepages_check_free ("memory.hugepages", 2048, 1, 2, 5, 1, &error));
  assert_non_null (strstr (error->message, "0 MiB available"));
}

static void
host_hugepages__fixture_hosts__per_node_and_host_wide (void **state)
{
  g_autofree char *server = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);
  g_autofree char *workstation = gvd_test_data_path ("data", "hosts", "workstation-2gpu", NULL);
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (server);
  g_autoptr(GvdHostRoot) bare = gvd_host_root_new_prefixed (workstation);
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = NULL;
  guint64 n = 99;

  assert_true (gvd_host_hugepages_free (root, 2048, -1, &n, &error));
  assert_int_equal (n, 8192 + 2048);
  assert_true (gvd_host_hugepages_free (root, 2048, 0, &n, &error));
  assert_int_equal (n, 8192);
  assert_true (gvd_host_hugepages_free (root, 2048, 1, &n, &error));
  assert_int_equal (n, 2048);
  assert_true (gvd_host_hugepages_free (root, 1048576, 0, &n, &error));
  assert_int_equal (n, 16);
  assert_true (gvd_host_hugepages_free (root, 1048576, 1, &n, &error));
  assert_int_equal (n, 0);
  /* No such node, no such pool: nothing free, not an error. */
  assert_true (gvd_host_hugepages_free (root, 2048, 7, &n, &error));
  assert_int_equal (n, 0);
  n = 99;
  assert_true (gvd_host_hugepages_free (bare, 2048, -1, &n, &error));
  assert_int_equal (n, 0);

  /* A malformed count is an I/O error naming the file. */
  tmp = g_dir_make_tmp ("gvdtest-hp-XXXXXX", &error);
  assert_non_null (tmp);
  {
    g_autofree char *d = g_build_filename (tmp, "sys", "kernel", "mm", "hugepages",
                                           "hugepages-2048kB", NULL);
    g_autofree char *f = g_build_filename (d, "free_hugepages", NULL);
    g_autoptr(GvdHostRoot) bad = gvd_host_root_new_prefixed (tmp);

    assert_int_equal (g_mkdir_with_parents (d, 0755), 0);
    assert_true (g_file_set_contents (f, "-3\n", -1, NULL));
    n = 5;
    assert_false (gvd_host_hugepages_free (bad, 2048, -1, &n, &error));
    assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_IO));
    assert_non_null (strstr (error->message, "free_hugepages"));
    assert_int_equal (n, 5);
  }
  gvd_test_rm_rf (tmp);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse__shares_and_memory__applied_with_defaults),
    cmocka_unit_test (parse__bad_shares_and_memory__refused_naming_field),
    cmocka_unit_test (dir_check__tree__beneath_listed_dirs_without_symlinks),
    cmocka_unit_test (hugepages__arithmetic__pages_and_named_shortfall),
    cmocka_unit_test (host_hugepages__fixture_hosts__per_node_and_host_wide),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
