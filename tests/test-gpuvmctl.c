/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The built gpuvmctl against the real daemon (and the real libvirtd): every
 * command family, the output formats scripts rely on, the documented exit
 * codes, and TCP with a token file. */
#include "config.h"

#include "testlib.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>
#include <sys/wait.h>

#define PREFIX "gvdtest-ctl-"
#define POOL "gvdtest-ctl"
#define POOL_PATH "/var/tmp/gvdtest-ctl-pool"
#define IMAGE "ctl-blank.qcow2"
#define BASE_CONFIG                                          \
  "[daemon]\nstate_dir=%s\n"                                 \
  "[libvirt]\ndomain_prefix=" PREFIX "\n"                    \
  "[storage]\npool=" POOL "\npool_path=" POOL_PATH "\n"      \
  "import_dirs=%s\n"                                         \
  "[agent]\nlisten=127.0.0.1:0\n"                            \
  "[instances]\nshutdown_timeout=2\n"

typedef struct {
  char *state_dir;
  char *image_file;
  char *config;
  char *config_fixture;
  char *ctl;
  virConnectPtr conn;
} Fixture;

static Fixture fx;

typedef struct {
  int status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* gpuvmctl with @env_extra ("K=V", NULL-terminated, may be NULL) and the
 * arguments, NULL-terminated. */
static void
ctl_env (Run *r, const char *const *env_extra, const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                                | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  va_list ap;

  g_ptr_array_add (argv, fx.ctl);
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  /* Scripts' view: no terminal, C locale, no inherited daemon settings. */
  g_subprocess_launcher_unsetenv (l, "GPUVMD_SOCKET");
  g_subprocess_launcher_unsetenv (l, "GPUVMD_URL");
  g_subprocess_launcher_unsetenv (l, "GPUVMD_TOKEN");
  g_subprocess_launcher_unsetenv (l, "GPUVMD_TOKEN_FILE");
  g_subprocess_launcher_setenv (l, "LC_ALL", "C", TRUE);
  for (gsize i = 0; env_extra != NULL && env_extra[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env_extra[i], "=", 2);
      g_subprocess_launcher_setenv (l, kv[0], kv[1], TRUE);
    }
  p = g_subprocess_launcher_spawnv (l, (const char *const *) argv->pdata, &error);
  if (p == NULL)
    fail_msg ("%s: %s", fx.ctl, error->message);
  if (!g_subprocess_communicate_utf8 (p, NULL, NULL, &r->out, &r->err, &error))
    fail_msg ("gpuvmctl: %s", error->message);
  assert_true (g_subprocess_get_if_exited (p));
  r->status = g_subprocess_get_exit_status (p);
}

#define ctl(r, ...) ctl_env ((r), NULL, __VA_ARGS__, NULL)

/* Exit @want, or fail showing what gpuvmctl said. */
static void
expect (const Run *r, int want, const char *what)
{
  if (r->status != want)
    fail_msg ("%s: exit %d, wanted %d\nstdout: %s\nstderr: %s", what, r->status, want, r->out,
              r->err);
}

/* An API error: "gpuvmctl: MESSAGE (CODE)", then any details, one per
 * indented line. */
static void
expect_api_error (const Run *r, int want, const char *code)
{
  g_autofree char *tail = g_strdup_printf (" (%s)", code);
  g_auto(GStrv) lines = g_strsplit (r->err, "\n", -1);

  expect (r, want, code);
  if (!g_str_has_prefix (lines[0], "gpuvmctl: ") || !g_str_has_suffix (lines[0], tail))
    fail_msg ("stderr is not 'gpuvmctl: MESSAGE (%s)': %s", code, r->err);
  for (gsize i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
    if (!g_str_has_prefix (lines[i], "  - "))
      fail_msg ("stderr line %zu is not a detail: %s", i, r->err);
}

static JsonNode *
json_of (const char *text)
{
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) error = NULL;

  if (!json_parser_load_from_data (p, text, -1, &error))
    fail_msg ("not JSON (%s): %s", error->message, text);
  return json_node_copy (json_parser_get_root (p));
}

static int
group_setup (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fixture_root = gvd_test_data_path ("data", "hosts", "server-8gpu", NULL);
  g_autofree char *qemu_img = g_find_program_in_path ("qemu-img");
  int status = 0;

  fx.ctl = gvd_test_build_path ("src", "ctl", "gpuvmctl", NULL);
  gvd_test_require (g_file_test (fx.ctl, G_FILE_TEST_IS_EXECUTABLE), "%s is not built", fx.ctl);
  gvd_test_require (qemu_img != NULL, "qemu-img is not installed (qemu-utils)");
  fx.conn = virConnectOpen ("qemu:///system");
  assert_non_null (fx.conn);
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  fx.state_dir = g_dir_make_tmp ("gvdtest-ctl-XXXXXX", &error);
  assert_non_null (fx.state_dir);
  fx.config = g_strdup_printf (BASE_CONFIG, fx.state_dir, fx.state_dir);
  fx.config_fixture = g_strdup_printf ("%s[host]\nsysfs_root=%s/sys\nprocfs_root=%s/proc\n",
                                       fx.config, fixture_root, fixture_root);
  /* A small qcow2, made the way an operator would. */
  fx.image_file = g_build_filename (fx.state_dir, IMAGE, NULL);
  {
    const char *argv[] = { qemu_img, "create", "-q", "-f", "qcow2", fx.image_file, "64M", NULL };

    assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                               &status, &error));
    assert_true (g_spawn_check_wait_status (status, NULL));
  }
  return 0;
}

static int
group_teardown (void **state)
{
  gvd_test_libvirt_cleanup (fx.conn, PREFIX, POOL);
  virConnectClose (fx.conn);
  gvd_test_rm_rf (fx.state_dir);
  g_free (fx.state_dir);
  g_free (fx.image_file);
  g_free (fx.config);
  g_free (fx.config_fixture);
  g_free (fx.ctl);
  return 0;
}

/* Until the daemon has reconciled with libvirt (503 not_ready before). */
static void
wait_ready (GvdTestDaemon *d)
{
  for (int i = 0; i < 200; i++)
    {
      g_auto(Run) r = { 0 };

      ctl (&r, "--socket", d->socket_path, "devices", "--available", "-o", "name");
      if (r.status == 0)
        return;
      g_usleep (50 * 1000);
    }
  fail_msg ("gpuvmd did not become ready");
}

/* ---- no daemon needed ------------------------------------------------------------ */

static void
usage_and_unreachable__no_daemon__exit_2_and_3 (void **state)
{
  g_autofree char *gone = g_build_filename (fx.state_dir, "no-such.sock", NULL);
  const char *const *bad[] = {
    (const char *[]) { "bogus", NULL },
    (const char *[]) { NULL },
    (const char *[]) { "show", NULL },
    (const char *[]) { "show", "a", "b", NULL },
    (const char *[]) { "-o", "xml", "list", NULL },
    (const char *[]) { "list", "--bogus", NULL },
    (const char *[]) { "create", "x", NULL },
    (const char *[]) { "create", "x", "--image", "i", "--gpus", "1", "--device", "d", NULL },
    (const char *[]) { "create", "x", "--image", "i", "--memory", "lots", NULL },
    (const char *[]) { "--socket", "/s", "--url", "http://127.0.0.1:1", "list", NULL },
    (const char *[]) { "image", "import", "x", "https://example.com/x.qcow2", NULL },
    (const char *[]) { "image", "import", "x", "https://example.com/x.qcow2", "--sha256", "a",
                       "--sha512", "b", NULL },
    (const char *[]) { "image", "import", "x", "/srv/x.qcow2", "--sha256", "a", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new ();
      g_autoptr(GSubprocess) p = NULL;
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_ptr_array_add (argv, fx.ctl);
      g_ptr_array_add (argv, "--socket");
      g_ptr_array_add (argv, gone);
      for (gsize j = 0; bad[i][j] != NULL; j++)
        g_ptr_array_add (argv, (char *) bad[i][j]);
      g_ptr_array_add (argv, NULL);
      p = g_subprocess_newv ((const char *const *) argv->pdata,
                             G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL);
      assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, NULL));
      if (g_subprocess_get_exit_status (p) != 2 || !g_str_has_prefix (err, "gpuvmctl: "))
        fail_msg ("case %zu: exit %d, stderr %s", i, g_subprocess_get_exit_status (p), err);
    }
  {
    g_auto(Run) r = { 0 };
    g_auto(Run) env = { 0 };
    g_autofree char *var = g_strdup_printf ("GPUVMD_SOCKET=%s", gone);
    const char *const envv[] = { var, NULL };

    ctl (&r, "--socket", gone, "list");
    expect (&r, 3, "unreachable socket");
    assert_non_null (strstr (r.err, "cannot reach gpuvmd at unix:"));
    ctl_env (&env, envv, "list", NULL);
    expect (&env, 3, "$GPUVMD_SOCKET unreachable");
    assert_non_null (strstr (env.err, gone));
  }
  {
    g_auto(Run) help = { 0 };
    g_auto(Run) ver = { 0 };

    ctl (&help, "--help");
    expect (&help, 0, "--help");
    assert_non_null (strstr (help.out, "\n  reservation add "));
    ctl (&ver, "--version");
    expect (&ver, 0, "--version");
    assert_string_equal (ver.out, "gpuvmctl " PACKAGE_VERSION "\n");
  }
}

/* ---- the fixture host: devices, plans, reservations, dry runs -------------------- */

static void
host_side__fixture_host__tables_json_names_and_codes (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config_fixture, NULL);
  const char *s = d->socket_path;
  g_auto(Run) host = { 0 }, hostj = { 0 }, tree = { 0 }, add = { 0 }, dup = { 0 }, names = { 0 };
  g_auto(Run) rm = { 0 }, rm2 = { 0 }, plan = { 0 }, nogpus = { 0 }, res = { 0 }, resl = { 0 };
  g_auto(Run) resrm = { 0 }, resrm2 = { 0 }, dry = { 0 }, yaml = { 0 };
  g_autoptr(JsonNode) hj = NULL;
  g_autoptr(JsonNode) dj = NULL;
  g_autofree char *id = NULL;

  wait_ready (d);
  ctl (&host, "--socket", s, "host");
  expect (&host, 0, "host");
  assert_non_null (strstr (host.out, "STATUS"));
  assert_non_null (strstr (host.out, "iommu_groups"));
  assert_non_null (strstr (host.out, "\nverdict: VMs "));
  ctl (&hostj, "--socket", s, "--json", "host");
  expect (&hostj, 0, "host --json");
  hj = json_of (hostj.out);
  assert_true (JSON_NODE_HOLDS_ARRAY (gvd_test_json_path (hj, "checks")));

  /* The IOMMU group tree: a group line, then its GPU one level in. */
  ctl (&tree, "--socket", s, "devices", "--available");
  expect (&tree, 0, "devices --available");
  {
    const char *g = strstr (tree.out, "iommu group 6");
    const char *dev = strstr (tree.out, "0000:03:00.0");

    assert_non_null (g);
    assert_non_null (dev);
    assert_true (dev > g);
    assert_non_null (strstr (tree.out, "GA100"));
  }

  ctl (&add, "--socket", s, "device", "add", "gpu0", "0000:03:00.0");
  expect (&add, 0, "device add");
  ctl (&dup, "--socket", s, "device", "add", "gpu0", "0000:04:00.0");
  expect_api_error (&dup, 5, "already_exists");
  ctl (&names, "--socket", s, "devices", "-o", "name");
  expect (&names, 0, "devices -o name");
  assert_string_equal (names.out, "gpu0\n");
  ctl (&rm, "--socket", s, "device", "rm", "gpu0");
  expect (&rm, 0, "device rm");
  ctl (&rm2, "--socket", s, "device", "rm", "gpu0");
  expect_api_error (&rm2, 4, "device_not_found");

  ctl (&plan, "--socket", s, "plan", "--gpus", "2", "--model", "A100", "-o", "name");
  expect (&plan, 0, "plan");
  {
    g_auto(GStrv) lines = g_strsplit (plan.out, "\n", -1);
    assert_int_equal (g_strv_length (lines), 3); /* two addresses and "" */
  }
  ctl (&nogpus, "--socket", s, "plan", "--gpus", "9");
  expect_api_error (&nogpus, 5, "insufficient_gpus");

  ctl (&res, "--socket", s, "reservation", "add", "--gpus", "1", "--ttl", "60", "-o", "name");
  expect (&res, 0, "reservation add");
  id = g_strstrip (g_strdup (res.out));
  assert_int_equal (strlen (id), 36);
  ctl (&resl, "--socket", s, "reservations", "-o", "name");
  expect (&resl, 0, "reservations");
  assert_non_null (strstr (resl.out, id));
  ctl (&resrm, "--socket", s, "reservation", "rm", id);
  expect (&resrm, 0, "reservation rm");
  ctl (&resrm2, "--socket", s, "reservation", "rm", id);
  expect_api_error (&resrm2, 4, "not_found");

  /* Import a small qcow2 (the first daemon to see the pool imports it). */
  {
    g_auto(Run) imp = { 0 };
    g_auto(Run) list = { 0 };

    ctl (&imp, "--socket", s, "image", "import", IMAGE, fx.image_file);
    expect (&imp, 0, "image import");
    assert_non_null (strstr (imp.out, "qcow2"));
    ctl (&list, "--socket", s, "images", "-o", "name");
    expect (&list, 0, "images -o name");
    assert_string_equal (list.out, IMAGE "\n");
  }
  /* A URL goes to the daemon with its digest; [images] url_allow is empty
   * here, so the daemon refuses it. */
  {
    g_auto(Run) url = { 0 };

    ctl (&url, "--socket", s, "image", "import", "from-url", "https://example.com/x.qcow2",
         "--sha256", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    expect_api_error (&url, 1, "forbidden");
    assert_non_null (strstr (url.err, "url_allow"));
  }
  /* A dry run with a GPU: the document as JSON, the hostdev in the XML. */
  ctl (&dry, "--socket", s, "create", "ctl-dry", "--image", IMAGE, "--gpus", "1", "--memory",
       "256M", "--label", "team=ci", "--dry-run", "-o", "json");
  expect (&dry, 0, "create --dry-run");
  dj = json_of (dry.out);
  assert_true (gvd_test_json_bool (dj, "dry_run"));
  assert_non_null (strstr (gvd_test_json_string (dj, "domain_xml"), "<hostdev"));
  assert_non_null (strstr (gvd_test_json_string (dj, "domain_xml"), "team"));
  ctl (&yaml, "--socket", s, "reservations", "-o", "yaml");
  expect (&yaml, 0, "reservations -o yaml");
  gvd_test_daemon_stop (d, TRUE);
}

/* ---- a real instance ------------------------------------------------------------------ */

static void
lifecycle__real_instance__create_list_show_actions_delete (void **state)
{
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, NULL);
  const char *s = d->socket_path;
  g_auto(Run) imp = { 0 }, create = { 0 }, again = { 0 }, names = { 0 }, lj = { 0 }, show = { 0 };
  g_auto(Run) missing = { 0 }, inuse = { 0 }, shut = { 0 }, start = { 0 }, stop = { 0 };
  g_auto(Run) reboot = { 0 }, console = { 0 }, qmp = { 0 }, events = { 0 }, del = { 0 };
  g_auto(Run) del2 = { 0 }, irm = { 0 }, table = { 0 };
  g_autoptr(JsonNode) list = NULL;
  g_autoptr(JsonNode) inst = NULL;
  g_autoptr(JsonNode) q = NULL;

  wait_ready (d);
  /* Imported by the test before (or now, when it ran alone); twice is a conflict. */
  ctl (&imp, "--socket", s, "image", "import", IMAGE, fx.image_file);
  if (imp.status != 0)
    expect_api_error (&imp, 5, "already_exists");
  {
    g_auto(Run) twice = { 0 };

    ctl (&twice, "--socket", s, "image", "import", IMAGE, fx.image_file);
    expect_api_error (&twice, 5, "already_exists");
  }

  ctl (&create, "--socket", s, "create", "ctl-life", "--image", IMAGE, "--vcpus", "1",
       "--memory", "256M", "--disk", "1G", "--label", "team=ci");
  expect (&create, 0, "create");
  assert_string_equal (create.err, ""); /* no progress when not on a terminal */
  assert_non_null (strstr (create.out, "ctl-life"));
  ctl (&again, "--socket", s, "create", "ctl-life", "--image", IMAGE, "--memory", "256M");
  expect_api_error (&again, 5, "already_exists");

  ctl (&names, "--socket", s, "list", "-o", "name");
  expect (&names, 0, "list -o name");
  assert_string_equal (names.out, "ctl-life\n");
  /* bash completion: commands, and instance names from the same daemon. */
  {
    g_autofree char *script = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "data",
                                                "bash-completion", "gpuvmctl", NULL);
    const char *prog = "source \"$1\"; eval \"COMP_WORDS=(\\\"\\$2\\\" --socket \\\"\\$3\\\" $4)\"; "
                       "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _gpuvmctl; "
                       "printf '%s\\n' \"${COMPREPLY[@]}\"";
    const char *names_argv[] = { "bash", "-c", prog, "_", script, fx.ctl, s, "show ''", NULL };
    const char *cmds_argv[] = { "bash", "-c", prog, "_", script, fx.ctl, s, "de", NULL };
    g_autofree char *names_out = NULL;
    g_autofree char *cmds_out = NULL;
    int st = 0;

    assert_true (g_spawn_sync (NULL, (char **) names_argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &names_out, NULL, &st, NULL));
    assert_string_equal (names_out, "ctl-life\n");
    assert_true (g_spawn_sync (NULL, (char **) cmds_argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &cmds_out, NULL, &st, NULL));
    assert_non_null (strstr (cmds_out, "devices\n"));
    assert_non_null (strstr (cmds_out, "device\n"));
    assert_non_null (strstr (cmds_out, "delete\n"));
  }
  ctl (&table, "--socket", s, "list");
  expect (&table, 0, "list");
  assert_true (g_str_has_prefix (table.out, "NAME"));
  assert_non_null (strstr (table.out, "running"));
  assert_non_null (strstr (table.out, "256.0 MiB"));
  ctl (&lj, "--socket", s, "list", "-o", "json");
  expect (&lj, 0, "list -o json");
  list = json_of (lj.out);
  assert_int_equal (json_array_get_length (json_node_get_array (gvd_test_json_path (list, "instances"))), 1);
  ctl (&show, "--socket", s, "show", "ctl-life", "--json");
  expect (&show, 0, "show --json");
  inst = json_of (show.out);
  assert_string_equal (gvd_test_json_string (inst, "labels.team"), "ci");
  assert_string_equal (gvd_test_json_string (inst, "domain"), PREFIX "ctl-life");
  assert_int_equal (gvd_test_json_int (inst, "memory_mib"), 256);
  ctl (&missing, "--socket", s, "show", "ctl-nope");
  expect_api_error (&missing, 4, "not_found");
  ctl (&inuse, "--socket", s, "image", "rm", IMAGE);
  expect_api_error (&inuse, 5, "conflict");

  ctl (&qmp, "--socket", s, "qmp", "ctl-life", "{\"execute\": \"query-status\"}");
  expect (&qmp, 0, "qmp");
  q = json_of (qmp.out);
  assert_true (gvd_test_json_bool (q, "return.running"));

  /* The console route may not exist in this daemon: then the API's error. */
  ctl (&console, "--socket", s, "console", "ctl-life", "--tail", "5");
  if (console.status != 0)
    {
      assert_true (console.status == 1 || console.status == 4);
      assert_true (g_str_has_prefix (console.err, "gpuvmctl: "));
      assert_true (g_str_has_suffix (console.err, ")\n"));
    }

  /* No OS in the guest: shutdown powers off after its timeout. */
  ctl (&shut, "--socket", s, "shutdown", "ctl-life", "--timeout", "2");
  expect (&shut, 0, "shutdown");
  assert_string_equal (shut.out, "instance ctl-life: shutoff\n");
  ctl (&reboot, "--socket", s, "reboot", "ctl-life");
  expect_api_error (&reboot, 5, "invalid_state");
  ctl (&start, "--socket", s, "start", "ctl-life", "-o", "name");
  expect (&start, 0, "start");
  assert_string_equal (start.out, "ctl-life\n");
  ctl (&stop, "--socket", s, "stop", "ctl-life");
  expect (&stop, 0, "stop");
  assert_string_equal (stop.out, "instance ctl-life: shutoff\n");

  /* The kept events replayed as JSON lines, ids rising: libvirt.connected,
   * the create's steps in order, the create, then states and health. */
  ctl (&events, "--socket", s, "events", "--since", "0", "--count", "10", "-o", "json");
  expect (&events, 0, "events");
  {
    static const char *const want[] = { "planned", "volumes", "seed", "defined", "started" };
    g_auto(GStrv) lines = g_strsplit (events.out, "\n", -1);
    gboolean created = FALSE;
    guint step = 0;
    gint64 last = 0;

    assert_int_equal (g_strv_length (lines), 11);
    for (gsize i = 0; i < 10; i++)
      {
        g_autoptr(JsonNode) e = json_of (lines[i]);
        const char *type = gvd_test_json_string (e, "type");
        gint64 id = g_ascii_strtoll (gvd_test_json_string (e, "id"), NULL, 10);

        assert_true (id > last);
        last = id;
        if (g_str_equal (type, "instance.progress"))
          {
            assert_string_equal (gvd_test_json_string (e, "data.name"), "ctl-life");
            assert_true (step < G_N_ELEMENTS (want));
            assert_string_equal (gvd_test_json_string (e, "data.step"), want[step]);
            assert_false (created); /* every step before the create is told */
            step++;
          }
        if (g_str_equal (type, "instance.created"))
          {
            assert_string_equal (gvd_test_json_string (e, "data.name"), "ctl-life");
            created = TRUE;
          }
      }
    assert_int_equal (step, G_N_ELEMENTS (want));
    assert_true (created);
  }

  /* On a terminal (script(1) gives it one) create shows its steps from
   * /v1/events on stderr; --wait ready then gives up at --timeout, since
   * this guest has no OS and no agent. */
  {
    g_autofree char *script = g_find_program_in_path ("script");
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_auto(Run) del_tty = { 0 };
    int st = 0;

    if (script != NULL)
      {
        cmd = g_strdup_printf ("%s --socket %s create ctl-tty --image " IMAGE " --memory 256M "
                               "--disk 1G --wait ready --timeout 3",
                               fx.ctl, s);
        {
          const char *argv[] = { script, "-qec", cmd, "/dev/null", NULL };
          gint64 t0 = g_get_monotonic_time ();

          assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                     &out, NULL, &st, NULL));
          print_message ("create --wait ready --timeout 3 on a terminal: %.1f s\n",
                         (g_get_monotonic_time () - t0) / 1e6);
        }
        assert_true (WIFEXITED (st));
        assert_int_equal (WEXITSTATUS (st), 1);
        for (gsize i = 0; i < 6; i++)
          {
            static const char *const shown[] = { "requested", "planned", "volumes", "seed",
                                                  "defined", "started" };
            g_autofree char *line = g_strdup_printf ("creating ctl-tty: %s (", shown[i]);

            if (strstr (out, line) == NULL)
              fail_msg ("no '%s' on the terminal:\n%s", line, out);
          }
        assert_non_null (strstr (out, "gpuvmctl: ctl-tty did not become ready within 3 s"));
        assert_non_null (strstr (out, "(timeout)"));
        ctl (&del_tty, "--socket", s, "delete", "ctl-tty");
        expect (&del_tty, 0, "delete ctl-tty");
      }
  }

  ctl (&del, "--socket", s, "delete", "ctl-life");
  expect (&del, 0, "delete");
  ctl (&del2, "--socket", s, "delete", "ctl-life");
  expect_api_error (&del2, 4, "not_found");
  ctl (&irm, "--socket", s, "image", "rm", IMAGE);
  expect (&irm, 0, "image rm");
  gvd_test_daemon_stop (d, TRUE);
}

/* ---- TCP with a bearer token ------------------------------------------------------------ */

static void
tcp__token_file__required_and_never_printed (void **state)
{
  const char *args[] = { "--listen", "127.0.0.1:0", NULL };
  g_autoptr(GvdTestDaemon) d = gvd_test_daemon_start (fx.config, args);
  g_autofree char *token_path = g_build_filename (fx.state_dir, "admin.token", NULL);
  g_autofree char *token = NULL;
  g_autofree char *bad_path = g_build_filename (fx.state_dir, "bad.token", NULL);
  g_autofree char *env_token = NULL;
  g_autofree char *env_url = NULL;
  g_auto(Run) none = { 0 }, good = { 0 }, bad = { 0 }, env = { 0 };

  assert_non_null (d->tcp_url);
  assert_true (g_file_get_contents (token_path, &token, NULL, NULL));
  g_strstrip (token);
  assert_true (g_file_set_contents (bad_path, "0000\n", -1, NULL));

  ctl (&none, "--url", d->tcp_url, "list");
  expect_api_error (&none, 1, "unauthorized");
  ctl (&bad, "--url", d->tcp_url, "--token-file", bad_path, "list");
  expect_api_error (&bad, 1, "unauthorized");
  ctl (&good, "--url", d->tcp_url, "--token-file", token_path, "list", "-o", "json");
  expect (&good, 0, "list over TCP with the token file");
  {
    g_autoptr(JsonNode) n = json_of (good.out);
    assert_true (JSON_NODE_HOLDS_ARRAY (gvd_test_json_path (n, "instances")));
  }
  env_token = g_strdup_printf ("GPUVMD_TOKEN=%s", token);
  env_url = g_strdup_printf ("GPUVMD_URL=%s", d->tcp_url);
  {
    const char *const envv[] = { env_url, env_token, NULL };

    ctl_env (&env, envv, "host", "-o", "yaml", NULL);
    expect (&env, 0, "host over $GPUVMD_URL with $GPUVMD_TOKEN");
  }
  /* The token never appears in anything gpuvmctl prints. */
  assert_null (strstr (none.err, token));
  assert_null (strstr (bad.err, "0000"));
  assert_null (strstr (good.out, token));
  assert_null (strstr (env.out, token));
  assert_null (strstr (env.err, token));
  g_unlink (bad_path);
  gvd_test_daemon_stop (d, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (usage_and_unreachable__no_daemon__exit_2_and_3),
    cmocka_unit_test (host_side__fixture_host__tables_json_names_and_codes),
    cmocka_unit_test (lifecycle__real_instance__create_list_show_actions_delete),
    cmocka_unit_test (tcp__token_file__required_and_never_printed),
  };

  gvd_test_require_libvirtd ();
  return cmocka_run_group_tests_name ("gpuvmctl", tests, group_setup, group_teardown);
}
