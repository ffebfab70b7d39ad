/*
 * min_responder.c: the benchmark's baseline, the least a libmicrohttpd server can do per request.
 *
 * Same threading options as the services' HTTP runtime (services/http/server.c): THREADS (default 2)
 * daemons with one internal polling thread each, on one port with SO_REUSEPORT, epoll, suspend/resume
 * allowed, error log, 120 s connection timeout, 512 connections in all. Every request gets the same small
 * JSON answer from one shared response object, queued on the second call of the access handler as the
 * runtime does (keep-alive). No service lock, no routing, no logging, no metrics: the services' /health is
 * measured against this.
 *
 * PORT (default 0 = a free port) and BIND_ADDRESS (default 127.0.0.1) come from the environment; it prints
 * {"event":"listening","port":N} on stderr like the services, and exits on SIGTERM/SIGINT.
 * Built by tests/bench/run.sh; not part of the library.
 */
#include <microhttpd.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    static const char body[] = "{\"status\":\"healthy\",\"service\":\"min-responder\"}";
    const char *port_env = getenv("PORT"), *threads_env = getenv("THREADS"), *bind_env = getenv("BIND_ADDRESS");
    int port = port_env ? atoi(port_env) : 0;
    unsigned int threads = threads_env ? (unsigned int)atoi(threads_env) : 2;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_env ? bind_env : "127.0.0.1", &addr.sin_addr) != 1) return 2;

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    answer = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(answer, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    /* As the runtime does (services/http/server.c): one daemon per thread, each with its own listening
     * socket on the port (SO_REUSEPORT), so that the kernel spreads the connections over the threads. */
    struct MHD_Daemon *daemons[64];
    if (threads < 1 || threads > 64) return 2;
    for (unsigned int i = 0; i < threads; i++) {
        daemons[i] = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
            ntohs(addr.sin_port), NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned int)(512 / threads), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_END);
        if (!daemons[i]) {
            fprintf(stderr, "min_responder: cannot listen on port %d\n", port);
            return 1;
        }
        if (i == 0) /* port 0: the others bind the port the first one got */
            addr.sin_port = htons(MHD_get_daemon_info(daemons[0], MHD_DAEMON_INFO_BIND_PORT)->port);
    }
    fprintf(stderr, "{\"event\":\"listening\",\"service\":\"min-responder\",\"port\":%u}\n",
            (unsigned)ntohs(addr.sin_port));
    int sig;
    sigwait(&signals, &sig);
    for (unsigned int i = 0; i < threads; i++) MHD_stop_daemon(daemons[i]);
    MHD_destroy_response(answer);
    return 0;
}
