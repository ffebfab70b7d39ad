/*
 * predict.h: the prediction section: what each chaos object really does, and where that differs from what
 * its YAML appears to say.
 *
 * For every object of a run it puts side by side:
 *   says      what the YAML reads as ("loss 80 % on all payment pods -> all inventory pods")
 *   does      where Chaos Mesh installs it (which pods' egress, which destination filter, the tc/iptables
 *             result), the effective rates by netem's own formula (get_crandom), the CPU quota arithmetic
 *             for stress-ng in the container's cgroup, the memory arithmetic and the OOM killer's choice
 *   touches   each traffic flow of the system its rules match, with the fault ledger's realized numbers
 *   misses    flows it appears to aim at but does not match, and why ("they go to the Service IP
 *             10.96.100.3, the filter lists pod IPs only")
 *   timeline  Schedule ticks and Workflow nodes
 *   WARNING   wherever the reality differs from the appearance; plain notes otherwise
 * The flows come from the run's own ledger (every (sender, destination as written) pair that carried
 * packets), so the analysis covers exactly the traffic the services really send.
 *
 * Ownership: a prediction owns its lines; prediction_free() releases them.
 */
#ifndef PC_SIM_RUN_PREDICT_H
#define PC_SIM_RUN_PREDICT_H

#include <jansson.h>
#include <stdio.h>

#include "sim/chaosmesh/chaosmesh.h"
#include "sim/run/options.h"
#include "sim/run/run.h"

typedef enum pred_kind {
    PRED_SAYS = 0,
    PRED_DOES,
    PRED_TOUCHES,
    PRED_MISSES,
    PRED_TIMELINE,
    PRED_WARNING,
    PRED_NOTE,
    PRED_KINDS
} pred_kind;

typedef struct pred_line {
    pred_kind kind;
    char text[720];
} pred_line;

typedef struct sim_prediction {
    char object[96];
    char kind[24];
    char where[300];
    pred_line *lines;
    int n, cap;
} sim_prediction;

/* Builds the prediction of `obj`, whose actions are r->actions[first .. first + obj->nacts). */
void predict_object(const cm_object *obj, int first, const sim_options *o, const sim_result *r, sim_prediction *out);
void prediction_free(sim_prediction *p);
void predict_print(FILE *out, const sim_prediction *p);
json_t *predict_json(const sim_prediction *p);
int predict_warnings(const sim_prediction *p);

#endif
