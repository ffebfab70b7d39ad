/*
 * space.c: the fault catalog, magnitudes and the Chaos Mesh documents (see space.h).
 *
 * Ranges (magnitude at u = 0 and at u = 1) and why:
 *   loss, duplicate, corrupt  0 -> 100 %, linear
 *   delay, jitter             1 ms -> 20 s, logarithmic: effects start at tens of ms (CFS and RTO scales) and
 *                             end past the chain's 15 s step timeout. Jitter is netem's `latency J jitter J`,
 *                             a delay spread over [0, 2J] that also reorders packets
 *   bandwidth                 10 MB/s -> 100 B/s, logarithmic (the rate the kernel's tbf gets; the document's
 *                             rate string is 8 times it, see faults/tbf.h on chaos-mesh #4118)
 *   partition, pod-failure    0.5 s -> 30 s of duration, linear
 *   cpu                       0 -> 4 CPUs asked of stress-ng (workers x load: 1 worker up to 1 CPU, then
 *                             ceil(c) workers at c / workers each), linear
 *   memory                    0 -> 256 MiB of memStress in total over 2 workers, linear (twice the default
 *                             limit)
 *   pod-kill                  0 -> every replica, in whole pods
 */
#include "sim/explore/space.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/units.h"
#include "sim/net/net.h"

typedef struct kind_info {
    const char *name;
    const char *unit;
    int network, zero_none, duration, logscale;
    double start, end; /* magnitudes at u = 0 and u = 1 (pod-kill: the replicas) */
} kind_info;

static const kind_info kinds[XK_COUNT] = {
    [XK_LOSS] = {"loss", "%", 1, 1, 0, 0, 0, 100},
    [XK_DELAY] = {"delay", "ms", 1, 0, 0, 1, 1, 20000},
    [XK_JITTER] = {"jitter", "ms", 1, 0, 0, 1, 1, 20000},
    [XK_BANDWIDTH] = {"bandwidth", "B/s", 1, 0, 0, 1, 1e7, 100},
    [XK_PARTITION] = {"partition", "s", 1, 0, 1, 0, 0.5, 30},
    [XK_DUPLICATE] = {"duplicate", "%", 1, 1, 0, 0, 0, 100},
    [XK_CORRUPT] = {"corrupt", "%", 1, 1, 0, 0, 0, 100},
    [XK_CPU] = {"cpu", "CPU", 0, 1, 0, 0, 0, 4},
    [XK_MEMORY] = {"memory", "MiB", 0, 1, 0, 0, 0, 256},
    [XK_POD_KILL] = {"pod-kill", "pods", 0, 1, 0, 0, 0, 1},
    [XK_POD_FAILURE] = {"pod-failure", "s", 0, 0, 1, 0, 0.5, 30},
};

#define MEM_WORKERS 2
#define BANDWIDTH_LIMIT 20971520 /* the tbf queue, bytes (Chaos Mesh's documented example) */
#define BANDWIDTH_BUFFER 10000   /* the bucket, bytes: above one full-size frame */

const char *space_kind_name(xp_kind k) { return k < XK_COUNT ? kinds[k].name : "?"; }
int space_is_network(xp_kind k) { return kinds[k].network; }
int space_zero_is_none(xp_kind k) { return kinds[k].zero_none; }
int space_sets_duration(xp_kind k) { return kinds[k].duration; }
const char *space_unit(xp_kind k) { return kinds[k].unit; }

int space_parse_kinds(const char *text, unsigned *mask, char *err, size_t errlen) {
    if (!text) {
        *mask = (1u << XK_COUNT) - 1;
        return 0;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    *mask = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k;
        for (k = 0; k < XK_COUNT && strcmp(tok, kinds[k].name); k++) {
        }
        if (k == XK_COUNT) {
            size_t n = (size_t)snprintf(err, errlen, "--explore-faults: unknown fault kind \"%s\" (kinds:", tok);
            for (int i = 0; i < XK_COUNT && n < errlen; i++)
                n += (size_t)snprintf(err + n, errlen - n, " %s", kinds[i].name);
            if (n < errlen) snprintf(err + n, errlen - n, ")");
            return -1;
        }
        *mask |= 1u << k;
    }
    if (!*mask) {
        snprintf(err, errlen, "--explore-faults: no fault kind given");
        return -1;
    }
    return 0;
}

static void add(xp_space *sp, const xp_fault *f) {
    if (sp->n < XP_MAX_FAULTS) sp->faults[sp->n++] = *f;
}

static void add_network(xp_space *sp, xp_kind k) {
    for (int a = 0; a < SVC_PEER_COUNT; a++)
        for (int b = 0; b < SVC_PEER_COUNT; b++) {
            xp_fault f;
            memset(&f, 0, sizeof f);
            f.kind = k;
            f.from = (svc_peer)a;
            f.to = (svc_peer)b;
            snprintf(f.name, sizeof f.name, "%s %s -> %s", kinds[k].name, svc_peer_name(f.from), svc_peer_name(f.to));
            snprintf(f.slug, sizeof f.slug, "%s-%s-%s", kinds[k].name, svc_peer_name(f.from), svc_peer_name(f.to));
            add(sp, &f);
        }
}

static void add_pods(xp_space *sp, xp_kind k, const cluster_spec *cl) {
    for (int s = 0; s < SVC_PEER_COUNT; s++)
        for (int all = 0; all < (k == XK_POD_KILL ? 1 : 2); all++) {
            xp_fault f;
            memset(&f, 0, sizeof f);
            f.kind = k;
            f.svc = (svc_peer)s;
            f.all_pods = all;
            const char *name = svc_peer_name(f.svc);
            if (k == XK_POD_KILL) {
                f.levels = cl->svc[s].replicas;
                snprintf(f.name, sizeof f.name, "%s %s", kinds[k].name, name);
                snprintf(f.slug, sizeof f.slug, "%s-%s", kinds[k].name, name);
            } else {
                snprintf(f.name, sizeof f.name, "%s %s (%s)", kinds[k].name, name, all ? "all pods" : "one pod");
                snprintf(f.slug, sizeof f.slug, "%s-%s-%s", kinds[k].name, all ? "all" : "one", name);
            }
            add(sp, &f);
        }
}

void space_build(xp_space *sp, const cluster_spec *cl, unsigned mask) {
    sp->n = 0;
    for (int k = 0; k < XK_COUNT; k++) {
        if (!(mask & (1u << k))) continue;
        if (kinds[k].network)
            add_network(sp, (xp_kind)k);
        else
            add_pods(sp, (xp_kind)k, cl);
    }
}

xp_magnitude space_magnitude(const xp_fault *f, double u) {
    const kind_info *ki = &kinds[f->kind];
    xp_magnitude m = {0, 0, 0, 0};
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    double v = ki->logscale ? exp(log(ki->start) + u * (log(ki->end) - log(ki->start)))
                            : ki->start + u * (ki->end - ki->start);
    switch (f->kind) {
    case XK_LOSS:
    case XK_DUPLICATE:
    case XK_CORRUPT: m.value = round(v * 10) / 10; break;
    case XK_DELAY:
    case XK_JITTER: m.value = fmax(1, round(v)); break;
    case XK_BANDWIDTH: m.value = fmax(1, round(v)); break;
    case XK_PARTITION:
    case XK_POD_FAILURE: m.value = round(v * 10) / 10; break;
    case XK_CPU: {
        int workers = v <= 1 ? 1 : (int)ceil(v - 1e-9);
        int load = (int)lround(100 * v / workers);
        if (load > 100) load = 100;
        m.cpu_workers = workers;
        m.cpu_load = load;
        m.value = workers * load / 100.0;
        break;
    }
    case XK_MEMORY: m.value = round(v); break;
    case XK_POD_KILL: m.value = round(u * f->levels); break;
    default: break;
    }
    m.none = ki->zero_none && m.value <= 0;
    return m;
}

void space_format_value(const xp_fault *f, double v, char *out, size_t outlen) {
    switch (f->kind) {
    case XK_LOSS:
    case XK_DUPLICATE:
    case XK_CORRUPT:
    case XK_PARTITION:
    case XK_POD_FAILURE: snprintf(out, outlen, "%.1f", v); break;
    case XK_CPU: snprintf(out, outlen, "%.2f", v); break;
    case XK_BANDWIDTH:
        if (v >= 1e6)
            snprintf(out, outlen, "%.3gM", v / 1e6);
        else if (v >= 1e3)
            snprintf(out, outlen, "%.3gk", v / 1e3);
        else
            snprintf(out, outlen, "%.0f", v);
        break;
    default: snprintf(out, outlen, "%.0f", v); break;
    }
}

void space_format(const xp_fault *f, const xp_magnitude *m, char *out, size_t outlen) {
    char v[32];
    if (m->none) {
        snprintf(out, outlen, "none");
        return;
    }
    space_format_value(f, m->value, v, sizeof v);
    if (f->kind == XK_CPU)
        snprintf(out, outlen, "%s CPU (%d x %d %%)", v, m->cpu_workers, m->cpu_load);
    else if (f->kind == XK_POD_KILL)
        snprintf(out, outlen, "%s pod%s", v, m->value == 1 ? "" : "s");
    else
        snprintf(out, outlen, "%s %s", v, kinds[f->kind].unit);
}

void space_cluster_names(const sim_manifest *m, xp_cluster_names *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->ns, sizeof out->ns, "%s", m->spec.namespace_);
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        const manifest_workload *w = &m->svc[s];
        const char *app = m->spec.svc[s].app_label;
        if (app[0] || !w->nlabels) {
            snprintf(out->label_key[s], sizeof out->label_key[s], "app");
            snprintf(out->label_value[s], sizeof out->label_value[s], "%s", app);
        } else {
            snprintf(out->label_key[s], sizeof out->label_key[s], "%s", w->labels[0].key);
            snprintf(out->label_value[s], sizeof out->label_value[s], "%s", w->labels[0].value);
        }
        sim_addr_format(m->spec.svc[s].cluster_ip, out->vip[s], sizeof out->vip[s]);
    }
}

/* ---- the documents ---- */

typedef struct writer {
    char *out;
    size_t len, n;
} writer;

static void put(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(w->n < w->len ? w->out + w->n : NULL, w->n < w->len ? w->len - w->n : 0, fmt, ap);
    va_end(ap);
    if (k > 0) w->n += (size_t)k;
}

static void put_duration(writer *w, const char *key, int64_t ns) {
    if (ns % SEC == 0)
        put(w, "%s: %llds\n", key, (long long)(ns / SEC));
    else
        put(w, "%s: %lldms\n", key, (long long)(ns / MS));
}

static void put_selector(writer *w, const xp_cluster_names *cn, svc_peer s, const char *indent) {
    put(w, "%sselector:\n%s  namespaces:\n%s    - %s\n%s  labelSelectors:\n%s    %s: %s\n", indent, indent, indent,
        cn->ns, indent, indent, cn->label_key[s], cn->label_value[s]);
}

/* The kind-specific part of a NetworkChaos spec. */
static void put_network(writer *w, const xp_cluster_names *cn, const xp_fault *f, const xp_magnitude *m) {
    static const char *const actions[XK_COUNT] = {
        [XK_LOSS] = "loss",           [XK_DELAY] = "delay",         [XK_JITTER] = "delay",
        [XK_BANDWIDTH] = "bandwidth", [XK_PARTITION] = "partition", [XK_DUPLICATE] = "duplicate",
        [XK_CORRUPT] = "corrupt"};
    put(w, "  action: %s\n  mode: all\n", actions[f->kind]);
    put_selector(w, cn, f->from, "  ");
    put(w, "  direction: to\n  target:\n    mode: all\n");
    put_selector(w, cn, f->to, "    ");
    put(w, "  externalTargets:\n    - %s\n", cn->vip[f->to]);
    char v[32];
    snprintf(v, sizeof v, "%g", m->value);
    switch (f->kind) {
    case XK_LOSS: put(w, "  loss:\n    loss: \"%s\"\n", v); break;
    case XK_DUPLICATE: put(w, "  duplicate:\n    duplicate: \"%s\"\n", v); break;
    case XK_CORRUPT: put(w, "  corrupt:\n    corrupt: \"%s\"\n", v); break;
    case XK_DELAY: put(w, "  delay:\n    latency: \"%sms\"\n", v); break;
    case XK_JITTER: put(w, "  delay:\n    latency: \"%sms\"\n    jitter: \"%sms\"\n", v, v); break;
    case XK_BANDWIDTH:
        put(w, "  bandwidth:\n    rate: \"%.0fbps\"\n    limit: %d\n    buffer: %d\n", m->value * 8, BANDWIDTH_LIMIT,
            BANDWIDTH_BUFFER);
        break;
    default: break;
    }
}

/* The kind-specific part of a StressChaos or PodChaos spec. */
static void put_pods(writer *w, const xp_cluster_names *cn, const xp_fault *f, const xp_magnitude *m) {
    if (f->kind == XK_POD_KILL) {
        int all = (int)m->value >= f->levels;
        put(w, "  action: pod-kill\n  mode: %s\n", all ? "all" : "fixed");
        if (!all) put(w, "  value: \"%d\"\n", (int)m->value);
        put_selector(w, cn, f->svc, "  ");
        put(w, "  gracePeriod: 0\n");
        return;
    }
    if (f->kind == XK_POD_FAILURE) put(w, "  action: pod-failure\n");
    put(w, "  mode: %s\n", f->all_pods ? "all" : "one");
    put_selector(w, cn, f->svc, "  ");
    if (f->kind == XK_CPU)
        put(w, "  stressors:\n    cpu:\n      workers: %d\n      load: %d\n", m->cpu_workers, m->cpu_load);
    else if (f->kind == XK_MEMORY)
        put(w, "  stressors:\n    memory:\n      workers: %d\n      size: \"%.0fMiB\"\n", MEM_WORKERS, m->value);
}

static const char *doc_kind(xp_kind k) {
    return kinds[k].network ? "NetworkChaos" : k == XK_CPU || k == XK_MEMORY ? "StressChaos" : "PodChaos";
}

static void put_doc(writer *w, const xp_cluster_names *cn, const xp_part *p, const char *name, const char *pair,
                    const char *expect, int64_t chaos_ns) {
    xp_magnitude m = space_magnitude(p->f, p->u);
    char what[64];
    space_format(p->f, &m, what, sizeof what);
    put(w,
        "apiVersion: chaos-mesh.org/v1alpha1\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n"
        "    app.kubernetes.io/part-of: payment-chaos\n  annotations:\n"
        "    payment-chaos/description: \"%s at %s (bin/sim --explore)\"\n",
        doc_kind(p->f->kind), name, cn->ns, p->f->name, what);
    if (expect) put(w, "    payment-chaos/expect: \"%s\"\n", expect);
    if (pair) put(w, "    payment-chaos/pair: %s\n", pair);
    put(w, "spec:\n");
    if (kinds[p->f->kind].network)
        put_network(w, cn, p->f, &m);
    else
        put_pods(w, cn, p->f, &m);
    if (p->f->kind == XK_POD_KILL) return; /* one-shot: no duration */
    put_duration(w, "  duration", space_sets_duration(p->f->kind) ? (int64_t)llround(m.value * 1e3) * MS : chaos_ns);
}

int space_yaml(char *out, size_t outlen, const xp_cluster_names *cn, const xp_part *parts, int nparts, const char *name,
               const char *expect, int64_t chaos_ns, const char *comment) {
    writer w = {out, outlen, 0};
    if (outlen) out[0] = '\0';
    for (const char *c = comment; c && *c;) {
        const char *nl = strchr(c, '\n');
        size_t len = nl ? (size_t)(nl - c) : strlen(c);
        put(&w, "#%s%.*s\n", len ? " " : "", (int)len, c);
        c += len + (nl ? 1 : 0);
    }
    if (nparts == 1) {
        put_doc(&w, cn, &parts[0], name, NULL, expect, chaos_ns);
    } else {
        char a[96], b[96];
        snprintf(a, sizeof a, "%.60s-a", name);
        snprintf(b, sizeof b, "%.60s-b", name);
        put(&w, "---\n");
        put_doc(&w, cn, &parts[0], a, b, expect, chaos_ns);
        put(&w, "---\n");
        put_doc(&w, cn, &parts[1], b, a, NULL, chaos_ns);
    }
    return w.n < outlen ? (int)w.n : -1;
}
