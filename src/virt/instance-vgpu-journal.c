/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vGPUs a crash could leave behind. An mdev is persistent and autostarted,
 * so one whose domain never got defined (a crash between the mdev and the
 * define) or is already undefined (a crash in a delete, between the
 * undefine and the mdev's removal) would hold its parent's capacity
 * forever. Both windows are journaled (journal.h) and recovery removes
 * what no domain uses. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include "journal.h"

char *
gvd_instance_mdev_journal_dir (GvdInstanceManager *mgr)
{
  return g_build_filename (mgr->d->config->state_dir, GVD_MDEV_JOURNAL_DIR, NULL);
}

gboolean
gvd_instance_mdevs_journal (const char *dir, const char *name, GPtrArray *vgpus, GError **error)
{
  for (guint i = 0; vgpus != NULL && i < vgpus->len; i++)
    {
      const GvdVgpuAssignment *a = g_ptr_array_index (vgpus, i);

      if (!gvd_journal_add (&gvd_journal_mdevs, dir, a->uuid, name, error))
        {
          g_prefix_error (error, "cannot journal vGPU %s: ", a->uuid);
          return FALSE;
        }
    }
  return TRUE;
}

void
gvd_instance_mdevs_forget (const char *dir, GPtrArray *vgpus)
{
  for (guint i = 0; vgpus != NULL && i < vgpus->len; i++)
    {
      const GvdVgpuAssignment *a = g_ptr_array_index (vgpus, i);
      g_autoptr(GError) error = NULL;

      /* A stale entry costs a look at the next recovery, nothing more. */
      if (!gvd_journal_remove (&gvd_journal_mdevs, dir, a->uuid, &error))
        g_warning ("vGPU journal: %s", error->message);
    }
}

GHashTable *
gvd_instance_mdevs_stale (const char *dir, GHashTable *used)
{
  g_autoptr(GHashTable) stale = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) uuids = NULL;
  g_auto(GStrv) names = NULL;

  if (!gvd_journal_list (&gvd_journal_mdevs, dir, &uuids, &names, &error))
    {
      g_warning ("vGPU journal: %s", error->message);
      return NULL;
    }
  for (guint i = 0; uuids[i] != NULL; i++)
    {
      g_autoptr(GError) local = NULL;

      if (!g_hash_table_contains (used, uuids[i]))
        g_hash_table_insert (stale, g_strdup (uuids[i]), g_strdup (names[i]));
      /* A domain holds it: the operation got past its window. */
      else if (!gvd_journal_remove (&gvd_journal_mdevs, dir, uuids[i], &local))
        g_warning ("vGPU journal: %s", local->message);
    }
  return g_hash_table_size (stale) > 0 ? g_steal_pointer (&stale) : NULL;
}

typedef struct {
  const GvdMdevOps *ops;
  GvdVirtConn *virt;
  char *dir;
  GPtrArray *vgpus;  /* GvdVgpuAssignment: uuid only */
  GStrv instances;   /* parallel */
} Sweep;

static void
sweep_free (Sweep *s)
{
  g_object_unref (s->virt);
  g_free (s->dir);
  g_ptr_array_unref (s->vgpus);
  g_strfreev (s->instances);
  g_free (s);
}

static void
sweep_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Sweep *s = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = gvd_virt_conn_get (s->virt, &error);

  if (conn == NULL)
    {
      g_message ("vGPU journal: %s (the next recovery retries)", error->message);
      return;
    }
  for (guint i = 0; i < s->vgpus->len; i++)
    {
      const GvdVgpuAssignment *a = g_ptr_array_index (s->vgpus, i);
      g_autoptr(GPtrArray) one = g_ptr_array_new ();
      g_autoptr(GError) local = NULL;

      g_ptr_array_add (one, (gpointer) a);
      if (!gvd_instance_remove_mdevs (s->ops, conn, one, &local))
        {
          g_warning ("vGPU %s of instance %s, left by a crash: cannot remove it: %s (the next "
                     "recovery retries)", a->uuid, s->instances[i], local->message);
          continue;
        }
      g_message ("vGPU %s of instance %s removed: a crash left it without a domain", a->uuid,
                 s->instances[i]);
      gvd_instance_mdevs_forget (s->dir, one);
    }
}

void
gvd_instance_mdevs_sweep_start (GvdInstanceManager *mgr, GHashTable *stale)
{
  g_autoptr(GStrvBuilder) instances = g_strv_builder_new ();
  g_autoptr(GTask) task = NULL;
  GHashTableIter iter;
  gpointer uuid, name;
  Sweep *s;

  if (stale == NULL)
    return;
  s = g_new0 (Sweep, 1);
  s->vgpus = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_assignment_free);
  g_hash_table_iter_init (&iter, stale);
  while (g_hash_table_iter_next (&iter, &uuid, &name))
    {
      GvdInstance *inst = g_hash_table_lookup (mgr->instances, name);

      /* Still in its window: the create or delete finishes or undoes it. */
      if (g_hash_table_contains (mgr->creating, name) || (inst != NULL && inst->busy != NULL))
        continue;
      g_ptr_array_add (s->vgpus, gvd_vgpu_assignment_new (uuid, NULL, NULL));
      g_strv_builder_add (instances, name);
    }
  s->instances = g_strv_builder_end (instances);
  if (s->vgpus->len == 0)
    {
      sweep_free (s);
      return;
    }
  s->ops = mgr->mdev_ops;
  s->virt = g_object_ref (mgr->d->virt);
  s->dir = gvd_instance_mdev_journal_dir (mgr);
  task = g_task_new (NULL, NULL, NULL, NULL);
  g_task_set_task_data (task, s, (GDestroyNotify) sweep_free);
  g_task_run_in_thread (task, sweep_thread);
}
