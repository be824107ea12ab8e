/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/instances/{name}/gpus: hot-plug a whole IOMMU group into an instance
 * (POST) and take it out again (DELETE .../gpus/{address}). The work runs in
 * the instance manager's workers; the message is paused until it is done. */
#include "config.h"

#include "api.h"

#include "gpu-hotplug.h"
#include "instance.h"

typedef struct {
  GvdApi *api;
  SoupServerMessage *msg;
} Pending;

static Pending *
pending_new (GvdApi *api, SoupServerMessage *msg)
{
  Pending *p = g_new0 (Pending, 1);

  p->api = api;
  p->msg = g_object_ref (msg);
  soup_server_message_pause (msg);
  return p;
}

static void
pending_finish (Pending *p)
{
  soup_server_message_unpause (p->msg);
  g_object_unref (p->msg);
  g_free (p);
}

static GvdInstanceManager *
manager (GvdApi *api)
{
  return gvd_api_get_daemon (api)->instances;
}

static void
attach_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) details = NULL;
  g_autoptr(JsonNode) node = gvd_instance_manager_attach_gpus_finish (manager (p->api), res,
                                                                      &details, &error);

  if (node == NULL)
    gvd_api_reply_error_details (p->msg, error, details);
  else
    gvd_api_reply_json (p->msg, SOUP_STATUS_OK, node);
  pending_finish (p);
}

static void
detach_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = gvd_instance_manager_detach_gpu_finish (manager (p->api), res, &error);

  if (node == NULL)
    gvd_api_reply_error (p->msg, error);
  else
    gvd_api_reply_json (p->msg, SOUP_STATUS_OK, node);
  pending_finish (p);
}

void
gvd_api_gpus_handle (GvdApi *api, SoupServerMessage *msg, char **seg)
{
  const char *method = soup_server_message_get_method (msg);
  guint n = g_strv_length (seg);
  g_autoptr(GError) error = NULL;

  if (n == 2)
    {
      g_autoptr(JsonObject) body = NULL;
      g_autoptr(GvdGpuAttachRequest) req = NULL;

      if (method != SOUP_METHOD_POST)
        {
          gvd_api_reply_method_not_allowed (msg, "POST");
          return;
        }
      body = gvd_api_read_object (msg, FALSE, &error);
      if (body == NULL || (req = gvd_gpu_attach_request_parse (body, &error)) == NULL)
        {
          gvd_api_reply_error (msg, error);
          return;
        }
      gvd_instance_manager_attach_gpus_async (manager (api), seg[0], req, attach_done,
                                              pending_new (api, msg));
      return;
    }
  if (method != SOUP_METHOD_DELETE)
    {
      gvd_api_reply_method_not_allowed (msg, "DELETE");
      return;
    }
  gvd_instance_manager_detach_gpu_async (manager (api), seg[0], seg[2], detach_done,
                                         pending_new (api, msg));
}
