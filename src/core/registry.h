/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named devices (name ↔ PCI address): a pure table, its JSON form, and one
 * atomic file writer for <state_dir>/registry.json. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define GVD_REGISTRY_NAME_MAX 63
#define GVD_REGISTRY_MAX_ENTRIES 4096
/* A full registry is about 250 KiB of JSON; refuse anything far bigger. */
#define GVD_REGISTRY_MAX_FILE_BYTES (1024 * 1024)
#define GVD_REGISTRY_FILE_NAME "registry.json"

typedef struct _GvdRegistry GvdRegistry;

typedef struct {
  char *name;
  char *address; /* "dddd:bb:ss.f", lower-case hex */
} GvdRegistryEntry;

GvdRegistry *gvd_registry_new (void);
void gvd_registry_free (GvdRegistry *registry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdRegistry, gvd_registry_free)

/* Names match ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ and have at most 63 characters,
 * so a name can never be mistaken for a PCI address. */
gboolean gvd_registry_validate_name (const char *name, GError **error);

/* ALREADY_EXISTS when @name or @address is registered already (the message
 * names the other entry); INVALID_ARGUMENT for a bad name or address;
 * CONFLICT when the registry is full. */
gboolean gvd_registry_add (GvdRegistry *registry, const char *name, const char *address,
                           GError **error);

/* Remove the entry whose name or PCI address is @name_or_address;
 * DEVICE_NOT_FOUND when there is none. */
gboolean gvd_registry_remove (GvdRegistry *registry, const char *name_or_address,
                              GError **error);

/* name → canonical address, or NULL. */
const char *gvd_registry_lookup_name (const GvdRegistry *registry, const char *name);
/* address (any case) → name, or NULL. */
const char *gvd_registry_lookup_address (const GvdRegistry *registry, const char *address);
/* The entry whose name or address is @name_or_address, or NULL. Borrowed:
 * valid until the registry changes. */
const GvdRegistryEntry *gvd_registry_find (const GvdRegistry *registry,
                                           const char *name_or_address);

guint gvd_registry_get_size (const GvdRegistry *registry);
/* Borrowed GvdRegistryEntry pointers sorted by name (container owned by
 * the caller). */
GPtrArray *gvd_registry_list (const GvdRegistry *registry);

/* {"name": ..., "pci_address": ...} as members of the object being built
 * (the caller opens and closes it, so it can add more members). */
void gvd_registry_entry_to_json (const GvdRegistryEntry *entry, JsonBuilder *builder);

/* The file form: {"version": 1, "devices": [{"name", "pci_address"}...]},
 * entries sorted by name. */
char *gvd_registry_serialize (const GvdRegistry *registry, gsize *out_len);
/* Strict: unknown members, bad names or addresses, duplicates and too many
 * entries are errors naming @source; nothing is ever silently dropped. */
GvdRegistry *gvd_registry_parse (const char *data, gsize len, const char *source,
                                 GError **error);


G_END_DECLS
