/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qmp-policy.c: query-* and the short built-in list pass; commands that touch
 * host files, memory, block devices or HMP are forbidden unless the operator
 * adds them; malformed names are invalid. */
#include "config.h"

#include "testlib.h"

#include <string.h>

#include "qmp-policy.h"

static void
check__allowed_commands__pass (void **state)
{
  const char *ok[] = { "query-status", "query-block", "query-cpus-fast", "system_powerdown",
                       "system_reset", "system_wakeup", "stop", "cont", "qom-list" };

  for (gsize i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autoptr(GError) error = NULL;
      if (!gvd_qmp_policy_check (ok[i], NULL, &error))
        print_error ("%s: %s\n", ok[i], error->message);
      assert_null (error);
    }
}

static void
check__dangerous_commands__forbidden_naming_them (void **state)
{
  const char *bad[] = { "human-monitor-command", "dump-guest-memory", "pmemsave", "memsave",
                        "blockdev-add", "drive-mirror", "blockdev-backup", "screendump",
                        "migrate", "getfd", "add-fd", "device_add", "object-add", "qom-set",
                        "qom-get", "x-query-virtio-queue-element", "query-", "quit",
                        "chardev-add", "netdev_add", "qmp_capabilities", "Query-status" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *quoted = g_strdup_printf ("'%s'", bad[i]);

      if (gvd_qmp_policy_check (bad[i], NULL, &error))
        fail_msg ("%s passed", bad[i]);
      assert_int_equal (error->code, GVD_ERROR_FORBIDDEN);
      assert_non_null (strstr (error->message, quoted));
      assert_non_null (strstr (error->message, "qmp_allow"));
    }
}

static void
check__operator_extra__passes_only_that_one (void **state)
{
  const char *extra[] = { "inject-nmi", "send-key", NULL };
  g_autoptr(GError) error = NULL;

  assert_true (gvd_qmp_policy_check ("inject-nmi", extra, NULL));
  assert_true (gvd_qmp_policy_check ("send-key", extra, NULL));
  assert_false (gvd_qmp_policy_check ("pmemsave", extra, &error));
  assert_int_equal (error->code, GVD_ERROR_FORBIDDEN);
  assert_non_null (strstr (error->message, "inject-nmi, send-key"));
}

static void
check__malformed_names__invalid_argument (void **state)
{
  g_autofree char *long_name = g_strnfill (GVD_QMP_NAME_MAX + 1, 'a');
  const char *bad[] = { "", "query status", "query-status\n", "query-\xc3\xa9", "query-a/b",
                        long_name };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      assert_false (gvd_qmp_policy_check (bad[i], NULL, &error));
      assert_int_equal (error->code, GVD_ERROR_INVALID_ARGUMENT);
    }
  assert_false (gvd_qmp_name_valid (NULL));
}

static void
builtin__list__no_host_touching_command (void **state)
{
  const char *const *list = gvd_qmp_policy_builtin ();

  assert_non_null (list[0]);
  for (gsize i = 0; list[i] != NULL; i++)
    {
      assert_true (gvd_qmp_name_valid (list[i]));
      assert_null (strstr (list[i], "block"));
      assert_null (strstr (list[i], "dump"));
      assert_null (strstr (list[i], "save"));
      assert_null (strstr (list[i], "monitor"));
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (check__allowed_commands__pass),
    cmocka_unit_test (check__dangerous_commands__forbidden_naming_them),
    cmocka_unit_test (check__operator_extra__passes_only_that_one),
    cmocka_unit_test (check__malformed_names__invalid_argument),
    cmocka_unit_test (builtin__list__no_host_touching_command),
  };

  return cmocka_run_group_tests_name ("qmp-policy", tests, NULL, NULL);
}
