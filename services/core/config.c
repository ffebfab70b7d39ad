/*
 * config.c: defaults and parsing of the services' settings (see config.h for the contract).
 *
 * Every numeric setting has an explicit range: a value outside it is a start-up error naming the key, never
 * a silent clamp, because a mistyped timeout in a chaos experiment silently changes what is measured.
 */
#include "services/core/config.h"
#include "base/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void svc_config_defaults(svc_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->replica = 0;
    for (int i = 0; i < SVC_PEER_COUNT; i++) cfg->replicas[i] = 1;
    cfg->downstream_timeout_ns = 10000 * MS; /* the seed's requests timeout=10 */
    /* The notification is sent after the payment is durable and its outcome changes nothing but one field
     * of the answer: a notification service that accepts connections and never answers (flooded, wedged)
     * must not hold every payment for the whole downstream timeout (docs/security.md, time budgets). */
    cfg->notify_timeout_ns = 2000 * MS;
    cfg->chain_step_timeout_ns = 15000 * MS; /* the seed's chain steps used 15 s */
    cfg->forward_timeout_ns = 5000 * MS;
    cfg->retry.attempts = 1;
    cfg->retry.backoff_ns = 100 * MS;
    cfg->retry.backoff_max_ns = 2000 * MS;
    cfg->retry.deadline_ns = 10000 * MS;
    cfg->idempotency = 1;
    cfg->idempotency_ttl_ns = 86400LL * 1000 * MS;
    cfg->idempotency_capacity = 100000;
    cfg->payment_capacity = 200000;
    cfg->history_capacity = 1000;
    cfg->reservation_capacity = 400000;
    cfg->release_retry_ns = 200 * MS;
    cfg->release_retry_max_ns = 10000 * MS;
    cfg->catalogue_json = NULL;
    cfg->log_level = SVC_LOG_INFO;
}

void svc_config_free(svc_config *cfg) {
    free(cfg->catalogue_json);
    cfg->catalogue_json = NULL;
}

int svc_config_ordinal_from_name(const char *name) {
    if (!name) return -1;
    const char *dash = strrchr(name, '-');
    if (!dash || !dash[1]) return -1;
    long v = 0;
    for (const char *p = dash + 1; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v > 1000) return -1;
    }
    return (int)v;
}

/* Reads an integer setting in [lo, hi]; returns 0 if absent or valid, -1 with a message otherwise. */
static int get_int(svc_config_get_fn get, void *ctx, const char *key, long long lo, long long hi, long long *out,
                   char *err, size_t errlen) {
    const char *v = get(ctx, key);
    if (!v) return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0' || n < lo || n > hi) {
        snprintf(err, errlen, "%s=%s: expected an integer in [%lld, %lld]", key, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static int get_ms(svc_config_get_fn get, void *ctx, const char *key, long long lo, long long hi, int64_t *out_ns,
                  char *err, size_t errlen) {
    long long v = *out_ns / MS;
    if (get_int(get, ctx, key, lo, hi, &v, err, errlen) < 0) return -1;
    *out_ns = (int64_t)v * MS;
    return 0;
}

static int get_size(svc_config_get_fn get, void *ctx, const char *key, long long lo, long long hi, size_t *out,
                    char *err, size_t errlen) {
    long long v = (long long)*out;
    if (get_int(get, ctx, key, lo, hi, &v, err, errlen) < 0) return -1;
    *out = (size_t)v;
    return 0;
}

static int get_log_level(svc_config_get_fn get, void *ctx, int *out, char *err, size_t errlen) {
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    const char *v = get(ctx, "LOG_LEVEL");
    if (!v) return 0;
    for (int i = 0; i < 5; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    snprintf(err, errlen, "LOG_LEVEL=%s: expected debug, info, warn, error or off", v);
    return -1;
}

static int get_switch(svc_config_get_fn get, void *ctx, const char *key, int *out, char *err, size_t errlen) {
    const char *v = get(ctx, key);
    if (!v) return 0;
    if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true"))
        *out = 1;
    else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false"))
        *out = 0;
    else {
        snprintf(err, errlen, "%s=%s: expected on or off", key, v);
        return -1;
    }
    return 0;
}

int svc_config_load(svc_config *cfg, svc_config_get_fn get, void *ctx, char *err, size_t errlen) {
    static const char *replica_keys[SVC_PEER_COUNT] = {"PAYMENT_REPLICAS", "INVENTORY_REPLICAS",
                                                       "NOTIFICATION_REPLICAS"};
    svc_config_defaults(cfg);
    long long v;

    /* The replica index: REPLICA_INDEX wins, else the StatefulSet ordinal at the end of POD_NAME. */
    const char *pod = get(ctx, "POD_NAME");
    if (pod && svc_config_ordinal_from_name(pod) >= 0) cfg->replica = svc_config_ordinal_from_name(pod);
    v = cfg->replica;
    if (get_int(get, ctx, "REPLICA_INDEX", 0, 63, &v, err, errlen) < 0) goto fail;
    cfg->replica = (int)v;
    for (int i = 0; i < SVC_PEER_COUNT; i++) {
        v = cfg->replicas[i];
        if (get_int(get, ctx, replica_keys[i], 1, 64, &v, err, errlen) < 0) goto fail;
        cfg->replicas[i] = (int)v;
    }

    if (get_ms(get, ctx, "DOWNSTREAM_TIMEOUT_MS", 1, 600000, &cfg->downstream_timeout_ns, err, errlen) < 0 ||
        get_ms(get, ctx, "NOTIFICATION_TIMEOUT_MS", 1, 600000, &cfg->notify_timeout_ns, err, errlen) < 0 ||
        get_ms(get, ctx, "CHAIN_STEP_TIMEOUT_MS", 1, 600000, &cfg->chain_step_timeout_ns, err, errlen) < 0 ||
        get_ms(get, ctx, "FORWARD_TIMEOUT_MS", 1, 600000, &cfg->forward_timeout_ns, err, errlen) < 0)
        goto fail;

    v = cfg->retry.attempts;
    if (get_int(get, ctx, "RETRY_ATTEMPTS", 1, 10, &v, err, errlen) < 0) goto fail;
    cfg->retry.attempts = (int)v;
    if (get_ms(get, ctx, "RETRY_BACKOFF_MS", 0, 60000, &cfg->retry.backoff_ns, err, errlen) < 0 ||
        get_ms(get, ctx, "RETRY_BACKOFF_MAX_MS", 0, 600000, &cfg->retry.backoff_max_ns, err, errlen) < 0 ||
        get_ms(get, ctx, "RETRY_DEADLINE_MS", 1, 3600000, &cfg->retry.deadline_ns, err, errlen) < 0)
        goto fail;
    if (cfg->retry.backoff_max_ns < cfg->retry.backoff_ns) {
        snprintf(err, errlen, "RETRY_BACKOFF_MAX_MS must be >= RETRY_BACKOFF_MS");
        goto fail;
    }

    if (get_switch(get, ctx, "IDEMPOTENCY", &cfg->idempotency, err, errlen) < 0) goto fail;
    v = cfg->idempotency_ttl_ns / (1000 * MS);
    if (get_int(get, ctx, "IDEMPOTENCY_TTL_S", 1, 30LL * 86400, &v, err, errlen) < 0) goto fail;
    cfg->idempotency_ttl_ns = (int64_t)v * 1000 * MS;
    if (get_size(get, ctx, "IDEMPOTENCY_CAPACITY", 1, 10000000, &cfg->idempotency_capacity, err, errlen) < 0 ||
        get_size(get, ctx, "PAYMENT_CAPACITY", 1, 10000000, &cfg->payment_capacity, err, errlen) < 0 ||
        get_size(get, ctx, "NOTIFICATION_HISTORY", 1, 1000000, &cfg->history_capacity, err, errlen) < 0 ||
        get_size(get, ctx, "RESERVATION_CAPACITY", 1, 20000000, &cfg->reservation_capacity, err, errlen) < 0)
        goto fail;
    if (get_ms(get, ctx, "RELEASE_RETRY_MS", 1, 60000, &cfg->release_retry_ns, err, errlen) < 0 ||
        get_ms(get, ctx, "RELEASE_RETRY_MAX_MS", 1, 600000, &cfg->release_retry_max_ns, err, errlen) < 0)
        goto fail;

    const char *cat = get(ctx, "CATALOGUE");
    if (cat) {
        cfg->catalogue_json = strdup(cat);
        if (!cfg->catalogue_json) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (get_log_level(get, ctx, &cfg->log_level, err, errlen) < 0) goto fail;
    return 0;
fail:
    svc_config_free(cfg);
    return -1;
}
