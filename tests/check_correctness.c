/*
 * check_correctness.c: the system stays correct under chaos, and the checkers can tell when it does not.
 *
 * The "harshest mix": payments with Idempotency-Keys, client retries (3) and service retries (3), 30 % loss on
 * every service-to-service link and between the clients and payment, a payment pod and an inventory pod
 * killed during the chaos. With retries on and idempotency off (a demonstration switch) the search must
 * find a violation; with both on, 10 000 seeds must find none (fewer in sanitizer builds, which are 10-20
 * times slower: 300 under ASan, 100 under TSan; the suite says so).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/units.h"
#include "sim/report/report_sweep.h"
#include "sim/run/multi.h"
#include "sim/run/options.h"
#include "sim/run/run.h"
#include "sim/run/shrink.h"
#include "tests/support/support.h"

#if defined(__SANITIZE_THREAD__)
#define SEEDS 100 /* the races it looks for are in the seed-range threads, crossed thousands of times per 100 */
#elif defined(__SANITIZE_ADDRESS__)
#define SEEDS 300
#else
#define SEEDS 10000
#endif

static void harsh(sim_options *o) {
    sim_options_defaults(o);
    o->load.workload = LOAD_PROCESS;
    o->load.client_retries = 3;
    o->services.retry.attempts = 3;
    o->loss_pct = 30;
    o->client_loss_pct = 30;
    o->kills[0] = (sim_pod_kill){SVC_PAYMENT, 3 * SEC};
    o->kills[1] = (sim_pod_kill){SVC_INVENTORY, 6 * SEC};
    o->nkills = 2;
    o->baseline_ns = 2 * SEC;
    o->chaos_ns = 10 * SEC;
    o->recovery_ns = 10 * SEC;
    o->load.rate_per_s = 20;
    o->load.stop_ns = o->baseline_ns + o->chaos_ns + o->recovery_ns;
}

START_TEST(idempotency_off_breaks_invariants) {
    sim_options o;
    harsh(&o);
    o.services.idempotency = 0;
    int found = 0;
    for (uint64_t seed = 1; seed <= 50 && !found; seed++) {
        sim_result r;
        char err[128];
        ck_assert_int_eq(sim_run_once(&o, seed, NULL, &r, err, sizeof err), 0);
        found = r.violation.found;
        sim_result_free(&r);
    }
    ck_assert_msg(found, "no violation in 50 seeds with idempotency off: the checkers would not catch duplicates");
}
END_TEST

START_TEST(both_on_no_violation) {
    static sim_options o;
    harsh(&o);
    o.seed = 1;
    o.seed_last = SEEDS;
    o.threads = 2;
    char *text = NULL, err[256];
    size_t len = 0;
    sim_sweep *s = multi_find_violation(&o, NULL, NULL, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    FILE *out = open_memstream(&text, &len);
    int rc = report_sweep_text(out, s);
    fclose(out);
    sweep_free(s);
    ck_assert_msg(rc == 0, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "no invariant violation"));
    fprintf(stderr, "correctness: %s", text);
    if (SEEDS < 10000) fprintf(stderr, "correctness: sanitizer build: %d seeds (10000 in the release build)\n", SEEDS);
    free(text);
}
END_TEST

START_TEST(every_run_reaches_the_end_checks) {
    /* the end-of-run checks (durability, orphan reservations) need a quiet system: make sure the harsh mix
     * lets the system settle, so they really run */
    sim_options o;
    harsh(&o);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        sim_result r;
        char err[128];
        ck_assert_int_eq(sim_run_once(&o, seed, NULL, &r, err, sizeof err), 0);
        ck_assert_msg(r.violation.final_checked, "seed %llu: end checks did not run", (unsigned long long)seed);
        ck_assert_uint_gt(r.acked, 100);
        sim_result_free(&r);
    }
}
END_TEST

START_TEST(shrink_finds_a_smaller_failing_run) {
    sim_options o;
    harsh(&o);
    o.services.idempotency = 0;
    char dir[] = "/tmp/pc-shrink-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cwd[512];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int rc = shrink_run(&o, NULL, 1, out);
    fclose(out);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(strstr(text, "smallest failing scenario"));
    ck_assert_int_eq(access("shrunk-1.yaml", R_OK), 0);
    unlink("shrunk-1.yaml");
    ck_assert_int_eq(chdir(cwd), 0);
    rmdir(dir);
    free(text);
}
END_TEST

int main(void) {
    Suite *s = suite_create("correctness");
    TCase *t = tcase_create("invariants");
    tcase_set_timeout(t, 1200);
    tcase_add_test(t, idempotency_off_breaks_invariants);
    tcase_add_test(t, every_run_reaches_the_end_checks);
    tcase_add_test(t, shrink_finds_a_smaller_failing_run);
    tcase_add_test(t, both_on_no_violation);
    suite_add_tcase(s, t);
    int failed = support_run_suite(s, CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
