/*
 * jsonw.c: the JSON writer (contract in jsonw.h). Escaping and number formats follow jansson's dump.c
 * and strconv.c (2.14), which is what keeps the text identical to json_dumps.
 */
#include "services/core/jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/jsonr.h"
#include "services/core/text.h"

static void grow(svc_jw *w, size_t more) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + more + 1) cap *= 2;
    char *grown = realloc(w->buf, cap);
    if (!grown) abort();
    w->buf = grown;
    w->cap = cap;
}

/* Room for more bytes and the NUL that svc_jw_take() adds. */
static inline void reserve(svc_jw *w, size_t more) {
    if (w->len + more + 1 > w->cap) grow(w, more);
}

static inline void put(svc_jw *w, const char *s, size_t n) {
    reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static inline void put_char(svc_jw *w, char c) {
    reserve(w, 1);
    w->buf[w->len++] = c;
}

/* The separator before a value or a key: none right after a key or first in its container, else ','. */
static void separate(svc_jw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0) return;
    if (w->has_item[w->depth - 1]) put_char(w, ',');
    w->has_item[w->depth - 1] = 1;
}

void svc_jw_init(svc_jw *w) { memset(w, 0, sizeof *w); }

static void begin(svc_jw *w, char open) {
    separate(w);
    if (w->depth == SVC_JW_DEPTH) abort(); /* a programming error: no answer nests this deep */
    put_char(w, open);
    w->has_item[w->depth++] = 0;
}

static void end(svc_jw *w, char close) {
    if (w->depth == 0) abort();
    w->depth--;
    put_char(w, close);
}

void svc_jw_begin_object(svc_jw *w) { begin(w, '{'); }
void svc_jw_end_object(svc_jw *w) { end(w, '}'); }
void svc_jw_begin_array(svc_jw *w) { begin(w, '['); }
void svc_jw_end_array(svc_jw *w) { end(w, ']'); }

/* The bytes jansson escapes: '"', '\\' and the control characters (NUL ends the string). */
static const unsigned char needs_escape[256] = {
    [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1,
    [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1,
    [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

/* Whether s[0, len) holds a byte that JSON escapes, read a word at a time where the length allows (never
 * past the end: short strings take two overlapping 4-byte loads, the tail of longer ones an overlapping
 * 8-byte load). Most strings written are short keys and values with nothing to escape. */
static int has_special(const unsigned char *s, size_t len) {
    uint64_t word;
    if (len >= 8) {
        for (size_t i = 0; i + 8 <= len; i += 8) {
            memcpy(&word, s + i, sizeof word);
            if (svc_word_has_json_special(word)) return 1;
        }
        memcpy(&word, s + len - 8, sizeof word);
        return svc_word_has_json_special(word);
    }
    if (len >= 4) {
        uint32_t head, tail;
        memcpy(&head, s, sizeof head);
        memcpy(&tail, s + len - 4, sizeof tail);
        return svc_word_has_json_special((uint64_t)head | (uint64_t)tail << 32);
    }
    for (size_t i = 0; i < len; i++)
        if (needs_escape[s[i]]) return 1;
    return 0;
}

static void put_string(svc_jw *w, const char *s, size_t len) {
    reserve(w, len + 2); /* the common case, nothing to escape, needs no more */
    put_char(w, '"');
    if (!has_special((const unsigned char *)s, len)) {
        memcpy(w->buf + w->len, s, len);
        w->len += len;
        put_char(w, '"');
        return;
    }
    const char *run = s; /* start of the bytes that need no escape */
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    for (; p < end; p++) {
        if (!needs_escape[*p]) continue;
        put(w, run, (size_t)((const char *)p - run));
        char esc[8];
        switch (*p) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default: put(w, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04X", (unsigned)*p)); break;
        }
        run = (const char *)p + 1;
    }
    put(w, run, (size_t)((const char *)p - run));
    put_char(w, '"');
}

void svc_jw_key_n(svc_jw *w, const char *key, size_t len) {
    separate(w);
    put_string(w, key, len);
    put_char(w, ':');
    w->after_key = 1;
}

void svc_jw_string_n(svc_jw *w, const char *s, size_t len) {
    separate(w);
    put_string(w, s, len);
}

void svc_jw_int(svc_jw *w, int64_t v) {
    separate(w);
    char num[24]; /* the magnitude as unsigned, so that INT64_MIN has one */
    size_t n = svc_copy(num, sizeof num, v < 0 ? "-" : "");
    n = svc_append_u64(num, sizeof num, n, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    put(w, num, n);
}

/* Most reals the services write are short decimals: milliseconds to the nanosecond, amounts in cents.
 * When |v| is in [1e-4, 1e15) and is the double nearest to m / 10^d for an integer m below 10^15, "%.15g"
 * prints exactly that decimal (DBL_DIG is 15: a decimal of at most 15 digits survives the trip through the
 * nearest double), in fixed notation, without trailing zeros; so it can be written from m's digits, which
 * is ten times cheaper than snprintf. The smallest such d leaves m without trailing zeros. m / 10^d is one
 * correctly rounded division of two exact doubles: the nearest double to the decimal. */
static int put_short_decimal(svc_jw *w, double v) {
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    double a = v < 0 ? -v : v;
    if (!(a >= 1e-4 && a < 1e15)) return 0;
    for (int d = 0; d < (int)(sizeof pow10 / sizeof pow10[0]); d++) {
        double scaled = a * pow10[d];
        if (scaled >= 1e15) return 0;
        uint64_t m = (uint64_t)(scaled + 0.5);
        if ((double)m / pow10[d] != a) continue;
        char num[40], *p = num + sizeof num;
        if (d == 0) *--p = '0'; /* an integral value: jansson appends ".0" */
        for (int i = 0; i < d; i++, m /= 10) *--p = (char)('0' + m % 10);
        *--p = '.';
        do *--p = (char)('0' + m % 10);
        while (m /= 10);
        if (v < 0) *--p = '-';
        put(w, p, (size_t)(num + sizeof num - p));
        return 1;
    }
    return 0;
}

/* jansson's jsonp_dtostr with precision 15: "%.15g", then ".0" when it would read back as an integer,
 * then no '+' and no leading zeros in the exponent (1e+20 -> 1e20, 1e-07 -> 1e-7). */
void svc_jw_real(svc_jw *w, double v) {
    separate(w);
    if (put_short_decimal(w, v)) return;
    char num[40];
    size_t n = (size_t)snprintf(num, sizeof num - 3, "%.15g", v);
    if (!strchr(num, '.') && !strchr(num, 'e')) {
        memcpy(num + n, ".0", 3);
        n += 2;
    }
    char *exp = strchr(num, 'e');
    if (exp) {
        char *start = exp + 1, *digits = exp + 2;
        if (*start == '-') start++;
        while (*digits == '0') digits++;
        if (digits != start) {
            memmove(start, digits, (size_t)(num + n - digits) + 1);
            n -= (size_t)(digits - start);
        }
    }
    put(w, num, n);
}

void svc_jw_raw(svc_jw *w, const char *json, size_t len) {
    separate(w);
    put(w, json, len);
}

void svc_jw_bool(svc_jw *w, int v) {
    separate(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void svc_jw_amount(svc_jw *w, int64_t minor) {
    if (minor % 100 == 0)
        svc_jw_int(w, minor / 100);
    else
        svc_jw_real(w, (double)minor / 100.0);
}

char *svc_jw_take(svc_jw *w, size_t *len) {
    reserve(w, 0); /* an empty document is "" rather than NULL */
    w->buf[w->len] = '\0';
    char *doc = w->buf;
    if (len) *len = w->len;
    svc_jw_init(w);
    return doc;
}

json_t *svc_jw_take_tree(svc_jw *w) {
    size_t len;
    char *text = svc_jw_take(w, &len);
    json_t *doc = svc_json_read(text, len, 0, NULL);
    free(text);
    if (!doc) abort(); /* out of memory: the writer's text is always valid JSON */
    return doc;
}

void svc_jw_discard(svc_jw *w) {
    free(w->buf);
    svc_jw_init(w);
}

char *svc_json_dumps(const json_t *doc, size_t flags) {
    char first[1024]; /* most documents fit: one pass */
    size_t n = json_dumpb(doc, first, sizeof first, flags);
    if (n == 0) return NULL;
    char *text = malloc(n + 1);
    if (!text) abort();
    if (n <= sizeof first)
        memcpy(text, first, n);
    else if (json_dumpb(doc, text, n, flags) != n)
        abort(); /* the same document, dumped again */
    text[n] = '\0';
    return text;
}
