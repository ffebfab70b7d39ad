/*
 * main_loadgen.c: the `loadgen` command (see lab/lab.h and docs/lab.md).
 *
 *   loadgen --plan FILE [sim options]                 write the lab's plan for these options, print nothing
 *   loadgen [lab options] [sim options]               drive the lab, print bin/sim's report for it
 *   loadgen --compare LAB.csv [--sim-seeds N] [--name S] [sim options]
 *                                                     one fidelity row: lab chaos phase vs the simulator
 *                                                     (--calibration-cell: a no-fault cell that
 *                                                     calibrated the machine; --refit-link: the link
 *                                                     latency refitted to this cell's no-fault
 *                                                     phases first; see lab.h)
 *   loadgen --fit-link KEEP.csv[,FRESH.csv] [--sim-seeds N] [sim options]
 *                                                     the link latency at which the simulator's p50s
 *                                                     match the lab's no-fault cells (keep-alive, and
 *                                                     fresh downstream connections); fidelity.sh
 *                                                     calibrates the machine with it
 *   loadgen --fit-tail KEEP.csv[,FRESH.csv] [sim options]
 *                                                     the host's no-fault tail in the same cells, as an
 *                                                     exponential stall (--wake-stall P,MEAN) at which
 *                                                     the simulator's p95 and p99 match the lab's
 *   loadgen --ledger-check COLLECT.out [--name S] [sim options]
 *                                                     the simulator's fault ledger and warnings against
 *                                                     the lab's counters for one cell (ledger.c)
 *   loadgen --aa RUN1.csv,RUN2.csv,... [--sim-seeds N] [--name S] [sim options]
 *                                                     the A/A table of one cell: the lab's run-to-run
 *                                                     spread of each figure beside the simulator's
 *                                                     seed-to-seed spread (fidelity.sh aa)
 * lab options: --target URL (default http://10.96.100.2:5002), --hook PROGRAM (called as
 * `PROGRAM hook start|stop|collect ID`), --lab-dir DIR, --records FILE (CSV of every request).
 * Every other option is bin/sim's, parsed by the same parser, so both take the same command line.
 * Exit status: 0 ok (compare: every difference within its bound), 1 a bound missed, 2 bad usage or error.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/version.h"
#include "lab/lab.h"
#include "services/core/jsonw.h"
#include "sim/report/report.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: loadgen [--plan FILE | --compare LAB.csv [--sim-seeds N] [--name S] [--calibration-cell] "
            "[--refit-link]\n"
            "               | --fit-link KEEP.csv[,FRESH.csv] [--sim-seeds N] | --fit-tail KEEP.csv[,FRESH.csv]\n"
            "               | --aa RUN1.csv,RUN2.csv,... [--sim-seeds N] [--name S]\n"
            "               | --ledger-check COLLECT.out [--name S]]\n"
            "               [--target URL] [--hook PROGRAM] [--lab-dir DIR] [--records FILE] [bin/sim options]\n"
            "       loadgen --help | --version\n"
            "The lab's load generator (lab/lab.sh runs it inside the lab): the simulator's load, faults\n"
            "and report, against the real services. bin/sim options: see bin/sim --help.\n");
}

/* The command line: the lab's own options, and the rest (bin/sim's) kept in order for sim_options_parse. */
typedef struct loadgen_args {
    lab_config cfg;
    const char *plan, *compare, *fit_link, *fit_tail, *aa, *ledger, *name;
    int sim_seeds, compare_flags;
    char **rest; /* argv[0] and bin/sim's options; owned */
    int nrest;
} loadgen_args;

#define GO_ON (-1) /* a step's "carry on"; any other value is the exit status */

static int takes_value(const char *a) {
    static const char *const with_value[] = {"--target",   "--hook",    "--lab-dir",      "--records",
                                             "--plan",     "--compare", "--sim-seeds",    "--name",
                                             "--fit-link", "--aa",      "--ledger-check", "--fit-tail"};
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        if (!strcmp(a, with_value[k])) return 1;
    return 0;
}

/* Stores the value of one of the lab's options; GO_ON, or 2 with a message. */
static int set_lab_option(loadgen_args *a, const char *opt, const char *v) {
    if (!strcmp(opt, "--target"))
        a->cfg.target_url = v;
    else if (!strcmp(opt, "--hook"))
        a->cfg.hook = v;
    else if (!strcmp(opt, "--lab-dir"))
        a->cfg.lab_dir = v;
    else if (!strcmp(opt, "--records"))
        a->cfg.records_path = v;
    else if (!strcmp(opt, "--plan"))
        a->plan = v;
    else if (!strcmp(opt, "--compare"))
        a->compare = v;
    else if (!strcmp(opt, "--fit-link"))
        a->fit_link = v;
    else if (!strcmp(opt, "--fit-tail"))
        a->fit_tail = v;
    else if (!strcmp(opt, "--aa"))
        a->aa = v;
    else if (!strcmp(opt, "--ledger-check"))
        a->ledger = v;
    else if (!strcmp(opt, "--name"))
        a->name = v;
    else if ((a->sim_seeds = atoi(v)) < 1 || a->sim_seeds > 1000) {
        fprintf(stderr, "loadgen: --sim-seeds expects 1..1000\n");
        return 2;
    }
    return GO_ON;
}

/* Separates the lab's options from bin/sim's. GO_ON, 0 after --help, or 2 with a message. */
static int parse_lab_args(int argc, char **argv, loadgen_args *a) {
    memset(a, 0, sizeof *a);
    a->cfg.target_url = "http://10.96.100.2:5002";
    a->name = "scenario";
    a->sim_seeds = 10;
    a->rest = calloc((size_t)argc + 1, sizeof *a->rest);
    if (!a->rest) return 2;
    a->rest[a->nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--calibration-cell")) {
            a->compare_flags |= LAB_CALIBRATION_CELL;
        } else if (!strcmp(opt, "--refit-link")) {
            a->compare_flags |= LAB_REFIT_LINK;
        } else if (!takes_value(opt)) {
            if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
                usage(stdout);
                return 0;
            }
            if (!strcmp(opt, "--version")) {
                printf("loadgen %s (git %s)\n", pc_version(), pc_git_describe());
                return 0;
            }
            a->rest[a->nrest++] = argv[i];
        } else if (i + 1 >= argc) {
            fprintf(stderr, "loadgen: %s needs a value\n", opt);
            return 2;
        } else {
            int rc = set_lab_option(a, opt, argv[++i]);
            if (rc != GO_ON) return rc;
        }
    }
    return GO_ON;
}

/* Calibration experiments only: LAB_SIM_COSTS="payment,inventory,notification,chain_extra,completion,
 * accept,connect" (microseconds) replaces the simulator's CPU costs for --compare and the prediction;
 * LAB_SIM_OFFPATH="work%,connection%" the shares of CPU work done off the request path. GO_ON, or 2. */
static int apply_calibration_env(sim_options *o) {
    const char *costs = getenv("LAB_SIM_COSTS");
    if (costs) {
        double c[7];
        if (sscanf(costs, "%lf,%lf,%lf,%lf,%lf,%lf,%lf", &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6]) != 7) {
            fprintf(stderr, "loadgen: LAB_SIM_COSTS expects seven numbers (us)\n");
            return 2;
        }
        for (int k = 0; k < 3; k++) o->cluster.cost_request_ns[k] = (int64_t)(c[k] * 1000);
        o->cluster.cost_chain_extra_ns = (int64_t)(c[3] * 1000);
        o->cluster.cost_completion_ns = (int64_t)(c[4] * 1000);
        o->cluster.cost_accept_ns = (int64_t)(c[5] * 1000);
        o->cluster.cost_connect_ns = (int64_t)(c[6] * 1000);
    }
    const char *offpath = getenv("LAB_SIM_OFFPATH");
    if (offpath && sscanf(offpath, "%d,%d", &o->cluster.cpu_offpath_pct, &o->cluster.cpu_offpath_conn_pct) != 2) {
        fprintf(stderr, "loadgen: LAB_SIM_OFFPATH expects two percentages\n");
        return 2;
    }
    return GO_ON;
}

/* bin/sim's options, parsed as bin/sim does: the manifest's cluster first, then the command line again
 * (explicit flags win); then the calibration overrides. GO_ON, 0 after --help, or 2 with a message. */
static int load_sim_options(const loadgen_args *a, sim_options *o) {
    char err[512];
    sim_options_defaults(o);
    int rc = sim_options_parse(o, a->nrest, a->rest, err, sizeof err);
    if (rc == 1) return 0;
    if (rc == 0 && o->manifest) {
        /* as bin/sim: the manifest's cluster first, then the command line again (explicit flags win), from the
         * defaults, so that the lists the command line fills (--experiment, --object, --expect) are not doubled */
        const char *manifest = o->manifest;
        sim_options_defaults(o);
        o->manifest = manifest;
        if (experiment_read_manifest(o, err, sizeof err) < 0)
            rc = -1;
        else
            rc = sim_options_parse(o, a->nrest, a->rest, err, sizeof err);
    }
    if (rc < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 2;
    }
    return apply_calibration_env(o);
}

/* An experiment file: the lab runs one chaos object (one unit) at a time, with the unit's phases; o becomes
 * that unit's options. GO_ON (*xs and *unit NULL without experiment files), or 2 with a message. */
static int select_unit(sim_options *o, experiment_set **xs, const experiment_unit **unit) {
    char err[512];
    *xs = NULL;
    *unit = NULL;
    if (!o->nexperiments) return GO_ON;
    *xs = experiment_load(o, err, sizeof err);
    if (!*xs) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 2;
    }
    if (experiment_unit_count(*xs) != 1) {
        fprintf(stderr,
                "loadgen: the experiment files hold %d chaos objects; the lab runs one at a time: "
                "choose it with --object NAME\n",
                experiment_unit_count(*xs));
        experiment_free(*xs);
        *xs = NULL;
        return 2;
    }
    *unit = experiment_unit_at(*xs, 0);
    static sim_options uo;
    experiment_unit_options(*unit, o, &uo);
    *o = uo;
    return GO_ON;
}

/* --fit-link or --fit-tail KEEP.csv[,FRESH.csv]. */
static int run_fit(const loadgen_args *a, const sim_options *o, const experiment_unit *unit) {
    char err[512], keep[1024], *fresh = NULL;
    snprintf(keep, sizeof keep, "%s", a->fit_link ? a->fit_link : a->fit_tail);
    if ((fresh = strchr(keep, ','))) *fresh++ = 0;
    int rc = a->fit_link ? lab_fit_link(stdout, keep, fresh, o, unit, a->sim_seeds, err, sizeof err)
                         : lab_fit_tail(stdout, keep, fresh, o, unit, a->sim_seeds, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 2;
    }
    return 0;
}

/* --aa RUN1.csv,RUN2.csv,...: split in place (a copy of the argument). */
static int run_aa(const loadgen_args *a, const sim_options *o, const experiment_unit *unit) {
    char err[512], *list = strdup(a->aa), *paths[64];
    int nruns = 0, status = 0;
    for (char *tok = list ? strtok(list, ",") : NULL; tok && nruns < 64; tok = strtok(NULL, ",")) paths[nruns++] = tok;
    if (nruns < 2) {
        fprintf(stderr, "loadgen: --aa needs at least two records files, comma-separated\n");
        status = 2;
    } else if (lab_aa(stdout, a->name, paths, nruns, o, unit, a->sim_seeds, err, sizeof err) < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        status = 2;
    }
    free(list);
    return status;
}

/* --ledger-check COLLECT.out: 0 every check holds, 1 one missed, 2 an error. */
static int run_ledger_check(const loadgen_args *a, const sim_options *o, const experiment_unit *unit) {
    char err[512];
    int status = lab_ledger_check(stdout, a->name, a->ledger, o, unit, err, sizeof err);
    if (status < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        status = 2;
    }
    return status;
}

/* --compare LAB.csv: 0 within every bound, 1 a bound missed, 2 an error. */
static int run_compare(const loadgen_args *a, const sim_options *o, const experiment_unit *unit) {
    char err[512];
    int status = lab_compare(stdout, a->name, a->compare, o, unit, a->sim_seeds, a->compare_flags, err, sizeof err);
    if (status < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        status = 2;
    }
    return status;
}

/* --plan FILE: the lab's plan for the prediction, and with --records the simulator's own request records
 * in the lab's CSV format. */
static int write_plan(const loadgen_args *a, const sim_options *o, const sim_result *pred) {
    char err[512];
    FILE *f = fopen(a->plan, "w");
    if (!f || lab_plan_write(f, o, pred) < 0 || fclose(f) != 0) {
        fprintf(stderr, "loadgen: cannot write %s\n", a->plan);
        return 2;
    }
    if (a->cfg.records_path &&
        lab_records_write(a->cfg.records_path, pred->records, pred->nrecords, err, sizeof err) < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 2;
    }
    return 0;
}

/* Drives the lab and prints bin/sim's report (text or JSON) for what it measured. */
static int drive_lab(const loadgen_args *a, const sim_options *o, const sim_result *pred) {
    char err[512];
    int status = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sim_result r;
    if (lab_run(&a->cfg, o, pred, &r, err, sizeof err) < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        status = 2;
    } else {
        if (o->json) {
            json_t *doc = lab_report_json(o, &r, r.wall_s);
            char *text = svc_json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
            if (text) puts(text);
            free(text);
            json_decref(doc);
        } else {
            lab_report_text(stdout, o, &r, r.wall_s);
        }
        sim_result_free(&r);
    }
    curl_global_cleanup();
    return status;
}

/* The prediction, then --plan or a run of the lab. */
static int plan_or_run(const loadgen_args *a, const sim_options *o, const experiment_unit *unit) {
    char err[512];
    sim_result pred;
    if (lab_predict(o, unit, o->seed, &pred, err, sizeof err) < 0) {
        fprintf(stderr, "loadgen: the simulator's prediction failed: %s\n", err);
        return 2;
    }
    int status = a->plan ? write_plan(a, o, &pred) : drive_lab(a, o, &pred);
    sim_result_free(&pred);
    return status;
}

int main(int argc, char **argv) {
    static sim_options o;
    loadgen_args a;
    experiment_set *xs = NULL;
    const experiment_unit *unit = NULL;
    int status = parse_lab_args(argc, argv, &a);
    if (status == GO_ON) status = load_sim_options(&a, &o);
    if (status == GO_ON) status = select_unit(&o, &xs, &unit);
    if (status == GO_ON) {
        if (a.fit_link || a.fit_tail)
            status = run_fit(&a, &o, unit);
        else if (a.aa)
            status = run_aa(&a, &o, unit);
        else if (a.ledger)
            status = run_ledger_check(&a, &o, unit);
        else if (a.compare)
            status = run_compare(&a, &o, unit);
        else
            status = plan_or_run(&a, &o, unit);
    }
    experiment_free(xs);
    free(a.rest);
    return status;
}
