/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one PCI address grammar every module shares: dddd:bb:ss.f or bb:ss.f. */
#include "config.h"

#include "testlib.h"

#include "pci-address.h"

#include <string.h>

#include "errors.h"

static void
parse__sysfs_form__fields (void **state)
{
  guint d = 99, b = 99, s = 99, f = 99;

  assert_true (gvd_pci_address_parse ("0000:41:1f.7", &d, &b, &s, &f));
  assert_int_equal (d, 0);
  assert_int_equal (b, 0x41);
  assert_int_equal (s, 0x1f);
  assert_int_equal (f, 7);
  assert_true (gvd_pci_address_parse ("FFFF:FF:00.0", &d, &b, NULL, NULL));
  assert_int_equal (d, 0xffff);
  assert_int_equal (b, 0xff);
}

static void
parse__bad_forms__refused_outputs_untouched (void **state)
{
  /* Variable widths ("1:0.0", "0000:1:00.0"), which the old lenient
   * parser took, are refused everywhere now. */
  const char *bad[] = { "", "0000:41:00.8", "0000:41:20.0", "0000:41:00.00",
                        "0000-41:00.0", "0000:41:00:0", "000g:41:00.0", " 0000:41:00.0",
                        "0000:41:00.0 ", "00000:41:00.0", "1:00.0", "01:0.0", "0000:1:00.0",
                        "41:00", "41:00.", "41:20.0", "41:00.8", "41.00.0", "g1:00.0",
                        "41:00.0 ", "0000:41:00.0\n", "0:41:00.0" };
  guint d = 42;

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      if (gvd_pci_address_parse (bad[i], &d, NULL, NULL, NULL))
        fail_msg ("'%s' was accepted", bad[i]);
      assert_int_equal (d, 42);
    }
  assert_false (gvd_pci_address_parse (NULL, NULL, NULL, NULL, NULL));
}

static void
parse__short_form__domain_zero (void **state)
{
  guint d = 99, b = 99, s = 99, f = 99;

  assert_true (gvd_pci_address_parse ("41:1F.7", &d, &b, &s, &f));
  assert_int_equal (d, 0);
  assert_int_equal (b, 0x41);
  assert_int_equal (s, 0x1f);
  assert_int_equal (f, 7);
}

static void
canonical__mixed_case_and_short__lower_full (void **state)
{
  g_autofree char *c = gvd_pci_address_canonical ("0000:0A:1F.3");
  g_autofree char *short_form = gvd_pci_address_canonical ("0A:1F.3");
  g_autofree char *bad = gvd_pci_address_canonical ("A:1F.3");

  assert_string_equal (c, "0000:0a:1f.3");
  assert_string_equal (short_form, "0000:0a:1f.3");
  assert_null (bad);
}

static void
is_canonical__only_full_lower_case (void **state)
{
  assert_true (gvd_pci_address_is_canonical ("0000:0a:1f.3"));
  assert_false (gvd_pci_address_is_canonical ("0000:0A:1f.3"));
  assert_false (gvd_pci_address_is_canonical ("0a:1f.3"));
  assert_false (gvd_pci_address_is_canonical ("0:0:0:0"));
  assert_false (gvd_pci_address_is_canonical ("1-1:1.0"));
  assert_false (gvd_pci_address_is_canonical (NULL));
}

static void
normalize__bad__invalid_argument_naming_field (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *good = gvd_pci_address_normalize ("pci_address", "01:00.0", NULL);
  g_autofree char *bad = gvd_pci_address_normalize ("pci_address", "1:0.0", &error);

  assert_string_equal (good, "0000:01:00.0");
  assert_null (bad);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  assert_non_null (strstr (error->message, "pci_address: '1:0.0' is not a PCI address"));
  assert_non_null (strstr (error->message, "bb:ss.f"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse__sysfs_form__fields),
    cmocka_unit_test (parse__bad_forms__refused_outputs_untouched),
    cmocka_unit_test (parse__short_form__domain_zero),
    cmocka_unit_test (canonical__mixed_case_and_short__lower_full),
    cmocka_unit_test (is_canonical__only_full_lower_case),
    cmocka_unit_test (normalize__bad__invalid_argument_naming_field),
  };

  return cmocka_run_group_tests_name ("pci-address", tests, NULL, NULL);
}
