/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk snapshots of an instance, through libvirt (never qemu-img).
 *
 * libvirt 9.0 refuses internal snapshots of a UEFI domain with NVRAM and
 * cannot revert external ones, so gpuvmd keeps its own linear chain: a
 * snapshot freezes the root disk's current top overlay and puts a fresh
 * qcow2 overlay on it ("<domain>-snap-<snap>.qcow2"); the NVRAM file is
 * copied into a raw volume beside it. A revert drops the top (and, when
 * asked, every newer snapshot's layer) and puts a fresh overlay on the
 * snapshot's layer; a delete merges the layer a newer snapshot froze into
 * the deleted one's (libvirt's storage API cannot merge qcow2 layers: the
 * domain is started paused for a QEMU block commit), or for the newest
 * snapshot keeps its layer, marked deleted. The chain lives in gpuvmd's
 * domain metadata, so libvirt stays the source of truth.
 *
 * A running instance's snapshot is taken live (snapshot-live.c: the same
 * overlay, switched to by libvirt with the guest's filesystems frozen when
 * its agent answers), and so is a delete (the merge is a block commit on
 * the running domain); a revert needs it off.
 *
 * Crashes: an operation first lists the volumes it will make in the
 * metadata as unused, then makes them, then switches the domain over in
 * one redefine that also lists what it drops, then deletes that. A crash
 * at any point leaves a domain on a complete chain; the next operation
 * deletes the listed volumes the domain does not use. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include <string.h>

#include "events.h"
#include "fault-point.h"
#include "nvram-file.h"
#include "snapshot-live.h"
#include "snapshot-xml.h"
#include "storage.h"

typedef struct {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  GvdStorage *storage;
  GvdSnapshotOp op;
  char *name;
  char *domain_name;
  char *pool;
  char *snap;
  gboolean discard_newer;
  gboolean busy;       /* this op set inst->busy */
  gboolean running;    /* the domain ran when the op began */
  char *top;           /* result: the root disk's volume afterwards */
  const char *consistency; /* result of a create (static) */
  gboolean merged;     /* result of a delete: layers were merged */
  gboolean started;    /* got past the checks: a failure is an event */
} SnapData;

static void
snap_data_free (SnapData *sd)
{
  g_clear_object (&sd->virt);
  g_clear_pointer (&sd->storage, gvd_storage_unref);
  g_free (sd->name);
  g_free (sd->domain_name);
  g_free (sd->pool);
  g_free (sd->snap);
  g_free (sd->top);
  g_free (sd);
}

/* The domain, its inactive XML and chain; the domain must be off. */
static virDomainPtr
load (SnapData *sd, virConnectPtr conn, char **out_xml, GPtrArray **out_chain, GError **error)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, sd->domain_name);
  g_autofree char *xml = NULL;
  GPtrArray *chain;

  if (dom == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "instance '%s': libvirt has no domain %s",
                   sd->name, sd->domain_name);
      return NULL;
    }
  sd->running = virDomainIsActive (dom) != 0;
  if (sd->op == GVD_SNAPSHOT_REVERT && sd->running)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                   "instance '%s' is running: a revert replaces its disk and NVRAM under the "
                   "guest; shut it down first", sd->name);
      return NULL;
    }
  xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
  if (xml == NULL)
    {
      gvd_virt_error_set (error, "cannot read the domain XML");
      return NULL;
    }
  chain = gvd_snapshot_chain_parse (xml, error);
  if (chain == NULL)
    return NULL;
  *out_chain = chain;
  *out_xml = g_steal_pointer (&xml);
  return g_steal_pointer (&dom);
}

static gboolean
redefine (virConnectPtr conn, const char *xml, GError **error)
{
  g_autoptr(virDomain) dom = virDomainDefineXMLFlags (conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);

  if (dom == NULL)
    {
      gvd_virt_error_set (error, "cannot redefine the domain");
      return FALSE;
    }
  return TRUE;
}

static gboolean
delete_quietly (virConnectPtr conn, const char *pool, const char *volume)
{
  g_autoptr(GError) error = NULL;

  if (volume != NULL && !gvd_storage_delete_volume (conn, pool, volume, &error))
    {
      g_debug ("snapshot: cannot delete volume %s: %s", volume, error->message);
      return FALSE;
    }
  return TRUE;
}

/* @xml with @volumes listed as unused, redefined. */
static gboolean
redefine_unused (virConnectPtr conn, const char *xml, const char *const *volumes, GError **error)
{
  g_autofree char *new_xml = gvd_snapshot_unused_set (xml, volumes, error);

  return new_xml != NULL && redefine (conn, new_xml, error);
}

/* The root disk's volume now: as the XML says (a file after a live
 * snapshot), else what the chain implies. */
static char *
current_top (SnapData *sd, const char *xml, GPtrArray *chain)
{
  char *top = gvd_snapshot_root_volume (xml, sd->pool);

  return top != NULL ? top : gvd_snapshot_current_top (sd->domain_name, chain);
}

static gboolean
in_use (SnapData *sd, const char *volume, const char *xml, const char *live, GPtrArray *chain)
{
  g_autofree char *top = current_top (sd, xml, chain);
  g_autofree char *live_top = live != NULL ? gvd_snapshot_root_volume (live, sd->pool) : NULL;

  if (g_strcmp0 (volume, top) == 0 || g_strcmp0 (volume, live_top) == 0)
    return TRUE;
  for (guint i = 0; i < chain->len; i++)
    {
      GvdSnapshot *s = g_ptr_array_index (chain, i);

      if (g_strcmp0 (volume, s->volume) == 0 || g_strcmp0 (volume, s->nvram_volume) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Delete the volumes an earlier operation listed as unused (it crashed or
 * could not delete them) unless the domain uses them; *@xml follows the
 * redefine. */
static gboolean
sweep_unused (SnapData *sd, virConnectPtr conn, virDomainPtr dom, char **xml, GPtrArray *chain,
              GError **error)
{
  g_auto(GStrv) unused = gvd_snapshot_unused_parse (*xml, error);
  g_autoptr(GStrvBuilder) kept = g_strv_builder_new ();
  g_auto(GStrv) keep = NULL;
  g_autofree char *live = NULL;
  g_autofree char *new_xml = NULL;

  if (unused == NULL)
    return FALSE;
  if (unused[0] == NULL)
    return TRUE;
  if (sd->running)
    live = virDomainGetXMLDesc (dom, 0);
  for (guint i = 0; unused[i] != NULL; i++)
    if (!in_use (sd, unused[i], *xml, live, chain) && !delete_quietly (conn, sd->pool, unused[i]))
      g_strv_builder_add (kept, unused[i]);
    else
      g_debug ("snapshot: %s: dropped unused volume %s", sd->name, unused[i]);
  keep = g_strv_builder_end (kept);
  new_xml = gvd_snapshot_unused_set (*xml, (const char *const *) keep, error);
  if (new_xml == NULL || !redefine (conn, new_xml, error))
    return FALSE;
  g_free (*xml);
  *xml = g_steal_pointer (&new_xml);
  return TRUE;
}

static JsonNode *
chain_json (GPtrArray *chain, int only)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  if (only >= 0)
    gvd_snapshot_write_json (g_ptr_array_index (chain, only), b);
  else
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "snapshots");
      json_builder_begin_array (b);
      for (guint i = 0; i < chain->len; i++)
        if (!((GvdSnapshot *) g_ptr_array_index (chain, i))->deleted)
          gvd_snapshot_write_json (g_ptr_array_index (chain, i), b);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  return json_builder_get_root (b);
}

static JsonNode *
do_create (SnapData *sd, virConnectPtr conn, virDomainPtr dom, const char *xml, GPtrArray *chain,
           GError **error)
{
  g_autofree char *old_top = current_top (sd, xml, chain);
  g_autofree char *new_top = gvd_snapshot_top_volume (sd->domain_name, sd->snap);
  g_autofree char *nvram_volume = NULL;
  g_autofree char *nvram_path = NULL;
  g_autofree char *path = NULL;
  g_autofree char *new_xml = NULL;
  g_autoptr(GBytes) nvram = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *created_at = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
  const char *consistency = NULL;
  int i = gvd_snapshot_chain_find (chain, sd->snap);

  if (i >= 0)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                   ((GvdSnapshot *) g_ptr_array_index (chain, i))->deleted
                     ? "'name': snapshot '%s' was deleted but its disk layer is kept; choose "
                       "another name"
                     : "'name': snapshot '%s' already exists", sd->snap);
      return NULL;
    }
  if (chain->len >= GVD_SNAPSHOT_MAX)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "instance '%s' has %u snapshots (counting deleted ones whose layer is kept), "
                   "the most it may hold", sd->name, GVD_SNAPSHOT_MAX);
      return NULL;
    }
  /* + 2: a revert's alternate name ("-R"). */
  if (strlen (new_top) + 2 > 128)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'name': snapshot '%s' is too long for instance '%s' (its volume name '%s' "
                   "would be over 126 characters)", sd->snap, sd->name, new_top);
      return NULL;
    }
  {
    g_autoptr(GError) local_error = NULL;

    /* Running, the firmware may write it any time: a copy from just before
     * the disk is switched (variables change rarely). */
    nvram_path = gvd_snapshot_nvram_path (xml, &local_error);
    if (nvram_path != NULL)
      nvram = gvd_nvram_file_read (nvram_path, &local_error);
    if (local_error != NULL)
      {
        g_propagate_error (error, g_steal_pointer (&local_error));
        return NULL;
      }
  }
  if (nvram != NULL && g_bytes_get_size (nvram) > 0)
    nvram_volume = gvd_snapshot_nvram_volume (sd->domain_name, sd->snap);
  sd->started = TRUE;
  {
    const char *made[] = { new_top, nvram_volume, NULL };

    if (!redefine_unused (conn, xml, made, error))
      return NULL;
  }
  if (nvram_volume != NULL)
    {
      path = gvd_storage_upload_volume (conn, sd->pool, nvram_volume, nvram, "raw", error);
      if (path == NULL)
        return NULL;
      g_clear_pointer (&path, g_free);
    }
  /* The frozen top backs the new one; nothing writes to it any more. */
  path = gvd_storage_create_overlay (sd->storage, conn, sd->pool, new_top, old_top, 0, error);
  if (path == NULL
      || (sd->running
          && !gvd_snapshot_live_capture (dom, sd->pool, old_top, path, &consistency, error)))
    {
      delete_quietly (conn, sd->pool, new_top);
      delete_quietly (conn, sd->pool, nvram_volume);
      redefine (conn, xml, NULL);
      return NULL;
    }
  gvd_fault_point ("snapshot-taken");
  g_ptr_array_add (chain, gvd_snapshot_new (sd->snap, old_top, nvram_volume, created_at));
  ((GvdSnapshot *) g_ptr_array_index (chain, chain->len - 1))->consistency = g_strdup (consistency);
  /* libvirt made a running domain's disk a file: gpuvmd's definition names
   * the volume (the XML read before the switch); the list of unused volumes
   * goes with it. */
  new_xml = gvd_snapshot_chain_apply (xml, sd->pool, old_top, new_top, chain, error);
  if (new_xml == NULL || !redefine (conn, new_xml, error))
    {
      /* The running guest writes to the new top now: it stays. */
      if (sd->running)
        sd->top = g_strdup (new_top);
      else
        {
          delete_quietly (conn, sd->pool, new_top);
          delete_quietly (conn, sd->pool, nvram_volume);
        }
      return NULL;
    }
  sd->consistency = consistency != NULL ? consistency : GVD_SNAPSHOT_CONSISTENCY_STOPPED;
  sd->top = g_steal_pointer (&new_top);
  return chain_json (chain, (int) chain->len - 1);
}

static JsonNode *
do_revert (SnapData *sd, virConnectPtr conn, const char *xml, GPtrArray *chain, GError **error)
{
  int i = gvd_snapshot_chain_find (chain, sd->snap);
  g_autofree char *old_top = current_top (sd, xml, chain);
  g_autofree char *new_top = NULL;
  g_autofree char *nvram_path = NULL;
  g_autofree char *new_xml = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GBytes) nvram = NULL;
  g_autoptr(GBytes) old_nvram = NULL;
  g_autoptr(GString) newer = g_string_new (NULL);
  g_autoptr(GStrvBuilder) dropped_b = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) kept_b = g_strv_builder_new ();
  g_auto(GStrv) dropped = NULL;
  g_auto(GStrv) kept = NULL;
  GvdSnapshot *target;

  if (i < 0 || ((GvdSnapshot *) g_ptr_array_index (chain, i))->deleted)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "instance '%s' has no snapshot '%s'",
                   sd->name, sd->snap);
      return NULL;
    }
  target = g_ptr_array_index (chain, i);
  for (guint j = i + 1; j < chain->len; j++)
    if (!((GvdSnapshot *) g_ptr_array_index (chain, j))->deleted)
      g_string_append_printf (newer, "%s'%s'", newer->len > 0 ? ", " : "",
                              ((GvdSnapshot *) g_ptr_array_index (chain, j))->name);
  if (newer->len > 0 && !sd->discard_newer)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "snapshot '%s' is not the newest: reverting discards %s; ask again with "
                   "?discard_newer=true", sd->snap, newer->str);
      return NULL;
    }
  {
    g_autoptr(GError) local_error = NULL;

    nvram_path = gvd_snapshot_nvram_path (xml, &local_error);
    if (local_error != NULL)
      {
        g_propagate_error (error, g_steal_pointer (&local_error));
        return NULL;
      }
  }
  if (target->nvram_volume != NULL)
    {
      nvram = gvd_storage_download_volume (conn, sd->pool, target->nvram_volume,
                                           GVD_NVRAM_MAX_BYTES, error);
      if (nvram == NULL)
        return NULL;
      /* Put back should the switch fail. */
      if (nvram_path != NULL)
        old_nvram = gvd_nvram_file_read (nvram_path, NULL);
    }
  /* What the revert drops: the top, then every layer above the
   * snapshot's (newer snapshots, deleted or not). */
  g_strv_builder_add (dropped_b, old_top);
  for (guint j = chain->len; j > (guint) i + 1; j--)
    {
      GvdSnapshot *s = g_ptr_array_index (chain, j - 1);

      g_strv_builder_add (dropped_b, s->volume);
      if (s->nvram_volume != NULL)
        g_strv_builder_add (dropped_b, s->nvram_volume);
    }
  dropped = g_strv_builder_end (dropped_b);
  new_top = gvd_snapshot_fresh_top (sd->domain_name, sd->snap, (const char *const *) dropped);
  sd->started = TRUE;
  /* Nothing is lost until the switch: list the new top as unused, make
   * it, put the NVRAM in place, then redefine onto it in one step. */
  {
    const char *made[] = { new_top, NULL };

    if (!redefine_unused (conn, xml, made, error))
      return NULL;
  }
  path = gvd_storage_create_overlay (sd->storage, conn, sd->pool, new_top, target->volume, 0, error);
  if (path == NULL)
    return NULL;
  gvd_fault_point ("revert-overlay");
  if (nvram != NULL && nvram_path != NULL && !gvd_nvram_file_write (nvram_path, nvram, error))
    return NULL;
  g_ptr_array_set_size (chain, i + 1);
  new_xml = gvd_snapshot_chain_apply (xml, sd->pool, old_top, new_top, chain, error);
  if (new_xml == NULL || !redefine_unused (conn, new_xml, (const char *const *) dropped, error))
    {
      if (old_nvram != NULL)
        gvd_nvram_file_write (nvram_path, old_nvram, NULL);
      return NULL;
    }
  sd->top = g_steal_pointer (&new_top);
  gvd_fault_point ("revert-switched");
  for (guint j = 0; dropped[j] != NULL; j++)
    if (!delete_quietly (conn, sd->pool, dropped[j]))
      g_strv_builder_add (kept_b, dropped[j]);
  kept = g_strv_builder_end (kept_b);
  /* Best effort: what stays listed goes at the next operation. */
  redefine_unused (conn, new_xml, (const char *const *) kept, NULL);
  return chain_json (chain, i);
}

static char *
volume_path (virConnectPtr conn, const char *pool_name, const char *name, GError **error)
{
  g_autoptr(virStoragePool) pool = virStoragePoolLookupByName (conn, pool_name);
  g_autoptr(virStorageVol) vol = pool != NULL ? virStorageVolLookupByName (pool, name) : NULL;
  char *path = vol != NULL ? virStorageVolGetPath (vol) : NULL;
  char *out;

  if (path == NULL)
    {
      g_autofree char *what = g_strdup_printf ("cannot find volume '%s'", name);
      gvd_virt_error_set (error, what);
      return NULL;
    }
  out = g_strdup (path);
  free (path);
  return out;
}

/* Commit @top_path into @base_path on the running @dom and wait until
 * the job is done. */
static gboolean
commit_and_wait (virDomainPtr dom, const char *active_path, const char *base_path,
                 const char *top_path, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) G_USEC_PER_SEC * 3600;

  if (virDomainBlockCommit (dom, active_path, base_path, top_path, 0, 0) < 0)
    {
      gvd_virt_error_set (error, "cannot merge snapshot layers (block commit)");
      return FALSE;
    }
  for (;;)
    {
      virDomainBlockJobInfo info;
      int r = virDomainGetBlockJobInfo (dom, active_path, &info, 0);

      if (r < 0)
        {
          gvd_virt_error_set (error, "cannot follow the block commit");
          return FALSE;
        }
      if (r == 0) /* done: libvirt drops a finished commit's job */
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        {
          virDomainBlockJobAbort (dom, active_path, 0);
          g_set_error (error, GVD_ERROR, GVD_ERROR_TIMEOUT,
                       "merging snapshot layers took more than an hour");
          return FALSE;
        }
      g_usleep (50 * 1000);
    }
}

/* Merge layer @top into the layer @base it is backed by. Only QEMU can
 * (libvirt's storage API has no commit or rebase): a running domain
 * commits with a block job (QEMU also repoints the layer above @top at
 * @base); a stopped one is started paused for it, so no guest CPU runs,
 * and powered off after. The chain above stays readable at every moment,
 * so a failure midway loses nothing. */
static gboolean
merge_layers (SnapData *sd, virConnectPtr conn, virDomainPtr dom, const char *active,
              const char *base, const char *top, GError **error)
{
  g_autofree char *active_path = volume_path (conn, sd->pool, active, error);
  g_autofree char *base_path = NULL;
  g_autofree char *top_path = NULL;
  gboolean ok;

  if (active_path == NULL || (base_path = volume_path (conn, sd->pool, base, error)) == NULL
      || (top_path = volume_path (conn, sd->pool, top, error)) == NULL)
    return FALSE;
  if (sd->running)
    return commit_and_wait (dom, active_path, base_path, top_path, error);
  if (virDomainCreateWithFlags (dom, VIR_DOMAIN_START_PAUSED) < 0)
    {
      gvd_virt_error_set (error, "cannot start the domain paused to merge snapshot layers");
      return FALSE;
    }
  ok = commit_and_wait (dom, active_path, base_path, top_path, error);
  if (virDomainDestroy (dom) < 0 && ok)
    {
      gvd_virt_error_set (error, "cannot power off the domain after merging snapshot layers");
      return FALSE;
    }
  return ok;
}

static JsonNode *
do_delete (SnapData *sd, virConnectPtr conn, virDomainPtr dom, const char *xml, GPtrArray *chain,
           GError **error)
{
  int i = gvd_snapshot_chain_find (chain, sd->snap);
  g_autofree char *top = current_top (sd, xml, chain);
  g_autofree char *new_xml = NULL;
  g_autofree char *nvram_volume = NULL;
  g_autofree char *merged = NULL;
  GvdSnapshot *s;

  if (i < 0 || ((GvdSnapshot *) g_ptr_array_index (chain, i))->deleted)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "instance '%s' has no snapshot '%s'",
                   sd->name, sd->snap);
      return NULL;
    }
  s = g_ptr_array_index (chain, i);
  sd->started = TRUE;
  nvram_volume = g_steal_pointer (&s->nvram_volume);
  if ((guint) i + 1 < chain->len)
    {
      /* A newer snapshot froze the layer above: merge that layer into
       * this one, which then holds the newer snapshot's state. */
      GvdSnapshot *next = g_ptr_array_index (chain, i + 1);

      if (!merge_layers (sd, conn, dom, top, s->volume, next->volume, error))
        {
          s->nvram_volume = g_steal_pointer (&nvram_volume);
          return NULL;
        }
      sd->merged = TRUE;
      merged = g_steal_pointer (&next->volume);
      next->volume = g_strdup (s->volume);
      g_ptr_array_remove_index (chain, i);
    }
  else
    /* The newest: the layer above is the disk itself. Merging it would
     * move the disk onto this layer's volume; the layer stays instead. */
    s->deleted = TRUE;
  new_xml = gvd_snapshot_chain_apply (xml, sd->pool, top, top, chain, error);
  if (new_xml == NULL || !redefine (conn, new_xml, error))
    return NULL;
  delete_quietly (conn, sd->pool, merged);
  delete_quietly (conn, sd->pool, nvram_volume);
  sd->top = g_steal_pointer (&top);
  return json_node_init_object (json_node_alloc (), json_object_new ());
}

static void
snapshot_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  SnapData *sd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (sd->virt, &error);
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(GPtrArray) chain = NULL;
  g_autofree char *xml = NULL;
  JsonNode *result = NULL;

  if (conn == NULL || (dom = load (sd, conn, &xml, &chain, &error)) == NULL
      || (sd->op != GVD_SNAPSHOT_LIST && !sweep_unused (sd, conn, dom, &xml, chain, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  switch (sd->op)
    {
    case GVD_SNAPSHOT_LIST:
      result = chain_json (chain, -1);
      break;
    case GVD_SNAPSHOT_CREATE:
      result = do_create (sd, conn, dom, xml, chain, &error);
      break;
    case GVD_SNAPSHOT_REVERT:
      result = do_revert (sd, conn, xml, chain, &error);
      break;
    case GVD_SNAPSHOT_DELETE:
      result = do_delete (sd, conn, dom, xml, chain, &error);
      break;
    }
  if (result == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, result, (GDestroyNotify) json_node_unref);
}

/* snapshot.created {name, snapshot, consistency}, snapshot.reverted
 * {name, snapshot}, snapshot.deleted {name, snapshot, merged},
 * snapshot.failed {name, snapshot, operation, message}. */
static void
emit_event (SnapData *sd, const GError *error)
{
  static const char *const types[] = { NULL, "snapshot.created", "snapshot.reverted",
                                       "snapshot.deleted" };
  static const char *const ops[] = { NULL, "create", "revert", "delete" };
  g_autoptr(JsonBuilder) b = json_builder_new ();

  if (sd->op == GVD_SNAPSHOT_LIST)
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, sd->name);
  json_builder_set_member_name (b, "snapshot");
  json_builder_add_string_value (b, sd->snap);
  if (error != NULL)
    {
      json_builder_set_member_name (b, "operation");
      json_builder_add_string_value (b, ops[sd->op]);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, error->message);
    }
  else if (sd->op == GVD_SNAPSHOT_CREATE)
    {
      json_builder_set_member_name (b, "consistency");
      json_builder_add_string_value (b, sd->consistency);
    }
  else if (sd->op == GVD_SNAPSHOT_DELETE)
    {
      json_builder_set_member_name (b, "merged");
      json_builder_add_boolean_value (b, sd->merged);
    }
  json_builder_end_object (b);
  gvd_events_emit (sd->mgr->d->events, error != NULL ? "snapshot.failed" : types[sd->op],
                   json_builder_get_root (b));
}

static void
snapshot_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) outer = user_data;
  SnapData *sd = g_task_get_task_data (G_TASK (res));
  GvdInstance *inst = g_hash_table_lookup (sd->mgr->instances, sd->name);
  g_autoptr(GError) error = NULL;
  JsonNode *node = g_task_propagate_pointer (G_TASK (res), &error);

  if (sd->busy)
    gvd_instance_note_change (sd->mgr);
  if (inst != NULL && sd->busy)
    g_clear_pointer (&inst->busy, g_free);
  /* The root disk moved: what delete removes and GET shows follow it. */
  if (inst != NULL && sd->top != NULL && inst->spec->disks->len > 0)
    {
      GvdDiskSpec *root = g_ptr_array_index (inst->spec->disks, 0);

      g_free (root->volume);
      root->volume = g_strdup (sd->top);
    }
  /* A request refused by its checks is no event: what changed or failed
   * midway is. */
  if (node != NULL || sd->started)
    emit_event (sd, error);
  if (node == NULL)
    g_task_return_error (outer, g_steal_pointer (&error));
  else
    g_task_return_pointer (outer, node, (GDestroyNotify) json_node_unref);
}

void
gvd_instance_manager_snapshot_async (GvdInstanceManager *mgr, const char *name, GvdSnapshotOp op,
                                     const char *snap, gboolean discard_newer,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);
  static const char *const busy[] = { "snapshot list", "snapshot", "snapshot revert",
                                      "snapshot delete" };
  GTask *inner;
  SnapData *sd;

  if (inst == NULL)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_NOT_FOUND, "no instance named '%s'", name);
      return;
    }
  if (op != GVD_SNAPSHOT_LIST && !gvd_snapshot_name_is_valid (snap))
    {
      g_task_return_new_error (task, GVD_ERROR, op == GVD_SNAPSHOT_CREATE
                               ? GVD_ERROR_INVALID_ARGUMENT : GVD_ERROR_NOT_FOUND,
                               "'name': '%s' is not a snapshot name (1 to 63 of a-z, 0-9, '.', "
                               "'_', '-', starting with a letter or digit)", snap != NULL ? snap : "");
      return;
    }
  if (op != GVD_SNAPSHOT_LIST && inst->busy != NULL)
    {
      g_task_return_new_error (task, GVD_ERROR, GVD_ERROR_INVALID_STATE,
                               "instance '%s' is busy (%s); retry when it is done", name, inst->busy);
      return;
    }
  sd = g_new0 (SnapData, 1);
  sd->mgr = mgr;
  sd->virt = g_object_ref (mgr->d->virt);
  sd->storage = gvd_storage_ref (mgr->d->storage);
  sd->op = op;
  sd->name = g_strdup (name);
  sd->domain_name = g_strdup (inst->spec->domain_name);
  sd->pool = g_strdup (mgr->d->config->pool_name);
  sd->snap = g_strdup (snap);
  sd->discard_newer = discard_newer;
  if (op != GVD_SNAPSHOT_LIST)
    {
      inst->busy = g_strdup (busy[op]);
      sd->busy = TRUE;
    }
  inner = g_task_new (NULL, NULL, snapshot_done, g_object_ref (task));
  g_task_set_task_data (inner, sd, (GDestroyNotify) snap_data_free);
  g_task_run_in_thread (inner, snapshot_thread);
  g_object_unref (inner);
}

JsonNode *
gvd_instance_manager_snapshot_finish (GvdInstanceManager *mgr, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
