/*
 * cpuprobe.c - probes for CFS bandwidth control windows (payment-chaos lab).
 *
 * Build: gcc -O2 -Wall -o cpuprobe cpuprobe.c
 *
 * Modes (all times are CLOCK_MONOTONIC; the output is plain text, one record per line):
 *
 *   cpuprobe spin DUR_S OUT
 *       Busy-spins for DUR_S seconds reading CLOCK_MONOTONIC and records every gap > 50 us
 *       (an interval in which this thread was not running).
 *       OUT: "# spin t0_ns=<abs> dur_ns=<wall> cpu_ns=<thread cpu> ngaps=<n>"
 *            then "g <start_rel_ns> <len_ns> <cpu_after_gap>" per gap.
 *
 *   cpuprobe tick DUR_S INTERVAL_US OUT
 *       Sleeps to absolute deadlines every INTERVAL_US (timer slack 1 ns) and records every wakeup
 *       that is more than 100 us late: a non-intrusive detector of when the group may run.
 *       OUT: "# tick ..." then "l <target_rel_ns> <late_ns> <cpu>" per late wakeup.
 *
 *   cpuprobe lat NSAMPLES X_US SEED OUT
 *       NSAMPLES times: pick a uniform 0..100 ms pause, sleep to that absolute deadline (the
 *       "arrival"), then consume X_US of thread CPU time (the "service"), then record
 *       wake_late = wakeup - arrival and total = finish - arrival.
 *       OUT: "# lat ..." then "s <arrival_rel_ns> <wake_late_ns> <total_ns> <cpu>" per sample.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static inline int64_t now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t t) {
    struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static uint64_t rng_state;
static uint64_t rng_next(void) {
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static FILE *open_out(const char *p) {
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(2);
    }
    return f;
}

static int mode_spin(double dur_s, const char *out) {
    const int64_t thr = 50000;
    size_t cap = 4000000, n = 0;
    int64_t *gs = malloc(cap * sizeof(int64_t)), *gl = malloc(cap * sizeof(int64_t));
    int *gc = malloc(cap * sizeof(int));
    if (!gs || !gl || !gc) return 2;
    memset(gs, 0, cap * sizeof(int64_t)); /* pre-fault */
    memset(gl, 0, cap * sizeof(int64_t));
    memset(gc, 0, cap * sizeof(int));
    int64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    int64_t t0 = now_ns(CLOCK_MONOTONIC), end = t0 + (int64_t)(dur_s * 1e9), prev = t0;
    for (;;) {
        int64_t t = now_ns(CLOCK_MONOTONIC);
        if (t - prev > thr && n < cap) {
            gs[n] = prev - t0;
            gl[n] = t - prev;
            gc[n] = sched_getcpu();
            n++;
        }
        prev = t;
        if (t >= end) break;
    }
    int64_t c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    FILE *f = open_out(out);
    fprintf(f, "# spin t0_ns=%lld dur_ns=%lld cpu_ns=%lld ngaps=%zu\n", (long long)t0, (long long)(prev - t0),
            (long long)(c1 - c0), n);
    for (size_t i = 0; i < n; i++) fprintf(f, "g %lld %lld %d\n", (long long)gs[i], (long long)gl[i], gc[i]);
    fclose(f);
    return 0;
}

static int mode_tick(double dur_s, long interval_us, const char *out) {
    size_t cap = 2000000, n = 0;
    int64_t *ts = malloc(cap * sizeof(int64_t)), *tl = malloc(cap * sizeof(int64_t));
    int *tc = malloc(cap * sizeof(int));
    if (!ts || !tl || !tc) return 2;
    memset(ts, 0, cap * sizeof(int64_t));
    memset(tl, 0, cap * sizeof(int64_t));
    memset(tc, 0, cap * sizeof(int));
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int64_t iv = interval_us * 1000LL;
    int64_t t0 = now_ns(CLOCK_MONOTONIC), end = t0 + (int64_t)(dur_s * 1e9);
    int64_t next = t0 + iv, c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), nwake = 0;
    while (next < end) {
        sleep_until(next);
        int64_t t = now_ns(CLOCK_MONOTONIC);
        nwake++;
        if (t - next > 100000 && n < cap) {
            ts[n] = next - t0;
            tl[n] = t - next;
            tc[n] = sched_getcpu();
            n++;
        }
        next += iv;
        if (next <= t) /* skip missed deadlines */
            next = t + iv - ((t - t0) % iv);
    }
    int64_t c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    FILE *f = open_out(out);
    fprintf(f, "# tick t0_ns=%lld dur_ns=%lld interval_ns=%lld wakes=%lld cpu_ns=%lld nlate=%zu\n", (long long)t0,
            (long long)(end - t0), (long long)iv, (long long)nwake, (long long)(c1 - c0), n);
    for (size_t i = 0; i < n; i++) fprintf(f, "l %lld %lld %d\n", (long long)ts[i], (long long)tl[i], tc[i]);
    fclose(f);
    return 0;
}

static int mode_lat(long nsamp, long x_us, unsigned long seed, const char *out) {
    int64_t *sa = calloc(nsamp, sizeof(int64_t)), *sw = calloc(nsamp, sizeof(int64_t)),
            *st = calloc(nsamp, sizeof(int64_t));
    int *sc = calloc(nsamp, sizeof(int));
    if (!sa || !sw || !st || !sc) return 2;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    rng_state = seed;
    int64_t x = x_us * 1000LL;
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    for (long i = 0; i < nsamp; i++) {
        int64_t pause = (int64_t)(rng_next() % 100000000ULL);
        int64_t arr = now_ns(CLOCK_MONOTONIC) + pause;
        sleep_until(arr);
        int64_t w = now_ns(CLOCK_MONOTONIC);
        if (x > 0) {
            int64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
            while (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0 < x)
                ;
        }
        int64_t fin = now_ns(CLOCK_MONOTONIC);
        sa[i] = arr - t0;
        sw[i] = w - arr;
        st[i] = fin - arr;
        sc[i] = sched_getcpu();
    }
    FILE *f = open_out(out);
    fprintf(f, "# lat t0_ns=%lld n=%ld x_us=%ld seed=%lu\n", (long long)t0, nsamp, x_us, seed);
    for (long i = 0; i < nsamp; i++)
        fprintf(f, "s %lld %lld %lld %d\n", (long long)sa[i], (long long)sw[i], (long long)st[i], sc[i]);
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "spin")) return mode_spin(atof(argv[2]), argv[3]);
    if (argc >= 5 && !strcmp(argv[1], "tick")) return mode_tick(atof(argv[2]), atol(argv[3]), argv[4]);
    if (argc >= 6 && !strcmp(argv[1], "lat"))
        return mode_lat(atol(argv[2]), atol(argv[3]), strtoul(argv[4], NULL, 10), argv[5]);
    fprintf(stderr,
            "usage: %s spin DUR_S OUT | tick DUR_S INTERVAL_US OUT | "
            "lat NSAMPLES X_US SEED OUT\n",
            argv[0]);
    return 1;
}
