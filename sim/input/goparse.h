/*
 * goparse.h: the Go parsers Kubernetes and Chaos Mesh run on experiment fields, with their exact error text.
 *
 * A Chaos Mesh webhook rejects a bad duration with "parse duration field error: time: unknown unit "x" in
 * duration "5x"", the API server a bad quantity with "quantities must match the regular expression ...";
 * the simulator gives the same words so a user recognises them on the cluster later. Each parser returns 0,
 * or -1 with Go's message in err.
 *
 *   go_parse_duration   time.ParseDuration ("1m30s", "2.5s", "500ms", "0"; units ns us µs μs ms s m h)
 *   go_parse_float      strconv.ParseFloat(s, 32) as Chaos Mesh calls it on "80" (rounded to float32)
 *   go_atoi             strconv.Atoi
 *   go_units_size_ok    docker/go-units FromHumanSize syntax (what the StressChaos webhook checks)
 *   go_humanize_bytes   dustin/go-humanize ParseBytes (what memStress does with the size: 100MB = 10^8,
 *                       100MiB = 100 * 2^20, "100m" = 10^8, case-insensitive)
 *   k8s_quantity        resource.Quantity ("200m", "0.5", "128Mi", "1G") in milli-units or bytes
 */
#ifndef PC_SIM_INPUT_GOPARSE_H
#define PC_SIM_INPUT_GOPARSE_H

#include <stddef.h>
#include <stdint.h>

int go_parse_duration(const char *s, int64_t *ns, char *err, size_t errlen);
int go_parse_float(const char *s, double *out, char *err, size_t errlen);
int go_atoi(const char *s, int64_t *out, char *err, size_t errlen);
int go_units_size_ok(const char *s, char *err, size_t errlen);
int go_humanize_bytes(const char *s, int64_t *bytes, char *err, size_t errlen);
/* milli: 1 for CPU ("200m" -> 200 milli-CPU; "1" -> 1000), 0 for bytes ("128Mi" -> 134217728). */
int k8s_quantity(const char *s, int milli, int64_t *out, char *err, size_t errlen);
/* "2m30s", "90s", "1.5s", "250ms": a duration the way Go's Duration.String() would print it. */
void go_format_duration(int64_t ns, char *out, size_t outlen);

#endif
