/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VFIO path on a real kernel: a TCG guest (the rig, scripts/build-rig-image)
 * with QEMU's emulated Intel IOMMU and interrupt remapping runs its own
 * libvirtd and the gpuvmd built from this tree, which passes the rig's
 * bochs-display (bound by bochs-drm: the stand-in GPU) through to a nested
 * QEMU with vfio-pci. The rig boots with a job disk (tests/vfio-rig/run, the
 * gpuvmd binary and its configuration) and reports on its second serial
 * port, one line per assertion; API answers are checked here.
 *
 * Run by `make check-vfio` (and scripts/run-tests), not by `make check`. */
#include "config.h"

#include "testlib.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "virt-conn.h"

#define RIG_DOMAIN "gvd-test-vfio-rig"
/* The whole job took ~3-4 min here; a loaded CI machine may double it. */
#define RIG_TIMEOUT_S 720

/* PCI addresses inside the rig, fixed by rig_xml() (and tests/vfio-rig/run). */
#define GPU "0000:01:00.0"
#define BOOT_VGA "0000:00:01.0"
#define NIC "0000:02:00.0"
#define AHCI "0000:00:1f.2"
#define BR_A "0000:05:01.0"
#define BR_B "0000:05:02.0"
#define SMBUS "0000:00:1f.3"

typedef struct {
  char *rootfs;
  char *kernel;
  char *initrd;
} RigImage;

static void
rig_image_clear (RigImage *r)
{
  g_free (r->rootfs);
  g_free (r->kernel);
  g_free (r->initrd);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RigImage, rig_image_clear)

typedef struct {
  GHashTable *results; /* name → "ok ..." / "fail ..." (script assertions) */
  GHashTable *docs;    /* name → JsonNode (API answers) */
  GHashTable *status;  /* name → HTTP status as string */
  GPtrArray *phases;   /* char *: "NAME SECONDS ..." */
  char *gpu_group;
  gboolean done;
  guint failures;
} Report;

static void
report_clear (Report *r)
{
  g_clear_pointer (&r->results, g_hash_table_unref);
  g_clear_pointer (&r->docs, g_hash_table_unref);
  g_clear_pointer (&r->status, g_hash_table_unref);
  g_clear_pointer (&r->phases, g_ptr_array_unref);
  g_clear_pointer (&r->gpu_group, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Report, report_clear)

static double
since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

static gboolean
run_quiet (const char *const *argv, char **out_stdout)
{
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out_stdout, &err,
                     &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    {
      print_message ("%s failed: %s\n", argv[0], err != NULL ? err : "");
      return FALSE;
    }
  return TRUE;
}

/* Build the rig image once (cached under /var/tmp) and read its paths. */
static gboolean
rig_image (RigImage *out)
{
  g_autofree char *script = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "scripts",
                                              "build-rig-image", NULL);
  const char *argv[] = { script, NULL };
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!run_quiet (argv, &text))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "rootfs "))
        out->rootfs = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "kernel "))
        out->kernel = g_strdup (lines[i] + 7);
      else if (g_str_has_prefix (lines[i], "initrd "))
        out->initrd = g_strdup (lines[i] + 7);
    }
  return out->rootfs != NULL && out->kernel != NULL && out->initrd != NULL;
}

/* @intremap: "on" or "off"; @job: the job's mode (gvd.job= on the kernel
 * command line, read by tests/vfio-rig/run); its serial output goes to
 * DIR/job-MODE.log. */
static char *
rig_xml (const RigImage *img, const char *dir, const char *intremap, const char *job)
{
  /* Each candidate behind its own pcie-root-port (alone in its IOMMU
   * group, thanks to the root port's ACS); two devices behind a
   * pcie-to-pci-bridge (one group); the ICH9 functions 00:1f.* come with
   * q35. The bochs-display goes in through the QEMU command line: libvirt
   * only takes bochs as the primary video device. The primary (boot) VGA is
   * a virtio-vga, driven by virtio-pci/virtio_gpu and not by bochs-drm, so
   * the job can unload bochs while the stand-in GPU is passed through (a
   * std VGA would keep the module in use). The CPU model is the one the
   * image's warm-up boot used, so libvirt's capability cache stays valid. */
  return g_strdup_printf (
    "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
    "  <name>" RIG_DOMAIN "</name>\n"
    "  <memory unit='MiB'>3072</memory>\n"
    "  <vcpu>2</vcpu>\n"
    "  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='q35'>hvm</type>\n"
    "    <kernel>%s</kernel>\n"
    "    <initrd>%s</initrd>\n"
    /* initramfs-tools mounts /run noexec and the image's job runner runs
     * the job from /run: boot into the runner (systemd-run-generator)
     * after remounting /run exec. */
    "    <cmdline>root=/dev/vda rw console=ttyS0 intel_iommu=on gvd.job=%s "
    "systemd.run_success_action=none "
    "systemd.run=\"/bin/bash -c 'mount -o remount,exec /run; "
    "exec /usr/local/sbin/gvd-rig-job'\"</cmdline>\n"
    "  </os>\n"
    "  <features><acpi/><apic/><ioapic driver='qemu'/></features>\n"
    "  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>"
    "<on_crash>destroy</on_crash>\n"
    "  <devices>\n"
    "    <controller type='pci' index='0' model='pcie-root'/>\n"
    "    <controller type='pci' index='1' model='pcie-root-port'><address type='pci' domain='0' "
    "bus='0' slot='2' function='0' multifunction='on'/></controller>\n"
    "    <controller type='pci' index='2' model='pcie-root-port'><address type='pci' domain='0' "
    "bus='0' slot='2' function='1'/></controller>\n"
    "    <controller type='pci' index='3' model='pcie-root-port'><address type='pci' domain='0' "
    "bus='0' slot='2' function='2'/></controller>\n"
    "    <controller type='pci' index='4' model='pcie-root-port'><address type='pci' domain='0' "
    "bus='0' slot='2' function='3'/></controller>\n"
    "    <controller type='pci' index='5' model='pcie-to-pci-bridge'><address type='pci' "
    "domain='0' bus='4' slot='0' function='0'/></controller>\n"
    "    <controller type='pci' index='6' model='pcie-root-port'><address type='pci' domain='0' "
    "bus='0' slot='2' function='4'/></controller>\n"
    "    <controller type='usb' model='none'/>\n"
    "    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='unsafe'/>"
    "<source file='%s/root.qcow2'/><target dev='vda' bus='virtio'/>"
    "<address type='pci' domain='0' bus='3' slot='0' function='0'/></disk>\n"
    "    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
    "<source file='%s/job.iso'/><target dev='vdb' bus='virtio'/><serial>gvdjob</serial>"
    "<readonly/><address type='pci' domain='0' bus='6' slot='0' function='0'/></disk>\n"
    "    <interface type='user'><model type='e1000e'/><rom bar='off'/>"
    "<address type='pci' domain='0' bus='2' slot='0' function='0'/></interface>\n"
    "    <rng model='virtio'><backend model='random'>/dev/urandom</backend>"
    "<address type='pci' domain='0' bus='5' slot='1' function='0'/></rng>\n"
    "    <memballoon model='virtio'><address type='pci' domain='0' bus='5' slot='2' "
    "function='0'/></memballoon>\n"
    "    <video><model type='virtio' primary='yes'/><address type='pci' domain='0' bus='0' "
    "slot='1' function='0'/></video>\n"
    "    <serial type='file'><source path='%s/console.log'/><target port='0'/></serial>\n"
    "    <serial type='file'><source path='%s/job-%s.log'/><target port='1'/></serial>\n"
    "    <iommu model='intel'><driver intremap='%s' caching_mode='on'/></iommu>\n"
    "  </devices>\n"
    "  <qemu:commandline>\n"
    "    <qemu:arg value='-device'/>\n"
    "    <qemu:arg value='{\"driver\":\"bochs-display\",\"bus\":\"pci.1\",\"addr\":\"0x0\"}'/>\n"
    "  </qemu:commandline>\n"
    "</domain>\n",
    img->kernel, img->initrd, job, dir, dir, dir, dir, job, intremap);
}

/* The job disk: the driver script, the daemon built from the tree, its
 * configuration (Rock Ridge keeps the modes). */
static gboolean
make_job_iso (const char *dir)
{
  g_autofree char *job = g_build_filename (dir, "job", NULL);
  g_autofree char *iso = g_build_filename (dir, "job.iso", NULL);
  g_autofree char *gpuvmd = gvd_test_build_path ("src", "gpuvmd", NULL);
  g_autofree char *run = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "tests", "vfio-rig", "run",
                                           NULL);
  g_autofree char *conf = g_build_filename (g_getenv ("GVD_TEST_SRCDIR"), "tests", "vfio-rig",
                                            "gpuvmd.conf", NULL);
  const char *cp[] = { "cp", gpuvmd, run, conf, job, NULL };
  const char *mk[] = { "genisoimage", "-quiet", "-R", "-V", "gvdjob", "-o", iso, job, NULL };

  g_mkdir (job, 0755);
  return run_quiet (cp, NULL) && run_quiet (mk, NULL);
}

static void
handle_line (Report *r, const char *line, gint64 t0)
{
  const char *rest;

  if (!g_str_has_prefix (line, "GVD-VFIO "))
    {
      if (g_str_has_prefix (line, "GVD-RIG "))
        print_message ("[%6.1f s] %s\n", since (t0), line);
      return;
    }
  rest = line + strlen ("GVD-VFIO ");
  if (g_str_has_prefix (rest, "json "))
    {
      g_auto(GStrv) parts = g_strsplit (rest + 5, " ", 3);
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (g_strv_length (parts) < 2)
        return;
      g_hash_table_replace (r->status, g_strdup (parts[0]), g_strdup (parts[1]));
      /* An empty body (204) parses to no root at all. */
      if (parts[2] != NULL && json_parser_load_from_data (parser, parts[2], -1, NULL)
          && json_parser_get_root (parser) != NULL)
        g_hash_table_replace (r->docs, g_strdup (parts[0]), json_node_copy (json_parser_get_root (parser)));
      print_message ("  json %s: %s %.160s%s\n", parts[0], parts[1], parts[2] != NULL ? parts[2] : "",
                     parts[2] != NULL && strlen (parts[2]) > 160 ? "..." : "");
      return;
    }
  print_message ("[%6.1f s] %s\n", since (t0), rest);
  if (g_str_has_prefix (rest, "ok ") || g_str_has_prefix (rest, "fail "))
    {
      gboolean ok = rest[0] == 'o';
      const char *name = rest + (ok ? 3 : 5);
      const char *sp = strchr (name, ' ');
      g_autofree char *key = sp != NULL ? g_strndup (name, sp - name) : g_strdup (name);

      g_hash_table_replace (r->results, g_steal_pointer (&key), g_strdup (ok ? "ok" : "fail"));
    }
  else if (g_str_has_prefix (rest, "phase "))
    g_ptr_array_add (r->phases, g_strdup (rest + 6));
  else if (g_str_has_prefix (rest, "info gpu_group "))
    r->gpu_group = g_strdup (rest + strlen ("info gpu_group "));
  else if (g_str_equal (rest, "done"))
    r->done = TRUE;
}

/* ---- soft JSON look-ups: NULL instead of failing the test ------------------ */

static JsonNode *
jpath (JsonNode *root, const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = root;

  for (gsize i = 0; node != NULL && parts[i] != NULL; i++)
    {
      if (!JSON_NODE_HOLDS_OBJECT (node)
          || !json_object_has_member (json_node_get_object (node), parts[i]))
        return NULL;
      node = json_object_get_member (json_node_get_object (node), parts[i]);
    }
  return node;
}

static const char *
jstr (JsonNode *root, const char *path)
{
  JsonNode *n = root != NULL ? jpath (root, path) : NULL;

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n)
           : NULL;
}

static gboolean
jnull (JsonNode *root, const char *path)
{
  JsonNode *n = root != NULL ? jpath (root, path) : NULL;

  return n != NULL && JSON_NODE_HOLDS_NULL (n);
}

/* The element of devices[] (GET /v1/devices/available) with @address. */
static JsonNode *
available (Report *r, const char *doc, const char *address)
{
  JsonNode *root = g_hash_table_lookup (r->docs, doc);
  JsonNode *devs = root != NULL ? jpath (root, "devices") : NULL;
  JsonArray *arr;

  if (devs == NULL || !JSON_NODE_HOLDS_ARRAY (devs))
    return NULL;
  arr = json_node_get_array (devs);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      if (g_strcmp0 (jstr (e, "address"), address) == 0)
        return e;
    }
  return NULL;
}

/* A refusal (error.details[]) with this peer and peer driver. */
static gboolean
refusal_names (JsonNode *root, const char *code, const char *peer, const char *peer_driver)
{
  JsonNode *details = root != NULL ? jpath (root, "error.details") : NULL;
  JsonArray *arr;

  if (g_strcmp0 (jstr (root, "error.code"), code) != 0 || details == NULL
      || !JSON_NODE_HOLDS_ARRAY (details))
    return FALSE;
  arr = json_node_get_array (details);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      if (g_strcmp0 (jstr (e, "peer"), peer) == 0
          && (peer_driver == NULL || g_strcmp0 (jstr (e, "peer_driver"), peer_driver) == 0))
        return TRUE;
    }
  return FALSE;
}

static gboolean
contains (const char *haystack, const char *needle)
{
  return haystack != NULL && strstr (haystack, needle) != NULL;
}

static gboolean
status_is (Report *r, const char *doc, const char *status)
{
  return g_strcmp0 (g_hash_table_lookup (r->status, doc), status) == 0;
}

static void
expect (Report *r, const char *name, gboolean ok)
{
  print_message ("%s %s\n", ok ? "ok  " : "FAIL", name);
  if (!ok)
    r->failures++;
}

static void
check_api_answers (Report *r)
{
  JsonNode *gpu = available (r, "devices.available", GPU);
  JsonNode *vga = available (r, "devices.available", BOOT_VGA);
  JsonNode *nic = available (r, "devices.available", NIC);
  JsonNode *doc;
  g_autofree char *group = NULL;

  /* 2. what is offered, what is refused */
  if (gpu != NULL && jpath (gpu, "device.iommu_group") != NULL)
    group = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (jpath (gpu, "device.iommu_group")));
  expect (r, "offers.gpu_group_is_the_kernels", group != NULL && g_strcmp0 (group, r->gpu_group) == 0);
  expect (r, "offers.gpu_driver_bochs_drm", g_strcmp0 (jstr (gpu, "device.driver"), "bochs-drm") == 0);
  expect (r, "offers.gpu_isolated", g_strcmp0 (jstr (gpu, "isolation"), "isolated") == 0);
  expect (r, "offers.boot_vga_host_critical",
          vga != NULL && jpath (vga, "device.host_critical") != NULL
            && json_node_get_boolean (jpath (vga, "device.host_critical"))
            && g_strcmp0 (jstr (vga, "device.host_critical_reason"), "boot VGA (the host console)") == 0);
  expect (r, "offers.nic_offered", g_strcmp0 (jstr (nic, "device.driver"), "e1000e") == 0);
  doc = g_hash_table_lookup (r->docs, "plan.smbus");
  expect (r, "plan.smbus_refused_naming_ahci",
          status_is (r, "plan.smbus", "422") && refusal_names (doc, "group_conflict", AHCI, "ahci"));
  doc = g_hash_table_lookup (r->docs, "plan.bridge_group");
  expect (r, "plan.bridge_group_conflict_names_peer",
          status_is (r, "plan.bridge_group", "422")
            && refusal_names (doc, "group_conflict", BR_A, "virtio-pci"));
  doc = g_hash_table_lookup (r->docs, "plan.boot_vga");
  expect (r, "plan.boot_vga_refused_host_critical",
          g_strcmp0 (jstr (doc, "error.code"), "host_critical") == 0);

  /* 3. create */
  doc = g_hash_table_lookup (r->docs, "create.n1");
  expect (r, "create.running", status_is (r, "create.n1", "201")
                                 && g_strcmp0 (jstr (doc, "state"), "running") == 0);

  /* 6. kill -9, restart: the claim is rebuilt */
  doc = g_hash_table_lookup (r->docs, "recover.n1");
  expect (r, "recover.instance_running", g_strcmp0 (jstr (doc, "state"), "running") == 0);
  doc = g_hash_table_lookup (r->docs, "recover.second_create");
  expect (r, "recover.second_create_409_device_in_use",
          status_is (r, "recover.second_create", "409")
            && g_strcmp0 (jstr (doc, "error.code"), "device_in_use") == 0);
  expect (r, "recover.gpu_claimed",
          jstr (available (r, "recover.available", GPU), "holder") != NULL);
  expect (r, "recover.handmade_domain_holds_nic",
          g_strcmp0 (jstr (available (r, "recover.available", NIC), "holder"), "domain:handmade") == 0);

  /* 5. stop */
  expect (r, "stop.answered_200", status_is (r, "stop.n1", "200"));
  gpu = available (r, "stop.available", GPU);
  expect (r, "stop.not_quarantined", gpu != NULL && jpath (gpu, "quarantined") != NULL
                                       && !json_node_get_boolean (jpath (gpu, "quarantined")));

  /* 4. device_busy */
  doc = g_hash_table_lookup (r->docs, "busy.start_refused");
  expect (r, "busy.start_409_device_busy", status_is (r, "busy.start_refused", "409")
                                             && g_strcmp0 (jstr (doc, "error.code"), "device_busy") == 0);
  doc = g_hash_table_lookup (r->docs, "busy.start_after");
  expect (r, "busy.start_after_holder_exits", status_is (r, "busy.start_after", "200")
                                                && g_strcmp0 (jstr (doc, "state"), "running") == 0);

  /* 7. delete */
  expect (r, "delete.answered_204", status_is (r, "delete.n1", "204"));
  gpu = available (r, "delete.available", GPU);
  expect (r, "delete.no_claim", gpu != NULL && jnull (gpu, "holder"));

  /* 5, second half: bochs unloaded while the guest ran, so nothing rebinds
   * the device on stop; the gate quarantines it, the planner refuses it,
   * and a clear once the driver is back returns it. */
  expect (r, "quarantine.registered_201", status_is (r, "quarantine.register", "201"));
  doc = g_hash_table_lookup (r->docs, "quarantine.create");
  expect (r, "quarantine.create_running", status_is (r, "quarantine.create", "201")
                                            && g_strcmp0 (jstr (doc, "state"), "running") == 0);
  expect (r, "quarantine.stop_answered_200", status_is (r, "quarantine.stop", "200"));
  doc = g_hash_table_lookup (r->docs, "quarantine.device");
  expect (r, "quarantine.device_quarantined_naming_missing_driver",
          status_is (r, "quarantine.device", "200")
            && g_strcmp0 (jstr (doc, "state"), "quarantined") == 0
            && contains (jstr (doc, "quarantine_reason"), "no driver")
            && contains (jstr (doc, "quarantine_reason"), "bochs-drm"));
  gpu = available (r, "quarantine.available_quarantined", GPU);
  expect (r, "quarantine.available_says_quarantined",
          gpu != NULL && jpath (gpu, "quarantined") != NULL
            && json_node_get_boolean (jpath (gpu, "quarantined")));
  doc = g_hash_table_lookup (r->docs, "quarantine.plan_refused");
  expect (r, "quarantine.plan_409_device_quarantined",
          status_is (r, "quarantine.plan_refused", "409")
            && g_strcmp0 (jstr (doc, "error.code"), "device_quarantined") == 0
            && contains (jstr (doc, "error.message"), "no driver"));
  doc = g_hash_table_lookup (r->docs, "quarantine.create_refused");
  expect (r, "quarantine.create_refused_device_quarantined",
          g_strcmp0 (jstr (doc, "error.code"), "device_quarantined") == 0);
  doc = g_hash_table_lookup (r->docs, "quarantine.still_quarantined");
  expect (r, "quarantine.stays_until_cleared",
          g_strcmp0 (jstr (doc, "state"), "quarantined") == 0);
  doc = g_hash_table_lookup (r->docs, "quarantine.clear");
  expect (r, "quarantine.clear_200_not_quarantined",
          status_is (r, "quarantine.clear", "200") && jstr (doc, "state") != NULL
            && g_strcmp0 (jstr (doc, "state"), "quarantined") != 0
            && jnull (doc, "quarantine_reason"));
  doc = g_hash_table_lookup (r->docs, "quarantine.plan_after_clear");
  expect (r, "quarantine.plan_after_clear_200", status_is (r, "quarantine.plan_after_clear", "200"));
  gpu = available (r, "quarantine.available_cleared", GPU);
  expect (r, "quarantine.available_not_quarantined",
          gpu != NULL && jpath (gpu, "quarantined") != NULL
            && !json_node_get_boolean (jpath (gpu, "quarantined")));
  expect (r, "quarantine.delete_answered_204", status_is (r, "quarantine.delete", "204"));
}

static const char *const script_assertions[] = {
  "rig.runtime_libraries", "rig.iommu_groups", "rig.gpu_on_bochs_drm",
  "check.iommu_groups", "check.iommu_cmdline", "check.interrupt_remapping", "check.hostdev_vfio",
  "check.vfio_modules", "check.kvm_device_fails_with_remedy", "check.verdict", "check.exit_1",
  "daemon.up", "daemon.image_imported", "plan.ahci_untouched",
  "create.gpu_on_vfio_pci", "create.qemu_holds_vfio_group", "create.qemu_holds_vfio_container",
  "recover.handmade_defined", "recover.restarted",
  "stop.gpu_on_bochs_drm", "stop.vendor_id_readable",
  "busy.card_found", "busy.names_holder", "busy.logged", "busy.gpu_on_vfio_pci",
  "delete.gpu_on_bochs_drm", "delete.no_domain", "delete.no_volume",
  "quarantine.restarted", "quarantine.gpu_on_vfio_pci", "quarantine.bochs_unloaded",
  "quarantine.gpu_without_driver", "quarantine.gate_quarantined", "quarantine.logged",
  "quarantine.bochs_reloaded", "quarantine.gpu_rebound", "quarantine.no_domain_left",
  NULL
};

/* 8. GPU hot-plug (tests/vfio-rig/run hotplug_section) */
static const char *const hotplug_assertions[] = {
  "hotplug.gpu_on_vfio_pci", "hotplug.qemu_holds_vfio_group", "hotplug.live_xml_has_gpu",
  "hotplug.config_has_gpu", "hotplug.gpu_claimed", "hotplug.ahci_untouched",
  "hotplug.smbus_unclaimed", "hotplug.h2_has_no_hostdev", "hotplug.group_on_vfio_pci",
  "hotplug.qemu_holds_group_of_two", "hotplug.group_live", "hotplug.timeout_still_live",
  "hotplug.timeout_still_config", "hotplug.timeout_still_claimed", "hotplug.timeout_still_vfio",
  "hotplug.stop_gpu_on_bochs_drm", "hotplug.stop_group_host_drivers",
  "hotplug.stop_nothing_quarantined", "hotplug.cold_gpu_not_config",
  "hotplug.cold_gpu_unclaimed", "hotplug.cold_group_not_config", "hotplug.cold_group_unclaimed",
  "hotplug.restarted_with_fault", "hotplug.rollback_not_config", "hotplug.rollback_unclaimed",
  "hotplug.rollback_host_drivers", "hotplug.rollback_logged", "hotplug.restarted",
  "hotplug.gpu_back_on_bochs_drm",
  NULL
};

/* devices[] of an instance's JSON holds @address. */
static gboolean
instance_has_device (JsonNode *root, const char *address)
{
  JsonNode *devs = root != NULL ? jpath (root, "devices") : NULL;

  if (devs == NULL || !JSON_NODE_HOLDS_ARRAY (devs))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (devs)); i++)
    {
      JsonNode *e = json_array_get_element (json_node_get_array (devs), i);
      if (g_strcmp0 (jstr (e, "pci_address"), address) == 0)
        return TRUE;
    }
  return FALSE;
}

/* A refusal's details name @device as held by @holder. */
static gboolean
refusal_holder (JsonNode *root, const char *device, const char *holder)
{
  JsonNode *details = root != NULL ? jpath (root, "error.details") : NULL;

  if (details == NULL || !JSON_NODE_HOLDS_ARRAY (details))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (json_node_get_array (details)); i++)
    {
      JsonNode *e = json_array_get_element (json_node_get_array (details), i);
      if (g_strcmp0 (jstr (e, "device"), device) == 0 && g_strcmp0 (jstr (e, "holder"), holder) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
check_hotplug_answers (Report *r)
{
  JsonNode *doc;

  doc = g_hash_table_lookup (r->docs, "hotplug.start");
  expect (r, "hotplug.started_without_gpu",
          status_is (r, "hotplug.start", "200") && !instance_has_device (doc, GPU));
  doc = g_hash_table_lookup (r->docs, "hotplug.attach_gpu");
  expect (r, "hotplug.attach_gpu_200_lists_it",
          status_is (r, "hotplug.attach_gpu", "200") && instance_has_device (doc, GPU));
  doc = g_hash_table_lookup (r->docs, "hotplug.attach_smbus");
  expect (r, "hotplug.attach_smbus_refused_naming_ahci",
          status_is (r, "hotplug.attach_smbus", "422")
            && refusal_names (doc, "group_conflict", AHCI, "ahci"));
  doc = g_hash_table_lookup (r->docs, "hotplug.attach_claimed");
  expect (r, "hotplug.attach_claimed_409_device_in_use",
          status_is (r, "hotplug.attach_claimed", "409")
            && g_strcmp0 (jstr (doc, "error.code"), "device_in_use") == 0
            && refusal_holder (doc, GPU, "h1"));
  doc = g_hash_table_lookup (r->docs, "hotplug.attach_group");
  expect (r, "hotplug.attach_group_200_lists_both",
          status_is (r, "hotplug.attach_group", "200") && instance_has_device (doc, BR_A)
            && instance_has_device (doc, BR_B) && instance_has_device (doc, GPU));
  /* No guest OS: the unplug is never acknowledged. */
  doc = g_hash_table_lookup (r->docs, "hotplug.detach_gpu");
  expect (r, "hotplug.detach_gpu_504_timeout_kept",
          status_is (r, "hotplug.detach_gpu", "504")
            && g_strcmp0 (jstr (doc, "error.code"), "timeout") == 0
            && contains (jstr (doc, "error.message"), "stays attached and claimed")
            && contains (jstr (doc, "error.message"), "device_timeout"));
  doc = g_hash_table_lookup (r->docs, "hotplug.after_timeout");
  expect (r, "hotplug.after_timeout_still_listed", instance_has_device (doc, GPU));
  doc = g_hash_table_lookup (r->docs, "hotplug.detach_gpu_cold");
  expect (r, "hotplug.cold_detach_gpu_200",
          status_is (r, "hotplug.detach_gpu_cold", "200") && !instance_has_device (doc, GPU)
            && instance_has_device (doc, BR_A));
  doc = g_hash_table_lookup (r->docs, "hotplug.detach_group_cold");
  expect (r, "hotplug.cold_detach_group_200_lists_neither",
          status_is (r, "hotplug.detach_group_cold", "200") && !instance_has_device (doc, BR_A)
            && !instance_has_device (doc, BR_B));
  doc = g_hash_table_lookup (r->docs, "hotplug.attach_rollback");
  expect (r, "hotplug.rollback_502_names_function",
          status_is (r, "hotplug.attach_rollback", "502")
            && contains (jstr (doc, "error.message"), "attaching " BR_B)
            && contains (jstr (doc, "error.message"), "TEST-ONLY"));
  doc = g_hash_table_lookup (r->docs, "hotplug.after_rollback");
  expect (r, "hotplug.after_rollback_no_device",
          doc != NULL && !instance_has_device (doc, BR_A) && !instance_has_device (doc, BR_B));
  expect (r, "hotplug.delete_h1_204", status_is (r, "hotplug.delete_h1", "204"));
}

static void
expect_script (Report *r, const char *const *names)
{
  for (gsize i = 0; names[i] != NULL; i++)
    expect (r, names[i], g_strcmp0 (g_hash_table_lookup (r->results, names[i]), "ok") == 0);
}

/* A failing assertion the lists do not name fails too. */
static void
expect_no_other_failures (Report *r, const char *const *a, const char *const *b)
{
  GHashTableIter it;
  gpointer k, v;

  g_hash_table_iter_init (&it, r->results);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (g_str_equal (v, "fail") && !g_strv_contains (a, k) && (b == NULL || !g_strv_contains (b, k)))
      expect (r, k, FALSE);
}

static const char *const intremap_off_assertions[] = {
  "intremap_off.interrupt_remapping_fails_with_remedy", "intremap_off.verdict_passthrough_no",
  NULL
};

static void
destroy_rig (virConnectPtr conn)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, RIG_DOMAIN);

  if (dom == NULL)
    return;
  if (virDomainIsActive (dom) == 1)
    virDomainDestroy (dom);
  if (virDomainIsPersistent (dom) == 1)
    virDomainUndefine (dom);
}

static void
report_init (Report *r)
{
  r->results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->docs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_node_unref);
  r->status = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->phases = g_ptr_array_new_with_free_func (g_free);
}

/* Boot the rig (transient) with job mode @job, read the job's serial port
 * line by line into @r until it is done, the rig powers off (a transient
 * domain then disappears) or time runs out; then destroy it. */
static void
boot_rig (virConnectPtr conn, const RigImage *img, const char *dir, const char *intremap,
          const char *job, Report *r)
{
  g_autofree char *xml = rig_xml (img, dir, intremap, job);
  g_autofree char *name = g_strdup_printf ("job-%s.log", job);
  g_autofree char *joblog = g_build_filename (dir, name, NULL);
  g_autoptr(virDomain) dom = NULL;
  gint64 t_started;
  gsize offset = 0;
  gboolean gone = FALSE;

  destroy_rig (conn);
  dom = virDomainCreateXML (conn, xml, 0);
  if (dom == NULL)
    fail_msg ("the rig did not start: %s", virGetLastErrorMessage ());
  t_started = g_get_monotonic_time ();
  print_message ("---- rig boot: job %s, intremap %s ----\n", job, intremap);
  while (!r->done && !gone && since (t_started) < RIG_TIMEOUT_S)
    {
      g_autofree char *text = NULL;
      gsize len = 0;

      gone = virDomainIsActive (dom) != 1;
      if (g_file_get_contents (joblog, &text, &len, NULL) && len > offset)
        {
          char *start = text + offset;
          char *nl;

          while ((nl = memchr (start, '\n', len - (start - text))) != NULL)
            {
              *nl = '\0';
              if (nl > start && nl[-1] == '\r')
                nl[-1] = '\0';
              handle_line (r, start, t_started);
              start = nl + 1;
            }
          offset = start - text;
        }
      if (!r->done && !gone)
        g_usleep (200 * 1000);
    }
  print_message ("phase host.rig_%s %.1f s (rig start to job done)\n", job, since (t_started));
  destroy_rig (conn);
  if (!r->done)
    {
      g_autofree char *console = g_build_filename (dir, "console.log", NULL);
      g_autofree char *text = NULL;

      if (g_file_get_contents (console, &text, NULL, NULL))
        {
          gsize n = strlen (text);
          print_message ("---- rig console (tail) ----\n%s\n", text + (n > 6000 ? n - 6000 : 0));
        }
    }
}

static void
rig__passes_a_device_through__every_assertion_ok (void **state)
{
  g_auto(RigImage) img = { 0 };
  g_auto(Report) r = { 0 };
  g_autofree char *dir = NULL;
  g_autofree char *overlay = NULL;
  g_auto(Report) r2 = { 0 };
  g_autoptr(virConnect) conn = NULL;
  gint64 t0 = g_get_monotonic_time (), t_image;
  /* GVD_VFIO_QUICK=1: the main boot only (for a quick run while working on
   * the job); CI runs both. */
  gboolean quick = g_strcmp0 (g_getenv ("GVD_VFIO_QUICK"), "1") == 0;
  gboolean only_hotplug = g_strcmp0 (g_getenv ("GVD_VFIO_ONLY"), "hotplug") == 0;

  gvd_test_require_libvirtd ();
  gvd_test_require (rig_image (&img), "scripts/build-rig-image could not build the rig image");
  t_image = g_get_monotonic_time ();
  print_message ("phase host.image %.1f s\n", since (t0));

  /* QEMU runs as libvirt-qemu: the directory must be world-readable. */
  dir = g_strdup ("/var/tmp/gvd-vfio-XXXXXX");
  assert_non_null (g_mkdtemp_full (dir, 0755));
  g_chmod (dir, 0755);
  overlay = g_build_filename (dir, "root.qcow2", NULL);
  {
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                           img.rootfs, overlay, NULL };
    assert_true (run_quiet (argv, NULL));
  }
  assert_true (make_job_iso (dir));
  print_message ("phase host.job_disk %.1f s\n", since (t_image));

  conn = virConnectOpen ("qemu:///system");
  assert_non_null (conn);
  report_init (&r);
  report_init (&r2);
  if (only_hotplug)
    {
      /* GVD_VFIO_ONLY=hotplug: one boot that runs the hot-plug section only. */
      boot_rig (conn, &img, dir, "on", "hotplug", &r);
      print_message ("---- assertions (hot-plug only) ----\n");
      expect_script (&r, hotplug_assertions);
      expect_no_other_failures (&r, hotplug_assertions, NULL);
      check_hotplug_answers (&r);
      expect (&r, "job.done", r.done);
      for (guint i = 0; i < r.phases->len; i++)
        print_message ("phase rig.%s\n", (char *) g_ptr_array_index (r.phases, i));
      print_message ("phase host.total %.1f s\n", since (t0));
      if (r.failures > 0)
        fail_msg ("%u rig assertion(s) failed (files in %s)", r.failures, dir);
      gvd_test_rm_rf (dir);
      return;
    }
  boot_rig (conn, &img, dir, "on", "main", &r);

  /* Without interrupt remapping VFIO refuses the device: --check must say
   * so (a second, short boot that only runs the check). */
  if (!quick)
    boot_rig (conn, &img, dir, "off", "intremap-off", &r2);

  print_message ("---- assertions ----\n");
  for (gsize i = 0; script_assertions[i] != NULL; i++)
    expect (&r, script_assertions[i],
            g_strcmp0 (g_hash_table_lookup (r.results, script_assertions[i]), "ok") == 0);
  expect_no_other_failures (&r, script_assertions, hotplug_assertions);
  expect_script (&r, hotplug_assertions);
  check_api_answers (&r);
  check_hotplug_answers (&r);
  expect (&r, "job.done", r.done);
  if (quick)
    print_message ("GVD_VFIO_QUICK=1: the intremap-off boot and its assertions were skipped\n");
  else
    {
      for (gsize i = 0; intremap_off_assertions[i] != NULL; i++)
        expect (&r, intremap_off_assertions[i],
                g_strcmp0 (g_hash_table_lookup (r2.results, intremap_off_assertions[i]), "ok") == 0);
      expect (&r, "intremap_off.job_done", r2.done);
    }

  print_message ("---- phases (seconds since the job started in the rig) ----\n");
  for (guint i = 0; i < r.phases->len; i++)
    print_message ("phase rig.%s\n", (char *) g_ptr_array_index (r.phases, i));
  for (guint i = 0; i < r2.phases->len; i++)
    print_message ("phase rig-intremap-off.%s\n", (char *) g_ptr_array_index (r2.phases, i));
  print_message ("phase host.total %.1f s (%.1f s without the image build)\n", since (t0),
                 since (t_image));
  if (r.failures == 0)
    gvd_test_rm_rf (dir);
  else
    print_message ("rig files kept in %s\n", dir);
  if (r.failures > 0)
    fail_msg ("%u rig assertion(s) failed", r.failures);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (rig__passes_a_device_through__every_assertion_ok),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
