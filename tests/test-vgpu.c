/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vGPUs below the instance manager: the "vgpu" request member, mdev claims
 * and the parents they hold, the planner (capacity, creates in flight,
 * whole-GPU exclusion, order), sysfs read live on the sriov-mdev fixture
 * with the kernel double making mdevs, and the node device XML. */
#include "config.h"

#include "testlib.h"
#include "mdev-fake.h"

#include <string.h>

#include "claims.h"
#include "errors.h"
#include "hostinfo-vgpu.h"
#include "instance-request.h"
#include "mdev.h"
#include "vgpu.h"

#define T4 "0000:81:00.0"
#define VF0 "0000:41:00.4"
#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"

/* ---- request ---------------------------------------------------------------- */

static GvdCreateRequest *
parse (const char *vgpu_json, GError **error)
{
  g_autofree char *body = g_strdup_printf ("{\"name\": \"v\", \"image\": \"base.qcow2\", "
                                           "\"vgpu\": %s}", vgpu_json);
  g_autoptr(JsonNode) node = json_from_string (body, NULL);

  assert_non_null (node);
  return gvd_create_request_parse (json_node_get_object (node), error);
}

static void
request__object_with_count__one_entry_per_vgpu (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = parse ("{\"type\": \"nvidia-222\", \"count\": 3}", &error);
  const GvdVgpuRequest *r;

  assert_non_null (req);
  assert_int_equal (req->vgpus->len, 3);
  r = g_ptr_array_index (req->vgpus, 2);
  assert_string_equal (r->type, "nvidia-222");
  assert_null (r->parent);
  assert_string_equal (r->field, "vgpu");
}

static void
request__array_with_parent__fields_named_by_index (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req =
    parse ("[{\"type\": \"nvidia-222\"}, {\"type\": \"nvidia-592\", \"parent\": \"vf0\"}]", &error);
  const GvdVgpuRequest *r;

  assert_non_null (req);
  assert_int_equal (req->vgpus->len, 2);
  r = g_ptr_array_index (req->vgpus, 1);
  assert_string_equal (r->type, "nvidia-592");
  assert_string_equal (r->parent, "vf0");
  assert_string_equal (r->field, "vgpu[1]");
}

static void
request__bad_members__invalid_argument_naming_the_field (void **state)
{
  static const struct {
    const char *json;
    const char *needle;
  } cases[] = {
    { "3", "'vgpu' must be an object" },
    { "[]", "'vgpu' is empty" },
    { "{}", "'vgpu.type' is required" },
    { "{\"type\": 63}", "'vgpu.type' must be a string" },
    { "{\"type\": \"nvidia 63\"}", "'vgpu.type' must be an mdev type id" },
    { "{\"type\": \"../../x\"}", "'vgpu.type' must be an mdev type id" },
    { "[{\"type\": \"nvidia-1\"}, {\"type\": \"\"}]", "'vgpu[1].type'" },
    { "{\"type\": \"nvidia-1\", \"count\": 0}", "'vgpu.count' must be from 1 to 16" },
    { "{\"type\": \"nvidia-1\", \"count\": 17}", "'vgpu.count' must be from 1 to 16" },
    { "{\"type\": \"nvidia-1\", \"count\": \"2\"}", "'vgpu.count' must be a whole number" },
    { "{\"type\": \"nvidia-1\", \"parent\": \"\"}", "'vgpu.parent' must be a PCI address" },
    { "{\"type\": \"nvidia-1\", \"parent\": \"a\\nb\"}", "'vgpu.parent'" },
    { "{\"type\": \"nvidia-1\", \"model\": \"T4\"}", "unknown member 'vgpu.model'" },
    { "[{\"type\": \"nvidia-1\", \"count\": 16}, {\"type\": \"nvidia-1\"}]",
      "'vgpu[1]': at most 16 vGPUs" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GvdCreateRequest) req = parse (cases[i].json, &error);

      if (req != NULL)
        fail_msg ("%s: accepted", cases[i].json);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      if (strstr (error->message, cases[i].needle) == NULL)
        fail_msg ("%s: '%s' lacks '%s'", cases[i].json, error->message, cases[i].needle);
    }
}

static void
request__with_reservation__refused (void **state)
{
  g_autoptr(JsonNode) node = json_from_string ("{\"name\": \"v\", \"image\": \"i\", "
                                               "\"reservation\": \"r1\", "
                                               "\"vgpu\": {\"type\": \"nvidia-222\"}}", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdCreateRequest) req = gvd_create_request_parse (json_node_get_object (node), &error);

  assert_null (req);
  assert_non_null (strstr (error->message, "'vgpu'"));
}

/* ---- claims ---------------------------------------------------------------------- */

static void
claims__mdevs__parent_held_for_vgpus_until_the_last_goes (void **state)
{
  g_autoptr(GvdClaims) claims = gvd_claims_new ();
  g_autoptr(GHashTable) keep = g_hash_table_new (g_str_hash, g_str_equal);

  gvd_claims_add_mdev (claims, U2, T4, "nvidia-222", "b");
  gvd_claims_add_mdev (claims, "11111111-1111-4111-8111-11111111111A", T4, "nvidia-222", "a");
  /* Looked up case-insensitively, as libvirt and sysfs may spell them. */
  assert_string_equal (gvd_claims_get_mdev (claims, "11111111-1111-4111-8111-11111111111a")->holder,
                       "a");
  assert_string_equal (gvd_claims_get_holder (claims, T4), "vgpu:a,b");
  gvd_claims_release (claims, "a");
  assert_string_equal (gvd_claims_get_holder (claims, T4), "vgpu:b");
  /* Recovery keeps only the creates in flight. */
  g_hash_table_add (keep, (gpointer) "b");
  gvd_claims_retain_mdevs (claims, keep);
  assert_string_equal (gvd_claims_get_holder (claims, T4), "vgpu:b");
  gvd_claims_retain_mdevs (claims, NULL);
  assert_null (gvd_claims_get_holder (claims, T4));
  assert_null (gvd_claims_get_mdev (claims, U2));
  assert_int_equal (gvd_claims_count (claims), 0);
}

static void
claims__parent_held_whole__not_taken_over (void **state)
{
  g_autoptr(GvdClaims) claims = gvd_claims_new ();

  gvd_claims_set_holder (claims, T4, "train");
  gvd_claims_add_mdev (claims, U1, T4, "nvidia-222", "domain:hand-made");
  assert_string_equal (gvd_claims_get_holder (claims, T4), "train");
  gvd_claims_release (claims, "domain:hand-made");
  assert_string_equal (gvd_claims_get_holder (claims, T4), "train");
}

/* ---- planner ---------------------------------------------------------------------- */

static GvdVgpuParent *
parent (const char *address, int numa, const char *type, guint available)
{
  GvdVgpuParent *p = gvd_vgpu_parent_new (address);
  GvdVgpuType *t = gvd_vgpu_type_new ();

  p->numa_node = numa;
  t->type = g_strdup (type);
  t->available = available;
  g_ptr_array_add (p->types, t);
  return p;
}

static GPtrArray *
requests (const char *type, guint n, const char *on)
{
  GPtrArray *r = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_request_free);

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (r, gvd_vgpu_request_new (type, on));
  return r;
}

static char *
counter_uuid (gpointer data)
{
  guint *n = data;

  return g_strdup_printf ("00000000-0000-4000-8000-%012u", ++*n);
}

static GPtrArray *
plan (GPtrArray *parents, GPtrArray *reqs, GvdClaims *claims, const char *const *exclude,
      int numa, GError **error)
{
  guint n = 0;

  return gvd_vgpu_plan (parents, reqs, claims, exclude, numa, counter_uuid, &n, error);
}

static GPtrArray *
two_parents (void)
{
  GPtrArray *parents = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_parent_free);

  g_ptr_array_add (parents, parent ("0000:41:00.0", 0, "nvidia-63", 2));
  g_ptr_array_add (parents, parent (T4, 1, "nvidia-63", 4));
  return parents;
}

static void
plan__numa_preference__parent_on_that_node (void **state)
{
  g_autoptr(GPtrArray) parents = two_parents ();
  g_autoptr(GPtrArray) reqs = requests ("nvidia-63", 2, NULL);
  g_autoptr(GvdClaims) claims = gvd_claims_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = plan (parents, reqs, claims, NULL, 1, &error);
  const GvdVgpuAssignment *a;

  assert_non_null (out);
  assert_int_equal (out->len, 2);
  a = g_ptr_array_index (out, 1);
  assert_string_equal (a->parent, T4);
  assert_string_equal (a->type, "nvidia-63");
  assert_string_equal (a->uuid, "00000000-0000-4000-8000-000000000002");
  /* No preference: by address, filling the first before the next. */
  g_clear_pointer (&out, g_ptr_array_unref);
  out = plan (parents, reqs, claims, NULL, -1, &error);
  assert_string_equal (((GvdVgpuAssignment *) g_ptr_array_index (out, 1))->parent, "0000:41:00.0");
}

static void
plan__more_than_capacity__spills_then_insufficient_naming_capacity (void **state)
{
  g_autoptr(GPtrArray) parents = two_parents ();
  g_autoptr(GPtrArray) five = requests ("nvidia-63", 5, NULL);
  g_autoptr(GPtrArray) seven = requests ("nvidia-63", 7, NULL);
  g_autoptr(GvdClaims) claims = gvd_claims_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = plan (parents, five, claims, NULL, -1, &error);

  assert_non_null (out);
  assert_string_equal (((GvdVgpuAssignment *) g_ptr_array_index (out, 1))->parent, "0000:41:00.0");
  assert_string_equal (((GvdVgpuAssignment *) g_ptr_array_index (out, 2))->parent, T4);
  g_clear_pointer (&out, g_ptr_array_unref);
  out = plan (parents, seven, claims, NULL, -1, &error);
  assert_null (out);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_GPUS));
  assert_non_null (strstr (error->message, "'nvidia-63'"));
  assert_non_null (strstr (error->message, "0000:41:00.0: 2 free, " T4 ": 4 free"));
  assert_non_null (strstr (error->message, "asks for 7 of that type"));
}

static void
plan__creates_in_flight__count_against_capacity_until_sysfs_shows_them (void **state)
{
  g_autoptr(GPtrArray) parents = g_ptr_array_new_with_free_func ((GDestroyNotify) gvd_vgpu_parent_free);
  g_autoptr(GPtrArray) one = requests ("nvidia-230", 1, NULL);
  g_autoptr(GvdClaims) claims = gvd_claims_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = NULL;
  GvdVgpuParent *t4 = parent (T4, 1, "nvidia-230", 1);

  g_ptr_array_add (parents, t4);
  /* Promised to "a", not created yet: the kernel still says 1 free. */
  gvd_claims_add_mdev (claims, U1, T4, "nvidia-230", "a");
  assert_int_equal (gvd_vgpu_free_instances (t4, "nvidia-230", claims), 0);
  out = plan (parents, one, claims, NULL, -1, &error);
  assert_null (out);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INSUFFICIENT_GPUS));
  assert_non_null (strstr (error->message, T4 ": 0 free"));
  g_clear_error (&error);
  /* Created: the kernel counts it (0 left) and it is no longer in flight. */
  ((GvdVgpuType *) g_ptr_array_index (t4->types, 0))->available = 0;
  g_ptr_array_add (t4->mdevs, gvd_mdev_new (U1, "nvidia-230"));
  assert_int_equal (gvd_vgpu_free_instances (t4, "nvidia-230", claims), 0);
  /* Deleted: both go, the capacity is back. */
  ((GvdVgpuType *) g_ptr_array_index (t4->types, 0))->available = 1;
  g_ptr_array_set_size (t4->mdevs, 0);
  gvd_claims_release (claims, "a");
  out = plan (parents, one, claims, NULL, -1, &error);
  assert_non_null (out);
}

static void
plan__parent_whole_or_excluded_or_quarantined__takes_no_vgpu (void **state)
{
  g_autoptr(GPtrArray) parents = two_parents ();
  g_autoptr(GPtrArray) any = requests ("nvidia-63", 1, NULL);
  g_autoptr(GPtrArray) on_t4 = requests ("nvidia-63", 1, T4);
  g_autoptr(GvdClaims) claims = gvd_claims_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = NULL;
  const char *const exclude[] = { "0000:41:00.0", NULL };

  gvd_claims_set_holder (claims, T4, "train");
  out = plan (parents, on_t4, claims, NULL, -1, &error);
  assert_null (out);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  assert_non_null (strstr (error->message, "'vgpu.parent'"));
  assert_non_null (strstr (error->message, "held by train"));
  g_clear_error (&error);
  /* The other parent is passed through whole by the same request. */
  out = plan (parents, any, claims, exclude, -1, &error);
  assert_null (out);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_IN_USE));
  assert_non_null (strstr (error->message, "0000:41:00.0 is passed through whole by this request"));
  assert_non_null (strstr (error->message, T4 " is passed through whole (held by train)"));
  g_clear_error (&error);
  gvd_claims_release (claims, "train");
  gvd_claims_quarantine (claims, T4, "wedged");
  out = plan (parents, on_t4, claims, NULL, -1, &error);
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_QUARANTINED));
  g_clear_error (&error);
  out = plan (parents, any, claims, exclude, -1, &error);
  assert_null (out);
  g_clear_error (&error);
  /* Free of both: the parent already carrying vGPUs is filled first. */
  gvd_claims_clear_quarantine (claims, T4);
  gvd_claims_add_mdev (claims, U1, T4, "nvidia-63", "a");
  out = plan (parents, any, claims, NULL, -1, &error);
  assert_non_null (out);
  assert_string_equal (((GvdVgpuAssignment *) g_ptr_array_index (out, 0))->parent, T4);
}

static void
plan__unknown_type_or_parent__device_not_found (void **state)
{
  g_autoptr(GPtrArray) parents = two_parents ();
  g_autoptr(GPtrArray) unknown = requests ("nvidia-999", 1, NULL);
  g_autoptr(GPtrArray) nowhere = requests ("nvidia-63", 1, "0000:02:00.0");
  g_autoptr(GvdClaims) claims = gvd_claims_new ();
  g_autoptr(GError) error = NULL;

  assert_null (plan (parents, unknown, claims, NULL, -1, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND));
  assert_non_null (strstr (error->message, "'nvidia-999'"));
  g_clear_error (&error);
  assert_null (plan (parents, nowhere, claims, NULL, -1, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND));
  assert_non_null (strstr (error->message, "0000:02:00.0 offers no vGPU types"));
}

/* ---- sysfs, read live; the kernel double ------------------------------------------- */

static void
hostinfo__sriov_mdev__types_and_mdevs_follow_the_kernel (void **state)
{
  g_autofree char *host = gvd_test_copy_host ("sriov-mdev");
  g_autofree char *sysfs = g_build_filename (host, "sys", NULL);
  g_autoptr(GvdHostRoot) root = gvd_host_root_new_prefixed (host);
  g_autoptr(GvdTestMdevFake) fake = gvd_test_mdev_fake_new (sysfs);
  g_autoptr(GvdVgpuParent) p = gvd_hostinfo_read_vgpu_parent (root, T4, 1);
  g_autoptr(GvdVgpuParent) after = NULL;
  g_autoptr(GvdVgpuParent) vf = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *where = NULL;
  const GvdVgpuType *t;

  assert_non_null (p);
  assert_int_equal (p->types->len, 3);
  t = g_ptr_array_index (p->types, 0);
  assert_string_equal (t->type, "nvidia-222");
  assert_string_equal (t->name, "GRID T4-1B");
  assert_string_equal (t->device_api, "vfio-pci");
  assert_non_null (strstr (t->description, "framebuffer=1024M"));
  assert_int_equal (t->available, 16);
  assert_int_equal (p->mdevs->len, 0);
  assert_null (gvd_hostinfo_read_vgpu_parent (root, "0000:02:00.0", 0));

  /* Two mdevs as the kernel would show them. */
  assert_true (fake->ops.create (&fake->ops, NULL, T4, "nvidia-222", U1, &error));
  assert_true (fake->ops.create (&fake->ops, NULL, VF0, "nvidia-592", U2, &error));
  after = gvd_hostinfo_read_vgpu_parent (root, T4, 1);
  assert_int_equal (((GvdVgpuType *) g_ptr_array_index (after->types, 0))->available, 15);
  assert_int_equal (after->mdevs->len, 1);
  assert_string_equal (((GvdMdev *) g_ptr_array_index (after->mdevs, 0))->uuid, U1);
  assert_string_equal (((GvdMdev *) g_ptr_array_index (after->mdevs, 0))->type, "nvidia-222");
  vf = gvd_hostinfo_read_vgpu_parent (root, VF0, 0);
  assert_int_equal (vf->mdevs->len, 1);
  assert_int_equal (((GvdVgpuType *) g_ptr_array_index (vf->types, 0))->available, 0);
  where = gvd_hostinfo_mdev_parent (root, U2);
  assert_string_equal (where, VF0);
  /* The VF's one instance is used: the kernel refuses a second. */
  assert_false (fake->ops.create (&fake->ops, NULL, VF0, "nvidia-592",
                                  "33333333-3333-4333-8333-333333333333", &error));
  g_clear_error (&error);

  assert_true (fake->ops.remove (&fake->ops, NULL, U1, &error));
  assert_true (fake->ops.remove (&fake->ops, NULL, U1, &error)); /* gone: no error */
  assert_false (gvd_test_mdev_exists (sysfs, U1));
  assert_int_equal (gvd_test_mdev_available (sysfs, T4, "nvidia-222"), 16);
  assert_null (gvd_hostinfo_mdev_parent (root, U1));
  assert_null (gvd_hostinfo_mdev_parent (root, "../../etc"));
  gvd_test_rm_rf (host);
}

/* ---- the node device XML ------------------------------------------------------------ */

static void
mdev_xml__parent_type_uuid__libvirt_node_device_shape (void **state)
{
  g_autofree char *xml = gvd_mdev_device_xml (T4, "nvidia-222", U1);
  g_autofree char *name = gvd_mdev_parent_nodedev_name ("0000:41:00.4");

  assert_string_equal (name, "pci_0000_41_00_4");
  assert_non_null (strstr (xml, "<device>"));
  assert_non_null (strstr (xml, "<parent>pci_0000_81_00_0</parent>"));
  assert_non_null (strstr (xml, "<capability type=\"mdev\">"));
  assert_non_null (strstr (xml, "<type id=\"nvidia-222\"/>"));
  assert_non_null (strstr (xml, "<uuid>" U1 "</uuid>"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (request__object_with_count__one_entry_per_vgpu),
    cmocka_unit_test (request__array_with_parent__fields_named_by_index),
    cmocka_unit_test (request__bad_members__invalid_argument_naming_the_field),
    cmocka_unit_test (request__with_reservation__refused),
    cmocka_unit_test (claims__mdevs__parent_held_for_vgpus_until_the_last_goes),
    cmocka_unit_test (claims__parent_held_whole__not_taken_over),
    cmocka_unit_test (plan__numa_preference__parent_on_that_node),
    cmocka_unit_test (plan__more_than_capacity__spills_then_insufficient_naming_capacity),
    cmocka_unit_test (plan__creates_in_flight__count_against_capacity_until_sysfs_shows_them),
    cmocka_unit_test (plan__parent_whole_or_excluded_or_quarantined__takes_no_vgpu),
    cmocka_unit_test (plan__unknown_type_or_parent__device_not_found),
    cmocka_unit_test (hostinfo__sriov_mdev__types_and_mdevs_follow_the_kernel),
    cmocka_unit_test (mdev_xml__parent_type_uuid__libvirt_node_device_shape),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
