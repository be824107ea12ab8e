/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host ports for forwarded guest ports: allocation from the range, the host
 * bind test, exhaustion, release, recovery's take, and the config key. */
#include "config.h"

#include "testlib.h"

#include <arpa/inet.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "gvd-config.h"
#include "port-probe.h"
#include "port-table.h"

/* A probe that reports the ports in @user_data (a GHashTable) as busy. */
static gboolean
probe_busy_set (guint port, gpointer user_data)
{
  return !g_hash_table_contains (user_data, GUINT_TO_POINTER (port));
}

static void
allocate__lowest_free__skips_held_and_busy (void **state)
{
  g_autoptr(GvdPortTable) t = gvd_port_table_new (40000, 40009);
  g_autoptr(GHashTable) busy = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autoptr(GError) error = NULL;
  guint got[3] = { 0 };

  assert_true (gvd_port_table_allocate (t, "a", 2, probe_busy_set, busy, got, &error));
  assert_int_equal (got[0], 40000);
  assert_int_equal (got[1], 40001);
  /* Another program holds 40002 on the host: skipped, never handed out. */
  g_hash_table_add (busy, GUINT_TO_POINTER (40002));
  assert_true (gvd_port_table_allocate (t, "b", 3, probe_busy_set, busy, got, &error));
  assert_int_equal (got[0], 40003);
  assert_int_equal (got[1], 40004);
  assert_int_equal (got[2], 40005);
  assert_string_equal (gvd_port_table_owner (t, 40000), "a");
  assert_string_equal (gvd_port_table_owner (t, 40005), "b");
  assert_null (gvd_port_table_owner (t, 40002));
  assert_int_equal (gvd_port_table_get_n_held (t), 5);

  /* Released ports come back, lowest first. */
  assert_int_equal (gvd_port_table_release (t, "a"), 2);
  assert_int_equal (gvd_port_table_release (t, "a"), 0);
  assert_true (gvd_port_table_allocate (t, "c", 1, probe_busy_set, busy, got, &error));
  assert_int_equal (got[0], 40000);
}

static void
allocate__exhausted__conflict_and_nothing_held (void **state)
{
  g_autoptr(GvdPortTable) t = gvd_port_table_new (40000, 40002);
  g_autoptr(GvdPortTable) off = gvd_port_table_new (0, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) off_error = NULL;
  guint got[4] = { 0 };

  assert_true (gvd_port_table_allocate (t, "a", 2, NULL, NULL, got, &error));
  /* Two more wanted, one left: refused whole, the one left stays free. */
  assert_false (gvd_port_table_allocate (t, "b", 2, NULL, NULL, got, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (error->message, "'ports'"));
  assert_non_null (strstr (error->message, "40000-40002"));
  assert_null (gvd_port_table_owner (t, 40002));
  assert_int_equal (gvd_port_table_get_n_held (t), 2);
  g_clear_error (&error);
  assert_true (gvd_port_table_allocate (t, "b", 1, NULL, NULL, got, &error));
  assert_int_equal (got[0], 40002);

  /* An empty forward_ports: forwarding is off. */
  assert_false (gvd_port_table_allocate (off, "a", 1, NULL, NULL, got, &off_error));
  assert_true (g_error_matches (off_error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
  assert_non_null (strstr (off_error->message, "forward_ports is empty"));
}

static void
take__recovery__counts_as_held_and_conflicts_named (void **state)
{
  g_autoptr(GvdPortTable) t = gvd_port_table_new (40000, 40001);
  g_autoptr(GError) error = NULL;
  guint got[1] = { 0 };

  /* Recovered forwards, one outside the range (configuration changed). */
  assert_true (gvd_port_table_take (t, "old", 40000, &error));
  assert_true (gvd_port_table_take (t, "old", 39000, &error));
  assert_true (gvd_port_table_take (t, "old", 40000, &error)); /* idempotent */
  assert_false (gvd_port_table_take (t, "other", 40000, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (error->message, "'old'"));
  assert_non_null (strstr (error->message, "'other'"));
  g_clear_error (&error);
  assert_false (gvd_port_table_take (t, "x", 0, &error));
  g_clear_error (&error);

  assert_true (gvd_port_table_allocate (t, "new", 1, NULL, NULL, got, &error));
  assert_int_equal (got[0], 40001);
  assert_false (gvd_port_table_allocate (t, "newer", 1, NULL, NULL, got, &error));
  g_clear_error (&error);
  assert_int_equal (gvd_port_table_release (t, "old"), 2);

  /* Foreign domains' forwards: held until the next recovery rebuilds them. */
  assert_true (gvd_port_table_take (t, "domain:other-vm", 40000, &error));
  assert_true (gvd_port_table_take (t, "domain:third", 41000, &error));
  assert_false (gvd_port_table_allocate (t, "newer", 1, NULL, NULL, got, &error));
  g_clear_error (&error);
  assert_int_equal (gvd_port_table_release_prefix (t, "domain:"), 2);
  assert_true (gvd_port_table_allocate (t, "newer", 1, NULL, NULL, got, &error));
  assert_int_equal (got[0], 40000);
  assert_string_equal (gvd_port_table_owner (t, 40001), "new");
}

static void
probe__bound_port__busy_until_closed (void **state)
{
  struct sockaddr_in sa = { 0 };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint port;

  assert_true (fd >= 0);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  assert_int_equal (bind (fd, (struct sockaddr *) &sa, sizeof sa), 0);
  assert_int_equal (listen (fd, 1), 0);
  assert_int_equal (getsockname (fd, (struct sockaddr *) &sa, &len), 0);
  port = ntohs (sa.sin_port);

  assert_false (gvd_port_probe_free (port, NULL));
  close (fd);
  assert_true (gvd_port_probe_free (port, NULL));
  assert_false (gvd_port_probe_free (0, NULL));
  assert_false (gvd_port_probe_free (70000, NULL));
}

static void
config_range__forms (void **state)
{
  guint lo = 0, hi = 0;
  const char *bad[] = { "40000", "40000-", "-40000", "40001-40000", "80-90", "40000-70000",
                        "4e4-40001", "40000-40001-40002", "a-b", "" };

  assert_true (gvd_config_parse_port_range ("40000-40999", &lo, &hi, NULL));
  assert_int_equal (lo, 40000);
  assert_int_equal (hi, 40999);
  assert_true (gvd_config_parse_port_range ("50000-50000", &lo, &hi, NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      if (gvd_config_parse_port_range (bad[i], NULL, NULL, &error))
        fail_msg ("'%s' accepted", bad[i]);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (allocate__lowest_free__skips_held_and_busy),
    cmocka_unit_test (allocate__exhausted__conflict_and_nothing_held),
    cmocka_unit_test (take__recovery__counts_as_held_and_conflicts_named),
    cmocka_unit_test (probe__bound_port__busy_until_closed),
    cmocka_unit_test (config_range__forms),
  };

  return cmocka_run_group_tests_name ("port-table", tests, NULL, NULL);
}
