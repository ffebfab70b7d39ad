/*
 * report.c: text, JSON, CSV and SVG renderings of a run (see report.h).
 */
#include "sim/report/report.h"
#include "base/units.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

static double s_of(int64_t ns) { return (double)ns / 1e9; }

static const char *workload_line(const sim_options *o, char *buf, size_t len) {
    const load_config *l = &o->load;
    const char *what = l->workload == LOAD_PROCESS ? "POST /payment/process (Idempotency-Key)" : NULL;
    char endpoint[200];
    if (!what) {
        snprintf(endpoint, sizeof endpoint, "%s %s", l->method, l->path);
        what = endpoint;
    }
    if (l->burst)
        snprintf(buf, len, "%s, bursts of %d at once %g s into each phase, %s connections, client timeout %g s", what,
                 l->burst, s_of(l->burst_at_ns), l->keepalive ? "keep-alive" : "fresh", s_of(l->timeout_ns));
    else if (l->closed_loop)
        snprintf(buf, len, "%s, closed loop: %d clients, think %g ms, %s connections, client timeout %g s", what,
                 l->clients, (double)l->think_ns / 1e6, l->keepalive ? "keep-alive" : "fresh", s_of(l->timeout_ns));
    else
        snprintf(buf, len, "%s, open-loop Poisson %g/s, %s connections, client timeout %g s", what, l->rate_per_s,
                 l->keepalive ? "keep-alive" : "fresh", s_of(l->timeout_ns));
    return buf;
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

/* Throughput under the faults: how long each phase's burst took to be answered, or the closed-loop
 * clients' successful requests per second; nothing for an open-loop rate (its throughput is the rate). */
static void throughput_text(FILE *out, const sim_options *o, const sim_result *r) {
    const sim_phase_summary *p = r->summary.phase;
    if (o->load.burst)
        fprintf(out,
                "\nburst: %d requests at once, %g s into each phase; the last answered after %.3f s (baseline), "
                "%.3f s (chaos, x%.1f), %.3f s (recovery)\n",
                o->load.burst, s_of(o->load.burst_at_ns), p[0].max_ms / 1e3, p[1].max_ms / 1e3,
                ratio(p[1].max_ms, p[0].max_ms), p[2].max_ms / 1e3);
    else if (o->load.closed_loop)
        fprintf(out,
                "\nthroughput (%d closed-loop clients): %.2f ok/s (baseline), %.2f ok/s (chaos, x%.2f), %.2f ok/s "
                "(recovery)\n",
                o->load.clients, p[0].throughput_per_s, p[1].throughput_per_s,
                ratio(p[1].throughput_per_s, p[0].throughput_per_s), p[2].throughput_per_s);
}

static json_t *throughput_json(const sim_options *o, const sim_result *r) {
    const sim_phase_summary *p = r->summary.phase;
    if (o->load.burst)
        return json_pack("{s:s, s:i, s:f, s:{s:f, s:f, s:f}, s:f}", "kind", "burst", "requests", o->load.burst, "at_s",
                         s_of(o->load.burst_at_ns), "drain_s", "baseline", p[0].max_ms / 1e3, "chaos",
                         p[1].max_ms / 1e3, "recovery", p[2].max_ms / 1e3, "chaos_vs_baseline",
                         ratio(p[1].max_ms, p[0].max_ms));
    if (o->load.closed_loop)
        return json_pack("{s:s, s:i, s:{s:f, s:f, s:f}, s:f}", "kind", "closed_loop", "clients", o->load.clients,
                         "ok_per_s", "baseline", p[0].throughput_per_s, "chaos", p[1].throughput_per_s, "recovery",
                         p[2].throughput_per_s, "chaos_vs_baseline",
                         ratio(p[1].throughput_per_s, p[0].throughput_per_s));
    return NULL;
}

static const char *action_kind_text(const sim_chaos_action *a, char *buf, size_t len) {
    switch (a->kind) {
    case ACT_NETWORK:
        if (a->net_kind == NF_PARTITION)
            snprintf(buf, len, "partition (%s)", direction_name(a->dir));
        else if (a->net_kind == NF_BANDWIDTH)
            snprintf(buf, len, "bandwidth %.0f B/s", (double)a->tbf.rate_bytes_per_s);
        else {
            size_t n = 0;
            buf[0] = '\0';
            if (a->netem.loss_pct > 0)
                n += (size_t)snprintf(buf + n, len - n, "loss %g%%%s", a->netem.loss_pct,
                                      a->netem.loss_corr_pct > 0 ? "" : "");
            if (a->netem.loss_corr_pct > 0)
                n += (size_t)snprintf(buf + n, len - n, " corr %g%%", a->netem.loss_corr_pct);
            if (a->netem.latency_ns > 0 && n < len)
                n += (size_t)snprintf(buf + n, len - n, "%sdelay %gms", n ? " + " : "", a->netem.latency_ns / 1e6);
            if (a->netem.jitter_ns > 0 && n < len)
                n += (size_t)snprintf(buf + n, len - n, "±%gms", a->netem.jitter_ns / 1e6);
            if (a->netem.duplicate_pct > 0 && n < len)
                n += (size_t)snprintf(buf + n, len - n, "%sduplicate %g%%", n ? " + " : "", a->netem.duplicate_pct);
            if (a->netem.corrupt_pct > 0 && n < len)
                snprintf(buf + n, len - n, "%scorrupt %g%%", n ? " + " : "", a->netem.corrupt_pct);
        }
        break;
    case ACT_STRESS:
        if (a->cpu_workers && a->mem_bytes)
            snprintf(buf, len, "cpu %dx%d%% + memory %.1f MiB", a->cpu_workers, a->cpu_load, a->mem_bytes / MIB_F);
        else if (a->cpu_workers)
            snprintf(buf, len, "cpu %d workers x %d%%", a->cpu_workers, a->cpu_load);
        else
            snprintf(buf, len, "memory %.1f MiB in %d workers", a->mem_bytes / MIB_F, a->mem_workers);
        break;
    case ACT_POD_KILL: snprintf(buf, len, "pod-kill"); break;
    case ACT_POD_FAILURE: snprintf(buf, len, "pod-failure"); break;
    case ACT_CONTAINER_KILL: snprintf(buf, len, "container-kill"); break;
    }
    return buf;
}

static void pods_list(const sim_action_status *st, char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < st->npods && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", st->pods[i]);
    if (st->ntargets && n < len) {
        n += (size_t)snprintf(buf + n, len - n, " -> ");
        for (int i = 0; i < st->ntargets && n < len; i++)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", st->targets[i]);
    }
    if (!st->started) snprintf(buf, len, "(not started)");
}

static void text_header(FILE *out, const sim_options *o, const sim_result *r) {
    char buf[512];
    const cluster_spec *cs = &o->cluster;
    fprintf(out, "payment-chaos simulation, seed %" PRIu64 "\n", r->seed);
    sim_options_describe_faults(o, buf, sizeof buf);
    fprintf(out, "faults:   %s\n", buf);
    fprintf(out, "load:     %s\n", workload_line(o, buf, sizeof buf));
    fprintf(out, "cluster:  payment x%d, inventory x%d, notification x%d; %lldm CPU and %.0f MiB per pod; %d CPUs\n",
            cs->svc[0].replicas, cs->svc[1].replicas, cs->svc[2].replicas, (long long)cs->svc[0].cpu_limit_millis,
            cs->svc[0].mem_limit_bytes / MIB_F, cs->node_cpus);
    fprintf(out, "phases:   baseline 0-%g s, chaos %g-%g s, recovery %g-%g s\n\n", s_of(r->baseline_end_ns),
            s_of(r->baseline_end_ns), s_of(r->chaos_end_ns), s_of(r->chaos_end_ns), s_of(r->end_ns));
}

/* The phase table, and for the chain workload its two steps. */
static void text_phases(FILE *out, const sim_options *o, const run_summary *s) {
    fprintf(out, "%-10s %8s %8s %9s %9s %9s %9s %8s\n", "phase", "requests", "success", "p50 ms", "p90 ms", "p99 ms",
            "max ms", "ok/s");
    for (int i = 0; i < PHASES; i++) {
        const sim_phase_summary *p = &s->phase[i];
        fprintf(out, "%-10s %8zu %7.1f%% %9.2f %9.2f %9.2f %9.2f %8.2f\n", p->name, p->requests, 100 * p->success_rate,
                p->p50_ms, p->p90_ms, p->p99_ms, p->max_ms, p->throughput_per_s);
    }
    if (o->load.workload != LOAD_CHAIN) return;
    fprintf(out, "\n%-10s %30s   %30s\n", "chain step", "1 inventory check", "2 notification send");
    fprintf(out, "%-10s %9s %9s %10s   %9s %9s %10s\n", "phase", "success", "p50 ms", "p99 ms", "success", "p50 ms",
            "p99 ms");
    for (int i = 0; i < PHASES; i++) {
        const sim_phase_summary *p = &s->phase[i];
        fprintf(out, "%-10s %8.1f%% %9.2f %10.2f   %8.1f%% %9.2f %10.2f\n", p->name, 100 * p->step_success[0],
                p->step_p50_ms[0], p->step_p99_ms[0], 100 * p->step_success[1], p->step_p50_ms[1], p->step_p99_ms[1]);
    }
}

static void text_recovery(FILE *out, const run_summary *s) {
    const sim_phase_summary *ch = &s->phase[1];
    fprintf(out, "\nfailures during chaos: %zu of %zu requests: %zu timeouts, %zu resets, %zu refused, %zu HTTP errors",
            ch->requests - ch->successes, ch->requests, ch->timeouts, ch->resets, ch->refused, ch->http_errors);
    if (ch->other_failures) fprintf(out, ", %zu other", ch->other_failures);
    fputc('\n', out);
    if (!s->affected)
        fprintf(out, "recovery: the success rate never left the baseline's (within %.0f %%)\n",
                100 * RECOVERY_TOLERANCE);
    else if (s->recovery_s < 0)
        fprintf(out, "recovery: the success rate did not return to the baseline's before the end\n");
    else
        fprintf(out, "recovery: success rate back to the baseline's %.1f s after the chaos ended\n", s->recovery_s);
    if (s->latency_affected && s->latency_recovery_s >= 0)
        fprintf(out, "          p50 latency back within 1.5x the baseline's %.1f s after the chaos ended\n",
                s->latency_recovery_s);
    else if (s->latency_affected)
        fprintf(out, "          p50 latency did not return within 1.5x the baseline's before the end\n");
}

/* One chaos action: its window and pods, then what it did. */
static void text_action(FILE *out, const sim_action_row *a) {
    char what[512], pods[512], win[48];
    if (a->action.kind == ACT_POD_KILL || a->action.kind == ACT_CONTAINER_KILL)
        snprintf(win, sizeof win, "at %.1f", s_of(a->action.start_ns));
    else if (a->action.end_ns < 0)
        snprintf(win, sizeof win, "%.1f-end", s_of(a->action.start_ns));
    else
        snprintf(win, sizeof win, "%.1f-%.1f", s_of(a->action.start_ns), s_of(a->action.end_ns));
    pods_list(&a->status, pods, sizeof pods);
    fprintf(out, "%-34.34s %-26.26s %-15s %s\n", a->action.name, action_kind_text(&a->action, what, sizeof what), win,
            pods);
    if (a->action.kind == ACT_NETWORK && a->rule_seen) {
        fprintf(out, "%-34s realized: %" PRIu64 " packets through it, %" PRIu64 " dropped (%.1f %%)", "", a->rule_seen,
                a->rule_dropped + a->rule_local_dropped,
                100.0 * (double)(a->rule_dropped + a->rule_local_dropped) / (double)a->rule_seen);
        if (a->rule_delayed) fprintf(out, ", %" PRIu64 " delayed", a->rule_delayed);
        fprintf(out, "\n");
    } else if (a->action.kind == ACT_NETWORK && a->status.started) {
        fprintf(out, "%-34s realized: no packet matched it\n", "");
    }
    if (a->rule_lost)
        fprintf(out, "%-34s %" PRIu64 " matching packets got another object's netem instead (no stacking)\n", "",
                a->rule_lost);
    if (a->status.stressor_oom_kills)
        fprintf(out, "%-34s memStress workers OOM-killed and respawned %" PRIu64 " times\n", "",
                a->status.stressor_oom_kills);
}

static void text_actions(FILE *out, const sim_result *r) {
    if (!r->nactions) return;
    fprintf(out, "\nchaos actions\n%-34s %-26s %-15s %s\n", "name", "what", "window s", "pods");
    for (int i = 0; i < r->nactions; i++) text_action(out, &r->actions[i]);
}

static void text_ledger(FILE *out, const sim_result *r) {
    fprintf(out, "\nfault ledger (every packet each side sent, by destination as written in the packet)\n");
    fprintf(out, "%-13s %-28s %9s %9s %9s %8s\n", "from", "to", "packets", "faulted", "dropped", "loss");
    for (size_t i = 0; i < r->nledger; i++) {
        const sim_ledger_row *l = &r->ledger[i];
        uint64_t lost = l->dropped + l->local_dropped;
        fprintf(out, "%-13s %-28s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %7.1f%%", l->src, l->dst, l->seen, l->faulted,
                lost, l->seen ? 100.0 * (double)lost / (double)l->seen : 0.0);
        if (l->delayed) fprintf(out, "  (%" PRIu64 " delayed, mean %.1f ms)", l->delayed, l->mean_delay_ms);
        fprintf(out, "\n");
    }
}

/* CPU per pod: only the throttled or stressed pods when there are any. */
static void text_cpu(FILE *out, const sim_options *o, const sim_result *r) {
    const cluster_spec *cs = &o->cluster;
    int any_cpu = 0;
    for (int i = 0; i < r->npods; i++) any_cpu |= r->cpu[i].throttled_periods > 0 || r->cpu[i].stress_cpu_ms > 0;
    fprintf(out, "\nCPU (CFS bandwidth, %lldm per pod = %lld ms per 100 ms period)\n",
            (long long)cs->svc[0].cpu_limit_millis, (long long)cs->svc[0].cpu_limit_millis / 10);
    fprintf(out, "%-16s %9s %10s %14s %15s %14s\n", "pod", "periods", "throttled", "throttled ms", "service cpu ms",
            "stress cpu ms");
    for (int i = 0; i < r->npods; i++) {
        const sim_cpu_row *c = &r->cpu[i];
        if (any_cpu && !c->throttled_periods && c->stress_cpu_ms == 0) continue;
        fprintf(out, "%-16s %9" PRIu64 " %10" PRIu64 " %14.1f %15.1f %14.1f\n", c->pod, c->periods,
                c->throttled_periods, c->throttled_ms, c->work_cpu_ms, c->stress_cpu_ms);
    }
}

/* Pods: only when one restarted, was OOM-killed or grew past the service's own memory. */
static void text_pods(FILE *out, const sim_options *o, const sim_result *r) {
    int any_pod = 0;
    for (int i = 0; i < r->npods; i++)
        any_pod |= r->pods[i].restarts || r->pods[i].oom_kills_app || r->pods[i].oom_kills_stressor ||
                   r->pods[i].memory_peak_bytes > (int64_t)(o->cluster.app_rss_bytes);
    if (!any_pod) return;
    fprintf(out, "\npods\n%-16s %8s %12s %12s %14s %10s\n", "pod", "restarts", "mem peak MiB", "limit MiB",
            "OOM stressor", "OOM app");
    for (int i = 0; i < r->npods; i++) {
        const sim_pod_row *p = &r->pods[i];
        fprintf(out, "%-16s %8d %12.1f %12.1f %14" PRIu64 " %10" PRIu64 "\n", p->pod, p->restarts,
                p->memory_peak_bytes / MIB_F, p->memory_limit_bytes / MIB_F, p->oom_kills_stressor, p->oom_kills_app);
    }
}

static void text_tcp(FILE *out, const sim_options *o, const sim_result *r) {
    fprintf(out,
            "\nTCP: %" PRIu64 " connections, %" PRIu64 " SYN retransmissions, %" PRIu64
            " SYN-ACK retransmissions, %" PRIu64 " tail loss probes, %" PRIu64 " RTO retransmissions, %" PRIu64
            " fast retransmits, %" PRIu64 " resets, %" PRIu64 " failed connects\n",
            r->tcp.connections, r->tcp.syn_retransmits, r->tcp.synack_retransmits, r->tcp.tlp_probes,
            r->tcp.rto_retransmits, r->tcp.fast_retransmits, r->tcp.resets_sent, r->tcp.connect_failures);
    if (o->load.workload == LOAD_PROCESS) fprintf(out, "payments acknowledged to clients: %zu\n", r->acked);
}

static void text_invariants(FILE *out, const sim_options *o, const sim_result *r) {
    if (r->violation.found) {
        char cmd[1024];
        sim_options_command(o, r->seed, cmd, sizeof cmd);
        fprintf(out, "\nINVARIANT VIOLATION at %.3f s: %s\n  seed %" PRIu64 "; reproduce with: %s\n",
                s_of(r->violation.at_ns), r->violation.what, r->seed, cmd);
    } else if (r->violation.final_checked) {
        fprintf(out,
                "invariants: hold (checked %" PRIu64
                " times: stock conservation, refunds, one payment per key; "
                "at the end: acknowledged payments durable, no reservation without a payment)\n",
                r->violation.checks);
    } else {
        fprintf(out,
                "invariants: hold while running (checked %" PRIu64
                " times); the end-of-run checks did not run: "
                "the system was not quiet by %.1f s (a pod restarting or work still owed)\n",
                r->violation.checks, s_of(r->drained_ns));
    }
}

void report_text(FILE *out, const sim_options *o, const sim_result *r) {
    text_header(out, o, r);
    text_phases(out, o, &r->summary);
    throughput_text(out, o, r);
    text_recovery(out, &r->summary);
    text_actions(out, r);
    text_ledger(out, r);
    text_cpu(out, o, r);
    text_pods(out, o, r);
    text_tcp(out, o, r);
    text_invariants(out, o, r);
    fprintf(out, "run: %" PRIu64 " events over %.1f simulated seconds, trace hash %016" PRIx64 "\n", r->events,
            s_of(r->drained_ns), r->trace_hash);
}

void report_perf(FILE *out, const sim_result *r) {
    double wall = r->wall_s > 0 ? r->wall_s : 1e-9;
    fprintf(out,
            "perf: %" PRIu64
            " events in %.3f s wall = %.2f M events/s; %.1f s simulated = %.0fx faster than real time\n",
            r->events, r->wall_s, (double)r->events / wall / 1e6, s_of(r->drained_ns), s_of(r->drained_ns) / wall);
}

static json_t *phase_json(const sim_phase_summary *p) {
    json_t *o = json_pack("{s:s, s:f, s:f, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "phase", p->name, "from_s",
                          s_of(p->from_ns), "to_s", s_of(p->to_ns), "requests", (json_int_t)p->requests, "successes",
                          (json_int_t)p->successes, "success_rate", p->success_rate, "p50_ms", p->p50_ms, "p90_ms",
                          p->p90_ms, "p99_ms", p->p99_ms, "max_ms", p->max_ms, "mean_ms", p->mean_ms,
                          "throughput_per_s", p->throughput_per_s);
    json_object_set_new(o, "failures",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)(p->requests - p->successes),
                                  "timeouts", (json_int_t)p->timeouts, "resets", (json_int_t)p->resets, "refused",
                                  (json_int_t)p->refused, "http_errors", (json_int_t)p->http_errors, "other",
                                  (json_int_t)p->other_failures));
    static const char *const step_names[2] = {"inventory", "notification"};
    json_t *steps = json_object();
    for (int k = 0; k < 2; k++)
        json_object_set_new(steps, step_names[k],
                            json_pack("{s:I, s:f, s:f, s:f}", "count", (json_int_t)p->step_n[k], "success_rate",
                                      p->step_success[k], "p50_ms", p->step_p50_ms[k], "p99_ms", p->step_p99_ms[k]));
    json_object_set_new(o, "steps", steps);
    return o;
}

static json_t *action_json(const sim_action_row *a) {
    char buf[512];
    json_t *pods = json_array(), *targets = json_array();
    for (int k = 0; k < a->status.npods; k++) json_array_append_new(pods, json_string(a->status.pods[k]));
    for (int k = 0; k < a->status.ntargets; k++) json_array_append_new(targets, json_string(a->status.targets[k]));
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:f, s:f, s:o, s:o}", "name", a->action.name, "kind", a->action.kind_name, "what",
                  action_kind_text(&a->action, buf, sizeof buf), "start_s", s_of(a->action.start_ns), "end_s",
                  a->action.end_ns < 0 ? -1.0 : s_of(a->action.end_ns), "pods", pods, "targets", targets);
    if (a->action.kind == ACT_NETWORK)
        json_object_set_new(
            j, "realized",
            json_pack("{s:I, s:I, s:I, s:I, s:f}", "packets", (json_int_t)a->rule_seen, "dropped",
                      (json_int_t)(a->rule_dropped + a->rule_local_dropped), "delayed", (json_int_t)a->rule_delayed,
                      "overridden", (json_int_t)a->rule_lost, "loss",
                      a->rule_seen ? (double)(a->rule_dropped + a->rule_local_dropped) / (double)a->rule_seen : 0.0));
    if (a->status.stressor_oom_kills)
        json_object_set_new(j, "stressor_oom_kills", json_integer((json_int_t)a->status.stressor_oom_kills));
    return j;
}

static json_t *ledger_json(const sim_result *r) {
    json_t *ledger = json_array();
    for (size_t i = 0; i < r->nledger; i++) {
        const sim_ledger_row *l = &r->ledger[i];
        uint64_t lost = l->dropped + l->local_dropped;
        json_array_append_new(
            ledger, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f}", "from", l->src, "to", l->dst, "packets",
                              (json_int_t)l->seen, "faulted", (json_int_t)l->faulted, "dropped", (json_int_t)lost,
                              "delayed", (json_int_t)l->delayed, "loss", l->seen ? (double)lost / (double)l->seen : 0.0,
                              "mean_delay_ms", l->mean_delay_ms));
    }
    return ledger;
}

/* Per pod: CPU and memory together. */
static json_t *pods_json(const sim_result *r) {
    json_t *cpu = json_array();
    for (int i = 0; i < r->npods; i++) {
        const sim_cpu_row *c = &r->cpu[i];
        json_array_append_new(
            cpu, json_pack(
                     "{s:s, s:I, s:I, s:f, s:f, s:f, s:i, s:f, s:I, s:I}", "pod", c->pod, "periods",
                     (json_int_t)c->periods, "throttled_periods", (json_int_t)c->throttled_periods, "throttled_ms",
                     c->throttled_ms, "service_cpu_ms", c->work_cpu_ms, "stress_cpu_ms", c->stress_cpu_ms, "restarts",
                     r->pods[i].restarts, "memory_peak_mib", r->pods[i].memory_peak_bytes / MIB_F, "oom_kills_stressor",
                     (json_int_t)r->pods[i].oom_kills_stressor, "oom_kills_app", (json_int_t)r->pods[i].oom_kills_app));
    }
    return cpu;
}

static json_t *tcp_json(const sim_result *r) {
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connections", (json_int_t)r->tcp.connections,
                     "syn_retransmits", (json_int_t)r->tcp.syn_retransmits, "synack_retransmits",
                     (json_int_t)r->tcp.synack_retransmits, "tail_loss_probes", (json_int_t)r->tcp.tlp_probes,
                     "rto_retransmits", (json_int_t)r->tcp.rto_retransmits, "fast_retransmits",
                     (json_int_t)r->tcp.fast_retransmits, "resets", (json_int_t)r->tcp.resets_sent);
}

static json_t *invariants_json(const sim_options *o, const sim_result *r) {
    json_t *inv = json_pack("{s:b, s:b, s:I}", "violation", r->violation.found, "end_checks_ran",
                            r->violation.final_checked, "checks", (json_int_t)r->violation.checks);
    if (r->violation.found) {
        char cmd[1024];
        sim_options_command(o, r->seed, cmd, sizeof cmd);
        json_object_set_new(inv, "what", json_string(r->violation.what));
        json_object_set_new(inv, "at_s", json_real(s_of(r->violation.at_ns)));
        json_object_set_new(inv, "reproduce", json_string(cmd));
    }
    return inv;
}

json_t *report_json(const sim_options *o, const sim_result *r) {
    char buf[512];
    json_t *doc = json_object();
    json_object_set_new(doc, "seed", json_integer((json_int_t)r->seed));
    sim_options_describe_faults(o, buf, sizeof buf);
    json_object_set_new(doc, "faults", json_string(buf));
    json_object_set_new(doc, "load", json_string(workload_line(o, buf, sizeof buf)));
    json_object_set_new(doc, "phases_s",
                        json_pack("{s:f, s:f, s:f}", "baseline_end", s_of(r->baseline_end_ns), "chaos_end",
                                  s_of(r->chaos_end_ns), "end", s_of(r->end_ns)));
    json_t *phases = json_array();
    for (int i = 0; i < PHASES; i++) json_array_append_new(phases, phase_json(&r->summary.phase[i]));
    json_object_set_new(doc, "phases", phases);
    json_t *tp = throughput_json(o, r);
    if (tp) json_object_set_new(doc, "throughput", tp);
    json_object_set_new(doc, "recovery_s", json_real(r->summary.recovery_s));
    json_object_set_new(doc, "latency_recovery_s", json_real(r->summary.latency_recovery_s));
    json_t *actions = json_array();
    for (int i = 0; i < r->nactions; i++) json_array_append_new(actions, action_json(&r->actions[i]));
    json_object_set_new(doc, "actions", actions);
    json_object_set_new(doc, "ledger", ledger_json(r));
    json_object_set_new(doc, "pods", pods_json(r));
    json_object_set_new(doc, "tcp", tcp_json(r));
    json_object_set_new(doc, "invariants", invariants_json(o, r));
    char hash[24];
    snprintf(hash, sizeof hash, "%016" PRIx64, r->trace_hash);
    json_object_set_new(doc, "run",
                        json_pack("{s:I, s:f, s:s}", "events", (json_int_t)r->events, "simulated_s",
                                  s_of(r->drained_ns), "trace_hash", hash));
    return doc;
}

int report_csv(const char *path, const sim_result *r, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    fprintf(f, "second,phase,requests,successes,success_rate,p50_ms,p99_ms\n");
    for (size_t i = 0; i < r->summary.timeline_len; i++) {
        const sim_timeline_point *t = &r->summary.timeline[i];
        int64_t at = t->second * SEC;
        const char *phase = at < r->baseline_end_ns ? "baseline" : at < r->chaos_end_ns ? "chaos" : "recovery";
        fprintf(f, "%lld,%s,%zu,%zu,%.4f,%.3f,%.3f\n", (long long)t->second, phase, t->requests, t->successes,
                t->success_rate, t->p50_ms, t->p99_ms);
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

/* ---- SVG chart ---- */

#define W 960
#define H 520
#define L 70
#define R 110
#define TOP1 50
#define H1 150
#define TOP2 250
#define H2 220

static double lat_y(double ms, double max_log) {
    double v = ms < 0.1 ? 0.1 : ms;
    double frac = (log10(v) + 1) / (max_log + 1); /* 0.1 ms at the bottom */
    return TOP2 + H2 - frac * H2;
}

/* Titles, the chaos windows (the phase shaded, each action a bar below the chart) and the axes. */
static void svg_frame(FILE *f, const sim_options *o, const sim_result *r, double total, double max_log) {
    double xs = (W - L - R) / total;
    char faults[256];
    sim_options_describe_faults(o, faults, sizeof faults);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H);
    fprintf(f,
            "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">payment-chaos simulation, seed %" PRIu64
            "</text>\n<text x=\"%d\" y=\"38\" fill=\"#555\">%s</text>\n",
            L, r->seed, L, faults);
    fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#f4c7c3\" opacity=\"0.45\"/>\n",
            L + s_of(r->baseline_end_ns) * xs, TOP1, (s_of(r->chaos_end_ns) - s_of(r->baseline_end_ns)) * xs,
            TOP2 + H2 - TOP1);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#a33\">chaos</text>\n", L + s_of(r->baseline_end_ns) * xs + 4,
            TOP1 + 12);
    for (int i = 0; i < r->nactions; i++) {
        const sim_chaos_action *a = &r->actions[i].action;
        double s0 = s_of(a->start_ns), s1 = a->end_ns < 0 ? total : s_of(a->end_ns);
        if (a->kind == ACT_POD_KILL || a->kind == ACT_CONTAINER_KILL) s1 = s0 + 0.3;
        fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"6\" fill=\"#c0392b\"><title>%s</title></rect>\n",
                L + s0 * xs, TOP2 + H2 + 22 + 8 * (i % 6), (s1 - s0) * xs, a->name);
    }
    fprintf(f, "<g stroke=\"#999\" fill=\"none\">\n");
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", L, TOP1, W - L - R, H1);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n</g>\n", L, TOP2, W - L - R, H2);
    for (int pct = 0; pct <= 100; pct += 50)
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n", L - 6,
                TOP1 + H1 - pct / 100.0 * H1 + 4, pct);
    fprintf(f, "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\">success rate</text>\n", TOP1 + H1 - 20,
            TOP1 + H1 - 20);
    for (int d = -1; d <= (int)max_log; d++) {
        double y = lat_y(pow(10, d), max_log);
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", L, W - R, y, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g ms</text>\n", L - 6, y + 4, pow(10, d));
    }
    fprintf(f, "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\">latency (log)</text>\n", TOP2 + H2 - 40,
            TOP2 + H2 - 40);
    for (double t = 0; t <= total + 1e-9; t += total > 300 ? 60 : total > 100 ? 20 : 10)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%gs</text>\n", L + t * xs, TOP2 + H2 + 14, t);
}

/* Success rate, p50 and p99 per second, each named at its last point. */
static void svg_series(FILE *f, const sim_result *r, double total, double max_log) {
    double xs = (W - L - R) / total;
    const char *colors[3] = {"#1a7f37", "#1f6feb", "#d29922"};
    for (int series = 0; series < 3; series++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", colors[series]);
        double last_y = 0;
        for (size_t i = 0; i < r->summary.timeline_len; i++) {
            const sim_timeline_point *t = &r->summary.timeline[i];
            if (!t->requests) continue;
            double x = L + ((double)t->second + 0.5) * xs;
            double y =
                series == 0 ? TOP1 + H1 - t->success_rate * H1 : lat_y(series == 1 ? t->p50_ms : t->p99_ms, max_log);
            fprintf(f, "%.1f,%.1f ", x, y);
            last_y = y;
        }
        fprintf(f, "\"/>\n<text x=\"%d\" y=\"%.1f\" fill=\"%s\">%s</text>\n", W - R + 6, last_y + 4, colors[series],
                series == 0   ? "success"
                : series == 1 ? "p50"
                              : "p99");
    }
}

/* The label, XML-escaped, drawn over the subtitle's place; last, so it stays on top. */
static void svg_label(FILE *f, const char *label) {
    fprintf(f, "<text x=\"%d\" y=\"38\" fill=\"#555\">", L);
    for (const char *p = label; *p; p++) {
        if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else
            fputc(*p, f);
    }
    fprintf(f, "</text>\n");
}

void report_svg_write(FILE *f, const sim_options *o, const sim_result *r, const char *label) {
    double total = s_of(r->end_ns) > 0 ? s_of(r->end_ns) : 1;
    double max_ms = 1;
    for (size_t i = 0; i < r->summary.timeline_len; i++)
        if (r->summary.timeline[i].p99_ms > max_ms) max_ms = r->summary.timeline[i].p99_ms;
    double max_log = ceil(log10(max_ms));
    svg_frame(f, o, r, total, max_log);
    svg_series(f, r, total, max_log);
    if (label) svg_label(f, label);
    fprintf(f, "</svg>\n");
}

int report_svg(const char *path, const sim_options *o, const sim_result *r, const char *label, char *err,
               size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    report_svg_write(f, o, r, label);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}
