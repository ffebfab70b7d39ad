/*
 * scenario.h: chaos actions on a timeline: what is injected where, from when to when.
 *
 * An action is one chaos object's effect over one window [start, end): a NetworkChaos (netem, bandwidth or
 * partition), a StressChaos (CPU workers and/or memory), or a PodChaos. Command-line faults and Chaos Mesh
 * documents (chaos_yaml.c, with Schedules and Workflows expanded into windows) both become actions.
 *
 * Pods are selected when the action starts, as Chaos Mesh does at injection time: by service (the `app`
 * label), then by mode (one, all, fixed N, fixed-percent, random-max-percent), with a seeded choice per
 * action ("chaos/<name>") where Chaos Mesh uses crypto/rand. Pods created later are not affected.
 *
 * Network placement follows faults/netfault.h: direction `to` installs on the selected pods and filters on
 * the targets' pod IPs plus externalTargets; `from` installs on the targets and filters on the selected
 * pods' IPs; `both` does both. Command-line links (--link A:B) also match B's Service IP, because the
 * command line means "the traffic A sends to B" whatever address it uses; YAML objects get exactly Chaos
 * Mesh's semantics.
 *
 * Ownership: the scenario owns its actions and everything they install; scenario_free() removes nothing
 * from the cluster (free the cluster afterwards or before, either order works).
 */
#ifndef PC_SIM_LOAD_SCENARIO_H
#define PC_SIM_LOAD_SCENARIO_H

#include <stdint.h>

#include "faults/netfault.h"
#include "sim/node/cluster.h"

#define ACTION_MAX_PODS 32
#define ACTION_MAX_EXTERNAL 16

typedef enum sim_action_kind {
    ACT_NETWORK = 0,
    ACT_STRESS,
    ACT_POD_KILL,
    ACT_POD_FAILURE,
    ACT_CONTAINER_KILL
} sim_action_kind;

typedef enum sim_select_mode {
    SEL_ALL = 0,
    SEL_ONE,
    SEL_FIXED,
    SEL_FIXED_PERCENT,
    SEL_RANDOM_MAX_PERCENT
} sim_select_mode;

typedef struct sim_pod_selector {
    unsigned services; /* bit i: pods of svc_peer i */
    sim_select_mode mode;
    int value;                           /* N for fixed, percent for the percent modes */
    char pod_names[ACTION_MAX_PODS][48]; /* explicit pods (spec.selector.pods); none = by service */
    int npod_names;
} sim_pod_selector;

typedef enum sim_direction { DIR_TO = 0, DIR_FROM, DIR_BOTH } sim_direction;

typedef struct sim_chaos_action {
    char name[96];
    char kind_name[32]; /* "NetworkChaos", "StressChaos", "PodChaos", or "command line" */
    sim_action_kind kind;
    int64_t start_ns;
    int64_t end_ns; /* -1: until the end of the run */
    sim_pod_selector selector;
    int has_target;
    sim_pod_selector target;
    sim_direction dir;
    nf_cidr external[ACTION_MAX_EXTERNAL];
    int nexternal;
    int match_service_ips;    /* command-line links: also match the target Service's ClusterIP */
    int match_all_in_cluster; /* --loss without --link: every pod-to-pod and pod-to-Service packet */
    int client_side;          /* --client-loss: the load clients' link to the selected service, both ways */
    nf_kind net_kind;
    netem_config netem;
    tbf_config tbf;
    int cpu_workers, cpu_load;
    int mem_workers;
    int64_t mem_bytes; /* total across workers */
    int64_t restart_delay_ns;
} sim_chaos_action;

typedef struct sim_scenario sim_scenario;

/* What an action did, for the report and the predictions. */
typedef struct sim_action_status {
    int started, stopped;
    int npods, ntargets;
    char pods[ACTION_MAX_PODS][48];
    char targets[ACTION_MAX_PODS][48];
    int rule_ids[4];
    int nrules;
    uint64_t stressor_oom_kills;
    uint64_t stressor_respawns;
} sim_action_status;

void chaos_action_init(sim_chaos_action *a, const char *name, sim_action_kind kind);
sim_scenario *scenario_new(sim_cluster *c, uint64_t seed);
void scenario_free(sim_scenario *s);
int scenario_add(sim_scenario *s, const sim_chaos_action *a);
/* Schedules every action's start and stop. */
void scenario_arm(sim_scenario *s);
int scenario_count(const sim_scenario *s);
const sim_chaos_action *scenario_action(const sim_scenario *s, int i);
const sim_action_status *scenario_status(const sim_scenario *s, int i);
/* The first and last instants any action is active (-1 when there is none). */
int64_t scenario_first_start(const sim_scenario *s);
int64_t scenario_last_end(const sim_scenario *s, int64_t run_end);

const char *select_mode_name(sim_select_mode m);
const char *direction_name(sim_direction d);

#endif
