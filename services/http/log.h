/*
 * log.h: the HTTP runtime's log output: one JSON object per line on stderr.
 *
 * Every line is written with a single write(2) of the text plus '\n', so lines from concurrent threads never
 * interleave (stderr is unbuffered at this level; no stdio lock is involved). The runtime's own events
 * (listening, journal warnings, shutdown) use http_log_event(), which formats the same fields as the
 * shell's svc_log() so one parser reads both.
 *
 * Ownership: nothing is retained; callers keep their strings.
 */
#ifndef PC_HTTP_LOG_H
#define PC_HTTP_LOG_H

#include <jansson.h>

/* Identity stamped on the runtime's own lines; set once at start-up before threads exist. */
void http_log_init(const char *service, int replica, int level);
/* Writes line + '\n' to stderr in one write(2). */
void http_log_write(const char *line);
/* Writes {"ts_ms","level","service","replica","event","msg", ...extra} if level passes the filter.
 * `extra` (may be NULL) is an object whose fields are added; it is stolen. */
void http_log_event(int level, const char *event, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same line, written whatever LOG_LEVEL says (start-up records that tests and operators rely on). */
void http_log_always(const char *event, json_t *extra, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
