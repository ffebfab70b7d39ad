/*
 * engine.c: event pool, (time, seq) min-heap, trace hash and fingerprints (see engine.h).
 */
#include "sim/engine.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/kinds.h"

typedef struct sim_event {
    uint64_t obj;
    uint64_t arg;
    sim_fn fn;
    void *ctx;
    uint32_t gen;
    uint32_t heap_pos; /* index in heap, or UINT32_MAX when free */
    uint16_t kind;
} sim_event;

/* The heap holds the ordering key next to the slot index, so sifting never touches the pool. */
typedef struct heap_entry {
    int64_t at;
    uint64_t seq;
    uint32_t slot;
} heap_entry;

struct sim_engine {
    int64_t now;
    uint64_t next_seq;
    uint64_t executed;
    uint64_t hash;
    sim_event *pool; /* slot 0 unused so that id.slot == 0 means "none" */
    uint32_t pool_cap;
    uint32_t *free_slots;
    uint32_t free_count;
    heap_entry *heap;
    uint32_t heap_len;
    FILE *trace;
    int recording;
    uint64_t *prints;
    uint64_t prints_len, prints_cap;
    const uint64_t *expected;
    uint64_t expected_len;
    int64_t mismatch;
    int64_t capture_index;
    char captured[160];
};

sim_engine *sim_engine_new(void) {
    sim_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->hash = 1469598103934665603ull;
    e->mismatch = -1;
    e->capture_index = -1;
    return e;
}

void sim_engine_free(sim_engine *e) {
    if (!e) return;
    free(e->pool);
    free(e->free_slots);
    free(e->heap);
    free(e->prints);
    free(e);
}

int64_t sim_now(const sim_engine *e) { return e->now; }
size_t sim_pending_count(const sim_engine *e) { return e->heap_len; }
uint64_t sim_events_executed(const sim_engine *e) { return e->executed; }
uint64_t sim_trace_hash(const sim_engine *e) { return e->hash; }
void sim_set_trace(sim_engine *e, FILE *trace) { e->trace = trace; }

static int earlier(const heap_entry *a, const heap_entry *b) {
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_set(sim_engine *e, uint32_t pos, heap_entry h) {
    e->heap[pos] = h;
    e->pool[h.slot].heap_pos = pos;
}

static void sift_up(sim_engine *e, uint32_t pos) {
    heap_entry h = e->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!earlier(&h, &e->heap[parent])) break;
        heap_set(e, pos, e->heap[parent]);
        pos = parent;
    }
    heap_set(e, pos, h);
}

static void sift_down(sim_engine *e, uint32_t pos) {
    heap_entry h = e->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= e->heap_len) break;
        if (child + 1 < e->heap_len && earlier(&e->heap[child + 1], &e->heap[child])) child++;
        if (!earlier(&e->heap[child], &h)) break;
        heap_set(e, pos, e->heap[child]);
        pos = child;
    }
    heap_set(e, pos, h);
}

static void heap_remove_at(sim_engine *e, uint32_t pos) {
    heap_entry last = e->heap[--e->heap_len];
    if (pos == e->heap_len) return;
    heap_set(e, pos, last);
    if (pos > 0 && earlier(&last, &e->heap[(pos - 1) / 2])) sift_up(e, pos);
    else sift_down(e, pos);
}

static uint32_t slot_alloc(sim_engine *e) {
    if (e->free_count) return e->free_slots[--e->free_count];
    uint32_t cap = e->pool_cap ? e->pool_cap * 2 : 1024;
    sim_event *pool = realloc(e->pool, cap * sizeof *pool);
    uint32_t *free_slots = realloc(e->free_slots, cap * sizeof *free_slots);
    heap_entry *heap = realloc(e->heap, cap * sizeof *heap);
    if (!pool || !free_slots || !heap) abort(); /* the simulation cannot continue without its queue */
    e->pool = pool;
    e->free_slots = free_slots;
    e->heap = heap;
    uint32_t first = e->pool_cap ? e->pool_cap : 1;
    for (uint32_t s = cap - 1; s >= first; s--) {
        e->pool[s].gen = 0;
        e->pool[s].heap_pos = UINT32_MAX;
        e->free_slots[e->free_count++] = s;
    }
    e->pool_cap = cap;
    return e->free_slots[--e->free_count];
}

static void slot_free(sim_engine *e, uint32_t slot) {
    e->pool[slot].heap_pos = UINT32_MAX;
    e->pool[slot].gen++;
    e->free_slots[e->free_count++] = slot;
}

sim_event_id sim_at(sim_engine *e, int64_t at_ns, uint16_t kind, uint64_t obj, sim_fn fn, void *ctx, uint64_t arg) {
    if (at_ns < e->now) at_ns = e->now; /* the past is not reachable; "now" runs after current events */
    uint32_t slot = slot_alloc(e);
    sim_event *ev = &e->pool[slot];
    ev->obj = obj;
    ev->arg = arg;
    ev->fn = fn;
    ev->ctx = ctx;
    ev->kind = kind;
    e->heap[e->heap_len] = (heap_entry){at_ns, e->next_seq++, slot};
    ev->heap_pos = e->heap_len++;
    sift_up(e, ev->heap_pos);
    return (sim_event_id){slot, ev->gen};
}

sim_event_id sim_after(sim_engine *e, int64_t delay_ns, uint16_t kind, uint64_t obj, sim_fn fn, void *ctx,
                       uint64_t arg) {
    return sim_at(e, e->now + (delay_ns > 0 ? delay_ns : 0), kind, obj, fn, ctx, arg);
}

int sim_is_pending(const sim_engine *e, sim_event_id id) {
    return id.slot != 0 && id.slot < e->pool_cap && e->pool[id.slot].gen == id.gen &&
           e->pool[id.slot].heap_pos != UINT32_MAX;
}

int64_t sim_event_time(const sim_engine *e, sim_event_id id) {
    return sim_is_pending(e, id) ? e->heap[e->pool[id.slot].heap_pos].at : -1;
}

int sim_cancel(sim_engine *e, sim_event_id *id) {
    if (!sim_is_pending(e, *id)) {
        *id = SIM_NO_EVENT;
        return 0;
    }
    heap_remove_at(e, e->pool[id->slot].heap_pos);
    slot_free(e, id->slot);
    *id = SIM_NO_EVENT;
    return 1;
}

/* Folds a word into the running hash (a multiply-xorshift step, as in splitmix64/wyhash): one multiply per
 * word instead of eight, and it works on values, not bytes, so it does not depend on endianness. */
static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

static uint64_t fingerprint(int64_t at, uint16_t kind, uint64_t obj, uint64_t arg) {
    uint64_t h = 1469598103934665603ull;
    h = mix(h, (uint64_t)at);
    h = mix(h, ((uint64_t)kind << 48) ^ obj);
    return mix(h, arg);
}

void sim_describe_event(char *out, size_t outlen, int64_t at_ns, uint16_t kind, uint64_t obj, uint64_t arg) {
    snprintf(out, outlen, "t=%" PRId64 ".%09" PRId64 " %s obj=%" PRIu64 " arg=%" PRIu64, at_ns / 1000000000,
             at_ns % 1000000000, sim_kind_name(kind), obj, arg);
}

static int execute_one(sim_engine *e) {
    heap_entry top = e->heap[0];
    sim_event ev = e->pool[top.slot];
    heap_remove_at(e, 0);
    slot_free(e, top.slot);
    e->now = top.at;
    uint64_t fp = fingerprint(top.at, ev.kind, ev.obj, ev.arg);
    e->hash = mix(e->hash, fp);
    if (e->recording) {
        if (e->prints_len == e->prints_cap) {
            e->prints_cap = e->prints_cap ? e->prints_cap * 2 : 1 << 16;
            e->prints = realloc(e->prints, e->prints_cap * sizeof *e->prints);
            if (!e->prints) abort();
        }
        e->prints[e->prints_len++] = fp;
    }
    if ((int64_t)e->executed == e->capture_index)
        sim_describe_event(e->captured, sizeof e->captured, top.at, ev.kind, ev.obj, ev.arg);
    if (e->expected) {
        if (e->executed >= e->expected_len || e->expected[e->executed] != fp) {
            e->mismatch = (int64_t)e->executed;
            sim_describe_event(e->captured, sizeof e->captured, top.at, ev.kind, ev.obj, ev.arg);
            return 0;
        }
    }
    if (e->trace) {
        char line[160];
        sim_describe_event(line, sizeof line, top.at, ev.kind, ev.obj, ev.arg);
        fprintf(e->trace, "%" PRIu64 " %s\n", e->executed, line);
    }
    e->executed++;
    ev.fn(e, ev.ctx, ev.arg);
    return 1;
}

uint64_t sim_run(sim_engine *e, int64_t until_ns, const volatile int *stop) {
    uint64_t before = e->executed;
    while (e->heap_len && e->heap[0].at <= until_ns) {
        if (stop && *stop) return e->executed - before;
        if (!execute_one(e)) return e->executed - before;
    }
    if (e->mismatch < 0 && until_ns > e->now) e->now = until_ns;
    return e->executed - before;
}

uint64_t sim_run_until(sim_engine *e, int64_t until_ns) { return sim_run(e, until_ns, NULL); }

void sim_record_fingerprints(sim_engine *e, int on) { e->recording = on; }

void sim_compare_fingerprints(sim_engine *e, const uint64_t *fingerprints, uint64_t count) {
    e->expected = fingerprints;
    e->expected_len = count;
}

const uint64_t *sim_fingerprints(const sim_engine *e, uint64_t *count) {
    *count = e->prints_len;
    return e->prints;
}

int64_t sim_mismatch(const sim_engine *e) { return e->mismatch; }

void sim_capture_at(sim_engine *e, int64_t index) { e->capture_index = index; }
const char *sim_captured(const sim_engine *e) { return e->captured; }
