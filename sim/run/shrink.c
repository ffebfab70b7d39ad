/*
 * shrink.c: greedy reduction of a failing run (see shrink.h).
 *
 * Candidates are tried in a fixed order (drop a pod kill, drop client loss, drop link loss, halve the loss,
 * halve the chaos phase, halve the recovery, halve the baseline, halve the load, fewer retries); the first
 * one that still fails with the same seed is kept and the list restarts, until none helps. Every step is a
 * full deterministic run, so the result is reproducible and bounded (at most MAX_STEPS runs).
 */
#include "sim/run/shrink.h"
#include "base/units.h"

#include <inttypes.h>
#include <string.h>

#define MAX_STEPS 200

static int fails(const sim_options *o, const run_hooks *hooks, uint64_t seed, char *what, size_t whatlen) {
    run_hooks h = {0};
    if (hooks) {
        h.add_actions = hooks->add_actions;
        h.add_actions_ctx = hooks->add_actions_ctx;
    }
    sim_result r;
    char err[256];
    if (sim_run_once(o, seed, &h, &r, err, sizeof err) < 0) return 0;
    int f = r.violation.found;
    if (f && what) snprintf(what, whatlen, "%s", r.violation.what);
    sim_result_free(&r);
    return f;
}

/* Applies candidate `k` to `o`; returns 0 when it does not apply. */
static int candidate(sim_options *o, int k) {
    int nk = o->nkills;
    if (k < nk) {
        memmove(&o->kills[k], &o->kills[k + 1], (size_t)(nk - k - 1) * sizeof o->kills[0]);
        o->nkills--;
        return 1;
    }
    k -= nk;
    switch (k) {
    case 0:
        if (o->client_loss_pct <= 0) return 0;
        o->client_loss_pct = 0;
        return 1;
    case 1:
        if (o->loss_pct <= 0) return 0;
        o->loss_pct = 0;
        o->correlation_pct = 0;
        return 1;
    case 2:
        if (o->loss_pct < 2) return 0;
        o->loss_pct /= 2;
        return 1;
    case 3:
        if (o->client_loss_pct < 2) return 0;
        o->client_loss_pct /= 2;
        return 1;
    case 4:
        if (o->chaos_ns < 2 * SEC) return 0;
        o->chaos_ns /= 2;
        for (int i = 0; i < o->nkills; i++)
            if (o->kills[i].at_ns > o->chaos_ns) o->kills[i].at_ns = o->chaos_ns / 2;
        return 1;
    case 5:
        if (o->recovery_ns < 2 * SEC) return 0;
        o->recovery_ns /= 2;
        return 1;
    case 6:
        if (o->baseline_ns < 2 * SEC) return 0;
        o->baseline_ns /= 2;
        return 1;
    case 7:
        if (o->load.closed_loop || o->load.rate_per_s < 2) return 0;
        o->load.rate_per_s /= 2;
        return 1;
    case 8:
        if (o->load.client_retries < 1) return 0;
        o->load.client_retries--;
        return 1;
    case 9:
        if (o->services.retry.attempts < 2) return 0;
        o->services.retry.attempts--;
        return 1;
    case 10:
        if (o->cpu_workers < 1) return 0;
        o->cpu_workers = 0;
        return 1;
    default: return -1; /* no more candidates */
    }
}

/* The remaining faults as a Chaos Mesh Workflow (what can be expressed: loss between services, pod kills). */
static void write_yaml(const sim_options *o, uint64_t seed, const char *cmd, const char *path, FILE *out) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(out, "shrink: cannot write %s\n", path);
        return;
    }
    long chaos_s = (long)((o->chaos_ns + SEC - 1) / SEC);
    fprintf(f,
            "# Written by `bin/sim --shrink`: the smallest fault schedule found that still breaks an invariant\n"
            "# with seed %" PRIu64 ". Reproduce in the simulator with:\n#   %s\n",
            seed, cmd);
    if (o->client_loss_pct > 0)
        fprintf(f,
                "# Not expressible in Chaos Mesh: %g %% loss between the load clients and payment (the clients\n"
                "# are outside the cluster); apply it on the client side (e.g. tc/nftables) when reproducing.\n",
                o->client_loss_pct);
    fprintf(f,
            "apiVersion: chaos-mesh.org/v1alpha1\nkind: Workflow\nmetadata:\n  name: shrunk-seed-%" PRIu64
            "\n  namespace: payment-chaos\nspec:\n  entry: main\n  templates:\n    - name: main\n"
            "      templateType: Parallel\n      deadline: %lds\n      children:\n",
            seed, chaos_s + 5);
    if (o->loss_pct > 0) fprintf(f, "        - loss\n");
    for (int i = 0; i < o->nkills; i++) fprintf(f, "        - kill-%d\n", i);
    if (o->loss_pct > 0) {
        fprintf(f,
                "    - name: loss\n      templateType: NetworkChaos\n      deadline: %lds\n      networkChaos:\n"
                "        action: loss\n        mode: all\n        selector:\n          namespaces: [payment-chaos]\n"
                "        direction: to\n        target:\n          mode: all\n          selector:\n"
                "            namespaces: [payment-chaos]\n        externalTargets: [10.96.100.2, 10.96.100.3, "
                "10.96.100.4]\n        loss:\n          loss: \"%g\"\n",
                chaos_s, o->loss_pct);
    }
    for (int i = 0; i < o->nkills; i++) {
        const char *svc = svc_peer_name(o->kills[i].service);
        long at_ms = (long)(o->kills[i].at_ns / MS);
        fprintf(f,
                "    - name: kill-%d\n      templateType: Serial\n      deadline: %lds\n      children:\n"
                "        - wait-%d\n        - kill-%d-pod\n    - name: wait-%d\n      templateType: Suspend\n"
                "      deadline: %ldms\n    - name: kill-%d-pod\n      templateType: PodChaos\n      deadline: 1s\n"
                "      podChaos:\n        action: pod-kill\n        mode: one\n        selector:\n"
                "          namespaces: [payment-chaos]\n          labelSelectors:\n            app: %s-service\n",
                i, chaos_s + 5, i, i, i, at_ms > 0 ? at_ms : 1, i, svc);
    }
    fclose(f);
    fprintf(out, "shrink: wrote %s\n", path);
}

int shrink_run(const sim_options *orig, const run_hooks *hooks, uint64_t seed, FILE *out) {
    static sim_options o, trial;
    o = *orig;
    char what[512] = "";
    if (!fails(&o, hooks, seed, what, sizeof what)) {
        fprintf(out, "shrink: seed %" PRIu64 " does not fail with these options\n", seed);
        return -1;
    }
    int steps = 0, runs = 1;
    for (int progress = 1; progress && steps < MAX_STEPS;) {
        progress = 0;
        for (int k = 0; steps < MAX_STEPS; k++) {
            trial = o;
            int applies = candidate(&trial, k);
            if (applies < 0) break;
            if (!applies) continue;
            trial.load.stop_ns = trial.baseline_ns + trial.chaos_ns + trial.recovery_ns;
            runs++;
            steps++;
            if (fails(&trial, hooks, seed, what, sizeof what)) {
                o = trial;
                progress = 1;
                break;
            }
        }
    }
    char cmd[1024];
    sim_options_command(&o, seed, cmd, sizeof cmd);
    fprintf(out, "shrink: %d runs; smallest failing scenario found:\n  %s\n  still fails with: %s\n", runs, cmd, what);
    char path[64];
    snprintf(path, sizeof path, "shrunk-%" PRIu64 ".yaml", seed);
    write_yaml(&o, seed, cmd, path, out);
    return 0;
}
