/*
 * manifest.h: a Kubernetes manifest (k8s/deployment.yaml) as the simulator's cluster.
 *
 * What is read, and where it goes (cluster_spec unless said otherwise):
 *   Namespace                       namespace_
 *   StatefulSet / Deployment        replicas; pod template labels (what Chaos Mesh label selectors match);
 *     (named payment*, inventory*,  the container's name (containerNames), port, resources.requests/limits
 *      notification*)               (cpu_*_millis, mem_*_bytes), readinessProbe (readiness_delay_ns =
 *                                   initialDelaySeconds + periodSeconds: the first probe that can pass;
 *                                   readiness_period_ns), env (the services' settings: timeouts, retries,
 *                                   idempotency... through svc_config_load, the same parser the pods use);
 *                                   StatefulSet or Deployment (stateful)
 *   Service (ClusterIP)             name, clusterIP, port; the selector must pick exactly one workload
 *   Service (clusterIP: None)       the headless name (per-pod DNS)
 *   Node                            status.capacity cpu and memory (node_cpus, node_memory_bytes)
 *   PodDisruptionBudget             accepted: Chaos Mesh deletes pods directly, a PDB does not stop it
 * Fields that change nothing in the simulation (securityContext, volumes, image, probes' HTTP details,
 * Prometheus annotations...) are accepted; their contents are left to the API server. Any other field, and
 * any setting the simulator cannot honour (two containers, a Service whose port differs from its target port,
 * payment calling inventory by anything but its Service) is an error naming the field and its line.
 *
 * Ownership: a manifest is a plain struct the caller owns; nothing inside is allocated.
 */
#ifndef PC_SIM_INPUT_MANIFEST_H
#define PC_SIM_INPUT_MANIFEST_H

#include <stddef.h>

#include "services/core/config.h"
#include "sim/node/cluster.h"

#define MANIFEST_MAX_LABELS 16
#define MANIFEST_MAX_ENV 64
#define MANIFEST_MAX_NOTES 16

typedef struct manifest_label {
    char key[96];
    char value[96];
} manifest_label;

typedef struct manifest_workload {
    int present;                                /* 0: built-in defaults */
    char kind[16];                              /* "StatefulSet", "Deployment" */
    manifest_label labels[MANIFEST_MAX_LABELS]; /* pod template labels */
    int nlabels;
    char container[64];
    char headless[64]; /* headless Service name, or "" */
    int line;
} manifest_workload;

typedef struct manifest_env {
    char key[64];
    char value[256];
    int line;
} manifest_env;

typedef struct sim_manifest {
    char source[256]; /* the file, or "built-in defaults" */
    cluster_spec spec;
    manifest_workload svc[SVC_PEER_COUNT];
    manifest_env env[MANIFEST_MAX_ENV]; /* merged over the containers; one value per key */
    int nenv;
    char notes[MANIFEST_MAX_NOTES][320]; /* where the manifest and the simulator's model differ */
    int nnotes;
} sim_manifest;

/* The built-in cluster: cluster_spec_defaults(), labels app=<service>-service, containers named after the
 * workloads, headless Services <workload>-headless. */
void manifest_defaults(sim_manifest *m);
/* Reads every document of `path`; 0, or -1 with "FILE:LINE: ..." in err. */
int manifest_load(const char *path, sim_manifest *m, char *err, size_t errlen);
/* The services' settings from the manifest's env over `cfg`'s current values (svc_config_load). */
int manifest_services_config(const sim_manifest *m, svc_config *cfg, char *err, size_t errlen);
/* Value of a pod template label of a service, or NULL. */
const char *manifest_label_of(const sim_manifest *m, svc_peer s, const char *key);

#endif
