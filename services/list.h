/*
 * list.h: an intrusive circular doubly-linked list.
 *
 * Used to keep every piece of pending work (exchanges, call wrappers, operations) reachable from its owner,
 * so that destroying a service or a simulation frees all of it even when callbacks will never fire.
 * The list never owns its elements; the owner frees them.
 */
#ifndef PC_LIST_H
#define PC_LIST_H

#include <stddef.h>

typedef struct svc_link {
    struct svc_link *prev, *next;
} svc_link;

static inline void svc_list_init(svc_link *head) { head->prev = head->next = head; }
static inline int svc_list_empty(const svc_link *head) { return head->next == head; }

static inline void svc_list_push(svc_link *head, svc_link *item) {
    item->prev = head->prev;
    item->next = head;
    head->prev->next = item;
    head->prev = item;
}

static inline void svc_list_remove(svc_link *item) {
    item->prev->next = item->next;
    item->next->prev = item->prev;
    item->prev = item->next = item;
}

#define SVC_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
