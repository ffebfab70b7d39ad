/*
 * httpc.c: the Check suites' HTTP client (contract in httpc.h).
 */
#include "tests/support/httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t support_http_collect(char *data, size_t size, size_t n, void *resp) {
    support_resp *r = resp;
    size_t add = size * n;
    char *grown = realloc(r->body, r->len + add + 1);
    if (!grown) return 0;
    r->body = grown;
    memcpy(r->body + r->len, data, add);
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

/* Copies the value of header `name` when `line` is that header (value trimmed of spaces and CR LF). */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen) {
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return;
    const char *v = line + k + 1;
    size_t vn = n - k - 1;
    while (vn && *v == ' ') v++, vn--;
    while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n')) vn--;
    snprintf(out, outlen, "%.*s", (int)vn, v);
}

static size_t on_header(char *line, size_t size, size_t n, void *resp) {
    support_resp *r = resp;
    header_value(line, size * n, "Content-Type", r->ctype, sizeof r->ctype);
    header_value(line, size * n, "Allow", r->allow, sizeof r->allow);
    return size * n;
}

typedef struct chunk_src {
    const char *data;
    size_t len, off;
} chunk_src;

static size_t on_read(char *buf, size_t size, size_t n, void *arg) {
    chunk_src *s = arg;
    size_t want = size * n, left = s->len - s->off;
    if (want > left) want = left;
    if (want > 4096) want = 4096; /* several chunks */
    memcpy(buf, s->data + s->off, want);
    s->off += want;
    return want;
}

support_resp support_http(const support_req *req) {
    support_resp r;
    memset(&r, 0, sizeof r);
    CURL *e = curl_easy_init();
    if (!e) {
        r.rc = CURLE_FAILED_INIT;
        r.body = calloc(1, 1);
        return r;
    }
    struct curl_slist *list = NULL;
    for (int i = 0; req->headers && req->headers[i]; i++) list = curl_slist_append(list, req->headers[i]);
    list = curl_slist_append(list, "Expect:");
    chunk_src src = {req->body, req->body_len, 0};
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : SUPPORT_HTTP_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, support_http_collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
    if (req->body && req->chunked) {
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, &src);
    } else if (req->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->method && strcmp(req->method, req->body ? "POST" : "GET"))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    r.rc = curl_easy_perform(e);
    if (r.rc == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(e);
    if (!r.body) r.body = calloc(1, 1);
    if (!r.body) abort();
    return r;
}

support_resp support_get(const char *url) { return support_http(&(support_req){.method = "GET", .url = url}); }

support_resp support_post_json(const char *url, const char *json, const char *const *headers) {
    const char *all[16] = {"Content-Type: application/json"};
    int n = 1;
    for (int i = 0; headers && headers[i] && n < 15; i++) all[n++] = headers[i];
    return support_http(
        &(support_req){.method = "POST", .url = url, .body = json, .body_len = strlen(json), .headers = all});
}

void support_resp_free(support_resp *r) {
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
