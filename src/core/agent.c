/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest agent receiver core: tokens, report schema, health tracker. */
#include "config.h"

#include "agent.h"
#include "json-util.h"

#include <math.h>
#include <string.h>

#include "errors.h"
#include "instance-request.h"
#include "rate-limit.h"
#include "token-equal.h"


const char *
gvd_agent_health_to_string (GvdAgentHealth health)
{
  switch (health)
    {
    case GVD_AGENT_HEALTH_PROVISIONING:
      return "provisioning";
    case GVD_AGENT_HEALTH_READY:
      return "ready";
    case GVD_AGENT_HEALTH_HEALTHY:
      return "healthy";
    case GVD_AGENT_HEALTH_DEGRADED:
      return "degraded";
    case GVD_AGENT_HEALTH_UNRESPONSIVE:
      return "unresponsive";
    case GVD_AGENT_HEALTH_STOPPED:
      return "stopped";
    }
  return "unknown";
}

const char *
gvd_agent_reason_to_string (GvdAgentReason reason)
{
  switch (reason)
    {
    case GVD_AGENT_REASON_NONE:
      return NULL;
    case GVD_AGENT_REASON_PHONE_HOME:
      return "phone_home";
    case GVD_AGENT_REASON_HEARTBEAT:
      return "heartbeat";
    case GVD_AGENT_REASON_GPU_FAULT:
      return "gpu_fault";
    case GVD_AGENT_REASON_HEARTBEAT_MISSED:
      return "heartbeat_missed";
    case GVD_AGENT_REASON_STOPPED:
      return "stopped";
    case GVD_AGENT_REASON_STARTED:
      return "started";
    }
  return NULL;
}

/* ---- tokens ------------------------------------------------------------------ */

char *
gvd_agent_token_derive (GBytes *secret, const char *uuid)
{
  gsize len;
  const guchar *key;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (uuid != NULL, NULL);

  key = g_bytes_get_data (secret, &len);
  /* g_compute_hmac_for_data prints lowercase hex. */
  return g_compute_hmac_for_data (G_CHECKSUM_SHA256, key, len, (const guchar *) uuid,
                                  strlen (uuid));
}

gboolean
gvd_agent_token_verify (GBytes *secret, const char *uuid, const char *token)
{
  g_autofree char *want = NULL;
  gboolean ok;

  if (secret == NULL || uuid == NULL || token == NULL)
    return FALSE;
  want = gvd_agent_token_derive (secret, uuid);
  ok = gvd_token_equal (want, token);
  explicit_bzero (want, strlen (want));
  return ok;
}

/* ---- report schema ---------------------------------------------------------- */

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

static const char *member_string (JsonObject *obj, const char *name);

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
  if (!gvd_instance_name_valid (member_string (clean, "instance")))
    {
      invalid (error, "instance", "%s", GVD_AGENT_NAME_RULE);
      return NULL;
    }
  return g_steal_pointer (&clean);
}

/* ---- GPU faults --------------------------------------------------------------- */

typedef struct {
  char *guest_address;
  char *vendor;
  char *device;
  char *driver;
  char *problem;
} Fault;

static void
fault_free (gpointer data)
{
  Fault *f = data;

  g_free (f->guest_address);
  g_free (f->vendor);
  g_free (f->device);
  g_free (f->driver);
  g_free (f->problem);
  g_free (f);
}

static const char *
member_string (JsonObject *obj, const char *name)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  return node != NULL && node_is (node, G_TYPE_STRING) ? json_node_get_string (node) : NULL;
}

static JsonObject *
member_object (JsonObject *obj, const char *name)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
member_array (JsonObject *obj, const char *name)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* GPUs a guest gets passed through (NVIDIA, AMD); emulated display
 * adapters (QEMU VGA, virtio-gpu) have no driver in lean guests by design. */
static gboolean
is_passthrough_gpu_vendor (const char *vendor)
{
  return g_strcmp0 (vendor, "0x10de") == 0 || g_strcmp0 (vendor, "0x1002") == 0;
}

/* The faulty GPUs in a validated report: a passthrough GPU with no driver
 * bound (its driver is missing or failed to initialise), or an NVIDIA GPU
 * whose driver is bound while nvidia-smi fails. */
static GPtrArray *
report_faults (JsonObject *report)
{
  GPtrArray *faults = g_ptr_array_new_with_free_func (fault_free);
  JsonArray *pci = member_array (report, "pci_gpus");
  JsonObject *smi = member_object (report, "nvidia_smi");
  gboolean smi_failed = g_strcmp0 (member_string (smi, "status"), "failed") == 0;

  for (guint i = 0; pci != NULL && i < json_array_get_length (pci); i++)
    {
      JsonObject *dev = json_array_get_object_element (pci, i);
      const char *vendor = member_string (dev, "vendor");
      const char *driver = member_string (dev, "driver");
      Fault *fault;

      if (!is_passthrough_gpu_vendor (vendor))
        continue;
      if (driver != NULL && !(smi_failed && g_str_equal (vendor, "0x10de")))
        continue;
      fault = g_new0 (Fault, 1);
      fault->guest_address = g_strdup (member_string (dev, "address"));
      fault->vendor = g_strdup (vendor);
      fault->device = g_strdup (member_string (dev, "device"));
      fault->driver = g_strdup (driver);
      if (driver == NULL)
        fault->problem = g_strdup ("no driver bound: the driver is missing or failed to "
                                   "initialise");
      else
        fault->problem = g_strdup_printf ("driver %s bound but nvidia-smi failed: %s", driver,
                                          member_string (smi, "error") != NULL
                                            ? member_string (smi, "error")
                                            : "unknown error");
      g_ptr_array_add (faults, fault);
    }
  return faults;
}

static char *
faults_reason (GPtrArray *faults)
{
  Fault *f;

  if (faults == NULL || faults->len == 0)
    return NULL;
  f = g_ptr_array_index (faults, 0);
  return g_strdup_printf ("GPU %s (%s:%s): %s%s", f->guest_address,
                          f->vendor != NULL ? f->vendor + 2 : "?",
                          f->device != NULL && strlen (f->device) > 2 ? f->device + 2 : "?",
                          f->problem, faults->len > 1 ? " (and more)" : "");
}

/* ---- the tracker ------------------------------------------------------------- */

typedef struct _Record Record;

typedef struct {
  guint id;
  GvdAgentHealthFunc func;        /* one of the two */
  GvdAgentChangeFunc change_func;
  gpointer user_data;
} Watch;

struct _GvdAgentHub {
  GBytes *secret;
  gint64 timeout;         /* missed x interval, µs */
  guint interval;
  guint missed;
  GMainContext *context;  /* NULL: no timers */
  GHashTable *records;    /* name → Record */
  GArray *watches;        /* Watch */
  guint next_watch;
  GvdAgentAddressMapFunc map_func;
  gpointer map_data;
  gint64 request_period;  /* µs per report token of one instance */
  GvdRateLimit auth_failures;
};

struct _Record {
  GvdAgentHub *hub;
  char *name;
  char *uuid;
  GvdAgentHealth health;
  GvdAgentReason reason_code;
  char *reason;           /* detail for the view (may quote the report) */
  gint64 since;           /* monotonic µs of the last health change; 0: never */
  gint64 last_phone_home; /* 0: never */
  gint64 last_heartbeat;
  guint64 heartbeats;
  gint64 deadline;        /* 0: none */
  JsonObject *phone_home; /* validated reports */
  JsonObject *heartbeat;
  GPtrArray *faults;      /* Fault, from the latest report */
  char *guest_agent;
  GSource *timer;         /* dispatched at MIN (deadline, flush_at) */
  GvdRateLimit requests;  /* reports this instance may send */
  /* Health notifications: what watchers were last told, the changes since
   * (not told yet), and when the rate limit lets the next one through. */
  GvdRateLimit notify;
  GvdAgentHealth told_health;
  guint pending;
  gint64 flush_at;        /* 0: nothing held back */
};

static void
record_free (gpointer data)
{
  Record *r = data;

  if (r->timer != NULL)
    {
      g_source_destroy (r->timer);
      g_source_unref (r->timer);
    }
  g_free (r->name);
  g_free (r->uuid);
  g_free (r->reason);
  g_clear_pointer (&r->phone_home, json_object_unref);
  g_clear_pointer (&r->heartbeat, json_object_unref);
  g_clear_pointer (&r->faults, g_ptr_array_unref);
  g_free (r->guest_agent);
  g_free (r);
}

/* A source with no fd and no prepare/check: dispatched at its ready time. */
static gboolean
deadline_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs deadline_funcs = {
  NULL, NULL, deadline_dispatch, NULL, NULL, NULL,
};

static void hub_expire (GvdAgentHub *hub, Record *r, gint64 now);

static gboolean
deadline_cb (gpointer data)
{
  Record *r = data;

  hub_expire (r->hub, r, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

/* One timer serves both the heartbeat deadline and the held-back
 * notification: it fires at the earlier of the two. */
static void
record_arm_timer (Record *r)
{
  gint64 at = r->deadline;

  if (r->flush_at != 0 && (at == 0 || r->flush_at < at))
    at = r->flush_at;
  if (r->timer != NULL)
    g_source_set_ready_time (r->timer, at != 0 ? at : -1);
}

static void
record_set_deadline (Record *r, gint64 deadline)
{
  r->deadline = deadline;
  record_arm_timer (r);
}

/* Tell the watchers the current health of @r, folding in the changes held
 * back since the last time. @r may be freed by a watcher: do not touch it
 * after the call. */
static void
record_tell (Record *r)
{
  GvdAgentHub *hub = r->hub;
  GvdAgentHealthChange change = { r->told_health, r->health, r->reason_code, 0 };
  g_autofree char *name = NULL;
  g_autoptr(GArray) watches = NULL;

  g_return_if_fail (r->pending > 0);
  change.suppressed = r->pending - 1;
  r->told_health = r->health;
  r->pending = 0;
  r->flush_at = 0;
  record_arm_timer (r);

  /* Copies: a watcher may forget the instance or remove watches. */
  name = g_strdup (r->name);
  watches = g_array_copy (hub->watches);
  for (guint i = 0; i < watches->len; i++)
    {
      Watch *w = &g_array_index (watches, Watch, i);
      if (w->change_func != NULL)
        w->change_func (hub, name, &change, w->user_data);
      else
        w->func (hub, name, change.old_health, change.new_health,
                 gvd_agent_reason_to_string (change.reason), w->user_data);
    }
}

/* Change health and tell the watchers, at once when @forced (the host
 * made the change) or the instance's notification bucket allows, else
 * later (flush_at). A change of @detail alone is kept for the view and not
 * told. @r may be freed by a watcher: do not touch it after the call. */
static void
record_set_health (Record *r, GvdAgentHealth health, GvdAgentReason code, const char *detail,
                   gboolean forced, gint64 now)
{
  GvdAgentHealth old = r->health;
  gint64 wait = 0;

  if (old == health && r->reason_code == code)
    {
      if (g_strcmp0 (r->reason, detail) != 0)
        {
          g_free (r->reason);
          r->reason = g_strdup (detail);
        }
      return;
    }
  r->health = health;
  r->reason_code = code;
  g_free (r->reason);
  r->reason = g_strdup (detail);
  if (old != health)
    r->since = now;
  r->pending++;
  g_debug ("agent %s: %s -> %s", r->name, gvd_agent_health_to_string (old),
           gvd_agent_health_to_string (health));

  if (forced)
    gvd_rate_limit_force (&r->notify, now);
  else if (!gvd_rate_limit_take (&r->notify, now, &wait))
    {
      if (r->flush_at == 0)
        {
          r->flush_at = now + wait;
          record_arm_timer (r);
        }
      return;
    }
  record_tell (r);
}

/* The notification held back is due: tell it (it takes the token that has
 * refilled by now). */
static void
record_flush (Record *r, gint64 now)
{
  if (r->flush_at == 0 || now < r->flush_at)
    return;
  if (r->pending == 0)
    {
      r->flush_at = 0;
      record_arm_timer (r);
      return;
    }
  gvd_rate_limit_force (&r->notify, now);
  record_tell (r);
}

static void
hub_expire (GvdAgentHub *hub, Record *r, gint64 now)
{
  g_autofree char *reason = NULL;
  g_autofree char *name = g_strdup (r->name);

  /* A watcher told by the flush may forget the instance. */
  record_flush (r, now);
  r = g_hash_table_lookup (hub->records, name);
  if (r == NULL)
    return;
  if (r->deadline == 0 || now < r->deadline)
    {
      /* Nothing due yet (an early wake-up, or a flush not due): the timer
       * was disarmed on dispatch, arm it for what is left. */
      record_arm_timer (r);
      return;
    }
  record_set_deadline (r, 0);
  reason = g_strdup_printf ("no heartbeat for %u s (%u missed at a %u s interval)",
                            hub->missed * hub->interval, hub->missed, hub->interval);
  record_set_health (r, GVD_AGENT_HEALTH_UNRESPONSIVE, GVD_AGENT_REASON_HEARTBEAT_MISSED, reason,
                     TRUE, now);
}

GvdAgentHub *
gvd_agent_hub_new (GBytes *secret, guint interval_seconds, guint missed_heartbeats,
                   GMainContext *context)
{
  GvdAgentHub *hub;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (interval_seconds > 0 && missed_heartbeats > 0, NULL);

  hub = g_new0 (GvdAgentHub, 1);
  hub->secret = g_bytes_ref (secret);
  hub->interval = interval_seconds;
  hub->missed = missed_heartbeats;
  hub->timeout = (gint64) interval_seconds * missed_heartbeats * G_USEC_PER_SEC;
  hub->context = context != NULL ? g_main_context_ref (context) : NULL;
  hub->records = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, record_free);
  hub->watches = g_array_new (FALSE, FALSE, sizeof (Watch));
  hub->next_watch = 1;
  /* Half the heartbeat interval, at most 2 s: an agent on schedule never
   * comes near the limit, a flood gets one report in per period. */
  hub->request_period = MIN ((gint64) interval_seconds * G_USEC_PER_SEC / 2,
                             GVD_AGENT_REQUEST_PERIOD_MAX);
  hub->request_period = MAX (hub->request_period, 1);
  gvd_rate_limit_init (&hub->auth_failures, GVD_AGENT_AUTH_FAILURE_BURST,
                       GVD_AGENT_AUTH_FAILURE_PERIOD);
  return hub;
}

void
gvd_agent_hub_free (GvdAgentHub *hub)
{
  if (hub == NULL)
    return;
  g_hash_table_unref (hub->records);
  g_array_unref (hub->watches);
  if (hub->context != NULL)
    g_main_context_unref (hub->context);
  g_bytes_unref (hub->secret);
  g_free (hub);
}

guint
gvd_agent_hub_add_watch (GvdAgentHub *hub, GvdAgentHealthFunc func, gpointer user_data)
{
  Watch w = { 0, func, NULL, user_data };

  g_return_val_if_fail (func != NULL, 0);
  w.id = hub->next_watch++;
  g_array_append_val (hub->watches, w);
  return w.id;
}

guint
gvd_agent_hub_add_change_watch (GvdAgentHub *hub, GvdAgentChangeFunc func, gpointer user_data)
{
  Watch w = { 0, NULL, func, user_data };

  g_return_val_if_fail (func != NULL, 0);
  w.id = hub->next_watch++;
  g_array_append_val (hub->watches, w);
  return w.id;
}

void
gvd_agent_hub_remove_watch (GvdAgentHub *hub, guint id)
{
  for (guint i = 0; i < hub->watches->len; i++)
    {
      if (g_array_index (hub->watches, Watch, i).id == id)
        {
          g_array_remove_index (hub->watches, i);
          return;
        }
    }
}

void
gvd_agent_hub_set_address_map (GvdAgentHub *hub, GvdAgentAddressMapFunc func, gpointer user_data)
{
  hub->map_func = func;
  hub->map_data = user_data;
}

void
gvd_agent_hub_track (GvdAgentHub *hub, const char *name, const char *uuid)
{
  Record *r;

  g_return_if_fail (name != NULL && uuid != NULL);

  r = g_hash_table_lookup (hub->records, name);
  if (r != NULL && g_str_equal (r->uuid, uuid))
    return;
  r = g_new0 (Record, 1);
  r->hub = hub;
  r->name = g_strdup (name);
  r->uuid = g_strdup (uuid);
  r->health = GVD_AGENT_HEALTH_PROVISIONING;
  r->told_health = GVD_AGENT_HEALTH_PROVISIONING;
  gvd_rate_limit_init (&r->requests, GVD_AGENT_REQUEST_BURST, hub->request_period);
  gvd_rate_limit_init (&r->notify, GVD_AGENT_NOTIFY_BURST, GVD_AGENT_NOTIFY_PERIOD);
  if (hub->context != NULL)
    {
      r->timer = g_source_new (&deadline_funcs, sizeof (GSource));
      g_source_set_name (r->timer, "gpuvmd agent heartbeat deadline");
      g_source_set_callback (r->timer, deadline_cb, r, NULL);
      g_source_attach (r->timer, hub->context);
    }
  g_hash_table_replace (hub->records, r->name, r);
}

void
gvd_agent_hub_forget (GvdAgentHub *hub, const char *name)
{
  g_hash_table_remove (hub->records, name);
}

gboolean
gvd_agent_hub_is_tracked (GvdAgentHub *hub, const char *name)
{
  return g_hash_table_contains (hub->records, name);
}

void
gvd_agent_hub_set_running (GvdAgentHub *hub, const char *name, gboolean running, gint64 now)
{
  Record *r = g_hash_table_lookup (hub->records, name);

  if (r == NULL)
    return;
  if (!running)
    {
      record_set_deadline (r, 0);
      g_clear_pointer (&r->guest_agent, g_free);
      record_set_health (r, GVD_AGENT_HEALTH_STOPPED, GVD_AGENT_REASON_STOPPED,
                         "the domain is not running", TRUE, now);
    }
  else if (r->health == GVD_AGENT_HEALTH_STOPPED)
    record_set_health (r, GVD_AGENT_HEALTH_PROVISIONING, GVD_AGENT_REASON_STARTED, NULL, TRUE,
                       now);
}

char *
gvd_agent_hub_get_token (GvdAgentHub *hub, const char *name)
{
  Record *r = g_hash_table_lookup (hub->records, name);

  return r != NULL ? gvd_agent_token_derive (hub->secret, r->uuid) : NULL;
}

/* Stands in for the uuid of an unknown instance so that a wrong name costs
 * the same HMAC as a wrong token. */
#define DUMMY_UUID "00000000-0000-0000-0000-000000000000"

/* The record @name, if @token is its token. Unknown names and wrong tokens
 * take the same path and get the same error; past the listener's budget of
 * failures the answer is 429, which callers need not log. */
static Record *
authenticate (GvdAgentHub *hub, const char *name, const char *token, gint64 now,
              guint *out_retry_after, GError **error)
{
  Record *r = name != NULL ? g_hash_table_lookup (hub->records, name) : NULL;
  gboolean ok = gvd_agent_token_verify (hub->secret, r != NULL ? r->uuid : DUMMY_UUID, token);
  gint64 wait = 0;

  if (ok && r != NULL)
    return r;
  if (!gvd_rate_limit_take (&hub->auth_failures, now, &wait))
    {
      if (out_retry_after != NULL)
        *out_retry_after = gvd_rate_limit_retry_after (wait);
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_TOO_MANY_REQUESTS,
                           "too many failed authentications on this listener: retry later");
      return NULL;
    }
  g_set_error_literal (error, GVD_ERROR, GVD_ERROR_UNAUTHORIZED,
                       "the instance name or the bearer token is not valid");
  return NULL;
}

/* Take one of @r's report tokens. */
static gboolean
admit (Record *r, gint64 now, guint *out_retry_after, GError **error)
{
  gint64 wait = 0;

  if (gvd_rate_limit_take (&r->requests, now, &wait))
    return TRUE;
  if (out_retry_after != NULL)
    *out_retry_after = gvd_rate_limit_retry_after (wait);
  g_set_error (error, GVD_ERROR, GVD_ERROR_TOO_MANY_REQUESTS,
               "too many reports from this instance: at most %u at once, then one every %"
               G_GINT64_FORMAT " ms",
               GVD_AGENT_REQUEST_BURST, r->hub->request_period / 1000);
  return FALSE;
}

static JsonObject *
validate_for (GvdAgentReportKind kind, const char *name, JsonObject *body, GError **error)
{
  g_autoptr(JsonObject) clean = gvd_agent_report_validate (kind, body, error);

  if (clean == NULL)
    return NULL;
  if (g_strcmp0 (member_string (clean, "instance"), name) != 0)
    {
      g_set_error_literal (error, GVD_ERROR, GVD_ERROR_INVALID_ARGUMENT,
                           "instance: does not match the instance the request is for");
      return NULL;
    }
  return g_steal_pointer (&clean);
}

static gboolean
handle_phone_home (GvdAgentHub *hub, Record *r, JsonObject *clean, gint64 now)
{
  g_autofree char *reason = NULL;

  g_clear_pointer (&r->phone_home, json_object_unref);
  r->phone_home = clean;
  r->last_phone_home = now;
  g_clear_pointer (&r->faults, g_ptr_array_unref);
  r->faults = report_faults (clean);
  /* A new boot: the previous boot's probe result no longer applies. */
  g_clear_pointer (&r->guest_agent, g_free);
  /* libvirt says whether the domain runs; a late report does not revive it. */
  if (r->health == GVD_AGENT_HEALTH_STOPPED)
    return TRUE;
  record_set_deadline (r, now + hub->timeout);
  reason = faults_reason (r->faults);
  record_set_health (r, GVD_AGENT_HEALTH_READY,
                     reason != NULL ? GVD_AGENT_REASON_GPU_FAULT : GVD_AGENT_REASON_PHONE_HOME,
                     reason, FALSE, now);
  return TRUE;
}

static gboolean
handle_heartbeat (GvdAgentHub *hub, Record *r, JsonObject *clean, gint64 now)
{
  g_autofree char *reason = NULL;

  g_clear_pointer (&r->heartbeat, json_object_unref);
  r->heartbeat = clean;
  r->last_heartbeat = now;
  r->heartbeats++;
  g_clear_pointer (&r->faults, g_ptr_array_unref);
  r->faults = report_faults (clean);
  if (r->health == GVD_AGENT_HEALTH_STOPPED)
    return TRUE;
  if (r->health == GVD_AGENT_HEALTH_UNRESPONSIVE)
    g_clear_pointer (&r->guest_agent, g_free);
  record_set_deadline (r, now + hub->timeout);
  /* A heartbeat without phone-home (gpuvmd restarted under a running
   * agent) is still proof of life. */
  reason = faults_reason (r->faults);
  if (reason != NULL)
    record_set_health (r, GVD_AGENT_HEALTH_DEGRADED, GVD_AGENT_REASON_GPU_FAULT, reason, FALSE,
                       now);
  else
    record_set_health (r, GVD_AGENT_HEALTH_HEALTHY, GVD_AGENT_REASON_HEARTBEAT, NULL, FALSE, now);
  return TRUE;
}

gboolean
gvd_agent_hub_handle_report (GvdAgentHub *hub, GvdAgentReportKind kind, const char *name,
                             const char *token, JsonObject *body, gint64 now,
                             guint *out_retry_after, GError **error)
{
  Record *r = authenticate (hub, name, token, now, out_retry_after, error);
  JsonObject *clean;

  if (r == NULL)
    return FALSE;
  /* After authentication: one instance's flood cannot spend another's
   * budget. Refused reports spend it too. */
  if (!admit (r, now, out_retry_after, error))
    return FALSE;
  clean = validate_for (kind, name, body, error);
  if (clean == NULL)
    return FALSE;
  if (kind == GVD_AGENT_REPORT_HEARTBEAT)
    return handle_heartbeat (hub, r, clean, now);
  return handle_phone_home (hub, r, clean, now);
}

gboolean
gvd_agent_hub_handle_phone_home (GvdAgentHub *hub, const char *name, const char *token,
                                 JsonObject *body, gint64 now, GError **error)
{
  return gvd_agent_hub_handle_report (hub, GVD_AGENT_REPORT_PHONE_HOME, name, token, body, now,
                                      NULL, error);
}

gboolean
gvd_agent_hub_handle_heartbeat (GvdAgentHub *hub, const char *name, const char *token,
                                JsonObject *body, gint64 now, GError **error)
{
  return gvd_agent_hub_handle_report (hub, GVD_AGENT_REPORT_HEARTBEAT, name, token, body, now,
                                      NULL, error);
}

void
gvd_agent_hub_tick (GvdAgentHub *hub, gint64 now)
{
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  Record *r;

  /* Collect first: watchers may change the table. */
  g_hash_table_iter_init (&iter, hub->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &r))
    {
      if ((r->deadline != 0 && r->deadline <= now) || (r->flush_at != 0 && r->flush_at <= now))
        g_ptr_array_add (due, g_strdup (r->name));
    }
  for (guint i = 0; i < due->len; i++)
    {
      r = g_hash_table_lookup (hub->records, g_ptr_array_index (due, i));
      if (r != NULL)
        hub_expire (hub, r, now);
    }
}

GvdAgentHealth
gvd_agent_hub_get_health (GvdAgentHub *hub, const char *name)
{
  Record *r = g_hash_table_lookup (hub->records, name);

  return r != NULL ? r->health : GVD_AGENT_HEALTH_PROVISIONING;
}

gint64
gvd_agent_hub_get_deadline (GvdAgentHub *hub, const char *name)
{
  Record *r = g_hash_table_lookup (hub->records, name);

  return r != NULL ? r->deadline : 0;
}

void
gvd_agent_hub_set_guest_agent (GvdAgentHub *hub, const char *name, const char *state)
{
  Record *r = g_hash_table_lookup (hub->records, name);

  if (r == NULL)
    return;
  g_free (r->guest_agent);
  r->guest_agent = g_strdup (state);
}

/* ---- the view ------------------------------------------------------------------ */

static void
add_time (JsonBuilder *b, const char *member, gint64 t, gint64 now_mono, gint64 now_real)
{
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *s = NULL;

  json_builder_set_member_name (b, member);
  if (t == 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  dt = g_date_time_new_from_unix_utc ((now_real - (now_mono - t)) / G_USEC_PER_SEC);
  s = dt != NULL ? g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;
  if (s != NULL)
    json_builder_add_string_value (b, s);
  else
    json_builder_add_null_value (b);
}

static void
add_member_copy (JsonBuilder *b, const char *member, JsonObject *from, gboolean array)
{
  JsonNode *node = from != NULL ? json_object_get_member (from, member) : NULL;

  json_builder_set_member_name (b, member);
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    json_builder_add_value (b, json_node_copy (node));
  else if (array)
    {
      json_builder_begin_array (b);
      json_builder_end_array (b);
    }
  else
    json_builder_add_null_value (b);
}

gboolean
gvd_agent_hub_build_json (GvdAgentHub *hub, const char *name, JsonBuilder *b, gint64 now_mono,
                          gint64 now_real)
{
  Record *r = g_hash_table_lookup (hub->records, name);
  JsonObject *latest;

  if (r == NULL)
    return FALSE;
  latest = r->heartbeat != NULL && r->last_heartbeat >= r->last_phone_home ? r->heartbeat
                                                                             : r->phone_home;

  json_builder_begin_object (b);
  gvd_json_add_string (b, "health", gvd_agent_health_to_string (r->health));
  gvd_json_add_string (b, "reason", r->reason);
  add_time (b, "since", r->since, now_mono, now_real);
  add_time (b, "last_phone_home", r->last_phone_home, now_mono, now_real);
  add_time (b, "last_heartbeat", r->last_heartbeat, now_mono, now_real);
  json_builder_set_member_name (b, "heartbeats");
  json_builder_add_int_value (b, (gint64) MIN (r->heartbeats, (guint64) G_MAXINT64));
  json_builder_set_member_name (b, "heartbeat_interval");
  json_builder_add_int_value (b, hub->interval);
  gvd_json_add_string (b, "boot_id", member_string (latest, "boot_id"));
  gvd_json_add_string (b, "agent_version", member_string (r->phone_home, "agent_version"));
  gvd_json_add_string (b, "kernel", member_string (r->phone_home, "kernel"));
  gvd_json_add_string (b, "hostname", member_string (r->phone_home, "hostname"));
  add_member_copy (b, "addresses", latest, TRUE);
  add_member_copy (b, "cloud_init", latest, FALSE);
  add_member_copy (b, "nvidia_smi", latest, FALSE);
  add_member_copy (b, "gpus", latest, TRUE);
  add_member_copy (b, "pci_gpus", latest, TRUE);
  add_member_copy (b, "system", r->heartbeat, FALSE);

  json_builder_set_member_name (b, "gpu_faults");
  json_builder_begin_array (b);
  for (guint i = 0; r->faults != NULL && i < r->faults->len; i++)
    {
      Fault *f = g_ptr_array_index (r->faults, i);
      g_autofree char *host = NULL;

      if (hub->map_func != NULL && f->guest_address != NULL)
        host = hub->map_func (r->name, f->guest_address, hub->map_data);
      json_builder_begin_object (b);
      gvd_json_add_string (b, "guest_address", f->guest_address);
      gvd_json_add_string (b, "host_address", host);
      gvd_json_add_string (b, "vendor", f->vendor);
      gvd_json_add_string (b, "device", f->device);
      gvd_json_add_string (b, "driver", f->driver);
      gvd_json_add_string (b, "problem", f->problem);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  gvd_json_add_string (b, "guest_agent", r->guest_agent);
  json_builder_end_object (b);
  return TRUE;
}
