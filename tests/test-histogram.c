/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Histograms (cumulative buckets), route templates, the metrics registry and
 * the guest-to-host PCI address map. */
#include "config.h"

#include "testlib.h"

#include "guest-pci-map.h"
#include "histogram.h"
#include "http-route.h"
#include "metrics-registry.h"

#include <math.h>
#include <string.h>

static void
histogram_new__bad_bounds__null (void **state)
{
  const double unsorted[] = { 1, 0.5 };
  const double same[] = { 1, 1 };
  const double inf[] = { 1, INFINITY };
  double many[GVD_HISTOGRAM_MAX_BUCKETS + 1];

  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    many[i] = i + 1;
  assert_null (gvd_histogram_new (unsorted, 2));
  assert_null (gvd_histogram_new (same, 2));
  assert_null (gvd_histogram_new (inf, 2));
  assert_null (gvd_histogram_new (many, G_N_ELEMENTS (many)));
  assert_null (gvd_histogram_new (NULL, 1));
}

static void
histogram_render__observations__cumulative_buckets_sum_count (void **state)
{
  const double bounds[] = { 0.005, 1, 2.5 };
  g_autoptr(GvdHistogram) h = gvd_histogram_new (bounds, 3);
  g_autoptr(GString) out = g_string_new (NULL);
  const char *labels[] = { "route", "/v1/x\"", NULL };

  gvd_histogram_observe (h, 0.001);
  gvd_histogram_observe (h, 1);   /* on the bound: le is inclusive */
  gvd_histogram_observe (h, 2);
  gvd_histogram_observe (h, 100);
  gvd_histogram_observe (h, NAN); /* ignored */
  gvd_histogram_observe (h, -1);  /* a clock step: first bucket */
  gvd_histogram_render (h, out, "x_seconds", labels);
  assert_string_equal (out->str, "x_seconds_bucket{route=\"/v1/x\\\"\",le=\"0.005\"} 2\n"
                                 "x_seconds_bucket{route=\"/v1/x\\\"\",le=\"1\"} 3\n"
                                 "x_seconds_bucket{route=\"/v1/x\\\"\",le=\"2.5\"} 4\n"
                                 "x_seconds_bucket{route=\"/v1/x\\\"\",le=\"+Inf\"} 5\n"
                                 "x_seconds_sum{route=\"/v1/x\\\"\"} 102.001\n"
                                 "x_seconds_count{route=\"/v1/x\\\"\"} 5\n");
}

static void
histogram_render__no_labels__le_only (void **state)
{
  const double bounds[] = { 0.1 };
  g_autoptr(GvdHistogram) h = gvd_histogram_new (bounds, 1);
  g_autoptr(GString) out = g_string_new (NULL);

  gvd_histogram_render (h, out, "y_seconds", NULL);
  assert_string_equal (out->str, "y_seconds_bucket{le=\"0.1\"} 0\n"
                                 "y_seconds_bucket{le=\"+Inf\"} 0\n"
                                 "y_seconds_sum 0\n"
                                 "y_seconds_count 0\n");
}

static void
append_value__special__prometheus_spelling (void **state)
{
  g_autoptr(GString) out = g_string_new (NULL);

  gvd_histogram_append_value (out, NAN);
  g_string_append_c (out, ' ');
  gvd_histogram_append_value (out, INFINITY);
  g_string_append_c (out, ' ');
  gvd_histogram_append_value (out, -INFINITY);
  g_string_append_c (out, ' ');
  gvd_histogram_append_value (out, 0.1 + 0.2);
  g_string_append_c (out, ' ');
  gvd_histogram_append_value (out, 81920.0 * 1048576);
  assert_string_equal (out->str, "NaN +Inf -Inf 0.30000000000000004 85899345920");
}

static void
route_template__names__replaced_by_placeholders (void **state)
{
  assert_string_equal (gvd_http_route_template ("/v1/instances/web/start"),
                       "/v1/instances/{name}/start");
  assert_string_equal (gvd_http_route_template ("/v1/instances/web"), "/v1/instances/{name}");
  assert_string_equal (gvd_http_route_template ("/v1/instances/"), "/v1/instances");
  assert_string_equal (gvd_http_route_template ("/v1/devices/available"),
                       "/v1/devices/available");
  assert_string_equal (gvd_http_route_template ("/v1/devices/gpu0/clear"),
                       "/v1/devices/{name}/clear");
  assert_string_equal (gvd_http_route_template ("/v1/agent/heartbeat"), "/v1/agent/heartbeat");
  assert_string_equal (gvd_http_route_template ("/metrics"), "/metrics");
  assert_string_equal (gvd_http_route_template ("/v1/instances/web/console"),
                       "/v1/instances/{name}/console");
}

static void
route_template__unknown__other (void **state)
{
  g_autofree char *longp = g_strnfill (4000, 'a');

  longp[0] = '/';
  assert_string_equal (gvd_http_route_template ("/v1/instances/web/snapshots"),
                       "/v1/instances/{name}/snapshots");
  assert_string_equal (gvd_http_route_template ("/v1/instances/web/snapshots/a/revert"),
                       "/v1/instances/{name}/snapshots/{snapshot}/revert");
  assert_string_equal (gvd_http_route_template ("/v1/instances/web/explode"), "other");
  assert_string_equal (gvd_http_route_template ("/v1/instances//start"), "other");
  assert_string_equal (gvd_http_route_template ("/a/b/c/d/e/f/g/h/i/j"), "other");
  assert_string_equal (gvd_http_route_template ("/"), "other");
  assert_string_equal (gvd_http_route_template ("relative"), "other");
  assert_string_equal (gvd_http_route_template (NULL), "other");
  assert_string_equal (gvd_http_route_template (longp), "other");
  assert_string_equal (gvd_http_method_label ("BREW"), "other");
  assert_string_equal (gvd_http_method_label ("DELETE"), "DELETE");
  assert_string_equal (gvd_http_status_class (204), "2xx");
  assert_string_equal (gvd_http_status_class (599), "5xx");
  assert_string_equal (gvd_http_status_class (600), "other");
  assert_string_equal (gvd_http_status_class (0), "other");
}

static void
registry_render__requests_ops_reports__counted (void **state)
{
  g_autoptr(GvdMetricsRegistry) reg = gvd_metrics_registry_new ();
  g_autoptr(GString) out = g_string_new (NULL);

  gvd_metrics_registry_observe_http (reg, "/v1/instances", "POST", 201, 0.02);
  gvd_metrics_registry_observe_http (reg, "/v1/instances", "POST", 409, 0.001);
  gvd_metrics_registry_observe_http (reg, "/v1/instances", "POST", 201, 3);
  gvd_metrics_registry_observe_op (reg, "create", 12.5, NULL);
  gvd_metrics_registry_observe_op (reg, "create", 0.2, "insufficient_gpus");
  gvd_metrics_registry_observe_op (reg, "create", 0.2, "insufficient_gpus");
  gvd_metrics_registry_observe_op (reg, "explode", 1, NULL); /* ignored */
  gvd_metrics_registry_count_agent_report (reg, "heartbeat", TRUE);
  gvd_metrics_registry_count_agent_report (reg, "phone_home", FALSE);
  gvd_metrics_registry_render (reg, out);

  assert_non_null (strstr (out->str, "\ngpuvmd_http_requests_total{route=\"/v1/instances\","
                                     "method=\"POST\",code_class=\"2xx\"} 2\n"
                                     "gpuvmd_http_requests_total{route=\"/v1/instances\","
                                     "method=\"POST\",code_class=\"4xx\"} 1\n"));
  assert_non_null (strstr (out->str, "\ngpuvmd_http_request_duration_seconds_bucket{"
                                     "route=\"/v1/instances\",method=\"POST\",le=\"0.005\"} 1\n"));
  assert_non_null (strstr (out->str, "\ngpuvmd_http_request_duration_seconds_count{"
                                     "route=\"/v1/instances\",method=\"POST\"} 3\n"));
  assert_non_null (strstr (out->str, "\n# TYPE gpuvmd_instance_create_duration_seconds "
                                     "histogram\n"));
  /* The failures are not in the histogram. */
  assert_non_null (strstr (out->str, "\ngpuvmd_instance_create_duration_seconds_bucket{"
                                     "le=\"10\"} 0\ngpuvmd_instance_create_duration_seconds_bucket{"
                                     "le=\"20\"} 1\n"));
  assert_non_null (strstr (out->str, "\ngpuvmd_instance_create_duration_seconds_count 1\n"));
  assert_non_null (strstr (out->str, "\ngpuvmd_instance_delete_duration_seconds_count 0\n"));
  assert_non_null (strstr (out->str, "\ngpuvmd_instance_operation_failures_total{"
                                     "operation=\"create\",code=\"insufficient_gpus\"} 2\n"));
  assert_null (strstr (out->str, "explode"));
  assert_non_null (strstr (out->str, "\ngpuvmd_agent_reports_total{kind=\"heartbeat\","
                                     "result=\"accepted\"} 1\n"));
  assert_non_null (strstr (out->str, "\ngpuvmd_agent_reports_total{kind=\"phone_home\","
                                     "result=\"refused\"} 1\n"));
}

/* A client cannot grow the table: every path it sends folds into the fixed
 * set of templates. */
static void
registry_observe_http__hostile_paths__bounded (void **state)
{
  g_autoptr(GvdMetricsRegistry) reg = gvd_metrics_registry_new ();
  g_autoptr(GString) out = g_string_new (NULL);
  guint lines = 0;

  for (guint i = 0; i < 5000; i++)
    {
      g_autofree char *path = g_strdup_printf ("/v1/instances/vm%u/%s", i,
                                               i % 2 ? "start" : "x");
      gvd_metrics_registry_observe_http (reg, gvd_http_route_template (path),
                                         gvd_http_method_label (i % 3 ? "GET" : "X"), 200, 0);
    }
  gvd_metrics_registry_render (reg, out);
  for (const char *p = out->str; (p = strstr (p, "\ngpuvmd_http_requests_total{")) != NULL; p++)
    lines++;
  /* {start, other} x {GET, other} */
  assert_int_equal (lines, 4);
}

static GvdInstanceSpec *
spec_with_gpus (void)
{
  GvdInstanceSpec *spec = gvd_instance_spec_new ();
  const char *hosts[] = { "0000:41:00.0", "0000:41:00.1", "0000:c1:00.0" };
  const guint bus[] = { 0, 0, 1 };
  const guint fn[] = { 0, 1, 0 };

  for (guint i = 0; i < 3; i++)
    {
      GvdHostdevSpec *h = gvd_hostdev_spec_new ();

      h->host_address = g_strdup (hosts[i]);
      h->guest_bus = bus[i];
      h->guest_function = fn[i];
      g_ptr_array_add (spec->hostdevs, h);
    }
  return spec;
}

static void
guest_pci_host_address__nvidia_smi_bus_id__host_device (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = spec_with_gpus ();
  g_autofree char *a = gvd_guest_pci_host_address (spec, "00000000:01:00.0");
  g_autofree char *b = gvd_guest_pci_host_address (spec, "0000:01:00.1");
  g_autofree char *c = gvd_guest_pci_host_address (spec, "00000000:02:00.0");
  g_autofree char *none = gvd_guest_pci_host_address (spec, "0000:03:00.0");
  g_autofree char *bad = gvd_guest_pci_host_address (spec, "00000000:02:00.0x");

  assert_string_equal (a, "0000:41:00.0");
  assert_string_equal (b, "0000:41:00.1");
  assert_string_equal (c, "0000:c1:00.0");
  assert_null (none);
  assert_null (bad);
}

static void
guest_pci_normalize__forms__sysfs_lower_case (void **state)
{
  g_autofree char *a = gvd_guest_pci_normalize ("00000000:0A:00.0");
  g_autofree char *b = gvd_guest_pci_normalize ("0000:0a:1f.7");
  g_autofree char *c = gvd_guest_pci_normalize ("00000001:0a:00.0");
  g_autofree char *d = gvd_guest_pci_normalize ("");

  assert_string_equal (a, "0000:0a:00.0");
  assert_string_equal (b, "0000:0a:1f.7");
  assert_string_equal (c, "0001:0a:00.0");
  assert_null (d);
  assert_null (gvd_guest_pci_normalize ("0000000:0a:00.0"));
  assert_null (gvd_guest_pci_normalize (NULL));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (histogram_new__bad_bounds__null),
    cmocka_unit_test (histogram_render__observations__cumulative_buckets_sum_count),
    cmocka_unit_test (histogram_render__no_labels__le_only),
    cmocka_unit_test (append_value__special__prometheus_spelling),
    cmocka_unit_test (route_template__names__replaced_by_placeholders),
    cmocka_unit_test (route_template__unknown__other),
    cmocka_unit_test (registry_render__requests_ops_reports__counted),
    cmocka_unit_test (registry_observe_http__hostile_paths__bounded),
    cmocka_unit_test (guest_pci_host_address__nvidia_smi_bus_id__host_device),
    cmocka_unit_test (guest_pci_normalize__forms__sysfs_lower_case),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
