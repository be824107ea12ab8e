/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One validator and one limit per user-given quantity (pure). */
#include "config.h"

#include "validate.h"

#include <string.h>

#include "errors.h"

/* Bytes of the longest value worth echoing in a message. */
#define SHOWN_MAX 64

/* @text for an error message: never huge, never invalid UTF-8. */
static const char *
shown (const char *text)
{
  if (text == NULL)
    return "(null)";
  if (strnlen (text, SHOWN_MAX + 1) > SHOWN_MAX)
    return "(too long to show)";
  return g_utf8_validate (text, -1, NULL) ? text : "(not UTF-8)";
}

#define INVALID(error, ...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

/* ---- instance names ------------------------------------------------------- */

gboolean
gvd_instance_name_valid (const char *name)
{
  gsize len = name != NULL ? strnlen (name, GVD_INSTANCE_NAME_MAX + 1) : 0;

  if (len == 0 || len > GVD_INSTANCE_NAME_MAX)
    return FALSE;
  if (!g_ascii_islower (name[0]) && !g_ascii_isdigit (name[0]))
    return FALSE;
  if (name[len - 1] == '-')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_islower (name[i]) && !g_ascii_isdigit (name[i]) && name[i] != '-')
      return FALSE;
  return TRUE;
}

gboolean
gvd_validate_instance_name (const char *field, const char *name, GError **error)
{
  if (!gvd_instance_name_valid (name))
    return INVALID (error, "'%s' must be " GVD_INSTANCE_NAME_RULE, field);
  return TRUE;
}

/* ---- MAC addresses ---------------------------------------------------------- */

gboolean
gvd_validate_mac (const char *field, const char *text, char **out_canonical, GError **error)
{
  guint first;
  gboolean zero = TRUE;

  if (text == NULL || strnlen (text, 18) != 17)
    return INVALID (error, "%s '%s' is not a MAC address (%s)", field, shown (text),
                    GVD_MAC_RULE);
  for (gsize i = 0; i < 17; i++)
    {
      if (i % 3 == 2 ? text[i] != ':' : !g_ascii_isxdigit (text[i]))
        return INVALID (error, "%s '%s' is not a MAC address (%s)", field, shown (text),
                    GVD_MAC_RULE);
      if (i % 3 != 2 && text[i] != '0')
        zero = FALSE;
    }
  first = (guint) (g_ascii_xdigit_value (text[0]) * 16 + g_ascii_xdigit_value (text[1]));
  if (first & 1)
    return INVALID (error, "%s '%s' is a multicast MAC address: a guest needs a unicast one "
                           "(first octet even)", field, text);
  if (zero)
    return INVALID (error, "%s '%s' is all zero: not a MAC address a guest can use", field, text);
  if (out_canonical != NULL)
    *out_canonical = g_ascii_strdown (text, -1);
  return TRUE;
}

/* ---- IPv4 --------------------------------------------------------------------- */

/* Dotted quad in exactly @len bytes of @text. */
static gboolean
parse_ipv4 (const char *text, gsize len, guint32 *out_addr)
{
  guint32 addr = 0;
  const char *p = text, *end = text + len;

  for (guint octet = 0; octet < 4; octet++)
    {
      guint v = 0;
      gsize digits = 0;

      if (octet > 0 && (p >= end || *p++ != '.'))
        return FALSE;
      for (; p < end && g_ascii_isdigit (*p) && digits < 4; p++, digits++)
        v = v * 10 + (guint) (*p - '0');
      if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && p[-(gssize) digits] == '0'))
        return FALSE;
      addr = (addr << 8) | v;
    }
  if (p != end)
    return FALSE;
  *out_addr = addr;
  return TRUE;
}

gboolean
gvd_validate_ipv4 (const char *field, const char *text, guint32 *out_addr, GError **error)
{
  guint32 addr;
  gsize len = text != NULL ? strnlen (text, 16) : 0;

  if (len == 0 || len > 15 || !parse_ipv4 (text, len, &addr))
    return INVALID (error, "%s '%s' is not an IPv4 address (a.b.c.d, e.g. 10.0.0.5)", field,
                    shown (text));
  if (out_addr != NULL)
    *out_addr = addr;
  return TRUE;
}

gboolean
gvd_validate_ipv4_cidr (const char *field, const char *text, guint min_prefix,
                        guint max_prefix, guint32 *out_addr, guint *out_prefix, GError **error)
{
  const char *slash;
  guint32 addr;
  guint64 prefix;
  gsize len = text != NULL ? strnlen (text, 19) : 0;

  g_return_val_if_fail (min_prefix <= max_prefix && max_prefix <= 32, FALSE);

  if (len == 0 || len > 18 || (slash = strchr (text, '/')) == NULL
      || !parse_ipv4 (text, (gsize) (slash - text), &addr)
      || (slash[1] == '0' && slash[2] != '\0')
      || !g_ascii_string_to_unsigned (slash + 1, 10, min_prefix, max_prefix, &prefix, NULL))
    return INVALID (error, "%s '%s' is not an IPv4 CIDR with a prefix from /%u to /%u "
                           "(a.b.c.d/p, e.g. 10.77.0.5/24)",
                    field, shown (text), min_prefix, max_prefix);
  if (out_addr != NULL)
    *out_addr = addr;
  if (out_prefix != NULL)
    *out_prefix = (guint) prefix;
  return TRUE;
}

gboolean
gvd_validate_ipv4_network (const char *field, const char *text, guint min_prefix,
                           guint max_prefix, guint32 *out_network, guint *out_prefix,
                           GError **error)
{
  guint32 addr, mask;
  guint prefix;

  if (!gvd_validate_ipv4_cidr (field, text, min_prefix, max_prefix, &addr, &prefix, error))
    return FALSE;
  mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
  if ((addr & ~mask) != 0)
    return INVALID (error, "%s '%s' has host bits set: the network address is needed", field,
                    text);
  if (out_network != NULL)
    *out_network = addr;
  if (out_prefix != NULL)
    *out_prefix = prefix;
  return TRUE;
}

char *
gvd_ipv4_to_string (guint32 addr)
{
  return g_strdup_printf ("%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
                          addr & 0xff);
}
