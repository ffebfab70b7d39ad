/*
 * options.h: everything a simulation run can be told, and the command-line parser that fills it.
 *
 * One struct describes a run completely (with the seed), so a run can be repeated exactly, run on several
 * threads with different seeds, or written back as a command line. Parsing never exits: errors come back
 * as a message and the caller exits with status 2.
 */
#ifndef PC_SIM_RUN_OPTIONS_H
#define PC_SIM_RUN_OPTIONS_H

#include <stdint.h>

#include "services/core/config.h"
#include "sim/load/load.h"
#include "sim/load/scenario.h"
#include "sim/node/cluster.h"

#define OPT_MAX_LINKS 8
#define OPT_MAX_KILLS 8
#define OPT_MAX_EXPERIMENTS 8
#define OPT_MAX_EXPECT 16

typedef struct sim_link {
    svc_peer from, to;
} sim_link;

typedef struct sim_pod_kill {
    svc_peer service;
    int64_t at_ns; /* after the start of the chaos phase */
} sim_pod_kill;

typedef struct sim_options {
    uint64_t seed;
    uint64_t seed_last; /* --seeds A..B: last seed (== seed for one run) */
    int64_t baseline_ns, chaos_ns, recovery_ns;
    /* load */
    load_config load;
    /* command-line network fault */
    double loss_pct, correlation_pct;
    double client_loss_pct; /* --client-loss: the load clients' link to payment */
    int64_t delay_ns, jitter_ns;
    sim_link links[OPT_MAX_LINKS];
    int nlinks;
    sim_direction dir;
    int partition;
    /* CPU and memory stress */
    int cpu_workers, cpu_load;
    unsigned cpu_targets; /* bit per service */
    int64_t mem_bytes;
    int mem_workers;
    unsigned mem_targets;
    sim_pod_kill kills[OPT_MAX_KILLS];
    int nkills;
    /* cluster */
    cluster_spec cluster;
    svc_config services;
    int replicas_set;
    /* experiments */
    const char *experiments[OPT_MAX_EXPERIMENTS];
    int nexperiments;
    const char *manifest;
    const char *expects[OPT_MAX_EXPECT];
    int nexpects;
    int together;        /* apply every document of the experiment files at once, as kubectl apply does */
    int schedule_cycles; /* Schedule ticks simulated per Schedule object */
    const char *objects[OPT_MAX_EXPECT]; /* --object: run only these chaos objects (by metadata.name) */
    int nobjects;
    /* sharded sweeps: this process runs part `shard` (from 0) of `nshards` of --seeds; --merge joins parts */
    int shard, nshards;
    char **merge_files;
    int nmerge_files;
    /* output */
    int json;
    const char *csv_path, *svg_path, *trace_path, *html_path;
    int version;
    int check_determinism;
    int perf;
    int quiet;
    /* correctness: invariant checks, the search for a violation and its shrinking, idempotency off */
    int find_violation, shrink;
    int idempotency_off;
    int threads;
    /* fault-space exploration (sim/explore) */
    int explore;
    int explore_budget;         /* simulations the search may use */
    const char *explore_out;    /* --out DIR */
    double explore_width;       /* an interval is narrow enough below this share of its fault's range */
    int explore_strategy;       /* SIM_EXPLORE_GUIDED, _BISECT, _RANDOM */
    const char *explore_faults; /* comma-separated fault kinds, NULL: all */
    int explore_pairs;          /* faults combined in pairs */
} sim_options;

enum { SIM_EXPLORE_GUIDED = 0, SIM_EXPLORE_BISECT, SIM_EXPLORE_RANDOM };

void sim_options_defaults(sim_options *o);
/* Returns 0, 1 when --help or --version was printed, or -1 with a message in err (exit status 2). */
int sim_options_parse(sim_options *o, int argc, char **argv, char *err, size_t errlen);
void sim_options_usage(FILE *out);
/* The i-th flag the parser knows ("--seed", ...), or NULL past the last (for tests of the table). */
const char *sim_options_flag(int i);
/* Parses "90s", "500ms", "2m", "1.5s", "100us"; bare numbers are seconds. 0 or -1. */
int sim_parse_duration(const char *text, int64_t *ns);
/* "100MB" (10^6), "100MiB" (2^20), "1GB"...; 0 or -1. */
int sim_parse_size(const char *text, int64_t *bytes);
/* The load of a run: the --rate/--clients/... settings with the run's window (0 to the end of recovery) and
 * the phases' starts filled in. The simulator and the lab's load generator both start from it. */
load_config sim_options_load_config(const sim_options *o);
/* The command-line faults as actions in the chaos window. */
void sim_options_actions(const sim_options *o, sim_scenario *s);
/* The command line's faults in words, e.g. "80 % loss on every service-to-service link, both directions". */
void sim_options_describe_faults(const sim_options *o, char *out, size_t outlen);
/* A command line that reproduces the run with this seed (for violation reports): "bin/sim --seed N" and then,
 * in --help's order, every option that shapes the run and differs from the defaults, written so that parsing
 * it gives the same options back (durations and reals exactly; values with spaces or quotes shell-quoted).
 * Options about how to run or what to print (--seeds, --threads, --json, --csv, --find-violation, ...) are
 * left out. Cut (still terminated) when longer than outlen. */
void sim_options_command(const sim_options *o, uint64_t seed, char *out, size_t outlen);

#endif
