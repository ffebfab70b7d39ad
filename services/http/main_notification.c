/* main_notification.c: bin/notification-service, the notification service under the HTTP runtime (see runtime.h). */
#include "services/http/runtime.h"
#include "services/modules.h"

int main(int argc, char **argv) { return http_main(&notification_module, argc, argv); }
