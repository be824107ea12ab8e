/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest agent reports: the schema every phone-home and heartbeat is held
 * to, and accessors for the clean copies it yields. */
#include "config.h"

#include "agent.h"
#include "agent-priv.h"

#include <math.h>
#include <string.h>

#include "errors.h"
#include "instance-request.h"

typedef enum {
  K_STRING,
  K_INT,
  K_NUMBER,
  K_OBJECT,
  K_OBJECTS, /* array of objects */
  K_STRINGS, /* array of strings */
} Kind;

typedef struct Field Field;
struct Field {
  const char *name;
  Kind kind;
  gboolean required; /* optional members may also be null */
  guint max;         /* strings: bytes; arrays: items */
  double min_value, max_value;
  const Field *members; /* K_OBJECT, K_OBJECTS: terminated by a NULL name */
};

#define STR(n, m) { n, K_STRING, FALSE, m, 0, 0, NULL }
#define INT(n, lo, hi) { n, K_INT, FALSE, 0, lo, hi, NULL }
#define NUM(n, lo, hi) { n, K_NUMBER, FALSE, 0, lo, hi, NULL }
#define OBJ(n, f) { n, K_OBJECT, FALSE, 0, 0, 0, f }
#define OBJS(n, f) { n, K_OBJECTS, FALSE, GVD_AGENT_MAX_ITEMS, 0, 0, f }
#define END { NULL, 0, FALSE, 0, 0, 0, NULL }
#define MAX_SAFE_INT 9007199254740991.0 /* 2^53 - 1: exact in a double */

static const Field address_fields[] = {
  STR ("interface", 64),
  STR ("family", 16),
  { "address", K_STRING, TRUE, 64, 0, 0, NULL },
  INT ("prefix", 0, 128),
  END,
};

static const Field cloud_init_fields[] = {
  STR ("status", 32),
  STR ("datasource", GVD_AGENT_MAX_STRING),
  { "errors", K_STRINGS, FALSE, GVD_AGENT_MAX_ERRORS, 0, 0, NULL },
  END,
};

static const Field nvidia_smi_fields[] = {
  STR ("status", 32),
  STR ("error", GVD_AGENT_MAX_MESSAGE),
  END,
};

static const Field gpu_fields[] = {
  INT ("index", 0, 1023),
  STR ("uuid", 128),
  STR ("name", GVD_AGENT_MAX_STRING),
  STR ("driver_version", 64),
  NUM ("utilization_percent", 0, 100),
  NUM ("memory_used_mib", 0, 1e9),
  NUM ("memory_total_mib", 0, 1e9),
  NUM ("temperature_c", -273, 1000),
  NUM ("power_draw_w", 0, 1e6),
  STR ("pci_bus_id", 32), /* nvidia-smi pci.bus_id: maps the GPU to its host device */
  END,
};

static const Field pci_gpu_fields[] = {
  { "address", K_STRING, TRUE, 32, 0, 0, NULL },
  STR ("class", 16),
  STR ("vendor", 16),
  STR ("device", 16),
  STR ("driver", 64),
  END,
};

static const Field system_fields[] = {
  NUM ("load1", 0, 1e6),
  NUM ("load5", 0, 1e6),
  NUM ("load15", 0, 1e6),
  INT ("mem_total_kib", 0, MAX_SAFE_INT),
  INT ("mem_available_kib", 0, MAX_SAFE_INT),
  INT ("uptime_seconds", 0, MAX_SAFE_INT),
  INT ("root_total_bytes", 0, MAX_SAFE_INT),
  INT ("root_available_bytes", 0, MAX_SAFE_INT),
  END,
};

static const Field phone_home_fields[] = {
  { "instance", K_STRING, TRUE, GVD_INSTANCE_NAME_MAX, 0, 0, NULL },
  STR ("agent_version", 32),
  STR ("boot_id", 64),
  STR ("kernel", GVD_AGENT_MAX_STRING),
  STR ("hostname", GVD_AGENT_MAX_STRING),
  OBJ ("cloud_init", cloud_init_fields),
  OBJS ("addresses", address_fields),
  OBJ ("nvidia_smi", nvidia_smi_fields),
  OBJS ("gpus", gpu_fields),
  OBJS ("pci_gpus", pci_gpu_fields),
  END,
};

static const Field heartbeat_fields[] = {
  { "instance", K_STRING, TRUE, GVD_INSTANCE_NAME_MAX, 0, 0, NULL },
  STR ("boot_id", 64),
  INT ("seq", 0, MAX_SAFE_INT),
  INT ("interval", 0, 86400),
  OBJ ("cloud_init", cloud_init_fields),
  OBJS ("addresses", address_fields),
  OBJ ("system", system_fields),
  OBJ ("nvidia_smi", nvidia_smi_fields),
  OBJS ("gpus", gpu_fields),
  OBJS ("pci_gpus", pci_gpu_fields),
  END,
};

static JsonObject *validate_object (JsonObject *in, const Field *fields, const char *path,
                                    GError **error);

static char *
member_path (const char *path, const char *name)
{
  return path[0] == '\0' ? g_strdup (name) : g_strdup_printf ("%s.%s", path, name);
}

static gboolean
invalid (GError **error, const char *path, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
invalid (GError **error, const char *path, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list ap;

  va_start (ap, format);
  what = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, "%s: %s", path, what);
  return FALSE;
}

static gboolean
node_is (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
check_string (JsonNode *node, guint max, const char *path, GError **error)
{
  if (!node_is (node, G_TYPE_STRING))
    return invalid (error, path, "must be a string");
  if (strlen (json_node_get_string (node)) > max)
    return invalid (error, path, "must be at most %u bytes long", max);
  return TRUE;
}

/* A validated copy of @node, or NULL with @error set. */
static JsonNode *
validate_value (JsonNode *node, const Field *f, const char *path, GError **error)
{
  switch (f->kind)
    {
    case K_STRING:
      if (!check_string (node, f->max, path, error))
        return NULL;
      return json_node_copy (node);

    case K_INT:
      if (!node_is (node, G_TYPE_INT64))
        {
          invalid (error, path, "must be an integer");
          return NULL;
        }
      if ((double) json_node_get_int (node) < f->min_value
          || (double) json_node_get_int (node) > f->max_value)
        {
          invalid (error, path, "must be between %.0f and %.0f", f->min_value, f->max_value);
          return NULL;
        }
      return json_node_copy (node);

    case K_NUMBER:
      {
        double v;

        if (node_is (node, G_TYPE_INT64))
          v = (double) json_node_get_int (node);
        else if (node_is (node, G_TYPE_DOUBLE))
          v = json_node_get_double (node);
        else
          {
            invalid (error, path, "must be a number");
            return NULL;
          }
        if (!isfinite (v) || v < f->min_value || v > f->max_value)
          {
            invalid (error, path, "must be between %g and %g", f->min_value, f->max_value);
            return NULL;
          }
        return json_node_copy (node);
      }

    case K_OBJECT:
      {
        JsonObject *obj;
        JsonNode *copy;

        if (!JSON_NODE_HOLDS_OBJECT (node))
          {
            invalid (error, path, "must be an object");
            return NULL;
          }
        obj = validate_object (json_node_get_object (node), f->members, path, error);
        if (obj == NULL)
          return NULL;
        copy = json_node_alloc ();
        json_node_init_object (copy, obj);
        json_object_unref (obj);
        return copy;
      }

    case K_OBJECTS:
    case K_STRINGS:
      {
        JsonArray *in;
        g_autoptr(JsonArray) out = NULL;
        JsonNode *copy;

        if (!JSON_NODE_HOLDS_ARRAY (node))
          {
            invalid (error, path, "must be an array");
            return NULL;
          }
        in = json_node_get_array (node);
        if (json_array_get_length (in) > f->max)
          {
            invalid (error, path, "must have at most %u items", f->max);
            return NULL;
          }
        out = json_array_sized_new (json_array_get_length (in));
        for (guint i = 0; i < json_array_get_length (in); i++)
          {
            JsonNode *item = json_array_get_element (in, i);
            g_autofree char *item_path = g_strdup_printf ("%s[%u]", path, i);

            if (f->kind == K_STRINGS)
              {
                if (!check_string (item, GVD_AGENT_MAX_MESSAGE, item_path, error))
                  return NULL;
                json_array_add_element (out, json_node_copy (item));
              }
            else
              {
                JsonObject *obj;

                if (!JSON_NODE_HOLDS_OBJECT (item))
                  {
                    invalid (error, item_path, "must be an object");
                    return NULL;
                  }
                obj = validate_object (json_node_get_object (item), f->members, item_path,
                                       error);
                if (obj == NULL)
                  return NULL;
                json_array_add_object_element (out, obj);
              }
          }
        copy = json_node_alloc ();
        json_node_init_array (copy, out);
        return copy;
      }
    }
  g_assert_not_reached ();
}

static JsonObject *
validate_object (JsonObject *in, const Field *fields, const char *path, GError **error)
{
  g_autoptr(JsonObject) out = json_object_new ();

  for (const Field *f = fields; f->name != NULL; f++)
    {
      g_autofree char *p = member_path (path, f->name);
      JsonNode *node = json_object_get_member (in, f->name);
      JsonNode *copy;

      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        {
          if (f->required)
            {
              invalid (error, p, "is required");
              return NULL;
            }
          if (node != NULL)
            json_object_set_null_member (out, f->name);
          continue;
        }
      copy = validate_value (node, f, p, error);
      if (copy == NULL)
        return NULL;
      json_object_set_member (out, f->name, copy);
    }
  return g_steal_pointer (&out);
}

JsonObject *
gvd_agent_report_validate (GvdAgentReportKind kind, JsonObject *body, GError **error)
{
  g_autoptr(JsonObject) clean = NULL;

  g_return_val_if_fail (body != NULL, NULL);

  clean = validate_object (body,
                           kind == GVD_AGENT_REPORT_PHONE_HOME ? phone_home_fields
                                                               : heartbeat_fields,
                           "", error);
  if (clean == NULL)
    return NULL;
  /* The one instance-name rule: no control characters, nothing a log line
   * or a path could be forged with. */
  if (!gvd_instance_name_valid (gvd_agent_member_string (clean, "instance")))
    {
      invalid (error, "instance", "%s", GVD_AGENT_NAME_RULE);
      return NULL;
    }
  return g_steal_pointer (&clean);
}

/* ---- accessors of validated reports ------------------------------------------ */

const char *
gvd_agent_member_string (JsonObject *obj, const char *name)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  return node != NULL && node_is (node, G_TYPE_STRING) ? json_node_get_string (node) : NULL;
}

JsonObject *
gvd_agent_member_object (JsonObject *obj, const char *name)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

JsonArray *
gvd_agent_member_array (JsonObject *obj, const char *name)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}
