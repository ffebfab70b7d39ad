/*
 * report.h: the run report, as a readable table or as JSON with the same content, plus the CSV timeline
 * and the SVG chart.
 *
 * Everything printed by report_text() and report_json() is a pure function of the options and the
 * result's deterministic fields, so the same seed gives the same bytes. Wall-clock figures (events per
 * second, virtual:wall ratio) are printed only by report_perf(), to stderr or with --perf.
 * The lab's load generator prints the same report from its own measurements (same table, same JSON).
 */
#ifndef PC_SIM_REPORT_REPORT_H
#define PC_SIM_REPORT_REPORT_H

#include <stdio.h>

#include "sim/run/options.h"
#include "sim/run/run.h"

void report_text(FILE *out, const sim_options *o, const sim_result *r);
/* JSON document of the run; the caller owns the result (json_decref). */
struct json_t;
struct json_t *report_json(const sim_options *o, const sim_result *r);
void report_perf(FILE *out, const sim_result *r);
int report_csv(const char *path, const sim_result *r, char *err, size_t errlen);
/* The chart; label, when not NULL, is drawn where the subtitle goes (experiments name their chaos object). */
int report_svg(const char *path, const sim_options *o, const sim_result *r, const char *label, char *err,
               size_t errlen);

#endif
