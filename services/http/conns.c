/*
 * conns.c: the flood guard's connection table and sweeper (contract in conns.h).
 *
 * Each worker's connections sit on one of two lists under the worker's mutex: `idle` (waiting for a request
 * head, oldest first: accepted, or done with their last request, longest ago) and `busy` (in a request).
 * Shedding takes the head of `idle`; the sweeper walks `idle`.
 */
#include "services/http/conns.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/list.h"

#define SWEEP_NS (100 * 1000000LL)

struct http_conn {
    pc_link link; /* in its worker's idle or busy list; self-linked once shed */
    int fd;       /* our duplicate of the socket */
    int worker;
    int64_t since_ns; /* accepted, or its last answer sent */
    int served;       /* completed a request: the header timeout no longer applies */
    int in_request;
    int shed;
};

typedef struct conn_worker {
    pthread_mutex_t mu;
    pc_link idle, busy;
    size_t live; /* open and not shed */
    unsigned limit;
} conn_worker;

struct http_conns {
    int nworkers;
    int64_t header_timeout_ns;
    pthread_t thread;
    int started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    int stop;
    atomic_uint_fast64_t shed, header_timeouts, peer_closed;
    atomic_size_t open;
    conn_worker w[];
};

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

http_conns *http_conns_create(int workers, const unsigned *limit, int64_t header_timeout_ns) {
    http_conns *g = calloc(1, sizeof *g + (size_t)workers * sizeof g->w[0]);
    if (!g) return NULL;
    g->nworkers = workers;
    g->header_timeout_ns = header_timeout_ns;
    pthread_mutex_init(&g->stop_mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->stop_cv, &attr);
    pthread_condattr_destroy(&attr);
    for (int i = 0; i < workers; i++) {
        pthread_mutex_init(&g->w[i].mu, NULL);
        pc_list_init(&g->w[i].idle);
        pc_list_init(&g->w[i].busy);
        g->w[i].limit = limit[i];
    }
    return g;
}

/* Closes c's socket for libmicrohttpd to notice (worker mutex held). */
static void shed(conn_worker *w, http_conn *c) {
    shutdown(c->fd, SHUT_RDWR);
    c->shed = 1;
    pc_list_remove(&c->link);
    w->live--;
}

static int peer_gone(int fd) {
    struct tcp_info info;
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
    return info.tcpi_state == TCP_CLOSE_WAIT || info.tcpi_state == TCP_CLOSE;
}

static void sweep_worker(http_conns *g, conn_worker *w, int64_t now) {
    pthread_mutex_lock(&w->mu);
    for (pc_link *l = w->idle.next; l != &w->idle;) {
        http_conn *c = PC_CONTAINER_OF(l, http_conn, link);
        l = l->next;
        if (!c->served && now - c->since_ns > g->header_timeout_ns) {
            shed(w, c);
            atomic_fetch_add(&g->header_timeouts, 1);
        } else if (peer_gone(c->fd)) {
            shed(w, c);
            atomic_fetch_add(&g->peer_closed, 1);
        }
    }
    pthread_mutex_unlock(&w->mu);
}

static void *sweeper_main(void *arg) {
    http_conns *g = arg;
    pthread_mutex_lock(&g->stop_mu);
    while (!g->stop) {
        int64_t due = mono_ns() + SWEEP_NS;
        struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
        pthread_cond_timedwait(&g->stop_cv, &g->stop_mu, &ts);
        if (g->stop) break;
        pthread_mutex_unlock(&g->stop_mu);
        int64_t now = mono_ns();
        for (int i = 0; i < g->nworkers; i++) sweep_worker(g, &g->w[i], now);
        pthread_mutex_lock(&g->stop_mu);
    }
    pthread_mutex_unlock(&g->stop_mu);
    return NULL;
}

int http_conns_start(http_conns *g) {
    if (pthread_create(&g->thread, NULL, sweeper_main, g) != 0) return -1;
    g->started = 1;
    return 0;
}

void http_conns_stop(http_conns *g) {
    if (!g || !g->started) return;
    pthread_mutex_lock(&g->stop_mu);
    g->stop = 1;
    pthread_cond_signal(&g->stop_cv);
    pthread_mutex_unlock(&g->stop_mu);
    pthread_join(g->thread, NULL);
    g->started = 0;
}

void http_conns_destroy(http_conns *g) {
    if (!g) return;
    http_conns_stop(g);
    for (int i = 0; i < g->nworkers; i++) pthread_mutex_destroy(&g->w[i].mu);
    pthread_cond_destroy(&g->stop_cv);
    pthread_mutex_destroy(&g->stop_mu);
    free(g);
}

http_conn *http_conns_opened(http_conns *g, int worker, int fd) {
    http_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (c->fd < 0) { /* out of descriptors: this one is not guarded, the rest still are */
        free(c);
        return NULL;
    }
    c->worker = worker;
    c->since_ns = mono_ns();
    conn_worker *w = &g->w[worker];
    pthread_mutex_lock(&w->mu);
    if (w->live >= w->limit && !pc_list_empty(&w->idle)) {
        shed(w, PC_CONTAINER_OF(w->idle.next, http_conn, link));
        atomic_fetch_add(&g->shed, 1);
    }
    pc_list_push(&w->idle, &c->link);
    w->live++;
    pthread_mutex_unlock(&w->mu);
    atomic_fetch_add(&g->open, 1);
    return c;
}

void http_conns_closed(http_conns *g, http_conn *c) {
    if (!c) return;
    conn_worker *w = &g->w[c->worker];
    pthread_mutex_lock(&w->mu);
    if (!c->shed) {
        pc_list_remove(&c->link);
        w->live--;
    }
    pthread_mutex_unlock(&w->mu);
    close(c->fd);
    free(c);
    atomic_fetch_sub(&g->open, 1);
}

void http_conns_request_begins(http_conns *g, http_conn *c) {
    if (!c) return;
    conn_worker *w = &g->w[c->worker];
    pthread_mutex_lock(&w->mu);
    if (!c->shed && !c->in_request) {
        c->in_request = 1;
        pc_list_remove(&c->link);
        pc_list_push(&w->busy, &c->link);
    }
    pthread_mutex_unlock(&w->mu);
}

void http_conns_request_ends(http_conns *g, http_conn *c) {
    if (!c) return;
    conn_worker *w = &g->w[c->worker];
    pthread_mutex_lock(&w->mu);
    if (!c->shed && c->in_request) {
        c->in_request = 0;
        c->served = 1;
        c->since_ns = mono_ns();
        pc_list_remove(&c->link);
        pc_list_push(&w->idle, &c->link);
    }
    pthread_mutex_unlock(&w->mu);
}

void http_conns_close_idle(http_conns *g) {
    for (int i = 0; i < g->nworkers; i++) {
        conn_worker *w = &g->w[i];
        pthread_mutex_lock(&w->mu);
        while (!pc_list_empty(&w->idle)) shed(w, PC_CONTAINER_OF(w->idle.next, http_conn, link));
        pthread_mutex_unlock(&w->mu);
    }
}

http_conns_stats http_conns_get_stats(http_conns *g) {
    http_conns_stats s = {atomic_load(&g->shed), atomic_load(&g->header_timeouts), atomic_load(&g->peer_closed),
                          atomic_load(&g->open)};
    return s;
}
