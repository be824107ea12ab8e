/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's image commands: images, image import, image rm. */
#include "config.h"

#include "ctl.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "ctl-error.h"
#include "ctl-request.h"

static gboolean
run_images (GvdCtl *ctl, GError **error)
{
  const GvdCtlColumn cols[] = {
    { _("NAME"), "name", GVD_CTL_CELL_TEXT, FALSE },
    { _("FORMAT"), "format", GVD_CTL_CELL_TEXT, FALSE },
    { _("SIZE"), "capacity_bytes", GVD_CTL_CELL_BYTES, TRUE },
    { _("USED"), "allocation_bytes", GVD_CTL_CELL_BYTES, TRUE },
    { _("IN-USE-BY"), "in_use_by", GVD_CTL_CELL_COUNT, TRUE },
  };
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "GET", "/v1/images", NULL, NULL,
                                                    NULL, error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_print_list (ctl, answer, "images", cols, G_N_ELEMENTS (cols), "name");
  return TRUE;
}

static void
import_tick (guint seconds, gpointer data)
{
  GvdCtl *ctl = data;

  gvd_ctl_progress (ctl, _("importing %s: %u s"), gvd_ctl_arg (ctl, 0), seconds);
}

static gboolean
run_image_import (GvdCtl *ctl, GError **error)
{
  const char *source = gvd_ctl_arg (ctl, 1);
  const char *format = gvd_ctl_args_get (ctl->args, "format");
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) image = NULL;
  g_autofree char *path = NULL;

  if (gvd_ctl_is_url (source))
    {
      /* POST /v1/images takes source_path only: the daemon reads files below
       * its import directories and downloads nothing. */
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("gpuvmd imports files, not URLs: download %s into one of the daemon's "
                     "import directories ([storage] import_dirs, default "
                     "/var/lib/gpuvmd/import) and import that path"),
                   source);
      return FALSE;
    }
  /* The daemon resolves the path on its side of the socket: make it absolute. */
  path = g_canonicalize_filename (source, NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, gvd_ctl_arg (ctl, 0));
  json_builder_set_member_name (b, "source_path");
  json_builder_add_string_value (b, path);
  if (format != NULL)
    {
      json_builder_set_member_name (b, "format");
      json_builder_add_string_value (b, format);
    }
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  image = gvd_ctl_client_call (ctl->client, "POST", "/v1/images", body, import_tick, ctl, error);
  gvd_ctl_progress_done (ctl);
  if (image == NULL)
    return FALSE;
  if (ctl->format == GVD_CTL_FORMAT_TABLE)
    {
      g_autofree char *size = gvd_ctl_cell_text (image, "capacity_bytes", GVD_CTL_CELL_BYTES);
      g_autofree char *fmt = gvd_ctl_cell_text (image, "format", GVD_CTL_CELL_TEXT);

      printf (_("image %s imported (%s, %s)\n"), gvd_ctl_arg (ctl, 0), fmt, size);
    }
  else
    gvd_ctl_print_object (ctl, image, "name");
  return TRUE;
}

static gboolean
run_image_rm (GvdCtl *ctl, GError **error)
{
  g_autofree char *name = g_uri_escape_string (gvd_ctl_arg (ctl, 0), NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/v1/images/%s", name);
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "DELETE", path, NULL, NULL,
                                                    NULL, error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_say (ctl, _("image %s deleted\n"), gvd_ctl_arg (ctl, 0));
  return TRUE;
}

static const GvdCtlOption import_options[] = {
  { "format", 0, TRUE, FALSE },
  { NULL },
};

const GvdCtlCommand gvd_ctl_image_commands[] = {
  { "images", "", N_("list base images"), 0, 0, NULL, run_images },
  { "image import", "NAME PATH [--format raw|qcow2]",
    N_("import a file below the daemon's import directories as a base image"), 2, 2,
    import_options, run_image_import },
  { "image rm", "NAME", N_("delete a base image no instance uses"), 1, 1, NULL, run_image_rm },
  { NULL },
};
