/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* User-mode NICs with forwarded ports: QEMU's -netdev user,hostfwd on the
 * domain's <qemu:commandline>, and reading them back (see the header for
 * why not <interface>). */
#include "config.h"

#include "domain-xml-forward.h"

#include <json-glib/json-glib.h>
#include <libxml/xpathInternals.h>
#include <string.h>

#include "domain-xml.h"
#include "domain-xml-xpath.h"
#include "errors.h"
#include "validate.h"

#define INVALID(...) \
  (g_set_error (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT, __VA_ARGS__), FALSE)

gboolean
gvd_domain_xml_nic_forwards (const GvdNicSpec *nic)
{
  return nic->mode == GVD_NETWORK_USER && nic->forwards != NULL && nic->forwards->len > 0;
}

gboolean
gvd_domain_xml_validate_forwards (const GvdInstanceSpec *spec, GError **error)
{
  g_autoptr(GHashTable) hosts = g_hash_table_new (g_direct_hash, g_direct_equal);

  for (guint i = 0; i < spec->nics->len; i++)
    {
      const GvdNicSpec *nic = g_ptr_array_index (spec->nics, i);
      g_autoptr(GHashTable) guests = g_hash_table_new (g_direct_hash, g_direct_equal);

      if (nic->forwards == NULL || nic->forwards->len == 0)
        continue;
      if (nic->mode != GVD_NETWORK_USER)
        return INVALID ("NIC %u: forwarded ports need user-mode networking", i);
      if (nic->forwards->len > GVD_DOMAIN_XML_MAX_FORWARDS)
        return INVALID ("NIC %u: more than %d forwarded ports", i, GVD_DOMAIN_XML_MAX_FORWARDS);
      for (guint j = 0; j < nic->forwards->len; j++)
        {
          const GvdPortForward *f = &g_array_index (nic->forwards, GvdPortForward, j);

          if (f->guest == 0 || f->guest > 65535 || f->host == 0 || f->host > 65535)
            return INVALID ("NIC %u: forward %u-%u is not two TCP ports", i, f->host, f->guest);
          /* Never on an address outside the host. */
          if ((f->address >> 24) != 127)
            return INVALID ("NIC %u: forward %u-%u is not on a loopback address", i, f->host,
                            f->guest);
          if (!g_hash_table_add (guests, GUINT_TO_POINTER (f->guest)))
            return INVALID ("NIC %u: guest port %u forwarded twice", i, f->guest);
          if (!g_hash_table_add (hosts, GUINT_TO_POINTER (f->host)))
            return INVALID ("host port %u forwarded twice", f->host);
        }
    }
  return TRUE;
}

static char *
to_json (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);

  return json_to_string (root, FALSE);
}

static void
add_arg (Render *r, const char *value)
{
  prop (child (r->qemu_commandline, r->qemu_ns, "arg"), "value", value);
}

void
gvd_domain_xml_render_forward_nic (Render *r, const GvdNicSpec *nic, guint index)
{
  g_autoptr(JsonBuilder) netdev = json_builder_new ();
  g_autoptr(JsonBuilder) device = json_builder_new ();
  g_autofree char *id = g_strdup_printf (GVD_DOMAIN_XML_FORWARD_NETDEV "%u", index);
  g_autofree char *dev_id = g_strdup_printf (GVD_DOMAIN_XML_FORWARD_DEVICE "%u", index);
  g_autofree char *netdev_json = NULL;
  g_autofree char *device_json = NULL;

  if (r->qemu_commandline == NULL)
    r->qemu_commandline = xmlNewNode (r->qemu_ns, BAD_CAST "commandline");

  /* QEMU's slirp, as libvirt's <interface type='user'> gives it, plus
   * hostfwd: QEMU (user libvirt-qemu) listens on the instance's own
   * loopback address only, not on 127.0.0.1, where slirp sends every
   * guest's 10.0.2.2. */
  json_builder_begin_object (netdev);
  json_builder_set_member_name (netdev, "type");
  json_builder_add_string_value (netdev, "user");
  json_builder_set_member_name (netdev, "id");
  json_builder_add_string_value (netdev, id);
  json_builder_set_member_name (netdev, "hostfwd");
  json_builder_begin_array (netdev);
  for (guint j = 0; j < nic->forwards->len; j++)
    {
      const GvdPortForward *f = &g_array_index (nic->forwards, GvdPortForward, j);
      g_autofree char *address = gvd_ipv4_to_string (f->address);
      g_autofree char *rule = g_strdup_printf ("tcp:%s:%u-:%u", address, f->host, f->guest);

      json_builder_begin_object (netdev);
      json_builder_set_member_name (netdev, "str");
      json_builder_add_string_value (netdev, rule);
      json_builder_end_object (netdev);
    }
  json_builder_end_array (netdev);
  json_builder_end_object (netdev);

  json_builder_begin_object (device);
  json_builder_set_member_name (device, "driver");
  json_builder_add_string_value (device, "virtio-net-pci");
  json_builder_set_member_name (device, "netdev");
  json_builder_add_string_value (device, id);
  json_builder_set_member_name (device, "mac");
  json_builder_add_string_value (device, nic->mac);
  json_builder_set_member_name (device, "id");
  json_builder_add_string_value (device, dev_id);
  json_builder_end_object (device);

  netdev_json = to_json (netdev);
  device_json = to_json (device);
  add_arg (r, "-netdev");
  add_arg (r, netdev_json);
  add_arg (r, "-device");
  add_arg (r, device_json);
}

/* "tcp:ADDRESS:HOST-:GUEST", exactly as rendered, ADDRESS a loopback
 * address (127.0.0.1 for instances made before forward_addresses). */
static gboolean
parse_rule (const char *rule, GvdPortForward *out)
{
  const char *p;
  const char *colon;
  const char *dash;
  guint64 host, guest;
  guint32 address;
  g_autofree char *address_s = NULL;
  g_autofree char *host_s = NULL;

  if (rule == NULL || !g_str_has_prefix (rule, "tcp:"))
    return FALSE;
  p = rule + strlen ("tcp:");
  colon = strchr (p, ':');
  if (colon == NULL)
    return FALSE;
  address_s = g_strndup (p, (gsize) (colon - p));
  if (!gvd_validate_ipv4 ("hostfwd", address_s, &address, NULL) || (address >> 24) != 127)
    return FALSE;
  p = colon + 1;
  dash = strstr (p, "-:");
  if (dash == NULL)
    return FALSE;
  host_s = g_strndup (p, (gsize) (dash - p));
  if (!g_ascii_string_to_unsigned (host_s, 10, 1, 65535, &host, NULL)
      || !g_ascii_string_to_unsigned (dash + 2, 10, 1, 65535, &guest, NULL))
    return FALSE;
  out->host = (guint) host;
  out->guest = (guint) guest;
  out->address = address;
  return TRUE;
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  /* Rendered by gpuvmd, but read back from libvirt: bounded and flat. */
  if (text == NULL || strlen (text) > 4096 || !json_parser_load_from_data (parser, text, -1, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

static const char *
member_string (JsonObject *obj, const char *name)
{
  JsonNode *n = json_object_get_member (obj, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

/* The host port of a hostfwd rule "tcp:[ADDR]:HOST-[GADDR]:GPORT" (0 if
 * none) and its ADDR when that is a dotted IPv4 address (else 0: all
 * addresses, or a name). */
static guint
rule_host_port (const char *rule, guint32 *out_address)
{
  g_autofree char *head = NULL;
  const char *dash, *colon;
  guint64 port;

  *out_address = 0;
  if (rule == NULL || (dash = strchr (rule, '-')) == NULL)
    return 0;
  head = g_strndup (rule, (gsize) (dash - rule));
  colon = strrchr (head, ':');
  if (!g_ascii_string_to_unsigned (colon != NULL ? colon + 1 : head, 10, 1, 65535, &port, NULL))
    return 0;
  if (colon != NULL)
    {
      const char *start = memchr (head, ':', (gsize) (colon - head));
      g_autofree char *addr = NULL;

      /* "tcp:ADDR:PORT" or ":ADDR:PORT"; "PORT" and "ADDR:PORT" too. */
      start = start != NULL ? start + 1 : head;
      addr = g_strndup (start, (gsize) (colon - start));
      if (!gvd_validate_ipv4 ("hostfwd", addr, out_address, NULL))
        *out_address = 0;
    }
  return (guint) port;
}

static void
add_forward (GArray *ports, GArray *addresses, guint port, guint32 address)
{
  if (port != 0 && ports->len < 4096)
    g_array_append_val (ports, port);
  if (address != 0 && addresses->len < 4096)
    g_array_append_val (addresses, address);
}

static void
add_rule (GArray *ports, GArray *addresses, const char *rule)
{
  guint32 address;
  guint port = rule_host_port (rule, &address);

  add_forward (ports, addresses, port, address);
}

/* Every host port and IPv4 address any domain XML forwards from. */
static gboolean
collect_forwards (const char *xml, GArray *ports, GArray *addresses, GError **error)
{
  g_autoptr(xmlDoc) doc = gvd_xp_read_doc (xml, error);
  g_autoptr(xmlXPathContext) ctx = NULL;
  g_autoptr(xmlXPathObject) obj = NULL;
  xmlNodePtr root;
  xmlNodeSetPtr set;

  if (doc == NULL)
    return FALSE;
  root = xmlDocGetRootElement (doc);
  ctx = xmlXPathNewContext (doc);
  xmlXPathRegisterNs (ctx, BAD_CAST "q", BAD_CAST "http://libvirt.org/schemas/domain/qemu/1.0");
  set = gvd_xp_nodes (ctx, root, "/domain/q:commandline/q:arg/@value", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      g_autofree char *value = gvd_xp_str (ctx, set->nodeTab[i], ".");
      g_autoptr(JsonObject) o = NULL;
      JsonNode *fwd;

      if (value == NULL)
        continue;
      if (value[0] == '{' && (o = parse_object (value)) != NULL)
        {
          fwd = json_object_get_member (o, "hostfwd");
          if (fwd == NULL || !JSON_NODE_HOLDS_ARRAY (fwd))
            continue;
          for (guint j = 0; j < json_array_get_length (json_node_get_array (fwd)); j++)
            {
              JsonNode *e = json_array_get_element (json_node_get_array (fwd), j);
              if (JSON_NODE_HOLDS_OBJECT (e))
                add_rule (ports, addresses, member_string (json_node_get_object (e), "str"));
            }
        }
      else
        {
          /* -netdev user,id=n,hostfwd=tcp::2222-:22,hostfwd=... */
          g_auto(GStrv) opts = g_strsplit (value, ",", 64);
          for (gsize j = 0; opts[j] != NULL; j++)
            if (g_str_has_prefix (opts[j], "hostfwd="))
              add_rule (ports, addresses, opts[j] + strlen ("hostfwd="));
        }
    }
  g_clear_pointer (&obj, xmlXPathFreeObject);
  /* passt (libvirt builds with it elsewhere): host ports start..end. */
  set = gvd_xp_nodes (ctx, root, "/domain/devices/interface/portForward/range", &obj);
  for (int i = 0; set != NULL && i < set->nodeNr; i++)
    {
      guint64 start = 0, end = 0;
      guint32 address = 0;
      g_autofree char *exclude = gvd_xp_str (ctx, set->nodeTab[i], "@exclude");
      g_autofree char *addr = gvd_xp_str (ctx, set->nodeTab[i], "../@address");

      if (g_strcmp0 (exclude, "yes") == 0
          || !gvd_xp_num (ctx, set->nodeTab[i], "@start", 65535, 0, &start, NULL)
          || !gvd_xp_num (ctx, set->nodeTab[i], "@end", 65535, 0, &end, NULL))
        continue;
      if (addr == NULL || !gvd_validate_ipv4 ("address", addr, &address, NULL))
        address = 0;
      add_forward (ports, addresses, 0, address);
      for (guint64 p = start; p != 0 && p <= MAX (start, end); p++)
        add_forward (ports, addresses, (guint) p, 0);
    }
  return TRUE;
}

GArray *
gvd_domain_xml_forwarded_host_ports (const char *xml, GError **error)
{
  g_autoptr(GArray) ports = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) addresses = g_array_new (FALSE, FALSE, sizeof (guint32));

  if (!collect_forwards (xml, ports, addresses, error))
    return NULL;
  return g_steal_pointer (&ports);
}

GArray *
gvd_domain_xml_forwarded_host_addresses (const char *xml, GError **error)
{
  g_autoptr(GArray) ports = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) addresses = g_array_new (FALSE, FALSE, sizeof (guint32));

  if (!collect_forwards (xml, ports, addresses, error))
    return NULL;
  return g_steal_pointer (&addresses);
}

gboolean
gvd_domain_xml_parse_forward_nics (xmlXPathContextPtr ctx, xmlNodePtr root, GvdInstanceSpec *spec,
                                   GError **error)
{
  g_autoptr(xmlXPathObject) obj = NULL;
  g_autoptr(GHashTable) netdevs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify) g_array_unref);
  xmlNodeSetPtr set;

  set = gvd_xp_nodes (ctx, root, "q:commandline/q:arg", &obj);
  for (int i = 0; set != NULL && i + 1 < set->nodeNr; i++)
    {
      g_autofree char *flag = gvd_xp_str (ctx, set->nodeTab[i], "@value");
      g_autofree char *value = NULL;
      g_autoptr(JsonObject) o = NULL;

      if (g_strcmp0 (flag, "-netdev") != 0 && g_strcmp0 (flag, "-device") != 0)
        continue;
      value = gvd_xp_str (ctx, set->nodeTab[i + 1], "@value");
      o = parse_object (value);
      if (o == NULL)
        continue;
      if (g_str_equal (flag, "-netdev"))
        {
          const char *id = member_string (o, "id");
          JsonNode *fwd = json_object_get_member (o, "hostfwd");
          g_autoptr(GArray) forwards = g_array_new (FALSE, FALSE, sizeof (GvdPortForward));
          JsonArray *a;

          if (g_strcmp0 (member_string (o, "type"), "user") != 0 || id == NULL
              || !g_str_has_prefix (id, GVD_DOMAIN_XML_FORWARD_NETDEV) || fwd == NULL
              || !JSON_NODE_HOLDS_ARRAY (fwd))
            continue;
          a = json_node_get_array (fwd);
          if (json_array_get_length (a) > GVD_DOMAIN_XML_MAX_FORWARDS)
            return INVALID ("netdev %s: more than %d forwarded ports", id,
                            GVD_DOMAIN_XML_MAX_FORWARDS);
          for (guint j = 0; j < json_array_get_length (a); j++)
            {
              JsonNode *e = json_array_get_element (a, j);
              GvdPortForward f;

              if (!JSON_NODE_HOLDS_OBJECT (e)
                  || !parse_rule (member_string (json_node_get_object (e), "str"), &f))
                return INVALID ("netdev %s: hostfwd %u is not tcp:127.X.Y.Z:HOST-:GUEST", id, j);
              g_array_append_val (forwards, f);
            }
          g_hash_table_replace (netdevs, g_strdup (id), g_steal_pointer (&forwards));
        }
      else
        {
          const char *netdev = member_string (o, "netdev");
          GArray *forwards;
          g_autoptr(GvdNicSpec) nic = NULL;

          if (g_strcmp0 (member_string (o, "driver"), "virtio-net-pci") != 0 || netdev == NULL
              || (forwards = g_hash_table_lookup (netdevs, netdev)) == NULL)
            continue;
          nic = gvd_nic_spec_new ();
          nic->mode = GVD_NETWORK_USER;
          nic->mac = g_strdup (member_string (o, "mac"));
          nic->forwards = g_array_ref (forwards);
          if (spec->nics->len >= GVD_DOMAIN_XML_MAX_NICS)
            return INVALID ("more than %d NICs", GVD_DOMAIN_XML_MAX_NICS);
          g_ptr_array_add (spec->nics, g_steal_pointer (&nic));
        }
    }
  return TRUE;
}
