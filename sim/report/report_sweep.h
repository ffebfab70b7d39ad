/*
 * report_sweep.h: the report of a seed range (sim/run/sweep.h) as text and as JSON.
 *
 * Both are functions of the sweep's data alone (no options, no clock), which is what makes a sweep merged from
 * shards print exactly what one process prints. The text is the table --seeds has always printed; the JSON
 * holds the same figures: per metric the mean, the 95 % interval, the standard deviation and how many runs it
 * covers, the run counts, every run that broke an invariant with its reproducing command, per expectation how
 * many seeds it held in, and a verdict.
 */
#ifndef PC_SIM_REPORT_REPORT_SWEEP_H
#define PC_SIM_REPORT_REPORT_SWEEP_H

#include <stdio.h>

#include "sim/run/sweep.h"

/* Prints the report; returns the exit status it stands for: 1 when a run broke an invariant or failed an
 * expectation (or --find-violation found one), else 0. */
int report_sweep_text(FILE *out, const sim_sweep *s);
/* The report as a JSON document (the caller owns it) and its exit status in *status. */
struct json_t;
struct json_t *report_sweep_json(const sim_sweep *s, int *status);

#endif
