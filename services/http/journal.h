/*
 * journal.h: the append-only, fsync'd journal file of one replica (ops->persist in the HTTP runtime).
 *
 * Format: one record per line, "<length> <crc32> <payload>\n": the payload's length in decimal bytes, its
 * CRC-32 (IEEE 802.3, as zlib's crc32()) as 8 lowercase hex digits, one space, the payload (the service's
 * JSON record, any bytes), and a newline. The length makes the framing independent of the payload's bytes;
 * the CRC catches torn and corrupted writes.
 *
 * Start-up (http_journal_open, single-threaded): every record is checked and handed to `replay` in order. A
 * damaged record that is the last line of the file (no newline after it, or bad length/CRC on the last
 * line) is a write torn by a crash: it is dropped, the file is truncated to the last good record, and a
 * warning is logged. Damage anywhere before the last line is corruption: open fails with the byte offset.
 * A second process opening the same file fails (flock).
 *
 * Group commit (http_journal_start .. close): http_journal_append() queues a record from any thread; one
 * writer thread writes everything queued in one write(2), calls fdatasync() once, then runs the batch's
 * `done` callbacks in append order under the service gate, with error 0 or the errno of the failure. A
 * failed write is truncated away, so the file never holds a partial record followed by good ones.
 *
 * Ownership: the journal copies each record; callbacks whose service is closed (http_gate_close) are
 * dropped; http_journal_close() writes what is still queued, drops its callbacks, and frees everything.
 */
#ifndef PC_SERVICES_HTTP_JOURNAL_H
#define PC_SERVICES_HTTP_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "services/core/svc.h"
#include "services/http/gate.h"

typedef struct http_journal http_journal;

/* Applies one record at start-up; -1 with a message if it is not understood (open then fails). */
typedef int (*http_journal_replay_fn)(void *ctx, const char *record, size_t len, char *err, size_t errlen);

http_journal *http_journal_open(const char *path, http_journal_replay_fn replay, void *ctx, char *err, size_t errlen);
/* Starts the writer thread; completions run under `gate`. */
int http_journal_start(http_journal *j, http_gate *gate, char *err, size_t errlen);
/* Queues one record (copied; NULL means "could not encode" and completes with EINVAL). Thread-safe. */
void http_journal_append(http_journal *j, const char *record, size_t len, svc_persist_done_fn done, void *ctx);
void http_journal_close(http_journal *j);

/* CRC-32 of data (exposed for tests that craft journal files). */
uint32_t http_crc32(const void *data, size_t len);

#endif
