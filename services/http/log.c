/*
 * log.c: single-write JSON log lines on stderr (contract in log.h).
 */
#include "services/http/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "services/core/config.h"
#include "services/core/jsonw.h"

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

static void write_all(const char *buf, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(STDERR_FILENO, buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
}

/* ---- the writer thread ----
 * Lines are appended to `fill` under `mu`; the writer swaps it with `out` and writes `out` with one
 * write(2). It waits BATCH_WINDOW_NS after waking so that a busy service writes a few hundred lines per
 * system call instead of one. Until the writer runs (and after it stops) lines are written directly. */
#define BATCH_WINDOW_NS 1000000L      /* 1 ms: the most a line waits before it is written */
#define BUFFER_MAX (4u * 1024 * 1024) /* beyond this (a stalled stderr) producers write directly */
#define BUFFER_KEEP (64u * 1024)      /* capacity kept between batches */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *fill, *out;
    size_t fill_len, fill_cap, out_cap;
    int running, stop, sleeping;
    pthread_t thread;
} lw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 0, 0, 0, 0};

static void *writer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lw.mu);
    for (;;) {
        while (!lw.fill_len && !lw.stop) {
            lw.sleeping = 1;
            pthread_cond_wait(&lw.cv, &lw.mu);
            lw.sleeping = 0;
        }
        if (!lw.fill_len) break; /* stopping, and everything is written */
        if (!lw.stop) {
            pthread_mutex_unlock(&lw.mu);
            struct timespec window = {0, BATCH_WINDOW_NS};
            nanosleep(&window, NULL);
            pthread_mutex_lock(&lw.mu);
        }
        char *batch = lw.fill;
        size_t len = lw.fill_len, cap = lw.fill_cap;
        lw.fill = lw.out;
        lw.fill_cap = lw.out_cap;
        lw.fill_len = 0;
        pthread_mutex_unlock(&lw.mu);
        write_all(batch, len);
        if (cap > BUFFER_KEEP) {
            free(batch);
            batch = NULL;
            cap = 0;
        }
        pthread_mutex_lock(&lw.mu);
        lw.out = batch;
        lw.out_cap = cap;
    }
    pthread_mutex_unlock(&lw.mu);
    return NULL;
}

int http_log_start_writer(void) {
    pthread_mutex_lock(&lw.mu);
    lw.stop = 0;
    int ok = pthread_create(&lw.thread, NULL, writer_main, NULL) == 0;
    lw.running = ok;
    pthread_mutex_unlock(&lw.mu);
    return ok ? 0 : -1;
}

void http_log_stop_writer(void) {
    pthread_mutex_lock(&lw.mu);
    int running = lw.running;
    lw.stop = 1;
    pthread_cond_signal(&lw.cv);
    pthread_mutex_unlock(&lw.mu);
    if (!running) return;
    pthread_join(lw.thread, NULL);
    pthread_mutex_lock(&lw.mu);
    lw.running = 0;
    free(lw.fill);
    free(lw.out);
    lw.fill = lw.out = NULL;
    lw.fill_len = lw.fill_cap = lw.out_cap = 0;
    pthread_mutex_unlock(&lw.mu);
}

/* Appends line + '\n' for the writer; returns 0 if the caller must write it itself. */
static int enqueue(const char *line, size_t n) {
    pthread_mutex_lock(&lw.mu);
    if (!lw.running || lw.stop || lw.fill_len + n + 1 > BUFFER_MAX) {
        pthread_mutex_unlock(&lw.mu);
        return 0;
    }
    if (lw.fill_len + n + 1 > lw.fill_cap) {
        size_t cap = lw.fill_cap ? lw.fill_cap : 16384;
        while (cap < lw.fill_len + n + 1) cap *= 2;
        char *grown = realloc(lw.fill, cap);
        if (!grown) {
            pthread_mutex_unlock(&lw.mu);
            return 0;
        }
        lw.fill = grown;
        lw.fill_cap = cap;
    }
    memcpy(lw.fill + lw.fill_len, line, n);
    lw.fill[lw.fill_len + n] = '\n';
    lw.fill_len += n + 1;
    if (lw.sleeping) pthread_cond_signal(&lw.cv);
    pthread_mutex_unlock(&lw.mu);
    return 1;
}

void http_log_write(const char *line) {
    size_t n = strlen(line);
    if (enqueue(line, n)) return;
    char stackbuf[1024];
    char *buf = n + 1 <= sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!buf) return; /* no memory for a log line: drop it rather than split it */
    memcpy(buf, line, n);
    buf[n] = '\n';
    write_all(buf, n + 1);
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
    char *text = line ? svc_json_dumps(line, JSON_COMPACT) : NULL;
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
