/*
 * min_chain.c: the benchmark's second baseline, the least a chain can cost with the libraries the design
 * card fixes (libmicrohttpd for the server, libcurl for the calls), with no service work at all.
 *
 * Each request (any method; a body is read and ignored) is suspended, makes two calls one after the other
 * through a libcurl multi handle, keep-alive, as payment's chain does (GET UPSTREAM1, then POST a small
 * JSON body to UPSTREAM2), is resumed, and answers a fixed JSON body: 200 when both calls answered 2xx, 502
 * otherwise (wrk counts it as an error). No service lock, no JSON, no routing, no logging, no metrics. The
 * server side is min_responder.c's, from bench_server.h: THREADS (default 2) daemons on one SO_REUSEPORT
 * port, epoll, suspend/resume. DESIGN picks how the two libraries share threads:
 *
 *   handoff (default): the HTTP runtime's design (services/http/server.c, client.c). Each daemon has its
 *     own polling thread; one client thread owns the multi handle. A worker suspends the request, queues it
 *     under a mutex and wakes the client thread only when it sleeps; the client thread resumes it.
 *   loop: one event loop per thread drives both its daemon (libmicrohttpd's external epoll mode) and its
 *     own multi handle, so a chain never changes thread (the design that README.md, "Where the time goes",
 *     describes as tried in the runtime and not kept).
 *
 * So tests/bench/run.sh can tell how far the services' chain is from the libraries' own floor, and how
 * close either floor comes to the chain's throughput target (a ratio to a bare responder, see run.sh) on the machine.
 *
 * Environment: PORT (default 0 = a free port), BIND_ADDRESS (default 127.0.0.1), THREADS, DESIGN, UPSTREAM1
 * and UPSTREAM2 (URLs, required). It prints {"event":"listening","port":N} on stderr and exits on SIGTERM
 * or SIGINT. Exit 2 on bad configuration, 1 if it cannot start. Built by tests/bench/run.sh; not part of
 * the library. Memory: a request's `job` is allocated by the access handler and freed when libmicrohttpd
 * reports the request complete; easy handles return to the pool of the client that ran them.
 */
#include <curl/curl.h>
#include <stdatomic.h>

#include "bench_server.h"

#define POOL_MAX 256
#define WAIT_MAX_MS 1000L

/* A multi handle and its idle easy handles, owned by the one thread that runs it. */
typedef struct client {
    CURLM *multi;
    CURL *pool[POOL_MAX];
    int pool_len;
    int inflight;              /* chains between their first call and their resume */
    struct MHD_Daemon *daemon; /* loop design: the daemon this thread runs */
    pthread_t thread;
} client;

typedef struct job {
    struct job *next; /* handoff design: queue to the client thread */
    struct MHD_Connection *conn;
    CURL *easy;
    int step;   /* 0: first call, 1: second call */
    int queued; /* handed to a client (once per request) */
    int ok;     /* both calls answered 2xx */
} job;

static const char *upstream1, *upstream2;
static const char notify_body[] = "{\"message\":\"chain step 2\",\"type\":\"info\",\"recipient\":\"bench\"}";
static struct curl_slist *json_type; /* the POST's Content-Type, shared read-only by every easy handle */
static struct MHD_Response *answer_ok, *answer_failed;
static int loop_design;
static atomic_int stopping;

/* Handoff design: the one client, its queue and its sleep flag (`queue_head`, `sleeping` under `mu`). */
static client shared;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static job *queue_head;
static int sleeping;

/* Loop design: one client per thread; `current` is the calling thread's. */
static client loops[BENCH_THREADS_MAX];
static _Thread_local client *current;

static size_t discard(char *data, size_t size, size_t n, void *user) {
    (void)data;
    (void)user;
    return size * n;
}

static void start_call(client *c, job *j) {
    if (!j->easy) {
        j->easy = c->pool_len ? c->pool[--c->pool_len] : curl_easy_init();
        if (!j->easy) abort();
        curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(j->easy, CURLOPT_PROXY, "");
        curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, 15000L);
        curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    }
    if (j->step == 0) {
        c->inflight++;
        curl_easy_setopt(j->easy, CURLOPT_URL, upstream1);
        curl_easy_setopt(j->easy, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, NULL);
    } else {
        curl_easy_setopt(j->easy, CURLOPT_URL, upstream2);
        curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, notify_body);
        curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE, (long)(sizeof notify_body - 1));
        curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, json_type);
    }
    curl_multi_add_handle(c->multi, j->easy);
}

/* Runs the multi handle once: finished first calls start the second, finished chains are resumed.
 * Returns how many were resumed. */
static int run_calls(client *c) {
    int running = 0, left, resumed = 0;
    curl_multi_perform(c->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        job *j = NULL;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        int ok = m->data.result == CURLE_OK && status >= 200 && status < 300;
        curl_multi_remove_handle(c->multi, m->easy_handle);
        if (ok && j->step == 0) {
            j->step = 1;
            start_call(c, j);
            continue;
        }
        j->ok = ok;
        if (c->pool_len < POOL_MAX)
            c->pool[c->pool_len++] = j->easy;
        else
            curl_easy_cleanup(j->easy);
        j->easy = NULL;
        MHD_resume_connection(j->conn);
        c->inflight--;
        resumed++;
    }
    return resumed;
}

/* How long libcurl lets this thread sleep, capped so that a stop is seen. */
static long calls_wait_ms(client *c) {
    long ms = -1;
    curl_multi_timeout(c->multi, &ms);
    return ms < 0 || ms > WAIT_MAX_MS ? WAIT_MAX_MS : ms;
}

/* At a stop, a client still finishes the chains it holds: libmicrohttpd refuses to stop a daemon that has
 * a suspended connection (wrk leaves requests in flight when its time is up). The calls' own timeout
 * bounds the wait. */
static void *handoff_client(void *arg) {
    client *c = arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        job *in = queue_head;
        queue_head = NULL;
        pthread_mutex_unlock(&mu);
        if (!in && !c->inflight && atomic_load(&stopping)) break;
        while (in) {
            job *next = in->next;
            start_call(c, in);
            in = next;
        }
        run_calls(c);
        long wait_ms = calls_wait_ms(c);
        if (wait_ms == 0) continue;
        /* Sleep only if nothing was queued meanwhile; from here on the workers wake us up. */
        pthread_mutex_lock(&mu);
        sleeping = !queue_head;
        int sleep_now = sleeping;
        pthread_mutex_unlock(&mu);
        if (sleep_now) curl_multi_poll(c->multi, NULL, 0, (int)wait_ms, NULL);
        pthread_mutex_lock(&mu);
        sleeping = 0;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void *loop_thread(void *arg) {
    client *c = arg;
    current = c;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    struct curl_waitfd daemon_fd = {.fd = info->epoll_fd, .events = CURL_WAIT_POLLIN, .revents = 0};
    while (c->inflight || !atomic_load(&stopping)) { /* see handoff_client on stopping */
        MHD_run(c->daemon);
        /* A resumed connection is only answered by the daemon's next run, which its epoll set may not
         * announce: run it again before sleeping. */
        if (run_calls(c)) continue;
        long wait_ms = calls_wait_ms(c);
        MHD_UNSIGNED_LONG_LONG daemon_ms;
        if (MHD_get_timeout(c->daemon, &daemon_ms) == MHD_YES && daemon_ms < (MHD_UNSIGNED_LONG_LONG)wait_ms)
            wait_ms = (long)daemon_ms;
        if (wait_ms == 0) continue;
        curl_multi_poll(c->multi, &daemon_fd, 1, (int)wait_ms, NULL);
    }
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    job *j = *con_cls;
    if (!j) { /* headers only; answering on this call would make libmicrohttpd close the connection */
        if (!(j = calloc(1, sizeof *j))) return MHD_NO;
        j->conn = conn;
        *con_cls = j;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!j->queued) { /* suspended before any client can see it, so its resume cannot come first */
        j->queued = 1;
        MHD_suspend_connection(conn);
        if (loop_design) {
            start_call(current, j);
            return MHD_YES;
        }
        pthread_mutex_lock(&mu);
        j->next = queue_head;
        queue_head = j;
        if (sleeping) {
            sleeping = 0;
            curl_multi_wakeup(shared.multi);
        }
        pthread_mutex_unlock(&mu);
        return MHD_YES;
    }
    return j->ok ? MHD_queue_response(conn, MHD_HTTP_OK, answer_ok)
                 : MHD_queue_response(conn, MHD_HTTP_BAD_GATEWAY, answer_failed);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)conn;
    (void)code;
    free(*con_cls); /* a suspended request is never completed, so no client holds it any more */
    *con_cls = NULL;
}

static int client_init(client *c) {
    if (!(c->multi = curl_multi_init())) return -1;
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 64L);
    return 0;
}

int main(void) {
    const char *design = getenv("DESIGN");
    upstream1 = getenv("UPSTREAM1");
    upstream2 = getenv("UPSTREAM2");
    loop_design = design && !strcmp(design, "loop");
    bench_listen l;
    if (bench_listen_from_env(&l) < 0 || !upstream1 || !upstream2 ||
        (design && !loop_design && strcmp(design, "handoff"))) {
        fprintf(stderr,
                "min_chain: needs UPSTREAM1 and UPSTREAM2 (URLs); DESIGN handoff or loop; PORT 0-65535; "
                "THREADS 1-%d; BIND_ADDRESS IPv4\n",
                BENCH_THREADS_MAX);
        return 2;
    }
    sigset_t signals;
    bench_block_stop_signals(&signals);

    answer_ok = bench_fixed_json("{\"overall_status\":\"success\"}");
    answer_failed = bench_fixed_json("{\"overall_status\":\"partial_failure\"}");
    if (!answer_ok || !answer_failed || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        !(json_type = curl_slist_append(NULL, "Content-Type: application/json")))
        return 1;
    if (!loop_design && (client_init(&shared) || pthread_create(&shared.thread, NULL, handoff_client, &shared)))
        return 1;

    /* The loop design runs each daemon on its own loop thread, started once the daemons listen. */
    struct MHD_Daemon *daemons[BENCH_THREADS_MAX];
    if (bench_start_daemons(daemons, &l, loop_design ? 0 : MHD_USE_INTERNAL_POLLING_THREAD, on_request, on_completed,
                            "min_chain") < 0)
        return 1;
    for (unsigned int i = 0; loop_design && i < l.threads; i++) {
        loops[i].daemon = daemons[i];
        if (client_init(&loops[i]) || pthread_create(&loops[i].thread, NULL, loop_thread, &loops[i])) return 1;
    }
    fprintf(stderr, "{\"event\":\"listening\",\"service\":\"min-chain\",\"design\":\"%s\",\"port\":%u}\n",
            loop_design ? "loop" : "handoff", (unsigned)ntohs(l.addr.sin_port));
    int sig;
    sigwait(&signals, &sig);
    /* The clients first: they resume what they hold, and nothing resumes a connection of a stopped daemon
     * after. A request that arrived after that would be suspended at the daemon's stop: the benchmark
     * stops this program only when its load is over. */
    atomic_store(&stopping, 1);
    client *clients = loop_design ? loops : &shared;
    unsigned int nclients = loop_design ? l.threads : 1;
    for (unsigned int i = 0; i < nclients; i++) {
        curl_multi_wakeup(clients[i].multi);
        pthread_join(clients[i].thread, NULL);
    }
    for (unsigned int i = 0; i < l.threads; i++) MHD_stop_daemon(daemons[i]);
    for (unsigned int i = 0; i < nclients; i++) {
        while (clients[i].pool_len) curl_easy_cleanup(clients[i].pool[--clients[i].pool_len]);
        curl_multi_cleanup(clients[i].multi);
    }
    curl_slist_free_all(json_type);
    curl_global_cleanup();
    MHD_destroy_response(answer_ok);
    MHD_destroy_response(answer_failed);
    return 0;
}
