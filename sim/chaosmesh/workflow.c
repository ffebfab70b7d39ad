/*
 * workflow.c: Workflow. Its YAML half (the spec and template tables) and its runtime half, the workflow
 * controller's timing: Serial children start when the previous one ends, Parallel ones together, Suspend
 * waits for its deadline; a chaos node ends only at its own deadline or an ancestor's (it is never
 * "Accomplished"), so one with no deadline on its path never ends and blocks every later sibling
 * (chaos-mesh #3846).
 *
 * Ownership: cm_workflow_new allocates the templates (each holds a resolved chaos spec); cm_workflow_free.
 */
#include "sim/chaosmesh/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM_MAX_TEMPLATES 32

/* ---- the YAML half ---- */

enum { W_NAME, W_TYPE, W_DEADLINE, W_CHILDREN, W_NETWORK, W_STRESS, W_POD, W_FIELDS };
static const cm_field template_fields[] = {
    [W_NAME] = {"name", CM_STR, CM_REQUIRED},
    [W_TYPE] = {"templateType", CM_STR, CM_REQUIRED}, /* Serial, Parallel, Suspend or a chaos kind */
    [W_DEADLINE] = {"deadline", CM_STR},
    [W_CHILDREN] = {"children", CM_SEQ, CM_INDEXED, .item = CM_STR},
    /* the chaos kinds' tables, the one templateType names */
    [W_NETWORK] = {"networkChaos", CM_ANY},
    [W_STRESS] = {"stressChaos", CM_ANY},
    [W_POD] = {"podChaos", CM_ANY},
};
static const char *const template_unsupported[] = {"conditionalBranches|no Task/StatusCheck model",
                                                   "task|no Task model",
                                                   "statusCheck|no StatusCheck model",
                                                   "abortWithStatusCheck|no StatusCheck model",
                                                   "schedule|Schedule templates inside a Workflow are not modelled",
                                                   "awsChaos|no model",
                                                   "azureChaos|no model",
                                                   "blockChaos|no model",
                                                   "dnsChaos|no model",
                                                   "gcpChaos|no model",
                                                   "httpChaos|no model",
                                                   "ioChaos|no model",
                                                   "jvmChaos|no model",
                                                   "kernelChaos|no model",
                                                   "physicalmachineChaos|no model",
                                                   "timeChaos|no model",
                                                   "ciliumChaos|no model",
                                                   "rollingrestartChaos|no model",
                                                   NULL};
static const cm_schema template_schema = CM_SCHEMA(template_fields, template_unsupported);

enum { WF_ENTRY, WF_TEMPLATES };
static const cm_field workflow_fields[] = {
    [WF_ENTRY] = {"entry", CM_STR, CM_REQUIRED},
    [WF_TEMPLATES] = {"templates", CM_SEQ, CM_REQUIRED | CM_INDEXED, .item = CM_MAP, .sub = &template_schema},
};
static const cm_schema workflow_schema = CM_SCHEMA(workflow_fields, NULL);

/* ---- the runtime half: templates ---- */

typedef struct wf_template {
    const yt_node *node;
    const char *name, *type;
    int64_t deadline_ns;        /* -1: none */
    const cm_chaos_kind *chaos; /* NULL: Serial, Parallel, Suspend */
    cm_action tmpl;
} wf_template;

struct cm_workflow {
    wf_template t[CM_MAX_TEMPLATES];
    int n;
    int depth;
};

cm_workflow *cm_workflow_new(void) {
    cm_workflow *w = calloc(1, sizeof *w);
    if (!w) abort();
    return w;
}

void cm_workflow_free(cm_workflow *w) { free(w); }

static wf_template *wf_find(cm_workflow *w, const char *name) {
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) return &w->t[i];
    return NULL;
}

/* A chaos template: its kind's spec (no duration: the webhook wants the template's deadline). */
static int read_chaos_template(cm_reader *r, wf_template *wt, const char *tp) {
    const yt_node *t = wt->node, *children = yt_get(t, "children");
    const cm_chaos_kind *k = cm_chaos_kind_named(wt->type);
    if (!k) {
        if (cm_in_list(cm_other_kinds, wt->type) || !strcmp(wt->type, "Schedule") || !strcmp(wt->type, "Task"))
            return yt_fail(&r->c, yt_get(t, "templateType"), "%s.templateType: %s: not supported by the simulator", tp,
                           wt->type);
        return cm_wfail(r, yt_get(t, "templateType"),
                        "%s.templateType: Invalid value: \"%s\": unrecognized "
                        "template type: %s",
                        tp, wt->type, wt->type);
    }
    if (children && children->n)
        return cm_wfail(r, t, "%s: Invalid value: this template should not contain Children", tp);
    const yt_node *cs = yt_get(t, k->field);
    char sp[320];
    yt_pathf(sp, sizeof sp, "%s.%s", tp, k->field);
    if (!cs) return cm_wfail(r, t, "%s: Invalid value: the value of chaos %s is required", sp, k->kind);
    for (int o = 0; cm_chaos_kind_at(o); o++)
        if (cm_chaos_kind_at(o) != k && yt_get(t, cm_chaos_kind_at(o)->field))
            cm_add_note(r, 1, "%s: templateType is %s but %s is also set; only %s is used", tp, wt->type,
                        cm_chaos_kind_at(o)->field, k->field);
    int64_t dur;
    wt->chaos = k;
    return cm_chaos_spec(r, k, cs, sp, 0, &wt->tmpl, &dur);
}

/* One checked template: the webhook's rules on its name, deadline and type. */
static int read_template(cm_reader *r, cm_workflow *w, const yt_node *t, const char *full, size_t i) {
    char tp[280];
    yt_pathf(tp, sizeof tp, "%s[%zu]", full, i);
    cm_value v[W_FIELDS];
    cm_read(t, &template_schema, v);
    wf_template *wt = &w->t[w->n++];
    memset(wt, 0, sizeof *wt);
    wt->node = t;
    wt->name = v[W_NAME].s;
    wt->type = v[W_TYPE].s;
    if (!cm_dns1123_subdomain(wt->name))
        return cm_wfail(r, v[W_NAME].node, "%s.name: Invalid value: \"%s\": field name must be DNS-1123 subdomain", tp,
                        wt->name);
    for (int k = 0; k < w->n - 1; k++)
        if (!strcmp(w->t[k].name, wt->name))
            return cm_wfail(r, v[W_NAME].node,
                            "%s: Invalid value: template name must be unique, duplicated names: "
                            "[%s]",
                            full, wt->name);
    if (cm_duration(r, t, "deadline", tp, "deadline", &wt->deadline_ns) < 0) return -1;
    int has_chaos = v[W_NETWORK].node || v[W_STRESS].node || v[W_POD].node;
    if (!strcmp(wt->type, "Serial") || !strcmp(wt->type, "Parallel")) {
        if (has_chaos) return cm_wfail(r, t, "%s: Invalid value: this template should not contain any Chaos", tp);
        return 0;
    }
    if (!strcmp(wt->type, "Suspend")) {
        if (wt->deadline_ns < 0)
            return cm_wfail(r, t,
                            "%s.deadline: Invalid value: deadline in template with type Suspend could not be "
                            "empty",
                            tp);
        return 0;
    }
    return read_chaos_template(r, wt, tp);
}

int cm_workflow_read(cm_reader *r, const yt_node *spec, const char *path, cm_workflow *w, const char **entry) {
    const char *saved = r->webhook;
    r->webhook = "vworkflow.kb.io";
    if (cm_check_map(&r->c, spec, path, &workflow_schema) < 0) return -1;
    cm_value v[2];
    cm_read(spec, &workflow_schema, v);
    const yt_node *tl = v[WF_TEMPLATES].node;
    char full[256];
    yt_pathf(full, sizeof full, "%s.templates", path);
    *entry = v[WF_ENTRY].s;
    if (!tl->n) return cm_wfail(r, tl, "%s: Invalid value: null: templates in workflow could not be empty", full);
    if (tl->n > CM_MAX_TEMPLATES) return yt_fail(&r->c, tl, "%s: more than %d templates", full, CM_MAX_TEMPLATES);
    w->n = 0;
    for (size_t i = 0; i < tl->n; i++)
        if (read_template(r, w, tl->items[i], full, i) < 0) return -1;
    /* children exist; entry exists */
    for (int i = 0; i < w->n; i++) {
        const yt_node *children = yt_get(w->t[i].node, "children");
        for (size_t k = 0; children && k < children->n; k++) {
            char cp[300];
            yt_pathf(cp, sizeof cp, "%s[%d].children[%zu]", full, i, k);
            if (!wf_find(w, children->items[k]->value))
                return cm_wfail(r, children->items[k],
                                "%s: Invalid value: \"%s\": can not find a template with name %s", cp,
                                children->items[k]->value, children->items[k]->value);
        }
    }
    if (!wf_find(w, *entry))
        return cm_wfail(r, v[WF_ENTRY].node, "%s.entry: Invalid value: \"%s\": can not find a template with name %s",
                        path, *entry, *entry);
    r->webhook = saved;
    return 0;
}

/* ---- the runtime half: the controller's timing ---- */

static int64_t wf_run(cm_reader *r, cm_workflow *w, wf_template *t, int64_t start, int64_t limit,
                      const char *run_prefix, int *rc);

/* A chaos node: acts from `start` until `end` (the nearest deadline on its path; -1: never). */
static int64_t wf_chaos(cm_reader *r, wf_template *t, int64_t start, int64_t end, int64_t own, const char *run_prefix,
                        int *rc) {
    char step[96], s0[32], s1[32];
    snprintf(step, sizeof step, "%s%s", run_prefix, t->name);
    cm_fmt_s(start, s0, sizeof s0);
    if (cm_instantiate(r, t->node, &t->tmpl, step, start, end) < 0) {
        *rc = -1;
        return -1;
    }
    if (end < 0) {
        cm_add_note(r, 1,
                    "Workflow node %s (%s) has no deadline and no ancestor deadline: a chaos node only ends on "
                    "DeadlineExceed, so it never ends and the workflow hangs (chaos-mesh #3846)",
                    t->name, t->type);
        cm_timeline(r, "%s%-20s %-12s starts %s, never ends (no deadline on its path)", run_prefix, t->name, t->type,
                    s0);
        return end;
    }
    cm_fmt_s(end, s1, sizeof s1);
    cm_timeline(r, "%s%-20s %-12s %s - %s (%s)", run_prefix, t->name, t->type, s0, s1,
                own == end ? "its deadline" : "an ancestor's deadline");
    if (t->deadline_ns < 0)
        cm_add_note(r, 1,
                    "Workflow node %s has no deadline of its own: it ends only when an ancestor's deadline "
                    "fires, so a later Serial sibling never starts",
                    t->name);
    return end;
}

/* A Serial or Parallel node: its children from `start` under the deadline `lim`; its own timeline line
 * (reserved before theirs). */
static int64_t wf_children(cm_reader *r, cm_workflow *w, wf_template *t, int64_t start, int64_t lim,
                           const char *run_prefix, int *rc) {
    int slot = cm_timeline_reserve(r);
    const yt_node *children = yt_get(t->node, "children");
    int serial = !strcmp(t->type, "Serial");
    int64_t at = start, last = start;
    int never = 0;
    for (size_t i = 0; children && i < children->n && !*rc; i++) {
        wf_template *c = wf_find(w, children->items[i]->value);
        if (serial && (never || (lim >= 0 && at >= lim))) {
            cm_timeline(r, "%s%-20s %-12s never starts (%s)", run_prefix, c->name, c->type,
                        never ? "the previous step never ends" : "the Serial node's deadline passed first");
            if (never) cm_add_note(r, 1, "Workflow node %s never starts: the step before it never ends", c->name);
            continue;
        }
        int64_t e = wf_run(r, w, c, serial ? at : start, lim, run_prefix, rc);
        if (e < 0)
            never = 1;
        else if (serial)
            at = last = e;
        else if (e > last)
            last = e;
    }
    int64_t end = never ? lim : (lim >= 0 && last > lim ? lim : last);
    char *line = slot >= 0 ? r->o->timeline[slot] : NULL;
    size_t ll = sizeof r->o->timeline[0];
    char s0[32], s1[32];
    cm_fmt_s(start, s0, sizeof s0);
    if (line && end >= 0) {
        cm_fmt_s(end, s1, sizeof s1);
        snprintf(line, ll, "%s%-20s %-12s %s - %s (%s)", run_prefix, t->name, t->type, s0, s1,
                 never || end == lim ? "deadline" : "all children finished");
    } else if (line) {
        snprintf(line, ll, "%s%-20s %-12s starts %s, never finishes", run_prefix, t->name, t->type, s0);
    }
    return end;
}

/* Runs node `t` from `start` under the ancestors' deadline `limit` (-1: none); returns when it finishes
 * (-1: never). */
static int64_t wf_run(cm_reader *r, cm_workflow *w, wf_template *t, int64_t start, int64_t limit,
                      const char *run_prefix, int *rc) {
    if (*rc) return -1;
    if (++w->depth > CM_MAX_TEMPLATES) {
        *rc = yt_fail(&r->c, t->node, "spec.templates: template \"%s\" contains itself", t->name);
        return -1;
    }
    int64_t own = t->deadline_ns >= 0 ? start + t->deadline_ns : -1;
    int64_t lim = own >= 0 && (limit < 0 || own < limit) ? own : limit;
    int64_t end;
    if (t->chaos) {
        end = wf_chaos(r, t, start, lim, own, run_prefix, rc);
    } else if (!strcmp(t->type, "Suspend")) {
        char s0[32], s1[32];
        cm_fmt_s(start, s0, sizeof s0);
        cm_fmt_s(lim, s1, sizeof s1);
        end = lim;
        cm_timeline(r, "%s%-20s %-12s %s - %s (waits)", run_prefix, t->name, t->type, s0, s1);
    } else {
        end = wf_children(r, w, t, start, lim, run_prefix, rc);
    }
    w->depth--;
    return end;
}

int64_t cm_workflow_expand(cm_reader *r, cm_workflow *w, const char *entry, int64_t start, const char *run_prefix,
                           int *rc) {
    w->depth = 0;
    return wf_run(r, w, wf_find(w, entry), start, -1, run_prefix, rc);
}
