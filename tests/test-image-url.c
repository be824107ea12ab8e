/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Images from URLs as data (image-url.c): which URLs an import may name,
 * the allow list's prefix match, the digest; and the import journal
 * (journal.c) in a scratch directory. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <string.h>

#include "errors.h"
#include "image-url.h"
#include "journal.h"

static void
url_check__good__accepted (void **state)
{
  const char *good[] = {
    "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2",
    "http://127.0.0.1:8080/guest.qcow2",
    "HTTPS://Example.COM/a%20b.img?sig=abc&x=1",
    "http://[::1]:9/x.raw",
    "https://h",
    NULL,
  };

  for (guint i = 0; good[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!gvd_image_url_check ("url", good[i], &error))
        fail_msg ("%s: %s", good[i], error->message);
    }
}

static void
url_check__bad__invalid_argument_naming_field (void **state)
{
  const struct {
    const char *url;
    const char *needle;
  } cases[] = {
    { "", "empty" },
    { "ftp://h/x", "http" },
    { "file:///etc/shadow", "http" },
    { "/relative/x", "absolute" },
    { "https://user:pw@h/x", "user info" },
    { "https://h/x#frag", "fragment" },
    { "https://h/a/../b", "'..'" },
    { "https://h/a/%2e%2E/b", "'..'" },
    { "https://h/a/./b", "'.'" },
    { "https://h/a%2fb", "encoded" },
    { "https://h/a%5cb", "encoded" },
    { "https://h/a b", "space" },
    { "https://h/a\\b", "backslash" },
    { "https://h/\xc3\xa9", "non-ASCII" },
    { "https:///x", "host" },
    { "https://h/%zz", "valid" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      if (gvd_image_url_check ("url", cases[i].url, &error))
        fail_msg ("%s accepted", cases[i].url);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      assert_non_null (strstr (error->message, "'url'"));
      if (strstr (error->message, cases[i].needle) == NULL)
        fail_msg ("%s: '%s' lacks '%s'", cases[i].url, error->message, cases[i].needle);
    }
}

static void
url_check__too_long__refused_with_limit (void **state)
{
  g_autofree char *pad = g_strnfill (GVD_IMAGE_URL_MAX, 'a');
  g_autofree char *url = g_strconcat ("https://h/", pad, NULL);
  g_autofree char *fits = g_strndup (url, GVD_IMAGE_URL_MAX);
  g_autoptr(GError) error = NULL;

  assert_false (gvd_image_url_check ("url", url, &error));
  assert_non_null (strstr (error->message, "2048"));
  assert_true (gvd_image_url_check ("url", fits, NULL));
}

static void
url_allowed__prefixes__host_port_path_boundaries (void **state)
{
  const char *allow[] = { "https://cloud.debian.org/images/", "http://127.0.0.1:8080/srv",
                          "https://mirror.example/", NULL };
  const struct {
    const char *url;
    gboolean ok;
  } cases[] = {
    { "https://cloud.debian.org/images/x.qcow2", TRUE },
    { "https://CLOUD.debian.org/images/a/b.qcow2", TRUE },
    { "https://cloud.debian.org:443/images/x.qcow2", TRUE },
    { "http://cloud.debian.org/images/x.qcow2", FALSE },        /* scheme */
    { "https://cloud.debian.org:8443/images/x.qcow2", FALSE },  /* port */
    { "https://cloud.debian.org.evil.com/images/x", FALSE },    /* host suffix */
    { "https://evil.com/cloud.debian.org/images/x", FALSE },
    { "https://cloud.debian.org/imagesX/x", FALSE },
    { "https://cloud.debian.org/other/x", FALSE },
    { "https://cloud.debian.org/images/../etc/x", FALSE },      /* dot segment */
    { "http://127.0.0.1:8080/srv", TRUE },
    { "http://127.0.0.1:8080/srv/guest.qcow2", TRUE },
    { "http://127.0.0.1:8080/srv?x=1", TRUE },
    { "http://127.0.0.1:8080/srvx/guest.qcow2", FALSE },
    { "http://127.0.0.1/srv/guest.qcow2", FALSE },              /* default port 80 */
    { "http://127.0.0.2:8080/srv/guest.qcow2", FALSE },
    { "https://mirror.example/any/thing", TRUE },
    { "https://mirror.example", TRUE },
    { "https://user@mirror.example/x", FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    if (gvd_image_url_allowed (cases[i].url, allow) != cases[i].ok)
      fail_msg ("%s: expected %s", cases[i].url, cases[i].ok ? "allowed" : "refused");
  /* No list: nothing is allowed. */
  assert_false (gvd_image_url_allowed ("https://cloud.debian.org/images/x", NULL));
  {
    const char *none[] = { NULL };
    assert_false (gvd_image_url_allowed ("https://cloud.debian.org/images/x", none));
  }
}

static void
digest_parse__lengths_and_digits__checked_lower_cased (void **state)
{
  g_autofree char *sha256 = g_strnfill (64, 'A');
  g_autofree char *sha512 = g_strnfill (128, 'f');
  g_autofree char *short256 = g_strnfill (63, 'a');
  g_autofree char *bad = g_strdup (sha256);
  g_autofree char *out = NULL;
  GChecksumType type = G_CHECKSUM_MD5;
  g_autoptr(GError) error = NULL;

  assert_true (gvd_image_digest_parse ("sha256", sha256, &type, &out, &error));
  assert_int_equal (type, G_CHECKSUM_SHA256);
  assert_int_equal (strlen (out), 64);
  for (const char *p = out; *p; p++)
    assert_int_equal (*p, 'a');
  g_clear_pointer (&out, g_free);
  assert_true (gvd_image_digest_parse ("sha512", sha512, &type, &out, NULL));
  assert_int_equal (type, G_CHECKSUM_SHA512);

  assert_false (gvd_image_digest_parse ("sha256", short256, NULL, NULL, &error));
  assert_non_null (strstr (error->message, "'sha256'"));
  assert_non_null (strstr (error->message, "64"));
  g_clear_error (&error);
  assert_false (gvd_image_digest_parse ("sha512", sha256, NULL, NULL, &error));
  assert_non_null (strstr (error->message, "128"));
  g_clear_error (&error);
  bad[10] = 'g';
  assert_false (gvd_image_digest_parse ("sha256", bad, NULL, NULL, &error));
  assert_non_null (strstr (error->message, "hex digit"));
  g_clear_error (&error);
  assert_false (gvd_image_digest_parse ("md5", sha256, NULL, NULL, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
}

static void
compression__magics__named (void **state)
{
  const guint8 xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
  const guint8 gz[] = { 0x1f, 0x8b, 8, 0 };
  const guint8 zst[] = { 0x28, 0xb5, 0x2f, 0xfd };
  const guint8 bz[] = { 'B', 'Z', 'h', '9' };
  const guint8 qcow2[] = { 'Q', 'F', 'I', 0xfb };
  const guint8 zeros[4] = { 0 };

  assert_string_equal (gvd_image_compression (xz, sizeof xz), "xz");
  assert_string_equal (gvd_image_compression (gz, sizeof gz), "gzip");
  assert_string_equal (gvd_image_compression (zst, sizeof zst), "zstd");
  assert_string_equal (gvd_image_compression (bz, sizeof bz), "bzip2");
  assert_null (gvd_image_compression (qcow2, sizeof qcow2));
  assert_null (gvd_image_compression (zeros, sizeof zeros));
  assert_null (gvd_image_compression (xz, 3)); /* too short to tell */
}

static void
journal__add_list_remove__round_trip (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("gvdtest-journal-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (tmp, "imports", NULL);
  g_autofree char *stray = g_build_filename (dir, "x.import.AbC123", NULL);
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) pools = NULL;

  assert_non_null (tmp);
  /* A missing directory has no entries. */
  assert_true (gvd_journal_list (&gvd_journal_imports, dir, &names, &pools, &error));
  assert_int_equal (g_strv_length (names), 0);
  g_clear_pointer (&names, g_strfreev);
  g_clear_pointer (&pools, g_strfreev);

  assert_true (gvd_journal_add (&gvd_journal_imports, dir, "debian-12.qcow2", "gpuvmd", &error));
  assert_true (gvd_journal_add (&gvd_journal_imports, dir, "b.img", "other-pool", &error));
  /* The atomic writer's leftovers are not entries. */
  assert_true (g_file_set_contents (stray, "gpuvmd", -1, NULL));
  assert_true (gvd_journal_list (&gvd_journal_imports, dir, &names, &pools, &error));
  assert_int_equal (g_strv_length (names), 2);
  for (guint i = 0; i < 2; i++)
    {
      if (g_str_equal (names[i], "debian-12.qcow2"))
        assert_string_equal (pools[i], "gpuvmd");
      else
        {
          assert_string_equal (names[i], "b.img");
          assert_string_equal (pools[i], "other-pool");
        }
    }
  assert_true (gvd_journal_remove (&gvd_journal_imports, dir, "debian-12.qcow2", &error));
  assert_true (gvd_journal_remove (&gvd_journal_imports, dir, "debian-12.qcow2", &error)); /* idempotent */
  g_clear_pointer (&names, g_strfreev);
  g_clear_pointer (&pools, g_strfreev);
  assert_true (gvd_journal_list (&gvd_journal_imports, dir, &names, &pools, &error));
  assert_int_equal (g_strv_length (names), 1);
  assert_string_equal (names[0], "b.img");
  gvd_test_rm_rf (tmp);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (url_check__good__accepted),
    cmocka_unit_test (url_check__bad__invalid_argument_naming_field),
    cmocka_unit_test (url_check__too_long__refused_with_limit),
    cmocka_unit_test (url_allowed__prefixes__host_port_path_boundaries),
    cmocka_unit_test (digest_parse__lengths_and_digits__checked_lower_cased),
    cmocka_unit_test (compression__magics__named),
    cmocka_unit_test (journal__add_list_remove__round_trip),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
