/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Data disks: from a request into the spec (main thread), their volumes made
 * and checked in the create's worker, undone on failure, deleted with the
 * instance unless kept, and shown in the instance's JSON. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"

#include <string.h>

#include <libvirt/virterror.h>

#include "domain-xml.h"
#include "fault-point.h"
#include "instance-request-disks.h"
#include "json-util.h"
#include "storage.h"
#include "virt-error.h"

GvdDiskSpec *
gvd_instance_disk_copy (const GvdDiskSpec *d)
{
  GvdDiskSpec *c = gvd_disk_spec_new ();

  c->type = d->type;
  c->pool = g_strdup (d->pool);
  c->volume = g_strdup (d->volume);
  c->format = g_strdup (d->format);
  c->host = g_strdup (d->host);
  c->port = d->port;
  c->source_name = g_strdup (d->source_name);
  c->auth_username = g_strdup (d->auth_username);
  c->secret_uuid = g_strdup (d->secret_uuid);
  c->bus = d->bus;
  c->cache = d->cache;
  c->io = d->io;
  c->iothread = d->iothread;
  c->boot_order = d->boot_order;
  c->readonly = d->readonly;
  c->target = g_strdup (d->target);
  c->serial = g_strdup (d->serial);
  c->name = g_strdup (d->name);
  c->size_bytes = d->size_bytes;
  c->created = d->created;
  c->keep = d->keep;
  return c;
}

/* Whether a known instance's domain has volume @volume of @pool as a disk. */
static const char *
volume_user (GvdInstanceManager *mgr, const char *pool, const char *volume)
{
  GHashTableIter iter;
  GvdInstance *inst;

  g_hash_table_iter_init (&iter, mgr->instances);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &inst))
    for (guint i = 0; i < inst->spec->disks->len; i++)
      {
        const GvdDiskSpec *d = g_ptr_array_index (inst->spec->disks, i);

        if (d->type == GVD_DISK_VOLUME && g_strcmp0 (d->pool, pool) == 0
            && g_strcmp0 (d->volume, volume) == 0)
          return inst->spec->name;
      }
  return NULL;
}

/* An existing volume a request may attach: a kept data disk no instance
 * uses, or an image read-only. Root, seed and deleted-with-their-instance
 * data disk volumes belong to their instance. */
gboolean
gvd_instance_disk_check_existing (GvdInstanceManager *mgr, const char *field,
                                  const GvdDiskSpec *d, GError **error)
{
  const char *prefix = mgr->d->config->domain_prefix;
  const char *user;

  if (!gvd_storage_name_is_valid (d->volume))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s': '%s' is not a volume name", field, d->volume);
      return FALSE;
    }
  if (g_str_has_prefix (d->volume, prefix))
    {
      if (!gvd_disk_volume_is_kept (d->volume, prefix))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
                       "'%s': '%s' is an instance's own volume (root, seed or a "
                       "data disk deleted with it); only kept data disks (…-kept-…) and images "
                       "can be attached", field, d->volume);
          return FALSE;
        }
    }
  else if (!d->readonly)
    {
      /* An image backs overlays: a guest writing to it would corrupt every
       * instance made from it. */
      g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
                   "'%s': '%s' is an image (the base of instances' disks); "
                   "attach it with \"readonly\": true", field, d->volume);
      return FALSE;
    }
  /* Only images are shared, read-only; an instance's volume is its own. */
  user = volume_user (mgr, mgr->d->config->pool_name, d->volume);
  if (user != NULL && (!d->readonly || g_str_has_prefix (d->volume, prefix)))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "'%s': '%s' is attached to instance '%s'", field, d->volume,
                   user);
      return FALSE;
    }
  return TRUE;
}

gboolean
gvd_instance_build_disks (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                          GvdInstanceSpec *spec, GError **error)
{
  const GvdConfig *c = mgr->d->config;

  if (!gvd_disk_requests_check_policy (req->disks, c, error))
    return FALSE;
  for (guint i = 0; req->disks != NULL && i < req->disks->len; i++)
    {
      GvdDiskSpec *d = gvd_instance_disk_copy (g_ptr_array_index (req->disks, i));

      g_ptr_array_add (spec->disks, d);
      if (d->type == GVD_DISK_VOLUME)
        {
          d->pool = g_strdup (c->pool_name);
          if (d->created)
            d->volume = gvd_disk_volume_name (spec->domain_name, d->name, d->keep, d->format);
          else
            {
              g_autofree char *field = g_strdup_printf ("disks[%u].volume", i);

              if (!gvd_instance_disk_check_existing (mgr, field, d, error))
                return FALSE;
            }
        }
      spec->iothreads = MAX (spec->iothreads, d->iothread);
    }
  gvd_disk_specs_assign_targets (spec->disks);
  return TRUE;
}

/* "POOL/VOLUME" or path → the domain using it, for every domain libvirt
 * has (gpuvmd's or not); NULL when the domains cannot be read. */
static GHashTable *
disk_users (virConnectPtr conn, GError **error)
{
  g_autoptr(GHashTable) users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains (conn, &doms, 0);
  gboolean ok = TRUE;

  if (n < 0)
    {
      gvd_virt_error_set (error, "cannot list domains");
      return NULL;
    }
  for (int i = 0; i < n; i++)
    {
      char *xml = ok ? virDomainGetXMLDesc (doms[i], VIR_DOMAIN_XML_INACTIVE) : NULL;
      g_auto(GStrv) sources = xml != NULL ? gvd_domain_xml_disk_sources (xml, NULL) : NULL;

      /* A domain that vanished meanwhile uses nothing; any other failure
       * leaves its disks unknown. */
      if (ok && xml == NULL && virGetLastErrorCode () != VIR_ERR_NO_DOMAIN)
        {
          gvd_virt_error_set (error, "cannot read a domain's disks");
          ok = FALSE;
        }
      for (gsize j = 0; sources != NULL && sources[j] != NULL; j++)
        g_hash_table_replace (users, g_strdup (sources[j]), g_strdup (virDomainGetName (doms[i])));
      free (xml);
      virDomainFree (doms[i]);
    }
  free (doms);
  return ok ? g_steal_pointer (&users) : NULL;
}

static gboolean
check_attach (virConnectPtr conn, GHashTable **users, const char *field, GvdDiskSpec *d,
              gboolean image, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GvdVolumeInfo) info = gvd_storage_get_volume (conn, d->pool, d->volume, &local_error);
  g_autofree char *ref = g_strconcat (d->pool, "/", d->volume, NULL);
  const char *user;

  if (info == NULL)
    {
      if (g_error_matches (local_error, GVD_ERROR, GVD_ERROR_NOT_FOUND))
        g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND, "'%s': %s", field,
                     local_error->message);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (info->format != NULL && !g_str_equal (info->format, "raw")
      && !g_str_equal (info->format, "qcow2") && !g_str_equal (info->format, "iso"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s': '%s' has format '%s' (raw or qcow2 only)", field,
                   d->volume, info->format);
      return FALSE;
    }
  if (*users == NULL && (*users = disk_users (conn, error)) == NULL)
    return FALSE;
  user = g_hash_table_lookup (*users, ref);
  if (user == NULL && info->path != NULL)
    user = g_hash_table_lookup (*users, info->path);
  /* Images (not instance volumes) may be shared read-only. */
  if (user != NULL && (!d->readonly || !image))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "'%s': '%s' is attached to domain '%s'", field, d->volume, user);
      return FALSE;
    }
  g_free (d->format);
  d->format = g_strdup (g_strcmp0 (info->format, "qcow2") == 0 ? "qcow2" : "raw");
  d->size_bytes = info->capacity;
  return TRUE;
}

static gboolean
check_secret (virConnectPtr conn, const char *field, const GvdDiskSpec *d, GError **error)
{
  virSecretPtr secret;
  int usage;

  if (d->secret_uuid == NULL)
    return TRUE;
  secret = virSecretLookupByUUIDString (conn, d->secret_uuid);
  if (secret == NULL)
    {
      if (virGetLastErrorCode () != VIR_ERR_NO_SECRET)
        {
          gvd_virt_error_set (error, "cannot look up a libvirt secret");
          return FALSE;
        }
      g_set_error (error, GVD_ERROR, GVD_ERROR_NOT_FOUND,
                   "'%s': libvirt has no secret %s", field, d->secret_uuid);
      return FALSE;
    }
  usage = virSecretGetUsageType (secret);
  virSecretFree (secret);
  if (usage != VIR_SECRET_USAGE_TYPE_CEPH)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'%s': secret %s is not a ceph secret", field, d->secret_uuid);
      return FALSE;
    }
  return TRUE;
}

/* "FIELD.member", or "member" when @field is NULL (a hot-plug body). */
static char *
member_path (const char *field, const char *m)
{
  return field != NULL ? g_strdup_printf ("%s.%s", field, m) : g_strdup (m);
}

gboolean
gvd_instance_disk_make (virConnectPtr conn, const char *prefix, GvdDiskSpec *d,
                        const char *field, GHashTable **users, GPtrArray *made, GError **error)
{
  if (d->type == GVD_DISK_VOLUME && d->created)
    {
      g_autoptr(GError) local_error = NULL;
      g_autofree char *path = gvd_storage_create_volume (conn, d->pool, d->volume,
                                                         d->size_bytes, d->format,
                                                         &local_error);

      if (path == NULL)
        {
          /* Someone else's volume: reported, never rolled back. */
          if (g_error_matches (local_error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS))
            g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                         "%s%s%svolume '%s' already exists (a kept disk is attached "
                         "with {\"volume\": \"%s\"})", field != NULL ? "'" : "",
                         field != NULL ? field : "", field != NULL ? "': " : "", d->volume,
                         d->volume);
          else
            g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_ptr_array_add (made, g_strdup (d->volume));
      gvd_fault_point ("disk");
    }
  else if (d->type == GVD_DISK_VOLUME)
    {
      g_autofree char *f = member_path (field, "volume");

      if (!check_attach (conn, users, f, d, !g_str_has_prefix (d->volume, prefix), error))
        return FALSE;
    }
  else if (d->type == GVD_DISK_RBD)
    {
      g_autofree char *f = member_path (field, "rbd.secret_uuid");

      if (!check_secret (conn, f, d, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
gvd_instance_disks_make (virConnectPtr conn, const char *prefix, GvdInstanceSpec *spec,
                         GPtrArray *made, GError **error)
{
  g_autoptr(GHashTable) users = NULL;

  for (guint i = 1; i < spec->disks->len; i++)
    {
      g_autofree char *field = g_strdup_printf ("disks[%u]", i - 1);

      if (!gvd_instance_disk_make (conn, prefix, g_ptr_array_index (spec->disks, i), field,
                                   &users, made, error))
        return FALSE;
    }
  return TRUE;
}

void
gvd_instance_disks_rollback (virConnectPtr conn, const char *pool, GPtrArray *made)
{
  for (guint i = 0; made != NULL && i < made->len; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!gvd_storage_delete_volume (conn, pool, g_ptr_array_index (made, i), &error))
        g_debug ("rollback: %s", error->message);
    }
}

char **
gvd_instance_disks_to_delete (const GvdInstanceSpec *spec)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *own = g_strconcat (spec->domain_name, "-disk-", NULL);

  for (guint i = 1; i < spec->disks->len; i++)
    {
      const GvdDiskSpec *d = g_ptr_array_index (spec->disks, i);

      /* The name check too: never delete a volume the instance did not make,
       * whatever its metadata says. */
      if (d->type == GVD_DISK_VOLUME && d->created && !d->keep && d->volume != NULL
          && g_str_has_prefix (d->volume, own))
        g_strv_builder_add (b, d->volume);
    }
  return g_strv_builder_end (b);
}

/* By target, shorter first ("sdb" before "sdaa"); none last. */
static int
compare_targets (gconstpointer a, gconstpointer b)
{
  const char *ta = (*(const GvdDiskSpec *const *) a)->target;
  const char *tb = (*(const GvdDiskSpec *const *) b)->target;

  if (ta == NULL || tb == NULL)
    return (ta == NULL) - (tb == NULL);
  if (strlen (ta) != strlen (tb))
    return strlen (ta) < strlen (tb) ? -1 : 1;
  return strcmp (ta, tb);
}

void
gvd_instance_disks_write_json (const GvdInstanceSpec *spec, JsonBuilder *b)
{
  static const char *const types[] = { "volume", "file", "nbd", "rbd" };
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();

  /* One order before and after a recovery: libvirt regroups a domain's
   * disks by bus when it defines it. */
  for (guint i = 1; i < spec->disks->len; i++)
    g_ptr_array_add (sorted, g_ptr_array_index (spec->disks, i));
  g_ptr_array_sort (sorted, compare_targets);
  json_builder_set_member_name (b, "disks");
  json_builder_begin_array (b);
  for (guint i = 0; i < sorted->len; i++)
    {
      const GvdDiskSpec *d = g_ptr_array_index (sorted, i);

      json_builder_begin_object (b);
      gvd_json_add_string (b, "name", d->name);
      gvd_json_add_string (b, "type", types[d->type]);
      gvd_json_add_string (b, "target", d->target);
      gvd_json_add_string (b, "bus", gvd_disk_bus_to_string (d->bus));
      if (d->type == GVD_DISK_VOLUME)
        {
          gvd_json_add_string (b, "volume", d->volume);
          gvd_json_add_string (b, "format", d->format);
          json_builder_set_member_name (b, "size_bytes");
          json_builder_add_int_value (b, (gint64) d->size_bytes);
          json_builder_set_member_name (b, "created");
          json_builder_add_boolean_value (b, d->created);
          /* What the instance's delete does with it. */
          json_builder_set_member_name (b, "keep");
          json_builder_add_boolean_value (b, !d->created || d->keep);
        }
      else
        {
          gvd_json_add_string (b, "host", d->host);
          json_builder_set_member_name (b, "port");
          json_builder_add_int_value (b, d->port);
          gvd_json_add_string (b, d->type == GVD_DISK_NBD ? "export" : "image", d->source_name);
        }
      gvd_json_add_string (b, "serial", d->serial);
      json_builder_set_member_name (b, "readonly");
      json_builder_add_boolean_value (b, d->readonly);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}
