/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Forwarded guest ports: a loopback address from [network]
 * forward_addresses and host ports from [network] forward_ports for a new
 * instance, taken back at recovery, and shown in the instance. */
#include "config.h"

#include "instance.h"
#include "instance-priv.h"
#include "instance-request.h"
#include "json-util.h"
#include "port-probe.h"
#include "validate.h"

gboolean
gvd_instance_allocate_ports (GvdInstanceManager *mgr, const GvdCreateRequest *req,
                             GvdInstanceSpec *spec, GError **error)
{
  GvdNicSpec *nic = NULL;
  guint hosts[GVD_MAX_PORTS];
  guint32 address = 0;

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
  /* An address of its own: QEMU listens there, not on 127.0.0.1, which
   * every user-mode guest reaches as 10.0.2.2. Ports stay unique on the
   * host all the same (the bind test checks 127.0.0.1 and the address):
   * a foreign or older forward on 127.0.0.1 or 0.0.0.0 blocks its port on
   * every address, and a port still names one instance. The bind test
   * runs on the main thread: a few socket calls per port. Both are
   * released with the instance's name (create rollback, delete). */
  if (!gvd_port_table_allocate_address (mgr->ports, spec->name, &address, error)
      || !gvd_port_table_allocate (mgr->ports, spec->name, req->ports->len, gvd_port_probe_free,
                                   &address, hosts, error))
    {
      gvd_port_table_release (mgr->ports, spec->name);
      return FALSE;
    }
  g_clear_pointer (&nic->forwards, g_array_unref);
  nic->forwards = g_array_sized_new (FALSE, FALSE, sizeof (GvdPortForward), req->ports->len);
  for (guint i = 0; i < req->ports->len; i++)
    {
      GvdPortForward f = { .guest = g_array_index (req->ports, guint, i), .host = hosts[i],
                           .address = address };
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

          if (!gvd_port_table_take (mgr->ports, spec->name, f->host, &error)
              || !gvd_port_table_take_address (mgr->ports, spec->name, f->address, &error))
            g_warning ("instance %s: forwarded port conflict on recovery: %s", spec->name,
                       error->message);
        }
    }
}

void
gvd_instance_ports_to_json (JsonBuilder *b, const GvdInstanceSpec *spec)
{
  guint ssh_port = 0;
  g_autofree char *ssh_address = NULL;

  json_builder_set_member_name (b, "ports");
  json_builder_begin_array (b);
  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);

      for (guint j = 0; nic->forwards != NULL && j < nic->forwards->len; j++)
        {
          const GvdPortForward *f = &g_array_index (nic->forwards, GvdPortForward, j);
          g_autofree char *address = gvd_ipv4_to_string (f->address);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "guest");
          json_builder_add_int_value (b, f->guest);
          json_builder_set_member_name (b, "host");
          json_builder_add_int_value (b, f->host);
          gvd_json_add_string (b, "address", address);
          json_builder_end_object (b);
          if (f->guest == 22 && ssh_port == 0)
            {
              ssh_port = f->host;
              ssh_address = g_steal_pointer (&address);
            }
        }
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "ssh");
  if (ssh_port != 0)
    {
      g_autofree char *hint = g_strdup_printf ("ssh -p %u %s@%s", ssh_port,
                                               spec->user != NULL ? spec->user : "gpuvm",
                                               ssh_address);
      json_builder_add_string_value (b, hint);
    }
  else
    json_builder_add_null_value (b);
}
