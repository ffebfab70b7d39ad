/*
 * faults/netem_effective.h: the share of packets a correlated netem rate really hits.
 *
 * netem draws each decision with get_crandom (sch_netem.c): a uniform number averaged with the previous
 * draw, weighted by the correlation. The average keeps the numbers near the middle of the range, so the
 * long-run rate of `loss P C` is not P once C > 0: 80 % with correlation 50 drops about 97 % of packets,
 * 20 % with 25 about 10 %. There is no closed form for the kernel's fixed-point recurrence, so the rate is
 * measured: netem_effective_pct runs the recurrence (netem_get_crandom, the same code the qdisc model uses)
 * over 4 * 10^6 draws of a PRNG with a fixed seed and counts the hits. Same arguments, same result; some
 * 40 ms of CPU per call with a correlation (0 %, 100 % and no correlation return at once).
 *
 * Ownership: none (pure function; no state, no allocation).
 */
#ifndef PC_FAULTS_NETEM_EFFECTIVE_H
#define PC_FAULTS_NETEM_EFFECTIVE_H

/* Percent of decisions that hit for a netem rate of `pct` % with correlation `corr_pct` % (both 0..100). */
double netem_effective_pct(double pct, double corr_pct);

#endif
