/*
 * smallalloc.h: the allocator the `sim` command gives jansson for its small blocks.
 *
 * Why: inside the simulator the services build a jansson tree for every request body they read (an
 * object, its hash table, a pair and a string per field): about 28 000 blocks of 16 to 128 bytes in the
 * headline run, each through malloc and free. Kept on free lists by size, they are reused in a few
 * instructions.
 *
 * Contract: sim_smallalloc_install() is called once, before anything uses jansson (sim/main.c does it
 * first thing); it has no effect under AddressSanitizer, which must see every block. Blocks up to 256
 * bytes come from per-thread free lists by 16-byte class, larger ones straight from malloc; every block
 * carries a 16-byte header with its class, so any thread may free any block (it joins that thread's
 * lists: no lock is needed and none is shared). Freed blocks are kept for reuse, never more than the
 * thread's peak; a thread's lists are freed when it exits (the seeds of --seeds run on several threads),
 * the main thread's at exit().
 */
#ifndef PC_SMALLALLOC_H
#define PC_SMALLALLOC_H

void sim_smallalloc_install(void);

#endif
