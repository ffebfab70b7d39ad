/*
 * log.c: single-write JSON log lines on stderr (contract in log.h).
 */
#include "services/http/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "services/config.h"

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

/* Written once before any thread starts, read-only afterwards. */
static const char *log_service = "service";
static int log_replica;
static int log_level = SVC_LOG_INFO;

void http_log_init(const char *service, int replica, int level) {
    log_service = service;
    log_replica = replica;
    log_level = level;
}

void http_log_write(const char *line) {
    size_t n = strlen(line);
    char stackbuf[1024];
    char *buf = n + 1 <= sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!buf) return; /* no memory for a log line: drop it rather than split it */
    memcpy(buf, line, n);
    buf[n] = '\n';
    size_t off = 0;
    while (off < n + 1) {
        ssize_t w = write(STDERR_FILENO, buf + off, n + 1 - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (buf != stackbuf) free(buf);
}

static void emit(int level, const char *event, json_t *extra, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_int_t ms = (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    json_t *line = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s}", "ts_ms", ms, "level", level_names[level], "service",
                             log_service, "replica", log_replica, "event", event, "msg", msg);
    if (line && extra) json_object_update(line, extra);
    json_decref(extra);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text) http_log_write(text);
    free(text);
    json_decref(line);
}

void http_log_event(int level, const char *event, json_t *extra, const char *fmt, ...) {
    if (level < log_level || level >= SVC_LOG_OFF) {
        json_decref(extra);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    emit(level, event, extra, fmt, ap);
    va_end(ap);
}

void http_log_always(const char *event, json_t *extra, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit(SVC_LOG_INFO, event, extra, fmt, ap);
    va_end(ap);
}
