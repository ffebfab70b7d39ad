/*
 * selector.c: which pods an object acts on: mode and value, the selector (namespaces, labelSelectors,
 * expressionSelectors, podPhaseSelectors, pods) resolved against the manifest's pods, and containerNames.
 *
 * The selection is resolved into services (bit per service whose pods match) or pod names; the choice among
 * them (mode one, fixed, ...) is the scenario's, with a seeded stream, when the action starts.
 */
#include "sim/chaosmesh/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/input/goparse.h"

/* ---- the YAML half ---- */

const char *const cm_modes[] = {"all", "one", "fixed", "fixed-percent", "random-max-percent", NULL};

static const char *const expression_ops[] = {"In", "NotIn", "Exists", "DoesNotExist", NULL};
enum { EX_KEY, EX_OPERATOR, EX_VALUES };
static const cm_field expression_fields[] = {
    [EX_KEY] = {"key", CM_STR, CM_REQUIRED},
    [EX_OPERATOR] = {"operator", CM_STR, CM_REQUIRED, expression_ops},
    [EX_VALUES] = {"values", CM_SEQ, 0, .item = CM_STR}, /* required with In and NotIn: check_expressions */
};
static const cm_schema expression_schema = CM_SCHEMA(expression_fields, NULL);

enum { S_NAMESPACES, S_LABELS, S_EXPRESSIONS, S_PHASES, S_PODS };
static const cm_field selector_fields[] = {
    [S_NAMESPACES] = {"namespaces", CM_SEQ, CM_INDEXED, .item = CM_STR}, /* none: the object's own */
    [S_LABELS] = {"labelSelectors", CM_STR_MAP},
    [S_EXPRESSIONS] = {"expressionSelectors", CM_SEQ, CM_INDEXED, .item = CM_MAP, .sub = &expression_schema},
    [S_PHASES] = {"podPhaseSelectors", CM_SEQ, 0, .item = CM_STR},
    [S_PODS] = {"pods", CM_SEQ_MAP}, /* namespace: pod names */
};
static const char *const selector_unsupported[] = {"annotationSelectors|select pods by labels or names",
                                                   "fieldSelectors|select pods by labels or names",
                                                   "nodeSelectors|one node", "nodes|one node", NULL};
const cm_schema cm_selector_schema = CM_SCHEMA(selector_fields, selector_unsupported);

/* The three fields of a spec that selects (read only: the kinds' tables hold them). */
enum { H_MODE, H_VALUE, H_SELECTOR };
static const cm_field selection_fields[] = {
    [H_MODE] = CM_FIELD_MODE, [H_VALUE] = CM_FIELD_VALUE, [H_SELECTOR] = CM_FIELD_SELECTOR};
static const cm_schema selection_schema = CM_SCHEMA(selection_fields, NULL);

/* ---- the runtime half ---- */

const char *cm_svc_word(unsigned services, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = '\0';
    int count = 0;
    for (int s = 0; s < SVC_PEER_COUNT; s++)
        if (services & (1u << s)) count++;
    int i = 0;
    for (int s = 0; s < SVC_PEER_COUNT && k < len; s++) {
        if (!(services & (1u << s))) continue;
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? (i == count - 1 ? " and " : ", ") : "",
                              svc_peer_name((svc_peer)s));
        i++;
    }
    if (!count) snprintf(buf, len, "no");
    return buf;
}

/* value as the webhook reads it for the mode (an integer in a string). */
static int resolve_mode(cm_reader *r, const yt_node *holder, const cm_value *v, const char *path,
                        sim_pod_selector *sel) {
    char full[256];
    yt_pathf(full, sizeof full, "%s%svalue", path, *path ? "." : "");
    sel->mode = (sim_select_mode)v[H_MODE].i;
    const char *value = v[H_VALUE].s;
    const yt_node *vn = v[H_VALUE].node;
    if (sel->mode == SEL_FIXED || sel->mode == SEL_FIXED_PERCENT || sel->mode == SEL_RANDOM_MAX_PERCENT) {
        int64_t n;
        char e[200];
        if (go_atoi(value ? value : "", &n, e, sizeof e) < 0)
            return cm_wfail(r, vn ? vn : holder, "%s: Invalid value: \"%s\": parse value field error:%s", full,
                            value ? value : "", e);
        if (sel->mode == SEL_FIXED && n <= 0)
            return cm_wfail(r, vn, "%s: Invalid value: \"%s\": value must be greater than 0 with mode:fixed", full,
                            value);
        if (sel->mode != SEL_FIXED && (n <= 0 || n > 100))
            return cm_wfail(r, vn, "%s: Invalid value: \"%s\": value of %lld is invalid, Must be (0,100] with mode:%s",
                            full, value, (long long)n, cm_modes[sel->mode]);
        sel->value = (int)n;
    } else if (sel->mode == SEL_ONE) {
        cm_add_note(r, 0,
                    "mode one: Chaos Mesh picks the pod with crypto/rand at injection; the simulator draws it from "
                    "the seed, so another seed may pick another pod");
    }
    return 0;
}

/* What the table cannot say: values with In and NotIn; the one pod phase the simulation has. */
static int check_rules(cm_reader *r, const cm_value *sv, const char *full) {
    const yt_node *ex = sv[S_EXPRESSIONS].node, *phases = sv[S_PHASES].node;
    for (size_t i = 0; ex && ex->type == YT_SEQ && i < ex->n; i++) {
        const yt_node *e = ex->items[i];
        char vp[320];
        yt_pathf(vp, sizeof vp, "%s.expressionSelectors[%zu].values", full, i);
        const char *op = yt_get(e, "operator")->value;
        if ((!strcmp(op, "In") || !strcmp(op, "NotIn")) &&
            yt_check_type(&r->c, e, yt_get(e, "values"), vp, YK_SEQ, 1) < 0)
            return -1;
    }
    char pp[288];
    yt_pathf(pp, sizeof pp, "%s.podPhaseSelectors", full);
    for (size_t i = 0; phases && phases->type == YT_SEQ && i < phases->n; i++) {
        const char *phase = phases->items[i]->value;
        if (!strcmp(phase, "Running")) continue;
        if (!strcmp(phase, "Pending"))
            return yt_fail(&r->c, phases->items[i],
                           "%s: not supported by the simulator: \"Pending\" (pods are "
                           "Running when chaos is injected)",
                           pp);
        return yt_fail(&r->c, phases->items[i], "%s: Unsupported value: \"%s\"", pp, phase);
    }
    return 0;
}

static int expr_match(const yt_node *exprs, svc_peer s, const sim_manifest *m) {
    for (size_t i = 0; exprs && i < exprs->n; i++) {
        const yt_node *e = exprs->items[i];
        const char *key = yt_get(e, "key")->value, *op = yt_get(e, "operator")->value;
        const yt_node *vals = yt_get(e, "values");
        const char *have = manifest_label_of(m, s, key);
        int in = 0;
        for (size_t k = 0; vals && have && k < vals->n; k++)
            if (!strcmp(vals->items[k]->value, have)) in = 1;
        if (!strcmp(op, "In") && !in) return 0;
        if (!strcmp(op, "NotIn") && in) return 0;
        if (!strcmp(op, "Exists") && !have) return 0;
        if (!strcmp(op, "DoesNotExist") && have) return 0;
    }
    return 1;
}

/* A pod name of the manifest's cluster ("<workload>-<ordinal>" in its namespace)? */
static int pod_exists(const sim_manifest *m, const char *ns, const char *name) {
    if (strcmp(ns, m->spec.namespace_)) return 0;
    for (int sv = 0; sv < SVC_PEER_COUNT; sv++) {
        size_t wl = strlen(m->spec.svc[sv].workload);
        if (!strncmp(name, m->spec.svc[sv].workload, wl) && name[wl] == '-') {
            char *end;
            long ord = strtol(name + wl + 1, &end, 10);
            if (!*end && end != name + wl + 1 && ord >= 0 && ord < m->spec.svc[sv].replicas) return 1;
        }
    }
    return 0;
}

/* selector.pods: the named pods that exist; the others noted. */
static void select_pods(cm_reader *r, const cm_value *sv, const char *full, sim_pod_selector *sel, char *what,
                        size_t whatlen) {
    const yt_node *pods = sv[S_PODS].node;
    if (sv[S_LABELS].node || sv[S_EXPRESSIONS].node || sv[S_NAMESPACES].node)
        cm_add_note(r, 1, "%s: `pods` is given, so Chaos Mesh ignores the other selectors (namespaces, labels)", full);
    size_t k = 0;
    what[0] = '\0';
    for (size_t i = 0; i < pods->n; i++) {
        const yt_node *list = pods->items[i];
        const char *ns = pods->keys[i]->value;
        char lp[320];
        yt_pathf(lp, sizeof lp, "%s.pods.%s", full, ns);
        for (size_t j = 0; j < list->n; j++) {
            const char *name = list->items[j]->value;
            if (!pod_exists(r->env->m, ns, name)) {
                cm_add_note(r, 1, "%s: pod %s/%s does not exist in the manifest's cluster: not selected", lp, ns, name);
                continue;
            }
            if (sel->npod_names >= ACTION_MAX_PODS) continue;
            snprintf(sel->pod_names[sel->npod_names++], sizeof sel->pod_names[0], "%s", name);
            if (k < whatlen) k += (size_t)snprintf(what + k, whatlen - k, "%s%s", k ? ", " : "", name);
        }
    }
    if (!sel->npod_names) {
        /* keep the selector from falling back to services: an impossible name selects nothing */
        snprintf(sel->pod_names[0], sizeof sel->pod_names[0], "%s", "(none)");
        sel->npod_names = 1;
        snprintf(what, whatlen, "no pod");
    }
}

/* Does the selector take the namespace where the pods run (its namespaces, else the object's own)? */
static int namespace_selected(const cm_reader *r, const cm_value *sv) {
    const sim_manifest *m = r->env->m;
    const yt_node *nss = sv[S_NAMESPACES].node;
    if (!nss || !nss->n) return !strcmp(r->ns, m->spec.namespace_);
    for (size_t i = 0; i < nss->n; i++)
        if (!strcmp(nss->items[i]->value, m->spec.namespace_)) return 1;
    return 0;
}

/* namespaces, labelSelectors, expressionSelectors: the services whose pods match. */
static void select_services(cm_reader *r, const cm_value *sv, int ns_ok, const char *full, sim_pod_selector *sel,
                            char *what, size_t whatlen) {
    const sim_manifest *m = r->env->m;
    const yt_node *ls = sv[S_LABELS].node;
    for (int s = 0; s < SVC_PEER_COUNT && ns_ok; s++) {
        int match = 1;
        for (size_t i = 0; ls && i < ls->n; i++) {
            const char *have = manifest_label_of(m, (svc_peer)s, ls->keys[i]->value);
            if (!have || strcmp(have, ls->items[i]->value)) match = 0;
        }
        if (match && expr_match(sv[S_EXPRESSIONS].node, (svc_peer)s, m)) sel->services |= 1u << s;
    }
    char sw[96];
    snprintf(what, whatlen, "%s pods", cm_svc_word(sel->services, sw, sizeof sw));
    if (!ns_ok)
        cm_add_note(r, 1,
                    "%s: no namespace of the selector is %s, where the pods run: it selects no pod and Chaos "
                    "Mesh reports \"no pod is selected\"",
                    full, m->spec.namespace_);
    else if (!sel->services)
        cm_add_note(r, 1, "%s selects no pod: Chaos Mesh reports \"no pod is selected\" and injects nothing", full);
}

static void describe(const sim_pod_selector *sel, const char *what, char *desc, size_t desclen) {
    switch (sel->mode) {
    case SEL_ALL: snprintf(desc, desclen, "all %s", what); break;
    case SEL_ONE: snprintf(desc, desclen, "one of the %s", what); break;
    case SEL_FIXED: snprintf(desc, desclen, "%d of the %s", sel->value, what); break;
    case SEL_FIXED_PERCENT: snprintf(desc, desclen, "%d %% of the %s", sel->value, what); break;
    case SEL_RANDOM_MAX_PERCENT:
        snprintf(desc, desclen, "a random share (up to %d %%) of the %s", sel->value, what);
        break;
    }
}

int cm_resolve_selection(cm_reader *r, const yt_node *holder, const char *path, sim_pod_selector *sel, char *desc,
                         size_t desclen) {
    memset(sel, 0, sizeof *sel);
    cm_value hv[3], sv[5];
    cm_read(holder, &selection_schema, hv);
    if (resolve_mode(r, holder, hv, path, sel) < 0) return -1;
    char full[256];
    yt_pathf(full, sizeof full, "%s%sselector", path, *path ? "." : "");
    cm_read(hv[H_SELECTOR].node, &cm_selector_schema, sv);
    if (check_rules(r, sv, full) < 0) return -1;
    char what[160];
    const yt_node *pods = sv[S_PODS].node;
    int ns_ok = namespace_selected(r, sv);
    if (pods && pods->n) {
        select_pods(r, sv, full, sel, what, sizeof what);
        if (!strcmp(sel->pod_names[0], "(none)") && ns_ok)
            cm_add_note(r, 1, "%s selects no pod: Chaos Mesh reports \"no pod is selected\" and injects nothing", full);
    } else {
        select_services(r, sv, ns_ok, full, sel, what, sizeof what);
    }
    describe(sel, what, desc, desclen);
    return 0;
}

/* containerNames on selected pod names: keep those whose container is named. */
static void keep_pods(cm_reader *r, sim_pod_selector *sel, unsigned keep, const char *full) {
    const sim_manifest *m = r->env->m;
    int k = 0;
    for (int i = 0; i < sel->npod_names; i++) {
        int ok = 0;
        for (int s = 0; s < SVC_PEER_COUNT; s++)
            if ((keep & (1u << s)) &&
                !strncmp(sel->pod_names[i], m->spec.svc[s].workload, strlen(m->spec.svc[s].workload)))
                ok = 1;
        if (ok) memmove(sel->pod_names[k++], sel->pod_names[i], sizeof sel->pod_names[0]);
    }
    if (!k) {
        cm_add_note(r, 1,
                    "%s: no selected pod has a container of that name: Chaos Mesh selects no container and "
                    "injects nothing",
                    full);
        snprintf(sel->pod_names[0], sizeof sel->pod_names[0], "(none)");
        k = 1;
    }
    sel->npod_names = k;
}

int cm_resolve_containers(cm_reader *r, const yt_node *spec, const char *path, sim_pod_selector *sel, int required,
                          const char *action) {
    const sim_manifest *m = r->env->m;
    const yt_node *cn = yt_get(spec, "containerNames");
    char full[256];
    yt_pathf(full, sizeof full, "%s.containerNames", path);
    if (required && (!cn || !cn->n))
        return cm_wfail(r, cn ? cn : spec, "%s: Invalid value: null: the name of container is required on %s action",
                        full, action);
    if (!cn || !cn->n) return 0;
    unsigned keep = 0;
    for (size_t i = 0; i < cn->n; i++)
        for (int s = 0; s < SVC_PEER_COUNT; s++)
            if (!strcmp(cn->items[i]->value, m->svc[s].container)) keep |= 1u << s;
    if (sel->npod_names) {
        keep_pods(r, sel, keep, full);
        return 0;
    }
    unsigned dropped = sel->services & ~keep;
    if (dropped) {
        char sw[96];
        cm_add_note(r, 1, "%s: the %s pods have no container of that name: they are not affected", full,
                    cm_svc_word(dropped, sw, sizeof sw));
    }
    sel->services &= keep;
    return 0;
}
