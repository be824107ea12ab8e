/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmd.conf parsing: defaults, a full good file, and every bad value. */
#include "config.h"

#include "testlib.h"

#include "config-file.h"
#include "errors.h"
#include "gvd-config.h"

#include <string.h>
#include <sys/stat.h>

static void
defaults__new__match_documented_file (void **state)
{
  g_autoptr(GvdConfig) config = gvd_config_new ();
  g_autoptr(GvdConfig) from_file = gvd_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *doc = NULL;
  g_autoptr(GString) uncommented = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;

  assert_null (config->listen);
  assert_string_equal (config->socket_path, "/run/gpuvmd/gpuvmd.sock");
  assert_string_equal (config->socket_group, "gpuvmd");
  assert_null (config->tls_cert_file);
  assert_int_equal (config->max_connections, 128);
  assert_int_equal (config->agent_max_connections, 128);
  assert_int_equal (config->request_timeout, 10);
  assert_string_equal (config->libvirt_uri, "qemu:///system");
  assert_string_equal (config->domain_prefix, "gpuvm-");
  assert_string_equal (config->pool_name, "gpuvmd");
  assert_string_equal (config->sysfs_root, "/sys");
  assert_null (config->admin_token_file);
  assert_null (config->network_cidr);
  assert_int_equal (config->network_mode, GVD_NETWORK_USER);
  assert_int_equal (config->keepalive_interval, 5);
  assert_int_equal (config->heartbeat_interval, 10);
  assert_int_equal (config->shutdown_timeout, 60);
  assert_int_equal (config->device_timeout, 120);
  assert_int_equal (g_strv_length (config->host_critical), 0);
  /* No URL may be downloaded until the operator allows some. */
  assert_int_equal (g_strv_length (config->url_allow), 0);
  assert_int_equal (config->max_download_mib, 16384);
  assert_int_equal (config->stall_timeout, 60);
  assert_true (gvd_config_validate (config, &error));

  /* data/gpuvmd.conf documents every default as "#key=value": uncomment
   * them all and the result must equal the built-in defaults. */
  path = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "data", "gpuvmd.conf", NULL);
  assert_true (g_file_get_contents (path, &doc, NULL, NULL));
  lines = g_strsplit (doc, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];
      if (l[0] == '#' && l[1] != ' ' && l[1] != '\0' && strchr (l, '=') != NULL)
        l++;
      g_string_append_printf (uncommented, "%s\n", l);
    }
  assert_true (gvd_config_load_data (from_file, uncommented->str, uncommented->len, path, &error));
  assert_null (from_file->listen);
  assert_string_equal (from_file->socket_path, config->socket_path);
  assert_string_equal (from_file->socket_group, config->socket_group);
  assert_int_equal (from_file->max_connections, config->max_connections);
  assert_int_equal (from_file->agent_max_connections, config->agent_max_connections);
  assert_int_equal (from_file->request_timeout, config->request_timeout);
  assert_string_equal (from_file->agent_url, config->agent_url);
  assert_string_equal (from_file->pool_path, config->pool_path);
  assert_int_equal (from_file->reconnect_max_delay, config->reconnect_max_delay);
  assert_int_equal (from_file->missed_heartbeats, config->missed_heartbeats);
  assert_int_equal (from_file->device_timeout, config->device_timeout);
  assert_null (from_file->admin_token_file);
  assert_null (from_file->network_source);
}

static void
load__full_file__every_value_applied (void **state)
{
  g_autoptr(GvdConfig) config = gvd_config_new ();
  g_autoptr(GError) error = NULL;
  const char *text =
    "[daemon]\nlisten=[::1]:9000\nadmin_token_file=/etc/gpuvmd/token\nstate_dir=/srv/gvd\n"
    "max_body_bytes=4096\n"
    "[libvirt]\nuri=test:///default\ndomain_prefix=vm.\nkeepalive_interval=7\n"
    "keepalive_count=2\nreconnect_max_delay=30\n"
    "[storage]\npool=p1\npool_path=/srv/pool\n"
    "[host]\nsysfs_root=/x/sys\nprocfs_root=/x/proc\ndevfs_root=/x/dev\n"
    "host_critical=0000:00:1f.2, 0000:03:00.0\npassthrough_devices=0000:41:00.0\n"
    "[network]\nmode=bridge\nsource=br0\ncidr=10.77.0.0/24\ngateway=10.77.0.1\n"
    "dns=1.1.1.1,9.9.9.9\n"
    "[agent]\nlisten=0.0.0.0:8788\nurl=https://gpu-host:8788\nheartbeat_interval=5\n"
    "missed_heartbeats=4\n"
    "[instances]\nshutdown_timeout=0\n"
    "[images]\nurl_allow=https://cloud.debian.org/images/, http://10.0.0.5:8080/img\n"
    "max_download_mib=1024\nstall_timeout=5\n";

  assert_true (gvd_config_load_data (config, text, -1, "test.conf", &error));
  assert_null (error);
  assert_string_equal (config->listen, "[::1]:9000");
  assert_string_equal (config->admin_token_file, "/etc/gpuvmd/token");
  assert_string_equal (config->state_dir, "/srv/gvd");
  assert_int_equal (config->max_body_bytes, 4096);
  assert_string_equal (config->libvirt_uri, "test:///default");
  assert_string_equal (config->domain_prefix, "vm.");
  assert_int_equal (config->keepalive_interval, 7);
  assert_int_equal (config->keepalive_count, 2);
  assert_int_equal (config->reconnect_max_delay, 30);
  assert_string_equal (config->pool_name, "p1");
  assert_string_equal (config->devfs_root, "/x/dev");
  assert_int_equal (g_strv_length (config->host_critical), 2);
  assert_string_equal (config->host_critical[1], "0000:03:00.0");
  assert_string_equal (config->passthrough_devices[0], "0000:41:00.0");
  assert_int_equal (config->network_mode, GVD_NETWORK_BRIDGE);
  assert_string_equal (config->network_source, "br0");
  assert_string_equal (config->network_cidr, "10.77.0.0/24");
  assert_int_equal (g_strv_length (config->network_dns), 2);
  assert_string_equal (config->agent_url, "https://gpu-host:8788");
  assert_int_equal (config->missed_heartbeats, 4);
  assert_int_equal (config->shutdown_timeout, 0);
  assert_int_equal (g_strv_length (config->url_allow), 2);
  assert_string_equal (config->url_allow[1], "http://10.0.0.5:8080/img");
  assert_int_equal (config->max_download_mib, 1024);
  assert_int_equal (config->stall_timeout, 5);
  assert_true (gvd_config_validate (config, &error));
}

typedef struct {
  const char *text;
  const char *expect; /* substring of the message */
} BadCase;

static const BadCase bad_cases[] = {
  { "[daemon]\nlisten=8787\n", "[daemon] listen: '8787' is not an address and port" },
  { "[daemon]\nlisten=127.0.0.1:99999\n", "not an address and port" },
  { "[daemon]\nlisten=example.com:80\n", "must be an IP address or localhost" },
  { "[daemon]\nadmin_token_file=token\n", "'token' is not an absolute path" },
  { "[daemon]\nstate_dir=\n", "[daemon] state_dir: '' is not an absolute path" },
  { "[daemon]\nmax_body_bytes=12\n", "from 1024 to 67108864" },
  { "[daemon]\nmax_body_bytes=-5\n", "'-5' is not a whole number" },
  { "[daemon]\nlistn=127.0.0.1:1\n", "unknown key 'listn' in group [daemon]" },
  { "[deamon]\nlisten=127.0.0.1:1\n", "unknown group [deamon]" },
  { "[images]\nurl_allow=ftp://mirror/\n", "[images] url_allow: 'url_allow': 'ftp://mirror/' is not an http" },
  { "[images]\nurl_allow=https://u:p@mirror/\n", "user info" },
  { "[images]\nurl_allow=https://mirror/a/../b\n", "'..'" },
  { "[images]\nstall_timeout=0\n", "from 1 to 3600" },
  { "[images]\nmax_download_mib=0\n", "from 1 to 16777216" },
  { "[libvirt]\nuri=\n", "[libvirt] uri: must not be empty" },
  { "[libvirt]\ndomain_prefix=gpu vm\n", "'gpu vm' must be 1-32 characters" },
  { "[libvirt]\ndomain_prefix=a/b\n", "must be 1-32 characters" },
  { "[libvirt]\nkeepalive_interval=0\n", "'0' is not a whole number from 1 to 60" },
  { "[libvirt]\nkeepalive_count=lots\n", "'lots' is not a whole number from 1 to 20" },
  { "[libvirt]\nreconnect_max_delay=301\n", "from 1 to 300" },
  { "[storage]\npool_path=pool\n", "[storage] pool_path: 'pool' is not an absolute path" },
  { "[host]\nsysfs_root=sys\n", "[host] sysfs_root" },
  { "[host]\nhost_critical=0:1f.2\n", "'0:1f.2' is not a PCI address" },
  { "[host]\nhost_critical=0000:00:1f.9\n", "is not a PCI address" },
  { "[host]\npassthrough_devices=0000:00:zz.0\n", "is not a PCI address" },
  { "[network]\nmode=nat\n", "'nat' is not one of user, bridge, network" },
  { "[network]\ncidr=10.0.0.1/24\n", "has host bits set" },
  { "[network]\ncidr=10.0.0.0/33\n", "not an IPv4 CIDR" },
  { "[network]\ncidr=fd00::/64\n", "not an IPv4 CIDR" },
  { "[agent]\nurl=ftp://x\n", "is not an http:// or https:// URL" },
  { "[agent]\nheartbeat_interval=0\n", "from 1 to 3600" },
  { "[instances]\nshutdown_timeout=3601\n", "from 0 to 3600" },
  { "[instances]\ndevice_timeout=4\n", "from 5 to 3600" },
  { "[daemon\nlisten=1\n", "test.conf:" },
  { "just text\n", "test.conf:" },
};

static void
load__bad_values__clear_error_and_config_unchanged (void **state)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autoptr(GvdConfig) config = gvd_config_new ();
      g_autoptr(GError) error = NULL;
      /* A good key before the bad one must not be applied either. */
      g_autofree char *text = g_strdup_printf ("[instances]\nshutdown_timeout=5\n%s",
                                               bad_cases[i].text);

      assert_false (gvd_config_load_data (config, text, -1, "test.conf", &error));
      assert_non_null (error);
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
      if (strstr (error->message, bad_cases[i].expect) == NULL)
        fail_msg ("case %zu: '%s' does not contain '%s'", i, error->message, bad_cases[i].expect);
      assert_int_equal (config->shutdown_timeout, 60);
      assert_null (config->listen);
    }
}

static void
validate__cross_key_rules__refused (void **state)
{
  struct {
    const char *text;
    const char *expect;
  } cases[] = {
    { "[network]\nmode=bridge\n", "needs [network] source (the bridge name)" },
    { "[network]\nmode=network\n", "(the libvirt network name)" },
    { "[network]\ncidr=10.1.0.0/24\n", "cidr is for bridge or network mode" },
    { "[daemon]\nlisten=0.0.0.0:8787\n", "so the admin API is served over TLS" },
    { "[daemon]\nlisten=0.0.0.0:8787\nadmin_token_file=/etc/t\n", "tls_cert_file and tls_key_file" },
    { "[daemon]\nlisten=[::]:8787\ntls_cert_file=/etc/c.pem\n", "go together" },
    { "[daemon]\nsocket=\n", "would be unreachable" },
    { "[daemon]\nlisten=127.0.0.1:9\n[agent]\nlisten=127.0.0.1:9\n", "must be separate" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GvdConfig) config = gvd_config_new ();
      g_autoptr(GError) error = NULL;

      assert_true (gvd_config_load_data (config, cases[i].text, -1, "t", &error));
      assert_false (gvd_config_validate (config, &error));
      if (strstr (error->message, cases[i].expect) == NULL)
        fail_msg ("case %zu: '%s' does not contain '%s'", i, error->message, cases[i].expect);
    }
}

static void
validate__tcp_listen_loopback_or_tls__accepted (void **state)
{
  const char *cases[] = {
    "[daemon]\nlisten=127.0.0.1:8787\n",
    "[daemon]\nlisten=localhost:8787\nsocket=\n",
    "[daemon]\nlisten=[::1]:8787\n",
    "[daemon]\nlisten=0.0.0.0:8787\ntls_cert_file=/etc/c.pem\ntls_key_file=/etc/k.pem\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GvdConfig) config = gvd_config_new ();
      g_autoptr(GError) error = NULL;

      assert_true (gvd_config_load_data (config, cases[i], -1, "t", &error));
      if (!gvd_config_validate (config, &error))
        fail_msg ("case %zu: %s", i, error->message);
    }
}

static void
parse_listen__forms__host_and_port (void **state)
{
  g_autofree char *h1 = NULL, *h2 = NULL, *h3 = NULL;
  guint16 port = 0;

  assert_true (gvd_config_parse_listen ("127.0.0.1:8787", &h1, &port, NULL));
  assert_string_equal (h1, "127.0.0.1");
  assert_int_equal (port, 8787);
  assert_true (gvd_config_parse_listen ("[::1]:0", &h2, &port, NULL));
  assert_string_equal (h2, "::1");
  assert_int_equal (port, 0);
  assert_true (gvd_config_parse_listen (":80", &h3, &port, NULL));
  assert_string_equal (h3, "");
  assert_false (gvd_config_parse_listen ("::1:80", NULL, NULL, NULL));
  assert_false (gvd_config_parse_listen ("[::1]80", NULL, NULL, NULL));
  assert_false (gvd_config_parse_listen ("1.2.3.4:", NULL, NULL, NULL));
}

static void
parse_cidr__valid__network_and_prefix (void **state)
{
  guint32 net = 0;
  guint prefix = 0;

  assert_true (gvd_config_parse_cidr ("10.77.1.0/24", &net, &prefix, NULL));
  assert_int_equal (net, (10u << 24) | (77u << 16) | (1u << 8));
  assert_int_equal (prefix, 24);
  assert_true (gvd_config_parse_cidr ("192.168.0.0/16", &net, &prefix, NULL));
  assert_int_equal (prefix, 16);
  assert_false (gvd_config_parse_cidr ("192.168.0.0", NULL, NULL, NULL));
  assert_false (gvd_config_parse_cidr ("192.168.0.0/7", NULL, NULL, NULL));
}

static void
load_file__missing__names_path (void **state)
{
  g_autoptr(GvdConfig) config = gvd_config_new ();
  g_autoptr(GError) error = NULL;

  assert_false (gvd_config_file_load (config, "/nonexistent/gpuvmd.conf", &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
  assert_non_null (strstr (error->message, "cannot read /nonexistent/gpuvmd.conf"));
}

static void
load_file__regular_file__values_applied (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvd-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "gpuvmd.conf", NULL);
  g_autoptr(GvdConfig) config = gvd_config_new ();
  g_autoptr(GError) error = NULL;

  assert_true (g_file_set_contents (path, "[agent]\nheartbeat_interval=7\n", -1, NULL));
  assert_true (gvd_config_file_load (config, path, &error));
  assert_null (error);
  assert_int_equal (config->heartbeat_interval, 7);
  gvd_test_rm_rf (dir);
}

static void
load_file__not_regular__refused_naming_path (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvd-config-XXXXXX", NULL);
  g_autofree char *fifo = g_build_filename (dir, "fifo.conf", NULL);
  const char *paths[] = { dir, fifo, "/dev/zero" };

  /* A FIFO without a writer would block a plain open(): it must not. */
  assert_int_equal (mkfifo (fifo, 0600), 0);
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr(GvdConfig) config = gvd_config_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *want = g_strdup_printf ("cannot read %s: not a regular file", paths[i]);

      assert_false (gvd_config_file_load (config, paths[i], &error));
      assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
      assert_string_equal (error->message, want);
    }
  gvd_test_rm_rf (dir);
}

/* --config /dev/null: the defaults, as an empty file gives them. */
static void
load_file__dev_null__empty_defaults (void **state)
{
  g_autoptr(GvdConfig) config = gvd_config_new ();
  g_autoptr(GvdConfig) defaults = gvd_config_new ();
  g_autoptr(GError) error = NULL;

  assert_true (gvd_config_file_load (config, "/dev/null", &error));
  assert_null (error);
  assert_int_equal (config->heartbeat_interval, defaults->heartbeat_interval);
  assert_string_equal (config->state_dir, defaults->state_dir);
}

static void
load_file__over_limit__refused_config_unchanged (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("gvd-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "big.conf", NULL);
  g_autoptr(GString) text = g_string_new ("[agent]\nheartbeat_interval=7\n");
  g_autoptr(GvdConfig) config = gvd_config_new ();
  g_autoptr(GError) error = NULL;
  guint before = config->heartbeat_interval;

  /* Valid syntax throughout: only the size is wrong. */
  while (text->len <= GVD_CONFIG_FILE_MAX)
    g_string_append (text, "# padding padding padding padding padding padding padding\n");
  assert_true (g_file_set_contents (path, text->str, text->len, NULL));
  assert_false (gvd_config_file_load (config, path, &error));
  assert_true (g_error_matches (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG));
  assert_non_null (strstr (error->message, path));
  assert_non_null (strstr (error->message, "larger than 1048576 bytes"));
  assert_int_equal (config->heartbeat_interval, before);

  /* The same text cut to the limit loads. */
  g_clear_error (&error);
  g_string_truncate (text, GVD_CONFIG_FILE_MAX);
  g_string_truncate (text, strrchr (text->str, '\n') + 1 - text->str);
  assert_true (g_file_set_contents (path, text->str, text->len, NULL));
  assert_true (gvd_config_file_load (config, path, &error));
  assert_int_equal (config->heartbeat_interval, 7);
  gvd_test_rm_rf (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (defaults__new__match_documented_file),
    cmocka_unit_test (load__full_file__every_value_applied),
    cmocka_unit_test (load__bad_values__clear_error_and_config_unchanged),
    cmocka_unit_test (validate__cross_key_rules__refused),
    cmocka_unit_test (validate__tcp_listen_loopback_or_tls__accepted),
    cmocka_unit_test (parse_listen__forms__host_and_port),
    cmocka_unit_test (parse_cidr__valid__network_and_prefix),
    cmocka_unit_test (load_file__missing__names_path),
    cmocka_unit_test (load_file__regular_file__values_applied),
    cmocka_unit_test (load_file__not_regular__refused_naming_path),
    cmocka_unit_test (load_file__dev_null__empty_defaults),
    cmocka_unit_test (load_file__over_limit__refused_config_unchanged),
  };

  return cmocka_run_group_tests_name ("config", tests, NULL, NULL);
}
