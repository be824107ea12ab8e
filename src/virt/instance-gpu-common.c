/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU hot-plug's shared steps: the operation's data, the domain, metadata,
 * events, claims, and the functions gpuvmd bound to vfio-pci itself. */
#include "config.h"

#include "instance-gpu-priv.h"

#include "domain-xml-disks.h"
#include "domain-xml.h"
#include "events.h"
#include "json-util.h"

void
gvd_gpu_plug_data_free (PlugData *pd)
{
  g_clear_object (&pd->virt);
  gvd_host_root_free (pd->root);
  g_free (pd->name);
  g_free (pd->domain_name);
  g_clear_pointer (&pd->plan, gvd_plan_free);
  g_strfreev (pd->addresses);
  g_clear_pointer (&pd->hostdevs, g_ptr_array_unref);
  g_clear_pointer (&pd->xmls, g_ptr_array_unref);
  g_free (pd->metadata);
  g_clear_pointer (&pd->free_ports, g_array_unref);
  g_clear_error (&pd->rollback_error);
  g_free (pd->kept);
  g_strfreev (pd->prebound);
  g_free (pd);
}

virDomainPtr
gvd_gpu_plug_open_domain (PlugData *pd, virConnectPtr *out_conn, GError **error)
{
  virConnectPtr conn = gvd_virt_conn_get (pd->virt, error);
  virDomainPtr dom;

  if (conn == NULL)
    return NULL;
  dom = virDomainLookupByName (conn, pd->domain_name);
  if (dom == NULL)
    {
      g_autofree char *what = g_strdup_printf ("instance '%s': libvirt has no domain %s", pd->name,
                                               pd->domain_name);
      gvd_virt_error_set (error, what);
      virConnectClose (conn);
      return NULL;
    }
  *out_conn = conn;
  return dom;
}

void
gvd_gpu_plug_emit (GvdInstanceManager *mgr, const char *type, const char *name, char **addresses)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (gsize i = 0; addresses[i] != NULL; i++)
    json_builder_add_string_value (b, addresses[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  gvd_events_emit (mgr->d->events, type, json_builder_get_root (b));
}

JsonNode *
gvd_gpu_plug_instance_json (GvdInstanceManager *mgr, GvdInstance *inst)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  gvd_instance_write_json (mgr, inst, b);
  return json_builder_get_root (b);
}

/* @inst's metadata with @add appended to its hostdevs and @remove (host
 * addresses) left out; the spec itself is unchanged. */
char *
gvd_gpu_plug_render_metadata (GvdInstance *inst, GPtrArray *add, char **remove, GError **error)
{
  GvdInstanceSpec *s = inst->spec;
  GPtrArray *saved = s->hostdevs;
  g_autoptr(GPtrArray) tmp = g_ptr_array_new ();
  char *xml;

  for (guint i = 0; i < saved->len; i++)
    {
      GvdHostdevSpec *h = g_ptr_array_index (saved, i);
      if (remove == NULL || h->mdev_uuid != NULL
          || !g_strv_contains ((const char *const *) remove, h->host_address))
        g_ptr_array_add (tmp, h);
    }
  for (guint i = 0; add != NULL && i < add->len; i++)
    g_ptr_array_add (tmp, g_ptr_array_index (add, i));
  s->hostdevs = tmp;
  xml = gvd_domain_xml_render_metadata (s, error);
  s->hostdevs = saved;
  return xml;
}

gboolean
gvd_gpu_plug_set_metadata (virDomainPtr dom, const char *metadata, gboolean active, GError **error)
{
  unsigned int flags = VIR_DOMAIN_AFFECT_CONFIG | (active ? VIR_DOMAIN_AFFECT_LIVE : 0);

  if (virDomainSetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT, metadata, GVD_DOMAIN_XML_NS_PREFIX,
                            GVD_DOMAIN_XML_NS, flags) < 0)
    {
      gvd_virt_error_set (error, "libvirt did not take the new metadata");
      return FALSE;
    }
  return TRUE;
}


virNodeDevicePtr
gvd_gpu_plug_node_device (virConnectPtr conn, const char *address)
{
  g_autofree char *name = g_strconcat ("pci_", address, NULL);

  g_strdelimit (name, ":.", '_');
  return virNodeDeviceLookupByName (conn, name);
}

/* QEMU takes a VFIO group only when every device in it is on vfio-pci (or
 * has no driver). libvirt binds each function as it attaches it, so the
 * first one attached finds its peers still on their host drivers: bind
 * those peers first. libvirt then does not rebind their host drivers when
 * it lets them go (it did not unbind them): gpuvmd does (pd->prebound). */

void
gvd_gpu_plug_rebind (virConnectPtr conn, char **addresses)
{
  for (gsize i = 0; addresses[i] != NULL; i++)
    {
      virNodeDevicePtr dev = gvd_gpu_plug_node_device (conn, addresses[i]);

      if (dev != NULL && virNodeDeviceReAttach (dev) < 0)
        g_debug ("reattach %s: %s", addresses[i], virGetLastErrorMessage ());
      if (dev != NULL)
        virNodeDeviceFree (dev);
    }
}


void
gvd_gpu_plug_note_prebound (GvdInstanceManager *mgr, const char *name, char **addresses)
{
  for (gsize i = 0; addresses != NULL && addresses[i] != NULL; i++)
    g_hash_table_replace (mgr->gpu_prebound, g_strdup (addresses[i]), g_strdup (name));
}

/* The addresses of @name's prebound functions (those in @only, when not
 * NULL), taken out of the table. */
char **
gvd_gpu_plug_take_prebound (GvdInstanceManager *mgr, const char *name, char **only)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  GHashTableIter it;
  gpointer key, value;

  g_hash_table_iter_init (&it, mgr->gpu_prebound);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (g_str_equal (value, name)
        && (only == NULL || g_strv_contains ((const char *const *) only, key)))
      {
        g_strv_builder_add (b, key);
        g_hash_table_iter_remove (&it);
      }
  return g_strv_builder_end (b);
}

typedef struct {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  char *name;
  char **addresses;
  GvdInstanceReleasedFunc then;
} Rebind;

static void
rebind_free (Rebind *r)
{
  g_clear_object (&r->virt);
  g_free (r->name);
  g_strfreev (r->addresses);
  g_free (r);
}

static void
rebind_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Rebind *r = task_data;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (r->virt, NULL);

  if (conn != NULL)
    gvd_gpu_plug_rebind (conn, r->addresses);
  g_task_return_boolean (task, TRUE);
}

static void
rebind_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Rebind *r = g_task_get_task_data (G_TASK (res));

  r->then (r->mgr, r->name);
}

gboolean
gvd_instance_gpu_release_prebound (GvdInstanceManager *mgr, const char *name,
                                   GvdInstanceReleasedFunc then)
{
  g_auto(GStrv) addresses = gvd_gpu_plug_take_prebound (mgr, name, NULL);
  Rebind *r;
  GTask *task;

  if (addresses[0] == NULL)
    return FALSE;
  r = g_new0 (Rebind, 1);
  r->mgr = mgr;
  r->virt = g_object_ref (mgr->d->virt);
  r->name = g_strdup (name);
  r->addresses = g_steal_pointer (&addresses);
  r->then = then;
  task = g_task_new (NULL, NULL, rebind_done, NULL);
  g_task_set_task_data (task, r, (GDestroyNotify) rebind_free);
  g_task_run_in_thread (task, rebind_thread);
  g_object_unref (task);
  return TRUE;
}


void
gvd_gpu_plug_release_claims (GvdInstanceManager *mgr, const char *name, char **addresses)
{
  for (gsize i = 0; addresses[i] != NULL; i++)
    gvd_claims_release_device (mgr->d->claims, addresses[i], name);
}


GvdInstance *
gvd_gpu_plug_begin (GvdInstanceManager *mgr, GTask *task, const char *name)
{
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);

  if (!mgr->ready)
    g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_READY,
                             "gpuvmd has not yet reconciled with libvirt; retry shortly");
  else if (inst == NULL)
    g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no instance named '%s'", name);
  else if (inst->busy != NULL)
    g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                             "instance '%s' is busy (%s); retry when it is done", name, inst->busy);
  else
    return inst;
  return NULL;
}

PlugData *
gvd_gpu_plug_data_new (GvdInstanceManager *mgr, GvdInstance *inst)
{
  PlugData *pd = g_new0 (PlugData, 1);

  pd->mgr = mgr;
  pd->virt = g_object_ref (mgr->d->virt);
  pd->root = gvd_host_root_copy (mgr->d->host_root);
  pd->name = g_strdup (inst->spec->name);
  pd->domain_name = g_strdup (inst->spec->domain_name);
  pd->timeout = mgr->d->config->device_timeout;
  return pd;
}

