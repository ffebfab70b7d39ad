/*
 * timerlate.c: how late a timerfd armed as bin/labwire arms it (absolute CLOCK_MONOTONIC, 1 ns timer
 * slack, woken through epoll) fires on this machine, with and without SCHED_FIFO. It separates the
 * timer's own lateness from the wire's: the wire's ledger reports how late it released delayed frames.
 *
 *   cc -O2 -Wall -o timerlate lab/probes/timerlate.c && ./timerlate [COUNT] [fifo|other]
 *
 * Arms COUNT (default 10000) timers, each 0.5-2.5 ms ahead (a fixed pseudo-random sequence), waits for
 * each and prints the lateness quantiles. SCHED_FIFO needs root; when refused it says so and measures as
 * an ordinary thread. Compiled alone, outside the project's build, as the other probes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "probe.h"

static int by_value(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 10000;
    int fifo = argc > 2 ? strcmp(argv[2], "other") != 0 : 1;
    if (count < 100 || count > 1000000) {
        fprintf(stderr, "usage: timerlate [COUNT 100..1000000] [fifo|other]\n");
        return 2;
    }
    prctl(PR_SET_TIMERSLACK, 1UL);
    if (fifo) {
        struct sched_param sp = {.sched_priority = 10};
        if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) {
            fprintf(stderr, "timerlate: SCHED_FIFO refused (%s): measuring as an ordinary thread\n", strerror(errno));
            fifo = 0;
        }
    }
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (tfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
        perror("timerlate: timerfd/epoll");
        return 1;
    }
    int64_t *late = malloc((size_t)count * sizeof *late);
    if (!late) return 1;
    uint64_t x = 88172645463325252ULL; /* xorshift64: the same delays every run */
    for (int i = 0; i < count; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t due = probe_clock_ns(CLOCK_MONOTONIC) + 500000 + (int64_t)(x % 2000000);
        struct itimerspec its = {.it_value = {.tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL}};
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        struct epoll_event got;
        int woken;
        do woken = epoll_wait(ep, &got, 1, -1);
        while (woken < 0 && errno == EINTR);
        uint64_t expirations; /* read only to re-arm the descriptor's readiness */
        ssize_t n = read(tfd, &expirations, sizeof expirations);
        (void)n;
        late[i] = probe_clock_ns(CLOCK_MONOTONIC) - due;
    }
    qsort(late, (size_t)count, sizeof *late, by_value);
    printf("timerlate: %s, %d timers of 0.5-2.5 ms: late by p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.2f ms\n",
           fifo ? "SCHED_FIFO 10" : "ordinary thread", count, late[count / 2] / 1e3, late[count * 99 / 100] / 1e3,
           late[count * 999 / 1000] / 1e3, late[count - 1] / 1e6);
    free(late);
    return 0;
}
