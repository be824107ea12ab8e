/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the agent-*.c files share: the hub's tables, report accessors and
 * GPU faults. Not for use outside src/core/agent-*.c. */
#pragma once

#include "agent.h"
#include "rate-limit.h"

G_BEGIN_DECLS

/* ---- reports (agent-report.c) ------------------------------------------------ */

/* Members of a validated report; NULL when absent, null or of another type
 * (also for a NULL @obj). Borrowed. */
const char *gvd_agent_member_string (JsonObject *obj, const char *name);
JsonObject *gvd_agent_member_object (JsonObject *obj, const char *name);
JsonArray *gvd_agent_member_array (JsonObject *obj, const char *name);

/* ---- GPU faults (agent-faults.c) --------------------------------------------- */

/* One faulty GPU of a report. */
typedef struct {
  char *guest_address;
  char *vendor;
  char *device;
  char *driver;
  char *problem;
} GvdAgentFault;

void gvd_agent_fault_free (gpointer fault);
/* The faulty GPUs (GvdAgentFault) in a validated report; never NULL. */
GPtrArray *gvd_agent_report_faults (JsonObject *report);
/* One line naming the first fault ("and more" when there are others), or
 * NULL for none. */
char *gvd_agent_faults_reason (GPtrArray *faults);

/* ---- the hub (agent-hub.c, agent-health.c) ----------------------------------- */

typedef struct _GvdAgentRecord GvdAgentRecord;

typedef struct {
  guint id;
  GvdAgentHealthFunc func;        /* one of the two */
  GvdAgentChangeFunc change_func;
  gpointer user_data;
} GvdAgentWatch;

struct _GvdAgentHub {
  GBytes *secret;
  gint64 timeout;         /* missed x interval, µs */
  guint interval;
  guint missed;
  GvdWakeupFunc wakeup_func; /* NULL: nobody runs the hub's timer */
  gpointer wakeup_data;
  GDestroyNotify wakeup_destroy;
  GHashTable *records;    /* name → GvdAgentRecord */
  GArray *watches;        /* GvdAgentWatch */
  guint next_watch;
  GvdAgentAddressMapFunc map_func;
  gpointer map_data;
  gint64 request_period;  /* µs per report token of one instance */
  GvdRateLimit auth_failures;
};

struct _GvdAgentRecord {
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
  GPtrArray *faults;      /* GvdAgentFault, from the latest report */
  char *guest_agent;
  GvdRateLimit requests;  /* reports this instance may send */
  /* Health notifications: what watchers were last told, the changes since
   * (not told yet), and when the rate limit lets the next one through. */
  GvdRateLimit notify;
  GvdAgentHealth told_health;
  guint pending;
  gint64 flush_at;        /* 0: nothing held back */
};

void gvd_agent_record_free (gpointer record);
/* Set @r's heartbeat deadline (monotonic µs; 0: none). */
void gvd_agent_record_set_deadline (GvdAgentRecord *r, gint64 deadline);
/* Change health and tell the watchers (see agent-health.c). @r may be
 * freed by a watcher: do not touch it after the call. */
void gvd_agent_record_set_health (GvdAgentRecord *r, GvdAgentHealth health, GvdAgentReason code,
                                  const char *detail, gboolean forced, gint64 now);

G_END_DECLS
