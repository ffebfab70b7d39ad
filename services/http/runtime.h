/*
 * runtime.h: the HTTP runtime's entry point: one process serves one replica of one service.
 *
 * http_main() reads the settings (services/core/config.c plus services/http/env.c), creates the shell with the
 * svc_runtime implemented here, replays the journal, starts the client thread, the journal writer and the
 * libmicrohttpd workers, logs {"event":"security",...} (what is checked) and {"event":"listening",...,
 * "port":N} on stderr, and serves until SIGTERM or SIGINT. Then it marks itself draining (/ready answers
 * 503, every answer carries Connection: close), keeps accepting for SHUTDOWN_DELAY_MS, stops accepting,
 * waits for the requests in flight (SHUTDOWN_GRACE_MS at most), closes idle connections, stops everything
 * in order and returns 0. If the grace period runs out it logs that and exits 0 at once, without tearing
 * down state that callbacks still reference.
 *
 * Exit status: 0 after a signal (or --help/--version), 2 for bad settings, 1 for start-up failures
 * (port in use, corrupt journal, no threads).
 *
 * A bin/<name>-service program is `int main(int argc, char **argv) { return http_main(&<name>_module, argc,
 * argv); }`.
 */
#ifndef PC_SERVICES_HTTP_RUNTIME_H
#define PC_SERVICES_HTTP_RUNTIME_H

#include "services/core/shell.h"

#define HTTP_RUNTIME_VERSION "1.0.0"

int http_main(const svc_module *module, int argc, char **argv);

#endif
