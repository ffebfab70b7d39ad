/*
 * payment_chain.c: the payment service's stateless routes.
 *
 * POST /payment/chain {"product_id":"1"}: the seed's latency probe through the whole system. Step 1 asks
 * inventory for the product's stock, step 2 sends a notification; each step has its own deadline
 * (CHAIN_STEP_TIMEOUT_MS, 15 s as in the seed) and a failed step does not stop the next. The answer lists
 * every step with its latency and error, and overall_status "success" only when both succeeded.
 *
 * POST /payment/validate {"card_number":"..."}: Luhn check, brand and masked number. The number is never
 * stored or logged (see card.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/core/card.h"
#include "services/core/text.h"
#include "services/payment.h"

#define CHAIN_STEPS 2

typedef struct chain_op {
    payment_op head;
    payment_state *st;
    svc_exchange *ex;
    char product_id[SVC_ID_MAX + 1];
    int step; /* 0-based step in flight */
    int64_t step_started_ns;
    struct {
        int ok;
        double latency_ms;
        char error[32]; /* "HTTP 503", "timeout", ... when not ok */
    } steps[CHAIN_STEPS];
    int failures;
} chain_op;

static const char *const step_service[CHAIN_STEPS] = {"inventory", "notification"};

static void chain_step(chain_op *op);

/* The answer, written directly (jsonw.h): this route is the benchmark's and the simulator's hot path. */
static void chain_reply(chain_op *op) {
    svc_jw w;
    svc_jw_init(&w);
    svc_jw_begin_object(&w);
    svc_jw_key(&w, "steps");
    svc_jw_begin_array(&w);
    for (int i = 0; i < CHAIN_STEPS; i++) {
        svc_jw_begin_object(&w);
        svc_jw_key(&w, "step");
        svc_jw_int(&w, i + 1);
        svc_jw_key(&w, "service");
        svc_jw_string(&w, step_service[i]);
        svc_jw_key(&w, "status");
        svc_jw_string(&w, op->steps[i].ok ? "success" : "failed");
        svc_jw_key(&w, "latency_ms");
        svc_jw_real(&w, op->steps[i].latency_ms);
        if (!op->steps[i].ok) {
            svc_jw_key(&w, "error");
            svc_jw_string(&w, op->steps[i].error);
        }
        svc_jw_end_object(&w);
    }
    svc_jw_end_array(&w);
    svc_jw_key(&w, "overall_status");
    svc_jw_string(&w, op->failures ? "partial_failure" : "success");
    svc_jw_key(&w, "total_time_ms");
    svc_jw_real(&w, (double)svc_ex_elapsed_ns(op->ex) / 1e6);
    svc_jw_key(&w, "product_id");
    svc_jw_string(&w, op->product_id);
    svc_jw_end_object(&w);
    svc_ex_reply_jw(op->ex, 200, &w);
}

static void chain_step_done(void *arg, const svc_call_result *r) {
    chain_op *op = arg;
    int ok = r->outcome == SVC_CALL_OK && r->status >= 200 && r->status < 300;
    op->steps[op->step].ok = ok;
    op->steps[op->step].latency_ms = (double)(svc_now_ns(op->st->shell) - op->step_started_ns) / 1e6;
    if (!ok) {
        op->failures++;
        char *error = op->steps[op->step].error;
        if (r->outcome == SVC_CALL_OK)
            snprintf(error, sizeof op->steps[0].error, "HTTP %d", r->status);
        else
            svc_copy(error, sizeof op->steps[0].error, svc_call_outcome_name(r->outcome));
    }
    op->step++;
    if (op->step < CHAIN_STEPS) {
        chain_step(op);
        return;
    }
    chain_reply(op);
    payment_op_untrack(&op->head);
    free(op);
}

static void chain_step(chain_op *op) {
    payment_state *st = op->st;
    op->step_started_ns = svc_now_ns(st->shell);
    char path[128], body[256];
    svc_call c = {.replica = -1, .timeout_ns = st->cfg->chain_step_timeout_ns};
    if (op->step == 0) {
        svc_append(path, sizeof path, svc_copy(path, sizeof path, "/check/"), op->product_id);
        c.peer = SVC_INVENTORY;
        c.method = "GET";
        c.path = path;
    } else {
        char id[SVC_ID_MAX + 8];
        svc_new_id(st->shell, id, sizeof id, "ntf", -1, st->cfg->replicas[SVC_NOTIFICATION]);
        /* {"notification_id":"<id>","type":"chain","recipient":"chain-test","message":"chain request for
         * product <product>"}: both are [A-Za-z0-9._:-], nothing to escape; 256 bytes hold the longest */
        size_t n = svc_copy(body, sizeof body, "{\"notification_id\":\"");
        n = svc_append(body, sizeof body, n, id);
        n = svc_append(body, sizeof body, n,
                       "\",\"type\":\"chain\",\"recipient\":\"chain-test\",\"message\":\"chain request for product ");
        n = svc_append(body, sizeof body, n, op->product_id);
        n = svc_append(body, sizeof body, n, "\"}");
        c.peer = SVC_NOTIFICATION;
        c.method = "POST";
        c.path = "/send";
        c.body = body;
        c.body_len = n;
    }
    svc_call_retrying(st->shell, &c, chain_step_done, op);
}

void payment_route_chain(void *state, svc_exchange *ex) {
    payment_state *st = state;
    json_t *pid = json_object_get(svc_ex_body(ex), "product_id");
    char product[SVC_ID_MAX + 1] = "1";
    if (json_is_integer(pid)) {
        snprintf(product, sizeof product, "%lld", (long long)json_integer_value(pid));
    } else if (pid) {
        if (!json_is_string(pid) || !svc_id_acceptable(json_string_value(pid))) {
            svc_ex_error(ex, 400, "invalid_field", "product_id must be a string of [A-Za-z0-9._:-]");
            return;
        }
        svc_copy(product, sizeof product, json_string_value(pid));
    }
    chain_op *op = svc_zalloc(sizeof *op);
    op->st = st;
    op->ex = ex;
    op->head.dispose = NULL; /* the op owns nothing besides itself */
    svc_copy(op->product_id, sizeof op->product_id, product);
    payment_op_track(st, &op->head);
    chain_step(op);
}

void payment_route_validate(void *state, svc_exchange *ex) {
    (void)state;
    json_t *number = json_object_get(svc_ex_body(ex), "card_number");
    if (!json_is_string(number)) {
        svc_ex_error(ex, 400, "invalid_field", "card_number is required and must be a string");
        return;
    }
    svc_card_info info;
    char err[128];
    if (svc_card_inspect(json_string_value(number), &info, err, sizeof err) < 0) {
        svc_ex_error(ex, 400, "invalid_card_number", "%s", err);
        return;
    }
    svc_ex_reply(ex, 200,
                 json_pack("{s:b, s:s, s:s, s:s}", "valid", info.luhn_valid, "brand", info.brand, "masked_number",
                           info.masked, "last4", info.last4));
}
