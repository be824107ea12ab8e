/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The strict sysfs PCI address form every module shares. */
#include "config.h"

#include "testlib.h"

#include "pci-address.h"

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
  const char *bad[] = { "", "41:00.0", "0000:41:00.8", "0000:41:20.0", "0000:41:00.00",
                        "0000-41:00.0", "0000:41:00:0", "000g:41:00.0", " 0000:41:00.0",
                        "0000:41:00.0 ", "00000:41:00.0" };
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
canonical__mixed_case__lower (void **state)
{
  g_autofree char *c = gvd_pci_address_canonical ("0000:0A:1F.3");
  g_autofree char *bad = gvd_pci_address_canonical ("0A:1F.3");

  assert_string_equal (c, "0000:0a:1f.3");
  assert_null (bad);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (parse__sysfs_form__fields),
    cmocka_unit_test (parse__bad_forms__refused_outputs_untouched),
    cmocka_unit_test (canonical__mixed_case__lower),
  };

  return cmocka_run_group_tests_name ("pci-address", tests, NULL, NULL);
}
