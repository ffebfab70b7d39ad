/*
 * schema.c: checking a document against a kind's field table (see schema.h).
 */
#include "sim/chaosmesh/schema.h"

#include <stdio.h>
#include <string.h>

#define CM_MAX_FIELDS 48
#define CM_PATH 256

void cm_path(char *out, size_t len, const char *path, const char *name) {
    yt_pathf(out, len, "%s%s%s", path, *path ? "." : "", name);
}

static int check_int(const yt_ctx *c, const yt_node *parent, const yt_node *n, const char *full, const cm_field *f) {
    if (!n || yt_kind_of(n) == YK_NULL)
        return f->flags & CM_REQUIRED ? yt_fail(c, parent, "%s: Required value", full) : 0;
    if (yt_check_type(c, parent, n, full, YK_INT, 0) < 0) return -1;
    int64_t v;
    if (yt_int(n, &v) < 0) return yt_fail(c, n, "%s: Invalid value: %s: out of range", full, n->value);
    if (v < f->lo)
        return yt_fail(c, n, "%s: Invalid value: %lld: %s in body should be greater than or equal to %lld", full,
                       (long long)v, full, (long long)f->lo);
    if (v > f->hi)
        return yt_fail(c, n, "%s: Invalid value: %lld: %s in body should be less than or equal to %lld", full,
                       (long long)v, full, (long long)f->hi);
    return 0;
}

static int check_str(const yt_ctx *c, const yt_node *parent, const yt_node *n, const char *full, const cm_field *f,
                     int required) {
    if (yt_check_type(c, parent, n, full, YK_STRING, required) < 0) return -1;
    if (!n || yt_kind_of(n) != YK_STRING) return 0;
    int index;
    if (f->values && (n->value[0] || !(f->flags & CM_EMPTY_IS_DEFAULT)) &&
        yt_check_enum(c, n, full, f->values, &index) < 0)
        return -1;
    if (f->pattern && !f->pattern(n->value))
        return yt_fail(c, n, "%s: Invalid value: \"%s\": %s in body should match '%s'", full, n->value, full,
                       f->pattern_text);
    return 0;
}

/* The items of an array (already checked to be one, or absent or null). */
static int check_items(const yt_ctx *c, const yt_node *seq, const char *full, const cm_field *f) {
    for (size_t i = 0; seq && seq->type == YT_SEQ && i < seq->n; i++) {
        char item[CM_PATH];
        if (f->flags & CM_INDEXED)
            yt_pathf(item, sizeof item, "%s[%zu]", full, i);
        else
            yt_pathf(item, sizeof item, "%s", full);
        const yt_node *n = seq->items[i];
        if (f->item == CM_MAP) {
            if (yt_check_type(c, seq, n, item, YK_MAP, 1) < 0 || (f->sub && cm_check_map(c, n, item, f->sub) < 0))
                return -1;
        } else if (yt_check_type(c, seq, n, item, YK_STRING, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The values of an object of strings (CM_STR_MAP) or of arrays of strings (CM_SEQ_MAP). */
static int check_values(const yt_ctx *c, const yt_node *map, const char *full, cm_type type) {
    for (size_t i = 0; map && map->type == YT_MAP && i < map->n; i++) {
        char item[CM_PATH];
        yt_pathf(item, sizeof item, "%s.%s", full, map->keys[i]->value);
        const yt_node *v = map->items[i];
        if (type == CM_STR_MAP) {
            if (yt_check_type(c, map, v, item, YK_STRING, 1) < 0) return -1;
            continue;
        }
        if (yt_check_type(c, map, v, item, YK_SEQ, 1) < 0) return -1;
        for (size_t k = 0; k < v->n; k++)
            if (yt_check_type(c, v, v->items[k], item, YK_STRING, 1) < 0) return -1;
    }
    return 0;
}

int cm_check_field(const yt_ctx *c, const yt_node *parent, const char *path, const cm_field *f) {
    const yt_node *n = yt_get(parent, f->name);
    char full[CM_PATH];
    cm_path(full, sizeof full, path, f->name);
    int required = (f->flags & CM_REQUIRED) || ((f->flags & CM_NONNULL) && n);
    switch (f->type) {
    case CM_ANY: return 0;
    case CM_STR: return check_str(c, parent, n, full, f, required);
    case CM_INT: return check_int(c, parent, n, full, f);
    case CM_MAP:
        if (yt_check_type(c, parent, n, full, YK_MAP, required) < 0) return -1;
        return n && f->sub ? cm_check_map(c, n, full, f->sub) : 0;
    case CM_SEQ:
        if (yt_check_type(c, parent, n, full, YK_SEQ, required) < 0) return -1;
        return check_items(c, n, full, f);
    case CM_STR_MAP:
    case CM_SEQ_MAP:
        if (yt_check_type(c, parent, n, full, YK_MAP, required) < 0) return -1;
        return check_values(c, n, full, f->type);
    }
    return 0;
}

int cm_check_map(const yt_ctx *c, const yt_node *map, const char *path, const cm_schema *s) {
    const char *names[CM_MAX_FIELDS + 1];
    size_t n = 0;
    for (; n < s->nfields && n < CM_MAX_FIELDS; n++) names[n] = s->fields[n].name;
    names[n] = NULL;
    if (yt_check_fields(c, map, path, names, s->unsupported) < 0) return -1;
    for (size_t i = 0; i < s->nfields; i++)
        if (cm_check_field(c, map, path, &s->fields[i]) < 0) return -1;
    return 0;
}

void cm_read(const yt_node *map, const cm_schema *s, cm_value *out) {
    for (size_t i = 0; i < s->nfields; i++) {
        const cm_field *f = &s->fields[i];
        cm_value *v = &out[i];
        v->node = yt_get(map, f->name);
        v->present = v->node && yt_kind_of(v->node) != YK_NULL;
        v->s = v->present && f->type == CM_STR ? v->node->value : NULL;
        v->i = f->def;
        if (f->type == CM_INT && v->present) yt_int(v->node, &v->i);
        for (int k = 0; f->values && v->s && f->values[k]; k++)
            if (!strcmp(v->s, f->values[k])) v->i = k;
    }
}
