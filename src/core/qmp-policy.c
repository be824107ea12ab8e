/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QMP allow-list. QEMU runs as one user that owns every VM's disks and
 * can read host files: commands that open host files (blockdev-add,
 * drive-mirror, dump-guest-memory, pmemsave, migrate to a file, screendump,
 * getfd...), change devices, or run HMP (human-monitor-command) would turn
 * the admin API into host access. So only read-only queries and a few
 * guest-only controls pass; the operator may add more with
 * [instances] qmp_allow. */
#include "config.h"

#include "qmp-policy.h"

#include <string.h>

/* Each one acts on the guest only and names no host resource:
 *   system_powerdown  ACPI power button (what the shutdown action sends)
 *   system_reset      hard reset of the guest (the reset action)
 *   system_wakeup     wake a guest from suspend-to-RAM
 *   stop, cont        pause and resume the vCPUs (memory and disks untouched)
 *   qom-list          names and types of QOM properties, no values (qom-get
 *                     is left out: it reads values, e.g. secret objects) */
static const char *const builtin[] = {
  "system_powerdown", "system_reset", "system_wakeup", "stop", "cont", "qom-list", NULL,
};

#define QUERY_PREFIX "query-"

gboolean
gvd_qmp_name_valid (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len == 0 || len > GVD_QMP_NAME_MAX)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

const char *const *
gvd_qmp_policy_builtin (void)
{
  return builtin;
}

gboolean
gvd_qmp_policy_check (const char *command, const char *const *extra, GError **error)
{
  g_autofree char *list = NULL;
  g_autofree char *extras = NULL;

  if (!gvd_qmp_name_valid (command))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'execute' must be a QMP command name (letters, digits, '-' and '_', at most "
                   "%d)", GVD_QMP_NAME_MAX);
      return FALSE;
    }
  if (g_str_has_prefix (command, QUERY_PREFIX) && command[strlen (QUERY_PREFIX)] != '\0')
    return TRUE;
  if (g_strv_contains (builtin, command))
    return TRUE;
  if (extra != NULL && g_strv_contains (extra, command))
    return TRUE;
  list = g_strjoinv (", ", (char **) builtin);
  extras = extra != NULL && extra[0] != NULL ? g_strjoinv (", ", (char **) extra) : NULL;
  g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
               "QMP command '%s' is not allowed: only query-*, %s%s%s pass (add commands with "
               "[instances] qmp_allow)",
               command, list, extras != NULL ? ", " : "", extras != NULL ? extras : "");
  return FALSE;
}
