/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The instance manager.
 *
 * Threading: all state (instances, claims, allocations) lives on the main
 * context and changes only there, so "plan, then claim" is atomic with
 * respect to other requests without a lock. Everything that talks to
 * libvirt and may block (volume creation and upload, define, start,
 * shutdown, destroy, undefine, listing domains) runs in GTask workers with
 * its own connection reference, and reports back on the main context. */
#include "config.h"

#include "instance.h"
#include "json-util.h"
#include "instance-priv.h"

#include <signal.h>
#include <string.h>


#include "agent.h"
#include "agent-probe.h"
#include "device-health.h"
#include "events.h"
#include "registry.h"
#include "xml-util.h"

/* ---- instances -------------------------------------------------------------- */

void
gvd_instance_free (GvdInstance *inst)
{
  if (inst == NULL)
    return;
  gvd_instance_spec_free (inst->spec);
  g_free (inst->state);
  g_free (inst->busy);
  g_free (inst->vnc_socket);
  g_free (inst);
}

GvdInstance *
gvd_instance_new (GvdInstanceSpec *spec, const char *state)
{
  GvdInstance *inst = g_new0 (GvdInstance, 1);

  inst->spec = spec;
  inst->state = g_strdup (state);
  inst->state_changed_at = g_get_real_time ();
  return inst;
}

void
gvd_instance_set_state (GvdInstanceManager *mgr, GvdInstance *inst, const char *state)
{
  GvdAgentHub *hub = mgr->d->agent;

  if (g_strcmp0 (inst->state, state) == 0)
    return;
  g_message ("instance %s: %s → %s", inst->spec->name, inst->state, state);
  gvd_events_emit_change (mgr->d->events, "instance.state", inst->spec->name, inst->state, state, NULL);
  g_free (inst->state);
  inst->state = g_strdup (state);
  inst->state_changed_at = g_get_real_time ();
  gvd_agent_hub_set_running (hub, inst->spec->name, g_str_equal (state, "running"),
                             g_get_monotonic_time ());
}

static const char *
state_string (int state)
{
  switch (state)
    {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "running";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutting-down";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "suspended";
    default: return "unknown";
    }
}

char *
gvd_instance_domain_state (virDomainPtr dom)
{
  int state = 0, reason = 0;

  if (virDomainGetState (dom, &state, &reason, 0) < 0)
    return g_strdup ("unknown");
  return g_strdup (state_string (state));
}

/* The unix socket libvirt made for a running domain's VNC console (in the
 * domain's private directory), from its live XML; NULL when none. */
char *
gvd_instance_parse_vnc_socket (const char *xml)
{
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;

  if (xml == NULL)
    return NULL;
  doc = xmlReadMemory (xml, strlen (xml), NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    return NULL;
  ctx = xmlXPathNewContext (doc);
  obj = xmlXPathEvalExpression ((const xmlChar *) "string((/domain/devices/graphics[@type='vnc']"
                                "/listen[@type='socket']/@socket"
                                " | /domain/devices/graphics[@type='vnc']/@socket)[1])", ctx);
  if (obj == NULL || obj->stringval == NULL || obj->stringval[0] != '/')
    return NULL;
  return g_strdup ((const char *) obj->stringval);
}

GvdInstance *
gvd_instance_manager_lookup (GvdInstanceManager *mgr, const char *name)
{
  return g_hash_table_lookup (mgr->instances, name);
}

static int
compare_instances (gconstpointer a, gconstpointer b)
{
  const GvdInstance *ia = *(GvdInstance *const *) a;
  const GvdInstance *ib = *(GvdInstance *const *) b;

  return g_strcmp0 (ia->spec->name, ib->spec->name);
}

GPtrArray *
gvd_instance_manager_list (GvdInstanceManager *mgr)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, mgr->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, compare_instances);
  return list;
}

GvdIpam *
gvd_instance_manager_get_ipam (GvdInstanceManager *mgr)
{
  return mgr->ipam;
}

gboolean
gvd_instance_manager_is_ready (GvdInstanceManager *mgr)
{
  return mgr->ready;
}

/* ---- claims and addresses ---------------------------------------------------- */

void
gvd_instance_release_claims (GvdInstanceManager *mgr, const char *holder)
{
  gvd_claims_release (mgr->d->claims, holder);
}

void
gvd_instance_claim_hostdevs (GvdInstanceManager *mgr, const char *holder, GPtrArray *hostdevs)
{
  for (guint i = 0; i < hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (hostdevs, i);
      /* A vGPU holds its mdev, and its parent for vGPUs only (claims.h). */
      if (h->mdev_uuid != NULL)
        gvd_claims_add_mdev (mgr->d->claims, h->mdev_uuid, h->host_address, h->mdev_type, holder);
      else if (h->host_address != NULL)
        gvd_claims_set_holder (mgr->d->claims, h->host_address, holder);
    }
}

void
gvd_instance_claim_nics (GvdInstanceManager *mgr, const char *holder, GPtrArray *nics)
{
  for (guint i = 0; i < nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (nics, i);
      if (nic->mode == GVD_NETWORK_SRIOV && nic->device != NULL)
        gvd_claims_set_holder (mgr->d->claims, nic->device, holder);
    }
}

/* The host PCI addresses an instance passes through (NULL-terminated): its
 * hostdevs and its NICs' VFs. */
GStrv
gvd_instance_hostdev_addresses (const GvdInstanceSpec *spec)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (guint i = 0; i < spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (spec->hostdevs, i);
      if (h->host_address != NULL && h->mdev_uuid == NULL)
        g_strv_builder_add (b, h->host_address);
    }
  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);
      if (nic->mode == GVD_NETWORK_SRIOV && nic->device != NULL)
        g_strv_builder_add (b, nic->device);
    }
  return g_strv_builder_end (b);
}

void
gvd_instance_log_start_refused (const char *name, const char *what, const GError *error)
{
  if (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_BUSY))
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "GVD_INSTANCE", name, "GVD_ERROR_CODE",
                      "device_busy", "MESSAGE", "instance %s: %s refused (device_busy): %s",
                      name, what, error->message);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "GVD_INSTANCE", name, "MESSAGE",
                      "instance %s: %s failed: %s", name, what, error->message);
}

/* Before libvirt binds devices to vfio-pci: no host process may hold them,
 * and nvidia-persistenced (which keeps every NVIDIA GPU open) must go.
 * Runs in a worker. */
gboolean
gvd_instance_prepare_devices (const GvdHostRoot *root, const char *const *addresses, GError **error)
{
  g_autofree char *why = NULL;
  int pid;

  if (addresses == NULL || addresses[0] == NULL)
    return TRUE;
  /* Found through its pidfile and checked by /proc/PID/exe, never by name. */
  pid = gvd_device_find_persistenced (root, &why);
  if (pid == 0 && why != NULL)
    g_message ("nvidia-persistenced not stopped: %s", why);
  if (pid > 0)
    {
      if (gvd_device_stop_process (root, pid, GVD_PERSISTENCED_EXE, 5000, &why))
        g_message ("stopped nvidia-persistenced (pid %d) before passing GPUs through%s%s", pid,
                   why != NULL ? ": " : "", why != NULL ? why : "");
      else if (g_str_equal (root->procfs, "/proc"))
        g_message ("nvidia-persistenced (pid %d) not stopped: %s", pid, why);
      else
        g_debug ("nvidia-persistenced (pid %d) not stopped: %s", pid, why);
    }
  return gvd_device_check_not_busy (root, addresses, error);
}

/* libvirt did not finish binding/releasing @addresses in time: the devices
 * may be stuck (consumer GPUs can hang a reset). Quarantine them so they are
 * never planned again until an operator has looked. */
void
gvd_instance_mark_wedged (GvdInstanceManager *mgr, char **addresses, const char *what, guint seconds)
{
  for (gsize i = 0; addresses != NULL && addresses[i] != NULL; i++)
    {
      g_autofree char *reason = g_strdup_printf ("wedged: libvirt did not finish %s within %u s "
                                                 "(binding to or releasing from vfio-pci)",
                                                 what, seconds);
      g_warning ("device %s: %s", addresses[i], reason);
      gvd_events_emit_device (mgr->d->events, "device.quarantined", addresses[i], reason);
      gvd_claims_quarantine (mgr->d->claims, addresses[i], reason);
    }
}

GSource *
gvd_instance_arm_deadline (guint seconds, GSourceFunc func, gpointer data)
{
  GSource *source = g_timeout_source_new_seconds (seconds);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, NULL);
  return source;
}

void
gvd_instance_disarm_deadline (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

void
gvd_instance_remove (GvdInstanceManager *mgr, const char *name)
{
  g_autofree char *key = g_strdup (name);

  gvd_instance_release_claims (mgr, key);
  gvd_ipam_release (mgr->ipam, key);
  gvd_port_table_release (mgr->ports, key);
  gvd_agent_hub_forget (mgr->d->agent, key);
  g_hash_table_remove (mgr->instances, key);
  gvd_events_emit_instance (mgr->d->events, "instance.deleted", key);
}

/* ---- JSON --------------------------------------------------------------------- */

static char *
format_time (gint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);

  return dt != NULL ? g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;
}

void
gvd_instance_write_json (GvdInstanceManager *mgr, const GvdInstance *inst, JsonBuilder *b)
{
  const GvdInstanceSpec *s = inst->spec;
  g_autofree char *changed = format_time (inst->state_changed_at);
  GvdAgentHub *hub = mgr->d->agent;

  json_builder_begin_object (b);
  gvd_json_add_string (b, "name", s->name);
  gvd_json_add_string (b, "uuid", s->uuid);
  gvd_json_add_string (b, "domain", s->domain_name);
  gvd_json_add_string (b, "state", inst->state);
  gvd_json_add_string (b, "busy", inst->busy);
  gvd_json_add_string (b, "state_changed_at", changed);
  gvd_json_add_string (b, "created_at", s->created_at);
  gvd_json_add_string (b, "image", s->image);
  json_builder_set_member_name (b, "vcpus");
  json_builder_add_int_value (b, s->vcpus);
  json_builder_set_member_name (b, "memory_mib");
  json_builder_add_int_value (b, s->memory_mib);
  json_builder_set_member_name (b, "root_disk_bytes");
  json_builder_add_int_value (b, s->root_size_bytes);
  gvd_instance_disks_write_json (s, b);
  gvd_json_add_string (b, "firmware", s->firmware == GVD_FIRMWARE_BIOS ? "bios" : "efi");
  gvd_instance_write_cpu_json (s, b);
  gvd_instance_write_shares_json (s, b);

  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (s->hostdevs, i);
      const char *reg_name = NULL;

      if (h->host_address != NULL)
        reg_name = gvd_registry_lookup_address (mgr->d->registry, h->host_address);
      json_builder_begin_object (b);
      gvd_json_add_string (b, "pci_address", h->host_address);
      gvd_json_add_string (b, "name", reg_name);
      gvd_json_add_string (b, "mdev_uuid", h->mdev_uuid);
      json_builder_set_member_name (b, "guest_group");
      json_builder_add_int_value (b, h->guest_bus);
      json_builder_set_member_name (b, "guest_function");
      json_builder_add_int_value (b, h->guest_function);
      json_builder_set_member_name (b, "clique");
      if (h->clique >= 0)
        json_builder_add_int_value (b, h->clique);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  /* The vGPUs (mdev hostdevs) again, as the request named them. */
  json_builder_set_member_name (b, "vgpu");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (s->hostdevs, i);

      if (h->mdev_uuid == NULL)
        continue;
      json_builder_begin_object (b);
      gvd_json_add_string (b, "type", h->mdev_type);
      gvd_json_add_string (b, "uuid", h->mdev_uuid);
      gvd_json_add_string (b, "parent", h->host_address);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "network");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->nics->len; i++)
    {
      const GvdNicSpec *n = g_ptr_array_index (s->nics, i);
      json_builder_begin_object (b);
      gvd_json_add_string (b, "mode", gvd_network_mode_to_string (n->mode));
      gvd_json_add_string (b, "source", n->source);
      gvd_json_add_string (b, "mac", n->mac);
      gvd_json_add_string (b, "ipv4", n->ipv4);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  /* The same NICs with their VFs ("network" keeps its old shape). */
  json_builder_set_member_name (b, "networks");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->nics->len; i++)
    {
      const GvdNicSpec *n = g_ptr_array_index (s->nics, i);
      const GvdPciDevice *vf = n->device != NULL
                                 ? gvd_inventory_lookup (mgr->d->inventory, n->device) : NULL;

      json_builder_begin_object (b);
      gvd_json_add_string (b, "mode", gvd_network_mode_to_string (n->mode));
      gvd_json_add_string (b, "source", n->source);
      gvd_json_add_string (b, "mac", n->mac);
      gvd_json_add_string (b, "ipv4", n->ipv4);
      gvd_json_add_string (b, "device", n->device);
      gvd_json_add_string (b, "pf", vf != NULL ? vf->physfn : NULL);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  gvd_instance_ports_to_json (b, s);

  json_builder_set_member_name (b, "vnc");
  if (inst->vnc_socket != NULL)
    {
      /* A unix socket only root and QEMU's user reach; no TCP port. */
      json_builder_begin_object (b);
      gvd_json_add_string (b, "socket", inst->vnc_socket);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  gvd_json_add_string (b, "console_log", s->console_log);
  json_builder_set_member_name (b, "autostart");
  json_builder_add_boolean_value (b, s->autostart);

  json_builder_set_member_name (b, "labels");
  json_builder_begin_object (b);
  if (s->labels != NULL)
    {
      g_autoptr(GList) keys = g_list_sort (g_hash_table_get_keys (s->labels), (GCompareFunc) g_strcmp0);
      for (GList *l = keys; l != NULL; l = l->next)
        {
          json_builder_set_member_name (b, l->data);
          json_builder_add_string_value (b, g_hash_table_lookup (s->labels, l->data));
        }
    }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "health");
  if (gvd_agent_hub_is_tracked (hub, s->name))
    gvd_agent_hub_build_json (hub, s->name, b, g_get_monotonic_time (), g_get_real_time ());
  else
    {
      json_builder_begin_object (b);
      gvd_json_add_string (b, "health", "unknown");
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
}

/* ---- guest agent ------------------------------------------------------------------ */

typedef struct {
  GvdInstanceManager *mgr;
  char *name;
} ProbeData;

static void
probe_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  ProbeData *pd = user_data;
  const char *verdict = gvd_agent_probe_finish (res);

  /* "responsive": the guest runs, only gpuvmd's agent is dead;
   * "unresponsive": QEMU runs but the guest does not answer (hung). */
  if (gvd_agent_hub_is_tracked (pd->mgr->d->agent, pd->name))
    gvd_agent_hub_set_guest_agent (pd->mgr->d->agent, pd->name, verdict);
  g_message ("instance %s: gpuvmd agent silent; qemu-guest-agent is %s", pd->name, verdict);
  g_free (pd->name);
  g_free (pd);
}

static void
on_health_changed (GvdAgentHub *hub, const char *name, GvdAgentHealth old_health,
                   GvdAgentHealth new_health, const char *reason, gpointer user_data)
{
  GvdInstanceManager *mgr = user_data;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);
  ProbeData *pd;

  if (new_health != GVD_AGENT_HEALTH_UNRESPONSIVE || inst == NULL)
    return;
  pd = g_new0 (ProbeData, 1);
  pd->mgr = mgr;
  pd->name = g_strdup (name);
  gvd_agent_probe_async (mgr->d->virt, inst->spec->domain_name, 5, NULL, probe_done, pd);
}

/* ---- setup ------------------------------------------------------------------------------- */

static GvdPortTable *
port_table_new (const GvdConfig *config)
{
  guint lo = 0, hi = 0;
  guint32 first = 0, last = 0;
  GvdPortTable *table;

  /* The keys were checked when the configuration was read. */
  if (config->network_forward_ports != NULL
      && !gvd_config_parse_port_range (config->network_forward_ports, &lo, &hi, NULL))
    lo = hi = 0;
  table = gvd_port_table_new (lo, hi);
  if (config->network_forward_addresses != NULL
      && gvd_config_parse_forward_addresses (config->network_forward_addresses, &first, &last,
                                             NULL))
    gvd_port_table_set_addresses (table, first, last);
  return table;
}

GvdInstanceManager *
gvd_instance_manager_new (const GvdInstanceServices *services)
{
  GvdInstanceManager *mgr;

  g_return_val_if_fail (services != NULL && services->config != NULL
                        && services->host_root != NULL && services->events != NULL
                        && services->agent != NULL && services->registry != NULL
                        && services->inventory != NULL && services->virt != NULL
                        && services->claims != NULL && services->ipam != NULL
                        && services->reservations != NULL, NULL);
  mgr = g_new0 (GvdInstanceManager, 1);
  mgr->d = g_memdup2 (services, sizeof *services);
  mgr->instances = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) gvd_instance_free);
  mgr->creating = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  mgr->sweeping = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  mgr->ipam = services->ipam;
  mgr->ports = port_table_new (services->config);
  mgr->agent_files = gvd_agent_files_load (NULL);
  mgr->health_watch = gvd_agent_hub_add_watch (services->agent, on_health_changed, mgr);
  mgr->mdev_ops = gvd_mdev_ops_libvirt ();
  mgr->stray_mdevs_seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  mgr->gpu_prebound = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return mgr;
}

void
gvd_instance_manager_set_mdev_ops (GvdInstanceManager *mgr, const GvdMdevOps *ops)
{
  mgr->mdev_ops = ops != NULL ? ops : gvd_mdev_ops_libvirt ();
}

void
gvd_instance_manager_start (GvdInstanceManager *mgr)
{
  mgr->connected_id = g_signal_connect (mgr->d->virt, "connected", G_CALLBACK (gvd_instance_on_connected), mgr);
  mgr->disconnected_id = g_signal_connect (mgr->d->virt, "disconnected",
                                           G_CALLBACK (gvd_instance_on_disconnected), mgr);
  if (gvd_virt_conn_get_state (mgr->d->virt) == GVD_VIRT_CONNECTED)
    gvd_instance_on_connected (mgr->d->virt, mgr);
}

void
gvd_instance_manager_free (GvdInstanceManager *mgr)
{
  if (mgr == NULL)
    return;
  if (mgr->connected_id != 0)
    g_signal_handler_disconnect (mgr->d->virt, mgr->connected_id);
  if (mgr->disconnected_id != 0)
    g_signal_handler_disconnect (mgr->d->virt, mgr->disconnected_id);
  gvd_instance_unregister_events (mgr);
  if (mgr->health_watch != 0)
    gvd_agent_hub_remove_watch (mgr->d->agent, mgr->health_watch);
  if (mgr->recover_source != NULL)
    {
      g_source_destroy (mgr->recover_source);
      g_source_unref (mgr->recover_source);
    }
  g_hash_table_unref (mgr->instances);
  g_hash_table_unref (mgr->creating);
  g_hash_table_unref (mgr->sweeping);
  g_clear_pointer (&mgr->hugepage_holds, g_hash_table_unref);
  g_hash_table_unref (mgr->stray_mdevs_seen);
  g_hash_table_unref (mgr->gpu_prebound);
  g_clear_pointer (&mgr->stop_waiters, g_hash_table_unref);
  gvd_agent_files_free (mgr->agent_files);
  gvd_port_table_free (mgr->ports);
  g_free (mgr->d);
  g_free (mgr);
}
