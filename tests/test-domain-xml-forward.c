/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Forwarded ports on the instance's own loopback address: rendered as
 * tcp:ADDRESS:HOST-:GUEST (never 127.0.0.1 for a new instance), refused off
 * the loopback, read back (127.0.0.1 too: instances made before
 * [network] forward_addresses), and any domain's forwarded addresses. */
#include "config.h"

#include "testlib.h"

#include "domain-xml-testlib.h"
#include "domain-xml.h"
#include "errors.h"

#include <string.h>
#include <libxml/parser.h>

#define OWN 0x7f4d0001u /* 127.77.0.1, the golden case's address */

static GvdInstanceSpec *
forwarded_case (void)
{
  const GvdTestDomainCase *c = gvd_test_domain_cases;

  while (c->name != NULL && !g_str_equal (c->name, "forwarded-ports"))
    c++;
  assert_non_null (c->name);
  return c->make ();
}

static GArray *
forwards_of (GvdInstanceSpec *spec)
{
  for (guint i = 0; i < spec->nics->len; i++)
    {
      GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);

      if (nic->forwards != NULL && nic->forwards->len > 0)
        return nic->forwards;
    }
  fail_msg ("no NIC with forwards");
  return NULL;
}

static char *
render_ok (const GvdInstanceSpec *spec)
{
  g_autoptr(GError) error = NULL;
  char *xml = gvd_domain_xml_render (spec, &error);

  if (xml == NULL)
    fail_msg ("render failed: %s", error->message);
  return xml;
}

static void
render__own_address__hostfwd_on_it_not_on_127_0_0_1 (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = forwarded_case ();
  g_autoptr(GvdInstanceSpec) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = render_ok (spec);

  assert_non_null (strstr (xml, "tcp:127.77.0.1:40000-:22"));
  assert_non_null (strstr (xml, "tcp:127.77.0.1:40001-:8888"));
  assert_null (strstr (xml, "127.0.0.1"));
  back = gvd_domain_xml_parse (xml, &error);
  if (back == NULL)
    fail_msg ("parse: %s", error->message);
  assert_int_equal (g_array_index (forwards_of (back), GvdPortForward, 0).address, OWN);
  assert_int_equal (g_array_index (forwards_of (back), GvdPortForward, 1).address, OWN);
  gvd_test_assert_spec_equal (spec, back);
}

static void
render__address_off_loopback__invalid_argument (void **state)
{
  const guint32 bad[] = { 0, 0x0a000005u /* 10.0.0.5 */, 0xc0a80105u /* 192.168.1.5 */,
                          0x80000001u /* 128.0.0.1 */ };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GvdInstanceSpec) spec = forwarded_case ();
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) validate_error = NULL;
      g_autofree char *xml = NULL;

      g_array_index (forwards_of (spec), GvdPortForward, 1).address = bad[i];
      xml = gvd_domain_xml_render (spec, &error);
      assert_null (xml);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      assert_non_null (strstr (error->message, "40001-8888 is not on a loopback address"));
      assert_false (gvd_domain_xml_validate (spec, &validate_error));
    }
}

/* The rendered rule with its address replaced by @address. */
static GvdInstanceSpec *
parse_with_address (const char *address, GError **error)
{
  g_autoptr(GvdInstanceSpec) spec = forwarded_case ();
  g_autofree char *xml = render_ok (spec);
  g_autoptr(GString) s = g_string_new (xml);
  g_autofree char *rule = g_strdup_printf ("tcp:%s:40000-:22", address);

  assert_int_equal (g_string_replace (s, "tcp:127.77.0.1:40000-:22", rule, 0), 1);
  return gvd_domain_xml_parse (s->str, error);
}

static void
parse__rule_addresses__loopback_kept_others_refused (void **state)
{
  const char *bad[] = { "", "0.0.0.0", "10.0.0.5", "localhost", "127.0.0.01", "127.0.0",
                        "::1", "127.1.2.3.4" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdInstanceSpec) legacy = parse_with_address ("127.0.0.1", &error);
  g_autoptr(GvdInstanceSpec) other = NULL;

  /* An instance made before forward_addresses comes back as it runs. */
  if (legacy == NULL)
    fail_msg ("parse: %s", error->message);
  assert_int_equal (g_array_index (forwards_of (legacy), GvdPortForward, 0).address, 0x7f000001u);
  assert_int_equal (g_array_index (forwards_of (legacy), GvdPortForward, 1).address, OWN);
  other = parse_with_address ("127.255.3.4", &error);
  assert_non_null (other);
  assert_int_equal (g_array_index (forwards_of (other), GvdPortForward, 0).address, 0x7fff0304u);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) bad_error = NULL;
      g_autoptr(GvdInstanceSpec) spec = parse_with_address (bad[i], &bad_error);

      if (spec != NULL)
        fail_msg ("hostfwd on '%s' accepted", bad[i]);
      assert_true (g_error_matches (bad_error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT));
      assert_non_null (strstr (bad_error->message, "hostfwd 0 is not tcp:127.X.Y.Z:HOST-:GUEST"));
    }
}

static void
forwarded_host_addresses__any_domain__explicit_ipv4_only (void **state)
{
  g_autoptr(GvdInstanceSpec) spec = forwarded_case ();
  g_autofree char *ours = render_ok (spec);
  g_autoptr(GArray) got = NULL;
  g_autoptr(GArray) foreign = NULL;
  g_autoptr(GArray) none = NULL;
  g_autoptr(GError) error = NULL;
  const char *xml =
    "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>f</name>"
    "<devices><interface type='user'><backend type='passt'/>"
    "<portForward proto='tcp' address='127.77.0.40'><range start='2000'/></portForward>"
    "<portForward proto='tcp' address='127.77.0.41'><range start='2001' exclude='yes'/>"
    "</portForward>"
    "<portForward proto='udp'><range start='3000'/></portForward>"
    "</interface></devices>"
    "<qemu:commandline><qemu:arg value='-netdev'/>"
    "<qemu:arg value='user,id=n,hostfwd=tcp::2222-:22,hostfwd=tcp:127.77.0.9:8080-10.0.2.15:80,"
    "hostfwd=127.77.0.10:8081-:81,hostfwd=tcp:host.example:8082-:82'/>"
    "<qemu:arg value='-netdev'/><qemu:arg value='{\"type\":\"user\",\"id\":\"x\","
    "\"hostfwd\":[{\"str\":\"tcp:127.0.0.1:5353-:53\"},{\"str\":\"garbage\"}]}'/>"
    "</qemu:commandline></domain>";
  const guint32 want[] = { 0x7f4d0009u, 0x7f4d000au, 0x7f000001u, 0x7f4d0028u };
  const guint want_ports[] = { 2222, 8080, 8081, 8082, 5353, 2000, 3000 };
  g_autoptr(GArray) ports = NULL;

  got = gvd_domain_xml_forwarded_host_addresses (ours, &error);
  assert_non_null (got);
  assert_int_equal (got->len, 2);
  assert_int_equal (g_array_index (got, guint32, 0), OWN);
  assert_int_equal (g_array_index (got, guint32, 1), OWN);

  foreign = gvd_domain_xml_forwarded_host_addresses (xml, &error);
  assert_non_null (foreign);
  for (guint i = 0; i < foreign->len; i++)
    print_message ("foreign address %08x\n", g_array_index (foreign, guint32, i));
  assert_int_equal (foreign->len, G_N_ELEMENTS (want));
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    assert_int_equal (g_array_index (foreign, guint32, i), want[i]);
  /* The ports of the same rules, unchanged. */
  ports = gvd_domain_xml_forwarded_host_ports (xml, &error);
  assert_non_null (ports);
  assert_int_equal (ports->len, G_N_ELEMENTS (want_ports));
  for (guint i = 0; i < G_N_ELEMENTS (want_ports); i++)
    assert_int_equal (g_array_index (ports, guint, i), want_ports[i]);

  none = gvd_domain_xml_forwarded_host_addresses ("<domain><name>x</name></domain>", &error);
  assert_non_null (none);
  assert_int_equal (none->len, 0);
  assert_null (gvd_domain_xml_forwarded_host_addresses ("<domain>", &error));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (render__own_address__hostfwd_on_it_not_on_127_0_0_1),
    cmocka_unit_test (render__address_off_loopback__invalid_argument),
    cmocka_unit_test (parse__rule_addresses__loopback_kept_others_refused),
    cmocka_unit_test (forwarded_host_addresses__any_domain__explicit_ipv4_only),
  };
  int rc;

  rc = cmocka_run_group_tests_name ("domain-xml-forward", tests, NULL, NULL);
  xmlCleanupParser ();
  return rc;
}
