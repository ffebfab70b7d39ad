/*
 * jsonr.c: the fast reader of jsonr.h and its fallback to json_loadb.
 *
 * The reader walks the text once with a cursor, building the tree as it goes. Every check that fails
 * returns NULL ("not decided here") after freeing what was built; it never reports an error itself, so it
 * can be strict and simple: whatever it does not recognise, jansson reads.
 */
#include "services/core/jsonr.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/text.h"

enum { NUMBER_MAX = 64, STRING_STACK = 256 };

typedef struct reader {
    const char *p, *end;
    int depth;
} reader;

static json_t *read_value(reader *r);

/* jansson's whitespace: space, tab, newline, carriage return. */
static void skip_space(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

static int next_is(reader *r, char c) {
    skip_space(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 1;
    }
    return 0;
}

/* A string's content after its opening quote: *out points into the input when there is nothing to
 * unescape, else to the unescaped copy, in the caller's stack buffer or malloc'd when longer (*owned set:
 * the caller frees it). Returns the length, or -1 to give up: \u escapes, bytes outside printable ASCII,
 * an unknown escape or a missing closing quote. */
static long read_string(reader *r, char *stack, size_t stack_len, char **out, int *owned) {
    const char *start = r->p;
    const char *q = start;
    for (; r->end - q >= 8; q += 8) { /* eight bytes at a time to the word where the string may end */
        uint64_t word;
        memcpy(&word, q, sizeof word);
        if (svc_word_has_json_special(word) || (word & 0x8080808080808080ull)) break;
    }
    while (q < r->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x80) q++;
    *owned = 0;
    if (q < r->end && *q == '"') { /* the common case: nothing to unescape, read in place */
        *out = (char *)start;
        r->p = q + 1;
        return (long)(q - start);
    }
    size_t cap = stack_len, len = 0;
    char *buf = stack;
    for (q = start; q < r->end && *q != '"'; q++) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20 || c >= 0x80) goto give_up;
        if (c == '\\') {
            if (++q >= r->end) goto give_up;
            switch (*q) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            default: goto give_up; /* \u and invalid escapes: jansson's business */
            }
        }
        if (len == cap) {
            size_t ncap = cap * 2;
            char *nbuf = buf == stack ? malloc(ncap) : realloc(buf, ncap);
            if (!nbuf) abort();
            if (buf == stack) memcpy(nbuf, stack, len);
            buf = nbuf;
            cap = ncap;
        }
        buf[len++] = (char)c;
    }
    if (q >= r->end) goto give_up;
    r->p = q + 1;
    *out = buf;
    *owned = buf != stack;
    return (long)len;
give_up:
    if (buf != stack) free(buf);
    return -1;
}

static json_t *read_string_value(reader *r) {
    char stack[STRING_STACK], *s;
    int owned;
    long n = read_string(r, stack, sizeof stack, &s, &owned);
    if (n < 0) return NULL;
    json_t *v = json_stringn_nocheck(s, (size_t)n); /* ASCII without NUL: valid UTF-8 */
    if (!v) abort();
    if (owned) free(s);
    return v;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* RFC 8259's number grammar, which is jansson's: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static json_t *read_number(reader *r) {
    const char *s = r->p, *q = s;
    if (q < r->end && *q == '-') q++;
    if (q >= r->end || !is_digit(*q)) return NULL;
    if (*q == '0') {
        q++;
        if (q < r->end && is_digit(*q)) return NULL; /* a leading zero (what follows would stop it too) */
    } else {
        while (q < r->end && is_digit(*q)) q++;
    }
    int is_real = 0;
    if (q < r->end && *q == '.') {
        is_real = 1;
        q++;
        if (q >= r->end || !is_digit(*q)) return NULL;
        while (q < r->end && is_digit(*q)) q++;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        is_real = 1;
        q++;
        if (q < r->end && (*q == '+' || *q == '-')) q++;
        if (q >= r->end || !is_digit(*q)) return NULL;
        while (q < r->end && is_digit(*q)) q++;
    }
    size_t n = (size_t)(q - s);
    if (!is_real) {
        const char *d = s + (*s == '-');
        if (q - d > 18) return NULL; /* may not fit 64 bits: jansson says which */
        int64_t v = 0;
        for (; d < q; d++) v = v * 10 + (*d - '0');
        r->p = q;
        json_t *num = json_integer(*s == '-' ? -v : v);
        if (!num) abort();
        return num;
    }
    if (n >= NUMBER_MAX) return NULL;
    char text[NUMBER_MAX];
    memcpy(text, s, n);
    text[n] = '\0';
    char *stop;
    double v = strtod(text, &stop);
    if (stop != text + n || !isfinite(v)) return NULL; /* overflow: jansson's error */
    r->p = q;
    json_t *num = json_real(v);
    if (!num) abort();
    return num;
}

static json_t *read_literal(reader *r, const char *word, json_t *value) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n)) return NULL;
    r->p += n;
    return value;
}

static json_t *read_object(reader *r) {
    json_t *obj = json_object();
    if (!obj) abort();
    if (next_is(r, '}')) return obj;
    for (;;) {
        if (!next_is(r, '"')) goto give_up;
        char stack[STRING_STACK], *key;
        int key_owned;
        long klen = read_string(r, stack, sizeof stack, &key, &key_owned);
        if (klen < 0) goto give_up;
        json_t *v = NULL;
        if (next_is(r, ':')) {
            skip_space(r);
            v = read_value(r);
        }
        size_t fields = json_object_size(obj);
        if (v && json_object_setn_new_nocheck(obj, key, (size_t)klen, v)) abort();
        if (key_owned) free(key);
        /* a key seen before replaces its value instead of adding a field: duplicates are jansson's to judge */
        if (!v || json_object_size(obj) == fields) goto give_up;
        if (next_is(r, ',')) continue;
        if (next_is(r, '}')) return obj;
        goto give_up;
    }
give_up:
    json_decref(obj);
    return NULL;
}

static json_t *read_array(reader *r) {
    json_t *arr = json_array();
    if (!arr) abort();
    if (next_is(r, ']')) return arr;
    for (;;) {
        skip_space(r);
        json_t *v = read_value(r);
        if (!v) goto give_up;
        if (json_array_append_new(arr, v)) abort();
        if (next_is(r, ',')) continue;
        if (next_is(r, ']')) return arr;
        goto give_up;
    }
give_up:
    json_decref(arr);
    return NULL;
}

static json_t *read_value(reader *r) {
    if (r->p >= r->end) return NULL;
    switch (*r->p) {
    case '{':
    case '[': {
        if (r->depth >= SVC_JSONR_DEPTH) return NULL;
        int object = *r->p == '{';
        r->p++;
        r->depth++;
        json_t *v = object ? read_object(r) : read_array(r);
        r->depth--;
        return v;
    }
    case '"': r->p++; return read_string_value(r);
    case 't': return read_literal(r, "true", json_true());
    case 'f': return read_literal(r, "false", json_false());
    case 'n': return read_literal(r, "null", json_null());
    default: return read_number(r);
    }
}

json_t *svc_json_read_fast(const char *buf, size_t len) {
    if (!buf) return NULL;
    reader r = {.p = buf, .end = buf + len, .depth = 0};
    skip_space(&r);
    if (r.p >= r.end || (*r.p != '{' && *r.p != '[')) return NULL; /* jansson wants an object or array */
    json_t *v = read_value(&r);
    if (!v) return NULL;
    skip_space(&r);
    if (r.p != r.end) { /* text after the document */
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *svc_json_read(const char *buf, size_t len, size_t flags, json_error_t *err) {
    if ((flags & ~(size_t)JSON_REJECT_DUPLICATES) == 0) {
        json_t *v = svc_json_read_fast(buf, len);
        if (v) return v;
    }
    return json_loadb(buf, len, flags, err);
}
