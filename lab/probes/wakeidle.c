/*
 * wakeidle.c: how long an idle vCPU takes to run a thread woken from the other vCPU (the host's part of
 * a wake-up: the guest's HLT exits through the hypervisor), and how often it takes much longer.
 *
 *   wakeidle N GAP_US
 *
 * A sender thread pinned to CPU 0 wakes up every GAP_US (absolute deadlines), reads CLOCK_MONOTONIC and
 * writes it into a pipe; a receiver thread pinned to CPU 1, blocked in read(), records now - sent. With
 * nothing else on CPU 1 the receiver's CPU is idle (halted) at each write. N samples; bounded to 60 s.
 * Prints the quantiles, the fraction above 200 us, 500 us and 1 ms, and a histogram of the slow ones;
 * DUMP=FILE writes every latency (ns). Used by run-wake.sh (section 4); results in
 * docs/measurements/cfs-stress.md (R10).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static int fds[2];
static long long *lat;
static int n_want, n_got;

static void *receiver(void *arg) {
    (void)arg;
    probe_pin_to(1);
    long long sent;
    while (n_got < n_want && read(fds[0], &sent, sizeof sent) == (ssize_t)sizeof sent) {
        if (sent < 0) break;
        lat[n_got++] = probe_clock_ns(CLOCK_MONOTONIC) - sent;
    }
    return NULL;
}

static int by_value(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: wakeidle N GAP_US\n");
        return 2;
    }
    n_want = atoi(argv[1]);
    long long gap = atoll(argv[2]) * 1000;
    if (n_want < 10 || n_want > 1000000 || gap < 100000) {
        fprintf(stderr, "wakeidle: N 10..1000000, GAP_US >= 100\n");
        return 2;
    }
    lat = calloc((size_t)n_want, sizeof *lat);
    if (!lat || pipe(fds) != 0) return 1;
    pthread_t r;
    pthread_create(&r, NULL, receiver, NULL);
    probe_pin_to(0);
    usleep(100000);
    long long next = probe_clock_ns(CLOCK_MONOTONIC) + gap, end = probe_clock_ns(CLOCK_MONOTONIC) + 60000000000LL;
    for (int i = 0; i < n_want && probe_clock_ns(CLOCK_MONOTONIC) < end; i++) {
        struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        long long now = probe_clock_ns(CLOCK_MONOTONIC);
        if (write(fds[1], &now, sizeof now) != (ssize_t)sizeof now) break;
        next += gap;
    }
    usleep(50000);
    long long stop = -1;
    if (write(fds[1], &stop, sizeof stop) < 0) return 1;
    pthread_join(r, NULL);
    int n = n_got;
    if (getenv("DUMP")) {
        FILE *f = fopen(getenv("DUMP"), "w");
        if (f) {
            for (int i = 0; i < n; i++) fprintf(f, "%lld\n", lat[i]);
            fclose(f);
        }
    }
    qsort(lat, (size_t)n, sizeof *lat, by_value);
    int over200 = 0, over500 = 0, over1000 = 0, hist[8] = {0};
    for (int i = 0; i < n; i++) {
        over200 += lat[i] > 200000;
        over500 += lat[i] > 500000;
        over1000 += lat[i] > 1000000;
        if (lat[i] > 200000) {
            int b = (int)(lat[i] / 250000); /* 0.25 ms bins from 0.25 ms */
            hist[b < 8 ? b : 7]++;
        }
    }
    printf(
        "n=%d gap=%lldus: p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f max %.0f us; >200us %.4f, >500us %.4f, >1ms %.4f; "
        "slow ones by 0.25 ms bins from 0: %d %d %d %d %d %d %d %d(+)\n",
        n, gap / 1000, lat[n / 2] / 1e3, lat[n * 9 / 10] / 1e3, lat[n * 99 / 100] / 1e3, lat[n * 999 / 1000] / 1e3,
        lat[n - 1] / 1e3, (double)over200 / n, (double)over500 / n, (double)over1000 / n, hist[0], hist[1], hist[2],
        hist[3], hist[4], hist[5], hist[6], hist[7]);
    free(lat);
    return 0;
}
