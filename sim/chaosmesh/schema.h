/*
 * schema.h: the YAML half of the Chaos Mesh reader. Each object kind describes its fields in a table (name,
 * YAML type, required, enum values, integer bounds, default, pattern, the table of a nested object), and one
 * routine checks a document against the table the way the API server checks a CRD's OpenAPI schema before
 * any admission webhook runs: unknown fields (kubectl's strict decoding), types, required fields, enums,
 * integer bounds, patterns.
 *
 * What a table does not say is the kinds' runtime half (network.c, stress.c, pod.c, schedule.c, workflow.c,
 * selector.c): values the webhook parses (durations, percentages, cron), fields that only some actions read,
 * rules across fields, and everything resolved against the cluster. It runs after the check and reads the
 * checked values with cm_read, which cannot fail.
 *
 * Messages: "FILE:LINE: path: message" through yt_fail (yamltree.h), in the API server's words:
 *   spec.foo: unknown field "spec.foo" (strict decoding error ...)       a name not in the table
 *   spec.rate: not supported by the simulator: <reason>                  a table's `unsupported` entry
 *   spec.mode: Required value                                            CM_REQUIRED and absent
 *   spec.loss.loss: Invalid value: "integer": ... must be of type string the YAML type
 *   spec.action: Unsupported value: "drop": supported values: ...        `values`
 *   spec.x: Invalid value: 101: spec.x in body should be less than or equal to 100        `lo`, `hi`
 *   spec.delay.latency: Invalid value: "1.ms": ... should match '^[0-9]+...$'             `pattern`
 * A document with several errors gets the first in table order, nested objects where they appear.
 *
 * Tables are static const data; nothing here allocates.
 */
#ifndef PC_SIM_CHAOSMESH_SCHEMA_H
#define PC_SIM_CHAOSMESH_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "sim/input/yamltree.h"

typedef enum cm_type {
    CM_ANY = 0, /* not checked here: the runtime half checks it where it reads it (a block one action reads) */
    CM_STR,     /* a string; `values` makes it an enum, `pattern` constrains it */
    CM_INT,     /* an integer within [lo, hi]; absent or null: `def` (and "Required value" if CM_REQUIRED) */
    CM_MAP,     /* an object whose fields `sub` describes (NULL: any fields, unchecked) */
    CM_SEQ,     /* an array of `item`: CM_STR, or CM_MAP described by `sub` */
    CM_STR_MAP, /* an object of strings (labelSelectors, annotations) */
    CM_SEQ_MAP, /* an object of arrays of strings (pods by namespace) */
} cm_type;

/* Flags. A field that is neither CM_REQUIRED nor CM_NONNULL may be absent or null. An object given as null
 * still has its nested table checked (so `delay:` alone reports "spec.delay.latency: Required value"). */
#define CM_REQUIRED 1u         /* absent: "Required value"; null: a wrong type (an integer: "Required value") */
#define CM_NONNULL 2u          /* may be absent, but null is a wrong type */
#define CM_INDEXED 4u          /* CM_SEQ: an item's messages name it "path[i]" (else the array's path) */
#define CM_EMPTY_IS_DEFAULT 8u /* an enum given as "" takes its default (Go's omitempty), not an error */

typedef struct cm_schema cm_schema;

typedef struct cm_field {
    const char *name;
    cm_type type;
    unsigned flags;
    const char *const *values;     /* CM_STR: the allowed values, NULL-terminated (NULL: any string) */
    int64_t lo, hi;                /* CM_INT: the bounds */
    int64_t def;                   /* CM_INT: the value when absent; an enum: the index when absent */
    cm_type item;                  /* CM_SEQ: the items' type */
    const cm_schema *sub;          /* CM_MAP, and CM_SEQ of CM_MAP: the nested object's table */
    int (*pattern)(const char *s); /* CM_STR: 1 when the text matches `pattern_text` */
    const char *pattern_text;
} cm_field;

struct cm_schema {
    const cm_field *fields;
    size_t nfields;
    const char *const *unsupported; /* "name|reason": fields of the real schema the simulator does not model */
};

#define CM_SCHEMA(fields, unsupported)                                                                                 \
    { fields, sizeof fields / sizeof fields[0], unsupported }

/* A checked field as the runtime half reads it. */
typedef struct cm_value {
    const yt_node *node; /* NULL when absent (a null node when given as null) */
    const char *s;       /* CM_STR: the text; NULL when absent or null */
    int64_t i;           /* CM_INT: the value or `def`; an enum: the index of the value, or `def` */
    int present;         /* given and not null */
} cm_value;

/* The object `map` (may be absent or null: then only its required fields fail) at `path` ("" for a
 * document's root) against `s`: unknown fields first, then each field in table order. 0, or -1 with the
 * message in c->err. */
int cm_check_map(const yt_ctx *c, const yt_node *map, const char *path, const cm_schema *s);
/* One field of `parent` (the object at `path`) against `f`, its nested tables included. */
int cm_check_field(const yt_ctx *c, const yt_node *parent, const char *path, const cm_field *f);
/* The values of a checked object: out[i] for s->fields[i]. */
void cm_read(const yt_node *map, const cm_schema *s, cm_value *out);

/* "path.name", or "name" at the root; truncated past `len` as every path is. */
void cm_path(char *out, size_t len, const char *path, const char *name);

#endif
