/*
 * svc.c: names for the enums of svc.h and the module registry.
 */
#include <string.h>

#include "services/shell.h"
#include "services/svc.h"

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

const svc_module *svc_module_by_name(const char *name) {
    static const svc_module *const all[] = {&payment_module, &inventory_module, &notification_module};
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *peer = svc_peer_name(all[i]->peer);
        if (!strcmp(name, peer) || !strcmp(name, all[i]->name)) return all[i];
    }
    return NULL;
}
