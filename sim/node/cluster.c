/*
 * cluster.c: pods hosting the service modules, Services and endpoints, pod life cycle, memory cgroups
 * (see cluster.h for the model).
 */
#include "sim/node/cluster.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/freelist.h"
#include "base/kinds.h"
#include "base/list.h"
#include "base/rng.h"
#include "base/units.h"
#include "services/modules.h"
#include "sim/net/tcp.h"

#define EPOCH_MS 1767225600000LL /* 2026-01-01T00:00:00Z */
#define JOURNAL_MAX_RECORDS 4000000

typedef struct journal {
    char **records;
    size_t count, cap;
} journal;

struct sim_mem_hog {
    sim_pod *pod;
    int64_t bytes;
    char name[128];
    int alive;
    pc_link link;
};

struct sim_pod {
    sim_cluster *cl;
    int index;
    svc_peer peer;
    int ordinal;
    char name[64];
    char headless_host[160]; /* Host header of a call to this pod by name: <pod>.<workload>-headless:<port> */
    sim_pod_state state;
    int ready;
    int failed; /* pod-failure: image replaced by pause */
    uint32_t incarnation;
    sim_host *host;
    cfs_group *cpu;
    sim_http_server *server;
    sim_http_client *client;
    svc_shell *shell;
    svc_runtime rt;
    pc_rng rng;
    journal *journal; /* the ordinal's volume */
    pc_link work;     /* pod_work items: requests, calls, timers, persists in flight */
    pc_link hogs;
    int restarts;
    sim_event_id lifecycle;
    sim_memory_stats mem;
};

struct sim_cluster {
    sim_engine *e;
    uint64_t seed;
    cluster_spec spec;
    svc_config base;
    sim_net *net;
    nf_layer *faults;
    cfs_node *cpu;
    sim_pod *pods[CLUSTER_MAX_PODS];
    int npods;
    int vip[SVC_PEER_COUNT];
    char vip_host[SVC_PEER_COUNT][96]; /* Host header of a call through a Service: <service>:<port> */
    journal journals[CLUSTER_MAX_PODS];
    uint32_t next_pod_ip;
    int8_t ip_service[65536]; /* 10.244.x.y -> service, -1 unknown */
    sim_cluster_stats stats;
    freelist spare_work; /* pod_work blocks for reuse: one per request, call and timer */
};

void cluster_spec_defaults(cluster_spec *spec) {
    memset(spec, 0, sizeof *spec);
    snprintf(spec->namespace_, sizeof spec->namespace_, "payment-chaos");
    static const char *names[] = {"payment", "inventory", "notification"};
    static const int replicas[] = {3, 2, 2};
    static const int ports[] = {5002, 5003, 5004};
    for (int i = 0; i < SVC_PEER_COUNT; i++) {
        sim_service_spec *s = &spec->svc[i];
        snprintf(s->name, sizeof s->name, "%s-service", names[i]);
        snprintf(s->workload, sizeof s->workload, "%s", names[i]);
        snprintf(s->app_label, sizeof s->app_label, "%s-service", names[i]);
        s->peer = (svc_peer)i;
        s->replicas = replicas[i];
        s->port = ports[i];
        s->cluster_ip = SIM_ADDR(10, 96, 100, 2 + i);
        s->cpu_limit_millis = 200;
        s->cpu_request_millis = 100;
        s->mem_limit_bytes = 128 * MIB;
        s->mem_request_bytes = 64 * MIB;
        s->readiness_delay_ns = 2 * SEC;
        s->readiness_period_ns = 2 * SEC;
        s->start_delay_ns = 1 * SEC;
        s->stateful = 1;
    }
    spec->node_cpus = 2;
    spec->node_memory_bytes = 24LL * 1024 * MIB;
    spec->endpoint_delay_ns = 500 * MS;
    spec->fsync_ns = 1 * MS;
    spec->app_rss_bytes =
        5 * MIB;       /* VmRSS of the services after 30 s of chain load: 3.7-4.8 MiB (docs/calibration.md) */
    spec->threads = 9; /* THREADS=8 libmicrohttpd workers (k8s/deployment.yaml) + libcurl's thread */
    spec->keepalive_downstream = 1;
    tcp_config_defaults(&spec->tcp);
    net_config_defaults(&spec->net);
    cfs_config_defaults(&spec->cfs);
    spec->cfs.cpus = spec->node_cpus;
    /* Calibrated in the lab (lab/calibrate.sh; figures and method in docs/calibration.md): cpuacct
     * CPU time of the real C services per request, per accepted connection, per downstream answer and per
     * new downstream connection, on this 2-vCPU box (kernel 6.18, libmicrohttpd 0.9.75, libcurl 7.88). */
    spec->cost_request_ns[SVC_PAYMENT] = 60 * US;
    spec->cost_request_ns[SVC_INVENTORY] = 75 * US;
    spec->cost_request_ns[SVC_NOTIFICATION] = 75 * US;
    spec->cost_chain_extra_ns = 25 * US;
    spec->cost_completion_ns = 100 * US;
    spec->cost_accept_ns = 125 * US;
    spec->cost_connect_ns = 155 * US;
    spec->cpu_offpath_pct = 20;
    spec->cpu_offpath_conn_pct = 75;
    spec->cost_timer_ns = 5 * US;
    spec->cpu_scale = 1.0;
    spec->stressor_oom_score_adj = 1000;
    /* A memory stressor is a process of its own (~3 MiB in the pod's memory cgroup besides its allocation),
     * and starting it and touching its pages costs the pod's CPU quota: measured twice (lab/probes/
     * run-memcpu.sh, docs/measurements/cfs-stress.md R9), stress-ng --vm took 31-37 ms of the pod's CPU for
     * 20 MB, 119-175 ms for 80 MB and 154-188 ms for 2 x 50 MB, all in the first second; under a 200m quota
     * 124-175 and 185-188 ms: 1.9 ms per MiB (its first pass writes and checks every page, the faults and
     * the zeroing are charged to it) and ~3 ms per worker process. */
    spec->stressor_rss_bytes = 3 * MIB;
    spec->mem_touch_ns_per_mib = 1900 * US;
    spec->stressor_start_ns = 3 * MS;
}

sim_net *cluster_net(sim_cluster *c) { return c->net; }
nf_layer *cluster_faults(sim_cluster *c) { return c->faults; }
cfs_node *cluster_cpu(sim_cluster *c) { return c->cpu; }
const cluster_spec *cluster_get_spec(const sim_cluster *c) { return &c->spec; }
sim_engine *cluster_engine(sim_cluster *c) { return c->e; }
uint64_t cluster_seed(const sim_cluster *c) { return c->seed; }
int cluster_pod_count(const sim_cluster *c) { return c->npods; }
sim_pod *cluster_pod(sim_cluster *c, int i) { return i >= 0 && i < c->npods ? c->pods[i] : NULL; }
const sim_cluster_stats *cluster_get_stats(const sim_cluster *c) { return &c->stats; }
const char *pod_name(const sim_pod *p) { return p->name; }
svc_peer pod_service(const sim_pod *p) { return p->peer; }
int pod_ordinal(const sim_pod *p) { return p->ordinal; }
sim_pod_state pod_get_state(const sim_pod *p) { return p->state; }
int pod_ready(const sim_pod *p) { return p->ready; }
sim_host *pod_host(sim_pod *p) { return p->host; }
cfs_group *pod_cpu(sim_pod *p) { return p->cpu; }
static void oom_check(sim_cluster *c, sim_pod *p);

svc_shell *pod_shell(sim_pod *p) { return p->state == POD_RUNNING ? p->shell : NULL; }
int pod_restarts(const sim_pod *p) { return p->restarts; }
int64_t pod_memory_limit(const sim_pod *p) { return p->cl->spec.svc[p->peer].mem_limit_bytes; }
const sim_memory_stats *pod_memory_stats(const sim_pod *p) { return &p->mem; }
sim_addr cluster_service_ip(const sim_cluster *c, svc_peer peer) { return c->spec.svc[peer].cluster_ip; }
int cluster_service_port(const sim_cluster *c, svc_peer peer) { return c->spec.svc[peer].port; }

sim_pod *cluster_pod_by_name(sim_cluster *c, const char *name) {
    for (int i = 0; i < c->npods; i++)
        if (!strcmp(c->pods[i]->name, name)) return c->pods[i];
    return NULL;
}

int cluster_pods_of(sim_cluster *c, svc_peer peer, sim_pod **out, int max) {
    int n = 0;
    for (int i = 0; i < c->npods && n < max; i++)
        if (c->pods[i]->peer == peer) out[n++] = c->pods[i];
    return n;
}

/* ---- work in flight inside a pod ---- */

typedef enum work_kind { W_REQUEST, W_CALL, W_TIMER, W_PERSIST } work_kind;

typedef struct pod_work {
    pc_link link;
    sim_pod *pod;
    work_kind kind;
    sim_event_id event;
    /* request */
    sim_http_pending *pending;
    svc_request req;
    char *path, *query; /* path is path_room when it fits */
    char path_room[64];
    /* call / timer / persist */
    svc_call_done_fn call_done;
    svc_timer_fn fire;
    svc_persist_done_fn persist_done;
    void *ctx;
    svc_call_result result;
    char *body;
    char *record;
    int64_t post_ns; /* CPU still to be charged once the result is handed on (cpu_offpath_pct) */
    int lane;        /* the thread that does this work (cfs lanes: server threads, then the client thread) */
} pod_work;

static pod_work *work_new(sim_pod *p, work_kind kind) {
    pod_work *w = freelist_take(&p->cl->spare_work);
    w->pod = p;
    w->kind = kind;
    pc_list_push(&p->work, &w->link);
    return w;
}

static void work_free(pod_work *w) {
    pc_list_remove(&w->link);
    sim_cancel(w->pod->cl->e, &w->event);
    if (w->path != w->path_room) free(w->path);
    free(w->query);
    free(w->body);
    free(w->record);
    freelist_give(&w->pod->cl->spare_work, w);
}

/* ---- runtime ops ---- */

static int64_t rt_now(void *self) { return sim_now(((sim_pod *)self)->cl->e); }
static int64_t rt_unix_ms(void *self) { return EPOCH_MS + sim_now(((sim_pod *)self)->cl->e) / MS; }
static uint64_t rt_random(void *self) { return pc_rng_u64(&((sim_pod *)self)->rng); }

static void rt_log(void *self, const char *line) {
    (void)line;
    ((sim_pod *)self)->cl->stats.log_lines++;
}

static void cpu_noop(void *arg) { (void)arg; }

/* The measured CPU of a piece of work, split: the part before its result is handed on delays it; the rest
 * (cpu_offpath_pct) runs right after on the same pod (it takes quota and delays later work, not this). */
static int64_t cpu_split(const sim_cluster *c, int64_t work_ns, int64_t conn_ns, int64_t *post_ns) {
    *post_ns = work_ns * c->spec.cpu_offpath_pct / 100 + conn_ns * c->spec.cpu_offpath_conn_pct / 100;
    return work_ns + conn_ns - *post_ns;
}

static void cpu_post(sim_pod *p, int lane, int64_t post_ns) {
    if (post_ns > 0) cfs_work_lane(p->cpu, lane, post_ns, cpu_noop, NULL);
}

/* The runtime's client thread (libcurl's loop, timers, journal completions) is the last lane. */
static int client_lane(sim_pod *p) { return cfs_group_lanes(p->cpu) - 1; }

static void call_run(void *arg) {
    pod_work *w = arg;
    cpu_post(w->pod, w->lane, w->post_ns);
    svc_call_done_fn done = w->call_done;
    void *ctx = w->ctx;
    svc_call_result r = w->result;
    char *body = w->body;
    w->body = NULL;
    r.body = body;
    work_free(w);
    done(ctx, &r);
    free(body);
}

static void call_answered(void *arg, const sim_http_result *r) {
    pod_work *w = arg;
    sim_pod *p = w->pod;
    w->result.outcome = r->outcome;
    w->result.status = r->status;
    w->result.body_len = r->body_len;
    w->result.elapsed_ns = r->elapsed_ns;
    if (r->body) {
        w->body = malloc(r->body_len + 1);
        if (!w->body) abort();
        memcpy(w->body, r->body, r->body_len);
        w->body[r->body_len] = '\0';
    }
    /* libcurl hands the answer to the client thread, which needs CPU to run the continuation; a call that
     * needed a new connection also paid for opening and closing it (socket, connect, close: measured
     * separately in the lab, docs/calibration.md). */
    int64_t conn = r->reused ? 0 : p->cl->spec.cost_connect_ns;
    w->lane = client_lane(p);
    cfs_work_lane(p->cpu, w->lane, cpu_split(p->cl, p->cl->spec.cost_completion_ns, conn, &w->post_ns), call_run, w);
}

static sim_pod *replica_pod(sim_cluster *c, svc_peer peer, int ordinal) {
    for (int i = 0; i < c->npods; i++)
        if (c->pods[i]->peer == peer && c->pods[i]->ordinal == ordinal) return c->pods[i];
    return NULL;
}

static void rt_call(void *self, const svc_call *call, svc_call_done_fn done, void *ctx) {
    sim_pod *p = self;
    sim_cluster *c = p->cl;
    pod_work *w = work_new(p, W_CALL);
    w->call_done = done;
    w->ctx = ctx;
    const sim_service_spec *target = &c->spec.svc[call->peer];
    sim_addr addr;
    const char *host_header;
    if (call->replica < 0) {
        addr = target->cluster_ip;
        host_header = c->vip_host[call->peer];
    } else {
        sim_pod *t = replica_pod(c, call->peer, call->replica);
        if (!t || t->state == POD_DEAD) {
            /* the headless Service publishes not-ready pods (k8s/deployment.yaml), but a deleted pod has no
             * record until its replacement exists: curl 6, "could not resolve" */
            sim_http_fail_async(p->client, SVC_CALL_REFUSED, call_answered, w);
            return;
        }
        addr = t->host->addr;
        host_header = t->headless_host;
    }
    sim_http_msg *m = sim_http_msg_request(call->method, call->path, call->body, call->body_len, call->idempotency_key,
                                           call->forwarded, host_header);
    sim_http_request(p->client, addr, target->port, m, call->timeout_ns, call_answered, w);
}

static void timer_run(void *arg) {
    pod_work *w = arg;
    svc_timer_fn fire = w->fire;
    void *ctx = w->ctx;
    work_free(w);
    fire(ctx);
}

static void timer_due(sim_engine *e, void *arg, uint64_t a) {
    (void)e;
    (void)a;
    pod_work *w = arg;
    w->event = SIM_NO_EVENT;
    cfs_work_lane(w->pod->cpu, client_lane(w->pod), w->pod->cl->spec.cost_timer_ns, timer_run, w);
}

static void rt_timer(void *self, int64_t delay_ns, svc_timer_fn fire, void *ctx) {
    sim_pod *p = self;
    pod_work *w = work_new(p, W_TIMER);
    w->fire = fire;
    w->ctx = ctx;
    w->event = sim_after(p->cl->e, delay_ns, SIM_K_SVC_TIMER, (uint64_t)p->index, timer_due, w, 0);
}

static void journal_append(journal *j, const char *rec) {
    if (j->count == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 256;
        j->records = realloc(j->records, j->cap * sizeof *j->records);
        if (!j->records) abort();
    }
    j->records[j->count++] = strdup(rec);
    if (!j->records[j->count - 1]) abort();
}

static void persist_run(void *arg) {
    pod_work *w = arg;
    svc_persist_done_fn done = w->persist_done;
    void *ctx = w->ctx;
    work_free(w);
    done(ctx, 0);
}

static void persist_due(sim_engine *e, void *arg, uint64_t a) {
    (void)e;
    (void)a;
    pod_work *w = arg;
    sim_pod *p = w->pod;
    w->event = SIM_NO_EVENT;
    if (w->record) {
        if (p->journal->count >= JOURNAL_MAX_RECORDS) {
            /* the volume is full: the write fails and the service answers 503 */
            svc_persist_done_fn done = w->persist_done;
            void *ctx = w->ctx;
            work_free(w);
            done(ctx, 28 /* ENOSPC */);
            return;
        }
        journal_append(p->journal, w->record); /* durable from here on */
        p->cl->stats.journal_records++;
    }
    cfs_work_lane(p->cpu, client_lane(p), p->cl->spec.cost_timer_ns, persist_run, w);
}

static void rt_persist(void *self, const char *record, size_t len, svc_persist_done_fn done, void *ctx) {
    sim_pod *p = self;
    pod_work *w = work_new(p, W_PERSIST);
    w->persist_done = done;
    w->ctx = ctx;
    if (record) {
        w->record = malloc(len + 1);
        if (!w->record) abort();
        memcpy(w->record, record, len);
        w->record[len] = '\0';
    }
    w->event = sim_after(p->cl->e, p->cl->spec.fsync_ns, SIM_K_PERSIST, (uint64_t)p->index, persist_due, w, 0);
}

static const svc_runtime_ops pod_ops = {rt_now, rt_unix_ms, rt_random, NULL, rt_call, rt_timer, rt_persist, rt_log};

/* ---- requests ---- */

static void request_reply(void *arg, svc_response *resp) {
    pod_work *w = arg;
    sim_pod *p = w->pod;
    /* A HEAD answer carries the headers only (libmicrohttpd drops the body on the wire) */
    int head = w->req.method[0] == 'H' && !strcmp(w->req.method, "HEAD");
    sim_http_msg *m =
        sim_http_msg_response(resp->status, resp->body, head ? 0 : resp->body_len, resp->content_type, resp->allow);
    free(resp->body);
    sim_http_pending *pending = w->pending;
    work_free(w);
    sim_http_server_reply(p->server, pending, m);
}

static void request_run(void *arg) {
    pod_work *w = arg;
    sim_pod *p = w->pod;
    cpu_post(p, w->lane, w->post_ns);
    w->post_ns = 0;
    svc_shell_handle(p->shell, &w->req, request_reply, w);
}

static int64_t request_cost(const sim_cluster *c, svc_peer peer, const char *path) {
    int64_t cost = c->spec.cost_request_ns[peer];
    if (peer == SVC_PAYMENT && (!strcmp(path, "/payment/chain") || !strcmp(path, "/payment/process")))
        cost += c->spec.cost_chain_extra_ns;
    return cost;
}

static void on_request(void *ctx, sim_http_pending *pending, const sim_http_msg *req) {
    sim_pod *p = ctx;
    pod_work *w = work_new(p, W_REQUEST);
    w->pending = pending;
    const char *q = strchr(req->path, '?');
    size_t plen = q ? (size_t)(q - req->path) : strlen(req->path);
    w->path = plen < sizeof w->path_room ? w->path_room : malloc(plen + 1);
    if (!w->path) abort();
    memcpy(w->path, req->path, plen);
    w->path[plen] = '\0';
    if (q) w->query = strdup(q + 1);
    w->req.method = req->method;
    w->req.path = w->path;
    w->req.query = w->query;
    w->req.content_type = req->content_type;
    w->req.idempotency_key = req->idempotency_key;
    w->req.forwarded = req->forwarded;
    w->req.body = req->body;
    w->req.body_len = req->body_len > SVC_BODY_MAX_BYTES ? SVC_BODY_MAX_BYTES : req->body_len;
    w->req.body_too_large = req->body_len > SVC_BODY_MAX_BYTES;
    /* the first request of a connection also pays for accepting it (and, later, closing it) */
    int64_t conn = sim_http_pending_first(pending) ? p->cl->spec.cost_accept_ns : 0;
    /* the kernel hands each connection to one of the server threads (each listens on the port with
     * SO_REUSEPORT, services/http/server.c); the model draws the thread per request */
    w->lane = cfs_random_server_lane(p->cpu);
    cfs_work_lane(p->cpu, w->lane, cpu_split(p->cl, request_cost(p->cl, p->peer, w->path), conn, &w->post_ns),
                  request_run, w);
}

/* ---- endpoints ---- */

static void endpoints_sync(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    sim_cluster *c = ctx;
    svc_peer peer = (svc_peer)arg;
    uint32_t hosts[CLUSTER_MAX_PODS];
    int n = 0;
    for (int i = 0; i < c->npods; i++)
        if (c->pods[i]->peer == peer && c->pods[i]->ready) hosts[n++] = c->pods[i]->host->id;
    net_vip_set_backends(c->net, c->vip[peer], hosts, n);
}

static void endpoints_changed(sim_cluster *c, svc_peer peer) {
    sim_after(c->e, c->spec.endpoint_delay_ns, SIM_K_ENDPOINTS, (uint64_t)peer, endpoints_sync, c, (uint64_t)peer);
}

/* ---- life cycle ---- */

static const char *cfg_lookup(void *ctx, const char *key) {
    (void)ctx;
    (void)key;
    return NULL;
}

static sim_addr next_ip(sim_cluster *c, svc_peer owner) {
    /* pod CIDR 10.244.0.0/16, handed out in order like a node's IPAM */
    uint32_t n = c->next_pod_ip++ & 0xffff;
    c->ip_service[n] = (int8_t)owner;
    return SIM_ADDR(10, 244, (n >> 8) & 255, n & 255);
}

int cluster_addr_service(const sim_cluster *c, sim_addr a, int *is_service_ip) {
    *is_service_ip = 0;
    for (int i = 0; i < SVC_PEER_COUNT; i++)
        if (c->spec.svc[i].cluster_ip == a) {
            *is_service_ip = 1;
            return i;
        }
    if ((a >> 16) == ((10u << 8) | 244u)) return c->ip_service[a & 0xffff];
    return -1;
}

static void set_ready(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    sim_pod *p = ctx;
    p->lifecycle = SIM_NO_EVENT;
    if (p->state != POD_RUNNING || p->incarnation != (uint32_t)arg || p->failed) return;
    p->ready = 1;
    endpoints_changed(p->cl, p->peer);
}

static void start_process(sim_engine *e, void *ctx, uint64_t arg);

static int64_t app_badness(const sim_pod *p);

static void pod_boot(sim_pod *p, int ready_now) {
    sim_cluster *c = p->cl;
    svc_config cfg = c->base;
    cfg.replica = p->ordinal;
    for (int i = 0; i < SVC_PEER_COUNT; i++) cfg.replicas[i] = c->spec.svc[i].replicas;
    if (!c->spec.service_logs) cfg.log_level = SVC_LOG_OFF; /* nobody reads them in a simulation */
    char err[256];
    p->rt.ops = &pod_ops;
    p->rt.self = p;
    p->shell = svc_shell_create(svc_module_by_name(svc_peer_name(p->peer)), &cfg, p->rt, err, sizeof err);
    if (!p->shell) {
        fprintf(stderr, "sim: %s cannot start: %s\n", p->name, err);
        abort();
    }
    for (size_t i = 0; i < p->journal->count; i++) {
        if (svc_shell_replay(p->shell, p->journal->records[i], strlen(p->journal->records[i]), err, sizeof err) < 0) {
            fprintf(stderr, "sim: %s journal replay: %s\n", p->name, err);
            abort();
        }
    }
    svc_shell_start(p->shell);
    p->state = POD_RUNNING;
    oom_check(c, p); /* the service's own memory now counts (and shows in the peak) */
    p->server = sim_http_server_new(c->net, p->host, c->spec.svc[p->peer].port, 120 * SEC, on_request, p);
    if (ready_now) {
        p->ready = 1;
    } else {
        p->lifecycle = sim_after(c->e, c->spec.svc[p->peer].readiness_delay_ns, SIM_K_POD, (uint64_t)p->index,
                                 set_ready, p, p->incarnation);
    }
}

static void start_process(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    (void)arg;
    sim_pod *p = ctx;
    p->lifecycle = SIM_NO_EVENT;
    if (p->state != POD_STARTING) return;
    pod_boot(p, 0);
}

static sim_pod *pod_new(sim_cluster *c, svc_peer peer, int ordinal) {
    sim_pod *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->cl = c;
    p->index = c->npods;
    p->peer = peer;
    p->ordinal = ordinal;
    snprintf(p->name, sizeof p->name, "%s-%d", c->spec.svc[peer].workload, ordinal);
    snprintf(p->headless_host, sizeof p->headless_host, "%s.%s-headless:%d", p->name, c->spec.svc[peer].workload,
             c->spec.svc[peer].port);
    pc_list_init(&p->work);
    pc_list_init(&p->hogs);
    p->journal = &c->journals[c->npods];
    char stream[96];
    snprintf(stream, sizeof stream, "pod/%s", p->name);
    pc_rng_init(&p->rng, c->seed, stream);
    p->host = net_add_host(c->net, p->name, next_ip(c, peer), p);
    const sim_service_spec *s = &c->spec.svc[peer];
    p->cpu = cfs_group_new(c->cpu, p->name, s->cpu_limit_millis * MS / 10, 100 * MS, c->spec.threads);
    sim_http_client_config hc;
    sim_http_client_config_defaults(&hc);
    hc.keepalive = c->spec.keepalive_downstream;
    p->client = sim_http_client_new(c->net, p->host, &hc);
    c->pods[c->npods++] = p;
    return p;
}

/* Tears the process down: no callback of the old incarnation may run afterwards. Its sockets are closed
 * as the kernel closes a dead process's, unless the whole run ends (run_ends): then the network is freed
 * with every connection, and nothing would receive the FINs. */
static void pod_teardown(sim_pod *p, int run_ends) {
    sim_cluster *c = p->cl;
    p->incarnation++;
    sim_cancel(c->e, &p->lifecycle);
    cfs_group_kill_work(p->cpu);
    sim_http_client_abort_all(p->client);
    if (p->server) {
        sim_http_server_abort_all(p->server);
        sim_http_server_free(p->server);
        p->server = NULL;
    }
    tcp_listen(c->net, p->host, 0, NULL, NULL);
    if (!run_ends) tcp_host_crash(c->net, p->host);
    while (!pc_list_empty(&p->work)) work_free(PC_CONTAINER_OF(p->work.next, pod_work, link));
    svc_shell_destroy(p->shell);
    p->shell = NULL;
}

static void recreate(sim_engine *e, void *ctx, uint64_t arg) {
    (void)e;
    sim_pod *p = ctx;
    sim_cluster *c = p->cl;
    p->lifecycle = SIM_NO_EVENT;
    if (p->state != POD_DEAD) return;
    if (arg)
        net_host_up(c->net, p->host, next_ip(c, p->peer)); /* a new pod: new IP */
    else
        net_host_up(c->net, p->host, p->host->addr); /* a restarted container keeps the pod IP */
    p->state = POD_STARTING;
    p->restarts++;
    c->stats.pod_restarts++;
    p->lifecycle =
        sim_after(c->e, c->spec.svc[p->peer].start_delay_ns, SIM_K_POD, (uint64_t)p->index, start_process, p, 0);
}

static void kill_process(sim_cluster *c, sim_pod *p, int64_t restart_delay_ns, int new_pod) {
    if (p->state == POD_DEAD) return;
    int was_ready = p->ready;
    if (p->state == POD_RUNNING)
        pod_teardown(p, 0);
    else
        sim_cancel(c->e, &p->lifecycle);
    p->state = POD_DEAD;
    p->ready = 0;
    if (new_pod) {
        net_host_down(c->net, p->host);
    } else {
        /* container restart: the network namespace stays, nobody listens on the port meanwhile */
        tcp_listen(c->net, p->host, 0, NULL, NULL);
    }
    if (was_ready) endpoints_changed(c, p->peer);
    if (restart_delay_ns >= 0)
        p->lifecycle = sim_after(c->e, restart_delay_ns, SIM_K_POD, (uint64_t)p->index, recreate, p, (uint64_t)new_pod);
}

void cluster_kill_pod(sim_cluster *c, sim_pod *p, int64_t restart_delay_ns, const char *why) {
    (void)why;
    c->stats.pod_kills++;
    /* a deleted pod releases its memory: stressors inside die with it */
    for (pc_link *l = p->hogs.next; l != &p->hogs; l = l->next) PC_CONTAINER_OF(l, sim_mem_hog, link)->alive = 0;
    kill_process(c, p, restart_delay_ns, 1);
}

void cluster_kill_container(sim_cluster *c, sim_pod *p, int64_t restart_delay_ns) {
    c->stats.pod_kills++;
    kill_process(c, p, restart_delay_ns, 0);
}

void cluster_fail_pod(sim_cluster *c, sim_pod *p) {
    p->failed = 1;
    kill_process(c, p, -1, 0);
    net_host_up(c->net, p->host, p->host->addr); /* pause container: the sandbox (and IP) stays */
    tcp_listen(c->net, p->host, 0, NULL, NULL);
}

void cluster_recover_pod(sim_cluster *c, sim_pod *p) {
    if (!p->failed) return;
    p->failed = 0;
    p->state = POD_STARTING;
    p->restarts++;
    c->stats.pod_restarts++;
    p->lifecycle =
        sim_after(c->e, c->spec.svc[p->peer].start_delay_ns, SIM_K_POD, (uint64_t)p->index, start_process, p, 0);
}

/* ---- memory cgroups and the OOM killer ---- */

static int64_t usage(const sim_pod *p) {
    int64_t u = p->state == POD_RUNNING || p->state == POD_STARTING ? p->cl->spec.app_rss_bytes : 0;
    for (pc_link *l = p->hogs.next; l != &p->hogs; l = l->next) {
        sim_mem_hog *h = PC_CONTAINER_OF(l, sim_mem_hog, link);
        if (h->alive) u += h->bytes;
    }
    return u;
}

/* oom_badness(): RSS plus oom_score_adj thousandths of the cgroup limit. */
static int64_t app_badness(const sim_pod *p) {
    const cluster_spec *s = &p->cl->spec;
    const sim_service_spec *svc = &s->svc[p->peer];
    /* kubelet, Burstable QoS: 1000 - 1000 * memory request / node memory, within [2, 999] */
    int64_t adj = 1000 - 1000 * svc->mem_request_bytes / s->node_memory_bytes;
    if (adj < 2) adj = 2;
    if (adj > 999) adj = 999;
    return s->app_rss_bytes + adj * svc->mem_limit_bytes / 1000;
}

static void oom_check(sim_cluster *c, sim_pod *p) {
    int64_t limit = pod_memory_limit(p);
    int64_t u = usage(p);
    if (u > p->mem.peak_usage_bytes) p->mem.peak_usage_bytes = u;
    while ((u = usage(p)) > limit) {
        sim_mem_hog *victim = NULL;
        int64_t worst = p->state == POD_DEAD ? -1 : app_badness(p);
        for (pc_link *l = p->hogs.next; l != &p->hogs; l = l->next) {
            sim_mem_hog *h = PC_CONTAINER_OF(l, sim_mem_hog, link);
            if (!h->alive) continue;
            int64_t b = h->bytes + c->spec.stressor_oom_score_adj * limit / 1000;
            if (b > worst) {
                worst = b;
                victim = h;
            }
        }
        if (victim) {
            victim->alive = 0;
            p->mem.oom_kills_stressor++;
        } else if (p->state != POD_DEAD) {
            p->mem.oom_kills_app++;
            /* the container is restarted by the kubelet; the pod (and its IP) stays */
            kill_process(c, p, 1 * SEC + (int64_t)p->restarts * 10 * SEC, 0);
        } else {
            break;
        }
    }
}

sim_mem_hog *cluster_mem_hog(sim_cluster *c, sim_pod *p, int64_t bytes, const char *name) {
    sim_mem_hog *h = calloc(1, sizeof *h);
    if (!h) abort();
    h->pod = p;
    h->bytes = bytes + c->spec.stressor_rss_bytes;
    h->alive = 1;
    cfs_burst(p->cpu, c->spec.stressor_start_ns + bytes / MIB * c->spec.mem_touch_ns_per_mib);
    snprintf(h->name, sizeof h->name, "%s", name);
    pc_list_push(&p->hogs, &h->link);
    oom_check(c, p);
    return h;
}

int mem_hog_alive(const sim_mem_hog *h) { return h->alive; }

void cluster_mem_hog_free(sim_cluster *c, sim_mem_hog *h) {
    (void)c;
    if (!h) return;
    pc_list_remove(&h->link);
    free(h);
}

/* ---- the cluster ---- */

/* Another machine runs the same code faster or slower: every piece of work by the same factor. */
static void scale_costs(cluster_spec *s, double k) {
    if (k == 1.0) return;
    for (int i = 0; i < SVC_PEER_COUNT; i++) s->cost_request_ns[i] = llround((double)s->cost_request_ns[i] * k);
    s->cost_chain_extra_ns = llround((double)s->cost_chain_extra_ns * k);
    s->cost_completion_ns = llround((double)s->cost_completion_ns * k);
    s->cost_accept_ns = llround((double)s->cost_accept_ns * k);
    s->cost_connect_ns = llround((double)s->cost_connect_ns * k);
    s->cost_timer_ns = llround((double)s->cost_timer_ns * k);
    s->mem_touch_ns_per_mib = llround((double)s->mem_touch_ns_per_mib * k);
    s->stressor_start_ns = llround((double)s->stressor_start_ns * k);
}

/* The wire's hooks, answered by the fault layer (faults/netfault.h sees hosts by index and addresses as
 * numbers, nothing of the wire). */
_Static_assert(SIM_MAX_HOSTS <= NF_MAX_HOSTS, "the fault layer indexes every host");

static nf_verdict fault_egress(void *ctx, int64_t now_ns, const sim_host *src, sim_addr dst, const sim_packet *p) {
    nf_packet q = {.src_host = src->id, .src_addr = src->addr, .dst_addr = dst, .len = p->len};
    return nf_egress(ctx, now_ns, &q);
}

static int fault_ingress(void *ctx, int64_t now_ns, const sim_host *src, const sim_host *dst, const sim_packet *p) {
    nf_packet q = {.src_host = src->id, .src_addr = src->addr, .dst_addr = p->dst_addr, .len = p->len};
    return nf_ingress(ctx, now_ns, &q, dst->id);
}

sim_cluster *cluster_new(sim_engine *e, uint64_t seed, const cluster_spec *spec, const svc_config *base_cfg) {
    sim_cluster *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->e = e;
    c->spare_work = FREELIST_INIT(pod_work);
    c->seed = seed;
    c->spec = *spec;
    c->spec.cfs.cpus = spec->node_cpus;
    scale_costs(&c->spec, spec->cpu_scale);
    if (base_cfg)
        c->base = *base_cfg;
    else
        svc_config_load(&c->base, cfg_lookup, NULL, NULL, 0);
    c->base.catalogue_json = NULL; /* shells copy their own; the cluster does not own one */
    if (base_cfg && base_cfg->catalogue_json) c->base.catalogue_json = base_cfg->catalogue_json;
    c->net = net_new(e, seed, &c->spec.net);
    tcp_attach(c->net, &c->spec.tcp);
    c->faults = nf_new(seed);
    net_set_egress_hook(c->net, fault_egress, c->faults);
    net_set_ingress_hook(c->net, fault_ingress, c->faults);
    c->cpu = cfs_node_new(e, &c->spec.cfs, seed);
    c->next_pod_ip = 10;
    memset(c->ip_service, -1, sizeof c->ip_service);
    for (int s = 0; s < SVC_PEER_COUNT; s++) {
        const sim_service_spec *ss = &c->spec.svc[s];
        c->vip[s] = net_add_vip(c->net, ss->name, ss->cluster_ip, ss->port);
        snprintf(c->vip_host[s], sizeof c->vip_host[s], "%s:%d", ss->name, ss->port);
        for (int k = 0; k < ss->replicas; k++) {
            sim_pod *p = pod_new(c, (svc_peer)s, k);
            pod_boot(p, 1);
        }
    }
    for (int s = 0; s < SVC_PEER_COUNT; s++) endpoints_sync(e, c, (uint64_t)s);
    return c;
}

void cluster_free(sim_cluster *c) {
    if (!c) return;
    for (int i = 0; i < c->npods; i++) {
        sim_pod *p = c->pods[i];
        if (p->state == POD_RUNNING) pod_teardown(p, 1);
        while (!pc_list_empty(&p->work)) work_free(PC_CONTAINER_OF(p->work.next, pod_work, link));
        while (!pc_list_empty(&p->hogs)) {
            sim_mem_hog *h = PC_CONTAINER_OF(p->hogs.next, sim_mem_hog, link);
            pc_list_remove(&h->link);
            free(h);
        }
        sim_http_client_free(p->client);
        free(p);
    }
    for (int i = 0; i < CLUSTER_MAX_PODS; i++) {
        for (size_t k = 0; k < c->journals[i].count; k++) free(c->journals[i].records[k]);
        free(c->journals[i].records);
    }
    nf_free(c->faults);
    cfs_node_free(c->cpu);
    net_free(c->net);
    freelist_clear(&c->spare_work);
    free(c);
}

int cluster_quiet(sim_cluster *c) {
    for (int i = 0; i < c->npods; i++) {
        sim_pod *p = c->pods[i];
        /* a pod that is restarting still owes its state to the checks: not quiet until it is back */
        if (p->state != POD_RUNNING && !p->failed) return 0;
        if (p->state != POD_RUNNING) continue;
        if (svc_shell_inflight(p->shell) || svc_shell_background(p->shell) || sim_http_client_inflight(p->client))
            return 0;
    }
    return 1;
}
