/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's hot-plug commands: disk attach/detach, nic attach/detach
 * (/v1/instances/{name}/disks and /networks). */
#include "config.h"

#include "ctl.h"

#include <glib/gi18n.h>

#include "ctl-error.h"

/* /v1/instances/NAME/KIND[/KEY], each segment escaped. */
static char *
hotplug_path (GvdCtl *ctl, const char *kind, const char *key, const char *query)
{
  g_autofree char *name = g_uri_escape_string (gvd_ctl_arg (ctl, 0), NULL, FALSE);
  g_autofree char *k = key != NULL ? g_uri_escape_string (key, NULL, FALSE) : NULL;

  return g_strdup_printf ("/v1/instances/%s/%s%s%s%s", name, kind, k != NULL ? "/" : "",
                          k != NULL ? k : "", query);
}

static void
add_string (JsonBuilder *b, GvdCtl *ctl, const char *option, const char *member)
{
  const char *v = gvd_ctl_args_get (ctl->args, option);

  if (v == NULL)
    return;
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, v);
}

static void
add_flag (JsonBuilder *b, GvdCtl *ctl, const char *option, const char *member)
{
  if (!gvd_ctl_args_has (ctl->args, option))
    return;
  json_builder_set_member_name (b, member);
  json_builder_add_boolean_value (b, TRUE);
}

/* disk attach NAME DISK (--size SIZE | --volume VOLUME) [--bus B] ... */
static gboolean
run_disk_attach (GvdCtl *ctl, GError **error)
{
  const char *size = gvd_ctl_args_get (ctl->args, "size");
  g_autofree char *path = hotplug_path (ctl, "disks", NULL, "");
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) answer = NULL;
  guint64 gib = 0;

  if ((size == NULL) == (gvd_ctl_args_get (ctl->args, "volume") == NULL))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("give either --size SIZE (a new volume) or --volume VOLUME"));
      return FALSE;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, gvd_ctl_arg (ctl, 1));
  if (size != NULL)
    {
      if (!gvd_ctl_parse_size_gib (size, "--size", &gib, error))
        return FALSE;
      json_builder_set_member_name (b, "size_gib");
      json_builder_add_int_value (b, (gint64) gib);
    }
  add_string (b, ctl, "volume", "volume");
  add_string (b, ctl, "bus", "bus");
  add_string (b, ctl, "format", "format");
  add_string (b, ctl, "serial", "serial");
  add_flag (b, ctl, "keep", "keep");
  add_flag (b, ctl, "readonly", "readonly");
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  answer = gvd_ctl_client_call (ctl->client, "POST", path, body, NULL, NULL, error);
  if (answer == NULL)
    return FALSE;
  gvd_ctl_print_object (ctl, answer, "name");
  return TRUE;
}

static gboolean
run_disk_detach (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = hotplug_path (ctl, "disks", gvd_ctl_arg (ctl, 1),
                                        gvd_ctl_args_has (ctl->args, "keep") ? "?keep=true" : "");
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "DELETE", path, NULL, NULL, NULL,
                                                    error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_say (ctl, _("disk %s detached from instance %s\n"), gvd_ctl_arg (ctl, 1),
               gvd_ctl_arg (ctl, 0));
  return TRUE;
}

/* nic attach NAME --mode MODE [--source S] [--mac MAC] [--ipv4 ADDRESS] [--device VF] */
static gboolean
run_nic_attach (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = hotplug_path (ctl, "networks", NULL, "");
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) answer = NULL;

  if (gvd_ctl_args_get (ctl->args, "mode") == NULL)
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("give --mode user|bridge|network|sriov"));
      return FALSE;
    }
  json_builder_begin_object (b);
  add_string (b, ctl, "mode", "mode");
  add_string (b, ctl, "source", "source");
  add_string (b, ctl, "mac", "mac");
  add_string (b, ctl, "ipv4", "ipv4");
  add_string (b, ctl, "device", "device");
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  answer = gvd_ctl_client_call (ctl->client, "POST", path, body, NULL, NULL, error);
  if (answer == NULL)
    return FALSE;
  gvd_ctl_print_object (ctl, answer, "name");
  return TRUE;
}

static gboolean
run_nic_detach (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = hotplug_path (ctl, "networks", gvd_ctl_arg (ctl, 1), "");
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "DELETE", path, NULL, NULL, NULL,
                                                    error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_say (ctl, _("NIC %s detached from instance %s\n"), gvd_ctl_arg (ctl, 1),
               gvd_ctl_arg (ctl, 0));
  return TRUE;
}

static const GvdCtlOption disk_attach_options[] = {
  { "size", 0, TRUE, FALSE },
  { "volume", 0, TRUE, FALSE },
  { "bus", 0, TRUE, FALSE },
  { "format", 0, TRUE, FALSE },
  { "serial", 0, TRUE, FALSE },
  { "keep", 0, FALSE, FALSE },
  { "readonly", 0, FALSE, FALSE },
  { NULL },
};
static const GvdCtlOption disk_detach_options[] = {
  { "keep", 0, FALSE, FALSE },
  { NULL },
};
static const GvdCtlOption nic_attach_options[] = {
  { "mode", 0, TRUE, FALSE },
  { "source", 0, TRUE, FALSE },
  { "mac", 0, TRUE, FALSE },
  { "ipv4", 0, TRUE, FALSE },
  { "device", 0, TRUE, FALSE },
  { NULL },
};

const GvdCtlCommand gvd_ctl_hotplug_commands[] = {
  { "disk attach",
    "NAME DISK (--size SIZE | --volume VOLUME) [--bus virtio|scsi|sata] [--format qcow2|raw] "
    "[--serial S] [--keep] [--readonly]",
    N_("attach a data disk (live when the instance runs)"), 2, 2, disk_attach_options,
    run_disk_attach },
  { "disk detach", "NAME TARGET [--keep]",
    N_("detach a data disk; its volume goes unless kept"), 2, 2, disk_detach_options,
    run_disk_detach },
  { "nic attach", "NAME --mode MODE [--source S] [--mac MAC] [--ipv4 ADDRESS]",
    N_("attach a NIC (live when the instance runs)"), 1, 1, nic_attach_options, run_nic_attach },
  { "nic detach", "NAME MAC", N_("detach a NIC and free its lease"), 2, 2, NULL, run_nic_detach },
  { NULL },
};
