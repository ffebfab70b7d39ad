/*
 * client.c: the libcurl multi loop and the timer heap (contract in client.h).
 *
 * Threads: http_client_call/timer/persist_done run on any thread and only touch the queue under `mu`;
 * everything libcurl (the multi handle, easy handles, calls in flight, the handle pool) belongs to the
 * client thread, except curl_multi_wakeup(), which libcurl documents as callable from any thread (it is
 * called with `mu` held so that it cannot race with the multi handle's cleanup at stop).
 */
#include "services/http/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "services/core/config.h"
#include "services/http/log.h"

#define POOL_MAX 64             /* idle easy handles kept for reuse */
#define MAX_CONNECTS 64         /* idle connections kept alive (CURLMOPT_MAXCONNECTS) */
#define MAX_HOST_CONNECTIONS 64 /* open connections to one host:port; more calls wait in libcurl */
#define POLL_MAX_MS 1000        /* wake up at least this often even when idle */
#define HEADERS_MAX 6

int64_t http_clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One call, from http_client_call to its callback. Strings live in `text` after the struct. */
typedef struct ccall {
    struct ccall *next;                      /* incoming queue, then the done list */
    struct ccall *prev_active, *next_active; /* calls owned by libcurl (client thread) */
    CURL *easy;
    svc_call_done_fn done;
    void *ctx;
    int64_t started_ns;
    long timeout_ms;
    int unconfigured; /* no URL for the target: fails without a transfer */
    svc_call_outcome outcome;
    int status;
    http_body resp;
    const char *url, *method, *body;
    size_t body_len;
    struct curl_slist headers[HEADERS_MAX]; /* chained by hand: no allocation per header */
    char text[];
} ccall;

typedef enum { TIMER_FIRE, TIMER_PERSIST } timer_kind;

typedef struct timer_entry {
    int64_t deadline_ns;
    uint64_t seq; /* equal deadlines fire in the order they were set */
    timer_kind kind;
    svc_timer_fn fire;
    svc_persist_done_fn persist_done;
    void *ctx;
    int error;
} timer_entry;

struct http_client {
    const http_env *env;
    char *token_header; /* "X-Service-Token: <token>" on every call, or NULL */
    http_gate *gate;
    CURLM *multi;
    pthread_t thread;
    int thread_started;

    pthread_mutex_t mu; /* guards everything down to `stop` */
    ccall *in_head, *in_tail;
    timer_entry *heap;
    size_t heap_len, heap_cap;
    uint64_t seq;
    int stop;

    /* client thread only */
    ccall *active; /* calls owned by libcurl, doubly linked */
    CURL *pool[POOL_MAX];
    size_t pool_len;
    timer_entry *due;
    size_t due_cap;
    int self_work; /* the client thread queued work for itself: do not sleep */
    int sleeping;  /* under mu: the client thread is in (or about to enter) curl_multi_poll */
};

static _Thread_local int on_client_thread;

/* ---- timer heap (under mu) ---- */

static int timer_before(const timer_entry *a, const timer_entry *b) {
    return a->deadline_ns != b->deadline_ns ? a->deadline_ns < b->deadline_ns : a->seq < b->seq;
}

static void heap_push(http_client *c, timer_entry e) {
    if (c->heap_len == c->heap_cap) {
        size_t cap = c->heap_cap ? c->heap_cap * 2 : 64;
        timer_entry *grown = realloc(c->heap, cap * sizeof *grown);
        if (!grown) abort(); /* a timer that silently never fires would break the service's contract */
        c->heap = grown;
        c->heap_cap = cap;
    }
    size_t i = c->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(&e, &c->heap[parent])) break;
        c->heap[i] = c->heap[parent];
        i = parent;
    }
    c->heap[i] = e;
}

static timer_entry heap_pop(http_client *c) {
    timer_entry top = c->heap[0];
    timer_entry last = c->heap[--c->heap_len];
    size_t i = 0, n = c->heap_len;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const timer_entry *best = &last;
        if (l < n && timer_before(&c->heap[l], best)) {
            m = l;
            best = &c->heap[l];
        }
        if (r < n && timer_before(&c->heap[r], best)) m = r;
        if (m == i) break;
        c->heap[i] = c->heap[m];
        i = m;
    }
    if (n) c->heap[i] = last;
    return top;
}

/* ---- queueing (any thread) ---- */

/* Called with mu held after queueing work. The wake-up (a write to libcurl's socketpair, and a read on the
 * other side) is only paid when the client thread is asleep in curl_multi_poll; a busy thread finds the
 * work when it looks at the queue before sleeping again. */
static void wake_locked(http_client *c) {
    if (on_client_thread) {
        c->self_work = 1;
    } else if (c->sleeping && c->multi) {
        c->sleeping = 0;
        curl_multi_wakeup(c->multi);
    }
}

static void add_timer(http_client *c, timer_entry e) {
    pthread_mutex_lock(&c->mu);
    if (c->stop) { /* shut down: dropped, as svc.h allows */
        pthread_mutex_unlock(&c->mu);
        return;
    }
    e.seq = c->seq++;
    heap_push(c, e);
    wake_locked(c);
    pthread_mutex_unlock(&c->mu);
}

void http_client_timer(http_client *c, int64_t delay_ns, svc_timer_fn fire, void *ctx) {
    timer_entry e = {
        .deadline_ns = http_clock_ns() + (delay_ns > 0 ? delay_ns : 0), .kind = TIMER_FIRE, .fire = fire, .ctx = ctx};
    add_timer(c, e);
}

void http_client_persist_done(http_client *c, svc_persist_done_fn done, void *ctx, int error) {
    timer_entry e = {
        .deadline_ns = http_clock_ns(), .kind = TIMER_PERSIST, .persist_done = done, .ctx = ctx, .error = error};
    add_timer(c, e);
}

static size_t opt_len(const char *s) { return s ? strlen(s) + 1 : 0; }

void http_client_call(http_client *c, const svc_call *call, svc_call_done_fn done, void *ctx) {
    char base[HTTP_URL_MAX];
    int configured = http_env_base_url(c->env, call->peer, call->replica, base, sizeof base) == 0;
    if (!configured) {
        http_log_event(SVC_LOG_WARN, "call_unconfigured",
                       json_pack("{s:s, s:i}", "target", svc_peer_name(call->peer), "target_replica", call->replica),
                       "no URL for %s replica %d (set %s_PEERS): the call fails", svc_peer_name(call->peer),
                       call->replica,
                       call->peer == SVC_PAYMENT     ? "PAYMENT"
                       : call->peer == SVC_INVENTORY ? "INVENTORY"
                                                     : "NOTIFICATION");
        base[0] = '\0';
    }
    const char *path = call->path ? call->path : "/";
    const char *method = call->method ? call->method : "GET";
    size_t key_hdr = call->idempotency_key ? strlen("Idempotency-Key: ") + strlen(call->idempotency_key) + 1 : 0;
    size_t need = strlen(base) + strlen(path) + 1 + opt_len(method) + call->body_len + key_hdr;
    ccall *cc = calloc(1, sizeof *cc + need);
    if (!cc) abort(); /* the callback must run exactly once; without memory there is no way to keep that */
    cc->done = done;
    cc->ctx = ctx;
    cc->started_ns = http_clock_ns();
    cc->unconfigured = !configured;
    int64_t ms = (call->timeout_ns + 999999) / 1000000;
    cc->timeout_ms = ms < 1 ? 1 : ms > 86400000 ? 86400000 : (long)ms;

    char *p = cc->text;
    cc->url = p;
    p += sprintf(p, "%s%s", base, path) + 1;
    cc->method = p;
    p += sprintf(p, "%s", method) + 1;
    if (call->body_len) {
        memcpy(p, call->body, call->body_len);
        cc->body = p;
        cc->body_len = call->body_len;
        p += call->body_len;
    }
    /* Headers: no "Expect: 100-continue" round trip; JSON bodies; the idempotency and forwarding marks. */
    int h = 0;
    cc->headers[h++].data = (char *)"Expect:";
    if (call->body_len) cc->headers[h++].data = (char *)"Content-Type: application/json";
    if (call->idempotency_key) {
        cc->headers[h++].data = p;
        p += sprintf(p, "Idempotency-Key: %s", call->idempotency_key) + 1;
    }
    if (call->forwarded) cc->headers[h++].data = (char *)"X-Forwarded-To-Owner: 1";
    if (c->token_header) cc->headers[h++].data = c->token_header;
    for (int i = 0; i < h; i++) cc->headers[i].next = i + 1 < h ? &cc->headers[i + 1] : NULL;

    pthread_mutex_lock(&c->mu);
    if (c->stop) {
        pthread_mutex_unlock(&c->mu);
        free(cc);
        return;
    }
    if (c->in_tail)
        c->in_tail->next = cc;
    else
        c->in_head = cc;
    c->in_tail = cc;
    wake_locked(c);
    pthread_mutex_unlock(&c->mu);
}

/* ---- transfers (client thread) ---- */

size_t http_body_append(char *data, size_t size, size_t nmemb, void *arg) {
    http_body *b = arg;
    size_t n = size * nmemb;
    if (b->len + n > HTTP_CALL_RESPONSE_MAX) {
        b->too_big = 1;
        return 0; /* CURLE_WRITE_ERROR: the transfer fails */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

svc_call_outcome http_call_outcome(int curl_code) {
    switch ((CURLcode)curl_code) {
    case CURLE_OK: return SVC_CALL_OK;
    case CURLE_OPERATION_TIMEDOUT: return SVC_CALL_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST: return SVC_CALL_REFUSED;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: return SVC_CALL_RESET;
    default: return SVC_CALL_FAILED;
    }
}

static void active_link(http_client *c, ccall *cc) {
    cc->prev_active = NULL;
    cc->next_active = c->active;
    if (c->active) c->active->prev_active = cc;
    c->active = cc;
}

static void active_unlink(http_client *c, ccall *cc) {
    if (cc->prev_active)
        cc->prev_active->next_active = cc->next_active;
    else
        c->active = cc->next_active;
    if (cc->next_active) cc->next_active->prev_active = cc->prev_active;
    cc->prev_active = cc->next_active = NULL;
}

/* A new easy handle with the options every call shares (kept when the handle is reused). */
static CURL *easy_new(const http_client *c) {
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* service-to-service calls never go through http_proxy */
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_body_append);
    if (!c->env->downstream_keepalive) {
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L); /* DOWNSTREAM_KEEPALIVE=off: a new connection */
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);  /* per call, closed after it */
    }
    return e;
}

/* Hands the call to libcurl; returns -1 if that failed (the call then completes as failed). A reused
 * handle keeps the shared options; everything that differs between calls is set here, every time. */
static int start_transfer(http_client *c, ccall *cc) {
    CURL *e = c->pool_len ? c->pool[--c->pool_len] : easy_new(c);
    if (!e) return -1;
    cc->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, cc->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, cc);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &cc->resp);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cc->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cc->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, cc->headers);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (!strcmp(cc->method, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        /* POSTFIELDS switches the handle to POST (whatever the previous call on it was). */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, cc->body ? cc->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)cc->body_len);
        if (strcmp(cc->method, "POST")) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, cc->method);
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        cc->easy = NULL;
        curl_easy_cleanup(e);
        return -1;
    }
    active_link(c, cc);
    return 0;
}

static void release_call(http_client *c, ccall *cc) {
    if (cc->easy) {
        if (c->pool_len < POOL_MAX)
            c->pool[c->pool_len++] = cc->easy;
        else
            curl_easy_cleanup(cc->easy);
    }
    free(cc->resp.data);
    free(cc);
}

/* Moves finished transfers from libcurl to the done list. */
static void collect_finished(http_client *c, ccall **done_tail) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *e = msg->easy_handle;
        CURLcode rc = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        ccall *cc = (ccall *)(void *)priv;
        long status = 0;
        if (rc == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(c->multi, e);
        active_unlink(c, cc);
        cc->outcome = http_call_outcome(rc);
        cc->status = (int)status;
        if (rc != CURLE_OK)
            http_log_event(SVC_LOG_DEBUG, "call_failed", json_pack("{s:s, s:i}", "url", cc->url, "curl_code", (int)rc),
                           "%s %s: %s%s", cc->method, cc->url, curl_easy_strerror(rc),
                           cc->resp.too_big ? " (response body over 1 MiB)" : "");
        cc->next = NULL;
        *done_tail = cc;
        done_tail = &cc->next;
    }
}

/* Runs the batch's callbacks under the gate (dropped if the service is closed). */
static void deliver(http_client *c, ccall *done, const timer_entry *due, size_t ndue) {
    if (http_gate_enter(c->gate)) {
        int64_t now = http_clock_ns();
        for (ccall *cc = done; cc; cc = cc->next) {
            svc_call_result r = {.outcome = cc->outcome,
                                 .status = cc->outcome == SVC_CALL_OK ? cc->status : 0,
                                 .body = cc->outcome == SVC_CALL_OK ? cc->resp.data : NULL,
                                 .body_len = cc->outcome == SVC_CALL_OK ? cc->resp.len : 0,
                                 .elapsed_ns = now - cc->started_ns};
            cc->done(cc->ctx, &r);
        }
        for (size_t i = 0; i < ndue; i++) {
            if (due[i].kind == TIMER_FIRE)
                due[i].fire(due[i].ctx);
            else
                due[i].persist_done(due[i].ctx, due[i].error);
        }
    }
    http_gate_leave(c->gate);
}

/* Takes the new calls and the due timers; returns the earliest remaining deadline (or INT64_MAX). */
static int64_t take_work(http_client *c, ccall **incoming, size_t *ndue, int *stop) {
    pthread_mutex_lock(&c->mu);
    *stop = c->stop;
    *incoming = c->in_head;
    c->in_head = c->in_tail = NULL;
    int64_t now = http_clock_ns();
    size_t n = 0;
    while (c->heap_len && c->heap[0].deadline_ns <= now) {
        if (n == c->due_cap) {
            size_t cap = c->due_cap ? c->due_cap * 2 : 64;
            timer_entry *grown = realloc(c->due, cap * sizeof *grown);
            if (!grown) break; /* fire the rest next round */
            c->due = grown;
            c->due_cap = cap;
        }
        c->due[n++] = heap_pop(c);
    }
    int64_t next = c->heap_len ? c->heap[0].deadline_ns : INT64_MAX;
    c->self_work = 0;
    c->sleeping = 0;
    pthread_mutex_unlock(&c->mu);
    *ndue = n;
    return next;
}

static void *client_main(void *arg) {
    http_client *c = arg;
    on_client_thread = 1;
    for (;;) {
        ccall *incoming;
        size_t ndue;
        int stop;
        int64_t next_timer = take_work(c, &incoming, &ndue, &stop);
        if (stop) {
            /* Calls taken but not started are dropped like the rest (see http_client_stop). */
            while (incoming) {
                ccall *next = incoming->next;
                release_call(c, incoming);
                incoming = next;
            }
            break;
        }
        ccall *done = NULL, **done_tail = &done;
        while (incoming) {
            ccall *cc = incoming;
            incoming = cc->next;
            cc->next = NULL;
            if (cc->unconfigured || start_transfer(c, cc) < 0) {
                cc->outcome = SVC_CALL_FAILED;
                *done_tail = cc;
                done_tail = &cc->next;
            }
        }
        int running = 0;
        curl_multi_perform(c->multi, &running);
        collect_finished(c, done_tail);
        if (done || ndue) deliver(c, done, c->due, ndue);
        while (done) {
            ccall *next = done->next;
            release_call(c, done);
            done = next;
        }

        long wait_ms = -1;
        curl_multi_timeout(c->multi, &wait_ms);
        if (wait_ms < 0 || wait_ms > POLL_MAX_MS) wait_ms = POLL_MAX_MS;
        if (next_timer != INT64_MAX) {
            int64_t until = (next_timer - http_clock_ns() + 999999) / 1000000;
            if (until < wait_ms) wait_ms = until < 0 ? 0 : (long)until;
        }
        if (wait_ms <= 0) continue;
        /* Sleep only if nothing was queued since take_work; from here on producers wake us up. */
        pthread_mutex_lock(&c->mu);
        int busy = c->self_work || c->in_head || c->stop || (c->heap_len && c->heap[0].deadline_ns < next_timer);
        c->sleeping = !busy;
        pthread_mutex_unlock(&c->mu);
        if (busy) continue;
        curl_multi_poll(c->multi, NULL, 0, (int)wait_ms, NULL); /* take_work clears `sleeping` */
    }
    return NULL;
}

/* ---- lifecycle ---- */

http_client *http_client_create(const http_env *env, http_gate *gate, char *err, size_t errlen) {
    http_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->env = env;
    c->gate = gate;
    if (env->service_token) {
        size_t n = strlen("X-Service-Token: ") + strlen(env->service_token) + 1;
        if (!(c->token_header = malloc(n))) {
            free(c);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        snprintf(c->token_header, n, "X-Service-Token: %s", env->service_token);
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->token_header);
        free(c);
        snprintf(err, errlen, "cannot create the client's lock");
        return NULL;
    }
    c->multi = curl_multi_init();
    if (!c->multi) {
        snprintf(err, errlen, "curl_multi_init failed");
        http_client_destroy(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)MAX_CONNECTS);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_HOST_CONNECTIONS);
    return c;
}

int http_client_start(http_client *c, char *err, size_t errlen) {
    if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
        snprintf(err, errlen, "cannot start the client thread: %s", strerror(errno));
        return -1;
    }
    c->thread_started = 1;
    return 0;
}

void http_client_stop(http_client *c) {
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    if (c->multi && c->thread_started) curl_multi_wakeup(c->multi);
    pthread_mutex_unlock(&c->mu);
    if (c->thread_started) {
        pthread_join(c->thread, NULL);
        c->thread_started = 0;
    }
    /* The thread is gone: drop calls in flight, queued calls and timers. */
    while (c->active) {
        ccall *cc = c->active;
        active_unlink(c, cc);
        curl_multi_remove_handle(c->multi, cc->easy);
        release_call(c, cc);
    }
    while (c->in_head) {
        ccall *next = c->in_head->next;
        release_call(c, c->in_head);
        c->in_head = next;
    }
    c->in_tail = NULL;
    c->heap_len = 0;
}

void http_client_destroy(http_client *c) {
    if (!c) return;
    http_client_stop(c);
    for (size_t i = 0; i < c->pool_len; i++) curl_easy_cleanup(c->pool[i]);
    if (c->multi) curl_multi_cleanup(c->multi);
    pthread_mutex_destroy(&c->mu);
    if (c->token_header) memset(c->token_header, 0, strlen(c->token_header));
    free(c->token_header);
    free(c->heap);
    free(c->due);
    free(c);
}
