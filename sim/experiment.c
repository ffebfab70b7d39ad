/* experiment.c: placeholder until the experiment-file support lands (see experiment.h). */
#include "sim/experiment.h"

experiment_set *experiment_load(sim_options *o, char *err, size_t errlen) {
    (void)o;
    snprintf(err, errlen, "--experiment, --manifest and --expect are not available yet");
    return NULL;
}
void experiment_free(experiment_set *xs) { (void)xs; }
int experiment_add_actions(void *ctx, scenario *s, const sim_options *o, char *err, size_t errlen) {
    (void)ctx; (void)s; (void)o; (void)err; (void)errlen;
    return 0;
}
int experiment_report_text(const experiment_set *xs, FILE *out, const sim_options *o, const sim_result *r) {
    (void)xs; (void)out; (void)o; (void)r;
    return 0;
}
int experiment_report_json(const experiment_set *xs, const sim_options *o, const sim_result *r, json_t *doc) {
    (void)xs; (void)o; (void)r; (void)doc;
    return 0;
}
