/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: a POST /v1/instances body, parsed as the API does
 * (gvd_api_parse_object), validated (gvd_create_request_parse) and, when
 * accepted, rendered to domain XML and cloud-init; the domain XML must read
 * back (gvd_domain_xml_parse, as recovery does) to the same request. */
#include "config.h"

#include "fuzz-common.h"
#include "console-text.h"

#include "api.h"
#include "cloudinit.h"
#include "errors.h"
#include "domain-xml-priv.h"
#include "domain-xml.h"
#include "instance-request.h"

static GvdAgentFiles *agent_files;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gvd_fuzz_init ();
  gvd_domain_xml_init ();
  agent_files = gvd_agent_files_new ("#!/usr/bin/python3\nprint('agent')\n",
                                     "[Unit]\nDescription=gpuvmd agent\n");
  return 0;
}

/* The request's fields put into a spec the way the instance manager's
 * build_spec() does (src/virt/instance-create.c), with the daemon's defaults for
 * what comes from configuration, the IPAM and the VFIO plan. */
static GvdInstanceSpec *
spec_from_request (const GvdCreateRequest *req)
{
  g_autoptr(GvdInstanceSpec) s = gvd_instance_spec_new ();
  g_autoptr(GvdDiskSpec) root = gvd_disk_spec_new ();
  g_autoptr(GvdNicSpec) nic = gvd_nic_spec_new ();

  s->name = g_strdup (req->name);
  s->domain_name = g_strconcat ("gpuvmd-", req->name, NULL);
  s->uuid = g_strdup ("6f1c3c52-1d3b-4b8e-9a4e-2f2b8f7f0a11");
  s->created_at = g_strdup ("2026-12-02T04:00:00Z");
  s->image = g_strdup (req->image);
  s->root_size_bytes = req->root_disk_gib * 1024 * 1024 * 1024;
  if (req->labels != NULL)
    s->labels = g_hash_table_ref (req->labels);
  s->requested_devices = g_strdupv (req->devices);
  s->requested_gpus = req->gpus;
  s->requested_model = g_strdup (req->gpu_model);
  s->firmware = req->firmware;
  s->vcpus = req->vcpus;
  s->memory_mib = req->memory_mib;

  root->type = GVD_DISK_VOLUME;
  root->pool = g_strdup ("gpuvmd");
  root->volume = g_strdup_printf ("%s-root.qcow2", s->domain_name);
  root->format = g_strdup ("qcow2");
  root->boot_order = 1;
  g_ptr_array_add (s->disks, g_steal_pointer (&root));
  s->seed_pool = g_strdup ("gpuvmd");
  s->seed_volume = g_strdup_printf ("%s-seed.iso", s->domain_name);

  nic->mode = req->network_set ? req->network_mode : GVD_NETWORK_USER;
  nic->source = g_strdup (req->network_set ? req->network_source : NULL);
  nic->mac = g_strdup ("52:54:00:12:34:56");
  if (req->ipv4 != NULL)
    {
      nic->ipv4 = g_strdup_printf ("%s/24", req->ipv4);
      nic->gateway = g_strdup ("10.77.0.1");
      nic->dns = g_strsplit ("10.77.0.1", ",", -1);
    }
  g_ptr_array_add (s->nics, g_steal_pointer (&nic));

  s->console_log = gvd_console_log_path (GVD_CONSOLE_LOG_DIR, s->domain_name);
  s->vnc = req->console_vnc;
  s->autostart = req->autostart;
  s->kernel = g_strdup (req->kernel);
  s->initrd = g_strdup (req->initrd);
  s->cmdline = g_strdup (req->cmdline);
  s->hostname = g_strdup (req->name);
  s->user = g_strdup (req->user);
  s->ssh_keys = g_strdupv (req->ssh_keys);
  s->password_hash = g_strdup (req->password_hash);
  s->packages = g_strdupv (req->packages);
  if (req->cloud_config != NULL)
    s->extra_cloud_config = json_object_ref (req->cloud_config);
  s->install_nvidia_driver = req->install_nvidia_driver;
  s->nvidia_driver_version = g_strdup ("550.54.15");
  s->heartbeat_interval = 30;
  s->agent_url = g_strdup ("http://10.0.2.2:8091");
  s->agent_token = g_strnfill (64, 'a');
  return g_steal_pointer (&s);
}

static void
assert_same_string (const char *what, const char *a, const char *b)
{
  if (g_strcmp0 (a, b) != 0)
    GVD_FUZZ_FAIL ("%s does not survive the domain XML: '%s' became '%s'", what, a, b);
}

/* Recovery rebuilds an instance from its domain XML after a restart: what
 * was accepted and rendered must read back the same, or the instance is lost
 * or changed at the next start. */
static void
check_round_trip (const GvdInstanceSpec *spec, const char *xml)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GvdInstanceSpec) back = gvd_domain_xml_parse (xml, &error);
  GHashTableIter iter;
  gpointer key, value;

  if (back == NULL)
    GVD_FUZZ_FAIL ("a rendered domain does not parse back: %s", error->message);
  assert_same_string ("name", spec->name, back->name);
  assert_same_string ("image", spec->image, back->image);
  assert_same_string ("gpu_model", spec->requested_model, back->requested_model);
  assert_same_string ("boot.kernel", spec->kernel, back->kernel);
  assert_same_string ("boot.initrd", spec->initrd, back->initrd);
  assert_same_string ("boot.cmdline", spec->cmdline, back->cmdline);
  if (spec->requested_gpus != back->requested_gpus || spec->vcpus != back->vcpus
      || spec->memory_mib != back->memory_mib || spec->firmware != back->firmware)
    GVD_FUZZ_FAIL ("gpus, vcpus, memory_mib or firmware do not survive the domain XML");
  for (guint i = 0; spec->requested_devices != NULL && spec->requested_devices[i] != NULL; i++)
    assert_same_string ("devices[]", spec->requested_devices[i],
                        back->requested_devices != NULL
                            && g_strv_length (back->requested_devices) > i
                          ? back->requested_devices[i]
                          : NULL);
  /* No labels and an empty "labels": {} both read back as none. */
  if (spec->labels == NULL || g_hash_table_size (spec->labels) == 0)
    return;
  if (back->labels == NULL || g_hash_table_size (back->labels) != g_hash_table_size (spec->labels))
    GVD_FUZZ_FAIL ("labels do not survive the domain XML");
  g_hash_table_iter_init (&iter, spec->labels);
  while (g_hash_table_iter_next (&iter, &key, &value))
    assert_same_string (key, value, g_hash_table_lookup (back->labels, key));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(JsonObject) body = NULL;
  g_autoptr(GvdCreateRequest) req = NULL;
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_autoptr(GvdCloudInitSeed) seed = NULL;
  g_autofree char *xml = NULL;
  g_autoptr(GError) error = NULL;

  body = gvd_api_parse_object ((const char *) data, size, &error);
  if (body == NULL)
    return 0;
  req = gvd_create_request_parse (body, &error);
  if (req == NULL)
    {
      g_assert (error != NULL && error->domain == GVD_ERROR);
      return 0;
    }
  spec = spec_from_request (req);
  xml = gvd_domain_xml_render (spec, NULL);
  if (xml != NULL)
    check_round_trip (spec, xml);
  seed = gvd_cloudinit_render (spec, agent_files, NULL);
  return 0;
}
