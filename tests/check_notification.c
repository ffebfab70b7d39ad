/*
 * check_notification.c: the notification service (services/notification.c) through its routes: send, its
 * idempotency by notification_id, validation, history (last 50, newest first), the bounded ring, status,
 * and ownership with two replicas.
 */
#include <check.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/ids.h"
#include "services/core/shell.h"
#include "services/modules.h"
#include "tests/support/fake_runtime.h"
#include "tests/support/support.h"

static fake_rt *ntf(const char *const *settings) { return fake_service(&notification_module, settings); }

static fake_reply *send_msg(fake_rt *rt, const char *id, const char *message) {
    json_t *body = json_pack("{s:s, s:s, s:s}", "message", message, "type", "email", "recipient", "bob");
    if (id) json_object_set_new(body, "notification_id", json_string(id));
    char *text = json_dumps(body, JSON_COMPACT);
    fake_reply *r = fake_req(rt, "POST", "/send", text);
    free(text);
    json_decref(body);
    return r;
}

static json_int_t total_count(fake_rt *rt) { return fake_int(fake_req(rt, "GET", "/", NULL), "total_count"); }

START_TEST(test_send) {
    fake_rt *rt = ntf(NULL);
    fake_advance(rt, 1234 * FAKE_MS);
    fake_reply *r = fake_req(rt, "POST", "/send", "{\"message\":\"hello\",\"type\":\"sms\",\"recipient\":\"alice\"}");
    FAKE_EXPECT(r, 200);
    const char *id = fake_str(r, "id");
    ck_assert_int_eq(strncmp(id, "ntf-0-", 6), 0);
    ck_assert_uint_eq(strlen(id), 22);
    ck_assert(svc_id_acceptable(id));
    ck_assert_str_eq(fake_str(r, "status"), "sent");
    ck_assert_str_eq(fake_str(r, "type"), "sms");
    ck_assert_str_eq(fake_str(r, "recipient"), "alice");
    ck_assert_str_eq(fake_str(r, "message"), "hello");
    ck_assert_int_eq(fake_int(r, "created_at_ms"), FAKE_EPOCH_MS + 1234);
    ck_assert(json_is_real(json_object_get(r->json, "timestamp"))); /* the seed's: seconds, a JSON real */
    ck_assert(fake_num(r, "timestamp") == (FAKE_EPOCH_MS + 1234) / 1000.0);
    char path[96];
    snprintf(path, sizeof path, "/status/%s", id);
    fake_reply *s = fake_req(rt, "GET", path, NULL);
    FAKE_EXPECT(s, 200);
    ck_assert(json_equal(s->json, r->json));
    /* The seed's defaults: message "", type "info", recipient "system"; {} and an empty body are valid. */
    r = fake_req(rt, "POST", "/send", "{\"message\":\"x\"}");
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "type"), "info");
    ck_assert_str_eq(fake_str(r, "recipient"), "system");
    ck_assert_str_ne(fake_str(r, "id"), id);
    r = fake_req(rt, "POST", "/send", "{}");
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "message"), "");
    ck_assert_str_eq(fake_str(r, "type"), "info");
    ck_assert_str_eq(fake_str(r, "recipient"), "system");
    FAKE_EXPECT(fake_req(rt, "POST", "/send", ""), 200);
    ck_assert_int_eq(total_count(rt), 4);
    ck_assert_int_eq(fake_int(fake_req(rt, "GET", "/", NULL), "history_capacity"), 1000);
    ck_assert_uint_eq(fake_journal_count(rt), 0); /* best-effort records: not journaled */
    fake_free(rt);
}
END_TEST

START_TEST(test_send_idempotent) {
    fake_rt *rt = ntf(NULL);
    fake_reply *a = send_msg(rt, "n-1", "first");
    FAKE_EXPECT(a, 200);
    ck_assert_str_eq(fake_str(a, "id"), "n-1");
    fake_advance(rt, 5 * FAKE_MS);
    fake_reply *b = send_msg(rt, "n-1", "second");
    FAKE_EXPECT(b, 200);
    ck_assert(json_is_true(json_object_get(b->json, "idempotent_replay")));
    ck_assert(!json_object_get(a->json, "idempotent_replay"));
    json_object_del(b->json, "idempotent_replay");
    ck_assert(json_equal(a->json, b->json)); /* the stored record, not the new text */
    ck_assert_str_eq(fake_str(b, "message"), "first");
    ck_assert_int_eq(total_count(rt), 1);
    fake_reply *h = fake_req(rt, "GET", "/history", NULL);
    ck_assert_int_eq(fake_int(h, "count"), 1);
    ck_assert_int_eq(fake_int(h, "total_count"), 1);
    fake_free(rt);
}
END_TEST

static const char *const bad_sends[] = {
    "{\"message\":5}",
    "{\"message\":null}",
    "{\"message\":[\"a\"]}",
    "{\"message\":\"a\\u0000b\"}",
    "{\"message\":\"ok\",\"type\":5}",
    "{\"message\":\"ok\",\"type\":\"123456789012345678901234567890123\"}",
    "{\"message\":\"ok\",\"recipient\":false}",
    "{\"message\":\"ok\",\"notification_id\":\"a b\"}",
    "{\"message\":\"ok\",\"notification_id\":\"\"}",
    "{\"message\":\"ok\",\"notification_id\":12}",
    "{\"message\":\"ok\",\"notification_id\":\"n/1\"}",
    "[\"message\"]",
    "{\"message\":\"a\",\"message\":\"b\"}",
};

START_TEST(test_send_rejected) {
    fake_rt *rt = ntf(NULL);
    FAKE_EXPECT(send_msg(rt, "keep", "kept"), 200);
    fake_reply *r = fake_req(rt, "POST", "/send", bad_sends[_i]);
    FAKE_EXPECT(r, 400);
    ck_assert_ptr_nonnull(fake_str(r, "error"));
    ck_assert_int_eq(total_count(rt), 1);
    fake_reply *h = fake_req(rt, "GET", "/history", NULL);
    ck_assert_int_eq(fake_int(h, "count"), 1);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(h->json, "notifications"), 0), "id")), "keep");
    fake_free(rt);
}
END_TEST

START_TEST(test_send_length_limits) {
    fake_rt *rt = ntf(NULL);
    char msg[2002], body[2100];
    memset(msg, 'm', sizeof msg);
    msg[2000] = '\0';
    snprintf(body, sizeof body, "{\"message\":\"%s\"}", msg);
    FAKE_EXPECT(fake_req(rt, "POST", "/send", body), 200); /* exactly 2000 */
    msg[2000] = 'm';
    msg[2001] = '\0';
    snprintf(body, sizeof body, "{\"message\":\"%s\"}", msg);
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/send", body), 400, "invalid_field");
    char rec[140];
    memset(rec, 'r', 128);
    rec[128] = '\0';
    snprintf(body, sizeof body, "{\"message\":\"x\",\"recipient\":\"%s\"}", rec);
    FAKE_EXPECT(fake_req(rt, "POST", "/send", body), 200);
    snprintf(body, sizeof body, "{\"message\":\"x\",\"recipient\":\"%sr\"}", rec);
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/send", body), 400, "invalid_field");
    char id[80];
    memset(id, 'i', 64);
    id[64] = '\0';
    snprintf(body, sizeof body, "{\"message\":\"x\",\"notification_id\":\"%s\"}", id);
    FAKE_EXPECT(fake_req(rt, "POST", "/send", body), 200);
    snprintf(body, sizeof body, "{\"message\":\"x\",\"notification_id\":\"%si\"}", id);
    FAKE_EXPECT_ERROR(fake_req(rt, "POST", "/send", body), 400, "invalid_field");
    ck_assert_int_eq(total_count(rt), 3);
    fake_free(rt);
}
END_TEST

/* History: the last 50, newest first, whether or not the clock moved between sends. */
START_TEST(test_history_last_50) {
    fake_rt *rt = ntf(NULL);
    char id[16], msg[16];
    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "h-%02d", i);
        snprintf(msg, sizeof msg, "m%d", i);
        FAKE_EXPECT(send_msg(rt, id, msg), 200);
        if (_i == 1) fake_advance(rt, FAKE_MS); /* loop 0: all in the same millisecond */
    }
    fake_reply *h = fake_req(rt, "GET", "/history", NULL);
    FAKE_EXPECT(h, 200);
    json_t *list = json_object_get(h->json, "notifications");
    ck_assert_uint_eq(json_array_size(list), 50);
    ck_assert_int_eq(fake_int(h, "count"), 50);
    ck_assert_int_eq(fake_int(h, "total_count"), 60);
    ck_assert(json_is_real(json_object_get(h->json, "timestamp")));
    ck_assert(json_is_real(json_object_get(json_array_get(list, 0), "timestamp")));
    ck_assert(json_is_true(json_object_get(h->json, "complete")));
    for (int k = 0; k < 50; k++) {
        snprintf(id, sizeof id, "h-%02d", 59 - k);
        const char *got = json_string_value(json_object_get(json_array_get(list, (size_t)k), "id"));
        ck_assert_msg(!strcmp(got, id), "history[%d] is %s, expected %s", k, got, id);
    }
    fake_free(rt);
}
END_TEST

START_TEST(test_ring_bounded) {
    fake_rt *rt = ntf((const char *const[]){"NOTIFICATION_HISTORY=5", NULL});
    char id[16], path[32];
    for (int i = 0; i < 8; i++) {
        snprintf(id, sizeof id, "b-%d", i);
        FAKE_EXPECT(send_msg(rt, id, id), 200);
    }
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof path, "/status/b-%d", i);
        fake_reply *r = fake_req(rt, "GET", path, NULL);
        if (i < 3) {
            FAKE_EXPECT_ERROR(r, 404, "not_found");
        } else {
            FAKE_EXPECT(r, 200);
            ck_assert_str_eq(fake_str(r, "message"), path + 8);
        }
    }
    fake_reply *h = fake_req(rt, "GET", "/history", NULL);
    json_t *list = json_object_get(h->json, "notifications");
    ck_assert_uint_eq(json_array_size(list), 5);
    ck_assert_int_eq(fake_int(h, "total_count"), 8);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")), "b-7");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 4), "id")), "b-3");
    /* A forgotten id is new again: it is stored, not answered as a repeat. */
    FAKE_EXPECT(send_msg(rt, "b-0", "again"), 200);
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", "/status/b-3", NULL), 404, "not_found");
    ck_assert_int_eq(fake_int(fake_req(rt, "GET", "/", NULL), "history_capacity"), 5);
    fake_free(rt);
}
END_TEST

/* Memory stays flat once the ring is full (measured on glibc's heap; ASan's allocator is not visible to
 * mallinfo2, so under ASan this only checks that nothing leaks). */
START_TEST(test_ring_memory_flat) {
    fake_rt *rt = ntf((const char *const[]){"NOTIFICATION_HISTORY=100", "LOG_LEVEL=off", NULL});
    char big[1500];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 300; i++) send_msg(rt, NULL, big);
    fake_forget(rt);
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 3000; i++) {
        send_msg(rt, NULL, big);
        if (i % 500 == 0) fake_forget(rt);
    }
    fake_forget(rt);
    size_t after = mallinfo2().uordblks;
    ck_assert_msg(after < before + 64 * 1024, "heap grew from %zu to %zu bytes", before, after);
    ck_assert_int_eq(total_count(rt), 3300);
    fake_free(rt);
}
END_TEST

START_TEST(test_status_unknown) {
    fake_rt *rt = ntf(NULL);
    fake_reply *r = fake_req(rt, "GET", "/status/ntf-0-0000000000000000", NULL);
    FAKE_EXPECT_ERROR(r, 404, "not_found");
    /* the seed's 404 fields beside ours */
    ck_assert_str_eq(fake_str(r, "id"), "ntf-0-0000000000000000");
    ck_assert_str_eq(fake_str(r, "status"), "not_found");
    r = fake_req(rt, "GET", "/status/nope", NULL);
    FAKE_EXPECT_ERROR(r, 404, "not_found");
    ck_assert_str_eq(fake_str(r, "id"), "nope");
    r = fake_req(rt, "GET",
                 "/status/a\x01\xc3"
                 "b",
                 NULL);
    FAKE_EXPECT_ERROR(r, 404, "not_found"); /* bytes that cannot be echoed in JSON are shown as '?' */
    ck_assert_str_eq(fake_str(r, "id"), "a??b");
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", "/status/a%20b", NULL), 404, "not_found");
    FAKE_EXPECT_ERROR(fake_req(rt, "GET", "/status/", NULL), 404, "not_found");
    r = fake_req(rt, "POST", "/status/x", "{}");
    FAKE_EXPECT_ERROR(r, 405, "method_not_allowed");
    ck_assert_str_eq(r->allow, "GET, HEAD");
    fake_free(rt);
}
END_TEST

static const int two_notifications[SVC_PEER_COUNT] = {0, 0, 2};

START_TEST(test_ownership_two_replicas) {
    fake_cluster *cl = fake_cluster_new(two_notifications, NULL);
    fake_rt *n0 = fake_node(cl, SVC_NOTIFICATION, 0), *n1 = fake_node(cl, SVC_NOTIFICATION, 1);
    /* An id naming replica 1, sent to replica 0: stored once, on replica 1. */
    fake_reply *r = send_msg(n0, "ntf-1-00000000000000aa", "owned by one");
    FAKE_EXPECT(r, 200);
    ck_assert_uint_eq(fake_cluster_routed(cl, n0, SVC_NOTIFICATION, 1), 1);
    ck_assert_int_eq(total_count(n1), 1);
    ck_assert_int_eq(total_count(n0), 0);
    FAKE_EXPECT(send_msg(n1, "ntf-1-00000000000000aa", "repeat"), 200);
    FAKE_EXPECT(send_msg(n0, "ntf-1-00000000000000aa", "repeat"), 200);
    ck_assert_int_eq(total_count(n1), 1);
    /* Status from either replica. */
    r = fake_req(n0, "GET", "/status/ntf-1-00000000000000aa", NULL);
    FAKE_EXPECT(r, 200);
    ck_assert_str_eq(fake_str(r, "message"), "owned by one");
    /* No id: stored where it arrived, under an id naming that replica, and found from the other one. */
    fake_advance(n0, 10 * FAKE_MS);
    fake_reply *local = send_msg(n0, NULL, "local to zero");
    FAKE_EXPECT(local, 200);
    ck_assert_int_eq(strncmp(fake_str(local, "id"), "ntf-0-", 6), 0);
    char path[64];
    snprintf(path, sizeof path, "/status/%s", fake_str(local, "id"));
    FAKE_EXPECT(fake_req(n1, "GET", path, NULL), 200);
    /* History merges both, newest first. */
    fake_advance(n0, 10 * FAKE_MS);
    FAKE_EXPECT(send_msg(n1, NULL, "newest on one"), 200);
    fake_reply *h = fake_req(n0, "GET", "/history", NULL);
    FAKE_EXPECT(h, 200);
    json_t *list = json_object_get(h->json, "notifications");
    ck_assert_uint_eq(json_array_size(list), 3);
    ck_assert_int_eq(fake_int(h, "total_count"), 3);
    ck_assert(json_is_true(json_object_get(h->json, "complete")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "message")), "newest on one");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 1), "message")), "local to zero");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 2), "message")), "owned by one");
    /* Replica 1 down: its records are unavailable, never made up. */
    fake_cluster_set_down(cl, SVC_NOTIFICATION, 1, SVC_CALL_REFUSED);
    FAKE_EXPECT_ERROR(fake_req(n0, "GET", "/status/ntf-1-00000000000000aa", NULL), 503, "owner_unavailable");
    h = fake_req(n0, "GET", "/history", NULL);
    FAKE_EXPECT(h, 200);
    ck_assert(json_is_false(json_object_get(h->json, "complete")));
    ck_assert_uint_eq(json_array_size(json_object_get(h->json, "notifications")), 1);
    ck_assert_int_eq(fake_int(h, "total_count"), 1);
    fake_cluster_free(cl);
}
END_TEST

START_TEST(test_idempotency_off_stores_twice) {
    fake_rt *rt = ntf((const char *const[]){"IDEMPOTENCY=off", NULL});
    fake_reply *a = send_msg(rt, "n-1", "one");
    fake_reply *b = send_msg(rt, "n-1", "two");
    FAKE_EXPECT(a, 200);
    FAKE_EXPECT(b, 200);
    ck_assert_str_eq(fake_str(a, "id"), "n-1");
    ck_assert_str_eq(fake_str(b, "id"), "n-1~2");
    ck_assert_int_eq(total_count(rt), 2);
    fake_free(rt);
}
END_TEST

static Suite *notification_suite(void) {
    Suite *s = suite_create("notification");
    TCase *tc = tcase_create("send");
    tcase_add_test(tc, test_send);
    tcase_add_test(tc, test_send_idempotent);
    tcase_add_loop_test(tc, test_send_rejected, 0, (int)(sizeof bad_sends / sizeof bad_sends[0]));
    tcase_add_test(tc, test_send_length_limits);
    tcase_add_test(tc, test_idempotency_off_stores_twice);
    suite_add_tcase(s, tc);
    tc = tcase_create("history");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_history_last_50, 0, 2);
    tcase_add_test(tc, test_ring_bounded);
    tcase_add_test(tc, test_ring_memory_flat);
    tcase_add_test(tc, test_status_unknown);
    suite_add_tcase(s, tc);
    tc = tcase_create("ownership");
    tcase_add_test(tc, test_ownership_two_replicas);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    int failed = support_run_suite(notification_suite(), CK_NORMAL, 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
