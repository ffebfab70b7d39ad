/*
 * sim_probe.c (tests): see sim_probe.h.
 */
#include "tests/support/sim_probe.h"

#include <stdlib.h>
#include <string.h>

#include "sim/engine/engine.h"
#include "sim/node/cluster.h"
#include "sim/node/http.h"
#include "sim/run/options.h"

struct sim_probe {
    sim_engine *e;
    sim_cluster *cl;
    sim_host *host;
    sim_http_client *client;
    sim_options o;
};

sim_probe *sim_probe_new(uint64_t seed, int replicas) {
    sim_probe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    sim_options_defaults(&p->o);
    for (int i = 0; i < SVC_PEER_COUNT; i++) p->o.cluster.svc[i].replicas = replicas;
    p->e = sim_engine_new();
    p->cl = cluster_new(p->e, seed, &p->o.cluster, &p->o.services);
    p->host = net_add_host(cluster_net(p->cl), "client", SIM_ADDR(192, 168, 49, 1), NULL);
    sim_http_client_config hc;
    sim_http_client_config_defaults(&hc);
    p->client = sim_http_client_new(cluster_net(p->cl), p->host, &hc);
    return p;
}

void sim_probe_free(sim_probe *p) {
    if (!p) return;
    sim_http_client_free(p->client);
    cluster_free(p->cl);
    sim_engine_free(p->e);
    free(p);
}

typedef struct waiter {
    int done;
    sim_probe_answer *out;
} waiter;

static void answered(void *ctx, const sim_http_result *r) {
    waiter *w = ctx;
    w->done = 1;
    w->out->status = r->outcome == SVC_CALL_OK ? r->status : 0;
    w->out->body = malloc(r->body_len + 1);
    if (w->out->body) {
        if (r->body_len) memcpy(w->out->body, r->body, r->body_len);
        w->out->body[r->body_len] = '\0';
    }
    snprintf(w->out->allow, sizeof w->out->allow, "%s", r->allow ? r->allow : "");
}

int sim_probe_request(sim_probe *p, svc_peer target, const char *method, const char *path, const char *content_type,
                      const char *key, const char *body, size_t body_len, sim_probe_answer *out) {
    memset(out, 0, sizeof *out);
    sim_http_msg *m = sim_http_msg_request(method, path, body, body_len, key, 0, "probe");
    sim_http_msg_set_content_type(m, content_type);
    waiter w = {0, out};
    sim_http_request(p->client, cluster_service_ip(p->cl, target), cluster_service_port(p->cl, target), m,
                     60000000000LL, answered, &w);
    int64_t until = sim_now(p->e) + 61000000000LL;
    while (!w.done && sim_now(p->e) < until) sim_run_until(p->e, sim_now(p->e) + 1000000);
    return w.done ? 0 : -1;
}
