/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/host: the capability report, versions, host facts and GPUs. The
 * facts (files, libvirt calls) are gathered on a worker thread while the
 * request is paused; concurrent requests of one daemon share one
 * gathering. */
#include "config.h"

#include "api.h"
#include "json-util.h"

#include "capability-gather.h"
#include "cpu-alloc.h"

#include <stdlib.h>
#include "hostinfo.h"

/* Requests waiting for the gathering in flight; more are refused. */
#define MAX_WAITING 256

#define STATE_KEY "gvd-api-host-state"

typedef struct _HostJob HostJob;

/* The route's state, one per daemon: kept on its GvdVirtConn, which every
 * job holds a reference to. Main thread only. */
typedef struct {
  HostJob *in_flight;    /* the gathering in flight, or NULL */
} HostState;

struct _HostJob {
  GvdDaemon *daemon;
  HostState *state;
  GvdHostRoot *root;
  char *pool_path;
  char *uri;
  GvdVirtConn *virt;
  GPtrArray *waiting;    /* SoupServerMessage *, paused */
};

static void
host_job_free (HostJob *job)
{
  gvd_host_root_free (job->root);
  g_free (job->pool_path);
  g_free (job->uri);
  g_clear_object (&job->virt);
  g_ptr_array_unref (job->waiting);
  g_free (job);
}

static void
gather_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  HostJob *job = task_data;
  g_autoptr(GvdHostFacts) facts = gvd_host_facts_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(virConnect) conn = NULL;

  gvd_capability_gather_host (facts, job->root, job->pool_path);
  conn = gvd_virt_conn_get (job->virt, &error);
  gvd_capability_gather_libvirt (facts, job->uri, conn, error);
  g_task_return_pointer (task, g_steal_pointer (&facts), (GDestroyNotify) gvd_host_facts_free);
}

static void
add_version (JsonBuilder *b, const char *member, unsigned long version)
{
  g_autofree char *s = version != 0 ? gvd_virt_format_version (version) : NULL;

  json_builder_set_member_name (b, member);
  if (s != NULL)
    json_builder_add_string_value (b, s);
  else
    json_builder_add_null_value (b);
}

/* Display controllers (class 0x03xxxx) of the inventory; null without one. */
static void
add_gpus (JsonBuilder *b, const GvdInventory *inventory)
{
  json_builder_set_member_name (b, "gpus");
  if (inventory == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_array (b);
  for (guint i = 0; i < inventory->devices->len; i++)
    {
      const GvdPciDevice *dev = g_ptr_array_index (inventory->devices, i);

      if ((dev->class_code >> 16) == 0x03)
        gvd_hostinfo_device_to_json (dev, b);
    }
  json_builder_end_array (b);
}

static int
compare_cpu (gconstpointer a, gconstpointer b)
{
  guint x = GPOINTER_TO_UINT (*(gconstpointer *) a), y = GPOINTER_TO_UINT (*(gconstpointer *) b);

  return x < y ? -1 : x > y;
}

/* The host CPUs kept from dedicated instances and those pinned by domains
 * (main thread: the claims live there). */
static void
add_cpu_claims (JsonBuilder *b, const GvdDaemon *daemon)
{
  g_autoptr(GArray) reserved = gvd_cpulist_parse ("reserved_cpus",
                                                  daemon->config->reserved_cpus != NULL
                                                      ? daemon->config->reserved_cpus : "",
                                                  NULL);
  GHashTable *held = gvd_claims_get_cpu_holders (daemon->claims);
  guint n = 0;
  g_autofree gpointer *cpus = g_hash_table_get_keys_as_array (held, &n);

  json_builder_set_member_name (b, "reserved");
  json_builder_begin_array (b);
  for (guint i = 0; reserved != NULL && i < reserved->len; i++)
    json_builder_add_int_value (b, g_array_index (reserved, guint, i));
  json_builder_end_array (b);
  qsort (cpus, n, sizeof (gpointer), compare_cpu);
  json_builder_set_member_name (b, "dedicated");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "cpu");
      json_builder_add_int_value (b, GPOINTER_TO_UINT (cpus[i]));
      gvd_json_add_string (b, "holder", g_hash_table_lookup (held, cpus[i]));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static JsonNode *
host_to_json (const GvdHostFacts *facts, const GvdCapReport *report, const GvdDaemon *daemon)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "hostname");
  json_builder_add_string_value (b, g_get_host_name ());
  json_builder_set_member_name (b, "cpu");
  json_builder_begin_object (b);
  gvd_json_add_string (b, "model", facts->cpu.model);
  json_builder_set_member_name (b, "vendor");
  json_builder_add_string_value (b, gvd_cpu_vendor_to_string (facts->cpu.vendor));
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, facts->cpu.count);
  add_cpu_claims (b, daemon);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "memory_bytes");
  if (facts->mem_total_bytes != 0)
    json_builder_add_int_value (b, (gint64) MIN (facts->mem_total_bytes, (guint64) G_MAXINT64));
  else
    json_builder_add_null_value (b);

  json_builder_set_member_name (b, "versions");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "gpuvmd");
  json_builder_add_string_value (b, PACKAGE_VERSION);
  add_version (b, "libvirt", facts->lib_version);
  add_version (b, "qemu", facts->hv_version);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "libvirt");
  json_builder_begin_object (b);
  gvd_json_add_string (b, "uri", facts->libvirt_uri);
  json_builder_set_member_name (b, "reachable");
  json_builder_add_boolean_value (b, facts->libvirt_reachable);
  gvd_json_add_string (b, "domain_type", facts->domcaps != NULL ? facts->domcaps->domain_type
                                                                : NULL);
  gvd_json_add_string (b, "machine", facts->domcaps != NULL ? facts->domcaps->machine : NULL);
  json_builder_end_object (b);

  gvd_cap_report_to_json (report, b);
  add_gpus (b, daemon->inventory);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
gather_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = G_TASK (res);
  HostJob *job = g_task_get_task_data (task);
  g_autoptr(GvdHostFacts) facts = g_task_propagate_pointer (task, NULL);
  g_autoptr(GvdCapReport) report = NULL;
  g_autoptr(JsonNode) node = NULL;

  /* Requests arriving from now on start a new gathering. */
  if (job->state->in_flight == job)
    job->state->in_flight = NULL;
  report = gvd_capability_evaluate (facts);
  node = host_to_json (facts, report, job->daemon);
  for (guint i = 0; i < job->waiting->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (job->waiting, i);

      /* The report is the answer even when checks fail or libvirt is down. */
      gvd_api_reply_json (msg, SOUP_STATUS_OK, node);
      soup_server_message_unpause (msg);
    }
}

static void
host (GvdApi *api, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  GvdDaemon *d = gvd_api_get_daemon (api);
  const char *method = soup_server_message_get_method (msg);
  HostState *state = g_object_get_data (G_OBJECT (d->virt), STATE_KEY);
  g_autoptr(GTask) task = NULL;
  HostJob *job;

  if (!g_str_equal (path, "/v1/host"))
    {
      gvd_api_reply_errorf (msg, GVD_ERROR_NOT_FOUND, "no such resource: %s", path);
      return;
    }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      gvd_api_reply_method_not_allowed (msg, "GET, HEAD");
      return;
    }

  if (state->in_flight != NULL)
    {
      if (state->in_flight->waiting->len >= MAX_WAITING)
        {
          gvd_api_reply_errorf (msg, GVD_ERROR_NOT_READY,
                                "too many host reports pending (%u); retry shortly",
                                MAX_WAITING);
          return;
        }
      g_ptr_array_add (state->in_flight->waiting, g_object_ref (msg));
      soup_server_message_pause (msg);
      return;
    }

  job = g_new0 (HostJob, 1);
  job->daemon = d;
  job->state = state;
  job->root = gvd_host_root_copy (d->host_root);
  job->pool_path = g_strdup (d->config->pool_path);
  job->uri = g_strdup (gvd_virt_conn_get_uri (d->virt));
  job->virt = g_object_ref (d->virt);
  job->waiting = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (job->waiting, g_object_ref (msg));
  state->in_flight = job;

  soup_server_message_pause (msg);
  task = g_task_new (NULL, NULL, gather_done, NULL);
  g_task_set_source_tag (task, host);
  g_task_set_task_data (task, job, (GDestroyNotify) host_job_free);
  g_task_run_in_thread (task, gather_thread);
}

static const GvdApiRoute routes[] = {
  { "GET", "/v1/host" },
  { "HEAD", "/v1/host" },
  { NULL, NULL },
};

void
gvd_api_host_register (GvdApi *api)
{
  GvdDaemon *d = gvd_api_get_daemon (api);

  g_return_if_fail (d->virt != NULL);

  if (g_object_get_data (G_OBJECT (d->virt), STATE_KEY) == NULL)
    g_object_set_data_full (G_OBJECT (d->virt), STATE_KEY, g_new0 (HostState, 1), g_free);
  gvd_api_add_routes (api, "/v1/host", GVD_API_ROUTE_DEFAULT, routes, host);
}
