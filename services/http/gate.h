/*
 * gate.h: the service lock of the HTTP runtime, and work deferred until it is released.
 *
 * The service code is single-threaded by contract (svc.h), so every call into the shell (a request, a call
 * completion, a timer, a journal completion, rendering metrics) happens between http_gate_enter() and
 * http_gate_leave(). Some work must not run under that lock: resuming a suspended libmicrohttpd
 * connection takes libmicrohttpd's own locks, and doing that under ours would create a lock-order cycle.
 * Such work is queued with http_gate_defer() while the lock is held and run by http_gate_leave() after
 * the lock is released, on the thread that held it.
 *
 * Closing: http_gate_close() (under the lock) marks the service as gone; from then on http_gate_enter()
 * still takes the lock but returns 0, and the caller must drop what it meant to deliver.
 *
 * Ownership: the caller owns the gate and every http_deferred node; a node must stay valid until its
 * function has run (the function may free it: the gate reads the node before calling it).
 */
#ifndef PC_SERVICES_HTTP_GATE_H
#define PC_SERVICES_HTTP_GATE_H

#include <pthread.h>

typedef struct http_deferred {
    struct http_deferred *next;
    void (*fn)(void *arg);
    void *arg;
} http_deferred;

typedef struct http_gate {
    pthread_mutex_t mu;
    http_deferred *head, *tail; /* FIFO, guarded by mu */
    int closed;                 /* guarded by mu */
} http_gate;

int http_gate_init(http_gate *g);
void http_gate_destroy(http_gate *g);
/* Takes the service lock. Returns 1 if the service is open, 0 after http_gate_close (the lock is held
 * either way; call http_gate_leave). */
int http_gate_enter(http_gate *g);
/* Releases the service lock, then runs the deferred work queued while it was held. */
void http_gate_leave(http_gate *g);
/* Queues d (with the lock held) to run after the lock is released. */
void http_gate_defer(http_gate *g, http_deferred *d);
/* Marks the service closed (with the lock held). */
void http_gate_close(http_gate *g);

#endif
