/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prometheus text exposition (0.0.4) of a daemon state snapshot. */
#include "config.h"

#include "metrics.h"

#include <math.h>
#include <string.h>

#include "agent.h"
#include "histogram.h"
#include "metrics-registry.h"

static void
instance_free (gpointer p)
{
  GvdMetricsInstance *inst = p;

  g_free (inst->name);
  g_free (inst->domain);
  g_free (inst->state);
  g_free (inst->health);
  g_free (inst);
}

static void
device_free (gpointer p)
{
  GvdMetricsDevice *dev = p;

  g_free (dev->address);
  g_free (dev->holder);
  g_free (dev);
}

static void
guest_gpu_free (gpointer p)
{
  GvdMetricsGuestGpu *gpu = p;

  g_free (gpu->instance);
  g_free (gpu->index);
  g_free (gpu->guest_address);
  g_free (gpu->host_address);
  g_free (gpu->uuid);
  g_free (gpu->model);
  g_free (gpu->driver_version);
  g_free (gpu);
}

static void
heartbeat_age_free (gpointer p)
{
  GvdMetricsHeartbeatAge *age = p;

  g_free (age->instance);
  g_free (age);
}

GvdMetricsSnapshot *
gvd_metrics_snapshot_new (const char *version)
{
  GvdMetricsSnapshot *snap = g_new0 (GvdMetricsSnapshot, 1);

  snap->version = g_strdup (version);
  snap->instances = g_ptr_array_new_with_free_func (instance_free);
  snap->devices = g_ptr_array_new_with_free_func (device_free);
  snap->guest_gpus = g_ptr_array_new_with_free_func (guest_gpu_free);
  snap->heartbeat_ages = g_ptr_array_new_with_free_func (heartbeat_age_free);
  return snap;
}

void
gvd_metrics_snapshot_free (GvdMetricsSnapshot *snap)
{
  if (snap == NULL)
    return;
  g_free (snap->version);
  g_ptr_array_unref (snap->instances);
  g_ptr_array_unref (snap->devices);
  g_ptr_array_unref (snap->guest_gpus);
  g_ptr_array_unref (snap->heartbeat_ages);
  g_free (snap);
}

void
gvd_metrics_snapshot_add_instance (GvdMetricsSnapshot *snap, const char *name,
                                   const char *domain, const char *state, const char *health)
{
  GvdMetricsInstance *inst = g_new0 (GvdMetricsInstance, 1);

  inst->name = g_strdup (name != NULL ? name : "");
  inst->domain = g_strdup (domain != NULL ? domain : "");
  inst->state = g_strdup (state != NULL ? state : "unknown");
  inst->health = g_strdup (health != NULL ? health : "untracked");
  g_ptr_array_add (snap->instances, inst);
}

void
gvd_metrics_snapshot_add_device (GvdMetricsSnapshot *snap, const char *address,
                                 const char *holder, gboolean quarantined)
{
  GvdMetricsDevice *dev = g_new0 (GvdMetricsDevice, 1);

  dev->address = g_strdup (address != NULL ? address : "");
  dev->holder = g_strdup (holder);
  dev->quarantined = quarantined;
  g_ptr_array_add (snap->devices, dev);
}

void
gvd_metrics_snapshot_add_guest_gpu (GvdMetricsSnapshot *snap, const GvdMetricsGuestGpu *gpu)
{
  GvdMetricsGuestGpu *copy = g_new0 (GvdMetricsGuestGpu, 1);

  *copy = *gpu;
  copy->instance = g_strdup (gpu->instance != NULL ? gpu->instance : "");
  copy->index = g_strdup (gpu->index != NULL ? gpu->index : "");
  copy->guest_address = g_strdup (gpu->guest_address != NULL ? gpu->guest_address : "");
  copy->host_address = g_strdup (gpu->host_address != NULL ? gpu->host_address : "");
  copy->uuid = g_strdup (gpu->uuid != NULL ? gpu->uuid : "");
  copy->model = g_strdup (gpu->model != NULL ? gpu->model : "");
  copy->driver_version = g_strdup (gpu->driver_version != NULL ? gpu->driver_version : "");
  g_ptr_array_add (snap->guest_gpus, copy);
}

void
gvd_metrics_snapshot_add_heartbeat_age (GvdMetricsSnapshot *snap, const char *instance,
                                        double seconds)
{
  GvdMetricsHeartbeatAge *age = g_new0 (GvdMetricsHeartbeatAge, 1);

  age->instance = g_strdup (instance != NULL ? instance : "");
  age->seconds = seconds;
  g_ptr_array_add (snap->heartbeat_ages, age);
}

void
gvd_metrics_escape_label (GString *out, const char *value)
{
  g_autofree char *valid = NULL;

  if (!g_utf8_validate (value, -1, NULL))
    value = valid = g_utf8_make_valid (value, -1);
  for (const char *p = value; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        default:
          g_string_append_c (out, *p);
        }
    }
}

typedef struct {
  GString *out;
  guint max;
  guint series;
  guint omitted;
} Renderer;

/* HELP texts are constants here, but escape them as the format asks. */
static void
family (Renderer *r, const char *name, const char *type, const char *help)
{
  g_string_append_printf (r->out, "# HELP %s ", name);
  for (const char *p = help; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (r->out, "\\\\");
      else if (*p == '\n')
        g_string_append (r->out, "\\n");
      else
        g_string_append_c (r->out, *p);
    }
  g_string_append_printf (r->out, "\n# TYPE %s %s\n", name, type);
}

/* @labels: name, value pairs, NULL-terminated (NULL for none). FALSE when
 * the series is over the limit and dropped. */
static gboolean
series_start (Renderer *r, const char *name, const char *const *labels)
{
  if (r->series >= r->max)
    {
      r->omitted++;
      return FALSE;
    }
  r->series++;
  g_string_append (r->out, name);
  if (labels != NULL && labels[0] != NULL)
    {
      g_string_append_c (r->out, '{');
      for (gsize i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2)
        {
          if (i > 0)
            g_string_append_c (r->out, ',');
          g_string_append_printf (r->out, "%s=\"", labels[i]);
          gvd_metrics_escape_label (r->out, labels[i + 1]);
          g_string_append_c (r->out, '"');
        }
      g_string_append_c (r->out, '}');
    }
  g_string_append_c (r->out, ' ');
  return TRUE;
}

static void
sample (Renderer *r, const char *name, const char *const *labels, gint64 value)
{
  if (series_start (r, name, labels))
    g_string_append_printf (r->out, "%" G_GINT64_FORMAT "\n", value);
}

/* A floating-point sample; NAN values are left out (the guest did not
 * report them). */
static void
sample_double (Renderer *r, const char *name, const char *const *labels, double value)
{
  if (isnan (value) || !series_start (r, name, labels))
    return;
  gvd_histogram_append_value (r->out, value);
  g_string_append_c (r->out, '\n');
}

static void
gauge (Renderer *r, const char *name, const char *type, const char *help, gint64 value)
{
  family (r, name, type, help);
  sample (r, name, NULL, value);
}

static void
count (GTree *tree, const char *key, guint add)
{
  guint n = GPOINTER_TO_UINT (g_tree_lookup (tree, key));

  g_tree_insert (tree, (gpointer) key, GUINT_TO_POINTER (n + add));
}

typedef struct {
  Renderer *r;
  const char *metric;
  const char *label;
} CountCtx;

static gboolean
emit_count (gpointer key, gpointer value, gpointer data)
{
  CountCtx *c = data;
  const char *labels[] = { c->label, key, NULL };

  sample (c->r, c->metric, labels, GPOINTER_TO_UINT (value));
  return FALSE;
}

static gint
cmp_str (gconstpointer a, gconstpointer b, gpointer unused)
{
  return strcmp (a, b);
}

static gint
cmp_instance (gconstpointer a, gconstpointer b)
{
  const GvdMetricsInstance *x = *(GvdMetricsInstance *const *) a;
  const GvdMetricsInstance *y = *(GvdMetricsInstance *const *) b;
  int c = strcmp (x->name, y->name);

  return c != 0 ? c : strcmp (x->domain, y->domain);
}

static gint
cmp_device (gconstpointer a, gconstpointer b)
{
  const GvdMetricsDevice *x = *(GvdMetricsDevice *const *) a;
  const GvdMetricsDevice *y = *(GvdMetricsDevice *const *) b;

  return strcmp (x->address, y->address);
}

static void
render_instances (Renderer *r, const GvdMetricsSnapshot *snap)
{
  g_autoptr(GTree) states = g_tree_new_full (cmp_str, NULL, NULL, NULL);
  g_autoptr(GTree) healths = g_tree_new_full (cmp_str, NULL, NULL, NULL);
  g_autoptr(GPtrArray) sorted = g_ptr_array_copy (snap->instances, NULL, NULL);
  CountCtx c = { .r = r };

  /* The copy inherits the free function: it only borrows. */
  g_ptr_array_set_free_func (sorted, NULL);

  count (states, "running", 0);
  count (states, "shutoff", 0);
  for (int h = GVD_AGENT_HEALTH_PROVISIONING; h <= GVD_AGENT_HEALTH_STOPPED; h++)
    count (healths, gvd_agent_health_to_string (h), 0);
  for (guint i = 0; i < snap->instances->len; i++)
    {
      const GvdMetricsInstance *inst = g_ptr_array_index (snap->instances, i);

      count (states, inst->state, 1);
      count (healths, inst->health, 1);
    }

  family (r, "gpuvmd_instances", "gauge", "Instances by libvirt state.");
  c.metric = "gpuvmd_instances";
  c.label = "state";
  g_tree_foreach (states, emit_count, &c);

  family (r, "gpuvmd_instance_health", "gauge", "Instances by guest agent health.");
  c.metric = "gpuvmd_instance_health";
  c.label = "health";
  g_tree_foreach (healths, emit_count, &c);

  family (r, "gpuvmd_instance_info", "gauge",
          "One series per instance: libvirt domain, state and agent health.");
  g_ptr_array_sort (sorted, cmp_instance);
  for (guint i = 0; i < sorted->len; i++)
    {
      const GvdMetricsInstance *inst = g_ptr_array_index (sorted, i);
      const char *labels[] = { "name", inst->name, "domain", inst->domain,
                               "state", inst->state, "health", inst->health, NULL };

      sample (r, "gpuvmd_instance_info", labels, 1);
    }
}

static void
render_devices (Renderer *r, const GvdMetricsSnapshot *snap)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_copy (snap->devices, NULL, NULL);

  g_ptr_array_set_free_func (sorted, NULL);
  family (r, "gpuvmd_device_info", "gauge",
          "One series per passthrough candidate: holder (empty: free) and quarantine.");
  g_ptr_array_sort (sorted, cmp_device);
  for (guint i = 0; i < sorted->len; i++)
    {
      const GvdMetricsDevice *dev = g_ptr_array_index (sorted, i);
      const char *labels[] = { "address", dev->address,
                               "holder", dev->holder != NULL ? dev->holder : "",
                               "quarantined", dev->quarantined ? "true" : "false", NULL };

      sample (r, "gpuvmd_device_info", labels, 1);
    }
}

static gint
cmp_guest_gpu (gconstpointer a, gconstpointer b)
{
  const GvdMetricsGuestGpu *x = *(GvdMetricsGuestGpu *const *) a;
  const GvdMetricsGuestGpu *y = *(GvdMetricsGuestGpu *const *) b;
  int c = strcmp (x->instance, y->instance);

  if (c == 0)
    c = strcmp (x->guest_address, y->guest_address);
  return c != 0 ? c : strcmp (x->index, y->index);
}

static gint
cmp_heartbeat_age (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(GvdMetricsHeartbeatAge *const *) a)->instance,
                 (*(GvdMetricsHeartbeatAge *const *) b)->instance);
}

/* Guest GPU telemetry: what the agent read from nvidia-smi inside the VM,
 * labelled with the host device behind it (host DCGM cannot see a GPU
 * passed through to a guest). The instance label is "name", as in
 * gpuvmd_instance_info: "instance" is Prometheus' target label. */
static void
render_guest_gpus (Renderer *r, const GvdMetricsSnapshot *snap)
{
  static const struct {
    const char *name;
    const char *help;
    gsize offset;
  } values[] = {
    { "gpuvmd_guest_gpu_utilization_ratio", "GPU utilisation in the guest (0-1), by instance "
      "and host PCI address.", G_STRUCT_OFFSET (GvdMetricsGuestGpu, utilization_ratio) },
    { "gpuvmd_guest_gpu_memory_used_bytes", "GPU memory in use in the guest.",
      G_STRUCT_OFFSET (GvdMetricsGuestGpu, memory_used_bytes) },
    { "gpuvmd_guest_gpu_memory_total_bytes", "GPU memory the guest driver sees.",
      G_STRUCT_OFFSET (GvdMetricsGuestGpu, memory_total_bytes) },
    { "gpuvmd_guest_gpu_temperature_celsius", "GPU temperature reported in the guest.",
      G_STRUCT_OFFSET (GvdMetricsGuestGpu, temperature_celsius) },
    { "gpuvmd_guest_gpu_power_watts", "GPU power draw reported in the guest.",
      G_STRUCT_OFFSET (GvdMetricsGuestGpu, power_watts) },
  };
  g_autoptr(GPtrArray) sorted = g_ptr_array_copy (snap->guest_gpus, NULL, NULL);

  g_ptr_array_set_free_func (sorted, NULL);
  g_ptr_array_sort (sorted, cmp_guest_gpu);
  /* Two rows with the same labels would be duplicate samples, and
   * Prometheus drops a whole scrape over one: a guest that reports a GPU
   * twice (or two without index and bus id) keeps only the first. */
  for (guint i = 1; i < sorted->len;)
    {
      if (cmp_guest_gpu (&sorted->pdata[i - 1], &sorted->pdata[i]) == 0)
        g_ptr_array_remove_index (sorted, i);
      else
        i++;
    }
  family (r, "gpuvmd_guest_gpu_info", "gauge",
          "One series per GPU a guest agent reports: model, UUID, driver version, and the "
          "host PCI address passed through at its guest address.");
  for (guint i = 0; i < sorted->len; i++)
    {
      const GvdMetricsGuestGpu *g = g_ptr_array_index (sorted, i);
      const char *labels[] = { "name", g->instance, "gpu", g->index,
                               "guest_address", g->guest_address,
                               "host_address", g->host_address, "uuid", g->uuid,
                               "model", g->model, "driver_version", g->driver_version, NULL };

      sample (r, "gpuvmd_guest_gpu_info", labels, 1);
    }
  for (gsize v = 0; v < G_N_ELEMENTS (values); v++)
    {
      family (r, values[v].name, "gauge", values[v].help);
      for (guint i = 0; i < sorted->len; i++)
        {
          const GvdMetricsGuestGpu *g = g_ptr_array_index (sorted, i);
          const char *labels[] = { "name", g->instance, "gpu", g->index,
                                   "guest_address", g->guest_address,
                                   "host_address", g->host_address, NULL };

          sample_double (r, values[v].name, labels,
                         G_STRUCT_MEMBER (double, g, values[v].offset));
        }
    }
}

static void
render_heartbeat_ages (Renderer *r, const GvdMetricsSnapshot *snap)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_copy (snap->heartbeat_ages, NULL, NULL);

  g_ptr_array_set_free_func (sorted, NULL);
  g_ptr_array_sort (sorted, cmp_heartbeat_age);
  family (r, "gpuvmd_agent_last_heartbeat_age_seconds", "gauge",
          "Seconds since the guest agent's last heartbeat, per instance that sent one.");
  for (guint i = 0; i < sorted->len; i++)
    {
      const GvdMetricsHeartbeatAge *a = g_ptr_array_index (sorted, i);
      const char *labels[] = { "name", a->instance, NULL };

      sample_double (r, "gpuvmd_agent_last_heartbeat_age_seconds", labels, a->seconds);
    }
}

char *
gvd_metrics_render (const GvdMetricsSnapshot *snap, guint max_series)
{
  Renderer r = { .out = g_string_new (NULL),
                 .max = max_series != 0 ? max_series : GVD_METRICS_MAX_SERIES };
  const char *version[] = { "version", snap->version != NULL ? snap->version : "", NULL };

  /* The fixed-size families first, so a truncation only ever cuts the
   * per-instance and per-device series. */
  family (&r, "gpuvmd_build_info", "gauge", "The gpuvmd version, as a label; always 1.");
  sample (&r, "gpuvmd_build_info", version, 1);
  gauge (&r, "gpuvmd_up", "gauge", "1 while the daemon answers.", 1);
  gauge (&r, "gpuvmd_uptime_seconds", "gauge", "Seconds since the daemon started.",
         snap->uptime_seconds);
  gauge (&r, "gpuvmd_libvirt_connected", "gauge", "1 when the libvirt connection is up.",
         snap->libvirt_connected ? 1 : 0);
  gauge (&r, "gpuvmd_libvirt_reconnects_total", "counter",
         "libvirt connections opened again after a loss.", snap->libvirt_reconnects);
  gauge (&r, "gpuvmd_devices_passthrough_candidates", "gauge",
         "PCI devices that may be passed through (GPUs, configured devices).",
         snap->devices->len);
  gauge (&r, "gpuvmd_devices_claimed", "gauge",
         "PCI addresses held by instances or reservations.", snap->devices_claimed);
  gauge (&r, "gpuvmd_devices_quarantined", "gauge", "PCI devices in quarantine.",
         snap->devices_quarantined);
  /* Bounded by construction (fixed label sets): never truncated. */
  if (snap->registry != NULL)
    gvd_metrics_registry_render (snap->registry, r.out);
  render_instances (&r, snap);
  render_devices (&r, snap);
  render_heartbeat_ages (&r, snap);
  render_guest_gpus (&r, snap);
  if (r.omitted > 0)
    g_string_append_printf (r.out, "# gpuvmd: %u series omitted (limit %u)\n", r.omitted,
                            r.max);
  return g_string_free (r.out, FALSE);
}
