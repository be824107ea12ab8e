/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Constructors and destructors for the instance spec types. */
#include "config.h"

#include "instance-spec.h"

#include <string.h>

GvdDiskSpec *
gvd_disk_spec_new (void)
{
  return g_new0 (GvdDiskSpec, 1);
}

void
gvd_disk_spec_free (GvdDiskSpec *disk)
{
  if (disk == NULL)
    return;
  g_free (disk->pool);
  g_free (disk->volume);
  g_free (disk->format);
  g_free (disk->host);
  g_free (disk->source_name);
  g_free (disk->auth_username);
  g_free (disk->secret_uuid);
  g_free (disk->target);
  g_free (disk->serial);
  g_free (disk->name);
  g_free (disk);
}

GvdNicSpec *
gvd_nic_spec_new (void)
{
  return g_new0 (GvdNicSpec, 1);
}

void
gvd_nic_spec_free (GvdNicSpec *nic)
{
  if (nic == NULL)
    return;
  g_free (nic->source);
  g_free (nic->mac);
  g_free (nic->ipv4);
  g_free (nic->gateway);
  g_strfreev (nic->dns);
  g_free (nic->device);
  g_clear_pointer (&nic->forwards, g_array_unref);
  g_free (nic);
}

GvdHostdevSpec *
gvd_hostdev_spec_new (void)
{
  GvdHostdevSpec *h = g_new0 (GvdHostdevSpec, 1);

  h->clique = -1;
  return h;
}

void
gvd_hostdev_spec_free (GvdHostdevSpec *hostdev)
{
  if (hostdev == NULL)
    return;
  g_free (hostdev->host_address);
  g_free (hostdev->mdev_uuid);
  g_free (hostdev->mdev_type);
  g_free (hostdev);
}

GvdShareSpec *
gvd_share_spec_new (void)
{
  return g_new0 (GvdShareSpec, 1);
}

void
gvd_share_spec_free (GvdShareSpec *share)
{
  if (share == NULL)
    return;
  g_free (share->tag);
  g_free (share->source_dir);
  g_free (share->mount_point);
  g_free (share);
}

GvdInstanceSpec *
gvd_instance_spec_new (void)
{
  GvdInstanceSpec *spec = g_new0 (GvdInstanceSpec, 1);

  spec->firmware = GVD_FIRMWARE_EFI;
  spec->vcpus = 1;
  spec->memory_mib = 512;
  spec->numa_node = -1;
  spec->heartbeat_interval = 10;
  spec->disks = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_disk_spec_free);
  spec->nics = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_nic_spec_free);
  spec->hostdevs = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_hostdev_spec_free);
  spec->shares = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_share_spec_free);
  return spec;
}

void
gvd_instance_spec_free (GvdInstanceSpec *spec)
{
  if (spec == NULL)
    return;
  g_free (spec->name);
  g_free (spec->domain_name);
  g_free (spec->uuid);
  g_free (spec->created_at);
  g_free (spec->image);
  g_clear_pointer (&spec->labels, g_hash_table_unref);
  g_strfreev (spec->requested_devices);
  g_free (spec->requested_model);
  g_clear_pointer (&spec->vcpu_pins, g_array_unref);
  g_clear_pointer (&spec->emulator_pins, g_array_unref);
  g_ptr_array_unref (spec->disks);
  g_free (spec->seed_pool);
  g_free (spec->seed_volume);
  g_ptr_array_unref (spec->nics);
  g_ptr_array_unref (spec->hostdevs);
  g_ptr_array_unref (spec->shares);
  g_free (spec->console_log);
  g_free (spec->kernel);
  g_free (spec->initrd);
  g_free (spec->cmdline);
  g_free (spec->hostname);
  g_free (spec->user);
  g_strfreev (spec->ssh_keys);
  g_free (spec->password_hash);
  g_strfreev (spec->packages);
  g_clear_pointer (&spec->extra_cloud_config, json_object_unref);
  g_free (spec->nvidia_driver_version);
  g_free (spec->agent_url);
  if (spec->agent_token != NULL)
    memset (spec->agent_token, 0, strlen (spec->agent_token));
  g_free (spec->agent_token);
  g_free (spec);
}

const char *
gvd_disk_bus_to_string (GvdDiskBus bus)
{
  switch (bus)
    {
    case GVD_DISK_BUS_SCSI: return "scsi";
    case GVD_DISK_BUS_SATA: return "sata";
    case GVD_DISK_BUS_VIRTIO:
    default: return "virtio";
    }
}

const char *
gvd_disk_cache_to_string (GvdDiskCache cache)
{
  switch (cache)
    {
    case GVD_DISK_CACHE_NONE: return "none";
    case GVD_DISK_CACHE_WRITEBACK: return "writeback";
    case GVD_DISK_CACHE_WRITETHROUGH: return "writethrough";
    case GVD_DISK_CACHE_DEFAULT:
    default: return NULL;
    }
}

const char *
gvd_disk_io_to_string (GvdDiskIo io)
{
  switch (io)
    {
    case GVD_DISK_IO_NATIVE: return "native";
    case GVD_DISK_IO_THREADS: return "threads";
    case GVD_DISK_IO_URING: return "io_uring";
    case GVD_DISK_IO_DEFAULT:
    default: return NULL;
    }
}
