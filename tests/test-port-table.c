/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host ports and loopback addresses for forwarded guest ports: allocation
 * from the ranges, the host bind test, exhaustion, release, recovery's take,
 * and the config keys. */
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

static void
address__lowest_free__one_per_owner_released_with_ports (void **state)
{
  g_autoptr(GvdPortTable) t = gvd_port_table_new (40000, 40009);
  g_autoptr(GvdPortTable) none = gvd_port_table_new (40000, 40009);
  g_autoptr(GError) error = NULL;
  guint32 a = 0, b = 0, c = 0;
  guint got[1] = { 0 };

  /* 127.77.0.1-127.77.0.2, as forward_addresses = 127.77.0.0/30 gives. */
  gvd_port_table_set_addresses (t, 0x7f4d0001u, 0x7f4d0002u);
  assert_true (gvd_port_table_allocate_address (t, "a", &a, &error));
  assert_int_equal (a, 0x7f4d0001u);
  /* One address per owner, however often it asks. */
  assert_true (gvd_port_table_allocate_address (t, "a", &a, &error));
  assert_int_equal (a, 0x7f4d0001u);
  assert_true (gvd_port_table_allocate_address (t, "b", &b, &error));
  assert_int_equal (b, 0x7f4d0002u);
  assert_int_equal (gvd_port_table_get_n_addresses (t), 2);
  assert_string_equal (gvd_port_table_address_owner (t, a), "a");

  /* Used up: a conflict naming the range, nothing held. */
  assert_false (gvd_port_table_allocate_address (t, "c", &c, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (error->message, "'ports'"));
  assert_non_null (strstr (error->message, "forward_addresses (127.77.0.1-127.77.0.2)"));
  assert_int_equal (c, 0);
  assert_int_equal (gvd_port_table_get_n_addresses (t), 2);
  g_clear_error (&error);

  /* Release (delete, create rollback) frees ports and address together. */
  assert_true (gvd_port_table_allocate (t, "a", 1, NULL, NULL, got, &error));
  assert_int_equal (gvd_port_table_release (t, "a"), 1);
  assert_null (gvd_port_table_address_owner (t, 0x7f4d0001u));
  assert_true (gvd_port_table_allocate_address (t, "c", &c, &error));
  assert_int_equal (c, 0x7f4d0001u);

  /* No range set: no address. */
  assert_false (gvd_port_table_allocate_address (none, "a", &a, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
}

static void
address__take__in_range_only_conflicts_named (void **state)
{
  g_autoptr(GvdPortTable) t = gvd_port_table_new (40000, 40009);
  g_autoptr(GError) error = NULL;
  guint32 a = 0;

  gvd_port_table_set_addresses (t, 0x7f4d0001u, 0x7f4d00feu);
  /* Recovered instances, and an older one on 127.0.0.1: not recorded. */
  assert_true (gvd_port_table_take_address (t, "old", 0x7f000001u, &error));
  assert_true (gvd_port_table_take_address (t, "other-old", 0x7f000001u, &error));
  assert_true (gvd_port_table_take_address (t, "one", 0x7f4d0001u, &error));
  assert_true (gvd_port_table_take_address (t, "one", 0x7f4d0001u, &error)); /* idempotent */
  assert_int_equal (gvd_port_table_get_n_addresses (t), 1);
  assert_false (gvd_port_table_take_address (t, "two", 0x7f4d0001u, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_CONFLICT));
  assert_non_null (strstr (error->message, "127.77.0.1 is held by 'one', wanted by 'two'"));
  g_clear_error (&error);

  /* A foreign domain's forward on 127.77.0.2: never handed out until the
   * next recovery rebuilds the foreign holders. */
  assert_true (gvd_port_table_take_address (t, "domain:hand-made", 0x7f4d0002u, &error));
  assert_true (gvd_port_table_allocate_address (t, "new", &a, &error));
  assert_int_equal (a, 0x7f4d0003u);
  assert_int_equal (gvd_port_table_release_prefix (t, "domain:"), 0);
  assert_null (gvd_port_table_address_owner (t, 0x7f4d0002u));
  assert_true (gvd_port_table_allocate_address (t, "newer", &a, &error));
  assert_int_equal (a, 0x7f4d0002u);
}

/* A listener on @address (host order) port 0; its port. */
static int
listen_on (guint32 address, guint *out_port)
{
  struct sockaddr_in sa = { 0 };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  assert_true (fd >= 0);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (address);
  assert_int_equal (bind (fd, (struct sockaddr *) &sa, sizeof sa), 0);
  assert_int_equal (listen (fd, 1), 0);
  assert_int_equal (getsockname (fd, (struct sockaddr *) &sa, &len), 0);
  *out_port = ntohs (sa.sin_port);
  return fd;
}

static void
probe__address__busy_on_127_0_0_1_or_on_the_address (void **state)
{
  const guint32 own = 0x7f4d00fdu; /* 127.77.0.253 */
  const guint32 other = 0x7f4d00fcu;
  guint port = 0;
  int fd;

  /* Held on the instance's address only: busy for it, not for 127.0.0.1
   * alone, nor for another address. */
  fd = listen_on (own, &port);
  assert_false (gvd_port_probe_free (port, (gpointer) &own));
  assert_true (gvd_port_probe_free (port, NULL));
  assert_true (gvd_port_probe_free (port, (gpointer) &other));
  close (fd);
  assert_true (gvd_port_probe_free (port, (gpointer) &own));

  /* Held on 127.0.0.1: busy for every address (ports stay unique). */
  fd = listen_on (INADDR_LOOPBACK, &port);
  assert_false (gvd_port_probe_free (port, (gpointer) &own));
  close (fd);
  assert_true (gvd_port_probe_free (port, (gpointer) &own));
}

static void
config_addresses__forms (void **state)
{
  guint32 first = 0, last = 0;
  const struct {
    const char *text;
    const char *expect;
  } bad[] = {
    { "127.0.0.0/8", "contains 127.0.0.1" },
    { "127.0.0.0/16", "contains 127.0.0.1" },
    { "127.0.0.0/30", "contains 127.0.0.1" },
    { "10.77.0.0/16", "not inside 127.0.0.0/8" },
    { "128.0.0.0/16", "not inside 127.0.0.0/8" },
    { "0.0.0.0/16", "not inside 127.0.0.0/8" },
    { "127.77.0.0/31", "forward_addresses" },
    { "127.77.0.1/16", "host bits" },
    { "127.77.0.0", "forward_addresses" },
    { "fd00::/64", "forward_addresses" },
    { "", "forward_addresses" },
  };

  assert_true (gvd_config_parse_forward_addresses ("127.77.0.0/16", &first, &last, NULL));
  assert_int_equal (first, 0x7f4d0001u);
  assert_int_equal (last, 0x7f4dfffeu);
  assert_true (gvd_config_parse_forward_addresses ("127.77.0.0/30", &first, &last, NULL));
  assert_int_equal (first, 0x7f4d0001u);
  assert_int_equal (last, 0x7f4d0002u);
  assert_true (gvd_config_parse_forward_addresses ("127.128.0.0/9", &first, &last, NULL));
  assert_int_equal (last, 0x7ffffffeu);
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      if (gvd_config_parse_forward_addresses (bad[i].text, NULL, NULL, &error))
        fail_msg ("'%s' accepted", bad[i].text);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
      if (strstr (error->message, bad[i].expect) == NULL)
        fail_msg ("'%s': '%s' does not say '%s'", bad[i].text, error->message, bad[i].expect);
    }

  /* The key: a default off 127.0.0.1, and the file refused with the key named. */
  {
    g_autoptr(GvdConfig) config = gvd_config_new ();
    g_autoptr(GvdConfig) bad_config = gvd_config_new ();
    g_autoptr(GvdConfig) empty = gvd_config_new ();
    g_autoptr(GError) error = NULL;

    assert_string_equal (config->network_forward_addresses, "127.77.0.0/16");
    assert_true (gvd_config_load_data (config, "[network]\nforward_addresses=127.9.0.0/24\n", -1,
                                       "test.conf", &error));
    assert_string_equal (config->network_forward_addresses, "127.9.0.0/24");
    assert_false (gvd_config_load_data (bad_config, "[network]\nforward_addresses=127.0.0.0/8\n",
                                        -1, "test.conf", &error));
    assert_non_null (strstr (error->message, "forward_addresses"));
    assert_non_null (strstr (error->message, "contains 127.0.0.1"));
    assert_string_equal (bad_config->network_forward_addresses, "127.77.0.0/16");
    g_clear_error (&error);
    /* No way back to 127.0.0.1 by emptying it. */
    assert_false (gvd_config_load_data (empty, "[network]\nforward_addresses=\n", -1,
                                        "test.conf", &error));
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
    cmocka_unit_test (address__lowest_free__one_per_owner_released_with_ports),
    cmocka_unit_test (address__take__in_range_only_conflicts_named),
    cmocka_unit_test (probe__address__busy_on_127_0_0_1_or_on_the_address),
    cmocka_unit_test (config_addresses__forms),
  };

  return cmocka_run_group_tests_name ("port-table", tests, NULL, NULL);
}
