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

#include <libvirt/libvirt-qemu.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent-files.h"
#include "agent-probe.h"
#include "cloudinit.h"
#include "device-health.h"
#include "domain-xml.h"
#include "hostinfo.h"
#include "ipam.h"
#include "registry.h"
#include "reservations.h"
#include "seed-iso.h"
#include "storage.h"
#include "vfio-plan.h"
#include "virt-conn.h"
#include "xml-util.h"

#define HOLDER_DOMAIN_PREFIX "domain:"

struct _GvdInstanceManager {
  GvdDaemon *d;
  GHashTable *instances; /* name → GvdInstance */
  GHashTable *creating;  /* names of creates in flight */
  GvdIpam *ipam;
  GvdAgentFiles *agent_files;
  gboolean ready;
  virConnectPtr event_conn;
  int lifecycle_id;
  gulong connected_id;
  gulong disconnected_id;
  GSource *recover_source;
  gboolean recovering;
  gboolean recover_again;
  guint health_watch;
};

static void schedule_recovery (GvdInstanceManager *mgr, guint delay_ms);

/* ---- instances -------------------------------------------------------------- */

static void
instance_free (GvdInstance *inst)
{
  if (inst == NULL)
    return;
  gvd_instance_spec_free (inst->spec);
  g_free (inst->state);
  g_free (inst->busy);
  g_free (inst);
}

static GvdInstance *
instance_new (GvdInstanceSpec *spec, const char *state)
{
  GvdInstance *inst = g_new0 (GvdInstance, 1);

  inst->spec = spec;
  inst->state = g_strdup (state);
  inst->state_changed_at = g_get_real_time ();
  inst->vnc_port = -1;
  return inst;
}

static void
instance_set_state (GvdInstanceManager *mgr, GvdInstance *inst, const char *state)
{
  GvdAgentHub *hub = mgr->d->agent;

  if (g_strcmp0 (inst->state, state) == 0)
    return;
  g_message ("instance %s: %s → %s", inst->spec->name, inst->state, state);
  g_free (inst->state);
  inst->state = g_strdup (state);
  inst->state_changed_at = g_get_real_time ();
  if (hub != NULL)
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

static char *
domain_state (virDomainPtr dom)
{
  int state = 0, reason = 0;

  if (virDomainGetState (dom, &state, &reason, 0) < 0)
    return g_strdup ("unknown");
  return g_strdup (state_string (state));
}

/* The VNC port of a running domain, from its live XML; -1 when none. */
static int
parse_vnc_port (const char *xml)
{
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  int port = -1;

  if (xml == NULL)
    return -1;
  doc = xmlReadMemory (xml, strlen (xml), NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    return -1;
  ctx = xmlXPathNewContext (doc);
  obj = xmlXPathEvalExpression ((const xmlChar *) "string(/domain/devices/graphics[@type='vnc']/@port)", ctx);
  if (obj != NULL && obj->stringval != NULL && obj->stringval[0] != '\0')
    port = (int) g_ascii_strtoll ((const char *) obj->stringval, NULL, 10);
  return port > 0 ? port : -1;
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

static void
release_claims (GvdInstanceManager *mgr, const char *holder)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, mgr->d->claims);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (value, holder) == 0)
      g_hash_table_iter_remove (&iter);
}

static void
claim_hostdevs (GvdInstanceManager *mgr, const char *holder, GPtrArray *hostdevs)
{
  for (guint i = 0; i < hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (hostdevs, i);
      if (h->host_address != NULL)
        g_hash_table_replace (mgr->d->claims, g_strdup (h->host_address), g_strdup (holder));
    }
}

/* Undo everything a create did in memory. */
static void
forget_create (GvdInstanceManager *mgr, const char *name)
{
  release_claims (mgr, name);
  gvd_ipam_release (mgr->ipam, name);
  g_hash_table_remove (mgr->creating, name);
}

/* The host PCI addresses an instance passes through (NULL-terminated). */
static GStrv
hostdev_addresses (const GvdInstanceSpec *spec)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (guint i = 0; i < spec->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (spec->hostdevs, i);
      if (h->host_address != NULL && h->mdev_uuid == NULL)
        g_strv_builder_add (b, h->host_address);
    }
  return g_strv_builder_end (b);
}

/* Before libvirt binds devices to vfio-pci: no host process may hold them,
 * and nvidia-persistenced (which keeps every NVIDIA GPU open) must go.
 * Runs in a worker. */
static gboolean
prepare_devices (const GvdHostRoot *root, const char *const *addresses, GError **error)
{
  int pid;

  if (addresses == NULL || addresses[0] == NULL)
    return TRUE;
  pid = gvd_device_find_persistenced (root);
  if (pid > 0)
    {
      /* Only a real /proc names real processes; fixture trees are not signalled. */
      if (g_str_equal (root->procfs, "/proc") && kill (pid, SIGTERM) == 0)
        {
          g_message ("stopped nvidia-persistenced (pid %d) before passing GPUs through", pid);
          for (int i = 0; i < 50 && kill (pid, 0) == 0; i++)
            g_usleep (100 * 1000);
        }
      else
        g_debug ("nvidia-persistenced (pid %d) not signalled: procfs root %s", pid, root->procfs);
    }
  return gvd_device_check_not_busy (root, addresses, error);
}

/* libvirt did not finish binding/releasing @addresses in time: the devices
 * may be stuck (consumer GPUs can hang a reset). Quarantine them so they are
 * never planned again until an operator has looked. */
static void
mark_wedged (GvdInstanceManager *mgr, char **addresses, const char *what, guint seconds)
{
  for (gsize i = 0; addresses != NULL && addresses[i] != NULL; i++)
    {
      g_autofree char *reason = g_strdup_printf ("wedged: libvirt did not finish %s within %u s "
                                                 "(binding to or releasing from vfio-pci)",
                                                 what, seconds);
      g_warning ("device %s: %s", addresses[i], reason);
      g_hash_table_replace (mgr->d->quarantined, g_strdup (addresses[i]), g_steal_pointer (&reason));
    }
}

static GSource *
arm_deadline (guint seconds, GSourceFunc func, gpointer data)
{
  GSource *source = g_timeout_source_new_seconds (seconds);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, NULL);
  return source;
}

static void
disarm_deadline (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* ---- JSON --------------------------------------------------------------------- */

static void
add_string_or_null (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

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
  g_autofree char *console = NULL;
  GvdAgentHub *hub = mgr->d->agent;

  json_builder_begin_object (b);
  add_string_or_null (b, "name", s->name);
  add_string_or_null (b, "uuid", s->uuid);
  add_string_or_null (b, "domain", s->domain_name);
  add_string_or_null (b, "state", inst->state);
  add_string_or_null (b, "busy", inst->busy);
  add_string_or_null (b, "state_changed_at", changed);
  add_string_or_null (b, "created_at", s->created_at);
  add_string_or_null (b, "image", s->image);
  json_builder_set_member_name (b, "vcpus");
  json_builder_add_int_value (b, s->vcpus);
  json_builder_set_member_name (b, "memory_mib");
  json_builder_add_int_value (b, s->memory_mib);
  json_builder_set_member_name (b, "root_disk_bytes");
  json_builder_add_int_value (b, s->root_size_bytes);
  add_string_or_null (b, "firmware", s->firmware == GVD_FIRMWARE_BIOS ? "bios" : "efi");

  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->hostdevs->len; i++)
    {
      const GvdHostdevSpec *h = g_ptr_array_index (s->hostdevs, i);
      const char *reg_name = NULL;

      if (h->host_address != NULL && mgr->d->registry != NULL)
        reg_name = gvd_registry_lookup_address (mgr->d->registry, h->host_address);
      json_builder_begin_object (b);
      add_string_or_null (b, "pci_address", h->host_address);
      add_string_or_null (b, "name", reg_name);
      add_string_or_null (b, "mdev_uuid", h->mdev_uuid);
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

  json_builder_set_member_name (b, "network");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->nics->len; i++)
    {
      const GvdNicSpec *n = g_ptr_array_index (s->nics, i);
      json_builder_begin_object (b);
      add_string_or_null (b, "mode", gvd_network_mode_to_string (n->mode));
      add_string_or_null (b, "source", n->source);
      add_string_or_null (b, "mac", n->mac);
      add_string_or_null (b, "ipv4", n->ipv4);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "vnc");
  if (inst->vnc_port > 0)
    {
      json_builder_begin_object (b);
      add_string_or_null (b, "host", "127.0.0.1");
      json_builder_set_member_name (b, "port");
      json_builder_add_int_value (b, inst->vnc_port);
      json_builder_set_member_name (b, "display");
      json_builder_add_int_value (b, inst->vnc_port - 5900);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  add_string_or_null (b, "console_log", s->console_log);

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
  if (hub != NULL && gvd_agent_hub_is_tracked (hub, s->name))
    gvd_agent_hub_build_json (hub, s->name, b, g_get_monotonic_time (), g_get_real_time ());
  else
    {
      json_builder_begin_object (b);
      add_string_or_null (b, "health", "unknown");
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
}

/* ---- create --------------------------------------------------------------------- */

typedef struct {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  GvdHostRoot *root;
  char **addresses;
  char *name;
  char *pool;
  char *pool_path;
  char *image;
  char *root_volume;
  char *seed_volume;
  guint64 root_size;
  GBytes *seed_iso;
  char *xml;
  gboolean start;
  GTask *outer;        /* borrowed: the worker's callback holds the ref */
  GSource *deadline;   /* main context only */
  gboolean expired;
  /* results */
  char *state;
  int vnc_port;
} CreateData;

static void
create_data_free (CreateData *cd)
{
  g_clear_object (&cd->virt);
  gvd_host_root_free (cd->root);
  g_strfreev (cd->addresses);
  g_free (cd->name);
  g_free (cd->pool);
  g_free (cd->pool_path);
  g_free (cd->image);
  g_free (cd->root_volume);
  g_free (cd->seed_volume);
  g_clear_pointer (&cd->seed_iso, g_bytes_unref);
  g_free (cd->xml);
  g_free (cd->state);
  g_free (cd);
}

/* Remove what a create made in libvirt; each step tolerates "not there". */
static void
rollback_libvirt (virConnectPtr conn, virDomainPtr dom, const CreateData *cd)
{
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  if (dom != NULL)
    {
      if (virDomainIsActive (dom) == 1)
        virDomainDestroy (dom);
      if (virDomainUndefineFlags (dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE) < 0)
        g_debug ("rollback: undefine %s: %s", cd->name, virGetLastErrorMessage ());
    }
  if (!gvd_storage_delete_volume (conn, cd->pool, cd->seed_volume, &e1))
    g_debug ("rollback: %s", e1->message);
  if (!gvd_storage_delete_volume (conn, cd->pool, cd->root_volume, &e2))
    g_debug ("rollback: %s", e2->message);
}

static void
create_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  CreateData *cd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (cd->virt, &error);
  g_autoptr(virDomain) dom = NULL;
  g_autofree char *root_path = NULL;
  g_autofree char *seed_path = NULL;

  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!gvd_storage_ensure_pool (conn, cd->pool, cd->pool_path, &error))
    goto fail;
  root_path = gvd_storage_create_overlay (conn, cd->pool, cd->root_volume, cd->image,
                                          cd->root_size, &error);
  if (root_path == NULL)
    {
      /* A volume already there is someone else's: never roll it back. */
      if (g_error_matches (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      goto fail;
    }
  seed_path = gvd_storage_upload_volume (conn, cd->pool, cd->seed_volume, cd->seed_iso, "raw",
                                         &error);
  if (seed_path == NULL)
    goto fail;
  dom = virDomainDefineXMLFlags (conn, cd->xml, VIR_DOMAIN_DEFINE_VALIDATE);
  if (dom == NULL)
    {
      virErrorPtr verr = virGetLastError ();
      gboolean exists = verr != NULL && verr->code == VIR_ERR_OPERATION_FAILED
                        && strstr (verr->message != NULL ? verr->message : "", "already exists") != NULL;
      gvd_virt_set_error (&error, exists ? GVD_ERROR_ALREADY_EXISTS : GVD_ERROR_LIBVIRT,
                          "libvirt refused the domain definition");
      goto fail;
    }
  if (cd->start && !prepare_devices (cd->root, (const char *const *) cd->addresses, &error))
    goto fail;
  if (cd->start && virDomainCreate (dom) < 0)
    {
      gvd_virt_set_error (&error, GVD_ERROR_LIBVIRT, "libvirt could not start the domain");
      goto fail;
    }
  cd->state = domain_state (dom);
  if (cd->start)
    {
      g_autofree char *live = virDomainGetXMLDesc (dom, 0);
      cd->vnc_port = parse_vnc_port (live);
    }
  g_task_return_boolean (task, TRUE);
  return;

fail:
  rollback_libvirt (conn, dom, cd);
  g_task_return_error (task, g_steal_pointer (&error));
}

typedef struct {
  GvdInstanceSpec *spec;      /* handed to the instance on success */
  JsonNode *details;          /* planner reasons on refusal */
} CreateResult;

static void
create_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  GvdInstanceSpec *spec = g_object_get_data (G_OBJECT (outer), "spec");
  CreateData *cd = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = cd->mgr;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;
  GvdInstance *inst;

  disarm_deadline (&cd->deadline);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      g_message ("instance %s: create failed, rolled back: %s", spec->name, error->message);
      forget_create (mgr, spec->name);
      if (mgr->d->agent != NULL)
        gvd_agent_hub_forget (mgr->d->agent, spec->name);
      if (!cd->expired)
        g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }

  g_hash_table_remove (mgr->creating, spec->name);
  inst = instance_new (g_steal_pointer (&spec), cd->state);
  g_object_steal_data (G_OBJECT (outer), "spec");
  inst->vnc_port = cd->vnc_port;
  g_hash_table_replace (mgr->instances, g_strdup (inst->spec->name), inst);
  if (mgr->d->agent != NULL)
    gvd_agent_hub_set_running (mgr->d->agent, inst->spec->name,
                               g_str_equal (inst->state, "running"), g_get_monotonic_time ());
  g_message ("instance %s: created (%s, domain %s)", inst->spec->name, inst->state,
             inst->spec->domain_name);
  if (cd->expired)
    return; /* the caller was already told it timed out */

  b = json_builder_new ();
  gvd_instance_write_json (mgr, inst, b);
  g_task_return_pointer (outer, json_builder_get_root (b), (GDestroyNotify) json_node_unref);
}

static gboolean
create_deadline_cb (gpointer data)
{
  CreateData *cd = data;

  g_clear_pointer (&cd->deadline, g_source_unref);
  cd->expired = TRUE;
  mark_wedged (cd->mgr, cd->addresses, "the start", cd->mgr->d->config->device_timeout);
  g_task_return_new_error (cd->outer, GVD_ERROR, GVD_ERROR_TIMEOUT,
                           "instance '%s': libvirt did not start it within %u s; its devices are "
                           "quarantined as wedged (see GET /v1/devices)",
                           cd->name, cd->mgr->d->config->device_timeout);
  return G_SOURCE_REMOVE;
}

static gboolean
looks_like_pci_address (const char *s)
{
  return strlen (s) == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.';
}

/* Registry names → PCI addresses; addresses pass through (normalised). */
static char **
resolve_devices (GvdInstanceManager *mgr, char **devices, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (gsize i = 0; devices != NULL && devices[i] != NULL; i++)
    {
      const char *addr = NULL;
      g_autofree char *norm = NULL;

      if (looks_like_pci_address (devices[i]))
        norm = g_ascii_strdown (devices[i], -1);
      else if (mgr->d->registry != NULL
               && (addr = gvd_registry_lookup_name (mgr->d->registry, devices[i])) != NULL)
        norm = g_strdup (addr);
      else
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND,
                       "'%s' is neither a registered device name nor a PCI address "
                       "(see GET /v1/devices)", devices[i]);
          return NULL;
        }
      g_strv_builder_add (b, norm);
    }
  return g_strv_builder_end (b);
}

static gboolean
kvm_usable (GvdInstanceManager *mgr)
{
  g_autofree char *kvm = gvd_host_root_devfs (mgr->d->host_root, "kvm", NULL);

  return access (kvm, R_OK | W_OK) == 0;
}

/* The spec for a request and a plan: everything decided, nothing done. */
static GvdInstanceSpec *
build_spec (GvdInstanceManager *mgr, const GvdCreateRequest *req, GvdPlan *plan,
            const char *reserved_mac, const char *reserved_ip, GError **error)
{
  const GvdConfig *c = mgr->d->config;
  g_autoptr(GvdInstanceSpec) s = gvd_instance_spec_new ();
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GvdDiskSpec) root = gvd_disk_spec_new ();
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();
  g_autofree char *mac = NULL;
  g_autofree char *ip = NULL;

  s->name = g_strdup (req->name);
  s->domain_name = g_strconcat (c->domain_prefix, req->name, NULL);
  s->uuid = g_uuid_string_random ();
  s->created_at = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
  s->image = g_strdup (req->image);
  s->root_size_bytes = req->root_disk_gib * 1024 * 1024 * 1024;
  if (req->labels != NULL)
    s->labels = g_hash_table_ref (req->labels);
  s->requested_devices = g_strdupv (req->devices);
  s->requested_gpus = req->gpus;
  s->requested_model = g_strdup (req->gpu_model);
  s->kvm = kvm_usable (mgr);
  s->firmware = req->firmware;
  s->vcpus = req->vcpus;
  s->memory_mib = req->memory_mib;

  root->type = GVD_DISK_VOLUME;
  root->pool = g_strdup (c->pool_name);
  root->volume = g_strdup_printf ("%s-root.qcow2", s->domain_name);
  root->format = g_strdup ("qcow2");
  root->boot_order = 1;
  g_ptr_array_add (s->disks, g_steal_pointer (&root));
  s->seed_pool = g_strdup (c->pool_name);
  s->seed_volume = g_strdup_printf ("%s-seed.iso", s->domain_name);

  nic->mode = req->network_set ? req->network_mode : c->network_mode;
  nic->source = g_strdup (req->network_set ? req->network_source : c->network_source);
  if (reserved_mac != NULL)
    {
      /* The reservation's lease moves to the instance. */
      if (!gvd_ipam_reserve (mgr->ipam, s->name, reserved_mac, reserved_ip, error))
        return NULL;
      mac = g_strdup (reserved_mac);
      ip = g_strdup (reserved_ip);
    }
  else if (req->ipv4 != NULL)
    {
      g_autofree char *with_prefix = NULL;
      mac = gvd_ipam_derive_mac (s->uuid, 0);
      if (!gvd_ipam_has_ipv4 (mgr->ipam))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "'network.ipv4' needs [network] cidr in the daemon's configuration");
          return NULL;
        }
      if (!gvd_ipam_reserve (mgr->ipam, s->name, mac, req->ipv4, error))
        return NULL;
      gvd_ipam_lookup (mgr->ipam, s->name, NULL, (const char **) &with_prefix);
      ip = g_strdup (with_prefix);
      with_prefix = NULL;
    }
  else if (!gvd_ipam_allocate (mgr->ipam, s->name, s->uuid, &mac, &ip, error))
    return NULL;
  nic->mac = g_steal_pointer (&mac);
  nic->ipv4 = g_steal_pointer (&ip);
  if (nic->ipv4 != NULL)
    {
      nic->gateway = g_strdup (c->network_gateway);
      nic->dns = g_strdupv (c->network_dns);
    }
  g_ptr_array_add (s->nics, g_steal_pointer (&nic));

  if (plan != NULL)
    {
      g_autoptr(GPtrArray) hostdevs = gvd_vfio_plan_to_hostdevs (plan);
      g_ptr_array_extend_and_steal (s->hostdevs, g_steal_pointer (&hostdevs));
      s->mmio64_mib = plan->mmio64_mib;
      if (plan->numa_nodes->len == 1)
        s->numa_node = g_array_index (plan->numa_nodes, int, 0);
    }
  s->console_log = g_strdup_printf ("/var/log/libvirt/qemu/%s-console.log", s->domain_name);
  s->vnc = TRUE;
  s->kernel = g_strdup (req->kernel);
  s->initrd = g_strdup (req->initrd);
  s->cmdline = g_strdup (req->cmdline);

  s->hostname = g_strdup (req->name);
  s->user = g_strdup (req->user);
  s->ssh_keys = g_strdupv (req->ssh_keys);
  s->password_hash = g_strdup (req->password_hash);
  s->packages = g_strdupv (req->packages);
  if (req->cloud_config != NULL)
    s->extra_cloud_config = json_object_ref (req->cloud_config);
  s->install_nvidia_driver = req->install_nvidia_driver;
  if (mgr->d->inventory != NULL && mgr->d->inventory->nvidia_driver_version != NULL)
    s->nvidia_driver_version = g_strdup (mgr->d->inventory->nvidia_driver_version);
  s->heartbeat_interval = c->heartbeat_interval;
  if (mgr->d->agent != NULL)
    {
      s->agent_url = g_strdup (c->agent_url);
      gvd_agent_hub_track (mgr->d->agent, s->name, s->uuid);
      s->agent_token = gvd_agent_hub_get_token (mgr->d->agent, s->name);
    }
  return g_steal_pointer (&s);
}

static JsonNode *
dry_run_document (const GvdInstanceSpec *spec, const GvdPlan *plan, const char *xml,
                  const GvdCloudInitSeed *seed)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dry_run");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, spec->name);
  json_builder_set_member_name (b, "plan");
  if (plan != NULL)
    json_builder_add_value (b, gvd_vfio_plan_to_json (plan));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "domain_xml");
  json_builder_add_string_value (b, xml);
  json_builder_set_member_name (b, "cloud_init");
  json_builder_begin_object (b);
  add_string_or_null (b, "meta_data", seed->meta_data);
  add_string_or_null (b, "user_data", seed->user_data);
  add_string_or_null (b, "network_config", seed->network_config);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

void
gvd_instance_manager_create_async (GvdInstanceManager *mgr, GvdCreateRequest *req,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) devices = NULL;
  g_autoptr(GvdPlan) plan = NULL;
  g_autoptr(GvdPlanRefusal) refusal = NULL;
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autoptr(GvdCloudInitSeed) seed = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(GBytes) iso = NULL;
  g_autofree char *name = g_strdup (req->name);
  g_autofree char *reserved_mac = NULL;
  g_autofree char *reserved_ip = NULL;
  CreateData *cd;
  GTask *inner;

  g_task_set_source_tag (task, gvd_instance_manager_create_async);

  /* Until recovery has run, no device can be known to be free. */
  if (!mgr->ready)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_READY,
                               "gpuvmd has not yet reconciled with libvirt; retry shortly");
      return;
    }
  if (g_hash_table_contains (mgr->instances, name) || g_hash_table_contains (mgr->creating, name))
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                               "an instance named '%s' already exists", name);
      return;
    }

  /* Plan and claim in this one main-loop turn: no other request runs between. */
  if (req->reservation != NULL)
    {
      g_autofree char *holder = g_strconcat (GVD_RESERVATION_HOLDER_PREFIX, req->reservation, NULL);

      /* Consumed here: its devices are planned for this instance (the same
       * plan the reservation made) and its lease moves over. If the create
       * then fails, they are released with everything else. */
      if (mgr->d->reservations == NULL
          || !gvd_reservations_take (mgr->d->reservations, req->reservation, &devices,
                                     &reserved_mac, &reserved_ip, &error))
        {
          if (error == NULL)
            g_set_error (&error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no reservation '%s'",
                         req->reservation);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      release_claims (mgr, holder);
      gvd_ipam_release (mgr->ipam, holder);
    }
  else
    {
      devices = resolve_devices (mgr, req->devices, &error);
      if (devices == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }
  if (devices[0] != NULL || req->gpus > 0)
    {
      g_autoptr(GvdPlanRequest) preq = gvd_plan_request_new ();

      if (mgr->d->inventory == NULL)
        {
          g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_READY,
                                   "the host's PCI inventory is not available");
          return;
        }
      preq->devices = devices[0] != NULL ? g_strdupv (devices) : NULL;
      preq->gpus = req->gpus;
      preq->vendor = g_strdup (req->gpu_vendor);
      preq->model = g_strdup (req->gpu_model);
      preq->allow_weakened_isolation = req->allow_weakened_isolation;
      plan = gvd_vfio_plan_compute (mgr->d->inventory, preq, mgr->d->claims,
                                    mgr->d->quarantined, &refusal, &error);
      if (plan == NULL)
        {
          if (refusal != NULL)
            g_task_set_task_data (task, gvd_plan_refusal_to_json (refusal),
                                  (GDestroyNotify) json_node_unref);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
    }

  g_hash_table_add (mgr->creating, g_strdup (name));
  spec = build_spec (mgr, req, plan, reserved_mac, reserved_ip, &error);
  if (spec == NULL)
    goto fail;
  claim_hostdevs (mgr, name, spec->hostdevs);

  seed = gvd_cloudinit_render (spec, mgr->agent_files, &error);
  if (seed == NULL)
    goto fail;
  xml = gvd_domain_xml_render (spec, &error);
  if (xml == NULL)
    goto fail;

  if (req->dry_run)
    {
      JsonNode *doc = dry_run_document (spec, plan, xml, seed);
      forget_create (mgr, name);
      if (mgr->d->agent != NULL)
        gvd_agent_hub_forget (mgr->d->agent, name);
      g_task_return_pointer (task, doc, (GDestroyNotify) json_node_unref);
      return;
    }

  iso = gvd_seed_iso_build (seed, &error);
  if (iso == NULL)
    goto fail;

  cd = g_new0 (CreateData, 1);
  cd->mgr = mgr;
  cd->virt = g_object_ref (mgr->d->virt);
  cd->root = gvd_host_root_copy (mgr->d->host_root);
  cd->addresses = hostdev_addresses (spec);
  cd->name = g_strdup (name);
  cd->pool = g_strdup (mgr->d->config->pool_name);
  cd->pool_path = g_strdup (mgr->d->config->pool_path);
  cd->image = g_strdup (spec->image);
  cd->root_volume = g_strdup (((GvdDiskSpec *) g_ptr_array_index (spec->disks, 0))->volume);
  cd->seed_volume = g_strdup (spec->seed_volume);
  cd->root_size = spec->root_size_bytes;
  cd->seed_iso = g_steal_pointer (&iso);
  cd->xml = g_steal_pointer (&xml);
  cd->start = req->start;
  cd->vnc_port = -1;

  g_object_set_data_full (G_OBJECT (task), "spec", g_steal_pointer (&spec),
                          (GDestroyNotify) gvd_instance_spec_free);
  inner = g_task_new (NULL, NULL, create_done, g_object_ref (task));
  g_task_set_task_data (inner, cd, (GDestroyNotify) create_data_free);
  cd->outer = task;
  if (cd->start && cd->addresses[0] != NULL)
    cd->deadline = arm_deadline (mgr->d->config->device_timeout, create_deadline_cb, cd);
  g_task_run_in_thread (inner, create_thread);
  g_object_unref (inner);
  return;

fail:
  forget_create (mgr, name);
  if (mgr->d->agent != NULL)
    gvd_agent_hub_forget (mgr->d->agent, name);
  g_task_return_error (task, g_steal_pointer (&error));
}

JsonNode *
gvd_instance_manager_create_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                    JsonNode **out_details, GError **error)
{
  JsonNode *details = g_task_get_task_data (G_TASK (result));
  JsonNode *node = g_task_propagate_pointer (G_TASK (result), error);

  if (node == NULL && details != NULL && out_details != NULL)
    *out_details = json_node_ref (details);
  return node;
}

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
  int vnc_port;
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
  g_free (op);
}

static virDomainPtr
lookup_domain (virConnectPtr conn, const char *domain_name, const char *name, GError **error)
{
  virDomainPtr dom = virDomainLookupByName (conn, domain_name);

  if (dom == NULL)
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
      if (!prepare_devices (op->root, (const char *const *) op->addresses, &error))
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
        while (!domain_is_off (dom) && g_get_monotonic_time () < deadline)
          g_usleep (100 * 1000);
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
      gvd_virt_set_error (&error, GVD_ERROR_LIBVIRT, what);
    }
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  op->state = domain_state (dom);
  if (virDomainIsActive (dom) == 1)
    {
      g_autofree char *live = virDomainGetXMLDesc (dom, 0);
      op->vnc_port = parse_vnc_port (live);
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

  disarm_deadline (&op->deadline);
  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      if (!op->expired)
        g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  if (inst != NULL && op->state != NULL)
    {
      instance_set_state (mgr, inst, op->state);
      inst->vnc_port = op->vnc_port;
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
  op->addresses = hostdev_addresses (inst->spec);
  op->name = g_strdup (name);
  op->domain_name = g_strdup (inst->spec->domain_name);
  op->vnc_port = -1;
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
  mark_wedged (op->mgr, op->addresses, what, seconds);
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
      op->deadline = arm_deadline (seconds, op_deadline_cb, op);
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
          gvd_virt_set_error (&error, GVD_ERROR_LIBVIRT, "cannot power the domain off");
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if (virDomainUndefineFlags (dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                                           | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                                           | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0)
        {
          gvd_virt_set_error (&error, GVD_ERROR_LIBVIRT, "cannot undefine the domain");
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
remove_instance (GvdInstanceManager *mgr, const char *name)
{
  g_autofree char *key = g_strdup (name);

  release_claims (mgr, key);
  gvd_ipam_release (mgr->ipam, key);
  if (mgr->d->agent != NULL)
    gvd_agent_hub_forget (mgr->d->agent, key);
  g_hash_table_remove (mgr->instances, key);
}

static void
delete_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  OpData *op = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = op->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, op->name);
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      if (inst != NULL)
        g_clear_pointer (&inst->busy, g_free);
      g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  g_message ("instance %s: deleted (domain, NVRAM, volumes, claims, address)", op->name);
  remove_instance (mgr, op->name);
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
      gvd_virt_set_error (&error, GVD_ERROR_LIBVIRT, "QMP command failed");
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

/* ---- device release check ------------------------------------------------------ */

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
        g_hash_table_replace (rc->mgr->d->quarantined, g_strdup (rc->addresses[i]),
                              g_strdup (rc->reasons[i]));
      }
}

/* After an instance's domain stops, libvirt gives its devices back to the
 * host: check each came back (config space answers, host driver rebound)
 * and quarantine the ones that did not, so they are never planned again
 * until an operator clears them. */
static void
schedule_release_check (GvdInstanceManager *mgr, GvdInstance *inst)
{
  g_autoptr(GStrvBuilder) drivers = g_strv_builder_new ();
  ReleaseCheck *rc;
  GTask *task;

  rc = g_new0 (ReleaseCheck, 1);
  rc->addresses = hostdev_addresses (inst->spec);
  if (rc->addresses[0] == NULL)
    {
      release_check_free (rc);
      return;
    }
  for (guint i = 0; rc->addresses[i] != NULL; i++)
    {
      const GvdPciDevice *dev = mgr->d->inventory != NULL
                                  ? g_hash_table_lookup (mgr->d->inventory->by_address, rc->addresses[i])
                                  : NULL;
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

/* ---- events ---------------------------------------------------------------------------- */

static const char *
instance_name_of (GvdInstanceManager *mgr, const char *domain_name)
{
  const char *prefix = mgr->d->config->domain_prefix;

  return g_str_has_prefix (domain_name, prefix) ? domain_name + strlen (prefix) : NULL;
}

/* Runs on the main loop (libvirt's events dispatch on GLib's default
 * context). Only local calls here: the event carries what we need. */
static int
lifecycle_cb (virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
  GvdInstanceManager *mgr = opaque;
  const char *domain_name = virDomainGetName (dom);
  const char *name = instance_name_of (mgr, domain_name);
  GvdInstance *inst = name != NULL ? g_hash_table_lookup (mgr->instances, name) : NULL;

  switch (event)
    {
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
      if (inst != NULL)
        instance_set_state (mgr, inst, "running");
      break;
    case VIR_DOMAIN_EVENT_SUSPENDED:
      if (inst != NULL)
        instance_set_state (mgr, inst, "paused");
      break;
    case VIR_DOMAIN_EVENT_STOPPED:
      if (inst != NULL)
        {
          instance_set_state (mgr, inst, detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? "crashed" : "shutoff");
          inst->vnc_port = -1;
          schedule_release_check (mgr, inst);
        }
      break;
    case VIR_DOMAIN_EVENT_CRASHED:
      if (inst != NULL)
        instance_set_state (mgr, inst, "crashed");
      break;
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
      if (inst != NULL)
        instance_set_state (mgr, inst, "suspended");
      break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
      if (inst != NULL && inst->busy == NULL)
        {
          /* Undefined behind our back: the instance is gone. Its volumes
           * stay (an operator may want them); claims and address go. */
          g_message ("instance %s: domain %s was undefined outside gpuvmd; forgetting it", name,
                     domain_name);
          remove_instance (mgr, name);
        }
      else if (inst == NULL)
        {
          g_autofree char *holder = g_strconcat (HOLDER_DOMAIN_PREFIX, domain_name, NULL);
          release_claims (mgr, holder);
        }
      break;
    case VIR_DOMAIN_EVENT_DEFINED:
      /* A domain we do not know (ours from another gpuvmd run, or one made
       * by hand with hostdevs): re-read libvirt. */
      if (inst == NULL && (name == NULL || !g_hash_table_contains (mgr->creating, name)))
        schedule_recovery (mgr, 200);
      break;
    default:
      break;
    }
  return 0;
}

static void
register_events (GvdInstanceManager *mgr)
{
  g_autoptr(GError) error = NULL;
  virConnectPtr conn = gvd_virt_conn_get (mgr->d->virt, &error);

  if (conn == NULL)
    return;
  mgr->event_conn = conn;
  mgr->lifecycle_id = virConnectDomainEventRegisterAny (conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                        VIR_DOMAIN_EVENT_CALLBACK (lifecycle_cb),
                                                        mgr, NULL);
  if (mgr->lifecycle_id < 0)
    g_warning ("cannot subscribe to libvirt lifecycle events: %s", virGetLastErrorMessage ());
}

static void
unregister_events (GvdInstanceManager *mgr)
{
  if (mgr->event_conn == NULL)
    return;
  if (mgr->lifecycle_id >= 0)
    virConnectDomainEventDeregisterAny (mgr->event_conn, mgr->lifecycle_id);
  mgr->lifecycle_id = -1;
  virConnectClose (g_steal_pointer (&mgr->event_conn));
}

/* ---- recovery ---------------------------------------------------------------------------- */

/* One libvirt domain as recovery sees it, parsed in the worker so the main
 * loop only applies results. */
typedef struct {
  char *name;
  char *state;
  GvdInstanceSpec *spec;   /* gpuvmd's metadata; NULL: not ours */
  char **foreign_hostdevs; /* PCI hostdevs of a domain that is not ours */
  int vnc_port;
} DomainInfo;

static void
domain_info_free (DomainInfo *info)
{
  g_free (info->name);
  g_free (info->state);
  gvd_instance_spec_free (info->spec);
  g_strfreev (info->foreign_hostdevs);
  g_free (info);
}

typedef struct {
  GvdVirtConn *virt;
  char *prefix;
} RecoverData;

static void
recover_data_free (RecoverData *rd)
{
  g_object_unref (rd->virt);
  g_free (rd->prefix);
  g_free (rd);
}

/* Read and parse one domain (any thread). */
static DomainInfo *
read_domain (virDomainPtr dom, const char *prefix)
{
  char *xml = virDomainGetXMLDesc (dom, 0);
  DomainInfo *info;
  const char *name;

  /* A domain undefined between list and read is simply gone. */
  if (xml == NULL)
    return NULL;
  info = g_new0 (DomainInfo, 1);
  info->name = g_strdup (virDomainGetName (dom));
  info->state = domain_state (dom);
  name = g_str_has_prefix (info->name, prefix) ? info->name + strlen (prefix) : NULL;
  if (name != NULL)
    info->spec = gvd_domain_xml_parse (xml, NULL);
  if (info->spec != NULL && g_strcmp0 (info->spec->name, name) != 0)
    g_clear_pointer (&info->spec, gvd_instance_spec_free);
  if (info->spec == NULL)
    info->foreign_hostdevs = gvd_domain_xml_hostdev_addresses (xml, NULL);
  info->vnc_port = g_str_equal (info->state, "running") ? parse_vnc_port (xml) : -1;
  free (xml);
  return info;
}

typedef struct {
  virDomainPtr *doms;
  int n;
  gint next;           /* atomic: next index to take */
  const char *prefix;
  DomainInfo **out;    /* n slots */
} ReadJob;

static gpointer
read_worker (gpointer data)
{
  ReadJob *job = data;
  gint i;

  while ((i = g_atomic_int_add (&job->next, 1)) < job->n)
    job->out[i] = read_domain (job->doms[i], job->prefix);
  return NULL;
}

static void
recover_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  RecoverData *rd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (rd->virt, &error);
  g_autoptr(GPtrArray) infos = NULL;
  virDomainPtr *doms = NULL;
  ReadJob job = { 0 };
  GThread *threads[4] = { NULL };
  guint n_threads;
  gint64 t0 = g_get_monotonic_time ();
  int n;

  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  n = virConnectListAllDomains (conn, &doms, 0);
  if (n < 0)
    {
      gvd_virt_set_error (&error, GVD_ERROR_LIBVIRT, "cannot list domains");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Reading a domain is an RPC and parsing it is CPU work: spread both over
   * a few threads (the connection is thread-safe; libvirtd serves requests
   * in parallel). */
  job.doms = doms;
  job.n = n;
  job.prefix = rd->prefix;
  job.out = g_new0 (DomainInfo *, MAX (n, 1));
  n_threads = CLAMP (g_get_num_processors (), 1, G_N_ELEMENTS (threads));
  n_threads = MIN (n_threads, (guint) MAX (n / 16, 1));
  for (guint t = 1; t < n_threads; t++)
    threads[t] = g_thread_new ("recover", read_worker, &job);
  read_worker (&job);
  for (guint t = 1; t < n_threads; t++)
    g_thread_join (threads[t]);

  infos = g_ptr_array_new_with_free_func ((GDestroyNotify) domain_info_free);
  for (int i = 0; i < n; i++)
    {
      if (job.out[i] != NULL)
        g_ptr_array_add (infos, job.out[i]);
      virDomainFree (doms[i]);
    }
  g_free (job.out);
  free (doms);
  g_debug ("recovery: %d domains read and parsed in %.1f ms on %u threads", n,
           (g_get_monotonic_time () - t0) / 1000.0, n_threads);
  g_task_return_pointer (task, g_steal_pointer (&infos), (GDestroyNotify) g_ptr_array_unref);
}

static void
apply_recovery (GvdInstanceManager *mgr, GPtrArray *infos)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer key, value;
  guint ours = 0, foreign = 0;

  /* Claims are rebuilt from libvirt, except those of creates in flight and
   * of reservations, which libvirt does not know about yet. */
  g_hash_table_iter_init (&iter, mgr->d->claims);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!g_hash_table_contains (mgr->creating, value) && !g_str_has_prefix (value, "reservation:"))
      g_hash_table_iter_remove (&iter);

  for (guint i = 0; i < infos->len; i++)
    {
      DomainInfo *info = g_ptr_array_index (infos, i);
      const char *name = instance_name_of (mgr, info->name);
      g_autoptr(GvdInstanceSpec) spec = NULL;
      GvdInstance *inst;

      /* A create in flight owns its name until it completes. */
      if (name != NULL && g_hash_table_contains (mgr->creating, name))
        continue;
      if (info->spec == NULL)
        {
          /* Not ours: its PCI hostdevs still count as claimed. */
          g_autofree char *holder = g_strconcat (HOLDER_DOMAIN_PREFIX, info->name, NULL);
          char **addrs = info->foreign_hostdevs;

          for (gsize a = 0; addrs != NULL && addrs[a] != NULL; a++)
            g_hash_table_replace (mgr->d->claims, g_strdup (addrs[a]), g_strdup (holder));
          if (addrs != NULL && addrs[0] != NULL)
            foreign++;
          continue;
        }
      spec = g_steal_pointer (&info->spec);
      inst = g_hash_table_lookup (mgr->instances, name);
      if (inst == NULL)
        {
          GvdNicSpec *nic = spec->nics->len > 0 ? g_ptr_array_index (spec->nics, 0) : NULL;
          g_autoptr(GError) ipam_error = NULL;

          if (nic != NULL && nic->mac != NULL
              && !gvd_ipam_reserve (mgr->ipam, spec->name, nic->mac, nic->ipv4, &ipam_error))
            g_warning ("instance %s: address conflict on recovery: %s", spec->name,
                       ipam_error->message);
          if (mgr->d->agent != NULL)
            gvd_agent_hub_track (mgr->d->agent, spec->name, spec->uuid);
          inst = instance_new (g_steal_pointer (&spec), info->state);
          g_hash_table_replace (mgr->instances, g_strdup (name), inst);
          g_hash_table_replace (seen, (gpointer) inst->spec->name, (gpointer) inst->spec->name);
          if (mgr->d->agent != NULL)
            gvd_agent_hub_set_running (mgr->d->agent, name, g_str_equal (info->state, "running"),
                                       g_get_monotonic_time ());
        }
      else
        {
          g_hash_table_replace (seen, (gpointer) inst->spec->name, (gpointer) inst->spec->name);
          instance_set_state (mgr, inst, info->state);
        }
      inst->vnc_port = info->vnc_port;
      claim_hostdevs (mgr, inst->spec->name, inst->spec->hostdevs);
      ours++;
    }

  /* Instances whose domains vanished while we were not looking. */
  g_hash_table_iter_init (&iter, mgr->instances);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GvdInstance *inst = value;
      if (!g_hash_table_contains (seen, inst->spec->name) && inst->busy == NULL)
        {
          g_message ("instance %s: its domain is gone from libvirt; forgetting it", (char *) key);
          gvd_ipam_release (mgr->ipam, key);
          if (mgr->d->agent != NULL)
            gvd_agent_hub_forget (mgr->d->agent, key);
          g_hash_table_iter_remove (&iter);
        }
    }

  if (!mgr->ready)
    g_message ("recovered %u instance(s) from libvirt; %u other domain(s) hold PCI devices", ours,
               foreign);
  mgr->ready = TRUE;
  mgr->d->claims_ready = TRUE;
}

static void
recover_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GvdInstanceManager *mgr = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) infos = g_task_propagate_pointer (G_TASK (res), &error);

  mgr->recovering = FALSE;
  if (infos == NULL)
    {
      g_message ("recovery from libvirt failed: %s (will retry on reconnect)", error->message);
      return;
    }
  {
    gint64 t0 = g_get_monotonic_time ();
    apply_recovery (mgr, infos);
    g_debug ("recovery: applied %u domains in %.1f ms", infos->len,
             (g_get_monotonic_time () - t0) / 1000.0);
  }
  if (mgr->recover_again)
    {
      mgr->recover_again = FALSE;
      schedule_recovery (mgr, 0);
    }
}

static gboolean
recover_cb (gpointer data)
{
  GvdInstanceManager *mgr = data;
  GTask *task;

  g_clear_pointer (&mgr->recover_source, g_source_unref);
  if (mgr->recovering)
    {
      mgr->recover_again = TRUE;
      return G_SOURCE_REMOVE;
    }
  mgr->recovering = TRUE;
  task = g_task_new (NULL, NULL, recover_done, mgr);
  {
    RecoverData *rd = g_new0 (RecoverData, 1);
    rd->virt = g_object_ref (mgr->d->virt);
    rd->prefix = g_strdup (mgr->d->config->domain_prefix);
    g_task_set_task_data (task, rd, (GDestroyNotify) recover_data_free);
  }
  g_task_run_in_thread (task, recover_thread);
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
schedule_recovery (GvdInstanceManager *mgr, guint delay_ms)
{
  if (mgr->recover_source != NULL)
    return;
  mgr->recover_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (mgr->recover_source, recover_cb, mgr, NULL);
  g_source_attach (mgr->recover_source, NULL);
}

static void
on_connected (GvdVirtConn *virt, gpointer user_data)
{
  GvdInstanceManager *mgr = user_data;

  unregister_events (mgr);
  register_events (mgr);
  schedule_recovery (mgr, 0);
}

static void
on_disconnected (GvdVirtConn *virt, const char *why, gpointer user_data)
{
  GvdInstanceManager *mgr = user_data;

  unregister_events (mgr);
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
  if (pd->mgr->d->agent != NULL && gvd_agent_hub_is_tracked (pd->mgr->d->agent, pd->name))
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
  g_autoptr(virConnect) conn = NULL;
  g_autoptr(virDomain) dom = NULL;
  ProbeData *pd;

  if (new_health != GVD_AGENT_HEALTH_UNRESPONSIVE || inst == NULL)
    return;
  conn = gvd_virt_conn_get (mgr->d->virt, NULL);
  if (conn == NULL || (dom = virDomainLookupByName (conn, inst->spec->domain_name)) == NULL)
    return;
  pd = g_new0 (ProbeData, 1);
  pd->mgr = mgr;
  pd->name = g_strdup (name);
  gvd_agent_probe_async (dom, 5, NULL, probe_done, pd);
}

/* ---- setup ------------------------------------------------------------------------------- */

GvdInstanceManager *
gvd_instance_manager_new (GvdDaemon *daemon)
{
  GvdInstanceManager *mgr = g_new0 (GvdInstanceManager, 1);
  g_autoptr(GError) error = NULL;

  mgr->d = daemon;
  mgr->instances = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) instance_free);
  mgr->creating = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  mgr->lifecycle_id = -1;
  mgr->ipam = gvd_ipam_new (daemon->config->network_cidr, daemon->config->network_gateway, &error);
  if (mgr->ipam == NULL)
    {
      g_warning ("address allocation disabled: %s", error->message);
      mgr->ipam = gvd_ipam_new (NULL, NULL, NULL);
    }
  mgr->agent_files = gvd_agent_files_load (NULL);
  if (daemon->agent != NULL)
    mgr->health_watch = gvd_agent_hub_add_watch (daemon->agent, on_health_changed, mgr);
  return mgr;
}

void
gvd_instance_manager_start (GvdInstanceManager *mgr)
{
  mgr->connected_id = g_signal_connect (mgr->d->virt, "connected", G_CALLBACK (on_connected), mgr);
  mgr->disconnected_id = g_signal_connect (mgr->d->virt, "disconnected",
                                           G_CALLBACK (on_disconnected), mgr);
  if (gvd_virt_conn_get_state (mgr->d->virt) == GVD_VIRT_CONNECTED)
    on_connected (mgr->d->virt, mgr);
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
  unregister_events (mgr);
  if (mgr->health_watch != 0 && mgr->d->agent != NULL)
    gvd_agent_hub_remove_watch (mgr->d->agent, mgr->health_watch);
  if (mgr->recover_source != NULL)
    {
      g_source_destroy (mgr->recover_source);
      g_source_unref (mgr->recover_source);
    }
  g_hash_table_unref (mgr->instances);
  g_hash_table_unref (mgr->creating);
  gvd_ipam_free (mgr->ipam);
  gvd_agent_files_free (mgr->agent_files);
  g_free (mgr);
}
