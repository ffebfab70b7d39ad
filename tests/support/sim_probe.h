/*
 * sim_probe.h (tests): send one HTTP request into a simulated cluster and get the answer, so tests can
 * drive the services inside the simulator exactly as they drive the real binaries over HTTP (check_parity
 * compares the two).
 *
 * Contract: a probe is a whole simulation (engine, cluster with the default options, one client host) on
 * the virtual clock; the same seed and the same requests give the same answers. Requests go to the
 * service's virtual IP, one at a time: sim_probe_request runs the simulation until the answer arrives.
 *
 * Ownership: the probe owns its simulation (sim_probe_free releases it); an answer's body belongs to the
 * caller (free()).
 */
#ifndef PC_TESTS_SUPPORT_SIM_PROBE_H
#define PC_TESTS_SUPPORT_SIM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "services/core/svc.h"

typedef struct sim_probe sim_probe;

typedef struct sim_probe_answer {
    int status; /* 0 when the exchange failed */
    char *body; /* malloc'd, NUL-terminated */
    char allow[64];
} sim_probe_answer;

/* A cluster with `replicas` pods of each service (1 gives the same topology as three local binaries);
 * NULL when out of memory. */
sim_probe *sim_probe_new(uint64_t seed, int replicas);
void sim_probe_free(sim_probe *p);
/* content_type NULL: none; body NULL: none. Runs the simulation until the answer arrives; 0, or -1 when
 * none came within 61 s of virtual time (out->status is then 0 and out->body NULL). The client gives up
 * after 60 s: status 0 and an empty body. */
int sim_probe_request(sim_probe *p, svc_peer target, const char *method, const char *path, const char *content_type,
                      const char *idempotency_key, const char *body, size_t body_len, sim_probe_answer *out);

#endif
