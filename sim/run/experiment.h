/*
 * experiment.h: Chaos Mesh experiment files and Kubernetes manifests as the simulator's input, with
 * expectations and predictions.
 *
 * The flow of `bin/sim --experiment FILE [--manifest M] [--expect E] --seed N`:
 *   1. experiment_read_manifest() puts M's cluster (replicas, limits, labels, ports, Service IPs, probes) and
 *      the services' env settings into the options; main then applies the command line again, so explicit
 *      flags (--replicas, --cpu-limit...) win over the manifest.
 *   2. experiment_load() reads every --experiment file (multi-document YAML, libyaml) into chaos objects
 *      (sim/chaosmesh/chaosmesh.h) and groups them into units: one unit per top-level object, objects that name each
 *      other in `payment-chaos/pair` together, or everything in one unit with --together (as `kubectl apply
 *      -f` creates every document at once). Each unit gets its expectations: its objects'
 *      `payment-chaos/expect` annotations (not with --together: they describe an object alone) and every
 *      --expect. Without --experiment, --expect makes a single unit of the command-line run.
 *   3. For each unit, experiment_unit_options() gives the run's options: the baseline (--baseline) before
 *      the first injection, a chaos phase that is the unit's active span (for an object that never ends, and
 *      for a one-shot pod-kill until its pods are Ready again: see chaosmesh.h), then --recovery.
 *      experiment_add_actions() is the run hook that adds the unit's actions to the scenario.
 *   4. experiment_report_text/json() print the prediction section (sim/run/predict.h) and a verdict per
 *      expectation; they return the number of failed expectations.
 * Errors (exit status 2) name the file, line and field.
 *
 * Ownership: the set owns its units, objects and expectations; units stay valid until experiment_free().
 * Runs only read a unit, so several threads may run the same unit at once (--seeds).
 */
#ifndef PC_SIM_RUN_EXPERIMENT_H
#define PC_SIM_RUN_EXPERIMENT_H

#include <jansson.h>
#include <stdio.h>

#include "sim/load/scenario.h"
#include "sim/run/expect.h"
#include "sim/run/options.h"
#include "sim/run/run.h"

typedef struct experiment_set experiment_set;
typedef struct experiment_unit experiment_unit;

int experiment_read_manifest(sim_options *o, char *err, size_t errlen);
experiment_set *experiment_load(const sim_options *o, char *err, size_t errlen);
/* The same for one multi-document text in place of the options' files (which are then not read), as if it
 * were a file called `name`: a generated experiment runs exactly as the file written from it will. */
experiment_set *experiment_load_text(const sim_options *o, const char *name, const char *text, char *err,
                                     size_t errlen);
void experiment_free(experiment_set *xs);

int experiment_unit_count(const experiment_set *xs);
const experiment_unit *experiment_unit_at(const experiment_set *xs, int i);
const char *experiment_unit_name(const experiment_unit *u);
/* The unit's run options: `base` with the phases (and the stressor oom_score_adj) of the unit. */
void experiment_unit_options(const experiment_unit *u, const sim_options *base, sim_options *out);
int experiment_unit_expectations(const experiment_unit *u, const sim_expectation **out);

/* Run hook (run_hooks.add_actions); ctx is a const experiment_unit *. */
int experiment_add_actions(void *ctx, sim_scenario *s, const sim_options *o, char *err, size_t errlen);

/* "==== chaos object 1 of 7: ..." and the objects' descriptions, before the run's report. */
void experiment_report_header(const experiment_unit *u, FILE *out, int index, int total);
/* Predictions and verdicts; out NULL only counts. Returns the number of failed expectations. */
int experiment_report_text(const experiment_unit *u, FILE *out, const sim_options *o, const sim_result *r);
/* Adds "experiment", "predictions" and "expectations" to a run's JSON document. */
int experiment_report_json(const experiment_unit *u, const sim_options *o, const sim_result *r, json_t *doc);
/* FILE with the unit's name before the extension ("chart.svg" -> "chart.packet-loss-80-percent.svg"). */
void experiment_output_path(const experiment_unit *u, const char *path, int units, char *out, size_t outlen);

#endif
