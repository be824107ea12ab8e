/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations on an instance: lifecycle actions, delete and QMP, each in a
 * worker, with a deadline when libvirt binds or releases devices. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include <string.h>

#include <libvirt/libvirt-qemu.h>

#include "fault-point.h"
#include "snapshot-xml.h"
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
  GPtrArray *vgpus;    /* GvdVgpuAssignment: mdevs to remove; NULL: none */
  const GvdMdevOps *mdev_ops;
  char **data_volumes; /* data disks deleted with the instance */
  GTask *outer;        /* borrowed: the worker's callback holds the ref */
  GSource *deadline;   /* main context only */
  gboolean expired;
  /* shutdown (main context only, but @off: set by its workers) */
  guint phase;         /* ShutdownPhase */
  gboolean stop_seen;  /* a lifecycle event said the domain stopped */
  gboolean force;      /* power off when the guest has not stopped */
  gboolean off;        /* the domain is off */
  gint64 wait_until;   /* monotonic: when the guest's time is up */
  GSource *timer;
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
  g_strfreev (op->data_volumes);
  g_clear_pointer (&op->vgpus, g_ptr_array_unref);
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

/* The state (and VNC socket) an operation answers with (worker). */
static void
read_result (OpData *op, virDomainPtr dom)
{
  op->state = gvd_instance_domain_state (dom);
  if (virDomainIsActive (dom) == 1)
    {
      g_autofree char *live = virDomainGetXMLDesc (dom, 0);
      op->vnc_socket = gvd_instance_parse_vnc_socket (live);
    }
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
      /* A device cold-plugged since may have taken a spare port. */
      if (!gvd_instance_prepare_devices (op->root, (const char *const *) op->addresses, &error)
          || !gvd_instance_ensure_hotplug_ports (conn, dom, op->mgr->d->config->hotplug_ports, &error))
        break;
      rc = virDomainCreate (dom);
      break;
    case GVD_ACTION_STOP:
      if (virDomainIsActive (dom) != 1)
        break; /* already off: stop is idempotent */
      rc = virDomainDestroy (dom);
      break;
    case GVD_ACTION_SHUTDOWN:
      g_assert_not_reached (); /* shutdown_ask_thread and shutdown_finish_thread */
      break;
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
  read_result (op, dom);
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

/* ---- shutdown ------------------------------------------------------------------ */

/* A shutdown asks the guest in a worker (virDomainShutdown), then waits on
 * the main loop, holding no thread, for libvirt's lifecycle event that the
 * domain stopped (gvd_instance_ops_domain_stopped) or for its timeout; then
 * a worker reads the final state, powering the domain off when the timeout
 * came first. */
typedef enum {
  SHUTDOWN_ASKING,
  SHUTDOWN_WAITING,
  SHUTDOWN_FINISHING,
} ShutdownPhase;

static void shutdown_finish (OpData *op, gboolean force);

static void
shutdown_ask_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpData *op = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (op->virt, &error);
  g_autoptr(virDomain) dom = NULL;
  int state = 0;

  if (conn == NULL || (dom = lookup_domain (conn, op->domain_name, op->name, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (virDomainIsActive (dom) != 1)
    {
      op->off = TRUE;
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (virDomainShutdown (dom) < 0)
    g_debug ("ACPI shutdown of %s refused: %s", op->name, virGetLastErrorMessage ());
  gvd_fault_point ("shutdown");
  /* A failed state read means libvirt stopped answering: a failed
   * shutdown, not a finished one. */
  if (virDomainGetState (dom, &state, NULL, 0) < 0)
    {
      g_autofree char *what = g_strdup_printf ("shutdown of instance '%s'", op->name);
      gvd_virt_error_set (&error, what);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  op->off = state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED;
  g_task_return_boolean (task, TRUE);
}

static void
shutdown_finish_thread (GTask *task, gpointer source, gpointer task_data,
                        GCancellable *cancellable)
{
  OpData *op = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (op->virt, &error);
  g_autoptr(virDomain) dom = NULL;

  if (conn == NULL || (dom = lookup_domain (conn, op->domain_name, op->name, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (virDomainGetState (dom, &(int) { 0 }, NULL, 0) < 0)
    {
      g_autofree char *what = g_strdup_printf ("shutdown of instance '%s'", op->name);
      gvd_virt_error_set (&error, what);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  op->off = domain_is_off (dom);
  if (!op->off && op->force)
    {
      g_message ("instance %s: no shutdown within %u s, powering off", op->name, op->timeout);
      if (virDomainDestroy (dom) < 0)
        {
          g_autofree char *what = g_strdup_printf ("shutdown of instance '%s' failed", op->name);
          gvd_virt_error_set (&error, what);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      op->off = TRUE;
    }
  if (op->off)
    read_result (op, dom);
  g_task_return_boolean (task, TRUE);
}

/* The end of a shutdown, on the main context: @error or the result. */
static void
shutdown_complete (OpData *op, GError *error)
{
  GvdInstanceManager *mgr = op->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, op->name);
  GTask *outer = op->outer;

  if (mgr->stop_waiters != NULL && g_hash_table_lookup (mgr->stop_waiters, op->name) == op)
    g_hash_table_remove (mgr->stop_waiters, op->name);
  gvd_instance_disarm_deadline (&op->timer);
  gvd_instance_disarm_deadline (&op->deadline);
  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  if (error == NULL && inst != NULL && op->state != NULL)
    {
      gvd_instance_set_state (mgr, inst, op->state);
      g_free (inst->vnc_socket);
      inst->vnc_socket = g_steal_pointer (&op->vnc_socket);
    }
  if (op->expired)
    g_clear_error (&error);
  else if (error != NULL)
    g_task_return_error (outer, error);
  else
    g_task_return_boolean (outer, TRUE);
  op_data_free (op);
  g_object_unref (outer);
}

static gboolean
shutdown_timer_cb (gpointer data)
{
  OpData *op = data;

  g_clear_pointer (&op->timer, g_source_unref);
  shutdown_finish (op, TRUE);
  return G_SOURCE_REMOVE;
}

/* Wait (on the main loop) for the stop event or the guest's time to end. */
static void
shutdown_wait (OpData *op)
{
  gint64 left_ms = (op->wait_until - g_get_monotonic_time ()) / 1000;

  op->phase = SHUTDOWN_WAITING;
  if (op->stop_seen)
    {
      shutdown_finish (op, FALSE);
      return;
    }
  if (left_ms <= 0)
    {
      shutdown_finish (op, TRUE);
      return;
    }
  op->timer = g_timeout_source_new ((guint) MIN (left_ms, (gint64) G_MAXUINT));
  g_source_set_callback (op->timer, shutdown_timer_cb, op, NULL);
  g_source_attach (op->timer, NULL);
}

static void
shutdown_finished (GObject *source, GAsyncResult *res, gpointer user_data)
{
  OpData *op = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      shutdown_complete (op, error);
      return;
    }
  if (!op->off)
    {
      /* Woken early (an event, or libvirt lost and back): keep waiting. */
      op->stop_seen = FALSE;
      shutdown_wait (op);
      return;
    }
  shutdown_complete (op, NULL);
}

static void
shutdown_finish (OpData *op, gboolean force)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, shutdown_finished, op);

  gvd_instance_disarm_deadline (&op->timer);
  op->phase = SHUTDOWN_FINISHING;
  op->force = force;
  g_task_set_task_data (task, op, NULL);
  g_task_run_in_thread (task, shutdown_finish_thread);
}

static void
shutdown_asked (GObject *source, GAsyncResult *res, gpointer user_data)
{
  OpData *op = user_data;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      shutdown_complete (op, error);
      return;
    }
  if (op->off)
    {
      shutdown_finish (op, FALSE);
      return;
    }
  op->wait_until = g_get_monotonic_time () + (gint64) op->timeout * G_USEC_PER_SEC;
  shutdown_wait (op);
}

static void
shutdown_start (GvdInstanceManager *mgr, GTask *outer, OpData *op)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, shutdown_asked, op);

  op->outer = g_object_ref (outer);
  op->phase = SHUTDOWN_ASKING;
  /* Listening before asking: the event may come before the worker returns. */
  if (mgr->stop_waiters == NULL)
    mgr->stop_waiters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_replace (mgr->stop_waiters, g_strdup (op->name), op);
  if (op_moves_devices (op))
    op->deadline = gvd_instance_arm_deadline (mgr->d->config->device_timeout + op->timeout,
                                              op_deadline_cb, op);
  g_task_set_task_data (task, op, NULL);
  g_task_run_in_thread (task, shutdown_ask_thread);
}

void
gvd_instance_ops_domain_stopped (GvdInstanceManager *mgr, const char *name)
{
  OpData *op = mgr->stop_waiters != NULL ? g_hash_table_lookup (mgr->stop_waiters, name) : NULL;

  if (op == NULL)
    return;
  op->stop_seen = TRUE;
  if (op->phase == SHUTDOWN_WAITING)
    shutdown_finish (op, FALSE);
}

void
gvd_instance_ops_libvirt_lost (GvdInstanceManager *mgr)
{
  GHashTableIter iter;
  gpointer value;

  if (mgr->stop_waiters == NULL)
    return;
  /* No event will come over a lost connection: read the state now (which
   * fails while libvirt is away, as a shutdown then must). */
  g_hash_table_iter_init (&iter, mgr->stop_waiters);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((OpData *) value)->phase == SHUTDOWN_WAITING)
      shutdown_finish (value, FALSE);
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
  if (action == GVD_ACTION_SHUTDOWN)
    shutdown_start (mgr, task, op);
  else
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
  g_autoptr(GPtrArray) chain = NULL;
  g_autofree char *journal = gvd_instance_mdev_journal_dir (op->mgr);
  g_auto(GStrv) unused = NULL;

  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  dom = virDomainLookupByName (conn, op->domain_name);
  if (dom != NULL)
    {
      g_autofree char *xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);

      /* The snapshot layers and NVRAM copies, and what an interrupted
       * snapshot operation left (instance-snapshot.c). */
      chain = xml != NULL ? gvd_snapshot_chain_parse (xml, NULL) : NULL;
      unused = xml != NULL ? gvd_snapshot_unused_parse (xml, NULL) : NULL;
      if (virDomainIsActive (dom) == 1 && virDomainDestroy (dom) < 0)
        gvd_virt_error_set (&error, "cannot power the domain off");
      /* Undefined, the domain no longer names its vGPUs: journal them. */
      if (error != NULL || !gvd_instance_mdevs_journal (journal, op->name, op->vgpus, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if (virDomainUndefineFlags (dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                                           | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                                           | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0)
        {
          gvd_virt_error_set (&error, "cannot undefine the domain");
          gvd_instance_mdevs_forget (journal, op->vgpus); /* still named by the domain */
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
  /* The vGPUs once the domain is gone (a defined domain still names them).
   * A failure leaves the instance: deleting it again retries. */
  if (!gvd_instance_remove_mdevs (op->mdev_ops, conn, op->vgpus, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  gvd_instance_mdevs_forget (journal, op->vgpus);
  for (gsize i = 0; op->data_volumes != NULL && op->data_volumes[i] != NULL; i++)
    if (!gvd_storage_delete_volume (conn, op->pool, op->data_volumes[i], &error))
      {
        g_task_return_error (task, g_steal_pointer (&error));
        return;
      }
  for (guint i = chain != NULL ? chain->len : 0; i > 0; i--)
    {
      GvdSnapshot *s = g_ptr_array_index (chain, i - 1);

      if (!gvd_storage_delete_volume (conn, op->pool, s->volume, &error)
          || (s->nvram_volume != NULL
              && !gvd_storage_delete_volume (conn, op->pool, s->nvram_volume, &error)))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  for (gsize i = 0; unused != NULL && unused[i] != NULL; i++)
    if (!gvd_storage_delete_volume (conn, op->pool, unused[i], &error))
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
  op->vgpus = gvd_instance_spec_vgpus (inst->spec);
  op->mdev_ops = mgr->mdev_ops;
  op->data_volumes = gvd_instance_disks_to_delete (inst->spec);
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
