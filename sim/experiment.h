/*
 * experiment.h: Chaos Mesh experiment files and Kubernetes manifests as the simulator's input, with
 * expectations and predictions.
 *
 * experiment_load() reads --manifest (the cluster: replicas, limits, labels, ports, Service IPs, probes) into
 * the options, every --experiment file (multi-document YAML, libyaml) into chaos objects, and every --expect
 * and `payment-chaos/expect` annotation into expectations. Errors name the file, line and field.
 * experiment_add_actions() turns the chaos objects into timed actions for one run (a run hook).
 * The report functions print, per chaos object, what it will really do (the prediction section) and a
 * verdict per expectation; they return 1 when an expectation failed.
 *
 * Ownership: the set owns everything parsed; the options it modified keep pointing into it, so free the set
 * after the last run.
 */
#ifndef PC_SIM_EXPERIMENT_H
#define PC_SIM_EXPERIMENT_H

#include <jansson.h>
#include <stdio.h>

#include "sim/options.h"
#include "sim/run.h"
#include "sim/scenario.h"

typedef struct experiment_set experiment_set;

experiment_set *experiment_load(sim_options *o, char *err, size_t errlen);
void experiment_free(experiment_set *xs);
int experiment_add_actions(void *ctx, scenario *s, const sim_options *o, char *err, size_t errlen);
int experiment_report_text(const experiment_set *xs, FILE *out, const sim_options *o, const sim_result *r);
int experiment_report_json(const experiment_set *xs, const sim_options *o, const sim_result *r, json_t *doc);

#endif
