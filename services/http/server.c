/*
 * server.c: libmicrohttpd front end (contract in server.h).
 *
 * A request's state (http_request) is created by the URI-log callback, which also keeps the raw query
 * string (libmicrohttpd strips it from the URL it passes on), and freed by the completion callback.
 * Fields written while the request is with the shell (the reply) are guarded by the gate; everything else
 * belongs to the worker thread that owns the connection.
 */
#include "services/http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "services/core/config.h"
#include "services/http/conns.h"
#include "services/http/log.h"

#define ALLOW_MAX 64

typedef struct http_server http_server;

/* One libmicrohttpd daemon with its own thread and its own listening socket. */
typedef struct http_worker {
    struct MHD_Daemon *daemon;
    MHD_socket listen_fd; /* returned by quiesce; closed after stop */
    http_server *server;
    int index;
} http_worker;

struct http_server {
    svc_shell *shell;
    http_gate *gate;
    int port;
    atomic_int draining;
    atomic_size_t active;
    http_conns *conns;
    const char *service_token;
    char *const *api_keys;
    size_t api_key_count;
    int nworkers;
    http_worker workers[];
};

typedef struct http_request {
    http_server *server;
    struct MHD_Connection *conn;
    http_deferred resume;
    int started;    /* headers seen */
    int dispatched; /* handed to the shell (and counted in `active`) */
    svc_request req;
    char *query; /* raw text after '?', owned */
    char *body;  /* owned */
    size_t body_len, body_cap;
    int too_large;
    /* the reply: written under the gate */
    int in_handle; /* inside svc_shell_handle on the worker thread: a reply now is synchronous */
    int replied;
    int sent;     /* the response was queued (worker thread) */
    int orphaned; /* the connection went away before the reply (defensive; see on_completed) */
    int status;
    char *resp_body; /* owned until handed to libmicrohttpd */
    size_t resp_len;
    const char *resp_type;
    char allow[ALLOW_MAX];
} http_request;

static void request_free(http_request *rq) {
    free(rq->query);
    free(rq->body);
    free(rq->resp_body);
    free(rq);
}

static http_request *request_new(http_server *s, struct MHD_Connection *conn, const char *uri) {
    http_request *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    rq->server = s;
    rq->conn = conn;
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (q && q[1]) rq->query = strdup(q + 1); /* without memory the query is lost, not the request */
    return rq;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the raw URI, before libmicrohttpd splits off the query. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) { return request_new(cls, conn, uri); }

/* The guard's record of the connection (MHD_OPTION_NOTIFY_CONNECTION's socket context), or NULL. */
static http_conn *conn_record(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    http_worker *w = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? http_conns_opened(w->server->conns, w->index, info->connect_fd) : NULL;
    } else {
        http_conns_closed(w->server->conns, *socket_context);
        *socket_context = NULL;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)toe;
    http_server *s = cls;
    http_request *rq = *con_cls;
    *con_cls = NULL;
    if (!rq) return;
    if (rq->started) http_conns_request_ends(s->conns, conn_record(conn));
    if (rq->dispatched) atomic_fetch_sub(&s->active, 1);
    if (rq->dispatched && !rq->sent) {
        /* A suspended connection cannot be closed, so the reply has always been sent before this point;
         * should that ever change, the reply callback frees the request instead of writing freed memory. */
        http_gate_enter(s->gate);
        int pending = !rq->replied;
        if (pending) rq->orphaned = 1;
        http_gate_leave(s->gate);
        if (pending) return;
    }
    request_free(rq);
}

static void resume_connection(void *arg) { MHD_resume_connection(arg); }

/* svc_reply_fn: runs under the gate, on the worker (synchronous) or on the thread delivering a callback. */
static void on_reply(void *ctx, svc_response *resp) {
    http_request *rq = ctx;
    if (rq->orphaned) {
        free(resp->body);
        request_free(rq);
        return;
    }
    rq->status = resp->status;
    rq->resp_body = resp->body;
    rq->resp_len = resp->body ? resp->body_len : 0;
    rq->resp_type = resp->content_type;
    snprintf(rq->allow, sizeof rq->allow, "%s", resp->allow ? resp->allow : "");
    rq->replied = 1;
    if (!rq->in_handle) {
        rq->resume.fn = resume_connection;
        rq->resume.arg = rq->conn;
        http_gate_defer(rq->server->gate, &rq->resume);
    }
}

static enum MHD_Result queue(http_server *s, struct MHD_Connection *conn, int status, char *body, size_t len,
                             const char *type, const char *allow, int close) {
    struct MHD_Response *r = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow && *allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (atomic_load(&s->draining) || close) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned int)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_reply(http_request *rq, struct MHD_Connection *conn) {
    char *body = rq->resp_body;
    rq->resp_body = NULL; /* handed to libmicrohttpd */
    rq->sent = 1;
    return queue(rq->server, conn, rq->status, body, rq->resp_len, rq->resp_type, rq->allow, 0);
}

/* First call, headers complete: sizes the body buffer from Content-Length (413 early for huge bodies). */
static void begin(http_request *rq, struct MHD_Connection *conn) {
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (n > SVC_BODY_MAX_BYTES)
            rq->too_large = 1;
        else if (n > 0 && (rq->body = malloc((size_t)n)))
            rq->body_cap = (size_t)n;
    }
}

/* A body chunk: kept while the total stays within SVC_BODY_MAX_BYTES, discarded beyond. */
static void absorb(http_request *rq, const char *data, size_t n) {
    if (rq->too_large) return;
    if (rq->body_len + n > SVC_BODY_MAX_BYTES) {
        rq->too_large = 1;
        free(rq->body);
        rq->body = NULL;
        rq->body_len = rq->body_cap = 0;
        return;
    }
    if (rq->body_len + n > rq->body_cap) {
        size_t cap = rq->body_cap ? rq->body_cap : 1024;
        while (cap < rq->body_len + n) cap *= 2;
        if (cap > SVC_BODY_MAX_BYTES) cap = SVC_BODY_MAX_BYTES;
        char *grown = realloc(rq->body, cap);
        if (!grown) { /* treat as too large: the client gets a clear 413 rather than a truncated body */
            rq->too_large = 1;
            return;
        }
        rq->body = grown;
        rq->body_cap = cap;
    }
    memcpy(rq->body + rq->body_len, data, n);
    rq->body_len += n;
}

/* Whether `sent` equals the secret, in time that depends only on the secret's length. */
static int same_secret(const char *sent, const char *secret) {
    size_t ns = strlen(sent), n = strlen(secret);
    volatile unsigned char diff = ns != n;
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)((i < ns ? sent[i] : 0) ^ secret[i]);
    return diff == 0;
}

static svc_auth service_auth(const http_server *s, struct MHD_Connection *conn) {
    if (!s->service_token) return SVC_AUTH_OFF;
    const char *sent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Service-Token");
    if (!sent) return SVC_AUTH_MISSING;
    return same_secret(sent, s->service_token) ? SVC_AUTH_VALID : SVC_AUTH_WRONG;
}

/* "Authorization: Bearer <key>" against every key, without stopping at the first match. */
static svc_auth client_auth(const http_server *s, struct MHD_Connection *conn) {
    if (!s->api_keys) return SVC_AUTH_OFF;
    const char *sent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!sent) return SVC_AUTH_MISSING;
    if (strncasecmp(sent, "Bearer ", 7) != 0) return SVC_AUTH_WRONG;
    int match = 0;
    for (size_t i = 0; i < s->api_key_count; i++) match |= same_secret(sent + 7, s->api_keys[i]);
    return match ? SVC_AUTH_VALID : SVC_AUTH_WRONG;
}

static enum MHD_Result dispatch(http_server *s, http_request *rq, struct MHD_Connection *conn, const char *url,
                                const char *method) {
    rq->dispatched = 1;
    atomic_fetch_add(&s->active, 1);
    svc_request *q = &rq->req;
    q->method = method;
    q->path = url;
    q->query = rq->query;
    q->content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    q->idempotency_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    const char *fw = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-To-Owner");
    q->forwarded = fw && !strcmp(fw, "1");
    q->body = rq->body;
    q->body_len = rq->body_len;
    q->body_too_large = rq->too_large;
    q->service = service_auth(s, conn);
    q->client = client_auth(s, conn);

    int suspended = 0;
    int open = http_gate_enter(s->gate);
    if (open) {
        rq->in_handle = 1;
        svc_shell_handle(s->shell, q, on_reply, rq);
        rq->in_handle = 0;
        if (!rq->replied) {
            /* Under the gate, so the reply (also under the gate) cannot arrive before the suspension. */
            MHD_suspend_connection(conn);
            suspended = 1;
        }
    }
    http_gate_leave(s->gate);
    if (!open) {
        static const char closing[] = "{\"error\":\"shutting_down\",\"message\":\"the service is stopping\"}";
        char *body = strdup(closing);
        rq->sent = 1;
        return queue(s, conn, 503, body, body ? strlen(body) : 0, "application/json", NULL, 1);
    }
    if (suspended) return MHD_YES;
    return send_reply(rq, conn);
}

/* What the header block says about where the body ends. */
typedef struct framing {
    int lengths, lengths_differ, codings, unknown_coding, bad_name;
    const char *first_length;
} framing;

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    framing *f = cls;
    if (strpbrk(key, " \t")) f->bad_name = 1;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (f->lengths++ == 0)
            f->first_length = value;
        else if (strcmp(value ? value : "", f->first_length ? f->first_length : "") != 0)
            f->lengths_differ = 1;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->codings++;
        if (!value || strcasecmp(value, "chunked") != 0) f->unknown_coding = 1;
    }
    return MHD_YES;
}

/* Request smuggling behind a proxy starts with a request whose end two parsers read differently: such a
 * request is answered 400 with Connection: close, before service code runs. A transfer coding other than
 * chunked alone is 400 too: where chunked is not the final coding the body's length cannot be determined and
 * RFC 9112 section 6.3 requires 400 and a close; a stack of codings ending in chunked would allow the 501 of
 * section 6.1, but a 5xx tells a monitor the server failed when the request was at fault. Returns 1 when it
 * answered. */
static int refuse_framing(http_server *s, http_request *rq, struct MHD_Connection *conn) {
    framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_header, &f);
    const char *code = NULL, *msg = NULL;
    const int status = 400;
    if (f.bad_name) {
        code = "invalid_header", msg = "whitespace in a header name";
    } else if (f.lengths && f.codings) {
        code = "ambiguous_framing", msg = "Content-Length together with Transfer-Encoding";
    } else if (f.lengths_differ) {
        code = "ambiguous_framing", msg = "Content-Length given twice with different values";
    } else if (f.codings > 1 || f.unknown_coding) {
        code = "unsupported_transfer_coding", msg = "only Transfer-Encoding: chunked is supported";
    }
    if (!code) return 0;
    char *body = malloc(192);
    if (body) snprintf(body, 192, "{\"error\":\"%s\",\"message\":\"%s\"}", code, msg);
    rq->sent = 1;
    queue(s, conn, status, body, body ? strlen(body) : 0, "application/json", NULL, 1);
    return 1;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
    (void)version;
    http_server *s = cls;
    http_request *rq = *con_cls;
    if (!rq) { /* the URI callback ran out of memory */
        if (!(rq = request_new(s, conn, NULL))) return MHD_NO;
        *con_cls = rq;
    }
    if (!rq->started) {
        /* Even without a body, answer only on the next call: a response queued now, before libmicrohttpd
         * has finished reading the request, makes it close the connection (no keep-alive). Except when the
         * framing is ambiguous: then closing is the point (where the next request starts is unknowable). */
        rq->started = 1;
        http_conns_request_begins(s->conns, conn_record(conn));
        if (refuse_framing(s, rq, conn)) return MHD_YES;
        begin(rq, conn);
        return MHD_YES;
    }
    if (rq->sent && !rq->dispatched) { /* refused for its framing: the rest is not read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        absorb(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!rq->dispatched) return dispatch(s, rq, conn, url, method);
    /* Resumed: the reply is in. It was written under the gate before the resume, and libmicrohttpd's own
     * lock around resuming orders that before this read. */
    return send_reply(rq, conn);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    svc_utf8_scrub(msg); /* libmicrohttpd may quote the client's bytes */
    http_log_event(SVC_LOG_WARN, "http_server", NULL, "%s", msg);
}

/* Sets the port of an AF_INET or AF_INET6 address. */
static void sockaddr_set_port(struct sockaddr *addr, int port) {
    if (addr->sa_family == AF_INET)
        ((struct sockaddr_in *)(void *)addr)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)(void *)addr)->sin6_port = htons((uint16_t)port);
}

/* Whether another socket holds addr's port: a bind without SO_REUSEPORT fails then. The workers bind with
 * SO_REUSEPORT, which would let them join another process's sockets on that port (a second copy of the
 * service, say) and share its connections without an error; this probe keeps "port in use" an error.
 * Returns 0, or -1 with errno. */
static int probe_port(struct sockaddr *addr, socklen_t len) {
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    /* SO_REUSEADDR as the daemons have it: connections of an earlier run left in TIME_WAIT do not hold the
     * port, a listening socket does. */
    int on = 1;
    int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (rc == 0) rc = bind(fd, addr, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Starts worker i's daemon (w->daemon stays NULL on failure). libmicrohttpd's own connection limit sits
 * above the guard's share: the guard sheds an idle connection for every one accepted beyond its share, and
 * the shed ones take a poll round to be freed. */
static void start_worker(http_server *s, int i, unsigned flags, struct sockaddr *addr, unsigned share) {
    unsigned int limit = share + (share / 4 > 16 ? share / 4 : 16);
    http_worker *w = &s->workers[i];
    w->listen_fd = MHD_INVALID_SOCKET;
    w->server = s;
    w->index = i;
    w->daemon = MHD_start_daemon(flags, (uint16_t)s->port, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER,
                                 on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_LISTENING_ADDRESS_REUSE,
                                 (unsigned int)1, MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned int)HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                                 on_connection, w, MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
}

/* Shares the connection limit out as libmicrohttpd's thread pool does (the first `limit % n` workers take
 * one more) into limits[0..n), and starts the flood guard with those shares. */
static int start_guard(http_server *s, const http_server_config *cfg, int n, unsigned limits[64]) {
    for (int i = 0; i < n && i < 64; i++) {
        limits[i] = (unsigned)(cfg->connection_limit / n + (i < cfg->connection_limit % n));
        if (!limits[i]) limits[i] = 1;
    }
    s->conns = http_conns_create(n, limits, cfg->header_timeout_ms * 1000000);
    if (s->conns && http_conns_start(s->conns) == 0) return 0;
    http_conns_destroy(s->conns);
    s->conns = NULL;
    return -1;
}

/* The address the workers listen on, parsed from the bind address. */
typedef struct http_listen_addr {
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } u;
    struct sockaddr *sa; /* points into u */
    socklen_t len;
    unsigned int mhd_flags; /* the daemons' flags (MHD_USE_IPv6 for an IPv6 address) */
} http_listen_addr;

/* Parses an IPv4 or IPv6 literal with the port; 0, or -1 with err set. */
static int listen_addr_parse(http_listen_addr *a, const char *bind_address, int port, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    a->mhd_flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (inet_pton(AF_INET, bind_address, &a->u.v4.sin_addr) == 1) {
        a->u.v4.sin_family = AF_INET;
        a->sa = (struct sockaddr *)&a->u.v4;
        a->len = sizeof a->u.v4;
    } else if (inet_pton(AF_INET6, bind_address, &a->u.v6.sin6_addr) == 1) {
        a->u.v6.sin6_family = AF_INET6;
        a->sa = (struct sockaddr *)&a->u.v6;
        a->len = sizeof a->u.v6;
        a->mhd_flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "bad bind address %s", bind_address);
        return -1;
    }
    sockaddr_set_port(a->sa, port);
    return 0;
}

/* One daemon per thread, each with its own listening socket on the port (SO_REUSEPORT): the kernel spreads
 * connections over them by their addresses. A pool of threads sharing one listening socket (libmicrohttpd's
 * MHD_OPTION_THREAD_POOL_SIZE) races for connections that arrive together, and one thread can take all of
 * them: wrk's 16 connections all landed on one of two threads in 4 runs of 16, at ~30 % less throughput for
 * the whole run (tests/bench/run.sh). `limits`: each worker's share of the connection limit. 0, or -1 with
 * err set and s stopped (freed). */
static int start_workers(http_server *s, const http_server_config *cfg, http_listen_addr *a, int n,
                         const unsigned *limits, char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        start_worker(s, i, a->mhd_flags, a->sa, limits[i]);
        http_worker *w = &s->workers[i];
        if (!w->daemon) {
            snprintf(err, errlen, "cannot listen on %s:%d (port in use, or not allowed)", cfg->bind_address, s->port);
            s->nworkers = i;
            http_server_stop(s);
            return -1;
        }
        s->nworkers = i + 1;
        if (i == 0 && cfg->port == 0) {
            const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
            if (!info || !info->port) {
                snprintf(err, errlen, "cannot read the port libmicrohttpd bound on %s", cfg->bind_address);
                http_server_stop(s);
                return -1;
            }
            s->port = info->port;
            sockaddr_set_port(a->sa, s->port);
        }
    }
    return 0;
}

http_server *http_server_start(const http_server_config *cfg, svc_shell *shell, http_gate *gate, char *err,
                               size_t errlen) {
    int n = cfg->threads > 0 ? cfg->threads : 1;
    http_server *s = calloc(1, sizeof *s + (size_t)n * sizeof s->workers[0]);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->shell = shell;
    s->gate = gate;
    s->service_token = cfg->service_token;
    s->api_keys = cfg->api_keys;
    s->api_key_count = cfg->api_key_count;
    atomic_init(&s->draining, 0);
    atomic_init(&s->active, 0);
    unsigned limits[64];
    if (start_guard(s, cfg, n, limits) < 0) {
        free(s);
        return snprintf(err, errlen, "cannot start the connection guard"), NULL;
    }
    http_listen_addr a;
    if (listen_addr_parse(&a, cfg->bind_address, cfg->port, err, errlen) < 0) {
        http_conns_destroy(s->conns);
        free(s);
        return NULL;
    }
    /* Port 0 (any free port) needs no probe: the first daemon's bind picks a port no socket holds (the
     * kernel's choice ignores SO_REUSEPORT), and the others then bind that one. */
    if (cfg->port != 0 && probe_port(a.sa, a.len) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d (%s)", cfg->bind_address, cfg->port, strerror(errno));
        http_conns_destroy(s->conns);
        free(s);
        return NULL;
    }
    s->port = cfg->port;
    return start_workers(s, cfg, &a, n, limits, err, errlen) < 0 ? NULL : s;
}

int http_server_port(const http_server *s) { return s->port; }

void http_server_set_draining(http_server *s) { atomic_store(&s->draining, 1); }

void http_server_close_idle(http_server *s) { http_conns_close_idle(s->conns); }

void http_server_quiesce(http_server *s) {
    atomic_store(&s->draining, 1);
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].listen_fd == MHD_INVALID_SOCKET)
            s->workers[i].listen_fd = MHD_quiesce_daemon(s->workers[i].daemon);
}

size_t http_server_active(const http_server *s) { return atomic_load(&s->active); }

void http_server_stop(http_server *s) {
    if (!s) return;
    for (int i = 0; i < s->nworkers; i++) {
        MHD_stop_daemon(s->workers[i].daemon);
        if (s->workers[i].listen_fd != MHD_INVALID_SOCKET) close(s->workers[i].listen_fd);
    }
    http_conns_destroy(s->conns); /* after the daemons: they report every connection closed first */
    free(s);
}
