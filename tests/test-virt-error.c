/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-error.c: libvirt's errors, provoked for real on test:///default (no
 * root, no libvirtd), map to one GVD_ERROR code each. */
#include "config.h"

#include "testlib.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>

#include "virt-conn.h"

#define DOMAIN_XML(name)                                                                \
  "<domain type='test'><name>" name "</name><memory unit='MiB'>64</memory>"             \
  "<os><type arch='x86_64'>hvm</type></os></domain>"

static void
quiet_libvirt (void *data, virErrorPtr err)
{
}

static int
setup (void **state)
{
  virSetErrorFunc (NULL, quiet_libvirt);
  *state = virConnectOpen ("test:///default");
  assert_non_null (*state);
  return 0;
}

static int
teardown (void **state)
{
  virConnectClose (*state);
  return 0;
}

#define assert_error(err, dom, want)                                                     \
  do                                                                                    \
    {                                                                                   \
      assert_non_null (err);                                                            \
      assert_true ((err)->domain == (dom));                                             \
      assert_int_equal ((err)->code, (want));                                           \
    }                                                                                   \
  while (0)

/* libvirt's last error through the one mapping, as every call site sets it. */
static GvdErrorCode
last_error_code (void)
{
  g_autoptr(GError) error = NULL;

  gvd_virt_error_set (&error, "test");
  assert_non_null (error);
  assert_true (error->domain == GVD_ERROR);
  /* libvirt's message is kept. */
  assert_non_null (strstr (error->message, "test: "));
  assert_true (strlen (error->message) > strlen ("test: "));
  return error->code;
}

static void
map__table__one_code_each (void **state)
{
  assert_int_equal (gvd_virt_error_map (VIR_ERR_NO_DOMAIN, VIR_FROM_QEMU, GVD_ERROR_LIBVIRT),
                    GVD_ERROR_NOT_FOUND);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_NO_STORAGE_POOL, VIR_FROM_STORAGE,
                                        GVD_ERROR_LIBVIRT),
                    GVD_ERROR_NOT_FOUND);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_NO_STORAGE_VOL, VIR_FROM_STORAGE,
                                        GVD_ERROR_LIBVIRT),
                    GVD_ERROR_NOT_FOUND);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_DOM_EXIST, VIR_FROM_QEMU, GVD_ERROR_LIBVIRT),
                    GVD_ERROR_ALREADY_EXISTS);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_STORAGE_VOL_EXIST, VIR_FROM_STORAGE,
                                        GVD_ERROR_LIBVIRT),
                    GVD_ERROR_ALREADY_EXISTS);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_OPERATION_INVALID, VIR_FROM_QEMU,
                                        GVD_ERROR_LIBVIRT),
                    GVD_ERROR_CONFLICT);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_OPERATION_TIMEOUT, VIR_FROM_QEMU,
                                        GVD_ERROR_LIBVIRT),
                    GVD_ERROR_TIMEOUT);
  /* A lost connection, however libvirt words it. */
  assert_int_equal (gvd_virt_error_map (VIR_ERR_NO_CONNECT, VIR_FROM_NONE, GVD_ERROR_LIBVIRT),
                    GVD_ERROR_LIBVIRT_UNAVAILABLE);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_INVALID_CONN, VIR_FROM_NONE, GVD_ERROR_LIBVIRT),
                    GVD_ERROR_LIBVIRT_UNAVAILABLE);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_RPC, VIR_FROM_REMOTE, GVD_ERROR_LIBVIRT),
                    GVD_ERROR_LIBVIRT_UNAVAILABLE);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_SYSTEM_ERROR, VIR_FROM_RPC, GVD_ERROR_LIBVIRT),
                    GVD_ERROR_LIBVIRT_UNAVAILABLE);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_INTERNAL_ERROR, VIR_FROM_RPC, GVD_ERROR_LIBVIRT),
                    GVD_ERROR_LIBVIRT_UNAVAILABLE);
  /* A system error elsewhere (a missing device file) is not a lost
   * connection; the rest keep the caller's code. */
  assert_int_equal (gvd_virt_error_map (VIR_ERR_SYSTEM_ERROR, VIR_FROM_QEMU, GVD_ERROR_LIBVIRT),
                    GVD_ERROR_LIBVIRT);
  assert_int_equal (gvd_virt_error_map (VIR_ERR_OPERATION_FAILED, VIR_FROM_DOMAIN,
                                        GVD_ERROR_IO),
                    GVD_ERROR_IO);
  /* The lost connection's answer: 503 libvirt_unavailable. */
  assert_int_equal (gvd_error_code_http_status (GVD_ERROR_LIBVIRT_UNAVAILABLE), 503);
  assert_string_equal (gvd_error_code_name (GVD_ERROR_LIBVIRT_UNAVAILABLE),
                       "libvirt_unavailable");
}

static void
error_set__missing_objects__not_found (void **state)
{
  virConnectPtr conn = *state;
  g_autoptr(virStoragePool) pool = NULL;

  assert_null (virDomainLookupByName (conn, "gvdtest-no-such-domain"));
  assert_int_equal (last_error_code (), GVD_ERROR_NOT_FOUND);
  assert_null (virStoragePoolLookupByName (conn, "gvdtest-no-such-pool"));
  assert_int_equal (last_error_code (), GVD_ERROR_NOT_FOUND);
  pool = virStoragePoolLookupByName (conn, "default-pool");
  assert_non_null (pool);
  assert_null (virStorageVolLookupByName (pool, "gvdtest-no-such-volume"));
  assert_int_equal (last_error_code (), GVD_ERROR_NOT_FOUND);
}

static void
error_set__wrong_state__conflict (void **state)
{
  virConnectPtr conn = *state;
  g_autoptr(virDomain) dom = virDomainDefineXML (conn, DOMAIN_XML ("gvdtest-off"));

  assert_non_null (dom);
  /* Powering off a domain that is not running. */
  assert_true (virDomainDestroy (dom) < 0);
  assert_int_equal (last_error_code (), GVD_ERROR_CONFLICT);
  virDomainUndefine (dom);
}

static void
error_set_define__name_taken__already_exists (void **state)
{
  virConnectPtr conn = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(virDomain) first = virDomainDefineXML (conn, DOMAIN_XML ("gvdtest-clash"));

  assert_non_null (first);
  /* Same name, another (random) UUID: libvirt refuses with a generic
   * "operation failed". */
  assert_null (virDomainDefineXML (conn, DOMAIN_XML ("gvdtest-clash")));
  assert_int_equal (virGetLastErrorCode (), VIR_ERR_OPERATION_FAILED);
  gvd_virt_error_set_define (&error, conn, "gvdtest-clash", "define");
  assert_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS);
  assert_true (g_str_has_prefix (error->message, "define: "));
  virDomainUndefine (first);
}

static void
error_set_define__other_refusal__libvirt_error (void **state)
{
  virConnectPtr conn = *state;
  g_autoptr(GError) error = NULL;

  /* No such domain type: refused, and no domain of that name exists. */
  assert_null (virDomainDefineXML (conn, "<domain type='nonsense'><name>gvdtest-bad</name>"
                                         "<memory>1</memory></domain>"));
  gvd_virt_error_set_define (&error, conn, "gvdtest-bad", "define");
  assert_error (error, GVD_ERROR, GVD_ERROR_LIBVIRT);
  assert_int_equal (gvd_error_code_http_status (error->code), 502);
}

/* A libvirtd that cannot be reached: the socket is missing, or it hangs up. */
static gpointer
hang_up_thread (gpointer data)
{
  GSocket *listener = data;
  g_autoptr(GSocket) client = g_socket_accept (listener, NULL, NULL);

  if (client != NULL)
    g_socket_close (client, NULL);
  return NULL;
}

static void
error_set__connection_lost__unavailable (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvdtest-virt-error-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  g_autofree char *missing = g_strdup_printf ("test+unix:///default?socket=%s/missing", dir);
  g_autofree char *hangs_up = g_strdup_printf ("test+unix:///default?socket=%s", path);
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocketAddress) addr = NULL;
  GThread *thread;

  assert_null (virConnectOpen (missing));
  assert_int_equal (last_error_code (), GVD_ERROR_LIBVIRT_UNAVAILABLE);

  listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
  addr = g_unix_socket_address_new (path);
  assert_true (g_socket_bind (listener, addr, FALSE, NULL));
  assert_true (g_socket_listen (listener, NULL));
  thread = g_thread_new ("hang-up", hang_up_thread, listener);
  assert_null (virConnectOpen (hangs_up));
  assert_int_equal (last_error_code (), GVD_ERROR_LIBVIRT_UNAVAILABLE);
  g_thread_join (thread);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (map__table__one_code_each),
    cmocka_unit_test_setup_teardown (error_set__missing_objects__not_found, setup, teardown),
    cmocka_unit_test_setup_teardown (error_set__wrong_state__conflict, setup, teardown),
    cmocka_unit_test_setup_teardown (error_set_define__name_taken__already_exists, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (error_set_define__other_refusal__libvirt_error, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (error_set__connection_lost__unavailable, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
