/*
 * engine_bench.c: events per second of the simulator's event engine alone (the "hold" model: a fixed
 * population of pending events, each of which reschedules itself at a random later time when it runs,
 * one cancel and re-arm per event as TCP timers do). Built and run by tests/bench/sim.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/rng.h"
#include "sim/engine/engine.h"

typedef struct item {
    pc_rng *rng;
    sim_event_id spare; /* a second timer that is re-armed each time, like an RTO behind a probe */
} item;

static void noop(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)ctx;
    (void)arg;
}

static void fire(sim_engine *e, void *ctx, uint64_t arg) {
    item *it = ctx;
    int64_t delay = 1 + (int64_t)pc_rng_below(it->rng, 2000000);
    sim_cancel(e, &it->spare);
    it->spare = sim_after(e, delay * 3, 2, arg, noop, it, 0);
    sim_after(e, delay, 1, arg, fire, it, arg);
}

int main(int argc, char **argv) {
    long population = argc > 1 ? atol(argv[1]) : 10000;
    long long target = argc > 2 ? atoll(argv[2]) : 20000000;
    sim_engine *e = sim_engine_new();
    pc_rng rng;
    pc_rng_init(&rng, 1, "bench");
    item *items = calloc((size_t)population, sizeof *items);
    for (long i = 0; i < population; i++) {
        items[i].rng = &rng;
        sim_after(e, (int64_t)pc_rng_below(&rng, 1000000), 1, (uint64_t)i, fire, &items[i], (uint64_t)i);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t done = 0;
    int64_t t = 0;
    while ((long long)done < target) {
        t += 100000000;
        done += sim_run_until(e, t);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf(
        "engine: %llu events with %ld pending in %.3f s = %.2f M events/s (one core; each event also cancels and "
        "re-arms a timer)\n",
        (unsigned long long)done, population, s, (double)done / s / 1e6);
    sim_engine_free(e);
    free(items);
    return 0;
}
