/*
 * freelist.h: spare blocks of one size, kept for reuse, for the simulator's per-connection and per-request
 * objects.
 *
 * Why: a run allocates and frees a TCP connection, an HTTP exchange, a unit of pod work and a CFS work
 * item for nearly every request, in bursts (at 80 % loss thousands of connections retry their SYNs at
 * once); glibc served them through its bins, coalescing neighbours on free, and malloc/free were an eighth
 * of the headline run. A free list gives back the block freed last, still in cache, in a few instructions.
 *
 * Contract: every block of a list has the list's size; freelist_take() returns it zeroed, as calloc, and
 * aborts when memory runs out (as the simulator does everywhere); freelist_give() takes a block back.
 * Ownership: the list owns its spare blocks until freelist_clear(), which its owner calls when it is
 * freed; blocks in use belong to the caller. Single-threaded, like the simulator.
 *
 * Under AddressSanitizer every give is a free (and so every take a calloc), so that a use after free of
 * these objects is still caught.
 */
#ifndef PC_BASE_FREELIST_H
#define PC_BASE_FREELIST_H

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define PC_FREELIST_KEEPS 0
#else
#define PC_FREELIST_KEEPS 1
#endif

typedef struct freelist {
    size_t size;
    void *spare; /* a stack of spare blocks, linked through their first word */
} freelist;

#define FREELIST_INIT(type) ((freelist){.size = sizeof(type) > sizeof(void *) ? sizeof(type) : sizeof(void *)})

static inline void *freelist_take(freelist *f) {
    void *b = f->spare;
    if (b) {
        f->spare = *(void **)b;
        memset(b, 0, f->size);
        return b;
    }
    b = calloc(1, f->size);
    if (!b) abort();
    return b;
}

static inline void freelist_give(freelist *f, void *b) {
    if (!b) return;
    if (!PC_FREELIST_KEEPS) {
        free(b);
        return;
    }
    *(void **)b = f->spare;
    f->spare = b;
}

static inline void freelist_clear(freelist *f) {
    while (f->spare) {
        void *b = f->spare;
        f->spare = *(void **)b;
        free(b);
    }
}

#endif
