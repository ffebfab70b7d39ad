/*
 * engine.c: event pool, (time, seq) queue, trace hash and fingerprints (see engine.h).
 *
 * The queue has two parts. Events due before `horizon` are in a binary min-heap ordered by (time, seq).
 * Events due at or after it wait in a calendar of buckets, one per FAR_SPAN of time, unsorted: most of
 * them are timers that are cancelled long before they are due (a call's deadline, a connection's idle
 * timer, an RTO re-armed by every ACK), and a bucket inserts and removes in O(1) where the heap pays
 * O(log n) on every operation and every pop with them in it (in the headline run they were nearly all the
 * pending events). When the heap is empty, the horizon moves one span and that bucket's events enter the
 * heap, each with the sequence number it was given when scheduled, so events run in exactly the same
 * (time, seq) order as with one heap. Events beyond the calendar's reach wait in an overflow set; when
 * nothing else is pending the horizon jumps to them instead of walking there span by span.
 */
#include "sim/engine/engine.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/kinds.h"
#include "base/room.h"

#define FAR_SHIFT 25 /* FAR_SPAN = 2^25 ns, about 34 ms */
#define FAR_SPAN ((int64_t)1 << FAR_SHIFT)
#define FAR_BUCKETS 4096 /* the calendar covers 4096 spans (about 137 s) ahead */
#define NOT_QUEUED UINT32_MAX
#define TIME_MAX ((int64_t)1 << 62) /* ~146 years: later times are taken as this (the horizon cannot overflow) */

typedef struct sim_event {
    uint64_t obj;
    uint64_t arg;
    sim_fn fn;
    void *ctx;
    int64_t at; /* its key, kept here while it waits in the calendar */
    uint64_t seq;
    uint32_t gen;
    uint32_t heap_pos; /* index in heap, or NOT_QUEUED */
    uint32_t far_pos;  /* index in its calendar bucket (or the overflow), or NOT_QUEUED */
    uint16_t kind;
} sim_event;

/* An unsorted set of slots: a calendar bucket, or the overflow beyond the calendar. */
typedef struct slot_set {
    uint32_t *slots; /* a bucket's first BUCKET_ROOM slots are its room in bucket_room (room.h) */
    uint32_t len, cap;
} slot_set;

#define BUCKET_ROOM 8

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
    int64_t horizon; /* heap events are due before it, calendar events at or after it */
    uint32_t far_count;
    slot_set *buckets;     /* FAR_BUCKETS, allocated with the first far event */
    uint32_t *bucket_room; /* BUCKET_ROOM slots for each bucket in one block: a run uses thousands */
    slot_set overflow;     /* due beyond the calendar's reach */
    int64_t overflow_min;  /* earliest time in overflow (INT64_MAX when empty) */
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

/* A bucket's room in bucket_room; the overflow has none. */
static uint32_t *bucket_room_of(sim_engine *e, const slot_set *set) {
    if (set == &e->overflow) return NULL;
    return e->bucket_room + (size_t)(set - e->buckets) * BUCKET_ROOM;
}

sim_engine *sim_engine_new(void) {
    sim_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->hash = 1469598103934665603ull;
    e->mismatch = -1;
    e->capture_index = -1;
    e->horizon = FAR_SPAN;
    e->overflow_min = INT64_MAX;
    return e;
}

void sim_engine_free(sim_engine *e) {
    if (!e) return;
    free(e->pool);
    free(e->free_slots);
    free(e->heap);
    if (e->buckets)
        for (int b = 0; b < FAR_BUCKETS; b++)
            if (e->buckets[b].slots != bucket_room_of(e, &e->buckets[b])) free(e->buckets[b].slots);
    free(e->buckets);
    free(e->bucket_room);
    free(e->overflow.slots);
    free(e->prints);
    free(e);
}

int64_t sim_now(const sim_engine *e) { return e->now; }
size_t sim_pending_count(const sim_engine *e) { return (size_t)e->heap_len + e->far_count; }
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
    if (pos > 0 && earlier(&last, &e->heap[(pos - 1) / 2]))
        sift_up(e, pos);
    else
        sift_down(e, pos);
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
        e->pool[s].heap_pos = NOT_QUEUED;
        e->pool[s].far_pos = NOT_QUEUED;
        e->free_slots[e->free_count++] = s;
    }
    e->pool_cap = cap;
    return e->free_slots[--e->free_count];
}

static void slot_free(sim_engine *e, uint32_t slot) {
    e->pool[slot].heap_pos = NOT_QUEUED;
    e->pool[slot].far_pos = NOT_QUEUED;
    e->pool[slot].gen++;
    e->free_slots[e->free_count++] = slot;
}

/* ---- the calendar ---- */

static slot_set *far_set(sim_engine *e, int64_t at) {
    if (at - e->horizon >= (int64_t)FAR_BUCKETS * FAR_SPAN) return &e->overflow;
    return &e->buckets[(at >> FAR_SHIFT) & (FAR_BUCKETS - 1)];
}

static void set_add(sim_engine *e, slot_set *set, uint32_t slot) {
    if (set->len == set->cap)
        set->slots = room_grow(set->slots, bucket_room_of(e, set), BUCKET_ROOM, &set->cap, sizeof *set->slots);
    e->pool[slot].far_pos = set->len;
    set->slots[set->len++] = slot;
}

static void set_remove(sim_engine *e, slot_set *set, uint32_t slot) {
    uint32_t pos = e->pool[slot].far_pos, last = set->slots[--set->len];
    set->slots[pos] = last;
    e->pool[last].far_pos = pos;
    e->pool[slot].far_pos = NOT_QUEUED;
}

static void far_add(sim_engine *e, uint32_t slot) {
    if (!e->buckets) {
        e->buckets = calloc(FAR_BUCKETS, sizeof *e->buckets);
        e->bucket_room = malloc((size_t)FAR_BUCKETS * BUCKET_ROOM * sizeof *e->bucket_room);
        if (!e->buckets || !e->bucket_room) abort();
    }
    int64_t at = e->pool[slot].at;
    slot_set *set = far_set(e, at);
    if (set == &e->overflow && at < e->overflow_min) e->overflow_min = at;
    set_add(e, set, slot);
    e->far_count++;
}

static void heap_push(sim_engine *e, uint32_t slot, int64_t at, uint64_t seq) {
    e->heap[e->heap_len] = (heap_entry){at, seq, slot};
    e->pool[slot].heap_pos = e->heap_len++;
    sift_up(e, e->pool[slot].heap_pos);
}

/* The heap is empty and the calendar is not: moves the horizon one span, and that span's events (from
 * their bucket, and from the overflow once the calendar reaches them) into the heap. */
static void advance_horizon(sim_engine *e) {
    slot_set *b = &e->buckets[(e->horizon >> FAR_SHIFT) & (FAR_BUCKETS - 1)];
    e->horizon += FAR_SPAN;
    for (uint32_t i = 0; i < b->len; i++) {
        sim_event *ev = &e->pool[b->slots[i]];
        ev->far_pos = NOT_QUEUED;
        heap_push(e, b->slots[i], ev->at, ev->seq);
    }
    e->far_count -= b->len;
    b->len = 0;
    /* The calendar now reaches one span further: overflow events within its reach move into buckets. */
    if (e->overflow_min - e->horizon < (int64_t)FAR_BUCKETS * FAR_SPAN) {
        slot_set *o = &e->overflow;
        e->overflow_min = INT64_MAX;
        for (uint32_t i = 0; i < o->len;) {
            uint32_t slot = o->slots[i];
            int64_t at = e->pool[slot].at;
            if (far_set(e, at) == o) {
                if (at < e->overflow_min) e->overflow_min = at;
                i++;
                continue;
            }
            set_remove(e, o, slot); /* moves the last one to i: look at i again */
            e->far_count--;
            if (at < e->horizon)
                heap_push(e, slot, at, e->pool[slot].seq);
            else
                far_add(e, slot);
        }
    }
}

/* Makes the heap's top the next event to run; returns 0 when nothing is pending. */
static int next_ready(sim_engine *e) {
    while (!e->heap_len) {
        if (!e->far_count) return 0;
        if (e->far_count == e->overflow.len) {
            /* Only the overflow is left: go straight to where its earliest event enters the calendar
             * (overflow_min may be low, from a cancelled event: then this just jumps less far). */
            int64_t to = (e->overflow_min & ~(FAR_SPAN - 1)) - (int64_t)(FAR_BUCKETS - 1) * FAR_SPAN;
            if (to > e->horizon) e->horizon = to;
        }
        advance_horizon(e);
    }
    return 1;
}

sim_event_id sim_at(sim_engine *e, int64_t at_ns, uint16_t kind, uint64_t obj, sim_fn fn, void *ctx, uint64_t arg) {
    if (at_ns < e->now) at_ns = e->now; /* the past is not reachable; "now" runs after current events */
    if (at_ns > TIME_MAX) at_ns = TIME_MAX;
    uint32_t slot = slot_alloc(e);
    sim_event *ev = &e->pool[slot];
    ev->obj = obj;
    ev->arg = arg;
    ev->fn = fn;
    ev->ctx = ctx;
    ev->kind = kind;
    ev->at = at_ns;
    ev->seq = e->next_seq++;
    if (at_ns < e->horizon)
        heap_push(e, slot, at_ns, ev->seq);
    else
        far_add(e, slot);
    return (sim_event_id){slot, ev->gen};
}

sim_event_id sim_after(sim_engine *e, int64_t delay_ns, uint16_t kind, uint64_t obj, sim_fn fn, void *ctx,
                       uint64_t arg) {
    return sim_at(e, e->now + (delay_ns > 0 ? delay_ns : 0), kind, obj, fn, ctx, arg);
}

int sim_is_pending(const sim_engine *e, sim_event_id id) {
    return id.slot != 0 && id.slot < e->pool_cap && e->pool[id.slot].gen == id.gen &&
           (e->pool[id.slot].heap_pos != NOT_QUEUED || e->pool[id.slot].far_pos != NOT_QUEUED);
}

int64_t sim_event_time(const sim_engine *e, sim_event_id id) {
    return sim_is_pending(e, id) ? e->pool[id.slot].at : -1;
}

int sim_cancel(sim_engine *e, sim_event_id *id) {
    if (!sim_is_pending(e, *id)) {
        *id = SIM_NO_EVENT;
        return 0;
    }
    sim_event *ev = &e->pool[id->slot];
    if (ev->heap_pos != NOT_QUEUED) {
        heap_remove_at(e, ev->heap_pos);
    } else {
        set_remove(e, far_set(e, ev->at), id->slot);
        e->far_count--;
    }
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
    while (next_ready(e) && e->heap[0].at <= until_ns) {
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
