/*
 * cgsample.c - samples a cgroup-v1 cpu/cpuacct group every INTERVAL_US from OUTSIDE the group
 * (so it does not consume the group's quota).
 *
 * Build: gcc -O2 -Wall -o cgsample cgsample.c
 * Usage: cgsample CGNAME DUR_S INTERVAL_US OUT
 *   reads /sys/fs/cgroup/cpu/CGNAME/cpu.stat and /sys/fs/cgroup/cpuacct/CGNAME/cpuacct.usage_percpu
 * OUT: "# cgsample ... t0_ns=<CLOCK_MONOTONIC> t0_realtime_ns=<CLOCK_REALTIME> ..." then one line per sample:
 *   "<t_rel_ns> <nr_periods> <nr_throttled> <throttled_time_ns> <usage_cpu0_ns> <usage_cpu1_ns> ..."
 * Runs SCHED_FIFO 50 (root) unless CGSAMPLE_NO_RT is set.
 * SIGTERM/SIGINT end the sampling early; the samples taken so far are written.
 * nr_periods steps mark the period-timer firings (the quota refills), so the phase of the
 * period is known to +-INTERVAL_US; usage_percpu is charged at ticks/context switches.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAXCPU 16

static volatile sig_atomic_t stop;
static void on_sig(int s) {
    (void)s;
    stop = 1;
}

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int readfile(int fd, char *buf, size_t len) {
    ssize_t r = pread(fd, buf, len - 1, 0);
    if (r < 0) return -1;
    buf[r] = 0;
    return 0;
}

static long long field(const char *buf, const char *key) {
    const char *p = strstr(buf, key);
    if (!p) return -1;
    return atoll(p + strlen(key));
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s CGNAME DUR_S INTERVAL_US OUT\n", argv[0]);
        return 1;
    }
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "/sys/fs/cgroup/cpu/%s/cpu.stat", argv[1]);
    snprintf(p2, sizeof p2, "/sys/fs/cgroup/cpuacct/%s/cpuacct.usage_percpu", argv[1]);
    int f1 = open(p1, O_RDONLY), f2 = open(p2, O_RDONLY);
    if (f1 < 0 || f2 < 0) {
        perror("open");
        return 2;
    }
    double dur = atof(argv[2]);
    int64_t iv = atol(argv[3]) * 1000LL;
    size_t cap = (size_t)(dur * 1e9 / iv) + 16, n = 0;
    int64_t *rows = calloc(cap * (4 + MAXCPU), sizeof(int64_t));
    int ncpu = 0;
    if (!rows) return 2;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    /* Run as SCHED_FIFO when allowed so that the samples are not delayed by the group's hogs
	   (otherwise a SCHED_OTHER sampler is often late by 2-5 ms right at each refill). */
    if (!getenv("CGSAMPLE_NO_RT")) {
        struct sched_param sp = {.sched_priority = 50};
        if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) perror("sched_setscheduler (continuing as SCHED_OTHER)");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char b1[1024], b2[1024];
    struct timespec rt;
    int64_t t0 = now_ns(), end = t0 + (int64_t)(dur * 1e9), next = t0;
    clock_gettime(CLOCK_REALTIME, &rt);
    while (next < end && n < cap && !stop) {
        struct timespec ts = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
            ;
        int64_t t = now_ns();
        if (readfile(f1, b1, sizeof b1) || readfile(f2, b2, sizeof b2)) break;
        int64_t *r = rows + n * (4 + MAXCPU);
        r[0] = t - t0;
        r[1] = field(b1, "nr_periods ");
        r[2] = field(b1, "nr_throttled ");
        r[3] = field(b1, "throttled_time ");
        char *s = b2, *e;
        int k = 0;
        for (; k < MAXCPU; k++) {
            long long v = strtoll(s, &e, 10);
            if (e == s) break;
            r[4 + k] = v;
            s = e;
        }
        ncpu = k;
        n++;
        next += iv;
        if (next <= t) next = t + iv;
    }
    FILE *f = fopen(argv[4], "w");
    if (!f) {
        perror(argv[4]);
        return 2;
    }
    fprintf(f, "# cgsample cg=%s t0_ns=%lld t0_realtime_ns=%lld interval_ns=%lld n=%zu ncpu=%d\n", argv[1],
            (long long)t0, (long long)rt.tv_sec * 1000000000LL + rt.tv_nsec, (long long)iv, n, ncpu);
    for (size_t i = 0; i < n; i++) {
        int64_t *r = rows + i * (4 + MAXCPU);
        fprintf(f, "%lld %lld %lld %lld", (long long)r[0], (long long)r[1], (long long)r[2], (long long)r[3]);
        for (int k = 0; k < ncpu; k++) fprintf(f, " %lld", (long long)r[4 + k]);
        fputc('\n', f);
    }
    fclose(f);
    return 0;
}
