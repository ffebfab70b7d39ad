/*
 * server.h: the HTTP runtime's incoming side: libmicrohttpd in front of the service shell.
 *
 * THREADS libmicrohttpd daemons, each with one thread (epoll, internal polling) and its own listening
 * socket on the same port (SO_REUSEPORT: the kernel spreads connections over them; a plain bind probes the
 * port first, so a port held by anyone else, another copy of the service included, is still an error),
 * read requests. Each request's body is
 * accumulated up to SVC_BODY_MAX_BYTES (Content-Length is checked first; chunked bodies are counted), the
 * rest is read and discarded and the request is marked body_too_large (the shell answers 413). The
 * complete request is handed to svc_shell_handle() under the service gate. If the reply does not come
 * synchronously, the connection is suspended (still under the gate, so the reply cannot overtake the
 * suspension) and no worker thread waits for it; when the reply arrives, on whatever thread delivers it,
 * the resume is deferred until that thread leaves the gate, and the worker then sends the response.
 *
 * Before service code runs (docs/security.md): the framing is checked (400 and close for Content-Length
 * with Transfer-Encoding, two different Content-Lengths, whitespace in a header name, a transfer
 * coding other than chunked; libmicrohttpd's strict mode for the rest), and the credentials are looked at:
 * X-Service-Token against SERVICE_TOKEN, "Authorization: Bearer <key>" against the API keys, both compared
 * in constant time, the result handed to the shell in svc_request.service / .client. The flood guard
 * (conns.h) sheds idle and half-open connections.
 *
 * Shutdown: http_server_set_draining() marks every later response "Connection: close" while the server
 * still accepts (Kubernetes keeps sending until the endpoint is gone); http_server_quiesce() then stops
 * accepting; http_server_active() counts requests handed to the service and not yet finished sending (a
 * connection that never completed its request head does not hold the shutdown), so the caller can wait for
 * them before http_server_stop() (libmicrohttpd must not be stopped with suspended connections).
 *
 * Ownership: the server owns its per-request state; request strings handed to the shell stay valid until
 * the reply; response bodies handed over by the shell are freed by libmicrohttpd after sending.
 */
#ifndef PC_SERVICES_HTTP_SERVER_H
#define PC_SERVICES_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "services/core/shell.h"
#include "services/http/gate.h"

#define HTTP_CONNECTION_TIMEOUT_S                                                                                      \
    120 /* longer than libcurl's 118 s idle max age: clients retire idle
                                         connections before the server closes them under their feet */

typedef struct http_server_config {
    const char *bind_address; /* numeric IPv4 or IPv6 */
    int port;                 /* 0: any free port */
    int threads;
    int connection_limit;
    int64_t header_timeout_ms;
    const char *service_token; /* NULL: not checked */
    char *const *api_keys;     /* NULL: not checked */
    size_t api_key_count;
} http_server_config;

typedef struct http_server http_server;

http_server *http_server_start(const http_server_config *cfg, svc_shell *shell, http_gate *gate, char *err,
                               size_t errlen);
int http_server_port(const http_server *s);
void http_server_set_draining(http_server *s);
void http_server_quiesce(http_server *s);
/* Closes the connections that wait for a request (after the drain, just before stopping). */
void http_server_close_idle(http_server *s);
size_t http_server_active(const http_server *s);
void http_server_stop(http_server *s);

#endif
