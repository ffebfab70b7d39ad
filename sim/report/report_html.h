/*
 * report_html.h: the report as one self-contained web page (--html FILE).
 *
 * One page per invocation: a section per run (the command-line run, or each chaos object of the experiment
 * files) with the verdict, the phases table and the chain steps, the timeline chart with the chaos shaded (the
 * SVG of --svg, inlined), the predictions with their warnings, the chaos actions, the fault ledger, the
 * expectations and the invariants; or, for --seeds and --merge, per chaos object the metric table with the
 * intervals, the distribution of every metric over the seeds (histograms), the expectations' pass rates and the
 * runs that broke an invariant with their reproducing commands.
 * Self-contained: the style and a small script are inline, nothing is loaded from anywhere. The script only adds
 * to what the page already shows (a line counting the warnings and failed expectations); a script error is
 * written into the page (#script-errors), where a test can see it. A run's sections are rendered from its JSON
 * document (report_json() plus experiment_report_json()), so the page and --json say the same things.
 *
 * Ownership: the page is an open file owned by the report_html until report_html_close().
 */
#ifndef PC_SIM_REPORT_REPORT_HTML_H
#define PC_SIM_REPORT_REPORT_HTML_H

#include <stdio.h>

#include "sim/run/options.h"
#include "sim/run/run.h"
#include "sim/run/sweep.h"

struct json_t;
typedef struct report_html report_html;

/* Opens FILE and writes the page's head; NULL with a message when it cannot be written. */
report_html *report_html_open(const char *path, const char *title, char *err, size_t errlen);
/* One run's section from its JSON document `doc` (not taken) and its result (for the chart); label names the
 * chaos object, or NULL for the command-line run. */
void report_html_run(report_html *h, const sim_options *o, const sim_result *r, struct json_t *doc, const char *label);
/* A seed range's sections. */
void report_html_sweep(report_html *h, const sim_sweep *s);
/* Ends the page and closes the file; 0, or -1 with a message when the file could not be written. */
int report_html_close(report_html *h, char *err, size_t errlen);

#endif
