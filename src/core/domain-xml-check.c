/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Field checks for domain XML: what libvirt and XML can carry safely. */
#include "config.h"

#include "domain-xml-priv.h"

#include <string.h>
#include <gio/gio.h>
#include <libxml/parser.h>

#include "errors.h"
#include "validate.h"

#define INVALID(...)                                                          \
  G_STMT_START {                                                              \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__);   \
    return FALSE;                                                             \
  } G_STMT_END

gboolean
gvd_domain_xml_check_text (const char *what, const char *s, gsize max, GError **error)
{
  gsize len;

  if (s == NULL || *s == '\0')
    INVALID ("%s is empty", what);
  len = strlen (s);
  if (len > max)
    INVALID ("%s is longer than %" G_GSIZE_FORMAT " bytes", what, max);
  if (!g_utf8_validate (s, (gssize) len, NULL))
    INVALID ("%s is not valid UTF-8", what);
  /* XML 1.0 cannot carry C0 controls at all, and the rest (DEL, C1,
   * noncharacters) only confuse logs and shells downstream. */
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (g_unichar_iscntrl (c) || c == 0xfffe || c == 0xffff)
        INVALID ("%s contains a control character (U+%04X)", what, c);
    }
  return TRUE;
}

gboolean
gvd_domain_xml_check_opt_text (const char *what, const char *s, gsize max, GError **error)
{
  return s == NULL || gvd_domain_xml_check_text (what, s, max, error);
}

/* Letters, digits and @extra; the first character a letter or digit. */
gboolean
gvd_domain_xml_check_token (const char *what, const char *s, gsize max, const char *extra,
                            GError **error)
{
  if (!gvd_domain_xml_check_text (what, s, max, error))
    return FALSE;
  if (!g_ascii_isalnum (s[0]))
    INVALID ("%s '%s' must start with a letter or digit", what, s);
  for (const char *p = s; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr (extra, *p) == NULL)
      INVALID ("%s '%s' may only contain letters, digits and '%s'", what, s, extra);
  return TRUE;
}

gboolean
gvd_domain_xml_check_path (const char *what, const char *s, GError **error)
{
  if (!gvd_domain_xml_check_text (what, s, 4096, error))
    return FALSE;
  if (s[0] != '/')
    INVALID ("%s '%s' is not an absolute path", what, s);
  if (strstr (s, "/../") != NULL || g_str_has_suffix (s, "/..") || strstr (s, "//") != NULL)
    INVALID ("%s '%s' is not a normalised path", what, s);
  return TRUE;
}

gboolean
gvd_domain_xml_check_uuid (const char *what, const char *s, GError **error)
{
  if (!gvd_domain_xml_check_text (what, s, 36, error))
    return FALSE;
  if (!g_uuid_string_is_valid (s))
    INVALID ("%s '%s' is not a UUID", what, s);
  return TRUE;
}

gboolean
gvd_domain_xml_check_mac (const char *what, const char *s, GError **error)
{
  return gvd_validate_mac (what, s, NULL, error);
}

gboolean
gvd_domain_xml_check_ip (const char *what, const char *s, gboolean v4_only, GError **error)
{
  g_autoptr(GInetAddress) addr = NULL;

  if (v4_only || (s != NULL && strchr (s, ':') == NULL))
    return gvd_validate_ipv4 (what, s, NULL, error);
  if (!gvd_domain_xml_check_text (what, s, 64, error))
    return FALSE;
  addr = g_inet_address_new_from_string (s);
  if (addr == NULL || g_inet_address_get_family (addr) != G_SOCKET_FAMILY_IPV6)
    INVALID ("%s '%s' is not an IP address", what, s);
  return TRUE;
}

gboolean
gvd_domain_xml_check_cidr (const char *what, const char *s, GError **error)
{
  return gvd_validate_ipv4_cidr (what, s, 1, 32, NULL, NULL, error);
}

/* A libvirt storage pool or volume name, or similar: no path separators. */
gboolean
gvd_domain_xml_check_object_name (const char *what, const char *s, GError **error)
{
  if (!gvd_domain_xml_check_text (what, s, 255, error))
    return FALSE;
  if (strchr (s, '/') != NULL || strcmp (s, ".") == 0 || strcmp (s, "..") == 0)
    INVALID ("%s '%s' may not contain '/'", what, s);
  return TRUE;
}

void
gvd_domain_xml_init (void)
{
  /* libxml2 2.9 sets up its globals (encodings, dictionaries) lazily and
   * not thread-safely, and render and parse run in worker threads: the
   * daemon's main() calls xmlInitParser() before any thread starts (tests
   * that render in threads must too). After that first call this is
   * libxml2's own flag check; the core keeps no once-guard of its own. */
  xmlInitParser ();
}
