/*
 * lab/wire/core.c: ports, rules, the held frames and the ledger of bin/labwire (contract: core.h).
 *
 * A held copy lives in a pool slot and in a min-heap ordered by (due time, arrival number). A copy that is
 * inside a rule (cur_rule >= 0) is released by lw_core_pop() when due and then enters the next rule of its
 * chain at its due time, or leaves the wire when the chain is done. A family groups the copies of one
 * offered frame, so that the ledger counts a frame as dropped only when none of its copies left.
 */
#include "lab/wire/core.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

typedef struct rule {
    int used; /* 0: free (never used, or removed and forgotten by a reset) */
    uint16_t gen;
    lw_rule_spec spec;
    lw_rule_stats st;
    netem_qdisc *netem;
    tbf_qdisc *tbf;
    int64_t last_ns; /* the latest time a copy entered it */
} rule;

typedef struct wport {
    int used;
    char name[64];
    int roots[LW_MAX_RULES], nroots; /* active root rules, in the order they were added */
    int filt[LW_MAX_RULES], nfilt;   /* active filtered rules, in the current (drawn) order */
} wport;

typedef struct slot {
    int64_t due_ns, offered_ns, entry_ns;
    uint64_t seq;
    int port, family, link;
    int cur_rule; /* the rule the copy is inside, -1: due to leave the wire */
    uint8_t from, stage, nstages;
    int16_t chain[LW_MAX_STAGES];
    uint16_t chain_gen[LW_MAX_STAGES];
    uint32_t len;
    uint8_t data[LW_FRAME_MAX];
} slot;

typedef struct family {
    int live, sent, link;
} family;

typedef struct link_slot {
    int used;
    lw_link_stats s;
} link_slot;

#define LINK_CAP (2 * LW_MAX_LINKS)

struct lw_core {
    pc_rng order_rng, corrupt_rng;
    wport ports[LW_MAX_PORTS];
    rule rules[LW_MAX_RULES];
    slot *slots;
    int free_slots[LW_POOL_FRAMES], nfree;
    int heap[LW_POOL_FRAMES], nheap;
    family fams[LW_POOL_FRAMES];
    int free_fams[LW_POOL_FRAMES], nfree_fams;
    uint64_t seq;
    link_slot links[LINK_CAP];
    int nlinks;
    lw_self_stats self;
};

/* ---- frames ---- */

uint32_t lw_frame_ipv4_dst(const uint8_t *f, uint32_t len) {
    if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4) return 0;
    return (uint32_t)f[30] << 24 | (uint32_t)f[31] << 16 | (uint32_t)f[32] << 8 | f[33];
}

uint32_t lw_frame_headlen(const uint8_t *f, uint32_t len) {
    if (!lw_frame_ipv4_dst(f, len)) return len;
    uint32_t ihl = (uint32_t)(f[14] & 0x0f) * 4, l4 = 14 + ihl, h = l4;
    if (f[23] == 6 && len >= l4 + 20) /* TCP: data offset */
        h = l4 + (uint32_t)(f[l4 + 12] >> 4) * 4;
    else if (f[23] == 17 && len >= l4 + 8) /* UDP */
        h = l4 + 8;
    return h < len ? h : len;
}

int lw_late_bucket(int64_t late_ns) {
    int64_t us = late_ns / 1000;
    int k = 0;
    while (us > 0 && k < LW_LATE_BUCKETS - 1) {
        us >>= 1;
        k++;
    }
    return k;
}

/* ---- the heap of held copies ---- */

static int before(const lw_core *c, int a, int b) {
    const slot *x = &c->slots[a], *y = &c->slots[b];
    return x->due_ns < y->due_ns || (x->due_ns == y->due_ns && x->seq < y->seq);
}

static void sift_up(lw_core *c, int i) {
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!before(c, c->heap[i], c->heap[p])) break;
        int t = c->heap[i];
        c->heap[i] = c->heap[p];
        c->heap[p] = t;
        i = p;
    }
}

static void sift_down(lw_core *c, int i) {
    for (;;) {
        int l = 2 * i + 1, m = i;
        if (l < c->nheap && before(c, c->heap[l], c->heap[m])) m = l;
        if (l + 1 < c->nheap && before(c, c->heap[l + 1], c->heap[m])) m = l + 1;
        if (m == i) return;
        int t = c->heap[i];
        c->heap[i] = c->heap[m];
        c->heap[m] = t;
        i = m;
    }
}

static void push(lw_core *c, int s) {
    c->slots[s].seq = c->seq++;
    c->heap[c->nheap++] = s;
    sift_up(c, c->nheap - 1);
}

static void rebuild_heap(lw_core *c) {
    for (int i = c->nheap / 2 - 1; i >= 0; i--) sift_down(c, i);
}

/* ---- pool, families, links ---- */

static int slot_alloc(lw_core *c) {
    if (!c->nfree) {
        c->self.pool_drops++;
        return -1;
    }
    int s = c->free_slots[--c->nfree];
    uint32_t held = LW_POOL_FRAMES - (uint32_t)c->nfree;
    if (held > c->self.pool_high) c->self.pool_high = held;
    return s;
}

static void slot_free(lw_core *c, int s) { c->free_slots[c->nfree++] = s; }

static lw_link_stats *link_at(lw_core *c, int i) { return i >= 0 ? &c->links[i].s : NULL; }

/* A copy of the family is gone without leaving: the frame is dropped when it was the last one. */
static void copy_lost(lw_core *c, int fam) {
    family *f = &c->fams[fam];
    if (--f->live > 0) return;
    lw_link_stats *l = link_at(c, f->link);
    if (l && !f->sent) l->dropped++;
    c->free_fams[c->nfree_fams++] = fam;
}

static void copy_left(lw_core *c, int fam) {
    family *f = &c->fams[fam];
    f->sent++;
    if (--f->live == 0) c->free_fams[c->nfree_fams++] = fam;
}

static int link_get(lw_core *c, int port, uint32_t dst) {
    uint64_t h = ((uint64_t)(uint32_t)port << 32 | dst) * 0x9E3779B97F4A7C15ULL;
    int i = (int)(h >> 40) % LINK_CAP;
    while (c->links[i].used) {
        if (c->links[i].s.port == port && c->links[i].s.dst == dst) return i;
        i = (i + 1) % LINK_CAP;
    }
    if (c->nlinks >= LW_MAX_LINKS) return -1;
    c->nlinks++;
    c->links[i].used = 1;
    memset(&c->links[i].s, 0, sizeof c->links[i].s);
    c->links[i].s.port = port;
    c->links[i].s.dst = dst;
    return i;
}

/* ---- life ---- */

lw_core *lw_core_new(uint64_t seed) {
    lw_core *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->slots = calloc(LW_POOL_FRAMES, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    pc_rng_init(&c->order_rng, seed, "labwire/classify-order");
    pc_rng_init(&c->corrupt_rng, seed, "labwire/corrupt-position");
    for (int i = 0; i < LW_POOL_FRAMES; i++) {
        c->free_slots[i] = LW_POOL_FRAMES - 1 - i;
        c->free_fams[i] = LW_POOL_FRAMES - 1 - i;
    }
    c->nfree = c->nfree_fams = LW_POOL_FRAMES;
    return c;
}

static void rule_release(rule *r) {
    free(r->netem);
    free(r->tbf);
    r->netem = NULL;
    r->tbf = NULL;
}

void lw_core_free(lw_core *c) {
    if (!c) return;
    for (int i = 0; i < LW_MAX_RULES; i++) rule_release(&c->rules[i]);
    free(c->slots);
    free(c);
}

int lw_port_find(const lw_core *c, const char *name) {
    for (int p = 0; p < LW_MAX_PORTS; p++)
        if (c->ports[p].used && !strcmp(c->ports[p].name, name)) return p;
    return -1;
}

const char *lw_port_name(const lw_core *c, int p) { return p >= 0 && p < LW_MAX_PORTS ? c->ports[p].name : "?"; }

int lw_port_add(lw_core *c, const char *name) {
    if (!name[0] || strlen(name) >= sizeof c->ports[0].name || lw_port_find(c, name) >= 0) return -1;
    for (int p = 0; p < LW_MAX_PORTS; p++) {
        if (c->ports[p].used) continue;
        memset(&c->ports[p], 0, sizeof c->ports[p]);
        c->ports[p].used = 1;
        strcpy(c->ports[p].name, name);
        return p;
    }
    return -1;
}

/* Drops every held copy for which `doomed` says so; returns how many. */
static uint64_t purge_if(lw_core *c, int (*doomed)(const slot *s, int arg), int arg) {
    uint64_t n = 0;
    int k = 0;
    for (int i = 0; i < c->nheap; i++) {
        int s = c->heap[i];
        if (!doomed(&c->slots[s], arg)) {
            c->heap[k++] = s;
            continue;
        }
        copy_lost(c, c->slots[s].family);
        slot_free(c, s);
        n++;
    }
    c->nheap = k;
    rebuild_heap(c);
    return n;
}

static int in_rule(const slot *s, int r) { return s->cur_rule == r; }
static int on_port(const slot *s, int p) { return s->port == p; }

void lw_port_del(lw_core *c, int p) {
    if (p < 0 || p >= LW_MAX_PORTS || !c->ports[p].used) return;
    for (int r = 0; r < LW_MAX_RULES; r++)
        if (c->rules[r].used && c->rules[r].st.active && c->rules[r].spec.port == p) lw_rule_del(c, r, 0);
    purge_if(c, on_port, p);
    c->ports[p].used = 0;
}

/* Go map order: the port's filtered rules redrawn whenever they change. */
static void redraw_order(lw_core *c, int p) {
    wport *pt = &c->ports[p];
    pt->nfilt = 0;
    for (int r = 0; r < LW_MAX_RULES; r++)
        if (c->rules[r].used && c->rules[r].st.active && c->rules[r].spec.port == p && c->rules[r].spec.filtered)
            pt->filt[pt->nfilt++] = r;
    for (int i = pt->nfilt - 1; i > 0; i--) {
        int j = (int)pc_rng_below(&c->order_rng, (uint64_t)i + 1), t = pt->filt[i];
        pt->filt[i] = pt->filt[j];
        pt->filt[j] = t;
    }
}

int lw_rule_find(const lw_core *c, const char *name) {
    for (int r = 0; r < LW_MAX_RULES; r++)
        if (c->rules[r].used && c->rules[r].st.active && !strcmp(c->rules[r].spec.name, name)) return r;
    return -1;
}

static int rule_qdisc(rule *r, const lw_rule_spec *spec, char *err, size_t errlen) {
    if (spec->kind == LW_NETEM) {
        r->netem = malloc(sizeof *r->netem);
        int rc = r->netem ? netem_init(r->netem, &spec->netem, spec->seed) : NETEM_ERR_ARG;
        if (rc != NETEM_OK) {
            snprintf(err, errlen, "%s", netem_strerror(rc));
            return -1;
        }
    } else {
        r->tbf = malloc(sizeof *r->tbf);
        int rc = r->tbf ? tbf_init(r->tbf, &spec->tbf) : TBF_ERR_ARG;
        if (rc != TBF_OK) {
            snprintf(err, errlen, "%s", tbf_strerror(rc));
            return -1;
        }
    }
    return 0;
}

int lw_rule_add(lw_core *c, const lw_rule_spec *spec, char *err, size_t errlen) {
    if (spec->port < 0 || spec->port >= LW_MAX_PORTS || !c->ports[spec->port].used) {
        snprintf(err, errlen, "no such port");
        return -1;
    }
    if (!spec->name[0] || lw_rule_find(c, spec->name) >= 0) {
        snprintf(err, errlen, "rule name \"%s\" empty or already in use", spec->name);
        return -1;
    }
    if (spec->nmatch < 0 || spec->nmatch > LW_MAX_MATCH || (spec->filtered && !spec->nmatch)) {
        snprintf(err, errlen, "a filtered rule needs 1..%d destinations", LW_MAX_MATCH);
        return -1;
    }
    int r = 0;
    while (r < LW_MAX_RULES && c->rules[r].used) r++;
    if (r == LW_MAX_RULES) {
        snprintf(err, errlen, "too many rules since the last reset (%d)", LW_MAX_RULES);
        return -1;
    }
    rule *ru = &c->rules[r];
    uint16_t gen = (uint16_t)(ru->gen + 1);
    memset(ru, 0, sizeof *ru);
    ru->gen = gen;
    ru->spec = *spec;
    if (rule_qdisc(ru, spec, err, errlen) < 0) {
        rule_release(ru);
        return -1;
    }
    ru->used = 1;
    ru->last_ns = INT64_MIN;
    snprintf(ru->st.name, sizeof ru->st.name, "%s", spec->name);
    ru->st.port = spec->port;
    ru->st.kind = spec->kind;
    ru->st.active = 1;
    ru->st.sched_min_ns = INT64_MAX;
    wport *pt = &c->ports[spec->port];
    if (spec->filtered)
        redraw_order(c, spec->port);
    else
        pt->roots[pt->nroots++] = r;
    return r;
}

uint64_t lw_rule_del(lw_core *c, int r, int keep_held) {
    if (r < 0 || r >= LW_MAX_RULES || !c->rules[r].used || !c->rules[r].st.active) return 0;
    rule *ru = &c->rules[r];
    ru->st.active = 0;
    wport *pt = &c->ports[ru->spec.port];
    int k = 0;
    for (int i = 0; i < pt->nroots; i++)
        if (pt->roots[i] != r) pt->roots[k++] = pt->roots[i];
    pt->nroots = k;
    if (ru->spec.filtered) redraw_order(c, ru->spec.port);
    uint64_t n = keep_held ? 0 : purge_if(c, in_rule, r);
    ru->st.purged += n;
    rule_release(ru);
    return n;
}

/* ---- per frame ---- */

static int cidr_has(const lw_cidr *m, uint32_t a) {
    uint32_t mask = m->prefix <= 0 ? 0 : m->prefix >= 32 ? 0xffffffffu : ~((1u << (32 - m->prefix)) - 1);
    return (a & mask) == (m->addr & mask);
}

static int rule_matches(const rule *r, uint32_t dst) {
    for (int i = 0; i < r->spec.nmatch; i++)
        if (cidr_has(&r->spec.match[i], dst)) return 1;
    return 0;
}

/* The rules a frame from the pod passes through: the stacked roots, then the last matching filtered one. */
static int build_chain(const lw_core *c, int p, uint32_t dst, slot *s) {
    const wport *pt = &c->ports[p];
    int n = 0;
    for (int i = 0; i < pt->nroots && n < LW_MAX_STAGES - 1; i++) {
        s->chain[n] = (int16_t)pt->roots[i];
        s->chain_gen[n++] = c->rules[pt->roots[i]].gen;
    }
    int winner = -1;
    for (int i = 0; dst && i < pt->nfilt; i++)
        if (rule_matches(&c->rules[pt->filt[i]], dst)) winner = pt->filt[i];
    if (winner >= 0) {
        s->chain[n] = (int16_t)winner;
        s->chain_gen[n++] = c->rules[winner].gen;
    }
    s->nstages = (uint8_t)n;
    return n;
}

static void flip_bit(lw_core *c, slot *s) {
    uint32_t h = lw_frame_headlen(s->data, s->len);
    if (!h) return;
    uint32_t at = (uint32_t)pc_rng_below(&c->corrupt_rng, h);
    s->data[at] ^= (uint8_t)(1u << pc_rng_below(&c->corrupt_rng, 8));
}

/* Places copy `s` inside rule `r` until `due` (or drops it). */
static void hold_in(lw_core *c, int s, int r, int64_t entry, int64_t due, int reordered) {
    slot *sl = &c->slots[s];
    rule *ru = &c->rules[r];
    sl->cur_rule = r;
    sl->entry_ns = entry;
    sl->due_ns = due;
    if (reordered) ru->st.reordered++;
    if (due > entry) ru->st.delayed++;
    push(c, s);
}

static void lose(lw_core *c, int s) {
    copy_lost(c, c->slots[s].family);
    slot_free(c, s);
}

/* One netem decision for copy `s` entering rule `r` at t. */
static void enter_netem(lw_core *c, int s, rule *ru, int r, int64_t t) {
    slot *sl = &c->slots[s];
    netem_verdict v;
    netem_enqueue_bytes(ru->netem, t, sl->len, &v);
    int dup = -1;
    if (v.copies == 2) {
        ru->st.duplicated++;
        lw_link_stats *l = link_at(c, sl->link);
        if (l) l->duplicated++;
        if (v.copy[1].fate == NETEM_SENT && (dup = slot_alloc(c)) >= 0) {
            /* the clone is taken before the original is corrupted */
            c->slots[dup] = *sl;
            c->fams[sl->family].live++;
        } else if (v.copy[1].fate == NETEM_DROP_LOSS) {
            ru->st.dropped_loss++;
        } else if (v.copy[1].fate == NETEM_DROP_LIMIT) {
            ru->st.dropped_limit++;
        }
    }
    for (int k = 0; k < 2; k++) {
        int id = k == 0 ? s : dup;
        if (id < 0 || (k == 1 && v.copies < 2)) continue;
        const netem_copy *cp = &v.copy[k];
        if (cp->fate != NETEM_SENT) {
            if (k == 0 && cp->fate == NETEM_DROP_LOSS) ru->st.dropped_loss++;
            if (k == 0 && cp->fate == NETEM_DROP_LIMIT) ru->st.dropped_limit++;
            lose(c, id);
            continue;
        }
        if (cp->corrupted) {
            ru->st.corrupted++;
            flip_bit(c, &c->slots[id]);
            lw_link_stats *l = link_at(c, c->slots[id].link);
            if (l) l->corrupted++;
        }
        if (cp->reordered) {
            lw_link_stats *l = link_at(c, c->slots[id].link);
            if (l) l->reordered++;
        }
        hold_in(c, id, r, t, cp->time_to_send_ns, cp->reordered);
    }
}

/* Copy `s` goes on from its current stage at time t: into the next active rule, or out when none is left. */
static void enter(lw_core *c, int s, int64_t t) {
    slot *sl = &c->slots[s];
    while (sl->stage < sl->nstages) {
        int r = sl->chain[sl->stage];
        rule *ru = &c->rules[r];
        if (!ru->used || !ru->st.active || ru->gen != sl->chain_gen[sl->stage]) {
            sl->stage++; /* removed while the copy was on its way */
            continue;
        }
        if (t < ru->last_ns) t = ru->last_ns;
        ru->last_ns = t;
        ru->st.seen++;
        if (ru->netem) {
            enter_netem(c, s, ru, r, t);
            return;
        }
        tbf_verdict tv;
        if (!tbf_enqueue(ru->tbf, t, sl->len, &tv)) {
            ru->st.dropped_limit++;
            lose(c, s);
            return;
        }
        hold_in(c, s, r, t, tv.departure_ns, 0);
        return;
    }
    sl->cur_rule = -1;
    sl->due_ns = t;
    push(c, s);
}

int lw_core_offer(lw_core *c, int p, lw_side from, int64_t now, const uint8_t *frame, uint32_t len) {
    if (p < 0 || p >= LW_MAX_PORTS || !c->ports[p].used) {
        c->self.no_port++;
        return 0;
    }
    c->self.frames_in[from]++;
    c->self.bytes_in[from] += len;
    if (len > LW_FRAME_MAX) {
        c->self.too_big++;
        return 0;
    }
    int link = -1;
    uint32_t dst = 0;
    if (from == LW_FROM_POD && (dst = lw_frame_ipv4_dst(frame, len)) != 0) link = link_get(c, p, dst);
    lw_link_stats *l = link_at(c, link);
    if (l) l->seen++;
    int s = slot_alloc(c);
    if (s < 0) {
        if (l) l->dropped++;
        return 0;
    }
    slot *sl = &c->slots[s];
    sl->port = p;
    sl->from = (uint8_t)from;
    sl->link = link;
    sl->offered_ns = now;
    sl->stage = 0;
    sl->nstages = 0;
    sl->len = len;
    memcpy(sl->data, frame, len);
    if (from == LW_FROM_POD && build_chain(c, p, dst, sl) && l) l->faulted++;
    int fam = c->free_fams[--c->nfree_fams];
    c->fams[fam] = (family){1, 0, link};
    sl->family = fam;
    enter(c, s, now);
    return c->fams[fam].live; /* (a family whose copies are all gone is free, its count is 0) */
}

int64_t lw_core_next_due(const lw_core *c) { return c->nheap ? c->slots[c->heap[0]].due_ns : INT64_MAX; }

uint32_t lw_core_held(const lw_core *c) { return (uint32_t)c->nheap; }

void lw_hist_note(uint64_t *hist, int64_t *max, int64_t late) {
    hist[lw_late_bucket(late)]++;
    if (late > *max) *max = late;
}

int lw_core_pop(lw_core *c, int64_t now, lw_out *out) {
    while (c->nheap && c->slots[c->heap[0]].due_ns <= now) {
        int s = c->heap[0];
        c->heap[0] = c->heap[--c->nheap];
        sift_down(c, 0);
        slot *sl = &c->slots[s];
        if (sl->cur_rule >= 0) {
            rule *ru = &c->rules[sl->cur_rule];
            int64_t d = sl->due_ns - sl->entry_ns;
            ru->st.released++;
            ru->st.sched_sum_ns += d;
            ru->st.sched_sq_ns2 += (double)d * (double)d;
            if (d < ru->st.sched_min_ns) ru->st.sched_min_ns = d;
            if (d > ru->st.sched_max_ns) ru->st.sched_max_ns = d;
            lw_hist_note(ru->st.late_hist, &ru->st.late_max_ns, now - sl->due_ns);
            sl->stage++;
            sl->cur_rule = -1;
            if (sl->stage < sl->nstages) {
                enter(c, s, sl->due_ns);
                continue;
            }
        }
        lw_hist_note(c->self.late_hist, &c->self.late_max_ns, now - sl->due_ns);
        out->port = sl->port;
        out->from = (lw_side)sl->from;
        out->len = sl->len;
        out->offered_ns = sl->offered_ns;
        out->due_ns = sl->due_ns;
        memcpy(out->data, sl->data, sl->len);
        c->self.frames_out[sl->from]++;
        lw_link_stats *l = link_at(c, sl->link);
        if (l) {
            l->sent++;
            if (sl->due_ns > sl->offered_ns) l->delayed++;
            l->delay_sum_ns += sl->due_ns - sl->offered_ns;
        }
        copy_left(c, sl->family);
        slot_free(c, s);
        return 1;
    }
    return 0;
}

/* ---- counters ---- */

void lw_core_reset(lw_core *c) {
    memset(&c->self, 0, sizeof c->self);
    memset(c->links, 0, sizeof c->links);
    c->nlinks = 0;
    for (int h = 0; h < c->nheap; h++) c->slots[c->heap[h]].link = -1;
    for (int f = 0; f < LW_POOL_FRAMES; f++) c->fams[f].link = -1;
    for (int r = 0; r < LW_MAX_RULES; r++) {
        rule *ru = &c->rules[r];
        if (!ru->used) continue;
        if (!ru->st.active) {
            int holds = 0; /* a rule removed with keep_held may still hold copies: keep it until they leave */
            for (int h = 0; h < c->nheap && !holds; h++) holds = c->slots[c->heap[h]].cur_rule == r;
            if (!holds) ru->used = 0; /* forgotten: its index may be reused (the generation tells copies apart) */
            if (!holds) continue;
        }
        lw_rule_stats keep = ru->st;
        memset(&ru->st, 0, sizeof ru->st);
        memcpy(ru->st.name, keep.name, sizeof keep.name);
        ru->st.port = keep.port;
        ru->st.kind = keep.kind;
        ru->st.active = keep.active;
        ru->st.sched_min_ns = INT64_MAX;
    }
}

int lw_rule_count(const lw_core *c) {
    int n = 0;
    for (int r = 0; r < LW_MAX_RULES; r++)
        if (c->rules[r].used) n = r + 1;
    return n;
}

const lw_rule_stats *lw_rule_get(const lw_core *c, int r) {
    return r >= 0 && r < LW_MAX_RULES && c->rules[r].used ? &c->rules[r].st : NULL;
}

static int cmp_link(const void *a, const void *b) {
    const lw_link_stats *x = *(const lw_link_stats *const *)a, *y = *(const lw_link_stats *const *)b;
    if (x->port != y->port) return x->port < y->port ? -1 : 1;
    return x->dst < y->dst ? -1 : x->dst > y->dst;
}

void lw_foreach_link(const lw_core *c, void (*fn)(void *ctx, const lw_link_stats *s), void *ctx) {
    const lw_link_stats *all[LW_MAX_LINKS];
    int n = 0;
    for (int i = 0; i < LINK_CAP; i++)
        if (c->links[i].used) all[n++] = &c->links[i].s;
    qsort(all, (size_t)n, sizeof *all, cmp_link);
    for (int i = 0; i < n; i++) fn(ctx, all[i]);
}

const lw_self_stats *lw_self(const lw_core *c) { return &c->self; }

int lw_port_order(const lw_core *c, int p, int *out, int max) {
    if (p < 0 || p >= LW_MAX_PORTS || !c->ports[p].used) return 0;
    int n = 0;
    for (int i = 0; i < c->ports[p].nfilt && n < max; i++) out[n++] = c->ports[p].filt[i];
    return n;
}
