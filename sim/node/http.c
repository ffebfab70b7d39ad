/*
 * http.c: libcurl-like client and libmicrohttpd-like server over the TCP model (see http.h).
 */
#include "sim/node/http.h"

#include <stdlib.h>
#include <string.h>

#include "base/freelist.h"
#include "base/kinds.h"
#include "base/list.h"
#include "base/smallalloc.h"
#include "base/units.h"

/* ---- messages ---- */

/* Copies n bytes of s and a NUL to *cursor, advancing it; returns the copy. */
static const char *put_text(char **cursor, const char *s, size_t n) {
    char *d = *cursor;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    *cursor = d + n + 1;
    return d;
}

static sim_http_msg *msg_alloc(size_t text_bytes) {
    sim_http_msg *m = pc_small_alloc(sizeof *m + text_bytes); /* the text is written in full by the caller */
    if (!m) abort();
    memset(m, 0, sizeof *m);
    m->refs = 1;
    return m;
}

sim_http_msg *sim_http_msg_request(const char *method, const char *path, const char *body, size_t body_len,
                                   const char *key, int forwarded, const char *host_header) {
    size_t path_len = strlen(path), key_len = key ? strlen(key) : 0;
    sim_http_msg *m = msg_alloc(path_len + 1 + (key ? key_len + 1 : 0) + (body ? body_len + 1 : 0));
    char *cursor = m->text;
    size_t method_len = strlen(method);
    memcpy(m->method, method,
           method_len < sizeof m->method ? method_len : sizeof m->method - 1); /* zeroed by msg_alloc */
    m->path = put_text(&cursor, path, path_len);
    if (body) {
        m->body = put_text(&cursor, body, body_len);
        m->body_len = body_len;
        m->content_type = "application/json";
    }
    if (key) m->idempotency_key = put_text(&cursor, key, key_len);
    m->forwarded = forwarded;
    /* request line, Host and Accept headers as libcurl writes them, plus our own headers and the body */
    size_t bytes = method_len + 1 + path_len + 11 + 8 + strlen(host_header) + 13 + 2;
    if (body) bytes += 32 + 18 + body_len; /* Content-Type: application/json, Content-Length */
    if (key) bytes += 19 + key_len;
    if (forwarded) bytes += 25;
    m->wire_bytes = (uint32_t)bytes;
    return m;
}

sim_http_msg *sim_http_msg_response(int status, const char *body, size_t body_len, const char *content_type,
                                    const char *allow) {
    size_t allow_len = allow ? strlen(allow) : 0;
    sim_http_msg *m = msg_alloc(body_len + 1 + (allow ? allow_len + 1 : 0));
    char *cursor = m->text;
    m->is_response = 1;
    if (allow) m->allow = put_text(&cursor, allow, allow_len);
    m->status = status;
    m->body = put_text(&cursor, body ? body : "", body_len);
    m->body_len = body_len;
    /* status line, Connection: Keep-Alive, Content-Length, Content-Type, Date, blank line */
    size_t bytes = 17 + 24 + 18 + 16 + (content_type ? strlen(content_type) : 16) + 37 + 2 + body_len +
                   (allow ? 9 + allow_len : 0);
    m->wire_bytes = (uint32_t)bytes;
    return m;
}

void sim_http_msg_set_content_type(sim_http_msg *m, const char *content_type) {
    size_t old = m->content_type ? 16 + strlen(m->content_type) : 0;
    free(m->content_type_set);
    m->content_type_set = NULL;
    if (content_type) {
        m->content_type_set = strdup(content_type);
        if (!m->content_type_set) abort();
    }
    m->content_type = m->content_type_set;
    m->wire_bytes = (uint32_t)(m->wire_bytes - old + (content_type ? 16 + strlen(content_type) : 0));
}

sim_http_msg *sim_http_msg_ref(sim_http_msg *m) {
    m->refs++;
    return m;
}

void sim_http_msg_free(void *p) {
    sim_http_msg *m = p;
    if (!m || --m->refs > 0) return;
    free(m->content_type_set);
    pc_small_free(m);
}

/* ---- client ---- */

enum cconn_state { CC_CONNECTING = 0, CC_BUSY, CC_IDLE };

typedef struct exchange exchange;

typedef struct cconn {
    tcp_conn *tcp;
    sim_http_client *client;
    sim_addr dst;
    int port;
    int state;
    int64_t idle_since;
    exchange *ex;
    uint64_t serial;   /* creation order: the order of sim_http_client.conns */
    pc_link link;      /* in sim_http_client.conns */
    pc_link idle_link; /* in sim_http_client.idle while CC_IDLE */
} cconn;

struct exchange {
    sim_http_client *client;
    sim_http_msg *req;
    sim_addr dst;
    int port;
    int64_t start;
    sim_event_id deadline;
    sim_http_done_fn done;
    void *ctx;
    cconn *conn;
    int reused, retried;
    svc_call_outcome async_outcome;
    pc_link link; /* in sim_http_client.exs */
};

struct sim_http_client {
    sim_net *net;
    sim_host *host;
    sim_http_client_config cfg;
    pc_link conns; /* every connection (busy or idle), oldest first */
    pc_link idle;  /* the idle ones, in the same order (a reuse looks only at these) */
    pc_link exs;   /* every exchange in flight */
    uint64_t next_serial;
    freelist spare_conns, spare_exchanges; /* freed ones, for reuse */
    int nidle;
    int inflight;
    sim_http_client_stats stats;
};

void sim_http_client_config_defaults(sim_http_client_config *cfg) {
    memset(cfg, 0, sizeof *cfg); /* a field not named below is 0, also in a config on the stack */
    cfg->keepalive = 1;
    cfg->max_idle = 64;
    cfg->max_age_ns = 118 * SEC;
}

static sim_engine *CE(sim_http_client *c) { return net_engine(c->net); }

sim_http_client *sim_http_client_new(sim_net *net, sim_host *host, const sim_http_client_config *cfg) {
    sim_http_client *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->net = net;
    c->host = host;
    c->cfg = *cfg;
    pc_list_init(&c->conns);
    pc_list_init(&c->idle);
    pc_list_init(&c->exs);
    c->spare_conns = FREELIST_INIT(cconn);
    c->spare_exchanges = FREELIST_INIT(exchange);
    return c;
}

const sim_http_client_stats *sim_http_client_get_stats(const sim_http_client *c) { return &c->stats; }
int sim_http_client_inflight(const sim_http_client *c) { return c->inflight; }

static cconn *cconn_of(pc_link *l) { return PC_CONTAINER_OF(l, cconn, link); }
static cconn *idle_of(pc_link *l) { return PC_CONTAINER_OF(l, cconn, idle_link); }

/* A connection becomes idle: it joins c->idle at its place in creation order, so that walking the idle
 * list meets connections in the order a walk over every connection would (the reuse choice and the
 * eviction of the oldest are the same), without stepping over the busy ones, which at high loss are most. */
static void idle_enter(cconn *k) {
    sim_http_client *c = k->client;
    k->state = CC_IDLE;
    k->idle_since = sim_now(CE(c));
    c->nidle++;
    /* from the oldest: the connections that go idle again are mostly the long-lived ones (measured: two
     * steps on average from the head, twenty from the tail, at 80 % loss) */
    pc_link *before = c->idle.next;
    while (before != &c->idle && idle_of(before)->serial < k->serial) before = before->next;
    pc_list_push(before, &k->idle_link);
}

static void idle_leave(cconn *k, int state) {
    k->state = state;
    k->client->nidle--;
    pc_list_remove(&k->idle_link);
}

/* Closes and forgets a connection (FIN; the kernel finishes it without us). */
static void conn_drop(cconn *k, int reset) {
    if (k->state == CC_IDLE) idle_leave(k, CC_BUSY);
    if (reset)
        tcp_abort(k->tcp, TCP_CLIENT);
    else
        tcp_close(k->tcp, TCP_CLIENT);
    pc_list_remove(&k->link);
    freelist_give(&k->client->spare_conns, k);
}

static void ex_finish(exchange *x, svc_call_outcome outcome, const sim_http_msg *resp) {
    sim_http_client *c = x->client;
    sim_cancel(CE(c), &x->deadline);
    pc_list_remove(&x->link);
    c->inflight--;
    sim_http_result r = {.outcome = outcome,
                         .status = resp ? resp->status : 0,
                         .allow = resp ? resp->allow : NULL,
                         .body = resp ? resp->body : NULL,
                         .body_len = resp ? resp->body_len : 0,
                         .elapsed_ns = sim_now(CE(c)) - x->start,
                         .reused = x->reused,
                         .retried_fresh = x->retried};
    if (outcome == SVC_CALL_TIMEOUT)
        c->stats.timeouts++;
    else if (outcome == SVC_CALL_REFUSED)
        c->stats.refused++;
    else if (outcome == SVC_CALL_RESET)
        c->stats.resets++;
    sim_http_done_fn done = x->done;
    void *ctx = x->ctx;
    sim_http_msg_free(x->req);
    freelist_give(&c->spare_exchanges, x);
    done(ctx, &r);
}

static void send_on(exchange *x, cconn *k) {
    k->ex = x;
    if (k->state == CC_IDLE) idle_leave(k, CC_BUSY);
    k->state = CC_BUSY;
    x->conn = k;
    sim_http_msg *sent = sim_http_msg_ref(x->req); /* the TCP model's reference; x keeps its own for a retry */
    tcp_send(k->tcp, TCP_CLIENT, sent->wire_bytes, sent, sim_http_msg_free);
}

static void c_connected(void *ctx, tcp_conn *t) {
    (void)t;
    cconn *k = ctx;
    if (k->ex) send_on(k->ex, k);
}

static void c_message(void *ctx, tcp_conn *t, void *msg) {
    (void)t;
    cconn *k = ctx;
    sim_http_client *c = k->client;
    sim_http_msg *resp = msg;
    exchange *x = k->ex;
    if (!x) {
        sim_http_msg_free(resp); /* an answer nobody waits for any more */
        return;
    }
    k->ex = NULL;
    x->conn = NULL;
    if (c->cfg.keepalive && !tcp_peer_closed(k->tcp, TCP_CLIENT)) {
        idle_enter(k);
        if (c->nidle > c->cfg.max_idle) conn_drop(idle_of(c->idle.next), 0); /* full: close the oldest idle one */
    } else {
        conn_drop(k, 0);
    }
    ex_finish(x, SVC_CALL_OK, resp);
    sim_http_msg_free(resp);
}

static void start_fresh(exchange *x);

/* The connection died under an exchange: libcurl's transparent retry for reused connections. */
static void conn_failed(cconn *k, svc_call_outcome outcome, int reset) {
    exchange *x = k->ex;
    sim_http_client *c = k->client;
    k->ex = NULL;
    conn_drop(k, reset);
    if (!x) return;
    x->conn = NULL;
    if (x->reused && !x->retried && outcome == SVC_CALL_RESET) {
        x->retried = 1;
        x->reused = 0;
        c->stats.fresh_retries++;
        start_fresh(x);
        return;
    }
    ex_finish(x, outcome, NULL);
}

static void c_peer_closed(void *ctx, tcp_conn *t) {
    (void)t;
    cconn *k = ctx;
    if (k->state == CC_IDLE) {
        conn_drop(k, 0); /* libcurl finds it dead at the next reuse check */
        return;
    }
    conn_failed(k, SVC_CALL_RESET, 0); /* "Empty reply from server" */
}

static void c_error(void *ctx, tcp_conn *t, tcp_error err) {
    (void)t;
    cconn *k = ctx;
    svc_call_outcome o = SVC_CALL_RESET;
    if (err == TCP_ERR_REFUSED || err == TCP_ERR_UNREACHABLE)
        o = SVC_CALL_REFUSED;
    else if (err == TCP_ERR_TIMEDOUT)
        o = SVC_CALL_TIMEOUT;
    if (k->state == CC_IDLE) idle_leave(k, CC_BUSY);
    /* the TCP side is already finished: closing it again is a no-op */
    conn_failed(k, o, 0);
}

static const tcp_app client_app = {c_connected, c_message, c_peer_closed, c_error};

static void start_fresh(exchange *x) {
    sim_http_client *c = x->client;
    cconn *k = freelist_take(&c->spare_conns);
    k->client = c;
    k->dst = x->dst;
    k->port = x->port;
    k->state = CC_CONNECTING;
    k->ex = x;
    k->serial = c->next_serial++;
    x->conn = k;
    pc_list_push(&c->conns, &k->link);
    pc_list_init(&k->idle_link);
    c->stats.connects++;
    k->tcp = tcp_connect(c->net, c->host, x->dst, x->port, &client_app, k);
}

static void deadline_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    exchange *x = ctx;
    x->deadline = SIM_NO_EVENT;
    if (x->conn) {
        cconn *k = x->conn;
        k->ex = NULL;
        x->conn = NULL;
        conn_drop(k, 0); /* curl closes the connection after a timeout */
    }
    ex_finish(x, SVC_CALL_TIMEOUT, NULL);
}

void sim_http_request(sim_http_client *c, sim_addr dst, int port, sim_http_msg *req, int64_t timeout_ns,
                      sim_http_done_fn done, void *ctx) {
    exchange *x = freelist_take(&c->spare_exchanges);
    x->client = c;
    x->req = req;
    x->dst = dst;
    x->port = port;
    x->start = sim_now(CE(c));
    x->done = done;
    x->ctx = ctx;
    pc_list_push(&c->exs, &x->link);
    c->inflight++;
    c->stats.exchanges++;
    x->deadline = sim_after(CE(c), timeout_ns, SIM_K_HTTP_DEADLINE, c->host->id, deadline_fired, x, 0);
    if (c->cfg.keepalive) {
        int64_t now = sim_now(CE(c));
        for (pc_link *l = c->idle.next, *next; l != &c->idle; l = next) {
            next = l->next; /* conn_drop unlinks k */
            cconn *k = idle_of(l);
            if (k->dst == dst && k->port == port) {
                if (tcp_peer_closed(k->tcp, TCP_CLIENT) || now - k->idle_since > c->cfg.max_age_ns) {
                    conn_drop(k, 0);
                } else {
                    x->reused = 1;
                    c->stats.reuses++;
                    send_on(x, k);
                    return;
                }
            }
        }
    }
    start_fresh(x);
}

static void async_fail_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    exchange *x = ctx;
    ex_finish(x, x->async_outcome, NULL);
}

void sim_http_fail_async(sim_http_client *c, svc_call_outcome outcome, sim_http_done_fn done, void *ctx) {
    exchange *x = freelist_take(&c->spare_exchanges);
    x->client = c;
    x->start = sim_now(CE(c));
    x->done = done;
    x->ctx = ctx;
    x->async_outcome = outcome;
    pc_list_push(&c->exs, &x->link);
    c->inflight++;
    x->deadline = sim_after(CE(c), 0, SIM_K_HTTP_ASYNC, c->host->id, async_fail_fired, x, (uint64_t)outcome);
}

void sim_http_client_abort_all(sim_http_client *c) {
    while (!pc_list_empty(&c->exs)) {
        exchange *x = PC_CONTAINER_OF(c->exs.next, exchange, link);
        sim_cancel(CE(c), &x->deadline);
        pc_list_remove(&x->link);
        sim_http_msg_free(x->req);
        freelist_give(&c->spare_exchanges, x);
        c->inflight--;
    }
    while (!pc_list_empty(&c->conns)) {
        cconn *k = cconn_of(c->conns.next);
        k->ex = NULL;
        conn_drop(k, 0);
    }
}

void sim_http_client_free(sim_http_client *c) {
    if (!c) return;
    sim_http_client_abort_all(c);
    freelist_clear(&c->spare_conns);
    freelist_clear(&c->spare_exchanges);
    free(c);
}

/* ---- server ---- */

typedef struct sconn {
    tcp_conn *tcp;
    sim_http_server *srv;
    sim_http_pending *pending;
    int peer_gone;
    sim_event_id idle;
    int64_t idle_deadline; /* lazily checked: the timer is moved only when it fires early */
    uint32_t served;       /* requests received on this connection */
    pc_link link;          /* in sim_http_server.conns */
} sconn;

struct sim_http_pending {
    sconn *conn; /* NULL once the connection is gone */
    int first;   /* the first request of its connection */
    sim_http_server *srv;
    sim_http_msg *req;
    pc_link link; /* in sim_http_server.pendings */
};

struct sim_http_server {
    sim_net *net;
    sim_host *host;
    int port;
    int64_t idle_timeout_ns;
    sim_http_request_fn on_request;
    void *ctx;
    pc_link conns;                        /* every accepted connection */
    pc_link pendings;                     /* every request not yet answered */
    freelist spare_conns, spare_pendings; /* freed ones, for reuse */
};

static sim_engine *SE(sim_http_server *s) { return net_engine(s->net); }

static void sconn_free(sconn *k) {
    sim_cancel(SE(k->srv), &k->idle);
    if (k->pending) k->pending->conn = NULL;
    pc_list_remove(&k->link);
    freelist_give(&k->srv->spare_conns, k);
}

static void idle_fired(sim_engine *e, void *ctx, uint64_t arg) {
    (void)arg;
    sconn *k = ctx;
    k->idle = SIM_NO_EVENT;
    if (k->pending || sim_now(e) < k->idle_deadline) {
        /* busy, or used again since the timer was set: check again at the new deadline */
        int64_t at = k->pending ? sim_now(e) + k->srv->idle_timeout_ns : k->idle_deadline;
        k->idle = sim_at(e, at, SIM_K_IDLE, tcp_conn_id(k->tcp), idle_fired, k, 1);
        return;
    }
    tcp_close(k->tcp, TCP_SERVER);
    sconn_free(k);
}

/* MHD's CONNECTION_TIMEOUT: the connection closes after idle_timeout without a request. */
static void arm_idle(sconn *k) {
    k->idle_deadline = sim_now(SE(k->srv)) + k->srv->idle_timeout_ns;
    if (!sim_is_pending(SE(k->srv), k->idle))
        k->idle = sim_at(SE(k->srv), k->idle_deadline, SIM_K_IDLE, tcp_conn_id(k->tcp), idle_fired, k, 1);
}

static void s_message(void *ctx, tcp_conn *t, void *msg) {
    (void)t;
    sconn *k = ctx;
    sim_http_server *s = k->srv;
    sim_http_pending *p = freelist_take(&s->spare_pendings);
    p->conn = k;
    p->srv = s;
    p->req = msg;
    p->first = k->served++ == 0;
    pc_list_push(&s->pendings, &p->link);
    k->pending = p;
    s->on_request(s->ctx, p, p->req);
}

int sim_http_pending_first(const sim_http_pending *p) { return p->first; }

static void s_peer_closed(void *ctx, tcp_conn *t) {
    (void)t;
    sconn *k = ctx;
    if (k->pending) {
        k->peer_gone = 1; /* answer first (the client may already be gone), then close */
        return;
    }
    tcp_close(k->tcp, TCP_SERVER);
    sconn_free(k);
}

static void s_error(void *ctx, tcp_conn *t, tcp_error err) {
    (void)t;
    (void)err;
    sconn_free(ctx);
}

static const tcp_app server_app = {NULL, s_message, s_peer_closed, s_error};

static void s_accept(void *ctx, tcp_conn *t) {
    sim_http_server *s = ctx;
    sconn *k = freelist_take(&s->spare_conns);
    k->tcp = t;
    k->srv = s;
    pc_list_push(&s->conns, &k->link);
    tcp_set_app(t, TCP_SERVER, &server_app, k);
    arm_idle(k);
}

sim_http_server *sim_http_server_new(sim_net *net, sim_host *host, int port, int64_t idle_timeout_ns,
                                     sim_http_request_fn on_request, void *ctx) {
    sim_http_server *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->net = net;
    s->host = host;
    s->port = port;
    s->idle_timeout_ns = idle_timeout_ns;
    s->on_request = on_request;
    s->ctx = ctx;
    pc_list_init(&s->conns);
    pc_list_init(&s->pendings);
    s->spare_conns = FREELIST_INIT(sconn);
    s->spare_pendings = FREELIST_INIT(sim_http_pending);
    tcp_listen(net, host, port, s_accept, s);
    return s;
}

static void pending_free(sim_http_pending *p) {
    pc_list_remove(&p->link);
    sim_http_msg_free(p->req);
    freelist_give(&p->srv->spare_pendings, p);
}

void sim_http_server_reply(sim_http_server *s, sim_http_pending *p, sim_http_msg *resp) {
    (void)s;
    sconn *k = p->conn;
    pending_free(p);
    if (!k) {
        sim_http_msg_free(resp);
        return;
    }
    k->pending = NULL;
    tcp_send(k->tcp, TCP_SERVER, resp->wire_bytes, resp, sim_http_msg_free);
    if (k->peer_gone) {
        tcp_close(k->tcp, TCP_SERVER);
        sconn_free(k);
        return;
    }
    arm_idle(k);
}

void sim_http_server_abort_all(sim_http_server *s) {
    /* TCP state is torn down by tcp_host_crash(); here only our bookkeeping goes. */
    while (!pc_list_empty(&s->conns)) sconn_free(PC_CONTAINER_OF(s->conns.next, sconn, link));
    while (!pc_list_empty(&s->pendings)) pending_free(PC_CONTAINER_OF(s->pendings.next, sim_http_pending, link));
}

void sim_http_server_free(sim_http_server *s) {
    if (!s) return;
    sim_http_server_abort_all(s);
    freelist_clear(&s->spare_conns);
    freelist_clear(&s->spare_pendings);
    free(s);
}
