/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest agent receiver core: per-instance tokens, report validation, and
 * the health tracker (state machine on an injected monotonic clock). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "clock.h"

G_BEGIN_DECLS

/* Bounds every agent report is held to (see README "Guest agent protocol"). */
#define GVD_AGENT_MAX_ITEMS 64        /* gpus, pci_gpus, addresses */
#define GVD_AGENT_MAX_ERRORS 16       /* cloud_init.errors */
#define GVD_AGENT_MAX_STRING 256      /* most strings, in bytes */
#define GVD_AGENT_MAX_MESSAGE 512     /* error messages, in bytes */
#define GVD_AGENT_TOKEN_LEN 64        /* lowercase hex of HMAC-SHA256 */
#define GVD_AGENT_MAX_BODY (64 * 1024) /* request body bytes, whatever max_body_bytes says */

/* What gvd_instance_name_valid() accepts, for error messages. */
#define GVD_AGENT_NAME_RULE \
  "must be an instance name: " GVD_INSTANCE_NAME_RULE

/* Reports one instance's agent may send: a burst, then one per period
 * (half the heartbeat interval, at most 2 s); more is 429 with Retry-After. */
#define GVD_AGENT_REQUEST_BURST 10
#define GVD_AGENT_REQUEST_PERIOD_MAX (2 * G_USEC_PER_SEC)
/* Failed authentications the whole listener answers with 401 (and logs);
 * beyond them 429 with Retry-After and no log line. */
#define GVD_AGENT_AUTH_FAILURE_BURST 20
#define GVD_AGENT_AUTH_FAILURE_PERIOD G_USEC_PER_SEC
/* Health notifications (events, log lines) caused by one instance's
 * reports: a burst (a boot's ready -> healthy, a reboot or a recovery's
 * ready -> healthy again), then at most one per period; changes in between
 * are folded into the next one ("suppressed": N). */
#define GVD_AGENT_NOTIFY_BURST 5
#define GVD_AGENT_NOTIFY_PERIOD (30 * G_USEC_PER_SEC)

typedef enum {
  GVD_AGENT_HEALTH_PROVISIONING = 0, /* defined/started, no phone-home yet */
  GVD_AGENT_HEALTH_READY,            /* phoned home, no heartbeat yet */
  GVD_AGENT_HEALTH_HEALTHY,          /* heartbeats arrive */
  GVD_AGENT_HEALTH_DEGRADED,         /* heartbeats arrive, a GPU is faulty */
  GVD_AGENT_HEALTH_UNRESPONSIVE,     /* missed_heartbeats x interval without one */
  GVD_AGENT_HEALTH_STOPPED,          /* the domain is not running */
} GvdAgentHealth;

const char *gvd_agent_health_to_string (GvdAgentHealth health);

/* Why the health changed: a fixed vocabulary, the only reason events and
 * log lines carry (guest text stays in the stored report). */
typedef enum {
  GVD_AGENT_REASON_NONE = 0,
  GVD_AGENT_REASON_PHONE_HOME,       /* ready */
  GVD_AGENT_REASON_HEARTBEAT,        /* healthy */
  GVD_AGENT_REASON_GPU_FAULT,        /* degraded, or ready with a faulty GPU */
  GVD_AGENT_REASON_HEARTBEAT_MISSED, /* unresponsive */
  GVD_AGENT_REASON_STOPPED,          /* the domain is not running */
  GVD_AGENT_REASON_STARTED,          /* running again: provisioning */
} GvdAgentReason;

/* "phone_home", "heartbeat", "gpu_fault", ...; NULL for NONE. */
const char *gvd_agent_reason_to_string (GvdAgentReason reason);

/* ---- tokens ---------------------------------------------------------------- */

/* HMAC-SHA256 (@secret, @uuid) as 64 lowercase hex characters. */
char *gvd_agent_token_derive (GBytes *secret, const char *uuid);

/* Whether @token is the token of @uuid; constant time in the token. */
gboolean gvd_agent_token_verify (GBytes *secret, const char *uuid, const char *token);

/* ---- reports ----------------------------------------------------------------- */

typedef enum {
  GVD_AGENT_REPORT_PHONE_HOME,
  GVD_AGENT_REPORT_HEARTBEAT,
} GvdAgentReportKind;

/* Check @body against the schema of @kind and return a clean copy holding
 * only known members (unknown ones are dropped). Wrong types, out-of-range
 * numbers, over-long strings and arrays are GVD_ERROR_INVALID_ARGUMENT
 * naming the member ("gpus[1].memory_used_mib: ..."). */
JsonObject *gvd_agent_report_validate (GvdAgentReportKind kind, JsonObject *body,
                                       GError **error);

/* ---- the tracker ------------------------------------------------------------ */

typedef struct _GvdAgentHub GvdAgentHub;

/* One health notification. @old_health is what watchers were last told
 * (the previous notification), @new_health the current health. */
typedef struct {
  GvdAgentHealth old_health;
  GvdAgentHealth new_health;
  GvdAgentReason reason;
  guint suppressed; /* changes since the previous notification not told on their own */
} GvdAgentHealthChange;

/* Called on health notifications (in the thread that made the change).
 * Changes the host makes (stopped, started, heartbeat_missed) are told at
 * once; those an instance's reports cause are rate-limited per instance
 * (GVD_AGENT_NOTIFY_*): a change over the limit is folded into the next
 * notification, which comes at the latest when the limit allows. A change
 * of the detail text alone (same health, same reason) is never told. */
typedef void (*GvdAgentChangeFunc) (GvdAgentHub *hub, const char *name,
                                    const GvdAgentHealthChange *change, gpointer user_data);
/* The same without the count; @reason is gvd_agent_reason_to_string(). */
typedef void (*GvdAgentHealthFunc) (GvdAgentHub *hub, const char *name, GvdAgentHealth old_health,
                                    GvdAgentHealth new_health, const char *reason,
                                    gpointer user_data);

/* Map a guest PCI address to the host address passed through there (e.g.
 * from the instance's plan); NULL when unknown. Returns a new string. */
typedef char *(*GvdAgentAddressMapFunc) (const char *name, const char *guest_address,
                                         gpointer user_data);

/* Not thread-safe: use a hub from one thread.
 * @secret: the daemon secret tokens derive from (referenced).
 * The hub runs no timers: whoever owns it calls gvd_agent_hub_tick() when
 * gvd_agent_hub_set_wakeup() asks (the daemon's timer shell does, tests
 * call it with their clock). */
GvdAgentHub *gvd_agent_hub_new (GBytes *secret, guint interval_seconds, guint missed_heartbeats);
void gvd_agent_hub_free (GvdAgentHub *hub);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GvdAgentHub, gvd_agent_hub_free)

/* @func is called whenever an instance's next due time (its heartbeat
 * deadline, or a notification held back by the rate limit) is set: call
 * gvd_agent_hub_tick() at that time. One at a time: a new call replaces
 * (and destroys) the previous one; @destroy frees @user_data when replaced
 * or when the hub is freed. */
void gvd_agent_hub_set_wakeup (GvdAgentHub *hub, GvdWakeupFunc func, gpointer user_data,
                               GDestroyNotify destroy);
/* The earliest time anything is due (monotonic µs), or 0 for nothing. */
gint64 gvd_agent_hub_next_wakeup (GvdAgentHub *hub);

/* Observe health changes; returns an id for remove_watch (never 0). */
guint gvd_agent_hub_add_watch (GvdAgentHub *hub, GvdAgentHealthFunc func, gpointer user_data);
guint gvd_agent_hub_add_change_watch (GvdAgentHub *hub, GvdAgentChangeFunc func,
                                      gpointer user_data);
void gvd_agent_hub_remove_watch (GvdAgentHub *hub, guint id);

void gvd_agent_hub_set_address_map (GvdAgentHub *hub, GvdAgentAddressMapFunc func,
                                    gpointer user_data);

/* The latest validated report of @name (heartbeat or phone-home, new
 * reference) and the monotonic time of its last heartbeat (0: none); NULL
 * when untracked or nothing arrived yet. */
JsonObject *gvd_agent_hub_get_latest (GvdAgentHub *hub, const char *name,
                                      gint64 *out_last_heartbeat);
/* The host PCI address behind @guest_address in @name, through the address
 * map; NULL when unknown or no map is set. */
char *gvd_agent_hub_map_address (GvdAgentHub *hub, const char *name, const char *guest_address);

/* Start tracking instance @name (state provisioning). Tracking a known name
 * again with the same uuid does nothing; with another uuid it starts over. */
void gvd_agent_hub_track (GvdAgentHub *hub, const char *name, const char *uuid);
/* Stop tracking (the instance was deleted); nothing of it is due after. */
void gvd_agent_hub_forget (GvdAgentHub *hub, const char *name);
gboolean gvd_agent_hub_is_tracked (GvdAgentHub *hub, const char *name);
/* The domain stopped (stopped) or started again (provisioning: waiting for
 * the new boot's phone-home). @now: monotonic microseconds. */
void gvd_agent_hub_set_running (GvdAgentHub *hub, const char *name, gboolean running, gint64 now);

/* The token the agent of @name must present (for its cloud-init config);
 * NULL when @name is not tracked. */
char *gvd_agent_hub_get_token (GvdAgentHub *hub, const char *name);

/* Accept a report from the agent of @name presenting @token. Errors:
 * GVD_ERROR_UNAUTHORIZED (no such instance or wrong token: one error, the
 * same message and the same work for both), GVD_ERROR_TOO_MANY_REQUESTS
 * (this instance's bucket is empty, or too many failed authentications;
 * @out_retry_after then holds whole seconds), GVD_ERROR_INVALID_ARGUMENT
 * (payload). @now: monotonic microseconds. */
gboolean gvd_agent_hub_handle_report (GvdAgentHub *hub, GvdAgentReportKind kind, const char *name,
                                      const char *token, JsonObject *body, gint64 now,
                                      guint *out_retry_after, GError **error);
/* gvd_agent_hub_handle_report() without the Retry-After value. */
gboolean gvd_agent_hub_handle_phone_home (GvdAgentHub *hub, const char *name, const char *token,
                                          JsonObject *body, gint64 now, GError **error);
gboolean gvd_agent_hub_handle_heartbeat (GvdAgentHub *hub, const char *name, const char *token,
                                         JsonObject *body, gint64 now, GError **error);

/* Mark every instance whose heartbeat deadline is at or before @now
 * unresponsive, and send the health notifications held back by the rate
 * limit that are due. The timer shell calls this at the wake-up times;
 * tests call it with their clock. */
void gvd_agent_hub_tick (GvdAgentHub *hub, gint64 now);

/* Current health; provisioning for an unknown name. */
GvdAgentHealth gvd_agent_hub_get_health (GvdAgentHub *hub, const char *name);
/* When @name turns unresponsive without a heartbeat (monotonic µs), or 0
 * when no deadline runs (provisioning, stopped, unresponsive). */
gint64 gvd_agent_hub_get_deadline (GvdAgentHub *hub, const char *name);

/* Record the qemu-guest-agent probe result ("responsive", "unresponsive",
 * "unavailable") shown as guest_agent in the view; NULL clears it. */
void gvd_agent_hub_set_guest_agent (GvdAgentHub *hub, const char *name, const char *state);

/* Add the agent view of @name as one JSON object value to @builder; FALSE
 * (nothing added) when @name is untracked. Times are printed as ISO 8601
 * UTC: @now_mono and @now_real (g_get_monotonic_time, g_get_real_time)
 * anchor the monotonic times the hub keeps. */
gboolean gvd_agent_hub_build_json (GvdAgentHub *hub, const char *name, JsonBuilder *builder,
                               gint64 now_mono, gint64 now_real);

G_END_DECLS
