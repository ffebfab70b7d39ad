/*
 * yamltree.c: libyaml events into node trees (see yamltree.h).
 */
#include "sim/input/yamltree.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YT_MAX_DEPTH 64
#define YT_MAX_FILE_BYTES (16u * 1024 * 1024)

typedef struct yt_alloc {
    struct yt_alloc *next;
} yt_alloc;

typedef struct yt_anchor {
    char *name;
    yt_node *node;
} yt_anchor;

struct yt_file {
    char *name;
    yt_alloc *allocs; /* every block this file owns, freed together */
    yt_doc *docs;
    int ndocs, cap_docs;
};

static void *fmem(yt_file *f, size_t n) {
    yt_alloc *a = calloc(1, sizeof *a + n);
    if (!a) abort();
    a->next = f->allocs;
    f->allocs = a;
    return a + 1;
}

static char *fstrdup(yt_file *f, const char *s, size_t len) {
    char *d = fmem(f, len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void yt_free(yt_file *f) {
    if (!f) return;
    while (f->allocs) {
        yt_alloc *a = f->allocs;
        f->allocs = a->next;
        free(a);
    }
    free(f->docs);
    free(f->name);
    free(f);
}

const char *yt_file_name(const yt_file *f) { return f->name; }
int yt_doc_count(const yt_file *f) { return f->ndocs; }
const yt_doc *yt_doc_at(const yt_file *f, int i) { return i >= 0 && i < f->ndocs ? &f->docs[i] : NULL; }

/* ---- building ---- */

typedef struct frame {
    yt_node *node;
    size_t cap;
    int want_value; /* maps: the next node is the value of keys[n-1] */
} frame;

typedef struct builder {
    yt_file *f;
    frame stack[YT_MAX_DEPTH];
    int depth;
    yt_anchor *anchors;
    int nanchors, cap_anchors;
    yt_node *root;
    char *err;
    size_t errlen;
} builder;

static void grow(yt_file *f, yt_node *n, size_t *cap) {
    if (n->n < *cap) return;
    size_t c = *cap ? *cap * 2 : 8;
    yt_node **keys = fmem(f, c * sizeof *keys), **items = fmem(f, c * sizeof *items);
    if (n->n) {
        if (n->keys) memcpy(keys, n->keys, n->n * sizeof *keys);
        memcpy(items, n->items, n->n * sizeof *items);
    }
    n->keys = n->type == YT_MAP ? keys : NULL;
    n->items = items;
    *cap = c;
}

static int remember_anchor(builder *b, const yaml_char_t *anchor, yt_node *n) {
    if (!anchor) return 0;
    if (b->nanchors == b->cap_anchors) {
        int c = b->cap_anchors ? b->cap_anchors * 2 : 8;
        yt_anchor *a = realloc(b->anchors, (size_t)c * sizeof *a);
        if (!a) abort();
        b->anchors = a;
        b->cap_anchors = c;
    }
    b->anchors[b->nanchors].name = fstrdup(b->f, (const char *)anchor, strlen((const char *)anchor));
    b->anchors[b->nanchors].node = n;
    b->nanchors++;
    return 0;
}

/* Attaches a finished node to its parent (or makes it the document's root). */
static int attach(builder *b, yt_node *n) {
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    frame *p = &b->stack[b->depth - 1];
    yt_node *parent = p->node;
    if (parent->type == YT_SEQ) {
        grow(b->f, parent, &p->cap);
        parent->items[parent->n++] = n;
        return 0;
    }
    if (!p->want_value) {
        if (n->type != YT_SCALAR) {
            snprintf(b->err, b->errlen, "%s:%d: a mapping key must be a plain value, not a %s", b->f->name, n->line,
                     n->type == YT_MAP ? "mapping" : "sequence");
            return -1;
        }
        for (size_t i = 0; i < parent->n; i++) {
            if (!strcmp(parent->keys[i]->value, n->value)) {
                snprintf(b->err, b->errlen,
                         "%s:%d: mapping key \"%s\" already defined at line %d (strict decoding rejects duplicate "
                         "fields)",
                         b->f->name, n->line, n->value, parent->keys[i]->line);
                return -1;
            }
        }
        grow(b->f, parent, &p->cap);
        parent->keys[parent->n] = n;
        parent->items[parent->n] = NULL;
        p->want_value = 1;
        return 0;
    }
    parent->items[parent->n++] = n;
    p->want_value = 0;
    return 0;
}

static yt_node *new_node(builder *b, yt_type t, const yaml_event_t *ev) {
    yt_node *n = fmem(b->f, sizeof *n);
    n->type = t;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
    return n;
}

static int push(builder *b, yt_node *n) {
    if (b->depth >= YT_MAX_DEPTH) {
        snprintf(b->err, b->errlen, "%s:%d: nesting deeper than %d levels", b->f->name, n->line, YT_MAX_DEPTH);
        return -1;
    }
    b->stack[b->depth].node = n;
    b->stack[b->depth].cap = 0;
    b->stack[b->depth].want_value = 0;
    b->depth++;
    return 0;
}

static int add_doc(builder *b, int index) {
    yt_file *f = b->f;
    if (f->ndocs == f->cap_docs) {
        int c = f->cap_docs ? f->cap_docs * 2 : 8;
        yt_doc *d = realloc(f->docs, (size_t)c * sizeof *d);
        if (!d) abort();
        f->docs = d;
        f->cap_docs = c;
    }
    f->docs[f->ndocs].root = b->root;
    f->docs[f->ndocs].index = index;
    f->ndocs++;
    return 0;
}

static int handle(builder *b, yaml_event_t *ev, int *doc_index) {
    yt_node *n;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        b->root = NULL;
        b->nanchors = 0; /* anchors are per document */
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        if (b->root && !(b->root->type == YT_SCALAR && yt_kind_of(b->root) == YK_NULL)) add_doc(b, *doc_index);
        (*doc_index)++;
        return 0;
    case YAML_SCALAR_EVENT:
        n = new_node(b, YT_SCALAR, ev);
        n->value = fstrdup(b->f, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (strlen(n->value) != ev->data.scalar.length) {
            snprintf(b->err, b->errlen, "%s:%d: a NUL byte inside a value", b->f->name, n->line);
            return -1;
        }
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        if (ev->data.scalar.tag && !ev->data.scalar.quoted_implicit && !ev->data.scalar.plain_implicit) {
            const char *tag = (const char *)ev->data.scalar.tag;
            if (!strcmp(tag, "tag:yaml.org,2002:str") || !strcmp(tag, "!!str")) n->quoted = 1;
        }
        remember_anchor(b, ev->data.scalar.anchor, n);
        return attach(b, n);
    case YAML_SEQUENCE_START_EVENT:
        n = new_node(b, YT_SEQ, ev);
        remember_anchor(b, ev->data.sequence_start.anchor, n);
        return push(b, n);
    case YAML_MAPPING_START_EVENT:
        n = new_node(b, YT_MAP, ev);
        remember_anchor(b, ev->data.mapping_start.anchor, n);
        return push(b, n);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: n = b->stack[--b->depth].node; return attach(b, n);
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (int i = b->nanchors - 1; i >= 0; i--)
            if (!strcmp(b->anchors[i].name, name)) return attach(b, b->anchors[i].node);
        snprintf(b->err, b->errlen, "%s:%d: unknown anchor \"%s\" referenced", b->f->name, (int)ev->start_mark.line + 1,
                 name);
        return -1;
    }
    default: return 0;
    }
}

yt_file *yt_load_string(const char *name, const char *text, size_t len, char *err, size_t errlen) {
    yt_file *f = calloc(1, sizeof *f);
    if (!f) abort();
    f->name = strdup(name);
    if (!f->name) abort();
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    builder b;
    memset(&b, 0, sizeof b);
    b.f = f;
    b.err = err;
    b.errlen = errlen;
    int doc_index = 0, rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *problem = parser.problem ? parser.problem : "unknown problem";
            int line = (int)parser.problem_mark.line + 1;
            if (parser.context)
                snprintf(err, errlen, "%s:%d: YAML syntax error: %s %s (line %d)", name, line, problem, parser.context,
                         (int)parser.context_mark.line + 1);
            else
                snprintf(err, errlen, "%s:%d: YAML syntax error: %s", name, line, problem);
            rc = -1;
            break;
        }
        int done = ev.type == YAML_STREAM_END_EVENT;
        if (handle(&b, &ev, &doc_index) < 0) rc = -1;
        yaml_event_delete(&ev);
        if (rc < 0 || done) break;
    }
    yaml_parser_delete(&parser);
    free(b.anchors);
    if (rc < 0) {
        yt_free(f);
        return NULL;
    }
    return f;
}

yt_file *yt_load_file(const char *path, char *err, size_t errlen) {
    FILE *in = fopen(path, "rb");
    if (!in) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    for (;;) {
        if (len == cap) {
            if (cap >= YT_MAX_FILE_BYTES) {
                snprintf(err, errlen, "%s: larger than %u bytes", path, YT_MAX_FILE_BYTES);
                free(buf);
                fclose(in);
                return NULL;
            }
            cap *= 2;
            char *bigger = realloc(buf, cap);
            if (!bigger) abort();
            buf = bigger;
        }
        size_t got = fread(buf + len, 1, cap - len, in);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(in);
    fclose(in);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        return NULL;
    }
    yt_file *f = yt_load_string(path, buf, len, err, errlen);
    free(buf);
    return f;
}

/* ---- access and typing ---- */

const yt_node *yt_get(const yt_node *map, const char *key) {
    if (!map || map->type != YT_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i]->value, key)) return map->items[i];
    return NULL;
}

static int one_of(const char *v, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(v, *list)) return 1;
    return 0;
}

static int is_int_text(const char *v) {
    const char *p = v;
    if (*p == '+' || *p == '-') p++;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        if (!*p) return 0;
        for (; *p; p++)
            if (!strchr("0123456789abcdefABCDEF_", *p)) return 0;
        return 1;
    }
    if (p[0] == '0' && (p[1] == 'b')) {
        p += 2;
        if (!*p) return 0;
        for (; *p; p++)
            if (*p != '0' && *p != '1' && *p != '_') return 0;
        return 1;
    }
    if (!*p) return 0;
    for (; *p; p++)
        if ((*p < '0' || *p > '9') && *p != '_') return 0;
    return 1;
}

static int is_float_text(const char *v) {
    static const char *const special[] = {".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                          "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};
    if (one_of(v, special)) return 1;
    const char *p = v;
    if (*p == '+' || *p == '-') p++;
    int digits = 0, dot = 0;
    for (; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.' && !dot)
            dot = 1;
        else if (*p != '_')
            return 0;
    }
    if (!digits && !(dot && digits)) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!*p) return 0;
        for (; *p; p++)
            if (*p < '0' || *p > '9') return 0;
        return 1;
    }
    return dot;
}

yt_kind yt_kind_of(const yt_node *n) {
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"y",  "Y",  "yes",  "Yes",  "YES",  "n",     "N",     "no",
                                        "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
                                        "on", "On", "ON",   "off",  "Off",  "OFF",   NULL};
    if (!n) return YK_NULL;
    if (n->type == YT_MAP) return YK_MAP;
    if (n->type == YT_SEQ) return YK_SEQ;
    if (n->quoted) return YK_STRING;
    if (one_of(n->value, nulls)) return YK_NULL;
    if (one_of(n->value, bools)) return YK_BOOL;
    if (is_int_text(n->value)) return YK_INT;
    if (is_float_text(n->value)) return YK_FLOAT;
    return YK_STRING;
}

const char *yt_kind_name(yt_kind k) {
    static const char *const names[] = {"null", "boolean", "integer", "number", "string", "object", "array"};
    return names[k];
}

int yt_int(const yt_node *n, int64_t *out) {
    if (yt_kind_of(n) != YK_INT) return -1;
    char clean[64];
    size_t k = 0;
    for (const char *p = n->value; *p && k + 1 < sizeof clean; p++)
        if (*p != '_') clean[k++] = *p;
    clean[k] = '\0';
    errno = 0;
    char *end;
    long long v;
    const char *s = clean;
    int neg = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (s[0] == '0' && s[1] == 'b')
        v = strtoll(s + 2, &end, 2);
    else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        v = strtoll(s + 2, &end, 16);
    else
        v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = neg ? -v : v;
    return 0;
}

int yt_bool(const yt_node *n, int *out) {
    if (yt_kind_of(n) != YK_BOOL) return -1;
    char c = n->value[0];
    *out = c == 'y' || c == 'Y' || c == 't' || c == 'T' ||
           (c == 'o' || c == 'O' ? (n->value[1] == 'n' || n->value[1] == 'N') : 0);
    return 0;
}

/* ---- checking ---- */

void yt_pathf(char *out, size_t outlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
}

int yt_fail(const yt_ctx *c, const yt_node *at, const char *fmt, ...) {
    size_t n = (size_t)snprintf(c->err, c->errlen, "%s:%d: %s", c->file, at ? at->line : 0, c->prefix ? c->prefix : "");
    if (n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *find_entry(const char *const *list, const char *name, size_t *namelen) {
    if (!list) return NULL;
    for (; *list; list++) {
        const char *bar = strchr(*list, '|');
        size_t len = bar ? (size_t)(bar - *list) : strlen(*list);
        if (strlen(name) == len && !strncmp(*list, name, len)) {
            *namelen = len;
            return *list;
        }
    }
    return NULL;
}

int yt_check_fields(const yt_ctx *c, const yt_node *map, const char *path, const char *const *supported,
                    const char *const *unsupported) {
    if (!map || map->type != YT_MAP) return 0;
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i]->value;
        size_t len;
        if (find_entry(supported, k, &len)) continue;
        char full[256];
        snprintf(full, sizeof full, "%s%s%s", path, *path ? "." : "", k);
        const char *u = find_entry(unsupported, k, &len);
        if (u)
            return yt_fail(c, map->keys[i], "%s: not supported by the simulator: %s", full,
                           u[len] == '|' ? u + len + 1 : "no model for it");
        return yt_fail(c, map->keys[i],
                       "%s: unknown field \"%s\" (strict decoding error: kubectl apply rejects unknown fields; "
                       "put extra data in metadata.annotations)",
                       full, full);
    }
    return 0;
}

int yt_check_type(const yt_ctx *c, const yt_node *parent, const yt_node *n, const char *path, yt_kind want,
                  int required) {
    if (!n) {
        if (required) return yt_fail(c, parent, "%s: Required value", path);
        return 0;
    }
    yt_kind k = yt_kind_of(n);
    if (k == want || (want == YK_FLOAT && k == YK_INT)) return 0;
    if (k == YK_NULL && !required) return 0;
    return yt_fail(c, n, "%s: Invalid value: \"%s\": %s in body must be of type %s: \"%s\"", path, yt_kind_name(k),
                   path, yt_kind_name(want), yt_kind_name(k));
}

int yt_check_enum(const yt_ctx *c, const yt_node *n, const char *path, const char *const *allowed, int *index) {
    for (int i = 0; allowed[i]; i++)
        if (!strcmp(n->value, allowed[i])) {
            *index = i;
            return 0;
        }
    char list[512];
    size_t k = 0;
    list[0] = '\0';
    for (int i = 0; allowed[i] && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s\"%s\"", i ? ", " : "", allowed[i]);
    return yt_fail(c, n, "%s: Unsupported value: \"%s\": supported values: %s", path, n->value, list);
}
