/*
 * check_helpers.c: the pure helpers under the services: money, ids, card, table, config, metrics, the JSON
 * writer and reader.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/card.h"
#include "services/core/config.h"
#include "services/core/ids.h"
#include "services/core/jsonr.h"
#include "services/core/jsonw.h"
#include "services/core/metrics.h"
#include "services/core/money.h"
#include "services/core/table.h"
#include "tests/support/fake_runtime.h"
#include "tests/support/support.h"

/* ---- money ---- */

static const struct {
    const char *json;
    long long minor; /* -1: rejected */
} amount_cases[] = {
    {"100", 10000},
    {"99.5", 9950},
    {"12.34", 1234},
    {"0.01", 1},
    {"0.1", 10},
    {"0.29", 29}, /* 0.29 * 100 is 28.999999999999996 in binary */
    {"19.99", 1999},
    {"1.15", 115},
    {"1E2", 10000},
    {"100.0", 10000},
    {"12.340", 1234},
    {"999999999.99", 99999999999LL},
    {"1000000000", 100000000000LL}, /* the maximum, as an integer */
    {"1000000000.0", 100000000000LL},
    {"1000000000.01", -1},
    {"1000000001", -1},
    {"0", -1},
    {"0.0", -1},
    {"-0.0", -1},
    {"-1", -1},
    {"-0.01", -1},
    {"1.001", -1},
    {"0.001", -1},
    {"1e-7", -1},
    {"1e300", -1},
    {"9007199254740993", -1},
    {"\"100\"", -1},
    {"true", -1},
    {"null", -1},
    {"[1]", -1},
    {"{\"a\":1}", -1},
};

START_TEST(test_amount_parse) {
    json_error_t jerr;
    json_t *v = json_loads(amount_cases[_i].json, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(v != NULL, "case %s: %s", amount_cases[_i].json, jerr.text);
    int64_t minor = -42;
    char err[160] = "";
    int rc = svc_amount_parse(v, &minor, err, sizeof err);
    if (amount_cases[_i].minor < 0) {
        ck_assert_msg(rc == -1, "%s accepted as %lld", amount_cases[_i].json, (long long)minor);
        ck_assert_msg(err[0] != '\0', "%s rejected without a message", amount_cases[_i].json);
        ck_assert_int_eq(minor, -42); /* untouched on error */
    } else {
        ck_assert_msg(rc == 0, "%s rejected: %s", amount_cases[_i].json, err);
        ck_assert_int_eq(minor, amount_cases[_i].minor);
    }
    json_decref(v);
}
END_TEST

START_TEST(test_amount_json) {
    json_t *a = svc_amount_json(10000);
    ck_assert(json_is_integer(a));
    ck_assert_int_eq(json_integer_value(a), 100);
    json_decref(a);
    a = svc_amount_json(9950);
    ck_assert(json_is_real(a));
    ck_assert(json_real_value(a) == 99.5);
    json_decref(a);
    a = svc_amount_json(1);
    ck_assert(json_real_value(a) == 0.01);
    json_decref(a);
    /* Round trip: the JSON form parses back to the same minor units. */
    for (int64_t m = 1; m < 100000; m += 37) {
        json_t *j = svc_amount_json(m);
        int64_t back = 0;
        char err[64];
        ck_assert_int_eq(svc_amount_parse(j, &back, err, sizeof err), 0);
        ck_assert_int_eq(back, m);
        json_decref(j);
    }
}
END_TEST

START_TEST(test_currencies) {
    ck_assert(svc_currency_supported("USD"));
    ck_assert(svc_currency_supported("EUR"));
    ck_assert(svc_currency_supported("GBP"));
    ck_assert(svc_currency_supported("TRY"));
    ck_assert(!svc_currency_supported("usd"));
    ck_assert(!svc_currency_supported("XXX"));
    ck_assert(!svc_currency_supported("JPY")); /* zero-decimal: not in the two-decimal list */
    ck_assert(!svc_currency_supported("USDD"));
    ck_assert(!svc_currency_supported("US"));
    ck_assert(!svc_currency_supported(""));
    ck_assert(!svc_currency_supported(NULL));
    const char *list = svc_currency_list();
    ck_assert_ptr_nonnull(strstr(list, "USD"));
    ck_assert_ptr_nonnull(strstr(list, "EUR, GBP"));
    ck_assert_str_eq(list, svc_currency_list()); /* stable */
    /* Every listed code is supported and three letters. */
    char copy[256];
    snprintf(copy, sizeof copy, "%s", list);
    int n = 0;
    for (char *tok = strtok(copy, ", "); tok; tok = strtok(NULL, ", ")) {
        ck_assert_int_eq(strlen(tok), 3);
        ck_assert(svc_currency_supported(tok));
        n++;
    }
    ck_assert_int_ge(n, 20);
}
END_TEST

/* ---- ids ---- */

START_TEST(test_fnv_known_values) {
    ck_assert_uint_eq(pc_fnv1a(""), 2166136261u);
    ck_assert_uint_eq(pc_fnv1a("a"), 0xe40c292cu);
    ck_assert_uint_eq(pc_fnv1a("foobar"), 0xbf9cf968u);
    ck_assert(pc_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    ck_assert(pc_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    ck_assert(pc_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
}
END_TEST

START_TEST(test_make_id) {
    char id[SVC_ID_MAX + 1];
    svc_make_id(id, sizeof id, "pay", 2, 0x9f1c0b7e5a3d2468ull);
    ck_assert_str_eq(id, "pay-2-9f1c0b7e5a3d2468");
    svc_make_id(id, sizeof id, "ntf", 0, 1);
    ck_assert_str_eq(id, "ntf-0-0000000000000001");
    ck_assert(svc_id_acceptable(id));
    /* written without snprintf: the same bytes as "%s-%d-%016llx", also when cut short */
    static const int replicas[] = {0, 7, 10, 123, -1, 2147483647, -2147483647 - 1};
    static const unsigned long long rnds[] = {0, 1, 0xabcdefull, 0xffffffffffffffffull, 0x8000000000000000ull};
    for (size_t r = 0; r < sizeof replicas / sizeof replicas[0]; r++)
        for (size_t k = 0; k < sizeof rnds / sizeof rnds[0]; k++)
            for (size_t cap = 1; cap <= sizeof id; cap += (cap < 40 ? 1 : 24)) {
                char want[SVC_ID_MAX + 1];
                snprintf(want, cap, "%s-%d-%016llx", "inv", replicas[r], rnds[k]);
                memset(id, 'x', sizeof id);
                svc_make_id(id, cap, "inv", replicas[r], rnds[k]);
                ck_assert_str_eq(id, want);
            }
    ck_assert_int_eq(svc_owner_of_id("pay-2-9f1c0b7e5a3d2468", "pay", 3), 2);
    ck_assert_int_eq(svc_owner_of_id("pay-0-9f1c0b7e5a3d2468", "pay", 3), 0);
    ck_assert_int_eq(svc_owner_of_id("pay-12-abc", "pay", 16), 12);
    /* An owner outside the replica range, a foreign prefix or a malformed id: the hash owner. */
    const char *fallback[] = {"pay-5-9f1c0b7e5a3d2468",
                              "ntf-1-9f1c0b7e5a3d2468",
                              "pay-x-1",
                              "pay-1",
                              "pay--1-a",
                              "pay-1234-a",
                              "payment-1-a",
                              "1"};
    for (size_t i = 0; i < sizeof fallback / sizeof fallback[0]; i++)
        ck_assert_int_eq(svc_owner_of_id(fallback[i], "pay", 3), svc_owner_of_key(fallback[i], 3));
}
END_TEST

START_TEST(test_owner_by_hash) {
    ck_assert_int_eq(svc_owner_of_key("anything", 1), 0);
    ck_assert_int_eq(svc_owner_of_key("anything", 0), 0);
    ck_assert_int_eq(svc_owner_of_key("foobar", 7), (int)(0xbf9cf968u % 7));
    int counts[3] = {0, 0, 0};
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        int o = svc_owner_of_key(key, 3);
        ck_assert(o >= 0 && o < 3);
        ck_assert_int_eq(o, svc_owner_of_key(key, 3)); /* stable */
        counts[o]++;
    }
    for (int r = 0; r < 3; r++) ck_assert_msg(counts[r] > 800, "replica %d owns only %d of 3000 keys", r, counts[r]);
}
END_TEST

START_TEST(test_id_acceptable) {
    ck_assert(svc_id_acceptable("abc"));
    ck_assert(svc_id_acceptable("A-Z_0.9:x"));
    ck_assert(svc_id_acceptable("1"));
    ck_assert(!svc_id_acceptable(""));
    ck_assert(!svc_id_acceptable("a b"));
    ck_assert(!svc_id_acceptable("a/b"));
    ck_assert(!svc_id_acceptable("a?b"));
    ck_assert(!svc_id_acceptable("\"x\""));
    ck_assert(!svc_id_acceptable("caf\xc3\xa9"));
    char longest[SVC_ID_MAX + 2];
    memset(longest, 'k', SVC_ID_MAX);
    longest[SVC_ID_MAX] = '\0';
    ck_assert(svc_id_acceptable(longest));
    longest[SVC_ID_MAX] = 'k';
    longest[SVC_ID_MAX + 1] = '\0';
    ck_assert(!svc_id_acceptable(longest));
}
END_TEST

/* ---- card ---- */

static const struct {
    const char *number;
    int rc, luhn;
    const char *brand, *last4;
} card_cases[] = {
    {"4111111111111111", 0, 1, "visa", "1111"},
    {"4111 1111 1111 1111", 0, 1, "visa", "1111"},
    {"4111-1111-1111-1111", 0, 1, "visa", "1111"},
    {"4111111111111112", 0, 0, "visa", "1112"},
    {"4012888888881881", 0, 1, "visa", "1881"},
    {"4222222222222", 0, 1, "visa", "2222"},
    {"5555555555554444", 0, 1, "mastercard", "4444"},
    {"5105105105105100", 0, 1, "mastercard", "5100"},
    {"2221000000000009", 0, 1, "mastercard", "0009"},
    {"378282246310005", 0, 1, "amex", "0005"},
    {"371449635398431", 0, 1, "amex", "8431"},
    {"6011111111111117", 0, 1, "discover", "1117"},
    {"6500000000000002", 0, 1, "discover", "0002"},
    {"3530111333300000", 0, 1, "jcb", "0000"},
    {"3566002020360505", 0, 1, "jcb", "0505"},
    {"30569309025904", 0, 1, "diners", "5904"},
    {"36227206271667", 0, 1, "diners", "1667"},
    {"1234567812345670", 0, 1, "unknown", "5670"},
    {"1234567812345678", 0, 0, "unknown", "5678"},
    {"4111a11111111111", -1, 0, NULL, NULL},
    {"41111111111", -1, 0, NULL, NULL},          /* 11 digits */
    {"41111111111111111111", -1, 0, NULL, NULL}, /* 20 digits */
    {"", -1, 0, NULL, NULL},
    {"    ", -1, 0, NULL, NULL},
    {"4111.1111.1111.1111", -1, 0, NULL, NULL},
};

START_TEST(test_card) {
    svc_card_info info;
    memset(&info, 0x5a, sizeof info);
    char err[128] = "";
    int rc = svc_card_inspect(card_cases[_i].number, &info, err, sizeof err);
    ck_assert_msg(rc == card_cases[_i].rc, "%s: rc %d", card_cases[_i].number, rc);
    if (rc < 0) {
        ck_assert(err[0] != '\0');
        return;
    }
    ck_assert_int_eq(info.luhn_valid, card_cases[_i].luhn);
    ck_assert_str_eq(info.brand, card_cases[_i].brand);
    ck_assert_str_eq(info.last4, card_cases[_i].last4);
    char masked[32];
    snprintf(masked, sizeof masked, "****-****-****-%s", card_cases[_i].last4);
    ck_assert_str_eq(info.masked, masked);
    /* The number itself is nowhere in the result. */
    char digits[24];
    size_t n = 0;
    for (const char *p = card_cases[_i].number; *p; p++)
        if (*p >= '0' && *p <= '9') digits[n++] = *p;
    digits[n] = '\0';
    const char *raw = (const char *)&info;
    for (size_t at = 0; at + 8 <= sizeof info; at++) ck_assert(memcmp(raw + at, digits, 8) != 0);
}
END_TEST

/* ---- table ---- */

/* Keys whose home slot in a 16-slot table is `home`. */
static int keys_with_home(size_t home, char keys[][16], int want) {
    int n = 0;
    for (int i = 0; n < want && i < 100000; i++) {
        char k[16];
        snprintf(k, sizeof k, "c%d", i);
        if ((pc_fnv1a(k) & 15) == home) snprintf(keys[n++], 16, "%s", k);
    }
    return n;
}

START_TEST(test_table_basic) {
    svc_table t;
    ck_assert_int_eq(svc_table_init(&t, 4), 0);
    ck_assert_int_eq(t.cap, 16);
    ck_assert_ptr_null(svc_table_get(&t, "a"));
    ck_assert_ptr_null(svc_table_remove(&t, "a"));
    int a = 1, b = 2, c = 3;
    ck_assert_int_eq(svc_table_put(&t, "a", &a), 0);
    ck_assert_int_eq(svc_table_put(&t, "b", &b), 0);
    ck_assert_int_eq(t.count, 2);
    ck_assert_ptr_eq(svc_table_get(&t, "a"), &a);
    ck_assert_int_eq(svc_table_put(&t, "a", &c), 0); /* replace */
    ck_assert_int_eq(t.count, 2);
    ck_assert_ptr_eq(svc_table_get(&t, "a"), &c);
    ck_assert_ptr_eq(svc_table_remove(&t, "a"), &c);
    ck_assert_int_eq(t.count, 1);
    ck_assert_ptr_null(svc_table_get(&t, "a"));
    ck_assert_ptr_eq(svc_table_get(&t, "b"), &b);
    svc_table_free(&t);
    ck_assert_ptr_null(t.slots);
    ck_assert_ptr_null(svc_table_get(&t, "b"));
}
END_TEST

/* Removing from a collision run, including one that wraps from the last slot to the first. */
START_TEST(test_table_collisions) {
    size_t home = _i == 0 ? 3 : 15;
    char keys[5][16];
    ck_assert_int_eq(keys_with_home(home, keys, 5), 5);
    char other[2][16];
    ck_assert_int_eq(keys_with_home((home + 2) & 15, other, 2), 2);
    svc_table t;
    ck_assert_int_eq(svc_table_init(&t, 16), 0);
    /* Three keys of one home, then one of home+2 that lands after them, then two more of the first home. */
    int vals[7];
    svc_table_put(&t, keys[0], &vals[0]);
    svc_table_put(&t, keys[1], &vals[1]);
    svc_table_put(&t, keys[2], &vals[2]);
    svc_table_put(&t, other[0], &vals[5]);
    svc_table_put(&t, keys[3], &vals[3]);
    ck_assert_int_eq(t.count, 5);
    ck_assert_int_eq(t.cap, 16);
    ck_assert_ptr_eq(t.slots[home].key, keys[0]);
    ck_assert_ptr_eq(t.slots[(home + 1) & 15].key, keys[1]);
    /* Remove the head of the run: everyone must still be found, and the run must have shifted back. */
    ck_assert_ptr_eq(svc_table_remove(&t, keys[0]), &vals[0]);
    ck_assert_ptr_eq(t.slots[home].key, keys[1]);
    for (int i = 1; i < 4; i++) ck_assert_ptr_eq(svc_table_get(&t, keys[i]), &vals[i]);
    ck_assert_ptr_eq(svc_table_get(&t, other[0]), &vals[5]);
    ck_assert_ptr_null(svc_table_get(&t, keys[0]));
    /* The other key's home is inside the run: it must not move before its home. */
    ck_assert_ptr_eq(svc_table_remove(&t, keys[1]), &vals[1]);
    for (size_t s = 0; s < 16; s++) {
        if (t.slots[s].key != other[0]) continue;
        size_t dist = (s - ((home + 2) & 15)) & 15;
        ck_assert_msg(dist < 8, "%s sits before its home", other[0]);
    }
    ck_assert_ptr_eq(svc_table_get(&t, other[0]), &vals[5]);
    ck_assert_ptr_eq(svc_table_get(&t, keys[2]), &vals[2]);
    ck_assert_ptr_eq(svc_table_get(&t, keys[3]), &vals[3]);
    ck_assert_int_eq(t.count, 3);
    /* Remove the rest; the table ends empty. */
    svc_table_remove(&t, keys[3]);
    svc_table_remove(&t, other[0]);
    svc_table_remove(&t, keys[2]);
    ck_assert_int_eq(t.count, 0);
    for (size_t s = 0; s < 16; s++) ck_assert_ptr_null(t.slots[s].key);
    svc_table_free(&t);
}
END_TEST

START_TEST(test_table_growth) {
    static char keys[5000][16];
    svc_table t;
    ck_assert_int_eq(svc_table_init(&t, 0), 0);
    for (int i = 0; i < 5000; i++) {
        snprintf(keys[i], sizeof keys[i], "g%d", i);
        ck_assert_int_eq(svc_table_put(&t, keys[i], keys[i]), 0);
        ck_assert(t.count * 2 <= t.cap);
        ck_assert((t.cap & (t.cap - 1)) == 0);
    }
    ck_assert_int_eq(t.count, 5000);
    for (int i = 0; i < 5000; i++) ck_assert_ptr_eq(svc_table_get(&t, keys[i]), keys[i]);
    ck_assert_ptr_null(svc_table_get(&t, "g5000"));
    svc_table_free(&t);
}
END_TEST

START_TEST(test_table_random_ops) {
    enum { POOL = 2000, OPS = 100000 };
    static char keys[POOL][16];
    static int present[POOL];
    static int vals[POOL];
    memset(present, 0, sizeof present);
    svc_table t;
    ck_assert_int_eq(svc_table_init(&t, 16), 0);
    for (int i = 0; i < POOL; i++) snprintf(keys[i], sizeof keys[i], "r%d", i);
    uint64_t s = 0x1234567 + (uint64_t)_i;
    size_t live = 0;
    for (int op = 0; op < OPS; op++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((s >> 33) % POOL);
        int kind = (int)((s >> 20) % 3);
        if (kind == 0) {
            if (!present[k]) live++;
            present[k] = 1;
            ck_assert_int_eq(svc_table_put(&t, keys[k], &vals[k]), 0);
        } else if (kind == 1) {
            void *v = svc_table_remove(&t, keys[k]);
            ck_assert_ptr_eq(v, present[k] ? (void *)&vals[k] : NULL);
            if (present[k]) live--;
            present[k] = 0;
        } else {
            ck_assert_ptr_eq(svc_table_get(&t, keys[k]), present[k] ? (void *)&vals[k] : NULL);
        }
        ck_assert_uint_eq(t.count, live);
        if (op % 5000 == 0)
            for (int i = 0; i < POOL; i++)
                ck_assert_ptr_eq(svc_table_get(&t, keys[i]), present[i] ? (void *)&vals[i] : NULL);
    }
    for (int i = 0; i < POOL; i++) ck_assert_ptr_eq(svc_table_get(&t, keys[i]), present[i] ? (void *)&vals[i] : NULL);
    svc_table_free(&t);
}
END_TEST

/* ---- config ---- */

static int load(svc_config *cfg, const char *const *settings, char *err, size_t errlen) {
    return svc_config_load(cfg, fake_settings_get, (void *)settings, err, errlen);
}

START_TEST(test_config_defaults) {
    svc_config cfg;
    char err[256] = "";
    const char *const none[] = {NULL};
    ck_assert_int_eq(load(&cfg, none, err, sizeof err), 0);
    ck_assert_int_eq(cfg.replica, 0);
    for (int p = 0; p < SVC_PEER_COUNT; p++) ck_assert_int_eq(cfg.replicas[p], 1);
    ck_assert_int_eq(cfg.downstream_timeout_ns, 10000 * FAKE_MS);
    ck_assert_int_eq(cfg.chain_step_timeout_ns, 15000 * FAKE_MS);
    ck_assert_int_eq(cfg.forward_timeout_ns, 5000 * FAKE_MS);
    ck_assert_int_eq(cfg.retry.attempts, 1);
    ck_assert_int_eq(cfg.retry.backoff_ns, 100 * FAKE_MS);
    ck_assert_int_eq(cfg.retry.backoff_max_ns, 2000 * FAKE_MS);
    ck_assert_int_eq(cfg.retry.deadline_ns, 10000 * FAKE_MS);
    ck_assert_int_eq(cfg.idempotency, 1);
    ck_assert_int_eq(cfg.idempotency_ttl_ns, 86400LL * 1000 * FAKE_MS);
    ck_assert_uint_eq(cfg.history_capacity, 1000);
    ck_assert_ptr_null(cfg.catalogue_json);
    ck_assert_int_eq(cfg.log_level, SVC_LOG_INFO);
    svc_config_free(&cfg);
}
END_TEST

START_TEST(test_config_every_key) {
    const char *const s[] = {"POD_NAME=payment-7",
                             "PAYMENT_REPLICAS=9",
                             "INVENTORY_REPLICAS=2",
                             "NOTIFICATION_REPLICAS=3",
                             "DOWNSTREAM_TIMEOUT_MS=250",
                             "CHAIN_STEP_TIMEOUT_MS=300",
                             "FORWARD_TIMEOUT_MS=350",
                             "RETRY_ATTEMPTS=4",
                             "RETRY_BACKOFF_MS=20",
                             "RETRY_BACKOFF_MAX_MS=80",
                             "RETRY_DEADLINE_MS=900",
                             "IDEMPOTENCY=off",
                             "IDEMPOTENCY_TTL_S=60",
                             "IDEMPOTENCY_CAPACITY=11",
                             "PAYMENT_CAPACITY=12",
                             "NOTIFICATION_HISTORY=13",
                             "RESERVATION_CAPACITY=14",
                             "RELEASE_RETRY_MS=15",
                             "RELEASE_RETRY_MAX_MS=16",
                             "CATALOGUE=[]",
                             "LOG_LEVEL=warn",
                             NULL};
    svc_config cfg;
    char err[256] = "";
    ck_assert_msg(load(&cfg, s, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(cfg.replica, 7);
    ck_assert_int_eq(cfg.replicas[SVC_PAYMENT], 9);
    ck_assert_int_eq(cfg.replicas[SVC_INVENTORY], 2);
    ck_assert_int_eq(cfg.replicas[SVC_NOTIFICATION], 3);
    ck_assert_int_eq(cfg.downstream_timeout_ns, 250 * FAKE_MS);
    ck_assert_int_eq(cfg.chain_step_timeout_ns, 300 * FAKE_MS);
    ck_assert_int_eq(cfg.forward_timeout_ns, 350 * FAKE_MS);
    ck_assert_int_eq(cfg.retry.attempts, 4);
    ck_assert_int_eq(cfg.retry.backoff_ns, 20 * FAKE_MS);
    ck_assert_int_eq(cfg.retry.backoff_max_ns, 80 * FAKE_MS);
    ck_assert_int_eq(cfg.retry.deadline_ns, 900 * FAKE_MS);
    ck_assert_int_eq(cfg.idempotency, 0);
    ck_assert_int_eq(cfg.idempotency_ttl_ns, 60000 * FAKE_MS);
    ck_assert_uint_eq(cfg.idempotency_capacity, 11);
    ck_assert_uint_eq(cfg.payment_capacity, 12);
    ck_assert_uint_eq(cfg.history_capacity, 13);
    ck_assert_uint_eq(cfg.reservation_capacity, 14);
    ck_assert_int_eq(cfg.release_retry_ns, 15 * FAKE_MS);
    ck_assert_int_eq(cfg.release_retry_max_ns, 16 * FAKE_MS);
    ck_assert_str_eq(cfg.catalogue_json, "[]");
    ck_assert_int_eq(cfg.log_level, SVC_LOG_WARN);
    svc_config_free(&cfg);
    ck_assert_ptr_null(cfg.catalogue_json);

    /* REPLICA_INDEX wins over POD_NAME; switches take their spellings. */
    const char *const s2[] = {"POD_NAME=payment-7", "REPLICA_INDEX=3", "IDEMPOTENCY=true", NULL};
    ck_assert_int_eq(load(&cfg, s2, err, sizeof err), 0);
    ck_assert_int_eq(cfg.replica, 3);
    ck_assert_int_eq(cfg.idempotency, 1);
    svc_config_free(&cfg);
    const char *const s3[] = {"POD_NAME=payment", "IDEMPOTENCY=0", NULL}; /* no ordinal: stays 0 */
    ck_assert_int_eq(load(&cfg, s3, err, sizeof err), 0);
    ck_assert_int_eq(cfg.replica, 0);
    ck_assert_int_eq(cfg.idempotency, 0);
    svc_config_free(&cfg);
}
END_TEST

static const char *const bad_settings[] = {
    "REPLICA_INDEX=-1",
    "REPLICA_INDEX=64",
    "REPLICA_INDEX=one",
    "PAYMENT_REPLICAS=0",
    "INVENTORY_REPLICAS=65",
    "NOTIFICATION_REPLICAS=2x",
    "DOWNSTREAM_TIMEOUT_MS=0",
    "DOWNSTREAM_TIMEOUT_MS=",
    "CHAIN_STEP_TIMEOUT_MS=600001",
    "FORWARD_TIMEOUT_MS=1.5",
    "RETRY_ATTEMPTS=0",
    "RETRY_ATTEMPTS=11",
    "RETRY_BACKOFF_MS=-5",
    "RETRY_BACKOFF_MAX_MS=abc",
    "RETRY_DEADLINE_MS=0",
    "IDEMPOTENCY=maybe",
    "IDEMPOTENCY_TTL_S=0",
    "IDEMPOTENCY_CAPACITY=0",
    "PAYMENT_CAPACITY=99999999999999999999",
    "NOTIFICATION_HISTORY=0",
    "NOTIFICATION_HISTORY=1000001",
    "RESERVATION_CAPACITY=x",
    "RELEASE_RETRY_MS=0",
    "RELEASE_RETRY_MAX_MS=600001",
    "LOG_LEVEL=verbose",
    "RETRY_ATTEMPTS=3 ",
};

START_TEST(test_config_bad_value) {
    const char *setting = bad_settings[_i];
    const char *const s[] = {"PAYMENT_REPLICAS=2", setting, NULL};
    svc_config cfg;
    char err[256] = "";
    ck_assert_msg(load(&cfg, s, err, sizeof err) == -1, "%s accepted", setting);
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(strchr(setting, '=') - setting), setting);
    ck_assert_msg(strstr(err, key) != NULL, "error for %s does not name the key: %s", setting, err);
}
END_TEST

START_TEST(test_config_backoff_order) {
    const char *const s[] = {"RETRY_BACKOFF_MS=500", "RETRY_BACKOFF_MAX_MS=100", "CATALOGUE=[1]", NULL};
    svc_config cfg;
    char err[256] = "";
    ck_assert_int_eq(load(&cfg, s, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "RETRY_BACKOFF_MAX_MS"));
}
END_TEST

START_TEST(test_config_ordinal) {
    ck_assert_int_eq(svc_config_ordinal_from_name("inventory-1"), 1);
    ck_assert_int_eq(svc_config_ordinal_from_name("payment-service-0"), 0);
    ck_assert_int_eq(svc_config_ordinal_from_name("notification-12"), 12);
    ck_assert_int_eq(svc_config_ordinal_from_name("payment"), -1);
    ck_assert_int_eq(svc_config_ordinal_from_name("payment-"), -1);
    ck_assert_int_eq(svc_config_ordinal_from_name("payment-x1"), -1);
    ck_assert_int_eq(svc_config_ordinal_from_name("payment-1001"), -1);
    ck_assert_int_eq(svc_config_ordinal_from_name(""), -1);
    ck_assert_int_eq(svc_config_ordinal_from_name(NULL), -1);
}
END_TEST

/* ---- metrics ---- */

/* The value of the line that starts with `prefix`, or -1. */
static double metric_value(const char *text, const char *prefix) {
    const char *p = text;
    size_t n = strlen(prefix);
    while ((p = strstr(p, prefix))) {
        if (p == text || p[-1] == '\n') return strtod(p + n, NULL);
        p += n;
    }
    return -1;
}

START_TEST(test_metrics_render) {
    svc_metrics m;
    svc_metrics_init(&m, "test-service");
    ck_assert_int_eq(svc_metrics_add_route(&m, "GET /a"), 0);
    ck_assert_int_eq(svc_metrics_add_route(&m, "POST /b"), 1);
    svc_metrics_observe(&m, 0, 200, 200000);          /* 0.2 ms */
    svc_metrics_observe(&m, 0, 200, 3 * FAKE_MS);     /* 3 ms */
    svc_metrics_observe(&m, 0, 404, 40 * FAKE_MS);    /* 40 ms */
    svc_metrics_observe(&m, 0, 200, 20000 * FAKE_MS); /* 20 s: beyond the last bound */
    svc_metrics_observe(&m, 7, 200, 1);               /* unknown route: ignored */
    svc_metrics_observe(&m, -1, 200, 1);
    svc_call_result ok = {.outcome = SVC_CALL_OK, .status = 200};
    svc_call_result err5 = {.outcome = SVC_CALL_OK, .status = 503};
    svc_call_result tmo = {.outcome = SVC_CALL_TIMEOUT};
    svc_metrics_call(&m, SVC_INVENTORY, &ok);
    svc_metrics_call(&m, SVC_INVENTORY, &ok);
    svc_metrics_call(&m, SVC_INVENTORY, &err5);
    svc_metrics_call(&m, SVC_NOTIFICATION, &tmo);
    size_t len = 0;
    char *text = svc_metrics_render(&m, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE http_requests_total counter\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE http_request_duration_seconds histogram\n"));
    ck_assert(metric_value(text, "http_requests_total{service=\"test-service\",route=\"GET /a\",code=\"200\"} ") == 3);
    ck_assert(metric_value(text, "http_requests_total{service=\"test-service\",route=\"GET /a\",code=\"404\"} ") == 1);
    ck_assert_ptr_null(strstr(text, "route=\"POST /b\",code")); /* nothing counted there */
    ck_assert_ptr_null(strstr(text, "route=\"POST /b\",le"));
    ck_assert(metric_value(
                  text, "downstream_calls_total{service=\"test-service\",target=\"inventory\",result=\"ok\"} ") == 2);
    ck_assert(metric_value(
                  text, "downstream_calls_total{service=\"test-service\",target=\"inventory\",result=\"http_5xx\"} ") ==
              1);
    ck_assert(
        metric_value(
            text, "downstream_calls_total{service=\"test-service\",target=\"notification\",result=\"timeout\"} ") == 1);
    /* The histogram: cumulative, non-decreasing, +Inf equals the count. */
    const char *b = "http_request_duration_seconds_bucket{service=\"test-service\",route=\"GET /a\",le=\"";
    ck_assert(
        metric_value(
            text, "http_request_duration_seconds_bucket{service=\"test-service\",route=\"GET /a\",le=\"0.0005\"} ") ==
        1);
    ck_assert(
        metric_value(text,
                     "http_request_duration_seconds_bucket{service=\"test-service\",route=\"GET /a\",le=\"0.005\"} ") ==
        2);
    ck_assert(
        metric_value(
            text, "http_request_duration_seconds_bucket{service=\"test-service\",route=\"GET /a\",le=\"0.05\"} ") == 3);
    ck_assert(metric_value(
                  text, "http_request_duration_seconds_bucket{service=\"test-service\",route=\"GET /a\",le=\"15\"} ") ==
              3);
    ck_assert(
        metric_value(
            text, "http_request_duration_seconds_bucket{service=\"test-service\",route=\"GET /a\",le=\"+Inf\"} ") == 4);
    ck_assert(metric_value(text, "http_request_duration_seconds_count{service=\"test-service\",route=\"GET /a\"} ") ==
              4);
    double sum = metric_value(text, "http_request_duration_seconds_sum{service=\"test-service\",route=\"GET /a\"} ");
    ck_assert_msg(sum > 20.0431 && sum < 20.0433, "sum %f", sum);
    double last = 0;
    int buckets = 0;
    for (const char *p = strstr(text, b); p; p = strstr(p + 1, b)) {
        const char *v = strstr(p, "} ");
        double x = strtod(v + 2, NULL);
        ck_assert(x >= last);
        last = x;
        buckets++;
    }
    ck_assert_int_eq(buckets, SVC_METRICS_BUCKETS + 1);
    free(text);
}
END_TEST

START_TEST(test_metrics_bounds) {
    svc_metrics m;
    svc_metrics_init(&m, "s");
    for (int i = 0; i < SVC_METRICS_ROUTES; i++) ck_assert_int_eq(svc_metrics_add_route(&m, "r"), i);
    ck_assert_int_eq(svc_metrics_add_route(&m, "overflow"), -1);
    /* More distinct codes than slots: the rest land in "other". */
    for (int c = 0; c < SVC_METRICS_CODES + 3; c++) svc_metrics_observe(&m, 0, 200 + c, 1000);
    ck_assert_int_eq(m.routes[0].other_count, 3);
    size_t len;
    char *text = svc_metrics_render(&m, &len);
    ck_assert_ptr_nonnull(strstr(text, "code=\"other\"} 3\n"));
    free(text);
}
END_TEST

/* ---- the JSON writer: byte for byte what svc_ex_reply's json_dumps gives ---- */

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

static void expect_same(svc_jw *w, json_t *doc) {
    char *want = json_dumps(doc, DUMP_FLAGS);
    size_t len;
    char *got = svc_jw_take(w, &len);
    ck_assert_ptr_nonnull(want);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(len, strlen(want));
    free(want);
    free(got);
    json_decref(doc);
}

START_TEST(test_jw_document) {
    /* Nesting, empty containers, every value kind, keys after containers (the commas). */
    svc_jw w;
    svc_jw_init(&w);
    svc_jw_begin_object(&w);
    svc_jw_key(&w, "steps");
    svc_jw_begin_array(&w);
    for (int i = 0; i < 3; i++) {
        svc_jw_begin_object(&w);
        svc_jw_key(&w, "step");
        svc_jw_int(&w, i + 1);
        svc_jw_key(&w, "latency_ms");
        svc_jw_real(&w, 1.25 * i);
        svc_jw_end_object(&w);
    }
    svc_jw_end_array(&w);
    svc_jw_key(&w, "empty_object");
    svc_jw_begin_object(&w);
    svc_jw_end_object(&w);
    svc_jw_key(&w, "empty_array");
    svc_jw_begin_array(&w);
    svc_jw_end_array(&w);
    svc_jw_key(&w, "nested");
    svc_jw_begin_array(&w);
    svc_jw_begin_array(&w);
    svc_jw_bool(&w, 1);
    svc_jw_bool(&w, 0);
    svc_jw_end_array(&w);
    svc_jw_string(&w, "x");
    svc_jw_end_array(&w);
    svc_jw_key(&w, "k\"ey");
    svc_jw_string(&w, "v");
    svc_jw_end_object(&w);

    json_t *steps = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(steps, json_pack("{s:i, s:f}", "step", i + 1, "latency_ms", 1.25 * i));
    expect_same(&w, json_pack("{s:o, s:{}, s:[], s:[[b, b], s], s:s}", "steps", steps, "empty_object", "empty_array",
                              "nested", 1, 0, "x", "k\"ey", "v"));
}
END_TEST

/* A value that is already compact JSON is spliced in as it is: the same bytes as its tree dumped in place,
 * in every position (first, after a key, in an array, after other values). */
START_TEST(test_jw_raw) {
    static const char check[] =
        "{\"product_id\":\"1\",\"name\":\"Kulakl\xc4\xb1k\",\"available\":true,"
        "\"stock_count\":50,\"price\":15000,\"timestamp\":1767225600.123}";
    svc_jw w;
    svc_jw_init(&w);
    svc_jw_begin_object(&w);
    svc_jw_key(&w, "a");
    svc_jw_int(&w, 1);
    svc_jw_key(&w, "inventory_check");
    svc_jw_raw(&w, check, strlen(check));
    svc_jw_key(&w, "list");
    svc_jw_begin_array(&w);
    svc_jw_raw(&w, "[1,2]", 5);
    svc_jw_raw(&w, "\"x\"", 3);
    svc_jw_end_array(&w);
    svc_jw_end_object(&w);
    expect_same(&w, json_pack("{s:i, s:o, s:[[i, i], s]}", "a", 1, "inventory_check", json_loads(check, 0, NULL),
                              "list", 1, 2, "x"));
    svc_jw_init(&w);
    svc_jw_raw(&w, check, strlen(check));
    expect_same(&w, json_loads(check, 0, NULL));
}
END_TEST

START_TEST(test_jw_strings) {
    /* Every ASCII byte alone and inside text, and multi-byte UTF-8 (copied, not escaped). */
    svc_jw w;
    svc_jw_init(&w);
    for (int c = 1; c < 128; c++) {
        char s[8] = {(char)c, 0};
        char t[8] = {'a', (char)c, 'b', (char)c, 0};
        svc_jw_init(&w);
        svc_jw_string(&w, s);
        expect_same(&w, json_string(s));
        svc_jw_init(&w);
        svc_jw_string(&w, t);
        expect_same(&w, json_string(t));
    }
    /* Every ASCII byte at every position of texts of 1 to 19 bytes, so that it falls in each lane of the
     * word-at-a-time scans (two overlapping 4-byte loads below 8 bytes, 8-byte words and an overlapping
     * tail above) and in the byte loop; also next to UTF-8 (bytes >= 0x80 pass). */
    for (int c = 1; c < 128; c++) {
        for (int n = 1; n <= 19; n++) {
            for (int at = 0; at < n; at++) {
                char u[24];
                memset(u, at % 2 ? 'x' : '\x7f', (size_t)n);
                int utf8_at = n >= 4 ? (at + 2) % (n - 1) : -1;
                if (utf8_at >= 0 && utf8_at != at && utf8_at + 1 != at) memcpy(u + utf8_at, "\xc3\xa9", 2);
                u[at] = (char)c;
                u[n] = '\0';
                svc_jw_init(&w);
                svc_jw_string(&w, u);
                expect_same(&w, json_string(u));
            }
        }
    }
    static const char *const texts[] = {
        "", "caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x98\x80", "a/b\\c\"d", "line\nbreak\ttab\r\x01\x1f"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        svc_jw_init(&w);
        svc_jw_string(&w, texts[i]);
        expect_same(&w, json_string(texts[i]));
    }
}
END_TEST

START_TEST(test_jw_numbers) {
    svc_jw w;
    static const double reals[] = {0.0,
                                   -0.0,
                                   1.0,
                                   -1.0,
                                   0.1,
                                   99.5,
                                   12.34,
                                   1e-7,
                                   1e-5,
                                   1e15,
                                   1e16,
                                   1e20,
                                   1e21,
                                   1.5e-300,
                                   123456789012345678.0,
                                   2.5e-5,
                                   1.7976931348623157e308,
                                   2.2250738585072014e-308,
                                   4.9e-324,
                                   0.30000000000000004};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        svc_jw_init(&w);
        svc_jw_real(&w, reals[i]);
        expect_same(&w, json_real(reals[i]));
    }
    /* Latencies as the routes write them (ns / 1e6), and a spread of magnitudes from a fixed LCG. */
    uint64_t x = 42;
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double v = i % 2 ? (double)(x >> 20) / 1e6 : (double)(int64_t)x * 1e-12 * (double)(i % 97);
        svc_jw_init(&w);
        svc_jw_real(&w, v);
        expect_same(&w, json_real(v));
    }
    /* Short decimals (m / 10^d, written without snprintf) at every d, the edges of that path (1e-4, 10^15,
     * 15 digits) and their neighbours one ulp away, which are not short and take snprintf. */
    for (int d = 0; d <= 11; d++) {
        for (int i = 0; i < 2000; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double m = (double)((x >> 11) % (i % 3 ? 1000000ull : 1000000000000000ull));
            double v = m / pow(10, d) * (i % 5 ? 1 : -1);
            double near[] = {v, nextafter(v, INFINITY), nextafter(v, -INFINITY)};
            for (int k = 0; k < 3; k++) {
                svc_jw_init(&w);
                svc_jw_real(&w, near[k]);
                expect_same(&w, json_real(near[k]));
            }
        }
    }
    static const double edges[] = {
        1e-4,   9.9999e-5, 0.00010000000000001, 999999999999999.0, 1e15 - 0.5, 99999999999999.9, 0.123456789012345, 1.5,
        100.25, 7e-4,      12345.678901234};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            svc_jw_init(&w);
            svc_jw_real(&w, sign * edges[i]);
            expect_same(&w, json_real(sign * edges[i]));
        }
    }
    static const int64_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN, 1000000000000LL};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        svc_jw_init(&w);
        svc_jw_int(&w, ints[i]);
        expect_same(&w, json_integer((json_int_t)ints[i]));
    }
    for (int64_t minor = -250; minor <= 100000; minor += 7) {
        svc_jw_init(&w);
        svc_jw_amount(&w, minor);
        expect_same(&w, svc_amount_json(minor));
    }
}
END_TEST

START_TEST(test_jw_take_and_discard) {
    svc_jw w;
    svc_jw_init(&w);
    size_t len = 99;
    char *empty = svc_jw_take(&w, &len); /* nothing written: "", not NULL */
    ck_assert_str_eq(empty, "");
    ck_assert_uint_eq(len, 0);
    free(empty);
    /* A long document grows the buffer; a taken writer starts over. */
    svc_jw_begin_array(&w);
    for (int i = 0; i < 5000; i++) svc_jw_int(&w, i);
    svc_jw_end_array(&w);
    char *big = svc_jw_take(&w, &len);
    ck_assert_uint_eq(len, strlen(big));
    ck_assert(!strncmp(big, "[0,1,2,", 7) && !strcmp(big + len - 6, ",4999]"));
    free(big);
    svc_jw_begin_object(&w);
    svc_jw_key(&w, "a");
    svc_jw_int(&w, 1);
    svc_jw_end_object(&w);
    char *small = svc_jw_take(&w, NULL);
    ck_assert_str_eq(small, "{\"a\":1}");
    free(small);
    svc_jw_begin_array(&w); /* read back as a tree (for the merges of /list and /history) */
    svc_jw_string(&w, "x\"y");
    svc_jw_real(&w, 2.5);
    svc_jw_end_array(&w);
    json_t *tree = svc_jw_take_tree(&w);
    ck_assert(json_is_array(tree) && json_array_size(tree) == 2);
    ck_assert_str_eq(json_string_value(json_array_get(tree, 0)), "x\"y");
    ck_assert(json_real_value(json_array_get(tree, 1)) == 2.5);
    json_decref(tree);
    svc_jw_begin_object(&w);
    svc_jw_discard(&w); /* abandoned half-way: freed, and the writer is reusable */
    svc_jw_int(&w, 7);
    char *seven = svc_jw_take(&w, NULL);
    ck_assert_str_eq(seven, "7");
    free(seven);
}
END_TEST

/* ---- the JSON reader (jsonr.h): json_loadb's results, faster for plain documents ---- */

/* The two trees are the same document: same types and values (json_equal), same key order and the same
 * real bits (the dumps, with every digit of each real). */
static int same_tree(json_t *a, json_t *b) {
    if (!a || !b) return a == b;
    if (!json_equal(a, b)) return 0;
    char *da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    char *db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    int same = da && db && !strcmp(da, db);
    free(da);
    free(db);
    return same;
}

/* The reader's contract for one text and flags: the fast reader decides only what jansson accepts, with
 * jansson's tree; svc_json_read() gives json_loadb's result and error. Returns whether the fast reader
 * decided the text. */
static int check_reader(const char *text, size_t len, size_t flags) {
    json_error_t jerr, rerr;
    json_t *want = json_loadb(text, len, flags, &jerr);
    json_t *fast = svc_json_read_fast(text, len);
    if (fast && !want) ck_abort_msg("fast reader accepted what jansson rejects: %.*s", (int)len, text);
    if (fast)
        ck_assert_msg(same_tree(fast, want), "fast reader's tree differs from jansson's for %.*s", (int)len, text);
    json_t *got = svc_json_read(text, len, flags, &rerr);
    ck_assert_msg(same_tree(got, want), "svc_json_read differs from json_loadb for %.*s", (int)len, text);
    if (!want) {
        ck_assert_str_eq(rerr.text, jerr.text);
        ck_assert_int_eq(rerr.line, jerr.line);
        ck_assert_int_eq(rerr.column, jerr.column);
        ck_assert_int_eq(rerr.position, jerr.position);
    }
    int decided = fast != NULL;
    json_decref(want);
    json_decref(fast);
    json_decref(got);
    return decided;
}

START_TEST(test_jsonr_reads_plain_documents_itself) {
    static const char *const plain[] = {
        "{\"product_id\":\"1\"}",
        "{\"notification_id\":\"ntf-1-00ab\",\"type\":\"chain\",\"recipient\":\"chain-test\","
        "\"message\":\"chain request for product 1\"}",
        "{\"payment_id\":\"pay-0-1\",\"steps\":[{\"step\":1,\"service\":\"inventory\",\"status\":\"success\","
        "\"latency_ms\":1.234567}],\"overall_status\":\"success\",\"total_time_ms\":12.5}",
        " \t\r\n{ \"a\" : [ 1 , -2 , 0 , -0 , 123456789012345678 , -123456789012345678 ] ,\"b\":{} , \"c\":[] } \n",
        "[true,false,null,\"\",{\"\":1}]",
        "{\"esc\":\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\"}",
        "[0.5,-0.0,1e5,1E-5,2.5e+3,-1.25E2,0.1,1e-320,123456789.123456789]",
        "{\"amount\":100.50,\"currency\":\"USD\",\"quantity\":2}",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        ck_assert_msg(check_reader(plain[i], strlen(plain[i]), 0), "not read by the fast reader: %s", plain[i]);
        ck_assert(check_reader(plain[i], strlen(plain[i]), JSON_REJECT_DUPLICATES));
    }
    /* a long escaped string leaves the stack buffer */
    char big[2000];
    size_t n = 0;
    n += (size_t)sprintf(big, "[\"");
    for (int i = 0; i < 300; i++) n += (size_t)sprintf(big + n, "a\\n");
    n += (size_t)sprintf(big + n, "\"]");
    ck_assert(check_reader(big, n, 0));
    /* the body is not NUL-terminated: only len bytes count */
    ck_assert(check_reader("{\"a\":1}garbage", 7, 0));
}
END_TEST

START_TEST(test_jsonr_leaves_the_rest_to_jansson) {
    static const char *const odd[] = {
        "",
        " ",
        "1",
        "\"a\"",
        "true",
        "null",
        "01",
        "[01]",
        "[1.]",
        "[.5]",
        "[-]",
        "[1e]",
        "[1e+]",
        "[+1]",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{a:1}",
        "{\"a\":1",
        "[1",
        "[1]]",
        "[1] x",
        "[1]\x01",
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":1,\"b\":1}}",
        "[tru]",
        "[truex]",
        "[nul]",
        "[True]",
        "[1x]",
        "[1-2]",
        "[\"\\u0041\"]",
        "[\"\\u0000\"]",
        "[\"\\ud800\"]",
        "[\"\\x\"]",
        "[\"a\x01\"]",
        "[\"a\tb\"]",
        "[\"\xc3\xa9\"]",
        "[\"\xff\"]",
        "[\"abc",
        "[\"abc\\",
        "[1e400]",
        "[-1e400]",
        "[1e309]",
        "[9223372036854775807]",
        "[-9223372036854775808]",
        "[9223372036854775808]",
        "[99999999999999999999]",
        "[1234567890123456789]",
        "[0.000000000000000000000000000000000000000000001]",
        "{\"\":1,\"\":2}",
        "[\"\\/\"]",
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        check_reader(odd[i], strlen(odd[i]), 0);
        check_reader(odd[i], strlen(odd[i]), JSON_REJECT_DUPLICATES);
    }
    check_reader("[1,\0 2]", 7, 0); /* a NUL byte inside */
    /* each byte that ends the fast scan, at every position of strings of 1 to 20 bytes: the eight-byte
     * scan must stop at the right word, and the byte scan find it */
    static const char stops[] = {'"', '\\', '\x01', '\x1f', '\t', '\x80', '\xc3', '\xff'};
    for (size_t k = 0; k < sizeof stops; k++) {
        for (int n = 1; n <= 20; n++) {
            for (int at = 0; at < n; at++) {
                char doc[32];
                doc[0] = '[';
                doc[1] = '"';
                memset(doc + 2, 'a', (size_t)n);
                doc[2 + at] = stops[k];
                if (stops[k] == '\\') doc[2 + at + (at + 1 < n)] = 'n'; /* a valid escape, when there is room */
                doc[2 + n] = '"';
                doc[3 + n] = ']';
                check_reader(doc, (size_t)n + 4, 0);
            }
        }
    }
    /* nesting: the fast reader stops at SVC_JSONR_DEPTH, jansson goes on */
    char deep[200];
    for (int depth = SVC_JSONR_DEPTH - 1; depth <= SVC_JSONR_DEPTH + 2; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        int decided = check_reader(deep, 2 * (size_t)depth, 0);
        ck_assert_int_eq(decided, depth <= SVC_JSONR_DEPTH);
    }
    /* other flags go to jansson untouched */
    json_error_t err;
    json_t *any = svc_json_read("1", 1, JSON_DECODE_ANY, &err);
    ck_assert(json_is_integer(any) && json_integer_value(any) == 1);
    json_decref(any);
}
END_TEST

/* Random documents of every shape the fast reader handles, each read intact and then with bytes
 * replaced, inserted and removed: intact, the fast reader must decide every one; mutated, it must never
 * accept what jansson rejects, and svc_json_read must always equal json_loadb. */
static uint64_t jr_state;
static uint64_t jr_next(void) {
    jr_state ^= jr_state << 13;
    jr_state ^= jr_state >> 7;
    jr_state ^= jr_state << 17;
    return jr_state;
}
static unsigned jr_below(unsigned n) { return (unsigned)(jr_next() % n); }

static void jr_put(char *buf, size_t cap, size_t *len, const char *s) {
    size_t n = strlen(s);
    if (*len + n < cap) {
        memcpy(buf + *len, s, n);
        *len += n;
    }
}

static void jr_string(char *buf, size_t cap, size_t *len) {
    static const char *const pieces[] = {"a",   "Z",   "0",   " ",   "-",   "_", ".", "\\\"", "\\\\", "\\/",
                                         "\\n", "\\t", "\\b", "\\f", "\\r", "~", "{", "]",    ":",    ","};
    jr_put(buf, cap, len, "\"");
    for (unsigned i = jr_below(8); i > 0; i--) jr_put(buf, cap, len, pieces[jr_below(20)]);
    jr_put(buf, cap, len, "\"");
}

static void jr_value(char *buf, size_t cap, size_t *len, int depth) {
    char num[64];
    unsigned kind = jr_below(depth >= 5 ? 6 : 8);
    switch (kind) {
    case 0: jr_string(buf, cap, len); break;
    case 1: /* integers of 1 to 18 digits, either sign */
        snprintf(num, sizeof num, "%s%llu", jr_below(2) ? "-" : "",
                 (unsigned long long)(jr_next() % (jr_below(2) ? 1000ULL : 1000000000000000000ULL)));
        jr_put(buf, cap, len, num);
        break;
    case 2: { /* reals in every form the grammar has */
        static const char *const exps[] = {"", "e5", "E-3", "e+2", "e-300", "E10"};
        snprintf(num, sizeof num, "%s%u%s%s", jr_below(3) ? "" : "-", jr_below(100000), jr_below(3) ? "" : ".0625",
                 exps[jr_below(6)]);
        if (!strchr(num, '.') && !strchr(num, 'e') && !strchr(num, 'E')) strcat(num, ".5");
        jr_put(buf, cap, len, num);
        break;
    }
    case 3: jr_put(buf, cap, len, "true"); break;
    case 4: jr_put(buf, cap, len, "false"); break;
    case 5: jr_put(buf, cap, len, "null"); break;
    case 6:
    case 7: {
        int object = (int)(kind == 6);
        jr_put(buf, cap, len, object ? "{" : "[");
        unsigned n = jr_below(5);
        for (unsigned i = 0; i < n; i++) {
            if (i) jr_put(buf, cap, len, jr_below(4) ? "," : " ,\n");
            if (object) {
                snprintf(num, sizeof num, "\"k%u%s\"%s", i, jr_below(4) ? "" : "\\t", jr_below(3) ? ":" : " : ");
                jr_put(buf, cap, len, num);
            }
            jr_value(buf, cap, len, depth + 1);
        }
        jr_put(buf, cap, len, object ? "}" : "]");
        break;
    }
    }
}

START_TEST(test_jsonr_matches_jansson_on_generated_documents) {
    jr_state = 0x9e3779b97f4a7c15ULL;
    static const char alphabet[] = "{}[]\":,.-+eE0123456789 \\tfnru\x01\x80";
    enum { DOCS = 8000, CAP = 4096 };
    int intact_decided = 0, mutated_decided = 0, mutated = 0;
    for (int d = 0; d < DOCS; d++) {
        char doc[CAP];
        size_t len = 0;
        jr_put(doc, CAP, &len, jr_below(2) ? "{\"root\":" : "[");
        jr_value(doc, CAP, &len, 1);
        jr_put(doc, CAP, &len, doc[0] == '{' ? "}" : "]");
        intact_decided += check_reader(doc, len, JSON_REJECT_DUPLICATES);
        for (int m = 0; m < 3; m++) {
            char bad[CAP + 4];
            memcpy(bad, doc, len);
            size_t blen = len, at = jr_below((unsigned)len);
            char c = alphabet[jr_below(sizeof alphabet - 1)];
            switch (jr_below(3)) {
            case 0: bad[at] = c; break;
            case 1:
                memmove(bad + at + 1, bad + at, blen - at);
                bad[at] = c;
                blen++;
                break;
            default:
                memmove(bad + at, bad + at + 1, blen - at - 1);
                blen--;
                break;
            }
            mutated++;
            mutated_decided += check_reader(bad, blen, m == 0 ? 0 : JSON_REJECT_DUPLICATES);
        }
    }
    ck_assert_int_eq(intact_decided, DOCS); /* the fast reader reads every plain document itself */
    ck_assert_int_gt(mutated_decided, 0);   /* some mutations stay valid: they were compared too */
    ck_assert_int_lt(mutated_decided, mutated);
}
END_TEST

static Suite *helpers_suite(void) {
    Suite *s = suite_create("helpers");
    TCase *tc = tcase_create("money");
    tcase_add_loop_test(tc, test_amount_parse, 0, (int)(sizeof amount_cases / sizeof amount_cases[0]));
    tcase_add_test(tc, test_amount_json);
    tcase_add_test(tc, test_currencies);
    suite_add_tcase(s, tc);
    tc = tcase_create("ids");
    tcase_add_test(tc, test_fnv_known_values);
    tcase_add_test(tc, test_make_id);
    tcase_add_test(tc, test_owner_by_hash);
    tcase_add_test(tc, test_id_acceptable);
    suite_add_tcase(s, tc);
    tc = tcase_create("card");
    tcase_add_loop_test(tc, test_card, 0, (int)(sizeof card_cases / sizeof card_cases[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_table_basic);
    tcase_add_loop_test(tc, test_table_collisions, 0, 2);
    tcase_add_test(tc, test_table_growth);
    tcase_add_loop_test(tc, test_table_random_ops, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("config");
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_every_key);
    tcase_add_loop_test(tc, test_config_bad_value, 0, (int)(sizeof bad_settings / sizeof bad_settings[0]));
    tcase_add_test(tc, test_config_backoff_order);
    tcase_add_test(tc, test_config_ordinal);
    suite_add_tcase(s, tc);
    tc = tcase_create("metrics");
    tcase_add_test(tc, test_metrics_render);
    tcase_add_test(tc, test_metrics_bounds);
    suite_add_tcase(s, tc);
    tc = tcase_create("jsonw");
    tcase_add_test(tc, test_jw_document);
    tcase_add_test(tc, test_jw_raw);
    tcase_add_test(tc, test_jw_strings);
    tcase_add_test(tc, test_jw_numbers);
    tcase_add_test(tc, test_jw_take_and_discard);
    suite_add_tcase(s, tc);
    tc = tcase_create("jsonr");
    tcase_add_test(tc, test_jsonr_reads_plain_documents_itself);
    tcase_add_test(tc, test_jsonr_leaves_the_rest_to_jansson);
    tcase_add_test(tc, test_jsonr_matches_jansson_on_generated_documents);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    int failed = support_run_suite(helpers_suite(), CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
