/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Field checks for domain XML: what libvirt and XML can carry safely. */
#include "config.h"

#include "domain-xml-priv.h"

#include <string.h>
#include <gio/gio.h>
#include <libxml/parser.h>

#include "errors.h"

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
  guint first;

  if (!gvd_domain_xml_check_text (what, s, 17, error))
    return FALSE;
  for (gsize i = 0; i < 17; i++)
    if ((i % 3 == 2) ? s[i] != ':' : !g_ascii_isxdigit (s[i]))
      INVALID ("%s '%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", what, s);
  if (strlen (s) != 17)
    INVALID ("%s '%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", what, s);
  first = (guint) (g_ascii_xdigit_value (s[0]) * 16 + g_ascii_xdigit_value (s[1]));
  if (first & 1)
    INVALID ("%s '%s' is a multicast address", what, s);
  return TRUE;
}

gboolean
gvd_domain_xml_check_ip (const char *what, const char *s, gboolean v4_only, GError **error)
{
  g_autoptr(GInetAddress) addr = NULL;

  if (!gvd_domain_xml_check_text (what, s, 64, error))
    return FALSE;
  addr = g_inet_address_new_from_string (s);
  if (addr == NULL || (v4_only && g_inet_address_get_family (addr) != G_SOCKET_FAMILY_IPV4))
    INVALID ("%s '%s' is not an %s address", what, s, v4_only ? "IPv4" : "IP");
  return TRUE;
}

gboolean
gvd_domain_xml_check_cidr (const char *what, const char *s, GError **error)
{
  g_auto(GStrv) parts = NULL;
  guint64 prefix;

  if (!gvd_domain_xml_check_text (what, s, 64, error))
    return FALSE;
  parts = g_strsplit (s, "/", 2);
  if (g_strv_length (parts) != 2
      || !g_ascii_string_to_unsigned (parts[1], 10, 1, 32, &prefix, NULL))
    INVALID ("%s '%s' is not an IPv4 address with a prefix (10.77.0.5/24)", what, s);
  return gvd_domain_xml_check_ip (what, parts[0], TRUE, error);
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
