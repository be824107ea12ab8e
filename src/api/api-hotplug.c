/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/instances/{name}/disks and /networks: data disks and NICs attached to
 * and detached from an existing instance (POST one disk or NIC object as in
 * a create request; DELETE by target or MAC). The work runs in the instance
 * manager's workers; the message is paused until it completes. */
#include "config.h"

#include "api.h"

#include <string.h>

#include "instance.h"
#include "instance-request-disks.h"

/* A disk target as libvirt names them: "vdb", "sdaa". */
#define TARGET_MAX 8

typedef struct {
  SoupServerMessage *msg;
  guint status;
} Pending;

static void
hotplug_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = gvd_instance_manager_hotplug_finish (NULL, res, &error);

  if (node == NULL)
    gvd_api_reply_error (p->msg, error);
  else
    gvd_api_reply_json (p->msg, p->status, node);
  soup_server_message_unpause (p->msg);
  g_object_unref (p->msg);
  g_free (p);
}

static Pending *
pending_new (SoupServerMessage *msg, guint status)
{
  Pending *p = g_new0 (Pending, 1);

  p->msg = g_object_ref (msg);
  p->status = status;
  soup_server_message_pause (msg);
  return p;
}

/* ?keep=true|false (absent: false). */
static gboolean
read_keep (GHashTable *query, gboolean *out, GError **error)
{
  const char *v = query != NULL ? g_hash_table_lookup (query, "keep") : NULL;

  if (v == NULL || g_str_equal (v, "false") || g_str_equal (v, "0"))
    *out = FALSE;
  else if (g_str_equal (v, "true") || g_str_equal (v, "1"))
    *out = TRUE;
  else
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'keep': '%s' is not true or false", v);
      return FALSE;
    }
  return TRUE;
}

static gboolean
target_valid (const char *t)
{
  gsize len = strlen (t);

  if (len < 3 || len > TARGET_MAX || !(g_str_has_prefix (t, "vd") || g_str_has_prefix (t, "sd")))
    return FALSE;
  for (const char *p = t + 2; *p; p++)
    if (!g_ascii_islower (*p))
      return FALSE;
  return TRUE;
}

static void
attach (GvdApi *api, SoupServerMessage *msg, const char *name, gboolean disk)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) body = gvd_api_read_object (msg, FALSE, &error);
  g_autoptr(JsonNode) node = NULL;
  GvdInstanceManager *mgr = gvd_api_get_daemon (api)->instances;

  if (body == NULL)
    {
      gvd_api_reply_error (msg, error);
      return;
    }
  node = json_node_init_object (json_node_alloc (), body);
  if (disk)
    {
      GvdDiskSpec *d = gvd_disk_request_parse (node, NULL, &error);

      if (d == NULL)
        gvd_api_reply_error (msg, error);
      else
        gvd_instance_manager_attach_disk_async (mgr, name, d, hotplug_done,
                                                pending_new (msg, SOUP_STATUS_CREATED));
    }
  else
    {
      GvdNicSpec *n = gvd_nic_request_parse (node, NULL, &error);

      if (n == NULL)
        gvd_api_reply_error (msg, error);
      else
        gvd_instance_manager_attach_nic_async (mgr, name, n, hotplug_done,
                                               pending_new (msg, SOUP_STATUS_CREATED));
    }
}

static void
detach (GvdApi *api, SoupServerMessage *msg, const char *name, gboolean disk, const char *key,
        GHashTable *query)
{
  g_autoptr(GError) error = NULL;
  GvdInstanceManager *mgr = gvd_api_get_daemon (api)->instances;

  if (disk)
    {
      gboolean keep = FALSE;

      if (!target_valid (key))
        {
          gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND,
                                "'%s' is not a disk target (vdb, sdc, ...)", key);
          return;
        }
      if (!read_keep (query, &keep, &error))
        {
          gvd_api_reply_error (msg, error);
          return;
        }
      gvd_instance_manager_detach_disk_async (mgr, name, key, keep, hotplug_done,
                                              pending_new (msg, SOUP_STATUS_OK));
    }
  else
    {
      /* Clients may send the colons escaped. */
      g_autofree char *raw = g_uri_unescape_string (key, NULL);
      g_autofree char *mac = NULL;

      if (raw == NULL || !gvd_validate_mac ("mac", raw, &mac, NULL))
        {
          gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND,
                                "'%s' is not a MAC address (52:54:00:xx:xx:xx)", key);
          return;
        }
      gvd_instance_manager_detach_nic_async (mgr, name, mac, hotplug_done,
                                             pending_new (msg, SOUP_STATUS_OK));
    }
}

void
gvd_api_hotplug_handle (GvdApi *api, SoupServerMessage *msg, char **seg, GHashTable *query)
{
  const char *method = soup_server_message_get_method (msg);
  gboolean disk = g_str_equal (seg[1], "disks");

  if (seg[2] == NULL)
    {
      if (method == SOUP_METHOD_POST)
        attach (api, msg, seg[0], disk);
      else
        gvd_api_reply_method_not_allowed (msg, "POST");
      return;
    }
  if (method == SOUP_METHOD_DELETE)
    detach (api, msg, seg[0], disk, seg[2], query);
  else
    gvd_api_reply_method_not_allowed (msg, "DELETE");
}
