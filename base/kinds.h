/*
 * kinds.h: the names of the simulator's event kinds.
 *
 * A kind is part of every event's fingerprint, so the numbering is fixed here, in one place; adding a kind
 * at the end does not change the trace hash of runs that never use it.
 */
#ifndef PC_BASE_KINDS_H
#define PC_BASE_KINDS_H

#include <stdint.h>

enum sim_kind {
    SIM_K_NONE = 0,
    SIM_K_PACKET,        /* a packet reaches its destination host */
    SIM_K_TCP_RTX,       /* retransmission timer: RTO or tail loss probe */
    SIM_K_TCP_SYN,       /* SYN retransmission */
    SIM_K_TCP_SYNACK,    /* SYN-ACK retransmission */
    SIM_K_TCP_DELACK,    /* delayed ACK */
    SIM_K_TCP_PROBE0,    /* local-drop retry (zero-window-probe timer) */
    SIM_K_HTTP_DEADLINE, /* libcurl's TIMEOUT_MS for one exchange */
    SIM_K_HTTP_ASYNC,    /* an exchange that fails before any packet (asynchronous completion) */
    SIM_K_ARRIVAL,       /* a load client starts a request */
    SIM_K_SVC_TIMER,     /* a service's timer */
    SIM_K_PERSIST,       /* a journal write becomes durable */
    SIM_K_CPU,           /* the CPU model's next internal change */
    SIM_K_CFS_PERIOD,    /* a CFS bandwidth period boundary */
    SIM_K_STRESS,        /* a stress worker wakes from its sleep */
    SIM_K_CHAOS,         /* a chaos object starts or stops */
    SIM_K_POD,           /* pod life cycle: killed, started, ready */
    SIM_K_ENDPOINTS,     /* a Service's endpoint list changes */
    SIM_K_ICMP,          /* host unreachable reported to a connecting socket */
    SIM_K_IDLE,          /* a server connection's idle timeout */
    SIM_K_SAMPLE,        /* periodic sampling (timeline, invariants) */
    SIM_K_MEMORY,        /* memory stress allocation step / respawn */
    SIM_K_COUNT
};

const char *sim_kind_name(uint16_t kind);

#endif
