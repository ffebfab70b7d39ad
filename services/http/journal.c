/*
 * journal.c: framed, checksummed, group-committed journal file (contract and format in journal.h).
 */
#include "services/http/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "services/core/config.h"
#include "services/http/log.h"

#define RECORD_MAX_BYTES (16u * 1024 * 1024) /* a longer length field can only be damage */
#define HEADER_MAX 32                        /* "<len> <crc> " */
#define BATCH_BUFFER_KEEP (1u << 20)         /* write buffer kept between batches (bytes) */

typedef struct jentry {
    struct jentry *next;
    svc_persist_done_fn done;
    void *ctx;
    int error; /* set when the record could not even be queued */
    size_t len;
    char data[]; /* the framed record */
} jentry;

struct http_journal {
    int fd;
    char *path;
    off_t size; /* bytes of good records: the next write starts here */
    int broken; /* errno of an unrecoverable failure: every later record fails with it */
    http_gate *gate;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu; /* guards the queue and stop */
    pthread_cond_t cv;
    jentry *head, *tail;
    int stop;
    char *buf; /* writer thread only */
    size_t buf_cap;
};

/* ---- CRC-32 (reflected polynomial 0xEDB88320) ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t http_crc32(const void *data, size_t len) {
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* ---- replay ---- */

/* Reads the whole file (journals are replayed once, at start-up). */
static char *read_all(int fd, size_t *len, char *err, size_t errlen) {
    struct stat stbuf;
    if (fstat(fd, &stbuf) < 0) {
        snprintf(err, errlen, "stat: %s", strerror(errno));
        return NULL;
    }
    size_t cap = (size_t)stbuf.st_size + 1, n = 0;
    char *data = malloc(cap);
    if (!data) {
        snprintf(err, errlen, "out of memory reading %lld bytes", (long long)stbuf.st_size);
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            char *grown = realloc(data, cap * 2);
            if (!grown) {
                free(data);
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            data = grown;
            cap *= 2;
        }
        ssize_t r = pread(fd, data + n, cap - n, (off_t)n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(data);
            snprintf(err, errlen, "read: %s", strerror(errno));
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *len = n;
    return data;
}

/* Parses the record at data[off..len). Returns its total size, or 0 if it is damaged or incomplete. */
static size_t parse_record(const char *data, size_t len, size_t off, const char **payload, size_t *plen) {
    size_t i = off, rlen = 0;
    int digits = 0;
    while (i < len && data[i] >= '0' && data[i] <= '9' && digits < 9) {
        rlen = rlen * 10 + (size_t)(data[i++] - '0');
        digits++;
    }
    if (!digits || i >= len || data[i] != ' ' || rlen > RECORD_MAX_BYTES) return 0;
    i++;
    uint32_t crc = 0;
    for (int k = 0; k < 8; k++, i++) {
        if (i >= len) return 0;
        char ch = data[i];
        uint32_t v;
        if (ch >= '0' && ch <= '9')
            v = (uint32_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v = (uint32_t)(ch - 'a' + 10);
        else
            return 0;
        crc = crc << 4 | v;
    }
    if (i >= len || data[i] != ' ') return 0;
    i++;
    if (len - i < rlen + 1 || data[i + rlen] != '\n') return 0;
    if (http_crc32(data + i, rlen) != crc) return 0;
    *payload = data + i;
    *plen = rlen;
    return i + rlen + 1 - off;
}

/* Replays every record; truncates a torn tail. Returns 0, or -1 with a message. */
static int replay_file(http_journal *j, http_journal_replay_fn replay, void *ctx, char *err, size_t errlen) {
    size_t len = 0;
    char *data = read_all(j->fd, &len, err, errlen);
    if (!data) return -1;
    size_t off = 0, records = 0;
    int rc = 0;
    while (off < len) {
        const char *payload = NULL;
        size_t plen = 0;
        size_t used = parse_record(data, len, off, &payload, &plen);
        if (used == 0) {
            /* Damaged: a torn tail if nothing but this one line remains, else corruption. */
            const char *nl = memchr(data + off, '\n', len - off);
            if (nl && (size_t)(nl - data) + 1 < len) {
                snprintf(err, errlen, "%s: corrupt record at byte offset %zu (record %zu) followed by more data",
                         j->path, off, records + 1);
                rc = -1;
                break;
            }
            if (ftruncate(j->fd, (off_t)off) < 0 || fsync(j->fd) < 0) {
                snprintf(err, errlen, "%s: cannot truncate the torn tail at offset %zu: %s", j->path, off,
                         strerror(errno));
                rc = -1;
                break;
            }
            http_log_event(SVC_LOG_WARN, "journal_torn_tail",
                           json_pack("{s:s, s:I, s:I}", "path", j->path, "offset", (json_int_t)off, "dropped_bytes",
                                     (json_int_t)(len - off)),
                           "dropped a torn last record (%zu bytes at offset %zu); the journal now ends there",
                           len - off, off);
            len = off;
            break;
        }
        char rerr[256] = "";
        if (replay(ctx, payload, plen, rerr, sizeof rerr) < 0) {
            snprintf(err, errlen, "%s: record at byte offset %zu: %s", j->path, off, rerr);
            rc = -1;
            break;
        }
        off += used;
        records++;
    }
    free(data);
    if (rc == 0) {
        j->size = (off_t)len;
        http_log_event(
            SVC_LOG_INFO, "journal_replayed",
            json_pack("{s:s, s:I, s:I}", "path", j->path, "records", (json_int_t)records, "bytes", (json_int_t)len),
            "replayed %zu journal records", records);
    }
    return rc;
}

/* Makes the file's directory entry durable (a new journal must survive a crash too). */
static void sync_parent_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

http_journal *http_journal_open(const char *path, http_journal_replay_fn replay, void *ctx, char *err, size_t errlen) {
    http_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        snprintf(err, errlen, "out of memory");
        free(j);
        return NULL;
    }
    j->fd = -1;
    if (pthread_mutex_init(&j->mu, NULL) != 0 || pthread_cond_init(&j->cv, NULL) != 0) {
        snprintf(err, errlen, "cannot create the journal's lock");
        free(j->path);
        free(j);
        return NULL;
    }
    int existed = access(path, F_OK) == 0;
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "%s: in use by another process (%s)", path, strerror(errno));
        goto fail;
    }
    if (!existed) sync_parent_dir(path);
    if (replay_file(j, replay, ctx, err, errlen) < 0) goto fail;
    return j;
fail:
    http_journal_close(j);
    return NULL;
}

/* ---- group commit ---- */

/* Writes the batch and syncs; returns 0 or an errno. A failed write is truncated away. */
static int commit(http_journal *j, jentry *batch) {
    if (j->broken) return j->broken;
    size_t total = 0;
    for (jentry *e = batch; e; e = e->next) total += e->error ? 0 : e->len;
    if (total == 0) return 0;
    if (total > j->buf_cap) {
        char *grown = realloc(j->buf, total);
        if (!grown) return ENOMEM;
        j->buf = grown;
        j->buf_cap = total;
    }
    size_t n = 0;
    for (jentry *e = batch; e; e = e->next)
        if (!e->error) {
            memcpy(j->buf + n, e->data, e->len);
            n += e->len;
        }
    int error = 0;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(j->fd, j->buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            error = errno;
            break;
        }
        off += (size_t)w;
    }
    if (!error && fdatasync(j->fd) < 0) error = errno;
    if (error) {
        /* Remove whatever part of the batch reached the file, so later records do not follow damage. */
        if (ftruncate(j->fd, j->size) < 0) j->broken = error;
        http_log_event(SVC_LOG_ERROR, "journal_write_failed", json_pack("{s:s}", "path", j->path),
                       "journal write of %zu bytes failed: %s%s", n, strerror(error),
                       j->broken ? " (cannot truncate: the journal is now read-only)" : "");
    } else {
        j->size += (off_t)n;
    }
    if (j->buf_cap > BATCH_BUFFER_KEEP) {
        free(j->buf);
        j->buf = NULL;
        j->buf_cap = 0;
    }
    return error;
}

static void *writer_main(void *arg) {
    http_journal *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        while (!j->head && !j->stop) pthread_cond_wait(&j->cv, &j->mu);
        jentry *batch = j->head;
        j->head = j->tail = NULL;
        int stop = j->stop;
        pthread_mutex_unlock(&j->mu);
        if (!batch && stop) break;
        int error = commit(j, batch);
        if (http_gate_enter(j->gate)) {
            for (jentry *e = batch; e; e = e->next) e->done(e->ctx, e->error ? e->error : error);
        }
        http_gate_leave(j->gate);
        while (batch) {
            jentry *next = batch->next;
            free(batch);
            batch = next;
        }
    }
    return NULL;
}

int http_journal_start(http_journal *j, http_gate *gate, char *err, size_t errlen) {
    j->gate = gate;
    if (pthread_create(&j->thread, NULL, writer_main, j) != 0) {
        snprintf(err, errlen, "cannot start the journal writer thread");
        return -1;
    }
    j->thread_started = 1;
    return 0;
}

void http_journal_append(http_journal *j, const char *record, size_t len, svc_persist_done_fn done, void *ctx) {
    char header[HEADER_MAX];
    int hlen = 0;
    if (record) hlen = snprintf(header, sizeof header, "%zu %08x ", len, (unsigned)http_crc32(record, len));
    jentry *e = malloc(sizeof *e + (size_t)hlen + (record ? len + 1 : 0));
    if (!e) abort(); /* nowhere to report it: the callback contract needs the entry */
    e->next = NULL;
    e->done = done;
    e->ctx = ctx;
    e->error = record && len <= RECORD_MAX_BYTES ? 0 : EINVAL;
    e->len = 0;
    if (record) {
        memcpy(e->data, header, (size_t)hlen);
        memcpy(e->data + hlen, record, len);
        e->data[(size_t)hlen + len] = '\n';
        e->len = (size_t)hlen + len + 1;
    }
    pthread_mutex_lock(&j->mu);
    if (j->tail)
        j->tail->next = e;
    else
        j->head = e;
    j->tail = e;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

void http_journal_close(http_journal *j) {
    if (!j) return;
    if (j->thread_started) {
        pthread_mutex_lock(&j->mu);
        j->stop = 1;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->thread, NULL);
    }
    /* Records queued without a writer thread (start-up failure) are dropped with their callbacks. */
    while (j->head) {
        jentry *next = j->head->next;
        free(j->head);
        j->head = next;
    }
    if (j->fd >= 0) close(j->fd);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->buf);
    free(j->path);
    free(j);
}
