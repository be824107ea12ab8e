/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The check of the devices libvirt hands back when an instance stops. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include "device-health.h"
#include "events.h"

typedef struct {
  GvdInstanceManager *mgr;
  GvdHostRoot *root;
  char *instance;
  char **addresses;
  char **expected_drivers; /* parallel to addresses; "" means any */
  char **reasons;          /* result: parallel, NULL entries for healthy */
} ReleaseCheck;

static void
release_check_free (ReleaseCheck *rc)
{
  gvd_host_root_free (rc->root);
  g_free (rc->instance);
  g_strfreev (rc->addresses);
  g_strfreev (rc->expected_drivers);
  if (rc->reasons != NULL)
    for (guint i = 0; rc->addresses[i] != NULL; i++)
      g_free (rc->reasons[i]);
  g_free (rc->reasons);
  g_free (rc);
}

static void
release_check_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ReleaseCheck *rc = task_data;
  guint n = g_strv_length (rc->addresses);

  rc->reasons = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      const char *expected = rc->expected_drivers[i][0] != '\0' ? rc->expected_drivers[i] : NULL;
      gvd_device_check_released (rc->root, rc->addresses[i], expected, &rc->reasons[i]);
    }
  g_task_return_boolean (task, TRUE);
}

static void
release_check_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  ReleaseCheck *rc = g_task_get_task_data (G_TASK (res));

  for (guint i = 0; rc->addresses[i] != NULL; i++)
    if (rc->reasons[i] != NULL)
      {
        g_warning ("device %s quarantined after instance %s stopped: %s", rc->addresses[i],
                   rc->instance, rc->reasons[i]);
        gvd_claims_quarantine (rc->mgr->d->claims, rc->addresses[i], rc->reasons[i]);
        gvd_events_emit_device (rc->mgr->d->events, "device.quarantined", rc->addresses[i], rc->reasons[i]);
      }
}

/* After an instance's domain stops, libvirt gives its devices back to the
 * host: check each came back (config space answers, host driver rebound)
 * and quarantine the ones that did not, so they are never planned again
 * until an operator clears them. */
void
gvd_instance_schedule_release_check (GvdInstanceManager *mgr, GvdInstance *inst)
{
  g_autoptr(GStrvBuilder) drivers = g_strv_builder_new ();
  ReleaseCheck *rc;
  GTask *task;

  rc = g_new0 (ReleaseCheck, 1);
  rc->addresses = gvd_instance_hostdev_addresses (inst->spec);
  if (rc->addresses[0] == NULL)
    {
      release_check_free (rc);
      return;
    }
  for (guint i = 0; rc->addresses[i] != NULL; i++)
    {
      const GvdPciDevice *dev = g_hash_table_lookup (mgr->d->inventory->by_address, rc->addresses[i]);
      /* The host driver seen at start-up; vfio-pci there means the device was
       * passed through already, so any host driver is fine. */
      gboolean known = dev != NULL && dev->driver != NULL && !g_str_equal (dev->driver, "vfio-pci");
      g_strv_builder_add (drivers, known ? dev->driver : "");
    }
  rc->expected_drivers = g_strv_builder_end (drivers);
  rc->mgr = mgr;
  rc->root = gvd_host_root_copy (mgr->d->host_root);
  rc->instance = g_strdup (inst->spec->name);
  task = g_task_new (NULL, NULL, release_check_done, NULL);
  g_task_set_task_data (task, rc, (GDestroyNotify) release_check_free);
  g_task_run_in_thread (task, release_check_thread);
  g_object_unref (task);
}
