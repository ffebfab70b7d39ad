/*
 * cron.h: Chaos Mesh's Schedule syntax (robfig/cron v3 with an optional seconds field and descriptors,
 * v1alpha1.StandardCronParser) and the parser's Next(), in UTC, on whole seconds.
 *
 *   "*\/3 * * * *"        minute, hour, day of month, month, day of week (seconds default to 0)
 *   "30 *\/3 * * * *"     with seconds first
 *   "@hourly" "@daily" "@midnight" "@weekly" "@monthly" "@yearly" "@annually"
 *   "@every 90s"         a constant delay from the previous time (rounded down to whole seconds, >= 1 s)
 *   "CRON_TZ=UTC ..."    a time zone prefix (only UTC here: the controller image runs in UTC)
 * Day of month and day of week combine as robfig does: when either is "*" both must match, otherwise
 * either may. Errors carry robfig's wording ("expected 5 to 6 fields, found 4: [...]").
 */
#ifndef PC_SIM_INPUT_CRON_H
#define PC_SIM_INPUT_CRON_H

#include <stddef.h>
#include <stdint.h>

typedef struct cron_spec {
    uint64_t second, minute, hour, dom, month, dow; /* bit i set: value i allowed; bit 63: the field was '*' */
    int64_t every_s;                                /* > 0 for "@every" */
} cron_spec;

int cron_parse(const char *text, cron_spec *out, char *err, size_t errlen);
/* The first activation strictly after unix_s; -1 when none within five years (robfig gives the zero time). */
int64_t cron_next(const cron_spec *s, int64_t unix_s);
/* "2026-01-01 00:03:00" */
void cron_format_utc(int64_t unix_s, char *out, size_t outlen);

#endif
