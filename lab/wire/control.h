/*
 * lab/wire/control.h: bin/labwire's control language, the part that needs no device (see core.h).
 *
 * One command per line, words separated by blanks; the answer is zero or more lines, then `ok` or
 * `error: MESSAGE`. The commands this module executes against a core:
 *
 *   rule add NAME PORT netem any|CIDR[,CIDR...] [KEY VALUE]...
 *        KEY: loss loss_corr dup dup_corr corrupt corrupt_corr reorder reorder_corr delay_corr (percent,
 *        0..100), delay jitter (nanoseconds), gap limit (packets), seed (the PRNG's, 64 bits)
 *   rule add NAME PORT tbf any|CIDR[,...] rate BYTES_PER_S burst BYTES limit BYTES [peakrate B/S mtu BYTES]
 *        `any`: a root qdisc on the port (every frame); CIDRs: a filter on the IPv4 destination
 *   rule del NAME [keep]              removes it; its held frames are dropped ("purged N"), as the kernel
 *                                     drops a deleted qdisc's queue, or with `keep` leave when due
 *   rule clear                        removes every rule
 *   stats                             the ledger (format below)
 *   reset                             zeroes the counters
 *   ping                              answers ok
 * The caller (main_labwire.c) executes `port add`, `port del` and `quit`, which touch devices.
 *
 * stats lines (counts are decimal, times nanoseconds; hist = comma-separated lateness buckets, core.h):
 *   self in_pod N in_node N out_pod N out_node N pool_drops N pool_high N too_big N late_max N late HIST
 *   order PORT RULE,RULE,...          the filtered rules of a port in their current order (winner last)
 *   link PORT A.B.C.D seen faulted dropped duplicated corrupted reordered delayed sent delay_sum
 *   rule NAME PORT KIND ACTIVE seen dropped_loss dropped_limit duplicated corrupted reordered delayed
 *        released purged sched_sum sched_sq sched_min sched_max late_max HIST
 */
#ifndef PC_LAB_WIRE_CONTROL_H
#define PC_LAB_WIRE_CONTROL_H

#include <stdio.h>

#include "lab/wire/core.h"

/* Fills spec from the words after `rule add`; 0, or -1 with a message. */
int lw_parse_rule(const lw_core *c, int argc, char **argv, lw_rule_spec *spec, char *err, size_t errlen);

/* Splits `line` in place into at most `max` words; returns how many. */
int lw_split(char *line, char **words, int max);

/* Executes one command (already split) and writes its answer, `ok`/`error:` line included, to out.
 * Returns 0 (ok), -1 (error), or 1 when the command is not one of this module's (nothing written). */
int lw_control(lw_core *c, int argc, char **argv, FILE *out);

void lw_stats_print(const lw_core *c, FILE *out);
/* A lateness histogram as the stats lines write it: LW_LATE_BUCKETS counts, comma-separated. */
void lw_hist_print(FILE *out, const uint64_t *hist);

#endif
