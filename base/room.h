/*
 * room.h: an array that starts in room set aside inside its owner and moves to the heap when it outgrows it.
 *
 * Why: most TCP connections carry one request and one answer, and most calendar buckets hold a handful of
 * timers; giving each its first slots in place (inside the connection, or in one block shared by all the
 * buckets) saves an allocation per connection and per bucket on the simulator's hot paths.
 *
 * Contract: room_grow() is called when the array is full (or empty: *cap == 0) and returns the array to
 * use, with *cap updated: the room itself (room_cap elements) the first time when there is one, else a
 * heap block of twice the capacity (room_cap when none yet) holding the elements so far. Out of memory
 * aborts, as everywhere in the simulator. Ownership: the room belongs to the owner; a heap block belongs to
 * the owner's array, which frees it when it is not the room.
 */
#ifndef PC_BASE_ROOM_H
#define PC_BASE_ROOM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void *room_grow(void *items, void *room, uint32_t room_cap, uint32_t *cap, size_t size) {
    if (*cap == 0 && room) {
        *cap = room_cap;
        return room;
    }
    uint32_t bigger_cap = *cap ? *cap * 2 : room_cap;
    void *bigger = items == room ? malloc(bigger_cap * size) : realloc(items, bigger_cap * size);
    if (!bigger) abort();
    if (items == room && *cap) memcpy(bigger, room, *cap * size);
    *cap = bigger_cap;
    return bigger;
}

#endif
