/*
 * invariants.c: the checkers of invariants.h.
 */
#include "sim/run/invariants.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/inventory.h"
#include "services/payment.h"

struct sim_invariants {
    sim_cluster *cl;
    sim_load *ld;
    const sim_options *o;
    uint64_t seed;
    sim_violation v;
};

sim_invariants *invariants_new(sim_cluster *c, sim_load *l, const sim_options *o, uint64_t seed) {
    sim_invariants *inv = calloc(1, sizeof *inv);
    if (!inv) abort();
    inv->cl = c;
    inv->ld = l;
    inv->o = o;
    inv->seed = seed;
    return inv;
}

void invariants_free(sim_invariants *inv) { free(inv); }
const sim_violation *invariants_violation(const sim_invariants *inv) { return &inv->v; }

static void fail(sim_invariants *inv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(sim_invariants *inv, const char *fmt, ...) {
    if (inv->v.found) return;
    inv->v.found = 1;
    inv->v.at_ns = sim_now(cluster_engine(inv->cl));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(inv->v.what, sizeof inv->v.what, fmt, ap);
    va_end(ap);
}

int invariants_quiet(sim_invariants *inv) { return load_inflight(inv->ld) == 0 && cluster_quiet(inv->cl); }

static void check_stock(sim_invariants *inv) {
    sim_pod *pods[CLUSTER_MAX_PODS];
    int n = cluster_pods_of(inv->cl, SVC_INVENTORY, pods, CLUSTER_MAX_PODS);
    for (int i = 0; i < n; i++) {
        svc_shell *sh = pod_shell(pods[i]);
        if (!sh) continue;
        void *st = svc_shell_state(sh);
        for (size_t k = 0; k < inventory_product_count(st); k++) {
            inventory_stock s;
            inventory_product_stock(st, k, &s);
            if (!s.owned) continue;
            if (s.available < 0 || s.initial + s.restocked != s.available + s.reserved)
                fail(inv, "stock: product %s on %s: initial %lld + restocked %lld != available %lld + reserved %lld",
                     s.product_id, pod_name(pods[i]), (long long)s.initial, (long long)s.restocked,
                     (long long)s.available, (long long)s.reserved);
        }
    }
}

/* Calls fn for every payment on every running payment replica. */
static void each_payment(sim_invariants *inv, void (*fn)(sim_invariants *, sim_pod *, const payment *, void *),
                         void *ctx) {
    sim_pod *pods[CLUSTER_MAX_PODS];
    int n = cluster_pods_of(inv->cl, SVC_PAYMENT, pods, CLUSTER_MAX_PODS);
    for (int i = 0; i < n; i++) {
        svc_shell *sh = pod_shell(pods[i]);
        if (!sh) continue;
        void *st = svc_shell_state(sh);
        for (size_t k = 0; k < payment_count(st); k++) fn(inv, pods[i], payment_at(st, k), ctx);
    }
}

static void refund_check(sim_invariants *inv, sim_pod *pod, const payment *p, void *ctx) {
    (void)ctx;
    if (p->refunded_minor > p->amount_minor)
        fail(inv, "refunds: payment %s on %s has %lld refunded of %lld", p->id, pod_name(pod),
             (long long)p->refunded_minor, (long long)p->amount_minor);
}

typedef struct key_seen {
    char **keys;
    size_t n, cap;
} key_seen;

static void key_check(sim_invariants *inv, sim_pod *pod, const payment *p, void *ctx) {
    key_seen *ks = ctx;
    (void)pod;
    if (!p->idempotency_key ||
        (p->status != PAY_COMPLETED && p->status != PAY_REFUNDED && p->status != PAY_PARTIALLY_REFUNDED))
        return;
    for (size_t i = 0; i < ks->n; i++)
        if (!strcmp(ks->keys[i], p->idempotency_key)) {
            fail(inv, "once: idempotency key %s has two completed payments (the second is %s)", p->idempotency_key,
                 p->id);
            return;
        }
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 256;
        ks->keys = realloc(ks->keys, ks->cap * sizeof *ks->keys);
        if (!ks->keys) abort();
    }
    ks->keys[ks->n++] = p->idempotency_key;
}

static const payment *find_payment(sim_invariants *inv, const char *id) {
    sim_pod *pods[CLUSTER_MAX_PODS];
    int n = cluster_pods_of(inv->cl, SVC_PAYMENT, pods, CLUSTER_MAX_PODS);
    for (int i = 0; i < n; i++) {
        svc_shell *sh = pod_shell(pods[i]);
        if (!sh) continue;
        const payment *p = payment_find(svc_shell_state(sh), id);
        if (p) return p;
    }
    return NULL;
}

typedef struct held_ctx {
    sim_invariants *inv;
    sim_pod *pod;
} held_ctx;

static void held_check(void *ctx, const char *rid, const char *product_id, int64_t quantity) {
    held_ctx *h = ctx;
    if (strncmp(rid, "res-", 4) != 0) return; /* reserved directly by a client, not by a payment */
    const payment *p = find_payment(h->inv, rid + 4);
    int ok = p && (p->status == PAY_COMPLETED || p->status == PAY_PARTIALLY_REFUNDED) && p->quantity == quantity;
    if (!ok)
        fail(h->inv, "reserved: %s holds %lld of product %s on %s but payment %s is %s", rid, (long long)quantity,
             product_id, pod_name(h->pod), rid + 4, p ? payment_status_name(p->status) : "unknown");
}

static void completed_holds(sim_invariants *inv, sim_pod *pod, const payment *p, void *ctx) {
    (void)pod;
    (void)ctx;
    if (p->status != PAY_COMPLETED && p->status != PAY_PARTIALLY_REFUNDED) return;
    sim_pod *pods[CLUSTER_MAX_PODS];
    int n = cluster_pods_of(inv->cl, SVC_INVENTORY, pods, CLUSTER_MAX_PODS);
    int64_t held = 0;
    for (int i = 0; i < n; i++) {
        svc_shell *sh = pod_shell(pods[i]);
        if (sh) held += inventory_reservation_quantity(svc_shell_state(sh), p->reservation_id);
    }
    if (held != p->quantity)
        fail(inv, "reserved: completed payment %s should hold %lld of product %s, inventory holds %lld", p->id,
             (long long)p->quantity, p->product_id, (long long)held);
}

void invariants_check(sim_invariants *inv, int final) {
    if (inv->v.found) return;
    inv->v.checks++;
    check_stock(inv);
    each_payment(inv, refund_check, NULL);
    key_seen ks = {0};
    each_payment(inv, key_check, &ks);
    free(ks.keys);
    if (load_duplicate_acks(inv->ld))
        fail(inv, "once: a client was acknowledged two different payments for one Idempotency-Key");
    if (!final || inv->v.found) return;
    if (!invariants_quiet(inv)) return; /* the end-of-run checks need a quiet system; the report says so */
    inv->v.final_checked = 1;
    for (size_t i = 0; i < load_acked_count(inv->ld) && !inv->v.found; i++) {
        const sim_acked_payment *a = &load_acked(inv->ld)[i];
        const payment *p = find_payment(inv, a->payment_id);
        if (!p || (p->status != PAY_COMPLETED && p->status != PAY_REFUNDED && p->status != PAY_PARTIALLY_REFUNDED))
            fail(inv, "durable: payment %s was acknowledged to the client (key %s) but is %s", a->payment_id, a->key,
                 p ? payment_status_name(p->status) : "not retrievable");
    }
    sim_pod *pods[CLUSTER_MAX_PODS];
    int n = cluster_pods_of(inv->cl, SVC_INVENTORY, pods, CLUSTER_MAX_PODS);
    for (int i = 0; i < n && !inv->v.found; i++) {
        svc_shell *sh = pod_shell(pods[i]);
        if (!sh) continue;
        held_ctx h = {inv, pods[i]};
        inventory_foreach_held(svc_shell_state(sh), held_check, &h);
    }
    if (!inv->v.found) each_payment(inv, completed_holds, NULL);
}
