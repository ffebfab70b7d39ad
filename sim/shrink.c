/* shrink.c: placeholder until the correctness work lands (see shrink.h). */
#include "sim/shrink.h"

int shrink_run(const sim_options *o, const run_hooks *hooks, uint64_t seed, FILE *out) {
    (void)o;
    (void)hooks;
    (void)seed;
    fprintf(out, "shrink: not available yet\n");
    return -1;
}
