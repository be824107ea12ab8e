/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/images: list, import, show and delete the pool's base images; the
 * libvirt work runs in worker threads while the message is paused. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "api-image-download.h"
#include "events.h"
#include "host-file.h"
#include "image-url.h"
#include "storage.h"

#define STATE_KEY "gvd-api-images-state"

/* Whether the pool has been ensured on the current libvirt connection;
 * reset when a new connection comes up; and the downloads running. Lives
 * as long as the GvdVirtConn. */
typedef struct {
  gint pool_ready; /* atomic */
  GvdDaemon *daemon;
  GvdImageDownloads *downloads;
} ImagesState;

static void
images_state_free (ImagesState *state)
{
  gvd_image_downloads_free (state->downloads);
  g_free (state);
}

typedef enum {
  OP_LIST,
  OP_GET,
  OP_IMPORT,
  OP_DELETE,
  OP_SWEEP,
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
  char *url;
  char *digest_name; /* "sha256" or "sha512" */
  char *digest;
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
  g_free (job->url);
  g_free (job->digest_name);
  g_free (job->digest);
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
  /* The sweep touches only the volumes its journal names (the pool is
   * still created on first use, not at every start). */
  if (job->op != OP_SWEEP && !g_atomic_int_get (&job->state->pool_ready))
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
    case OP_SWEEP:
      {
        g_auto(GStrv) swept = NULL;
        g_autoptr(JsonBuilder) b = json_builder_new ();

        if (!gvd_storage_sweep_imports (job->storage, conn, &swept, error))
          return NULL;
        json_builder_begin_array (b);
        for (gsize i = 0; swept[i] != NULL; i++)
          json_builder_add_string_value (b, swept[i]);
        json_builder_end_array (b);
        return json_builder_get_root (b);
      }
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

static gint
compare_image_nodes (gconstpointer a, gconstpointer b)
{
  JsonObject *oa = json_node_get_object (*(JsonNode *const *) a);
  JsonObject *ob = json_node_get_object (*(JsonNode *const *) b);

  return strcmp (json_object_get_string_member (oa, "name"),
                 json_object_get_string_member (ob, "name"));
}

/* The pool's images and the downloads (hidden from the pool's listing
 * until verified), sorted by name. */
static void
add_downloads (ImagesState *state, JsonNode *node)
{
  JsonArray *images = json_object_get_array_member (json_node_get_object (node), "images");
  g_autoptr(GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) extra = NULL;
  g_autoptr(JsonArray) sorted = json_array_new ();
  guint n = json_array_get_length (images);

  for (guint i = 0; i < n; i++)
    g_hash_table_add (listed, (gpointer) json_object_get_string_member (
                                json_array_get_object_element (images, i), "name"));
  json_builder_begin_array (b);
  gvd_image_downloads_write_json (state->downloads, NULL, listed, b);
  json_builder_end_array (b);
  extra = json_builder_get_root (b);
  if (json_array_get_length (json_node_get_array (extra)) == 0)
    return;
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (all, json_array_get_element (images, i));
  for (guint i = 0; i < json_array_get_length (json_node_get_array (extra)); i++)
    g_ptr_array_add (all, json_array_get_element (json_node_get_array (extra), i));
  g_ptr_array_sort (all, compare_image_nodes);
  for (guint i = 0; i < all->len; i++)
    json_array_add_element (sorted, json_node_copy (g_ptr_array_index (all, i)));
  json_object_set_array_member (json_node_get_object (node), "images",
                                json_array_ref (sorted));
}

/* The sweep of imports a crash left unfinished: logged and told. */
static void
sweep_done (ImagesJob *job, JsonNode *node, const GError *error)
{
  JsonArray *swept;

  if (node == NULL)
    {
      g_warning ("recovery: cannot sweep unfinished image imports (retried at the next "
                 "connection): %s", error->message);
      return;
    }
  swept = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (swept); i++)
    {
      const char *key = json_array_get_string_element (swept, i);
      const char *slash = strchr (key, '/');
      g_autofree char *pool = g_strndup (key, (gsize) (slash - key));
      g_autoptr(JsonBuilder) b = json_builder_new ();

      g_message ("recovery: swept image %s of pool %s: its import never finished", slash + 1,
                 pool);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, slash + 1);
      json_builder_set_member_name (b, "pool");
      json_builder_add_string_value (b, pool);
      json_builder_end_object (b);
      gvd_events_emit (job->state->daemon->events, "image.swept", json_builder_get_root (b));
    }
}

static void
job_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(SoupServerMessage) msg = user_data;
  ImagesJob *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = g_task_propagate_pointer (G_TASK (res), &error);

  if (job->op == OP_SWEEP)
    {
      sweep_done (job, node, error);
      return;
    }
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
    {
      if (job->op == OP_LIST)
        add_downloads (job->state, node);
      gvd_api_reply_json (msg, job->op == OP_IMPORT ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, node);
    }
  soup_server_message_unpause (msg);
}

static void
start_job_on (GvdDaemon *d, SoupServerMessage *msg, ImagesJob *job_in)
{
  g_autoptr(ImagesJob) job = job_in;
  g_autoptr(GTask) task = NULL;

  job->virt = g_object_ref (d->virt);
  job->storage = gvd_storage_ref (d->storage);
  job->state = g_object_get_data (G_OBJECT (d->virt), STATE_KEY);
  job->pool_name = g_strdup (d->config->pool_name);
  job->pool_path = g_strdup (d->config->pool_path);
  job->prefix = g_strdup (d->config->domain_prefix);
  job->import_dirs = g_strdupv (d->config->import_dirs);

  if (msg != NULL)
    soup_server_message_pause (msg);
  task = g_task_new (NULL, NULL, job_done, msg != NULL ? g_object_ref (msg) : NULL);
  g_task_set_task_data (task, g_steal_pointer (&job), (GDestroyNotify) images_job_free);
  g_task_run_in_thread (task, job_thread);
}

static void
start_job (GvdApi *api, SoupServerMessage *msg, ImagesJob *job_in)
{
  start_job_on (gvd_api_get_daemon (api), msg, job_in);
}

/* The URL side of an import: one digest, an allowed URL. */
static gboolean
read_url_import (ImagesJob *job, const GvdConfig *config, GError **error)
{
  g_autofree char *allowed = NULL;

  if (!gvd_image_url_check ("url", job->url, error))
    return FALSE;
  if (job->digest_name == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "field 'sha256' or 'sha512' is required with 'url': an unverified download "
                   "is never imported");
      return FALSE;
    }
  if (!gvd_image_digest_parse (job->digest_name, job->digest, NULL, NULL, error))
    return FALSE;
  if (gvd_image_url_allowed (job->url, (const char *const *) config->url_allow))
    return TRUE;
  allowed = config->url_allow != NULL && config->url_allow[0] != NULL
            ? g_strjoinv (", ", config->url_allow) : g_strdup ("none configured");
  g_set_error (error, GVD_ERROR, GVD_ERROR_FORBIDDEN,
               "'url': '%s' is not below a prefix of [images] url_allow (allowed: %s)",
               job->url, allowed);
  return FALSE;
}

/* Fields of an import request: strings only, no unknown members; exactly
 * one of source_path and url. */
static gboolean
read_import (JsonObject *obj, ImagesJob *job, const GvdConfig *config, GError **error)
{
  g_autoptr(GList) members = json_object_get_members (obj);
  const char *prefix = config->domain_prefix;

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *member = l->data;
      JsonNode *node = json_object_get_member (obj, member);
      char **slot;

      if (g_str_equal (member, "name"))
        slot = &job->name;
      else if (g_str_equal (member, "source_path"))
        slot = &job->source_path;
      else if (g_str_equal (member, "url"))
        slot = &job->url;
      else if (g_str_equal (member, "sha256") || g_str_equal (member, "sha512"))
        {
          if (job->digest_name != NULL)
            {
              g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "fields 'sha256' and 'sha512' exclude each other: give one");
              return FALSE;
            }
          job->digest_name = g_strdup (member);
          slot = &job->digest;
        }
      else if (g_str_equal (member, "format"))
        slot = &job->format;
      else
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "unknown field '%s' (allowed: name, source_path, url, sha256, sha512, "
                       "format)", member);
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
  if (job->name == NULL || (job->source_path == NULL && job->url == NULL))
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "field '%s' is required",
                   job->name == NULL ? "name" : "source_path' or 'url");
      return FALSE;
    }
  if (job->source_path != NULL && job->url != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "fields 'source_path' and 'url' exclude each other: give one");
      return FALSE;
    }
  if (job->source_path != NULL && job->digest_name != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "field '%s' goes with 'url' only", job->digest_name);
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
  if (job->url != NULL)
    return read_url_import (job, config, error);
  /* Where the file may be is decided here; the file itself is checked when
   * it is opened (in the worker). */
  if (!gvd_host_file_split ((const char *const *) config->import_dirs, job->source_path,
                            "source_path", NULL, NULL, error))
    return FALSE;
  return TRUE;
}

/* POST with a url: the download runs on its own (api-image-download.c). */
static void
start_download (ImagesState *state, SoupServerMessage *msg, ImagesJob *job)
{
  g_autoptr(GvdImageUrlRequest) req = g_new0 (GvdImageUrlRequest, 1);
  g_autoptr(GError) error = NULL;

  req->name = g_strdup (job->name);
  req->url = g_strdup (job->url);
  req->format = g_strdup (job->format);
  if (!gvd_image_digest_parse (job->digest_name, job->digest, &req->digest_type, &req->digest,
                               &error)
      || !gvd_image_downloads_start (state->downloads, msg, g_steal_pointer (&req), &error))
    gvd_api_reply_error (msg, error);
}

/* GET and DELETE of an image being downloaded are answered here: its
 * volume is hidden from the pool's listing until verified. FALSE when
 * answered. */
static gboolean
download_route (GvdApi *api, SoupServerMessage *msg, ImagesJob *job)
{
  GvdDaemon *d = gvd_api_get_daemon (api);
  ImagesState *state = g_object_get_data (G_OBJECT (d->virt), STATE_KEY);

  if (!gvd_image_downloads_has (state->downloads, job->name))
    return TRUE;
  if (job->op == OP_DELETE)
    gvd_image_downloads_cancel (state->downloads, job->name, msg);
  else
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      gvd_image_downloads_write_json (state->downloads, job->name, NULL, b);
      gvd_api_reply_builder (msg, SOUP_STATUS_OK, b);
    }
  return FALSE;
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

          if (obj == NULL || !read_import (obj, job, d->config, &error))
            {
              gvd_api_reply_error (msg, error);
              return;
            }
          if (job->url != NULL)
            {
              start_download (g_object_get_data (G_OBJECT (d->virt), STATE_KEY), msg, job);
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
      if (!download_route (api, msg, job))
        return;
    }
  start_job (api, msg, g_steal_pointer (&job));
}

static void
on_connected (GvdVirtConn *virt, gpointer user_data)
{
  ImagesState *state = user_data;
  ImagesJob *job = g_new0 (ImagesJob, 1);

  /* A new connection may be to a restarted libvirtd: check the pool again. */
  g_atomic_int_set (&state->pool_ready, FALSE);
  /* And delete what imports a crash interrupted left in it. */
  job->op = OP_SWEEP;
  start_job_on (state->daemon, NULL, job);
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

      state->daemon = d;
      state->downloads = gvd_image_downloads_new (d);
      g_object_set_data_full (G_OBJECT (d->virt), STATE_KEY, state,
                              (GDestroyNotify) images_state_free);
      g_signal_connect (d->virt, "connected", G_CALLBACK (on_connected), state);
    }
  gvd_api_add_routes (api, "/v1/images", GVD_API_ROUTE_DEFAULT, routes, images_handler);
}
