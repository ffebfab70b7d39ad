/*
 * env.c: the HTTP runtime's settings and URL resolution (contract in env.h).
 *
 * Every setting is checked at start-up: a value out of range is an error naming the variable, never a
 * silent clamp (a mistyped port or peer list should stop the pod, not send traffic somewhere else).
 */
#include "services/http/env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/config.h"

static const char *const service_keys[SVC_PEER_COUNT] = {"PAYMENT_SERVICE", "INVENTORY_SERVICE",
                                                         "NOTIFICATION_SERVICE"};
static const char *const peers_keys[SVC_PEER_COUNT] = {"PAYMENT_PEERS", "INVENTORY_PEERS", "NOTIFICATION_PEERS"};
static const char *const default_urls[SVC_PEER_COUNT] = {"http://127.0.0.1:5002", "http://127.0.0.1:5003",
                                                         "http://127.0.0.1:5004"};

#define DEFAULT_THREADS 2
/* An idle connection costs ~5.5 KiB of resident memory (measured: 2 000 held, +11 MiB) and two descriptors:
 * holding a slowloris flood of a few thousand costs less than queueing it in the kernel's accept queue,
 * where every probe and client waits behind it (512: a /health probe waited up to 240 ms behind 2 000). */
#define DEFAULT_CONNECTION_LIMIT 4096
#define DEFAULT_GRACE_MS 10000
#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define CREDENTIAL_MIN 16
#define CREDENTIAL_MAX 256
#define API_KEYS_MAX 10000
#define DEFAULT_BIND "0.0.0.0"

const char *http_env_get(void *ctx, const char *key) {
    (void)ctx;
    const char *v = getenv(key);
    return (v && *v) ? v : NULL;
}

static int env_int(const char *key, long long lo, long long hi, long long *out, char *err, size_t errlen) {
    const char *v = http_env_get(NULL, key);
    if (!v) return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        snprintf(err, errlen, "%s=%s: expected an integer in [%lld, %lld]", key, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static char *dup_setting(const char *v, char *err, size_t errlen) {
    char *d = strdup(v);
    if (!d) snprintf(err, errlen, "out of memory");
    return d;
}

/* An http(s) URL without a trailing '/', short enough to have a path appended. */
static int check_url(const char *key, const char *url, size_t len, char *err, size_t errlen) {
    int http = len > 7 && !strncmp(url, "http://", 7);
    int https = len > 8 && !strncmp(url, "https://", 8);
    if ((!http && !https) || len > HTTP_URL_MAX / 2 || memchr(url, ' ', len)) {
        snprintf(err, errlen, "%s: \"%.*s\" is not an http:// URL of at most %d characters", key, (int)len, url,
                 HTTP_URL_MAX / 2);
        return -1;
    }
    return 0;
}

static int load_urls(http_env *env, char *err, size_t errlen) {
    for (int p = 0; p < SVC_PEER_COUNT; p++) {
        const char *v = http_env_get(NULL, service_keys[p]);
        if (!v) v = default_urls[p];
        size_t len = strlen(v);
        while (len > 0 && v[len - 1] == '/') len--;
        if (check_url(service_keys[p], v, len, err, errlen) < 0) return -1;
        env->service_url[p] = strndup(v, len);
        if (!env->service_url[p]) return snprintf(err, errlen, "out of memory"), -1;

        const char *peers = http_env_get(NULL, peers_keys[p]);
        if (!peers) continue;
        /* Check every entry of a list (a template is one entry). */
        for (const char *s = peers; *s;) {
            const char *comma = strchr(s, ',');
            size_t n = comma ? (size_t)(comma - s) : strlen(s);
            if (check_url(peers_keys[p], s, n, err, errlen) < 0) return -1;
            s += n + (comma ? 1 : 0);
            if (comma && !*s) return snprintf(err, errlen, "%s: empty entry after the last comma", peers_keys[p]), -1;
        }
        if (strchr(peers, ',') && strstr(peers, "{i}"))
            return snprintf(err, errlen, "%s: use either a comma-separated list or a {i} template, not both",
                            peers_keys[p]),
                   -1;
        env->peers[p] = dup_setting(peers, err, errlen);
        if (!env->peers[p]) return -1;
    }
    return 0;
}

/* A credential: 16..256 printable ASCII characters, no space. */
static int credential_ok(const char *s, size_t n) {
    if (n < CREDENTIAL_MIN || n > CREDENTIAL_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~') return 0;
    return 1;
}

/* Reads a whole small file (at most 1 MiB) into a NUL-terminated string; NULL with a message on error. */
static char *slurp(const char *key, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s=%s: %s", key, path, strerror(errno));
        return NULL;
    }
    enum { LIMIT = 1 << 20 };
    char *text = malloc(LIMIT + 1);
    size_t n = text ? fread(text, 1, LIMIT + 1, f) : 0;
    int bad = !text || ferror(f) || n > LIMIT;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s=%s: unreadable or larger than 1 MiB", key, path);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

static int load_token(http_env *env, char *err, size_t errlen) {
    const char *token = http_env_get(NULL, "SERVICE_TOKEN"), *file = http_env_get(NULL, "SERVICE_TOKEN_FILE");
    if (token && file) return snprintf(err, errlen, "SERVICE_TOKEN and SERVICE_TOKEN_FILE are both set: use one"), -1;
    if (!token && !file) return 0;
    char *text = file ? slurp("SERVICE_TOKEN_FILE", file, err, errlen) : strdup(token);
    if (!text) return file ? -1 : (snprintf(err, errlen, "out of memory"), -1);
    size_t n = strcspn(text, "\r\n"); /* a Secret file may end in a newline */
    text[n] = '\0';
    if (!credential_ok(text, n)) {
        free(text);
        return snprintf(err, errlen, "%s: the token must be %d..%d printable characters without spaces",
                        file ? "SERVICE_TOKEN_FILE" : "SERVICE_TOKEN", CREDENTIAL_MIN, CREDENTIAL_MAX),
               -1;
    }
    env->service_token = text;
    return 0;
}

static int load_api_keys(http_env *env, char *err, size_t errlen) {
    const char *file = http_env_get(NULL, "API_KEYS_FILE");
    if (!file) return 0;
    char *text = slurp("API_KEYS_FILE", file, err, errlen);
    if (!text) return -1;
    env->api_keys = calloc(API_KEYS_MAX, sizeof *env->api_keys);
    int line = 0, rc = env->api_keys ? 0 : -1;
    for (char *s = text, *next; rc == 0 && *s; s = next) {
        size_t n = strcspn(s, "\n");
        next = s[n] ? s + n + 1 : s + n;
        line++;
        if (n && s[n - 1] == '\r') n--;
        if (n == 0 || s[0] == '#') continue;
        if (!credential_ok(s, n) || env->api_key_count == API_KEYS_MAX ||
            !(env->api_keys[env->api_key_count] = strndup(s, n))) {
            snprintf(err, errlen,
                     "API_KEYS_FILE=%s line %d: a key is %d..%d printable characters without spaces (at "
                     "most %d keys)",
                     file, line, CREDENTIAL_MIN, CREDENTIAL_MAX, API_KEYS_MAX);
            rc = -1;
        } else {
            env->api_key_count++;
        }
    }
    free(text);
    if (rc == 0 && env->api_key_count == 0) {
        snprintf(err, errlen, "API_KEYS_FILE=%s holds no key (every refund would be refused)", file);
        rc = -1;
    }
    return rc;
}

int http_env_load(http_env *env, const svc_module *module, const int replicas[SVC_PEER_COUNT], char *err,
                  size_t errlen) {
    memset(env, 0, sizeof *env);
    for (int p = 0; p < SVC_PEER_COUNT; p++) env->replicas[p] = replicas[p];
    long long v = module->default_port;
    if (env_int("PORT", 0, 65535, &v, err, errlen) < 0) goto fail;
    env->port = (int)v;
    v = DEFAULT_THREADS;
    if (env_int("THREADS", 1, 64, &v, err, errlen) < 0) goto fail;
    env->threads = (int)v;
    v = DEFAULT_CONNECTION_LIMIT;
    if (env_int("CONNECTION_LIMIT", 1, 100000, &v, err, errlen) < 0) goto fail;
    env->connection_limit = (int)v;
    v = DEFAULT_GRACE_MS;
    if (env_int("SHUTDOWN_GRACE_MS", 0, 600000, &v, err, errlen) < 0) goto fail;
    env->shutdown_grace_ms = v;
    v = 0;
    if (env_int("SHUTDOWN_DELAY_MS", 0, 600000, &v, err, errlen) < 0) goto fail;
    env->shutdown_delay_ms = v;
    v = DEFAULT_HEADER_TIMEOUT_MS;
    if (env_int("HEADER_TIMEOUT_MS", 100, 600000, &v, err, errlen) < 0) goto fail;
    env->header_timeout_ms = v;
    if (load_token(env, err, errlen) < 0 || load_api_keys(env, err, errlen) < 0) goto fail;

    const char *bind = http_env_get(NULL, "BIND_ADDRESS");
    if (!bind) bind = DEFAULT_BIND;
    unsigned char probe[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, bind, probe) != 1 && inet_pton(AF_INET6, bind, probe) != 1) {
        snprintf(err, errlen, "BIND_ADDRESS=%s: expected a numeric IPv4 or IPv6 address", bind);
        goto fail;
    }
    if (!(env->bind_address = dup_setting(bind, err, errlen))) goto fail;
    /* DOWNSTREAM_KEEPALIVE=off: a fresh TCP connection per downstream call (the simulator's
     * --downstream-keepalive off), so the lab can compare both connection policies. */
    const char *ka = http_env_get(NULL, "DOWNSTREAM_KEEPALIVE");
    env->downstream_keepalive = 1;
    if (ka && !strcmp(ka, "off"))
        env->downstream_keepalive = 0;
    else if (ka && strcmp(ka, "on") != 0) {
        snprintf(err, errlen, "DOWNSTREAM_KEEPALIVE=%s: expected on or off", ka);
        goto fail;
    }
    const char *journal = http_env_get(NULL, "JOURNAL_PATH");
    if (journal && !(env->journal_path = dup_setting(journal, err, errlen))) goto fail;
    const char *catalogue = http_env_get(NULL, "CATALOGUE_FILE");
    if (catalogue && !(env->catalogue_file = dup_setting(catalogue, err, errlen))) goto fail;
    if (load_urls(env, err, errlen) < 0) goto fail;
    return 0;
fail:
    http_env_free(env);
    return -1;
}

void http_env_free(http_env *env) {
    if (env->service_token) memset(env->service_token, 0, strlen(env->service_token));
    free(env->service_token);
    for (size_t i = 0; i < env->api_key_count; i++) free(env->api_keys[i]);
    free(env->api_keys);
    free(env->bind_address);
    free(env->journal_path);
    free(env->catalogue_file);
    for (int p = 0; p < SVC_PEER_COUNT; p++) {
        free(env->service_url[p]);
        free(env->peers[p]);
    }
    memset(env, 0, sizeof *env);
}

/* Copies s[0..n) into out with every "{i}" replaced by the replica number. */
static int expand_template(const char *s, size_t n, int replica, char *out, size_t outlen) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && !memcmp(s + i, "{i}", 3)) {
            int w = snprintf(out + o, outlen - o, "%d", replica);
            if (w < 0 || (size_t)w >= outlen - o) return -1;
            o += (size_t)w;
            i += 3;
            continue;
        }
        if (o + 1 >= outlen) return -1;
        out[o++] = s[i++];
    }
    while (o > 0 && out[o - 1] == '/') o--;
    out[o] = '\0';
    return 0;
}

int http_env_base_url(const http_env *env, svc_peer peer, int replica, char *out, size_t outlen) {
    if (peer < 0 || peer >= SVC_PEER_COUNT) return -1;
    if (replica < 0) return snprintf(out, outlen, "%s", env->service_url[peer]) < (int)outlen ? 0 : -1;
    const char *peers = env->peers[peer];
    if (!peers) {
        if (env->replicas[peer] == 1 && replica == 0)
            return snprintf(out, outlen, "%s", env->service_url[peer]) < (int)outlen ? 0 : -1;
        return -1;
    }
    if (strstr(peers, "{i}")) return expand_template(peers, strlen(peers), replica, out, outlen);
    const char *s = peers;
    for (int k = 0; k < replica; k++) {
        s = strchr(s, ',');
        if (!s) return -1;
        s++;
    }
    const char *comma = strchr(s, ',');
    return expand_template(s, comma ? (size_t)(comma - s) : strlen(s), replica, out, outlen);
}

void http_env_usage(FILE *out, const char *program, const svc_module *module) {
    svc_config d;
    svc_config_defaults(&d);
    const long long ms = 1000000;
    fprintf(out,
            "usage: %s [--help | --version]\n"
            "\n"
            "Serves the %s over HTTP (libmicrohttpd), calling the other services with libcurl.\n"
            "Settings come from the environment (an empty value counts as unset):\n"
            "\n"
            "Process\n"
            "  PORT                   listening port; 0 picks a free one          (default %d)\n"
            "  BIND_ADDRESS           numeric IPv4/IPv6 address to listen on      (default %s)\n"
            "  THREADS                HTTP server worker threads, 1..64           (default %d)\n"
            "  CONNECTION_LIMIT       open client connections; beyond, the longest idle is closed (default %d)\n"
            "  SHUTDOWN_DELAY_MS      SIGTERM: keep serving, /ready 503, this long (default 0; a preStop's sleep)\n"
            "  SHUTDOWN_GRACE_MS      then wait this long for requests in flight  (default %d)\n"
            "  HEADER_TIMEOUT_MS      a new connection's request head, at most    (default %d)\n"
            "  JOURNAL_PATH           append-only journal file (fsync'd)          (default: none, not durable)\n"
            "  CATALOGUE_FILE         file holding the inventory catalogue JSON   (default: none)\n"
            "  LOG_LEVEL              debug, info, warn, error, off               (default info)\n"
            "  DOWNSTREAM_KEEPALIVE   on/off: reuse downstream connections        (default on)\n"
            "\n"
            "Security (docs/security.md; unset: nothing is checked, as in the seed)\n"
            "  SERVICE_TOKEN          secret the services present to each other (X-Service-Token)\n"
            "  SERVICE_TOKEN_FILE     the same, read from a file (a Kubernetes Secret)\n"
            "  API_KEYS_FILE          clients' API keys, one per line: refunds need one (Authorization: Bearer)\n"
            "\n"
            "Where the services are\n"
            "  PAYMENT_SERVICE        payment Service URL                         (default %s)\n"
            "  INVENTORY_SERVICE      inventory Service URL                       (default %s)\n"
            "  NOTIFICATION_SERVICE   notification Service URL                    (default %s)\n"
            "  PAYMENT_PEERS, INVENTORY_PEERS, NOTIFICATION_PEERS\n"
            "                         per-replica URLs: a comma-separated list (entry k is replica k) or a\n"
            "                         template with {i} replaced by k; unset with one replica: the Service URL\n"
            "  PAYMENT_REPLICAS, INVENTORY_REPLICAS, NOTIFICATION_REPLICAS\n"
            "                         replica count of each service, 1..64        (default 1)\n"
            "  REPLICA_INDEX          this process's replica ordinal              (default: from POD_NAME, else 0)\n"
            "  POD_NAME               StatefulSet pod name; its -N suffix is the replica ordinal\n"
            "\n"
            "Behaviour\n"
            "  DOWNSTREAM_TIMEOUT_MS  payment/process calls, connect included     (default %lld)\n"
            "  NOTIFICATION_TIMEOUT_MS payment/process's notification (best effort) (default %lld)\n"
            "  CHAIN_STEP_TIMEOUT_MS  each payment/chain step                     (default %lld)\n"
            "  FORWARD_TIMEOUT_MS     a request forwarded to its owner replica    (default %lld)\n"
            "  RETRY_ATTEMPTS         attempts per idempotent call, 1..10         (default %d)\n"
            "  RETRY_BACKOFF_MS       first backoff (full jitter, doubling)       (default %lld)\n"
            "  RETRY_BACKOFF_MAX_MS   largest backoff                             (default %lld)\n"
            "  RETRY_DEADLINE_MS      no attempt starts after this budget         (default %lld)\n"
            "  IDEMPOTENCY            on/off: honour Idempotency-Key, reservation ids (default on)\n"
            "  IDEMPOTENCY_TTL_S      how long a key is remembered                (default %lld)\n"
            "  IDEMPOTENCY_CAPACITY   most keys remembered                        (default %zu)\n"
            "  PAYMENT_CAPACITY       most payments held by one replica           (default %zu)\n"
            "  NOTIFICATION_HISTORY   notification ring size                      (default %zu)\n"
            "  RESERVATION_CAPACITY   most reservations held by one replica       (default %zu)\n"
            "  RELEASE_RETRY_MS       first wait before re-sending a release      (default %lld)\n"
            "  RELEASE_RETRY_MAX_MS   longest wait between release attempts       (default %lld)\n"
            "  CATALOGUE              the inventory catalogue as JSON text        (default: built-in seed catalogue)\n"
            "\n"
            "Limits: request bodies up to %d bytes (413 beyond), downstream response bodies up to 1 MiB.\n"
            "SIGTERM/SIGINT: stop accepting, /ready answers 503, wait for requests in flight (SHUTDOWN_GRACE_MS),\n"
            "exit 0. Exit status 2: bad settings; 1: start-up failure (port in use, corrupt journal).\n",
            program, module->name, module->default_port, DEFAULT_BIND, DEFAULT_THREADS, DEFAULT_CONNECTION_LIMIT,
            DEFAULT_GRACE_MS, DEFAULT_HEADER_TIMEOUT_MS, default_urls[0], default_urls[1], default_urls[2],
            (long long)(d.downstream_timeout_ns / ms), (long long)(d.notify_timeout_ns / ms),
            (long long)(d.chain_step_timeout_ns / ms), (long long)(d.forward_timeout_ns / ms), d.retry.attempts,
            (long long)(d.retry.backoff_ns / ms), (long long)(d.retry.backoff_max_ns / ms),
            (long long)(d.retry.deadline_ns / ms), (long long)(d.idempotency_ttl_ns / (1000 * ms)),
            d.idempotency_capacity, d.payment_capacity, d.history_capacity, d.reservation_capacity,
            (long long)(d.release_retry_ns / ms), (long long)(d.release_retry_max_ns / ms), SVC_BODY_MAX_BYTES);
    svc_config_free(&d);
}
