/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Detach a device from a running domain and wait for the guest to release
 * it (libvirt's DEVICE_REMOVED / DEVICE_REMOVAL_FAILED events). */
#include "config.h"

#include "device-detach.h"

#include "domain-xml-device.h"
#include "virt-conn.h"
#include "virt-error.h"

typedef enum { WAIT_PENDING, WAIT_REMOVED, WAIT_FAILED } WaitState;

/* Shared by the waiting worker and libvirt's callbacks (main context):
 * libvirt holds one reference per registered callback. */
typedef struct {
  gint ref;
  GMutex lock;
  GCond cond;
  char *alias;
  WaitState state;
} Waiter;

static Waiter *
waiter_ref (Waiter *w)
{
  g_atomic_int_inc (&w->ref);
  return w;
}

static void
waiter_unref (void *data)
{
  Waiter *w = data;

  if (!g_atomic_int_dec_and_test (&w->ref))
    return;
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_free (w->alias);
  g_free (w);
}

static void
settle (Waiter *w, const char *alias, WaitState state)
{
  g_mutex_lock (&w->lock);
  if (w->state == WAIT_PENDING && g_strcmp0 (alias, w->alias) == 0)
    {
      w->state = state;
      g_cond_broadcast (&w->cond);
    }
  g_mutex_unlock (&w->lock);
}

static void
removed_cb (virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
  settle (opaque, alias, WAIT_REMOVED);
}

static void
removal_failed_cb (virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
  settle (opaque, alias, WAIT_FAILED);
}

/* Whether the running @dom still has a device called @alias; TRUE when it
 * cannot be told. */
static gboolean
still_there (virDomainPtr dom, const char *alias)
{
  g_autofree char *xml = NULL;
  char *raw = virDomainGetXMLDesc (dom, 0);

  if (raw == NULL)
    return TRUE;
  xml = g_strdup (raw);
  free (raw);
  return gvd_domain_xml_has_alias (xml, alias);
}

gboolean
gvd_device_detach_wait (virConnectPtr conn, virDomainPtr dom, const char *alias, const char *what,
                        guint timeout_s, GError **error)
{
  Waiter *w = g_new0 (Waiter, 1);
  int ids[2] = { -1, -1 };
  gint64 deadline;
  WaitState state;
  gboolean ok = FALSE;

  w->ref = 1;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  w->alias = g_strdup (alias);
  /* Subscribed before asking: the answer cannot slip past. */
  ids[0] = virConnectDomainEventRegisterAny (conn, dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                             VIR_DOMAIN_EVENT_CALLBACK (removed_cb),
                                             waiter_ref (w), waiter_unref);
  if (ids[0] < 0)
    waiter_unref (w);
  ids[1] = virConnectDomainEventRegisterAny (conn, dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
                                             VIR_DOMAIN_EVENT_CALLBACK (removal_failed_cb),
                                             waiter_ref (w), waiter_unref);
  if (ids[1] < 0)
    waiter_unref (w);
  if (ids[0] < 0 || ids[1] < 0)
    {
      gvd_virt_error_set (error, "cannot follow libvirt's device events");
      goto out;
    }
  if (virDomainDetachDeviceAlias (dom, alias, VIR_DOMAIN_AFFECT_LIVE) < 0)
    {
      g_autofree char *msg = g_strdup_printf ("cannot unplug %s", what);
      gvd_virt_error_set (error, msg);
      goto out;
    }
  deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  g_mutex_lock (&w->lock);
  while (w->state == WAIT_PENDING && g_cond_wait_until (&w->cond, &w->lock, deadline))
    ;
  state = w->state;
  g_mutex_unlock (&w->lock);
  /* An event missed (the connection was replaced meanwhile): the live
   * domain says whether the device is still there. */
  if (state == WAIT_PENDING && !still_there (dom, alias))
    state = WAIT_REMOVED;
  switch (state)
    {
    case WAIT_REMOVED:
      ok = TRUE;
      break;
    case WAIT_FAILED:
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "the guest refused to release %s (QEMU reported the removal failed); it is "
                   "still attached", what);
      break;
    case WAIT_PENDING:
    default:
      g_set_error (error, GVD_ERROR, GVD_ERROR_TIMEOUT,
                   "the guest did not release %s within %u s ([instances] device_timeout): "
                   "its OS must support PCIe hot-unplug and be running. The device is still "
                   "attached and recorded; the unplug request stays pending in the guest. "
                   "Retry later, or stop the instance and detach it then", what, timeout_s);
      break;
    }
out:
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    if (ids[i] >= 0)
      virConnectDomainEventDeregisterAny (conn, ids[i]);
  waiter_unref (w);
  return ok;
}
