/*
 * modules.c: the module registry (see modules.h).
 */
#include "services/modules.h"

#include <string.h>

const svc_module *svc_module_by_name(const char *name) {
    static const svc_module *const all[] = {&payment_module, &inventory_module, &notification_module};
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *peer = svc_peer_name(all[i]->peer);
        if (!strcmp(name, peer) || !strcmp(name, all[i]->name)) return all[i];
    }
    return NULL;
}
