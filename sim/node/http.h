/*
 * http.h: HTTP/1.1 exchanges over the TCP model, with libcurl's client behaviour and libmicrohttpd's
 * server behaviour as the real runtime has them.
 *
 * Client (libcurl 7.88 multi interface, CURLOPT_TIMEOUT_MS(3), CURLOPT_CONNECTTIMEOUT_MS(3)):
 *   - one exchange at a time per connection; idle connections are kept per destination (address, port)
 *     and reused oldest first when keep-alive is on; at most `max_idle` are kept, and a connection idle for
 *     longer than `max_age` (118 s) is closed instead of reused;
 *   - TIMEOUT_MS covers the whole exchange from the start (connect included); on expiry the result is a
 *     timeout (curl 28) and the connection is closed, so the next request pays a new handshake;
 *   - refused / unreachable connects fail at once (curl 7); a connection reset or closed before the answer
 *     is a reset (curl 52/56), except that a REUSED connection that fails before any response byte is
 *     retried once on a fresh connection, transparently;
 *   - with keep-alive off, every exchange opens and closes its own connection.
 * Server (libmicrohttpd): accepts on the host's port, hands each complete request to the owner, sends the
 * answer on the same connection, closes a connection idle for `idle_timeout` (120 s) and answers the
 * client's FIN with its own.
 *
 * Messages carry the parsed request or response plus their size on the wire (request line, headers as
 * libcurl / libmicrohttpd write them, body), which decides segmentation.
 *
 * Ownership: a request message passed to sim_http_request() belongs to the client until the done callback,
 * which receives the response (owned by the callee only during the callback). Server-side requests belong
 * to the server until sim_http_server_reply().
 */
#ifndef PC_SIM_NODE_HTTP_H
#define PC_SIM_NODE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "services/core/svc.h"
#include "sim/net/net.h"
#include "sim/net/tcp.h"

/* A request or a response. Immutable once built (except the probe's Content-Type, set before it is sent)
 * and reference-counted: the sender keeps one reference for retries while the TCP model carries another,
 * so a send costs no copy. The strings live in the same allocation as the struct. */
typedef struct sim_http_msg {
    uint32_t refs;
    int is_response;
    char method[8];
    const char *path; /* with the query, if any */
    const char *idempotency_key;
    const char *content_type; /* request: what the client declared (libcurl sends application/json with a body) */
    const char *allow;        /* response: the Allow header of a 405 */
    int forwarded;
    int status;
    const char *body;
    size_t body_len;
    uint32_t wire_bytes;
    char *content_type_set; /* owned copy behind content_type after sim_http_msg_set_content_type */
    char text[];            /* the strings above */
} sim_http_msg;

sim_http_msg *sim_http_msg_request(const char *method, const char *path, const char *body, size_t body_len,
                                   const char *idempotency_key, int forwarded, const char *host_header);
sim_http_msg *sim_http_msg_response(int status, const char *body, size_t body_len, const char *content_type,
                                    const char *allow);
/* Replaces a request's Content-Type (NULL: none), keeping the wire size consistent. Only before sending. */
void sim_http_msg_set_content_type(sim_http_msg *m, const char *content_type);
/* Another reference to m. */
sim_http_msg *sim_http_msg_ref(sim_http_msg *m);
/* Drops a reference (the message is freed with the last one); NULL is ignored. */
void sim_http_msg_free(void *msg);

typedef struct sim_http_result {
    svc_call_outcome outcome;
    int status;
    const char *allow; /* Allow header of a 405, or NULL */
    const char *body;
    size_t body_len;
    int64_t elapsed_ns;
    int reused;        /* went over a kept-alive connection */
    int retried_fresh; /* libcurl's one transparent retry happened */
} sim_http_result;

typedef void (*sim_http_done_fn)(void *ctx, const sim_http_result *r);

typedef struct sim_http_client_config {
    int keepalive;
    int max_idle;
    int64_t max_age_ns;
} sim_http_client_config;

void sim_http_client_config_defaults(sim_http_client_config *cfg);

typedef struct sim_http_client sim_http_client;
sim_http_client *sim_http_client_new(sim_net *net, sim_host *host, const sim_http_client_config *cfg);
/* Drops every exchange in flight without callbacks and closes every connection (the process died). */
void sim_http_client_abort_all(sim_http_client *c);
void sim_http_client_free(sim_http_client *c);
/* Starts an exchange; `done` runs later, exactly once (unless the client is aborted). */
void sim_http_request(sim_http_client *c, sim_addr dst, int port, sim_http_msg *req, int64_t timeout_ns,
                      sim_http_done_fn done, void *ctx);
/* Fails asynchronously with `outcome` without touching the network (e.g. a name that does not resolve). */
void sim_http_fail_async(sim_http_client *c, svc_call_outcome outcome, sim_http_done_fn done, void *ctx);
int sim_http_client_inflight(const sim_http_client *c);

typedef struct sim_http_client_stats {
    uint64_t exchanges, connects, reuses, timeouts, refused, resets, fresh_retries;
} sim_http_client_stats;
const sim_http_client_stats *sim_http_client_get_stats(const sim_http_client *c);

/* ---- server ---- */

typedef struct sim_http_server sim_http_server;
typedef struct sim_http_pending sim_http_pending; /* one request being handled */
typedef void (*sim_http_request_fn)(void *ctx, sim_http_pending *p, const sim_http_msg *req);

sim_http_server *sim_http_server_new(sim_net *net, sim_host *host, int port, int64_t idle_timeout_ns,
                                     sim_http_request_fn on_request, void *ctx);
/* 1 when the request is the first one on its connection: the server process has just accepted it (the
 * pod's CPU model charges the accept then, see cluster.h). */
int sim_http_pending_first(const sim_http_pending *p);
/* Answers a request (the message is taken). If its connection is gone, the answer is dropped. */
void sim_http_server_reply(sim_http_server *s, sim_http_pending *p, sim_http_msg *resp);
/* The host died: forget every connection and pending request without answering. */
void sim_http_server_abort_all(sim_http_server *s);
void sim_http_server_free(sim_http_server *s);

#endif
