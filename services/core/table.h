/*
 * table.h: a string-keyed hash table (open addressing, linear probing, backward-shift deletion).
 *
 * The table stores borrowed key pointers: each key must live inside (or as long as) its value, and the
 * owner frees values itself (typically by walking svc_table_slot()). Nothing here depends on pointer
 * values, and lookups never iterate, so behaviour is identical across runs and runtimes.
 */
#ifndef PC_SERVICES_CORE_TABLE_H
#define PC_SERVICES_CORE_TABLE_H

#include <stddef.h>

typedef struct svc_table_slot {
    const char *key;
    void *value;
} svc_table_slot;

typedef struct svc_table {
    size_t cap; /* power of two */
    size_t count;
    svc_table_slot *slots;
} svc_table;

int svc_table_init(svc_table *t, size_t initial_cap); /* 0 or -1 (no memory) */
void svc_table_free(svc_table *t);                    /* frees the slot array, not the values */
void *svc_table_get(const svc_table *t, const char *key);
int svc_table_put(svc_table *t, const char *key, void *value); /* inserts or replaces; -1 if no memory */
void *svc_table_remove(svc_table *t, const char *key);         /* returns the removed value or NULL */

#endif
