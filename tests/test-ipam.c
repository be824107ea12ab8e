/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IPAM: derived MACs, lowest-free IPv4 allocation, reservations from
 * recovery and clients, exhaustion, release and reuse. */
#include "config.h"

#include "testlib.h"

#include "errors.h"
#include "ipam.h"

#include <string.h>

static void
assert_error (GError *error, GvdErrorCode code, const char *needle)
{
  assert_non_null (error);
  assert_true (error->domain == GVD_ERROR);
  assert_int_equal (error->code, code);
  if (needle != NULL && strstr (error->message, needle) == NULL)
    fail_msg ("'%s' not in error message '%s'", needle, error->message);
}

static GvdIpam *
new_ipam (const char *cidr, const char *gateway)
{
  g_autoptr(GError) error = NULL;
  GvdIpam *ipam = gvd_ipam_new (cidr, gateway, &error);

  if (ipam == NULL)
    fail_msg ("gvd_ipam_new (%s, %s): %s", cidr, gateway, error->message);
  return ipam;
}

static char *
alloc_ip (GvdIpam *ipam, const char *owner)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *mac = NULL;
  char *ip = NULL;

  if (!gvd_ipam_allocate (ipam, owner, owner, &mac, &ip, &error))
    fail_msg ("allocate %s: %s", owner, error->message);
  assert_non_null (mac);
  return ip;
}

static void
new__bad_config__refused (void **state)
{
  const char *cases[][2] = {
    { "10.0.0.0/33", NULL },     { "10.0.0.1/24", NULL },   { "nonsense", NULL },
    { "10.0.0.0/24", "10.0.1.1" }, { "10.0.0.0/24", "10.0.0.0" }, { "10.0.0.0/24", "10.0.0.255" },
    { "10.0.0.0/24", "x" },      { NULL, "10.0.0.1" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdIpam) ipam = gvd_ipam_new (cases[i][0], cases[i][1], &error);
      assert_null (ipam);
      assert_error (error, GVD_ERROR_INVALID_CONFIG, NULL);
    }
}

static void
derive_mac__same_seed__same_mac_qemu_prefix (void **state)
{
  g_autofree char *a = gvd_ipam_derive_mac ("6c3c1f5e-0000-4000-8000-000000000001", 0);
  g_autofree char *b = gvd_ipam_derive_mac ("6c3c1f5e-0000-4000-8000-000000000001", 0);
  g_autofree char *c = gvd_ipam_derive_mac ("6c3c1f5e-0000-4000-8000-000000000001", 1);
  g_autofree char *d = gvd_ipam_derive_mac ("6c3c1f5e-0000-4000-8000-000000000002", 0);

  assert_string_equal (a, b);
  assert_true (g_str_has_prefix (a, "52:54:00:"));
  assert_int_equal (strlen (a), 17);
  assert_string_not_equal (a, c);
  assert_string_not_equal (a, d);
}

static void
allocate__no_cidr__mac_only (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam (NULL, NULL);
  g_autofree char *mac = NULL;
  char *ip = (char *) "untouched";
  const char *got_mac = NULL, *got_ip = (const char *) "x";
  g_autofree char *want = gvd_ipam_derive_mac ("uuid-1", 0);

  assert_false (gvd_ipam_has_ipv4 (ipam));
  assert_true (gvd_ipam_allocate (ipam, "vm1", "uuid-1", &mac, &ip, NULL));
  assert_null (ip);
  assert_string_equal (mac, want);
  assert_true (gvd_ipam_lookup (ipam, "vm1", &got_mac, &got_ip));
  assert_string_equal (got_mac, mac);
  assert_null (got_ip);
}

static void
allocate__cidr__lowest_free_skipping_network_gateway (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.0.0.0/24", "10.0.0.1");
  g_autofree char *a = alloc_ip (ipam, "a");
  g_autofree char *b = alloc_ip (ipam, "b");
  g_autoptr(GvdIpam) no_gw = new_ipam ("10.0.0.0/24", NULL);
  g_autofree char *c = alloc_ip (no_gw, "c");
  g_autoptr(GvdIpam) gw_mid = new_ipam ("192.168.8.0/24", "192.168.8.2");
  g_autofree char *d = alloc_ip (gw_mid, "d");
  g_autofree char *e = alloc_ip (gw_mid, "e");

  assert_string_equal (a, "10.0.0.2/24");
  assert_string_equal (b, "10.0.0.3/24");
  assert_string_equal (c, "10.0.0.1/24");
  assert_string_equal (d, "192.168.8.1/24");
  assert_string_equal (e, "192.168.8.3/24");
}

static void
allocate__same_inputs__same_results (void **state)
{
  g_autoptr(GvdIpam) x = new_ipam ("10.1.0.0/16", "10.1.0.1");
  g_autoptr(GvdIpam) y = new_ipam ("10.1.0.0/16", "10.1.0.1");

  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *owner = g_strdup_printf ("vm%u", i);
      g_autofree char *mx = NULL, *my = NULL, *ix = NULL, *iy = NULL;

      assert_true (gvd_ipam_allocate (x, owner, owner, &mx, &ix, NULL));
      assert_true (gvd_ipam_allocate (y, owner, owner, &my, &iy, NULL));
      assert_string_equal (mx, my);
      assert_string_equal (ix, iy);
    }
}

static void
allocate__slash30__one_address_then_exhausted (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.9.0.0/30", "10.9.0.1");
  g_autofree char *a = alloc_ip (ipam, "a");
  g_autoptr(GError) error = NULL;
  g_autofree char *mac = NULL;
  g_autofree char *ip = NULL;

  assert_string_equal (a, "10.9.0.2/30");
  assert_false (gvd_ipam_allocate (ipam, "b", "b", &mac, &ip, &error));
  assert_null (mac);
  assert_null (ip);
  assert_error (error, GVD_ERROR_CONFLICT, "no free address in 10.9.0.0/30");
  assert_false (gvd_ipam_lookup (ipam, "b", NULL, NULL));
  assert_int_equal (gvd_ipam_get_n_owners (ipam), 1);
}

static void
allocate__slash29__five_addresses_then_exhausted (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.9.0.8/29", "10.9.0.9");
  const char *want[] = { "10.9.0.10/29", "10.9.0.11/29", "10.9.0.12/29", "10.9.0.13/29",
                         "10.9.0.14/29" };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_autofree char *owner = g_strdup_printf ("vm%u", i);
      g_autofree char *ip = alloc_ip (ipam, owner);
      assert_string_equal (ip, want[i]);
    }
  assert_false (gvd_ipam_allocate (ipam, "late", "late", NULL, NULL, &error));
  assert_error (error, GVD_ERROR_CONFLICT, "10.9.0.8/29");
}

static void
release__then_allocate__lowest_reused (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.0.0.0/24", "10.0.0.1");
  g_autofree char *a = alloc_ip (ipam, "a");
  g_autofree char *b = alloc_ip (ipam, "b");
  g_autofree char *c = alloc_ip (ipam, "c");
  g_autofree char *d = NULL;
  g_autofree char *mac_a = NULL;
  g_autofree char *mac_a2 = NULL;
  const char *m = NULL;

  assert_true (gvd_ipam_lookup (ipam, "a", &m, NULL));
  mac_a = g_strdup (m);
  assert_true (gvd_ipam_release (ipam, "a"));
  assert_false (gvd_ipam_release (ipam, "a"));
  assert_false (gvd_ipam_lookup (ipam, "a", NULL, NULL));
  d = alloc_ip (ipam, "d");
  assert_string_equal (d, "10.0.0.2/24");
  /* a's MAC is free again: the same seed derives it again. */
  assert_true (gvd_ipam_allocate (ipam, "a", "a", &mac_a2, NULL, NULL));
  assert_string_equal (mac_a, mac_a2);
}

static void
release__holes__refilled_lowest_first (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.0.0.0/24", "10.0.0.1");
  const char *want[] = { "10.0.0.3/24", "10.0.0.5/24", "10.0.0.7/24", "10.0.0.9/24" };

  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *owner = g_strdup_printf ("vm%u", i);
      g_autofree char *ip = alloc_ip (ipam, owner); /* .2 to .7 */
    }
  /* A static address right above the allocated ones is skipped too. */
  assert_true (gvd_ipam_reserve (ipam, "static", "52:54:00:00:00:99", "10.0.0.8", NULL));
  assert_true (gvd_ipam_release (ipam, "vm3")); /* .5 */
  assert_true (gvd_ipam_release (ipam, "vm1")); /* .3 */
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_autofree char *owner = g_strdup_printf ("new%u", i);
      g_autofree char *ip = NULL;

      if (i == 2)
        assert_true (gvd_ipam_release (ipam, "vm5")); /* .7 */
      ip = alloc_ip (ipam, owner);
      assert_string_equal (ip, want[i]);
    }
}

static void
allocate__owner_twice__already_exists (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.0.0.0/24", NULL);
  g_autofree char *a = alloc_ip (ipam, "a");
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  assert_false (gvd_ipam_allocate (ipam, "a", "other", NULL, NULL, &e1));
  assert_error (e1, GVD_ERROR_ALREADY_EXISTS, "'a'");
  assert_false (gvd_ipam_allocate (ipam, "", "x", NULL, NULL, &e2));
  assert_error (e2, GVD_ERROR_INVALID_ARGUMENT, NULL);
}

static void
allocate__mac_collision__perturbed_deterministically (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam (NULL, NULL);
  g_autofree char *first = gvd_ipam_derive_mac ("seed", 0);
  g_autofree char *second = gvd_ipam_derive_mac ("seed", 1);
  g_autofree char *mac = NULL;

  /* Someone already holds the first derivation of "seed". */
  assert_true (gvd_ipam_reserve (ipam, "old", first, NULL, NULL));
  assert_true (gvd_ipam_allocate (ipam, "new", "seed", &mac, NULL, NULL));
  assert_string_equal (mac, second);
}

static void
reserve__recovery__taken_and_skipped (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.0.0.0/24", "10.0.0.1");
  g_autofree char *a = NULL;
  const char *mac, *ip;

  assert_true (gvd_ipam_reserve (ipam, "vm-old", "52:54:00:AA:BB:CC", "10.0.0.2/24", NULL));
  assert_true (gvd_ipam_reserve (ipam, "vm-plain", "52:54:00:aa:bb:cd", "10.0.0.4", NULL));
  assert_true (gvd_ipam_lookup (ipam, "vm-old", &mac, &ip));
  assert_string_equal (mac, "52:54:00:aa:bb:cc");
  assert_string_equal (ip, "10.0.0.2/24");
  a = alloc_ip (ipam, "new");
  assert_string_equal (a, "10.0.0.3/24");
}

static void
reserve__duplicates__conflict_naming_both_owners (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.0.0.0/24", NULL);
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  assert_true (gvd_ipam_reserve (ipam, "vm-a", "52:54:00:00:00:01", "10.0.0.5", NULL));
  assert_false (gvd_ipam_reserve (ipam, "vm-b", "52:54:00:00:00:01", "10.0.0.6", &e1));
  assert_error (e1, GVD_ERROR_CONFLICT, "'vm-a' and 'vm-b'");
  assert_false (gvd_ipam_reserve (ipam, "vm-c", "52:54:00:00:00:02", "10.0.0.5", &e2));
  assert_error (e2, GVD_ERROR_CONFLICT, "'vm-a' and 'vm-c'");
  assert_int_equal (gvd_ipam_get_n_owners (ipam), 1);
  /* Nothing of the refused ones stuck: their other values are free. */
  assert_true (gvd_ipam_reserve (ipam, "vm-d", "52:54:00:00:00:02", "10.0.0.6", NULL));
}

static void
reserve__bad_values__invalid_argument (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.0.0.0/24", "10.0.0.1");
  g_autoptr(GvdIpam) mac_only = new_ipam (NULL, NULL);
  const char *cases[][2] = {
    { "52:54:00:00:00", "10.0.0.5" },    { "52-54-00-00-00-01", "10.0.0.5" },
    { "53:54:00:00:00:01", "10.0.0.5" }, { "52:54:00:00:00:0g", "10.0.0.5" },
    { "52:54:00:00:00:01", "10.0.0.0" }, { "52:54:00:00:00:01", "10.0.0.255" },
    { "52:54:00:00:00:01", "10.0.0.1" }, { "52:54:00:00:00:01", "10.0.1.5" },
    { "52:54:00:00:00:01", "10.0.0.5/16" }, { "52:54:00:00:00:01", "10.0.0.5/x" },
    { "52:54:00:00:00:01", "fe80::1" },  { "52:54:00:00:00:01", "10.0.0" },
  };
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) e = NULL;
      if (gvd_ipam_reserve (ipam, "vm", cases[i][0], cases[i][1], &e))
        fail_msg ("case %" G_GSIZE_FORMAT " (%s, %s) accepted", i, cases[i][0], cases[i][1]);
      assert_error (e, GVD_ERROR_INVALID_ARGUMENT, "'vm'");
    }
  assert_int_equal (gvd_ipam_get_n_owners (ipam), 0);
  assert_false (gvd_ipam_reserve (mac_only, "vm", "52:54:00:00:00:01", "10.0.0.5", &error));
  assert_error (error, GVD_ERROR_INVALID_ARGUMENT, "cidr");
  assert_true (gvd_ipam_reserve (mac_only, "vm", "52:54:00:00:00:01", NULL, NULL));
}

static void
allocate__slash8__cheap_lowest_first (void **state)
{
  g_autoptr(GvdIpam) ipam = new_ipam ("10.0.0.0/8", "10.0.0.1");
  g_autofree char *last = NULL;

  /* 1000 allocations scan only what is taken: a 16M-entry table would be
   * both slow and visible under valgrind. */
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *owner = g_strdup_printf ("vm%u", i);
      g_free (last);
      last = alloc_ip (ipam, owner);
    }
  assert_string_equal (last, "10.0.3.233/8");
  assert_int_equal (gvd_ipam_get_n_owners (ipam), 1000);
  /* A static address high in the range is fine too. */
  assert_true (gvd_ipam_reserve (ipam, "far", "52:54:00:12:34:56", "10.255.255.254", NULL));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (new__bad_config__refused),
    cmocka_unit_test (derive_mac__same_seed__same_mac_qemu_prefix),
    cmocka_unit_test (allocate__no_cidr__mac_only),
    cmocka_unit_test (allocate__cidr__lowest_free_skipping_network_gateway),
    cmocka_unit_test (allocate__same_inputs__same_results),
    cmocka_unit_test (allocate__slash30__one_address_then_exhausted),
    cmocka_unit_test (allocate__slash29__five_addresses_then_exhausted),
    cmocka_unit_test (release__then_allocate__lowest_reused),
    cmocka_unit_test (release__holes__refilled_lowest_first),
    cmocka_unit_test (allocate__owner_twice__already_exists),
    cmocka_unit_test (allocate__mac_collision__perturbed_deterministically),
    cmocka_unit_test (reserve__recovery__taken_and_skipped),
    cmocka_unit_test (reserve__duplicates__conflict_naming_both_owners),
    cmocka_unit_test (reserve__bad_values__invalid_argument),
    cmocka_unit_test (allocate__slash8__cheap_lowest_first),
  };

  return cmocka_run_group_tests_name ("ipam", tests, NULL, NULL);
}
