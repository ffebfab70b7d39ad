/*
 * sweep.h: the results of a seed range (--seeds A..B) as plain data, its shards and their merge.
 *
 * A sweep is what the summaries of --seeds, --seeds with experiment files and --find-violation are printed
 * from: per chaos object (a unit; one for the command-line run) the texts its report shows and, per seed, the
 * figures of that run (the 13 metrics, which expectations held, whether an invariant broke and where). Every
 * summary is a function of this data alone, so a sweep run in one process and one put together from shards give
 * the same report, byte for byte.
 *
 * Shards: --shard I/N runs the I-th of N contiguous, disjoint parts of A..B (I from 0, as Kubernetes'
 * JOB_COMPLETION_INDEX counts; part I is seeds A + floor(I n / N) .. A + floor((I + 1) n / N) - 1 of the n
 * seeds) and writes it with sweep_write_part(): a JSON document that holds every run's figures exactly (reals
 * with 17 significant digits, which read back to the same double). sweep_merge() reads the N parts, checks that
 * they are the N parts of one sweep (same mode, range, command line and texts, every index once) and rebuilds
 * the whole sweep, seed by seed in order. With --find-violation a part keeps only its lowest failing seed and
 * how many runs it made; the merge keeps the lowest of all.
 *
 * Ownership: a sweep owns its units, texts and runs; sweep_free() releases them. Workers fill distinct runs of
 * one unit at once (each run's slot belongs to the thread that ran that seed).
 */
#ifndef PC_SIM_RUN_SWEEP_H
#define PC_SIM_RUN_SWEEP_H

#include <stdint.h>
#include <stdio.h>

#define SWEEP_METRICS 13
#define SWEEP_EXPECT_BITS 64
#define SWEEP_RECOVERY_METRIC 9 /* recovery_s: -1 when the run did not recover, left out of its mean */

typedef enum sweep_mode { SWEEP_SEEDS = 0, SWEEP_EXPERIMENTS, SWEEP_FIND } sweep_mode;

typedef struct sweep_run {
    double metrics[SWEEP_METRICS];
    uint64_t passed_bits; /* bit i: expectation i held */
    int failed_expectations;
    unsigned char done, violation;
    int64_t at_ns;   /* the violation's time */
    char *what;      /* the violation, owned (NULL without one) */
    char *reproduce; /* its reproducing command, owned (NULL without one) */
} sweep_run;

typedef struct sweep_unit {
    char *header;   /* the text before the unit's table ("" for the command-line run) */
    char *name;     /* the chaos object(s), "" for the command-line run */
    char **expects; /* the expectations' texts */
    int nexpects;
    sweep_run *runs; /* one per seed of lo..hi, index seed - lo */
} sweep_unit;

typedef struct sim_sweep {
    sweep_mode mode;
    uint64_t first, last; /* the whole range A..B */
    uint64_t lo, hi;      /* the seeds held here: a part's, or first..last */
    int shard, nshards;   /* 0/1 when not sharded */
    char *faults;         /* the command line's faults in words */
    char *command;        /* the reproducing command of the first seed: every part's must be the same */
    sweep_unit *units;
    int nunits;
    /* SWEEP_FIND: the runs made and the lowest failing seed (found == 0: none) */
    uint64_t find_runs;
    int found;
    uint64_t found_seed;
    int64_t found_at_ns;
    char *found_what, *found_reproduce;
} sim_sweep;

/* The metrics' names, in the order of sweep_run.metrics ("baseline.success_rate", ...). */
const char *sweep_metric_name(int m);
/* Part `shard` of `nshards` of first..last: its lowest and highest seed; 0, or -1 when the part is empty. */
int sweep_shard_range(uint64_t first, uint64_t last, int shard, int nshards, uint64_t *lo, uint64_t *hi);

/* An empty sweep of lo..hi with nunits units (runs zeroed); the texts are set by the caller (owned copies). */
sim_sweep *sweep_new(sweep_mode mode, uint64_t first, uint64_t last, uint64_t lo, uint64_t hi, int nunits);
void sweep_free(sim_sweep *s);
char *sweep_strdup(const char *s);
uint64_t sweep_count(const sim_sweep *s); /* hi - lo + 1 */

/* Mean, 95 % interval (t distribution) and standard deviation of metric m over the unit's runs, summed in seed
 * order (recovery_s without the runs that did not recover). */
typedef struct sweep_stat {
    double mean, low, high, sd;
    size_t n;
} sweep_stat;
void sweep_metric_stat(const sim_sweep *s, const sweep_unit *u, int m, sweep_stat *out);

/* Writes the part (or whole sweep) as the JSON that sweep_merge() reads; 0, or -1 on a write error. */
int sweep_write_part(const sim_sweep *s, FILE *out);
/* Reads and joins the parts; NULL with a message ("FILE: what is wrong") in err. */
sim_sweep *sweep_merge(const char *const *paths, int npaths, char *err, size_t errlen);

#endif
