/*
 * table.c: open-addressing hash table (see table.h). Load factor is kept below 1/2.
 */
#include "services/core/table.h"

#include <stdlib.h>
#include <string.h>

#include "services/core/ids.h"

int svc_table_init(svc_table *t, size_t initial_cap) {
    size_t cap = 16;
    while (cap < initial_cap) cap *= 2;
    t->slots = calloc(cap, sizeof *t->slots);
    t->cap = t->slots ? cap : 0;
    t->count = 0;
    return t->slots ? 0 : -1;
}

void svc_table_free(svc_table *t) {
    free(t->slots);
    t->slots = NULL;
    t->cap = t->count = 0;
}

static size_t find(const svc_table *t, const char *key) {
    size_t mask = t->cap - 1;
    size_t i = pc_fnv1a(key) & mask;
    while (t->slots[i].key && strcmp(t->slots[i].key, key) != 0) i = (i + 1) & mask;
    return i;
}

void *svc_table_get(const svc_table *t, const char *key) {
    if (!t->cap) return NULL;
    size_t i = find(t, key);
    return t->slots[i].key ? t->slots[i].value : NULL;
}

static int grow(svc_table *t) {
    svc_table bigger;
    if (svc_table_init(&bigger, t->cap * 2) < 0) return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key) continue;
        size_t j = find(&bigger, t->slots[i].key);
        bigger.slots[j] = t->slots[i];
        bigger.count++;
    }
    free(t->slots);
    *t = bigger;
    return 0;
}

int svc_table_put(svc_table *t, const char *key, void *value) {
    if ((t->count + 1) * 2 > t->cap && grow(t) < 0) return -1;
    size_t i = find(t, key);
    if (!t->slots[i].key) t->count++;
    t->slots[i].key = key;
    t->slots[i].value = value;
    return 0;
}

void *svc_table_remove(svc_table *t, const char *key) {
    if (!t->cap) return NULL;
    size_t mask = t->cap - 1;
    size_t i = find(t, key);
    if (!t->slots[i].key) return NULL;
    void *value = t->slots[i].value;
    /* Backward-shift: move later members of the probe run into the hole so lookups never stop early. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; t->slots[j].key; j = (j + 1) & mask) {
        size_t home = pc_fnv1a(t->slots[j].key) & mask;
        int movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].key = NULL;
    t->slots[hole].value = NULL;
    t->count--;
    return value;
}
