/*
 * bench_server.h: the server side that the benchmark's baselines share (min_responder.c, min_chain.c), so
 * that both are configured, served and stopped alike, and like the HTTP runtime (services/http/server.c):
 * THREADS daemons, each with its own listening socket on one port (SO_REUSEPORT, so that the kernel spreads
 * the connections over them), epoll, suspend/resume allowed, error log, 120 s connection timeout, 512
 * connections in all.
 *
 * Header-only (static functions): tests/bench/run.sh compiles each baseline from its one .c file. Not part
 * of the library. Nothing here allocates beyond what libmicrohttpd returns to the caller, who owns it.
 */
#ifndef PC_TESTS_BENCH_BENCH_SERVER_H
#define PC_TESTS_BENCH_BENCH_SERVER_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_THREADS_MAX 64

typedef struct bench_listen {
    struct sockaddr_in addr;
    unsigned int threads;
} bench_listen;

/* PORT (default 0: a free port), THREADS (default 2, 1 to BENCH_THREADS_MAX) and BIND_ADDRESS (default
 * 127.0.0.1, IPv4) from the environment. Returns -1 if one of them is invalid. */
static int bench_listen_from_env(bench_listen *l) {
    const char *port_env = getenv("PORT"), *threads_env = getenv("THREADS"), *bind_env = getenv("BIND_ADDRESS");
    int port = port_env ? atoi(port_env) : 0;
    int threads = threads_env ? atoi(threads_env) : 2;
    memset(l, 0, sizeof *l);
    l->addr.sin_family = AF_INET;
    l->addr.sin_port = htons((uint16_t)port);
    l->threads = (unsigned int)threads;
    if (port < 0 || port > 65535 || threads < 1 || threads > BENCH_THREADS_MAX) return -1;
    return inet_pton(AF_INET, bind_env ? bind_env : "127.0.0.1", &l->addr.sin_addr) == 1 ? 0 : -1;
}

/* Blocks SIGTERM and SIGINT in the calling thread and in every thread it starts afterwards, so that the
 * caller alone takes them, with sigwait() on `set`. */
static void bench_block_stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* A response with a fixed JSON body, which must outlive it (a string literal); NULL if out of memory. */
static struct MHD_Response *bench_fixed_json(const char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
}

/* Starts l->threads daemons on l->addr, with `extra_flags` (MHD_USE_INTERNAL_POLLING_THREAD, or none for
 * a caller that runs them itself) added to the shared ones; `completed` may be NULL. With port 0 the first
 * daemon picks a free port and the others bind it; l->addr holds the port afterwards. Returns -1 after a
 * message on stderr naming `name` if a daemon cannot start (the caller exits). */
static int bench_start_daemons(struct MHD_Daemon **daemons, bench_listen *l, unsigned int extra_flags,
                               MHD_AccessHandlerCallback on_request, MHD_RequestCompletedCallback completed,
                               const char *name) {
    unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | extra_flags;
    for (unsigned int i = 0; i < l->threads; i++) {
        daemons[i] =
            MHD_start_daemon(flags, ntohs(l->addr.sin_port), NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&l->addr, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
                             MHD_OPTION_CONNECTION_LIMIT, 512 / l->threads, MHD_OPTION_CONNECTION_TIMEOUT,
                             (unsigned int)120, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
        if (!daemons[i]) {
            fprintf(stderr, "%s: cannot listen on port %u\n", name, (unsigned)ntohs(l->addr.sin_port));
            return -1;
        }
        if (i == 0) /* port 0: the others bind the port the first one got */
            l->addr.sin_port = htons(MHD_get_daemon_info(daemons[0], MHD_DAEMON_INFO_BIND_PORT)->port);
    }
    return 0;
}

#endif
