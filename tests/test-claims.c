/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device claims table (claims.h): holders, release by holder,
 * quarantine, readiness. */
#include "config.h"

#include "testlib.h"

#include "claims.h"

static void
new__empty__not_ready_nothing_held (void **state)
{
  g_autoptr(GvdClaims) claims = gvd_claims_new ();

  assert_false (gvd_claims_is_ready (claims));
  assert_int_equal (gvd_claims_count (claims), 0);
  assert_int_equal (gvd_claims_count_quarantined (claims), 0);
  assert_null (gvd_claims_get_holder (claims, "0000:01:00.0"));
  assert_null (gvd_claims_get_quarantine (claims, "0000:01:00.0"));
  gvd_claims_set_ready (claims, TRUE);
  assert_true (gvd_claims_is_ready (claims));
}

static void
set_holder__twice__last_holder_wins_one_entry (void **state)
{
  g_autoptr(GvdClaims) claims = gvd_claims_new ();

  gvd_claims_set_holder (claims, "0000:01:00.0", "a");
  gvd_claims_set_holder (claims, "0000:01:00.0", "reservation:x");
  assert_string_equal (gvd_claims_get_holder (claims, "0000:01:00.0"), "reservation:x");
  assert_int_equal (gvd_claims_count (claims), 1);
  /* The table the planner and reservations take is the same one. */
  assert_string_equal (g_hash_table_lookup (gvd_claims_get_holders (claims), "0000:01:00.0"),
                       "reservation:x");
}

static void
release__holder__only_its_claims_go (void **state)
{
  g_autoptr(GvdClaims) claims = gvd_claims_new ();

  gvd_claims_set_holder (claims, "0000:01:00.0", "a");
  gvd_claims_set_holder (claims, "0000:01:00.1", "a");
  gvd_claims_set_holder (claims, "0000:02:00.0", "b");
  gvd_claims_release (claims, "a");
  assert_int_equal (gvd_claims_count (claims), 1);
  assert_null (gvd_claims_get_holder (claims, "0000:01:00.0"));
  assert_string_equal (gvd_claims_get_holder (claims, "0000:02:00.0"), "b");
  gvd_claims_release (claims, "nobody");
  assert_int_equal (gvd_claims_count (claims), 1);
}

static void
quarantine__set_and_clear__independent_of_claims (void **state)
{
  g_autoptr(GvdClaims) claims = gvd_claims_new ();

  gvd_claims_set_holder (claims, "0000:01:00.0", "a");
  gvd_claims_quarantine (claims, "0000:01:00.0", "wedged");
  gvd_claims_quarantine (claims, "0000:01:00.0", "reset failed");
  assert_string_equal (gvd_claims_get_quarantine (claims, "0000:01:00.0"), "reset failed");
  assert_int_equal (gvd_claims_count_quarantined (claims), 1);
  assert_string_equal (g_hash_table_lookup (gvd_claims_get_quarantined (claims), "0000:01:00.0"),
                       "reset failed");
  assert_true (gvd_claims_clear_quarantine (claims, "0000:01:00.0"));
  assert_false (gvd_claims_clear_quarantine (claims, "0000:01:00.0"));
  assert_null (gvd_claims_get_quarantine (claims, "0000:01:00.0"));
  /* Clearing a quarantine leaves the claim alone. */
  assert_string_equal (gvd_claims_get_holder (claims, "0000:01:00.0"), "a");
}

static void
free__null__no_op (void **state)
{
  gvd_claims_free (NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (new__empty__not_ready_nothing_held),
    cmocka_unit_test (set_holder__twice__last_holder_wins_one_entry),
    cmocka_unit_test (release__holder__only_its_claims_go),
    cmocka_unit_test (quarantine__set_and_clear__independent_of_claims),
    cmocka_unit_test (free__null__no_op),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
