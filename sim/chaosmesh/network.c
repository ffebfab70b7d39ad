/*
 * network.c: NetworkChaos. Its YAML half (the spec, target, netem blocks and bandwidth tables) and its
 * runtime half, which does what chaos-daemon does with them:
 *   - every netem block present (delay, loss, duplicate, corrupt) goes into one qdisc whatever `action`
 *     says (mergeNetem); partition and bandwidth ignore them;
 *   - a delay/jitter string <= "0ms" as a Go string ("0.5s") is dropped (tc_server.go convertNetemToArgs);
 *   - `to` filters hold the target pods' IPs plus externalTargets, so traffic sent to a Service ClusterIP is
 *     only matched when the ClusterIP is listed; an externalTarget may name a Service by its DNS name,
 *     resolved by chaos-controller-manager in its own namespace, so only qualified names resolve;
 *   - bandwidth's rate reaches `tc tbf` as a bare number, which tc reads as bits/s (chaos-mesh #4118).
 */
#include "sim/chaosmesh/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "faults/netem.h"
#include "faults/netem_effective.h"
#include "sim/input/goparse.h"

/* ---- the YAML half ---- */

static const char *const actions[] = {"netem", "delay", "loss", "duplicate", "corrupt", "partition", "bandwidth", NULL};
enum { A_NETEM, A_DELAY, A_LOSS, A_DUPLICATE, A_CORRUPT, A_PARTITION, A_BANDWIDTH };
static const char *const directions[] = {"to", "from", "both", NULL};

/* ^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$, the CRD's pattern for latency and jitter */
static int duration_pattern_ok(const char *s) {
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
#define DURATION_PATTERN .pattern = duration_pattern_ok, .pattern_text = "^[0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h)$"

enum { R_REORDER, R_CORRELATION, R_GAP };
static const cm_field reorder_fields[] = {
    [R_REORDER] = {"reorder", CM_STR, CM_REQUIRED},
    [R_CORRELATION] = {"correlation", CM_STR},
    [R_GAP] = {"gap", CM_INT, CM_REQUIRED, .lo = 0, .hi = 1000000},
};
static const cm_schema reorder_schema = CM_SCHEMA(reorder_fields, NULL);

enum { D_LATENCY, D_JITTER, D_CORRELATION, D_REORDER };
static const cm_field delay_fields[] = {
    [D_LATENCY] = {"latency", CM_STR, CM_REQUIRED, DURATION_PATTERN},
    [D_JITTER] = {"jitter", CM_STR, 0, DURATION_PATTERN},
    [D_CORRELATION] = {"correlation", CM_STR},
    [D_REORDER] = {"reorder", CM_MAP, 0, .sub = &reorder_schema},
};
static const cm_schema delay_schema = CM_SCHEMA(delay_fields, NULL);

/* loss, duplicate, corrupt: the rate (a percentage in a string) and its correlation */
enum { RATE_PCT, RATE_CORRELATION };
static const cm_field loss_fields[] = {
    [RATE_PCT] = {"loss", CM_STR, CM_REQUIRED}, [RATE_CORRELATION] = {"correlation", CM_STR}};
static const cm_field duplicate_fields[] = {
    [RATE_PCT] = {"duplicate", CM_STR, CM_REQUIRED}, [RATE_CORRELATION] = {"correlation", CM_STR}};
static const cm_field corrupt_fields[] = {
    [RATE_PCT] = {"corrupt", CM_STR, CM_REQUIRED}, [RATE_CORRELATION] = {"correlation", CM_STR}};
static const cm_schema loss_schema = CM_SCHEMA(loss_fields, NULL);
static const cm_schema duplicate_schema = CM_SCHEMA(duplicate_fields, NULL);
static const cm_schema corrupt_schema = CM_SCHEMA(corrupt_fields, NULL);

enum { B_RATE, B_LIMIT, B_BUFFER, B_PEAKRATE, B_MINBURST };
static const cm_field bandwidth_fields[] = {
    [B_RATE] = {"rate", CM_STR, CM_REQUIRED},
    [B_LIMIT] = {"limit", CM_INT, CM_REQUIRED, .lo = 1, .hi = UINT32_MAX},
    [B_BUFFER] = {"buffer", CM_INT, CM_REQUIRED, .lo = 1, .hi = UINT32_MAX},
    [B_PEAKRATE] = {"peakrate", CM_INT, 0, .lo = 0, .hi = INT64_MAX},
    [B_MINBURST] = {"minburst", CM_INT, 0, .lo = 0, .hi = UINT32_MAX},
};
static const cm_schema bandwidth_schema = CM_SCHEMA(bandwidth_fields, NULL);

/* The blocks, checked only when the action reads them (a partition ignores a malformed delay block). */
enum { BLK_DELAY, BLK_LOSS, BLK_DUPLICATE, BLK_CORRUPT, BLK_BANDWIDTH };
static const cm_field blocks[] = {
    [BLK_DELAY] = {"delay", CM_MAP, 0, .sub = &delay_schema},
    [BLK_LOSS] = {"loss", CM_MAP, 0, .sub = &loss_schema},
    [BLK_DUPLICATE] = {"duplicate", CM_MAP, 0, .sub = &duplicate_schema},
    [BLK_CORRUPT] = {"corrupt", CM_MAP, 0, .sub = &corrupt_schema},
    [BLK_BANDWIDTH] = {"bandwidth", CM_MAP, CM_REQUIRED, .sub = &bandwidth_schema},
};

enum { T_MODE, T_VALUE, T_SELECTOR };
static const cm_field target_fields[] = {
    [T_MODE] = CM_FIELD_MODE, [T_VALUE] = CM_FIELD_VALUE, [T_SELECTOR] = CM_FIELD_SELECTOR};
static const cm_schema target_schema = CM_SCHEMA(target_fields, NULL);

enum {
    N_DURATION,
    N_ACTION,
    N_MODE,
    N_VALUE,
    N_SELECTOR,
    N_DIRECTION,
    N_DEVICE,
    N_TARGET_DEVICE,
    N_TARGET,
    N_EXTERNAL,
    N_DELAY,
    N_LOSS,
    N_DUPLICATE,
    N_CORRUPT,
    N_BANDWIDTH,
    N_FIELDS
};
static const cm_field network_fields[] = {
    [N_DURATION] = {"duration", CM_STR},
    [N_ACTION] = {"action", CM_STR, CM_REQUIRED, actions},
    [N_MODE] = CM_FIELD_MODE,
    [N_VALUE] = CM_FIELD_VALUE,
    [N_SELECTOR] = CM_FIELD_SELECTOR,
    [N_DIRECTION] = {"direction", CM_STR, CM_EMPTY_IS_DEFAULT, directions, .def = DIR_TO},
    [N_DEVICE] = {"device", CM_STR},
    [N_TARGET_DEVICE] = {"targetDevice", CM_STR},
    [N_TARGET] = {"target", CM_MAP, 0, .sub = &target_schema},
    [N_EXTERNAL] = {"externalTargets", CM_SEQ, CM_INDEXED, .item = CM_STR},
    [N_DELAY] = {"delay", CM_MAP}, /* its fields: blocks[], when the action reads them */
    [N_LOSS] = {"loss", CM_ANY},   /* blocks[] */
    [N_DUPLICATE] = {"duplicate", CM_ANY},
    [N_CORRUPT] = {"corrupt", CM_ANY},
    [N_BANDWIDTH] = {"bandwidth", CM_ANY},
};
static const char *const network_unsupported[] = {"rate|netem's rate is not modelled (use action bandwidth)",
                                                  "remoteCluster|one cluster", NULL};
static const cm_schema network_schema = CM_SCHEMA(network_fields, network_unsupported);

/* ---- the runtime half: filters ---- */

/* A host name in externalTargets, as chaos-controller-manager resolves it (netutils.ResolveCidrs, from its
 * own namespace): a Service's qualified name. */
static int resolve_host(cm_reader *r, const yt_node *n, const char *path, char *host, nf_cidr *c) {
    const sim_manifest *m = r->env->m;
    size_t len = strlen(host);
    if (len && host[len - 1] == '.') host[--len] = '\0';
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        char fq[3][200];
        snprintf(fq[0], sizeof fq[0], "%s.%s.svc.cluster.local", m->spec.svc[s].name, m->spec.namespace_);
        snprintf(fq[1], sizeof fq[1], "%s.%s.svc", m->spec.svc[s].name, m->spec.namespace_);
        snprintf(fq[2], sizeof fq[2], "%s.%s", m->spec.svc[s].name, m->spec.namespace_);
        for (int k = 0; k < 3; k++)
            if (!strcmp(host, fq[k])) {
                c->addr = m->spec.svc[s].cluster_ip;
                c->prefix = 32;
                return 0;
            }
    }
    const char *t = n->value;
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        if (!strcmp(host, m->spec.svc[s].name))
            return yt_fail(&r->c, n,
                           "%s: cannot resolve \"%s\": chaos-controller-manager resolves externalTargets in "
                           "its own namespace (chaos-mesh), where the short Service name does not resolve; "
                           "write %s.%s.svc.cluster.local or the ClusterIP",
                           path, t, m->spec.svc[s].name, m->spec.namespace_);
        if (m->svc[s].headless[0] && !strncmp(host, m->svc[s].headless, strlen(m->svc[s].headless)))
            return yt_fail(&r->c, n,
                           "%s: \"%s\": not supported by the simulator: a headless name resolves to pod IPs "
                           "at injection; list the pods with `target` instead",
                           path, t);
    }
    return yt_fail(&r->c, n,
                   "%s: cannot resolve host \"%s\": the simulated cluster only has the Services "
                   "%s, %s and %s (e.g. %s.%s.svc.cluster.local) and IP addresses",
                   path, t, m->spec.svc[0].name, m->spec.svc[1].name, m->spec.svc[2].name, m->spec.svc[1].name,
                   m->spec.namespace_);
}

/* One externalTarget: an IPv4 address or CIDR, or a Service's DNS name; which ClusterIPs it covers. */
static int resolve_target(cm_reader *r, const yt_node *n, const char *path, cm_action *ca) {
    const sim_manifest *m = r->env->m;
    sim_chaos_action *a = &ca->a;
    const char *t = n->value;
    if (a->nexternal >= ACTION_MAX_EXTERNAL)
        return yt_fail(&r->c, n, "%s: more than %d externalTargets", path, ACTION_MAX_EXTERNAL);
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
            return yt_fail(&r->c, n, "%s: Invalid value: \"%s\": invalid CIDR address", path, t);
        prefix = (int)v;
    }
    sim_addr addr;
    if (strchr(buf, ':')) return yt_fail(&r->c, n, "%s: \"%s\": not supported by the simulator (IPv4 only)", path, t);
    if (sim_addr_parse(buf, &addr) == 0) {
        c->addr = addr;
        c->prefix = prefix;
    } else if (slash) {
        return yt_fail(&r->c, n, "%s: Invalid value: \"%s\": invalid CIDR address", path, t);
    } else if (resolve_host(r, n, path, buf, c) < 0) {
        return -1;
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

/* The webhook's rules on direction, target and externalTargets. */
static int check_direction(cm_reader *r, const cm_value *v, const char *path, int act, int has_ext) {
    const yt_node *dn = v[N_DIRECTION].node;
    const char *dir = directions[v[N_DIRECTION].i];
    int to = v[N_DIRECTION].i == DIR_TO, has_target = v[N_TARGET].node != NULL;
    if (act != A_PARTITION) {
        if (!to && has_ext)
            return cm_wfail(r, dn,
                            "%s.direction: Invalid value: \"%s\": external targets cannot be used with `from` and "
                            "`both` direction in netem action yet",
                            path, dir);
        if (!to && !has_target)
            return cm_wfail(r, dn,
                            "%s.direction: Invalid value: \"%s\": `from` and `both` direction cannot be used when "
                            "targets is empty in netem action",
                            path, dir);
    } else if (!to && !has_target && !has_ext) {
        return cm_wfail(r, dn,
                        "%s.direction: Invalid value: \"%s\": `from` and `both` direction cannot be used when "
                        "targets and external targets are both empty",
                        path, dir);
    }
    return 0;
}

/* device and targetDevice: the pods' one interface. */
static int check_devices(cm_reader *r, const cm_value *v, const char *path) {
    for (int f = N_DEVICE; f <= N_TARGET_DEVICE; f++) {
        const char *dev = v[f].s;
        if (dev && *dev && strcmp(dev, "eth0"))
            return yt_fail(&r->c, v[f].node,
                           "%s.%s: \"%s\": not supported by the simulator (pods have one interface, eth0)", path,
                           network_fields[f].name, dev);
    }
    return 0;
}

/* The pods, the target and the externalTargets: what the filter matches, in words (src -> dst). */
static int resolve_filter(cm_reader *r, const yt_node *spec, const cm_value *v, const char *path, int act,
                          cm_action *ca, char *src, size_t srclen, char *dst, size_t dstlen) {
    sim_chaos_action *a = &ca->a;
    if (cm_resolve_selection(r, spec, path, &a->selector, src, srclen) < 0) return -1;
    a->dir = (sim_direction)v[N_DIRECTION].i;
    if (check_devices(r, v, path) < 0) return -1;
    char full[256];
    yt_pathf(full, sizeof full, "%s.target", path);
    if (v[N_TARGET].node) {
        if (cm_resolve_selection(r, v[N_TARGET].node, full, &a->target, dst, dstlen) < 0) return -1;
        a->has_target = 1;
        ca->target_pods = 1;
    }
    const yt_node *et = v[N_EXTERNAL].node;
    yt_pathf(full, sizeof full, "%s.externalTargets", path);
    for (size_t i = 0; et && i < et->n; i++) {
        char ep[280];
        yt_pathf(ep, sizeof ep, "%s[%zu]", full, i);
        if (resolve_target(r, et->items[i], ep, ca) < 0) return -1;
        size_t k = strlen(dst);
        snprintf(dst + k, dstlen - k, "%s%s", k ? " + " : "", et->items[i]->value);
    }
    int has_ext = et && et->n;
    if (check_direction(r, v, path, act, has_ext) < 0) return -1;
    ca->unfiltered = !v[N_TARGET].node && !has_ext;
    return 0;
}

/* ---- the runtime half: netem ---- */

/* A checked percentage field as chaos-daemon parses it (strconv.ParseFloat) and tc accepts it (0..100). */
static int percent(cm_reader *r, const yt_node *blk, const char *key, const char *path, double *out) {
    const yt_node *n = yt_get(blk, key);
    const char *s = n && yt_kind_of(n) == YK_STRING ? n->value : NULL;
    *out = 0;
    if (!s || !*s) return 0;
    char full[256], e[200];
    yt_pathf(full, sizeof full, "%s.%s", path, key);
    if (go_parse_float(s, out, e, sizeof e) < 0)
        return cm_wfail(r, n, "%s: Invalid value: \"%s\": parse %s field error:%s", full, s, key, e);
    if (*out < 0 || *out > 100)
        return yt_fail(&r->c, n,
                       "%s: \"%s\" is outside 0..100: chaos-daemon passes it to `tc netem`, which refuses it "
                       "(Illegal %s percentage) and the injection fails",
                       full, s, key);
    return 0;
}

/* The Go-string comparisons of chaos-daemon that drop a delay or jitter. */
static void delay_notes(cm_reader *r, const char *path, const char *lat, const char *jit, const int64_t ns[2]) {
    int lat_on = strcmp(lat, "0ms") > 0;
    int jit_on = lat_on && jit && strcmp(jit, "0ms") > 0;
    if (!lat_on && ns[0] > 0)
        cm_add_note(r, 1,
                    "%s.latency \"%s\" compares <= \"0ms\" as a Go string in chaos-daemon (tc_server.go "
                    "convertNetemToArgs): NO delay is applied (write \"%lldms\")",
                    path, lat, (long long)(ns[0] / MS));
    if (lat_on && jit && !jit_on && ns[1] > 0)
        cm_add_note(r, 1,
                    "%s.jitter \"%s\" compares <= \"0ms\" as a Go string in chaos-daemon: NO jitter is applied (write "
                    "\"%lldms\")",
                    path, jit, (long long)(ns[1] / MS));
}

/* A checked delay block into the netem config; its words appended to `says`. */
static int resolve_delay(cm_reader *r, const yt_node *blk, const char *path, netem_config *ne, char *says,
                         size_t sayslen) {
    cm_value v[4];
    cm_read(blk, &delay_schema, v);
    const char *lat = v[D_LATENCY].s, *jit = v[D_JITTER].s;
    int64_t ns[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        const char *s = i ? jit : lat;
        char e[200];
        if (s && go_parse_duration(s, &ns[i], e, sizeof e) < 0)
            return cm_wfail(r, v[i ? D_JITTER : D_LATENCY].node,
                            "%s.%s: Invalid value: \"%s\": parse %s field error: %s", path, delay_fields[i].name, s,
                            delay_fields[i].name, e);
    }
    double corr;
    if (percent(r, blk, "correlation", path, &corr) < 0) return -1;
    delay_notes(r, path, lat, jit, ns);
    int lat_on = strcmp(lat, "0ms") > 0, jit_on = lat_on && jit && strcmp(jit, "0ms") > 0;
    if (lat_on) {
        ne->latency_ns = ns[0];
        if (jit_on) {
            ne->jitter_ns = ns[1];
            ne->delay_corr_pct = corr;
        } else if (corr > 0) {
            cm_add_note(r, 0, "%s.correlation is only passed to tc with a jitter: ignored", path);
        }
    }
    const yt_node *ro = v[D_REORDER].node;
    if (ro) {
        char rp[256];
        yt_pathf(rp, sizeof rp, "%s.reorder", path);
        double pct, rc;
        int64_t gap;
        if (percent(r, ro, "reorder", rp, &pct) < 0 || percent(r, ro, "correlation", rp, &rc) < 0) return -1;
        yt_int(yt_get(ro, "gap"), &gap);
        if (lat_on) {
            ne->reorder_pct = pct;
            ne->reorder_corr_pct = rc;
            ne->reorder_gap = (uint32_t)gap;
        }
    }
    size_t k = strlen(says);
    snprintf(says + k, sayslen - k, "%sdelay %s%s%s", k ? " + " : "", lat, jit ? " ± " : "", jit ? jit : "");
    return 0;
}

/* loss, duplicate or corrupt (blocks[b]): checked, into *pct and *corr, with what the correlation does. */
static int resolve_rate(cm_reader *r, const yt_node *spec, const char *path, int b, double *pct, double *corr,
                        char *says, size_t sayslen) {
    const char *key = blocks[b].name;
    const yt_node *blk = yt_get(spec, key);
    if (cm_check_field(&r->c, spec, path, &blocks[b]) < 0) return -1;
    if (!blk) return 0;
    char full[256];
    yt_pathf(full, sizeof full, "%s.%s", path, key);
    if (percent(r, blk, key, full, pct) < 0 || percent(r, blk, "correlation", full, corr) < 0) return -1;
    size_t k = strlen(says);
    k += (size_t)snprintf(says + k, sayslen - k, "%s%s %g %%", k ? " + " : "", key, *pct);
    if (*corr > 0) snprintf(says + k, sayslen - k, " (correlation %g %%)", *corr);
    if (*corr > 0 && *pct > 0) {
        double eff = netem_effective_pct(*pct, *corr);
        if (eff - *pct > 1 || *pct - eff > 1)
            cm_add_note(r, 1,
                        "%s: %g %% with correlation %g %% is NOT %g %%: netem averages each uniform draw with the "
                        "previous one (sch_netem.c get_crandom), so %.1f %% of packets are %s",
                        full, *pct, *corr, *pct, eff,
                        b == BLK_LOSS        ? "dropped"
                        : b == BLK_DUPLICATE ? "duplicated"
                                             : "corrupted");
        else
            cm_add_note(r, 0, "%s: correlation %g %% keeps the long-run rate at %.1f %% but makes it bursty", full,
                        *corr, eff);
    }
    return 0;
}

/* The netem actions: every block present merged into one qdisc, which tc must accept. */
static int resolve_netem(cm_reader *r, const yt_node *spec, const cm_value *v, const char *path, int act,
                         netem_config *ne, char *what, size_t whatlen) {
    const yt_node *an = v[N_ACTION].node;
    int present[4];
    for (int b = 0; b < 4; b++) present[b] = v[N_DELAY + b].node != NULL;
    char full[256];
    yt_pathf(full, sizeof full, "%s.delay", path);
    if (present[0] && (cm_check_map(&r->c, v[N_DELAY].node, full, &delay_schema) < 0 ||
                       resolve_delay(r, v[N_DELAY].node, full, ne, what, whatlen) < 0))
        return -1;
    if (resolve_rate(r, spec, path, BLK_LOSS, &ne->loss_pct, &ne->loss_corr_pct, what, whatlen) < 0 ||
        resolve_rate(r, spec, path, BLK_DUPLICATE, &ne->duplicate_pct, &ne->duplicate_corr_pct, what, whatlen) < 0 ||
        resolve_rate(r, spec, path, BLK_CORRUPT, &ne->corrupt_pct, &ne->corrupt_corr_pct, what, whatlen) < 0)
        return -1;
    if (act >= A_DELAY && act <= A_CORRUPT && !present[act - 1])
        return yt_fail(&r->c, an,
                       "%s.%s: action `%s` needs a `%s` block (podnetworkchaos controller: \"invalid "
                       "spec for netem action, at least one is required from delay, loss, duplicate, "
                       "corrupt\")",
                       path, actions[act], actions[act], actions[act]);
    if (act == A_NETEM && !present[0] && !present[1] && !present[2] && !present[3])
        return yt_fail(&r->c, an, "%s: action netem needs at least one of delay, loss, duplicate, corrupt", path);
    int extra = 0;
    for (int b = 0; b < 4; b++) extra += present[b] && act != b + 1;
    if (act != A_NETEM && extra)
        cm_add_note(r, 1,
                    "%s: action is `%s` but other netem blocks are present: Chaos Mesh merges EVERY block into one "
                    "qdisc (mergeNetem), so they apply too: %s",
                    path, actions[act], what);
    netem_qdisc *q = malloc(sizeof *q);
    if (!q) abort();
    int rc = netem_init(q, ne, 1);
    free(q);
    if (rc != NETEM_OK) return yt_fail(&r->c, an, "%s: tc refuses this netem: %s", path, netem_strerror(rc));
    return 0;
}

/* action bandwidth: the tbf chaos-daemon installs (and what its rate really means). */
static int resolve_bandwidth(cm_reader *r, const yt_node *spec, const char *path, sim_chaos_action *a, char *what,
                             size_t whatlen) {
    if (cm_check_field(&r->c, spec, path, &blocks[BLK_BANDWIDTH]) < 0) return -1;
    const yt_node *bw = yt_get(spec, "bandwidth");
    cm_value v[5];
    cm_read(bw, &bandwidth_schema, v);
    char full[256], e[200];
    yt_pathf(full, sizeof full, "%s.bandwidth", path);
    const char *rate = v[B_RATE].s;
    if (tbf_config_from_chaos_mesh(rate, (uint32_t)v[B_LIMIT].i, (uint32_t)v[B_BUFFER].i, (uint64_t)v[B_PEAKRATE].i,
                                   (uint32_t)v[B_MINBURST].i, &a->tbf, e, sizeof e) != TBF_OK)
        return yt_fail(&r->c, v[B_RATE].node, "%s.rate: %s", full, e);
    uint64_t documented = 0;
    tbf_parse_rate(rate, &documented, NULL, 0);
    snprintf(what, whatlen, "bandwidth %s", rate);
    cm_add_note(r, 1,
                "%s.rate \"%s\" reads as %llu bytes/s, but chaos-daemon prints the number bare to `tc ... tbf "
                "rate`, which reads bits/s: the kernel shapes to %llu bytes/s (chaos-mesh #4118)",
                full, rate, (unsigned long long)documented, (unsigned long long)a->tbf.rate_bytes_per_s);
    return 0;
}

static int network_resolve(cm_reader *r, const yt_node *spec, const char *path, int64_t duration, cm_action *ca) {
    (void)duration;
    sim_chaos_action *a = &ca->a;
    cm_value v[N_FIELDS];
    cm_read(spec, &network_schema, v);
    int act = (int)v[N_ACTION].i;
    char src[200], dst[240] = "", what[200] = "";
    if (resolve_filter(r, spec, v, path, act, ca, src, sizeof src, dst, sizeof dst) < 0) return -1;
    if (act == A_PARTITION || act == A_BANDWIDTH) {
        for (int b = 0; b < 4; b++)
            if (v[N_DELAY + b].node)
                cm_add_note(r, 1, "%s: action %s ignores the `%s` block", path, actions[act], blocks[b].name);
    } else if (resolve_netem(r, spec, v, path, act, &a->netem, what, sizeof what) < 0) {
        return -1;
    }
    a->kind = ACT_NETWORK;
    a->net_kind = act == A_PARTITION ? NF_PARTITION : act == A_BANDWIDTH ? NF_BANDWIDTH : NF_NETEM;
    if (act == A_BANDWIDTH && resolve_bandwidth(r, spec, path, a, what, sizeof what) < 0) return -1;
    if (act == A_PARTITION) snprintf(what, sizeof what, "partition");
    const char *arrow = a->dir == DIR_TO ? "->" : a->dir == DIR_FROM ? "<-" : "<->";
    snprintf(ca->says, sizeof ca->says, "%s on %s %s %s (direction %s)", what, src, arrow,
             dst[0] ? dst : "every destination", directions[a->dir]);
    return 0;
}

const cm_chaos_kind cm_network_chaos = {"NetworkChaos", "networkChaos", "vnetworkchaos.kb.io", &network_schema,
                                        network_resolve};
