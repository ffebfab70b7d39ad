/*
 * check_inventory.c: the inventory service (services/inventory.c) through its routes, with the fake runtime:
 * the seed catalogue, reserve/release semantics and their idempotency, the journal, replay, ownership with
 * two replicas, and the IDEMPOTENCY=off demonstration switch.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/ids.h"
#include "services/core/shell.h"
#include "services/inventory.h"
#include "services/modules.h"
#include "tests/support/fake_runtime.h"
#include "tests/support/support.h"

static fake_rt *inv(const char *const *settings) { return fake_service(&inventory_module, settings); }

static const support_product *const seed = support_seed_catalogue; /* the seed's, names in UTF-8 */

/* Everything a request could change: per-product counters, live reservations, the journal. */
typedef struct snapshot {
    inventory_stock stock[8];
    char ids[8][72]; /* copies: stock[].product_id points into the state, which a restart replaces */
    size_t products;
    int64_t held_total;
    size_t held_count;
    size_t journal;
} snapshot;

static void count_held(void *ctx, const char *rid, const char *product_id, int64_t quantity) {
    (void)rid;
    (void)product_id;
    snapshot *s = ctx;
    s->held_total += quantity;
    s->held_count++;
}

static snapshot snap(fake_rt *rt) {
    snapshot s;
    memset(&s, 0, sizeof s);
    s.products = inventory_product_count(fake_state(rt));
    for (size_t i = 0; i < s.products && i < 8; i++) {
        inventory_product_stock(fake_state(rt), i, &s.stock[i]);
        snprintf(s.ids[i], sizeof s.ids[i], "%s", s.stock[i].product_id);
    }
    inventory_foreach_held(fake_state(rt), count_held, &s);
    s.journal = fake_journal_count(rt);
    return s;
}

static void assert_same(const snapshot *a, const snapshot *b) {
    ck_assert_uint_eq(a->products, b->products);
    for (size_t i = 0; i < a->products && i < 8; i++) {
        ck_assert_str_eq(a->ids[i], b->ids[i]);
        ck_assert_int_eq(a->stock[i].available, b->stock[i].available);
        ck_assert_int_eq(a->stock[i].reserved, b->stock[i].reserved);
        ck_assert_int_eq(a->stock[i].released, b->stock[i].released);
    }
    ck_assert_int_eq(a->held_total, b->held_total);
    ck_assert_uint_eq(a->held_count, b->held_count);
    ck_assert_uint_eq(a->journal, b->journal);
}

static int64_t available(fake_rt *rt, size_t index) {
    inventory_stock s;
    ck_assert_int_eq(inventory_product_stock(fake_state(rt), index, &s), 0);
    return s.available;
}

static fake_reply *reserve(fake_rt *rt, const char *product, int qty, const char *rid) {
    char body[256];
    if (rid)
        snprintf(body, sizeof body, "{\"product_id\":\"%s\",\"quantity\":%d,\"reservation_id\":\"%s\"}", product, qty,
                 rid);
    else
        snprintf(body, sizeof body, "{\"product_id\":\"%s\",\"quantity\":%d}", product, qty);
    return fake_req(rt, "POST", "/reserve", body);
}

static fake_reply *release(fake_rt *rt, const char *product, const char *rid) {
    char body[256];
    snprintf(body, sizeof body, "{\"reservation_id\":\"%s\",\"product_id\":\"%s\"}", rid, product);
    return fake_req(rt, "POST", "/release", body);
}

/* ---- catalogue ---- */

START_TEST(test_seed_catalogue) {
    fake_rt *rt = inv(NULL);
    for (size_t i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof path, "/check/%s", seed[i].id);
        fake_reply *r = fake_req(rt, "GET", path, NULL);
        FAKE_EXPECT(r, 200);
        ck_assert_str_eq(fake_str(r, "product_id"), seed[i].id);
        ck_assert_str_eq(fake_str(r, "name"), seed[i].name);
        ck_assert_int_eq(fake_int(r, "stock_count"), seed[i].stock);
        ck_assert(json_is_true(json_object_get(r->json, "available")));
        ck_assert(json_is_integer(json_object_get(r->json, "price")));
        ck_assert_int_eq(fake_int(r, "price"), seed[i].price);
        ck_assert(json_is_real(json_object_get(r->json, "timestamp")));
        inventory_stock s;
        ck_assert_int_eq(inventory_product_stock(fake_state(rt), i, &s), 0);
        ck_assert_str_eq(s.product_id, seed[i].id);
        ck_assert_int_eq(s.owned, 1);
        ck_assert_int_eq(s.initial, seed[i].stock);
        ck_assert_int_eq(s.available, seed[i].stock);
        ck_assert_int_eq(s.reserved + s.released, 0);
    }
    ck_assert_int_eq(inventory_product_stock(fake_state(rt), 5, &(inventory_stock){0}), -1);
    fake_reply *unknown = fake_req(rt, "GET", "/check/99", NULL);
    FAKE_EXPECT_ERROR(unknown, 404, "unknown_product");
    ck_assert_str_eq(fake_str(unknown, "product_id"), "99"); /* the seed's 404 fields */
    ck_assert(json_is_false(json_object_get(unknown->json, "available")));
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", "/check/1%20", NULL), 404, "unknown_product");
    fake_reply *l = fake_req(rt, "GET", "/list", NULL);
    FAKE_EXPECT(l, 200);
    json_t *products = json_object_get(l->json, "products");
    ck_assert_uint_eq(json_array_size(products), 5);
    ck_assert_int_eq(fake_int(l, "count"), 5);
    ck_assert(json_is_true(json_object_get(l->json, "complete")));
    for (size_t i = 0; i < 5; i++) {
        json_t *p = json_array_get(products, i);
        ck_assert_str_eq(json_string_value(json_object_get(p, "product_id")), seed[i].id);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "stock_count")), seed[i].stock);
        /* the seed's names for the same fields */
        ck_assert_str_eq(json_string_value(json_object_get(p, "id")), seed[i].id);
        ck_assert_str_eq(json_string_value(json_object_get(p, "name")), seed[i].name);
        ck_assert_int_eq(json_integer_value(json_object_get(p, "stock")), seed[i].stock);
        ck_assert(json_is_integer(json_object_get(p, "price")));
    }
    ck_assert(json_is_real(json_object_get(l->json, "timestamp")));
    fake_reply *root = fake_req(rt, "GET", "/", NULL);
    ck_assert_int_eq(fake_int(root, "products"), 5);
    ck_assert_int_eq(fake_int(root, "owned_products"), 5);
    ck_assert_str_eq(fake_str(fake_req(rt, "GET", "/health", NULL), "service"), "inventory-service");
    fake_reply *r = fake_req(rt, "GET", "/reserve", NULL);
    FAKE_EXPECT_ERROR(r, 405, "method_not_allowed");
    ck_assert_str_eq(r->allow, "POST");
    fake_free(rt);
}
END_TEST

START_TEST(test_catalogue_replaced) {
    fake_rt *rt =
        inv((const char *const[]){"CATALOGUE=[{\"id\":\"sku-a\",\"name\":\"Anvil\",\"stock\":1000000,\"price\":9.99},"
                                  "{\"id\":\"sku-b\",\"name\":\"Bell\",\"stock\":0,\"price\":1}]",
                                  NULL});
    fake_reply *r = fake_req(rt, "GET", "/check/sku-a", NULL);
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "name"), "Anvil");
    ck_assert_int_eq(fake_int(r, "stock_count"), 1000000);
    ck_assert(fake_num(r, "price") == 9.99);
    r = fake_req(rt, "GET", "/check/sku-b", NULL);
    ck_assert(json_is_false(json_object_get(r->json, "available")));
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", "/check/1", NULL), 404, "unknown_product");
    ck_assert_uint_eq(inventory_product_count(fake_state(rt)), 2);
    FAKE_EXPECT(reserve(rt, "sku-a", 999999, "big"), 200);
    ck_assert_int_eq(available(rt, 0), 1);
    FAKE_EXPECT_ERROR(reserve(rt, "sku-b", 1, NULL), 400, "insufficient_stock");
    fake_free(rt);
}
END_TEST

static const char *const bad_catalogues[] = {
    "not json",
    "[]",
    "{}",
    "[1]",
    "[{\"id\":\"a b\",\"name\":\"x\",\"stock\":1,\"price\":1}]",
    "[{\"id\":\"a\",\"stock\":1,\"price\":1}]",
    "[{\"id\":\"a\",\"name\":\"x\",\"stock\":-1,\"price\":1}]",
    "[{\"id\":\"a\",\"name\":\"x\",\"stock\":\"5\",\"price\":1}]",
    "[{\"id\":\"a\",\"name\":\"x\",\"stock\":1000000001,\"price\":1}]",
    "[{\"id\":\"a\",\"name\":\"x\",\"stock\":1}]",
    "[{\"id\":\"a\",\"name\":\"x\",\"stock\":1,\"price\":0}]",
    "[{\"id\":\"a\",\"name\":\"x\",\"stock\":1,\"price\":1.001}]",
    "[{\"id\":\"a\",\"name\":\"x\",\"stock\":1,\"price\":\"1\"}]",
    "[{\"id\":\"a\",\"name\":\"x\",\"stock\":1,\"price\":1},{\"id\":\"a\",\"name\":\"y\",\"stock\":1,\"price\":1}]",
    "[{\"id\":\"a\",\"name\":\""
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "\",\"stock\":1,\"price\":1}]",
    "[{\"id\":\"a\",\"id\":\"b\",\"name\":\"x\",\"stock\":1,\"price\":1}]",
};

START_TEST(test_bad_catalogue_rejected) {
    char setting[512];
    snprintf(setting, sizeof setting, "CATALOGUE=%s", bad_catalogues[_i]);
    char err[256] = "";
    ck_assert_msg(fake_service_error(&inventory_module, (const char *const[]){setting, NULL}, err, sizeof err) == -1,
                  "accepted: %s", bad_catalogues[_i]);
    ck_assert_msg(strstr(err, "catalogue") != NULL, "error does not say catalogue: %s", err);
}
END_TEST

/* ---- reserve ---- */

START_TEST(test_reserve_decrements) {
    fake_rt *rt = inv(NULL);
    fake_journal_hold(rt, 1);
    fake_reply *r = reserve(rt, "1", 3, "r-1");
    ck_assert(!r->done); /* not before the journal has it */
    ck_assert_uint_eq(fake_journal_count(rt), 1);
    ck_assert_int_eq(available(rt, 0), 47); /* taken at once, so a concurrent request sees it gone */
    fake_journal_hold(rt, 0);
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "reservation_id"), "r-1");
    ck_assert_str_eq(fake_str(r, "product_id"), "1");
    ck_assert_int_eq(fake_int(r, "quantity"), 3);
    ck_assert_int_eq(fake_int(r, "remaining"), 47);
    ck_assert_str_eq(fake_str(r, "status"), "reserved");
    ck_assert(json_is_real(json_object_get(r->json, "timestamp")));
    ck_assert(fake_trace_find(rt, "durable inventory-0 reserve", 0) < fake_trace_find(rt, "reply inventory-0 200", 0));
    json_t *rec = fake_journal_json(rt, 0);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "t")), "reserve");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "rid")), "r-1");
    ck_assert_str_eq(json_string_value(json_object_get(rec, "product")), "1");
    ck_assert_int_eq(json_integer_value(json_object_get(rec, "qty")), 3);
    ck_assert_int_eq(fake_int(fake_req(rt, "GET", "/check/1", NULL), "stock_count"), 47);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "r-1"), 3);
    inventory_stock s;
    inventory_product_stock(fake_state(rt), 0, &s);
    ck_assert_int_eq(s.reserved, 3);
    ck_assert_int_eq(s.initial, 50);
    /* No reservation id: one is made up; quantity defaults to 1. */
    r = fake_req(rt, "POST", "/reserve", "{\"product_id\":\"2\"}");
    FAKE_EXPECT(r, 200);
    ck_assert_int_eq(fake_int(r, "quantity"), 1);
    ck_assert_int_eq(strncmp(fake_str(r, "reservation_id"), "res-0-", 6), 0);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), fake_str(r, "reservation_id")), 1);
    ck_assert_int_eq(available(rt, 1), 99);
    fake_free(rt);
}
END_TEST

START_TEST(test_reserve_short) {
    fake_rt *rt = inv(NULL);
    snapshot before = snap(rt);
    fake_reply *r = reserve(rt, "3", 31, "r-short");
    FAKE_EXPECT_ERROR(r, 400, "insufficient_stock"); /* the seed's status and its `available` */
    ck_assert_int_eq(fake_int(r, "available"), 30);
    snapshot after = snap(rt);
    assert_same(&before, &after);
    /* A short answer takes nothing and leaves no record: the same id can reserve what is there. */
    r = reserve(rt, "3", 30, "r-short");
    FAKE_EXPECT(r, 200);
    ck_assert_int_eq(fake_int(r, "remaining"), 0);
    r = fake_req(rt, "GET", "/check/3", NULL);
    ck_assert(json_is_false(json_object_get(r->json, "available")));
    ck_assert_int_eq(fake_int(r, "stock_count"), 0);
    r = reserve(rt, "3", 1, "r-more");
    FAKE_EXPECT_ERROR(r, 400, "insufficient_stock");
    ck_assert_int_eq(fake_int(r, "available"), 0);
    r = reserve(rt, "99", 1, "r-unknown");
    FAKE_EXPECT_ERROR(r, 400, "unknown_product"); /* the seed: 400, available 0 */
    ck_assert_int_eq(fake_int(r, "available"), 0);
    ck_assert_int_eq(available(rt, 2), 0);
    fake_free(rt);
}
END_TEST

START_TEST(test_reserve_idempotent) {
    fake_rt *rt = inv(NULL);
    fake_reply *first = reserve(rt, "4", 5, "r-i");
    FAKE_EXPECT(first, 200);
    snapshot before = snap(rt);
    fake_reply *again = reserve(rt, "4", 5, "r-i");
    FAKE_EXPECT(again, 200);
    ck_assert(json_is_true(json_object_get(again->json, "idempotent_replay")));
    ck_assert_str_eq(fake_str(again, "reservation_id"), "r-i");
    ck_assert_str_eq(fake_str(again, "product_id"), "4");
    ck_assert_int_eq(fake_int(again, "quantity"), 5);
    ck_assert_int_eq(fake_int(again, "remaining"), 195);
    ck_assert_str_eq(fake_str(again, "status"), "reserved");
    snapshot after = snap(rt);
    assert_same(&before, &after); /* stock taken once, nothing journaled twice */
    FAKE_EXPECT_ERROR(reserve(rt, "4", 6, "r-i"), 422, "reservation_mismatch");
    FAKE_EXPECT_ERROR(reserve(rt, "5", 5, "r-i"), 422, "reservation_mismatch");
    after = snap(rt);
    assert_same(&before, &after);
    ck_assert_int_eq(available(rt, 3), 195);
    fake_free(rt);
}
END_TEST

/* ---- release ---- */

START_TEST(test_release_once) {
    fake_rt *rt = inv(NULL);
    FAKE_EXPECT(reserve(rt, "2", 10, "r-r"), 200);
    fake_journal_hold(rt, 1);
    fake_reply *r = release(rt, "2", "r-r");
    ck_assert(!r->done);
    fake_journal_hold(rt, 0);
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "reservation_id"), "r-r");
    ck_assert_int_eq(fake_int(r, "quantity_released"), 10);
    ck_assert_int_eq(fake_int(r, "stock_count"), 100);
    ck_assert_str_eq(fake_str(r, "status"), "released");
    ck_assert_str_eq(fake_journal_type(rt, 1), "release");
    ck_assert_str_eq(json_string_value(json_object_get(fake_journal_json(rt, 1), "rid")), "r-r");
    inventory_stock s;
    inventory_product_stock(fake_state(rt), 1, &s);
    ck_assert_int_eq(s.available, 100);
    ck_assert_int_eq(s.reserved, 0);
    ck_assert_int_eq(s.released, 10);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "r-r"), 0);
    /* Again: acknowledged, nothing given back twice. */
    r = release(rt, "2", "r-r");
    FAKE_EXPECT(r, 200);
    ck_assert_int_eq(fake_int(r, "quantity_released"), 0);
    ck_assert_int_eq(fake_int(r, "stock_count"), 100);
    inventory_product_stock(fake_state(rt), 1, &s);
    ck_assert_int_eq(s.released, 10);
    /* A released reservation cannot come back. */
    FAKE_EXPECT_ERROR(reserve(rt, "2", 10, "r-r"), 409, "reservation_released");
    ck_assert_int_eq(available(rt, 1), 100);
    fake_free(rt);
}
END_TEST

START_TEST(test_release_unknown_leaves_tombstone) {
    fake_rt *rt = inv(NULL);
    fake_reply *r = release(rt, "1", "r-late");
    FAKE_EXPECT(r, 200);
    ck_assert_int_eq(fake_int(r, "quantity_released"), 0);
    ck_assert_int_eq(fake_int(r, "stock_count"), 50);
    ck_assert_uint_eq(fake_journal_count(rt), 1); /* the tombstone is durable too */
    /* The reserve that arrives after its payment gave up is refused. */
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(reserve(rt, "1", 2, "r-late"), 409, "reservation_released");
    snapshot after = snap(rt);
    assert_same(&before, &after);
    ck_assert_int_eq(available(rt, 0), 50);
    fake_free(rt);
}
END_TEST

static const struct {
    const char *body;
    int status;
    const char *code;
} bad_releases[] = {
    {"{\"product_id\":\"1\"}", 400, "invalid_field"},
    {"{\"reservation_id\":\"\",\"product_id\":\"1\"}", 400, "invalid_field"},
    {"{\"reservation_id\":\"a b\",\"product_id\":\"1\"}", 400, "invalid_field"},
    {"{\"reservation_id\":7,\"product_id\":\"1\"}", 400, "invalid_field"},
    {"{\"reservation_id\":\"r-x\"}", 400, "invalid_field"},
    {"{\"reservation_id\":\"r-x\",\"product_id\":1}", 400, "invalid_field"},
    {"{\"reservation_id\":\"r-x\",\"product_id\":\"99\"}", 404, "unknown_product"},
    {"{\"reservation_id\":\"r-keep\",\"product_id\":\"2\"}", 422, "reservation_mismatch"},
};

START_TEST(test_release_rejected) {
    fake_rt *rt = inv(NULL);
    FAKE_EXPECT(reserve(rt, "1", 4, "r-keep"), 200);
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/release", bad_releases[_i].body), bad_releases[_i].status,
                      bad_releases[_i].code);
    snapshot after = snap(rt);
    assert_same(&before, &after);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "r-keep"), 4);
    fake_free(rt);
}
END_TEST

static const struct {
    const char *body;
    int status;
} bad_reserves[] = {
    {"{\"quantity\":1}", 400},
    {"{\"product_id\":1,\"quantity\":1}", 400},
    {"{\"product_id\":null}", 400},
    {"{\"product_id\":\"99\",\"quantity\":1}", 400},
    {"{\"product_id\":\"1\",\"quantity\":0}", 400},
    {"{\"product_id\":\"1\",\"quantity\":-1}", 400},
    {"{\"product_id\":\"1\",\"quantity\":1.5}", 400},
    {"{\"product_id\":\"1\",\"quantity\":\"2\"}", 400},
    {"{\"product_id\":\"1\",\"quantity\":1000001}", 400},
    {"{\"product_id\":\"1\",\"quantity\":true}", 400},
    {"{\"product_id\":\"1\",\"reservation_id\":\"a b\"}", 400},
    {"{\"product_id\":\"1\",\"reservation_id\":5}", 400},
    {"{\"product_id\":\"1\",\"reservation_id\":\"\"}", 400},
    {"{\"product_id\":\"1\",\"quantity\":51}", 400},
    {"[{\"product_id\":\"1\"}]", 400},
    {"{\"product_id\":\"1\",\"product_id\":\"2\"}", 400},
};

START_TEST(test_reserve_rejected) {
    fake_rt *rt = inv(NULL);
    FAKE_EXPECT(reserve(rt, "1", 1, "r-base"), 200);
    FAKE_EXPECT(reserve(rt, "1", 1, "r-base2"), 200);
    FAKE_EXPECT(release(rt, "1", "r-base2"), 200);
    snapshot before = snap(rt);
    fake_reply *r = fake_req(rt, "POST", "/reserve", bad_reserves[_i].body);
    FAKE_EXPECT(r, bad_reserves[_i].status);
    ck_assert_ptr_nonnull(fake_str(r, "error"));
    snapshot after = snap(rt);
    assert_same(&before, &after);
    fake_free(rt);
}
END_TEST

START_TEST(test_capacity) {
    fake_rt *rt = inv((const char *const[]){"RESERVATION_CAPACITY=2", NULL});
    FAKE_EXPECT(reserve(rt, "1", 1, "c-1"), 200);
    FAKE_EXPECT(reserve(rt, "1", 1, "c-2"), 200);
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(reserve(rt, "1", 1, "c-3"), 503, "capacity");
    FAKE_EXPECT_ERROR(release(rt, "1", "c-unknown"), 503, "capacity");
    FAKE_EXPECT(reserve(rt, "1", 1, "c-1"), 200); /* a repeat needs no room */
    FAKE_EXPECT(release(rt, "1", "c-1"), 200);    /* nor a release of a known id */
    snapshot after = snap(rt);
    ck_assert_int_eq(after.stock[0].available, before.stock[0].available + 1);
    fake_free(rt);
}
END_TEST

/* ---- journal ---- */

START_TEST(test_journal_failure_changes_nothing) {
    fake_rt *rt = inv(NULL);
    FAKE_EXPECT(reserve(rt, "5", 20, "j-0"), 200);
    snapshot before = snap(rt);
    fake_journal_fail_next(rt, 5);
    FAKE_EXPECT_ERROR(reserve(rt, "5", 7, "j-1"), 503, "journal_unavailable");
    snapshot after = snap(rt);
    assert_same(&before, &after);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "j-1"), 0);
    /* Not acknowledged, so not remembered: the retry is a fresh reserve. */
    FAKE_EXPECT(reserve(rt, "5", 7, "j-1"), 200);
    ck_assert_int_eq(available(rt, 4), 473);
    /* A release that cannot be made durable is reported as failed; the retry is acknowledged and journaled. */
    fake_journal_fail_next(rt, 5);
    FAKE_EXPECT_ERROR(release(rt, "5", "j-1"), 503, "journal_unavailable");
    size_t n = fake_journal_count(rt);
    FAKE_EXPECT(release(rt, "5", "j-1"), 200);
    ck_assert_uint_eq(fake_journal_count(rt), n + 1);
    ck_assert_str_eq(fake_journal_type(rt, n), "release");
    ck_assert_int_eq(available(rt, 4), 480);
    fake_free(rt);
}
END_TEST

/* A release that arrives while the reserve is still being written, and the reserve's write then fails: the
 * stock must be given back exactly once. */
START_TEST(test_failed_reserve_write_after_release) {
    fake_rt *rt = inv(NULL);
    fake_journal_hold(rt, 1);
    fake_journal_fail_next(rt, 5);
    fake_reply *res = reserve(rt, "1", 5, "race-1");
    fake_reply *rel = release(rt, "1", "race-1");
    ck_assert(!res->done && !rel->done);
    fake_journal_hold(rt, 0);
    FAKE_EXPECT_ERROR(res, 503, "journal_unavailable");
    FAKE_EXPECT(rel, 200);
    inventory_stock s;
    inventory_product_stock(fake_state(rt), 0, &s);
    ck_assert_int_eq(s.available, 50);
    ck_assert_int_eq(s.reserved, 0);
    ck_assert_int_eq(s.available + s.reserved, s.initial);
    /* The id stays released: a late retry of that reserve is refused. */
    FAKE_EXPECT_ERROR(reserve(rt, "1", 5, "race-1"), 409, "reservation_released");
    fake_restart(rt);
    ck_assert_int_eq(available(rt, 0), 50);
    fake_free(rt);
}
END_TEST

START_TEST(test_replay_rebuilds) {
    fake_rt *rt = inv(NULL);
    FAKE_EXPECT(reserve(rt, "1", 3, "p-1"), 200);
    FAKE_EXPECT(reserve(rt, "2", 4, "p-2"), 200);
    FAKE_EXPECT(reserve(rt, "2", 6, "p-3"), 200);
    FAKE_EXPECT(release(rt, "2", "p-2"), 200);
    FAKE_EXPECT(release(rt, "3", "p-gone"), 200); /* tombstone */
    fake_journal_fail_next(rt, 5);
    FAKE_EXPECT(reserve(rt, "4", 1, "p-lost"), 503); /* never acknowledged: must not come back */
    snapshot before = snap(rt);
    fake_restart(rt);
    snapshot after = snap(rt);
    assert_same(&before, &after);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "p-1"), 3);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "p-2"), 0);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "p-3"), 6);
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "p-lost"), 0);
    ck_assert_int_eq(fake_int(fake_req(rt, "GET", "/check/2", NULL), "stock_count"), 94);
    /* Idempotency survives the restart. */
    FAKE_EXPECT(reserve(rt, "1", 3, "p-1"), 200);
    FAKE_EXPECT_ERROR(reserve(rt, "2", 4, "p-2"), 409, "reservation_released");
    FAKE_EXPECT_ERROR(reserve(rt, "3", 1, "p-gone"), 409, "reservation_released");
    FAKE_EXPECT(reserve(rt, "4", 1, "p-lost"), 200);
    ck_assert_int_eq(available(rt, 0), 47);
    fake_free(rt);
}
END_TEST

START_TEST(test_replay_rejects_garbage) {
    fake_rt *rt = fake_service_unstarted(&inventory_module, NULL);
    char err[256] = "";
    const char *bad[] = {"{\"t\":\"reserve\",\"rid\":\"x\",\"product\":\"99\",\"qty\":1}",
                         "{\"t\":\"reserve\",\"rid\":\"x\",\"product\":\"1\",\"qty\":0}",
                         "{\"t\":\"reserve\",\"product\":\"1\",\"qty\":1}",
                         "{\"t\":\"steal\",\"rid\":\"x\",\"product\":\"1\"}",
                         "{\"t\":\"restock\",\"rid\":\"x\",\"product\":\"1\",\"qty\":0}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(svc_shell_replay(fake_shell(rt), bad[i], strlen(bad[i]), err, sizeof err) == -1, "accepted %s",
                      bad[i]);
    ck_assert_int_eq(available(rt, 0), 50);
    fake_free(rt);
}
END_TEST

/* ---- restock (operator) ---- */

static fake_reply *restock(fake_rt *rt, const char *product, int qty, const char *id) {
    char body[256];
    snprintf(body, sizeof body, "{\"product_id\":\"%s\",\"quantity\":%d,\"restock_id\":\"%s\"}", product, qty, id);
    return fake_req(rt, "POST", "/restock", body);
}

START_TEST(test_restock_refills_once) {
    fake_rt *rt = inv(NULL);
    FAKE_EXPECT(reserve(rt, "1", 50, "empty-it"), 200);
    FAKE_EXPECT_ERROR(reserve(rt, "1", 1, "one-more"), 400, "insufficient_stock");
    /* journaled before the stock grows: nothing to reserve while the write is pending */
    fake_journal_hold(rt, 1);
    fake_reply *r = restock(rt, "1", 20, "refill-1");
    ck_assert(!r->done);
    ck_assert_int_eq(available(rt, 0), 0);
    FAKE_EXPECT_ERROR(restock(rt, "1", 20, "refill-1"), 409, "restock_in_progress");
    fake_journal_hold(rt, 0);
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "restock_id"), "refill-1");
    ck_assert_str_eq(fake_str(r, "status"), "restocked");
    ck_assert_int_eq(fake_int(r, "stock_count"), 20);
    ck_assert(json_is_real(json_object_get(r->json, "timestamp")));
    ck_assert_int_eq(available(rt, 0), 20);
    /* a retry adds nothing and says so; another id adds again */
    fake_reply *again = restock(rt, "1", 20, "refill-1");
    FAKE_EXPECT(again, 200);
    ck_assert(json_is_true(json_object_get(again->json, "idempotent_replay")));
    ck_assert_int_eq(available(rt, 0), 20);
    FAKE_EXPECT_ERROR(restock(rt, "1", 21, "refill-1"), 422, "restock_mismatch");
    FAKE_EXPECT_ERROR(restock(rt, "2", 20, "refill-1"), 422, "restock_mismatch");
    FAKE_EXPECT(restock(rt, "1", 5, "refill-2"), 200);
    inventory_stock s;
    inventory_product_stock(fake_state(rt), 0, &s);
    ck_assert_int_eq(s.restocked, 25);
    ck_assert_int_eq(s.available + s.reserved, s.initial + s.restocked);
    FAKE_EXPECT(reserve(rt, "1", 25, "after"), 200);
    /* a restart replays it: same stock, and the id is still known */
    fake_restart(rt);
    ck_assert_int_eq(available(rt, 0), 0);
    inventory_product_stock(fake_state(rt), 0, &s);
    ck_assert_int_eq(s.restocked, 25);
    FAKE_EXPECT(restock(rt, "1", 20, "refill-1"), 200);
    ck_assert_int_eq(available(rt, 0), 0);
    fake_free(rt);
}
END_TEST

START_TEST(test_restock_journal_failure) {
    fake_rt *rt = inv(NULL);
    fake_journal_fail_next(rt, 5);
    FAKE_EXPECT_ERROR(restock(rt, "3", 10, "r-fail"), 503, "journal_unavailable");
    ck_assert_int_eq(available(rt, 2), 30);
    /* not durable, so forgotten: the retry does it */
    FAKE_EXPECT(restock(rt, "3", 10, "r-fail"), 200);
    ck_assert_int_eq(available(rt, 2), 40);
    fake_free(rt);
}
END_TEST

static const struct {
    const char *body;
    int status;
} bad_restocks[] = {
    {"{\"quantity\":1,\"restock_id\":\"x\"}", 400},
    {"{\"product_id\":\"99\",\"quantity\":1,\"restock_id\":\"x\"}", 404},
    {"{\"product_id\":\"1\",\"restock_id\":\"x\"}", 400},
    {"{\"product_id\":\"1\",\"quantity\":0,\"restock_id\":\"x\"}", 400},
    {"{\"product_id\":\"1\",\"quantity\":-5,\"restock_id\":\"x\"}", 400},
    {"{\"product_id\":\"1\",\"quantity\":2.5,\"restock_id\":\"x\"}", 400},
    {"{\"product_id\":\"1\",\"quantity\":1000001,\"restock_id\":\"x\"}", 400},
    {"{\"product_id\":\"1\",\"quantity\":1}", 400},
    {"{\"product_id\":\"1\",\"quantity\":1,\"restock_id\":\"a b\"}", 400},
    {"{\"product_id\":\"1\",\"quantity\":1,\"restock_id\":7}", 400},
    {"{}", 400},
};

START_TEST(test_restock_rejected) {
    fake_rt *rt = inv(NULL);
    snapshot before = snap(rt);
    fake_reply *r = fake_req(rt, "POST", "/restock", bad_restocks[_i].body);
    FAKE_EXPECT(r, bad_restocks[_i].status);
    ck_assert_ptr_nonnull(fake_str(r, "error"));
    snapshot after = snap(rt);
    assert_same(&before, &after);
    fake_free(rt);
}
END_TEST

START_TEST(test_restock_stock_limit) {
    fake_rt *rt =
        inv((const char *const[]){"CATALOGUE=[{\"id\":\"a\",\"name\":\"A\",\"stock\":999999999,\"price\":1}]", NULL});
    FAKE_EXPECT(restock(rt, "a", 1, "to-the-limit"), 200);
    FAKE_EXPECT_ERROR(restock(rt, "a", 1, "over"), 409, "stock_limit");
    ck_assert_int_eq(available(rt, 0), 1000000000);
    fake_free(rt);
}
END_TEST

/* ---- ownership with two replicas ---- */

static const int two_inventories[SVC_PEER_COUNT] = {0, 2, 0};

START_TEST(test_forwarded_to_owner) {
    ck_assert_int_eq(svc_owner_of_key("2", 2), 1); /* product 2 is replica 1's */
    ck_assert_int_eq(svc_owner_of_key("1", 2), 0);
    fake_cluster *cl = fake_cluster_new(two_inventories, NULL);
    fake_rt *i0 = fake_node(cl, SVC_INVENTORY, 0), *i1 = fake_node(cl, SVC_INVENTORY, 1);
    fake_reply *r = reserve(i0, "2", 10, "o-1");
    FAKE_EXPECT(r, 200);
    ck_assert_int_eq(fake_int(r, "remaining"), 90);
    ck_assert_uint_eq(fake_cluster_routed(cl, i0, SVC_INVENTORY, 1), 1);
    ck_assert(fake_trace_find(i0, "call inventory-0 -> inventory#1 POST /reserve fwd", 0) >= 0);
    /* The stock lives on the owner only: replica 0's copy is the untouched catalogue. */
    inventory_stock s0, s1;
    inventory_product_stock(fake_state(i0), 1, &s0);
    inventory_product_stock(fake_state(i1), 1, &s1);
    ck_assert_int_eq(s0.owned, 0);
    ck_assert_int_eq(s0.available, 100);
    ck_assert_int_eq(s1.owned, 1);
    ck_assert_int_eq(s1.available, 90);
    ck_assert_uint_eq(fake_journal_count(i0), 0);
    ck_assert_uint_eq(fake_journal_count(i1), 1);
    /* Asked anywhere, the answer is the owner's. */
    ck_assert_int_eq(fake_int(fake_req(i0, "GET", "/check/2", NULL), "stock_count"), 90);
    ck_assert_int_eq(fake_int(fake_req(i1, "GET", "/check/2", NULL), "stock_count"), 90);
    /* The repeat through the other replica is still idempotent, and the release is forwarded too. */
    FAKE_EXPECT(reserve(i1, "2", 10, "o-1"), 200);
    FAKE_EXPECT(release(i0, "2", "o-1"), 200);
    inventory_product_stock(fake_state(i1), 1, &s1);
    ck_assert_int_eq(s1.available, 100);
    ck_assert_int_eq(s1.released, 10);
    /* A restock goes to the owner too. */
    FAKE_EXPECT(fake_req(i0, "POST", "/restock", "{\"product_id\":\"2\",\"quantity\":7,\"restock_id\":\"o-r\"}"), 200);
    inventory_product_stock(fake_state(i1), 1, &s1);
    ck_assert_int_eq(s1.available, 107);
    inventory_product_stock(fake_state(i0), 1, &s0);
    ck_assert_int_eq(s0.restocked, 0);
    /* Product 1 is replica 0's: asked there, no forwarding. */
    size_t before = fake_calls_total(i0);
    FAKE_EXPECT(reserve(i0, "1", 1, "o-2"), 200);
    ck_assert_uint_eq(fake_calls_total(i0), before);
    /* A forwarded request that reaches a non-owner is refused, not served from the wrong copy. */
    fake_req_opts fwd = {.forwarded = 1};
    FAKE_EXPECT_ERROR(fake_req_ex(i0, "GET", "/check/2", NULL, &fwd), 421, "misdirected");
    /* The owner down: 503, and nothing changes on the replica that was asked. */
    fake_cluster_set_down(cl, SVC_INVENTORY, 1, SVC_CALL_REFUSED);
    FAKE_EXPECT_ERROR(reserve(i0, "2", 1, "o-3"), 503, "owner_unavailable");
    fake_cluster_set_down(cl, SVC_INVENTORY, 1, SVC_CALL_TIMEOUT);
    FAKE_EXPECT_ERROR(fake_req(i0, "GET", "/check/4", NULL), 504, "owner_unavailable");
    inventory_product_stock(fake_state(i0), 1, &s0);
    ck_assert_int_eq(s0.available, 100);
    fake_cluster_free(cl);
}
END_TEST

START_TEST(test_list_merges_replicas) {
    fake_cluster *cl = fake_cluster_new(two_inventories, NULL);
    fake_rt *i0 = fake_node(cl, SVC_INVENTORY, 0), *i1 = fake_node(cl, SVC_INVENTORY, 1);
    FAKE_EXPECT(reserve(i0, "1", 5, "l-1"), 200); /* owner 0 */
    FAKE_EXPECT(reserve(i0, "4", 7, "l-2"), 200); /* owner 1 */
    const int want[5] = {45, 100, 30, 193, 500};
    for (int at = 0; at < 2; at++) {
        fake_reply *r = fake_req(at ? i1 : i0, "GET", "/list", NULL);
        FAKE_EXPECT(r, 200);
        json_t *products = json_object_get(r->json, "products");
        ck_assert_uint_eq(json_array_size(products), 5);
        ck_assert(json_is_true(json_object_get(r->json, "complete")));
        ck_assert_uint_eq(json_array_size(json_object_get(r->json, "unavailable_replicas")), 0);
        for (size_t i = 0; i < 5; i++) {
            json_t *p = json_array_get(products, i);
            ck_assert_str_eq(json_string_value(json_object_get(p, "product_id")), seed[i].id);
            ck_assert_int_eq(json_integer_value(json_object_get(p, "stock_count")), want[i]);
            ck_assert_str_eq(json_string_value(json_object_get(p, "name")), seed[i].name);
        }
    }
    /* The local view holds only what the replica owns. */
    fake_reply *local = fake_req(i1, "GET", "/list?scope=local", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(local->json, "products")), 2);
    ck_assert_int_eq(fake_int(local, "replica"), 1);
    /* Replica 1 down: what replica 0 owns, marked incomplete. */
    fake_cluster_set_down(cl, SVC_INVENTORY, 1, SVC_CALL_REFUSED);
    fake_reply *r = fake_req(i0, "GET", "/list", NULL);
    FAKE_EXPECT(r, 200);
    ck_assert(json_is_false(json_object_get(r->json, "complete")));
    json_t *un = json_object_get(r->json, "unavailable_replicas");
    ck_assert_uint_eq(json_array_size(un), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(un, 0)), 1);
    json_t *products = json_object_get(r->json, "products");
    ck_assert_uint_eq(json_array_size(products), 3);
    ck_assert_int_eq(fake_int(r, "count"), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(products, 0), "product_id")), "1");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(products, 0), "stock_count")), 45);
    fake_cluster_free(cl);
}
END_TEST

/* ---- IDEMPOTENCY=off (demonstration only) ---- */

START_TEST(test_idempotency_off_takes_twice) {
    fake_rt *rt = inv((const char *const[]){"IDEMPOTENCY=off", NULL});
    fake_reply *a = reserve(rt, "1", 5, "dup");
    fake_reply *b = reserve(rt, "1", 5, "dup");
    FAKE_EXPECT(a, 200);
    FAKE_EXPECT(b, 200);
    ck_assert_str_eq(fake_str(a, "reservation_id"), "dup");
    ck_assert_str_eq(fake_str(b, "reservation_id"), "dup~2");
    ck_assert_int_eq(available(rt, 0), 40);
    ck_assert_uint_eq(fake_journal_count(rt), 2);
    /* No tombstones: a reserve after the release of an unknown id goes through. */
    FAKE_EXPECT(release(rt, "1", "ghost"), 200);
    FAKE_EXPECT(reserve(rt, "1", 1, "ghost"), 200);
    ck_assert_int_eq(available(rt, 0), 39);
    /* Replay agrees. */
    snapshot before = snap(rt);
    fake_restart(rt);
    snapshot after = snap(rt);
    assert_same(&before, &after);
    fake_free(rt);
}
END_TEST

/* ---- hostile callers ---- */

static fake_reply *call_as(fake_rt *rt, const char *path, const char *body, svc_auth service, int forwarded) {
    fake_req_opts o = {.service = service, .forwarded = forwarded};
    return fake_req_ex(rt, body ? "POST" : "GET", path, body, &o);
}

START_TEST(test_mutations_need_the_service_credential) {
    fake_rt *rt = inv(NULL);
    const char *res = "{\"product_id\":\"1\",\"quantity\":2,\"reservation_id\":\"a-1\"}";
    const char *rel = "{\"product_id\":\"1\",\"reservation_id\":\"a-1\"}";
    FAKE_EXPECT(call_as(rt, "/reserve", res, SVC_AUTH_VALID, 0), 200);
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(call_as(rt, "/release", rel, SVC_AUTH_MISSING, 0), 401, "unauthenticated");
    FAKE_EXPECT_ERROR(call_as(rt, "/release", rel, SVC_AUTH_WRONG, 0), 403, "forbidden");
    FAKE_EXPECT_ERROR(call_as(rt, "/reserve", res, SVC_AUTH_MISSING, 0), 401, "unauthenticated");
    FAKE_EXPECT_ERROR(call_as(rt, "/reserve", "{\"product_id\":\"1\"}", SVC_AUTH_WRONG, 0), 403, "forbidden");
    /* A restock is the operator's: with the credential configured, it must be sent. */
    const char *refill = "{\"product_id\":\"1\",\"quantity\":5,\"restock_id\":\"op-1\"}";
    FAKE_EXPECT_ERROR(call_as(rt, "/restock", refill, SVC_AUTH_MISSING, 0), 401, "unauthenticated");
    FAKE_EXPECT_ERROR(call_as(rt, "/restock", refill, SVC_AUTH_WRONG, 0), 403, "forbidden");
    /* The forwarding mark (answer from your own records) is for replicas only. */
    FAKE_EXPECT_ERROR(call_as(rt, "/list", NULL, SVC_AUTH_MISSING, 1), 401, "unauthenticated");
    {
        snapshot now = snap(rt);
        assert_same(&before, &now);
    }
    /* Reads stay open. */
    FAKE_EXPECT(call_as(rt, "/check/1", NULL, SVC_AUTH_MISSING, 0), 200);
    FAKE_EXPECT(call_as(rt, "/release", rel, SVC_AUTH_VALID, 0), 200);
    ck_assert_int_eq(available(rt, 0), 50);
    FAKE_EXPECT(call_as(rt, "/restock", refill, SVC_AUTH_VALID, 0), 200);
    ck_assert_int_eq(available(rt, 0), 55);
    fake_free(rt);
}
END_TEST

START_TEST(test_release_only_by_its_holder) {
    fake_rt *rt = inv(NULL);
    FAKE_EXPECT(fake_req(rt, "POST", "/reserve",
                         "{\"product_id\":\"1\",\"quantity\":3,\"reservation_id\":\"res-pay-0-a\","
                         "\"payment_id\":\"pay-0-a\"}"),
                200);
    snapshot before = snap(rt);
    FAKE_EXPECT_ERROR(release(rt, "1", "res-pay-0-a"), 403, "not_holder");
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/release",
                               "{\"product_id\":\"1\",\"reservation_id\":\"res-pay-0-a\",\"payment_id\":\"pay-0-b\"}"),
                      403, "not_holder");
    /* Nor may another payment take it over by repeating the reserve. */
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/reserve",
                               "{\"product_id\":\"1\",\"quantity\":3,\"reservation_id\":\"res-pay-0-a\","
                               "\"payment_id\":\"pay-0-b\"}"),
                      422, "reservation_mismatch");
    {
        snapshot now = snap(rt);
        assert_same(&before, &now);
    }
    FAKE_EXPECT(fake_req(rt, "POST", "/release",
                         "{\"product_id\":\"1\",\"reservation_id\":\"res-pay-0-a\",\"payment_id\":\"pay-0-a\"}"),
                200);
    ck_assert_int_eq(available(rt, 0), 50);
    /* The holder survives a restart (it is in the journal). */
    FAKE_EXPECT(fake_req(rt, "POST", "/reserve",
                         "{\"product_id\":\"2\",\"quantity\":1,\"reservation_id\":\"res-pay-0-c\","
                         "\"payment_id\":\"pay-0-c\"}"),
                200);
    fake_restart(rt);
    FAKE_EXPECT_ERROR(release(rt, "2", "res-pay-0-c"), 403, "not_holder");
    fake_free(rt);
}
END_TEST

/* Releases of ids nobody reserved (a flood, or payments that all failed) leave tombstones; they make way for
 * new reservations instead of filling the table for good, also after a restart. */
START_TEST(test_tombstone_flood_does_not_lock_out) {
    fake_rt *rt = inv((const char *const[]){"RESERVATION_CAPACITY=8", NULL});
    FAKE_EXPECT(reserve(rt, "1", 1, "held-1"), 200);
    for (int i = 0; i < 100; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "flood-%d", i);
        FAKE_EXPECT(release(rt, "1", rid), 200);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3; i++) {
            char rid[32];
            snprintf(rid, sizeof rid, "ok-%d-%d", round, i);
            FAKE_EXPECT(reserve(rt, "1", 1, rid), 200);
        }
        fake_restart(rt);
    }
    ck_assert_int_eq(inventory_reservation_quantity(fake_state(rt), "held-1"), 1);
    ck_assert_int_eq(available(rt, 0), 43);
    /* The youngest tombstones are still there: a late reserve of one is refused. */
    FAKE_EXPECT_ERROR(reserve(rt, "1", 1, "flood-99"), 409, "reservation_released");
    fake_free(rt);
}
END_TEST

static Suite *inventory_suite(void) {
    Suite *s = suite_create("inventory");
    TCase *tc = tcase_create("catalogue");
    tcase_add_test(tc, test_seed_catalogue);
    tcase_add_test(tc, test_catalogue_replaced);
    tcase_add_loop_test(tc, test_bad_catalogue_rejected, 0, (int)(sizeof bad_catalogues / sizeof bad_catalogues[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("reserve_release");
    tcase_add_test(tc, test_reserve_decrements);
    tcase_add_test(tc, test_reserve_short);
    tcase_add_test(tc, test_reserve_idempotent);
    tcase_add_test(tc, test_release_once);
    tcase_add_test(tc, test_release_unknown_leaves_tombstone);
    tcase_add_loop_test(tc, test_release_rejected, 0, (int)(sizeof bad_releases / sizeof bad_releases[0]));
    tcase_add_loop_test(tc, test_reserve_rejected, 0, (int)(sizeof bad_reserves / sizeof bad_reserves[0]));
    tcase_add_test(tc, test_capacity);
    tcase_add_test(tc, test_restock_refills_once);
    tcase_add_test(tc, test_restock_journal_failure);
    tcase_add_loop_test(tc, test_restock_rejected, 0, (int)(sizeof bad_restocks / sizeof bad_restocks[0]));
    tcase_add_test(tc, test_restock_stock_limit);
    suite_add_tcase(s, tc);
    tc = tcase_create("journal");
    tcase_add_test(tc, test_journal_failure_changes_nothing);
    tcase_add_test(tc, test_failed_reserve_write_after_release);
    tcase_add_test(tc, test_replay_rebuilds);
    tcase_add_test(tc, test_replay_rejects_garbage);
    suite_add_tcase(s, tc);
    tc = tcase_create("ownership");
    tcase_add_test(tc, test_forwarded_to_owner);
    tcase_add_test(tc, test_list_merges_replicas);
    tcase_add_test(tc, test_idempotency_off_takes_twice);
    tcase_add_test(tc, test_mutations_need_the_service_credential);
    tcase_add_test(tc, test_release_only_by_its_holder);
    tcase_add_test(tc, test_tombstone_flood_does_not_lock_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    int failed = support_run_suite(inventory_suite(), CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
