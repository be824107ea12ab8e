/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recovery's sweep of orphan volumes: instance volumes that no domain uses,
 * left by a create that died between making its volumes and defining its
 * domain (kill -9, or libvirtd lost mid-create so the rollback failed too). */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include <string.h>

#include "events.h"
#include "instance-request-disks.h"
#include "storage.h"

/* The instances a snapshot volume "<prefix><name>-snap-<snap>.qcow2" (or
 * ".nvram") may belong to: one per "-snap-" in it, as both names may hold
 * that string. Empty for any other name. */
static GStrv
snapshot_volume_instances (const char *volume, const char *prefix)
{
  g_autoptr(GStrvBuilder) out = g_strv_builder_new ();
  gsize plen = strlen (prefix);

  if (g_str_has_prefix (volume, prefix)
      && (g_str_has_suffix (volume, ".qcow2") || g_str_has_suffix (volume, ".nvram")))
    for (const char *p = strstr (volume + plen, "-snap-"); p != NULL; p = strstr (p + 1, "-snap-"))
      if (p > volume + plen)
        {
          g_autofree char *name = g_strndup (volume + plen, p - (volume + plen));
          g_strv_builder_add (out, name);
        }
  return g_strv_builder_end (out);
}

/* The instance a volume gpuvmd names "<prefix><name>-root.qcow2",
 * "<prefix><name>-seed.iso", "<prefix><name>-disk-<disk>.<format>" or
 * "<prefix><name>-snap-<snap>.qcow2|.nvram" belongs to (the first candidate
 * for snapshot volumes), or NULL for any other name (kept data disks
 * "…-kept-…" among them: they outlive their instance). */
static char *
volume_instance (const char *volume, const char *prefix)
{
  static const char *const suffixes[] = { "-root.qcow2", "-seed.iso" };
  g_auto(GStrv) snap = NULL;

  if (!g_str_has_prefix (volume, prefix))
    return NULL;
  if (strstr (volume, "-disk-") != NULL)
    {
      char *instance = gvd_disk_volume_instance (volume, prefix);
      if (instance != NULL)
        return instance;
    }
  snap = snapshot_volume_instances (volume, prefix);
  if (snap[0] != NULL)
    return g_strdup (snap[0]);
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (volume, suffixes[i]))
      {
        gsize len = strlen (volume) - strlen (prefix) - strlen (suffixes[i]);

        return len > 0 ? g_strndup (volume + strlen (prefix), len) : NULL;
      }
  return NULL;
}

char **
gvd_instance_sweep_find (virConnectPtr conn, const char *pool, const char *prefix, GHashTable *used,
                         gboolean *out_pool_inactive)
{
  g_autoptr(GStrvBuilder) orphans = g_strv_builder_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) paths = NULL;

  *out_pool_inactive = FALSE;
  if (!gvd_storage_list_instance_volumes (conn, pool, prefix, &names, &paths, &error))
    {
      g_debug ("recovery: cannot list the pool's volumes: %s", error->message);
      *out_pool_inactive = g_error_matches (error, GVD_ERROR, GVD_ERROR_NOT_READY);
      return NULL;
    }
  for (gsize i = 0; names[i] != NULL; i++)
    {
      g_autofree char *instance = volume_instance (names[i], prefix);
      g_autofree char *domain = instance != NULL ? g_strconcat (prefix, instance, NULL) : NULL;
      g_autofree char *ref = g_strconcat (pool, "/", names[i], NULL);

      g_auto(GStrv) candidates = snapshot_volume_instances (names[i], prefix);
      gboolean owned = FALSE;

      /* A snapshot layer is no domain's disk source: its instance's
       * domain existing keeps it. */
      for (gsize j = 0; candidates[j] != NULL && !owned; j++)
        {
          g_autofree char *d = g_strconcat (prefix, candidates[j], NULL);
          owned = g_hash_table_contains (used, d);
        }
      if (instance != NULL && !owned && !g_hash_table_contains (used, domain)
          && !g_hash_table_contains (used, ref) && !g_hash_table_contains (used, paths[i]))
        g_strv_builder_add (orphans, names[i]);
    }
  return g_strv_builder_end (orphans);
}

typedef struct {
  GvdInstanceManager *mgr;
  GvdVirtConn *virt;
  char *pool;
  char **volumes;
  char **instances;   /* parallel to volumes */
  char **errors;      /* result, parallel: NULL when deleted */
  gboolean first;     /* the first recovery: creates wait for this sweep */
} SweepData;

static void
sweep_data_free (SweepData *sd)
{
  g_object_unref (sd->virt);
  g_free (sd->pool);
  if (sd->errors != NULL)
    for (guint i = 0; sd->volumes[i] != NULL; i++)
      g_free (sd->errors[i]);
  g_free (sd->errors);
  g_strfreev (sd->volumes);
  g_strfreev (sd->instances);
  g_free (sd);
}

static void
sweep_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  SweepData *sd = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (sd->virt, &error);
  guint n = g_strv_length (sd->volumes);

  sd->errors = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if (conn == NULL)
        sd->errors[i] = g_strdup (error->message);
      else if (!gvd_storage_delete_volume (conn, sd->pool, sd->volumes[i], &local_error))
        sd->errors[i] = g_strdup (local_error->message);
    }
  g_task_return_boolean (task, TRUE);
}

static void
emit_swept (GvdEvents *events, const char *pool, const char *volume, const char *instance)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, instance);
  json_builder_set_member_name (b, "pool");
  json_builder_add_string_value (b, pool);
  json_builder_set_member_name (b, "volume");
  json_builder_add_string_value (b, volume);
  json_builder_end_object (b);
  gvd_events_emit (events, "volume.swept", json_builder_get_root (b));
}

static void
sweep_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SweepData *sd = g_task_get_task_data (G_TASK (res));
  GvdInstanceManager *mgr = sd->mgr;

  for (guint i = 0; sd->volumes[i] != NULL; i++)
    {
      if (sd->errors[i] == NULL)
        {
          g_message ("recovery: swept volume %s of pool %s (instance %s): no domain uses it",
                     sd->volumes[i], sd->pool, sd->instances[i]);
          emit_swept (mgr->d->events, sd->pool, sd->volumes[i], sd->instances[i]);
        }
      else
        g_warning ("recovery: cannot sweep volume %s of pool %s (retried at the next "
                   "recovery): %s", sd->volumes[i], sd->pool, sd->errors[i]);
      g_hash_table_remove (mgr->sweeping, sd->instances[i]);
    }
  gvd_instance_note_change (mgr);
  if (sd->first)
    mgr->ready = TRUE;
}

gboolean
gvd_instance_sweep_start (GvdInstanceManager *mgr, char **orphans, gboolean first)
{
  g_autoptr(GStrvBuilder) volumes = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) instances = g_strv_builder_new ();
  guint n = 0;
  SweepData *sd;
  GTask *task;

  for (gsize i = 0; orphans != NULL && orphans[i] != NULL; i++)
    {
      g_autofree char *instance = volume_instance (orphans[i], mgr->d->config->domain_prefix);

      if (instance == NULL || g_hash_table_contains (mgr->instances, instance)
          || g_hash_table_contains (mgr->creating, instance))
        continue;
      /* A sweep in progress for this name already has the volume. */
      if (g_hash_table_contains (mgr->sweeping, instance))
        continue;
      g_strv_builder_add (volumes, orphans[i]);
      g_strv_builder_add (instances, instance);
      n++;
    }
  if (n == 0)
    return FALSE;
  sd = g_new0 (SweepData, 1);
  sd->volumes = g_strv_builder_end (volumes);
  sd->instances = g_strv_builder_end (instances);
  for (guint i = 0; sd->instances[i] != NULL; i++)
    g_hash_table_add (mgr->sweeping, g_strdup (sd->instances[i]));
  sd->mgr = mgr;
  sd->virt = g_object_ref (mgr->d->virt);
  sd->pool = g_strdup (mgr->d->config->pool_name);
  sd->first = first;
  task = g_task_new (NULL, NULL, sweep_done, NULL);
  g_task_set_task_data (task, sd, (GDestroyNotify) sweep_data_free);
  g_task_run_in_thread (task, sweep_thread);
  g_object_unref (task);
  return TRUE;
}

