/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vGPU parents and the vGPU planner (vgpu.h). */
#include "config.h"

#include "vgpu.h"

#include <string.h>

#include "errors.h"
#include "json-util.h"

GvdVgpuType *
gvd_vgpu_type_new (void)
{
  return g_new0 (GvdVgpuType, 1);
}

void
gvd_vgpu_type_free (GvdVgpuType *t)
{
  if (t == NULL)
    return;
  g_free (t->type);
  g_free (t->name);
  g_free (t->description);
  g_free (t->device_api);
  g_free (t);
}

GvdMdev *
gvd_mdev_new (const char *uuid, const char *type)
{
  GvdMdev *m = g_new0 (GvdMdev, 1);

  m->uuid = g_strdup (uuid);
  m->type = g_strdup (type);
  return m;
}

void
gvd_mdev_free (GvdMdev *m)
{
  if (m == NULL)
    return;
  g_free (m->uuid);
  g_free (m->type);
  g_free (m);
}

GvdVgpuParent *
gvd_vgpu_parent_new (const char *address)
{
  GvdVgpuParent *p = g_new0 (GvdVgpuParent, 1);

  p->address = g_strdup (address);
  p->numa_node = -1;
  p->types = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_type_free);
  p->mdevs = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_mdev_free);
  return p;
}

void
gvd_vgpu_parent_free (GvdVgpuParent *p)
{
  if (p == NULL)
    return;
  g_free (p->address);
  g_ptr_array_unref (p->types);
  g_ptr_array_unref (p->mdevs);
  g_free (p);
}

GvdVgpuRequest *
gvd_vgpu_request_new (const char *type, const char *parent)
{
  GvdVgpuRequest *r = g_new0 (GvdVgpuRequest, 1);

  r->type = g_strdup (type);
  r->parent = g_strdup (parent);
  return r;
}

void
gvd_vgpu_request_free (GvdVgpuRequest *r)
{
  if (r == NULL)
    return;
  g_free (r->type);
  g_free (r->parent);
  g_free (r->field);
  g_free (r);
}

GvdVgpuAssignment *
gvd_vgpu_assignment_new (const char *uuid, const char *type, const char *parent)
{
  GvdVgpuAssignment *a = g_new0 (GvdVgpuAssignment, 1);

  a->uuid = g_strdup (uuid);
  a->type = g_strdup (type);
  a->parent = g_strdup (parent);
  return a;
}

void
gvd_vgpu_assignment_free (GvdVgpuAssignment *a)
{
  if (a == NULL)
    return;
  g_free (a->uuid);
  g_free (a->type);
  g_free (a->parent);
  g_free (a);
}

const GvdVgpuType *
gvd_vgpu_parent_find_type (const GvdVgpuParent *parent, const char *type)
{
  for (guint i = 0; i < parent->types->len; i++)
    {
      const GvdVgpuType *t = g_ptr_array_index (parent->types, i);
      if (g_strcmp0 (t->type, type) == 0)
        return t;
    }
  return NULL;
}

gboolean
gvd_vgpu_parent_has_mdev (const GvdVgpuParent *parent, const char *uuid)
{
  for (guint i = 0; i < parent->mdevs->len; i++)
    if (g_ascii_strcasecmp (((GvdMdev *) g_ptr_array_index (parent->mdevs, i))->uuid, uuid) == 0)
      return TRUE;
  return FALSE;
}

gboolean
gvd_vgpu_type_is_valid (const char *s)
{
  gsize n = s != NULL ? strlen (s) : 0;

  if (n == 0 || n > GVD_VGPU_TYPE_MAX)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

/* Claims on @parent's mdevs of @type (NULL: any) that the kernel does not
 * show yet. */
static guint
in_flight (const GvdVgpuParent *parent, const char *type, GvdClaims *claims)
{
  g_autoptr(GPtrArray) list = gvd_claims_list_mdevs (claims);
  guint n = 0;

  for (guint i = 0; i < list->len; i++)
    {
      const GvdMdevClaim *c = g_ptr_array_index (list, i);

      if (g_strcmp0 (c->parent, parent->address) == 0
          && (type == NULL || g_strcmp0 (c->type, type) == 0)
          && !gvd_vgpu_parent_has_mdev (parent, c->uuid))
        n++;
    }
  return n;
}

guint
gvd_vgpu_free_instances (const GvdVgpuParent *parent, const char *type, GvdClaims *claims)
{
  const GvdVgpuType *t = gvd_vgpu_parent_find_type (parent, type);
  guint pending;

  if (t == NULL)
    return 0;
  pending = in_flight (parent, type, claims);
  return t->available > pending ? t->available - pending : 0;
}

typedef struct {
  const GvdVgpuParent *parent;
  gboolean numa_match;
  gboolean carries_vgpus;
  GHashTable *taken;   /* type → count planned here by this request */
} Candidate;

static int
compare_candidates (gconstpointer pa, gconstpointer pb)
{
  const Candidate *a = *(Candidate *const *) pa;
  const Candidate *b = *(Candidate *const *) pb;

  if (a->carries_vgpus != b->carries_vgpus)
    return a->carries_vgpus ? -1 : 1;
  if (a->numa_match != b->numa_match)
    return a->numa_match ? -1 : 1;
  return strcmp (a->parent->address, b->parent->address);
}

static void
candidate_free (Candidate *c)
{
  g_hash_table_unref (c->taken);
  g_free (c);
}

/* Why @parent takes no vGPU at all, or NULL. */
static char *
parent_unusable (const GvdVgpuParent *parent, GvdClaims *claims, const char *const *exclude,
                 GvdErrorCode *out_code)
{
  const char *holder = gvd_claims_get_holder (claims, parent->address);
  const char *quarantine = gvd_claims_get_quarantine (claims, parent->address);

  if (quarantine != NULL)
    {
      *out_code = GVD_ERROR_DEVICE_QUARANTINED;
      return g_strdup_printf ("%s is quarantined (%s)", parent->address, quarantine);
    }
  if (holder != NULL && !g_str_has_prefix (holder, GVD_CLAIMS_VGPU_PREFIX))
    {
      *out_code = GVD_ERROR_DEVICE_IN_USE;
      return g_strdup_printf ("%s is passed through whole (held by %s)", parent->address, holder);
    }
  if (exclude != NULL && g_strv_contains (exclude, parent->address))
    {
      *out_code = GVD_ERROR_DEVICE_IN_USE;
      return g_strdup_printf ("%s is passed through whole by this request", parent->address);
    }
  return NULL;
}

/* How many of requests[0..@upto] ask for @type. */
static guint
count_type (GPtrArray *requests, guint upto, const char *type)
{
  guint n = 0;

  for (guint i = 0; i <= upto; i++)
    n += g_strcmp0 (((GvdVgpuRequest *) g_ptr_array_index (requests, i))->type, type) == 0;
  return n;
}

GPtrArray *
gvd_vgpu_plan (GPtrArray *parents, GPtrArray *requests, GvdClaims *claims,
               const char *const *exclude, int numa_node, char *(*uuid_func) (gpointer),
               gpointer uuid_data, GError **error)
{
  g_autoptr(GPtrArray) candidates =
    g_ptr_array_new_with_free_func ((GDestroyNotify) candidate_free);
  g_autoptr(GPtrArray) out =
    g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_assignment_free);
  g_autoptr(GHashTable) unusable = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autoptr(GHashTable) unusable_code = g_hash_table_new (g_str_hash, g_str_equal);

  g_return_val_if_fail (uuid_func != NULL, NULL);
  if (requests->len > GVD_VGPU_MAX)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'vgpu': at most %d vGPUs per instance", GVD_VGPU_MAX);
      return NULL;
    }
  for (guint i = 0; i < parents->len; i++)
    {
      const GvdVgpuParent *p = g_ptr_array_index (parents, i);
      GvdErrorCode code = GVD_ERROR_DEVICE_IN_USE;
      char *why = parent_unusable (p, claims, exclude, &code);
      Candidate *c;

      if (why != NULL)
        {
          g_hash_table_insert (unusable, p->address, why);
          g_hash_table_insert (unusable_code, p->address, GINT_TO_POINTER (code));
          continue;
        }
      c = g_new0 (Candidate, 1);
      c->parent = p;
      c->numa_match = numa_node >= 0 && p->numa_node == numa_node;
      c->carries_vgpus = p->mdevs->len > 0 || gvd_claims_get_holder (claims, p->address) != NULL;
      c->taken = g_hash_table_new (g_str_hash, g_str_equal);
      g_ptr_array_add (candidates, c);
    }
  g_ptr_array_sort (candidates, compare_candidates);

  for (guint r = 0; r < requests->len; r++)
    {
      const GvdVgpuRequest *req = g_ptr_array_index (requests, r);
      const char *field = req->field != NULL ? req->field : "vgpu";
      g_autoptr(GString) seen = g_string_new (NULL);
      Candidate *pick = NULL;
      gboolean parent_known = req->parent == NULL;

      if (req->parent != NULL && g_hash_table_contains (unusable, req->parent))
        {
          g_set_error (error, GVD_ERROR,
                       GPOINTER_TO_INT (g_hash_table_lookup (unusable_code, req->parent)),
                       "'%s.parent': %s; it takes no vGPU", field,
                       (char *) g_hash_table_lookup (unusable, req->parent));
          return NULL;
        }
      for (guint i = 0; i < candidates->len && pick == NULL; i++)
        {
          Candidate *c = g_ptr_array_index (candidates, i);
          guint free_n, planned;

          if (req->parent != NULL && !g_str_equal (req->parent, c->parent->address))
            continue;
          parent_known = TRUE;
          if (gvd_vgpu_parent_find_type (c->parent, req->type) == NULL)
            continue;
          free_n = gvd_vgpu_free_instances (c->parent, req->type, claims);
          planned = GPOINTER_TO_UINT (g_hash_table_lookup (c->taken, req->type));
          g_string_append_printf (seen, "%s%s: %u free", seen->len > 0 ? ", " : "",
                                  c->parent->address, free_n);
          if (free_n > planned)
            pick = c;
        }
      if (!parent_known)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND,
                       "'%s.parent': %s offers no vGPU types (see GET /v1/devices/available)",
                       field, req->parent);
          return NULL;
        }
      if (pick == NULL && seen->len == 0)
        {
          /* Offered, but only by parents that take no vGPU: say why. */
          g_autoptr(GString) why = g_string_new (NULL);

          for (guint i = 0; i < parents->len; i++)
            {
              const GvdVgpuParent *p = g_ptr_array_index (parents, i);
              const char *reason = g_hash_table_lookup (unusable, p->address);

              if (reason != NULL && gvd_vgpu_parent_find_type (p, req->type) != NULL
                  && (req->parent == NULL || g_str_equal (req->parent, p->address)))
                g_string_append_printf (why, "%s%s", why->len > 0 ? "; " : "", reason);
            }
          if (why->len > 0)
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE,
                           "'%s.type': no device can take vGPU type '%s' now: %s", field,
                           req->type, why->str);
              return NULL;
            }
          g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND,
                       "'%s.type': no %s offers vGPU type '%s' (see vgpu_types in "
                       "GET /v1/devices/available)", field,
                       req->parent != NULL ? req->parent : "device", req->type);
          return NULL;
        }
      if (pick == NULL)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_GPUS,
                       "'%s.type': no capacity left for vGPU type '%s' (%s; this request "
                       "asks for %u of that type)", field, req->type, seen->str,
                       count_type (requests, r, req->type));
          return NULL;
        }
      {
        guint taken = GPOINTER_TO_UINT (g_hash_table_lookup (pick->taken, req->type));

        g_hash_table_insert (pick->taken, req->type, GUINT_TO_POINTER (taken + 1));
      }
      {
        g_autofree char *uuid = uuid_func (uuid_data);
        g_ptr_array_add (out, gvd_vgpu_assignment_new (uuid, req->type, pick->parent->address));
      }
    }
  return g_steal_pointer (&out);
}

void
gvd_vgpu_parent_add_members (const GvdVgpuParent *parent, GvdClaims *claims, JsonBuilder *b)
{
  json_builder_set_member_name (b, "vgpu_types");
  json_builder_begin_array (b);
  for (guint i = 0; i < parent->types->len; i++)
    {
      const GvdVgpuType *t = g_ptr_array_index (parent->types, i);

      json_builder_begin_object (b);
      gvd_json_add_string (b, "type", t->type);
      gvd_json_add_string (b, "name", t->name);
      gvd_json_add_string (b, "description", t->description);
      gvd_json_add_string (b, "device_api", t->device_api);
      json_builder_set_member_name (b, "available_instances");
      json_builder_add_int_value (b, t->available);
      json_builder_set_member_name (b, "free");
      json_builder_add_int_value (b, claims != NULL ? gvd_vgpu_free_instances (parent, t->type, claims)
                                                    : t->available);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "mdevs");
  json_builder_begin_array (b);
  for (guint i = 0; i < parent->mdevs->len; i++)
    {
      const GvdMdev *m = g_ptr_array_index (parent->mdevs, i);
      const GvdMdevClaim *c = claims != NULL ? gvd_claims_get_mdev (claims, m->uuid) : NULL;

      json_builder_begin_object (b);
      gvd_json_add_string (b, "uuid", m->uuid);
      gvd_json_add_string (b, "type", m->type);
      gvd_json_add_string (b, "holder", c != NULL ? c->holder : NULL);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

void
gvd_vgpu_parent_to_json (const GvdVgpuParent *parent, GvdClaims *claims, JsonBuilder *b)
{
  json_builder_begin_object (b);
  gvd_json_add_string (b, "address", parent->address);
  json_builder_set_member_name (b, "numa_node");
  json_builder_add_int_value (b, parent->numa_node);
  gvd_vgpu_parent_add_members (parent, claims, b);
  json_builder_end_object (b);
}
