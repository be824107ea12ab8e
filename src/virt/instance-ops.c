/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations on an instance: lifecycle actions, delete and QMP, each in a
 * worker, with a deadline when libvirt binds or releases devices. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include <string.h>

#include <libvirt/libvirt-qemu.h>

#include "fault-point.h"
#include "storage.h"

/* ---- lifecycle ------------------------------------------------------------------- */

static const char *const action_names[] = { "start", "shutdown", "stop", "reboot", "reset" };

const char *
gvd_instance_action_to_string (GvdInstanceAction action)
{
  return (guint) action < G_N_ELEMENTS (action_names) ? action_names[action] : "unknown";
}

gboolean
gvd_instance_action_from_string (const char *s, GvdInstanceAction *out_action)
{
  for (guint i = 0; i < G_N_ELEMENTS (action_names); i++)
    if (g_strcmp0 (s, action_names[i]) == 0)
      {
        *out_action = i;
        return TRUE;
      }
  return FALSE;
}

typedef struct {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  GvdHostRoot *root;
  char **addresses;    /* PCI hostdevs */
  char *name;          /* instance */
  char *domain_name;
  GvdInstanceAction action;
  guint timeout;
  char *command;       /* qmp */
  /* for delete */
  char *pool;
  char *root_volume;
  char *seed_volume;
  GTask *outer;        /* borrowed: the worker's callback holds the ref */
  GSource *deadline;   /* main context only */
  gboolean expired;
  /* results */
  char *state;
  char *vnc_socket;
} OpData;

static void
op_data_free (OpData *op)
{
  g_clear_object (&op->virt);
  gvd_host_root_free (op->root);
  g_strfreev (op->addresses);
  g_free (op->name);
  g_free (op->domain_name);
  g_free (op->command);
  g_free (op->pool);
  g_free (op->root_volume);
  g_free (op->seed_volume);
  g_free (op->state);
  g_free (op->vnc_socket);
  g_free (op);
}

static virDomainPtr
lookup_domain (virConnectPtr conn, const char *domain_name, const char *name, GError **error)
{
  virDomainPtr dom = virDomainLookupByName (conn, domain_name);

  if (dom == NULL && gvd_virt_error_code (GVD_ERROR_NOT_FOUND) == GVD_ERROR_LIBVIRT_UNAVAILABLE)
    {
      g_autofree char *what = g_strdup_printf ("instance '%s'", name);
      gvd_virt_set_error (error, GVD_ERROR_LIBVIRT_UNAVAILABLE, what);
    }
  else if (dom == NULL)
    g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                 "instance '%s': libvirt has no domain %s", name, domain_name);
  return dom;
}

static gboolean
domain_is_off (virDomainPtr dom)
{
  int state = 0;

  if (virDomainGetState (dom, &state, NULL, 0) < 0)
    return TRUE;
  return state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED;
}

static void
action_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpData *op = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (op->virt, &error);
  g_autoptr(virDomain) dom = NULL;
  int rc = 0;

  if (conn == NULL || (dom = lookup_domain (conn, op->domain_name, op->name, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  switch (op->action)
    {
    case GVD_ACTION_START:
      if (virDomainIsActive (dom) == 1)
        {
          g_set_error (&error, GVD_ERROR, GVD_ERROR_INVALID_STATE, "instance '%s' is already running",
                       op->name);
          break;
        }
      if (!gvd_instance_prepare_devices (op->root, (const char *const *) op->addresses, &error))
        break;
      rc = virDomainCreate (dom);
      break;
    case GVD_ACTION_STOP:
      if (virDomainIsActive (dom) != 1)
        break; /* already off: stop is idempotent */
      rc = virDomainDestroy (dom);
      break;
    case GVD_ACTION_SHUTDOWN:
      {
        gint64 deadline = g_get_monotonic_time () + (gint64) op->timeout * G_USEC_PER_SEC;

        if (virDomainIsActive (dom) != 1)
          break;
        if (virDomainShutdown (dom) < 0)
          g_debug ("ACPI shutdown of %s refused: %s", op->name, virGetLastErrorMessage ());
        gvd_fault_point ("shutdown");
        while (!domain_is_off (dom) && g_get_monotonic_time () < deadline)
          g_usleep (100 * 1000);
        /* domain_is_off () also holds when libvirt stopped answering: that
         * is a failed shutdown, not a finished one. */
        if (virDomainGetState (dom, &(int) { 0 }, NULL, 0) < 0)
          {
            g_autofree char *what = g_strdup_printf ("shutdown of instance '%s'", op->name);
            gvd_virt_error_set (&error, what);
            break;
          }
        if (!domain_is_off (dom))
          {
            g_message ("instance %s: no shutdown within %u s, powering off", op->name, op->timeout);
            rc = virDomainDestroy (dom);
          }
        break;
      }
    case GVD_ACTION_REBOOT:
    case GVD_ACTION_RESET:
      if (virDomainIsActive (dom) != 1)
        {
          g_set_error (&error, GVD_ERROR, GVD_ERROR_INVALID_STATE, "instance '%s' is not running",
                       op->name);
          break;
        }
      rc = op->action == GVD_ACTION_REBOOT ? virDomainReboot (dom, 0) : virDomainReset (dom, 0);
      break;
    }
  if (error == NULL && rc < 0)
    {
      g_autofree char *what = g_strdup_printf ("%s of instance '%s' failed",
                                               gvd_instance_action_to_string (op->action), op->name);
      gvd_virt_error_set (&error, what);
    }
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  op->state = gvd_instance_domain_state (dom);
  if (virDomainIsActive (dom) == 1)
    {
      g_autofree char *live = virDomainGetXMLDesc (dom, 0);
      op->vnc_socket = gvd_instance_parse_vnc_socket (live);
    }
  g_task_return_boolean (task, TRUE);
}

static void
op_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  OpData *op = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = op->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, op->name);
  g_autoptr(GError) error = NULL;

  gvd_instance_disarm_deadline (&op->deadline);
  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      if (op->action == GVD_ACTION_START)
        gvd_instance_log_start_refused (op->name, "start", error);
      if (!op->expired)
        g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  if (inst != NULL && op->state != NULL)
    {
      gvd_instance_set_state (mgr, inst, op->state);
      g_free (inst->vnc_socket);
      inst->vnc_socket = g_steal_pointer (&op->vnc_socket);
    }
  if (!op->expired)
    g_task_return_boolean (outer, TRUE);
}

/* Common start of every operation on an existing instance. */
static OpData *
begin_op (GvdInstanceManager *mgr, GTask *task, const char *name, const char *busy)
{
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);
  OpData *op;

  if (inst == NULL)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no instance named '%s'", name);
      return NULL;
    }
  if (inst->busy != NULL)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                               "instance '%s' is busy (%s); retry when it is done", name, inst->busy);
      return NULL;
    }
  inst->busy = g_strdup (busy);
  op = g_new0 (OpData, 1);
  op->mgr = mgr;
  op->virt = g_object_ref (mgr->d->virt);
  op->root = gvd_host_root_copy (mgr->d->host_root);
  op->addresses = gvd_instance_hostdev_addresses (inst->spec);
  op->name = g_strdup (name);
  op->domain_name = g_strdup (inst->spec->domain_name);
  return op;
}

static gboolean
op_deadline_cb (gpointer data)
{
  OpData *op = data;
  guint seconds = op->mgr->d->config->device_timeout;
  g_autofree char *what = g_strdup_printf ("the %s", op->command != NULL ? "command"
                                           : op->root_volume != NULL ? "delete"
                                           : gvd_instance_action_to_string (op->action));

  g_clear_pointer (&op->deadline, g_source_unref);
  op->expired = TRUE;
  gvd_instance_mark_wedged (op->mgr, op->addresses, what, seconds);
  g_task_return_new_error (op->outer, GVD_ERROR, GVD_ERROR_TIMEOUT,
                           "instance '%s': libvirt did not finish %s within %u s; its devices are "
                           "quarantined as wedged (see GET /v1/devices)", op->name, what, seconds);
  return G_SOURCE_REMOVE;
}

/* Operations that make libvirt bind or release passed-through devices. */
static gboolean
op_moves_devices (const OpData *op)
{
  if (op->addresses == NULL || op->addresses[0] == NULL || op->command != NULL)
    return FALSE;
  if (op->root_volume != NULL) /* delete */
    return TRUE;
  return op->action == GVD_ACTION_START || op->action == GVD_ACTION_STOP
         || op->action == GVD_ACTION_SHUTDOWN;
}

static void
run_op (GvdInstanceManager *mgr, GTask *outer, OpData *op, GTaskThreadFunc func,
        GAsyncReadyCallback done)
{
  GTask *inner = g_task_new (NULL, NULL, done, g_object_ref (outer));

  g_task_set_task_data (inner, op, (GDestroyNotify) op_data_free);
  op->outer = outer;
  if (op_moves_devices (op))
    {
      /* A shutdown first waits for the guest, then the release starts. */
      guint seconds = mgr->d->config->device_timeout
                      + (op->action == GVD_ACTION_SHUTDOWN && op->root_volume == NULL ? op->timeout : 0);
      op->deadline = gvd_instance_arm_deadline (seconds, op_deadline_cb, op);
    }
  g_task_run_in_thread (inner, func);
  g_object_unref (inner);
}

void
gvd_instance_manager_action_async (GvdInstanceManager *mgr, const char *name,
                                   GvdInstanceAction action, guint timeout_seconds,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  OpData *op = begin_op (mgr, task, name, gvd_instance_action_to_string (action));

  if (op == NULL)
    return;
  op->action = action;
  op->timeout = timeout_seconds > 0 ? timeout_seconds : mgr->d->config->shutdown_timeout;
  run_op (mgr, task, op, action_thread, op_done);
}

gboolean
gvd_instance_manager_action_finish (GvdInstanceManager *mgr, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- delete ----------------------------------------------------------------------- */

static void
delete_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpData *op = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (op->virt, &error);
  g_autoptr(virDomain) dom = NULL;

  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  dom = virDomainLookupByName (conn, op->domain_name);
  if (dom != NULL)
    {
      if (virDomainIsActive (dom) == 1 && virDomainDestroy (dom) < 0)
        {
          gvd_virt_error_set (&error, "cannot power the domain off");
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if (virDomainUndefineFlags (dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                                           | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                                           | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0)
        {
          gvd_virt_error_set (&error, "cannot undefine the domain");
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  if (!gvd_storage_delete_volume (conn, op->pool, op->seed_volume, &error)
      || !gvd_storage_delete_volume (conn, op->pool, op->root_volume, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}


static void
delete_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  OpData *op = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = op->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, op->name);
  g_autoptr(GError) error = NULL;

  gvd_instance_disarm_deadline (&op->deadline);
  gvd_instance_note_change (mgr);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      if (inst != NULL)
        g_clear_pointer (&inst->busy, g_free);
      if (!op->expired)
        g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  g_message ("instance %s: deleted (domain, NVRAM, volumes, claims, address)", op->name);
  gvd_instance_remove (mgr, op->name);
  if (!op->expired)
    g_task_return_boolean (outer, TRUE);
}

void
gvd_instance_manager_delete_async (GvdInstanceManager *mgr, const char *name,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  OpData *op = begin_op (mgr, task, name, "deleting");
  GvdInstance *inst;

  if (op == NULL)
    return;
  inst = g_hash_table_lookup (mgr->instances, name);
  op->pool = g_strdup (mgr->d->config->pool_name);
  op->root_volume = g_strdup (((GvdDiskSpec *) g_ptr_array_index (inst->spec->disks, 0))->volume);
  op->seed_volume = g_strdup (inst->spec->seed_volume);
  run_op (mgr, task, op, delete_thread, delete_done);
}

gboolean
gvd_instance_manager_delete_finish (GvdInstanceManager *mgr, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- QMP ----------------------------------------------------------------------------- */

static void
qmp_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpData *op = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (op->virt, &error);
  g_autoptr(virDomain) dom = NULL;
  char *reply = NULL;

  if (conn == NULL || (dom = lookup_domain (conn, op->domain_name, op->name, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (virDomainIsActive (dom) != 1)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                               "instance '%s' is not running: QEMU has no monitor", op->name);
      return;
    }
  if (virDomainQemuMonitorCommand (dom, op->command, &reply, VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT) < 0)
    {
      gvd_virt_error_set (&error, "QMP command failed");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, reply, free);
}

static void
qmp_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  OpData *op = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = op->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, op->name);
  g_autoptr(GError) error = NULL;
  char *reply = g_task_propagate_pointer (G_TASK (res), &error);

  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  if (reply == NULL)
    {
      g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (outer, g_strdup (reply), g_free);
  free (reply);
}

void
gvd_instance_manager_qmp_async (GvdInstanceManager *mgr, const char *name, const char *command,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  OpData *op = begin_op (mgr, task, name, "qmp");

  if (op == NULL)
    return;
  op->command = g_strdup (command);
  run_op (mgr, task, op, qmp_thread, qmp_done);
}

char *
gvd_instance_manager_qmp_finish (GvdInstanceManager *mgr, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
