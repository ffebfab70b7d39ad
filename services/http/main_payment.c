/* main_payment.c: bin/payment-service, the payment service under the HTTP runtime (see runtime.h). */
#include "services/http/runtime.h"
#include "services/modules.h"

int main(int argc, char **argv) { return http_main(&payment_module, argc, argv); }
