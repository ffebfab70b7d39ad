/*
 * options.c: defaults, the command-line parser and the command-line faults (see options.h).
 */
#include "sim/run/options.h"
#include "base/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *empty_lookup(void *ctx, const char *key) {
    (void)ctx;
    (void)key;
    return NULL;
}

void sim_options_defaults(sim_options *o) {
    memset(o, 0, sizeof *o);
    o->seed = o->seed_last = 1;
    o->baseline_ns = 30 * SEC;
    o->chaos_ns = 60 * SEC;
    o->recovery_ns = 30 * SEC;
    load_config_defaults(&o->load);
    o->dir = DIR_BOTH;
    o->cpu_load = 100;
    o->cpu_targets = 1u << SVC_PAYMENT;
    o->mem_workers = 2;
    o->mem_targets = 1u << SVC_INVENTORY;
    cluster_spec_defaults(&o->cluster);
    svc_config_load(&o->services, empty_lookup, NULL, NULL, 0);
    o->threads = 2;
    o->schedule_cycles = 2;
}

void sim_options_usage(FILE *out) {
    fprintf(out,
            "usage: sim [options]\n"
            "Runs the payment system (payment x3, inventory x2, notification x2) with its clients and faults in one\n"
            "deterministic process on a virtual clock, and prints a report. Same seed, same report, byte for byte.\n"
            "\n"
            "run:\n"
            "  --seed N                 random seed (default 1)\n"
            "  --seeds A..B             run seeds A to B on --threads threads; report means and 95%% intervals\n"
            "  --baseline D --chaos D --recovery D   phase durations (default 30s / 60s / 30s)\n"
            "  --threads N              threads for --seeds (default 2)\n"
            "load:\n"
            "  --rate R                 open-loop Poisson arrivals per second (default 10)\n"
            "  --clients N              closed-loop clients instead (each sends after the previous answer)\n"
            "  --think D                closed-loop pause between requests (default 0)\n"
            "  --burst N[@D]            instead: N requests at once, D (default 1s) into each phase; reports the\n"
            "                           time until the last is answered\n"
            "  --workload W             chain (default), process (payments with Idempotency-Key), custom\n"
            "  --endpoint 'METHOD /path'  custom endpoint (implies --workload custom); --body JSON\n"
            "  --keepalive | --fresh    client connections: reuse, or one per request (default fresh)\n"
            "  --timeout D              client deadline per request (default 35s)\n"
            "  --client-retries N       process workload: retries with the same Idempotency-Key (default 0)\n"
            "network faults (active during the chaos phase):\n"
            "  --loss P                 loss probability, 0..1 or N%% (default links: every service-to-service link)\n"
            "  --correlation C          netem loss correlation, 0..1 or N%% (changes the effective rate!)\n"
            "  --delay D --jitter D     netem delay and uniform jitter\n"
            "  --link A:B               only traffic A sends to B (payment, inventory, notification); repeatable\n"
            "  --direction to|from|both with --link: A's egress, B's egress, or both (default both)\n"
            "  --partition              drop everything on the links (iptables, not netem)\n"
            "  --client-loss P          loss between the load clients and payment, both ways (answers get lost)\n"
            "CPU and memory (during the chaos phase):\n"
            "  --cpu-workers N --cpu-load L   stress-ng --cpu N --cpu-load L in the target pods' cgroups\n"
            "  --cpu-target S           service(s) for CPU stress, comma-separated (default payment)\n"
            "  --mem-stress SIZE        memStress total size (100MB = 10^8 bytes, 100MiB = 2^20 * 100)\n"
            "  --mem-workers N --mem-target S   (default 2 workers on inventory)\n"
            "  --pod-kill S@T           kill one pod of service S at T after the chaos phase starts; repeatable\n");
    fprintf(
        out,
        "Chaos Mesh experiments:\n"
        "  --experiment FILE        run each chaos object of FILE (repeatable; docs/experiments.md)\n"
        "  --manifest FILE          take the cluster (replicas, limits, ports, labels) from k8s YAML\n"
        "  --together               apply all documents at once (as kubectl apply -f does)\n"
        "  --schedule-cycles N      Schedule ticks to simulate per Schedule (default 2)\n"
        "  --object NAME            run only the chaos object NAME of the files (repeatable)\n"
        "  --expect 'EXPR'          e.g. 'chain.success_rate >= 0.95 during recovery'; repeatable\n"
        "cluster and runtime:\n"
        "  --replicas P,I,N         replica counts (default 3,2,2)\n"
        "  --cpus N                 node CPUs (default 2)\n"
        "  --cpu-limit M            CPU limit per pod in millicores (default 200)\n"
        "  --link-latency D         one-way latency per packet (default 50us)\n"
        "  --sched eevdf|cfs        the kernel's fair scheduler: EEVDF (6.6 and later, default) or CFS (before 6.6);\n"
        "                           eevdf-6.6: EEVDF as 6.6-6.11 ran it (Minikube's ISO kernel)\n"
        "  --cpu-quantum D          its base slice (default the kernel's: 0.7 ms x (1 + log2 CPUs) for EEVDF)\n"
        "  --wake-latency D         an idle CPU starting a woken thread (default 20us)\n"
        "  --wake-stall P,MIN,MAX   ... with probability P later by U(MIN, MAX): the host's late vCPU, or off\n"
        "  --cpu-scale F            CPU time per piece of work relative to the calibration machine's\n"
        "                           (default 1; the lab measures it: docs/calibration.md)\n"
        "  --syn-schedule linear|doubling   kernel >= 6.5 (default) or the older doubling SYN timers\n"
        "  --downstream-keepalive on|off    the services' libcurl connection reuse (default on)\n"
        "  --retries N --backoff D  the services' downstream retry policy (default 1 attempt)\n"
        "  --idempotency on|off     (off is for demonstrations only)\n"
        "  --fsync D                journal write latency (default 1ms)\n"
        "correctness:\n"
        "  --find-violation         search --seeds for an invariant violation under the given faults\n"
        "  --shrink                 reduce a failing run's faults and load to the smallest that still fails\n"
        "output:\n"
        "  --json                   the report as JSON\n"
        "  --csv FILE               per-second timeline\n"
        "  --svg FILE               chart of success rate and p50/p99 latency, chaos windows shaded\n"
        "  --trace FILE             every event, one per line\n"
        "  --check-determinism      run twice and report the first differing event, if any\n"
        "  --perf                   also print events/s and the virtual:wall ratio (not deterministic)\n"
        "  --help\n"
        "Exit status: 0 ok (and every expectation passed), 1 an expectation failed or a violation was found,\n"
        "2 bad usage or input.\n");
}

int sim_parse_duration(const char *text, int64_t *ns) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || !isfinite(v)) return -1;
    double mult;
    if (!*end || !strcmp(end, "s"))
        mult = 1e9;
    else if (!strcmp(end, "ms"))
        mult = 1e6;
    else if (!strcmp(end, "us") || !strcmp(end, "µs"))
        mult = 1e3;
    else if (!strcmp(end, "ns"))
        mult = 1;
    else if (!strcmp(end, "m"))
        mult = 60e9;
    else if (!strcmp(end, "h"))
        mult = 3600e9;
    else
        return -1;
    if (v * mult > 9e18) return -1;
    *ns = (int64_t)llround(v * mult);
    return 0;
}

int sim_parse_size(const char *text, int64_t *bytes) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || !isfinite(v)) return -1;
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1},     {"B", 1},        {"KB", 1e3},        {"MB", 1e6},           {"GB", 1e9},
                 {"kB", 1e3}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"K", 1e3},
                 {"M", 1e6},  {"G", 1e9},      {"Ki", 1024.0},     {"Mi", 1048576.0},     {"Gi", 1073741824.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v * units[i].mult > 9e18) return -1;
            *bytes = (int64_t)llround(v * units[i].mult);
            return 0;
        }
    }
    return -1;
}

/* "0.8" or "80%" -> 80.0 */
static int parse_percent(const char *text, double *pct) {
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || !isfinite(v)) return -1;
    if (!strcmp(end, "%")) {
        if (v < 0 || v > 100) return -1;
        *pct = v;
        return 0;
    }
    if (*end || v < 0 || v > 1) return -1;
    *pct = v * 100.0;
    return 0;
}

static int parse_service(const char *text, svc_peer *out) {
    for (int i = 0; i < SVC_PEER_COUNT; i++) {
        const char *n = svc_peer_name((svc_peer)i);
        size_t len = strlen(n);
        if (!strcmp(text, n) || (!strncmp(text, n, len) && !strcmp(text + len, "-service"))) {
            *out = (svc_peer)i;
            return 0;
        }
    }
    return -1;
}

static int parse_services(const char *text, unsigned *mask) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    *mask = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        svc_peer p;
        if (parse_service(tok, &p) < 0) return -1;
        *mask |= 1u << p;
    }
    return *mask ? 0 : -1;
}

static int parse_int(const char *text, long lo, long hi, int *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

#define NEED_ARG()                                                                                                     \
    do {                                                                                                               \
        if (i + 1 >= argc) {                                                                                           \
            snprintf(err, errlen, "%s needs a value (see --help)", a);                                                 \
            return -1;                                                                                                 \
        }                                                                                                              \
        v = argv[++i];                                                                                                 \
    } while (0)

#define BAD(what)                                                                                                      \
    do {                                                                                                               \
        snprintf(err, errlen, "%s %s: %s", a, v, what);                                                                \
        return -1;                                                                                                     \
    } while (0)

int sim_options_parse(sim_options *o, int argc, char **argv, char *err, size_t errlen) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int n;
        int64_t d;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sim_options_usage(stdout);
            return 1;
        } else if (!strcmp(a, "--seed")) {
            NEED_ARG();
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || end == v || *end) BAD("expected a non-negative integer");
            o->seed = o->seed_last = s;
        } else if (!strcmp(a, "--seeds")) {
            NEED_ARG();
            unsigned long long lo, hi;
            char tail;
            if (sscanf(v, "%llu..%llu%c", &lo, &hi, &tail) != 2 || hi < lo || hi - lo > 1000000)
                BAD("expected A..B with A <= B");
            o->seed = lo;
            o->seed_last = hi;
        } else if (!strcmp(a, "--baseline") || !strcmp(a, "--chaos") || !strcmp(a, "--recovery")) {
            NEED_ARG();
            if (sim_parse_duration(v, &d) < 0 || d > 86400 * SEC) BAD("expected a duration such as 30s or 2m");
            if (!strcmp(a, "--baseline"))
                o->baseline_ns = d;
            else if (!strcmp(a, "--chaos"))
                o->chaos_ns = d;
            else
                o->recovery_ns = d;
        } else if (!strcmp(a, "--rate")) {
            NEED_ARG();
            char *end;
            double r = strtod(v, &end);
            if (end == v || *end || !(r > 0) || r > 100000) BAD("expected a rate in (0, 100000] per second");
            o->load.rate_per_s = r;
            o->load.closed_loop = 0;
        } else if (!strcmp(a, "--clients")) {
            NEED_ARG();
            if (parse_int(v, 1, 10000, &n) < 0) BAD("expected 1..10000");
            o->load.clients = n;
            o->load.closed_loop = 1;
        } else if (!strcmp(a, "--burst")) {
            NEED_ARG();
            char num[16];
            const char *at = strchr(v, '@');
            snprintf(num, sizeof num, "%.*s", at ? (int)(at - v) : (int)strlen(v), v);
            if (parse_int(num, 1, 10000, &o->load.burst) < 0 ||
                (at && (sim_parse_duration(at + 1, &o->load.burst_at_ns) < 0 || o->load.burst_at_ns > 3600 * SEC)))
                BAD("expected N (1..10000) or N@DURATION, e.g. 50 or 50@5s");
        } else if (!strcmp(a, "--think")) {
            NEED_ARG();
            if (sim_parse_duration(v, &o->load.think_ns) < 0) BAD("expected a duration");
        } else if (!strcmp(a, "--workload")) {
            NEED_ARG();
            if (!strcmp(v, "chain"))
                o->load.workload = LOAD_CHAIN;
            else if (!strcmp(v, "process"))
                o->load.workload = LOAD_PROCESS;
            else if (!strcmp(v, "custom"))
                o->load.workload = LOAD_CUSTOM;
            else
                BAD("expected chain, process or custom");
        } else if (!strcmp(a, "--endpoint")) {
            NEED_ARG();
            char method[8], path[160];
            if (sscanf(v, "%7s %159s", method, path) != 2 || path[0] != '/') BAD("expected 'METHOD /path'");
            snprintf(o->load.method, sizeof o->load.method, "%s", method);
            snprintf(o->load.path, sizeof o->load.path, "%s", path);
            if (strcmp(path, "/payment/chain") != 0) {
                o->load.workload = LOAD_CUSTOM;
                if (!strcmp(method, "GET")) o->load.body[0] = '\0';
            }
        } else if (!strcmp(a, "--body")) {
            NEED_ARG();
            if (strlen(v) >= sizeof o->load.body) BAD("body too long");
            snprintf(o->load.body, sizeof o->load.body, "%s", v);
        } else if (!strcmp(a, "--keepalive")) {
            o->load.keepalive = 1;
        } else if (!strcmp(a, "--fresh")) {
            o->load.keepalive = 0;
        } else if (!strcmp(a, "--timeout")) {
            NEED_ARG();
            if (sim_parse_duration(v, &d) < 0 || d <= 0) BAD("expected a positive duration");
            o->load.timeout_ns = d;
        } else if (!strcmp(a, "--client-retries")) {
            NEED_ARG();
            if (parse_int(v, 0, 20, &n) < 0) BAD("expected 0..20");
            o->load.client_retries = n;
        } else if (!strcmp(a, "--loss")) {
            NEED_ARG();
            if (parse_percent(v, &o->loss_pct) < 0) BAD("expected a probability 0..1 or a percentage N%");
        } else if (!strcmp(a, "--client-loss")) {
            NEED_ARG();
            if (parse_percent(v, &o->client_loss_pct) < 0) BAD("expected a probability 0..1 or a percentage N%");
        } else if (!strcmp(a, "--correlation")) {
            NEED_ARG();
            if (parse_percent(v, &o->correlation_pct) < 0) BAD("expected 0..1 or N%");
        } else if (!strcmp(a, "--delay") || !strcmp(a, "--jitter")) {
            NEED_ARG();
            if (sim_parse_duration(v, &d) < 0 || d > 200 * SEC) BAD("expected a duration up to 200s");
            if (!strcmp(a, "--delay"))
                o->delay_ns = d;
            else
                o->jitter_ns = d;
        } else if (!strcmp(a, "--link")) {
            NEED_ARG();
            char x[64], y[64];
            const char *colon = strchr(v, ':');
            if (!colon || colon == v || o->nlinks >= OPT_MAX_LINKS) BAD("expected A:B, e.g. payment:inventory");
            snprintf(x, sizeof x, "%.*s", (int)(colon - v), v);
            snprintf(y, sizeof y, "%s", colon + 1);
            sim_link *l = &o->links[o->nlinks];
            if (parse_service(x, &l->from) < 0 || parse_service(y, &l->to) < 0)
                BAD("services are payment, inventory, notification");
            o->nlinks++;
        } else if (!strcmp(a, "--direction")) {
            NEED_ARG();
            if (!strcmp(v, "to"))
                o->dir = DIR_TO;
            else if (!strcmp(v, "from"))
                o->dir = DIR_FROM;
            else if (!strcmp(v, "both"))
                o->dir = DIR_BOTH;
            else
                BAD("expected to, from or both");
        } else if (!strcmp(a, "--partition")) {
            o->partition = 1;
        } else if (!strcmp(a, "--cpu-workers")) {
            NEED_ARG();
            if (parse_int(v, 0, 64, &o->cpu_workers) < 0) BAD("expected 0..64");
        } else if (!strcmp(a, "--cpu-load")) {
            NEED_ARG();
            if (parse_int(v, 0, 100, &o->cpu_load) < 0) BAD("expected a percentage 0..100");
        } else if (!strcmp(a, "--cpu-target")) {
            NEED_ARG();
            if (parse_services(v, &o->cpu_targets) < 0) BAD("services are payment, inventory, notification");
        } else if (!strcmp(a, "--mem-stress")) {
            NEED_ARG();
            if (sim_parse_size(v, &o->mem_bytes) < 0) BAD("expected a size such as 100MB or 64MiB");
        } else if (!strcmp(a, "--mem-workers")) {
            NEED_ARG();
            if (parse_int(v, 1, 16, &o->mem_workers) < 0) BAD("expected 1..16");
        } else if (!strcmp(a, "--mem-target")) {
            NEED_ARG();
            if (parse_services(v, &o->mem_targets) < 0) BAD("services are payment, inventory, notification");
        } else if (!strcmp(a, "--pod-kill")) {
            NEED_ARG();
            const char *at = strchr(v, '@');
            char svc[64];
            if (!at || o->nkills >= OPT_MAX_KILLS) BAD("expected SERVICE@TIME, e.g. inventory@10s");
            snprintf(svc, sizeof svc, "%.*s", (int)(at - v), v);
            sim_pod_kill *k = &o->kills[o->nkills];
            if (parse_service(svc, &k->service) < 0 || sim_parse_duration(at + 1, &k->at_ns) < 0)
                BAD("expected SERVICE@TIME, e.g. inventory@10s");
            o->nkills++;
        } else if (!strcmp(a, "--experiment")) {
            NEED_ARG();
            if (o->nexperiments >= OPT_MAX_EXPERIMENTS) BAD("too many experiment files");
            o->experiments[o->nexperiments++] = v;
        } else if (!strcmp(a, "--manifest")) {
            NEED_ARG();
            o->manifest = v;
        } else if (!strcmp(a, "--together")) {
            o->together = 1;
        } else if (!strcmp(a, "--object")) {
            NEED_ARG();
            if (o->nobjects >= OPT_MAX_EXPECT) BAD("too many --object");
            o->objects[o->nobjects++] = v;
        } else if (!strcmp(a, "--schedule-cycles")) {
            NEED_ARG();
            if (parse_int(v, 1, 50, &o->schedule_cycles) < 0) BAD("expected 1..50");
        } else if (!strcmp(a, "--expect")) {
            NEED_ARG();
            if (o->nexpects >= OPT_MAX_EXPECT) BAD("too many expectations");
            o->expects[o->nexpects++] = v;
        } else if (!strcmp(a, "--replicas")) {
            NEED_ARG();
            int r[3];
            char tail;
            if (sscanf(v, "%d,%d,%d%c", &r[0], &r[1], &r[2], &tail) != 3) BAD("expected P,I,N such as 3,2,2");
            for (int k = 0; k < 3; k++) {
                if (r[k] < 1 || r[k] > 16) BAD("each count must be 1..16");
                o->cluster.svc[k].replicas = r[k];
            }
            o->replicas_set = 1;
        } else if (!strcmp(a, "--cpus")) {
            NEED_ARG();
            if (parse_int(v, 1, 64, &o->cluster.node_cpus) < 0) BAD("expected 1..64");
        } else if (!strcmp(a, "--cpu-limit")) {
            NEED_ARG();
            if (parse_int(v, 1, 64000, &n) < 0) BAD("expected millicores 1..64000");
            for (int k = 0; k < SVC_PEER_COUNT; k++) o->cluster.svc[k].cpu_limit_millis = n;
        } else if (!strcmp(a, "--cpu-quantum")) {
            NEED_ARG();
            if (sim_parse_duration(v, &d) < 0 || d <= 0 || d > 100000000) BAD("expected a duration up to 100ms");
            o->cluster.cfs.quantum_ns = d;
        } else if (!strcmp(a, "--sched")) {
            NEED_ARG();
            if (!strcmp(v, "eevdf"))
                o->cluster.cfs.sched = CFS_SCHED_EEVDF;
            else if (!strcmp(v, "eevdf-6.6"))
                o->cluster.cfs.sched = CFS_SCHED_EEVDF_66;
            else if (!strcmp(v, "cfs"))
                o->cluster.cfs.sched = CFS_SCHED_CFS;
            else
                BAD("expected eevdf (as 6.18 runs it), eevdf-6.6 (6.6-6.11: Minikube's ISO) or cfs (before 6.6)");
        } else if (!strcmp(a, "--wake-latency")) {
            NEED_ARG();
            if (sim_parse_duration(v, &d) < 0 || d > 10000000) BAD("expected a duration up to 10ms");
            o->cluster.cfs.wake_latency_ns = d;
        } else if (!strcmp(a, "--wake-stall")) {
            NEED_ARG();
            char p[32], lo[32], hi[32];
            int64_t mn = 0, mx = 0;
            double pct = 0;
            if (!strcmp(v, "off")) {
                o->cluster.cfs.wake_stall_p = 0;
            } else if (sscanf(v, "%31[^,],%31[^,],%31s", p, lo, hi) == 3 && parse_percent(p, &pct) == 0 &&
                       sim_parse_duration(lo, &mn) == 0 && sim_parse_duration(hi, &mx) == 0 && mn <= mx &&
                       mx <= 100 * MS) {
                o->cluster.cfs.wake_stall_p = pct / 100;
                o->cluster.cfs.wake_stall_min_ns = mn;
                o->cluster.cfs.wake_stall_max_ns = mx;
            } else {
                BAD("expected P,MIN,MAX (e.g. 0.3%,0.7ms,1.2ms; MIN <= MAX <= 100ms) or off");
            }
        } else if (!strcmp(a, "--cpu-scale")) {
            NEED_ARG();
            char *end = NULL;
            double k = strtod(v, &end);
            if (end == v || *end || !(k >= 0.1 && k <= 10)) BAD("expected a factor 0.1..10");
            o->cluster.cpu_scale = k;
        } else if (!strcmp(a, "--link-latency")) {
            NEED_ARG();
            if (sim_parse_duration(v, &d) < 0 || d > SEC) BAD("expected a duration up to 1s");
            o->cluster.net.link_latency_ns = d;
        } else if (!strcmp(a, "--syn-schedule")) {
            NEED_ARG();
            if (!strcmp(v, "linear"))
                o->cluster.tcp.syn_linear_timeouts = 4;
            else if (!strcmp(v, "doubling"))
                o->cluster.tcp.syn_linear_timeouts = 0;
            else
                BAD("expected linear or doubling");
        } else if (!strcmp(a, "--downstream-keepalive")) {
            NEED_ARG();
            if (!strcmp(v, "on"))
                o->cluster.keepalive_downstream = 1;
            else if (!strcmp(v, "off"))
                o->cluster.keepalive_downstream = 0;
            else
                BAD("expected on or off");
        } else if (!strcmp(a, "--retries")) {
            NEED_ARG();
            if (parse_int(v, 1, 10, &n) < 0) BAD("expected total attempts 1..10");
            o->services.retry.attempts = n;
        } else if (!strcmp(a, "--backoff")) {
            NEED_ARG();
            if (sim_parse_duration(v, &d) < 0 || d > 60 * SEC) BAD("expected a duration up to 60s");
            o->services.retry.backoff_ns = d;
            if (o->services.retry.backoff_max_ns < d) o->services.retry.backoff_max_ns = d;
        } else if (!strcmp(a, "--idempotency")) {
            NEED_ARG();
            if (!strcmp(v, "on"))
                o->services.idempotency = 1;
            else if (!strcmp(v, "off"))
                o->services.idempotency = 0;
            else
                BAD("expected on or off");
            o->idempotency_off = !o->services.idempotency;
        } else if (!strcmp(a, "--fsync")) {
            NEED_ARG();
            if (sim_parse_duration(v, &d) < 0 || d > 10 * SEC) BAD("expected a duration up to 10s");
            o->cluster.fsync_ns = d;
        } else if (!strcmp(a, "--threads")) {
            NEED_ARG();
            if (parse_int(v, 1, 64, &o->threads) < 0) BAD("expected 1..64");
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--csv")) {
            NEED_ARG();
            o->csv_path = v;
        } else if (!strcmp(a, "--svg")) {
            NEED_ARG();
            o->svg_path = v;
        } else if (!strcmp(a, "--trace")) {
            NEED_ARG();
            o->trace_path = v;
        } else if (!strcmp(a, "--check-determinism")) {
            o->check_determinism = 1;
        } else if (!strcmp(a, "--perf")) {
            o->perf = 1;
        } else if (!strcmp(a, "--find-violation")) {
            o->find_violation = 1;
        } else if (!strcmp(a, "--shrink")) {
            o->shrink = 1;
        } else {
            snprintf(err, errlen, "unknown option %s (see --help)", a);
            return -1;
        }
    }
    if (o->jitter_ns && !o->delay_ns) {
        snprintf(err, errlen, "--jitter needs --delay (netem applies jitter around a delay)");
        return -1;
    }
    if (o->correlation_pct > 0 && o->loss_pct <= 0) {
        snprintf(err, errlen, "--correlation needs --loss");
        return -1;
    }
    if (o->cpu_workers > 0 && o->cpu_load == 0) {
        snprintf(err, errlen, "--cpu-load 0 with workers only sleeps; give a load 1..100");
        return -1;
    }
    o->cluster.cfs.cpus = o->cluster.node_cpus;
    o->load.stop_ns = o->baseline_ns + o->chaos_ns + o->recovery_ns;
    return 0;
}

void sim_options_actions(const sim_options *o, sim_scenario *s) {
    int64_t start = o->baseline_ns, end = o->baseline_ns + o->chaos_ns;
    int network = o->loss_pct > 0 || o->delay_ns > 0 || o->partition;
    if (network) {
        int nlinks = o->nlinks ? o->nlinks : 1;
        for (int i = 0; i < nlinks; i++) {
            sim_chaos_action a;
            char name[96];
            if (o->nlinks)
                snprintf(name, sizeof name, "cli-%s-%s-%s", o->partition ? "partition" : "netem",
                         svc_peer_name(o->links[i].from), svc_peer_name(o->links[i].to));
            else
                snprintf(name, sizeof name, "cli-%s-all-links", o->partition ? "partition" : "netem");
            chaos_action_init(&a, name, ACT_NETWORK);
            a.start_ns = start;
            a.end_ns = end;
            a.net_kind = o->partition ? NF_PARTITION : NF_NETEM;
            a.netem.loss_pct = o->loss_pct;
            a.netem.loss_corr_pct = o->correlation_pct;
            a.netem.latency_ns = o->delay_ns;
            a.netem.jitter_ns = o->jitter_ns;
            if (o->nlinks) {
                a.selector.services = 1u << o->links[i].from;
                a.has_target = 1;
                a.target.services = 1u << o->links[i].to;
                a.dir = o->dir;
                a.match_service_ips = 1;
            } else {
                /* every pod's egress toward any pod or Service IP: all service-to-service links, both ways */
                a.selector.services = (1u << SVC_PEER_COUNT) - 1;
                a.match_all_in_cluster = 1;
                a.dir = DIR_TO;
            }
            scenario_add(s, &a);
        }
    }
    if (o->client_loss_pct > 0) {
        sim_chaos_action a;
        chaos_action_init(&a, "cli-netem-client-link", ACT_NETWORK);
        a.start_ns = start;
        a.end_ns = end;
        a.net_kind = NF_NETEM;
        a.netem.loss_pct = o->client_loss_pct;
        a.selector.services = 1u << SVC_PAYMENT;
        a.client_side = 1;
        scenario_add(s, &a);
    }
    if (o->cpu_workers > 0 || o->mem_bytes > 0) {
        for (int svc = 0; svc < SVC_PEER_COUNT; svc++) {
            int cpu = o->cpu_workers > 0 && (o->cpu_targets & (1u << svc));
            int mem = o->mem_bytes > 0 && (o->mem_targets & (1u << svc));
            if (!cpu && !mem) continue;
            sim_chaos_action a;
            char name[96];
            snprintf(name, sizeof name, "cli-stress-%s", svc_peer_name((svc_peer)svc));
            chaos_action_init(&a, name, ACT_STRESS);
            a.start_ns = start;
            a.end_ns = end;
            a.selector.services = 1u << svc;
            if (cpu) {
                a.cpu_workers = o->cpu_workers;
                a.cpu_load = o->cpu_load;
            }
            if (mem) {
                a.mem_workers = o->mem_workers;
                a.mem_bytes = o->mem_bytes;
            }
            scenario_add(s, &a);
        }
    }
    for (int k = 0; k < o->nkills; k++) {
        sim_chaos_action a;
        char name[96];
        snprintf(name, sizeof name, "cli-pod-kill-%s-%d", svc_peer_name(o->kills[k].service), k);
        chaos_action_init(&a, name, ACT_POD_KILL);
        a.start_ns = start + o->kills[k].at_ns;
        a.selector.services = 1u << o->kills[k].service;
        a.selector.mode = SEL_ONE;
        a.restart_delay_ns = 1 * SEC;
        scenario_add(s, &a);
    }
}

void sim_options_command(const sim_options *o, uint64_t seed, char *out, size_t outlen) {
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0, __VA_ARGS__)
    ADD("bin/sim --seed %llu", (unsigned long long)seed);
    for (int i = 0; i < o->nexperiments; i++) ADD(" --experiment %s", o->experiments[i]);
    if (o->manifest) ADD(" --manifest %s", o->manifest);
    if (o->loss_pct > 0) ADD(" --loss %g%%", o->loss_pct);
    if (o->correlation_pct > 0) ADD(" --correlation %g%%", o->correlation_pct);
    if (o->client_loss_pct > 0) ADD(" --client-loss %g%%", o->client_loss_pct);
    if (o->delay_ns) ADD(" --delay %lldus", (long long)(o->delay_ns / US));
    if (o->jitter_ns) ADD(" --jitter %lldus", (long long)(o->jitter_ns / US));
    for (int i = 0; i < o->nlinks; i++)
        ADD(" --link %s:%s", svc_peer_name(o->links[i].from), svc_peer_name(o->links[i].to));
    if (o->nlinks) ADD(" --direction %s", direction_name(o->dir));
    if (o->partition) ADD(" --partition");
    if (o->cpu_workers) ADD(" --cpu-workers %d --cpu-load %d", o->cpu_workers, o->cpu_load);
    if (o->mem_bytes) ADD(" --mem-stress %lld --mem-workers %d", (long long)o->mem_bytes, o->mem_workers);
    for (int k = 0; k < o->nkills; k++)
        ADD(" --pod-kill %s@%lldms", svc_peer_name(o->kills[k].service), (long long)(o->kills[k].at_ns / MS));
    ADD(" --baseline %lldms --chaos %lldms --recovery %lldms", (long long)(o->baseline_ns / MS),
        (long long)(o->chaos_ns / MS), (long long)(o->recovery_ns / MS));
    if (o->load.burst)
        ADD(" --burst %d@%lldms", o->load.burst, (long long)(o->load.burst_at_ns / MS));
    else if (o->load.closed_loop)
        ADD(" --clients %d", o->load.clients);
    else
        ADD(" --rate %g", o->load.rate_per_s);
    ADD(" --workload %s", load_workload_name(o->load.workload));
    if (o->load.keepalive) ADD(" --keepalive");
    if (o->load.client_retries) ADD(" --client-retries %d", o->load.client_retries);
    if (o->services.retry.attempts > 1) ADD(" --retries %d", o->services.retry.attempts);
    if (!o->services.idempotency) ADD(" --idempotency off");
#undef ADD
}

/* One line naming the command line's faults (the report's "faults:" line). */
void sim_options_describe_faults(const sim_options *o, char *out, size_t outlen) {
    size_t n = 0;
    out[0] = '\0';
#define ADD(...) n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0, __VA_ARGS__)
    if (o->loss_pct > 0 || o->delay_ns > 0 || o->partition) {
        if (o->partition)
            ADD("partition");
        else {
            if (o->loss_pct > 0) ADD("%g %% loss", o->loss_pct);
            if (o->correlation_pct > 0) ADD(" (correlation %g %%)", o->correlation_pct);
            if (o->delay_ns > 0) ADD("%s%g ms delay", o->loss_pct > 0 ? " + " : "", (double)o->delay_ns / 1e6);
            if (o->jitter_ns > 0) ADD(" ± %g ms", (double)o->jitter_ns / 1e6);
        }
        if (o->nlinks) {
            for (int i = 0; i < o->nlinks; i++)
                ADD("%s %s %s %s", i ? "," : " on", svc_peer_name(o->links[i].from),
                    o->dir == DIR_BOTH ? "<->"
                    : o->dir == DIR_TO ? "->"
                                       : "<-",
                    svc_peer_name(o->links[i].to));
        } else {
            ADD(" on every service-to-service link, both directions");
        }
    }
    if (o->client_loss_pct > 0) ADD("%s%g %% loss between the clients and payment", n ? "; " : "", o->client_loss_pct);
    if (o->cpu_workers > 0) {
        ADD("%sCPU stress %d x %d %% on", n ? "; " : "", o->cpu_workers, o->cpu_load);
        for (int s = 0; s < SVC_PEER_COUNT; s++)
            if (o->cpu_targets & (1u << s)) ADD(" %s", svc_peer_name((svc_peer)s));
    }
    if (o->mem_bytes > 0) {
        ADD("%smemory stress %.1f MiB (%d workers) on", n ? "; " : "", (double)o->mem_bytes / (1024.0 * 1024.0),
            o->mem_workers);
        for (int s = 0; s < SVC_PEER_COUNT; s++)
            if (o->mem_targets & (1u << s)) ADD(" %s", svc_peer_name((svc_peer)s));
    }
    for (int k = 0; k < o->nkills; k++)
        ADD("%skill one %s pod at chaos+%g s", n ? "; " : "", svc_peer_name(o->kills[k].service),
            (double)o->kills[k].at_ns / 1e9);
    if (!n) ADD(o->nexperiments ? "from the experiment file (see chaos actions and the prediction below)" : "none");
#undef ADD
}
