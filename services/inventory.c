/*
 * inventory.c: the inventory service's logic (port 5003).
 *
 * Routes: GET /check/<product_id>, POST /reserve, POST /release, GET /list (plus the shell's built-ins).
 *
 * One owner per product: product p's stock lives only on replica fnv1a(p) mod INVENTORY_REPLICAS; any other
 * replica forwards the request there, so two replicas never hold two stock counts for one product. Every
 * replica knows the whole catalogue (names, prices) to validate requests without asking.
 *
 * Reservations are idempotent by reservation_id: a repeated reserve returns the first result and takes no
 * more stock; a release of an id never seen leaves a tombstone so that a late reserve with that id is
 * refused (the payment gave up on it). Both are journaled before they are acknowledged, and replayed at
 * start-up, so an acknowledged reservation survives a crash. With IDEMPOTENCY=off (a demonstration switch)
 * a repeated reserve takes stock again under a derived id and releases leave no tombstone.
 *
 * Holders: a reserve may name the payment it is for ("payment_id"); a held reservation with a holder is then
 * released only by a release that names the same payment (403 otherwise), so that one payment cannot give
 * back another's stock. Capacity: released reservations and tombstones are the first to go when the table
 * is full (oldest first), so a flood of releases or failed payments cannot lock out new reservations; only
 * held reservations count against RESERVATION_CAPACITY for good. Evicting a tombstone re-opens its id to a
 * late reserve, which at worst holds stock that no payment owns (never an oversell).
 *
 * Ownership: the inventory_state owns its products, reservations and operation contexts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "services/core/ids.h"
#include "services/core/money.h"
#include "services/core/shell.h"
#include "services/core/table.h"

#define NAME_MAX_LEN 64
#define QUANTITY_MAX 1000000
#define CATALOGUE_MAX 10000

typedef struct product {
    char id[SVC_ID_MAX + 1];
    char name[NAME_MAX_LEN + 1];
    int64_t price_minor;
    int64_t initial;  /* stock at start, from the catalogue */
    int64_t stock;    /* available now (meaningful on the owner only) */
    int64_t reserved; /* held by live reservations (owner only) */
    int64_t released; /* total given back by releases (owner only) */
} product;

enum reservation_state { RES_HELD = 1, RES_RELEASED = 2 };

typedef struct reservation {
    char id[SVC_ID_MAX + 8];     /* room for the "~N" suffix of duplicates when idempotency is off */
    char holder[SVC_ID_MAX + 1]; /* the payment it was reserved for, or "" */
    size_t product;              /* index into products */
    int64_t quantity;
    int state;
    int pending;   /* its reserve is waiting for the journal: not evicted meanwhile */
    pc_link freed; /* in inventory_state.released once released (oldest first) */
} reservation;

typedef struct inventory_state {
    svc_shell *shell;
    const svc_config *cfg;
    product *products;
    size_t product_count;
    svc_table product_index;
    svc_table reservations;
    pc_link released; /* released reservations and tombstones, oldest first: evicted first */
    pc_link ops;      /* operations waiting for the journal */
} inventory_state;

/* ---- catalogue ---- */

static const char default_catalogue[] =
    "[{\"id\":\"1\",\"name\":\"Laptop\",\"stock\":50,\"price\":15000},"
    "{\"id\":\"2\",\"name\":\"Phone\",\"stock\":100,\"price\":8000},"
    "{\"id\":\"3\",\"name\":\"Tablet\",\"stock\":30,\"price\":5000},"
    "{\"id\":\"4\",\"name\":\"Headphones\",\"stock\":200,\"price\":500},"
    "{\"id\":\"5\",\"name\":\"Charger\",\"stock\":500,\"price\":150}]";

static int load_catalogue(inventory_state *st, const char *text, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *arr = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!arr || !json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > CATALOGUE_MAX) {
        snprintf(err, errlen, "catalogue: expected a JSON array of 1..%d products%s%s", CATALOGUE_MAX, arr ? "" : ": ",
                 arr ? "" : jerr.text);
        json_decref(arr);
        return -1;
    }
    size_t n = json_array_size(arr);
    st->products = calloc(n, sizeof *st->products);
    if (!st->products || svc_table_init(&st->product_index, n * 2) < 0) {
        snprintf(err, errlen, "out of memory");
        json_decref(arr);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(arr, i);
        const char *id = NULL, *name = NULL;
        json_int_t stock = -1;
        json_t *price = NULL;
        if (json_unpack(item, "{s:s, s:s, s:I, s:o}", "id", &id, "name", &name, "stock", &stock, "price", &price) !=
                0 ||
            !svc_id_acceptable(id) || strlen(name) > NAME_MAX_LEN || stock < 0 || stock > 1000000000) {
            snprintf(err, errlen,
                     "catalogue item %zu: needs id (1..%d of [A-Za-z0-9._:-]), name (<= %d chars), "
                     "stock (0..1e9) and price",
                     i, SVC_ID_MAX, NAME_MAX_LEN);
            json_decref(arr);
            return -1;
        }
        product *p = &st->products[i];
        char perr[128];
        if (svc_amount_parse(price, &p->price_minor, perr, sizeof perr) < 0) {
            snprintf(err, errlen, "catalogue item %zu (%s): price: %s", i, id, perr);
            json_decref(arr);
            return -1;
        }
        snprintf(p->id, sizeof p->id, "%s", id);
        snprintf(p->name, sizeof p->name, "%s", name);
        p->initial = p->stock = stock;
        if (svc_table_get(&st->product_index, p->id)) {
            snprintf(err, errlen, "catalogue: duplicate product id %s", id);
            json_decref(arr);
            return -1;
        }
        svc_table_put(&st->product_index, p->id, p);
        st->product_count++;
    }
    json_decref(arr);
    return 0;
}

static product *find_product(inventory_state *st, const char *id) { return svc_table_get(&st->product_index, id); }

static int owner_of_product(inventory_state *st, const char *id) {
    return svc_owner_of_key(id, st->cfg->replicas[SVC_INVENTORY]);
}

static int owns_product(inventory_state *st, const product *p) {
    return owner_of_product(st, p->id) == st->cfg->replica;
}

/* A product as its answers show it. Written directly (jsonw.h): /check is on every chain. */
static void product_write(svc_jw *w, const product *p) {
    svc_jw_begin_object(w);
    svc_jw_key(w, "product_id");
    svc_jw_string(w, p->id);
    svc_jw_key(w, "name");
    svc_jw_string(w, p->name);
    svc_jw_key(w, "available");
    svc_jw_bool(w, p->stock > 0);
    svc_jw_key(w, "stock_count");
    svc_jw_int(w, p->stock);
    svc_jw_key(w, "price");
    svc_jw_amount(w, p->price_minor);
    svc_jw_end_object(w);
}

/* The same product as a tree, for the /list merges (one field list: read back from the writer's text). */
static json_t *product_json(const product *p) {
    svc_jw w;
    svc_jw_init(&w);
    product_write(&w, p);
    return svc_jw_take_tree(&w);
}

/* ---- state changes (shared by requests and journal replay) ---- */

/* Evicts released reservations and tombstones, oldest first, until a new entry fits under the capacity.
 * Returns 0 when there is room. */
static int make_room(inventory_state *st) {
    pc_link *l = st->released.next;
    while (st->reservations.count >= st->cfg->reservation_capacity && l != &st->released) {
        reservation *r = PC_CONTAINER_OF(l, reservation, freed);
        l = l->next;
        if (r->pending) continue;
        pc_list_remove(&r->freed);
        svc_table_remove(&st->reservations, r->id);
        free(r);
    }
    return st->reservations.count < st->cfg->reservation_capacity ? 0 : -1;
}

static void mark_released(inventory_state *st, reservation *r) {
    r->state = RES_RELEASED;
    pc_list_push(&st->released, &r->freed);
}

static reservation *apply_reserve(inventory_state *st, const char *rid, product *p, int64_t qty, const char *holder) {
    reservation *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->id, sizeof r->id, "%s", rid);
    snprintf(r->holder, sizeof r->holder, "%s", holder ? holder : "");
    r->product = (size_t)(p - st->products);
    r->quantity = qty;
    r->state = RES_HELD;
    if (svc_table_put(&st->reservations, r->id, r) < 0) {
        free(r);
        return NULL;
    }
    p->stock -= qty;
    p->reserved += qty;
    return r;
}

/* Releases a held reservation, or records a tombstone for an unknown id. Returns the quantity given back. */
static int64_t apply_release(inventory_state *st, const char *rid, product *p, const char *holder) {
    reservation *r = svc_table_get(&st->reservations, rid);
    if (!r) {
        if (!st->cfg->idempotency) return 0;
        make_room(st);
        r = calloc(1, sizeof *r);
        if (!r) return 0;
        snprintf(r->id, sizeof r->id, "%s", rid);
        snprintf(r->holder, sizeof r->holder, "%s", holder ? holder : "");
        r->product = (size_t)(p - st->products);
        if (svc_table_put(&st->reservations, r->id, r) < 0) {
            free(r);
            return 0;
        }
        mark_released(st, r);
        return 0;
    }
    if (r->state != RES_HELD) return 0;
    product *owner = &st->products[r->product];
    owner->stock += r->quantity;
    owner->reserved -= r->quantity;
    owner->released += r->quantity;
    mark_released(st, r);
    return r->quantity;
}

/* ---- journal-backed operations ---- */

typedef struct inv_op {
    pc_link link;
    inventory_state *st;
    svc_exchange *ex;
    char rid[SVC_ID_MAX + 8];
    size_t product;
    int64_t quantity;
    int created; /* reserve: 1 when this request took the stock */
} inv_op;

static inv_op *op_new(inventory_state *st, svc_exchange *ex) {
    inv_op *op = calloc(1, sizeof *op);
    if (!op) abort();
    op->st = st;
    op->ex = ex;
    pc_list_push(&st->ops, &op->link);
    return op;
}

static void op_free(inv_op *op) {
    pc_list_remove(&op->link);
    free(op);
}

static void reserve_persisted(void *arg, int error) {
    inv_op *op = arg;
    inventory_state *st = op->st;
    product *p = &st->products[op->product];
    if (error) {
        /* Not durable, so not acknowledged: undo the in-memory change. A release of this id that arrived
         * while the write was pending has already given the stock back: the entry then stays, as the tombstone
         * that release's record implies, and the stock is not given back a second time. */
        reservation *r = svc_table_get(&st->reservations, op->rid);
        if (r) r->pending = 0;
        if (r && r->state == RES_HELD) {
            svc_table_remove(&st->reservations, op->rid);
            p->stock += r->quantity;
            p->reserved -= r->quantity;
            free(r);
        } else if (r) {
            p->released -= r->quantity;
            r->quantity = 0;
        }
        svc_ex_error(op->ex, 503, "journal_unavailable", "the reservation could not be made durable");
        op_free(op);
        return;
    }
    reservation *r = svc_table_get(&st->reservations, op->rid);
    if (r) r->pending = 0;
    svc_ex_reply(op->ex, 201,
                 json_pack("{s:s, s:s, s:I, s:I, s:s}", "reservation_id", op->rid, "product_id", p->id, "quantity",
                           (json_int_t)op->quantity, "remaining", (json_int_t)p->stock, "status", "reserved"));
    op_free(op);
}

static void reply_insufficient(svc_exchange *ex, const product *p, int64_t wanted) {
    char msg[160];
    snprintf(msg, sizeof msg, "only %lld of product %s available, %lld requested", (long long)p->stock, p->id,
             (long long)wanted);
    svc_ex_reply(ex, 409,
                 json_pack("{s:s, s:s, s:s, s:I}", "error", "insufficient_stock", "message", msg, "product_id", p->id,
                           "available", (json_int_t)p->stock));
}

static const char *json_str(json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

/* Reads "product_id" and returns the product, or answers 400/404 and returns NULL. */
static product *body_product(inventory_state *st, svc_exchange *ex) {
    json_t *v = json_object_get(svc_ex_body(ex), "product_id");
    if (!json_is_string(v)) {
        svc_ex_error(ex, 400, "invalid_field", "product_id is required and must be a string");
        return NULL;
    }
    product *p = find_product(st, json_string_value(v));
    if (!p) svc_ex_error(ex, 404, "unknown_product", "no product with id %.64s", json_string_value(v));
    return p;
}

/* Reads the optional "payment_id" (the holder); answers 400 and returns -1 when it is not an id. */
static int body_holder(svc_exchange *ex, const char **holder) {
    json_t *v = json_object_get(svc_ex_body(ex), "payment_id");
    *holder = NULL;
    if (!v) return 0;
    if (!json_is_string(v) || !svc_id_acceptable(json_string_value(v))) {
        svc_ex_error(ex, 400, "invalid_field", "payment_id must be 1..%d characters of [A-Za-z0-9._:-]", SVC_ID_MAX);
        return -1;
    }
    *holder = json_string_value(v);
    return 0;
}

/* A reserve whose reservation id is known: the first result again, or why not. */
static void reserve_repeated(inventory_state *st, svc_exchange *ex, const reservation *existing, const char *rid,
                             const product *p, int64_t qty, const char *holder) {
    if (existing->state == RES_RELEASED) {
        svc_ex_error(ex, 409, "reservation_released",
                     "reservation %s was already released (or cancelled before it arrived)", rid);
        return;
    }
    if (existing->product != (size_t)(p - st->products) || existing->quantity != qty ||
        strcmp(existing->holder, holder ? holder : "") != 0) {
        svc_ex_error(ex, 422, "reservation_mismatch",
                     "reservation %s exists with a different product, quantity or payment", rid);
        return;
    }
    svc_ex_reply(ex, 200,
                 json_pack("{s:s, s:s, s:I, s:I, s:s}", "reservation_id", rid, "product_id", p->id, "quantity",
                           (json_int_t)qty, "remaining", (json_int_t)p->stock, "status", "reserved"));
}

static void route_reserve(void *state, svc_exchange *ex) {
    inventory_state *st = state;
    json_t *body = svc_ex_body(ex);
    product *p = body_product(st, ex);
    if (!p) return;
    const char *holder;
    if (body_holder(ex, &holder) < 0) return;
    json_t *q = json_object_get(body, "quantity");
    int64_t qty = 1;
    if (q) {
        if (!json_is_integer(q) || json_integer_value(q) < 1 || json_integer_value(q) > QUANTITY_MAX) {
            svc_ex_error(ex, 400, "invalid_field", "quantity must be an integer from 1 to %d", QUANTITY_MAX);
            return;
        }
        qty = json_integer_value(q);
    }
    json_t *ridv = json_object_get(body, "reservation_id");
    if (ridv && (!json_is_string(ridv) || !svc_id_acceptable(json_string_value(ridv)))) {
        svc_ex_error(ex, 400, "invalid_field", "reservation_id must be 1..%d characters of [A-Za-z0-9._:-]",
                     SVC_ID_MAX);
        return;
    }
    if (svc_ex_redirect_to_owner(ex, owner_of_product(st, p->id))) return;

    char rid[SVC_ID_MAX + 8];
    if (ridv)
        snprintf(rid, sizeof rid, "%s", json_string_value(ridv));
    else
        svc_new_id(st->shell, rid, sizeof rid, "res", st->cfg->replica, 0);

    reservation *existing = svc_table_get(&st->reservations, rid);
    if (existing && st->cfg->idempotency) {
        reserve_repeated(st, ex, existing, rid, p, qty, holder);
        return;
    }
    if (existing) {
        /* Idempotency off (demonstration): the repeat takes stock again under a derived id. */
        for (int n = 2; n < 1000; n++) {
            char derived[SVC_ID_MAX + 8];
            snprintf(derived, sizeof derived, "%.*s~%d", SVC_ID_MAX, rid, n);
            if (!svc_table_get(&st->reservations, derived)) {
                snprintf(rid, sizeof rid, "%s", derived);
                break;
            }
        }
    }
    if (p->stock < qty) {
        reply_insufficient(ex, p, qty);
        return;
    }
    if (make_room(st) < 0) {
        svc_ex_error(ex, 503, "capacity", "the reservation table is full of held reservations (%zu)",
                     st->cfg->reservation_capacity);
        return;
    }
    /* Take the stock now so concurrent requests see it gone; undone if the journal write fails. */
    reservation *r = apply_reserve(st, rid, p, qty, holder);
    if (!r) {
        svc_ex_error(ex, 503, "no_memory", "could not record the reservation");
        return;
    }
    r->pending = 1;
    inv_op *op = op_new(st, ex);
    snprintf(op->rid, sizeof op->rid, "%s", rid);
    op->product = (size_t)(p - st->products);
    op->quantity = qty;
    svc_persist(st->shell,
                json_pack("{s:s, s:s, s:s, s:I, s:s?}", "t", "reserve", "rid", rid, "product", p->id, "qty",
                          (json_int_t)qty, "holder", holder),
                reserve_persisted, op);
}

static void release_persisted(void *arg, int error) {
    inv_op *op = arg;
    product *p = &op->st->products[op->product];
    if (error) {
        /* The release already happened in memory; since it is not durable, report failure so the payment
         * retries; a retried release is idempotent. */
        svc_ex_error(op->ex, 503, "journal_unavailable", "the release could not be made durable");
        op_free(op);
        return;
    }
    svc_ex_reply(op->ex, 200,
                 json_pack("{s:s, s:s, s:I, s:I, s:s}", "reservation_id", op->rid, "product_id", p->id,
                           "quantity_released", (json_int_t)op->quantity, "stock_count", (json_int_t)p->stock, "status",
                           "released"));
    op_free(op);
}

static void route_release(void *state, svc_exchange *ex) {
    inventory_state *st = state;
    json_t *body = svc_ex_body(ex);
    const char *rid = json_str(body, "reservation_id");
    if (!rid || !svc_id_acceptable(rid)) {
        svc_ex_error(ex, 400, "invalid_field", "reservation_id is required (1..%d of [A-Za-z0-9._:-])", SVC_ID_MAX);
        return;
    }
    product *p = body_product(st, ex);
    if (!p) return;
    const char *holder;
    if (body_holder(ex, &holder) < 0) return;
    if (svc_ex_redirect_to_owner(ex, owner_of_product(st, p->id))) return;
    reservation *r = svc_table_get(&st->reservations, rid);
    if (r && r->product != (size_t)(p - st->products)) {
        svc_ex_error(ex, 422, "reservation_mismatch", "reservation %s belongs to another product", rid);
        return;
    }
    if (r && r->state == RES_HELD && r->holder[0] && (!holder || strcmp(holder, r->holder) != 0)) {
        svc_ex_error(ex, 403, "not_holder", "reservation %s is held for another payment; only that payment releases it",
                     rid);
        return;
    }
    if (!r && st->cfg->idempotency && make_room(st) < 0) {
        svc_ex_error(ex, 503, "capacity", "the reservation table is full of held reservations (%zu)",
                     st->cfg->reservation_capacity);
        return;
    }
    int64_t given_back = apply_release(st, rid, p, holder);
    inv_op *op = op_new(st, ex);
    snprintf(op->rid, sizeof op->rid, "%s", rid);
    op->product = (size_t)(p - st->products);
    op->quantity = given_back;
    svc_persist(st->shell,
                json_pack("{s:s, s:s, s:s, s:s?}", "t", "release", "rid", rid, "product", p->id, "holder", holder),
                release_persisted, op);
}

static void route_check(void *state, svc_exchange *ex) {
    inventory_state *st = state;
    product *p = find_product(st, svc_ex_param(ex));
    if (!p) {
        svc_ex_error(ex, 404, "unknown_product", "no product with id %.64s", svc_ex_param(ex));
        return;
    }
    if (svc_ex_redirect_to_owner(ex, owner_of_product(st, p->id))) return;
    svc_jw w;
    svc_jw_init(&w);
    product_write(&w, p);
    svc_ex_reply_jw(ex, 200, &w);
}

/* ---- /list: every product, with the stock count from its owner ---- */

static json_t *local_products(inventory_state *st) {
    json_t *arr = json_array();
    for (size_t i = 0; i < st->product_count; i++)
        if (owns_product(st, &st->products[i])) json_array_append_new(arr, product_json(&st->products[i]));
    return arr;
}

static void list_gathered(void *state, svc_exchange *ex, const svc_call_result *results, int count) {
    inventory_state *st = state;
    /* Index each replica's answer by product id. */
    json_t **answers = calloc((size_t)count, sizeof *answers);
    if (!answers) abort();
    json_t *unavailable = json_array();
    for (int i = 0; i < count; i++) {
        if (i == st->cfg->replica) continue;
        const svc_call_result *r = &results[i];
        json_t *doc = svc_result_json(r);
        answers[i] = doc;
        if (!json_is_array(json_object_get(doc, "products"))) json_array_append_new(unavailable, json_integer(i));
    }
    json_t *products = json_array();
    for (size_t k = 0; k < st->product_count; k++) {
        product *p = &st->products[k];
        int owner = owner_of_product(st, p->id);
        if (owner == st->cfg->replica) {
            json_array_append_new(products, product_json(p));
            continue;
        }
        json_t *list = json_object_get(answers[owner], "products");
        size_t idx;
        json_t *item;
        json_array_foreach(list, idx, item) {
            if (json_is_string(json_object_get(item, "product_id")) && !strcmp(json_str(item, "product_id"), p->id)) {
                json_array_append(products, item);
                break;
            }
        }
    }
    for (int i = 0; i < count; i++) json_decref(answers[i]);
    free(answers);
    json_t *doc =
        json_pack("{s:o, s:I, s:b, s:o}", "products", products, "count", (json_int_t)json_array_size(products),
                  "complete", json_array_size(unavailable) == 0, "unavailable_replicas", unavailable);
    svc_ex_reply(ex, 200, doc);
}

static void route_list(void *state, svc_exchange *ex) {
    inventory_state *st = state;
    if (svc_ex_wants_local_only(ex)) {
        json_t *products = local_products(st);
        svc_ex_reply(ex, 200,
                     json_pack("{s:o, s:I, s:i}", "products", products, "count", (json_int_t)json_array_size(products),
                               "replica", st->cfg->replica));
        return;
    }
    svc_ex_gather(ex, "/list?scope=local", list_gathered);
}

/* ---- module ---- */

static void *inventory_create(svc_shell *shell, const svc_config *cfg, char *err, size_t errlen) {
    inventory_state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->shell = shell;
    st->cfg = cfg;
    pc_list_init(&st->ops);
    pc_list_init(&st->released);
    if (svc_table_init(&st->reservations, 1024) < 0 ||
        load_catalogue(st, cfg->catalogue_json ? cfg->catalogue_json : default_catalogue, err, errlen) < 0) {
        svc_table_free(&st->reservations);
        svc_table_free(&st->product_index);
        free(st->products);
        free(st);
        return NULL;
    }
    return st;
}

static void inventory_destroy(void *state) {
    inventory_state *st = state;
    while (!pc_list_empty(&st->ops)) {
        pc_link *l = st->ops.next;
        pc_list_remove(l);
        free(PC_CONTAINER_OF(l, inv_op, link));
    }
    for (size_t i = 0; i < st->reservations.cap; i++) free(st->reservations.slots[i].value);
    svc_table_free(&st->reservations);
    svc_table_free(&st->product_index);
    free(st->products);
    free(st);
}

static int inventory_replay(void *state, json_t *rec, char *err, size_t errlen) {
    inventory_state *st = state;
    const char *t = json_str(rec, "t"), *rid = json_str(rec, "rid"), *pid = json_str(rec, "product");
    product *p = pid ? find_product(st, pid) : NULL;
    if (!t || !rid || !p) {
        snprintf(err, errlen, "inventory journal: record without t/rid/known product");
        return -1;
    }
    if (!strcmp(t, "reserve")) {
        json_int_t qty = json_integer_value(json_object_get(rec, "qty"));
        make_room(st); /* what a flood left in the journal is evicted again, as it was before the restart */
        if (qty <= 0 || !apply_reserve(st, rid, p, qty, json_str(rec, "holder"))) {
            snprintf(err, errlen, "inventory journal: bad reserve record %s", rid);
            return -1;
        }
        return 0;
    }
    if (!strcmp(t, "release")) {
        apply_release(st, rid, p, json_str(rec, "holder"));
        return 0;
    }
    snprintf(err, errlen, "inventory journal: unknown record type %s", t);
    return -1;
}

static void inventory_describe(void *state, json_t *info) {
    inventory_state *st = state;
    json_object_set_new(info, "products", json_integer((json_int_t)st->product_count));
    size_t owned = 0;
    for (size_t i = 0; i < st->product_count; i++) owned += (size_t)owns_product(st, &st->products[i]);
    json_object_set_new(info, "owned_products", json_integer((json_int_t)owned));
}

static const svc_route inventory_routes[] = {
    {"GET", "/check/*", route_check, 0},
    {"POST", "/reserve", route_reserve, SVC_ROUTE_JSON_BODY | SVC_ROUTE_SERVICE},
    {"POST", "/release", route_release, SVC_ROUTE_JSON_BODY | SVC_ROUTE_SERVICE},
    {"GET", "/list", route_list, 0},
};

const svc_module inventory_module = {
    .name = "inventory-service",
    .peer = SVC_INVENTORY,
    .default_port = 5003,
    .routes = inventory_routes,
    .route_count = sizeof inventory_routes / sizeof inventory_routes[0],
    .create = inventory_create,
    .destroy = inventory_destroy,
    .replay = inventory_replay,
    .start = NULL,
    .describe = inventory_describe,
};

/* ---- introspection for the simulator's invariant checkers ---- */

#include "services/inventory.h"
#include "services/modules.h"

size_t inventory_product_count(void *state) { return ((inventory_state *)state)->product_count; }

int inventory_product_stock(void *state, size_t i, inventory_stock *out) {
    inventory_state *st = state;
    if (i >= st->product_count) return -1;
    const product *p = &st->products[i];
    out->product_id = p->id;
    out->owned = owns_product(st, p);
    out->initial = p->initial;
    out->available = p->stock;
    out->reserved = p->reserved;
    out->released = p->released;
    return 0;
}

int64_t inventory_reservation_quantity(void *state, const char *reservation_id) {
    reservation *r = svc_table_get(&((inventory_state *)state)->reservations, reservation_id);
    return (r && r->state == RES_HELD) ? r->quantity : 0;
}

void inventory_foreach_held(void *state,
                            void (*fn)(void *ctx, const char *rid, const char *product_id, int64_t quantity),
                            void *ctx) {
    inventory_state *st = state;
    for (size_t i = 0; i < st->reservations.cap; i++) {
        reservation *r = st->reservations.slots[i].value;
        if (r && r->state == RES_HELD) fn(ctx, r->id, st->products[r->product].id, r->quantity);
    }
}
