/* main_inventory.c: bin/inventory-service, the inventory service under the HTTP runtime (see runtime.h). */
#include "services/http/runtime.h"
#include "services/modules.h"

int main(int argc, char **argv) { return http_main(&inventory_module, argc, argv); }
