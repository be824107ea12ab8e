/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt connection and libvirt's event loop thread.
 *
 * libvirt's event implementation runs on the GLib main loop; handlers for
 * its callbacks are always deferred to an idle source, because libvirt holds
 * its own locks while it calls them. Opening a connection blocks, so it runs
 * in a GTask worker. */
#include "config.h"

#include "virt-conn.h"

#include <gio/gio.h>

/* ---- libvirt events on the GLib main loop ------------------------------ */

static void
silence_libvirt (void *data, virErrorPtr err)
{
  /* libvirt prints every error to stderr unless told otherwise; gpuvmd
   * reports errors itself, with context. */
}

void
gvd_virt_event_loop_start (void)
{
  static gsize once = 0;

  /* Since libvirt 6.x the default event implementation dispatches on GLib's
   * default main context, so keepalives, close callbacks and domain events
   * run in gpuvmd's own main loop with no thread of their own. */
  if (g_once_init_enter (&once))
    {
      virSetErrorFunc (NULL, silence_libvirt);
      if (virEventRegisterDefaultImpl () < 0)
        g_warning ("cannot register libvirt's event implementation: %s",
                   virGetLastErrorMessage ());
      g_once_init_leave (&once, 1);
    }
}

char *
gvd_virt_format_version (unsigned long v)
{
  return g_strdup_printf ("%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}

/* ---- the connection ---------------------------------------------------- */

struct _GvdVirtConn
{
  GObject parent_instance;

  char *uri;
  guint keepalive_interval;
  guint keepalive_count;
  guint max_retry_delay;
  GMainContext *context;

  GMutex lock;
  virConnectPtr conn; /* under lock: workers take references */

  GvdVirtState state;
  gboolean closing;
  unsigned long lib_version;
  unsigned long hv_version;
  char *hv_type;
  char *last_error;
  guint attempt;
  guint reconnects;
  gboolean was_connected;
  GSource *retry_source;
  GCancellable *cancellable;
};

G_DEFINE_TYPE (GvdVirtConn, gvd_virt_conn, G_TYPE_OBJECT)

enum { SIGNAL_CONNECTED, SIGNAL_DISCONNECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct {
  virConnectPtr conn;
  unsigned long lib_version;
  unsigned long hv_version;
  char *hv_type;
} OpenResult;

static void
open_result_free (OpenResult *r)
{
  if (r->conn != NULL)
    virConnectClose (r->conn);
  g_free (r->hv_type);
  g_free (r);
}

/* Close-callback data lives as long as libvirt keeps the callback. */
typedef struct {
  GWeakRef self;
  GMainContext *context;
} CloseData;

typedef struct {
  GWeakRef self;
  virConnectPtr conn; /* identity only, never dereferenced */
  int reason;
} ClosedEvent;

static void schedule_retry (GvdVirtConn *self);
static void close_cb (virConnectPtr conn, int reason, void *opaque);
static void start_attempt (GvdVirtConn *self);

static void
close_data_free (void *opaque)
{
  CloseData *cd = opaque;

  g_weak_ref_clear (&cd->self);
  g_main_context_unref (cd->context);
  g_free (cd);
}

static const char *
close_reason_string (int reason)
{
  switch (reason)
    {
    case VIR_CONNECT_CLOSE_REASON_ERROR: return "connection error";
    case VIR_CONNECT_CLOSE_REASON_EOF: return "libvirtd closed the connection";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "keepalive timed out";
    case VIR_CONNECT_CLOSE_REASON_CLIENT: return "closed by gpuvmd";
    default: return "unknown reason";
    }
}

static void
close_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  virConnectClose (task_data);
  g_task_return_boolean (task, TRUE);
}

/* Closing the last reference to a connection is an RPC to libvirtd, which
 * may not answer: never on the main loop. */
static void
close_in_worker (virConnectPtr conn)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);

  g_task_set_task_data (task, conn, NULL);
  g_task_run_in_thread (task, close_thread);
}

static void
drop_connection (GvdVirtConn *self, const char *why)
{
  virConnectPtr conn;

  g_mutex_lock (&self->lock);
  conn = g_steal_pointer (&self->conn);
  g_mutex_unlock (&self->lock);
  if (conn == NULL)
    return;

  /* Local in the remote driver (no RPC). */
  virConnectUnregisterCloseCallback (conn, close_cb);
  close_in_worker (conn);
  self->state = GVD_VIRT_DISCONNECTED;
  g_free (self->last_error);
  self->last_error = g_strdup (why);
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, why);
}

static gboolean
closed_on_main (gpointer data)
{
  ClosedEvent *ev = data;
  g_autoptr(GvdVirtConn) self = g_weak_ref_get (&ev->self);
  gboolean current;

  if (self == NULL || self->closing)
    return G_SOURCE_REMOVE;

  g_mutex_lock (&self->lock);
  current = self->conn == ev->conn;
  g_mutex_unlock (&self->lock);
  if (!current)
    return G_SOURCE_REMOVE;

  g_message ("lost libvirt connection to %s: %s", self->uri, close_reason_string (ev->reason));
  drop_connection (self, close_reason_string (ev->reason));
  self->attempt = 0;
  schedule_retry (self);
  return G_SOURCE_REMOVE;
}

static void
closed_event_free (gpointer data)
{
  ClosedEvent *ev = data;

  g_weak_ref_clear (&ev->self);
  g_free (ev);
}

/* Called by libvirt with its close-callback lock held: defer the work, never
 * run it here (unregistering the callback inside it would deadlock). */
static void
close_cb (virConnectPtr conn, int reason, void *opaque)
{
  CloseData *cd = opaque;
  ClosedEvent *ev = g_new0 (ClosedEvent, 1);
  g_autoptr(GObject) self = g_weak_ref_get (&cd->self);
  g_autoptr(GSource) idle = g_idle_source_new ();

  g_weak_ref_init (&ev->self, self);
  ev->conn = conn;
  ev->reason = reason;
  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (idle, closed_on_main, ev, closed_event_free);
  g_source_attach (idle, cd->context);
}

static void
open_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GvdVirtConn *self = source;
  g_autoptr(GError) error = NULL;
  OpenResult *r = g_new0 (OpenResult, 1);
  const char *type;

  r->conn = virConnectOpen (self->uri);
  if (r->conn == NULL)
    {
      open_result_free (r);
      gvd_virt_set_error (&error, GVD_ERROR_LIBVIRT_UNAVAILABLE, "cannot connect to libvirt");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (virConnectSetKeepAlive (r->conn, self->keepalive_interval, self->keepalive_count) < 0)
    g_debug ("keepalive not enabled on %s: %s", self->uri, virGetLastErrorMessage ());
  if (virConnectGetLibVersion (r->conn, &r->lib_version) < 0)
    r->lib_version = 0;
  if (virConnectGetVersion (r->conn, &r->hv_version) < 0)
    r->hv_version = 0;
  type = virConnectGetType (r->conn);
  r->hv_type = g_strdup (type != NULL ? type : "unknown");
  g_task_return_pointer (task, r, (GDestroyNotify) open_result_free);
}

static void
open_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GvdVirtConn *self = GVD_VIRT_CONN (source);
  g_autoptr(GError) error = NULL;
  OpenResult *r = g_task_propagate_pointer (G_TASK (res), &error);
  CloseData *cd;

  if (r == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (self->attempt == 0 || g_strcmp0 (self->last_error, error->message) != 0)
        g_message ("%s", error->message);
      g_free (self->last_error);
      self->last_error = g_strdup (error->message);
      self->state = GVD_VIRT_DISCONNECTED;
      self->attempt++;
      schedule_retry (self);
      return;
    }
  if (self->closing)
    {
      open_result_free (r);
      return;
    }

  cd = g_new0 (CloseData, 1);
  g_weak_ref_init (&cd->self, self);
  cd->context = g_main_context_ref (self->context);
  if (virConnectRegisterCloseCallback (r->conn, close_cb, cd, close_data_free) < 0)
    {
      g_warning ("cannot watch the libvirt connection for loss: %s", virGetLastErrorMessage ());
      close_data_free (cd);
    }

  g_mutex_lock (&self->lock);
  self->conn = g_steal_pointer (&r->conn);
  g_mutex_unlock (&self->lock);

  self->lib_version = r->lib_version;
  self->hv_version = r->hv_version;
  g_free (self->hv_type);
  self->hv_type = g_strdup (r->hv_type);
  g_clear_pointer (&self->last_error, g_free);
  self->state = GVD_VIRT_CONNECTED;
  self->attempt = 0;
  if (self->was_connected)
    self->reconnects++;
  self->was_connected = TRUE;
  open_result_free (r);

  {
    g_autofree char *lv = gvd_virt_format_version (self->lib_version);
    g_autofree char *hv = gvd_virt_format_version (self->hv_version);
    g_message ("connected to %s (libvirt %s, %s %s)", self->uri, lv, self->hv_type, hv);
  }
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0);
}

static void
start_attempt (GvdVirtConn *self)
{
  g_autoptr(GTask) task = NULL;

  if (self->closing || self->state != GVD_VIRT_DISCONNECTED)
    return;
  self->state = GVD_VIRT_CONNECTING;
  task = g_task_new (self, self->cancellable, open_done, NULL);
  g_task_set_source_tag (task, start_attempt);
  g_task_run_in_thread (task, open_thread);
}

static gboolean
retry_cb (gpointer data)
{
  GvdVirtConn *self = data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  start_attempt (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (GvdVirtConn *self)
{
  guint delay_ms;

  if (self->closing || self->retry_source != NULL)
    return;
  /* 250 ms, 500 ms, 1 s, 2 s… capped; the first retry after a loss is quick
   * because libvirtd restarts are usually short. */
  delay_ms = 250u << MIN (self->attempt, 10u);
  delay_ms = MIN (delay_ms, self->max_retry_delay * 1000u);
  self->retry_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (self->retry_source, retry_cb, self, NULL);
  g_source_attach (self->retry_source, self->context);
}

void
gvd_virt_conn_start (GvdVirtConn *self)
{
  g_return_if_fail (GVD_IS_VIRT_CONN (self));
  gvd_virt_event_loop_start ();
  start_attempt (self);
}

void
gvd_virt_conn_close (GvdVirtConn *self)
{
  g_return_if_fail (GVD_IS_VIRT_CONN (self));

  self->closing = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->retry_source != NULL)
    {
      g_source_destroy (self->retry_source);
      g_clear_pointer (&self->retry_source, g_source_unref);
    }
  g_mutex_lock (&self->lock);
  if (self->conn != NULL)
    {
      virConnectUnregisterCloseCallback (self->conn, close_cb);
      virConnectClose (g_steal_pointer (&self->conn));
    }
  g_mutex_unlock (&self->lock);
  self->state = GVD_VIRT_DISCONNECTED;
}

virConnectPtr
gvd_virt_conn_get (GvdVirtConn *self, GError **error)
{
  virConnectPtr conn = NULL;

  g_return_val_if_fail (GVD_IS_VIRT_CONN (self), NULL);

  g_mutex_lock (&self->lock);
  if (self->conn != NULL && virConnectRef (self->conn) == 0)
    conn = self->conn;
  g_mutex_unlock (&self->lock);
  if (conn == NULL)
    g_set_error (error, GVD_ERROR, GVD_ERROR_LIBVIRT_UNAVAILABLE,
                 "libvirt at %s is not connected (reconnecting)", self->uri);
  return conn;
}

GvdVirtState gvd_virt_conn_get_state (GvdVirtConn *self) { return self->state; }
const char *gvd_virt_conn_get_uri (GvdVirtConn *self) { return self->uri; }
unsigned long gvd_virt_conn_get_lib_version (GvdVirtConn *self) { return self->lib_version; }
unsigned long gvd_virt_conn_get_hv_version (GvdVirtConn *self) { return self->hv_version; }
const char *gvd_virt_conn_get_hv_type (GvdVirtConn *self) { return self->hv_type; }
const char *gvd_virt_conn_get_last_error (GvdVirtConn *self) { return self->last_error; }
guint gvd_virt_conn_get_reconnects (GvdVirtConn *self) { return self->reconnects; }

const char *
gvd_virt_state_to_string (GvdVirtState state)
{
  switch (state)
    {
    case GVD_VIRT_CONNECTED: return "connected";
    case GVD_VIRT_CONNECTING: return "connecting";
    case GVD_VIRT_DISCONNECTED:
    default: return "disconnected";
    }
}

static void
gvd_virt_conn_finalize (GObject *object)
{
  GvdVirtConn *self = GVD_VIRT_CONN (object);

  gvd_virt_conn_close (self);
  g_clear_object (&self->cancellable);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_free (self->uri);
  g_free (self->hv_type);
  g_free (self->last_error);
  G_OBJECT_CLASS (gvd_virt_conn_parent_class)->finalize (object);
}

static void
gvd_virt_conn_class_init (GvdVirtConnClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = gvd_virt_conn_finalize;
  signals[SIGNAL_CONNECTED] =
    g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
gvd_virt_conn_init (GvdVirtConn *self)
{
  g_mutex_init (&self->lock);
  self->cancellable = g_cancellable_new ();
  self->context = g_main_context_ref_thread_default ();
}

GvdVirtConn *
gvd_virt_conn_new (const char *uri, guint keepalive_interval, guint keepalive_count,
                   guint max_retry_delay)
{
  GvdVirtConn *self = g_object_new (GVD_TYPE_VIRT_CONN, NULL);

  self->uri = g_strdup (uri);
  self->keepalive_interval = keepalive_interval;
  self->keepalive_count = keepalive_count;
  self->max_retry_delay = MAX (max_retry_delay, 1u);
  return self;
}
