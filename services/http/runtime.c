/*
 * runtime.c: the svc_runtime operations over threads, libcurl, libmicrohttpd and a file, and the process
 * life cycle (contract in runtime.h).
 *
 * Threads: main (start-up, then waits for a signal and drives shutdown), the libmicrohttpd workers
 * (requests), the client thread (downstream calls, timers, persists without a journal) and the journal
 * writer. Every entry into the shell holds the gate; the operations below are therefore called with the
 * gate held, and the PRNG they use needs no lock of its own.
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
#include <time.h>
#include <unistd.h>

#include "base/rng.h"
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
    pc_rng rng; /* the same generator as the simulator's (base/rng.h, no simulator state), used under the gate */
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

static uint64_t rt_random_u64(void *self) { return pc_rng_u64(&((http_runtime *)self)->rng); }

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
    .call = rt_call,
    .timer = rt_timer,
    .persist = rt_persist,
    .log = rt_log,
};

/* ---- start-up helpers ---- */

/* A process's generator starts from the kernel's entropy: replicas must not draw the same ids or backoffs. */
static void seed_rng(http_runtime *rt) {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = (uint64_t)rt_unix_ms(rt) ^ (uint64_t)getpid();
    pc_rng_init(&rt->rng, seed, "http-runtime");
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

/* ---- main ---- */

int http_main(const svc_module *module, int argc, char **argv) {
    int code = 0;
    if (parse_args(module, argc, argv, &code)) return code;
    const char *name = module->name;
    http_runtime rt;
    memset(&rt, 0, sizeof rt);
    rt.module = module;
    char err[512];

    /* Settings: a mistake here is exit status 2 with the variable named. */
    if (svc_config_load(&rt.cfg, http_env_get, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", name, err);
        return 2;
    }
    if (http_env_load(&rt.env, module, rt.cfg.replicas, err, sizeof err) < 0 ||
        (rt.env.catalogue_file && read_catalogue_file(&rt, err, sizeof err) < 0)) {
        fprintf(stderr, "%s: %s\n", name, err);
        http_env_free(&rt.env);
        svc_config_free(&rt.cfg);
        return 2;
    }
    http_log_init(name, rt.cfg.replica, rt.cfg.log_level);

    /* Process-wide set-up before any thread exists: signals are taken by sigwait in this thread only. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
        fprintf(stderr, "%s: curl_global_init failed\n", name);
        http_env_free(&rt.env);
        svc_config_free(&rt.cfg);
        return 1;
    }
    json_object_seed(0);
    seed_rng(&rt);
    if (http_log_start_writer() < 0) {
        fprintf(stderr, "%s: cannot start the log writer thread\n", name);
        curl_global_cleanup();
        http_env_free(&rt.env);
        svc_config_free(&rt.cfg);
        return 1;
    }

    code = 1;
    if (http_gate_init(&rt.gate) < 0) {
        snprintf(err, sizeof err, "cannot create the service lock");
        goto fail;
    }
    rt.gate_ready = 1;
    if (!(rt.client = http_client_create(&rt.env, &rt.gate, err, sizeof err))) goto fail;
    rt.shell = svc_shell_create(module, &rt.cfg, (svc_runtime){&http_ops, &rt}, err, sizeof err);
    if (!rt.shell) {
        code = 2; /* the shell refuses settings (replica index, catalogue) */
        goto fail;
    }
    if (rt.env.journal_path) {
        rt.journal = http_journal_open(rt.env.journal_path, replay_record, rt.shell, err, sizeof err);
        if (!rt.journal || http_journal_start(rt.journal, &rt.gate, err, sizeof err) < 0) goto fail;
    }
    if (http_client_start(rt.client, err, sizeof err) < 0) goto fail;
    http_gate_enter(&rt.gate);
    svc_shell_start(rt.shell);
    http_gate_leave(&rt.gate);

    http_server_config scfg = {.bind_address = rt.env.bind_address,
                               .port = rt.env.port,
                               .threads = rt.env.threads,
                               .connection_limit = rt.env.connection_limit};
    if (!(rt.server = http_server_start(&scfg, rt.shell, &rt.gate, err, sizeof err))) goto fail;
    int port = http_server_port(rt.server);
    http_log_always("listening",
                    json_pack("{s:i, s:s, s:i, s:i, s:s?, s:i}", "port", port, "bind", rt.env.bind_address, "threads",
                              rt.env.threads, "replicas", rt.cfg.replicas[module->peer], "journal", rt.env.journal_path,
                              "pid", (int)getpid()),
                    "%s listening on %s:%d", name, rt.env.bind_address, port);
    size_t rss_before = http_rss_kib();
    int advised = http_trim_file_pages();
    http_log_event(SVC_LOG_DEBUG, "rss_trimmed",
                   json_pack("{s:I, s:I, s:i}", "rss_kib_before", (json_int_t)rss_before, "rss_kib_after",
                             (json_int_t)http_rss_kib(), "mappings", advised),
                   "start-up-only library pages dropped from the resident set");

    int sig = 0;
    while (sigwait(&signals, &sig) != 0) {
    }
    http_log_always("shutdown", json_pack("{s:i}", "signal", sig),
                    "signal %d: no new connections; draining requests in flight (at most %lld ms)", sig,
                    (long long)rt.env.shutdown_grace_ms);
    http_server_quiesce(rt.server);
    http_gate_enter(&rt.gate);
    svc_shell_set_draining(rt.shell, 1);
    http_gate_leave(&rt.gate);
    size_t left = 0;
    if (drain(&rt, &signals, &left) < 0) {
        /* Threads still reference the shell: leave without tearing it down (the journal holds every
         * acknowledged record already; unacknowledged ones may be lost, as after a crash). */
        http_log_always("shutdown_timeout", json_pack("{s:I}", "in_flight", (json_int_t)left),
                        "%zu requests still in flight after the grace period; exiting without cleanup", left);
        http_log_stop_writer();
        _exit(0);
    }
    teardown(&rt);
    http_log_always("stopped", NULL, "%s stopped cleanly", name);
    return 0;

fail:
    fprintf(stderr, "%s: %s\n", name, err);
    teardown(&rt);
    return code;
}
