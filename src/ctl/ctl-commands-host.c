/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's host-side commands: host, devices, device add/rm/clear, plan,
 * reservations, reservation add/rm. */
#include "config.h"

#include "ctl.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "ctl-error.h"
#include "ctl-request.h"

static char *
escape (const char *segment)
{
  return g_uri_escape_string (segment, NULL, FALSE);
}

/* ---- host ------------------------------------------------------------------ */

static const GvdCtlColumn check_columns[] = {
  { N_("STATUS"), "status", GVD_CTL_CELL_TEXT, FALSE },
  { N_("CATEGORY"), "category", GVD_CTL_CELL_TEXT, FALSE },
  { N_("CHECK"), "name", GVD_CTL_CELL_TEXT, FALSE },
  { N_("DETAIL"), "detail", GVD_CTL_CELL_TEXT, FALSE },
};

static gboolean
flag (JsonNode *n, const char *path)
{
  JsonNode *v = gvd_ctl_json_path (n, path);

  return v != NULL && JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_BOOLEAN
         && json_node_get_boolean (v);
}

static gboolean
run_host (GvdCtl *ctl, GError **error)
{
  g_autoptr(JsonNode) host = gvd_ctl_client_call (ctl->client, "GET", "/v1/host", NULL, NULL,
                                                  NULL, error);
  GvdCtlColumn cols[G_N_ELEMENTS (check_columns)];

  if (host == NULL)
    return FALSE;
  if (ctl->format != GVD_CTL_FORMAT_TABLE)
    {
      gvd_ctl_print_object (ctl, host, "hostname");
      return TRUE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (cols); i++)
    {
      cols[i] = check_columns[i];
      cols[i].header = _(check_columns[i].header);
    }
  {
    g_autofree char *name = gvd_ctl_cell_text (host, "hostname", GVD_CTL_CELL_TEXT);
    g_autofree char *cpu = gvd_ctl_cell_text (host, "cpu.model", GVD_CTL_CELL_TEXT);
    g_autofree char *count = gvd_ctl_cell_text (host, "cpu.count", GVD_CTL_CELL_TEXT);
    g_autofree char *mem = gvd_ctl_cell_text (host, "memory_bytes", GVD_CTL_CELL_BYTES);
    g_autofree char *gpuvmd = gvd_ctl_cell_text (host, "versions.gpuvmd", GVD_CTL_CELL_TEXT);
    g_autofree char *libvirt = gvd_ctl_cell_text (host, "versions.libvirt", GVD_CTL_CELL_TEXT);
    g_autofree char *qemu = gvd_ctl_cell_text (host, "versions.qemu", GVD_CTL_CELL_TEXT);
    g_autofree char *gpus = gvd_ctl_cell_text (host, "gpus", GVD_CTL_CELL_COUNT);
    JsonNode *checks = gvd_ctl_json_path (host, "checks");
    g_autofree char *table = gvd_ctl_render_table (cols, G_N_ELEMENTS (cols),
                                                   checks != NULL && JSON_NODE_HOLDS_ARRAY (checks)
                                                     ? json_node_get_array (checks) : NULL,
                                                   ctl->tty);

    printf (_("host: %s, %s CPUs (%s), %s memory, %s GPUs\n"), name, count, cpu, mem, gpus);
    printf (_("versions: gpuvmd %s, libvirt %s, QEMU %s\n\n"), gpuvmd, libvirt, qemu);
    fputs (table, stdout);
    if (checks != NULL && JSON_NODE_HOLDS_ARRAY (checks))
      {
        JsonArray *a = json_node_get_array (checks);

        for (guint i = 0; i < json_array_get_length (a); i++)
          {
            JsonNode *c = json_array_get_element (a, i);
            JsonNode *remedy = gvd_ctl_json_path (c, "remedy");

            if (remedy != NULL && JSON_NODE_HOLDS_VALUE (remedy))
              printf (_("remedy for %s: %s\n"), json_node_get_string (gvd_ctl_json_path (c, "name")),
                      json_node_get_string (remedy));
          }
      }
    printf (_("verdict: VMs %s, GPU passthrough %s\n"),
            !flag (host, "vm_capable") ? _("no") : flag (host, "vm_emulated") ? _("slow (TCG)") : _("yes"),
            flag (host, "passthrough_capable") ? _("yes") : _("no"));
  }
  return TRUE;
}

/* ---- devices ----------------------------------------------------------------- */

static gboolean
run_devices (GvdCtl *ctl, GError **error)
{
  gboolean available = gvd_ctl_args_has (ctl->args, "available");
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "GET",
                                                    available ? "/v1/devices/available"
                                                              : "/v1/devices",
                                                    NULL, NULL, NULL, error);
  JsonNode *list;

  if (answer == NULL)
    return FALSE;
  list = gvd_ctl_json_path (answer, "devices");
  if (ctl->format == GVD_CTL_FORMAT_TABLE && list != NULL && JSON_NODE_HOLDS_ARRAY (list))
    {
      /* IOMMU groups with their devices (and, for candidates, the group's
       * other members below each), as lsblk draws disks. */
      const GvdCtlColumn registry[] = {
        { _("NAME"), "name", GVD_CTL_CELL_TEXT, FALSE },
        { _("ADDRESS"), "pci_address", GVD_CTL_CELL_TEXT, FALSE },
        { _("STATE"), "state", GVD_CTL_CELL_TEXT, FALSE },
        { _("HOLDER"), "holder", GVD_CTL_CELL_TEXT, FALSE },
        { _("DRIVER"), "inventory.driver", GVD_CTL_CELL_TEXT, FALSE },
        { _("DEVICE"), "inventory.device", GVD_CTL_CELL_TEXT, FALSE },
      };
      const GvdCtlColumn candidates[] = {
        { _("ADDRESS"), "address", GVD_CTL_CELL_TEXT, FALSE },
        { _("NAME"), "name", GVD_CTL_CELL_TEXT, FALSE },
        { _("HOLDER"), "holder", GVD_CTL_CELL_TEXT, FALSE },
        { _("ISOLATION"), "isolation", GVD_CTL_CELL_TEXT, FALSE },
        { _("DRIVER"), "device.driver|driver", GVD_CTL_CELL_TEXT, FALSE },
        { _("DEVICE"), "device.device", GVD_CTL_CELL_TEXT, FALSE },
      };
      g_autofree char *tree = available
        ? gvd_ctl_render_tree (candidates, G_N_ELEMENTS (candidates), json_node_get_array (list),
                               "device.iommu_group", _("iommu group"), "group_peers", ctl->tty)
        : gvd_ctl_render_tree (registry, G_N_ELEMENTS (registry), json_node_get_array (list),
                               "inventory.iommu_group", _("iommu group"), NULL, ctl->tty);
      fputs (tree, stdout);
      return TRUE;
    }
  gvd_ctl_print_list (ctl, answer, "devices", NULL, 0, available ? "name|address" : "name");
  return TRUE;
}

static gboolean
run_device_add (GvdCtl *ctl, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) dev = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, gvd_ctl_arg (ctl, 0));
  json_builder_set_member_name (b, "pci_address");
  json_builder_add_string_value (b, gvd_ctl_arg (ctl, 1));
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  dev = gvd_ctl_client_call (ctl->client, "POST", "/v1/devices", body, NULL, NULL, error);
  if (dev == NULL)
    return FALSE;
  if (ctl->format == GVD_CTL_FORMAT_TABLE)
    printf (_("device %s registered for %s\n"), gvd_ctl_arg (ctl, 0), gvd_ctl_arg (ctl, 1));
  else
    gvd_ctl_print_object (ctl, dev, "name");
  return TRUE;
}

static gboolean
device_verb (GvdCtl *ctl, const char *method, const char *suffix, GError **error)
{
  g_autofree char *id = escape (gvd_ctl_arg (ctl, 0));
  g_autofree char *path = g_strdup_printf ("/v1/devices/%s%s", id, suffix);
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, method, path, NULL, NULL, NULL,
                                                    error);

  if (answer == NULL)
    return FALSE;
  if (ctl->format != GVD_CTL_FORMAT_TABLE && !JSON_NODE_HOLDS_NULL (answer))
    gvd_ctl_print_object (ctl, answer, "name");
  return TRUE;
}

static gboolean
run_device_rm (GvdCtl *ctl, GError **error)
{
  if (!device_verb (ctl, "DELETE", "", error))
    return FALSE;
  gvd_ctl_say (ctl, _("device %s removed\n"), gvd_ctl_arg (ctl, 0));
  return TRUE;
}

static gboolean
run_device_clear (GvdCtl *ctl, GError **error)
{
  if (!device_verb (ctl, "POST", "/clear", error))
    return FALSE;
  gvd_ctl_say (ctl, _("device %s: quarantine cleared\n"), gvd_ctl_arg (ctl, 0));
  return TRUE;
}

/* ---- plan -------------------------------------------------------------------- */

static gboolean
run_plan (GvdCtl *ctl, GError **error)
{
  g_autoptr(JsonNode) body = gvd_ctl_plan_body (ctl->args, error);
  g_autoptr(JsonNode) plan = NULL;

  if (body == NULL)
    return FALSE;
  plan = gvd_ctl_client_call (ctl->client, "POST", "/v1/plans", body, NULL, NULL, error);
  if (plan == NULL)
    return FALSE;
  if (ctl->format == GVD_CTL_FORMAT_TABLE)
    {
      const GvdCtlColumn cols[] = {
        { _("ADDRESS"), "address", GVD_CTL_CELL_TEXT, FALSE },
        { _("ROLE"), "role", GVD_CTL_CELL_TEXT, FALSE },
        { _("GROUP"), "iommu_group", GVD_CTL_CELL_TEXT, TRUE },
        { _("DRIVER"), "host_driver", GVD_CTL_CELL_TEXT, FALSE },
        { _("GUEST-BUS"), "guest_bus", GVD_CTL_CELL_TEXT, TRUE },
        { _("FUNCTION"), "guest_function", GVD_CTL_CELL_TEXT, TRUE },
      };
      g_autofree char *isolation = gvd_ctl_cell_text (plan, "isolation", GVD_CTL_CELL_TEXT);
      g_autofree char *gpus = gvd_ctl_cell_text (plan, "gpus", GVD_CTL_CELL_LIST);
      g_autofree char *numa = gvd_ctl_cell_text (plan, "numa_nodes", GVD_CTL_CELL_LIST);

      gvd_ctl_print_list (ctl, plan, "hostdevs", cols, G_N_ELEMENTS (cols), "address");
      printf (_("GPUs %s, NUMA nodes %s, isolation %s\n"), gpus, numa, isolation);
      return TRUE;
    }
  gvd_ctl_print_list (ctl, plan, "hostdevs", NULL, 0, "address");
  return TRUE;
}

/* ---- reservations ------------------------------------------------------------ */

static gboolean
run_reservations (GvdCtl *ctl, GError **error)
{
  const GvdCtlColumn cols[] = {
    { _("ID"), "id", GVD_CTL_CELL_TEXT, FALSE },
    { _("STATE"), "state", GVD_CTL_CELL_TEXT, FALSE },
    { _("DEVICES"), "devices", GVD_CTL_CELL_LIST, FALSE },
    { _("IP"), "ip", GVD_CTL_CELL_TEXT, FALSE },
    { _("EXPIRES-IN"), "expires_in_seconds", GVD_CTL_CELL_TEXT, TRUE },
  };
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "GET", "/v1/reservations", NULL,
                                                    NULL, NULL, error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_print_list (ctl, answer, "reservations", cols, G_N_ELEMENTS (cols), "id");
  return TRUE;
}

static gboolean
run_reservation_add (GvdCtl *ctl, GError **error)
{
  g_autoptr(JsonNode) body = gvd_ctl_reservation_body (ctl->args, error);
  g_autoptr(JsonNode) r = NULL;

  if (body == NULL)
    return FALSE;
  r = gvd_ctl_client_call (ctl->client, "POST", "/v1/reservations", body, NULL, NULL, error);
  if (r == NULL)
    return FALSE;
  gvd_ctl_print_object (ctl, r, "id");
  return TRUE;
}

static gboolean
run_reservation_rm (GvdCtl *ctl, GError **error)
{
  g_autofree char *id = escape (gvd_ctl_arg (ctl, 0));
  g_autofree char *path = g_strdup_printf ("/v1/reservations/%s", id);
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "DELETE", path, NULL, NULL,
                                                    NULL, error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_say (ctl, _("reservation %s released\n"), gvd_ctl_arg (ctl, 0));
  return TRUE;
}

static const GvdCtlOption devices_options[] = {
  { "available", 0, FALSE, FALSE },
  { NULL },
};
static const GvdCtlOption plan_options[] = {
  { "gpus", 0, TRUE, FALSE },
  { "model", 0, TRUE, FALSE },
  { "vendor", 0, TRUE, FALSE },
  { "device", 0, TRUE, TRUE },
  { NULL },
};
static const GvdCtlOption reservation_options[] = {
  { "gpus", 0, TRUE, FALSE },
  { "device", 0, TRUE, TRUE },
  { "ttl", 0, TRUE, FALSE },
  { NULL },
};

const GvdCtlCommand gvd_ctl_host_commands[] = {
  { "host", "", N_("the host check report (gpuvmd --check) and its GPUs"), 0, 0, NULL, run_host },
  { "devices", "[--available]",
    N_("registered devices (--available: passthrough candidates), by IOMMU group"), 0,
    0, devices_options, run_devices },
  { "device add", "NAME PCI-ADDRESS", N_("register a name for a passthrough device"), 2, 2, NULL,
    run_device_add },
  { "device rm", "NAME", N_("forget a registered device"), 1, 1, NULL, run_device_rm },
  { "device clear", "NAME", N_("clear a device's quarantine"), 1, 1, NULL, run_device_clear },
  { "plan", "--gpus N [--model M] [--vendor V] | --device D...",
    N_("dry-run the VFIO planner: which devices and groups a VM would get"), 0, 0, plan_options,
    run_plan },
  { "reservations", "", N_("list reservations"), 0, 0, NULL, run_reservations },
  { "reservation add", "--gpus N | --device D... [--ttl SECONDS]",
    N_("hold devices and an address for a later create"), 0, 0, reservation_options,
    run_reservation_add },
  { "reservation rm", "ID", N_("release a reservation"), 1, 1, NULL, run_reservation_rm },
  { NULL },
};
