/*
 * options.c: defaults, the command-line parser, --help, the reproducing command line and the command-line
 * faults (see options.h).
 *
 * Every flag is one row of the table `opts`: its kind of value (how it is parsed, checked and written back),
 * the field it fills, the message for a refused value, whether the reproducing command carries it, and its
 * line in --help. sim_options_parse(), sim_options_usage() and sim_options_command() all walk that table, so a
 * flag cannot be parsed without being documented and reproduced.
 */
#include "sim/run/options.h"
#include "base/units.h"
#include "base/version.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
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
    o->explore_budget = 6000;
    o->explore_width = 0.04;
    o->explore_pairs = 6;
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

/* ---- the reproducing command line ---- */

/* The command line being written: flags are appended while they fit (the text is cut, still terminated, when
 * it does not), and only where the run differs from the defaults. */
typedef struct cmd_writer {
    char *out;
    size_t len, n;
    uint64_t seed;
    const sim_options *def;
} cmd_writer;

static void cmd_add(cmd_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cmd_add(cmd_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->n < w->len ? w->out + w->n : NULL, w->n < w->len ? w->len - w->n : 0, fmt, ap);
    va_end(ap);
    if (n > 0) w->n += (size_t)n;
}

/* A value as one shell word: as it is when plain, else in single quotes (a quote inside written '\''). */
static void cmd_word(cmd_writer *w, const char *s) {
    int plain = *s != '\0';
    for (const char *p = s; *p && plain; p++) plain = isalnum((unsigned char)*p) || strchr("_./:@%,+=-", *p);
    if (plain) {
        cmd_add(w, " %s", s);
        return;
    }
    cmd_add(w, " '");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            cmd_add(w, "'\\''");
        else
            cmd_add(w, "%c", *p);
    }
    cmd_add(w, "'");
}

/* Exact: in the largest of s, ms, us and ns that divides it. */
static void cmd_duration(cmd_writer *w, int64_t ns) {
    if (ns % SEC == 0)
        cmd_add(w, "%llds", (long long)(ns / SEC));
    else if (ns % MS == 0)
        cmd_add(w, "%lldms", (long long)(ns / MS));
    else if (ns % US == 0)
        cmd_add(w, "%lldus", (long long)(ns / US));
    else
        cmd_add(w, "%lldns", (long long)ns);
}

/* The shortest %g text that reads back as exactly v. */
static void real_text(double v, char *buf, size_t len) {
    for (int digits = 15; digits < 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
    snprintf(buf, len, "%.17g", v);
}

/* A percentage as N%, or as a probability when that is shorter: --loss 0.07 is stored as 0.07 * 100 =
 * 7.000000000000001, which "0.07" reproduces and "7%" does not. */
static void cmd_percent(cmd_writer *w, double pct) {
    char as_pct[40], as_prob[40];
    double back;
    real_text(pct, as_pct, sizeof as_pct);
    real_text(pct / 100.0, as_prob, sizeof as_prob);
    if (strlen(as_prob) <= strlen(as_pct) && parse_percent(as_prob, &back) == 0 && back == pct)
        cmd_add(w, " %s", as_prob);
    else
        cmd_add(w, " %s%%", as_pct);
}

/* ---- the table's kinds of value ---- */

typedef enum opt_kind {
    OPT_HELP,     /* prints --help; the parser returns 1 */
    OPT_FLAG,     /* no value: sets the int field to `set` */
    OPT_INT,      /* int field, lo..hi */
    OPT_DOUBLE,   /* double field, lo..hi */
    OPT_DURATION, /* int64_t field in ns, lo..hi ns (sim_parse_duration) */
    OPT_SIZE,     /* int64_t field in bytes (sim_parse_size) */
    OPT_PERCENT,  /* double field in percent: "0.8" or "80%" */
    OPT_STRING,   /* const char * field, pointing into argv */
    OPT_LIST,     /* repeatable: const char *field[max], with its int count at `count` */
    OPT_CHOICE,   /* int (or enum) field, one of `choices` */
    OPT_SERVICES, /* unsigned field: a bit per service, from "payment,inventory" */
    OPT_CUSTOM,   /* `parse` and `write` do it (values that set several fields) */
    OPT_FILES,    /* every following argument up to the next option: char **field and its int count */
    OPT_VERSION,  /* prints the version; the parser returns 1 */
} opt_kind;

typedef struct opt_choice {
    const char *name;
    int value;
} opt_choice;

static const opt_choice workload_choices[] = {
    {"chain", LOAD_CHAIN}, {"process", LOAD_PROCESS}, {"custom", LOAD_CUSTOM}, {NULL, 0}};
static const opt_choice direction_choices[] = {{"to", DIR_TO}, {"from", DIR_FROM}, {"both", DIR_BOTH}, {NULL, 0}};
static const opt_choice syn_choices[] = {{"linear", 4}, {"doubling", 0}, {NULL, 0}};
static const opt_choice on_off[] = {{"on", 1}, {"off", 0}, {NULL, 0}};
static const opt_choice strategy_choices[] = {
    {"guided", SIM_EXPLORE_GUIDED}, {"bisect", SIM_EXPLORE_BISECT}, {"random", SIM_EXPLORE_RANDOM}, {NULL, 0}};
static const opt_choice sched_choices[] = {
    {"eevdf", CFS_SCHED_EEVDF}, {"eevdf-6.6", CFS_SCHED_EEVDF_66}, {"cfs", CFS_SCHED_CFS}, {NULL, 0}};

static int choice_parse(const opt_choice *c, const char *text, int *out) {
    for (; c->name; c++)
        if (!strcmp(text, c->name)) {
            *out = c->value;
            return 0;
        }
    return -1;
}

static const char *choice_name(const opt_choice *c, int value) {
    for (; c->name; c++)
        if (c->value == value) return c->name;
    return NULL;
}

/* --help's sections, in order */
enum { S_RUN, S_LOAD, S_NETWORK, S_STRESS, S_CHAOS_MESH, S_CLUSTER, S_CORRECTNESS, S_EXPLORE, S_OUTPUT };
static const char *const section_titles[] = {
    "run",
    "load",
    "network faults (active during the chaos phase)",
    "CPU and memory (during the chaos phase)",
    "Chaos Mesh experiments",
    "cluster and runtime",
    "correctness",
    "fault-space exploration (docs/explore.md)",
    "output",
};

/* ---- values that set several fields ---- */

static const char *parse_seed(sim_options *o, const char *v) {
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    if (errno || end == v || *end) return "expected a non-negative integer";
    o->seed = o->seed_last = s;
    return NULL;
}

static void write_seed(cmd_writer *w, const sim_options *o) {
    (void)o;
    cmd_add(w, " --seed %llu", (unsigned long long)w->seed);
}

static const char *parse_seeds(sim_options *o, const char *v) {
    unsigned long long lo, hi;
    char tail;
    if (sscanf(v, "%llu..%llu%c", &lo, &hi, &tail) != 2 || hi < lo || hi - lo > 1000000)
        return "expected A..B with A <= B";
    o->seed = lo;
    o->seed_last = hi;
    return NULL;
}

static const char *parse_shard(sim_options *o, const char *v) {
    int i, n;
    char tail;
    if (sscanf(v, "%d/%d%c", &i, &n, &tail) != 2 || n < 1 || n > 10000 || i < 0 || i >= n)
        return "expected I/N with 0 <= I < N <= 10000 (I counts from 0, as JOB_COMPLETION_INDEX does)";
    o->shard = i;
    o->nshards = n;
    return NULL;
}

static const char *parse_rate(sim_options *o, const char *v) {
    char *end;
    double r = strtod(v, &end);
    if (end == v || *end || !(r > 0) || r > 100000) return "expected a rate in (0, 100000] per second";
    o->load.rate_per_s = r;
    o->load.closed_loop = 0;
    return NULL;
}

static const char *parse_clients(sim_options *o, const char *v) {
    if (parse_int(v, 1, 10000, &o->load.clients) < 0) return "expected 1..10000";
    o->load.closed_loop = 1;
    return NULL;
}

/* --rate and --clients together: the last of the two given decides open or closed loop. */
static void write_load_mode(cmd_writer *w, const sim_options *o) {
    const load_config *l = &o->load, *d = &w->def->load;
    char rate[40];
    real_text(l->rate_per_s, rate, sizeof rate);
    int rate_differs = l->rate_per_s != d->rate_per_s, clients_differ = l->clients != d->clients;
    if (l->closed_loop) {
        if (rate_differs) cmd_add(w, " --rate %s", rate);
        cmd_add(w, " --clients %d", l->clients);
    } else {
        if (clients_differ) cmd_add(w, " --clients %d", l->clients);
        if (rate_differs || clients_differ || d->closed_loop) cmd_add(w, " --rate %s", rate);
    }
}

/* N or N@D: N requests at once, D into each phase (default 1 s). */
static const char *parse_burst(sim_options *o, const char *v) {
    char num[16];
    const char *at = strchr(v, '@');
    snprintf(num, sizeof num, "%.*s", at ? (int)(at - v) : (int)strlen(v), v);
    if (parse_int(num, 1, 10000, &o->load.burst) < 0 ||
        (at && (sim_parse_duration(at + 1, &o->load.burst_at_ns) < 0 || o->load.burst_at_ns > 3600 * SEC)))
        return "expected N (1..10000) or N@DURATION, e.g. 50 or 50@5s";
    return NULL;
}

static void write_burst(cmd_writer *w, const sim_options *o) {
    const load_config *l = &o->load;
    if (!l->burst) return;
    cmd_add(w, " --burst %d", l->burst);
    if (l->burst_at_ns == w->def->load.burst_at_ns) return;
    cmd_add(w, "@");
    cmd_duration(w, l->burst_at_ns);
}

static const char *parse_endpoint(sim_options *o, const char *v) {
    char method[8], path[160];
    if (sscanf(v, "%7s %159s", method, path) != 2 || path[0] != '/') return "expected 'METHOD /path'";
    snprintf(o->load.method, sizeof o->load.method, "%s", method);
    snprintf(o->load.path, sizeof o->load.path, "%s", path);
    if (strcmp(path, "/payment/chain") != 0) {
        o->load.workload = LOAD_CUSTOM;
        if (!strcmp(method, "GET")) o->load.body[0] = '\0';
    }
    return NULL;
}

static int endpoint_differs(const sim_options *o, const sim_options *def) {
    return strcmp(o->load.method, def->load.method) || strcmp(o->load.path, def->load.path);
}

/* After --workload: --endpoint makes any other path than the chain's custom, so a workload given after it
 * is said again. */
static void write_endpoint(cmd_writer *w, const sim_options *o) {
    const load_config *l = &o->load;
    if (!endpoint_differs(o, w->def)) return;
    char text[sizeof l->method + sizeof l->path + 1];
    snprintf(text, sizeof text, "%s %s", l->method, l->path);
    cmd_add(w, " --endpoint");
    cmd_word(w, text);
    if (strcmp(l->path, "/payment/chain") != 0 && l->workload != LOAD_CUSTOM)
        cmd_add(w, " --workload %s", choice_name(workload_choices, (int)l->workload));
}

static const char *parse_body(sim_options *o, const char *v) {
    if (strlen(v) >= sizeof o->load.body) return "body too long";
    snprintf(o->load.body, sizeof o->load.body, "%s", v);
    return NULL;
}

/* After --endpoint, which empties the body of a GET to another path than the chain's. */
static void write_body(cmd_writer *w, const sim_options *o) {
    const load_config *l = &o->load;
    int emptied = endpoint_differs(o, w->def) && strcmp(l->path, "/payment/chain") && !strcmp(l->method, "GET");
    if (strcmp(l->body, emptied ? "" : w->def->load.body) == 0) return;
    cmd_add(w, " --body");
    cmd_word(w, l->body);
}

static const char *parse_link(sim_options *o, const char *v) {
    char x[64], y[64];
    const char *colon = strchr(v, ':');
    if (!colon || colon == v || o->nlinks >= OPT_MAX_LINKS) return "expected A:B, e.g. payment:inventory";
    snprintf(x, sizeof x, "%.*s", (int)(colon - v), v);
    snprintf(y, sizeof y, "%s", colon + 1);
    sim_link *l = &o->links[o->nlinks];
    if (parse_service(x, &l->from) < 0 || parse_service(y, &l->to) < 0)
        return "services are payment, inventory, notification";
    o->nlinks++;
    return NULL;
}

static void write_links(cmd_writer *w, const sim_options *o) {
    for (int i = 0; i < o->nlinks; i++)
        cmd_add(w, " --link %s:%s", svc_peer_name(o->links[i].from), svc_peer_name(o->links[i].to));
}

static const char *parse_pod_kill(sim_options *o, const char *v) {
    static const char *const bad = "expected SERVICE@TIME, e.g. inventory@10s";
    const char *at = strchr(v, '@');
    char svc[64];
    if (!at || o->nkills >= OPT_MAX_KILLS) return bad;
    snprintf(svc, sizeof svc, "%.*s", (int)(at - v), v);
    sim_pod_kill *k = &o->kills[o->nkills];
    if (parse_service(svc, &k->service) < 0 || sim_parse_duration(at + 1, &k->at_ns) < 0) return bad;
    o->nkills++;
    return NULL;
}

static void write_pod_kills(cmd_writer *w, const sim_options *o) {
    for (int k = 0; k < o->nkills; k++) {
        cmd_add(w, " --pod-kill %s@", svc_peer_name(o->kills[k].service));
        cmd_duration(w, o->kills[k].at_ns);
    }
}

static const char *parse_replicas(sim_options *o, const char *v) {
    int r[3];
    char tail;
    if (sscanf(v, "%d,%d,%d%c", &r[0], &r[1], &r[2], &tail) != 3) return "expected P,I,N such as 3,2,2";
    for (int k = 0; k < 3; k++) {
        if (r[k] < 1 || r[k] > 16) return "each count must be 1..16";
        o->cluster.svc[k].replicas = r[k];
    }
    o->replicas_set = 1;
    return NULL;
}

static void write_replicas(cmd_writer *w, const sim_options *o) {
    const sim_service_spec *s = o->cluster.svc;
    if (o->replicas_set) cmd_add(w, " --replicas %d,%d,%d", s[0].replicas, s[1].replicas, s[2].replicas);
}

static const char *parse_cpu_limit(sim_options *o, const char *v) {
    int n;
    if (parse_int(v, 1, 64000, &n) < 0) return "expected millicores 1..64000";
    for (int k = 0; k < SVC_PEER_COUNT; k++) o->cluster.svc[k].cpu_limit_millis = n;
    return NULL;
}

/* Only a limit the flag can say (the same for every service; different ones come from a manifest). */
static void write_cpu_limit(cmd_writer *w, const sim_options *o) {
    int64_t m = o->cluster.svc[0].cpu_limit_millis;
    for (int k = 1; k < SVC_PEER_COUNT; k++)
        if (o->cluster.svc[k].cpu_limit_millis != m) return;
    if (m != w->def->cluster.svc[0].cpu_limit_millis) cmd_add(w, " --cpu-limit %lld", (long long)m);
}

/* P,MIN,MAX: with probability P an idle CPU starts a woken thread U(MIN, MAX) late; P,MEAN: exponentially
 * late with that mean (the form the lab's calibration fits); or off. */
static const char *parse_wake_stall(sim_options *o, const char *v) {
    static const char *bad =
        "expected P,MEAN or P,MIN,MAX (e.g. 2%,1.4ms or 0.3%,0.7ms,1.2ms; 0 < MEAN, MIN <= MAX, both <= 100ms) or off";
    cfs_config *c = &o->cluster.cfs;
    char p[32], lo[32], hi[32];
    int64_t mn = 0, mx = 0;
    double pct = 0;
    if (!strcmp(v, "off")) {
        c->wake_stall_p = 0;
        return NULL;
    }
    int fields = sscanf(v, "%31[^,],%31[^,],%31s", p, lo, hi);
    if (fields < 2 || parse_percent(p, &pct) < 0 || sim_parse_duration(lo, &mn) < 0) return bad;
    if (fields == 2) { /* P,MEAN */
        if (mn <= 0 || mn > 100 * MS) return bad;
        c->wake_stall_p = pct / 100;
        c->wake_stall_mean_ns = mn;
        c->wake_stall_min_ns = c->wake_stall_max_ns = 0;
        return NULL;
    }
    if (sim_parse_duration(hi, &mx) < 0 || mn > mx || mx > 100 * MS) return bad;
    c->wake_stall_p = pct / 100;
    c->wake_stall_mean_ns = 0;
    c->wake_stall_min_ns = mn;
    c->wake_stall_max_ns = mx;
    return NULL;
}

static void write_wake_stall(cmd_writer *w, const sim_options *o) {
    const cfs_config *c = &o->cluster.cfs;
    if (c->wake_stall_p == w->def->cluster.cfs.wake_stall_p) return;
    if (c->wake_stall_p <= 0) {
        cmd_add(w, " --wake-stall off");
        return;
    }
    cmd_add(w, " --wake-stall");
    cmd_percent(w, c->wake_stall_p * 100);
    cmd_add(w, ",");
    if (c->wake_stall_mean_ns > 0) {
        cmd_duration(w, c->wake_stall_mean_ns);
        return;
    }
    cmd_duration(w, c->wake_stall_min_ns);
    cmd_add(w, ",");
    cmd_duration(w, c->wake_stall_max_ns);
}

static const char *parse_backoff(sim_options *o, const char *v) {
    int64_t d;
    if (sim_parse_duration(v, &d) < 0 || d > 60 * SEC) return "expected a duration up to 60s";
    o->services.retry.backoff_ns = d;
    if (o->services.retry.backoff_max_ns < d) o->services.retry.backoff_max_ns = d;
    return NULL;
}

/* --backoff also raises the cap of one wait; a cap above the last backoff came from an earlier --backoff. */
static void write_backoff(cmd_writer *w, const sim_options *o) {
    const svc_retry_policy *r = &o->services.retry, *d = &w->def->services.retry;
    int64_t cap = r->backoff_ns > d->backoff_max_ns ? r->backoff_ns : d->backoff_max_ns;
    if (r->backoff_max_ns != cap && r->backoff_max_ns > r->backoff_ns) {
        cmd_add(w, " --backoff ");
        cmd_duration(w, r->backoff_max_ns);
    }
    if (r->backoff_ns == d->backoff_ns && r->backoff_max_ns == d->backoff_max_ns) return;
    cmd_add(w, " --backoff ");
    cmd_duration(w, r->backoff_ns);
}

static const char *parse_idempotency(sim_options *o, const char *v) {
    if (choice_parse(on_off, v, &o->services.idempotency) < 0) return "expected on or off";
    o->idempotency_off = !o->services.idempotency;
    return NULL;
}

static void write_idempotency(cmd_writer *w, const sim_options *o) {
    if (o->services.idempotency != w->def->services.idempotency)
        cmd_add(w, " --idempotency %s", o->services.idempotency ? "on" : "off");
}

/* ---- the table ---- */

typedef struct opt_spec {
    const char *flag;
    opt_kind kind;
    size_t off;   /* the field, in sim_options */
    size_t count; /* OPT_LIST: its int count field */
    int max;      /* OPT_LIST: capacity */
    int set;      /* OPT_FLAG: the value the flag sets */
    double lo, hi;
    const opt_choice *choices;
    const char *bad;                                     /* a refused value: "FLAG VALUE: bad" */
    const char *(*parse)(sim_options *o, const char *v); /* OPT_CUSTOM: NULL, or why v is refused */
    void (*write)(cmd_writer *w, const sim_options *o);  /* OPT_CUSTOM: NULL when written by another row */
    int nocmd; /* not in the reproducing command: how to run or what to print, not what runs */
    const char *alias;
    int section;
    /* the --help line: synopsis (NULL: another row's line names the flag) and description. A synopsis longer
     * than the column carries the extra spaces that separate it from its description. */
    const char *syn, *help;
} opt_spec;

/* offsetof a field that must have type T (anything else does not compile) */
#define FIELD(f, T) (offsetof(sim_options, f) + 0 * sizeof(_Generic(((sim_options *)0)->f, T : 1)))
/* an enum field, set through an int: an enum with non-negative values has type unsigned int here, which an int
 * lvalue may access (C11 6.5p7); the size check keeps any other enum out */
#define ENUM_FIELD(f) (offsetof(sim_options, f) + 0 * sizeof(char[sizeof(((sim_options *)0)->f) == sizeof(int)]))
#define FLAG(f, v) .kind = OPT_FLAG, .off = FIELD(f, int), .set = v
#define INT(f, a, b) .kind = OPT_INT, .off = FIELD(f, int), .lo = a, .hi = b
#define DURATION(f, a, b) .kind = OPT_DURATION, .off = FIELD(f, int64_t), .lo = a, .hi = b
#define PERCENT(f) .kind = OPT_PERCENT, .off = FIELD(f, double)
#define STRING(f) .kind = OPT_STRING, .off = FIELD(f, const char *)
#define LIST(f, n)                                                                                                     \
    .kind = OPT_LIST, .off = FIELD(f, const char **), .count = FIELD(n, int),                                          \
    .max = (int)ARRAY_LEN(((sim_options *)0)->f)
#define CHOICE(f, c) .kind = OPT_CHOICE, .off = ENUM_FIELD(f), .choices = c
#define CUSTOM(p, w) .kind = OPT_CUSTOM, .parse = p, .write = w
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ANY_DURATION 1e19 /* above what sim_parse_duration accepts */

static const opt_spec opts[] = {
    {"--seed", CUSTOM(parse_seed, write_seed), .section = S_RUN, .syn = "--seed N", .help = "random seed (default 1)"},
    {"--seeds", CUSTOM(parse_seeds, NULL), .nocmd = 1, .section = S_RUN, .syn = "--seeds A..B",
     .help = "run seeds A to B on --threads threads; report means and 95% intervals"},
    {"--baseline", DURATION(baseline_ns, 0, 86400 * SEC), .bad = "expected a duration such as 30s or 2m",
     .section = S_RUN, .syn = "--baseline D --chaos D --recovery D  ",
     .help = "phase durations (default 30s / 60s / 30s)"},
    {"--chaos", DURATION(chaos_ns, 0, 86400 * SEC), .bad = "expected a duration such as 30s or 2m", .section = S_RUN},
    {"--recovery", DURATION(recovery_ns, 0, 86400 * SEC), .bad = "expected a duration such as 30s or 2m",
     .section = S_RUN},
    {"--threads", INT(threads, 1, 64), .bad = "expected 1..64", .nocmd = 1, .section = S_RUN, .syn = "--threads N",
     .help = "threads for --seeds (default 2)"},
    {"--shard", CUSTOM(parse_shard, NULL), .nocmd = 1, .section = S_RUN, .syn = "--shard I/N",
     .help = "run only part I (0..N-1) of N of --seeds; prints the part as JSON"},
    {"--merge", .kind = OPT_FILES, .off = FIELD(merge_files, char **), .count = FIELD(nmerge_files, int), .nocmd = 1,
     .section = S_RUN, .syn = "--merge FILE...",
     .help = "join the N parts into the report one process prints (text, --json, --html)"},

    {"--rate", CUSTOM(parse_rate, write_load_mode), .section = S_LOAD, .syn = "--rate R",
     .help = "open-loop Poisson arrivals per second (default 10)"},
    {"--clients", CUSTOM(parse_clients, NULL), .section = S_LOAD, .syn = "--clients N",
     .help = "closed-loop clients instead (each sends after the previous answer)"},
    {"--think", DURATION(load.think_ns, 0, ANY_DURATION), .bad = "expected a duration", .section = S_LOAD,
     .syn = "--think D", .help = "closed-loop pause between requests (default 0)"},
    {"--burst", CUSTOM(parse_burst, write_burst), .section = S_LOAD, .syn = "--burst N[@D]",
     .help = "instead: N requests at once, D (default 1s) into each phase; reports the\n"
             "                           time until the last is answered"},
    {"--workload", CHOICE(load.workload, workload_choices), .bad = "expected chain, process or custom",
     .section = S_LOAD, .syn = "--workload W",
     .help = "chain (default), process (payments with Idempotency-Key), custom"},
    {"--endpoint", CUSTOM(parse_endpoint, write_endpoint), .section = S_LOAD, .syn = "--endpoint 'METHOD /path' ",
     .help = "custom endpoint (implies --workload custom); --body JSON"},
    {"--body", CUSTOM(parse_body, write_body), .section = S_LOAD},
    {"--keepalive", FLAG(load.keepalive, 1), .section = S_LOAD, .syn = "--keepalive | --fresh",
     .help = "client connections: reuse, or one per request (default fresh)"},
    {"--fresh", FLAG(load.keepalive, 0), .section = S_LOAD},
    {"--timeout", DURATION(load.timeout_ns, 1, ANY_DURATION), .bad = "expected a positive duration", .section = S_LOAD,
     .syn = "--timeout D", .help = "client deadline per request (default 35s)"},
    {"--client-retries", INT(load.client_retries, 0, 20), .bad = "expected 0..20", .section = S_LOAD,
     .syn = "--client-retries N", .help = "process workload: retries with the same Idempotency-Key (default 0)"},

    {"--loss", PERCENT(loss_pct), .bad = "expected a probability 0..1 or a percentage N%", .section = S_NETWORK,
     .syn = "--loss P", .help = "loss probability, 0..1 or N% (default links: every service-to-service link)"},
    {"--correlation", PERCENT(correlation_pct), .bad = "expected 0..1 or N%", .section = S_NETWORK,
     .syn = "--correlation C", .help = "netem loss correlation, 0..1 or N% (changes the effective rate!)"},
    {"--delay", DURATION(delay_ns, 0, 200 * SEC), .bad = "expected a duration up to 200s", .section = S_NETWORK,
     .syn = "--delay D --jitter D", .help = "netem delay and uniform jitter"},
    {"--jitter", DURATION(jitter_ns, 0, 200 * SEC), .bad = "expected a duration up to 200s", .section = S_NETWORK},
    {"--link", CUSTOM(parse_link, write_links), .section = S_NETWORK, .syn = "--link A:B",
     .help = "only traffic A sends to B (payment, inventory, notification); repeatable"},
    {"--direction", CHOICE(dir, direction_choices), .bad = "expected to, from or both", .section = S_NETWORK,
     .syn = "--direction to|from|both", .help = "with --link: A's egress, B's egress, or both (default both)"},
    {"--partition", FLAG(partition, 1), .section = S_NETWORK, .syn = "--partition",
     .help = "drop everything on the links (iptables, not netem)"},
    {"--client-loss", PERCENT(client_loss_pct), .bad = "expected a probability 0..1 or a percentage N%",
     .section = S_NETWORK, .syn = "--client-loss P",
     .help = "loss between the load clients and payment, both ways (answers get lost)"},

    {"--cpu-workers", INT(cpu_workers, 0, 64), .bad = "expected 0..64", .section = S_STRESS,
     .syn = "--cpu-workers N --cpu-load L  ", .help = "stress-ng --cpu N --cpu-load L in the target pods' cgroups"},
    {"--cpu-load", INT(cpu_load, 0, 100), .bad = "expected a percentage 0..100", .section = S_STRESS},
    {"--cpu-target", .kind = OPT_SERVICES, .off = FIELD(cpu_targets, unsigned),
     .bad = "services are payment, inventory, notification", .section = S_STRESS, .syn = "--cpu-target S",
     .help = "service(s) for CPU stress, comma-separated (default payment)"},
    {"--mem-stress", .kind = OPT_SIZE, .off = FIELD(mem_bytes, int64_t),
     .bad = "expected a size such as 100MB or 64MiB", .section = S_STRESS, .syn = "--mem-stress SIZE",
     .help = "memStress total size (100MB = 10^8 bytes, 100MiB = 2^20 * 100)"},
    {"--mem-workers", INT(mem_workers, 1, 16), .bad = "expected 1..16", .section = S_STRESS,
     .syn = "--mem-workers N --mem-target S  ", .help = "(default 2 workers on inventory)"},
    {"--mem-target", .kind = OPT_SERVICES, .off = FIELD(mem_targets, unsigned),
     .bad = "services are payment, inventory, notification", .section = S_STRESS},
    {"--pod-kill", CUSTOM(parse_pod_kill, write_pod_kills), .section = S_STRESS, .syn = "--pod-kill S@T",
     .help = "kill one pod of service S at T after the chaos phase starts; repeatable"},

    {"--experiment", LIST(experiments, nexperiments), .bad = "too many experiment files", .section = S_CHAOS_MESH,
     .syn = "--experiment FILE", .help = "run each chaos object of FILE (repeatable; docs/experiments.md)"},
    {"--manifest", STRING(manifest), .section = S_CHAOS_MESH, .syn = "--manifest FILE",
     .help = "take the cluster (replicas, limits, ports, labels) from k8s YAML"},
    {"--together", FLAG(together, 1), .section = S_CHAOS_MESH, .syn = "--together",
     .help = "apply all documents at once (as kubectl apply -f does)"},
    {"--schedule-cycles", INT(schedule_cycles, 1, 50), .bad = "expected 1..50", .section = S_CHAOS_MESH,
     .syn = "--schedule-cycles N", .help = "Schedule ticks to simulate per Schedule (default 2)"},
    {"--object", LIST(objects, nobjects), .bad = "too many --object", .section = S_CHAOS_MESH, .syn = "--object NAME",
     .help = "run only the chaos object NAME of the files (repeatable)"},
    {"--expect", LIST(expects, nexpects), .bad = "too many expectations", .section = S_CHAOS_MESH,
     .syn = "--expect 'EXPR'", .help = "e.g. 'chain.success_rate >= 0.95 during recovery'; repeatable"},

    {"--replicas", CUSTOM(parse_replicas, write_replicas), .section = S_CLUSTER, .syn = "--replicas P,I,N",
     .help = "replica counts (default 3,2,2)"},
    {"--cpus", INT(cluster.node_cpus, 1, 64), .bad = "expected 1..64", .section = S_CLUSTER, .syn = "--cpus N",
     .help = "node CPUs (default 2)"},
    {"--cpu-limit", CUSTOM(parse_cpu_limit, write_cpu_limit), .section = S_CLUSTER, .syn = "--cpu-limit M",
     .help = "CPU limit per pod in millicores (default 200)"},
    {"--link-latency", DURATION(cluster.net.link_latency_ns, 0, SEC), .bad = "expected a duration up to 1s",
     .section = S_CLUSTER, .syn = "--link-latency D", .help = "one-way latency per packet (default 50us)"},
    {"--sched", CHOICE(cluster.cfs.sched, sched_choices),
     .bad = "expected eevdf (as 6.18 runs it), eevdf-6.6 (6.6-6.11: Minikube's ISO) or cfs (before 6.6)",
     .section = S_CLUSTER, .syn = "--sched eevdf|cfs",
     .help = "the kernel's fair scheduler: EEVDF (6.6 and later, default) or CFS (before 6.6);\n"
             "                           eevdf-6.6: EEVDF as 6.6-6.11 ran it (Minikube's ISO kernel)"},
    {"--cpu-quantum", DURATION(cluster.cfs.quantum_ns, 1, 100 * MS), .bad = "expected a duration up to 100ms",
     .section = S_CLUSTER, .syn = "--cpu-quantum D",
     .help = "its base slice (default the kernel's: 0.7 ms x (1 + log2 CPUs) for EEVDF)"},
    {"--wake-latency", DURATION(cluster.cfs.wake_latency_ns, 0, 10 * MS), .bad = "expected a duration up to 10ms",
     .section = S_CLUSTER, .syn = "--wake-latency D", .help = "an idle CPU starting a woken thread (default 20us)"},
    {"--wake-stall", CUSTOM(parse_wake_stall, write_wake_stall), .section = S_CLUSTER,
     .syn = "--wake-stall P,MEAN|P,MIN,MAX",
     .help = "... with probability P later by Exp(MEAN) or U(MIN, MAX): the host's late\n"
             "                           vCPU, or off (default; the lab fits P,MEAN: docs/fidelity.md)"},
    {"--cpu-scale", .kind = OPT_DOUBLE, .off = FIELD(cluster.cpu_scale, double), .lo = 0.1, .hi = 10,
     .bad = "expected a factor 0.1..10", .section = S_CLUSTER, .syn = "--cpu-scale F",
     .help = "CPU time per piece of work relative to the calibration machine's\n"
             "                           (default 1; the lab measures it: docs/calibration.md)"},
    {"--syn-schedule", CHOICE(cluster.tcp.syn_linear_timeouts, syn_choices), .bad = "expected linear or doubling",
     .section = S_CLUSTER, .syn = "--syn-schedule linear|doubling  ",
     .help = "kernel >= 6.5 (default) or the older doubling SYN timers"},
    {"--downstream-keepalive", CHOICE(cluster.keepalive_downstream, on_off), .bad = "expected on or off",
     .section = S_CLUSTER, .syn = "--downstream-keepalive on|off   ",
     .help = "the services' libcurl connection reuse (default on)"},
    {"--retries", INT(services.retry.attempts, 1, 10), .bad = "expected total attempts 1..10", .section = S_CLUSTER,
     .syn = "--retries N --backoff D", .help = "the services' downstream retry policy (default 1 attempt)"},
    {"--backoff", CUSTOM(parse_backoff, write_backoff), .section = S_CLUSTER},
    {"--idempotency", CUSTOM(parse_idempotency, write_idempotency), .section = S_CLUSTER, .syn = "--idempotency on|off",
     .help = "(off is for demonstrations only)"},
    {"--fsync", DURATION(cluster.fsync_ns, 0, 10 * SEC), .bad = "expected a duration up to 10s", .section = S_CLUSTER,
     .syn = "--fsync D", .help = "journal write latency (default 1ms)"},

    {"--find-violation", FLAG(find_violation, 1), .nocmd = 1, .section = S_CORRECTNESS, .syn = "--find-violation",
     .help = "search --seeds for an invariant violation under the given faults"},
    {"--shrink", FLAG(shrink, 1), .nocmd = 1, .section = S_CORRECTNESS, .syn = "--shrink",
     .help = "reduce a failing run's faults and load to the smallest that still fails"},

    {"--explore", FLAG(explore, 1), .nocmd = 1, .section = S_EXPLORE, .syn = "--explore --expect 'EXPR'",
     .help = "find, for every fault Chaos Mesh can inject, the largest magnitude\n"
             "                           at which EXPR holds, and the smallest faults that break it"},
    {"--budget", INT(explore_budget, 1, 10000000), .bad = "expected 1..10000000", .nocmd = 1, .section = S_EXPLORE,
     .syn = "--budget N", .help = "simulations the search may use (default 6000)"},
    {"--out", STRING(explore_out), .nocmd = 1, .section = S_EXPLORE, .syn = "--out DIR",
     .help = "a Chaos Mesh file per breaking point (and inside/ one that holds),\n"
             "                           frontier.svg, explore.json"},
    {"--explore-width", .kind = OPT_DOUBLE, .off = FIELD(explore_width, double), .lo = 0.005, .hi = 0.5,
     .bad = "expected a share of the range, 0.005..0.5", .nocmd = 1, .section = S_EXPLORE, .syn = "--explore-width W",
     .help = "stop when every frontier interval is narrower than W of its range\n"
             "                           (default 0.04)"},
    {"--explore-strategy", CHOICE(explore_strategy, strategy_choices), .bad = "expected guided, bisect or random",
     .nocmd = 1, .section = S_EXPLORE, .syn = "--explore-strategy S",
     .help = "guided (default), bisect (no guidance) or random sampling"},
    {"--explore-faults", STRING(explore_faults), .nocmd = 1, .section = S_EXPLORE, .syn = "--explore-faults LIST",
     .help = "fault kinds: loss,delay,jitter,bandwidth,partition,duplicate,corrupt,\n"
             "                           cpu,memory,pod-kill,pod-failure (default all)"},
    {"--explore-pairs", INT(explore_pairs, 0, 16), .bad = "expected 0..16", .nocmd = 1, .section = S_EXPLORE,
     .syn = "--explore-pairs N", .help = "the N most sensitive faults are also tried in pairs (default 6)"},

    {"--json", FLAG(json, 1), .nocmd = 1, .section = S_OUTPUT, .syn = "--json", .help = "the report as JSON"},
    {"--csv", STRING(csv_path), .nocmd = 1, .section = S_OUTPUT, .syn = "--csv FILE", .help = "per-second timeline"},
    {"--svg", STRING(svg_path), .nocmd = 1, .section = S_OUTPUT, .syn = "--svg FILE",
     .help = "chart of success rate and p50/p99 latency, chaos windows shaded"},
    {"--trace", STRING(trace_path), .nocmd = 1, .section = S_OUTPUT, .syn = "--trace FILE",
     .help = "every event, one per line"},
    {"--html", STRING(html_path), .nocmd = 1, .section = S_OUTPUT, .syn = "--html FILE",
     .help = "the report as one self-contained web page (chart, tables, verdicts)"},
    {"--check-determinism", FLAG(check_determinism, 1), .nocmd = 1, .section = S_OUTPUT, .syn = "--check-determinism",
     .help = "run twice and report the first differing event, if any"},
    {"--perf", FLAG(perf, 1), .nocmd = 1, .section = S_OUTPUT, .syn = "--perf",
     .help = "also print events/s and the virtual:wall ratio (not deterministic)"},
    {"--version", .kind = OPT_VERSION, .nocmd = 1, .section = S_OUTPUT, .syn = "--version",
     .help = "the version and the git revision it was built from"},
    {"--help", .kind = OPT_HELP, .nocmd = 1, .alias = "-h", .section = S_OUTPUT, .syn = "--help"},
};
#define NOPTS ((int)ARRAY_LEN(opts))

const char *sim_options_flag(int i) { return i >= 0 && i < NOPTS ? opts[i].flag : NULL; }

/* ---- parsing ---- */

static const opt_spec *find_option(const char *arg) {
    for (int i = 0; i < NOPTS; i++)
        if (!strcmp(arg, opts[i].flag) || (opts[i].alias && !strcmp(arg, opts[i].alias))) return &opts[i];
    return NULL;
}

/* Sets the row's field from v; NULL, or why v is refused. */
static const char *apply(const opt_spec *e, sim_options *o, const char *v) {
    void *field = (char *)o + e->off;
    int64_t d;
    char *end;
    switch (e->kind) {
    case OPT_HELP:
    case OPT_VERSION:
    case OPT_FILES: return NULL;
    case OPT_FLAG: *(int *)field = e->set; return NULL;
    case OPT_INT: return parse_int(v, (long)e->lo, (long)e->hi, field) < 0 ? e->bad : NULL;
    case OPT_DOUBLE: {
        double k = strtod(v, &end);
        if (end == v || *end || !(k >= e->lo && k <= e->hi)) return e->bad;
        *(double *)field = k;
        return NULL;
    }
    case OPT_DURATION:
        if (sim_parse_duration(v, &d) < 0 || (double)d < e->lo || (double)d > e->hi) return e->bad;
        *(int64_t *)field = d;
        return NULL;
    case OPT_SIZE: return sim_parse_size(v, field) < 0 ? e->bad : NULL;
    case OPT_PERCENT: return parse_percent(v, field) < 0 ? e->bad : NULL;
    case OPT_STRING: *(const char **)field = v; return NULL;
    case OPT_LIST: {
        int *count = (int *)(void *)((char *)o + e->count);
        if (*count >= e->max) return e->bad;
        ((const char **)field)[(*count)++] = v;
        return NULL;
    }
    case OPT_CHOICE: return choice_parse(e->choices, v, field) < 0 ? e->bad : NULL;
    case OPT_SERVICES: return parse_services(v, field) < 0 ? e->bad : NULL;
    case OPT_CUSTOM: return e->parse(o, v);
    }
    return NULL;
}

/* --shard and --merge: what goes with them. */
static int finish_sweep(const sim_options *o, char *err, size_t errlen) {
    const char *bad = NULL;
    if (o->nshards > 1 && o->seed_last - o->seed + 1 < (uint64_t)o->nshards)
        bad = "--shard I/N needs --seeds A..B with at least N seeds";
    else if (o->nshards && (o->check_determinism || o->shrink || o->csv_path || o->svg_path || o->html_path))
        bad =
            "--shard writes only the part's JSON (no --check-determinism, --shrink, --csv, --svg or --html; "
            "--merge makes the report)";
    if (!bad && o->html_path && o->check_determinism) bad = "--html goes with a report, not with --check-determinism";
    if (!bad && o->nmerge_files) {
        sim_options def;
        char mine[1024], plain[1024];
        sim_options_defaults(&def);
        sim_options_command(o, 1, mine, sizeof mine);
        sim_options_command(&def, 1, plain, sizeof plain);
        if (strcmp(mine, plain) || o->nshards || o->seed != 1 || o->seed_last != o->seed || o->find_violation ||
            o->shrink || o->check_determinism || o->csv_path || o->svg_path || o->trace_path || o->nexperiments ||
            o->nexpects)
            bad = "--merge takes only --json and --html: the parts carry the run's options";
    }
    if (bad) snprintf(err, errlen, "%s", bad);
    return bad ? -1 : 0;
}

/* What no single flag can check, and the fields that follow from the others. */
static int finish(sim_options *o, char *err, size_t errlen) {
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
    return finish_sweep(o, err, errlen);
}

int sim_options_parse(sim_options *o, int argc, char **argv, char *err, size_t errlen) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        const opt_spec *e = find_option(a);
        if (!e) {
            snprintf(err, errlen, "unknown option %s (see --help)", a);
            return -1;
        }
        if (e->kind == OPT_HELP) {
            sim_options_usage(stdout);
            return 1;
        }
        if (e->kind == OPT_VERSION) {
            printf("sim %s (git %s)\n", pc_version(), pc_git_describe());
            return 1;
        }
        if (e->kind == OPT_FILES) {
            int n = 0;
            while (i + 1 + n < argc && strncmp(argv[i + 1 + n], "--", 2) != 0) n++;
            if (!n) {
                snprintf(err, errlen, "%s needs at least one file (see --help)", a);
                return -1;
            }
            *(char ***)(void *)((char *)o + e->off) = &argv[i + 1];
            *(int *)(void *)((char *)o + e->count) = n;
            i += n;
            continue;
        }
        if (e->kind != OPT_FLAG) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "%s needs a value (see --help)", a);
                return -1;
            }
            v = argv[++i];
        }
        const char *bad = apply(e, o, v);
        if (bad) {
            snprintf(err, errlen, "%s %s: %s", a, v, bad);
            return -1;
        }
    }
    return finish(o, err, errlen);
}

/* ---- --help ---- */

void sim_options_usage(FILE *out) {
    fputs(
        "usage: sim [options]\n"
        "Runs the payment system (payment x3, inventory x2, notification x2) with its clients and faults in one\n"
        "deterministic process on a virtual clock, and prints a report. Same seed, same report, byte for byte.\n"
        "\n",
        out);
    int section = -1;
    for (int i = 0; i < NOPTS; i++) {
        const opt_spec *e = &opts[i];
        if (!e->syn) continue;
        if (e->section != section) fprintf(out, "%s:\n", section_titles[section = e->section]);
        if (e->help)
            fprintf(out, "  %-24s %s\n", e->syn, e->help);
        else
            fprintf(out, "  %s\n", e->syn);
    }
    fputs(
        "Exit status: 0 ok (and every expectation passed), 1 an expectation failed or a violation was found,\n"
        "2 bad usage or input.\n",
        out);
}

/* ---- the reproducing command line ---- */

static void write_number(cmd_writer *w, const opt_spec *e, const void *field, const void *def) {
    const int *i = field, *di = def;
    const int64_t *n = field, *dn = def;
    const double *x = field, *dx = def;
    char text[40];
    switch (e->kind) {
    case OPT_FLAG:
        if (*i == e->set && *i != *di) cmd_add(w, " %s", e->flag);
        break;
    case OPT_INT:
        if (*i != *di) cmd_add(w, " %s %d", e->flag, *i);
        break;
    case OPT_DOUBLE:
        if (*x == *dx) break;
        real_text(*x, text, sizeof text);
        cmd_add(w, " %s %s", e->flag, text);
        break;
    case OPT_DURATION:
        if (*n == *dn) break;
        cmd_add(w, " %s ", e->flag);
        cmd_duration(w, *n);
        break;
    case OPT_SIZE:
        if (*n != *dn) cmd_add(w, " %s %lld", e->flag, (long long)*n);
        break;
    case OPT_PERCENT:
        if (*x == *dx) break;
        cmd_add(w, " %s", e->flag);
        cmd_percent(w, *x);
        break;
    default: break;
    }
}

static void write_text(cmd_writer *w, const opt_spec *e, const sim_options *o, const void *field, const void *def) {
    const char *const *s = field, *const *ds = def;
    const unsigned *mask = field, *dmask = def;
    const int *i = field, *di = def;
    switch (e->kind) {
    case OPT_STRING:
        if (!*s || (*ds && !strcmp(*s, *ds))) break;
        cmd_add(w, " %s", e->flag);
        cmd_word(w, *s);
        break;
    case OPT_LIST:
        for (int k = 0; k < *(const int *)(const void *)((const char *)o + e->count); k++) {
            cmd_add(w, " %s", e->flag);
            cmd_word(w, s[k]);
        }
        break;
    case OPT_CHOICE:
        if (*i != *di && choice_name(e->choices, *i)) cmd_add(w, " %s %s", e->flag, choice_name(e->choices, *i));
        break;
    case OPT_SERVICES:
        if (*mask == *dmask || !*mask) break;
        cmd_add(w, " %s ", e->flag);
        for (int k = 0, first = 1; k < SVC_PEER_COUNT; k++)
            if (*mask & (1u << k)) {
                cmd_add(w, "%s%s", first ? "" : ",", svc_peer_name((svc_peer)k));
                first = 0;
            }
        break;
    default: break;
    }
}

/* The table's rows in order, each where the run differs from the defaults; --seed always. */
void sim_options_command(const sim_options *o, uint64_t seed, char *out, size_t outlen) {
    sim_options def;
    sim_options_defaults(&def);
    cmd_writer w = {.out = out, .len = outlen, .seed = seed, .def = &def};
    cmd_add(&w, "bin/sim");
    for (int i = 0; i < NOPTS; i++) {
        const opt_spec *e = &opts[i];
        const void *field = (const char *)o + e->off, *dfield = (const char *)&def + e->off;
        if (e->nocmd) continue;
        if (e->kind == OPT_CUSTOM) {
            if (e->write) e->write(&w, o);
        } else {
            write_number(&w, e, field, dfield);
            write_text(&w, e, o, field, dfield);
        }
    }
}

/* ---- the command-line faults ---- */

/* Netem or partition on the --link links, or on every service-to-service link. */
static void network_actions(const sim_options *o, sim_scenario *s, int64_t start, int64_t end) {
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

static void client_loss_action(const sim_options *o, sim_scenario *s, int64_t start, int64_t end) {
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

/* One stress action per service that gets CPU or memory stress (or both). */
static void stress_actions(const sim_options *o, sim_scenario *s, int64_t start, int64_t end) {
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

static void pod_kill_actions(const sim_options *o, sim_scenario *s, int64_t start) {
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

load_config sim_options_load_config(const sim_options *o) {
    load_config lc = o->load;
    lc.start_ns = 0;
    lc.stop_ns = o->baseline_ns + o->chaos_ns + o->recovery_ns;
    lc.phase_ns[0] = 0;
    lc.phase_ns[1] = o->baseline_ns;
    lc.phase_ns[2] = o->baseline_ns + o->chaos_ns;
    return lc;
}

void sim_options_actions(const sim_options *o, sim_scenario *s) {
    int64_t start = o->baseline_ns, end = o->baseline_ns + o->chaos_ns;
    if (o->loss_pct > 0 || o->delay_ns > 0 || o->partition) network_actions(o, s, start, end);
    if (o->client_loss_pct > 0) client_loss_action(o, s, start, end);
    if (o->cpu_workers > 0 || o->mem_bytes > 0) stress_actions(o, s, start, end);
    pod_kill_actions(o, s, start);
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
