/*
 * yamltree.h: YAML files (multi-document) as plain trees with line numbers, read with libyaml.
 *
 * Kubernetes reads YAML through sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 scalars): a plain scalar is null
 * ("", "~", "null"), a bool ("true", "yes", "on", ... in their three spellings), an int ("42", "0x2a"), a
 * float ("1.5", "1e3", ".inf") or else a string; a quoted or block scalar is always a string. The typing
 * helpers below follow those rules, so "loss: 80" (an integer) and "loss: \"80\"" (a string) are told
 * apart exactly where the API server tells them apart.
 *
 * Strictness: a mapping with the same key twice is an error (kubectl's strict decoding rejects it), an
 * alias to an unknown anchor is an error, a syntax error names its line. Documents whose root is null
 * (an empty document between two `---`) are skipped, as kubectl skips them.
 *
 * Ownership: a yt_file owns every node, string and document of the file (one arena); nodes are valid until
 * yt_free(). Aliases point at the anchored node, so a node may be reachable twice.
 */
#ifndef PC_SIM_INPUT_YAMLTREE_H
#define PC_SIM_INPUT_YAMLTREE_H

#include <stddef.h>
#include <stdint.h>

typedef enum yt_type { YT_SCALAR = 0, YT_MAP, YT_SEQ } yt_type;

/* What a scalar resolves to (YAML 1.1 as go-yaml v2 resolves plain scalars). */
typedef enum yt_kind { YK_NULL = 0, YK_BOOL, YK_INT, YK_FLOAT, YK_STRING, YK_MAP, YK_SEQ } yt_kind;

typedef struct yt_node yt_node;
struct yt_node {
    yt_type type;
    int line, col;     /* 1-based position of the node's first character */
    const char *value; /* scalars: the text (NUL-terminated); else NULL */
    int quoted;        /* scalars written quoted or as a block: always strings */
    size_t n;          /* maps: pairs; sequences: items */
    yt_node **keys;    /* maps: the keys (scalars) */
    yt_node **items;   /* maps: the values; sequences: the items */
};

typedef struct yt_doc {
    const yt_node *root;
    int index; /* position in the stream, counting empty documents too (as the validator numbers them) */
} yt_doc;

typedef struct yt_file yt_file;

/* Parses a whole file; NULL with "FILE:LINE: ..." in err on a syntax error or a duplicate key. */
yt_file *yt_load_file(const char *path, char *err, size_t errlen);
yt_file *yt_load_string(const char *name, const char *text, size_t len, char *err, size_t errlen);
void yt_free(yt_file *f);

const char *yt_file_name(const yt_file *f);
int yt_doc_count(const yt_file *f);
const yt_doc *yt_doc_at(const yt_file *f, int i);

/* Value of `key` in a map (NULL when absent or when `map` is not a map). */
const yt_node *yt_get(const yt_node *map, const char *key);
yt_kind yt_kind_of(const yt_node *n);
const char *yt_kind_name(yt_kind k); /* "string", "integer", "number", "boolean", "null", "object", "array" */
/* Integer value of an int scalar (0 and -1 when it is not one or overflows). */
int yt_int(const yt_node *n, int64_t *out);
/* Bool value of a bool scalar (0 and -1 when it is not one). */
int yt_bool(const yt_node *n, int *out);

/*
 * Checking a document against what the simulator supports. Every message starts with "FILE:LINE: " and
 * names the field by its path ("spec.loss.loss"), in the API server's words where it has some:
 *   unknown field      spec.foo: unknown field "spec.foo" (strict decoding error ...)
 *   unsupported field  spec.remoteCluster: not supported by the simulator: <reason>
 *   wrong type         spec.loss.loss: Invalid value: "integer": spec.loss.loss in body must be of type string
 *   missing            spec.mode: Required value
 *   not in an enum     spec.action: Unsupported value: "drop": supported values: "netem", "delay", ...
 * All return -1 (after writing err) so a caller can `return yt_fail(...)`.
 */
typedef struct yt_ctx {
    const char *file;
    const char *prefix; /* e.g. "admission webhook \"vnetworkchaos.kb.io\" denied the request: ", or "" */
    char *err;
    size_t errlen;
} yt_ctx;

#if defined(__GNUC__)
#define YT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define YT_PRINTF(a, b)
#endif

/* snprintf for field paths, where truncating a very long path is fine. */
void yt_pathf(char *out, size_t outlen, const char *fmt, ...) YT_PRINTF(3, 4);
int yt_fail(const yt_ctx *c, const yt_node *at, const char *fmt, ...) YT_PRINTF(3, 4);
/* `supported`: NULL-terminated names; `unsupported`: NULL-terminated "name|reason" entries naming fields that
 * exist in the real schema but that the simulator does not model. */
int yt_check_fields(const yt_ctx *c, const yt_node *map, const char *path, const char *const *supported,
                    const char *const *unsupported);
/* Type check (and presence when `required`); returns 0 when absent and not required. */
int yt_check_type(const yt_ctx *c, const yt_node *parent, const yt_node *n, const char *path, yt_kind want,
                  int required);
/* The value must be one of `allowed` (NULL-terminated); *index receives its position. */
int yt_check_enum(const yt_ctx *c, const yt_node *n, const char *path, const char *const *allowed, int *index);

#endif
