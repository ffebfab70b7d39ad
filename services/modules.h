/*
 * modules.h: the three services, as modules a runtime can run (services/core/shell.h, svc_module).
 *
 * The core knows how to run a module, not which modules exist; this is the one place that names them, for
 * the runtimes that pick one by name (the HTTP mains, the simulator's cluster, the tests' fake runtime).
 */
#ifndef PC_SERVICES_MODULES_H
#define PC_SERVICES_MODULES_H

#include "services/core/shell.h"

extern const svc_module payment_module;      /* services/payment.c */
extern const svc_module inventory_module;    /* services/inventory.c */
extern const svc_module notification_module; /* services/notification.c */

/* Returns the module for "payment", "inventory" or "notification" (or the "-service" names), else NULL. */
const svc_module *svc_module_by_name(const char *name);

#endif
