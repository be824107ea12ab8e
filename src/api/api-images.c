/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/images: list, import, show and delete the pool's base images; the
 * libvirt work runs in worker threads while the message is paused. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "host-file.h"
#include "storage.h"

#define STATE_KEY "gvd-api-images-state"

/* Whether the pool has been ensured on the current libvirt connection;
 * reset when a new connection comes up. Lives as long as the GvdVirtConn. */
typedef struct {
  gint pool_ready; /* atomic */
} ImagesState;

typedef enum {
  OP_LIST,
  OP_GET,
  OP_IMPORT,
  OP_DELETE,
} ImagesOp;

typedef struct {
  ImagesOp op;
  GvdVirtConn *virt;
  GvdStorage *storage;
  ImagesState *state;
  char *pool_name;
  char *pool_path;
  char *prefix;
  char *name;
  char *source_path;
  char *format;
  char **import_dirs;
} ImagesJob;

static void
images_job_free (ImagesJob *job)
{
  g_clear_object (&job->virt);
  g_clear_pointer (&job->storage, gvd_storage_unref);
  g_free (job->pool_name);
  g_free (job->pool_path);
  g_free (job->prefix);
  g_free (job->name);
  g_free (job->source_path);
  g_free (job->format);
  g_strfreev (job->import_dirs);
  g_free (job);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImagesJob, images_job_free)

static JsonNode *
image_node (const GvdImage *image)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  gvd_image_write_json (image, b);
  return json_builder_get_root (b);
}

/* Worker thread: the job's libvirt calls; the answer's JSON, or NULL for
 * an empty answer. */
static JsonNode *
run_job (ImagesJob *job, GError **error)
{
  g_autoptr(virConnect) conn = gvd_virt_conn_get (job->virt, error);

  if (conn == NULL)
    return NULL;
  if (!g_atomic_int_get (&job->state->pool_ready))
    {
      if (!gvd_storage_ensure_pool (job->storage, conn, job->pool_name, job->pool_path, error))
        return NULL;
      g_atomic_int_set (&job->state->pool_ready, TRUE);
    }

  switch (job->op)
    {
    case OP_LIST:
      {
        g_autoptr(GPtrArray) images = gvd_storage_list_images (job->storage, conn,
                                                               job->pool_name, job->prefix,
                                                               error);
        g_autoptr(JsonBuilder) b = json_builder_new ();

        if (images == NULL)
          return NULL;
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "images");
        json_builder_begin_array (b);
        for (guint i = 0; i < images->len; i++)
          gvd_image_write_json (g_ptr_array_index (images, i), b);
        json_builder_end_array (b);
        json_builder_end_object (b);
        return json_builder_get_root (b);
      }
    case OP_GET:
      {
        g_autoptr(GvdImage) image = gvd_storage_get_image (job->storage, conn, job->pool_name,
                                                           job->name, job->prefix, error);
        return image != NULL ? image_node (image) : NULL;
      }
    case OP_IMPORT:
      {
        g_autoptr(GvdImage) image = gvd_storage_import_image (job->storage, conn,
                                                              job->pool_name, job->name,
                                                              job->source_path, job->format,
                                                              job->prefix,
                                                              (const char *const *) job->import_dirs,
                                                              error);
        if (image != NULL)
          g_message ("imported image %s from %s (%s, %" G_GUINT64_FORMAT " bytes)",
                     image->name, job->source_path, image->format, image->capacity);
        return image != NULL ? image_node (image) : NULL;
      }
    case OP_DELETE:
      if (!gvd_storage_delete_image (job->storage, conn, job->pool_name, job->name, job->prefix,
                                     error))
        return NULL;
      g_message ("deleted image %s", job->name);
      return json_node_new (JSON_NODE_NULL);
    default:
      g_assert_not_reached ();
    }
}

static void
job_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ImagesJob *job = task_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node = run_job (job, &error);

  if (node == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, node, (GDestroyNotify) json_node_unref);
}

static void
job_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(SoupServerMessage) msg = user_data;
  ImagesJob *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = g_task_propagate_pointer (G_TASK (res), &error);

  if (node == NULL)
    {
      if (job->op == OP_IMPORT || job->op == OP_DELETE)
        g_message ("image %s: %s failed: %s", job->name,
                   job->op == OP_IMPORT ? "import" : "delete", error->message);
      gvd_api_reply_error (msg, error);
    }
  else if (job->op == OP_DELETE)
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  else
    gvd_api_reply_json (msg, job->op == OP_IMPORT ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, node);
  soup_server_message_unpause (msg);
}

static void
start_job (GvdApi *api, SoupServerMessage *msg, ImagesJob *job_in)
{
  g_autoptr(ImagesJob) job = job_in;
  GvdDaemon *d = gvd_api_get_daemon (api);
  g_autoptr(GTask) task = NULL;

  job->virt = g_object_ref (d->virt);
  job->storage = gvd_storage_ref (d->storage);
  job->state = g_object_get_data (G_OBJECT (d->virt), STATE_KEY);
  job->pool_name = g_strdup (d->config->pool_name);
  job->pool_path = g_strdup (d->config->pool_path);
  job->prefix = g_strdup (d->config->domain_prefix);
  job->import_dirs = g_strdupv (d->config->import_dirs);

  soup_server_message_pause (msg);
  task = g_task_new (NULL, NULL, job_done, g_object_ref (msg));
  g_task_set_task_data (task, g_steal_pointer (&job), (GDestroyNotify) images_job_free);
  g_task_run_in_thread (task, job_thread);
}

/* Fields of an import request: strings only, no unknown members. */
static gboolean
read_import (JsonObject *obj, ImagesJob *job, const char *prefix, char **import_dirs,
             GError **error)
{
  g_autoptr(GList) members = json_object_get_members (obj);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *member = l->data;
      JsonNode *node = json_object_get_member (obj, member);
      char **slot;

      if (g_str_equal (member, "name"))
        slot = &job->name;
      else if (g_str_equal (member, "source_path"))
        slot = &job->source_path;
      else if (g_str_equal (member, "format"))
        slot = &job->format;
      else
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "unknown field '%s' (allowed: name, source_path, format)", member);
          return FALSE;
        }
      if (slot == &job->format && JSON_NODE_HOLDS_NULL (node))
        continue; /* null: detect */
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "field '%s' must be a string", member);
          return FALSE;
        }
      *slot = g_strdup (json_node_get_string (node));
    }
  if (job->name == NULL || job->source_path == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "field '%s' is required",
                   job->name == NULL ? "name" : "source_path");
      return FALSE;
    }
  /* The checks that need no libvirt, so that they answer even when it is down. */
  if (!gvd_storage_name_is_valid (job->name))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "field 'name': '%s' is not valid: 1-128 characters of A-Z a-z 0-9 . _ -, "
                   "starting with a letter or digit",
                   job->name);
      return FALSE;
    }
  if (prefix != NULL && prefix[0] != '\0' && g_str_has_prefix (job->name, prefix))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "field 'name': '%s' starts with '%s', which is reserved for instance volumes",
                   job->name, prefix);
      return FALSE;
    }
  if (job->format != NULL && !g_str_equal (job->format, "raw")
      && !g_str_equal (job->format, "qcow2"))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "field 'format': '%s' is not supported (raw or qcow2)", job->format);
      return FALSE;
    }
  /* Where the file may be is decided here; the file itself is checked when
   * it is opened (in the worker). */
  if (!gvd_host_file_split ((const char *const *) import_dirs, job->source_path, "source_path",
                            NULL, NULL, error))
    return FALSE;
  return TRUE;
}

static void
images_handler (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  const char *method = soup_server_message_get_method (msg);
  g_auto(GStrv) segs = gvd_api_path_segments (path, "/v1/images");
  g_autoptr(ImagesJob) job = g_new0 (ImagesJob, 1);

  if (segs == NULL || g_strv_length (segs) > 1)
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }

  if (segs[0] == NULL)
    {
      if (method == SOUP_METHOD_GET)
        job->op = OP_LIST;
      else if (method == SOUP_METHOD_POST)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(JsonObject) obj = gvd_api_read_object (msg, FALSE, &error);
          GvdDaemon *d = gvd_api_get_daemon (api);

          if (obj == NULL || !read_import (obj, job, d->config->domain_prefix, d->config->import_dirs,
                                           &error))
            {
              gvd_api_reply_error (msg, error);
              return;
            }
          job->op = OP_IMPORT;
        }
      else
        {
          gvd_api_reply_method_not_allowed (msg, "GET, POST");
          return;
        }
    }
  else
    {
      if (method == SOUP_METHOD_GET)
        job->op = OP_GET;
      else if (method == SOUP_METHOD_DELETE)
        job->op = OP_DELETE;
      else
        {
          gvd_api_reply_method_not_allowed (msg, "GET, DELETE");
          return;
        }
      job->name = g_strdup (segs[0]);
    }
  start_job (api, msg, g_steal_pointer (&job));
}

static void
on_connected (GvdVirtConn *virt, gpointer user_data)
{
  ImagesState *state = user_data;

  /* A new connection may be to a restarted libvirtd: check the pool again. */
  g_atomic_int_set (&state->pool_ready, FALSE);
}

static const GvdApiRoute routes[] = {
  { "GET", "/v1/images" },
  { "POST", "/v1/images" },
  { "GET", "/v1/images/{name}" },
  { "DELETE", "/v1/images/{name}" },
  { NULL, NULL },
};

void
gvd_api_images_register (GvdApi *api)
{
  GvdDaemon *d = gvd_api_get_daemon (api);

  if (g_object_get_data (G_OBJECT (d->virt), STATE_KEY) == NULL)
    {
      ImagesState *state = g_new0 (ImagesState, 1);

      g_object_set_data_full (G_OBJECT (d->virt), STATE_KEY, state, g_free);
      g_signal_connect (d->virt, "connected", G_CALLBACK (on_connected), state);
    }
  gvd_api_add_routes (api, "/v1/images", GVD_API_ROUTE_DEFAULT, routes, images_handler);
}
