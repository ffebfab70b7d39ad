/*
 * reader.h: what the parts of the Chaos Mesh reader share (not part of the public interface, chaosmesh.h).
 *
 * One object kind per file, each in two halves: its YAML half, the field tables that schema.c checks, and
 * its runtime half, which reads the checked values, applies what the webhook and the controllers do with
 * them, resolves them against the cluster (pods, Services, IPs) and notes what the object really does:
 *   network.c   NetworkChaos     stress.c    StressChaos     pod.c       PodChaos
 *   schedule.c  Schedule         workflow.c  Workflow        selector.c  mode, value, selector, containerNames
 *   reader.c    the document (apiVersion, kind, metadata), the dispatch, and the helpers below
 *
 * Ownership: a cm_reader lives on cm_parse's stack for one document; it writes into the caller's cm_object.
 */
#ifndef PC_SIM_CHAOSMESH_READER_H
#define PC_SIM_CHAOSMESH_READER_H

#include "sim/chaosmesh/chaosmesh.h"
#include "sim/chaosmesh/schema.h"

typedef struct cm_reader {
    yt_ctx c;
    const cm_env *env;
    cm_object *o;
    const char *webhook; /* "vnetworkchaos.kb.io" ...: whose words cm_wfail uses */
    char ns[64];         /* the object's namespace */
} cm_reader;

/* ---- the chaos kinds (NetworkChaos, StressChaos, PodChaos) ---- */

typedef struct cm_chaos_kind {
    const char *kind;      /* "NetworkChaos" */
    const char *field;     /* "networkChaos": its spec inside a Schedule or a Workflow template */
    const char *webhook;   /* "vnetworkchaos.kb.io" */
    const cm_schema *spec; /* the YAML half */
    /* The runtime half: a checked spec into `ca` (start 0, no name yet); duration -1 when none. */
    int (*resolve)(cm_reader *r, const yt_node *spec, const char *path, int64_t duration, cm_action *ca);
} cm_chaos_kind;

extern const cm_chaos_kind cm_network_chaos, cm_stress_chaos, cm_pod_chaos;

/* The chaos kinds in a fixed order (NULL past the last), and by kind name (NULL: not one). */
const cm_chaos_kind *cm_chaos_kind_at(int i);
const cm_chaos_kind *cm_chaos_kind_named(const char *kind);
/* Chaos Mesh kinds without a model here (their CRDs exist), and their fields in a Schedule or Workflow. */
extern const char *const cm_other_kinds[];
extern const char *const cm_other_fields[]; /* "name|reason" entries, for cm_schema.unsupported */
int cm_in_list(const char *const *list, const char *s);

/* A spec of kind `k` at `path`: checked, then resolved into a template action `out` (start 0); *duration -1
 * if none. `duration_allowed` 0 inside a Workflow, whose webhook forbids it. */
int cm_chaos_spec(cm_reader *r, const cm_chaos_kind *k, const yt_node *spec, const char *path, int duration_allowed,
                  cm_action *out, int64_t *duration);
/* A copy of the template at [start, end), named after the object (and `step`). */
int cm_instantiate(cm_reader *r, const yt_node *at, const cm_action *tmpl, const char *step, int64_t start,
                   int64_t end);

/* ---- the selection (selector.c) ---- */

extern const char *const cm_modes[];
extern const cm_schema cm_selector_schema;
/* The fields of a spec that selects pods (a chaos spec, a NetworkChaos target). */
#define CM_FIELD_MODE                                                                                                  \
    { "mode", CM_STR, CM_REQUIRED, cm_modes }
#define CM_FIELD_VALUE                                                                                                 \
    { "value", CM_STR }
#define CM_FIELD_SELECTOR                                                                                              \
    { "selector", CM_MAP, CM_REQUIRED, .sub = &cm_selector_schema }
#define CM_FIELD_CONTAINERS                                                                                            \
    { "containerNames", CM_SEQ, 0, .item = CM_STR }
/* mode, value and selector of a checked `holder` into `sel`, with the selection in words in `desc`. */
int cm_resolve_selection(cm_reader *r, const yt_node *holder, const char *path, sim_pod_selector *sel, char *desc,
                         size_t desclen);
/* containerNames: keep only the pods whose container is named (required: the webhook's rule for `action`). */
int cm_resolve_containers(cm_reader *r, const yt_node *spec, const char *path, sim_pod_selector *sel, int required,
                          const char *action);
/* "payment and inventory", "no". */
const char *cm_svc_word(unsigned services, char *buf, size_t len);

/* ---- Schedule and Workflow ---- */

int cm_schedule(cm_reader *r, const yt_node *spec);
typedef struct cm_workflow cm_workflow;
cm_workflow *cm_workflow_new(void);
void cm_workflow_free(cm_workflow *w);
/* A Workflow spec at `path`: checked, its templates resolved; *entry its entry node's name. */
int cm_workflow_read(cm_reader *r, const yt_node *spec, const char *path, cm_workflow *w, const char **entry);
/* Expands a workflow created at `start`; returns when its entry node finishes (-1: never). */
int64_t cm_workflow_expand(cm_reader *r, cm_workflow *w, const char *entry, int64_t start, const char *run_prefix,
                           int *rc);

/* ---- helpers (reader.c) ---- */

/* A rejection by the kind's admission webhook: "admission webhook \"W\" denied the request: ...". */
int cm_wfail(cm_reader *r, const yt_node *at, const char *fmt, ...) YT_PRINTF(3, 4);
/* A note on the object (a repeated text is kept once). */
void cm_add_note(cm_reader *r, int warning, const char *fmt, ...) YT_PRINTF(3, 4);
void cm_timeline(cm_reader *r, const char *fmt, ...) YT_PRINTF(2, 3);
/* Reserves a timeline line to fill later (a parent's before its children's); -1 when full. */
int cm_timeline_reserve(cm_reader *r);
/* A checked duration field (Go's time.ParseDuration, as the webhook parses it): *ns -1 when absent/empty. */
int cm_duration(cm_reader *r, const yt_node *parent, const char *key, const char *path, const char *what, int64_t *ns);
/* A lowercase RFC 1123 subdomain (metadata.name, a Workflow template's name)? */
int cm_dns1123_subdomain(const char *s);
/* "12.5 s" */
void cm_fmt_s(int64_t ns, char *out, size_t len);

#endif
