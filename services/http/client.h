/*
 * client.h: the HTTP runtime's outgoing side: downstream calls over libcurl, and timers.
 *
 * One client thread owns one libcurl multi handle (keep-alive connections reused across calls, a pool of
 * easy handles) and a timer heap. Any thread may start a call or a timer (normally under the service gate);
 * the request is queued and the thread woken with curl_multi_wakeup() if it sleeps. The thread waits in
 * curl_multi_poll() bounded by libcurl's own timeout and the earliest timer, and delivers every finished
 * call and due timer in one batch under the gate. Hence, as svc.h requires:
 *   - a callback never runs inside the http_client_* function that started it, and
 *   - every call's `done` runs exactly once, unless the client is stopped first (then it is dropped,
 *     and so are pending timers: the shell frees their contexts when it is destroyed).
 *
 * Calls: the whole exchange, connect included, is bounded by svc_call.timeout_ns (CURLOPT_TIMEOUT_MS and
 * CURLOPT_CONNECTTIMEOUT_MS); response bodies over 1 MiB fail the call. libcurl codes map to outcomes:
 * 28 timeout; 6, 7 refused; 52, 55, 56 reset; anything else failed. HTTP statuses are results. HTTP/1.1
 * keep-alive connections are reused (DOWNSTREAM_KEEPALIVE=off opens one per call); proxies from the
 * environment (http_proxy, ...) are ignored: service-to-service calls go straight to the peer. With
 * SERVICE_TOKEN set, every call carries X-Service-Token (docs/security.md).
 *
 * Ownership: the client copies the call (method, URL, body, headers) before http_client_call returns; the
 * result's body is valid only during `done`.
 */
#ifndef PC_SERVICES_HTTP_CLIENT_H
#define PC_SERVICES_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "services/core/svc.h"
#include "services/http/env.h"
#include "services/http/gate.h"

#define HTTP_CALL_RESPONSE_MAX (1024 * 1024)

typedef struct http_client http_client;

/* A response body as libcurl delivers it: grown on demand, NUL-terminated, at most HTTP_CALL_RESPONSE_MAX
 * bytes (beyond that the write fails, and with it the transfer, and too_big is set). The owner frees data. */
typedef struct http_body {
    char *data;
    size_t len, cap;
    int too_big;
} http_body;

/* A CURLOPT_WRITEFUNCTION appending to the http_body given as CURLOPT_WRITEDATA. */
size_t http_body_append(char *data, size_t size, size_t nmemb, void *body);
/* libcurl's result code (CURLcode) as a call outcome, by the rule above. Shared with bin/loadgen so the lab
 * classifies failures exactly as the services do. */
svc_call_outcome http_call_outcome(int curl_code);

/* Monotonic clock in ns (the runtime's now_ns). */
int64_t http_clock_ns(void);

/* `env` (URLs) and `gate` must outlive the client. curl_global_init must have run. */
http_client *http_client_create(const http_env *env, http_gate *gate, char *err, size_t errlen);
int http_client_start(http_client *c, char *err, size_t errlen);
void http_client_call(http_client *c, const svc_call *call, svc_call_done_fn done, void *ctx);
void http_client_timer(http_client *c, int64_t delay_ns, svc_timer_fn fire, void *ctx);
/* Runs done(ctx, error) on the client thread as soon as possible (a persist without a journal). */
void http_client_persist_done(http_client *c, svc_persist_done_fn done, void *ctx, int error);
/* Stops and joins the thread; calls in flight and pending timers are dropped without callbacks. */
void http_client_stop(http_client *c);
void http_client_destroy(http_client *c);

#endif
