/*
 * config.h: the services' configuration, read from key/value settings.
 *
 * The HTTP runtime passes getenv; the simulator passes its own table, so one parser and one set of defaults
 * serve both. Keys and defaults are listed in svc_config_load() and in the README. The caller owns the
 * svc_config and releases it with svc_config_free(); strings inside it are owned copies.
 */
#ifndef PC_SERVICES_CORE_CONFIG_H
#define PC_SERVICES_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "services/core/svc.h"

enum svc_log_level { SVC_LOG_DEBUG = 0, SVC_LOG_INFO, SVC_LOG_WARN, SVC_LOG_ERROR, SVC_LOG_OFF };

/* How downstream calls are retried. attempts == 1 means no retry (the seed's behaviour and the default). */
typedef struct svc_retry_policy {
    int attempts;           /* total attempts including the first, 1..10 */
    int64_t backoff_ns;     /* wait before the 2nd attempt; doubles each time ("full jitter" applied) */
    int64_t backoff_max_ns; /* cap of one wait */
    int64_t deadline_ns;    /* overall budget from the first attempt: no attempt starts after it */
} svc_retry_policy;

typedef struct svc_config {
    int replica;                   /* this process's ordinal among its service's replicas */
    int replicas[SVC_PEER_COUNT];  /* replica count of each service (ownership is hash mod count) */
    int64_t downstream_timeout_ns; /* payment/process calls to inventory (check, reserve) and releases */
    int64_t notify_timeout_ns;     /* payment/process's best-effort notification, after the payment is done */
    int64_t chain_step_timeout_ns; /* each step of payment/chain */
    int64_t forward_timeout_ns;    /* a request forwarded to its owner replica */
    svc_retry_policy retry;
    int idempotency;             /* 1: Idempotency-Key and reservation ids are honoured (0: demo only) */
    int64_t idempotency_ttl_ns;  /* how long a key is remembered */
    size_t idempotency_capacity; /* most keys remembered at once */
    size_t payment_capacity;     /* most payments held by one replica */
    size_t history_capacity;     /* notification ring size */
    size_t reservation_capacity; /* most reservation records held by one inventory replica */
    int64_t release_retry_ns;    /* first wait before re-sending an unacknowledged stock release */
    int64_t release_retry_max_ns;
    char *catalogue_json; /* JSON array of products, or NULL for the built-in catalogue */
    int log_level;
} svc_config;

typedef const char *(*svc_config_get_fn)(void *ctx, const char *key);

void svc_config_defaults(svc_config *cfg);

/* Fills cfg from defaults plus every key `get` returns non-NULL for. On error returns -1 with a message
 * naming the key in err; cfg is then freed and must not be used. */
int svc_config_load(svc_config *cfg, svc_config_get_fn get, void *ctx, char *err, size_t errlen);

void svc_config_free(svc_config *cfg);

/* Parses "inventory-1" style names: returns the trailing ordinal, or -1. */
int svc_config_ordinal_from_name(const char *name);

#endif
