/*
 * main_labwire.c: bin/labwire, the lab's userspace wire between the pods' network namespaces and the node's
 * bridge, for kernels without sch_netem (docs/lab.md, "The wire").
 *
 *   labwire --control SOCKET [--seed N] [--rt PRIO]    the forwarder: one epoll loop over every port
 *   labwire ctl SOCKET COMMAND [WORD]...              one command to a running forwarder; prints the answer
 *   labwire --help | --version
 *
 * The forwarder listens on the UNIX stream socket SOCKET for commands (lab/wire/control.h), plus:
 *   port add NAME PODNS PODIF NODENS NODEIF   creates two TAP devices (IFF_TAP, no packet info, no offloads):
 *                                            PODIF inside the network namespace file PODNS (the pod's eth0)
 *                                            and NODEIF inside NODENS (a port of the node's bridge). They are
 *                                            not persistent: they vanish when the port is removed or the
 *                                            forwarder exits, however it exits.
 *   port del NAME                            closes both (the devices go) and drops what the port held
 *   quit                                     exits 0, as SIGTERM and SIGINT do
 * and `stats` answers one more line, first, about the loop itself (times in ns, HIST as core.h's):
 *   io read_errors N write_errors N wake_max N wake HIST busy_max N busy HIST
 *        wake: how late the timer woke the loop for the frame it was armed for; busy: how long one event
 *        (a TAP's batch, a timer, a command) held the loop. A release later than both says neither.
 * Frames read from PODIF are the pod's egress: they go through the port's rules (lab/wire/core.h) and are
 * written to NODEIF when due; frames read from NODEIF are written to PODIF at once.
 *
 * Timing: one thread, non-blocking descriptors; a timerfd (absolute CLOCK_MONOTONIC, 1 ns timer slack) wakes
 * the loop for the next due frame. --rt PRIO runs it SCHED_FIFO at PRIO (the kernel's qdiscs run in softirq
 * context, ahead of every thread); when the kernel refuses, it says so and runs as an ordinary process.
 * Bounded: at most LW_MAX_PORTS ports, LW_POOL_FRAMES held frames, 64 control connections at once.
 * Exit status: 0 after quit/SIGTERM/SIGINT, 1 when it cannot start (socket, epoll), 2 on bad arguments;
 * ctl: 0 when the answer ends in `ok`, 1 on `error:`, 2 when it cannot reach the forwarder or bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/version.h"
#include "lab/wire/control.h"
#include "lab/wire/core.h"

#define MAX_CONNS 64 /* hooks of actions that start together each hold one */
#define CONN_BUF 4096
#define MAX_WORDS 64
/* epoll tags: kind in the high half, index in the low half */
enum { TAG_LISTEN = 1, TAG_SIGNAL, TAG_TIMER, TAG_CONN, TAG_TAP };

typedef struct wire_port {
    int fd[2]; /* [LW_FROM_POD]: the pod's TAP, [LW_FROM_NODE]: the node's */
} wire_port;

typedef struct conn {
    int fd;
    size_t used;
    char buf[CONN_BUF];
} conn;

typedef struct wire {
    lw_core *core;
    int ep, listen_fd, sig_fd, timer_fd, self_ns;
    int64_t armed_ns;
    wire_port ports[LW_MAX_PORTS];
    conn conns[MAX_CONNS];
    uint64_t write_errors, read_errors;
    /* where a late release comes from: how late the timer woke the loop (now - the due time it was armed
     * for), and how long one event's handling held the loop (every other due frame waits for it) */
    uint64_t wake_hist[LW_LATE_BUCKETS], busy_hist[LW_LATE_BUCKETS];
    int64_t wake_max_ns, busy_max_ns;
    int stop;
} wire;

static void usage(FILE *out) {
    fprintf(out,
            "usage: labwire --control SOCKET [--seed N] [--rt PRIO]\n"
            "       labwire ctl SOCKET COMMAND [WORD]...\n"
            "       labwire --help | --version\n"
            "The lab's userspace wire: TAP devices between the pods' network namespaces and the node's bridge,\n"
            "netem and tbf (the kernel's algorithms, faults/) on each pod's egress. Root only (network\n"
            "namespaces, TAP devices).\n"
            "\n"
            "Options:\n"
            "  --control SOCKET   the UNIX stream socket the forwarder takes commands on (required)\n"
            "  --seed N           the seed of the rules' random streams (default 1)\n"
            "  --rt PRIO          run SCHED_FIFO at PRIO 1..99, as the kernel's qdiscs run ahead of every thread\n"
            "                     (default 0: an ordinary process; said and ignored when the kernel refuses)\n"
            "  --help, -h         this text\n"
            "  --version          the release and the git revision\n"
            "\n"
            "Commands (one line on SOCKET, or labwire ctl SOCKET COMMAND; the answer ends in ok or error:):\n"
            "  port add NAME PODNS PODIF NODENS NODEIF   a TAP PODIF in the network namespace file PODNS (the\n"
            "                     pod's eth0) and NODEIF in NODENS (a port of the node's bridge)\n"
            "  port del NAME      closes both devices and drops what the port held\n"
            "  rule add NAME PORT netem any|CIDR[,CIDR...] [KEY VALUE]...   KEY: loss loss_corr dup dup_corr\n"
            "                     corrupt corrupt_corr reorder reorder_corr delay_corr (percent), delay jitter\n"
            "                     (ns), gap limit (packets), seed\n"
            "  rule add NAME PORT tbf any|CIDR[,...] KEY VALUE...   KEY: rate (bytes/s), burst, limit (bytes);\n"
            "                     optional peakrate (bytes/s) and mtu (bytes)\n"
            "  rule del NAME [keep]   removes a rule; its held frames are dropped, or with keep leave when due\n"
            "  rule clear         removes every rule\n"
            "  stats              the ledger: per port, link and rule, and the loop's own timing\n"
            "  reset              zeroes the counters\n"
            "  ping               answers ok\n"
            "  quit               exits 0, as SIGTERM and SIGINT do\n");
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t tag(int kind, int idx) { return (uint64_t)kind << 32 | (uint32_t)idx; }

static int watch(wire *w, int fd, int kind, int idx) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(kind, idx)};
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- devices ---- */

/* A TAP device named `ifname` created inside the network namespace file `nspath`. */
static int tap_open(wire *w, const char *nspath, const char *ifname, char *err, size_t errlen) {
    if (strlen(ifname) >= IFNAMSIZ) {
        snprintf(err, errlen, "interface name \"%s\" too long", ifname);
        return -1;
    }
    int ns = open(nspath, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
        snprintf(err, errlen, "cannot enter network namespace %s: %s", nspath, strerror(errno));
        if (ns >= 0) close(ns);
        return -1;
    }
    close(ns);
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
        snprintf(err, errlen, "cannot create TAP %s in %s: %s", ifname, nspath, strerror(errno));
        if (fd >= 0) close(fd);
        fd = -1;
    }
    if (setns(w->self_ns, CLONE_NEWNET) < 0) {
        fprintf(stderr, "labwire: cannot return to its own network namespace: %s\n", strerror(errno));
        exit(1);
    }
    return fd;
}

static void port_close(wire *w, int p) {
    for (int s = 0; s < 2; s++) {
        if (w->ports[p].fd[s] < 0) continue;
        epoll_ctl(w->ep, EPOLL_CTL_DEL, w->ports[p].fd[s], NULL);
        close(w->ports[p].fd[s]);
        w->ports[p].fd[s] = -1;
    }
}

static int port_add(wire *w, char **a, char *err, size_t errlen) {
    if (lw_port_find(w->core, a[0]) >= 0) {
        snprintf(err, errlen, "port \"%s\" exists", a[0]);
        return -1;
    }
    int fd_pod = tap_open(w, a[1], a[2], err, errlen);
    if (fd_pod < 0) return -1;
    int fd_node = tap_open(w, a[3], a[4], err, errlen);
    int p = fd_node < 0 ? -1 : lw_port_add(w->core, a[0]);
    if (p < 0) {
        if (fd_node >= 0) snprintf(err, errlen, "no room for port \"%s\" (at most %d)", a[0], LW_MAX_PORTS);
        close(fd_pod);
        if (fd_node >= 0) close(fd_node);
        return -1;
    }
    w->ports[p].fd[LW_FROM_POD] = fd_pod;
    w->ports[p].fd[LW_FROM_NODE] = fd_node;
    watch(w, fd_pod, TAG_TAP, p << 1 | LW_FROM_POD);
    watch(w, fd_node, TAG_TAP, p << 1 | LW_FROM_NODE);
    return 0;
}

/* ---- frames ---- */

/* Writes every frame due by now. */
static void flush(wire *w) {
    static lw_out out;
    while (lw_core_pop(w->core, now_ns(), &out)) {
        /* a frame from the pod goes to the node's side, and the other way round */
        int fd = w->ports[out.port].fd[out.from == LW_FROM_POD ? LW_FROM_NODE : LW_FROM_POD];
        if (fd < 0 || write(fd, out.data, out.len) != (ssize_t)out.len) w->write_errors++;
    }
    int64_t next = lw_core_next_due(w->core);
    if (next == w->armed_ns) return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (next != INT64_MAX) {
        its.it_value.tv_sec = next / 1000000000LL;
        its.it_value.tv_nsec = next % 1000000000LL;
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec) its.it_value.tv_nsec = 1;
    }
    timerfd_settime(w->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
    w->armed_ns = next;
}

/* Reads what one TAP holds (at most a batch, so that no port starves the others). */
static void tap_readable(wire *w, int p, int side) {
    static uint8_t buf[LW_FRAME_MAX + 1];
    for (int i = 0; i < 64 && w->ports[p].fd[side] >= 0; i++) {
        ssize_t n = read(w->ports[p].fd[side], buf, sizeof buf);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                /* the device is gone (its namespace was deleted): the port waits for `port del` */
                w->read_errors++;
                epoll_ctl(w->ep, EPOLL_CTL_DEL, w->ports[p].fd[side], NULL);
            }
            break;
        }
        lw_core_offer(w->core, p, (lw_side)side, now_ns(), buf, (uint32_t)n);
        flush(w);
    }
}

/* ---- control ---- */

static void answer(wire *w, int fd, int argc, char **argv) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) return;
    char err[256];
    if (argc && !strcmp(argv[0], "stats")) {
        fprintf(out, "io read_errors %llu write_errors %llu wake_max %lld wake ", (unsigned long long)w->read_errors,
                (unsigned long long)w->write_errors, (long long)w->wake_max_ns);
        lw_hist_print(out, w->wake_hist);
        fprintf(out, " busy_max %lld busy ", (long long)w->busy_max_ns);
        lw_hist_print(out, w->busy_hist);
        fputc('\n', out);
    }
    if (argc && !strcmp(argv[0], "reset")) {
        memset(w->wake_hist, 0, sizeof w->wake_hist);
        memset(w->busy_hist, 0, sizeof w->busy_hist);
        w->wake_max_ns = w->busy_max_ns = 0;
    }
    int rc = lw_control(w->core, argc, argv, out);
    if (rc == 1) {
        if (argc == 7 && !strcmp(argv[0], "port") && !strcmp(argv[1], "add")) {
            if (port_add(w, argv + 2, err, sizeof err) < 0)
                fprintf(out, "error: %s\n", err);
            else
                fprintf(out, "ok\n");
        } else if (argc == 3 && !strcmp(argv[0], "port") && !strcmp(argv[1], "del")) {
            int p = lw_port_find(w->core, argv[2]);
            if (p < 0) {
                fprintf(out, "error: no port named \"%s\"\n", argv[2]);
            } else {
                lw_port_del(w->core, p);
                port_close(w, p);
                fprintf(out, "ok\n");
            }
        } else if (argc == 1 && !strcmp(argv[0], "quit")) {
            w->stop = 1;
            fprintf(out, "ok\n");
        } else {
            fprintf(out, "error: unknown command%s%s (port add|del, rule add|del, stats, reset, ping, quit)\n",
                    argc ? " " : "", argc ? argv[0] : "");
        }
    }
    fclose(out);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    free(text);
    flush(w);
}

static void conn_close(wire *w, int i) {
    epoll_ctl(w->ep, EPOLL_CTL_DEL, w->conns[i].fd, NULL);
    close(w->conns[i].fd);
    w->conns[i].fd = -1;
}

static void conn_readable(wire *w, int i) {
    conn *cn = &w->conns[i];
    ssize_t n = read(cn->fd, cn->buf + cn->used, sizeof cn->buf - 1 - cn->used);
    if (n <= 0) {
        conn_close(w, i);
        return;
    }
    cn->used += (size_t)n;
    char *nl;
    while ((nl = memchr(cn->buf, '\n', cn->used))) {
        *nl = '\0';
        char *words[MAX_WORDS];
        int argc = lw_split(cn->buf, words, MAX_WORDS);
        answer(w, cn->fd, argc, words);
        size_t rest = cn->used - (size_t)(nl + 1 - cn->buf);
        memmove(cn->buf, nl + 1, rest);
        cn->used = rest;
    }
    if (cn->used == sizeof cn->buf - 1) conn_close(w, i); /* a line longer than the buffer */
}

static void accept_conn(wire *w) {
    int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    for (int i = 0; i < MAX_CONNS; i++) {
        if (w->conns[i].fd >= 0) continue;
        w->conns[i].fd = fd;
        w->conns[i].used = 0;
        struct timeval tv = {1, 0}; /* a stuck reader cannot stall the wire for more than a second */
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        watch(w, fd, TAG_CONN, i);
        return;
    }
    close(fd);
}

/* ---- the forwarder ---- */

static int listen_on(const char *path) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "labwire: control socket path too long: %s\n", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path); /* a dead forwarder's */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
        fprintf(stderr, "labwire: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static void go_realtime(int prio) {
    if (prio <= 0) return;
    struct sched_param sp = {.sched_priority = prio};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
        fprintf(stderr, "labwire: SCHED_FIFO %d refused (%s): running as an ordinary process\n", prio, strerror(errno));
    else
        fprintf(stderr, "labwire: running SCHED_FIFO %d\n", prio);
}

static int setup(wire *w, const char *path, uint64_t seed, int rt) {
    memset(w, 0, sizeof *w);
    for (int p = 0; p < LW_MAX_PORTS; p++) w->ports[p].fd[0] = w->ports[p].fd[1] = -1;
    for (int i = 0; i < MAX_CONNS; i++) w->conns[i].fd = -1;
    w->armed_ns = INT64_MAX;
    w->core = lw_core_new(seed);
    w->self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    w->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!w->core || w->self_ns < 0 || w->sig_fd < 0 || w->timer_fd < 0 || w->ep < 0) {
        fprintf(stderr, "labwire: cannot start: %s\n", strerror(errno));
        return -1;
    }
    if ((w->listen_fd = listen_on(path)) < 0) return -1;
    watch(w, w->listen_fd, TAG_LISTEN, 0);
    watch(w, w->sig_fd, TAG_SIGNAL, 0);
    watch(w, w->timer_fd, TAG_TIMER, 0);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    go_realtime(rt);
    return 0;
}

static void dispatch(wire *w, uint64_t t) {
    int kind = (int)(t >> 32), idx = (int)(uint32_t)t;
    uint64_t junk;
    switch (kind) {
    case TAG_LISTEN: accept_conn(w); break;
    case TAG_SIGNAL: w->stop = 1; break;
    case TAG_TIMER:
        if (read(w->timer_fd, &junk, sizeof junk) < 0) { /* nothing to read: spurious */
        }
        if (w->armed_ns != INT64_MAX) lw_hist_note(w->wake_hist, &w->wake_max_ns, now_ns() - w->armed_ns);
        w->armed_ns = INT64_MAX; /* fired: re-arm on the next flush */
        flush(w);
        break;
    case TAG_CONN: conn_readable(w, idx); break;
    case TAG_TAP: tap_readable(w, idx >> 1, idx & 1); break;
    default: break;
    }
}

static int serve(const char *path, uint64_t seed, int rt) {
    static wire w;
    if (setup(&w, path, seed, rt) < 0) return 1;
    fprintf(stderr, "labwire: listening on %s (seed %llu)\n", path, (unsigned long long)seed);
    struct epoll_event evs[64];
    while (!w.stop) {
        int n = epoll_wait(w.ep, evs, 64, -1);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n && !w.stop; i++) {
            int64_t t0 = now_ns();
            dispatch(&w, evs[i].data.u64);
            lw_hist_note(w.busy_hist, &w.busy_max_ns, now_ns() - t0);
        }
    }
    for (int p = 0; p < LW_MAX_PORTS; p++) port_close(&w, p); /* the TAP devices go with their descriptors */
    for (int i = 0; i < MAX_CONNS; i++)
        if (w.conns[i].fd >= 0) close(w.conns[i].fd);
    close(w.listen_fd);
    unlink(path);
    lw_core_free(w.core);
    fprintf(stderr, "labwire: stopped; devices removed\n");
    return 0;
}

/* ---- the client ---- */

static int ctl(const char *path, int argc, char **argv) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "labwire ctl: socket path too long\n");
        return 2;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "labwire ctl: cannot reach the forwarder at %s: %s\n", path, strerror(errno));
        return 2;
    }
    char line[CONN_BUF];
    size_t k = 0;
    for (int i = 0; i < argc; i++) {
        int n = snprintf(line + k, sizeof line - k, "%s%s", i ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof line - k - 1) {
            fprintf(stderr, "labwire ctl: command too long\n");
            close(fd);
            return 2;
        }
        k += (size_t)n;
    }
    line[k++] = '\n';
    if (write(fd, line, k) != (ssize_t)k) {
        fprintf(stderr, "labwire ctl: cannot send: %s\n", strerror(errno));
        close(fd);
        return 2;
    }
    shutdown(fd, SHUT_WR);
    /* the answer's last line says how it went; only the tail needs keeping */
    char buf[8192], tail[512];
    size_t tl = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        fwrite(buf, 1, (size_t)n, stdout);
        for (ssize_t i = 0; i < n; i++) {
            if (tl == sizeof tail) {
                memmove(tail, tail + sizeof tail / 2, sizeof tail / 2);
                tl = sizeof tail / 2;
            }
            tail[tl++] = buf[i];
        }
    }
    while (tl && tail[tl - 1] == '\n') tl--;
    size_t start = tl;
    while (start && tail[start - 1] != '\n') start--;
    char last[512];
    memcpy(last, tail + start, tl - start);
    last[tl - start] = '\0';
    close(fd);
    if (!strcmp(last, "ok")) return 0;
    if (!strncmp(last, "error:", 6)) return 1;
    fprintf(stderr, "labwire ctl: no answer from the forwarder\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("labwire %s (git %s)\n", pc_version(), pc_git_describe());
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "ctl")) {
        if (argc < 4) {
            fprintf(stderr, "labwire ctl: needs SOCKET and a COMMAND\n");
            usage(stderr);
            return 2;
        }
        return ctl(argv[2], argc - 3, argv + 3);
    }
    const char *path = NULL;
    unsigned long long seed = 1;
    long rt = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (i + 1 >= argc || (strcmp(argv[i], "--control") && strcmp(argv[i], "--seed") && strcmp(argv[i], "--rt"))) {
            fprintf(stderr, "labwire: %s: %s\n", argv[i],
                    i + 1 >= argc ? "needs a value, or unknown" : "unknown option");
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        errno = 0;
        if (!strcmp(argv[i - 1], "--control")) {
            path = v;
        } else if (!strcmp(argv[i - 1], "--seed")) {
            seed = strtoull(v, &end, 10);
            if (errno || !*v || *end || *v == '-') {
                fprintf(stderr, "labwire: --seed expects a non-negative integer, not \"%s\"\n", v);
                return 2;
            }
        } else if ((rt = strtol(v, &end, 10)) < 0 || rt > 99 || !*v || *end) {
            fprintf(stderr, "labwire: --rt expects a priority 0..99 (0: an ordinary process), not \"%s\"\n", v);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "labwire: --control SOCKET is required\n");
        usage(stderr);
        return 2;
    }
    return serve(path, seed, (int)rt);
}
