/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VFIO planner on the fixture hosts and on hand-built inventories:
 * complete plans, every refusal reason, the "N GPUs" choice order
 * (collateral, NUMA node, PCIe switch), cliques, MMIO, guest layout. */
#include "config.h"

#include "testlib.h"

#include "vfio-plan.h"
#include "hostinfo.h"

#include <string.h>

static GvdInventory *
scan_with (const char *scenario, const char *const *passthrough)
{
  g_autofree char *dir = gvd_test_data_path ("data", "hosts", scenario, NULL);
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (dir);
  g_autoptr(GError) error = NULL;
  GvdInventory *inv = gvd_hostinfo_scan (root, NULL, passthrough, &error);

  if (inv == NULL)
    fail_msg ("scan of %s failed: %s", scenario, error->message);
  return inv;
}

static GvdInventory *
scan (const char *scenario)
{
  return scan_with (scenario, NULL);
}

static GvdPlanRequest *
req_devices (const char *csv)
{
  GvdPlanRequest *r = gvd_plan_request_new ();

  r->devices = g_strsplit (csv, ",", 0);
  return r;
}

static GvdPlanRequest *
req_gpus (guint n)
{
  GvdPlanRequest *r = gvd_plan_request_new ();

  r->gpus = n;
  return r;
}

static GvdPlan *
plan_ok (const GvdInventory *inv, const GvdPlanRequest *req, GHashTable *claims)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdPlanRefusal) refusal = NULL;
  GvdPlan *plan = gvd_vfio_plan_compute (inv, req, claims, NULL, &refusal, &error);

  if (plan == NULL)
    fail_msg ("refused: %s", error->message);
  return plan;
}

/* Refused; returns the reasons, and checks the error's code. */
static GvdPlanRefusal *
plan_refused (const GvdInventory *inv, const GvdPlanRequest *req, GHashTable *claims,
              GHashTable *quarantined, GvdErrorCode code)
{
  g_autoptr(GError) error = NULL;
  GvdPlanRefusal *refusal = NULL;
  g_autoptr(GvdPlan) plan = gvd_vfio_plan_compute (inv, req, claims, quarantined, &refusal, &error);

  if (plan != NULL)
    fail_msg ("planned, expected %s", gvd_error_code_name (code));
  assert_non_null (refusal);
  if (!g_error_matches (error, GVD_ERROR, code))
    fail_msg ("error %s (%s), expected %s", gvd_error_code_name (gvd_error_get_code (error)),
              error->message, gvd_error_code_name (code));
  return refusal;
}

static const GvdPlanReason *
reason (const GvdPlanRefusal *r, guint i)
{
  assert_true (i < r->reasons->len);
  return g_ptr_array_index (r->reasons, i);
}

static void
assert_reason (const GvdPlanRefusal *r, guint i, GvdErrorCode code, const char *device,
               const char *peer, const char *peer_driver, const char *holder)
{
  const GvdPlanReason *x = reason (r, i);

  if (x->code != code)
    fail_msg ("reason %u is %s (%s), expected %s", i, gvd_error_code_name (x->code), x->message,
              gvd_error_code_name (code));
  assert_string_equal (x->device != NULL ? x->device : "(null)", device != NULL ? device : "(null)");
  assert_string_equal (x->peer != NULL ? x->peer : "(null)", peer != NULL ? peer : "(null)");
  assert_string_equal (x->peer_driver != NULL ? x->peer_driver : "(null)",
                       peer_driver != NULL ? peer_driver : "(null)");
  assert_string_equal (x->holder != NULL ? x->holder : "(null)", holder != NULL ? holder : "(null)");
  assert_true (x->message != NULL && strlen (x->message) > 20);
}

static const GvdPlanHostdev *
hostdev (const GvdPlan *plan, guint i)
{
  assert_true (i < plan->hostdevs->len);
  return g_ptr_array_index (plan->hostdevs, i);
}

static void
assert_hostdev (const GvdPlan *plan, guint i, const char *address, GvdPlanRole role,
                guint bus, guint function, gboolean multifunction, int clique)
{
  const GvdPlanHostdev *h = hostdev (plan, i);

  assert_string_equal (h->address, address);
  assert_int_equal (h->role, role);
  assert_int_equal (h->guest_bus, bus);
  assert_int_equal (h->guest_function, function);
  assert_int_equal (h->multifunction, multifunction);
  assert_int_equal (h->clique, clique);
}

static void
assert_gpus (const GvdPlan *plan, const char *const *want)
{
  guint n = g_strv_length ((char **) want);

  if (plan->gpus->len != n)
    fail_msg ("%u GPUs planned, expected %u (first %s)", plan->gpus->len, n,
              plan->gpus->len > 0 ? (char *) g_ptr_array_index (plan->gpus, 0) : "none");
  for (guint i = 0; i < n; i++)
    assert_string_equal (g_ptr_array_index (plan->gpus, i), want[i]);
}

static GHashTable *
table (const char *first, ...)
{
  GHashTable *t = g_hash_table_new (g_str_hash, g_str_equal);
  va_list ap;

  va_start (ap, first);
  for (const char *k = first; k != NULL; k = va_arg (ap, const char *))
    g_hash_table_insert (t, (gpointer) k, va_arg (ap, char *));
  va_end (ap);
  return t;
}

/* ---- workstation-2gpu: everything in one group ----------------------------------- */

static void
explicit__shared_group__every_group_conflict (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("workstation-2gpu");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:01:00.0");
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_GROUP_CONFLICT);

  /* The other GPU, its audio and the USB controller; not the bridges, not
   * the requested GPU's own audio function. */
  assert_int_equal (r->reasons->len, 3);
  assert_reason (r, 0, GVD_ERROR_GROUP_CONFLICT, "0000:01:00.0", "0000:00:14.0", "xhci_hcd", NULL);
  assert_reason (r, 1, GVD_ERROR_GROUP_CONFLICT, "0000:01:00.0", "0000:02:00.0", "nvidia", NULL);
  assert_reason (r, 2, GVD_ERROR_GROUP_CONFLICT, "0000:01:00.0", "0000:02:00.1", "snd_hda_intel",
                 NULL);
  assert_non_null (strstr (reason (r, 0)->message, "IOMMU group 2"));
}

static void
explicit__whole_group_requested__plan_with_layout (void **state)
{
  const char *pt[] = { "0000:00:14.0", NULL };
  g_autoptr(GvdInventory) inv = scan_with ("workstation-2gpu", pt);
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:02:00.0,01:00.0,0000:00:14.0");
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, NULL);

  assert_gpus (plan, (const char *const[]) { "0000:01:00.0", "0000:02:00.0", NULL });
  assert_int_equal (plan->hostdevs->len, 5);
  assert_hostdev (plan, 0, "0000:00:14.0", GVD_PLAN_ROLE_REQUESTED, 0, 0, FALSE, -1);
  assert_hostdev (plan, 1, "0000:01:00.0", GVD_PLAN_ROLE_REQUESTED, 1, 0, TRUE, -1);
  assert_hostdev (plan, 2, "0000:01:00.1", GVD_PLAN_ROLE_COMPANION, 1, 1, FALSE, -1);
  assert_hostdev (plan, 3, "0000:02:00.0", GVD_PLAN_ROLE_REQUESTED, 2, 0, TRUE, -1);
  assert_hostdev (plan, 4, "0000:02:00.1", GVD_PLAN_ROLE_COMPANION, 2, 1, FALSE, -1);
  assert_int_equal (plan->bridges_skipped->len, 2);
  assert_string_equal (g_ptr_array_index (plan->bridges_skipped, 0), "0000:00:01.0");
  assert_string_equal (g_ptr_array_index (plan->bridges_skipped, 1), "0000:00:01.1");
  assert_int_equal (plan->groups->len, 1);
  assert_int_equal (g_array_index (plan->groups, guint, 0), 2);
  assert_int_equal (plan->numa_nodes->len, 0);
  assert_int_equal (plan->n_cliques, 0); /* root ports, no switch */
  /* 2 x (256 + 32) MiB + 64 KiB of USB → 577 MiB → 1024 */
  assert_int_equal (plan->mmio64_mib, 1024);
  assert_false (plan->weakened_isolation);
}

static void
explicit__boot_vga__host_critical (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("workstation-2gpu");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:00:02.0");
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_HOST_CRITICAL);

  assert_int_equal (r->reasons->len, 1);
  assert_reason (r, 0, GVD_ERROR_HOST_CRITICAL, "0000:00:02.0", NULL, NULL, NULL);
  assert_non_null (strstr (reason (r, 0)->message, "boot VGA"));
}

static void
explicit__root_disk_unknown_and_bridge__every_reason (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("workstation-2gpu");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:03:00.0,0000:07:00.0,not-a-device,0000:00:1d.0");
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_PLAN_REFUSED);
  g_autoptr(JsonNode) details = gvd_plan_refusal_to_json (r);
  JsonArray *arr = json_node_get_array (details);
  JsonObject *o;

  assert_int_equal (r->reasons->len, 5);
  assert_reason (r, 0, GVD_ERROR_DEVICE_NOT_FOUND, "0000:07:00.0", NULL, NULL, NULL);
  assert_reason (r, 1, GVD_ERROR_DEVICE_NOT_FOUND, "not-a-device", NULL, NULL, NULL);
  assert_reason (r, 2, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, "0000:03:00.0", NULL, NULL, NULL);
  assert_reason (r, 3, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, "0000:00:1d.0", NULL, NULL, NULL);
  assert_reason (r, 4, GVD_ERROR_HOST_CRITICAL, "0000:03:00.0", NULL, NULL, NULL);
  assert_non_null (strstr (reason (r, 2)->message, "passthrough_devices"));
  assert_non_null (strstr (reason (r, 3)->message, "bridge"));
  assert_non_null (strstr (reason (r, 4)->message, "root filesystem"));

  assert_int_equal (json_array_get_length (arr), 5);
  o = json_array_get_object_element (arr, 4);
  assert_string_equal (json_object_get_string_member (o, "code"), "host_critical");
  assert_string_equal (json_object_get_string_member (o, "device"), "0000:03:00.0");
  assert_true (json_object_get_null_member (o, "peer"));
  assert_true (json_object_get_null_member (o, "holder"));
}

static void
gpus__workstation__insufficient_with_reasons (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("workstation-2gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (1);
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_INSUFFICIENT_GPUS);

  /* insufficient, then why: the iGPU is boot VGA, the two discrete GPUs
   * (one unit: their shared group) conflict with the USB controller. */
  assert_int_equal (r->reasons->len, 3);
  assert_reason (r, 0, GVD_ERROR_INSUFFICIENT_GPUS, NULL, NULL, NULL, NULL);
  assert_reason (r, 1, GVD_ERROR_HOST_CRITICAL, "0000:00:02.0", NULL, NULL, NULL);
  assert_reason (r, 2, GVD_ERROR_GROUP_CONFLICT, "0000:01:00.0", "0000:00:14.0", "xhci_hcd", NULL);
  assert_non_null (strstr (reason (r, 0)->message, "3 such GPUs, 0 of them free"));
}

/* ---- server-8gpu: choice order ------------------------------------------------------ */

static void
explicit__one_datacenter_gpu__plan (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:83:00.0");
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, NULL);

  assert_int_equal (plan->hostdevs->len, 1);
  assert_hostdev (plan, 0, "0000:83:00.0", GVD_PLAN_ROLE_REQUESTED, 0, 0, FALSE, -1);
  assert_string_equal (hostdev (plan, 0)->driver, "nvidia");
  assert_int_equal (plan->bridges_skipped->len, 0);
  assert_int_equal (plan->numa_nodes->len, 1);
  assert_int_equal (g_array_index (plan->numa_nodes, int, 0), 1);
  assert_int_equal (plan->n_cliques, 0);
  assert_int_equal (plan->mmio64_mib, 262144); /* 128 GiB + 32 MiB → 256 GiB */
}

static void
gpus__two__same_switch_one_clique (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (2);
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, NULL);

  assert_gpus (plan, (const char *const[]) { "0000:03:00.0", "0000:04:00.0", NULL });
  assert_hostdev (plan, 0, "0000:03:00.0", GVD_PLAN_ROLE_REQUESTED, 0, 0, FALSE, 0);
  assert_hostdev (plan, 1, "0000:04:00.0", GVD_PLAN_ROLE_REQUESTED, 1, 0, FALSE, 0);
  assert_int_equal (plan->n_cliques, 1);
  assert_int_equal (plan->mmio64_mib, 524288);
}

static void
gpus__two_one_claimed__prefers_a_whole_switch (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (2);
  g_autoptr(GHashTable) claims = table ("0000:03:00.0", "train-1", NULL);
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, claims);

  /* not 04 + 07 (two switches): 07 + 08 share one */
  assert_gpus (plan, (const char *const[]) { "0000:07:00.0", "0000:08:00.0", NULL });
  assert_int_equal (plan->n_cliques, 1);
}

static void
gpus__four__one_node_two_cliques (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (4);
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, NULL);

  assert_gpus (plan, (const char *const[]) { "0000:03:00.0", "0000:04:00.0", "0000:07:00.0",
                                             "0000:08:00.0", NULL });
  assert_int_equal (plan->n_cliques, 2);
  assert_int_equal (hostdev (plan, 0)->clique, 0);
  assert_int_equal (hostdev (plan, 1)->clique, 0);
  assert_int_equal (hostdev (plan, 2)->clique, 1);
  assert_int_equal (hostdev (plan, 3)->clique, 1);
  assert_int_equal (plan->numa_nodes->len, 1);
}

static void
gpus__four_one_claimed__prefers_one_numa_node (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (4);
  g_autoptr(GHashTable) claims = table ("0000:04:00.0", "train-1", NULL);
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, claims);

  assert_gpus (plan, (const char *const[]) { "0000:83:00.0", "0000:84:00.0", "0000:87:00.0",
                                             "0000:88:00.0", NULL });
  assert_int_equal (plan->numa_nodes->len, 1);
  assert_int_equal (g_array_index (plan->numa_nodes, int, 0), 1);
}

static void
gpus__three__one_node_fewest_switches (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (3);
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, NULL);

  assert_gpus (plan, (const char *const[]) { "0000:03:00.0", "0000:04:00.0", "0000:07:00.0",
                                             NULL });
  assert_int_equal (plan->n_cliques, 1); /* 07 has no partner: clique -1 */
  assert_int_equal (hostdev (plan, 2)->clique, -1);
}

static void
gpus__five__spans_nodes (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (5);
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, NULL);

  assert_int_equal (plan->gpus->len, 5);
  assert_int_equal (plan->numa_nodes->len, 2);
  assert_int_equal (plan->n_cliques, 2);
}

static void
gpus__model_filter__matches_and_misses (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) ok = req_gpus (8);
  g_autoptr(GvdPlanRequest) miss = req_gpus (1);
  g_autoptr(GvdPlan) plan = NULL;
  g_autoptr(GvdPlanRefusal) r = NULL;

  ok->vendor = g_strdup ("NVIDIA");
  ok->model = g_strdup ("a100");
  plan = plan_ok (inv, ok, NULL);
  assert_int_equal (plan->gpus->len, 8);
  assert_int_equal (plan->n_cliques, 4);
  miss->model = g_strdup ("H100");
  r = plan_refused (inv, miss, NULL, NULL, GVD_ERROR_INSUFFICIENT_GPUS);
  assert_int_equal (r->reasons->len, 1);
  assert_non_null (strstr (reason (r, 0)->message, "model 'H100'"));
}

static void
gpus__nine__insufficient_names_the_bmc (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (9);
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_INSUFFICIENT_GPUS);

  /* the BMC's VGA (boot VGA) is a display controller the host keeps */
  assert_int_equal (r->reasons->len, 2);
  assert_reason (r, 1, GVD_ERROR_HOST_CRITICAL, "0000:0c:00.0", NULL, NULL, NULL);
}

static void
explicit__claimed_and_quarantined__in_use_with_holder (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:03:00.0,0000:04:00.0,0000:07:00.0");
  g_autoptr(GHashTable) claims = table ("0000:03:00.0", "train-1", "0000:07:00.0", "infer-2", NULL);
  g_autoptr(GHashTable) quarantined = table ("0000:04:00.0", "fell off the bus", NULL);
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, claims, quarantined,
                                              GVD_ERROR_PLAN_REFUSED);

  assert_int_equal (r->reasons->len, 3);
  assert_reason (r, 0, GVD_ERROR_DEVICE_IN_USE, "0000:03:00.0", NULL, NULL, "train-1");
  assert_reason (r, 1, GVD_ERROR_DEVICE_QUARANTINED, "0000:04:00.0", NULL, NULL, NULL);
  assert_reason (r, 2, GVD_ERROR_DEVICE_IN_USE, "0000:07:00.0", NULL, NULL, "infer-2");
  assert_non_null (strstr (reason (r, 0)->message, "'train-1'"));
}

static void
explicit__bmc_vga_behind_bridge__host_critical_bridge_in_group (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:0c:00.0");
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_HOST_CRITICAL);

  /* the AST bridge shares the group but is skipped, not a conflict */
  assert_int_equal (r->reasons->len, 1);
  assert_reason (r, 0, GVD_ERROR_HOST_CRITICAL, "0000:0c:00.0", NULL, NULL, NULL);
}

static void
plan__same_inputs__same_json (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) req = req_gpus (6);
  g_autoptr(GHashTable) c1 = table ("0000:83:00.0", "a", "0000:07:00.0", "b", NULL);
  g_autoptr(GHashTable) c2 = table ("0000:07:00.0", "b", "0000:83:00.0", "a", NULL);
  g_autoptr(GvdPlan) p1 = plan_ok (inv, req, c1);
  g_autoptr(GvdPlan) p2 = plan_ok (inv, req, c2);
  g_autoptr(JsonNode) j1 = gvd_vfio_plan_to_json (p1);
  g_autoptr(JsonNode) j2 = gvd_vfio_plan_to_json (p2);
  g_autofree char *s1 = json_to_string (j1, FALSE);
  g_autofree char *s2 = json_to_string (j2, FALSE);

  assert_string_equal (s1, s2);
  assert_int_equal (gvd_test_json_int (j1, "mmio64_mib"), 1048576);
  assert_string_equal (gvd_test_json_string (j1, "isolation"), "isolated");
}

/* ---- no-iommu, amd-gpu, sriov-mdev ------------------------------------------------ */

static void
no_iommu__any_request__no_iommu (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("no-iommu");
  g_autoptr(GvdPlanRequest) gpus = req_gpus (1);
  g_autoptr(GvdPlanRequest) devs = req_devices ("0000:01:00.0,0000:05:00.0");
  g_autoptr(GvdPlanRefusal) r1 = plan_refused (inv, gpus, NULL, NULL, GVD_ERROR_NO_IOMMU);
  g_autoptr(GvdPlanRefusal) r2 = plan_refused (inv, devs, NULL, NULL, GVD_ERROR_PLAN_REFUSED);

  assert_int_equal (r1->reasons->len, 1);
  assert_reason (r1, 0, GVD_ERROR_NO_IOMMU, NULL, NULL, NULL, NULL);
  assert_non_null (strstr (reason (r1, 0)->message, "intel_iommu=on"));
  assert_int_equal (r2->reasons->len, 2);
  assert_reason (r2, 1, GVD_ERROR_DEVICE_NOT_FOUND, "0000:05:00.0", NULL, NULL, NULL);
}

static void
amd__acs_override__weakened_unless_allowed (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("amd-gpu");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:0c:00.0");
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_WEAKENED_ISOLATION);
  g_autoptr(GvdPlan) plan = NULL;
  g_autoptr(JsonNode) json = NULL;

  assert_int_equal (r->reasons->len, 1);
  assert_reason (r, 0, GVD_ERROR_WEAKENED_ISOLATION, "0000:0c:00.0", NULL, NULL, NULL);
  assert_non_null (strstr (reason (r, 0)->message, "allow_weakened_isolation"));

  req->allow_weakened_isolation = TRUE;
  plan = plan_ok (inv, req, NULL);
  assert_int_equal (plan->hostdevs->len, 2);
  assert_hostdev (plan, 0, "0000:0c:00.0", GVD_PLAN_ROLE_REQUESTED, 0, 0, TRUE, -1);
  assert_hostdev (plan, 1, "0000:0c:00.1", GVD_PLAN_ROLE_COMPANION, 0, 1, FALSE, -1);
  assert_true (plan->weakened_isolation);
  assert_int_equal (plan->mmio64_mib, 512); /* 258 MiB */
  json = gvd_vfio_plan_to_json (plan);
  assert_string_equal (gvd_test_json_string (json, "isolation"), "weakened");
}

static void
sriov__vfs__each_its_own_guest_device (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("sriov-mdev");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:41:00.5,0000:41:00.4");
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, NULL);

  assert_int_equal (plan->hostdevs->len, 2);
  assert_hostdev (plan, 0, "0000:41:00.4", GVD_PLAN_ROLE_REQUESTED, 0, 0, FALSE, -1);
  assert_hostdev (plan, 1, "0000:41:00.5", GVD_PLAN_ROLE_REQUESTED, 1, 0, FALSE, -1);
  assert_int_equal (plan->mmio64_mib, 2048); /* 2 x 1 GiB */
  assert_int_equal (plan->groups->len, 2);
}

static void
sriov__gpus__skips_pf_with_vfs (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("sriov-mdev");
  g_autoptr(GvdPlanRequest) one = req_gpus (1);
  g_autoptr(GvdPlanRequest) two = req_gpus (2);
  g_autoptr(GvdPlan) plan = plan_ok (inv, one, NULL);
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, two, NULL, NULL, GVD_ERROR_INSUFFICIENT_GPUS);

  assert_gpus (plan, (const char *const[]) { "0000:81:00.0", NULL });
  assert_int_equal (r->reasons->len, 2);
  assert_reason (r, 1, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, "0000:41:00.0", NULL, NULL, NULL);
}

/* ---- hand-built inventories ---------------------------------------------------- */

static GvdPciDevice *
mkdev (const char *address, guint32 class_code, int group, const char *driver, int numa)
{
  GvdPciDevice *d = gvd_pci_device_new (address);

  d->class_code = class_code;
  d->vendor_id = 0x10de;
  d->iommu_group = group;
  d->driver = g_strdup (driver);
  d->numa_node = numa;
  d->is_bridge = (class_code >> 8) == 0x0604;
  return d;
}

static void
companions__separate_group__policy_decides (void **state)
{
  g_autoptr(GvdInventory) inv = gvd_inventory_new ();
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:05:00.0");
  g_autoptr(GvdPlan) with = NULL;
  g_autoptr(GvdPlan) without = NULL;

  gvd_inventory_add_device (inv, mkdev ("0000:05:00.0", 0x030000, 7, "nvidia", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:05:00.1", 0x040300, 8, "snd_hda_intel", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:05:00.2", 0x0c0330, 8, NULL, 0));
  gvd_inventory_finish (inv);

  with = plan_ok (inv, req, NULL);
  assert_int_equal (with->hostdevs->len, 3);
  assert_hostdev (with, 0, "0000:05:00.0", GVD_PLAN_ROLE_REQUESTED, 0, 0, TRUE, -1);
  assert_hostdev (with, 1, "0000:05:00.1", GVD_PLAN_ROLE_COMPANION, 0, 1, FALSE, -1);
  assert_hostdev (with, 2, "0000:05:00.2", GVD_PLAN_ROLE_COMPANION, 0, 2, FALSE, -1);
  assert_int_equal (with->groups->len, 2);
  assert_int_equal (g_array_index (with->numa_nodes, int, 0), 0);

  req->include_companions = FALSE;
  without = plan_ok (inv, req, NULL);
  assert_int_equal (without->hostdevs->len, 1);
  assert_hostdev (without, 0, "0000:05:00.0", GVD_PLAN_ROLE_REQUESTED, 0, 0, FALSE, -1);
}

/* ---- vfio-rig: the emulated-IOMMU rig of `make check-vfio` ---------------------- */

/* The rig found it: planning the ICH9 SMBus function took the AHCI
 * controller (the host's disk) and the LPC bridge along as "companions". */
static void
rig__smbus_beside_ahci__group_conflict_names_ahci_and_lpc (void **state)
{
  const char *pt[] = { "0000:00:1f.3", NULL };
  g_autoptr(GvdInventory) inv = scan_with ("vfio-rig", pt);
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:00:1f.3");
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_GROUP_CONFLICT);

  assert_int_equal (r->reasons->len, 2);
  assert_reason (r, 0, GVD_ERROR_GROUP_CONFLICT, "0000:00:1f.3", "0000:00:1f.2", "ahci", NULL);
  assert_non_null (strstr (reason (r, 0)->message, "IOMMU group 10"));
  /* The LPC bridge is never passed, and bound to lpc_ich it keeps the
   * group from VFIO. */
  assert_reason (r, 1, GVD_ERROR_GROUP_CONFLICT, "0000:00:1f.3", "0000:00:1f.0", "lpc_ich", NULL);
  assert_non_null (strstr (reason (r, 1)->message, "bridge"));
  assert_int_equal (gvd_inventory_lookup (inv, "0000:00:1f.3")->companions->len, 0);

  /* Without include_companions the same group is still refused. */
  req->include_companions = FALSE;
  g_clear_pointer (&r, gvd_plan_refusal_free);
  r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_GROUP_CONFLICT);
  assert_reason (r, 0, GVD_ERROR_GROUP_CONFLICT, "0000:00:1f.3", "0000:00:1f.2", "ahci", NULL);
}

/* An unbound ISA/LPC bridge (class 0x0601, not a PCI-to-PCI bridge) in a
 * GPU's group stays with the host: skipped, never passed. */
static void
bridge_class_unbound_in_group__skipped_never_passed (void **state)
{
  g_autoptr(GvdInventory) inv = gvd_inventory_new ();
  g_autoptr(GvdPlanRequest) req = req_gpus (1);
  g_autoptr(GvdPlan) plan = NULL;

  gvd_inventory_add_device (inv, mkdev ("0000:00:1f.0", 0x060100, 3, NULL, 0));
  gvd_inventory_add_device (inv, mkdev ("0000:00:1f.4", 0x030000, 3, NULL, 0));
  gvd_inventory_finish (inv);

  plan = plan_ok (inv, req, NULL);
  assert_int_equal (plan->hostdevs->len, 1);
  assert_string_equal (hostdev (plan, 0)->address, "0000:00:1f.4");
  assert_int_equal (plan->bridges_skipped->len, 1);
  assert_string_equal (g_ptr_array_index (plan->bridges_skipped, 0), "0000:00:1f.0");
}

static void
rig__lpc_bridge_requested__refused_as_bridge (void **state)
{
  const char *pt[] = { "0000:00:1f.0", NULL };
  g_autoptr(GvdInventory) inv = scan_with ("vfio-rig", pt);
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:00:1f.0");
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_PLAN_REFUSED);

  assert_reason (r, 0, GVD_ERROR_NOT_PASSTHROUGH_CAPABLE, "0000:00:1f.0", NULL, NULL, NULL);
  assert_non_null (strstr (reason (r, 0)->message, "bridge"));
}

/* An ISA/LPC bridge bound to a host driver keeps its whole group from VFIO. */
static void
bridge_class_bound_in_group__group_conflict (void **state)
{
  g_autoptr(GvdInventory) inv = gvd_inventory_new ();
  g_autoptr(GvdPlanRequest) req = req_gpus (1);
  g_autoptr(GvdPlanRefusal) r = NULL;

  gvd_inventory_add_device (inv, mkdev ("0000:00:1f.0", 0x060100, 3, "lpc_ich", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:00:1f.4", 0x030000, 3, NULL, 0));
  gvd_inventory_finish (inv);

  r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_INSUFFICIENT_GPUS);
  g_clear_pointer (&req, gvd_plan_request_free);
  req = req_devices ("0000:00:1f.4");
  g_clear_pointer (&r, gvd_plan_refusal_free);
  r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_GROUP_CONFLICT);
  assert_reason (r, 0, GVD_ERROR_GROUP_CONFLICT, "0000:00:1f.4", "0000:00:1f.0", "lpc_ich", NULL);
}

static void
rig__bridge_group__conflict_names_the_other_device (void **state)
{
  const char *pt[] = { "0000:05:02.0", NULL };
  g_autoptr(GvdInventory) inv = scan_with ("vfio-rig", pt);
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:05:02.0");
  g_autoptr(GvdPlanRefusal) r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_GROUP_CONFLICT);

  assert_int_equal (r->reasons->len, 1);
  assert_reason (r, 0, GVD_ERROR_GROUP_CONFLICT, "0000:05:02.0", "0000:05:01.0", "virtio-pci",
                 NULL);
}

static void
rig__one_gpu__the_display_alone_not_the_boot_vga (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("vfio-rig");
  g_autoptr(GvdPlanRequest) req = req_gpus (1);
  g_autoptr(GvdPlan) plan = plan_ok (inv, req, NULL);
  g_autoptr(GvdPlanRequest) two = req_gpus (2);
  g_autoptr(GvdPlanRefusal) r = NULL;

  assert_gpus (plan, (const char *const[]) { "0000:01:00.0", NULL });
  assert_int_equal (plan->hostdevs->len, 1);
  assert_int_equal (g_array_index (plan->groups, guint, 0), 6);
  r = plan_refused (inv, two, NULL, NULL, GVD_ERROR_INSUFFICIENT_GPUS);
}

/* A host-used function on a GPU's slot (a NIC port, a storage controller)
 * is not a companion: planning the GPU does not take it. */
static void
companions__other_classes__never_companions (void **state)
{
  g_autoptr(GvdInventory) inv = gvd_inventory_new ();
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:05:00.0");
  g_autoptr(GvdPlan) plan = NULL;
  const GvdPciDevice *gpu;

  gvd_inventory_add_device (inv, mkdev ("0000:05:00.0", 0x030000, 7, "nvidia", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:05:00.1", 0x040300, 7, "snd_hda_intel", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:05:00.2", 0x020000, 8, "e1000e", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:05:00.3", 0x010601, 9, "ahci", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:05:00.4", 0x0c8000, 10, NULL, 0));
  gvd_inventory_finish (inv);

  gpu = gvd_inventory_lookup (inv, "0000:05:00.0");
  assert_int_equal (gpu->companions->len, 2);
  assert_string_equal (g_ptr_array_index (gpu->companions, 0), "0000:05:00.1");
  assert_string_equal (g_ptr_array_index (gpu->companions, 1), "0000:05:00.4");
  assert_int_equal (gvd_inventory_lookup (inv, "0000:05:00.2")->companions->len, 0);

  plan = plan_ok (inv, req, NULL);
  assert_int_equal (plan->hostdevs->len, 3);
  assert_hostdev (plan, 0, "0000:05:00.0", GVD_PLAN_ROLE_REQUESTED, 0, 0, TRUE, -1);
  assert_hostdev (plan, 1, "0000:05:00.1", GVD_PLAN_ROLE_COMPANION, 0, 1, FALSE, -1);
  assert_hostdev (plan, 2, "0000:05:00.4", GVD_PLAN_ROLE_COMPANION, 0, 2, FALSE, -1);
}

/* A companion bound to a driver that does not serve a GPU function is in
 * use by the host: refused like a busy group peer, unless left behind. */
static void
companions__bound_to_host_driver__refused_unless_left_behind (void **state)
{
  g_autoptr(GvdInventory) inv = gvd_inventory_new ();
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:05:00.0");
  g_autoptr(GvdPlanRefusal) r = NULL;
  g_autoptr(GvdPlan) plan = NULL;

  gvd_inventory_add_device (inv, mkdev ("0000:05:00.0", 0x030000, 7, "nvidia", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:05:00.2", 0x0c8000, 8, "i2c_designware_pci", 0));
  gvd_inventory_finish (inv);

  r = plan_refused (inv, req, NULL, NULL, GVD_ERROR_GROUP_CONFLICT);
  assert_int_equal (r->reasons->len, 1);
  assert_reason (r, 0, GVD_ERROR_GROUP_CONFLICT, "0000:05:00.0", "0000:05:00.2",
                 "i2c_designware_pci", NULL);
  req->include_companions = FALSE;
  plan = plan_ok (inv, req, NULL);
  assert_int_equal (plan->hostdevs->len, 1);
}

static void
gpus__collateral__fewest_unbound_peers_first (void **state)
{
  g_autoptr(GvdInventory) inv = gvd_inventory_new ();
  g_autoptr(GvdPlanRequest) req = req_gpus (1);
  g_autoptr(GvdPlanRequest) both = req_gpus (2);
  g_autoptr(GvdPlan) plan = NULL;
  g_autoptr(GvdPlan) plan2 = NULL;

  /* 01: shares its group with an unbound device (collateral 1), on node 0;
   * 81: alone, on node 1. Collateral outranks address order. */
  gvd_inventory_add_device (inv, mkdev ("0000:01:00.0", 0x030200, 1, "nvidia", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:02:00.0", 0x088000, 1, NULL, 0));
  gvd_inventory_add_device (inv, mkdev ("0000:81:00.0", 0x030200, 2, "vfio-pci", 1));
  gvd_inventory_finish (inv);

  plan = plan_ok (inv, req, NULL);
  assert_gpus (plan, (const char *const[]) { "0000:81:00.0", NULL });
  plan2 = plan_ok (inv, both, NULL);
  assert_int_equal (plan2->hostdevs->len, 3);
  assert_hostdev (plan2, 1, "0000:02:00.0", GVD_PLAN_ROLE_GROUP_PEER, 1, 0, FALSE, -1);
  assert_int_equal (plan2->numa_nodes->len, 2);
}

static void
gpus__group_of_two__taken_whole_or_not_at_all (void **state)
{
  g_autoptr(GvdInventory) inv = gvd_inventory_new ();
  g_autoptr(GvdPlanRequest) one = req_gpus (1);
  g_autoptr(GvdPlanRequest) two = req_gpus (2);
  g_autoptr(GvdPlanRefusal) r = NULL;
  g_autoptr(GvdPlan) plan = NULL;

  gvd_inventory_add_device (inv, mkdev ("0000:01:00.0", 0x030200, 1, "nvidia", 0));
  gvd_inventory_add_device (inv, mkdev ("0000:02:00.0", 0x030200, 1, "nvidia", 0));
  gvd_inventory_finish (inv);

  r = plan_refused (inv, one, NULL, NULL, GVD_ERROR_INSUFFICIENT_GPUS);
  assert_non_null (strstr (reason (r, 0)->message, "no set of whole IOMMU groups"));
  plan = plan_ok (inv, two, NULL);
  assert_gpus (plan, (const char *const[]) { "0000:01:00.0", "0000:02:00.0", NULL });
}

static void
request__invalid__invalid_argument_without_refusal (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("server-8gpu");
  g_autoptr(GvdPlanRequest) none = gvd_plan_request_new ();
  g_autoptr(GvdPlanRequest) both = req_devices ("0000:03:00.0");
  g_autoptr(GvdPlanRequest) many = req_gpus (GVD_PLAN_MAX_GPUS + 1);
  GvdPlanRequest *bad[] = { none, both, many };

  both->gpus = 1;
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdPlanRefusal) refusal = NULL;
      g_autoptr(GvdPlan) plan = gvd_vfio_plan_compute (inv, bad[i], NULL, NULL, &refusal, &error);

      assert_null (plan);
      assert_null (refusal);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
    }
}

static void
to_hostdevs__plan__specs_follow_layout (void **state)
{
  g_autoptr(GvdInventory) inv = scan ("amd-gpu");
  g_autoptr(GvdPlanRequest) req = req_devices ("0000:0c:00.0");
  g_autoptr(GvdPlan) plan = NULL;
  g_autoptr(GPtrArray) specs = NULL;
  const GvdHostdevSpec *s0, *s1;

  req->allow_weakened_isolation = TRUE;
  plan = plan_ok (inv, req, NULL);
  specs = gvd_vfio_plan_to_hostdevs (plan);
  assert_int_equal (specs->len, 2);
  s0 = g_ptr_array_index (specs, 0);
  s1 = g_ptr_array_index (specs, 1);
  assert_string_equal (s0->host_address, "0000:0c:00.0");
  assert_null (s0->mdev_uuid);
  assert_int_equal (s0->guest_bus, 0);
  assert_int_equal (s0->guest_slot, 0);
  assert_int_equal (s0->guest_function, 0);
  assert_true (s0->multifunction);
  assert_int_equal (s0->clique, -1);
  assert_string_equal (s1->host_address, "0000:0c:00.1");
  assert_int_equal (s1->guest_bus, 0);
  assert_int_equal (s1->guest_function, 1);
  assert_false (s1->multifunction);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (explicit__shared_group__every_group_conflict),
    cmocka_unit_test (explicit__whole_group_requested__plan_with_layout),
    cmocka_unit_test (explicit__boot_vga__host_critical),
    cmocka_unit_test (explicit__root_disk_unknown_and_bridge__every_reason),
    cmocka_unit_test (gpus__workstation__insufficient_with_reasons),
    cmocka_unit_test (explicit__one_datacenter_gpu__plan),
    cmocka_unit_test (gpus__two__same_switch_one_clique),
    cmocka_unit_test (gpus__two_one_claimed__prefers_a_whole_switch),
    cmocka_unit_test (gpus__four__one_node_two_cliques),
    cmocka_unit_test (gpus__four_one_claimed__prefers_one_numa_node),
    cmocka_unit_test (gpus__three__one_node_fewest_switches),
    cmocka_unit_test (gpus__five__spans_nodes),
    cmocka_unit_test (gpus__model_filter__matches_and_misses),
    cmocka_unit_test (gpus__nine__insufficient_names_the_bmc),
    cmocka_unit_test (explicit__claimed_and_quarantined__in_use_with_holder),
    cmocka_unit_test (explicit__bmc_vga_behind_bridge__host_critical_bridge_in_group),
    cmocka_unit_test (plan__same_inputs__same_json),
    cmocka_unit_test (no_iommu__any_request__no_iommu),
    cmocka_unit_test (amd__acs_override__weakened_unless_allowed),
    cmocka_unit_test (sriov__vfs__each_its_own_guest_device),
    cmocka_unit_test (sriov__gpus__skips_pf_with_vfs),
    cmocka_unit_test (companions__separate_group__policy_decides),
    cmocka_unit_test (gpus__collateral__fewest_unbound_peers_first),
    cmocka_unit_test (gpus__group_of_two__taken_whole_or_not_at_all),
    cmocka_unit_test (request__invalid__invalid_argument_without_refusal),
    cmocka_unit_test (to_hostdevs__plan__specs_follow_layout),
    cmocka_unit_test (rig__smbus_beside_ahci__group_conflict_names_ahci_and_lpc),
    cmocka_unit_test (bridge_class_unbound_in_group__skipped_never_passed),
    cmocka_unit_test (rig__lpc_bridge_requested__refused_as_bridge),
    cmocka_unit_test (bridge_class_bound_in_group__group_conflict),
    cmocka_unit_test (rig__bridge_group__conflict_names_the_other_device),
    cmocka_unit_test (rig__one_gpu__the_display_alone_not_the_boot_vga),
    cmocka_unit_test (companions__other_classes__never_companions),
    cmocka_unit_test (companions__bound_to_host_driver__refused_unless_left_behind),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
