/*
 * list.h: an intrusive circular doubly-linked list.
 *
 * Used to keep every piece of pending work (exchanges, call wrappers, operations) reachable from its owner,
 * so that destroying a service or a simulation frees all of it even when callbacks will never fire.
 * The list never owns its elements; the owner frees them.
 */
#ifndef PC_BASE_LIST_H
#define PC_BASE_LIST_H

#include <stddef.h>

typedef struct pc_link {
    struct pc_link *prev, *next;
} pc_link;

static inline void pc_list_init(pc_link *head) { head->prev = head->next = head; }
static inline int pc_list_empty(const pc_link *head) { return head->next == head; }

static inline void pc_list_push(pc_link *head, pc_link *item) {
    item->prev = head->prev;
    item->next = head;
    head->prev->next = item;
    head->prev = item;
}

static inline void pc_list_remove(pc_link *item) {
    item->prev->next = item->next;
    item->next->prev = item->prev;
    item->prev = item->next = item;
}

#define PC_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
