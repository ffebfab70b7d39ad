/*
 * space.h: the fault space: every fault Chaos Mesh can inject on the cluster, its magnitude as a position
 * u in [0, 1], and the Chaos Mesh document that injects it.
 *
 * A fault is a kind on a place:
 *   network kinds (loss, delay, jitter, bandwidth, partition, duplicate, corrupt) on a link in one
 *     direction: the egress of one service's pods toward another's (its pods and its Service IP), which is
 *     what a NetworkChaos with `direction: to`, a `target` and the Service IP in `externalTargets` shapes;
 *     every ordered pair of services, a service to itself included (inventory forwards to its owner pod);
 *   pod kinds on a pod set (one pod or every pod of a service): CPU stress (workers x load), memory stress
 *     (size), pod failure (its duration); pod kill on a service (how many pods at once).
 * The search runs on u; space_magnitude() maps u to the magnitude the document writes, rounded to what the
 * document can say (0.1 % of loss, 1 ms of delay, a bandwidth in bytes per second, whole stress-ng workers
 * and load percentages, whole MiB, 100 ms of duration, whole pods). Each kind's range and scale (linear, or
 * logarithmic where the effect spans decades) are in the kind table of space.c. For kinds whose u = 0 is no
 * fault at all (0 % loss, no stress, no pod killed) the no-fault baseline stands for u = 0.
 *
 * Ownership: plain structs and caller-owned buffers; nothing allocated.
 */
#ifndef PC_SIM_EXPLORE_SPACE_H
#define PC_SIM_EXPLORE_SPACE_H

#include <stddef.h>

#include "sim/input/manifest.h"
#include "sim/run/options.h"

typedef enum xp_kind {
    XK_LOSS = 0,
    XK_DELAY,
    XK_JITTER,
    XK_BANDWIDTH,
    XK_PARTITION,
    XK_DUPLICATE,
    XK_CORRUPT,
    XK_CPU,
    XK_MEMORY,
    XK_POD_KILL,
    XK_POD_FAILURE,
    XK_COUNT
} xp_kind;

typedef struct xp_fault {
    xp_kind kind;
    svc_peer from, to; /* network kinds: the egress of `from` toward `to` */
    svc_peer svc;      /* pod kinds: the service whose pods it acts on */
    int all_pods;      /* cpu, memory, pod-failure: every pod of svc (1) or one (0) */
    int levels;        /* discrete magnitudes (pod-kill: 1..replicas pods), 0: continuous */
    char name[80];     /* "loss payment -> inventory", "cpu payment (all pods)" */
    char slug[64];     /* "loss-payment-inventory": object and file names */
} xp_fault;

/* A magnitude, as the document writes it. */
typedef struct xp_magnitude {
    int none;     /* u = 0 of a kind where that is no fault */
    double value; /* in the kind's unit: %, ms, bytes/s, s, CPUs, MiB, pods */
    int cpu_workers, cpu_load;
} xp_magnitude;

#define XP_MAX_FAULTS 128

typedef struct xp_space {
    xp_fault faults[XP_MAX_FAULTS];
    int n;
} xp_space;

const char *space_kind_name(xp_kind k);
/* Parses "loss,delay,cpu" into a bit per kind (all when text is NULL); 0, or -1 with a message. */
int space_parse_kinds(const char *text, unsigned *mask, char *err, size_t errlen);
/* Every fault of the kinds in `mask` on the cluster, in a fixed order (kinds in table order, then places). */
void space_build(xp_space *sp, const cluster_spec *cl, unsigned mask);

int space_is_network(xp_kind k);
/* 1 when u = 0 is no fault (the baseline stands for it). */
int space_zero_is_none(xp_kind k);
/* 1 when the magnitude is the fault's duration (partition, pod-failure): the chaos phase is that long. */
int space_sets_duration(xp_kind k);
const char *space_unit(xp_kind k);

xp_magnitude space_magnitude(const xp_fault *f, double u);
/* "56.3 %", "1200 ms", "2400 B/s", "12.5 s", "1.6 CPU (2 x 80 %)", "96 MiB", "2 pods", "none". */
void space_format(const xp_fault *f, const xp_magnitude *m, char *out, size_t outlen);
/* The same without the unit's words (for intervals: "52.0"). */
void space_format_value(const xp_fault *f, double value, char *out, size_t outlen);

/* What a document needs to know of the cluster. */
typedef struct xp_cluster_names {
    char ns[64];
    char label_key[SVC_PEER_COUNT][96], label_value[SVC_PEER_COUNT][96]; /* the pods' selector label */
    char vip[SVC_PEER_COUNT][24];                                        /* the Services' ClusterIPs */
} xp_cluster_names;

void space_cluster_names(const sim_manifest *m, xp_cluster_names *out);

/* One part of an experiment: a fault at a position. */
typedef struct xp_part {
    const xp_fault *f;
    double u;
} xp_part;

/*
 * The Chaos Mesh document(s) for 1 or 2 parts (two documents that name each other in `payment-chaos/pair`,
 * so that `bin/sim --experiment` and `tests/chaos.sh apply` take them together), named `name` (a pair:
 * name-a, name-b), the expectation in the first one's `payment-chaos/expect`, each lasting `chaos_ns`
 * unless its magnitude is its duration; `comment` (lines without '#', may be NULL) goes on top as comments.
 * Returns the length written, or -1 when it does not fit.
 */
int space_yaml(char *out, size_t outlen, const xp_cluster_names *cn, const xp_part *parts, int nparts, const char *name,
               const char *expect, int64_t chaos_ns, const char *comment);

#endif
