/*
 * main_loadgen.c: the `loadgen` command (see lab/lab.h and docs/lab.md).
 *
 *   loadgen --plan FILE [sim options]                 write the lab's plan for these options, print nothing
 *   loadgen [lab options] [sim options]               drive the lab, print bin/sim's report for it
 *   loadgen --compare LAB.csv [--sim-seeds N] [--name S] [sim options]
 *                                                     one fidelity row: lab chaos phase vs the simulator
 *                                                     (--calibration-cell: a no-fault cell that
 *                                                     calibrated the machine; --refit-link: the link
 *                                                     latency refitted to this cell's baseline phase
 *                                                     first; see lab.h)
 *   loadgen --fit-link KEEP.csv[,FRESH.csv] [--sim-seeds N] [sim options]
 *                                                     the link latency at which the simulator's p50s
 *                                                     match the lab's no-fault cells (keep-alive, and
 *                                                     fresh downstream connections); fidelity.sh
 *                                                     calibrates the machine with it
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
            "               | --fit-link KEEP.csv[,FRESH.csv] [--sim-seeds N]\n"
            "               | --aa RUN1.csv,RUN2.csv,... [--sim-seeds N] [--name S]]\n"
            "               [--target URL] [--hook PROGRAM] [--lab-dir DIR] [--records FILE] [bin/sim options]\n"
            "       loadgen --help | --version\n"
            "The lab's load generator (lab/lab.sh runs it inside the lab): the simulator's load, faults\n"
            "and report, against the real services. bin/sim options: see bin/sim --help.\n");
}

int main(int argc, char **argv) {
    static sim_options o;
    lab_config cfg = {.target_url = "http://10.96.100.2:5002"};
    const char *plan = NULL, *compare = NULL, *fit_link = NULL, *aa = NULL, *name = "scenario";
    int sim_seeds = 10, compare_flags = 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return 2;
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes = !strcmp(a, "--target") || !strcmp(a, "--hook") || !strcmp(a, "--lab-dir") ||
                    !strcmp(a, "--records") || !strcmp(a, "--plan") || !strcmp(a, "--compare") ||
                    !strcmp(a, "--sim-seeds") || !strcmp(a, "--name") || !strcmp(a, "--fit-link") || !strcmp(a, "--aa");
        if (!strcmp(a, "--calibration-cell")) {
            compare_flags |= LAB_CALIBRATION_CELL;
            continue;
        }
        if (!strcmp(a, "--refit-link")) {
            compare_flags |= LAB_REFIT_LINK;
            continue;
        }
        if (!takes) {
            if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                usage(stdout);
                return 0;
            }
            if (!strcmp(a, "--version")) {
                printf("loadgen %s (git %s)\n", pc_version(), pc_git_describe());
                return 0;
            }
            rest[nrest++] = argv[i];
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "loadgen: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--target"))
            cfg.target_url = v;
        else if (!strcmp(a, "--hook"))
            cfg.hook = v;
        else if (!strcmp(a, "--lab-dir"))
            cfg.lab_dir = v;
        else if (!strcmp(a, "--records"))
            cfg.records_path = v;
        else if (!strcmp(a, "--plan"))
            plan = v;
        else if (!strcmp(a, "--compare"))
            compare = v;
        else if (!strcmp(a, "--fit-link"))
            fit_link = v;
        else if (!strcmp(a, "--aa"))
            aa = v;
        else if (!strcmp(a, "--name"))
            name = v;
        else if ((sim_seeds = atoi(v)) < 1 || sim_seeds > 1000) {
            fprintf(stderr, "loadgen: --sim-seeds expects 1..1000\n");
            return 2;
        }
    }
    char err[512];
    sim_options_defaults(&o);
    int rc = sim_options_parse(&o, nrest, rest, err, sizeof err);
    if (rc == 1) return 0;
    if (rc == 0 && o.manifest) {
        /* as bin/sim: the manifest's cluster first, then the command line again (explicit flags win) */
        if (experiment_read_manifest(&o, err, sizeof err) < 0)
            rc = -1;
        else
            rc = sim_options_parse(&o, nrest, rest, err, sizeof err);
    }
    if (rc < 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return 2;
    }
    /* Calibration experiments only: LAB_SIM_COSTS="payment,inventory,notification,chain_extra,completion,
     * accept,connect" (microseconds) replaces the simulator's CPU costs for --compare and the prediction. */
    const char *costs = getenv("LAB_SIM_COSTS");
    if (costs) {
        double c[7];
        if (sscanf(costs, "%lf,%lf,%lf,%lf,%lf,%lf,%lf", &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6]) != 7) {
            fprintf(stderr, "loadgen: LAB_SIM_COSTS expects seven numbers (us)\n");
            return 2;
        }
        for (int k = 0; k < 3; k++) o.cluster.cost_request_ns[k] = (int64_t)(c[k] * 1000);
        o.cluster.cost_chain_extra_ns = (int64_t)(c[3] * 1000);
        o.cluster.cost_completion_ns = (int64_t)(c[4] * 1000);
        o.cluster.cost_accept_ns = (int64_t)(c[5] * 1000);
        o.cluster.cost_connect_ns = (int64_t)(c[6] * 1000);
    }
    /* An experiment file: the lab runs one chaos object (one unit) at a time, with the unit's phases. */
    const char *offpath = getenv("LAB_SIM_OFFPATH"); /* "work%,connection%": calibration experiments only */
    if (offpath && sscanf(offpath, "%d,%d", &o.cluster.cpu_offpath_pct, &o.cluster.cpu_offpath_conn_pct) != 2) {
        fprintf(stderr, "loadgen: LAB_SIM_OFFPATH expects two percentages\n");
        return 2;
    }
    experiment_set *xs = NULL;
    const experiment_unit *unit = NULL;
    if (o.nexperiments) {
        xs = experiment_load(&o, err, sizeof err);
        if (!xs) {
            fprintf(stderr, "loadgen: %s\n", err);
            return 2;
        }
        if (experiment_unit_count(xs) != 1) {
            fprintf(stderr,
                    "loadgen: the experiment files hold %d chaos objects; the lab runs one at a time: "
                    "choose it with --object NAME\n",
                    experiment_unit_count(xs));
            experiment_free(xs);
            return 2;
        }
        unit = experiment_unit_at(xs, 0);
        static sim_options uo;
        experiment_unit_options(unit, &o, &uo);
        o = uo;
    }
    int status = 0;
    if (fit_link) {
        /* KEEP.csv[,FRESH.csv] */
        char keep[1024], *fresh = NULL;
        snprintf(keep, sizeof keep, "%s", fit_link);
        if ((fresh = strchr(keep, ','))) *fresh++ = 0;
        if (lab_fit_link(stdout, keep, fresh, &o, unit, sim_seeds, err, sizeof err) < 0) {
            fprintf(stderr, "loadgen: %s\n", err);
            status = 2;
        }
        experiment_free(xs);
        free(rest);
        return status;
    }
    if (aa) {
        /* RUN1.csv,RUN2.csv,...: split in place (a copy of the argument) */
        char *list = strdup(aa), *paths[64];
        int nruns = 0;
        for (char *tok = list ? strtok(list, ",") : NULL; tok && nruns < 64; tok = strtok(NULL, ","))
            paths[nruns++] = tok;
        if (nruns < 2) {
            fprintf(stderr, "loadgen: --aa needs at least two records files, comma-separated\n");
            status = 2;
        } else if (lab_aa(stdout, name, paths, nruns, &o, unit, sim_seeds, err, sizeof err) < 0) {
            fprintf(stderr, "loadgen: %s\n", err);
            status = 2;
        }
        free(list);
        experiment_free(xs);
        free(rest);
        return status;
    }
    if (compare) {
        status = lab_compare(stdout, name, compare, &o, unit, sim_seeds, compare_flags, err, sizeof err);
        if (status < 0) {
            fprintf(stderr, "loadgen: %s\n", err);
            status = 2;
        }
        experiment_free(xs);
        free(rest);
        return status;
    }
    sim_result pred;
    if (lab_predict(&o, unit, o.seed, &pred, err, sizeof err) < 0) {
        fprintf(stderr, "loadgen: the simulator's prediction failed: %s\n", err);
        experiment_free(xs);
        return 2;
    }
    if (plan) {
        FILE *f = fopen(plan, "w");
        if (!f || lab_plan_write(f, &o, &pred) < 0 || fclose(f) != 0) {
            fprintf(stderr, "loadgen: cannot write %s\n", plan);
            status = 2;
        }
        /* --plan with --records: the simulator's own request records, in the lab's CSV format */
        if (status == 0 && cfg.records_path &&
            lab_records_write(cfg.records_path, pred.records, pred.nrecords, err, sizeof err) < 0) {
            fprintf(stderr, "loadgen: %s\n", err);
            status = 2;
        }
    } else {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        sim_result r;
        if (lab_run(&cfg, &o, &pred, &r, err, sizeof err) < 0) {
            fprintf(stderr, "loadgen: %s\n", err);
            status = 2;
        } else {
            if (o.json) {
                json_t *doc = lab_report_json(&o, &r, r.wall_s);
                char *text = svc_json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
                if (text) puts(text);
                free(text);
                json_decref(doc);
            } else {
                lab_report_text(stdout, &o, &r, r.wall_s);
            }
            sim_result_free(&r);
        }
        curl_global_cleanup();
    }
    sim_result_free(&pred);
    experiment_free(xs);
    free(rest);
    return status;
}
