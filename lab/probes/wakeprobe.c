/*
 * wakeprobe.c: how late a sleeping thread runs after its wake-up time, beside CPU hogs (is a thread that
 * wakes preempted into the CPU at once, or does it wait for the running task's slice or the next tick?).
 *
 *   wakeprobe HOGS N BURST_US
 *
 * Starts HOGS spinning threads pinned to CPU 1 (same process, so same cgroup), then N times: sleeps until
 * an absolute time drawn from U(0.2 ms, 2 ms) ahead (CLOCK_MONOTONIC, timer slack 1 ns), records
 * now - deadline (the lateness), and burns BURST_US of wall time, as a request handler would.
 * Environment: NOPIN=1 lets the probe thread run on any CPU (default: pinned to CPU 1 with the hogs);
 * DUTY=L makes the hogs stress-ng-like (10 ms of CPU, then a sleep of (100 - L) / L of that);
 * DUMP=FILE writes every wake-up as "lateness deadline" (ns; the deadline from the start), in order. Bounded: stops after 20 s whatever N is.
 * Prints the fraction of wake-ups more than 200 us late and the lateness quantiles.
 * Used by run-wake.sh; results in docs/measurements/cfs-stress.md (R8).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

#include "probe.h"

static atomic_int stop;
static int duty = 100;

static void *hog(void *arg) {
    (void)arg;
    probe_pin_to(1);
    volatile unsigned long x = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (duty >= 100) {
            for (int i = 0; i < 100000; i++) x++;
            continue;
        }
        long long c0 = probe_clock_ns(CLOCK_THREAD_CPUTIME_ID);
        while (probe_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0 < 10000000LL) x++;
        struct timespec pause = {0, 10000000LL * (100 - duty) / duty};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static int by_value(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: wakeprobe HOGS N BURST_US\n");
        return 2;
    }
    int hogs = atoi(argv[1]), n = atoi(argv[2]);
    long long burst_ns = atoll(argv[3]) * 1000;
    if (hogs < 0 || hogs > 8 || n < 1) {
        fprintf(stderr, "wakeprobe: HOGS 0..8, N >= 1\n");
        return 2;
    }
    if (getenv("DUTY")) duty = atoi(getenv("DUTY"));
    if (duty < 1) duty = 1;
    prctl(PR_SET_TIMERSLACK, 1);
    pthread_t threads[8];
    for (int i = 0; i < hogs; i++) pthread_create(&threads[i], NULL, hog, NULL);
    if (!getenv("NOPIN")) probe_pin_to(1);
    long long *late = malloc((size_t)n * sizeof *late), *when = malloc((size_t)n * sizeof *when);
    if (!late || !when) return 1;
    unsigned r = 12345;
    long long start = probe_clock_ns(CLOCK_MONOTONIC), end = start + 20000000000LL;
    int done = 0;
    while (done < n && probe_clock_ns(CLOCK_MONOTONIC) < end) {
        r = r * 1103515245u + 12345u;
        long long deadline = probe_clock_ns(CLOCK_MONOTONIC) + 200000 + (r >> 8) % 1800000;
        struct timespec ts = {deadline / 1000000000LL, deadline % 1000000000LL};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        when[done] = deadline - start;
        late[done++] = probe_clock_ns(CLOCK_MONOTONIC) - deadline;
        long long b = probe_clock_ns(CLOCK_MONOTONIC);
        while (probe_clock_ns(CLOCK_MONOTONIC) - b < burst_ns) {
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < hogs; i++) pthread_join(threads[i], NULL);
    if (getenv("DUMP")) {
        FILE *f = fopen(getenv("DUMP"), "w");
        if (f) {
            for (int i = 0; i < done; i++) fprintf(f, "%lld %lld\n", late[i], when[i]);
            fclose(f);
        }
    }
    qsort(late, (size_t)done, sizeof *late, by_value);
    int over = 0;
    for (int i = 0; i < done; i++) over += late[i] > 200000;
    printf(
        "hogs=%d duty=%d burst=%lldus n=%d: late >200us %.3f; lateness us p10 %.0f p50 %.0f p90 %.0f p99 %.0f max "
        "%.0f\n",
        hogs, duty, burst_ns / 1000, done, (double)over / done, late[done / 10] / 1e3, late[done / 2] / 1e3,
        late[done * 9 / 10] / 1e3, late[done * 99 / 100] / 1e3, late[done - 1] / 1e3);
    free(late);
    free(when);
    return 0;
}
