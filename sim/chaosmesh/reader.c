/*
 * reader.c: a Chaos Mesh document (apiVersion, kind, metadata) dispatched to its kind, the chaos spec every
 * kind shares (duration), and the helpers of reader.h.
 */
#include "sim/chaosmesh/reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "sim/input/goparse.h"

static const cm_chaos_kind *const chaos_kinds[] = {&cm_network_chaos, &cm_stress_chaos, &cm_pod_chaos, NULL};

const char *const cm_other_kinds[] = {"IOChaos",
                                      "TimeChaos",
                                      "HTTPChaos",
                                      "DNSChaos",
                                      "JVMChaos",
                                      "KernelChaos",
                                      "AWSChaos",
                                      "GCPChaos",
                                      "AzureChaos",
                                      "BlockChaos",
                                      "PhysicalMachineChaos",
                                      "StatusCheck",
                                      "RemoteCluster",
                                      "PodHttpChaos",
                                      "PodIOChaos",
                                      "PodNetworkChaos",
                                      "CiliumChaos",
                                      "RollingRestartChaos",
                                      "PhysicalMachine",
                                      NULL};
const char *const cm_other_fields[] = {
    "awsChaos", "azureChaos",  "blockChaos",           "dnsChaos",  "gcpChaos",    "httpChaos",           "ioChaos",
    "jvmChaos", "kernelChaos", "physicalmachineChaos", "timeChaos", "ciliumChaos", "rollingrestartChaos", NULL};

const cm_chaos_kind *cm_chaos_kind_at(int i) { return i >= 0 && i < 3 ? chaos_kinds[i] : NULL; }

const cm_chaos_kind *cm_chaos_kind_named(const char *kind) {
    for (int i = 0; chaos_kinds[i]; i++)
        if (!strcmp(kind, chaos_kinds[i]->kind)) return chaos_kinds[i];
    return NULL;
}

int cm_in_list(const char *const *list, const char *s) {
    for (; *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

/* ---- helpers ---- */

int cm_wfail(cm_reader *r, const yt_node *at, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return yt_fail(&r->c, at, "admission webhook \"%s\" denied the request: %s", r->webhook, msg);
}

void cm_add_note(cm_reader *r, int warning, const char *fmt, ...) {
    cm_object *o = r->o;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (int i = 0; i < o->nnotes; i++)
        if (!strcmp(o->notes[i].text, text)) return; /* a Schedule or Workflow repeats its spec's notes */
    if (o->nnotes >= CM_MAX_NOTES) return;
    o->notes[o->nnotes].warning = warning;
    snprintf(o->notes[o->nnotes].text, sizeof o->notes[0].text, "%s", text);
    o->nnotes++;
}

void cm_timeline(cm_reader *r, const char *fmt, ...) {
    cm_object *o = r->o;
    if (o->ntimeline >= CM_MAX_TIMELINE) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->timeline[o->ntimeline++], sizeof o->timeline[0], fmt, ap);
    va_end(ap);
}

int cm_timeline_reserve(cm_reader *r) {
    cm_object *o = r->o;
    if (o->ntimeline >= CM_MAX_TIMELINE) return -1;
    o->timeline[o->ntimeline][0] = '\0';
    return o->ntimeline++;
}

int cm_duration(cm_reader *r, const yt_node *parent, const char *key, const char *path, const char *what, int64_t *ns) {
    const yt_node *n = yt_get(parent, key);
    const char *s = n && yt_kind_of(n) == YK_STRING ? n->value : NULL;
    char full[256], e[200];
    cm_path(full, sizeof full, path, key);
    *ns = -1;
    if (!s || !*s) return 0;
    if (go_parse_duration(s, ns, e, sizeof e) < 0)
        return cm_wfail(r, n, "%s: Invalid value: \"%s\": parse %s field error: %s", full, s, what, e);
    if (*ns < 0) return cm_wfail(r, n, "%s: Invalid value: \"%s\": must not be negative", full, s);
    return 0;
}

void cm_fmt_s(int64_t ns, char *out, size_t len) { snprintf(out, len, "%.1f s", (double)ns / SEC); }

static cm_action *add_action(cm_reader *r, const yt_node *at) {
    cm_object *o = r->o;
    if (o->nacts >= CM_MAX_ACTIONS) {
        yt_fail(&r->c, at, "more than %d chaos injections from one object", CM_MAX_ACTIONS);
        return NULL;
    }
    if (!o->acts) {
        o->acts = calloc(CM_MAX_ACTIONS, sizeof *o->acts);
        if (!o->acts) abort();
    }
    return &o->acts[o->nacts++];
}

int cm_instantiate(cm_reader *r, const yt_node *at, const cm_action *tmpl, const char *step, int64_t start,
                   int64_t end) {
    cm_action *ca = add_action(r, at);
    if (!ca) return -1;
    *ca = *tmpl;
    snprintf(ca->step, sizeof ca->step, "%s", step);
    if (step[0])
        snprintf(ca->a.name, sizeof ca->a.name, "%.40s/%.50s", r->o->name, step);
    else
        snprintf(ca->a.name, sizeof ca->a.name, "%s", r->o->name);
    ca->a.start_ns = start;
    ca->a.end_ns = ca->one_shot ? -1 : end;
    return 0;
}

/* ---- the chaos spec ---- */

int cm_chaos_spec(cm_reader *r, const cm_chaos_kind *k, const yt_node *spec, const char *path, int duration_allowed,
                  cm_action *out, int64_t *duration) {
    const char *saved = r->webhook;
    r->webhook = k->webhook;
    memset(out, 0, sizeof *out);
    chaos_action_init(&out->a, "", ACT_NETWORK);
    snprintf(out->a.kind_name, sizeof out->a.kind_name, "%s", k->kind);
    *duration = -1;
    int rc = 0;
    if (yt_check_type(&r->c, spec, spec, path, YK_MAP, 1) < 0 || cm_check_map(&r->c, spec, path, k->spec) < 0 ||
        cm_duration(r, spec, "duration", path, "duration", duration) < 0)
        rc = -1;
    if (!rc && !duration_allowed && yt_get(spec, "duration"))
        rc = cm_wfail(r, yt_get(spec, "duration"),
                      "%s: Invalid value: should not define duration in chaos when using Workflow, use "
                      "Template#Deadline instead.",
                      path);
    if (!rc) rc = k->resolve(r, spec, path, *duration, out);
    r->webhook = saved;
    return rc;
}

/* ---- the document ---- */

static const char *const annotations_ours[] = {"payment-chaos/expect", "payment-chaos/pair",
                                               "payment-chaos/description", "payment-chaos/really-does", NULL};

enum { MD_NAME, MD_NAMESPACE, MD_LABELS, MD_ANNOTATIONS };
static const cm_field metadata_fields[] = {
    [MD_NAME] = {"name", CM_STR, CM_REQUIRED},
    [MD_NAMESPACE] = {"namespace", CM_STR},
    [MD_LABELS] = {"labels", CM_MAP},
    [MD_ANNOTATIONS] = {"annotations", CM_STR_MAP},
};
static const char *const metadata_unsupported[] = {"generateName|the simulator needs fixed names",
                                                   "finalizers|no model", "ownerReferences|no model", NULL};
static const cm_schema metadata_schema = CM_SCHEMA(metadata_fields, metadata_unsupported);

enum { DOC_API, DOC_KIND, DOC_METADATA, DOC_SPEC };
static const cm_field document_fields[] = {
    [DOC_API] = {"apiVersion", CM_STR, CM_REQUIRED},
    [DOC_KIND] = {"kind", CM_STR, CM_REQUIRED},
    [DOC_METADATA] = {"metadata", CM_MAP, CM_REQUIRED, .sub = &metadata_schema},
    [DOC_SPEC] = {"spec", CM_MAP, CM_REQUIRED}, /* the kind's table: checked by the kind */
};
static const char *const document_unsupported[] = {"status|status is written by Chaos Mesh, not applied", NULL};
static const cm_schema document_schema = CM_SCHEMA(document_fields, document_unsupported);

int cm_dns1123_subdomain(const char *s) {
    size_t len = strlen(s);
    if (!len || len > 253) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '.') return 0;
        if ((i == 0 || i == len - 1) && !alnum) return 0;
    }
    return 1;
}

static void annotation(cm_object *o, const char *k, const yt_node *v) {
    if (!strcmp(k, "payment-chaos/expect")) {
        snprintf(o->expect, sizeof o->expect, "%s", v->value);
        o->expect_line = v->line;
    } else if (!strcmp(k, "payment-chaos/pair")) {
        snprintf(o->pair, sizeof o->pair, "%s", v->value);
        o->pair_line = v->line;
    } else if (!strcmp(k, "payment-chaos/description")) {
        snprintf(o->description, sizeof o->description, "%s", v->value);
    } else if (!strcmp(k, "experiment.chaos-mesh.org/pause") && !strcmp(v->value, "true")) {
        o->paused = 1;
    }
}

/* The checked metadata: the name as the API server validates it, our annotations. */
static int read_metadata(cm_reader *r, const yt_node *md) {
    cm_value v[4];
    cm_read(md, &metadata_schema, v);
    const char *name = v[MD_NAME].s;
    if (!cm_dns1123_subdomain(name))
        return yt_fail(&r->c, v[MD_NAME].node,
                       "metadata.name: Invalid value: \"%s\": a lowercase RFC 1123 "
                       "subdomain must consist of lower case alphanumeric characters, '-' "
                       "or '.'",
                       name);
    snprintf(r->o->name, sizeof r->o->name, "%s", name);
    snprintf(r->ns, sizeof r->ns, "%s", v[MD_NAMESPACE].s ? v[MD_NAMESPACE].s : "default");
    const yt_node *an = v[MD_ANNOTATIONS].node;
    for (size_t i = 0; an && an->type == YT_MAP && i < an->n; i++) {
        const char *k = an->keys[i]->value;
        char ap[160];
        yt_pathf(ap, sizeof ap, "metadata.annotations.%s", k);
        if (!strncmp(k, "payment-chaos/", 14) && !cm_in_list(annotations_ours, k))
            return yt_fail(&r->c, an->keys[i],
                           "%s: unknown annotation (payment-chaos/expect, payment-chaos/pair, "
                           "payment-chaos/description, payment-chaos/really-does)",
                           ap);
        annotation(r->o, k, an->items[i]);
    }
    return 0;
}

/* apiVersion and kind: a kind this reader has (NetworkChaos ... Workflow), served as v1alpha1. */
static int type_meta(cm_reader *r, const yt_node *doc) {
    if (doc->type != YT_MAP) return yt_fail(&r->c, doc, "document is not a mapping");
    if (cm_check_field(&r->c, doc, "", &document_fields[DOC_API]) < 0 ||
        cm_check_field(&r->c, doc, "", &document_fields[DOC_KIND]) < 0)
        return -1;
    const char *api = yt_get(doc, "apiVersion")->value, *kind = yt_get(doc, "kind")->value;
    snprintf(r->o->kind, sizeof r->o->kind, "%s", kind);
    if (!cm_chaos_kind_named(kind) && strcmp(kind, "Schedule") && strcmp(kind, "Workflow")) {
        if (cm_in_list(cm_other_kinds, kind))
            return yt_fail(&r->c, yt_get(doc, "kind"),
                           "kind %s: not supported by the simulator (NetworkChaos, "
                           "StressChaos, PodChaos, Schedule, Workflow)",
                           kind);
        return yt_fail(&r->c, yt_get(doc, "kind"),
                       "no matches for kind \"%s\" in version \"%s\" (ensure CRDs are installed first)", kind, api);
    }
    if (strcmp(api, "chaos-mesh.org/v1alpha1"))
        return yt_fail(&r->c, yt_get(doc, "apiVersion"),
                       "no matches for kind \"%s\" in version \"%s\" (Chaos Mesh serves chaos-mesh.org/v1alpha1)", kind,
                       api);
    return 0;
}

/* The spec by kind: actions into r->o. */
static int read_spec(cm_reader *r, const yt_node *doc, const yt_node *spec) {
    const cm_chaos_kind *k = cm_chaos_kind_named(r->o->kind);
    if (k) {
        cm_action tmpl;
        int64_t duration;
        int rc = cm_chaos_spec(r, k, spec, "spec", 1, &tmpl, &duration);
        if (!rc) rc = cm_instantiate(r, doc, &tmpl, "", 0, duration);
        if (!rc && duration < 0 && !tmpl.one_shot && k != &cm_pod_chaos)
            cm_add_note(r, 1,
                        "no duration: the object runs until it is deleted; the simulation never deletes it, so the "
                        "recovery phase still has it (observed for --chaos)");
        return rc;
    }
    if (!strcmp(r->o->kind, "Schedule")) return cm_schedule(r, spec);
    cm_workflow *w = cm_workflow_new();
    const char *entry;
    int rc = cm_workflow_read(r, spec, "spec", w, &entry);
    if (!rc) {
        int64_t end = cm_workflow_expand(r, w, entry, 0, "", &rc);
        if (!rc && end < 0) cm_add_note(r, 1, "the workflow never reaches Accomplished");
    }
    cm_workflow_free(w);
    return rc;
}

/* When the object acts: its first start and last end (see cm_object). */
static void span(cm_object *o) {
    o->first_start_ns = -1;
    o->last_end_ns = 0;
    for (int i = 0; i < o->nacts; i++) {
        const cm_action *ca = &o->acts[i];
        if (o->first_start_ns < 0 || ca->a.start_ns < o->first_start_ns) o->first_start_ns = ca->a.start_ns;
        int64_t end = ca->one_shot ? ca->a.start_ns + ca->ready_after_ns : ca->a.end_ns;
        if (end < 0) {
            o->endless = 1;
            end = ca->a.start_ns; /* observed for --chaos from here */
        }
        if (end > o->last_end_ns) o->last_end_ns = end;
    }
    if (o->first_start_ns < 0) o->first_start_ns = 0;
}

int cm_is_chaos_document(const yt_node *doc) {
    const yt_node *api = yt_get(doc, "apiVersion");
    return api && api->value && !strncmp(api->value, "chaos-mesh.org/", 15);
}

int cm_parse(const char *file, const yt_doc *d, const cm_env *env, cm_object *o, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    const yt_node *doc = d->root;
    cm_reader r;
    memset(&r, 0, sizeof r);
    r.c = (yt_ctx){file, "", err, errlen};
    r.env = env;
    r.o = o;
    r.webhook = "";
    snprintf(o->file, sizeof o->file, "%s", file);
    o->line = doc->line;
    o->doc_index = d->index;
    if (type_meta(&r, doc) < 0 || cm_check_map(&r.c, doc, "", &document_schema) < 0 ||
        read_metadata(&r, yt_get(doc, "metadata")) < 0 || read_spec(&r, doc, yt_get(doc, "spec")) < 0)
        return -1;
    if (o->paused) {
        cm_add_note(&r, 1,
                    "annotation experiment.chaos-mesh.org/pause: \"true\": Chaos Mesh injects nothing until it is "
                    "resumed");
        o->nacts = 0;
    }
    span(o);
    return 0;
}

void cm_object_free(cm_object *o) {
    if (!o) return;
    free(o->acts);
    o->acts = NULL;
    o->nacts = 0;
}
