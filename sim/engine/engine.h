/*
 * engine.h: the simulator's virtual clock and event queue; it implements base/clock.h (now, at, after,
 * cancel), which is all the fault models see of it.
 *
 * Design
 *   Time is an int64 count of nanoseconds from the start of the run. Nothing in the simulator reads the
 *   wall clock: the only way to make something happen later is to schedule an event here.
 *
 *   Events are ordered by (time, sequence number). The sequence number is assigned when an event is
 *   scheduled, so two events due at the same nanosecond run in the order they were scheduled, as libuv's
 *   timers do. With a fixed seed, the whole run is therefore a pure function of its inputs.
 *
 *   Each event carries a kind (a small integer naming what it is, see kinds.h), an object id (a stable
 *   number the scheduling module gives its object, never a pointer) and an argument. The executed events'
 *   (time, kind, object, argument) tuples are folded into a running 64-bit hash: two runs with the same
 *   seed have the same trace hash, and --check-determinism compares runs event by event.
 *
 *   The queue is a binary min-heap of slots in a pool for the events due within the next ~34 ms, and a
 *   calendar of unsorted buckets for the later ones, which enter the heap as time reaches them (engine.c
 *   says why). A slot's generation counter lets sim_cancel() reject stale ids, so modules can cancel and
 *   re-arm timers (TCP does this constantly): O(1) for a timer in the calendar, O(log n) in the heap.
 *
 * Ownership: the engine owns its pool; callers own the contexts they pass and must keep them alive until
 * the event runs or is cancelled. Freeing the engine drops pending events without running them.
 */
#ifndef PC_SIM_ENGINE_ENGINE_H
#define PC_SIM_ENGINE_ENGINE_H

#include <stdint.h>
#include <stdio.h>

#include "base/clock.h"

sim_engine *sim_engine_new(void);
void sim_engine_free(sim_engine *e);

/* Runs events due at or before until_ns (the clock then reads until_ns). Returns events executed. */
uint64_t sim_run_until(sim_engine *e, int64_t until_ns);
/* Runs until the queue is empty or `until_ns`, whichever first; stops early when *stop becomes non-zero. */
uint64_t sim_run(sim_engine *e, int64_t until_ns, const volatile int *stop);
size_t sim_pending_count(const sim_engine *e);

uint64_t sim_events_executed(const sim_engine *e);
uint64_t sim_trace_hash(const sim_engine *e);

/* Every executed event is written to `trace` as one text line (NULL: off). */
void sim_set_trace(sim_engine *e, FILE *trace);
/* Determinism checking: record the fingerprint of each executed event, or compare against a recording.
 * When comparing, the first mismatch stops the run and is reported by sim_mismatch(). */
void sim_record_fingerprints(sim_engine *e, int on);
void sim_compare_fingerprints(sim_engine *e, const uint64_t *fingerprints, uint64_t count);
const uint64_t *sim_fingerprints(const sim_engine *e, uint64_t *count);
/* -1 when none; else the index of the first differing event. */
int64_t sim_mismatch(const sim_engine *e);
/* Keeps a description of the event executed at position `index` (0-based), or of the first mismatching
 * event when comparing fingerprints; sim_captured() returns it ("" if none yet). */
void sim_capture_at(sim_engine *e, int64_t index);
const char *sim_captured(const sim_engine *e);
/* Formats an event as "t=S.NNNNNNNNN kind obj=N arg=N". */
void sim_describe_event(char *out, size_t outlen, int64_t at_ns, uint16_t kind, uint64_t obj, uint64_t arg);

#endif
