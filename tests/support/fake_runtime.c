/*
 * fake_runtime.c: the in-memory svc_runtime of the Check suites (contract in fake_runtime.h).
 *
 * A world holds what nodes share: the virtual clock, the timers (fired in due time, then start order, like
 * libuv's sequence tie-breaker), the journal completions waiting to be delivered, the trace, and in a
 * cluster the routing of calls between nodes. A node is one service replica: its shell, its random stream,
 * journal, log lines, queue of outgoing calls and the requests made to it.
 */
#include "tests/support/fake_runtime.h"

#include "base/rng.h"
#include "services/modules.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORCED_MAX 64
#define CLUSTER_MAX 16
#define LOG_MAX 200000

/* ---- small helpers ---- */

typedef struct strvec {
    char **v;
    size_t len, cap;
} strvec;

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) abort();
    return p;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) abort();
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *xstrdup(const char *s) { return s ? xstrndup(s, strlen(s)) : NULL; }

static void strvec_push(strvec *sv, char *s) {
    if (sv->len + 2 > sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 16;
        char **grown = realloc(sv->v, cap * sizeof *grown);
        if (!grown) abort();
        sv->v = grown;
        sv->cap = cap;
    }
    sv->v[sv->len++] = s;
    sv->v[sv->len] = NULL;
}

static void strvec_free(strvec *sv) {
    for (size_t i = 0; i < sv->len; i++) free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof *sv);
}

static void strvec_add_all(strvec *sv, const char *const *items) {
    for (size_t i = 0; items && items[i]; i++) strvec_push(sv, xstrdup(items[i]));
}

/* ---- types ---- */

typedef struct fake_event {
    struct fake_event *next;
    fake_rt *owner;
    int64_t due_ns;
    uint64_t seq;
    svc_timer_fn fire;         /* a timer */
    svc_persist_done_fn pdone; /* a journal completion */
    void *ctx;
    int error;
    char t[32];
} fake_event;

struct fake_world {
    int64_t now_ns;
    uint64_t seq;
    fake_event *timers;
    fake_event *done_head, *done_tail;
    fake_cluster *cluster;
    strvec trace;
    int settling;
    int refs;
};

struct fake_rt {
    fake_world *world;
    const svc_module *module;
    char name[40];
    strvec settings;
    svc_shell *shell;
    int replica;
    pc_rng rng; /* the same generator as the real runtime's and the simulator's */
    uint64_t forced[FORCED_MAX];
    size_t forced_len;
    strvec journal;
    json_t **journal_json;
    size_t journal_json_cap;
    int fail_next;
    int hold;
    fake_event *held_head, *held_tail;
    strvec logs;
    fake_call *calls, *calls_tail;
    size_t calls_total;
    fake_reply *replies;
    int in_cluster;
    svc_call_outcome down; /* SVC_CALL_OK when up */
    size_t routed[SVC_PEER_COUNT][CLUSTER_MAX + 1];
};

struct fake_cluster {
    fake_world *world;
    fake_rt *nodes[SVC_PEER_COUNT][CLUSTER_MAX];
    int count[SVC_PEER_COUNT];
    unsigned rr[SVC_PEER_COUNT];
    int (*hold)(void *ctx, const fake_call *c);
    void *hold_ctx;
};

static void world_settle(fake_world *w);

static void trace(fake_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(fake_world *w, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    strvec_push(&w->trace, xstrdup(line));
}

/* ---- settings ---- */

const char *fake_settings_get(void *settings, const char *key) {
    const char *const *kv = settings;
    const char *found = NULL;
    size_t n = strlen(key);
    for (size_t i = 0; kv && kv[i]; i++)
        if (!strncmp(kv[i], key, n) && kv[i][n] == '=') found = kv[i] + n + 1;
    return found;
}

/* ---- runtime operations ---- */

static int64_t op_now_ns(void *self) { return ((fake_rt *)self)->world->now_ns; }

static int64_t op_unix_ms(void *self) { return FAKE_EPOCH_MS + ((fake_rt *)self)->world->now_ns / FAKE_MS; }

static uint64_t op_random(void *self) {
    fake_rt *rt = self;
    if (rt->forced_len) {
        uint64_t v = rt->forced[0];
        memmove(rt->forced, rt->forced + 1, --rt->forced_len * sizeof rt->forced[0]);
        return v;
    }
    return pc_rng_u64(&rt->rng);
}

static void op_call(void *self, const svc_call *call, svc_call_done_fn done, void *ctx) {
    fake_rt *rt = self;
    fake_call *c = xcalloc(1, sizeof *c);
    c->peer = call->peer;
    c->replica = call->replica;
    snprintf(c->method, sizeof c->method, "%s", call->method);
    c->path = xstrdup(call->path);
    if (call->body) {
        c->body = xstrndup(call->body, call->body_len);
        c->body_len = call->body_len;
        c->json = json_loadb(c->body, c->body_len, 0, NULL);
    }
    c->key = xstrdup(call->idempotency_key);
    c->forwarded = call->forwarded;
    c->timeout_ns = call->timeout_ns;
    c->started_ns = rt->world->now_ns;
    c->from = rt;
    c->done = done;
    c->ctx = ctx;
    if (rt->calls_tail)
        rt->calls_tail->next = c;
    else
        rt->calls = c;
    rt->calls_tail = c;
    rt->calls_total++;
    trace(rt->world, "call %s -> %s#%d %s %s%s", rt->name, svc_peer_name(c->peer), c->replica, c->method, c->path,
          c->forwarded ? " fwd" : "");
}

static void op_timer(void *self, int64_t delay_ns, svc_timer_fn fire, void *ctx) {
    fake_rt *rt = self;
    fake_event *ev = xcalloc(1, sizeof *ev);
    ev->owner = rt;
    ev->due_ns = rt->world->now_ns + (delay_ns > 0 ? delay_ns : 0);
    ev->seq = ++rt->world->seq;
    ev->fire = fire;
    ev->ctx = ctx;
    ev->next = rt->world->timers;
    rt->world->timers = ev;
    trace(rt->world, "timer %s %lld", rt->name, (long long)delay_ns);
}

static void event_append(fake_event **head, fake_event **tail, fake_event *ev) {
    ev->next = NULL;
    if (*tail)
        (*tail)->next = ev;
    else
        *head = ev;
    *tail = ev;
}

static void record_type(const char *record, size_t len, char *out, size_t outlen) {
    json_t *doc = record ? json_loadb(record, len, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(doc, "t"));
    snprintf(out, outlen, "%s", t ? t : "?");
    json_decref(doc);
}

static void op_persist(void *self, const char *record, size_t len, svc_persist_done_fn done, void *ctx) {
    fake_rt *rt = self;
    fake_event *ev = xcalloc(1, sizeof *ev);
    ev->owner = rt;
    ev->pdone = done;
    ev->ctx = ctx;
    record_type(record, len, ev->t, sizeof ev->t);
    if (!record) {
        ev->error = EINVAL;
    } else if (rt->fail_next) {
        ev->error = rt->fail_next;
        rt->fail_next = 0;
    } else {
        strvec_push(&rt->journal, xstrndup(record, len));
    }
    trace(rt->world, "persist %s %s%s", rt->name, ev->t, ev->error ? " (will fail)" : "");
    if (rt->hold)
        event_append(&rt->held_head, &rt->held_tail, ev);
    else
        event_append(&rt->world->done_head, &rt->world->done_tail, ev);
}

static void op_log(void *self, const char *line) {
    fake_rt *rt = self;
    if (rt->logs.len < LOG_MAX) strvec_push(&rt->logs, xstrdup(line));
}

static const svc_runtime_ops fake_ops = {
    .now_ns = op_now_ns,
    .unix_ms = op_unix_ms,
    .random_u64 = op_random,
    .call = op_call,
    .timer = op_timer,
    .persist = op_persist,
    .log = op_log,
};

svc_runtime fake_runtime(fake_rt *rt) { return (svc_runtime){.ops = &fake_ops, .self = rt}; }

/* ---- calls ---- */

static void call_unlink(fake_rt *rt, fake_call *c) {
    fake_call *prev = NULL;
    for (fake_call *it = rt->calls; it; prev = it, it = it->next) {
        if (it != c) continue;
        if (prev)
            prev->next = c->next;
        else
            rt->calls = c->next;
        if (rt->calls_tail == c) rt->calls_tail = prev;
        c->next = NULL;
        return;
    }
    ck_abort_msg("call %s %s is not queued at %s", c->method, c->path, rt->name);
}

static void call_free(fake_call *c) {
    free(c->path);
    free(c->body);
    free(c->key);
    json_decref(c->json);
    free(c);
}

static void call_deliver(fake_call *c, svc_call_outcome outcome, int status, const char *body, size_t len) {
    fake_rt *rt = c->from;
    call_unlink(rt, c);
    if (c->bridge) c->bridge->origin = NULL;
    svc_call_result r = {.outcome = outcome,
                         .status = outcome == SVC_CALL_OK ? status : 0,
                         .body = outcome == SVC_CALL_OK ? body : NULL,
                         .body_len = outcome == SVC_CALL_OK ? len : 0,
                         .elapsed_ns = rt->world->now_ns - c->started_ns};
    if (outcome == SVC_CALL_OK)
        trace(rt->world, "answer %s %s %s %d", rt->name, c->method, c->path, status);
    else
        trace(rt->world, "answer %s %s %s %s", rt->name, c->method, c->path, svc_call_outcome_name(outcome));
    svc_call_done_fn done = c->done;
    void *ctx = c->ctx;
    call_free(c);
    done(ctx, &r);
}

size_t fake_calls_pending(fake_rt *rt) {
    size_t n = 0;
    for (fake_call *c = rt->calls; c; c = c->next) n += c->state != 2;
    return n;
}

fake_call *fake_next_call(fake_rt *rt) {
    for (fake_call *c = rt->calls; c; c = c->next)
        if (c->state != 2) return c;
    return NULL;
}

size_t fake_calls_total(fake_rt *rt) { return rt->calls_total; }

void fake_answer(fake_rt *rt, fake_call *c, int status, const char *body) {
    ck_assert_msg(c != NULL, "fake_answer: no call");
    ck_assert_msg(c->from == rt, "fake_answer: the call was made by %s, not %s", c->from->name, rt->name);
    call_deliver(c, SVC_CALL_OK, status, body, body ? strlen(body) : 0);
    world_settle(rt->world);
}

void fake_fail(fake_rt *rt, fake_call *c, svc_call_outcome outcome) {
    ck_assert_msg(c != NULL, "fake_fail: no call");
    ck_assert_msg(c->from == rt, "fake_fail: the call was made by %s, not %s", c->from->name, rt->name);
    ck_assert_msg(outcome != SVC_CALL_OK, "fake_fail needs a failure outcome");
    call_deliver(c, outcome, 0, NULL, 0);
    world_settle(rt->world);
}

/* ---- requests ---- */

static void on_reply(void *ctx, svc_response *resp) {
    fake_reply *r = ctx;
    ck_assert_msg(!r->done, "%s answered %s %s twice", r->rt->name, r->method, r->path);
    r->done = 1;
    r->status = resp->status;
    r->body = xstrndup(resp->body ? resp->body : "", resp->body_len);
    r->body_len = resp->body_len;
    free(resp->body);
    r->json = json_loadb(r->body, r->body_len, 0, NULL);
    snprintf(r->allow, sizeof r->allow, "%s", resp->allow ? resp->allow : "");
    snprintf(r->content_type, sizeof r->content_type, "%s", resp->content_type ? resp->content_type : "");
    trace(r->rt->world, "reply %s %d %s %s", r->rt->name, r->status, r->method, r->path);
    if (r->origin) {
        fake_call *c = r->origin;
        r->origin = NULL;
        c->bridge = NULL;
        call_deliver(c, SVC_CALL_OK, r->status, r->body, r->body_len);
    }
}

static fake_reply *reply_new(fake_rt *rt, const char *method, const char *target, const char *body, size_t body_len,
                             const fake_req_opts *opts) {
    fake_reply *r = xcalloc(1, sizeof *r);
    r->rt = rt;
    r->method = xstrdup(method);
    const char *q = strchr(target, '?');
    r->path = q ? xstrndup(target, (size_t)(q - target)) : xstrdup(target);
    r->query = q ? xstrdup(q + 1) : NULL;
    if (body) r->reqbody = xstrndup(body, body_len);
    if (!(opts && opts->no_content_type)) {
        if (opts && opts->content_type)
            r->ctype = xstrdup(opts->content_type);
        else if (body)
            r->ctype = xstrdup("application/json");
    }
    if (opts && opts->idempotency_key) r->key = xstrdup(opts->idempotency_key);
    r->req = (svc_request){.method = r->method,
                           .path = r->path,
                           .query = r->query,
                           .content_type = r->ctype,
                           .idempotency_key = r->key,
                           .forwarded = opts ? opts->forwarded : 0,
                           .body = r->reqbody,
                           .body_len = body ? body_len : 0,
                           .body_too_large = opts ? opts->body_too_large : 0,
                           .service = opts ? opts->service : SVC_AUTH_OFF,
                           .client = opts ? opts->client : SVC_AUTH_OFF};
    r->next = rt->replies;
    rt->replies = r;
    return r;
}

static void reply_free(fake_reply *r) {
    free(r->body);
    json_decref(r->json);
    free(r->method);
    free(r->path);
    free(r->query);
    free(r->ctype);
    free(r->key);
    free(r->reqbody);
    free(r);
}

fake_reply *fake_req_ex(fake_rt *rt, const char *method, const char *target, const char *body,
                        const fake_req_opts *opts) {
    ck_assert_msg(rt->shell != NULL, "%s has no shell", rt->name);
    fake_reply *r = reply_new(rt, method, target, body, body ? strlen(body) : 0, opts);
    trace(rt->world, "request %s %s %s", rt->name, method, target);
    svc_shell_handle(rt->shell, &r->req, on_reply, r);
    world_settle(rt->world);
    return r;
}

fake_reply *fake_req(fake_rt *rt, const char *method, const char *target, const char *body) {
    return fake_req_ex(rt, method, target, body, NULL);
}

void fake_expect_at(const char *file, int line, const fake_reply *r, int status, const char *code) {
    ck_assert_msg(r->done, "%s:%d: %s %s was not answered", file, line, r->method, r->path);
    ck_assert_msg(r->status == status, "%s:%d: %s %s answered %d, expected %d: %s", file, line, r->method, r->path,
                  r->status, status, r->body);
    if (!code) return;
    ck_assert_msg(!strcmp(r->content_type, "application/json"), "%s:%d: content type %s", file, line, r->content_type);
    const char *got = fake_str(r, "error");
    ck_assert_msg(got && !strcmp(got, code), "%s:%d: error %s, expected %s: %s", file, line, got ? got : "(none)", code,
                  r->body);
    const char *msg = fake_str(r, "message");
    ck_assert_msg(msg && msg[0], "%s:%d: error without a message: %s", file, line, r->body);
}

const char *fake_str(const fake_reply *r, const char *key) { return json_string_value(json_object_get(r->json, key)); }

json_int_t fake_int(const fake_reply *r, const char *key) { return json_integer_value(json_object_get(r->json, key)); }

double fake_num(const fake_reply *r, const char *key) { return json_number_value(json_object_get(r->json, key)); }

/* ---- time ---- */

static fake_event *earliest_timer(fake_world *w) {
    fake_event *best = NULL;
    for (fake_event *ev = w->timers; ev; ev = ev->next)
        if (!best || ev->due_ns < best->due_ns || (ev->due_ns == best->due_ns && ev->seq < best->seq)) best = ev;
    return best;
}

static void timer_unlink(fake_world *w, fake_event *t) {
    for (fake_event **pp = &w->timers; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

static void fire_timer(fake_world *w, fake_event *t) {
    timer_unlink(w, t);
    svc_timer_fn fire = t->fire;
    void *ctx = t->ctx;
    free(t);
    fire(ctx);
}

static int cluster_route_one(fake_cluster *cl);

static void world_settle(fake_world *w) {
    if (w->settling) return;
    w->settling = 1;
    for (int rounds = 0;; rounds++) {
        ck_assert_msg(rounds < 10000000, "fake runtime: the work never settles");
        if (w->done_head) {
            fake_event *ev = w->done_head;
            w->done_head = ev->next;
            if (!w->done_head) w->done_tail = NULL;
            trace(w, "%s %s %s", ev->error ? "persist-failed" : "durable", ev->owner->name, ev->t);
            svc_persist_done_fn done = ev->pdone;
            void *ctx = ev->ctx;
            int error = ev->error;
            free(ev);
            done(ctx, error);
            continue;
        }
        fake_event *t = earliest_timer(w);
        if (t && t->due_ns <= w->now_ns) {
            fire_timer(w, t);
            continue;
        }
        if (w->cluster && cluster_route_one(w->cluster)) continue;
        break;
    }
    w->settling = 0;
}

int64_t fake_now(fake_rt *rt) { return rt->world->now_ns; }

void fake_advance(fake_rt *rt, int64_t ns) {
    fake_world *w = rt->world;
    int64_t target = w->now_ns + ns;
    world_settle(w);
    for (;;) {
        fake_event *t = earliest_timer(w);
        if (!t || t->due_ns > target) break;
        if (t->due_ns > w->now_ns) w->now_ns = t->due_ns;
        fire_timer(w, t);
        world_settle(w);
    }
    w->now_ns = target;
    world_settle(w);
}

size_t fake_timers_pending(fake_rt *rt) {
    size_t n = 0;
    for (fake_event *ev = rt->world->timers; ev; ev = ev->next) n++;
    return n;
}

int64_t fake_next_timer_in(fake_rt *rt) {
    fake_event *t = earliest_timer(rt->world);
    return t ? t->due_ns - rt->world->now_ns : -1;
}

void fake_random_push(fake_rt *rt, uint64_t value) {
    ck_assert(rt->forced_len < FORCED_MAX);
    rt->forced[rt->forced_len++] = value;
}

void fake_run_pending(fake_rt *rt) { world_settle(rt->world); }

/* ---- journal ---- */

size_t fake_journal_count(fake_rt *rt) { return rt->journal.len; }

const char *fake_journal_at(fake_rt *rt, size_t i) {
    ck_assert_msg(i < rt->journal.len, "journal record %zu of %zu", i, rt->journal.len);
    return rt->journal.v[i];
}

json_t *fake_journal_json(fake_rt *rt, size_t i) {
    ck_assert_msg(i < rt->journal.len, "journal record %zu of %zu", i, rt->journal.len);
    if (rt->journal_json_cap < rt->journal.len) {
        size_t cap = rt->journal.cap;
        json_t **grown = realloc(rt->journal_json, cap * sizeof *grown);
        if (!grown) abort();
        memset(grown + rt->journal_json_cap, 0, (cap - rt->journal_json_cap) * sizeof *grown);
        rt->journal_json = grown;
        rt->journal_json_cap = cap;
    }
    if (!rt->journal_json[i]) rt->journal_json[i] = json_loads(rt->journal.v[i], 0, NULL);
    ck_assert_msg(rt->journal_json[i] != NULL, "journal record %zu is not JSON: %s", i, rt->journal.v[i]);
    return rt->journal_json[i];
}

const char *fake_journal_type(fake_rt *rt, size_t i) {
    return json_string_value(json_object_get(fake_journal_json(rt, i), "t"));
}

void fake_journal_append(fake_rt *rt, const char *record) { strvec_push(&rt->journal, xstrdup(record)); }

void fake_journal_fail_next(fake_rt *rt, int error) { rt->fail_next = error ? error : EIO; }

void fake_journal_hold(fake_rt *rt, int hold) {
    rt->hold = hold;
    if (hold) return;
    while (rt->held_head) {
        fake_event *ev = rt->held_head;
        rt->held_head = ev->next;
        event_append(&rt->world->done_head, &rt->world->done_tail, ev);
    }
    rt->held_tail = NULL;
    world_settle(rt->world);
}

size_t fake_journal_held(fake_rt *rt) {
    size_t n = 0;
    for (fake_event *ev = rt->held_head; ev; ev = ev->next) n++;
    return n;
}

/* ---- log and trace ---- */

size_t fake_log_count(fake_rt *rt) { return rt->logs.len; }

const char *fake_log_at(fake_rt *rt, size_t i) {
    ck_assert_msg(i < rt->logs.len, "log line %zu of %zu", i, rt->logs.len);
    return rt->logs.v[i];
}

size_t fake_log_count_event(fake_rt *rt, const char *event) {
    size_t n = 0;
    for (size_t i = 0; i < rt->logs.len; i++) {
        json_t *doc = json_loads(rt->logs.v[i], 0, NULL);
        const char *e = json_string_value(json_object_get(doc, "event"));
        n += e && !strcmp(e, event);
        json_decref(doc);
    }
    return n;
}

size_t fake_trace_count(fake_rt *rt) { return rt->world->trace.len; }

const char *fake_trace_at(fake_rt *rt, size_t i) {
    ck_assert(i < rt->world->trace.len);
    return rt->world->trace.v[i];
}

long fake_trace_find(fake_rt *rt, const char *needle, long from) {
    strvec *t = &rt->world->trace;
    for (size_t i = from > 0 ? (size_t)from : 0; i < t->len; i++)
        if (strstr(t->v[i], needle)) return (long)i;
    return -1;
}

void fake_trace_dump(fake_rt *rt) {
    for (size_t i = 0; i < rt->world->trace.len; i++) fprintf(stderr, "%4zu %s\n", i, rt->world->trace.v[i]);
}

void fake_forget(fake_rt *rt) {
    for (fake_reply **pp = &rt->replies; *pp;) {
        fake_reply *r = *pp;
        if (r->done && !r->origin) {
            *pp = r->next;
            reply_free(r);
        } else {
            pp = &r->next;
        }
    }
    strvec_free(&rt->logs);
    strvec_free(&rt->world->trace);
}

/* ---- nodes ---- */

static fake_world *world_new(void) { return xcalloc(1, sizeof(fake_world)); }

static void world_unref(fake_world *w) {
    if (--w->refs > 0) return;
    while (w->timers) {
        fake_event *ev = w->timers;
        w->timers = ev->next;
        free(ev);
    }
    while (w->done_head) {
        fake_event *ev = w->done_head;
        w->done_head = ev->next;
        free(ev);
    }
    strvec_free(&w->trace);
    free(w);
}

static fake_rt *node_new(fake_world *w, uint64_t seed) {
    fake_rt *rt = xcalloc(1, sizeof *rt);
    rt->world = w;
    w->refs++;
    pc_rng_init(&rt->rng, seed, "fake-runtime");
    rt->down = SVC_CALL_OK;
    snprintf(rt->name, sizeof rt->name, "runtime");
    return rt;
}

fake_rt *fake_rt_new(uint64_t seed) { return node_new(world_new(), seed); }

/* Creates the node's shell from its settings; 0, or -1 with a message. */
static int node_boot(fake_rt *rt, char *err, size_t errlen) {
    svc_config cfg;
    if (svc_config_load(&cfg, fake_settings_get, rt->settings.v, err, errlen) < 0) return -1;
    rt->replica = cfg.replica;
    snprintf(rt->name, sizeof rt->name, "%s-%d", svc_peer_name(rt->module->peer), cfg.replica);
    rt->shell = svc_shell_create(rt->module, &cfg, fake_runtime(rt), err, errlen);
    svc_config_free(&cfg);
    return rt->shell ? 0 : -1;
}

static void node_replay(fake_rt *rt) {
    for (size_t i = 0; i < rt->journal.len; i++) {
        char err[256] = "";
        int rc = svc_shell_replay(rt->shell, rt->journal.v[i], strlen(rt->journal.v[i]), err, sizeof err);
        ck_assert_msg(rc == 0, "%s: replay of record %zu failed: %s", rt->name, i, err);
    }
}

/* Drops everything the node's (dead) shell was waiting for, without running it. */
static void node_drop_work(fake_rt *rt) {
    fake_world *w = rt->world;
    for (fake_event **pp = &w->timers; *pp;) {
        fake_event *ev = *pp;
        if (ev->owner == rt) {
            *pp = ev->next;
            free(ev);
        } else {
            pp = &ev->next;
        }
    }
    fake_event *keep_head = NULL, *keep_tail = NULL;
    while (w->done_head) {
        fake_event *ev = w->done_head;
        w->done_head = ev->next;
        if (ev->owner == rt)
            free(ev);
        else
            event_append(&keep_head, &keep_tail, ev);
    }
    w->done_head = keep_head;
    w->done_tail = keep_tail;
    while (rt->held_head) {
        fake_event *ev = rt->held_head;
        rt->held_head = ev->next;
        free(ev);
    }
    rt->held_tail = NULL;
    while (rt->calls) {
        fake_call *c = rt->calls;
        rt->calls = c->next;
        if (c->bridge) c->bridge->origin = NULL;
        call_free(c);
    }
    rt->calls_tail = NULL;
}

static fake_rt *service_new(fake_world *w, const svc_module *module, const char *const *settings, uint64_t seed,
                            int start) {
    fake_rt *rt = node_new(w, seed);
    rt->module = module;
    strvec_add_all(&rt->settings, settings);
    if (!rt->settings.v) strvec_push(&rt->settings, xstrdup("PC_FAKE=1"));
    char err[256] = "";
    if (node_boot(rt, err, sizeof err) < 0) ck_abort_msg("cannot create %s: %s", module->name, err);
    if (start) fake_start(rt);
    return rt;
}

fake_rt *fake_service(const svc_module *module, const char *const *settings) {
    return service_new(world_new(), module, settings, 42, 1);
}

fake_rt *fake_service_unstarted(const svc_module *module, const char *const *settings) {
    return service_new(world_new(), module, settings, 42, 0);
}

void fake_start(fake_rt *rt) {
    node_replay(rt);
    svc_shell_start(rt->shell);
    world_settle(rt->world);
}

int fake_service_error(const svc_module *module, const char *const *settings, char *err, size_t errlen) {
    fake_rt *rt = node_new(world_new(), 1);
    rt->module = module;
    strvec_add_all(&rt->settings, settings);
    if (!rt->settings.v) strvec_push(&rt->settings, xstrdup("PC_FAKE=1"));
    int rc = node_boot(rt, err, errlen);
    fake_free(rt);
    return rc;
}

static void node_free(fake_rt *rt) {
    node_drop_work(rt);
    while (rt->replies) {
        fake_reply *r = rt->replies;
        rt->replies = r->next;
        reply_free(r);
    }
    for (size_t i = 0; i < rt->journal_json_cap; i++) json_decref(rt->journal_json[i]);
    free(rt->journal_json);
    strvec_free(&rt->journal);
    strvec_free(&rt->logs);
    strvec_free(&rt->settings);
    fake_world *w = rt->world;
    free(rt);
    world_unref(w);
}

void fake_free(fake_rt *rt) {
    if (!rt) return;
    ck_assert_msg(!rt->in_cluster, "free cluster nodes with fake_cluster_free");
    svc_shell_destroy(rt->shell);
    rt->shell = NULL;
    node_free(rt);
}

void fake_restart(fake_rt *rt) {
    svc_shell_destroy(rt->shell);
    rt->shell = NULL;
    node_drop_work(rt);
    /* Requests routed here that the dead process never answered: their callers see the connection die. */
    for (fake_reply *r = rt->replies; r; r = r->next) {
        if (r->done || !r->origin) continue;
        fake_call *c = r->origin;
        r->origin = NULL;
        c->bridge = NULL;
        call_deliver(c, SVC_CALL_RESET, 0, NULL, 0);
    }
    char err[256] = "";
    if (node_boot(rt, err, sizeof err) < 0) ck_abort_msg("cannot restart %s: %s", rt->name, err);
    trace(rt->world, "restart %s", rt->name);
    fake_start(rt);
}

svc_shell *fake_shell(fake_rt *rt) { return rt->shell; }
void *fake_state(fake_rt *rt) { return svc_shell_state(rt->shell); }
const char *fake_name(fake_rt *rt) { return rt->name; }

/* ---- cluster ---- */

fake_cluster *fake_cluster_new(const int replicas[SVC_PEER_COUNT], const char *const *settings) {
    static const char *const count_keys[SVC_PEER_COUNT] = {"PAYMENT_REPLICAS", "INVENTORY_REPLICAS",
                                                           "NOTIFICATION_REPLICAS"};
    fake_cluster *cl = xcalloc(1, sizeof *cl);
    cl->world = world_new();
    cl->world->refs++; /* the cluster's own reference */
    cl->world->cluster = cl;
    for (int p = 0; p < SVC_PEER_COUNT; p++) {
        ck_assert(replicas[p] >= 0 && replicas[p] <= CLUSTER_MAX);
        cl->count[p] = replicas[p];
    }
    for (int p = 0; p < SVC_PEER_COUNT; p++) {
        for (int i = 0; i < cl->count[p]; i++) {
            fake_rt *rt = node_new(cl->world, 1000u * (unsigned)(p + 1) + (unsigned)i);
            rt->module = svc_module_by_name(svc_peer_name((svc_peer)p));
            rt->in_cluster = 1;
            strvec_add_all(&rt->settings, settings);
            char kv[64];
            for (int q = 0; q < SVC_PEER_COUNT; q++) {
                snprintf(kv, sizeof kv, "%s=%d", count_keys[q], cl->count[q] > 0 ? cl->count[q] : 1);
                strvec_push(&rt->settings, xstrdup(kv));
            }
            snprintf(kv, sizeof kv, "REPLICA_INDEX=%d", i);
            strvec_push(&rt->settings, xstrdup(kv));
            char err[256] = "";
            if (node_boot(rt, err, sizeof err) < 0) ck_abort_msg("cluster node %s-%d: %s", svc_peer_name(p), i, err);
            cl->nodes[p][i] = rt;
        }
    }
    for (int p = 0; p < SVC_PEER_COUNT; p++)
        for (int i = 0; i < cl->count[p]; i++) {
            node_replay(cl->nodes[p][i]);
            svc_shell_start(cl->nodes[p][i]->shell);
        }
    world_settle(cl->world);
    return cl;
}

fake_rt *fake_node(fake_cluster *cl, svc_peer peer, int replica) {
    ck_assert_msg(replica >= 0 && replica < cl->count[peer], "no node %s-%d", svc_peer_name(peer), replica);
    return cl->nodes[peer][replica];
}

void fake_cluster_set_down(fake_cluster *cl, svc_peer peer, int replica, svc_call_outcome outcome) {
    fake_node(cl, peer, replica)->down = outcome;
}

void fake_cluster_set_hold(fake_cluster *cl, int (*hold)(void *ctx, const fake_call *c), void *ctx) {
    cl->hold = hold;
    cl->hold_ctx = ctx;
}

size_t fake_cluster_routed(fake_cluster *cl, fake_rt *from, svc_peer peer, int replica) {
    (void)cl;
    ck_assert(replica >= 0 && replica < CLUSTER_MAX);
    return from->routed[peer][replica];
}

/* The replica a call goes to: its own, or round robin over the replicas that are up; -1 if none. */
static int pick_replica(fake_cluster *cl, const fake_call *c) {
    int n = cl->count[c->peer];
    if (c->replica >= 0) return c->replica < n ? c->replica : -1;
    for (int k = 0; k < n; k++) {
        int i = (int)(cl->rr[c->peer]++ % (unsigned)n);
        if (cl->nodes[c->peer][i]->down == SVC_CALL_OK) return i;
    }
    return 0; /* all down: the first one answers with its failure */
}

/* Routes the first queued call of any node; returns 1 if it did something. */
static int cluster_route_one(fake_cluster *cl) {
    for (int p = 0; p < SVC_PEER_COUNT; p++) {
        for (int i = 0; i < cl->count[p]; i++) {
            fake_rt *from = cl->nodes[p][i];
            for (fake_call *c = from->calls; c; c = c->next) {
                if (c->state != 0) continue;
                if (cl->count[c->peer] == 0 || (cl->hold && cl->hold(cl->hold_ctx, c))) {
                    c->state = 1;
                    continue;
                }
                int r = pick_replica(cl, c);
                if (r < 0) {
                    call_deliver(c, SVC_CALL_REFUSED, 0, NULL, 0);
                    return 1;
                }
                fake_rt *to = cl->nodes[c->peer][r];
                from->routed[c->peer][r]++;
                if (to->down != SVC_CALL_OK) {
                    call_deliver(c, to->down, 0, NULL, 0);
                    return 1;
                }
                fake_req_opts opts = {.idempotency_key = c->key, .forwarded = c->forwarded};
                fake_reply *b = reply_new(to, c->method, c->path, c->body, c->body_len, &opts);
                b->origin = c;
                c->bridge = b;
                c->state = 2;
                trace(cl->world, "route %s -> %s %s %s", from->name, to->name, c->method, c->path);
                svc_shell_handle(to->shell, &b->req, on_reply, b);
                return 1;
            }
        }
    }
    return 0;
}

void fake_cluster_free(fake_cluster *cl) {
    if (!cl) return;
    for (int p = 0; p < SVC_PEER_COUNT; p++)
        for (int i = 0; i < cl->count[p]; i++) {
            svc_shell_destroy(cl->nodes[p][i]->shell);
            cl->nodes[p][i]->shell = NULL;
        }
    /* Bridges point across nodes: cut them all before any node goes. */
    for (int p = 0; p < SVC_PEER_COUNT; p++)
        for (int i = 0; i < cl->count[p]; i++) {
            for (fake_call *c = cl->nodes[p][i]->calls; c; c = c->next) c->bridge = NULL;
            for (fake_reply *r = cl->nodes[p][i]->replies; r; r = r->next) r->origin = NULL;
        }
    for (int p = 0; p < SVC_PEER_COUNT; p++)
        for (int i = 0; i < cl->count[p]; i++) node_free(cl->nodes[p][i]);
    fake_world *w = cl->world;
    free(cl);
    world_unref(w);
}
