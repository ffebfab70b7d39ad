/*
 * sim_probe.h (tests): send one HTTP request into a simulated cluster and get the answer, so tests can
 * drive the services inside the simulator exactly as they drive the real binaries over HTTP.
 */
#ifndef PC_TESTS_SUPPORT_SIM_PROBE_H
#define PC_TESTS_SUPPORT_SIM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "services/core/svc.h"

typedef struct sim_probe sim_probe;

typedef struct probe_answer {
    int status; /* 0 when the exchange failed */
    char *body; /* malloc'd, NUL-terminated */
    char allow[64];
} probe_answer;

/* A cluster with `replicas` pods of each service (1 gives the same topology as three local binaries). */
sim_probe *sim_probe_new(uint64_t seed, int replicas);
void sim_probe_free(sim_probe *p);
/* content_type NULL: none; body NULL: none. Runs the simulation until the answer arrives (or 60 s). */
int sim_probe_request(sim_probe *p, svc_peer target, const char *method, const char *path, const char *content_type,
                      const char *idempotency_key, const char *body, size_t body_len, probe_answer *out);

#endif
