/*
 * check_manifest.c: k8s/deployment.yaml as the simulator reads it. The manifest and the built-in cluster
 * (cluster_spec_defaults) must describe the same system, fact by fact, so a run with --manifest and a run
 * without it are the same run; and what the manifest cannot express in the simulator is an error with a line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/units.h"
#include "services/core/config.h"
#include "sim/input/goparse.h"
#include "sim/input/manifest.h"
#include "sim/node/cluster.h"
#include "tests/support/support.h"

#define MANIFEST "k8s/deployment.yaml"

static sim_manifest *load(void) {
    sim_manifest *m = malloc(sizeof *m);
    char err[512];
    int rc = manifest_load(MANIFEST, m, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    return m;
}

START_TEST(deployment_facts) {
    sim_manifest *m = load();
    const cluster_spec *s = &m->spec;
    static const int replicas[] = {3, 2, 2}, ports[] = {5002, 5003, 5004};
    static const char *const app[] = {"payment-service", "inventory-service", "notification-service"};
    ck_assert_str_eq(s->namespace_, "payment-chaos");
    for (int i = 0; i < SVC_PEER_COUNT; i++) {
        const sim_service_spec *v = &s->svc[i];
        ck_assert_int_eq(v->replicas, replicas[i]);
        ck_assert_int_eq(v->port, ports[i]);
        ck_assert_int_eq(v->cpu_limit_millis, 200);
        ck_assert_int_eq(v->cpu_request_millis, 100);
        ck_assert_int_eq(v->mem_limit_bytes, 128 * MIB);
        ck_assert_int_eq(v->mem_request_bytes, 64 * MIB);
        ck_assert_str_eq(v->app_label, app[i]);
        ck_assert_str_eq(manifest_label_of(m, (svc_peer)i, "app"), app[i]);
        ck_assert_str_eq(v->name, app[i]); /* the ClusterIP Service is named like the app label */
        ck_assert_uint_eq(v->cluster_ip, SIM_ADDR(10, 96, 100, 2 + i));
        ck_assert_int_eq(v->stateful, 1);
        ck_assert_str_eq(m->svc[i].container, svc_peer_name((svc_peer)i));
        ck_assert(m->svc[i].headless[0]);
        /* readiness: periodSeconds 2, no initial delay: the first probe that can pass is 2 s after start */
        ck_assert_int_eq(v->readiness_delay_ns, 2 * SEC);
        ck_assert_int_eq(v->readiness_period_ns, 2 * SEC);
    }
    free(m);
}
END_TEST

/* The whole cluster_spec the runs use: the manifest's must be the built-in one, field by field. */
START_TEST(manifest_equals_defaults) {
    sim_manifest *m = load();
    cluster_spec d;
    cluster_spec_defaults(&d);
    const cluster_spec *s = &m->spec;
    ck_assert_str_eq(s->namespace_, d.namespace_);
    for (int i = 0; i < SVC_PEER_COUNT; i++) {
        const sim_service_spec *a = &s->svc[i], *b = &d.svc[i];
        ck_assert_str_eq(a->name, b->name);
        ck_assert_str_eq(a->workload, b->workload);
        ck_assert_str_eq(a->app_label, b->app_label);
        ck_assert_int_eq(a->peer, b->peer);
        ck_assert_int_eq(a->replicas, b->replicas);
        ck_assert_int_eq(a->port, b->port);
        ck_assert_uint_eq(a->cluster_ip, b->cluster_ip);
        ck_assert_int_eq(a->cpu_limit_millis, b->cpu_limit_millis);
        ck_assert_int_eq(a->cpu_request_millis, b->cpu_request_millis);
        ck_assert_int_eq(a->mem_limit_bytes, b->mem_limit_bytes);
        ck_assert_int_eq(a->mem_request_bytes, b->mem_request_bytes);
        ck_assert_int_eq(a->readiness_delay_ns, b->readiness_delay_ns);
        ck_assert_int_eq(a->readiness_period_ns, b->readiness_period_ns);
        ck_assert_int_eq(a->start_delay_ns, b->start_delay_ns);
        ck_assert_int_eq(a->stateful, b->stateful);
    }
    ck_assert_int_eq(s->node_cpus, d.node_cpus);
    ck_assert_int_eq(s->node_memory_bytes, d.node_memory_bytes);
    ck_assert_int_eq(s->keepalive_downstream, d.keepalive_downstream);
    ck_assert_int_eq(s->threads, d.threads);
    free(m);
}
END_TEST

static const char *no_keys(void *ctx, const char *key) {
    (void)ctx;
    (void)key;
    return NULL;
}

/* The services' settings from the manifest's env are the services' defaults (the seed's timeouts). */
START_TEST(env_equals_service_defaults) {
    sim_manifest *m = load();
    svc_config a, b;
    char err[256];
    ck_assert_int_eq(svc_config_load(&a, no_keys, NULL, err, sizeof err), 0);
    ck_assert_int_eq(svc_config_load(&b, no_keys, NULL, err, sizeof err), 0);
    int rc = manifest_services_config(m, &b, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(a.downstream_timeout_ns, b.downstream_timeout_ns);
    ck_assert_int_eq(a.chain_step_timeout_ns, b.chain_step_timeout_ns);
    ck_assert_int_eq(a.forward_timeout_ns, b.forward_timeout_ns);
    ck_assert_int_eq(a.retry.attempts, b.retry.attempts);
    ck_assert_int_eq(a.idempotency, b.idempotency);
    ck_assert_uint_eq(a.history_capacity, b.history_capacity);
    ck_assert_int_eq(b.downstream_timeout_ns, 10 * SEC);
    ck_assert_int_eq(b.chain_step_timeout_ns, 15 * SEC);
    svc_config_free(&a);
    svc_config_free(&b);
    free(m);
}
END_TEST

/* ---- what the simulator cannot take: errors with a line ---- */

static char *write_variant(const char *from, const char *to) {
    FILE *in = fopen(MANIFEST, "rb");
    ck_assert_ptr_nonnull(in);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[n] = '\0';
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "'%s' not in the manifest", from);
    static char path[64];
    snprintf(path, sizeof path, "/tmp/check_manifest.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *out = fdopen(fd, "wb");
    fwrite(text, 1, (size_t)(at - text), out);
    fputs(to, out);
    fputs(at + strlen(from), out);
    fclose(out);
    return path;
}

static void expect_error(const char *from, const char *to, const char *needle) {
    char *path = write_variant(from, to);
    sim_manifest *m = malloc(sizeof *m);
    char err[512];
    int rc = manifest_load(path, m, err, sizeof err);
    unlink(path);
    free(m);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err, needle) != NULL, "error \"%s\" does not mention \"%s\"", err, needle);
    ck_assert_msg(strstr(err, ":") != NULL, "no line in \"%s\"", err);
}

START_TEST(errors_name_field_and_line) {
    expect_error("podManagementPolicy: Parallel", "podManagementPolicy: Parallel\n  minReadySeconds: 5",
                 "spec.minReadySeconds: not supported");
    expect_error("enableServiceLinks: false", "enableServiceLinks: false\n      fooBar: 1",
                 "unknown field \"spec.template.spec.fooBar\"");
    expect_error("cpu: 200m", "cpu: 200x", "quantities must match");
    expect_error("value: http://inventory-service:5003", "value: http://inventory-0.inventory-headless:5003",
                 "through its Service ClusterIP");
    expect_error("clusterIP: 10.96.100.3", "clusterIP: 10.96.100.2", "already allocated");
    expect_error("replicas: 3 ", "replicas: \"3\" ", "must be of type integer");
}
END_TEST

START_TEST(go_sizes_and_quantities) {
    int64_t v;
    char err[200];
    ck_assert_int_eq(go_humanize_bytes("100MB", &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 100000000LL);
    ck_assert_int_eq(go_humanize_bytes("100MiB", &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 100LL * MIB);
    ck_assert_int_eq(go_humanize_bytes("100m", &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 100000000LL);
    ck_assert_int_eq(go_units_size_ok("100MB", err, sizeof err), 0);
    ck_assert_int_eq(go_units_size_ok("100 MiB", err, sizeof err), 0);
    ck_assert_int_eq(go_units_size_ok("100XB", err, sizeof err), -1);
    ck_assert_int_eq(k8s_quantity("200m", 1, &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 200);
    ck_assert_int_eq(k8s_quantity("1.5", 1, &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 1500);
    ck_assert_int_eq(k8s_quantity("128Mi", 0, &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 128 * MIB);
    ck_assert_int_eq(k8s_quantity("1G", 0, &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 1000000000LL);
    ck_assert_int_eq(go_parse_duration("1m30s", &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 90 * SEC);
    ck_assert_int_eq(go_parse_duration("1.5h", &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 5400 * SEC);
    ck_assert_int_eq(go_parse_duration("5", &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "time: missing unit in duration \"5\"");
    ck_assert_int_eq(go_parse_duration("5x", &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "time: unknown unit \"x\" in duration \"5x\"");
    ck_assert_int_eq(go_parse_duration(".s", &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "time: invalid duration \".s\"");
}
END_TEST

int main(void) {
    Suite *s = suite_create("manifest");
    TCase *t = tcase_create("deployment");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, deployment_facts);
    tcase_add_test(t, manifest_equals_defaults);
    tcase_add_test(t, env_equals_service_defaults);
    tcase_add_test(t, errors_name_field_and_line);
    tcase_add_test(t, go_sizes_and_quantities);
    suite_add_tcase(s, t);
    int failed = support_run_suite(s, CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
