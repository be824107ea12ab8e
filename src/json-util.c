/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small JsonBuilder helpers every JSON writer uses. */
#include "config.h"

#include "json-util.h"

void
gvd_json_add_string (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}
