/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: a libvirt domain XML as recovery reads it at start-up
 * (src/virt/instance-recover.c): gvd_domain_xml_parse() for gpuvmd's metadata
 * and the spec, gvd_domain_xml_hostdev_addresses() for any domain; a spec
 * that parses is rendered again, as a restart would. */
#include "config.h"

#include "fuzz-common.h"

#include "domain-xml-priv.h"
#include "domain-xml.h"
#include "errors.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gvd_fuzz_init ();
  gvd_domain_xml_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* libvirt hands recovery a C string: the text up to the first NUL. */
  g_autofree char *xml = g_strndup ((const char *) data, size);
  g_autoptr(GvdInstanceSpec) spec = NULL;
  g_auto(GStrv) hostdevs = NULL;
  g_autofree char *again = NULL;
  g_autoptr(GError) error = NULL;

  spec = gvd_domain_xml_parse (xml, &error);
  g_assert ((spec == NULL) == (error != NULL));
  g_assert (error == NULL || error->domain == GVD_ERROR);
  g_clear_error (&error);
  hostdevs = gvd_domain_xml_hostdev_addresses (xml, &error);
  g_assert ((hostdevs == NULL) == (error != NULL));
  if (spec != NULL)
    again = gvd_domain_xml_render (spec, NULL);
  return 0;
}
