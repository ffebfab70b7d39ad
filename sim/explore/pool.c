/*
 * pool.c: runs of experiment units on threads (see pool.h).
 */
#include "sim/explore/pool.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct pool {
    const xp_item *items;
    xp_outcome *out;
    size_t n;
    atomic_size_t next;
    atomic_int error;
    char err[320];
    pthread_mutex_t lock;
} pool;

const char *pool_at_name(int at) {
    static const char *const names[XP_AT_COUNT] = {"inventory check", "notification send", "client request"};
    return at >= 0 && at < XP_AT_COUNT ? names[at] : "?";
}

static sim_fail_cause client_cause(const sim_req_record *r) {
    switch (r->outcome) {
    case SVC_CALL_TIMEOUT: return SIM_CAUSE_TIMEOUT;
    case SVC_CALL_REFUSED: return SIM_CAUSE_REFUSED;
    case SVC_CALL_RESET: return SIM_CAUSE_RESET;
    case SVC_CALL_OK: return SIM_CAUSE_HTTP;
    default: return SIM_CAUSE_OTHER;
    }
}

/* Each failed request of the chaos phase, at its first failed step (or the client's request). */
static void census(const sim_result *r, xp_outcome *o) {
    for (size_t i = 0; i < r->nrecords; i++) {
        const sim_req_record *q = &r->records[i];
        if (q->start_ns < r->baseline_end_ns || q->start_ns >= r->chaos_end_ns) continue;
        o->chaos_requests++;
        if (q->success) continue;
        int at = XP_AT_CLIENT;
        sim_fail_cause cause = client_cause(q);
        for (int s = 0; s < 2; s++)
            if (q->step_ok[s] == 0) {
                at = s;
                cause = q->step_cause[s] ? (sim_fail_cause)q->step_cause[s] : SIM_CAUSE_OTHER;
                break;
            }
        o->census[at][cause]++;
    }
}

static void reduce(const xp_item *it, const sim_result *r, xp_outcome *o) {
    memset(o, 0, sizeof *o);
    const sim_expectation *ex;
    int ne = experiment_unit_expectations(it->unit, &ex);
    for (int i = 0; i < XP_MAX_EXPECT; i++) o->value[i] = NAN;
    for (int i = 0; i < ne && i < XP_MAX_EXPECT; i++) o->value[i] = expect_eval(&ex[i], &r->summary).actual;
    o->failed = experiment_report_text(it->unit, NULL, it->o, r);
    o->violation = r->violation.found;
    for (int i = 0; i < r->nactions; i++) {
        const sim_action_row *a = &r->actions[i];
        o->touched += a->action.kind == ACT_NETWORK ? a->rule_seen : (uint64_t)a->status.npods;
    }
    census(r, o);
    o->retransmissions = r->tcp.syn_retransmits + r->tcp.rto_retransmits + r->tcp.tlp_probes;
}

static void *worker(void *arg) {
    pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n || atomic_load(&p->error)) break;
        const xp_item *it = &p->items[i];
        run_hooks h;
        memset(&h, 0, sizeof h);
        h.keep_records = 1;
        h.add_actions = experiment_add_actions;
        h.add_actions_ctx = (void *)(uintptr_t)it->unit;
        sim_result r;
        char err[256];
        if (sim_run_once(it->o, it->seed, &h, &r, err, sizeof err) < 0) {
            pthread_mutex_lock(&p->lock);
            if (!atomic_load(&p->error)) snprintf(p->err, sizeof p->err, "%s", err);
            atomic_store(&p->error, 1);
            pthread_mutex_unlock(&p->lock);
            break;
        }
        reduce(it, &r, &p->out[i]);
        sim_result_free(&r);
    }
    return NULL;
}

int pool_run(const xp_item *items, size_t n, xp_outcome *out, int threads, char *err, size_t errlen) {
    pool p;
    memset(&p, 0, sizeof p);
    p.items = items;
    p.out = out;
    p.n = n;
    atomic_init(&p.next, 0);
    atomic_init(&p.error, 0);
    pthread_mutex_init(&p.lock, NULL);
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if ((size_t)threads > n) threads = n ? (int)n : 1;
    pthread_t th[64];
    int started[64] = {0};
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&th[i], NULL, worker, &p) == 0;
    worker(&p); /* the calling thread works too (and alone, if no thread could start) */
    for (int i = 1; i < threads; i++)
        if (started[i]) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.lock);
    if (atomic_load(&p.error)) {
        snprintf(err, errlen, "%s", p.err);
        return -1;
    }
    return 0;
}
