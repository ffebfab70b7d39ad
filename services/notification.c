/*
 * notification.c: the notification service's logic (port 5004).
 *
 * Routes: POST /send, GET /history, GET /status/<id> (plus the shell's built-ins).
 *
 * Memory is bounded: notifications live in a ring of NOTIFICATION_HISTORY entries (default 1000); the
 * oldest is overwritten and forgotten (its /status answers 404 afterwards). Notifications are a best-effort
 * record of what was sent and are not journaled.
 *
 * One owner per notification: an id "ntf-<k>-..." is owned by replica k, other ids by hash. A /send that
 * carries a notification_id is idempotent: the owner stores it once and answers repeats with the stored
 * record (200 instead of 201). /history merges the last 50 of every replica.
 *
 * Ownership: the notification_state owns the ring, the messages in it, and pending operation contexts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "services/core/ids.h"
#include "services/core/shell.h"
#include "services/core/table.h"
#include "services/core/text.h"
#include "services/modules.h"

#define MESSAGE_MAX 2000
#define TYPE_MAX 32
#define RECIPIENT_MAX 128
#define HISTORY_VIEW 50

typedef struct notice {
    char id[SVC_ID_MAX + 8];
    char type[TYPE_MAX + 1];
    char recipient[RECIPIENT_MAX + 1];
    char *message;
    int64_t created_ms;
    uint64_t seq; /* 0 = empty slot */
} notice;

typedef struct notification_state {
    svc_shell *shell;
    const svc_config *cfg;
    notice *ring;
    size_t capacity;
    uint64_t total; /* notifications ever stored here; also the next seq */
    svc_table index;
} notification_state;

static int owner_of(notification_state *st, const char *id) {
    return svc_owner_of_id(id, "ntf", st->cfg->replicas[SVC_NOTIFICATION]);
}

/* A notice as its answers show it. Written directly (jsonw.h): /send is on every chain. */
static void notice_write(svc_jw *w, const notice *n) {
    svc_jw_begin_object(w);
    svc_jw_key(w, "id");
    svc_jw_string(w, n->id);
    svc_jw_key(w, "status");
    svc_jw_string(w, "sent");
    svc_jw_key(w, "type");
    svc_jw_string(w, n->type);
    svc_jw_key(w, "recipient");
    svc_jw_string(w, n->recipient);
    svc_jw_key(w, "message");
    svc_jw_string(w, n->message);
    svc_jw_key(w, "created_at_ms");
    svc_jw_int(w, n->created_ms);
    svc_jw_end_object(w);
}

static void reply_notice(svc_exchange *ex, int status, const notice *n) {
    svc_jw w;
    svc_jw_init(&w);
    notice_write(&w, n);
    svc_ex_reply_jw(ex, status, &w);
}

/* The same notice as a tree, for /history (one field list: read back from the writer's text). */
static json_t *notice_json(const notice *n) {
    svc_jw w;
    svc_jw_init(&w);
    notice_write(&w, n);
    return svc_jw_take_tree(&w);
}

static notice *store(notification_state *st, const char *id, const char *type, const char *recipient,
                     const char *message) {
    notice *n = &st->ring[st->total % st->capacity];
    if (n->seq) {
        svc_table_remove(&st->index, n->id);
        free(n->message);
    }
    memset(n, 0, sizeof *n);
    n->message = strdup(message);
    if (!n->message) abort();
    svc_copy(n->id, sizeof n->id, id);
    svc_copy(n->type, sizeof n->type, type);
    svc_copy(n->recipient, sizeof n->recipient, recipient);
    n->created_ms = svc_unix_ms(st->shell);
    n->seq = ++st->total;
    if (svc_table_put(&st->index, n->id, n) < 0) abort();
    return n;
}

/* Reads an optional string field with a length limit; answers 400 and returns -1 when it is wrong. */
static int optional_string(svc_exchange *ex, const char *key, size_t max, int required, const char **out) {
    json_t *v = json_object_get(svc_ex_body(ex), key);
    if (!v) {
        if (required) {
            svc_ex_error(ex, 400, "invalid_field", "%s is required", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) > max || (required && json_string_length(v) == 0) ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        svc_ex_error(ex, 400, "invalid_field", "%s must be a string of %s%zu characters", key,
                     required ? "1 to " : "at most ", max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static void route_send(void *state, svc_exchange *ex) {
    notification_state *st = state;
    const char *message = NULL, *type = "info", *recipient = "default", *id = NULL;
    if (optional_string(ex, "message", MESSAGE_MAX, 1, &message) < 0 ||
        optional_string(ex, "type", TYPE_MAX, 0, &type) < 0 ||
        optional_string(ex, "recipient", RECIPIENT_MAX, 0, &recipient) < 0 ||
        optional_string(ex, "notification_id", SVC_ID_MAX, 0, &id) < 0)
        return;
    if (id && !svc_id_acceptable(id)) {
        svc_ex_error(ex, 400, "invalid_field", "notification_id must be 1..%d of [A-Za-z0-9._:-]", SVC_ID_MAX);
        return;
    }
    char fresh[SVC_ID_MAX + 8];
    if (!id) {
        svc_new_id(st->shell, fresh, sizeof fresh, "ntf", st->cfg->replica, 0);
        id = fresh;
    } else if (svc_ex_redirect_to_owner(ex, owner_of(st, id))) {
        return;
    }
    notice *existing = svc_table_get(&st->index, id);
    if (existing && st->cfg->idempotency) {
        reply_notice(ex, 200, existing);
        return;
    }
    char derived[SVC_ID_MAX + 8];
    if (existing) { /* idempotency off (demonstration): a repeat is stored again */
        snprintf(derived, sizeof derived, "%.*s~%llu", SVC_ID_MAX, id, (unsigned long long)st->total + 1);
        id = derived;
    }
    notice *n = store(st, id, type, recipient, message);
    reply_notice(ex, 201, n);
}

static void route_status(void *state, svc_exchange *ex) {
    notification_state *st = state;
    const char *id = svc_ex_param(ex);
    if (!svc_id_acceptable(id)) {
        svc_ex_error(ex, 404, "not_found", "no notification with id %.64s", id);
        return;
    }
    if (svc_ex_redirect_to_owner(ex, owner_of(st, id))) return;
    notice *n = svc_table_get(&st->index, id);
    if (!n) {
        svc_ex_error(ex, 404, "not_found", "no notification with id %.64s (unknown, or older than the last %zu)", id,
                     st->capacity);
        return;
    }
    reply_notice(ex, 200, n);
}

/* The newest `limit` notices of this replica, newest first. */
static json_t *local_history(notification_state *st, size_t limit) {
    json_t *arr = json_array();
    uint64_t have = st->total < st->capacity ? st->total : st->capacity;
    for (uint64_t k = 0; k < have && k < limit; k++) {
        const notice *n = &st->ring[(st->total - 1 - k) % st->capacity];
        json_array_append_new(arr, notice_json(n));
    }
    return arr;
}

/* A notice in the merge and its position in the concatenated lists (local first, then replica order). */
typedef struct ranked {
    json_t *item;
    size_t pos;
} ranked;

/* Newest first. Many notices share a millisecond, so ties keep their position: each replica's list is
 * already newest first, and the position makes the merge deterministic. */
static int newer_first(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    json_int_t tx = json_integer_value(json_object_get(x->item, "created_at_ms"));
    json_int_t ty = json_integer_value(json_object_get(y->item, "created_at_ms"));
    if (tx != ty) return tx > ty ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void history_gathered(void *state, svc_exchange *ex, const svc_call_result *results, int count) {
    notification_state *st = state;
    json_t *all = local_history(st, HISTORY_VIEW);
    json_int_t total = (json_int_t)st->total;
    json_t *unavailable = json_array();
    for (int i = 0; i < count; i++) {
        if (i == st->cfg->replica) continue;
        const svc_call_result *r = &results[i];
        json_t *doc = svc_result_json(r);
        json_t *list = json_object_get(doc, "notifications");
        if (!json_is_array(list)) {
            json_array_append_new(unavailable, json_integer(i));
        } else {
            json_array_extend(all, list);
            total += json_integer_value(json_object_get(doc, "total_count"));
        }
        json_decref(doc);
    }
    size_t n = json_array_size(all);
    ranked *items = calloc(n ? n : 1, sizeof *items);
    if (!items) abort();
    for (size_t i = 0; i < n; i++) items[i] = (ranked){json_array_get(all, i), i};
    qsort(items, n, sizeof *items, newer_first);
    json_t *merged = json_array();
    for (size_t i = 0; i < n && i < HISTORY_VIEW; i++) json_array_append(merged, items[i].item);
    free(items);
    json_decref(all);
    svc_ex_reply(ex, 200,
                 json_pack("{s:o, s:I, s:I, s:b, s:o}", "notifications", merged, "count",
                           (json_int_t)json_array_size(merged), "total_count", total, "complete",
                           json_array_size(unavailable) == 0, "unavailable_replicas", unavailable));
}

static void route_history(void *state, svc_exchange *ex) {
    notification_state *st = state;
    if (svc_ex_wants_local_only(ex)) {
        json_t *list = local_history(st, HISTORY_VIEW);
        svc_ex_reply(ex, 200,
                     json_pack("{s:o, s:I, s:I, s:i}", "notifications", list, "count",
                               (json_int_t)json_array_size(list), "total_count", (json_int_t)st->total, "replica",
                               st->cfg->replica));
        return;
    }
    svc_ex_gather(ex, "/history?scope=local", history_gathered);
}

static void *notification_create(svc_shell *shell, const svc_config *cfg, char *err, size_t errlen) {
    notification_state *st = calloc(1, sizeof *st);
    if (!st) goto oom;
    st->shell = shell;
    st->cfg = cfg;
    st->capacity = cfg->history_capacity;
    st->ring = calloc(st->capacity, sizeof *st->ring);
    if (!st->ring || svc_table_init(&st->index, st->capacity * 2) < 0) goto oom;
    return st;
oom:
    if (st) free(st->ring);
    free(st);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

static void notification_destroy(void *state) {
    notification_state *st = state;
    for (size_t i = 0; i < st->capacity; i++) free(st->ring[i].message);
    free(st->ring);
    svc_table_free(&st->index);
    free(st);
}

static void notification_describe(void *state, json_t *info) {
    notification_state *st = state;
    json_object_set_new(info, "history_capacity", json_integer((json_int_t)st->capacity));
    json_object_set_new(info, "total_count", json_integer((json_int_t)st->total));
}

static const svc_route notification_routes[] = {
    {"POST", "/send", route_send, SVC_ROUTE_JSON_BODY | SVC_ROUTE_SERVICE},
    {"GET", "/history", route_history, 0},
    {"GET", "/status/*", route_status, 0},
};

const svc_module notification_module = {
    .name = "notification-service",
    .peer = SVC_NOTIFICATION,
    .default_port = 5004,
    .routes = notification_routes,
    .route_count = sizeof notification_routes / sizeof notification_routes[0],
    .create = notification_create,
    .destroy = notification_destroy,
    .replay = NULL,
    .start = NULL,
    .describe = notification_describe,
};
