/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Forwarded guest ports: host ports from [network] forward_ports for a new
 * instance, taken back at recovery, and shown in the instance. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"
#include "instance-request.h"
#include "json-util.h"
#include "port-probe.h"

gboolean
gvd_instance_allocate_ports (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                             GvdInstanceSpec *spec, GError **error)
{
  GvdNicSpec *nic = NULL;
  guint hosts[GVD_MAX_PORTS];

  if (req->ports == NULL || req->ports->len == 0)
    return TRUE;
  g_return_val_if_fail (req->ports->len <= GVD_MAX_PORTS, FALSE);
  for (guint i = 0; i < spec->nics->len && nic == NULL; i++)
    if (((GvdNicSpec *) g_ptr_array_index (spec->nics, i))->mode == GVD_NETWORK_USER)
      nic = g_ptr_array_index (spec->nics, i);
  if (nic == NULL)
    {
      /* Bridged guests are reached on their own addresses. */
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "'ports' needs user-mode networking (\"network\": {\"mode\": \"user\"}); a "
                   "bridged guest is reached on its own address");
      return FALSE;
    }
  /* The bind test runs on the main thread: a few socket calls per port. */
  if (!gvd_port_table_allocate (mgr->ports, spec->name, req->ports->len, gvd_port_probe_free,
                                NULL, hosts, error))
    return FALSE;
  g_clear_pointer (&nic->forwards, g_array_unref);
  nic->forwards = g_array_sized_new (FALSE, FALSE, sizeof (GvdPortForward), req->ports->len);
  for (guint i = 0; i < req->ports->len; i++)
    {
      GvdPortForward f = { .guest = g_array_index (req->ports, guint, i), .host = hosts[i] };
      g_array_append_val (nic->forwards, f);
    }
  return TRUE;
}

void
gvd_instance_take_ports (GvdInstanceManager *mgr, const GvdInstanceSpec *spec)
{
  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);

      for (guint j = 0; nic->forwards != NULL && j < nic->forwards->len; j++)
        {
          const GvdPortForward *f = &g_array_index (nic->forwards, GvdPortForward, j);
          g_autoptr(GError) error = NULL;

          if (!gvd_port_table_take (mgr->ports, spec->name, f->host, &error))
            g_warning ("instance %s: forwarded port conflict on recovery: %s", spec->name,
                       error->message);
        }
    }
}

void
gvd_instance_ports_to_json (JsonBuilder *b, const GvdInstanceSpec *spec)
{
  guint ssh_port = 0;

  json_builder_set_member_name (b, "ports");
  json_builder_begin_array (b);
  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);

      for (guint j = 0; nic->forwards != NULL && j < nic->forwards->len; j++)
        {
          const GvdPortForward *f = &g_array_index (nic->forwards, GvdPortForward, j);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "guest");
          json_builder_add_int_value (b, f->guest);
          json_builder_set_member_name (b, "host");
          json_builder_add_int_value (b, f->host);
          gvd_json_add_string (b, "address", "127.0.0.1");
          json_builder_end_object (b);
          if (f->guest == 22 && ssh_port == 0)
            ssh_port = f->host;
        }
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "ssh");
  if (ssh_port != 0)
    {
      g_autofree char *hint = g_strdup_printf ("ssh -p %u %s@127.0.0.1", ssh_port,
                                               spec->user != NULL ? spec->user : "gpuvm");
      json_builder_add_string_value (b, hint);
    }
  else
    json_builder_add_null_value (b);
}
