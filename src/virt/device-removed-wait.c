/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live detach and wait for libvirt's device-removed events (see
 * device-removed-wait.h). */
#include "config.h"

#include "device-removed-wait.h"

#include "errors.h"
#include "gpu-hotplug.h"
#include "virt-conn.h"

/* Shared by the worker and the event callback (main context). libvirt holds
 * one reference while the callback is registered. */
typedef struct {
  gint ref;
  GMutex lock;
  GCond cond;
  char *uuid;             /* the domain's, to ignore other domains */
  GHashTable *pending;    /* aliases not yet removed */
  char *failed;           /* an alias whose removal libvirt reported failed */
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
  g_hash_table_unref (w->pending);
  g_free (w->uuid);
  g_free (w->failed);
  g_free (w);
}

static gboolean
same_domain (Waiter *w, virDomainPtr dom)
{
  char uuid[VIR_UUID_STRING_BUFLEN];

  return virDomainGetUUIDString (dom, uuid) == 0 && g_str_equal (uuid, w->uuid);
}

static void
removed_cb (virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
  Waiter *w = opaque;

  if (!same_domain (w, dom))
    return;
  g_mutex_lock (&w->lock);
  g_hash_table_remove (w->pending, alias);
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
}

static void
removal_failed_cb (virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
  Waiter *w = opaque;

  if (!same_domain (w, dom))
    return;
  g_mutex_lock (&w->lock);
  if (w->failed == NULL && g_hash_table_contains (w->pending, alias))
    w->failed = g_strdup (alias);
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
}

/* Drop the aliases the live XML no longer has (removed before we looked, or
 * an event lost with a reconnect). */
static void
prune_from_live_xml (Waiter *w, virDomainPtr dom)
{
  g_autofree char *xml = virDomainGetXMLDesc (dom, 0);
  GHashTableIter it;
  gpointer key;

  if (xml == NULL)
    return;
  g_mutex_lock (&w->lock);
  g_hash_table_iter_init (&it, w->pending);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      if (!gvd_gpu_hotplug_has_alias (xml, key))
        g_hash_table_iter_remove (&it);
    }
  g_mutex_unlock (&w->lock);
}

static char *
pending_list (Waiter *w)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;

  g_hash_table_iter_init (&it, w->pending);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (keys, key);
  g_ptr_array_add (keys, NULL);
  return g_strjoinv (", ", (char **) keys->pdata);
}

gboolean
gvd_device_detach_live_and_wait (virConnectPtr conn, virDomainPtr dom, const char *const *aliases,
                                 guint timeout_s, GError **error)
{
  Waiter *w = g_new0 (Waiter, 1);
  char uuid[VIR_UUID_STRING_BUFLEN];
  int id_removed, id_failed;
  gint64 deadline;
  gboolean ok = TRUE;

  w->ref = 1;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  w->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (gsize i = 0; aliases[i] != NULL; i++)
    g_hash_table_add (w->pending, g_strdup (aliases[i]));
  if (virDomainGetUUIDString (dom, uuid) < 0)
    {
      gvd_virt_error_set (error, "cannot read the domain's UUID");
      waiter_unref (w);
      return FALSE;
    }
  w->uuid = g_strdup (uuid);

  /* Subscribe first: a removal may complete within the detach call. */
  id_removed = virConnectDomainEventRegisterAny (conn, dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                                 VIR_DOMAIN_EVENT_CALLBACK (removed_cb),
                                                 waiter_ref (w), waiter_unref);
  if (id_removed < 0)
    {
      waiter_unref (w); /* libvirt did not take its reference */
      gvd_virt_error_set (error, "cannot subscribe to libvirt's device-removed events");
      waiter_unref (w);
      return FALSE;
    }
  id_failed = virConnectDomainEventRegisterAny (conn, dom,
                                                VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
                                                VIR_DOMAIN_EVENT_CALLBACK (removal_failed_cb),
                                                waiter_ref (w), waiter_unref);
  if (id_failed < 0)
    waiter_unref (w); /* optional: a failed removal then ends in the timeout */

  for (gsize i = 0; aliases[i] != NULL && ok; i++)
    if (virDomainDetachDeviceAlias (dom, aliases[i], VIR_DOMAIN_AFFECT_LIVE) < 0)
      {
        g_autofree char *what = g_strdup_printf ("libvirt refused to unplug %s", aliases[i]);
        gvd_virt_error_set (error, what);
        ok = FALSE;
      }
  if (ok)
    {
      prune_from_live_xml (w, dom);
      deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
      g_mutex_lock (&w->lock);
      while (g_hash_table_size (w->pending) > 0 && w->failed == NULL)
        if (!g_cond_wait_until (&w->cond, &w->lock, deadline))
          break;
      if (w->failed != NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_LIBVIRT,
                       "libvirt reported that the guest refused to release %s", w->failed);
          ok = FALSE;
        }
      else if (g_hash_table_size (w->pending) > 0)
        {
          g_autofree char *left = pending_list (w);
          g_set_error (error, GVD_ERROR, GVD_ERROR_TIMEOUT,
                       "the guest did not release %s within %u s ([instances] device_timeout): "
                       "no device-removed event from libvirt", left, timeout_s);
          ok = FALSE;
        }
      g_mutex_unlock (&w->lock);
    }
  virConnectDomainEventDeregisterAny (conn, id_removed);
  if (id_failed >= 0)
    virConnectDomainEventDeregisterAny (conn, id_failed);
  waiter_unref (w);
  return ok;
}
