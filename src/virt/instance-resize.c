/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Growing the disks of a stopped instance: the root overlay and the data
 * volumes gpuvmd made, then the sizes in gpuvmd's metadata. The guest grows
 * its partitions itself (cloud-init growpart). */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include "domain-xml-disks.h"
#include "domain-xml.h"
#include "events.h"
#include "snapshot-xml.h"
#include "storage.h"
#include "virt-error.h"

typedef struct {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  char *name;
  char *domain_name;
  char *pool;
  char **volumes;      /* to grow */
  char **fields;       /* parallel: the request member that asked */
  guint64 *bytes;      /* parallel: new capacities */
  guint *disk_index;   /* parallel: index in spec->disks */
  char *metadata;      /* gpuvmd's metadata with the new sizes */
} ResizeData;

static void
resize_data_free (ResizeData *rd)
{
  g_clear_object (&rd->virt);
  g_free (rd->name);
  g_free (rd->domain_name);
  g_free (rd->pool);
  g_strfreev (rd->volumes);
  g_strfreev (rd->fields);
  g_free (rd->bytes);
  g_free (rd->disk_index);
  g_free (rd->metadata);
  g_free (rd);
}

static void
resize_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ResizeData *rd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (rd->virt, &error);
  g_autoptr(virDomain) dom = NULL;

  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  dom = virDomainLookupByName (conn, rd->domain_name);
  if (dom == NULL)
    {
      g_autofree char *what = g_strdup_printf ("instance '%s'", rd->name);
      gvd_virt_error_set (&error, what);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* QEMU holds the image open while the domain runs: libvirt's resize
   * would change it under the guest. */
  if (virDomainIsActive (dom) != 0)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                               "instance '%s' is not stopped: stop it before resizing its disks",
                               rd->name);
      return;
    }
  for (guint i = 0; rd->volumes[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if (!gvd_storage_grow_volume (conn, rd->pool, rd->volumes[i], rd->bytes[i], &local_error))
        {
          g_task_return_new_error (task, GVD_ERROR, local_error->code, "'%s': %s", rd->fields[i],
                                   local_error->message);
          return;
        }
    }
  {
    /* The metadata comes from the spec, which does not hold the snapshot
     * chain nor the volumes an interrupted snapshot operation left
     * (instance-snapshot.c keeps both in the domain): carry them over, or
     * those volumes would be forgotten and outlive the instance. */
    g_autofree char *xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
    g_autoptr(GPtrArray) chain = NULL;
    g_auto(GStrv) unused = NULL;
    char *with_chain;

    if (xml == NULL)
      {
        gvd_virt_error_set (&error, "the disks grew, but the domain could not be read back");
        g_task_return_error (task, g_steal_pointer (&error));
        return;
      }
    chain = gvd_snapshot_chain_parse (xml, &error);
    unused = chain != NULL ? gvd_snapshot_unused_parse (xml, &error) : NULL;
    with_chain = unused != NULL
                   ? gvd_snapshot_chain_into_metadata (rd->metadata, chain,
                                                       (const char *const *) unused, &error)
                   : NULL;
    if (with_chain == NULL)
      {
        g_task_return_error (task, g_steal_pointer (&error));
        return;
      }
    g_free (rd->metadata);
    rd->metadata = with_chain;
  }
  if (virDomainSetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT, rd->metadata,
                            GVD_DOMAIN_XML_NS_PREFIX, GVD_DOMAIN_XML_NS,
                            VIR_DOMAIN_AFFECT_CONFIG) < 0)
    {
      gvd_virt_error_set (&error, "the disks grew, but libvirt did not take the new metadata");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
resize_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  ResizeData *rd = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = rd->mgr;
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, rd->name);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = NULL;

  gvd_instance_note_change (mgr);
  if (inst != NULL)
    g_clear_pointer (&inst->busy, g_free);
  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }
  if (inst == NULL)
    {
      g_task_return_new_error (outer, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                               "instance '%s' went away while its disks grew", rd->name);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, rd->name);
  json_builder_set_member_name (b, "disks");
  json_builder_begin_array (b);
  for (guint i = 0; rd->volumes[i] != NULL; i++)
    {
      GvdDiskSpec *d = g_ptr_array_index (inst->spec->disks, rd->disk_index[i]);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "volume");
      json_builder_add_string_value (b, rd->volumes[i]);
      json_builder_set_member_name (b, "bytes");
      json_builder_add_int_value (b, (gint64) rd->bytes[i]);
      json_builder_end_object (b);

      if (rd->disk_index[i] == 0)
        inst->spec->root_size_bytes = rd->bytes[i];
      else
        d->size_bytes = rd->bytes[i];
      g_message ("instance %s: volume %s grown to %" G_GUINT64_FORMAT " bytes", rd->name,
                 rd->volumes[i], rd->bytes[i]);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  gvd_events_emit (mgr->d->events, "instance.resized", json_builder_get_root (b));
  g_clear_object (&b);
  b = json_builder_new ();
  gvd_instance_write_json (mgr, inst, b);
  g_task_return_pointer (outer, json_builder_get_root (b), (GDestroyNotify) json_node_unref);
}

/* The metadata @inst would have with the new sizes (the spec itself changes
 * only when the volumes have grown). */
static char *
render_metadata (GvdInstance *inst, GArray *index, GArray *bytes, GError **error)
{
  GvdInstanceSpec *s = inst->spec;
  g_autofree guint64 *saved = g_new0 (guint64, index->len);
  char *xml;

  for (guint i = 0; i < index->len; i++)
    {
      guint k = g_array_index (index, guint, i);
      guint64 *size = k == 0 ? &s->root_size_bytes
                             : &((GvdDiskSpec *) g_ptr_array_index (s->disks, k))->size_bytes;
      saved[i] = *size;
      *size = g_array_index (bytes, guint64, i);
    }
  xml = gvd_domain_xml_render_metadata (s, error);
  for (guint i = index->len; i-- > 0;)
    {
      guint k = g_array_index (index, guint, i);
      guint64 *size = k == 0 ? &s->root_size_bytes
                             : &((GvdDiskSpec *) g_ptr_array_index (s->disks, k))->size_bytes;
      *size = saved[i];
    }
  return xml;
}

void
gvd_instance_manager_resize_async (GvdInstanceManager *mgr, const char *name, guint64 root_gib,
                                   GHashTable *disks, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);
  g_autoptr(GStrvBuilder) volumes = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) fields = g_strv_builder_new ();
  g_autoptr(GArray) bytes = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr(GArray) index = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer key, value;
  ResizeData *rd;
  GTask *inner;

  if (inst == NULL)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no instance named '%s'",
                               name);
      return;
    }
  if (inst->busy != NULL)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                               "instance '%s' is busy (%s); retry when it is done", name,
                               inst->busy);
      return;
    }
  if (root_gib > 0)
    {
      const GvdDiskSpec *root = g_ptr_array_index (inst->spec->disks, 0);
      guint64 b = root_gib << 30;
      guint k = 0;

      if (b < inst->spec->root_size_bytes)
        {
          g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                                   "'root_disk_gib': %" G_GUINT64_FORMAT " GiB is smaller than "
                                   "the root disk (%" G_GUINT64_FORMAT " bytes); disks only grow",
                                   root_gib, inst->spec->root_size_bytes);
          return;
        }
      g_strv_builder_add (volumes, root->volume);
      g_strv_builder_add (fields, "root_disk_gib");
      g_array_append_val (bytes, b);
      g_array_append_val (index, k);
    }
  g_hash_table_iter_init (&iter, disks);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      guint64 b = *(guint64 *) value << 30;
      g_autofree char *field = g_strdup_printf ("disks.%s", (const char *) key);
      const GvdDiskSpec *d = NULL;
      guint k;

      for (k = 1; k < inst->spec->disks->len; k++)
        {
          d = g_ptr_array_index (inst->spec->disks, k);
          if (g_strcmp0 (d->name, key) == 0)
            break;
        }
      if (k == inst->spec->disks->len)
        {
          g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                                   "'%s': instance '%s' has no data disk named '%s'", field,
                                   name, (const char *) key);
          return;
        }
      /* Only volumes gpuvmd made for this instance: an attached volume or
       * image is shared with whoever else may use it. */
      if (d->type != GVD_DISK_VOLUME || !d->created)
        {
          g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                                   "'%s': only new volumes made for this instance can grow", field);
          return;
        }
      if (b < d->size_bytes)
        {
          g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                                   "'%s': %" G_GUINT64_FORMAT " GiB is smaller than the disk (%"
                                   G_GUINT64_FORMAT " bytes); disks only grow", field,
                                   *(guint64 *) value, d->size_bytes);
          return;
        }
      g_strv_builder_add (volumes, d->volume);
      g_strv_builder_add (fields, field);
      g_array_append_val (bytes, b);
      g_array_append_val (index, k);
    }

  rd = g_new0 (ResizeData, 1);
  rd->metadata = render_metadata (inst, index, bytes, &error);
  if (rd->metadata == NULL)
    {
      resize_data_free (rd);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  rd->mgr = mgr;
  rd->virt = g_object_ref (mgr->d->virt);
  rd->name = g_strdup (name);
  rd->domain_name = g_strdup (inst->spec->domain_name);
  rd->pool = g_strdup (mgr->d->config->pool_name);
  rd->volumes = g_strv_builder_end (volumes);
  rd->fields = g_strv_builder_end (fields);
  rd->bytes = (guint64 *) g_array_free (g_steal_pointer (&bytes), FALSE);
  rd->disk_index = (guint *) g_array_free (g_steal_pointer (&index), FALSE);
  inst->busy = g_strdup ("resizing");
  inner = g_task_new (NULL, NULL, resize_done, g_object_ref (task));
  g_task_set_task_data (inner, rd, (GDestroyNotify) resize_data_free);
  g_task_run_in_thread (inner, resize_thread);
  g_object_unref (inner);
}

JsonNode *
gvd_instance_manager_resize_finish (GvdInstanceManager *mgr, GAsyncResult *result,
                                    GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
