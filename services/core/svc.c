/*
 * svc.c: names for the enums of svc.h.
 */
#include "services/core/svc.h"

const char *svc_peer_name(svc_peer peer) {
    switch (peer) {
    case SVC_PAYMENT: return "payment";
    case SVC_INVENTORY: return "inventory";
    case SVC_NOTIFICATION: return "notification";
    default: return "unknown";
    }
}

const char *svc_call_outcome_name(svc_call_outcome outcome) {
    switch (outcome) {
    case SVC_CALL_OK: return "ok";
    case SVC_CALL_TIMEOUT: return "timeout";
    case SVC_CALL_REFUSED: return "refused";
    case SVC_CALL_RESET: return "reset";
    case SVC_CALL_FAILED: return "failed";
    default: return "unknown";
    }
}
