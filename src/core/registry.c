/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named devices: the table and its JSON form (host/registry-file.c keeps
 * the file). */
#include "config.h"

#include "registry.h"
#include "pci-address.h"

#include <string.h>

#include "errors.h"

#define REGISTRY_FORMAT_VERSION 1

struct _GvdRegistry {
  GHashTable *by_name;    /* name → GvdRegistryEntry (owned) */
  GHashTable *by_address; /* address → GvdRegistryEntry (borrowed) */
};

static void
entry_free (gpointer data)
{
  GvdRegistryEntry *entry = data;

  g_free (entry->name);
  g_free (entry->address);
  g_free (entry);
}

GvdRegistry *
gvd_registry_new (void)
{
  GvdRegistry *registry = g_new0 (GvdRegistry, 1);

  registry->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_free);
  registry->by_address = g_hash_table_new (g_str_hash, g_str_equal);
  return registry;
}

void
gvd_registry_free (GvdRegistry *registry)
{
  if (registry == NULL)
    return;
  g_hash_table_unref (registry->by_address);
  g_hash_table_unref (registry->by_name);
  g_free (registry);
}

/* ---- validation ----------------------------------------------------------- */

gboolean
gvd_registry_validate_name (const char *name, GError **error)
{
  gsize len;

  g_return_val_if_fail (name != NULL, FALSE);

  len = strlen (name);
  if (len < 2 || len > GVD_REGISTRY_NAME_MAX)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                   "device name must have 2 to %d characters (got %" G_GSIZE_FORMAT ")",
                   GVD_REGISTRY_NAME_MAX, len);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    {
      char c = name[i];
      gboolean ok = g_ascii_isalnum (c) || (i > 0 && (c == '_' || c == '.' || c == '-'));

      if (!ok)
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                       "device name '%s' does not match ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$",
                       g_utf8_validate (name, -1, NULL) ? name : "(not UTF-8)");
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- the table ------------------------------------------------------------ */

gboolean
gvd_registry_add (GvdRegistry *registry, const char *name, const char *address, GError **error)
{
  g_autofree char *canonical = NULL;
  GvdRegistryEntry *other;
  GvdRegistryEntry *entry;

  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (name != NULL && address != NULL, FALSE);

  if (!gvd_registry_validate_name (name, error)
      || (canonical = gvd_pci_address_normalize ("pci_address", address, error)) == NULL)
    return FALSE;
  if ((other = g_hash_table_lookup (registry->by_name, name)) != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                   "a device named '%s' is already registered (%s)", name, other->address);
      return FALSE;
    }
  if ((other = g_hash_table_lookup (registry->by_address, canonical)) != NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_ALREADY_EXISTS,
                   "PCI device %s is already registered as '%s'", canonical, other->name);
      return FALSE;
    }
  if (g_hash_table_size (registry->by_name) >= GVD_REGISTRY_MAX_ENTRIES)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_CONFLICT,
                   "the device registry is full (%d entries)", GVD_REGISTRY_MAX_ENTRIES);
      return FALSE;
    }

  entry = g_new0 (GvdRegistryEntry, 1);
  entry->name = g_strdup (name);
  entry->address = g_steal_pointer (&canonical);
  g_hash_table_insert (registry->by_name, entry->name, entry);
  g_hash_table_insert (registry->by_address, entry->address, entry);
  return TRUE;
}

const GvdRegistryEntry *
gvd_registry_find (const GvdRegistry *registry, const char *name_or_address)
{
  g_autofree char *canonical = NULL;
  GvdRegistryEntry *entry;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (name_or_address != NULL, NULL);

  entry = g_hash_table_lookup (registry->by_name, name_or_address);
  if (entry != NULL)
    return entry;
  if ((canonical = gvd_pci_address_canonical (name_or_address)) == NULL)
    return NULL;
  return g_hash_table_lookup (registry->by_address, canonical);
}

gboolean
gvd_registry_remove (GvdRegistry *registry, const char *name_or_address, GError **error)
{
  const GvdRegistryEntry *entry;
  char *name;

  g_return_val_if_fail (registry != NULL, FALSE);
  g_return_val_if_fail (name_or_address != NULL, FALSE);

  entry = gvd_registry_find (registry, name_or_address);
  if (entry == NULL)
    {
      g_set_error (error, GVD_ERROR, GVD_ERROR_DEVICE_NOT_FOUND,
                   "no registered device named or at '%s'",
                   g_utf8_validate (name_or_address, -1, NULL) ? name_or_address : "(not UTF-8)");
      return FALSE;
    }
  name = entry->name;
  g_hash_table_remove (registry->by_address, entry->address);
  g_hash_table_remove (registry->by_name, name); /* frees entry */
  return TRUE;
}

const char *
gvd_registry_lookup_name (const GvdRegistry *registry, const char *name)
{
  GvdRegistryEntry *entry;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  entry = g_hash_table_lookup (registry->by_name, name);
  return entry != NULL ? entry->address : NULL;
}

const char *
gvd_registry_lookup_address (const GvdRegistry *registry, const char *address)
{
  g_autofree char *canonical = NULL;
  GvdRegistryEntry *entry;

  g_return_val_if_fail (registry != NULL, NULL);
  g_return_val_if_fail (address != NULL, NULL);

  if ((canonical = gvd_pci_address_canonical (address)) == NULL)
    return NULL;
  entry = g_hash_table_lookup (registry->by_address, canonical);
  return entry != NULL ? entry->name : NULL;
}

guint
gvd_registry_get_size (const GvdRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, 0);

  return g_hash_table_size (registry->by_name);
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const GvdRegistryEntry *ea = *(const GvdRegistryEntry *const *) a;
  const GvdRegistryEntry *eb = *(const GvdRegistryEntry *const *) b;

  return strcmp (ea->name, eb->name);
}

GPtrArray *
gvd_registry_list (const GvdRegistry *registry)
{
  GPtrArray *list;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (registry != NULL, NULL);

  list = g_ptr_array_sized_new (g_hash_table_size (registry->by_name));
  g_hash_table_iter_init (&iter, registry->by_name);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, compare_entries);
  return list;
}

/* ---- JSON ----------------------------------------------------------------- */

void
gvd_registry_entry_to_json (const GvdRegistryEntry *entry, JsonBuilder *builder)
{
  g_return_if_fail (entry != NULL && builder != NULL);

  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, entry->name);
  json_builder_set_member_name (builder, "pci_address");
  json_builder_add_string_value (builder, entry->address);
}

char *
gvd_registry_serialize (const GvdRegistry *registry, gsize *out_len)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) list = gvd_registry_list (registry);
  g_autofree char *text = NULL;
  char *out;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, REGISTRY_FORMAT_VERSION);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    {
      json_builder_begin_object (b);
      gvd_registry_entry_to_json (list->pdata[i], b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  text = json_generator_to_data (gen, NULL);
  out = g_strconcat (text, "\n", NULL);
  if (out_len != NULL)
    *out_len = strlen (out);
  return out;
}

/* Every member of @obj must be one of @allowed. */
static gboolean
check_members (JsonObject *obj, const char *const *allowed, const char *where,
               const char *source, GError **error)
{
  g_autoptr(GList) members = json_object_get_members (obj);

  for (GList *l = members; l != NULL; l = l->next)
    {
      if (!g_strv_contains (allowed, l->data))
        {
          g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,
                       "%s: unknown member '%s' in %s", source, (const char *) l->data, where);
          return FALSE;
        }
    }
  return TRUE;
}

static const char *
get_string_member (JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

GvdRegistry *
gvd_registry_parse (const char *data, gsize len, const char *source, GError **error)
{
  static const char *const top_members[] = { "version", "devices", NULL };
  static const char *const entry_members[] = { "name", "pci_address", NULL };
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GvdRegistry) registry = gvd_registry_new ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root, *node;
  JsonObject *obj;
  JsonArray *devices;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (source != NULL, NULL);

#define FAIL(...)                                                                   \
  G_STMT_START {                                                                    \
    g_autofree char *why_ = g_strdup_printf (__VA_ARGS__);                          \
    g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_CONFIG,                        \
                 "%s is corrupt: %s (fix or move it away; nothing was loaded)",     \
                 source, why_);                                                     \
    return NULL;                                                                    \
  } G_STMT_END

  if (len > GVD_REGISTRY_MAX_FILE_BYTES)
    FAIL ("%" G_GSIZE_FORMAT " bytes is over the limit of %d", len,
          GVD_REGISTRY_MAX_FILE_BYTES);
  if (len == 0 || memchr (data, '\0', len) != NULL || !g_utf8_validate (data, len, NULL))
    FAIL ("not UTF-8 JSON text");
  if (!json_parser_load_from_data (parser, data, len, &local_error))
    FAIL ("%s", local_error->message);
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    FAIL ("the top level is not a JSON object");
  obj = json_node_get_object (root);
  if (!check_members (obj, top_members, "the top level", source, error))
    return NULL;
  node = json_object_get_member (obj, "version");
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE
      || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) != REGISTRY_FORMAT_VERSION)
    FAIL ("\"version\" must be %d", REGISTRY_FORMAT_VERSION);
  node = json_object_get_member (obj, "devices");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    FAIL ("\"devices\" must be an array");
  devices = json_node_get_array (node);
  if (json_array_get_length (devices) > GVD_REGISTRY_MAX_ENTRIES)
    FAIL ("%u devices is over the limit of %d", json_array_get_length (devices),
          GVD_REGISTRY_MAX_ENTRIES);

  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      JsonNode *item = json_array_get_element (devices, i);
      g_autofree char *where = g_strdup_printf ("devices[%u]", i);
      JsonObject *entry;
      const char *name, *address;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        FAIL ("%s is not an object", where);
      entry = json_node_get_object (item);
      if (!check_members (entry, entry_members, where, source, error))
        return NULL;
      name = get_string_member (entry, "name");
      address = get_string_member (entry, "pci_address");
      if (name == NULL || address == NULL)
        FAIL ("%s needs string members \"name\" and \"pci_address\"", where);
      if (!gvd_registry_add (registry, name, address, &local_error))
        FAIL ("%s: %s", where, local_error->message);
    }
#undef FAIL
  return g_steal_pointer (&registry);
}
