/*
 * log.h: the HTTP runtime's log output: one JSON object per line on stderr.
 *
 * Every line is written whole by a single write(2) (of the line, or of a batch of whole lines), so lines
 * from concurrent threads never interleave (no stdio buffering is involved), in the order they were logged. The runtime's own events
 * (listening, journal warnings, shutdown) use http_log_event(), which formats the same fields as the
 * shell's svc_log() so one parser reads both.
 *
 * Ownership: nothing is retained; callers keep their strings.
 */
#ifndef PC_SERVICES_HTTP_LOG_H
#define PC_SERVICES_HTTP_LOG_H

#include <jansson.h>

/* Identity stamped on the runtime's own lines; set once at start-up before threads exist. */
void http_log_init(const char *service, int replica, int level);
/* Writes line + '\n' to stderr in one write(2). */
void http_log_write(const char *line);
/* Starts / stops the writer thread. While it runs, http_log_write() only appends the line to a buffer and
 * the thread writes the buffer with one write(2) at most ~1 ms later: a busy service pays one system call
 * per batch instead of one per line, and no lock is held across the system call. Stopping writes what is
 * buffered. A process killed with SIGKILL loses at most the last ~1 ms of lines. */
int http_log_start_writer(void);
void http_log_stop_writer(void);
/* Writes {"ts_ms","level","service","replica","event","msg", ...extra} if level passes the filter.
 * `extra` (may be NULL) is an object whose fields are added; it is stolen. */
void http_log_event(int level, const char *event, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same line, written whatever LOG_LEVEL says (start-up records that tests and operators rely on). */
void http_log_always(const char *event, json_t *extra, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
