/*
 * env.h: the HTTP runtime's own settings, read from the environment.
 *
 * The service settings (timeouts, retries, capacities, LOG_LEVEL, ...) are parsed by svc_config_load() in
 * services/core/config.c, shared with the simulator. This module reads what only a process needs: where to
 * listen, how many server threads, the journal file, the catalogue file, the shutdown grace period, and
 * the URLs of every service and of every replica. An empty variable counts as unset (Kubernetes manifests
 * often render optional values as "").
 *
 * URLs: a call with replica == -1 goes to the load-balanced Service URL (PAYMENT_SERVICE, INVENTORY_SERVICE,
 * NOTIFICATION_SERVICE); a call to replica k goes to entry k of the comma-separated *_PEERS list, or to the
 * *_PEERS template with every "{i}" replaced by k; when *_PEERS is unset and the service has one replica,
 * replica 0 is the Service URL. Anything else is "not configured" and the call fails.
 *
 * Credentials (docs/security.md): SERVICE_TOKEN, or SERVICE_TOKEN_FILE (its first line), is the secret the
 * services present to each other (X-Service-Token); API_KEYS_FILE holds the clients' API keys, one per line
 * (blank lines and lines starting with '#' skipped). A credential is 16..256 printable ASCII characters
 * without spaces. Unset: nothing is checked, as in the seed.
 *
 * Ownership: http_env owns copies of every string; release with http_env_free().
 */
#ifndef PC_SERVICES_HTTP_ENV_H
#define PC_SERVICES_HTTP_ENV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "services/core/shell.h"

#define HTTP_URL_MAX 512

typedef struct http_env {
    int port;                  /* 0 picks a free port */
    char *bind_address;        /* numeric IPv4 or IPv6 address */
    int threads;               /* libmicrohttpd worker threads */
    int connection_limit;      /* open client connections at once */
    int64_t shutdown_grace_ms; /* how long SIGTERM waits for requests in flight */
    int64_t shutdown_delay_ms; /* SIGTERM: keep serving (not ready) this long before draining */
    int64_t header_timeout_ms; /* a new connection must send a complete request head within this */
    char *journal_path;        /* NULL: no journal */
    char *catalogue_file;      /* NULL: none */
    char *service_url[SVC_PEER_COUNT];
    char *peers[SVC_PEER_COUNT];  /* list or template, NULL when unset */
    int replicas[SVC_PEER_COUNT]; /* copied from the service config, for URL resolution */
    int downstream_keepalive;     /* 1: libcurl reuses connections (default); 0: one per call */
    char *service_token;          /* NULL: service-to-service calls are not authenticated */
    char **api_keys;              /* NULL when API_KEYS_FILE is unset */
    size_t api_key_count;
} http_env;

/* svc_config_get_fn over the process environment (empty values count as unset). */
const char *http_env_get(void *ctx, const char *key);

/* Reads the runtime settings; -1 with a message naming the variable on error (env is then freed). */
int http_env_load(http_env *env, const svc_module *module, const int replicas[SVC_PEER_COUNT], char *err,
                  size_t errlen);
void http_env_free(http_env *env);

/* Writes the base URL (no trailing '/') for a call to `peer` / `replica` into out; -1 if not configured. */
int http_env_base_url(const http_env *env, svc_peer peer, int replica, char *out, size_t outlen);

/* --help: every environment variable with its default. */
void http_env_usage(FILE *out, const char *program, const svc_module *module);

#endif
