/*
 * chaosmesh.c: Chaos Mesh documents into timed chaos actions (see chaosmesh.h).
 */
#include "sim/chaosmesh/chaosmesh.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "faults/netem.h"
#include "faults/prandom.h"
#include "sim/input/cron.h"
#include "sim/input/goparse.h"

#define CM_MAX_TEMPLATES 32

static const char *const chaos_kinds[] = {"NetworkChaos", "StressChaos", "PodChaos", NULL};
static const char *const chaos_fields[] = {"networkChaos", "stressChaos", "podChaos", NULL};
/* Chaos Mesh kinds the simulator has no model for (their CRDs exist). */
static const char *const other_kinds[] = {"IOChaos",
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
static const char *const other_fields[] = {
    "awsChaos", "azureChaos",  "blockChaos",           "dnsChaos",  "gcpChaos",    "httpChaos",           "ioChaos",
    "jvmChaos", "kernelChaos", "physicalmachineChaos", "timeChaos", "ciliumChaos", "rollingrestartChaos", NULL};
static const char *const modes[] = {"all", "one", "fixed", "fixed-percent", "random-max-percent", NULL};

typedef struct parser {
    yt_ctx c;
    char prefix[96];
    const cm_env *env;
    cm_object *o;
    const char *webhook; /* "vnetworkchaos.kb.io" ... */
    char ns[64];         /* the object's namespace */
} parser;

static int in_list(const char *const *list, const char *s) {
    for (; *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

/* A webhook rejection: the same words Chaos Mesh's admission webhook gives. */
static int wfail(parser *p, const yt_node *at, const char *fmt, ...) YT_PRINTF(3, 4);
static int wfail(parser *p, const yt_node *at, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return yt_fail(&p->c, at, "admission webhook \"%s\" denied the request: %s", p->webhook, msg);
}

static void note(parser *p, int warning, const char *fmt, ...) YT_PRINTF(3, 4);
static void note(parser *p, int warning, const char *fmt, ...) {
    cm_object *o = p->o;
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

static void timeline(parser *p, const char *fmt, ...) YT_PRINTF(2, 3);
static void timeline(parser *p, const char *fmt, ...) {
    cm_object *o = p->o;
    if (o->ntimeline >= CM_MAX_TIMELINE) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->timeline[o->ntimeline++], sizeof o->timeline[0], fmt, ap);
    va_end(ap);
}

/* Reserves a line to fill later (a parent's line before its children's). */
static int timeline_reserve(parser *p) {
    cm_object *o = p->o;
    if (o->ntimeline >= CM_MAX_TIMELINE) return -1;
    o->timeline[o->ntimeline][0] = '\0';
    return o->ntimeline++;
}

static int get_str(parser *p, const yt_node *parent, const char *key, const char *path, int required,
                   const char **out) {
    const yt_node *n = yt_get(parent, key);
    char full[256];
    yt_pathf(full, sizeof full, "%s%s%s", path, *path ? "." : "", key);
    *out = NULL;
    if (yt_check_type(&p->c, parent, n, full, YK_STRING, required) < 0) return -1;
    if (n && yt_kind_of(n) == YK_STRING) *out = n->value;
    return 0;
}

static int get_int(parser *p, const yt_node *parent, const char *key, const char *path, int64_t lo, int64_t hi,
                   int64_t *out, int *present) {
    const yt_node *n = yt_get(parent, key);
    char full[256];
    yt_pathf(full, sizeof full, "%s%s%s", path, *path ? "." : "", key);
    if (present) *present = 0;
    if (!n || yt_kind_of(n) == YK_NULL) return 0;
    if (yt_check_type(&p->c, parent, n, full, YK_INT, 0) < 0) return -1;
    int64_t v;
    if (yt_int(n, &v) < 0) return yt_fail(&p->c, n, "%s: Invalid value: %s: out of range", full, n->value);
    if (v < lo)
        return yt_fail(&p->c, n, "%s: Invalid value: %lld: %s in body should be greater than or equal to %lld", full,
                       (long long)v, full, (long long)lo);
    if (v > hi)
        return yt_fail(&p->c, n, "%s: Invalid value: %lld: %s in body should be less than or equal to %lld", full,
                       (long long)v, full, (long long)hi);
    *out = v;
    if (present) *present = 1;
    return 0;
}

static int get_duration(parser *p, const yt_node *parent, const char *key, const char *path, int64_t *ns,
                        const char *what) {
    const char *s;
    char full[256], e[200];
    yt_pathf(full, sizeof full, "%s%s%s", path, *path ? "." : "", key);
    *ns = -1;
    if (get_str(p, parent, key, path, 0, &s) < 0) return -1;
    if (!s || !*s) return 0;
    if (go_parse_duration(s, ns, e, sizeof e) < 0)
        return wfail(p, yt_get(parent, key), "%s: Invalid value: \"%s\": parse %s field error: %s", full, s, what, e);
    if (*ns < 0) return wfail(p, yt_get(parent, key), "%s: Invalid value: \"%s\": must not be negative", full, s);
    return 0;
}

static int check_map(parser *p, const yt_node *parent, const yt_node *n, const char *path, int required) {
    return yt_check_type(&p->c, parent, n, path, YK_MAP, required);
}

static cm_action *add_action(parser *p, const yt_node *at) {
    cm_object *o = p->o;
    if (o->nacts >= CM_MAX_ACTIONS) {
        yt_fail(&p->c, at, "more than %d chaos injections from one object", CM_MAX_ACTIONS);
        return NULL;
    }
    if (!o->acts) {
        o->acts = calloc(CM_MAX_ACTIONS, sizeof *o->acts);
        if (!o->acts) abort();
    }
    return &o->acts[o->nacts++];
}

/* ---- netem effective rates ---- */

double cm_netem_effective_pct(double pct, double corr_pct) {
    if (pct <= 0) return 0;
    if (corr_pct <= 0 || pct >= 100) return pct;
    prandom_state prng;
    prandom_seed_state(&prng, 0x5eedULL);
    netem_crnd st = {netem_percent_to_u32(corr_pct), 0};
    st.last = prandom_u32_state(&prng);
    uint32_t threshold = netem_percent_to_u32(pct);
    const int n = 4000000;
    int hits = 0;
    for (int i = 0; i < n; i++) hits += threshold >= netem_get_crandom(&st, &prng);
    return 100.0 * hits / n;
}

/* ---- selectors ---- */

static const char *svc_word(unsigned services, char *buf, size_t len) {
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

static int parse_mode(parser *p, const yt_node *holder, const char *path, sim_pod_selector *sel) {
    const yt_node *mn = yt_get(holder, "mode");
    char full[256];
    yt_pathf(full, sizeof full, "%s%smode", path, *path ? "." : "");
    if (yt_check_type(&p->c, holder, mn, full, YK_STRING, 1) < 0) return -1;
    int mode;
    if (yt_check_enum(&p->c, mn, full, modes, &mode) < 0) return -1;
    sel->mode = (sim_select_mode)mode;
    const char *value;
    if (get_str(p, holder, "value", path, 0, &value) < 0) return -1;
    yt_pathf(full, sizeof full, "%s%svalue", path, *path ? "." : "");
    if (sel->mode == SEL_FIXED || sel->mode == SEL_FIXED_PERCENT || sel->mode == SEL_RANDOM_MAX_PERCENT) {
        int64_t v;
        char e[200];
        const yt_node *vn = yt_get(holder, "value");
        if (go_atoi(value ? value : "", &v, e, sizeof e) < 0)
            return wfail(p, vn ? vn : holder, "%s: Invalid value: \"%s\": parse value field error:%s", full,
                         value ? value : "", e);
        if (sel->mode == SEL_FIXED && v <= 0)
            return wfail(p, vn, "%s: Invalid value: \"%s\": value must be greater than 0 with mode:fixed", full, value);
        if (sel->mode != SEL_FIXED && (v <= 0 || v > 100))
            return wfail(p, vn, "%s: Invalid value: \"%s\": value of %lld is invalid, Must be (0,100] with mode:%s",
                         full, value, (long long)v, modes[sel->mode]);
        sel->value = (int)v;
    } else if (sel->mode == SEL_ONE) {
        note(p, 0,
             "mode one: Chaos Mesh picks the pod with crypto/rand at injection; the simulator draws it from "
             "the seed, so another seed may pick another pod");
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

/* `holder` has mode, value and selector (a chaos spec, or a NetworkChaos target). */
/* spec.action: a required string, one of `actions` (its index in *act). Returns its node (for later
 * messages about it), or NULL after reporting the error. */
static const yt_node *parse_action(parser *p, const yt_node *spec, const char *path, const char *const *actions,
                                   int *act) {
    char full[256];
    yt_pathf(full, sizeof full, "%s.action", path);
    const yt_node *an = yt_get(spec, "action");
    if (yt_check_type(&p->c, spec, an, full, YK_STRING, 1) < 0 || yt_check_enum(&p->c, an, full, actions, act) < 0)
        return NULL;
    return an;
}

static int parse_selector(parser *p, const yt_node *holder, const char *path, sim_pod_selector *sel, char *desc,
                          size_t desclen) {
    const sim_manifest *m = p->env->m;
    memset(sel, 0, sizeof *sel);
    if (parse_mode(p, holder, path, sel) < 0) return -1;
    char full[256];
    yt_pathf(full, sizeof full, "%s%sselector", path, *path ? "." : "");
    const yt_node *s = yt_get(holder, "selector");
    if (check_map(p, holder, s, full, 1) < 0) return -1;
    static const char *const ok[] = {"namespaces", "labelSelectors",    "expressionSelectors",
                                     "pods",       "podPhaseSelectors", NULL};
    static const char *const unsupported[] = {"annotationSelectors|select pods by labels or names",
                                              "fieldSelectors|select pods by labels or names", "nodeSelectors|one node",
                                              "nodes|one node", NULL};
    if (yt_check_fields(&p->c, s, full, ok, unsupported) < 0) return -1;
    char sub[288];
    /* namespaces: default the object's own */
    const yt_node *nss = yt_get(s, "namespaces");
    yt_pathf(sub, sizeof sub, "%s.namespaces", full);
    if (yt_check_type(&p->c, s, nss, sub, YK_SEQ, 0) < 0) return -1;
    int ns_ok = 0;
    if (nss && nss->n) {
        for (size_t i = 0; i < nss->n; i++) {
            yt_pathf(sub, sizeof sub, "%s.namespaces[%zu]", full, i);
            if (yt_check_type(&p->c, nss, nss->items[i], sub, YK_STRING, 1) < 0) return -1;
            if (!strcmp(nss->items[i]->value, m->spec.namespace_)) ns_ok = 1;
        }
    } else {
        ns_ok = !strcmp(p->ns, m->spec.namespace_);
    }
    const yt_node *ls = yt_get(s, "labelSelectors");
    yt_pathf(sub, sizeof sub, "%s.labelSelectors", full);
    if (check_map(p, s, ls, sub, 0) < 0) return -1;
    for (size_t i = 0; ls && i < ls->n; i++) {
        yt_pathf(sub, sizeof sub, "%s.labelSelectors.%s", full, ls->keys[i]->value);
        if (yt_check_type(&p->c, ls, ls->items[i], sub, YK_STRING, 1) < 0) return -1;
    }
    const yt_node *ex = yt_get(s, "expressionSelectors");
    yt_pathf(sub, sizeof sub, "%s.expressionSelectors", full);
    if (yt_check_type(&p->c, s, ex, sub, YK_SEQ, 0) < 0) return -1;
    for (size_t i = 0; ex && i < ex->n; i++) {
        const yt_node *e = ex->items[i];
        yt_pathf(sub, sizeof sub, "%s.expressionSelectors[%zu]", full, i);
        static const char *const eok[] = {"key", "operator", "values", NULL};
        static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist", NULL};
        const char *key, *op;
        int opi;
        if (check_map(p, ex, e, sub, 1) < 0 || yt_check_fields(&p->c, e, sub, eok, NULL) < 0 ||
            get_str(p, e, "key", sub, 1, &key) < 0 || get_str(p, e, "operator", sub, 1, &op) < 0)
            return -1;
        char opp[320];
        yt_pathf(opp, sizeof opp, "%s.operator", sub);
        if (yt_check_enum(&p->c, yt_get(e, "operator"), opp, ops, &opi) < 0) return -1;
        const yt_node *vals = yt_get(e, "values");
        yt_pathf(opp, sizeof opp, "%s.values", sub);
        if (yt_check_type(&p->c, e, vals, opp, YK_SEQ, opi < 2) < 0) return -1;
        for (size_t k = 0; vals && k < vals->n; k++)
            if (yt_check_type(&p->c, vals, vals->items[k], opp, YK_STRING, 1) < 0) return -1;
    }
    const yt_node *phases = yt_get(s, "podPhaseSelectors");
    yt_pathf(sub, sizeof sub, "%s.podPhaseSelectors", full);
    if (yt_check_type(&p->c, s, phases, sub, YK_SEQ, 0) < 0) return -1;
    for (size_t i = 0; phases && i < phases->n; i++) {
        if (yt_check_type(&p->c, phases, phases->items[i], sub, YK_STRING, 1) < 0) return -1;
        if (strcmp(phases->items[i]->value, "Running")) {
            if (!strcmp(phases->items[i]->value, "Pending"))
                return yt_fail(&p->c, phases->items[i],
                               "%s: not supported by the simulator: \"Pending\" (pods are "
                               "Running when chaos is injected)",
                               sub);
            return yt_fail(&p->c, phases->items[i], "%s: Unsupported value: \"%s\"", sub, phases->items[i]->value);
        }
    }
    const yt_node *pods = yt_get(s, "pods");
    yt_pathf(sub, sizeof sub, "%s.pods", full);
    if (check_map(p, s, pods, sub, 0) < 0) return -1;
    char what[160];
    if (pods && pods->n) {
        if (ls || ex || nss)
            note(p, 1, "%s: `pods` is given, so Chaos Mesh ignores the other selectors (namespaces, labels)", full);
        size_t k = 0;
        what[0] = '\0';
        for (size_t i = 0; i < pods->n; i++) {
            const yt_node *list = pods->items[i];
            char lp[320];
            yt_pathf(lp, sizeof lp, "%s.%s", sub, pods->keys[i]->value);
            if (yt_check_type(&p->c, pods, list, lp, YK_SEQ, 1) < 0) return -1;
            int this_ns = !strcmp(pods->keys[i]->value, m->spec.namespace_);
            for (size_t j = 0; j < list->n; j++) {
                if (yt_check_type(&p->c, list, list->items[j], lp, YK_STRING, 1) < 0) return -1;
                const char *name = list->items[j]->value;
                int exists = 0;
                for (int sv = 0; sv < SVC_PEER_COUNT && this_ns; sv++) {
                    size_t wl = strlen(m->spec.svc[sv].workload);
                    if (!strncmp(name, m->spec.svc[sv].workload, wl) && name[wl] == '-') {
                        char *end;
                        long ord = strtol(name + wl + 1, &end, 10);
                        if (!*end && end != name + wl + 1 && ord >= 0 && ord < m->spec.svc[sv].replicas) exists = 1;
                    }
                }
                if (!exists) {
                    note(p, 1, "%s: pod %s/%s does not exist in the manifest's cluster: not selected", lp,
                         pods->keys[i]->value, name);
                    continue;
                }
                if (sel->npod_names >= ACTION_MAX_PODS) continue;
                snprintf(sel->pod_names[sel->npod_names++], sizeof sel->pod_names[0], "%s", name);
                if (k < sizeof what) k += (size_t)snprintf(what + k, sizeof what - k, "%s%s", k ? ", " : "", name);
            }
        }
        if (!sel->npod_names) {
            /* keep the selector from falling back to services: an impossible name selects nothing */
            snprintf(sel->pod_names[0], sizeof sel->pod_names[0], "%s", "(none)");
            sel->npod_names = 1;
            snprintf(what, sizeof what, "no pod");
        }
    } else {
        for (int sv = 0; sv < SVC_PEER_COUNT && ns_ok; sv++) {
            int match = 1;
            for (size_t i = 0; ls && i < ls->n; i++) {
                const char *have = manifest_label_of(m, (svc_peer)sv, ls->keys[i]->value);
                if (!have || strcmp(have, ls->items[i]->value)) match = 0;
            }
            if (match && expr_match(ex, (svc_peer)sv, m)) sel->services |= 1u << sv;
        }
        char sw[96];
        snprintf(what, sizeof what, "%s pods", svc_word(sel->services, sw, sizeof sw));
        if (!ns_ok)
            note(p, 1,
                 "%s: no namespace of the selector is %s, where the pods run: it selects no pod and Chaos "
                 "Mesh reports \"no pod is selected\"",
                 full, m->spec.namespace_);
    }
    int none = pods && pods->n ? !strcmp(sel->pod_names[0], "(none)") : !sel->services;
    if (none && ns_ok)
        note(p, 1, "%s selects no pod: Chaos Mesh reports \"no pod is selected\" and injects nothing", full);
    switch (sel->mode) {
    case SEL_ALL: snprintf(desc, desclen, "all %s", what); break;
    case SEL_ONE: snprintf(desc, desclen, "one of the %s", what); break;
    case SEL_FIXED: snprintf(desc, desclen, "%d of the %s", sel->value, what); break;
    case SEL_FIXED_PERCENT: snprintf(desc, desclen, "%d %% of the %s", sel->value, what); break;
    case SEL_RANDOM_MAX_PERCENT:
        snprintf(desc, desclen, "a random share (up to %d %%) of the %s", sel->value, what);
        break;
    }
    return 0;
}

/* containerNames: keep only the services whose container is named; note the others. */
static int parse_containers(parser *p, const yt_node *spec, const char *path, sim_pod_selector *sel, int required,
                            const char *action) {
    const sim_manifest *m = p->env->m;
    const yt_node *cn = yt_get(spec, "containerNames");
    char full[256];
    yt_pathf(full, sizeof full, "%s.containerNames", path);
    if (yt_check_type(&p->c, spec, cn, full, YK_SEQ, 0) < 0) return -1;
    if (required && (!cn || !cn->n))
        return wfail(p, cn ? cn : spec, "%s: Invalid value: null: the name of container is required on %s action", full,
                     action);
    if (!cn || !cn->n) return 0;
    unsigned keep = 0;
    for (size_t i = 0; i < cn->n; i++) {
        if (yt_check_type(&p->c, cn, cn->items[i], full, YK_STRING, 1) < 0) return -1;
        for (int s = 0; s < SVC_PEER_COUNT; s++)
            if (!strcmp(cn->items[i]->value, m->svc[s].container)) keep |= 1u << s;
    }
    if (sel->npod_names) {
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
            note(p, 1,
                 "%s: no selected pod has a container of that name: Chaos Mesh selects no container and "
                 "injects nothing",
                 full);
            snprintf(sel->pod_names[0], sizeof sel->pod_names[0], "(none)");
            k = 1;
        }
        sel->npod_names = k;
        return 0;
    }
    unsigned dropped = sel->services & ~keep;
    if (dropped) {
        char sw[96];
        note(p, 1, "%s: the %s pods have no container of that name: they are not affected", full,
             svc_word(dropped, sw, sizeof sw));
    }
    sel->services &= keep;
    return 0;
}

/* ---- NetworkChaos ---- */

static int parse_percent_field(parser *p, const yt_node *blk, const char *key, const char *path, int required,
                               double *out, const char **text) {
    const char *s;
    if (get_str(p, blk, key, path, required, &s) < 0) return -1;
    *out = 0;
    if (text) *text = s;
    if (!s || !*s) return 0;
    char full[256], e[200];
    yt_pathf(full, sizeof full, "%s.%s", path, key);
    if (go_parse_float(s, out, e, sizeof e) < 0)
        return wfail(p, yt_get(blk, key), "%s: Invalid value: \"%s\": parse %s field error:%s", full, s,
                     !strcmp(key, "correlation") ? "correlation" : key, e);
    if (*out < 0 || *out > 100)
        return yt_fail(&p->c, yt_get(blk, key),
                       "%s: \"%s\" is outside 0..100: chaos-daemon passes it to `tc netem`, which refuses it "
                       "(Illegal %s percentage) and the injection fails",
                       full, s, key);
    return 0;
}

static int duration_pattern_ok(const char *s) {
    /* ^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$ (the CRD's pattern for latency and jitter) */
    const char *q = s;
    if (*q < '0' || *q > '9') return 0;
    while (*q >= '0' && *q <= '9') q++;
    if (*q == '.') {
        q++;
        if (*q < '0' || *q > '9') return 0;
        while (*q >= '0' && *q <= '9') q++;
    }
    return !strcmp(q, "ns") || !strcmp(q, "us") || !strcmp(q, "ms") || !strcmp(q, "s") || !strcmp(q, "m") ||
           !strcmp(q, "h");
}

static int parse_delay(parser *p, const yt_node *blk, const char *path, netem_config *ne, char *says, size_t sayslen) {
    static const char *const ok[] = {"latency", "jitter", "correlation", "reorder", NULL};
    if (yt_check_fields(&p->c, blk, path, ok, NULL) < 0) return -1;
    const char *lat, *jit;
    if (get_str(p, blk, "latency", path, 1, &lat) < 0 || get_str(p, blk, "jitter", path, 0, &jit) < 0) return -1;
    const char *fields[2] = {lat, jit};
    int64_t ns[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        if (!fields[i]) continue;
        char full[256], e[200];
        yt_pathf(full, sizeof full, "%s.%s", path, i ? "jitter" : "latency");
        const yt_node *n = yt_get(blk, i ? "jitter" : "latency");
        if (!duration_pattern_ok(fields[i]))
            return yt_fail(&p->c, n,
                           "%s: Invalid value: \"%s\": %s in body should match "
                           "'^[0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h)$'",
                           full, fields[i], full);
        if (go_parse_duration(fields[i], &ns[i], e, sizeof e) < 0)
            return wfail(p, n, "%s: Invalid value: \"%s\": parse %s field error: %s", full, fields[i],
                         i ? "jitter" : "latency", e);
    }
    double corr;
    if (parse_percent_field(p, blk, "correlation", path, 0, &corr, NULL) < 0) return -1;
    /* chaos-daemon convertNetemToArgs: `if netem.Time > "0ms"` and `if netem.Jitter > "0ms"` are Go STRING
     * comparisons, so "0.5s" (< "0ms" byte-wise) is silently dropped */
    int lat_on = strcmp(lat, "0ms") > 0;
    int jit_on = lat_on && jit && strcmp(jit, "0ms") > 0;
    if (!lat_on && ns[0] > 0)
        note(p, 1,
             "%s.latency \"%s\" compares <= \"0ms\" as a Go string in chaos-daemon (tc_server.go "
             "convertNetemToArgs): NO delay is applied (write \"%lldms\")",
             path, lat, (long long)(ns[0] / MS));
    if (lat_on && jit && !jit_on && ns[1] > 0)
        note(p, 1,
             "%s.jitter \"%s\" compares <= \"0ms\" as a Go string in chaos-daemon: NO jitter is applied (write "
             "\"%lldms\")",
             path, jit, (long long)(ns[1] / MS));
    if (lat_on) {
        ne->latency_ns = ns[0];
        if (jit_on) {
            ne->jitter_ns = ns[1];
            ne->delay_corr_pct = corr;
        } else if (corr > 0) {
            note(p, 0, "%s.correlation is only passed to tc with a jitter: ignored", path);
        }
    }
    const yt_node *ro = yt_get(blk, "reorder");
    char rp[256];
    yt_pathf(rp, sizeof rp, "%s.reorder", path);
    if (check_map(p, blk, ro, rp, 0) < 0) return -1;
    if (ro) {
        static const char *const rok[] = {"reorder", "correlation", "gap", NULL};
        if (yt_check_fields(&p->c, ro, rp, rok, NULL) < 0) return -1;
        double r, rc;
        int64_t gap = 0;
        int has_gap;
        if (parse_percent_field(p, ro, "reorder", rp, 1, &r, NULL) < 0 ||
            parse_percent_field(p, ro, "correlation", rp, 0, &rc, NULL) < 0 ||
            get_int(p, ro, "gap", rp, 0, 1000000, &gap, &has_gap) < 0)
            return -1;
        if (!has_gap) return yt_fail(&p->c, ro, "%s.gap: Required value", rp);
        if (lat_on) {
            ne->reorder_pct = r;
            ne->reorder_corr_pct = rc;
            ne->reorder_gap = (uint32_t)gap;
        }
    }
    size_t k = strlen(says);
    snprintf(says + k, sayslen - k, "%sdelay %s%s%s", k ? " + " : "", lat, jit ? " ± " : "", jit ? jit : "");
    return 0;
}

static int parse_rate_block(parser *p, const yt_node *spec, const char *path, const char *key, double *pct,
                            double *corr, char *says, size_t sayslen) {
    const yt_node *blk = yt_get(spec, key);
    char full[256];
    yt_pathf(full, sizeof full, "%s.%s", path, key);
    if (check_map(p, spec, blk, full, 0) < 0) return -1;
    if (!blk) return 0;
    static const char *const ok_loss[] = {"loss", "correlation", NULL};
    static const char *const ok_dup[] = {"duplicate", "correlation", NULL};
    static const char *const ok_cor[] = {"corrupt", "correlation", NULL};
    const char *const *ok = !strcmp(key, "loss") ? ok_loss : !strcmp(key, "duplicate") ? ok_dup : ok_cor;
    if (yt_check_fields(&p->c, blk, full, ok, NULL) < 0) return -1;
    const char *text;
    if (parse_percent_field(p, blk, key, full, 1, pct, &text) < 0 ||
        parse_percent_field(p, blk, "correlation", full, 0, corr, NULL) < 0)
        return -1;
    size_t k = strlen(says);
    k += (size_t)snprintf(says + k, sayslen - k, "%s%s %g %%", k ? " + " : "", key, *pct);
    if (*corr > 0) snprintf(says + k, sayslen - k, " (correlation %g %%)", *corr);
    if (*corr > 0 && *pct > 0) {
        double eff = cm_netem_effective_pct(*pct, *corr);
        if (eff - *pct > 1 || *pct - eff > 1)
            note(p, 1,
                 "%s: %g %% with correlation %g %% is NOT %g %%: netem averages each uniform draw with the "
                 "previous one (sch_netem.c get_crandom), so %.1f %% of packets are %s",
                 full, *pct, *corr, *pct, eff,
                 !strcmp(key, "loss")        ? "dropped"
                 : !strcmp(key, "duplicate") ? "duplicated"
                                             : "corrupted");
        else
            note(p, 0, "%s: correlation %g %% keeps the long-run rate at %.1f %% but makes it bursty", full, *corr,
                 eff);
    }
    return 0;
}

static int resolve_target(parser *p, const yt_node *n, const char *path, cm_action *ca) {
    const sim_manifest *m = p->env->m;
    sim_chaos_action *a = &ca->a;
    const char *t = n->value;
    if (a->nexternal >= ACTION_MAX_EXTERNAL)
        return yt_fail(&p->c, n, "%s: more than %d externalTargets", path, ACTION_MAX_EXTERNAL);
    nf_cidr *c = &a->external[a->nexternal];
    char buf[160];
    snprintf(buf, sizeof buf, "%s", t);
    char *slash = strchr(buf, '/');
    int prefix = 32;
    if (slash) {
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || v < 0 || v > 32)
            return yt_fail(&p->c, n, "%s: Invalid value: \"%s\": invalid CIDR address", path, t);
        prefix = (int)v;
    }
    sim_addr addr;
    if (strchr(buf, ':')) return yt_fail(&p->c, n, "%s: \"%s\": not supported by the simulator (IPv4 only)", path, t);
    if (sim_addr_parse(buf, &addr) == 0) {
        c->addr = addr;
        c->prefix = prefix;
    } else if (slash) {
        return yt_fail(&p->c, n, "%s: Invalid value: \"%s\": invalid CIDR address", path, t);
    } else {
        /* a host name: chaos-controller-manager resolves it (netutils.ResolveCidrs) from its own namespace */
        size_t len = strlen(buf);
        if (len && buf[len - 1] == '.') buf[--len] = '\0';
        int found = -1;
        for (int s = 0; s < SVC_PEER_COUNT && found < 0; s++) {
            char fq[3][200];
            snprintf(fq[0], sizeof fq[0], "%s.%s.svc.cluster.local", m->spec.svc[s].name, m->spec.namespace_);
            snprintf(fq[1], sizeof fq[1], "%s.%s.svc", m->spec.svc[s].name, m->spec.namespace_);
            snprintf(fq[2], sizeof fq[2], "%s.%s", m->spec.svc[s].name, m->spec.namespace_);
            for (int k = 0; k < 3; k++)
                if (!strcmp(buf, fq[k])) found = s;
        }
        if (found < 0) {
            for (int s = 0; s < SVC_PEER_COUNT; s++) {
                if (!strcmp(buf, m->spec.svc[s].name))
                    return yt_fail(&p->c, n,
                                   "%s: cannot resolve \"%s\": chaos-controller-manager resolves externalTargets in "
                                   "its own namespace (chaos-mesh), where the short Service name does not resolve; "
                                   "write %s.%s.svc.cluster.local or the ClusterIP",
                                   path, t, m->spec.svc[s].name, m->spec.namespace_);
                if (m->svc[s].headless[0] && !strncmp(buf, m->svc[s].headless, strlen(m->svc[s].headless)))
                    return yt_fail(&p->c, n,
                                   "%s: \"%s\": not supported by the simulator: a headless name resolves to pod IPs "
                                   "at injection; list the pods with `target` instead",
                                   path, t);
            }
            return yt_fail(&p->c, n,
                           "%s: cannot resolve host \"%s\": the simulated cluster only has the Services "
                           "%s, %s and %s (e.g. %s.%s.svc.cluster.local) and IP addresses",
                           path, t, m->spec.svc[0].name, m->spec.svc[1].name, m->spec.svc[2].name, m->spec.svc[1].name,
                           m->spec.namespace_);
        }
        c->addr = m->spec.svc[found].cluster_ip;
        c->prefix = 32;
    }
    int any = 0;
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        sim_addr vip = m->spec.svc[s].cluster_ip;
        uint32_t mask = c->prefix >= 32 ? 0xffffffffu : c->prefix <= 0 ? 0 : ~((1u << (32 - c->prefix)) - 1);
        if ((vip & mask) == (c->addr & mask)) {
            ca->external_vips |= 1u << s;
            any = 1;
        }
    }
    if (!any) ca->external_other = 1;
    a->nexternal++;
    return 0;
}

static int parse_network(parser *p, const yt_node *spec, const char *path, cm_action *ca) {
    static const char *const ok[] = {"action",          "mode",     "value",        "selector", "direction", "target",
                                     "externalTargets", "duration", "loss",         "delay",    "duplicate", "corrupt",
                                     "bandwidth",       "device",   "targetDevice", NULL};
    static const char *const unsupported[] = {"rate|netem's rate is not modelled (use action bandwidth)",
                                              "remoteCluster|one cluster", NULL};
    if (yt_check_fields(&p->c, spec, path, ok, unsupported) < 0) return -1;
    sim_chaos_action *a = &ca->a;
    static const char *const actions[] = {"netem",   "delay",     "loss",      "duplicate",
                                          "corrupt", "partition", "bandwidth", NULL};
    char full[256];
    int act;
    const yt_node *an = parse_action(p, spec, path, actions, &act);
    if (!an) return -1;
    char src[200], dst[240] = "";
    if (parse_selector(p, spec, path, &a->selector, src, sizeof src) < 0) return -1;
    static const char *const dirs[] = {"to", "from", "both", NULL};
    const yt_node *dn = yt_get(spec, "direction");
    yt_pathf(full, sizeof full, "%s.direction", path);
    int dir = 0;
    if (yt_check_type(&p->c, spec, dn, full, YK_STRING, 0) < 0) return -1;
    if (dn && yt_kind_of(dn) == YK_STRING && dn->value[0] && yt_check_enum(&p->c, dn, full, dirs, &dir) < 0) return -1;
    a->dir = (sim_direction)dir;
    for (int d = 0; d < 2; d++) {
        const char *dev;
        if (get_str(p, spec, d ? "targetDevice" : "device", path, 0, &dev) < 0) return -1;
        if (dev && *dev && strcmp(dev, "eth0"))
            return yt_fail(&p->c, yt_get(spec, d ? "targetDevice" : "device"),
                           "%s.%s: \"%s\": not supported by the simulator (pods have one interface, eth0)", path,
                           d ? "targetDevice" : "device", dev);
    }
    const yt_node *tn = yt_get(spec, "target");
    yt_pathf(full, sizeof full, "%s.target", path);
    if (check_map(p, spec, tn, full, 0) < 0) return -1;
    if (tn) {
        static const char *const tok[] = {"mode", "value", "selector", NULL};
        if (yt_check_fields(&p->c, tn, full, tok, NULL) < 0) return -1;
        if (parse_selector(p, tn, full, &a->target, dst, sizeof dst) < 0) return -1;
        a->has_target = 1;
        ca->target_pods = 1;
    }
    const yt_node *et = yt_get(spec, "externalTargets");
    yt_pathf(full, sizeof full, "%s.externalTargets", path);
    if (yt_check_type(&p->c, spec, et, full, YK_SEQ, 0) < 0) return -1;
    for (size_t i = 0; et && i < et->n; i++) {
        char ep[280];
        yt_pathf(ep, sizeof ep, "%s[%zu]", full, i);
        if (yt_check_type(&p->c, et, et->items[i], ep, YK_STRING, 1) < 0 || resolve_target(p, et->items[i], ep, ca) < 0)
            return -1;
        size_t k = strlen(dst);
        snprintf(dst + k, sizeof dst - k, "%s%s", k ? " + " : "", et->items[i]->value);
    }
    int has_ext = et && et->n;
    if (act != 5) { /* not partition */
        if (a->dir != DIR_TO && has_ext)
            return wfail(p, dn,
                         "%s.direction: Invalid value: \"%s\": external targets cannot be used with `from` and "
                         "`both` direction in netem action yet",
                         path, dirs[a->dir]);
        if (a->dir != DIR_TO && !tn)
            return wfail(p, dn,
                         "%s.direction: Invalid value: \"%s\": `from` and `both` direction cannot be used when "
                         "targets is empty in netem action",
                         path, dirs[a->dir]);
    } else if (a->dir != DIR_TO && !tn && !has_ext) {
        return wfail(p, dn,
                     "%s.direction: Invalid value: \"%s\": `from` and `both` direction cannot be used when "
                     "targets and external targets are both empty",
                     path, dirs[a->dir]);
    }
    ca->unfiltered = !tn && !has_ext;
    /* the tc blocks */
    char what[200] = "";
    netem_config *ne = &a->netem;
    int present[4] = {0, 0, 0, 0};
    static const char *const blocks[] = {"delay", "loss", "duplicate", "corrupt"};
    for (int b = 0; b < 4; b++) present[b] = yt_get(spec, blocks[b]) != NULL;
    const yt_node *dl = yt_get(spec, "delay");
    yt_pathf(full, sizeof full, "%s.delay", path);
    if (check_map(p, spec, dl, full, 0) < 0) return -1;
    if (act == 5 || act == 6) {
        for (int b = 0; b < 4; b++)
            if (present[b]) note(p, 1, "%s: action %s ignores the `%s` block", path, actions[act], blocks[b]);
    } else {
        if (dl && parse_delay(p, dl, full, ne, what, sizeof what) < 0) return -1;
        if (parse_rate_block(p, spec, path, "loss", &ne->loss_pct, &ne->loss_corr_pct, what, sizeof what) < 0 ||
            parse_rate_block(p, spec, path, "duplicate", &ne->duplicate_pct, &ne->duplicate_corr_pct, what,
                             sizeof what) < 0 ||
            parse_rate_block(p, spec, path, "corrupt", &ne->corrupt_pct, &ne->corrupt_corr_pct, what, sizeof what) < 0)
            return -1;
        if (act >= 1 && act <= 4 && !present[act - 1])
            return yt_fail(&p->c, an,
                           "%s.%s: action `%s` needs a `%s` block (podnetworkchaos controller: \"invalid "
                           "spec for netem action, at least one is required from delay, loss, duplicate, "
                           "corrupt\")",
                           path, actions[act], actions[act], actions[act]);
        if (act == 0 && !present[0] && !present[1] && !present[2] && !present[3])
            return yt_fail(&p->c, an, "%s: action netem needs at least one of delay, loss, duplicate, corrupt", path);
        int extra = 0;
        for (int b = 0; b < 4; b++) extra += present[b] && act != b + 1;
        if (act != 0 && extra)
            note(p, 1,
                 "%s: action is `%s` but other netem blocks are present: Chaos Mesh merges EVERY block into one "
                 "qdisc (mergeNetem), so they apply too: %s",
                 path, actions[act], what);
        netem_qdisc *q = malloc(sizeof *q);
        if (!q) abort();
        int rc = netem_init(q, ne, 1);
        free(q);
        if (rc != NETEM_OK) return yt_fail(&p->c, an, "%s: tc refuses this netem: %s", path, netem_strerror(rc));
    }
    a->kind = ACT_NETWORK;
    a->net_kind = act == 5 ? NF_PARTITION : act == 6 ? NF_BANDWIDTH : NF_NETEM;
    if (act == 6) {
        const yt_node *bw = yt_get(spec, "bandwidth");
        yt_pathf(full, sizeof full, "%s.bandwidth", path);
        if (check_map(p, spec, bw, full, 1) < 0) return -1;
        static const char *const bok[] = {"rate", "limit", "buffer", "peakrate", "minburst", NULL};
        if (yt_check_fields(&p->c, bw, full, bok, NULL) < 0) return -1;
        const char *rate;
        int64_t limit = 0, buffer = 0, peak = 0, minburst = 0;
        int has_limit, has_buffer;
        if (get_str(p, bw, "rate", full, 1, &rate) < 0 ||
            get_int(p, bw, "limit", full, 1, UINT32_MAX, &limit, &has_limit) < 0 ||
            get_int(p, bw, "buffer", full, 1, UINT32_MAX, &buffer, &has_buffer) < 0 ||
            get_int(p, bw, "peakrate", full, 0, INT64_MAX, &peak, NULL) < 0 ||
            get_int(p, bw, "minburst", full, 0, UINT32_MAX, &minburst, NULL) < 0)
            return -1;
        if (!has_limit) return yt_fail(&p->c, bw, "%s.limit: Required value", full);
        if (!has_buffer) return yt_fail(&p->c, bw, "%s.buffer: Required value", full);
        char e[200];
        if (tbf_config_from_chaos_mesh(rate, (uint32_t)limit, (uint32_t)buffer, (uint64_t)peak, (uint32_t)minburst,
                                       &a->tbf, e, sizeof e) != TBF_OK)
            return yt_fail(&p->c, yt_get(bw, "rate"), "%s.rate: %s", full, e);
        uint64_t documented = 0;
        tbf_parse_rate(rate, &documented, NULL, 0);
        snprintf(what, sizeof what, "bandwidth %s", rate);
        note(p, 1,
             "%s.rate \"%s\" reads as %llu bytes/s, but chaos-daemon prints the number bare to `tc ... tbf "
             "rate`, which reads bits/s: the kernel shapes to %llu bytes/s (chaos-mesh #4118)",
             full, rate, (unsigned long long)documented, (unsigned long long)a->tbf.rate_bytes_per_s);
    }
    if (act == 5) snprintf(what, sizeof what, "partition");
    const char *arrow = a->dir == DIR_TO ? "->" : a->dir == DIR_FROM ? "<-" : "<->";
    snprintf(ca->says, sizeof ca->says, "%s on %s %s %s (direction %s)", what, src, arrow,
             dst[0] ? dst : "every destination", dirs[a->dir]);
    return 0;
}

/* ---- StressChaos ---- */

static int parse_stress(parser *p, const yt_node *spec, const char *path, cm_action *ca) {
    static const char *const ok[] = {"mode", "value", "selector", "containerNames", "stressors", "duration", NULL};
    static const char *const unsupported[] = {
        "stressngStressors|raw stress-ng arguments are not modelled (use stressors.cpu / stressors.memory)",
        "remoteCluster|one cluster", NULL};
    if (yt_check_fields(&p->c, spec, path, ok, unsupported) < 0) return -1;
    sim_chaos_action *a = &ca->a;
    char who[200];
    if (parse_selector(p, spec, path, &a->selector, who, sizeof who) < 0 ||
        parse_containers(p, spec, path, &a->selector, 0, "stress") < 0)
        return -1;
    const yt_node *st = yt_get(spec, "stressors");
    char full[256];
    yt_pathf(full, sizeof full, "%s.stressors", path);
    if (!st) return wfail(p, spec, "%s: Invalid value: null: missing stressors", path);
    if (check_map(p, spec, st, full, 1) < 0) return -1;
    static const char *const sok[] = {"cpu", "memory", NULL};
    if (yt_check_fields(&p->c, st, full, sok, NULL) < 0) return -1;
    const yt_node *cpu = yt_get(st, "cpu"), *mem = yt_get(st, "memory");
    if (!cpu && !mem) return wfail(p, st, "%s: Invalid value: {}: missing stressors", full);
    char what[240] = "";
    a->kind = ACT_STRESS;
    if (cpu) {
        char cp[280];
        yt_pathf(cp, sizeof cp, "%s.cpu", full);
        static const char *const cok[] = {"workers", "load", "options", NULL};
        if (check_map(p, st, cpu, cp, 1) < 0 || yt_check_fields(&p->c, cpu, cp, cok, NULL) < 0) return -1;
        int64_t workers = 0, load = 100;
        int has_workers, has_load;
        if (get_int(p, cpu, "workers", cp, INT64_MIN, 8192, &workers, &has_workers) < 0 ||
            get_int(p, cpu, "load", cp, 0, 100, &load, &has_load) < 0)
            return -1;
        if (!has_workers) return yt_fail(&p->c, cpu, "%s.workers: Required value", cp);
        const yt_node *opt = yt_get(cpu, "options");
        if (opt && opt->type == YT_SEQ && opt->n)
            return yt_fail(&p->c, opt, "%s.options: not supported by the simulator (extra stress-ng arguments)", cp);
        if (workers <= 0) {
            note(p, 1, "%s.workers %lld: Stressors.Normalize() skips the CPU stressor (nothing runs)", cp,
                 (long long)workers);
        } else if (workers > 64) {
            return yt_fail(&p->c, yt_get(cpu, "workers"), "%s.workers: not supported by the simulator above 64", cp);
        } else {
            a->cpu_workers = (int)workers;
            a->cpu_load = (int)load;
            if (!has_load) note(p, 0, "%s.load unset: stress-ng runs its default, 100 %%", cp);
            if (load == 0) note(p, 1, "%s.load 0: the workers only sleep", cp);
            snprintf(what, sizeof what, "CPU %lld workers x %lld %%", (long long)workers, (long long)load);
        }
    }
    if (mem) {
        char mp[280];
        yt_pathf(mp, sizeof mp, "%s.memory", full);
        static const char *const mok[] = {"workers", "size", "oomScoreAdj", "options", NULL};
        if (check_map(p, st, mem, mp, 1) < 0 || yt_check_fields(&p->c, mem, mp, mok, NULL) < 0) return -1;
        int64_t workers = 0, adj = 0;
        int has_workers, has_adj;
        const char *size;
        if (get_int(p, mem, "workers", mp, INT64_MIN, 8192, &workers, &has_workers) < 0 ||
            get_int(p, mem, "oomScoreAdj", mp, -1000, 1000, &adj, &has_adj) < 0 ||
            get_str(p, mem, "size", mp, 0, &size) < 0)
            return -1;
        if (!has_workers) return yt_fail(&p->c, mem, "%s.workers: Required value", mp);
        const yt_node *opt = yt_get(mem, "options");
        if (opt && opt->type == YT_SEQ && opt->n)
            return yt_fail(&p->c, opt, "%s.options: not supported by the simulator (extra memStress arguments)", mp);
        int64_t bytes = 0;
        char sp[300], e[200];
        yt_pathf(sp, sizeof sp, "%s.size", mp);
        const yt_node *sn = yt_get(mem, "size");
        if (size && *size) {
            size_t len = strlen(size);
            if (size[len - 1] == '%') {
                char num[32];
                snprintf(num, sizeof num, "%.*s", (int)(len - 1), size);
                int64_t pct;
                if (go_atoi(num, &pct, e, sizeof e) < 0)
                    return wfail(p, sn, "%s: Invalid value: \"%s\": incorrect bytes format: %s", sp, size, e);
                if (pct < 0 || pct > 100)
                    return wfail(p, sn, "%s: Invalid value: \"%s\": incorrect bytes format: illegal proportion", sp,
                                 size);
                bytes = p->env->m->spec.node_memory_bytes / 100 * pct;
                ca->mem_percent = 1;
                note(p, 1,
                     "%s \"%s\" is a share of the HOST's memory (gopsutil MemTotal, %.0f MiB on this node), not of "
                     "the pod's limit (chaos-mesh #4547): %.1f MiB",
                     sp, size, (double)p->env->m->spec.node_memory_bytes / MIB_F, (double)bytes / MIB_F);
            } else {
                if (go_units_size_ok(size, e, sizeof e) < 0)
                    return wfail(p, sn, "%s: Invalid value: \"%s\": incorrect bytes format: %s", sp, size, e);
                if (go_humanize_bytes(size, &bytes, e, sizeof e) < 0)
                    return yt_fail(&p->c, sn, "%s: \"%s\": memStress cannot parse it: %s", sp, size, e);
            }
        } else if (workers > 0) {
            return yt_fail(&p->c, mem,
                           "%s: not supported by the simulator without a size (memStress would fill the "
                           "host's available memory)",
                           sp);
        }
        if (workers <= 0) {
            note(p, 1, "%s.workers %lld: Stressors.Normalize() skips the memory stressor (nothing runs)", mp,
                 (long long)workers);
        } else if (workers > 16) {
            return yt_fail(&p->c, yt_get(mem, "workers"), "%s.workers: not supported by the simulator above 16", mp);
        } else {
            a->mem_workers = (int)workers;
            a->mem_bytes = bytes;
            if (has_adj && adj != 0) {
                ca->has_oom_adj = 1;
                ca->oom_score_adj = adj;
            }
            size_t k = strlen(what);
            snprintf(what + k, sizeof what - k, "%smemory %s (%.1f MiB) in %lld workers", k ? " + " : "", size,
                     (double)bytes / MIB_F, (long long)workers);
            if (workers > 1)
                note(p, 0,
                     "%s: `size` is the TOTAL across the %lld workers (memStress splits it, commit 37c1719): "
                     "%.1f MiB each, not %s each",
                     mp, (long long)workers, (double)bytes / workers / MIB_F, size);
        }
    }
    snprintf(ca->says, sizeof ca->says, "%s on %s", what[0] ? what : "nothing", who);
    if (!a->cpu_workers && !a->mem_workers) a->kind = ACT_STRESS;
    return 0;
}

/* ---- PodChaos ---- */

static int parse_pod(parser *p, const yt_node *spec, const char *path, cm_action *ca, int64_t duration) {
    static const char *const ok[] = {"action",         "mode",     "value",       "selector",
                                     "containerNames", "duration", "gracePeriod", NULL};
    static const char *const unsupported[] = {"remoteCluster|one cluster", NULL};
    if (yt_check_fields(&p->c, spec, path, ok, unsupported) < 0) return -1;
    sim_chaos_action *a = &ca->a;
    static const char *const actions[] = {"pod-kill", "pod-failure", "container-kill", NULL};
    int act;
    if (!parse_action(p, spec, path, actions, &act)) return -1;
    char who[200];
    if (parse_selector(p, spec, path, &a->selector, who, sizeof who) < 0 ||
        parse_containers(p, spec, path, &a->selector, act == 2, actions[act]) < 0)
        return -1;
    int64_t grace = 0;
    if (get_int(p, spec, "gracePeriod", path, 0, INT64_MAX, &grace, NULL) < 0) return -1;
    if (grace > 0)
        return yt_fail(&p->c, yt_get(spec, "gracePeriod"),
                       "%s.gracePeriod: %lld: not supported by the simulator: pods are deleted at once (gracePeriod "
                       "0, no preStop, no SIGTERM drain)",
                       path, (long long)grace);
    const cluster_spec *cs = &p->env->m->spec;
    int64_t restart = 1 * SEC;
    a->restart_delay_ns = restart;
    a->kind = act == 0 ? ACT_POD_KILL : act == 1 ? ACT_POD_FAILURE : ACT_CONTAINER_KILL;
    ca->one_shot = act != 1;
    int64_t ready = 0;
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        int64_t r = restart + cs->svc[s].start_delay_ns + cs->svc[s].readiness_delay_ns + cs->endpoint_delay_ns;
        if (r > ready) ready = r;
    }
    ca->ready_after_ns = ready;
    if (act == 1 && duration < 0)
        note(p, 1,
             "pod-failure without duration keeps the pause image until the object is deleted: the pods never "
             "come back in this simulation");
    if (act != 1 && duration >= 0)
        note(p, 1,
             "%s.duration: %s is one-shot: the duration undoes nothing (the object counts as finished once "
             "the pods are killed)",
             path, actions[act]);
    snprintf(ca->says, sizeof ca->says, "%s on %s", actions[act], who);
    return 0;
}

/* ---- one chaos spec ---- */

/* Parses a NetworkChaos/StressChaos/PodChaos spec into a template action (start 0); *duration -1 if none. */
static int parse_chaos_spec(parser *p, int kind, const yt_node *spec, const char *path, int duration_allowed,
                            cm_action *out, int64_t *duration) {
    static const char *const webhooks[] = {"vnetworkchaos.kb.io", "vstresschaos.kb.io", "vpodchaos.kb.io"};
    const char *saved = p->webhook;
    p->webhook = webhooks[kind];
    memset(out, 0, sizeof *out);
    chaos_action_init(&out->a, "", ACT_NETWORK);
    snprintf(out->a.kind_name, sizeof out->a.kind_name, "%s", chaos_kinds[kind]);
    int rc = 0;
    if (check_map(p, spec, spec, path, 1) < 0) rc = -1;
    if (!rc && get_duration(p, spec, "duration", path, duration, "duration") < 0) rc = -1;
    if (!rc && !duration_allowed && yt_get(spec, "duration"))
        rc = wfail(p, yt_get(spec, "duration"),
                   "%s: Invalid value: should not define duration in chaos when using Workflow, use Template#Deadline "
                   "instead.",
                   path);
    if (!rc) {
        if (kind == 0)
            rc = parse_network(p, spec, path, out);
        else if (kind == 1)
            rc = parse_stress(p, spec, path, out);
        else
            rc = parse_pod(p, spec, path, out, *duration);
    }
    p->webhook = saved;
    return rc;
}

/* A copy of the template at [start, end), named after the object (and step). */
static int instantiate(parser *p, const yt_node *at, const cm_action *tmpl, const char *step, int64_t start,
                       int64_t end) {
    cm_action *ca = add_action(p, at);
    if (!ca) return -1;
    *ca = *tmpl;
    snprintf(ca->step, sizeof ca->step, "%s", step);
    if (step[0])
        snprintf(ca->a.name, sizeof ca->a.name, "%.40s/%.50s", p->o->name, step);
    else
        snprintf(ca->a.name, sizeof ca->a.name, "%s", p->o->name);
    ca->a.start_ns = start;
    ca->a.end_ns = ca->one_shot ? -1 : end;
    return 0;
}

/* ---- Workflow ---- */

typedef struct wf_template {
    const yt_node *node;
    const char *name, *type;
    int64_t deadline_ns; /* -1: none */
    int chaos_kind;      /* 0..2, or -1 */
    cm_action tmpl;
    int parsed;
} wf_template;

typedef struct workflow {
    wf_template t[CM_MAX_TEMPLATES];
    int n;
    int depth;
} workflow;

static wf_template *wf_find(workflow *w, const char *name) {
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name)) return &w->t[i];
    return NULL;
}

static int dns1123_subdomain(const char *s) {
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

static void fmt_s(int64_t ns, char *out, size_t len) { snprintf(out, len, "%.1f s", (double)ns / SEC); }

/* Runs node `t` from `start` under the ancestors' deadline `limit` (-1: none); returns when it finishes
 * (-1: never). */
static int64_t wf_run(parser *p, workflow *w, wf_template *t, int64_t start, int64_t limit, const char *run_prefix,
                      int *rc) {
    if (*rc) return -1;
    if (++w->depth > CM_MAX_TEMPLATES) {
        *rc = yt_fail(&p->c, t->node, "spec.templates: template \"%s\" contains itself", t->name);
        return -1;
    }
    int64_t own = t->deadline_ns >= 0 ? start + t->deadline_ns : -1;
    int64_t lim = own >= 0 && (limit < 0 || own < limit) ? own : limit;
    char s0[32], s1[32];
    fmt_s(start, s0, sizeof s0);
    int64_t end = -1;
    if (t->chaos_kind >= 0) {
        char step[96];
        snprintf(step, sizeof step, "%s%s", run_prefix, t->name);
        end = lim;
        if (instantiate(p, t->node, &t->tmpl, step, start, end) < 0) {
            *rc = -1;
            return -1;
        }
        if (end < 0) {
            note(p, 1,
                 "Workflow node %s (%s) has no deadline and no ancestor deadline: a chaos node only ends on "
                 "DeadlineExceed, so it never ends and the workflow hangs (chaos-mesh #3846)",
                 t->name, t->type);
            timeline(p, "%s%-20s %-12s starts %s, never ends (no deadline on its path)", run_prefix, t->name, t->type,
                     s0);
        } else {
            fmt_s(end, s1, sizeof s1);
            timeline(p, "%s%-20s %-12s %s - %s (%s)", run_prefix, t->name, t->type, s0, s1,
                     own == end ? "its deadline" : "an ancestor's deadline");
            if (t->deadline_ns < 0)
                note(p, 1,
                     "Workflow node %s has no deadline of its own: it ends only when an ancestor's deadline "
                     "fires, so a later Serial sibling never starts",
                     t->name);
        }
    } else if (!strcmp(t->type, "Suspend")) {
        end = lim;
        fmt_s(end, s1, sizeof s1);
        timeline(p, "%s%-20s %-12s %s - %s (waits)", run_prefix, t->name, t->type, s0, s1);
    } else {
        int slot = timeline_reserve(p);
        const yt_node *children = yt_get(t->node, "children");
        int serial = !strcmp(t->type, "Serial");
        int64_t at = start, last = start;
        int never = 0;
        for (size_t i = 0; children && i < children->n && !*rc; i++) {
            wf_template *c = wf_find(w, children->items[i]->value);
            if (serial) {
                if (never || (lim >= 0 && at >= lim)) {
                    timeline(p, "%s%-20s %-12s never starts (%s)", run_prefix, c->name, c->type,
                             never ? "the previous step never ends" : "the Serial node's deadline passed first");
                    if (never) note(p, 1, "Workflow node %s never starts: the step before it never ends", c->name);
                    continue;
                }
                int64_t e = wf_run(p, w, c, at, lim, run_prefix, rc);
                if (e < 0)
                    never = 1;
                else
                    at = last = e;
            } else {
                int64_t e = wf_run(p, w, c, start, lim, run_prefix, rc);
                if (e < 0)
                    never = 1;
                else if (e > last)
                    last = e;
            }
        }
        end = never ? lim : (lim >= 0 && last > lim ? lim : last);
        char *line = slot >= 0 ? p->o->timeline[slot] : NULL;
        size_t ll = sizeof p->o->timeline[0];
        if (line && end >= 0) {
            fmt_s(end, s1, sizeof s1);
            snprintf(line, ll, "%s%-20s %-12s %s - %s (%s)", run_prefix, t->name, t->type, s0, s1,
                     never || end == lim ? "deadline" : "all children finished");
        } else if (line) {
            snprintf(line, ll, "%s%-20s %-12s starts %s, never finishes", run_prefix, t->name, t->type, s0);
        }
    }
    w->depth--;
    return end;
}

static int parse_workflow_templates(parser *p, const yt_node *spec, const char *path, workflow *w, const char **entry) {
    static const char *const ok[] = {"entry", "templates", NULL};
    if (yt_check_fields(&p->c, spec, path, ok, NULL) < 0) return -1;
    const char *saved = p->webhook;
    p->webhook = "vworkflow.kb.io";
    const yt_node *tl = yt_get(spec, "templates");
    char full[256];
    yt_pathf(full, sizeof full, "%s.templates", path);
    if (get_str(p, spec, "entry", path, 1, entry) < 0 || yt_check_type(&p->c, spec, tl, full, YK_SEQ, 1) < 0) return -1;
    if (!tl->n) return wfail(p, tl, "%s: Invalid value: null: templates in workflow could not be empty", full);
    if (tl->n > CM_MAX_TEMPLATES) return yt_fail(&p->c, tl, "%s: more than %d templates", full, CM_MAX_TEMPLATES);
    static const char *const tok[] = {"name",         "templateType", "deadline", "children",
                                      "networkChaos", "stressChaos",  "podChaos", NULL};
    static const char *const tunsupported[] = {"conditionalBranches|no Task/StatusCheck model",
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
    w->n = 0;
    for (size_t i = 0; i < tl->n; i++) {
        const yt_node *t = tl->items[i];
        char tp[280];
        yt_pathf(tp, sizeof tp, "%s[%zu]", full, i);
        if (check_map(p, tl, t, tp, 1) < 0 || yt_check_fields(&p->c, t, tp, tok, tunsupported) < 0) return -1;
        wf_template *wt = &w->t[w->n++];
        memset(wt, 0, sizeof *wt);
        wt->node = t;
        wt->chaos_kind = -1;
        if (get_str(p, t, "name", tp, 1, &wt->name) < 0 || get_str(p, t, "templateType", tp, 1, &wt->type) < 0)
            return -1;
        if (!dns1123_subdomain(wt->name))
            return wfail(p, yt_get(t, "name"), "%s.name: Invalid value: \"%s\": field name must be DNS-1123 subdomain",
                         tp, wt->name);
        for (int k = 0; k < w->n - 1; k++)
            if (!strcmp(w->t[k].name, wt->name))
                return wfail(p, yt_get(t, "name"),
                             "%s: Invalid value: template name must be unique, duplicated names: "
                             "[%s]",
                             full, wt->name);
        if (get_duration(p, t, "deadline", tp, &wt->deadline_ns, "deadline") < 0) return -1;
        const yt_node *children = yt_get(t, "children");
        char cp[300];
        yt_pathf(cp, sizeof cp, "%s.children", tp);
        if (yt_check_type(&p->c, t, children, cp, YK_SEQ, 0) < 0) return -1;
        int has_chaos = 0;
        for (int k = 0; chaos_fields[k]; k++) has_chaos |= yt_get(t, chaos_fields[k]) != NULL;
        if (!strcmp(wt->type, "Serial") || !strcmp(wt->type, "Parallel")) {
            if (has_chaos) return wfail(p, t, "%s: Invalid value: this template should not contain any Chaos", tp);
        } else if (!strcmp(wt->type, "Suspend")) {
            if (wt->deadline_ns < 0)
                return wfail(p, t,
                             "%s.deadline: Invalid value: deadline in template with type Suspend could not be "
                             "empty",
                             tp);
        } else {
            int k;
            for (k = 0; chaos_kinds[k]; k++)
                if (!strcmp(wt->type, chaos_kinds[k])) break;
            if (!chaos_kinds[k]) {
                if (in_list(other_kinds, wt->type) || !strcmp(wt->type, "Schedule") || !strcmp(wt->type, "Task"))
                    return yt_fail(&p->c, yt_get(t, "templateType"),
                                   "%s.templateType: %s: not supported by the simulator", tp, wt->type);
                return wfail(p, yt_get(t, "templateType"),
                             "%s.templateType: Invalid value: \"%s\": unrecognized "
                             "template type: %s",
                             tp, wt->type, wt->type);
            }
            if (children && children->n)
                return wfail(p, t, "%s: Invalid value: this template should not contain Children", tp);
            const yt_node *cs = yt_get(t, chaos_fields[k]);
            char sp[320];
            yt_pathf(sp, sizeof sp, "%s.%s", tp, chaos_fields[k]);
            if (!cs) return wfail(p, t, "%s: Invalid value: the value of chaos %s is required", sp, chaos_kinds[k]);
            for (int o = 0; chaos_fields[o]; o++)
                if (o != k && yt_get(t, chaos_fields[o]))
                    note(p, 1, "%s: templateType is %s but %s is also set; only %s is used", tp, wt->type,
                         chaos_fields[o], chaos_fields[k]);
            int64_t dur;
            wt->chaos_kind = k;
            if (parse_chaos_spec(p, k, cs, sp, 0, &wt->tmpl, &dur) < 0) return -1;
        }
    }
    /* children exist; entry exists */
    for (int i = 0; i < w->n; i++) {
        const yt_node *children = yt_get(w->t[i].node, "children");
        for (size_t k = 0; children && k < children->n; k++) {
            char cp[300];
            yt_pathf(cp, sizeof cp, "%s[%d].children[%zu]", full, i, k);
            if (yt_check_type(&p->c, children, children->items[k], cp, YK_STRING, 1) < 0) return -1;
            if (!wf_find(w, children->items[k]->value))
                return wfail(p, children->items[k], "%s: Invalid value: \"%s\": can not find a template with name %s",
                             cp, children->items[k]->value, children->items[k]->value);
        }
    }
    if (!wf_find(w, *entry))
        return wfail(p, yt_get(spec, "entry"), "%s.entry: Invalid value: \"%s\": can not find a template with name %s",
                     path, *entry, *entry);
    p->webhook = saved;
    return 0;
}

/* Expands a workflow created at `start`; returns when its entry node finishes (-1: never). */
static int64_t workflow_expand(parser *p, workflow *w, const char *entry, int64_t start, const char *run_prefix,
                               int *rc) {
    w->depth = 0;
    return wf_run(p, w, wf_find(w, entry), start, -1, run_prefix, rc);
}

/* ---- Schedule ---- */

static int parse_schedule(parser *p, const yt_node *spec) {
    static const char *const ok[] = {
        "schedule",     "type",        "concurrencyPolicy", "historyLimit", "startingDeadlineSeconds",
        "networkChaos", "stressChaos", "podChaos",          "workflow",     NULL};
    if (yt_check_fields(&p->c, spec, "spec", ok, other_fields) < 0) return -1;
    p->webhook = "vschedule.kb.io";
    const char *cron_text, *type, *policy;
    if (get_str(p, spec, "schedule", "spec", 1, &cron_text) < 0 || get_str(p, spec, "type", "spec", 1, &type) < 0 ||
        get_str(p, spec, "concurrencyPolicy", "spec", 0, &policy) < 0)
        return -1;
    cron_spec cs;
    char e[300];
    if (cron_parse(cron_text, &cs, e, sizeof e) < 0)
        return wfail(p, yt_get(spec, "schedule"), "spec.schedule: Invalid value: \"%s\": parse schedule field error:%s",
                     cron_text, e);
    int allow = 0;
    if (policy && *policy) {
        static const char *const pols[] = {"Forbid", "Allow", NULL};
        int pi;
        if (yt_check_enum(&p->c, yt_get(spec, "concurrencyPolicy"), "spec.concurrencyPolicy", pols, &pi) < 0) return -1;
        allow = pi == 1;
    }
    int64_t history = 0, deadline_s = -1;
    int has_history, has_deadline;
    if (get_int(p, spec, "historyLimit", "spec", 0, INT32_MAX, &history, &has_history) < 0 ||
        get_int(p, spec, "startingDeadlineSeconds", "spec", 0, INT64_MAX / SEC, &deadline_s, &has_deadline) < 0)
        return -1;
    int kind = -1;
    for (int k = 0; chaos_kinds[k]; k++)
        if (!strcmp(type, chaos_kinds[k])) kind = k;
    int is_workflow = !strcmp(type, "Workflow");
    if (kind < 0 && !is_workflow) {
        if (in_list(other_kinds, type))
            return yt_fail(&p->c, yt_get(spec, "type"), "spec.type: %s: not supported by the simulator", type);
        return wfail(p, yt_get(spec, "type"), "spec.type: Invalid value: \"%s\": unknown type", type);
    }
    const char *field = is_workflow ? "workflow" : chaos_fields[kind];
    const yt_node *inner = yt_get(spec, field);
    char ip[64];
    snprintf(ip, sizeof ip, "spec.%s", field);
    if (!inner) return wfail(p, spec, "%s: Invalid value: null: the value of chaos %s is required", ip, type);
    for (int k = 0; chaos_fields[k]; k++)
        if (strcmp(chaos_fields[k], field) && yt_get(spec, chaos_fields[k]))
            note(p, 1, "spec: type is %s but %s is also set; only %s is used", type, chaos_fields[k], field);
    cm_action tmpl;
    memset(&tmpl, 0, sizeof tmpl);
    int64_t duration = -1;
    workflow *w = NULL;
    const char *entry = NULL;
    if (is_workflow) {
        w = calloc(1, sizeof *w);
        if (!w) abort();
        if (check_map(p, spec, inner, ip, 1) < 0 || parse_workflow_templates(p, inner, ip, w, &entry) < 0) {
            free(w);
            return -1;
        }
    } else if (parse_chaos_spec(p, kind, inner, ip, 1, &tmpl, &duration) < 0) {
        return -1;
    }
    if (!has_history || history == 0)
        note(p, 0,
             "historyLimit unset (0): the schedule-gc controller deletes every finished child at once, so "
             "`kubectl get` never shows past runs");
    /* the ticks */
    int64_t created = p->env->creation_unix_s;
    int64_t first = -1, last_end = 0;
    int64_t child_end[64];
    int nchildren = 0, stuck = 0, spawned = 0;
    int64_t t = created;
    char when[32], s0[32], s1[32];
    int rc = 0;
    for (int k = 0; k < p->env->schedule_cycles && !stuck && !rc; k++) {
        t = cron_next(&cs, t);
        if (t < 0) {
            timeline(p, "no tick within five years of the creation");
            break;
        }
        if (first < 0) first = t;
        int64_t at = (t - first) * SEC;
        cron_format_utc(t, when, sizeof when);
        fmt_s(at, s0, sizeof s0);
        if (has_deadline && deadline_s == 0) {
            timeline(p, "tick %d at %s UTC (+%s): missed (startingDeadlineSeconds 0)", k + 1, when, s0);
            note(p, 1,
                 "startingDeadlineSeconds 0: the controller wakes a few ms after each tick, later than the "
                 "deadline, so it records MissSchedule and returns without requeueing: the schedule never "
                 "creates an object");
            stuck = 1;
            break;
        }
        int running = 0;
        for (int c = 0; c < nchildren; c++)
            if (child_end[c] < 0 || child_end[c] > at) running = 1;
        if (running && !allow) {
            timeline(p,
                     "tick %d at %s UTC (+%s): skipped (Forbid: the previous run is still active); the controller "
                     "returns without requeueing, so the schedule is stuck from here",
                     k + 1, when, s0);
            note(p, 1,
                 "concurrencyPolicy Forbid: tick %d comes while the previous run is still active; it is skipped "
                 "and the cron controller returns without RequeueAfter, so no later tick runs until something "
                 "else updates the Schedule (chaos-mesh #2984, #4470)",
                 k + 1);
            stuck = 1;
            break;
        }
        char run[48];
        snprintf(run, sizeof run, "run-%d", k + 1);
        int64_t end;
        if (is_workflow) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s/", run);
            timeline(p, "tick %d at %s UTC (+%s): creates Workflow %s-%d", k + 1, when, s0, p->o->name, k + 1);
            end = workflow_expand(p, w, entry, at, prefix, &rc);
        } else {
            end = duration >= 0 ? at + duration : -1;
            if (instantiate(p, inner, &tmpl, run, at, end) < 0) {
                rc = -1;
                break;
            }
            if (tmpl.one_shot) end = at; /* IsChaosFinished: one-shot actions finish once injected */
            if (end >= 0) fmt_s(end, s1, sizeof s1);
            timeline(p, "tick %d at %s UTC (+%s): creates %s %s-%d, %s%s", k + 1, when, s0, type, p->o->name, k + 1,
                     end < 0         ? "which never ends (no duration)"
                     : tmpl.one_shot ? "one-shot"
                                     : "active until +",
                     end < 0 || tmpl.one_shot ? "" : s1);
        }
        if (nchildren < 64) child_end[nchildren++] = end;
        spawned++;
        if (end < 0)
            last_end = -1;
        else if (last_end >= 0 && end > last_end)
            last_end = end;
    }
    free(w);
    if (rc) return -1;
    if (!spawned) note(p, 1, "the schedule creates no object in the simulated cycles");
    if (duration < 0 && !is_workflow && !tmpl.one_shot)
        note(p, 1,
             "scheduled %s without duration never finishes: with concurrencyPolicy Forbid (the default) no "
             "further run is ever spawned",
             type);
    if (spawned && allow)
        note(p, 0,
             "concurrencyPolicy Allow: runs may overlap; overlapping filtered NetworkChaos runs do not add up "
             "(one netem per packet)");
    (void)last_end;
    return 0;
}

/* ---- documents ---- */

int cm_is_chaos_document(const yt_node *doc) {
    const yt_node *api = yt_get(doc, "apiVersion");
    return api && api->value && !strncmp(api->value, "chaos-mesh.org/", 15);
}

static int parse_metadata(parser *p, const yt_node *doc) {
    cm_object *o = p->o;
    const yt_node *md = yt_get(doc, "metadata");
    static const char *const ok[] = {"name", "namespace", "labels", "annotations", NULL};
    static const char *const unsupported[] = {"generateName|the simulator needs fixed names", "finalizers|no model",
                                              "ownerReferences|no model", NULL};
    if (check_map(p, doc, md, "metadata", 1) < 0 || yt_check_fields(&p->c, md, "metadata", ok, unsupported) < 0)
        return -1;
    const char *name, *ns;
    if (get_str(p, md, "name", "metadata", 1, &name) < 0 || get_str(p, md, "namespace", "metadata", 0, &ns) < 0)
        return -1;
    if (!dns1123_subdomain(name))
        return yt_fail(&p->c, yt_get(md, "name"),
                       "metadata.name: Invalid value: \"%s\": a lowercase RFC 1123 "
                       "subdomain must consist of lower case alphanumeric characters, '-' "
                       "or '.'",
                       name);
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(p->ns, sizeof p->ns, "%s", ns ? ns : "default");
    if (check_map(p, md, yt_get(md, "labels"), "metadata.labels", 0) < 0) return -1;
    const yt_node *an = yt_get(md, "annotations");
    if (check_map(p, md, an, "metadata.annotations", 0) < 0) return -1;
    static const char *const ours[] = {"payment-chaos/expect", "payment-chaos/pair", "payment-chaos/description",
                                       "payment-chaos/really-does", NULL};
    for (size_t i = 0; an && i < an->n; i++) {
        const char *k = an->keys[i]->value;
        char ap[160];
        yt_pathf(ap, sizeof ap, "metadata.annotations.%s", k);
        if (yt_check_type(&p->c, an, an->items[i], ap, YK_STRING, 1) < 0) return -1;
        const char *v = an->items[i]->value;
        if (!strncmp(k, "payment-chaos/", 14) && !in_list(ours, k))
            return yt_fail(&p->c, an->keys[i],
                           "%s: unknown annotation (payment-chaos/expect, payment-chaos/pair, "
                           "payment-chaos/description, payment-chaos/really-does)",
                           ap);
        if (!strcmp(k, "payment-chaos/expect")) {
            snprintf(o->expect, sizeof o->expect, "%s", v);
            o->expect_line = an->items[i]->line;
        } else if (!strcmp(k, "payment-chaos/pair")) {
            snprintf(o->pair, sizeof o->pair, "%s", v);
            o->pair_line = an->items[i]->line;
        } else if (!strcmp(k, "payment-chaos/description")) {
            snprintf(o->description, sizeof o->description, "%s", v);
        } else if (!strcmp(k, "experiment.chaos-mesh.org/pause") && !strcmp(v, "true")) {
            o->paused = 1;
        }
    }
    return 0;
}

int cm_parse(const char *file, const yt_doc *d, const cm_env *env, cm_object *o, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    const yt_node *doc = d->root;
    parser p;
    memset(&p, 0, sizeof p);
    p.c.file = file;
    p.c.prefix = "";
    p.c.err = err;
    p.c.errlen = errlen;
    p.env = env;
    p.o = o;
    p.webhook = "";
    snprintf(o->file, sizeof o->file, "%s", file);
    o->line = doc->line;
    o->doc_index = d->index;
    if (doc->type != YT_MAP) return yt_fail(&p.c, doc, "document is not a mapping");
    const char *api, *kind;
    if (get_str(&p, doc, "apiVersion", "", 1, &api) < 0 || get_str(&p, doc, "kind", "", 1, &kind) < 0) return -1;
    snprintf(o->kind, sizeof o->kind, "%s", kind);
    int k = -1;
    for (int i = 0; chaos_kinds[i]; i++)
        if (!strcmp(kind, chaos_kinds[i])) k = i;
    int is_schedule = !strcmp(kind, "Schedule"), is_workflow = !strcmp(kind, "Workflow");
    if (k < 0 && !is_schedule && !is_workflow) {
        if (in_list(other_kinds, kind))
            return yt_fail(&p.c, yt_get(doc, "kind"),
                           "kind %s: not supported by the simulator (NetworkChaos, "
                           "StressChaos, PodChaos, Schedule, Workflow)",
                           kind);
        return yt_fail(&p.c, yt_get(doc, "kind"),
                       "no matches for kind \"%s\" in version \"%s\" (ensure CRDs are installed first)", kind, api);
    }
    if (strcmp(api, "chaos-mesh.org/v1alpha1"))
        return yt_fail(&p.c, yt_get(doc, "apiVersion"),
                       "no matches for kind \"%s\" in version \"%s\" (Chaos Mesh serves chaos-mesh.org/v1alpha1)", kind,
                       api);
    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    static const char *const top_unsupported[] = {"status|status is written by Chaos Mesh, not applied", NULL};
    if (yt_check_fields(&p.c, doc, "", top, top_unsupported) < 0 || parse_metadata(&p, doc) < 0) return -1;
    const yt_node *spec = yt_get(doc, "spec");
    if (check_map(&p, doc, spec, "spec", 1) < 0) return -1;
    int rc = 0;
    if (k >= 0) {
        cm_action tmpl;
        int64_t duration;
        rc = parse_chaos_spec(&p, k, spec, "spec", 1, &tmpl, &duration);
        if (!rc) rc = instantiate(&p, doc, &tmpl, "", 0, duration);
        if (!rc && duration < 0 && !tmpl.one_shot && k != 2)
            note(&p, 1,
                 "no duration: the object runs until it is deleted; the simulation never deletes it, so the "
                 "recovery phase still has it (observed for --chaos)");
    } else if (is_schedule) {
        rc = parse_schedule(&p, spec);
    } else {
        workflow *w = calloc(1, sizeof *w);
        if (!w) abort();
        const char *entry;
        rc = parse_workflow_templates(&p, spec, "spec", w, &entry);
        if (!rc) {
            int64_t end = workflow_expand(&p, w, entry, 0, "", &rc);
            if (!rc && end < 0) note(&p, 1, "the workflow never reaches Accomplished");
        }
        free(w);
    }
    if (rc) return -1;
    if (o->paused) {
        note(&p, 1,
             "annotation experiment.chaos-mesh.org/pause: \"true\": Chaos Mesh injects nothing until it is "
             "resumed");
        o->nacts = 0;
    }
    /* span */
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
    return 0;
}

void cm_object_free(cm_object *o) {
    if (!o) return;
    free(o->acts);
    o->acts = NULL;
    o->nacts = 0;
}
