/*
 * gate.c: the service lock and its deferred work (contract in gate.h).
 */
#include "services/http/gate.h"

#include <stddef.h>

int http_gate_init(http_gate *g) {
    g->head = g->tail = NULL;
    g->closed = 0;
    return pthread_mutex_init(&g->mu, NULL) == 0 ? 0 : -1;
}

void http_gate_destroy(http_gate *g) { pthread_mutex_destroy(&g->mu); }

int http_gate_enter(http_gate *g) {
    pthread_mutex_lock(&g->mu);
    return !g->closed;
}

void http_gate_leave(http_gate *g) {
    http_deferred *d = g->head;
    g->head = g->tail = NULL;
    pthread_mutex_unlock(&g->mu);
    while (d) {
        /* Read the node before running it: the function may free it. */
        http_deferred *next = d->next;
        void (*fn)(void *) = d->fn;
        void *arg = d->arg;
        fn(arg);
        d = next;
    }
}

void http_gate_defer(http_gate *g, http_deferred *d) {
    d->next = NULL;
    if (g->tail)
        g->tail->next = d;
    else
        g->head = d;
    g->tail = d;
}

void http_gate_close(http_gate *g) { g->closed = 1; }
