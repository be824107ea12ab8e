/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What api-image-download.c (one transfer) and api-image-downloads.c (the
 * set of them) share. Main thread unless marked. */
#pragma once

#include "api-image-download.h"
#include "storage.h"

G_BEGIN_DECLS

#define MAX_IN_FLIGHT 16 /* chunks of 256 KiB: 4 MiB queued at most */

struct _GvdImageDownloads {
  GvdDaemon *daemon;
  GHashTable *running; /* name → Download (a reference) */
};

typedef enum { ITEM_DATA, ITEM_FINISH, ITEM_ABORT } ItemKind;

typedef struct {
  ItemKind kind;
  GBytes *bytes;
  const char *format; /* FINISH: static string */
} Item;

typedef struct {
  gatomicrefcount ref;
  /* Main thread. */
  GvdImageDownloads *owner; /* NULL once the daemon tears down */
  GvdImageUrlRequest *req;
  char *display_url;        /* without the query */
  char *current_url;        /* after redirects */
  guint redirects;
  SoupServerMessage *msg;
  GPtrArray *waiters;       /* DELETEs: SoupServerMessage */
  SoupSession *session;
  SoupMessage *message;
  GInputStream *body;
  GCancellable *cancellable;
  GChecksum *checksum;      /* the worker's once it runs */
  guint64 total;
  guint64 done;
  guint8 head[4];
  gsize head_len;
  gboolean reading;
  gboolean ended;           /* FINISH or ABORT queued (or nothing to queue) */
  gboolean completed;
  gboolean cancelled;       /* by DELETE */
  GError *error;            /* the first failure seen on the main thread */
  gint64 last_event_us;
  guint64 last_event_bytes;
  guint stall_timeout;
  guint64 max_bytes;
  GMainContext *context;
  /* Shared. */
  GAsyncQueue *queue;
  gint in_flight;           /* atomic */
  gint paused;              /* atomic: the main loop waits for room */
  GThread *thread;
  /* Set before the thread starts, read-only after. */
  virConnectPtr conn;
  GvdStorage *storage;
  char *pool_name;
  char *pool_path;
  char *prefix;
} Download;

Download *gvd_image_download_ref (Download *dl);
void gvd_image_download_unref (Download *dl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Download, gvd_image_download_unref)
/* Queue an item for the worker (any thread). */
void gvd_image_download_push (Download *dl, ItemKind kind, GBytes *bytes, const char *format);
/* Send the GET for dl->current_url. */
void gvd_image_download_send (Download *dl);
/* DELETE: stop; the POST answers 409 conflict. */
void gvd_image_download_cancel (Download *dl);

G_END_DECLS
