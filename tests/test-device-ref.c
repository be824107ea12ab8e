/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one device resolver: names from the registry, addresses in either
 * form, one error code for what resolves to nothing. */
#include "config.h"

#include "testlib.h"

#include "device-ref.h"

#include <string.h>

#include "errors.h"

static void
resolve__address_forms__canonical (void **state)
{
  const char *same[] = { "0000:01:00.0", "01:00.0", "0000:01:00.0", "01:00.0" };

  for (guint i = 0; i < G_N_ELEMENTS (same); i++)
    {
      g_autofree char *a = gvd_device_ref_resolve (NULL, "devices[0]", same[i], NULL);
      assert_string_equal (a, "0000:01:00.0");
    }
  {
    g_autofree char *upper = gvd_device_ref_resolve (NULL, "devices[0]", "0000:AF:1F.7", NULL);
    assert_string_equal (upper, "0000:af:1f.7");
  }
}

static void
resolve__registered_name__its_address (void **state)
{
  g_autoptr(GvdRegistry) reg = gvd_registry_new ();
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  assert_true (gvd_registry_add (reg, "gpu0", "01:00.0", NULL));
  a = gvd_device_ref_resolve (reg, "devices[0]", "gpu0", NULL);
  b = gvd_device_ref_resolve (reg, "devices[0]", "0000:01:00.0", NULL);
  assert_string_equal (a, "0000:01:00.0");
  assert_string_equal (a, b);
}

static void
resolve__unknown__device_not_found_naming_field (void **state)
{
  g_autoptr(GvdRegistry) reg = gvd_registry_new ();
  const char *unknown[] = { "gpu9", "1:00.0", "0000:01:00.8", "0000:01:00", NULL };

  for (guint i = 0; unknown[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *a = gvd_device_ref_resolve (reg, "devices[2]", unknown[i], &error);

      assert_null (a);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND));
      assert_non_null (strstr (error->message, "devices[2]"));
      assert_non_null (strstr (error->message, "bb:ss.f"));
    }
}

static void
resolve__empty_or_long__invalid_argument (void **state)
{
  g_autofree char *longest = g_strnfill (GVD_DEVICE_REF_MAX + 1, 'a');
  const char *bad[] = { "", longest, NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      assert_null (gvd_device_ref_resolve (NULL, "devices[0]", bad[i], &error));
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      assert_null (strstr (error->message, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (resolve__address_forms__canonical),
    cmocka_unit_test (resolve__registered_name__its_address),
    cmocka_unit_test (resolve__unknown__device_not_found_naming_field),
    cmocka_unit_test (resolve__empty_or_long__invalid_argument),
  };

  return cmocka_run_group_tests_name ("device-ref", tests, NULL, NULL);
}
