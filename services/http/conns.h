/*
 * conns.h: the HTTP server's client connections as seen by its flood guard.
 *
 * libmicrohttpd keeps a connection until its idle timeout (120 s) and, at its connection limit, accepts
 * nothing more: 2 000 slowloris connections (a request head sent a byte at a time, or never finished) took a
 * service down for minutes, and connections whose clients had already gone waited in CLOSE-WAIT for the
 * whole timeout once they were accepted. The guard keeps a table of every connection (opened, closed, in a
 * request or idle) and acts in three ways:
 *   - header timeout: a connection that has not completed its first request head within
 *     HEADER_TIMEOUT_MS of being accepted is closed;
 *   - shedding: when a worker holds more than its share of CONNECTION_LIMIT, the connection that has been
 *     idle (not in a request) longest is closed to make room for the new one, so that a flood of idle or
 *     partial connections turns over instead of filling the server;
 *   - closed peers: a sweeper thread looks at every idle connection every 100 ms and closes those whose
 *     client has gone (TCP state CLOSE-WAIT), which libmicrohttpd does not always notice on its own.
 * "Closing" is shutdown(2) of the socket: libmicrohttpd then sees the end of the stream on its next poll
 * and frees the connection itself, on its own thread. The guard holds a duplicate of each socket, so a
 * shutdown can never reach a descriptor number that libmicrohttpd has closed and the kernel reused.
 * A connection in a request (its head complete, its answer not yet sent) is never closed by the guard.
 *
 * Threads: every function may be called from any thread; one mutex per worker guards its connections.
 * Ownership: the guard owns its http_conn records; one lives from http_conns_opened to http_conns_closed.
 */
#ifndef PC_SERVICES_HTTP_CONNS_H
#define PC_SERVICES_HTTP_CONNS_H

#include <stddef.h>
#include <stdint.h>

typedef struct http_conns http_conns;
typedef struct http_conn http_conn;

/* Counters for the log and the tests. */
typedef struct http_conns_stats {
    uint64_t shed;            /* closed at the connection limit */
    uint64_t header_timeouts; /* closed for not sending a request head in time */
    uint64_t peer_closed;     /* closed because the client had gone */
    size_t open;              /* connections open now */
} http_conns_stats;

/* workers: how many libmicrohttpd daemons; limit[i]: worker i's share of the connection limit. */
http_conns *http_conns_create(int workers, const unsigned *limit, int64_t header_timeout_ns);
/* Starts the sweeper thread; -1 if it cannot be started. */
int http_conns_start(http_conns *g);
/* Stops the sweeper (connections are left to libmicrohttpd). */
void http_conns_stop(http_conns *g);
void http_conns_destroy(http_conns *g);

/* A connection was accepted by `worker` on socket fd. Sheds the longest-idle connection when the worker is
 * over its share. Returns the record (NULL without memory: the connection is then not guarded). */
http_conn *http_conns_opened(http_conns *g, int worker, int fd);
void http_conns_closed(http_conns *g, http_conn *c);
/* Its request head is complete / its answer was sent. */
void http_conns_request_begins(http_conns *g, http_conn *c);
void http_conns_request_ends(http_conns *g, http_conn *c);
/* Closes every idle connection now (shutdown: their clients were told Connection: close before). */
void http_conns_close_idle(http_conns *g);
http_conns_stats http_conns_get_stats(http_conns *g);

#endif
