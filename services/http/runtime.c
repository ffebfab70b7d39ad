/*
 * runtime.c: the svc_runtime operations over threads, libcurl, libmicrohttpd and a file, and the process
 * life cycle (contract in runtime.h).
 *
 * Threads: main (start-up, then waits for a signal and drives shutdown), the libmicrohttpd workers
 * (requests), the client thread (downstream calls, timers, persists without a journal) and the journal
 * writer. Every entry into the shell holds the gate; the operations below are therefore called with the
 * gate held, and the random buffer they use needs no lock of its own.
 *
 * Randomness: everything random here (ids, backoff jitter) comes from the kernel's CSPRNG (getrandom),
 * read 256 bytes at a time: ids seen by one client say nothing about the next ones (a seeded xoshiro
 * stream's state can be recovered from a handful of its outputs). Determinism is the simulator's business.
 *
 * Ownership: http_main owns the runtime object and everything in it; the shell is destroyed only after
 * every thread that could call into it has stopped.
 */
#include "services/http/runtime.h"

#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "services/core/config.h"
#include "services/http/client.h"
#include "services/http/env.h"
#include "services/http/gate.h"
#include "services/http/journal.h"
#include "services/http/log.h"
#include "services/http/server.h"
#include "services/http/trim.h"

#define CATALOGUE_FILE_MAX (16 * 1024 * 1024)
#define DRAIN_POLL_NS (5 * 1000000L)

typedef struct http_runtime {
    const svc_module *module;
    svc_config cfg;
    http_env env;
    http_gate gate;
    int gate_ready;
    http_client *client;
    http_journal *journal;
    http_server *server;
    svc_shell *shell;
    unsigned char random[256]; /* getrandom's output not yet used (under the gate) */
    size_t random_used;
} http_runtime;

/* ---- svc_runtime operations ---- */

static int64_t rt_now_ns(void *self) {
    (void)self;
    return http_clock_ns();
}

static int64_t rt_unix_ms(void *self) {
    (void)self;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n bytes from the kernel's CSPRNG. getrandom blocks only before the pool is first initialised at boot, and
 * a short read is only possible for requests above 256 bytes or on a signal (retried). */
static void random_bytes(http_runtime *rt, void *out, size_t n) {
    unsigned char *p = out;
    while (n) {
        if (rt->random_used == sizeof rt->random) {
            size_t got = 0;
            while (got < sizeof rt->random) {
                ssize_t r = getrandom(rt->random + got, sizeof rt->random - got, 0);
                if (r < 0 && errno != EINTR) abort(); /* no kernel randomness: nothing safe to fall back on */
                if (r > 0) got += (size_t)r;
            }
            rt->random_used = 0;
        }
        size_t take = sizeof rt->random - rt->random_used;
        if (take > n) take = n;
        memcpy(p, rt->random + rt->random_used, take);
        memset(rt->random + rt->random_used, 0, take); /* used bytes do not stay in memory */
        rt->random_used += take;
        p += take;
        n -= take;
    }
}

static uint64_t rt_random_u64(void *self) {
    uint64_t v;
    random_bytes(self, &v, sizeof v);
    return v;
}

static void rt_random_id(void *self, char hex[32]) {
    static const char digits[] = "0123456789abcdef";
    unsigned char b[16];
    random_bytes(self, b, sizeof b);
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
}

static void rt_call(void *self, const svc_call *call, svc_call_done_fn done, void *ctx) {
    http_client_call(((http_runtime *)self)->client, call, done, ctx);
}

static void rt_timer(void *self, int64_t delay_ns, svc_timer_fn fire, void *ctx) {
    http_client_timer(((http_runtime *)self)->client, delay_ns, fire, ctx);
}

static void rt_persist(void *self, const char *record, size_t len, svc_persist_done_fn done, void *ctx) {
    http_runtime *rt = self;
    if (rt->journal)
        http_journal_append(rt->journal, record, len, done, ctx);
    else
        http_client_persist_done(rt->client, done, ctx, record ? 0 : EINVAL);
}

static void rt_log(void *self, const char *line) {
    (void)self;
    http_log_write(line);
}

static const svc_runtime_ops http_ops = {
    .now_ns = rt_now_ns,
    .unix_ms = rt_unix_ms,
    .random_u64 = rt_random_u64,
    .random_id = rt_random_id,
    .call = rt_call,
    .timer = rt_timer,
    .persist = rt_persist,
    .log = rt_log,
};

/* ---- start-up helpers ---- */

/* The soft descriptor limit raised to the hard one: the flood guard holds two descriptors per connection
 * (libmicrohttpd's and its own duplicate), and the default soft limit of 1024 is below what
 * CONNECTION_LIMIT's default needs under a flood. If the hard limit is lower still, the connection limit is
 * lowered to fit (an accept that fails for want of a descriptor helps nobody), and the log says so. */
static void raise_fd_limit(http_env *env) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    const rlim_t reserve = 256; /* journal, log, libcurl's connections, listening sockets */
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)env->connection_limit * 2 + reserve > rl.rlim_cur) {
        int fit = rl.rlim_cur > reserve + 2 ? (int)((rl.rlim_cur - reserve) / 2) : 1;
        http_log_always("connection_limit_lowered",
                        json_pack("{s:i, s:i, s:I}", "requested", env->connection_limit, "limit", fit, "nofile",
                                  (json_int_t)rl.rlim_cur),
                        "CONNECTION_LIMIT=%d needs %d descriptors, RLIMIT_NOFILE allows %llu: %d connections",
                        env->connection_limit, env->connection_limit * 2, (unsigned long long)rl.rlim_cur, fit);
        env->connection_limit = fit;
    }
}

/* One line at start: what is checked and who is trusted (docs/security.md). */
static void log_security(const http_runtime *rt) {
    int token = rt->env.service_token != NULL, keys = rt->env.api_keys != NULL;
    http_log_always("security",
                    json_pack("{s:b, s:I}", "service_token", token, "api_keys", (json_int_t)rt->env.api_key_count),
                    "%s; %s",
                    token ? "service credential required on /reserve, /release, /send and forwarding"
                          : "no SERVICE_TOKEN: every caller that reaches this port is trusted, as in the seed "
                            "(one machine only; see docs/security.md)",
                    keys ? "refunds need an API key" : "no API_KEYS_FILE: refunds need no API key");
}

static int read_catalogue_file(http_runtime *rt, char *err, size_t errlen) {
    if (http_env_get(NULL, "CATALOGUE")) {
        snprintf(err, errlen, "CATALOGUE and CATALOGUE_FILE are both set: use one");
        return -1;
    }
    FILE *f = fopen(rt->env.catalogue_file, "rb");
    if (!f) {
        snprintf(err, errlen, "CATALOGUE_FILE=%s: %s", rt->env.catalogue_file, strerror(errno));
        return -1;
    }
    char *text = malloc(CATALOGUE_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, CATALOGUE_FILE_MAX + 1, f) : 0;
    int bad = !text || ferror(f) || n > CATALOGUE_FILE_MAX;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "CATALOGUE_FILE=%s: unreadable or larger than %d bytes", rt->env.catalogue_file,
                 CATALOGUE_FILE_MAX);
        free(text);
        return -1;
    }
    text[n] = '\0';
    free(rt->cfg.catalogue_json);
    rt->cfg.catalogue_json = realloc(text, n + 1);
    if (!rt->cfg.catalogue_json) rt->cfg.catalogue_json = text;
    return 0;
}

static int replay_record(void *ctx, const char *record, size_t len, char *err, size_t errlen) {
    return svc_shell_replay(ctx, record, len, err, errlen);
}

static int parse_args(const svc_module *m, int argc, char **argv, int *exit_code) {
    const char *prog = argc > 0 ? argv[0] : m->name;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            http_env_usage(stdout, prog, m);
            *exit_code = 0;
            return 1;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("%s %s (payment-chaos HTTP runtime; libcurl %s, libmicrohttpd %s)\n", m->name, HTTP_RUNTIME_VERSION,
                   curl_version_info(CURLVERSION_NOW)->version, MHD_get_version());
            *exit_code = 0;
            return 1;
        }
        fprintf(stderr, "%s: unknown argument %s (settings come from the environment; see --help)\n", prog, argv[i]);
        *exit_code = 2;
        return 1;
    }
    return 0;
}

/* ---- shutdown ---- */

/* Waits until no request is in the shell or on the wire; 0 when drained, -1 when the grace ran out or a
 * second signal asked to stop waiting. */
static int drain(http_runtime *rt, const sigset_t *signals, size_t *left) {
    int64_t deadline = http_clock_ns() + rt->env.shutdown_grace_ms * 1000000;
    for (;;) {
        http_gate_enter(&rt->gate);
        size_t inflight = svc_shell_inflight(rt->shell);
        http_gate_leave(&rt->gate);
        size_t active = http_server_active(rt->server);
        *left = inflight > active ? inflight : active;
        if (*left == 0) return 0;
        if (http_clock_ns() >= deadline) return -1;
        struct timespec wait = {0, DRAIN_POLL_NS};
        if (sigtimedwait(signals, NULL, &wait) > 0) return -1;
    }
}

/* SHUTDOWN_DELAY_MS of serving as usual (a second signal cuts it short). */
static void wait_delay(http_runtime *rt, const sigset_t *signals) {
    int64_t deadline = http_clock_ns() + rt->env.shutdown_delay_ms * 1000000;
    for (;;) {
        int64_t left = deadline - http_clock_ns();
        if (left <= 0) return;
        struct timespec wait = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        if (sigtimedwait(signals, NULL, &wait) > 0) return;
    }
}

/* After signal `sig`. Kubernetes removes the pod's endpoint while it sends SIGTERM, and clients keep
 * arriving until every node has seen that: keep accepting for the delay, answer not-ready, close connections
 * after each answer so clients move on, and only then stop listening and drain. Returns when drained; exits
 * at once when the grace period runs out. */
static void shut_down(http_runtime *rt, const sigset_t *signals, int sig) {
    http_log_always("shutdown", json_pack("{s:i}", "signal", sig),
                    "signal %d: not ready, serving %lld ms more with Connection: close, then no new connections and "
                    "requests in flight drained (at most %lld ms)",
                    sig, (long long)rt->env.shutdown_delay_ms, (long long)rt->env.shutdown_grace_ms);
    http_gate_enter(&rt->gate);
    svc_shell_set_draining(rt->shell, 1);
    http_gate_leave(&rt->gate);
    http_server_set_draining(rt->server);
    wait_delay(rt, signals);
    http_server_quiesce(rt->server);
    size_t left = 0;
    if (drain(rt, signals, &left) == 0) {
        http_server_close_idle(rt->server);
        return;
    }
    /* Threads still reference the shell: leave without tearing it down (the journal holds every
     * acknowledged record already; unacknowledged ones may be lost, as after a crash). */
    http_log_always("shutdown_timeout", json_pack("{s:I}", "in_flight", (json_int_t)left),
                    "%zu requests still in flight after the grace period; exiting without cleanup", left);
    http_log_stop_writer();
    _exit(0);
}

static void teardown(http_runtime *rt) {
    if (rt->server) http_server_stop(rt->server);
    if (rt->gate_ready) { /* from here on, callbacks are dropped instead of entering the shell */
        http_gate_enter(&rt->gate);
        http_gate_close(&rt->gate);
        http_gate_leave(&rt->gate);
    }
    if (rt->client) http_client_stop(rt->client);
    http_journal_close(rt->journal);
    svc_shell_destroy(rt->shell);
    http_client_destroy(rt->client);
    if (rt->gate_ready) http_gate_destroy(&rt->gate);
    http_env_free(&rt->env);
    svc_config_free(&rt->cfg);
    curl_global_cleanup();
    http_log_stop_writer(); /* last: lines logged while tearing down are written too */
}

/* Settings from the environment and the catalogue file; 0, or exit status 2 with the variable named on
 * stderr (nothing is left allocated then). Starts the log's configuration (no thread yet). */
static int load_settings(http_runtime *rt) {
    const char *name = rt->module->name;
    char err[512];
    if (svc_config_load(&rt->cfg, http_env_get, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", name, err);
        return 2;
    }
    if (http_env_load(&rt->env, rt->module, rt->cfg.replicas, err, sizeof err) < 0 ||
        (rt->env.catalogue_file && read_catalogue_file(rt, err, sizeof err) < 0)) {
        fprintf(stderr, "%s: %s\n", name, err);
        http_env_free(&rt->env);
        svc_config_free(&rt->cfg);
        return 2;
    }
    http_log_init(name, rt->cfg.replica, rt->cfg.log_level);
    return 0;
}

/* Process-wide set-up before any thread exists: SIGTERM and SIGINT are blocked (`signals`, taken by sigwait
 * in the main thread only), SIGPIPE ignored, libcurl, jansson's hash seed, the generator, the log writer.
 * 0, or exit status 1 with the settings released. */
static int process_setup(http_runtime *rt, sigset_t *signals) {
    const char *name = rt->module->name;
    sigemptyset(signals);
    sigaddset(signals, SIGTERM);
    sigaddset(signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
        fprintf(stderr, "%s: curl_global_init failed\n", name);
        http_env_free(&rt->env);
        svc_config_free(&rt->cfg);
        return 1;
    }
    json_object_seed(0);
    raise_fd_limit(&rt->env);
    if (http_log_start_writer() < 0) {
        fprintf(stderr, "%s: cannot start the log writer thread\n", name);
        curl_global_cleanup();
        http_env_free(&rt->env);
        svc_config_free(&rt->cfg);
        return 1;
    }
    return 0;
}

/* Builds the gate, the client, the shell (replaying the journal) and the server, and starts them. 0, or -1
 * with err set and *code the exit status (2 when the shell refuses the settings, 1 otherwise); whatever
 * was built is then left in rt for teardown. */
static int start_service(http_runtime *rt, char *err, size_t errlen, int *code) {
    *code = 1;
    if (http_gate_init(&rt->gate) < 0) {
        snprintf(err, errlen, "cannot create the service lock");
        return -1;
    }
    rt->gate_ready = 1;
    if (!(rt->client = http_client_create(&rt->env, &rt->gate, err, errlen))) return -1;
    rt->shell = svc_shell_create(rt->module, &rt->cfg, (svc_runtime){&http_ops, rt}, err, errlen);
    if (!rt->shell) {
        *code = 2; /* the shell refuses settings (replica index, catalogue) */
        return -1;
    }
    if (rt->env.journal_path) {
        rt->journal = http_journal_open(rt->env.journal_path, replay_record, rt->shell, err, errlen);
        if (!rt->journal || http_journal_start(rt->journal, &rt->gate, err, errlen) < 0) return -1;
    }
    if (http_client_start(rt->client, err, errlen) < 0) return -1;
    http_gate_enter(&rt->gate);
    svc_shell_start(rt->shell);
    http_gate_leave(&rt->gate);
    http_server_config scfg = {.bind_address = rt->env.bind_address,
                               .port = rt->env.port,
                               .threads = rt->env.threads,
                               .connection_limit = rt->env.connection_limit,
                               .header_timeout_ms = rt->env.header_timeout_ms,
                               .service_token = rt->env.service_token,
                               .api_keys = rt->env.api_keys,
                               .api_key_count = rt->env.api_key_count};
    if (!(rt->server = http_server_start(&scfg, rt->shell, &rt->gate, err, errlen))) return -1;
    return 0;
}

/* The "listening" line (the port a PORT=0 start got), then the start-up-only pages dropped from the
 * resident set. */
static void announce_listening(http_runtime *rt) {
    const char *name = rt->module->name;
    int port = http_server_port(rt->server);
    log_security(rt);
    http_log_always("listening",
                    json_pack("{s:i, s:s, s:i, s:i, s:s?, s:i}", "port", port, "bind", rt->env.bind_address, "threads",
                              rt->env.threads, "replicas", rt->cfg.replicas[rt->module->peer], "journal",
                              rt->env.journal_path, "pid", (int)getpid()),
                    "%s listening on %s:%d", name, rt->env.bind_address, port);
    size_t rss_before = http_rss_kib();
    int advised = http_trim_file_pages();
    http_log_event(SVC_LOG_DEBUG, "rss_trimmed",
                   json_pack("{s:I, s:I, s:i}", "rss_kib_before", (json_int_t)rss_before, "rss_kib_after",
                             (json_int_t)http_rss_kib(), "mappings", advised),
                   "start-up-only library pages dropped from the resident set");
}

/* Waits for SIGTERM or SIGINT, stops accepting, drains the requests in flight and tears down; returns 0.
 * When the grace runs out (or a second signal comes) the process exits 0 at once, without cleanup. */
static int serve_until_signal(http_runtime *rt, const sigset_t *signals) {
    int sig = 0;
    while (sigwait(signals, &sig) != 0) {
    }
    shut_down(rt, signals, sig);
    teardown(rt);
    http_log_always("stopped", NULL, "%s stopped cleanly", rt->module->name);
    return 0;
}

/* ---- main ---- */

int http_main(const svc_module *module, int argc, char **argv) {
    int code = 0;
    if (parse_args(module, argc, argv, &code)) return code;
    http_runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.random_used = sizeof rt.random; /* empty: the first draw reads the kernel's */
    rt.module = module;
    if ((code = load_settings(&rt)) != 0) return code;
    sigset_t signals;
    if ((code = process_setup(&rt, &signals)) != 0) return code;
    char err[512];
    if (start_service(&rt, err, sizeof err, &code) < 0) {
        fprintf(stderr, "%s: %s\n", module->name, err);
        teardown(&rt);
        return code;
    }
    announce_listening(&rt);
    return serve_until_signal(&rt, &signals);
}
