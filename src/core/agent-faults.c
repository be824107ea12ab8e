/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPU faults in a guest agent report: passthrough GPUs without a driver,
 * or whose driver is bound while nvidia-smi fails. */
#include "config.h"

#include "agent.h"
#include "agent-priv.h"

#include <string.h>

void
gvd_agent_fault_free (gpointer data)
{
  GvdAgentFault *f = data;

  g_free (f->guest_address);
  g_free (f->vendor);
  g_free (f->device);
  g_free (f->driver);
  g_free (f->problem);
  g_free (f);
}

/* GPUs a guest gets passed through (NVIDIA, AMD); emulated display
 * adapters (QEMU VGA, virtio-gpu) have no driver in lean guests by design. */
static gboolean
is_passthrough_gpu_vendor (const char *vendor)
{
  return g_strcmp0 (vendor, "0x10de") == 0 || g_strcmp0 (vendor, "0x1002") == 0;
}

/* The faulty GPUs in a validated report: a passthrough GPU with no driver
 * bound (its driver is missing or failed to initialise), or an NVIDIA GPU
 * whose driver is bound while nvidia-smi fails. */
GPtrArray *
gvd_agent_report_faults (JsonObject *report)
{
  GPtrArray *faults = g_ptr_array_new_with_free_func (gvd_agent_fault_free);
  JsonArray *pci = gvd_agent_member_array (report, "pci_gpus");
  JsonObject *smi = gvd_agent_member_object (report, "nvidia_smi");
  gboolean smi_failed = g_strcmp0 (gvd_agent_member_string (smi, "status"), "failed") == 0;

  for (guint i = 0; pci != NULL && i < json_array_get_length (pci); i++)
    {
      JsonObject *dev = json_array_get_object_element (pci, i);
      const char *vendor = gvd_agent_member_string (dev, "vendor");
      const char *driver = gvd_agent_member_string (dev, "driver");
      GvdAgentFault *fault;

      if (!is_passthrough_gpu_vendor (vendor))
        continue;
      if (driver != NULL && !(smi_failed && g_str_equal (vendor, "0x10de")))
        continue;
      fault = g_new0 (GvdAgentFault, 1);
      fault->guest_address = g_strdup (gvd_agent_member_string (dev, "address"));
      fault->vendor = g_strdup (vendor);
      fault->device = g_strdup (gvd_agent_member_string (dev, "device"));
      fault->driver = g_strdup (driver);
      if (driver == NULL)
        fault->problem = g_strdup ("no driver bound: the driver is missing or failed to "
                                   "initialise");
      else
        fault->problem = g_strdup_printf ("driver %s bound but nvidia-smi failed: %s", driver,
                                          gvd_agent_member_string (smi, "error") != NULL
                                            ? gvd_agent_member_string (smi, "error")
                                            : "unknown error");
      g_ptr_array_add (faults, fault);
    }
  return faults;
}

char *
gvd_agent_faults_reason (GPtrArray *faults)
{
  GvdAgentFault *f;

  if (faults == NULL || faults->len == 0)
    return NULL;
  f = g_ptr_array_index (faults, 0);
  return g_strdup_printf ("GPU %s (%s:%s): %s%s", f->guest_address,
                          f->vendor != NULL ? f->vendor + 2 : "?",
                          f->device != NULL && strlen (f->device) > 2 ? f->device + 2 : "?",
                          f->problem, faults->len > 1 ? " (and more)" : "");
}
