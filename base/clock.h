/*
 * clock.h: virtual time and timers, as the models that schedule work see them.
 *
 * The fault models (faults/cfs.c: CPU periods, stress workers) and the simulator's layers schedule on this
 * interface only. Its one implementation is the simulator's event engine (sim/engine/engine.c), which runs
 * events in (time, sequence) order on an integer nanosecond clock that nothing but the engine advances; so
 * a model written against this header is deterministic when the engine is, and knows nothing of the
 * simulator above it. The names keep the engine's prefix because the engine is what they call.
 *
 * Each event carries a kind (base/kinds.h: what it is, for traces and the trace hash), an object id (a
 * stable number, never a pointer) and an argument.
 * Ownership: callers own the contexts they pass and keep them alive until the event runs or is cancelled.
 */
#ifndef PC_BASE_CLOCK_H
#define PC_BASE_CLOCK_H

#include <stdint.h>

typedef struct sim_engine sim_engine;
typedef void (*sim_fn)(sim_engine *e, void *ctx, uint64_t arg);

typedef struct sim_event_id {
    uint32_t slot; /* 0 = no event */
    uint32_t gen;
} sim_event_id;

#define SIM_NO_EVENT ((sim_event_id){0, 0})

int64_t sim_now(const sim_engine *e);
/* Schedules fn at at_ns (a time in the past means now; beyond 2^62 ns, about 146 years, means 2^62). */
sim_event_id sim_at(sim_engine *e, int64_t at_ns, uint16_t kind, uint64_t obj, sim_fn fn, void *ctx, uint64_t arg);
sim_event_id sim_after(sim_engine *e, int64_t delay_ns, uint16_t kind, uint64_t obj, sim_fn fn, void *ctx,
                       uint64_t arg);
/* Returns 1 if the event was pending and is now cancelled, 0 if it already ran or was cancelled. */
int sim_cancel(sim_engine *e, sim_event_id *id);
int sim_is_pending(const sim_engine *e, sim_event_id id);
int64_t sim_event_time(const sim_engine *e, sim_event_id id); /* -1 if not pending */

#endif
