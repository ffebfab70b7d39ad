/*
 * cluster.h: the simulated Kubernetes cluster: one node, three Services, their pods, each pod hosting the
 * real service module (services/) through a simulator runtime.
 *
 * A pod is: a host (pod IP) in the net, a CFS group with the container's CPU limit, a memory cgroup, an
 * HTTP server on the Service port, an HTTP client for downstream calls, and an svc_shell running the
 * service's logic. The runtime ops the shell sees are all virtual:
 *   now_ns       the engine's clock;     unix_ms   2026-01-01T00:00:00Z + virtual time
 *   random_u64   the pod's own seeded stream ("pod/<name>")
 *   call         an HTTP exchange from the pod's client, to the Service IP (replica -1: kube-proxy picks a
 *                backend per connection) or to a replica's pod IP (headless DNS with
 *                publishNotReadyAddresses: true, as in k8s/deployment.yaml: a starting pod resolves, a
 *                deleted one does not until its replacement exists)
 *   timer        an engine event
 *   persist      appended to the pod's journal after the fsync latency; the journal belongs to the
 *                StatefulSet ordinal (its volume) and survives the pod
 * Every piece of CPU work the process does (handling a request, a downstream answer, a timer) is charged
 * to the pod's CFS group before the service code runs, so throttling delays the service exactly where a
 * throttled process would be delayed.
 *
 * Pod life: start (container start delay) -> replay journal -> listening -> ready after the readiness
 * probe -> endpoints updated after the kube-proxy delay. A kill (pod-kill, OOM kill of the app) closes
 * its sockets, forgets its memory, and a replacement with the same ordinal and a new IP starts after the
 * restart delay.
 *
 * Ownership: the cluster owns everything it creates; cluster_free() releases all of it.
 */
#ifndef PC_SIM_NODE_CLUSTER_H
#define PC_SIM_NODE_CLUSTER_H

#include <stdint.h>

#include "faults/cfs.h"
#include "faults/netfault.h"
#include "services/core/config.h"
#include "services/core/shell.h"
#include "sim/engine/engine.h"
#include "sim/net/net.h"
#include "sim/node/http.h"

#define CLUSTER_MAX_PODS 64

typedef struct sim_service_spec {
    char name[48];      /* "payment-service" (the Service) */
    char workload[48];  /* "payment" (StatefulSet/Deployment name, pod name prefix) */
    char app_label[48]; /* value of the `app` label */
    svc_peer peer;
    int replicas;
    int port;
    sim_addr cluster_ip;
    int64_t cpu_limit_millis;   /* 200 */
    int64_t cpu_request_millis; /* 100 */
    int64_t mem_limit_bytes;    /* 128 Mi */
    int64_t mem_request_bytes;  /* 64 Mi */
    int64_t readiness_delay_ns; /* initialDelaySeconds */
    int64_t readiness_period_ns;
    int64_t start_delay_ns; /* from pod creation to the process listening */
    int stateful;           /* StatefulSet: stable names and journals */
} sim_service_spec;

typedef struct cluster_spec {
    char namespace_[64];
    sim_service_spec svc[SVC_PEER_COUNT];
    int node_cpus;
    int64_t node_memory_bytes;
    int64_t endpoint_delay_ns; /* pod readiness change -> kube-proxy rules */
    int64_t fsync_ns;          /* journal write + fsync */
    int64_t app_rss_bytes;     /* the service process's memory */
    int threads;               /* threads per pod in the CPU model: server threads + the client thread */
    int keepalive_downstream;  /* libcurl connection reuse in the services (on by default) */
    int service_logs;          /* let the services format their per-request log lines (costly; off) */
    tcp_config tcp;
    net_config net;
    cfs_config cfs;
    /* CPU time per piece of work, ns */
    int64_t cost_request_ns[SVC_PEER_COUNT]; /* handling one request */
    int64_t cost_chain_extra_ns;             /* payment/chain and process: JSON work per step */
    int64_t cost_completion_ns;              /* handling a downstream answer */
    int64_t cost_accept_ns;                  /* a connection accepted by the pod's server (accept + close) */
    int64_t cost_connect_ns;                 /* a new connection opened by the pod's client (socket..close) */
    int cpu_offpath_pct;                     /* share of each piece of work done after its result is handed
                                              * on (cleanup, another thread's bookkeeping): it uses the
                                              * pod's CPU right after, but does not delay that result */
    int cpu_offpath_conn_pct;                /* the same for the accept and connect costs (close comes last) */
    int64_t cost_timer_ns;
    double cpu_scale;               /* this machine's CPU time per piece of work relative to the
                                              * calibration machine's (the costs above); applied by
                                              * cluster_new, so the costs stay the calibrated ones */
    int64_t stressor_oom_score_adj; /* memStress inherits chaos-daemon's adj */
    int64_t stressor_rss_bytes;     /* a stressor process's own memory, besides what it allocates */
    int64_t mem_touch_ns_per_mib;   /* CPU for a memory stressor to fault in, zero and write 1 MiB */
    int64_t stressor_start_ns;      /* CPU to start one memory stressor process */
} cluster_spec;

void cluster_spec_defaults(cluster_spec *spec);

typedef struct sim_cluster sim_cluster;
typedef struct sim_pod sim_pod;

typedef enum sim_pod_state { POD_STARTING = 0, POD_RUNNING, POD_DEAD } sim_pod_state;

sim_cluster *cluster_new(sim_engine *e, uint64_t seed, const cluster_spec *spec, const svc_config *base_cfg);
void cluster_free(sim_cluster *c);

sim_net *cluster_net(sim_cluster *c);
nf_layer *cluster_faults(sim_cluster *c);
cfs_node *cluster_cpu(sim_cluster *c);
const cluster_spec *cluster_get_spec(const sim_cluster *c);
sim_engine *cluster_engine(sim_cluster *c);
uint64_t cluster_seed(const sim_cluster *c);

int cluster_pod_count(const sim_cluster *c);
sim_pod *cluster_pod(sim_cluster *c, int index);
sim_pod *cluster_pod_by_name(sim_cluster *c, const char *name);
/* Pods of one service, in ordinal order. */
int cluster_pods_of(sim_cluster *c, svc_peer peer, sim_pod **out, int max);

const char *pod_name(const sim_pod *p);
svc_peer pod_service(const sim_pod *p);
int pod_ordinal(const sim_pod *p);
sim_pod_state pod_get_state(const sim_pod *p);
int pod_ready(const sim_pod *p);
sim_host *pod_host(sim_pod *p);
cfs_group *pod_cpu(sim_pod *p);
svc_shell *pod_shell(sim_pod *p); /* NULL while dead */
int pod_restarts(const sim_pod *p);
int64_t pod_memory_limit(const sim_pod *p);

/* Kills the pod's process now; `recreate`: a replacement (same ordinal) starts after `restart_delay_ns`. */
void cluster_kill_pod(sim_cluster *c, sim_pod *p, int64_t restart_delay_ns, const char *why);
/* container-kill / OOM of the app: the container restarts after the delay, keeping the pod and its IP. */
void cluster_kill_container(sim_cluster *c, sim_pod *p, int64_t restart_delay_ns);
/* pod-failure: the container image becomes "pause" (down, not ready) until cluster_recover_pod. */
void cluster_fail_pod(sim_cluster *c, sim_pod *p);
void cluster_recover_pod(sim_cluster *c, sim_pod *p);

/* Memory: bytes allocated in the pod's cgroup by a stressor process (killable by the OOM killer). */
typedef struct sim_mem_hog sim_mem_hog;
sim_mem_hog *cluster_mem_hog(sim_cluster *c, sim_pod *p, int64_t bytes, const char *name);
void cluster_mem_hog_free(sim_cluster *c, sim_mem_hog *h);
int mem_hog_alive(const sim_mem_hog *h); /* 0 once the OOM killer took it (or its pod died) */
typedef struct sim_memory_stats {
    uint64_t oom_kills_stressor, oom_kills_app;
    int64_t peak_usage_bytes;
} sim_memory_stats;
const sim_memory_stats *pod_memory_stats(const sim_pod *p);

/* Everything pods did: for the report. */
typedef struct sim_cluster_stats {
    uint64_t pod_kills, pod_restarts, log_lines, journal_records;
} sim_cluster_stats;
const sim_cluster_stats *cluster_get_stats(const sim_cluster *c);

/* True when every pod is running (none restarting) and no request, call or background work (an owed
 * release) is pending in any of them: the system is quiet. */
int cluster_quiet(sim_cluster *c);

/* Which service an address belongs to (a pod IP, even of a pod that has since been replaced, or a Service
 * IP); *is_service_ip tells which. -1 when the address is not the cluster's. */
int cluster_addr_service(const sim_cluster *c, sim_addr a, int *is_service_ip);

/* The Service address clients use for a service. */
sim_addr cluster_service_ip(const sim_cluster *c, svc_peer peer);
int cluster_service_port(const sim_cluster *c, svc_peer peer);

#endif
