/*
 * check_tcp.c: the TCP model against the timer facts measured on Linux 6.18 (net/ipv4/tcp_timer.c,
 * tcp_output.c; docs/facts.md). Each case drops chosen packets with a scripted egress hook and compares when things happen.
 * Times are averaged over many seeds, because the jiffy phase (a property of the machine) differs per seed,
 * exactly as the measured values scatter over a few milliseconds.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "base/units.h"
#include "sim/engine/engine.h"
#include "sim/net/net.h"
#include "sim/net/tcp.h"
#include "tests/support/support.h"

typedef struct script {
    int drop_syn;        /* client SYNs to drop */
    int drop_data;       /* client data segments to drop (any transmission) */
    int drop_data_after; /* ... only from this data transmission index on */
    int data_seen;
    int64_t data_times[32]; /* when each client data segment left */
    int ndata;
} script;

static nf_verdict hook(void *ctx, int64_t now, const sim_host *src, sim_addr dst, const sim_packet *p) {
    (void)src;
    (void)dst;
    script *s = ctx;
    nf_verdict v = {NF_PASS, 0, 1, 0};
    if (p->dir == TCP_CLIENT && (p->flags & TCP_F_SYN) && s->drop_syn > 0) {
        s->drop_syn--;
        v.kind = NF_DROP;
    }
    if (p->dir == TCP_CLIENT && p->len > 0) {
        if (s->ndata < 32) s->data_times[s->ndata++] = now;
        int idx = s->data_seen++;
        if (idx >= s->drop_data_after && s->drop_data > 0) {
            s->drop_data--;
            v.kind = NF_DROP;
        }
    }
    return v;
}

typedef struct app {
    int64_t connected_at;
    int64_t response_at[4];
    int responses;
    int requests_to_send;
    tcp_conn *conn;
    int64_t request_sent_at[4];
    sim_engine *e;
} app;

static void send_request(app *a) {
    a->request_sent_at[a->responses] = sim_now(a->e);
    tcp_send(a->conn, TCP_CLIENT, 200, NULL, NULL);
}

static void c_connected(void *ctx, tcp_conn *c) {
    app *a = ctx;
    a->conn = c;
    a->connected_at = sim_now(a->e);
    send_request(a);
}

static void c_message(void *ctx, tcp_conn *c, void *msg) {
    (void)c;
    (void)msg;
    app *a = ctx;
    a->response_at[a->responses++] = sim_now(a->e);
    if (a->responses < a->requests_to_send) send_request(a);
}

static void c_error(void *ctx, tcp_conn *c, tcp_error err) {
    (void)ctx;
    (void)c;
    (void)err;
}

static const tcp_app client_app = {c_connected, c_message, NULL, c_error};

static void s_message(void *ctx, tcp_conn *c, void *msg) {
    (void)ctx;
    (void)msg;
    tcp_send(c, TCP_SERVER, 300, NULL, NULL);
}
static const tcp_app server_app = {NULL, s_message, NULL, NULL};
static void s_accept(void *ctx, tcp_conn *c) {
    (void)ctx;
    tcp_set_app(c, TCP_SERVER, &server_app, NULL);
}

/* Runs one client exchange sequence under a script; returns the app record. */
static app run(uint64_t seed, script *s, int requests, int64_t until) {
    sim_engine *e = sim_engine_new();
    net_config nc;
    net_config_defaults(&nc);
    sim_net *net = net_new(e, seed, &nc);
    tcp_config tc;
    tcp_config_defaults(&tc);
    tcp_attach(net, &tc);
    net_set_egress_hook(net, hook, s);
    sim_host *client = net_add_host(net, "client", SIM_ADDR(10, 0, 0, 1), NULL);
    sim_host *server = net_add_host(net, "server", SIM_ADDR(10, 0, 0, 2), NULL);
    tcp_listen(net, server, 80, s_accept, NULL);
    app a = {.connected_at = -1, .requests_to_send = requests, .e = e};
    tcp_connect(net, client, server->addr, 80, &client_app, &a);
    sim_run_until(e, until);
    net_free(net);
    sim_engine_free(e);
    return a;
}

#define SEEDS 200

/* Half the timer-wheel granularity for a timer of this length (kernel/time/timer.c at HZ=250): the
 * facts' single measured runs can sit anywhere inside one bucket. */
static double wheel_slack(double interval_s) {
    if (interval_s < 0.252) return 0.002;
    if (interval_s < 2.016) return 0.016;
    return 0.128;
}

/* Each timer in a chain is rounded up on its own, so the slack of the i-th event is cumulative. */
static double chain_slack(const double *times, int i) {
    double slack = 0;
    for (int j = 1; j <= i; j++) slack += wheel_slack(times[j] - times[j - 1]);
    return slack;
}

START_TEST(no_loss_is_fast) {
    script s = {0};
    app a = run(1, &s, 1, 1000 * MS);
    ck_assert_int_eq(a.responses, 1);
    ck_assert_int_lt(a.connected_at, 200 * US);
    ck_assert_int_lt(a.response_at[0], 400 * US);
}
END_TEST

/* Facts: connect completion after k lost SYNs: 1.02, 2.04, 3.065, 4.09, 5.11, 7.135 s. */
static const double syn_expected_s[] = {0, 1.02, 2.04, 3.065, 4.09, 5.11, 7.135, 11.2};

START_TEST(lost_syns_follow_linear_schedule) {
    int k = _i;
    double sum = 0, lo = 1e9, hi = 0;
    for (int seed = 1; seed <= SEEDS; seed++) {
        script s = {.drop_syn = k};
        app a = run((uint64_t)seed * 7919, &s, 1, 20000 * MS);
        ck_assert_int_ge(a.connected_at, 0);
        double t = (double)a.connected_at / 1e9;
        sum += t;
        if (t < lo) lo = t;
        if (t > hi) hi = t;
    }
    double mean = sum / SEEDS;
    ck_assert_msg(fabs(mean - syn_expected_s[k]) < 0.03, "k=%d: mean %.4f s, facts %.3f s", k, mean, syn_expected_s[k]);
    /* The spread is the timer wheel's: never early, at most one level-1/2 bucket late. */
    ck_assert_msg(lo >= syn_expected_s[k] - 0.03 && hi <= syn_expected_s[k] + 0.3, "k=%d: range %.3f..%.3f", k, lo, hi);
}
END_TEST

/* Facts: transmissions of a request after connect with netem-like loss: 0, 0.206, 0.410, 0.830, 1.664,
 * 3.30, 6.63 s. */
static const double data_expected_s[] = {0, 0.206, 0.410, 0.830, 1.664, 3.30, 6.63};

START_TEST(lost_request_follows_tlp_then_rto) {
    int k = _i; /* losses of the request */
    double sums[8] = {0};
    for (int seed = 1; seed <= SEEDS; seed++) {
        script s = {.drop_data = k};
        app a = run((uint64_t)seed * 104729, &s, 1, 20000 * MS);
        ck_assert_int_eq(a.responses, 1);
        ck_assert_int_ge(s.ndata, k + 1);
        for (int i = 0; i <= k; i++) sums[i] += (double)(s.data_times[i] - s.data_times[0]) / 1e9;
    }
    for (int i = 1; i <= k; i++) {
        double mean = sums[i] / SEEDS;
        ck_assert_msg(fabs(mean - data_expected_s[i]) < 0.02 + chain_slack(data_expected_s, i),
                      "transmission %d: mean %.4f s, facts %.3f s", i, mean, data_expected_s[i]);
    }
}
END_TEST

/* Facts: on a keep-alive connection right after a request recovered by exactly one retransmission (the
 * probe), the next request gets no probe: 0, 0.206, 0.633, 1.47, 3.13, 6.46 s. */
static const double noprobe_expected_s[] = {0, 0.206, 0.633, 1.47, 3.13, 6.46};

START_TEST(keepalive_after_tlp_gets_no_probe) {
    int k = _i;
    double sums[8] = {0};
    for (int seed = 1; seed <= SEEDS; seed++) {
        /* request 1: first transmission lost (repaired by the probe); request 2: k losses */
        script s = {.drop_data = 1};
        sim_engine *e = sim_engine_new();
        net_config nc;
        net_config_defaults(&nc);
        sim_net *net = net_new(e, (uint64_t)seed * 31337, &nc);
        tcp_config tc;
        tcp_config_defaults(&tc);
        tcp_attach(net, &tc);
        net_set_egress_hook(net, hook, &s);
        sim_host *client = net_add_host(net, "client", SIM_ADDR(10, 0, 0, 1), NULL);
        sim_host *server = net_add_host(net, "server", SIM_ADDR(10, 0, 0, 2), NULL);
        tcp_listen(net, server, 80, s_accept, NULL);
        app a = {.connected_at = -1, .requests_to_send = 1, .e = e};
        tcp_connect(net, client, server->addr, 80, &client_app, &a);
        sim_run_until(e, 2000 * MS);
        ck_assert_int_eq(a.responses, 1);
        int first2 = s.ndata;
        s.drop_data = k;
        s.drop_data_after = s.data_seen;
        a.requests_to_send = 2;
        send_request(&a);
        sim_run_until(e, 30000 * MS);
        ck_assert_int_eq(a.responses, 2);
        for (int i = 0; i <= k; i++) sums[i] += (double)(s.data_times[first2 + i] - s.data_times[first2]) / 1e9;
        net_free(net);
        sim_engine_free(e);
    }
    for (int i = 1; i <= k; i++) {
        double mean = sums[i] / SEEDS;
        ck_assert_msg(fabs(mean - noprobe_expected_s[i]) < 0.02 + chain_slack(noprobe_expected_s, i),
                      "transmission %d: mean %.4f s, facts %.3f s", i, mean, noprobe_expected_s[i]);
    }
}
END_TEST

START_TEST(old_kernel_syn_schedule_doubles) {
    /* Kernels before 6.5: SYNs at 0, 1, 3, 7, 15 s. */
    static const double expected[] = {0, 1.0, 3.0, 7.0, 15.0}; /* nominal; the wheel only adds */
    (void)wheel_slack;
    int k = _i;
    double sum = 0;
    for (int seed = 1; seed <= 50; seed++) {
        script s = {.drop_syn = k};
        sim_engine *e = sim_engine_new();
        net_config nc;
        net_config_defaults(&nc);
        sim_net *net = net_new(e, (uint64_t)seed, &nc);
        tcp_config tc;
        tcp_config_defaults(&tc);
        tc.syn_linear_timeouts = 0;
        tcp_attach(net, &tc);
        net_set_egress_hook(net, hook, &s);
        sim_host *client = net_add_host(net, "client", SIM_ADDR(10, 0, 0, 1), NULL);
        sim_host *server = net_add_host(net, "server", SIM_ADDR(10, 0, 0, 2), NULL);
        tcp_listen(net, server, 80, s_accept, NULL);
        app a = {.connected_at = -1, .requests_to_send = 1, .e = e};
        tcp_connect(net, client, server->addr, 80, &client_app, &a);
        sim_run_until(e, 40000 * MS);
        sum += (double)a.connected_at / 1e9;
        net_free(net);
        sim_engine_free(e);
    }
    double mean = sum / 50;
    ck_assert_msg(mean >= expected[k] && mean <= expected[k] + 0.04 + 2 * chain_slack(expected, k), "k=%d mean %.3f", k,
                  mean);
}
END_TEST

START_TEST(refused_without_listener) {
    sim_engine *e = sim_engine_new();
    net_config nc;
    net_config_defaults(&nc);
    sim_net *net = net_new(e, 1, &nc);
    tcp_config tc;
    tcp_config_defaults(&tc);
    tcp_attach(net, &tc);
    sim_host *client = net_add_host(net, "client", SIM_ADDR(10, 0, 0, 1), NULL);
    sim_host *server = net_add_host(net, "server", SIM_ADDR(10, 0, 0, 2), NULL);
    app a = {.connected_at = -1, .requests_to_send = 1, .e = e};
    tcp_connect(net, client, server->addr, 80, &client_app, &a);
    sim_run_until(e, 1000 * MS);
    ck_assert_int_eq(a.connected_at, -1);
    ck_assert_uint_eq(tcp_get_stats(net)->connect_failures, 1);
    ck_assert_uint_eq(tcp_get_stats(net)->syn_retransmits, 0);
    net_free(net);
    sim_engine_free(e);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("tcp");
    TCase *t = tcase_create("timers");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, no_loss_is_fast);
    tcase_add_loop_test(t, lost_syns_follow_linear_schedule, 1, 7);
    tcase_add_loop_test(t, lost_request_follows_tlp_then_rto, 1, 7);
    tcase_add_loop_test(t, keepalive_after_tlp_gets_no_probe, 1, 6);
    tcase_add_loop_test(t, old_kernel_syn_schedule_doubles, 1, 5);
    tcase_add_test(t, refused_without_listener);
    suite_add_tcase(s, t);
    return s;
}

int main(void) {
    int failed = support_run_suite(suite(), CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
