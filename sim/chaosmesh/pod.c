/*
 * pod.c: PodChaos. Its YAML half (the spec table) and its runtime half: pod-kill and container-kill are
 * one-shot (injected once; a duration undoes nothing), pod-failure lasts for its duration; a killed pod is
 * Ready again after the restart, its container's start and its readiness probe (the manifest's timings).
 */
#include "sim/chaosmesh/reader.h"

#include <stdio.h>

#include "base/units.h"

/* ---- the YAML half ---- */

static const char *const actions[] = {"pod-kill", "pod-failure", "container-kill", NULL};
enum { A_POD_KILL, A_POD_FAILURE, A_CONTAINER_KILL };

enum { P_DURATION, P_ACTION, P_MODE, P_VALUE, P_SELECTOR, P_CONTAINERS, P_GRACE, P_FIELDS };
static const cm_field pod_fields[] = {
    [P_DURATION] = {"duration", CM_STR},
    [P_ACTION] = {"action", CM_STR, CM_REQUIRED, actions},
    [P_MODE] = CM_FIELD_MODE,
    [P_VALUE] = CM_FIELD_VALUE,
    [P_SELECTOR] = CM_FIELD_SELECTOR,
    [P_CONTAINERS] = CM_FIELD_CONTAINERS, /* required by container-kill (the webhook's rule) */
    [P_GRACE] = {"gracePeriod", CM_INT, 0, .lo = 0, .hi = INT64_MAX},
};
static const char *const pod_unsupported[] = {"remoteCluster|one cluster", NULL};
static const cm_schema pod_schema = CM_SCHEMA(pod_fields, pod_unsupported);

/* ---- the runtime half ---- */

static int pod_resolve(cm_reader *r, const yt_node *spec, const char *path, int64_t duration, cm_action *ca) {
    sim_chaos_action *a = &ca->a;
    cm_value v[P_FIELDS];
    cm_read(spec, &pod_schema, v);
    int act = (int)v[P_ACTION].i;
    char who[200];
    if (cm_resolve_selection(r, spec, path, &a->selector, who, sizeof who) < 0 ||
        cm_resolve_containers(r, spec, path, &a->selector, act == A_CONTAINER_KILL, actions[act]) < 0)
        return -1;
    if (v[P_GRACE].i > 0)
        return yt_fail(&r->c, v[P_GRACE].node,
                       "%s.gracePeriod: %lld: not supported by the simulator: pods are deleted at once (gracePeriod "
                       "0, no preStop, no SIGTERM drain)",
                       path, (long long)v[P_GRACE].i);
    const cluster_spec *cs = &r->env->m->spec;
    int64_t restart = 1 * SEC;
    a->restart_delay_ns = restart;
    a->kind = act == A_POD_KILL ? ACT_POD_KILL : act == A_POD_FAILURE ? ACT_POD_FAILURE : ACT_CONTAINER_KILL;
    ca->one_shot = act != A_POD_FAILURE;
    int64_t ready = 0;
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        int64_t t = restart + cs->svc[s].start_delay_ns + cs->svc[s].readiness_delay_ns + cs->endpoint_delay_ns;
        if (t > ready) ready = t;
    }
    ca->ready_after_ns = ready;
    if (act == A_POD_FAILURE && duration < 0)
        cm_add_note(r, 1,
                    "pod-failure without duration keeps the pause image until the object is deleted: the pods never "
                    "come back in this simulation");
    if (act != A_POD_FAILURE && duration >= 0)
        cm_add_note(r, 1,
                    "%s.duration: %s is one-shot: the duration undoes nothing (the object counts as finished once "
                    "the pods are killed)",
                    path, actions[act]);
    snprintf(ca->says, sizeof ca->says, "%s on %s", actions[act], who);
    return 0;
}

const cm_chaos_kind cm_pod_chaos = {"PodChaos", "podChaos", "vpodchaos.kb.io", &pod_schema, pod_resolve};
