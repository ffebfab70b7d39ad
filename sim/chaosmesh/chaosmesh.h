/*
 * chaosmesh.h: Chaos Mesh objects (NetworkChaos, StressChaos, PodChaos, Schedule, Workflow) as timed chaos
 * actions, with what each will really do on the cluster noted beside it.
 *
 * The semantics come from ../shared/facts/chaos-mesh.md (read from the Chaos Mesh source):
 *   - duration counts from the object's creation; without one an object runs until deleted (the simulation
 *     never deletes it: such an object is "endless" and the recovery phase still has it);
 *   - NetworkChaos: every netem block present (delay, loss, duplicate, corrupt) goes into one qdisc, whatever
 *     `action` says (mergeNetem); a delay/jitter string <= "0ms" as a Go string ("0.5s") is dropped by
 *     chaos-daemon; `to` filters hold the target pods' IPs plus externalTargets, so traffic sent to a Service
 *     ClusterIP is only matched when the ClusterIP is listed; externalTargets may name a Service by its DNS
 *     name (resolved by chaos-controller-manager, so only fully qualified names resolve);
 *   - StressChaos: stress-ng / memStress inside the target container's cgroup; memory `size` is the total
 *     across workers (go-humanize units; "N%" is of the HOST's memory);
 *   - PodChaos: pod-kill and container-kill are one-shot (duration undoes nothing); pod-failure lasts for its
 *     duration;
 *   - Schedule: robfig cron ticks after the creation time; the first `schedule_cycles` ticks are simulated;
 *     Forbid (the default) skips a tick while a child runs and, as the controller returns without requeueing,
 *     the schedule then stays stuck (chaos-mesh #2984, #4470); startingDeadlineSeconds 0 misses every tick;
 *   - Workflow: Serial children start when the previous one ends, Parallel ones together, Suspend waits for
 *     its deadline; a chaos node ends only at its own deadline or an ancestor's (it is never "Accomplished");
 *     one with no deadline on its path never ends and blocks every later sibling (chaos-mesh #3846).
 * Pod selection (namespaces, labelSelectors, expressionSelectors, pods; mode and value) is resolved against
 * the manifest's pod labels into services or pod names; the choice among them (mode one, fixed...) is made by
 * the scenario with a seeded stream when the action starts, where Chaos Mesh uses crypto/rand.
 *
 * Errors: every field the simulator does not model, and every value the API server or the Chaos Mesh webhook
 * would reject, fails with "FILE:LINE: path: message" (the webhook's wording where there is one). As with
 * kubectl apply, the CRD schema (unknown fields, types, required fields, enums, bounds) is checked before
 * what the webhook and the simulator check, so a document with several errors reports a schema error first.
 *
 * Layout: one file per kind, each with its field tables (checked by schema.c) beside the code that resolves
 * the checked fields against the cluster: network.c, stress.c, pod.c, schedule.c, workflow.c, selector.c (the
 * selection every kind shares), reader.c (the document, the dispatch, the shared helpers of reader.h).
 *
 * Ownership: cm_parse fills a caller-owned cm_object; cm_object_free releases its action array.
 */
#ifndef PC_SIM_CHAOSMESH_CHAOSMESH_H
#define PC_SIM_CHAOSMESH_CHAOSMESH_H

#include <stddef.h>
#include <stdint.h>

#include "sim/input/manifest.h"
#include "sim/input/yamltree.h"
#include "sim/load/scenario.h"

#define CM_MAX_ACTIONS 128
#define CM_MAX_NOTES 48
#define CM_MAX_TIMELINE 48

typedef struct cm_action {
    sim_chaos_action a;     /* start/end relative to the object's creation; end_ns -1: never ends */
    char step[96];          /* "" for a plain object; else the Workflow node or Schedule run that creates it */
    int one_shot;           /* pod-kill, container-kill: injected once, nothing to stop */
    int64_t ready_after_ns; /* one-shot: when the killed pods should be Ready again (manifest timings) */
    char says[320];         /* what the YAML appears to ask for, in words */
    /* NetworkChaos, as written */
    int target_pods;        /* a `target` selector: its pods' IPs are in the filter */
    unsigned external_vips; /* bit per service whose ClusterIP is in externalTargets */
    int external_other;     /* externalTargets that are not a Service ClusterIP */
    int unfiltered;         /* no target, no externalTargets: a root netem on all egress */
    /* StressChaos */
    int mem_percent;       /* size was "N%" (of the host's memory) */
    int64_t oom_score_adj; /* memory.oomScoreAdj when given (else 0 with has_oom_adj 0) */
    int has_oom_adj;
} cm_action;

typedef struct cm_note {
    int warning; /* 1: the object does something other than it reads; 0: information */
    char text[512];
} cm_note;

typedef struct cm_object {
    char name[96];
    char kind[24];
    char file[256];
    int line;
    int doc_index;
    char expect[1024]; /* payment-chaos/expect */
    int expect_line;
    char pair[96]; /* payment-chaos/pair */
    int pair_line;
    char description[320];
    cm_action *acts;
    int nacts;
    cm_note notes[CM_MAX_NOTES];
    int nnotes;
    char timeline[CM_MAX_TIMELINE][224]; /* Schedule ticks, Workflow nodes */
    int ntimeline;
    int64_t first_start_ns; /* earliest action start (0 unless a Schedule or Workflow waits) */
    int64_t last_end_ns;    /* latest end (a one-shot action: when its pods are Ready again; an endless one:
                             * its start) */
    int endless;            /* an action never ends: the run watches it for --chaos after last_end_ns */
    int paused;
} cm_object;

typedef struct cm_env {
    const sim_manifest *m;
    int schedule_cycles;     /* Schedule ticks to simulate */
    int64_t creation_unix_s; /* calendar time at which the object is created (cron ticks follow it) */
} cm_env;

/* 1 when the document is a chaos-mesh.org object (any kind), 0 otherwise. */
int cm_is_chaos_document(const yt_node *doc);
int cm_parse(const char *file, const yt_doc *doc, const cm_env *env, cm_object *out, char *err, size_t errlen);
void cm_object_free(cm_object *o);

#endif
