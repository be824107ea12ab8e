/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helpers for a daemon built in this process: its instance manager
 * driven as the API drives it. */
#include "config.h"

#include "testlib-manager.h"

#include <libvirt/libvirt.h>
#include <string.h>

#include "instance-request.h"

GvdTestInproc *
gvd_test_inproc_new (const char *host, const char *config_text)
{
  GvdTestInproc *f = g_new0 (GvdTestInproc, 1);

  f->conn = virConnectOpen ("test:///default");
  assert_non_null (f->conn);
  f->d = gvd_test_daemon_build (host, config_text, NULL);
  return f;
}

void
gvd_test_inproc_free (GvdTestInproc *f)
{
  if (f == NULL)
    return;
  gvd_test_daemon_destroy (f->d);
  gvd_test_drain_main_context ();
  if (f->conn != NULL)
    virConnectClose (f->conn);
  g_free (f);
}

void
gvd_test_iterate_until (gboolean (*cond) (gpointer), gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + GVD_TEST_WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        fail_msg ("timed out");
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static gboolean
manager_ready (gpointer data)
{
  return gvd_instance_manager_is_ready (data);
}

void
gvd_test_daemon_start_ready (GvdDaemon *d)
{
  gvd_daemon_start (d);
  gvd_test_iterate_until (manager_ready, d->instances);
}

typedef struct {
  GvdDaemon *d;
  const char *name;
  gboolean present;
} InstanceWait;

static gboolean
instance_is (gpointer data)
{
  InstanceWait *w = data;

  return (gvd_instance_manager_lookup (w->d->instances, w->name) != NULL) == w->present;
}

void
gvd_test_wait_instance (GvdDaemon *d, const char *name, gboolean present)
{
  InstanceWait w = { d, name, present };

  gvd_test_iterate_until (instance_is, &w);
}

void
gvd_test_result_clear (GvdTestResult *r)
{
  g_clear_pointer (&r->doc, json_node_unref);
  g_clear_pointer (&r->details, json_node_unref);
  g_clear_error (&r->error);
}

static gboolean
result_done (gpointer data)
{
  return ((GvdTestResult *) data)->done;
}

static void
create_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GvdTestResult *r = user_data;

  r->doc = gvd_instance_manager_create_finish (r->mgr, res, &r->details, &r->error);
  r->done = TRUE;
}

void
gvd_test_create (GvdDaemon *d, const char *json, GvdTestResult *out_result)
{
  g_autoptr(JsonNode) node = json_from_string (json, NULL);
  g_autoptr(GvdCreateRequest) req = NULL;
  g_autoptr(GError) error = NULL;

  assert_non_null (node);
  req = gvd_create_request_parse (json_node_get_object (node), &error);
  if (req == NULL)
    fail_msg ("request: %s", error->message);
  memset (out_result, 0, sizeof *out_result);
  out_result->mgr = d->instances;
  gvd_instance_manager_create_async (d->instances, req, create_cb, out_result);
  gvd_test_iterate_until (result_done, out_result);
}

static void
delete_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GvdTestResult *r = user_data;

  if (!gvd_instance_manager_delete_finish (r->mgr, res, &r->error))
    assert_non_null (r->error);
  r->done = TRUE;
}

void
gvd_test_delete (GvdDaemon *d, const char *name, GvdTestResult *out_result)
{
  memset (out_result, 0, sizeof *out_result);
  out_result->mgr = d->instances;
  gvd_instance_manager_delete_async (d->instances, name, delete_cb, out_result);
  gvd_test_iterate_until (result_done, out_result);
}

char *
gvd_test_dry_run_xml (GvdDaemon *d, const char *json)
{
  GvdTestResult r;
  char *xml;

  gvd_test_create (d, json, &r);
  if (r.doc == NULL)
    fail_msg ("dry run: %s", r.error->message);
  xml = g_strdup (gvd_test_json_string (r.doc, "domain_xml"));
  gvd_test_result_clear (&r);
  return xml;
}
