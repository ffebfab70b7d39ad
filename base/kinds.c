/*
 * kinds.c: printable names of the event kinds (for traces and determinism reports).
 */
#include "base/kinds.h"

const char *sim_kind_name(uint16_t kind) {
    static const char *const names[SIM_K_COUNT] = {
        [SIM_K_NONE] = "none",
        [SIM_K_PACKET] = "packet",
        [SIM_K_TCP_RTX] = "tcp.rtx",
        [SIM_K_TCP_SYN] = "tcp.syn-rtx",
        [SIM_K_TCP_SYNACK] = "tcp.synack-rtx",
        [SIM_K_TCP_DELACK] = "tcp.delack",
        [SIM_K_TCP_PROBE0] = "tcp.probe0",
        [SIM_K_HTTP_DEADLINE] = "http.deadline",
        [SIM_K_HTTP_ASYNC] = "http.async",
        [SIM_K_ARRIVAL] = "client.arrival",
        [SIM_K_SVC_TIMER] = "svc.timer",
        [SIM_K_PERSIST] = "svc.persist",
        [SIM_K_CPU] = "cpu",
        [SIM_K_CFS_PERIOD] = "cfs.period",
        [SIM_K_STRESS] = "stress.wake",
        [SIM_K_CHAOS] = "chaos",
        [SIM_K_POD] = "pod",
        [SIM_K_ENDPOINTS] = "endpoints",
        [SIM_K_ICMP] = "icmp",
        [SIM_K_IDLE] = "tcp.idle",
        [SIM_K_SAMPLE] = "sample",
        [SIM_K_MEMORY] = "memory",
    };
    return kind < SIM_K_COUNT && names[kind] ? names[kind] : "unknown";
}
