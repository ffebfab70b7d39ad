/*
 * manifest.c: Kubernetes documents into the simulated cluster (see manifest.h).
 */
#include "sim/input/manifest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
#include "sim/input/goparse.h"
#include "sim/input/yamltree.h"

/* Settings the services read (services/core/config.c) and the HTTP runtime reads (services/http/env.c). */
static const char *const service_keys[] = {"LOG_LEVEL",
                                           "PAYMENT_REPLICAS",
                                           "INVENTORY_REPLICAS",
                                           "NOTIFICATION_REPLICAS",
                                           "POD_NAME",
                                           "REPLICA_INDEX",
                                           "DOWNSTREAM_TIMEOUT_MS",
                                           "CHAIN_STEP_TIMEOUT_MS",
                                           "FORWARD_TIMEOUT_MS",
                                           "RETRY_ATTEMPTS",
                                           "RETRY_BACKOFF_MS",
                                           "RETRY_BACKOFF_MAX_MS",
                                           "RETRY_DEADLINE_MS",
                                           "IDEMPOTENCY",
                                           "IDEMPOTENCY_TTL_S",
                                           "IDEMPOTENCY_CAPACITY",
                                           "PAYMENT_CAPACITY",
                                           "NOTIFICATION_HISTORY",
                                           "RESERVATION_CAPACITY",
                                           "RELEASE_RETRY_MS",
                                           "RELEASE_RETRY_MAX_MS",
                                           "CATALOGUE",
                                           NULL};
/* Per-pod runtime settings: a different value in each container is normal. */
static const char *const runtime_keys[] = {
    "PORT",         "POD_NAME",       "JOURNAL_PATH",  "PAYMENT_PEERS",      "INVENTORY_PEERS", "NOTIFICATION_PEERS",
    "BIND_ADDRESS", "CATALOGUE_FILE", "SERVICE_TOKEN", "SERVICE_TOKEN_FILE", "API_KEYS_FILE",   NULL};
/* Runtime settings with no model in the simulator (noted, not applied). */
static const char *const unmodelled_keys[] = {"THREADS",           "CONNECTION_LIMIT",  "SHUTDOWN_GRACE_MS",
                                              "SHUTDOWN_DELAY_MS", "HEADER_TIMEOUT_MS", NULL};

static int in_list(const char *const *list, const char *s) {
    for (; *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

static void note(sim_manifest *m, const char *fmt, const char *a, const char *b) {
    char text[sizeof m->notes[0]];
    snprintf(text, sizeof text, fmt, a, b);
    for (int i = 0; i < m->nnotes; i++)
        if (!strcmp(m->notes[i], text)) return;
    if (m->nnotes >= MANIFEST_MAX_NOTES) return;
    snprintf(m->notes[m->nnotes++], sizeof m->notes[0], "%s", text);
}

void manifest_defaults(sim_manifest *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->source, sizeof m->source, "built-in defaults");
    cluster_spec_defaults(&m->spec);
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        manifest_workload *w = &m->svc[s];
        snprintf(w->kind, sizeof w->kind, "StatefulSet");
        snprintf(w->labels[0].key, sizeof w->labels[0].key, "app");
        snprintf(w->labels[0].value, sizeof w->labels[0].value, "%s", m->spec.svc[s].app_label);
        w->nlabels = 1;
        snprintf(w->container, sizeof w->container, "%s", m->spec.svc[s].workload);
        snprintf(w->headless, sizeof w->headless, "%s-headless", m->spec.svc[s].workload);
    }
}

const char *manifest_label_of(const sim_manifest *m, svc_peer s, const char *key) {
    for (int i = 0; i < m->svc[s].nlabels; i++)
        if (!strcmp(m->svc[s].labels[i].key, key)) return m->svc[s].labels[i].value;
    return NULL;
}

/* ---- helpers ---- */

typedef struct reader {
    yt_ctx c;
    sim_manifest *m;
    int seen_workload[SVC_PEER_COUNT];
    int seen_service[SVC_PEER_COUNT];
    char ns[64];
    int ns_line;
} reader;

static int get_string(reader *r, const yt_node *parent, const char *key, const char *path, int required,
                      const char **out) {
    const yt_node *n = yt_get(parent, key);
    *out = NULL;
    if (yt_check_type(&r->c, parent, n, path, YK_STRING, required) < 0) return -1;
    if (n && yt_kind_of(n) == YK_STRING) *out = n->value;
    return 0;
}

static int get_int(reader *r, const yt_node *parent, const char *key, const char *path, int64_t lo, int64_t hi,
                   int64_t *out) {
    const yt_node *n = yt_get(parent, key);
    if (!n) return 0;
    if (yt_check_type(&r->c, parent, n, path, YK_INT, 0) < 0) return -1;
    int64_t v;
    if (yt_int(n, &v) < 0 || v < lo || v > hi)
        return yt_fail(&r->c, n, "%s: Invalid value: %s: must be between %lld and %lld", path, n->value, (long long)lo,
                       (long long)hi);
    *out = v;
    return 0;
}

static int check_map(reader *r, const yt_node *parent, const yt_node *n, const char *path, int required) {
    return yt_check_type(&r->c, parent, n, path, YK_MAP, required);
}

/* metadata: name (required), namespace (must be the cluster's), labels and annotations (no effect). */
static int read_metadata(reader *r, const yt_node *doc, const char **name_out) {
    static const char *const ok[] = {"name", "namespace", "labels", "annotations", NULL};
    static const char *const unsupported[] = {"generateName|the simulator needs fixed names", NULL};
    const yt_node *md = yt_get(doc, "metadata");
    if (check_map(r, doc, md, "metadata", 1) < 0 || yt_check_fields(&r->c, md, "metadata", ok, unsupported) < 0)
        return -1;
    if (get_string(r, md, "name", "metadata.name", 1, name_out) < 0) return -1;
    const char *ns;
    if (get_string(r, md, "namespace", "metadata.namespace", 0, &ns) < 0) return -1;
    if (check_map(r, md, yt_get(md, "labels"), "metadata.labels", 0) < 0 ||
        check_map(r, md, yt_get(md, "annotations"), "metadata.annotations", 0) < 0)
        return -1;
    if (ns) {
        if (r->ns[0] && strcmp(r->ns, ns))
            return yt_fail(&r->c, yt_get(md, "namespace"),
                           "metadata.namespace: \"%s\" differs from \"%s\" (line %d): the simulator runs one namespace",
                           ns, r->ns, r->ns_line);
        if (!r->ns[0]) {
            snprintf(r->ns, sizeof r->ns, "%s", ns);
            r->ns_line = yt_get(md, "namespace")->line;
        }
    }
    return 0;
}

static int workload_of(reader *r, const char *name, const yt_node *at, svc_peer *out) {
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        const char *w = svc_peer_name((svc_peer)s);
        if (!strncmp(name, w, strlen(w))) {
            *out = (svc_peer)s;
            return 0;
        }
    }
    return yt_fail(&r->c, at,
                   "metadata.name: \"%s\": the simulator runs the payment, inventory and notification services; a "
                   "workload's name must start with one of them",
                   name);
}

static int read_labels(reader *r, const yt_node *map, const char *path, manifest_label *out, int *n) {
    *n = 0;
    if (!map) return 0;
    if (map->type != YT_MAP) return yt_check_type(&r->c, map, map, path, YK_MAP, 1);
    for (size_t i = 0; i < map->n; i++) {
        if (yt_kind_of(map->items[i]) != YK_STRING) {
            char p[160];
            yt_pathf(p, sizeof p, "%s.%s", path, map->keys[i]->value);
            return yt_check_type(&r->c, map, map->items[i], p, YK_STRING, 1);
        }
        if (*n >= MANIFEST_MAX_LABELS)
            return yt_fail(&r->c, map->keys[i], "%s: more than %d labels", path, MANIFEST_MAX_LABELS);
        snprintf(out[*n].key, sizeof out[*n].key, "%s", map->keys[i]->value);
        snprintf(out[*n].value, sizeof out[*n].value, "%s", map->items[i]->value);
        (*n)++;
    }
    return 0;
}

static int labels_match(const yt_node *selector, const manifest_label *labels, int nlabels) {
    if (!selector || selector->type != YT_MAP || !selector->n) return 0;
    for (size_t i = 0; i < selector->n; i++) {
        int found = 0;
        for (int k = 0; k < nlabels; k++)
            if (!strcmp(labels[k].key, selector->keys[i]->value) && selector->items[i]->value &&
                !strcmp(labels[k].value, selector->items[i]->value))
                found = 1;
        if (!found) return 0;
    }
    return 1;
}

/* ---- containers ---- */

static int read_resources(reader *r, const yt_node *res, const char *path, sim_service_spec *ss) {
    static const char *const ok[] = {"requests", "limits", NULL};
    static const char *const unsupported[] = {"claims|dynamic resources", NULL};
    if (yt_check_fields(&r->c, res, path, ok, unsupported) < 0) return -1;
    static const char *const kinds[] = {"requests", "limits"};
    for (int k = 0; k < 2; k++) {
        const yt_node *m = yt_get(res, kinds[k]);
        char p[160];
        yt_pathf(p, sizeof p, "%s.%s", path, kinds[k]);
        static const char *const res_ok[] = {"cpu", "memory", NULL};
        static const char *const res_unsupported[] = {"ephemeral-storage|no disk model", "hugepages-2Mi|no model",
                                                      "hugepages-1Gi|no model", NULL};
        if (check_map(r, res, m, p, 0) < 0 || yt_check_fields(&r->c, m, p, res_ok, res_unsupported) < 0) return -1;
        for (int q = 0; q < 2 && m; q++) {
            const char *key = q ? "memory" : "cpu";
            const yt_node *v = yt_get(m, key);
            if (!v) continue;
            char qp[192], qerr[256];
            yt_pathf(qp, sizeof qp, "%s.%s", p, key);
            yt_kind kind = yt_kind_of(v);
            if (kind != YK_STRING && kind != YK_INT && kind != YK_FLOAT)
                return yt_check_type(&r->c, m, v, qp, YK_STRING, 1);
            int64_t val;
            if (k8s_quantity(v->value, !q, &val, qerr, sizeof qerr) < 0)
                return yt_fail(&r->c, v, "%s: Invalid value: \"%s\": %s", qp, v->value, qerr);
            if (!q && k == 0) ss->cpu_request_millis = val;
            if (!q && k == 1) ss->cpu_limit_millis = val;
            if (q && k == 0) ss->mem_request_bytes = val;
            if (q && k == 1) ss->mem_limit_bytes = val;
        }
    }
    return 0;
}

static int read_probe(reader *r, const yt_node *probe, const char *path, sim_service_spec *ss, int readiness) {
    static const char *const ok[] = {
        "httpGet", "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold",
        NULL};
    static const char *const unsupported[] = {"exec|the simulator probes over HTTP only",
                                              "tcpSocket|the simulator probes over HTTP only",
                                              "grpc|the simulator probes over HTTP only",
                                              "terminationGracePeriodSeconds|no graceful termination model", NULL};
    if (yt_check_fields(&r->c, probe, path, ok, unsupported) < 0) return -1;
    const yt_node *http = yt_get(probe, "httpGet");
    char p[160];
    yt_pathf(p, sizeof p, "%s.httpGet", path);
    if (check_map(r, probe, http, p, 1) < 0) return -1;
    static const char *const http_ok[] = {"path", "port", "scheme", "httpHeaders", "host", NULL};
    if (yt_check_fields(&r->c, http, p, http_ok, NULL) < 0) return -1;
    int64_t initial = 0, period = 10, timeout = 1, failure = 3, success = 1;
    yt_pathf(p, sizeof p, "%s.initialDelaySeconds", path);
    if (get_int(r, probe, "initialDelaySeconds", p, 0, 3600, &initial) < 0) return -1;
    yt_pathf(p, sizeof p, "%s.periodSeconds", path);
    if (get_int(r, probe, "periodSeconds", p, 1, 3600, &period) < 0) return -1;
    yt_pathf(p, sizeof p, "%s.timeoutSeconds", path);
    if (get_int(r, probe, "timeoutSeconds", p, 1, 3600, &timeout) < 0) return -1;
    yt_pathf(p, sizeof p, "%s.failureThreshold", path);
    if (get_int(r, probe, "failureThreshold", p, 1, 100, &failure) < 0) return -1;
    yt_pathf(p, sizeof p, "%s.successThreshold", path);
    if (get_int(r, probe, "successThreshold", p, 1, 100, &success) < 0) return -1;
    if (readiness) {
        /* the first probe that can pass: after the initial delay, at the next period tick */
        ss->readiness_delay_ns = (initial + period * success) * SEC;
        ss->readiness_period_ns = period * SEC;
    }
    return 0;
}

static int add_env(reader *r, const char *key, const char *value, const yt_node *at, svc_peer s) {
    sim_manifest *m = r->m;
    if (in_list(runtime_keys, key)) return 0;
    if (in_list(unmodelled_keys, key)) {
        if (!strcmp(key, "THREADS")) {
            /* the CPU model runs a pod's work on THREADS server threads plus the client thread */
            char *end = NULL;
            long t = strtol(value, &end, 10);
            if (end != value && !*end && t >= 1 && t <= 64) m->spec.threads = (int)t + 1;
        }
        return 0;
    }
    if (!strcmp(key, "INVENTORY_SERVICE") || !strcmp(key, "NOTIFICATION_SERVICE")) {
        svc_peer to = key[0] == 'I' ? SVC_INVENTORY : SVC_NOTIFICATION;
        const sim_service_spec *ts = &m->spec.svc[to];
        char want1[160], want2[200];
        snprintf(want1, sizeof want1, "http://%s:%d", ts->name, ts->port);
        snprintf(want2, sizeof want2, "http://%s.%s.svc.cluster.local:%d", ts->name, m->spec.namespace_, ts->port);
        size_t len = strlen(value);
        while (len && value[len - 1] == '/') len--;
        if ((strlen(want1) != len || strncmp(value, want1, len)) &&
            (strlen(want2) != len || strncmp(value, want2, len)))
            return yt_fail(&r->c, at,
                           "env %s=%s: not supported by the simulator: payment calls %s through its Service "
                           "ClusterIP (%s); a pod or headless address would change what a NetworkChaos `to` filter "
                           "matches",
                           key, value, svc_peer_name(to), want1);
        return 0;
    }
    if (!strcmp(key, "DOWNSTREAM_KEEPALIVE")) {
        if (strcmp(value, "on") && strcmp(value, "off"))
            return yt_fail(&r->c, at, "env DOWNSTREAM_KEEPALIVE=%s: expected on or off", value);
        m->spec.keepalive_downstream = !strcmp(value, "on");
        return 0;
    }
    if (!in_list(service_keys, key)) {
        note(m, "env %s (%s): not a setting the services read; ignored", key, svc_peer_name(s));
        return 0;
    }
    for (int i = 0; i < m->nenv; i++) {
        if (strcmp(m->env[i].key, key)) continue;
        if (strcmp(m->env[i].value, value))
            return yt_fail(&r->c, at,
                           "env %s=%s differs from %s (line %d): the simulator runs every service with one "
                           "configuration",
                           key, value, m->env[i].value, m->env[i].line);
        return 0;
    }
    if (m->nenv >= MANIFEST_MAX_ENV) return yt_fail(&r->c, at, "more than %d env settings", MANIFEST_MAX_ENV);
    snprintf(m->env[m->nenv].key, sizeof m->env[0].key, "%s", key);
    snprintf(m->env[m->nenv].value, sizeof m->env[0].value, "%s", value);
    m->env[m->nenv].line = at->line;
    m->nenv++;
    return 0;
}

/* containers[0].ports: the first containerPort is the service's port. */
static int read_ports(reader *r, const yt_node *c, const char *path, sim_service_spec *ss) {
    char p[192];
    const yt_node *ports = yt_get(c, "ports");
    yt_pathf(p, sizeof p, "%s.ports", path);
    if (yt_check_type(&r->c, c, ports, p, YK_SEQ, 0) < 0) return -1;
    for (size_t i = 0; ports && i < ports->n; i++) {
        const yt_node *port = ports->items[i];
        yt_pathf(p, sizeof p, "%s.ports[%zu]", path, i);
        static const char *const port_ok[] = {"name", "containerPort", "protocol", NULL};
        static const char *const port_unsupported[] = {"hostPort|no node networking model", "hostIP|no model", NULL};
        if (check_map(r, ports, port, p, 1) < 0 || yt_check_fields(&r->c, port, p, port_ok, port_unsupported) < 0)
            return -1;
        int64_t cp = 0;
        char pp[224];
        yt_pathf(pp, sizeof pp, "%s.containerPort", p);
        if (get_int(r, port, "containerPort", pp, 1, 65535, &cp) < 0) return -1;
        if (i == 0) ss->port = (int)cp;
    }
    return 0;
}

/* containers[0].env: literal values (the runtime's own keys may come from the downward API). */
static int read_env(reader *r, const yt_node *c, const char *path, svc_peer s) {
    char p[192];
    const yt_node *env = yt_get(c, "env");
    yt_pathf(p, sizeof p, "%s.env", path);
    if (yt_check_type(&r->c, c, env, p, YK_SEQ, 0) < 0) return -1;
    for (size_t i = 0; env && i < env->n; i++) {
        const yt_node *e = env->items[i];
        yt_pathf(p, sizeof p, "%s.env[%zu]", path, i);
        static const char *const env_ok[] = {"name", "value", "valueFrom", NULL};
        if (check_map(r, env, e, p, 1) < 0 || yt_check_fields(&r->c, e, p, env_ok, NULL) < 0) return -1;
        const char *key, *value;
        char pp[224];
        yt_pathf(pp, sizeof pp, "%s.name", p);
        if (get_string(r, e, "name", pp, 1, &key) < 0) return -1;
        yt_pathf(pp, sizeof pp, "%s.value", p);
        if (get_string(r, e, "value", pp, 0, &value) < 0) return -1;
        if (!value) {
            if (!yt_get(e, "valueFrom") && !in_list(runtime_keys, key))
                return yt_fail(&r->c, e, "%s: env %s has neither value nor valueFrom", p, key);
            if (yt_get(e, "valueFrom") && !in_list(runtime_keys, key))
                return yt_fail(&r->c, e,
                               "%s.valueFrom: not supported by the simulator for %s (only literal values; POD_NAME "
                               "from the downward API is fine)",
                               p, key);
            continue;
        }
        if (add_env(r, key, value, e, s) < 0) return -1;
    }
    return 0;
}

static int read_container(reader *r, const yt_node *c, const char *path, svc_peer s) {
    static const char *const ok[] = {"name",
                                     "image",
                                     "imagePullPolicy",
                                     "ports",
                                     "env",
                                     "resources",
                                     "readinessProbe",
                                     "livenessProbe",
                                     "lifecycle",
                                     "securityContext",
                                     "volumeMounts",
                                     "terminationMessagePath",
                                     "terminationMessagePolicy",
                                     NULL};
    static const char *const unsupported[] = {"command|the simulator runs the service module itself",
                                              "args|the simulator runs the service module itself",
                                              "envFrom|the simulator reads env values only",
                                              "startupProbe|no startup probe model",
                                              "workingDir|no model",
                                              "stdin|no model",
                                              "tty|no model",
                                              "volumeDevices|no model",
                                              "resizePolicy|no model",
                                              "restartPolicy|no sidecar model",
                                              NULL};
    sim_manifest *m = r->m;
    sim_service_spec *ss = &m->spec.svc[s];
    if (check_map(r, c, c, path, 1) < 0 || yt_check_fields(&r->c, c, path, ok, unsupported) < 0) return -1;
    const char *name;
    char p[192];
    yt_pathf(p, sizeof p, "%s.name", path);
    if (get_string(r, c, "name", p, 1, &name) < 0) return -1;
    snprintf(m->svc[s].container, sizeof m->svc[s].container, "%s", name);
    if (read_ports(r, c, path, ss) < 0 || read_env(r, c, path, s) < 0) return -1;
    const yt_node *res = yt_get(c, "resources");
    yt_pathf(p, sizeof p, "%s.resources", path);
    if (check_map(r, c, res, p, 0) < 0 || (res && read_resources(r, res, p, ss) < 0)) return -1;
    const yt_node *rp = yt_get(c, "readinessProbe");
    yt_pathf(p, sizeof p, "%s.readinessProbe", path);
    if (check_map(r, c, rp, p, 0) < 0) return -1;
    if (rp && read_probe(r, rp, p, ss, 1) < 0) return -1;
    if (!rp) ss->readiness_delay_ns = 0; /* Ready as soon as the container runs */
    const yt_node *lp = yt_get(c, "livenessProbe");
    yt_pathf(p, sizeof p, "%s.livenessProbe", path);
    if (check_map(r, c, lp, p, 0) < 0 || (lp && read_probe(r, lp, p, ss, 0) < 0)) return -1;
    return 0;
}

static int read_pod_spec(reader *r, const yt_node *ps, const char *path, svc_peer s) {
    static const char *const ok[] = {"containers",
                                     "automountServiceAccountToken",
                                     "enableServiceLinks",
                                     "terminationGracePeriodSeconds",
                                     "securityContext",
                                     "volumes",
                                     "serviceAccountName",
                                     "imagePullSecrets",
                                     "restartPolicy",
                                     "dnsPolicy",
                                     NULL};
    static const char *const unsupported[] = {"initContainers|no init container model",
                                              "hostNetwork|no node networking model",
                                              "nodeSelector|one node",
                                              "nodeName|one node",
                                              "affinity|one node",
                                              "tolerations|one node",
                                              "topologySpreadConstraints|one node",
                                              "priorityClassName|no preemption model",
                                              "priority|no preemption model",
                                              "runtimeClassName|no model",
                                              "overhead|no model",
                                              "dnsConfig|no DNS model",
                                              "hostAliases|no DNS model",
                                              "shareProcessNamespace|no model",
                                              "ephemeralContainers|no model",
                                              "readinessGates|no model",
                                              "schedulerName|no scheduler model",
                                              "activeDeadlineSeconds|no model",
                                              "hostPID|no model",
                                              "hostIPC|no model",
                                              "hostname|no DNS model",
                                              "subdomain|no DNS model",
                                              "setHostnameAsFQDN|no DNS model",
                                              "os|no model",
                                              "hostUsers|no model",
                                              "schedulingGates|no scheduler model",
                                              "resourceClaims|no model",
                                              "preemptionPolicy|no preemption model",
                                              NULL};
    if (yt_check_fields(&r->c, ps, path, ok, unsupported) < 0) return -1;
    const char *restart;
    char p[192];
    yt_pathf(p, sizeof p, "%s.restartPolicy", path);
    if (get_string(r, ps, "restartPolicy", p, 0, &restart) < 0) return -1;
    if (restart && strcmp(restart, "Always"))
        return yt_fail(&r->c, yt_get(ps, "restartPolicy"),
                       "%s: Unsupported value: \"%s\": supported values: \"Always\" (StatefulSets and Deployments)", p,
                       restart);
    const yt_node *cs = yt_get(ps, "containers");
    yt_pathf(p, sizeof p, "%s.containers", path);
    if (yt_check_type(&r->c, ps, cs, p, YK_SEQ, 1) < 0) return -1;
    if (cs->n != 1)
        return yt_fail(&r->c, cs, "%s: not supported by the simulator: exactly one container per pod (found %zu)", p,
                       cs->n);
    yt_pathf(p, sizeof p, "%s.containers[0]", path);
    return read_container(r, cs->items[0], p, s);
}

static int read_workload(reader *r, const yt_node *doc, const char *kind) {
    sim_manifest *m = r->m;
    const char *name;
    if (read_metadata(r, doc, &name) < 0) return -1;
    svc_peer s = SVC_PAYMENT;
    if (workload_of(r, name, yt_get(yt_get(doc, "metadata"), "name"), &s) < 0) return -1;
    if (r->seen_workload[s])
        return yt_fail(&r->c, doc, "%s %s: a second workload for %s (the first is at line %d)", kind, name,
                       svc_peer_name(s), m->svc[s].line);
    r->seen_workload[s] = 1;
    manifest_workload *w = &m->svc[s];
    sim_service_spec *ss = &m->spec.svc[s];
    w->present = 1;
    w->line = doc->line;
    snprintf(w->kind, sizeof w->kind, "%s", kind);
    snprintf(ss->workload, sizeof ss->workload, "%s", name);
    ss->stateful = !strcmp(kind, "StatefulSet");
    const yt_node *spec = yt_get(doc, "spec");
    if (check_map(r, doc, spec, "spec", 1) < 0) return -1;
    static const char *const sts_ok[] = {"replicas",
                                         "selector",
                                         "template",
                                         "serviceName",
                                         "podManagementPolicy",
                                         "volumeClaimTemplates",
                                         "updateStrategy",
                                         "revisionHistoryLimit",
                                         "persistentVolumeClaimRetentionPolicy",
                                         NULL};
    static const char *const dep_ok[] = {
        "replicas", "selector", "template", "strategy", "revisionHistoryLimit", "progressDeadlineSeconds", NULL};
    static const char *const unsupported[] = {"minReadySeconds|no model of it", "paused|no rollout model",
                                              "ordinals|ordinals start at 0 in the simulator", NULL};
    if (yt_check_fields(&r->c, spec, "spec", ss->stateful ? sts_ok : dep_ok, unsupported) < 0) return -1;
    int64_t replicas = 1;
    if (get_int(r, spec, "replicas", "spec.replicas", 1, 16, &replicas) < 0) return -1;
    ss->replicas = (int)replicas;
    const yt_node *tmpl = yt_get(spec, "template");
    if (check_map(r, spec, tmpl, "spec.template", 1) < 0) return -1;
    static const char *const tmpl_ok[] = {"metadata", "spec", NULL};
    if (yt_check_fields(&r->c, tmpl, "spec.template", tmpl_ok, NULL) < 0) return -1;
    const yt_node *tmd = yt_get(tmpl, "metadata");
    static const char *const tmd_ok[] = {"labels", "annotations", NULL};
    if (check_map(r, tmpl, tmd, "spec.template.metadata", 1) < 0 ||
        yt_check_fields(&r->c, tmd, "spec.template.metadata", tmd_ok, NULL) < 0)
        return -1;
    if (read_labels(r, yt_get(tmd, "labels"), "spec.template.metadata.labels", w->labels, &w->nlabels) < 0) return -1;
    const char *app = manifest_label_of(m, s, "app");
    snprintf(ss->app_label, sizeof ss->app_label, "%s", app ? app : "");
    const yt_node *sel = yt_get(spec, "selector");
    if (check_map(r, spec, sel, "spec.selector", 1) < 0) return -1;
    static const char *const sel_ok[] = {"matchLabels", NULL};
    static const char *const sel_unsupported[] = {"matchExpressions|write the selector with matchLabels", NULL};
    if (yt_check_fields(&r->c, sel, "spec.selector", sel_ok, sel_unsupported) < 0) return -1;
    if (!labels_match(yt_get(sel, "matchLabels"), w->labels, w->nlabels))
        return yt_fail(&r->c, sel,
                       "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`");
    if (ss->stateful) {
        const char *svcname;
        if (get_string(r, spec, "serviceName", "spec.serviceName", 0, &svcname) < 0) return -1;
        if (svcname) snprintf(w->headless, sizeof w->headless, "%s", svcname);
    }
    const yt_node *ps = yt_get(tmpl, "spec");
    if (check_map(r, tmpl, ps, "spec.template.spec", 1) < 0) return -1;
    return read_pod_spec(r, ps, "spec.template.spec", s);
}

/* spec.selector: the one workload whose pods it selects. */
static int service_workload(reader *r, const yt_node *sel, int *which) {
    sim_manifest *m = r->m;
    *which = -1;
    for (int s = 0; s < SVC_PEER_COUNT; s++)
        if (r->seen_workload[s] && labels_match(sel, m->svc[s].labels, m->svc[s].nlabels)) {
            if (*which >= 0)
                return yt_fail(&r->c, sel, "spec.selector: selects pods of %s and %s: not supported by the simulator",
                               svc_peer_name((svc_peer)*which), svc_peer_name((svc_peer)s));
            *which = s;
        }
    if (*which < 0)
        return yt_fail(&r->c, sel,
                       "spec.selector: selects no pods of the StatefulSets or Deployments in this manifest (the "
                       "simulator maps each Service to one workload)");
    return 0;
}

/* spec.ports: one port, the container's, with targetPort the same. */
static int service_port(reader *r, const yt_node *spec, const sim_service_spec *ss) {
    const yt_node *ports = yt_get(spec, "ports");
    if (yt_check_type(&r->c, spec, ports, "spec.ports", YK_SEQ, 1) < 0) return -1;
    if (ports->n != 1)
        return yt_fail(&r->c, ports, "spec.ports: not supported by the simulator: one port per Service (found %zu)",
                       ports->n);
    const yt_node *port = ports->items[0];
    static const char *const port_ok[] = {"name", "port", "targetPort", "protocol", "appProtocol", NULL};
    static const char *const port_unsupported[] = {"nodePort|ClusterIP only", NULL};
    if (check_map(r, ports, port, "spec.ports[0]", 1) < 0 ||
        yt_check_fields(&r->c, port, "spec.ports[0]", port_ok, port_unsupported) < 0)
        return -1;
    int64_t p = 0;
    if (get_int(r, port, "port", "spec.ports[0].port", 1, 65535, &p) < 0) return -1;
    if (!yt_get(port, "port")) return yt_fail(&r->c, port, "spec.ports[0].port: Required value");
    const yt_node *tp = yt_get(port, "targetPort");
    if (tp && yt_kind_of(tp) == YK_INT) {
        int64_t t;
        if (yt_int(tp, &t) == 0 && t != p)
            return yt_fail(&r->c, tp,
                           "spec.ports[0].targetPort: not supported by the simulator: %lld differs from the Service "
                           "port %lld",
                           (long long)t, (long long)p);
    }
    if (p != ss->port)
        return yt_fail(&r->c, yt_get(port, "port"),
                       "spec.ports[0].port: not supported by the simulator: %lld differs from the container port %d",
                       (long long)p, ss->port);
    return 0;
}

/* clusterIP: None: the workload's headless Service (its pods' DNS names). */
static int headless_service(reader *r, const yt_node *spec, const char *name, manifest_workload *w) {
    snprintf(w->headless, sizeof w->headless, "%s", name);
    const yt_node *pna = yt_get(spec, "publishNotReadyAddresses");
    int v = 0;
    if (pna && yt_bool(pna, &v) < 0)
        return yt_check_type(&r->c, spec, pna, "spec.publishNotReadyAddresses", YK_BOOL, 1);
    if (!v)
        note(r->m,
             "Service %s: publishNotReadyAddresses is false, but the simulator resolves a not-ready pod's "
             "headless name as with true (sim/node/cluster.c rt_call)%s",
             name, "");
    return 0;
}

/* A pinned clusterIP: valid, in the Service range, not taken. */
static int cluster_ip(reader *r, const yt_node *spec, const char *ip, int which, sim_service_spec *ss) {
    sim_manifest *m = r->m;
    sim_addr a;
    if (sim_addr_parse(ip, &a) < 0)
        return yt_fail(&r->c, yt_get(spec, "clusterIP"),
                       "spec.clusterIP: Invalid value: \"%s\": must be a valid IP address", ip);
    if ((a >> 20) != (SIM_ADDR(10, 96, 0, 0) >> 20))
        return yt_fail(&r->c, yt_get(spec, "clusterIP"),
                       "spec.clusterIP: Invalid value: \"%s\": provided IP is not in the valid range. The range of "
                       "valid IPs is 10.96.0.0/12",
                       ip);
    for (int s = 0; s < SVC_PEER_COUNT; s++)
        if (s != which && r->seen_service[s] && m->spec.svc[s].cluster_ip == a)
            return yt_fail(&r->c, yt_get(spec, "clusterIP"),
                           "spec.clusterIP: Invalid value: \"%s\": provided IP is already allocated", ip);
    ss->cluster_ip = a;
    return 0;
}

static int read_service(reader *r, const yt_node *doc) {
    sim_manifest *m = r->m;
    const char *name;
    if (read_metadata(r, doc, &name) < 0) return -1;
    const yt_node *spec = yt_get(doc, "spec");
    if (check_map(r, doc, spec, "spec", 1) < 0) return -1;
    static const char *const ok[] = {"type",       "clusterIP",      "clusterIPs",
                                     "selector",   "ports",          "publishNotReadyAddresses",
                                     "ipFamilies", "ipFamilyPolicy", NULL};
    static const char *const unsupported[] = {"externalName|no DNS model",
                                              "externalIPs|no external traffic model",
                                              "loadBalancerIP|no load balancer model",
                                              "sessionAffinity|kube-proxy picks a backend per connection at random",
                                              "sessionAffinityConfig|no session affinity model",
                                              "externalTrafficPolicy|no external traffic model",
                                              "internalTrafficPolicy|one node",
                                              "healthCheckNodePort|no model",
                                              "loadBalancerSourceRanges|no model",
                                              "allocateLoadBalancerNodePorts|no model",
                                              "loadBalancerClass|no model",
                                              "trafficDistribution|one node",
                                              NULL};
    if (yt_check_fields(&r->c, spec, "spec", ok, unsupported) < 0) return -1;
    const char *type, *ip;
    if (get_string(r, spec, "type", "spec.type", 0, &type) < 0 ||
        get_string(r, spec, "clusterIP", "spec.clusterIP", 0, &ip) < 0)
        return -1;
    if (type && strcmp(type, "ClusterIP"))
        return yt_fail(&r->c, yt_get(spec, "type"),
                       "spec.type: not supported by the simulator: \"%s\" (ClusterIP only)", type);
    const yt_node *sel = yt_get(spec, "selector");
    int which;
    if (check_map(r, spec, sel, "spec.selector", 1) < 0 || service_workload(r, sel, &which) < 0) return -1;
    sim_service_spec *ss = &m->spec.svc[which];
    if (service_port(r, spec, ss) < 0) return -1;
    if (ip && !strcmp(ip, "None")) return headless_service(r, spec, name, &m->svc[which]);
    if (r->seen_service[which])
        return yt_fail(&r->c, doc, "Service %s: a second ClusterIP Service for %s (the simulator has one per service)",
                       name, svc_peer_name((svc_peer)which));
    r->seen_service[which] = 1;
    snprintf(ss->name, sizeof ss->name, "%s", name);
    return ip ? cluster_ip(r, spec, ip, which, ss) : 0;
}

static int read_node(reader *r, const yt_node *doc) {
    const char *name;
    if (read_metadata(r, doc, &name) < 0) return -1;
    static const char *const ok[] = {"apiVersion", "kind", "metadata", "status", "spec", NULL};
    if (yt_check_fields(&r->c, doc, "", ok, NULL) < 0) return -1;
    const yt_node *st = yt_get(doc, "status");
    static const char *const st_ok[] = {"capacity", "allocatable", NULL};
    if (check_map(r, doc, st, "status", 1) < 0 || yt_check_fields(&r->c, st, "status", st_ok, NULL) < 0) return -1;
    const yt_node *cap = yt_get(st, "capacity");
    static const char *const cap_ok[] = {"cpu", "memory", "pods", "ephemeral-storage", NULL};
    if (check_map(r, st, cap, "status.capacity", 1) < 0 ||
        yt_check_fields(&r->c, cap, "status.capacity", cap_ok, NULL) < 0)
        return -1;
    char qerr[256];
    int64_t v;
    const yt_node *cpu = yt_get(cap, "cpu"), *mem = yt_get(cap, "memory");
    if (cpu) {
        if (k8s_quantity(cpu->value, 1, &v, qerr, sizeof qerr) < 0)
            return yt_fail(&r->c, cpu, "status.capacity.cpu: Invalid value: \"%s\": %s", cpu->value, qerr);
        if (v % 1000 || v < 1000 || v > 64000)
            return yt_fail(&r->c, cpu, "status.capacity.cpu: not supported by the simulator: 1 to 64 whole CPUs");
        r->m->spec.node_cpus = (int)(v / 1000);
        r->m->spec.cfs.cpus = r->m->spec.node_cpus;
    }
    if (mem) {
        if (k8s_quantity(mem->value, 0, &v, qerr, sizeof qerr) < 0)
            return yt_fail(&r->c, mem, "status.capacity.memory: Invalid value: \"%s\": %s", mem->value, qerr);
        r->m->spec.node_memory_bytes = v;
    }
    return 0;
}

static int read_doc(reader *r, const yt_node *doc) {
    if (doc->type != YT_MAP) return yt_fail(&r->c, doc, "document is not a mapping");
    const char *api, *kind;
    if (get_string(r, doc, "apiVersion", "apiVersion", 1, &api) < 0 || get_string(r, doc, "kind", "kind", 1, &kind) < 0)
        return -1;
    static const struct {
        const char *api, *kind;
    } known[] = {{"v1", "Namespace"},
                 {"v1", "Service"},
                 {"apps/v1", "StatefulSet"},
                 {"apps/v1", "Deployment"},
                 {"policy/v1", "PodDisruptionBudget"},
                 {"v1", "Node"}};
    size_t i;
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(kind, known[i].kind)) break;
    if (i == sizeof known / sizeof known[0]) {
        if (!strncmp(api, "chaos-mesh.org/", 15))
            return yt_fail(&r->c, doc, "%s %s belongs in an --experiment file, not in --manifest", api, kind);
        return yt_fail(&r->c, doc,
                       "kind %s (%s): not supported in --manifest (Namespace, Service, StatefulSet, Deployment, "
                       "PodDisruptionBudget, Node)",
                       kind, api);
    }
    if (strcmp(api, known[i].api))
        return yt_fail(&r->c, yt_get(doc, "apiVersion"), "no matches for kind \"%s\" in version \"%s\"", kind, api);
    if (strcmp(kind, "Node")) {
        static const char *const ok[] = {"apiVersion", "kind", "metadata", "spec", NULL};
        if (yt_check_fields(&r->c, doc, "", ok, NULL) < 0) return -1;
    }
    const char *name;
    if (!strcmp(kind, "Namespace")) {
        if (read_metadata(r, doc, &name) < 0) return -1;
        snprintf(r->m->spec.namespace_, sizeof r->m->spec.namespace_, "%s", name);
        if (!r->ns[0]) {
            snprintf(r->ns, sizeof r->ns, "%s", name);
            r->ns_line = doc->line;
        }
        return 0;
    }
    if (!strcmp(kind, "StatefulSet") || !strcmp(kind, "Deployment")) return read_workload(r, doc, kind);
    if (!strcmp(kind, "Service")) return read_service(r, doc);
    if (!strcmp(kind, "Node")) return read_node(r, doc);
    /* PodDisruptionBudget: Chaos Mesh deletes pods with client.Delete, which a PDB does not stop */
    return read_metadata(r, doc, &name);
}

int manifest_load(const char *path, sim_manifest *m, char *err, size_t errlen) {
    manifest_defaults(m);
    snprintf(m->source, sizeof m->source, "%s", path);
    yt_file *f = yt_load_file(path, err, errlen);
    if (!f) return -1;
    reader r;
    memset(&r, 0, sizeof r);
    r.c.file = path;
    r.c.prefix = "";
    r.c.err = err;
    r.c.errlen = errlen;
    r.m = m;
    int rc = 0;
    /* Services last: each must find the workload its selector picks, wherever it sits in the file */
    for (int pass = 0; pass < 2 && rc == 0; pass++)
        for (int i = 0; i < yt_doc_count(f) && rc == 0; i++) {
            const yt_node *doc = yt_doc_at(f, i)->root;
            const yt_node *kind = yt_get(doc, "kind");
            int is_service = kind && kind->value && !strcmp(kind->value, "Service");
            if (is_service == pass) rc = read_doc(&r, doc);
        }
    if (rc == 0) {
        if (r.ns[0]) snprintf(m->spec.namespace_, sizeof m->spec.namespace_, "%s", r.ns);
        for (int s = 0; s < SVC_PEER_COUNT; s++) {
            if (!r.seen_workload[s]) {
                snprintf(err, errlen, "%s: no StatefulSet or Deployment for %s: the simulator needs all three services",
                         path, svc_peer_name((svc_peer)s));
                rc = -1;
                break;
            }
            if (!r.seen_service[s]) {
                snprintf(err, errlen, "%s: no ClusterIP Service selects the %s pods (payment calls it through one)",
                         path, svc_peer_name((svc_peer)s));
                rc = -1;
                break;
            }
        }
    }
    if (rc == 0) {
        static const char *const rk[] = {"PAYMENT_REPLICAS", "INVENTORY_REPLICAS", "NOTIFICATION_REPLICAS"};
        for (int i = 0; i < m->nenv; i++)
            for (int s = 0; s < SVC_PEER_COUNT; s++)
                if (!strcmp(m->env[i].key, rk[s]) && atoi(m->env[i].value) != m->spec.svc[s].replicas) {
                    char a[64], b[64];
                    snprintf(a, sizeof a, "%s=%s", rk[s], m->env[i].value);
                    snprintf(b, sizeof b, "%d", m->spec.svc[s].replicas);
                    note(m,
                         "env %s but the workload has %s replicas: on a cluster the services would hash ownership "
                         "over the wrong count (the simulator uses the replica count)",
                         a, b);
                }
    }
    yt_free(f);
    return rc;
}

static const char *env_lookup(void *ctx, const char *key) {
    const sim_manifest *m = ctx;
    for (int i = 0; i < m->nenv; i++)
        if (!strcmp(m->env[i].key, key)) return m->env[i].value;
    return NULL;
}

int manifest_services_config(const sim_manifest *m, svc_config *cfg, char *err, size_t errlen) {
    char e[256];
    svc_config fresh;
    if (svc_config_load(&fresh, env_lookup, (void *)(uintptr_t)m, e, sizeof e) < 0) {
        snprintf(err, errlen, "%s: env %s", m->source, e);
        return -1;
    }
    svc_config_free(cfg);
    *cfg = fresh;
    return 0;
}
