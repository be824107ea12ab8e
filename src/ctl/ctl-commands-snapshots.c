/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's snapshot commands: snapshot create, list, revert, rm
 * (/v1/instances/{name}/snapshots). */
#include "config.h"

#include "ctl.h"

#include <glib/gi18n.h>


/* /v1/instances/NAME/snapshots[/SNAP][suffix], each segment escaped. */
static char *
snapshots_path (GvdCtl *ctl, gboolean with_snap, const char *suffix)
{
  g_autofree char *name = g_uri_escape_string (gvd_ctl_arg (ctl, 0), NULL, FALSE);
  g_autofree char *snap = with_snap ? g_uri_escape_string (gvd_ctl_arg (ctl, 1), NULL, FALSE)
                                    : NULL;

  return g_strdup_printf ("/v1/instances/%s/snapshots%s%s%s", name, snap != NULL ? "/" : "",
                          snap != NULL ? snap : "", suffix);
}

static gboolean
run_snapshot_list (GvdCtl *ctl, GError **error)
{
  const GvdCtlColumn cols[] = {
    { _("NAME"), "name", GVD_CTL_CELL_TEXT, FALSE },
    { _("CREATED"), "created_at", GVD_CTL_CELL_TEXT, FALSE },
    { _("VOLUME"), "volume", GVD_CTL_CELL_TEXT, FALSE },
    { _("NVRAM"), "nvram_volume", GVD_CTL_CELL_TEXT, FALSE },
    { _("CONSISTENCY"), "consistency", GVD_CTL_CELL_TEXT, FALSE },
  };
  g_autofree char *path = snapshots_path (ctl, FALSE, "");
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "GET", path, NULL, NULL, NULL,
                                                    error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_print_list (ctl, answer, "snapshots", cols, G_N_ELEMENTS (cols), "name");
  return TRUE;
}

static gboolean
run_snapshot_create (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = snapshots_path (ctl, FALSE, "");
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) answer = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, gvd_ctl_arg (ctl, 1));
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  answer = gvd_ctl_client_call (ctl->client, "POST", path, body, NULL, NULL, error);
  if (answer == NULL)
    return FALSE;
  gvd_ctl_print_object (ctl, answer, "name");
  return TRUE;
}

static gboolean
run_snapshot_revert (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = snapshots_path (
    ctl, TRUE, gvd_ctl_args_has (ctl->args, "discard-newer") ? "/revert?discard_newer=true"
                                                               : "/revert");
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "POST", path, NULL, NULL, NULL,
                                                    error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_say (ctl, _("instance %s reverted to snapshot %s\n"), gvd_ctl_arg (ctl, 0),
               gvd_ctl_arg (ctl, 1));
  return TRUE;
}

static gboolean
run_snapshot_rm (GvdCtl *ctl, GError **error)
{
  g_autofree char *path = snapshots_path (ctl, TRUE, "");
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "DELETE", path, NULL, NULL, NULL,
                                                    error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_say (ctl, _("snapshot %s of instance %s deleted\n"), gvd_ctl_arg (ctl, 1),
               gvd_ctl_arg (ctl, 0));
  return TRUE;
}

static const GvdCtlOption revert_options[] = {
  { "discard-newer", 0, FALSE, FALSE },
  { NULL },
};

const GvdCtlCommand gvd_ctl_snapshot_commands[] = {
  { "snapshot list", "NAME", N_("an instance's disk snapshots"), 1, 1, NULL, run_snapshot_list },
  { "snapshot create", "NAME SNAPSHOT", N_("snapshot an instance's disk and NVRAM (live if it runs)"), 2, 2,
    NULL, run_snapshot_create },
  { "snapshot revert", "NAME SNAPSHOT [--discard-newer]",
    N_("go back to a snapshot (the instance stopped)"), 2, 2, revert_options,
    run_snapshot_revert },
  { "snapshot rm", "NAME SNAPSHOT", N_("delete a snapshot (merging layers when needed)"), 2, 2, NULL,
    run_snapshot_rm },
  { NULL },
};
