/*
 * httpc.h: the one HTTP client of the Check suites that talk to the real binaries (check_e2e,
 * check_replicas, check_parity): one libcurl easy exchange per call, collecting the status, the body and
 * the Content-Type and Allow headers.
 *
 * Contract:
 *   - The suite calls curl_global_init before the first request (and curl_global_cleanup at the end).
 *   - Each call uses its own easy handle, so several threads may send requests at once.
 *   - "Expect:" is always sent (no 100-continue round trip); no signals (CURLOPT_NOSIGNAL).
 *   - A request never fails silently: rc is libcurl's result, status is 0 when the exchange failed, and
 *     the body is an empty string then. The caller frees the answer with support_resp_free.
 */
#ifndef PC_TESTS_SUPPORT_HTTPC_H
#define PC_TESTS_SUPPORT_HTTPC_H

#include <curl/curl.h>
#include <stddef.h>

#define SUPPORT_HTTP_TIMEOUT_MS 15000L

typedef struct support_req {
    const char *method;         /* NULL: POST with a body, GET without */
    const char *url;            /* whole URL */
    const char *body;           /* NULL: no body */
    size_t body_len;            /* bytes of body */
    const char *const *headers; /* extra header lines ("Name: value"; "Name:" removes curl's), NULL-terminated */
    int chunked;                /* send the body with Transfer-Encoding: chunked (in 4 KiB pieces) */
    long timeout_ms;            /* whole exchange, connection included; 0: SUPPORT_HTTP_TIMEOUT_MS */
} support_req;

typedef struct support_resp {
    long status;     /* 0 when the exchange failed */
    CURLcode rc;     /* libcurl's result */
    char *body;      /* NUL-terminated; never NULL once returned by support_http (owned) */
    size_t len;      /* bytes of body */
    char ctype[128]; /* Content-Type, "" if none */
    char allow[128]; /* Allow, "" if none */
} support_resp;

support_resp support_http(const support_req *req);

/* GET url. */
support_resp support_get(const char *url);

/* POST url with a JSON body (Content-Type: application/json), plus `headers` (may be NULL). */
support_resp support_post_json(const char *url, const char *json, const char *const *headers);

void support_resp_free(support_resp *r);

/* The body collector (a CURLOPT_WRITEFUNCTION; CURLOPT_WRITEDATA is a support_resp), for a suite that
 * drives a handle of its own (a keep-alive connection reused across requests). */
size_t support_http_collect(char *data, size_t size, size_t n, void *resp);

#endif
