/*
 * smallalloc.c: per-thread free lists by size class, for jansson's blocks and the simulator's HTTP messages
 * (smallalloc.h).
 */
#include "base/smallalloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>

#if !defined(__SANITIZE_ADDRESS__)

#define HEADER 16 /* keeps blocks 16-byte aligned, as malloc's */
#define CLASS_BYTES 16
#define CLASSES 32 /* up to 512 bytes */

static _Thread_local void *spare[CLASSES]; /* linked through each block's first word */
static _Thread_local int registered;
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void free_lists(void *unused) {
    (void)unused;
    for (int c = 0; c < CLASSES; c++) {
        while (spare[c]) {
            void *b = spare[c];
            spare[c] = *(void **)b;
            free((char *)b - HEADER);
        }
    }
}

static void free_main_lists(void) { free_lists(NULL); }

static void make_key(void) {
    (void)pthread_key_create(&exit_key, free_lists);
    atexit(free_main_lists); /* exit() runs it on the main thread: its lists go too */
}

void *pc_small_alloc(size_t n) {
    size_t cls = n ? (n + CLASS_BYTES - 1) / CLASS_BYTES : 1; /* 1..CLASSES for small blocks */
    if (cls <= CLASSES && spare[cls - 1]) {
        void *b = spare[cls - 1];
        spare[cls - 1] = *(void **)b;
        return b;
    }
    if (!registered) { /* so that the lists are freed when this thread exits */
        pthread_once(&key_once, make_key);
        (void)pthread_setspecific(exit_key, &registered);
        registered = 1;
    }
    size_t bytes = cls <= CLASSES ? cls * CLASS_BYTES : n;
    char *raw = malloc(HEADER + bytes);
    if (!raw) return NULL;
    *(size_t *)raw = cls <= CLASSES ? cls : 0; /* 0: a large block, back to malloc when freed */
    return raw + HEADER;
}

void pc_small_free(void *p) {
    if (!p) return;
    char *raw = (char *)p - HEADER;
    size_t cls = *(size_t *)raw;
    if (cls == 0) {
        free(raw);
        return;
    }
    *(void **)p = spare[cls - 1];
    spare[cls - 1] = p;
}

void pc_smallalloc_install(void) { json_set_alloc_funcs(pc_small_alloc, pc_small_free); }

#else /* AddressSanitizer sees every block through malloc */

void *pc_small_alloc(size_t n) { return malloc(n); }
void pc_small_free(void *p) { free(p); }
void pc_smallalloc_install(void) {}

#endif
