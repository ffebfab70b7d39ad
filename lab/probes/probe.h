/*
 * probe.h: the two helpers the scheduler probes (wakeprobe.c, wakeidle.c) share: a clock read in
 * nanoseconds and pinning the calling thread to one CPU. Header-only, because each probe is compiled alone
 * by run-wake.sh (cc -O2 -pthread probe.c), outside the project's build.
 */
#ifndef LAB_PROBES_PROBE_H
#define LAB_PROBES_PROBE_H

#include <pthread.h>
#include <sched.h>
#include <time.h>

static inline long long probe_clock_ns(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Best effort: a probe pinned nowhere still measures, only less precisely. */
static inline void probe_pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

#endif
