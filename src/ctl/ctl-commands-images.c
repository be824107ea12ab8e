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
    /* "importing" while a URL import downloads (no format or size yet). */
    { _("STATE"), "state", GVD_CTL_CELL_TEXT, FALSE },
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

/* What the event stream told of this import (URL imports only). */
typedef struct {
  GvdCtl *ctl;
  const char *name;
  gint64 done;
  gint64 total;
  guint seconds;
} Import;

static void
import_show (Import *imp)
{
  if (imp->total > 0)
    {
      g_autofree char *done = g_format_size_full ((guint64) imp->done, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *total = g_format_size_full ((guint64) imp->total, G_FORMAT_SIZE_IEC_UNITS);

      gvd_ctl_progress (imp->ctl, _("importing %s: %s of %s (%d%%), %u s"), imp->name, done,
                        total, (int) (imp->done * 100 / imp->total), imp->seconds);
    }
  else
    gvd_ctl_progress (imp->ctl, _("importing %s: %u s"), imp->name, imp->seconds);
}

static void
import_tick (guint seconds, gpointer data)
{
  Import *imp = data;

  imp->seconds = seconds;
  import_show (imp);
}

/* image.progress {name, bytes_done, bytes_total} of this image. */
static gboolean
import_event (const char *id, const char *type, const char *data, gpointer user_data)
{
  Import *imp = user_data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *o;

  if (g_strcmp0 (type, "image.progress") != 0 || !json_parser_load_from_data (parser, data, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return TRUE;
  o = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (o, "name", NULL), imp->name) != 0)
    return TRUE;
  imp->done = json_object_get_int_member_with_default (o, "bytes_done", 0);
  imp->total = json_object_get_int_member_with_default (o, "bytes_total", 0);
  import_show (imp);
  return TRUE;
}

static gboolean
run_image_import (GvdCtl *ctl, GError **error)
{
  const char *source = gvd_ctl_arg (ctl, 1);
  const char *format = gvd_ctl_args_get (ctl->args, "format");
  const char *sha256 = gvd_ctl_args_get (ctl->args, "sha256");
  const char *sha512 = gvd_ctl_args_get (ctl->args, "sha512");
  gboolean url = gvd_ctl_is_url (source);
  Import imp = { ctl, gvd_ctl_arg (ctl, 0), 0, 0, 0 };
  g_autoptr(GvdCtlStream) stream = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(JsonNode) image = NULL;
  g_autofree char *path = NULL;

  if (url && (sha256 == NULL) == (sha512 == NULL))
    {
      /* The daemon refuses an unverified download too; say so before asking. */
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("importing %s needs its digest: give one of --sha256 HEX and --sha512 HEX"),
                   source);
      return FALSE;
    }
  if (!url && (sha256 != NULL || sha512 != NULL))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("--sha256 and --sha512 go with a URL, not a path"));
      return FALSE;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, gvd_ctl_arg (ctl, 0));
  if (url)
    {
      json_builder_set_member_name (b, "url");
      json_builder_add_string_value (b, source);
      json_builder_set_member_name (b, sha256 != NULL ? "sha256" : "sha512");
      json_builder_add_string_value (b, sha256 != NULL ? sha256 : sha512);
    }
  else
    {
      /* The daemon resolves the path on its side of the socket: make it absolute. */
      path = g_canonicalize_filename (source, NULL);
      json_builder_set_member_name (b, "source_path");
      json_builder_add_string_value (b, path);
    }
  if (format != NULL)
    {
      json_builder_set_member_name (b, "format");
      json_builder_add_string_value (b, format);
    }
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  if (url && ctl->progress)
    {
      /* Subscribe first, so that no progress event is missed; a nicety
       * only, so a failure is a debug line. */
      g_autoptr(GError) local = NULL;

      stream = gvd_ctl_stream_open (ctl->client, "/v1/events", NULL, &local);
      if (stream != NULL)
        gvd_ctl_stream_start (stream, import_event, &imp);
      else
        g_debug ("no event stream: %s", local->message);
    }
  image = gvd_ctl_client_call (ctl->client, "POST", "/v1/images", body, import_tick, &imp, error);
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
  { "sha256", 0, TRUE, FALSE },
  { "sha512", 0, TRUE, FALSE },
  { NULL },
};

const GvdCtlCommand gvd_ctl_image_commands[] = {
  { "images", "", N_("list base images"), 0, 0, NULL, run_images },
  { "image import", "NAME PATH|URL [--sha256 HEX|--sha512 HEX] [--format raw|qcow2]",
    N_("import a file below the daemon's import directories, or download a URL "
       "([images] url_allow; a digest is required), as a base image"), 2, 2,
    import_options, run_image_import },
  { "image rm", "NAME", N_("delete a base image no instance uses"), 1, 1, NULL, run_image_rm },
  { NULL },
};
