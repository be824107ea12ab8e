/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host capability checks: pure parsers for the procfs and sysfs texts the
 * gatherer reads (cpuinfo, cmdline, modules, interrupts, meminfo, ecap). */
#include "config.h"

#include "capability.h"

#include <string.h>

/* Kernel arguments kept from the command line. */
#define MAX_CMDLINE_ARGS 1024

/* "key\t: value" → value (in place), or NULL when @line is another key. */
static const char *
cpuinfo_value (char *line, const char *key)
{
  char *colon = strchr (line, ':');
  gsize klen = strlen (key);

  if (colon == NULL || strncmp (line, key, klen) != 0)
    return NULL;
  for (const char *p = line + klen; p < colon; p++)
    if (*p != ' ' && *p != '\t')
      return NULL;
  return g_strstrip (colon + 1);
}

void
gvd_capability_parse_cpuinfo (const char *text, GvdCpuInfo *out_cpu)
{
  g_auto(GStrv) lines = NULL;
  gboolean first = TRUE;

  g_return_if_fail (out_cpu != NULL);
  gvd_cpu_info_clear (out_cpu);
  if (text == NULL)
    return;
  lines = g_strsplit (text, "\n", -1);
  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *v;

      if (cpuinfo_value (lines[i], "processor") != NULL)
        {
          first = out_cpu->count == 0;
          out_cpu->count++;
          continue;
        }
      /* The other keys only from the first processor: they are alike. */
      if (!first)
        continue;
      if ((v = cpuinfo_value (lines[i], "vendor_id")) != NULL)
        {
          if (g_str_equal (v, "GenuineIntel"))
            out_cpu->vendor = GVD_CPU_VENDOR_INTEL;
          else if (g_str_equal (v, "AuthenticAMD") || g_str_equal (v, "HygonGenuine"))
            out_cpu->vendor = GVD_CPU_VENDOR_AMD;
        }
      else if ((v = cpuinfo_value (lines[i], "model name")) != NULL && out_cpu->model == NULL)
        out_cpu->model = g_strndup (v, 256);
      else if ((v = cpuinfo_value (lines[i], "flags")) != NULL)
        {
          g_auto(GStrv) flags = g_strsplit_set (v, " \t", -1);

          for (gsize j = 0; flags[j] != NULL; j++)
            {
              if (g_str_equal (flags[j], "vmx"))
                out_cpu->vmx = TRUE;
              else if (g_str_equal (flags[j], "svm"))
                out_cpu->svm = TRUE;
              else if (g_str_equal (flags[j], "hypervisor"))
                out_cpu->hypervisor = TRUE;
            }
        }
    }
}

GStrv
gvd_capability_parse_cmdline (const char *text)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) words = NULL;
  guint n = 0;

  if (text != NULL)
    {
      words = g_strsplit_set (text, " \t\n", -1);
      for (gsize i = 0; words[i] != NULL && n < MAX_CMDLINE_ARGS; i++)
        {
          if (words[i][0] == '\0')
            continue;
          /* Everything after "--" is for init, not the kernel. */
          if (g_str_equal (words[i], "--"))
            break;
          g_strv_builder_add (b, words[i]);
          n++;
        }
    }
  return g_strv_builder_end (b);
}

const char *
gvd_capability_cmdline_get (const char *const *cmdline, const char *key)
{
  gsize klen = strlen (key);
  const char *found = NULL;

  if (cmdline == NULL)
    return NULL;
  for (gsize i = 0; cmdline[i] != NULL; i++)
    {
      if (strncmp (cmdline[i], key, klen) != 0)
        continue;
      if (cmdline[i][klen] == '=')
        found = cmdline[i] + klen + 1;
      else if (cmdline[i][klen] == '\0')
        found = cmdline[i] + klen;
    }
  return found;
}

gboolean
gvd_capability_modules_has (const char *text, const char *name)
{
  gsize nlen = strlen (name);

  if (text == NULL)
    return FALSE;
  for (const char *line = text; line != NULL && *line != '\0';)
    {
      const char *nl = strchr (line, '\n');

      if (strncmp (line, name, nlen) == 0 && (line[nlen] == ' ' || line[nlen] == '\t'))
        return TRUE;
      line = nl != NULL ? nl + 1 : NULL;
    }
  return FALSE;
}

gboolean
gvd_capability_interrupts_have_ir (const char *text)
{
  g_auto(GStrv) words = NULL;

  if (text == NULL)
    return FALSE;
  /* The remapped chips are named "IR-IO-APIC", "IR-PCI-MSI",
   * "IR-PCI-MSIX-0000:01:00.0"...; nothing else starts with "IR-". */
  words = g_strsplit_set (text, " \t\n", -1);
  for (gsize i = 0; words[i] != NULL; i++)
    if (g_str_has_prefix (words[i], "IR-"))
      return TRUE;
  return FALSE;
}

guint64
gvd_capability_parse_meminfo (const char *text)
{
  const char *p;
  guint64 kib;

  if (text == NULL)
    return 0;
  p = strstr (text, "MemTotal:");
  if (p == NULL || (p != text && p[-1] != '\n'))
    return 0;
  p += strlen ("MemTotal:");
  while (*p == ' ' || *p == '\t')
    p++;
  kib = g_ascii_strtoull (p, NULL, 10);
  if (kib > G_MAXUINT64 / 1024)
    return 0;
  return kib * 1024;
}

gboolean
gvd_capability_ecap_has_ir (const char *text)
{
  g_autofree char *s = NULL;
  guint64 ecap;
  char *end;

  if (text == NULL)
    return FALSE;
  s = g_strstrip (g_strdup (text));
  if (*s == '\0')
    return FALSE;
  ecap = g_ascii_strtoull (s, &end, 16);
  if (*end != '\0')
    return FALSE;
  /* VT-d specification, Extended Capability Register: bit 3 = IR. */
  return (ecap & (1u << 3)) != 0;
}

