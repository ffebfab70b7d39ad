/*
 * smallalloc.h: the allocator the `sim` command gives jansson for its small blocks.
 *
 * Why: inside the simulator the services build a jansson tree for every request body they read (an
 * object, its hash table, a pair and a string per field): about 28 000 blocks of 16 to 128 bytes in the
 * headline run, each through malloc and free; the simulated HTTP messages are 8 600 more, of 150 to 400
 * bytes. Kept on free lists by size, they are reused in a few instructions.
 *
 * Contract: pc_smallalloc_install() is called once, before anything uses jansson (sim/cli/main.c does it
 * first thing); it has no effect under AddressSanitizer, which must see every block. Blocks up to 512
 * bytes come from per-thread free lists by 16-byte class, larger ones straight from malloc; every block
 * carries a 16-byte header with its class, so any thread may free any block (it joins that thread's
 * lists: no lock is needed and none is shared). Freed blocks are kept for reuse, never more than the
 * thread's peak; a thread's lists are freed when it exits (the seeds of --seeds run on several threads),
 * the main thread's at exit(). Under AddressSanitizer pc_small_alloc and pc_small_free are malloc and free.
 */
#ifndef PC_BASE_SMALLALLOC_H
#define PC_BASE_SMALLALLOC_H

#include <stddef.h>

void pc_smallalloc_install(void);

/* The allocator itself, also for the simulator's own small objects of varied sizes (HTTP messages): a
 * block from pc_small_alloc() (NULL when memory runs out) is freed with pc_small_free() and nothing else. */
void *pc_small_alloc(size_t n);
void pc_small_free(void *p);

#endif
