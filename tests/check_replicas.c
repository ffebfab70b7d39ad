/*
 * check_replicas.c: the real binaries as a replicated deployment on loopback (payment x3, inventory x2,
 * notification x2, each with its own journal), under concurrent load, with an inventory and a payment
 * process SIGKILLed in the middle and restarted.
 *
 * Clients send payments with an Idempotency-Key and retry (same key, another replica) until they get a
 * definitive answer, as a careful client would. Then:
 *   - every acknowledged payment is retrievable, completed, from EVERY payment replica (ownership and
 *     forwarding), even from the replica that was killed;
 *   - no key was charged twice (a retry returns the same payment_id as the first success);
 *   - stock is conserved: once the system is quiet (owed releases delivered), each product's stock went
 *     down by exactly the number of payments acknowledged for it: nothing acknowledged was lost, nothing
 *     reserved without a payment.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/httpc.h"
#include "tests/support/proc.h"
#include "tests/support/support.h"

#define PAY 3
#define INV 2
#define NTF 2
#define PROCS (PAY + INV + NTF)
#define THREADS 4
#define PER_THREAD 40
#define PRODUCTS 5
#define STOCK 100000
#define STOP_TIMEOUT_MS 15000

typedef struct proc {
    const char *binary;
    int replica;
    int port;
    pid_t pid;
    char journal[256];
} proc;

static proc procs[PROCS];
static char bin_dir[256], work_dir[64];
static char pay_peers[256], inv_peers[256], ntf_peers[256];

static void start(proc *p) {
    char env[16][300];
    int n = 0;
    snprintf(env[n++], 300, "PORT=%d", p->port);
    snprintf(env[n++], 300, "BIND_ADDRESS=127.0.0.1");
    snprintf(env[n++], 300, "REPLICA_INDEX=%d", p->replica);
    snprintf(env[n++], 300, "PAYMENT_REPLICAS=%d", PAY);
    snprintf(env[n++], 300, "INVENTORY_REPLICAS=%d", INV);
    snprintf(env[n++], 300, "NOTIFICATION_REPLICAS=%d", NTF);
    snprintf(env[n++], 300, "PAYMENT_PEERS=%s", pay_peers);
    snprintf(env[n++], 300, "INVENTORY_PEERS=%s", inv_peers);
    snprintf(env[n++], 300, "NOTIFICATION_PEERS=%s", ntf_peers);
    /* no kube-proxy on loopback: "the Service" is replica 0; others are reached by forwarding */
    snprintf(env[n++], 300, "INVENTORY_SERVICE=http://127.0.0.1:%d", procs[PAY].port);
    snprintf(env[n++], 300, "NOTIFICATION_SERVICE=http://127.0.0.1:%d", procs[PAY + INV].port);
    snprintf(env[n++], 300, "JOURNAL_PATH=%s", p->journal);
    snprintf(env[n++], 300, "LOG_LEVEL=off");
    snprintf(
        env[n++], 300,
        "CATALOGUE=[{\"id\":\"1\",\"name\":\"a\",\"stock\":%d,\"price\":10},{\"id\":\"2\",\"name\":\"b\",\"stock\":%d,"
        "\"price\":10},{\"id\":\"3\",\"name\":\"c\",\"stock\":%d,\"price\":10},{\"id\":\"4\",\"name\":\"d\",\"stock\":%"
        "d,"
        "\"price\":10},{\"id\":\"5\",\"name\":\"e\",\"stock\":%d,\"price\":10}]",
        STOCK, STOCK, STOCK, STOCK, STOCK);
    snprintf(env[n++], 300, "RELEASE_RETRY_MAX_MS=1000");
    const char *envp[17];
    for (int i = 0; i < n; i++) envp[i] = env[i];
    envp[n] = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", bin_dir, p->binary);
    p->pid = support_proc_start(&(support_cmd){.path = path, .env = envp}); /* stderr: /dev/null */
}

/* One HTTP exchange; returns the status (0 on transport failure) and the parsed body. */
static int request(int port, const char *method, const char *path, const char *key, const char *body, json_t **out) {
    char url[256], kh[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    snprintf(kh, sizeof kh, "Idempotency-Key: %s", key ? key : "");
    const char *headers[] = {"Content-Type: application/json", key ? kh : NULL, NULL};
    support_resp r = support_http(&(support_req){
        .method = method, .url = url, .body = body, .body_len = body ? strlen(body) : 0, .headers = headers});
    if (out) *out = r.len ? json_loads(r.body, 0, NULL) : NULL;
    support_resp_free(&r);
    return (int)r.status;
}

static int wait_ready(proc *p) {
    if (p->pid <= 0) return -1; /* it did not start (the launcher said why) */
    for (int t = 0; t < 300; t++) {
        if (request(p->port, "GET", "/ready", NULL, NULL, NULL) == 200) return 0;
        support_sleep_ms(50);
    }
    return -1;
}

/* ---- the load ---- */

typedef struct result {
    char key[32];
    char payment_id[80];
    int product;
    int status;
    int attempts;
} result;

static result results[THREADS][PER_THREAD];
static volatile int progress;

static void *client(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        result *r = &results[t][i];
        snprintf(r->key, sizeof r->key, "k-%d-%d", t, i);
        r->product = 1 + (t * PER_THREAD + i) % PRODUCTS;
        char body[128];
        snprintf(body, sizeof body, "{\"amount\":10,\"currency\":\"USD\",\"product_id\":\"%d\"}", r->product);
        for (int attempt = 0; attempt < 60; attempt++) {
            r->attempts++;
            json_t *doc = NULL;
            int st = request(procs[(i + attempt) % PAY].port, "POST", "/payment/process", r->key, body, &doc);
            if (st == 201 || (st >= 400 && st < 500 && st != 409)) {
                r->status = st;
                const char *pid = json_string_value(json_object_get(doc, "payment_id"));
                if (pid) snprintf(r->payment_id, sizeof r->payment_id, "%s", pid);
                json_decref(doc);
                break;
            }
            json_decref(doc);
            support_sleep_ms(100 + 50 * (attempt % 5)); /* transient: the owner is restarting, or a call failed */
        }
        __atomic_add_fetch(&progress, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

START_TEST(kill_mid_load_loses_nothing) {
    int initial[PRODUCTS + 1];
    for (int p = 1; p <= PRODUCTS; p++) initial[p] = STOCK;
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, client, (void *)(intptr_t)t);
    while (__atomic_load_n(&progress, __ATOMIC_SEQ_CST) < THREADS * PER_THREAD / 3) support_sleep_ms(5);
    /* mid-load: kill an inventory replica and a payment replica, restart them on the same ports/journals */
    proc *inv1 = &procs[PAY + 1], *pay2 = &procs[2];
    ck_assert_int_eq(support_proc_stop(inv1->pid, SIGKILL, STOP_TIMEOUT_MS), 128 + SIGKILL);
    ck_assert_int_eq(support_proc_stop(pay2->pid, SIGKILL, STOP_TIMEOUT_MS), 128 + SIGKILL);
    support_sleep_ms(300);
    start(inv1);
    start(pay2);
    ck_assert_int_eq(wait_ready(inv1), 0);
    ck_assert_int_eq(wait_ready(pay2), 0);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);

    int acked[PRODUCTS + 1] = {0}, total = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i++) {
            result *r = &results[t][i];
            ck_assert_msg(r->status == 201, "key %s ended with %d after %d attempts", r->key, r->status, r->attempts);
            acked[r->product]++;
            total++;
            /* retrievable and completed from every replica */
            for (int k = 0; k < PAY; k++) {
                json_t *doc = NULL;
                char path[128];
                snprintf(path, sizeof path, "/payment/status/%s", r->payment_id);
                int st = request(procs[k].port, "GET", path, NULL, NULL, &doc);
                ck_assert_msg(st == 200, "payment %s from payment-%d: %d", r->payment_id, k, st);
                ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "completed");
                json_decref(doc);
            }
            /* the same key again returns the same payment: charged once */
            json_t *doc = NULL;
            char body[128];
            snprintf(body, sizeof body, "{\"amount\":10,\"currency\":\"USD\",\"product_id\":\"%d\"}", r->product);
            ck_assert_int_eq(request(procs[i % PAY].port, "POST", "/payment/process", r->key, body, &doc), 201);
            ck_assert_str_eq(json_string_value(json_object_get(doc, "payment_id")), r->payment_id);
            json_decref(doc);
        }
    ck_assert_int_eq(total, THREADS * PER_THREAD);
    /* stock: wait (bounded) for owed releases, then exactly the acknowledged payments hold stock */
    int settled = 0;
    for (int round = 0; round < 100 && !settled; round++) {
        settled = 1;
        for (int p = 1; p <= PRODUCTS; p++) {
            json_t *doc = NULL;
            char path[32];
            snprintf(path, sizeof path, "/check/%d", p);
            int st = request(procs[PAY].port, "GET", path, NULL, NULL, &doc);
            long long stock = st == 200 ? json_integer_value(json_object_get(doc, "stock_count")) : -1;
            json_decref(doc);
            if (stock != initial[p] - acked[p]) {
                settled = 0;
                if (round == 99)
                    ck_abort_msg("product %d: stock %lld, expected %d - %d acknowledged", p, stock, initial[p],
                                 acked[p]);
            }
        }
        if (!settled) support_sleep_ms(200);
    }
}
END_TEST

int main(void) {
    snprintf(bin_dir, sizeof bin_dir, "%s", getenv("PC_BIN_DIR") ? getenv("PC_BIN_DIR") : "bin");
    snprintf(work_dir, sizeof work_dir, "/tmp/pc-replicas-XXXXXX");
    if (!mkdtemp(work_dir)) return 1;
    curl_global_init(CURL_GLOBAL_NOTHING);
    static const char *names[3] = {"payment-service", "inventory-service", "notification-service"};
    int counts[3] = {PAY, INV, NTF}, k = 0;
    char *lists[3] = {pay_peers, inv_peers, ntf_peers};
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < counts[s]; r++, k++) {
            procs[k].binary = names[s];
            procs[k].replica = r;
            procs[k].port = support_free_port();
            snprintf(procs[k].journal, sizeof procs[k].journal, "%s/%s-%d.journal", work_dir, names[s], r);
            size_t len = strlen(lists[s]);
            snprintf(lists[s] + len, 256 - len, "%shttp://127.0.0.1:%d", r ? "," : "", procs[k].port);
        }
    for (int i = 0; i < PROCS; i++) start(&procs[i]);
    int ok = 1;
    for (int i = 0; i < PROCS; i++) ok &= wait_ready(&procs[i]) == 0;
    int failed = 1;
    if (ok) {
        Suite *s = suite_create("replicas");
        TCase *t = tcase_create("durability");
        tcase_set_timeout(t, 240);
        tcase_add_test(t, kill_mid_load_loses_nothing);
        suite_add_tcase(s, t);
        failed = support_run_suite(s, CK_NORMAL, 1); /* the test restarts processes this main owns */
    } else {
        fprintf(stderr, "check_replicas: the services did not start\n");
    }
    for (int i = 0; i < PROCS; i++) {
        /* A clean SIGTERM exit (0; under ASan also "no leaks") after the load and the restarts. */
        int code = support_proc_stop(procs[i].pid, SIGTERM, STOP_TIMEOUT_MS);
        if (procs[i].pid > 0 && code != 0) {
            fprintf(stderr, "check_replicas: %s-%d exited %d after SIGTERM\n", procs[i].binary, procs[i].replica, code);
            failed++;
        }
        unlink(procs[i].journal);
    }
    rmdir(work_dir);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
