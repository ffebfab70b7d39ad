/*
 * labreport.c: the lab's measurements as a sim_result, and its report (see lab.h, labint.h).
 *
 * The report is bin/sim's own (report_text / report_json) over a result filled from real measurements;
 * only the lines that describe the simulation itself (the title, the invariant line, the run line with
 * the event count and trace hash) are replaced, because the lab has no events, no trace and does not run
 * the invariant checkers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/labint.h"
#include "sim/report/report.h"

#define CG "/sys/fs/cgroup"

/* ---- cgroups ---- */

static uint64_t read_u64(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long v = 0;
    if (fscanf(f, "%llu", &v) != 1) v = 0;
    fclose(f);
    return v;
}

static uint64_t read_key(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char k[64];
    unsigned long long v;
    uint64_t found = 0;
    while (fscanf(f, "%63s %llu", k, &v) == 2)
        if (!strcmp(k, key)) found = v;
    fclose(f);
    return found;
}

void lab_cpu_read(const char *lab_dir, lab_cpu_snapshot *s, int reset_peak) {
    memset(s, 0, sizeof *s);
    if (!lab_dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/pods", lab_dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char name[48];
    while (s->n < LAB_MAX_PODS && fscanf(f, "%47s", name) == 1) {
        lab_pod_cpu *p = &s->pods[s->n++];
        snprintf(p->pod, sizeof p->pod, "%s", name);
        snprintf(path, sizeof path, CG "/cpu/pc-lab-%s/cpu.stat", name);
        p->periods = read_key(path, "nr_periods");
        p->throttled = read_key(path, "nr_throttled");
        p->throttled_ns = read_key(path, "throttled_time");
        snprintf(path, sizeof path, CG "/cpuacct/pc-lab-%s/app/cpuacct.usage", name);
        p->app_ns = read_u64(path);
        snprintf(path, sizeof path, CG "/cpuacct/pc-lab-%s/stress/cpuacct.usage", name);
        p->stress_ns = read_u64(path);
        snprintf(path, sizeof path, CG "/memory/pc-lab-%s/memory.max_usage_in_bytes", name);
        if (reset_peak) {
            FILE *w = fopen(path, "w");
            if (w) {
                fputs("0\n", w);
                fclose(w);
            }
        }
        p->mem_peak = (int64_t)read_u64(path);
        snprintf(path, sizeof path, CG "/memory/pc-lab-%s/memory.limit_in_bytes", name);
        p->mem_limit = (int64_t)read_u64(path);
        snprintf(path, sizeof path, CG "/memory/pc-lab-%s/memory.oom_control", name);
        p->oom_kills = read_key(path, "oom_kill");
    }
    fclose(f);
}

void lab_fill_cpu(sim_result *r, const lab_cpu_snapshot *a, const lab_cpu_snapshot *b) {
    r->npods = 0;
    for (int i = 0; i < b->n && r->npods < CLUSTER_MAX_PODS; i++) {
        const lab_pod_cpu *y = &b->pods[i], *x = NULL;
        for (int k = 0; k < a->n; k++)
            if (!strcmp(a->pods[k].pod, y->pod)) x = &a->pods[k];
        lab_pod_cpu zero;
        memset(&zero, 0, sizeof zero);
        if (!x) x = &zero;
        sim_cpu_row *c = &r->cpu[r->npods];
        sim_pod_row *p = &r->pods[r->npods];
        r->npods++;
        snprintf(c->pod, sizeof c->pod, "%s", y->pod);
        snprintf(p->pod, sizeof p->pod, "%s", y->pod);
        c->periods = y->periods - x->periods;
        c->throttled_periods = y->throttled - x->throttled;
        c->throttled_ms = (double)(y->throttled_ns - x->throttled_ns) / 1e6;
        c->work_cpu_ms = (double)(y->app_ns - x->app_ns) / 1e6;
        c->stress_cpu_ms = (double)(y->stress_ns - x->stress_ns) / 1e6;
        p->memory_peak_bytes = y->mem_peak;
        p->memory_limit_bytes = y->mem_limit;
        p->oom_kills_stressor = y->oom_kills - x->oom_kills; /* the app's own OOM kills are moved below */
    }
}

/* ---- what the hook reports ---- */

char *lab_tab_field(char **cursor) {
    char *s = *cursor;
    if (!s) return NULL;
    char *tab = strchr(s, '\t');
    if (tab) {
        *tab = '\0';
        *cursor = tab + 1;
    } else {
        *cursor = NULL;
    }
    return s;
}

uint64_t lab_tab_u64(char **cursor) {
    char *f = lab_tab_field(cursor);
    return f ? strtoull(f, NULL, 10) : 0;
}

void lab_fill_from_hook(sim_result *r, const lab_config *cfg, const sim_result *pred) {
    /* the actions: the simulator's selection and windows (the lab executed exactly those) */
    r->nactions = pred->nactions;
    r->actions = calloc((size_t)(r->nactions ? r->nactions : 1), sizeof *r->actions);
    if (!r->actions) abort();
    for (int i = 0; i < r->nactions; i++) {
        r->actions[i].action = pred->actions[i].action;
        r->actions[i].status = pred->actions[i].status;
        r->actions[i].status.nrules = 0;
        r->actions[i].status.stressor_oom_kills = 0;
        r->actions[i].status.stressor_respawns = 0;
    }
    if (!cfg->hook) return;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' hook collect 0", cfg->hook);
    FILE *p = popen(cmd, "r");
    if (!p) {
        fprintf(stderr, "loadgen: cannot run the collect hook: %s\n", strerror(errno));
        return;
    }
    char line[1024];
    size_t cap = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        char *cur = line;
        char *kind = lab_tab_field(&cur);
        if (!kind) continue;
        if (!strcmp(kind, "ledger")) {
            if (r->nledger == cap) {
                cap = cap ? cap * 2 : 16;
                r->ledger = realloc(r->ledger, cap * sizeof *r->ledger);
                if (!r->ledger) abort();
            }
            sim_ledger_row *l = &r->ledger[r->nledger++];
            memset(l, 0, sizeof *l);
            char *src = lab_tab_field(&cur), *dst = lab_tab_field(&cur);
            snprintf(l->src, sizeof l->src, "%s", src ? src : "?");
            snprintf(l->dst, sizeof l->dst, "%s", dst ? dst : "?");
            l->seen = lab_tab_u64(&cur);
            l->faulted = lab_tab_u64(&cur);
            l->dropped = lab_tab_u64(&cur);
            /* the wire's ledger says more (lab.sh lab_collect_wire); the node's stops here */
            l->local_dropped = lab_tab_u64(&cur);
            l->delayed = lab_tab_u64(&cur);
            l->duplicated = lab_tab_u64(&cur);
            l->corrupted = lab_tab_u64(&cur);
            char *md = lab_tab_field(&cur);
            l->mean_delay_ms = md ? strtod(md, NULL) : 0;
        } else if (!strcmp(kind, "action")) {
            int id = (int)lab_tab_u64(&cur);
            if (id < 0 || id >= r->nactions) continue;
            r->actions[id].rule_seen += lab_tab_u64(&cur);
            r->actions[id].rule_dropped += lab_tab_u64(&cur);
            r->actions[id].rule_delayed += lab_tab_u64(&cur);
            r->actions[id].rule_local_dropped += lab_tab_u64(&cur);
        } else if (!strcmp(kind, "tcp")) {
            r->tcp.connections = lab_tab_u64(&cur);
            r->tcp.syn_retransmits = lab_tab_u64(&cur);
            r->tcp.synack_retransmits = lab_tab_u64(&cur);
            r->tcp.tlp_probes = lab_tab_u64(&cur);
            r->tcp.rto_retransmits = lab_tab_u64(&cur);
            r->tcp.fast_retransmits = lab_tab_u64(&cur);
            r->tcp.resets_sent = lab_tab_u64(&cur);
            r->tcp.connect_failures = lab_tab_u64(&cur);
        } else if (!strcmp(kind, "pod")) {
            char *name = lab_tab_field(&cur);
            int restarts = (int)lab_tab_u64(&cur);
            uint64_t oom_app = lab_tab_u64(&cur);
            for (int i = 0; name && i < r->npods; i++) {
                if (strcmp(r->pods[i].pod, name)) continue;
                r->pods[i].restarts = restarts;
                r->pods[i].oom_kills_app = oom_app;
                r->pods[i].oom_kills_stressor -=
                    oom_app < r->pods[i].oom_kills_stressor ? oom_app : r->pods[i].oom_kills_stressor;
            }
        }
    }
    pclose(p);
}

/* ---- records ---- */

int lab_records_write(const char *path, const sim_req_record *recs, size_t n, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "start_ns,end_ns,outcome,success,status,step1_ok,step1_us,step2_ok,step2_us,attempts,cause\n");
    for (size_t i = 0; i < n; i++) {
        const sim_req_record *r = &recs[i];
        fprintf(f, "%lld,%lld,%u,%u,%d,%d,%d,%d,%d,%u,%u\n", (long long)r->start_ns, (long long)r->end_ns, r->outcome,
                r->success, r->status, r->step_ok[0], r->step_latency_us[0], r->step_ok[1], r->step_latency_us[1],
                r->attempts, r->cause);
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

int lab_records_read(const char *path, sim_req_record **out, size_t *count, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    size_t n = 0, cap = 0;
    sim_req_record *recs = NULL;
    while (fgets(line, sizeof line, f)) {
        long long s, e;
        unsigned outcome, success, attempts, cause = SIM_CAUSE_NONE;
        int status, ok0, us0, ok1, us1;
        int fields = sscanf(line, "%lld,%lld,%u,%u,%d,%d,%d,%d,%d,%u,%u", &s, &e, &outcome, &success, &status, &ok0,
                            &us0, &ok1, &us1, &attempts, &cause);
        if (fields < 10) continue; /* the header */
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            recs = realloc(recs, cap * sizeof *recs);
            if (!recs) abort();
        }
        sim_req_record *r = &recs[n++];
        memset(r, 0, sizeof *r);
        r->start_ns = s;
        r->end_ns = e;
        r->outcome = (uint8_t)outcome;
        r->success = (uint8_t)success;
        r->status = (int16_t)status;
        r->step_ok[0] = (int8_t)ok0;
        r->step_ok[1] = (int8_t)ok1;
        r->step_latency_us[0] = us0;
        r->step_latency_us[1] = us1;
        r->attempts = (uint8_t)attempts;
        /* records written before the cause column: what the outcome and status tell (a failed chain step's
         * cause was not kept, so it counts as other) */
        if (fields == 11 && cause <= SIM_CAUSE_OTHER)
            r->cause = (uint8_t)cause;
        else
            sim_req_set_cause(r, SIM_CAUSE_NONE);
    }
    fclose(f);
    *out = recs;
    *count = n;
    return 0;
}

/* ---- the report ---- */

static const char *LAB_TITLE = "payment-chaos lab (real binaries in network namespaces and cgroups)";

/* Which wire carried the faults (lab.sh writes LAB_DIR/wire.mode: "labwire 1"). */
static const char *wire_words(void) {
    const char *dir = getenv("LAB_DIR");
    char path[1024], mode[32] = "";
    snprintf(path, sizeof path, "%s/wire.mode", dir ? dir : ".");
    FILE *f = dir ? fopen(path, "r") : NULL;
    if (f) {
        if (fscanf(f, "%31s", mode) != 1) mode[0] = '\0';
        fclose(f);
    }
    if (!strcmp(mode, "labwire")) return "netem and tbf by bin/labwire on the pods' egress";
    if (!strcmp(mode, "kernel")) return "the kernel's netem and tbf on the pods' eth0";
    return "loss by nftables numgen in the node namespace";
}

void lab_report_text(FILE *out, const sim_options *o, const sim_result *r, double wall_s) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) return;
    report_text(m, o, r);
    fclose(m);
    char *save = NULL;
    int first = 1;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (first) {
            fprintf(out, "%s, seed %" PRIu64 "\n", LAB_TITLE, r->seed);
            first = 0;
            continue;
        }
        if (!strncmp(line, "invariants:", 11)) {
            fprintf(out, "invariants: not checked in the lab (bin/sim checks them)\n");
        } else if (!strncmp(line, "run:", 4)) {
            fprintf(out,
                    "run: %zu requests over %.1f s of wall-clock time (network faults: %s; partitions by nftables "
                    "in the pods; CPU and memory by stress-ng in the pods' cgroups)\n",
                    r->nrecords, wall_s, wire_words());
        } else {
            /* blank lines were eaten by strtok: the section headers follow one */
            if (!strncmp(line, "phase ", 6) || !strncmp(line, "chain step", 10) || !strncmp(line, "failures", 8) ||
                !strncmp(line, "chaos actions", 13) || !strncmp(line, "fault ledger", 12) ||
                !strncmp(line, "CPU (", 5) || !strncmp(line, "pods", 4) || !strncmp(line, "TCP:", 4))
                fputc('\n', out);
            fprintf(out, "%s\n", line);
        }
    }
    free(buf);
}

json_t *lab_report_json(const sim_options *o, const sim_result *r, double wall_s) {
    json_t *doc = report_json(o, r);
    json_object_set_new(doc, "source", json_string("lab"));
    json_object_set_new(doc, "invariants", json_pack("{s:b, s:s}", "violation", 0, "note", "not checked in the lab"));
    json_object_set_new(doc, "run",
                        json_pack("{s:I, s:f, s:s}", "requests", (json_int_t)r->nrecords, "wall_s", wall_s,
                                  "mechanisms",
                                  "loss: nftables numgen in the node namespace; CPU and memory: "
                                  "stress-ng in the pods' cgroups"));
    return doc;
}
