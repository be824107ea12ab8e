/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Turning a create request into an instance spec: resolve what it names,
 * decide everything, do nothing (instance-create.c then does it). */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"
#include "console-text.h"
#include "device-ref.h"
#include "json-util.h"

#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "host-file.h"
#include "storage.h"
#include "vfio-plan.h"

/* Registry names → PCI addresses; addresses pass through (normalised). */
char **
gvd_instance_resolve_devices (GvdInstanceManager *mgr, char **devices, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  for (gsize i = 0; devices != NULL && devices[i] != NULL; i++)
    {
      g_autofree char *field = g_strdup_printf ("devices[%" G_GSIZE_FORMAT "]", i);
      g_autofree char *address = gvd_device_ref_resolve (mgr->d->registry, field, devices[i],
                                                          error);

      if (address == NULL)
        return NULL;
      g_strv_builder_add (b, address);
    }
  return g_strv_builder_end (b);
}

static gboolean
kvm_usable (GvdInstanceManager *mgr)
{
  g_autofree char *kvm = gvd_host_root_devfs (mgr->d->host_root, "kvm", NULL);

  return access (kvm, R_OK | W_OK) == 0;
}

/* A kernel or initrd as the host path QEMU will open: a regular file below
 * [storage] import_dirs (no symlinks), or an image volume of the pool. Never
 * an instance's own volume: its disk loaded as an initrd would be readable in
 * another guest. */
char *
gvd_instance_resolve_boot_file (GvdInstanceManager *mgr, const char *field, const char *path,
                                const char *volume, GError **error)
{
  const GvdConfig *c = mgr->d->config;
  const char *pool_dirs[] = { c->pool_path, NULL };
  g_autofree char *vfield = NULL;
  g_autofree char *vpath = NULL;
  g_autoptr(GError) local_error = NULL;

  if (volume == NULL)
    {
      if (!gvd_host_file_check ((const char *const *) c->import_dirs, path, field, error))
        return NULL;
      return g_strdup (path);
    }
  vfield = g_strconcat (field, ".volume", NULL);
  if (!gvd_storage_name_is_valid (volume))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s': '%s' is not a volume name", vfield, volume);
      return NULL;
    }
  if (g_str_has_prefix (volume, c->domain_prefix))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
                   "'%s': '%s' is an instance volume; name an image (see GET /v1/images)",
                   vfield, volume);
      return NULL;
    }
  /* gpuvmd's pool is a dir pool: a volume's path is <pool_path>/<name>. */
  vpath = g_build_filename (c->pool_path, volume, NULL);
  if (!gvd_host_file_check (pool_dirs, vpath, vfield, &local_error))
    {
      if (g_error_matches (local_error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT))
        g_set_error (error, GVD_ERROR, GVD_ERROR_IMAGE_NOT_FOUND,
                     "'%s': no image '%s' in the pool (see GET /v1/images)", vfield, volume);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_steal_pointer (&vpath);
}

/* The spec for a request and a plan: everything decided, nothing done. */
GvdInstanceSpec *
gvd_instance_build_spec (GvdInstanceManager *mgr, const GvdCreateRequest *req, GvdPlan *plan,
                         const char *reserved_mac, const char *reserved_ip, GError **error)
{
  const GvdConfig *c = mgr->d->config;
  g_autoptr(GvdInstanceSpec) s = gvd_instance_spec_new ();
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GvdDiskSpec) root = gvd_disk_spec_new ();

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
  if (!gvd_instance_build_disks (mgr, req, s, error))
    return NULL;
  s->seed_pool = g_strdup (c->pool_name);
  s->seed_volume = g_strdup_printf ("%s-seed.iso", s->domain_name);

  if (!gvd_instance_build_nics (mgr, req, s, reserved_mac, reserved_ip, error))
    return NULL;
  if (!gvd_instance_allocate_ports (mgr, req, s, error))
    return NULL;

  if (plan != NULL)
    {
      g_autoptr(GPtrArray) hostdevs = gvd_vfio_plan_to_hostdevs (plan);
      g_ptr_array_extend_and_steal (s->hostdevs, g_steal_pointer (&hostdevs));
      s->mmio64_mib = plan->mmio64_mib;
      if (plan->numa_nodes->len == 1)
        s->numa_node = g_array_index (plan->numa_nodes, int, 0);
    }
  if (!gvd_instance_build_cpu (mgr, req, plan, s, error)
      || !gvd_instance_build_shares (mgr, req, s, error)
      || !gvd_instance_build_memory (mgr, req, s, error))
    return NULL;
  s->console_log = gvd_console_log_path (GVD_CONSOLE_LOG_DIR, s->domain_name);
  s->vnc = req->console_vnc;
  s->autostart = req->autostart;
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
  if (mgr->d->inventory->nvidia_driver_version != NULL)
    s->nvidia_driver_version = g_strdup (mgr->d->inventory->nvidia_driver_version);
  s->heartbeat_interval = c->heartbeat_interval;
  s->agent_url = g_strdup (c->agent_url);
  gvd_agent_hub_track (mgr->d->agent, s->name, s->uuid);
  s->agent_token = gvd_agent_hub_get_token (mgr->d->agent, s->name);
  return g_steal_pointer (&s);
}

JsonNode *
gvd_instance_dry_run_document (const GvdInstanceSpec *spec, const GvdPlan *plan, const char *xml,
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
  gvd_json_add_string (b, "meta_data", seed->meta_data);
  gvd_json_add_string (b, "user_data", seed->user_data);
  gvd_json_add_string (b, "network_config", seed->network_config);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
