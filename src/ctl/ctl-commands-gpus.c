/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gpuvmctl's GPU hot-plug commands: gpu attach, gpu detach
 * (/v1/instances/{name}/gpus). */
#include "config.h"

#include "ctl.h"
#include "ctl-error.h"

#include <glib/gi18n.h>

#define MAX_GPUS 64

/* {"devices": [...]} or {"count": N, "gpu_model", "gpu_vendor"}. */
static JsonNode *
attach_body (GvdCtl *ctl, GError **error)
{
  const char *const *devices = gvd_ctl_args_get_all (ctl->args, "device");
  const char *gpus = gvd_ctl_args_get (ctl->args, "gpus");
  const char *model = gvd_ctl_args_get (ctl->args, "model");
  const char *vendor = gvd_ctl_args_get (ctl->args, "vendor");
  g_autoptr(JsonBuilder) b = json_builder_new ();
  guint64 n = 0;

  if ((devices[0] != NULL) == (gpus != NULL))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE,
                   _("give either --gpus N or --device D..."));
      return NULL;
    }
  if (gpus == NULL && (model != NULL || vendor != NULL))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("--model and --vendor filter --gpus"));
      return NULL;
    }
  if (gpus != NULL && !g_ascii_string_to_unsigned (gpus, 10, 1, MAX_GPUS, &n, NULL))
    {
      g_set_error (error, GVD_CTL_ERROR, GVD_CTL_EXIT_USAGE, _("--gpus: a number from 1 to %d"),
                   MAX_GPUS);
      return NULL;
    }
  json_builder_begin_object (b);
  if (gpus != NULL)
    {
      json_builder_set_member_name (b, "count");
      json_builder_add_int_value (b, (gint64) n);
      if (model != NULL)
        {
          json_builder_set_member_name (b, "gpu_model");
          json_builder_add_string_value (b, model);
        }
      if (vendor != NULL)
        {
          json_builder_set_member_name (b, "gpu_vendor");
          json_builder_add_string_value (b, vendor);
        }
    }
  else
    {
      json_builder_set_member_name (b, "devices");
      json_builder_begin_array (b);
      for (gsize i = 0; devices[i] != NULL; i++)
        json_builder_add_string_value (b, devices[i]);
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
run_gpu_attach (GvdCtl *ctl, GError **error)
{
  g_autofree char *name = g_uri_escape_string (gvd_ctl_arg (ctl, 0), NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/v1/instances/%s/gpus", name);
  g_autoptr(JsonNode) body = attach_body (ctl, error);
  g_autoptr(JsonNode) answer = NULL;

  if (body == NULL)
    return FALSE;
  answer = gvd_ctl_client_call (ctl->client, "POST", path, body, NULL, NULL, error);
  if (answer == NULL)
    return FALSE;
  gvd_ctl_print_object (ctl, answer, "name");
  return TRUE;
}

static gboolean
run_gpu_detach (GvdCtl *ctl, GError **error)
{
  g_autofree char *name = g_uri_escape_string (gvd_ctl_arg (ctl, 0), NULL, FALSE);
  g_autofree char *address = g_uri_escape_string (gvd_ctl_arg (ctl, 1), NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/v1/instances/%s/gpus/%s", name, address);
  g_autoptr(JsonNode) answer = gvd_ctl_client_call (ctl->client, "DELETE", path, NULL, NULL, NULL,
                                                    error);

  if (answer == NULL)
    return FALSE;
  gvd_ctl_say (ctl, _("instance %s: the group of %s detached\n"), gvd_ctl_arg (ctl, 0),
               gvd_ctl_arg (ctl, 1));
  return TRUE;
}

static const GvdCtlOption attach_options[] = {
  { "device", 0, TRUE, TRUE },
  { "gpus", 0, TRUE, FALSE },
  { "model", 0, TRUE, FALSE },
  { "vendor", 0, TRUE, FALSE },
  { NULL },
};

const GvdCtlCommand gvd_ctl_gpu_commands[] = {
  { "gpu attach", "NAME (--device D... | --gpus N [--model M] [--vendor V])",
    N_("hot-plug a whole IOMMU group into an instance"), 1, 1, attach_options, run_gpu_attach },
  { "gpu detach", "NAME ADDRESS",
    N_("hot-unplug the IOMMU group holding ADDRESS (waits for the guest)"), 2, 2, NULL,
    run_gpu_detach },
  { NULL },
};
