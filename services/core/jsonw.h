/*
 * jsonw.h: a JSON document written straight into a buffer, for the answers sent on every request.
 *
 * Why: the hot answers (the chain's, inventory's /check, notification's /send) were built as a jansson
 * tree and dumped: objects with hash tables, one allocation per value, format strings parsed by
 * json_pack. For the chain's answer that was 2.6 us, more than a tenth of what the simulator spends on a
 * whole request. The writer appends the text directly.
 *
 * Contract: the text is byte for byte what json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) gives
 * for the same document with its keys in the same order (what svc_ex_reply sends), so a route can move
 * between the two without a client seeing a difference; tests/check_helpers.c compares them. The caller
 * writes a well-formed sequence (keys only inside objects, each followed by one value; every begin
 * closed); strings must be valid UTF-8 without NUL (every string the services hold came through jansson or
 * is a constant). Reals must be finite (as json_real requires).
 *
 * Ownership: the writer owns its buffer until svc_jw_take() hands it to the caller (malloc'd, NUL
 * terminated; the caller frees it). Out of memory aborts, as elsewhere in the services: an answer that is
 * silently cut would be worse.
 */
#ifndef PC_SERVICES_CORE_JSONW_H
#define PC_SERVICES_CORE_JSONW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SVC_JW_DEPTH 16

typedef struct svc_jw {
    char *buf;
    size_t len, cap;
    int depth;
    int after_key;                        /* a key was written: its value comes next, without a comma */
    unsigned char has_item[SVC_JW_DEPTH]; /* the container at each depth has an element already */
} svc_jw;

void svc_jw_init(svc_jw *w);
void svc_jw_begin_object(svc_jw *w);
void svc_jw_end_object(svc_jw *w);
void svc_jw_begin_array(svc_jw *w);
void svc_jw_end_array(svc_jw *w);
/* key and s are NUL-terminated; the _n forms take their length (the inline ones below compute it where
 * they are called, which for a literal is a constant). */
void svc_jw_key_n(svc_jw *w, const char *key, size_t len);
void svc_jw_string_n(svc_jw *w, const char *s, size_t len);
static inline void svc_jw_key(svc_jw *w, const char *key) { svc_jw_key_n(w, key, strlen(key)); }
static inline void svc_jw_string(svc_jw *w, const char *s) { svc_jw_string_n(w, s, strlen(s)); }
void svc_jw_int(svc_jw *w, int64_t v);
void svc_jw_real(svc_jw *w, double v);
void svc_jw_bool(svc_jw *w, int v);
/* An amount in minor units as svc_amount_json renders it: an integer when whole, else a real. */
void svc_jw_amount(svc_jw *w, int64_t minor);
/* A value that is already JSON text (len bytes), copied as it is: for embedding another service's answer
 * without reading it into a tree and writing it back. The caller guarantees one well-formed JSON value;
 * the byte-for-byte promise above holds when that text is itself compact, as every answer of these
 * services is. */
void svc_jw_raw(svc_jw *w, const char *json, size_t len);
/* The document; *len (if not NULL) gets its length. The writer is empty afterwards. */
char *svc_jw_take(svc_jw *w, size_t *len);
/* The document read back as a jansson tree (the caller owns it), for code that merges documents: one
 * writer function per object then serves both the hot answers and the merges. The writer is empty
 * afterwards. */
json_t *svc_jw_take_tree(svc_jw *w);
/* Frees the buffer of a writer whose document is not wanted. */
void svc_jw_discard(svc_jw *w);

/* json_dumps(doc, flags) into a buffer from malloc, to be freed with free() whatever allocator jansson was
 * given (the simulator gives it its own: base/smallalloc.h). NULL where json_dumps gives NULL. */
char *svc_json_dumps(const json_t *doc, size_t flags);

#endif
