/*
 * min_responder.c: the benchmark's baseline, the least a libmicrohttpd server can do per request.
 *
 * Same threading options as the services' HTTP runtime (services/http/server.c), set up by bench_server.h
 * (shared with min_chain.c): THREADS (default 2) daemons with one internal polling thread each, on one port
 * with SO_REUSEPORT, epoll, suspend/resume allowed, error log, 120 s connection timeout, 512 connections in
 * all. Every request gets the same small JSON answer from one shared response object, queued on the second
 * call of the access handler as the runtime does (keep-alive). No service lock, no routing, no logging, no
 * metrics: the services' /health is measured against this.
 *
 * PORT (default 0 = a free port), THREADS and BIND_ADDRESS (default 127.0.0.1) come from the environment
 * (exit 2 if one is invalid, 1 if it cannot start); it prints {"event":"listening","port":N} on stderr like
 * the services, and exits on SIGTERM/SIGINT.
 * Built by tests/bench/run.sh; not part of the library.
 */
#include "bench_server.h"

static struct MHD_Response *answer;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    static int seen; /* any non-NULL marker */
    if (!*con_cls) { /* first call, headers only: answering now would make libmicrohttpd close the connection */
        *con_cls = &seen;
        return MHD_YES;
    }
    if (*upload_data_size) { /* bodies are read and ignored */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, answer);
}

int main(void) {
    bench_listen l;
    if (bench_listen_from_env(&l) < 0) {
        fprintf(stderr, "min_responder: PORT 0-65535; THREADS 1-%d; BIND_ADDRESS IPv4\n", BENCH_THREADS_MAX);
        return 2;
    }
    sigset_t signals;
    bench_block_stop_signals(&signals);
    if (!(answer = bench_fixed_json("{\"status\":\"healthy\",\"service\":\"min-responder\"}"))) return 1;
    struct MHD_Daemon *daemons[BENCH_THREADS_MAX];
    if (bench_start_daemons(daemons, &l, MHD_USE_INTERNAL_POLLING_THREAD, on_request, NULL, "min_responder") < 0)
        return 1;
    fprintf(stderr, "{\"event\":\"listening\",\"service\":\"min-responder\",\"port\":%u}\n",
            (unsigned)ntohs(l.addr.sin_port));
    int sig;
    sigwait(&signals, &sig);
    for (unsigned int i = 0; i < l.threads; i++) MHD_stop_daemon(daemons[i]);
    MHD_destroy_response(answer);
    return 0;
}
