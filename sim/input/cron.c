/*
 * cron.c: robfig/cron v3 parsing and SpecSchedule.Next() in UTC (see cron.h).
 */
#include "sim/input/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/input/goparse.h"

#define STAR_BIT (UINT64_C(1) << 63)
#define MAX_FIELDS 8

typedef struct bounds {
    int min, max;
    const char *const *names; /* index = value - names_base */
    int names_base;
} bounds;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const bounds B_SECOND = {0, 59, NULL, 0}, B_MINUTE = {0, 59, NULL, 0}, B_HOUR = {0, 23, NULL, 0},
                    B_DOM = {1, 31, NULL, 0}, B_MONTH = {1, 12, month_names, 1}, B_DOW = {0, 6, dow_names, 0};

static int parse_uint(const char *tok, int *out, char *err, size_t errlen) {
    if (!*tok) {
        snprintf(err, errlen, "failed to parse int from %s: strconv.Atoi: parsing \"\": invalid syntax", tok);
        return -1;
    }
    for (const char *p = tok; *p; p++) {
        if (*p == '-' && p == tok) continue;
        if (!isdigit((unsigned char)*p)) {
            snprintf(err, errlen, "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax", tok,
                     tok);
            return -1;
        }
    }
    long v = strtol(tok, NULL, 10);
    if (v < 0) {
        snprintf(err, errlen, "negative number (%ld) not allowed: %s", v, tok);
        return -1;
    }
    if (v > 1000000) v = 1000000;
    *out = (int)v;
    return 0;
}

static int parse_int_or_name(const char *tok, const bounds *b, int *out, char *err, size_t errlen) {
    if (b->names)
        for (int i = 0; b->names[i]; i++)
            if (!strcasecmp(tok, b->names[i])) {
                *out = i + b->names_base;
                return 0;
            }
    return parse_uint(tok, out, err, errlen);
}

static int get_range(const char *expr, const bounds *b, uint64_t *bits, char *err, size_t errlen) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", expr);
    char *slash = strchr(buf, '/');
    char *step_s = NULL;
    if (slash) {
        *slash = '\0';
        step_s = slash + 1;
        if (strchr(step_s, '/')) {
            snprintf(err, errlen, "too many slashes: %s", expr);
            return -1;
        }
    }
    int start, end, step = 1;
    uint64_t extra = 0;
    char *dash = strchr(buf, '-');
    int single = dash == NULL;
    if (!strcmp(buf, "*") || !strcmp(buf, "?")) {
        start = b->min;
        end = b->max;
        extra = STAR_BIT;
    } else {
        if (dash) {
            *dash = '\0';
            if (strchr(dash + 1, '-')) {
                snprintf(err, errlen, "too many hyphens: %s", expr);
                return -1;
            }
        }
        if (parse_int_or_name(buf, b, &start, err, errlen) < 0) return -1;
        end = start;
        if (dash && parse_int_or_name(dash + 1, b, &end, err, errlen) < 0) return -1;
    }
    if (step_s) {
        if (parse_uint(step_s, &step, err, errlen) < 0) return -1;
        if (single) end = b->max;
        if (step > 1) extra = 0;
    }
    if (start < b->min) {
        snprintf(err, errlen, "beginning of range (%d) below minimum (%d): %s", start, b->min, expr);
        return -1;
    }
    if (end > b->max) {
        snprintf(err, errlen, "end of range (%d) above maximum (%d): %s", end, b->max, expr);
        return -1;
    }
    if (start > end) {
        snprintf(err, errlen, "beginning of range (%d) beyond end of range (%d): %s", start, end, expr);
        return -1;
    }
    if (step == 0) {
        snprintf(err, errlen, "step of range should be a positive number: %s", expr);
        return -1;
    }
    for (int i = start; i <= end; i += step) *bits |= UINT64_C(1) << i;
    *bits |= extra;
    return 0;
}

static int get_field(const char *field, const bounds *b, uint64_t *bits, char *err, size_t errlen) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", field);
    *bits = 0;
    char *save = NULL;
    for (char *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save))
        if (get_range(part, b, bits, err, errlen) < 0) return -1;
    return 0;
}

/* "TZ=zone spec" or "CRON_TZ=zone spec" (UTC only): *s moves past the zone. */
static int time_zone(char **s, char *err, size_t errlen) {
    if (strncmp(*s, "TZ=", 3) && strncmp(*s, "CRON_TZ=", 8)) return 0;
    char *eq = strchr(*s, '='), *sp = strchr(*s, ' ');
    if (!sp) {
        snprintf(err, errlen, "missing spec after time zone");
        return -1;
    }
    *sp = '\0';
    if (strcmp(eq + 1, "UTC") && strcmp(eq + 1, "Etc/UTC")) {
        snprintf(err, errlen, "time zone %s is not supported by the simulator (only UTC)", eq + 1);
        return -1;
    }
    *s = sp + 1;
    while (isspace((unsigned char)**s)) (*s)++;
    return 0;
}

/* "@every D" (into out->every_s: 1 when it is one) or "@daily" ... (*s becomes its six fields, in
 * `expanded`). */
static int descriptor(char **s, char *expanded, size_t len, cron_spec *out, int *every, char *err, size_t errlen) {
    static const struct {
        const char *name, *expr;
    } desc[] = {{"@yearly", "0 0 0 1 1 *"}, {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
                {"@weekly", "0 0 0 * * 0"}, {"@daily", "0 0 0 * * *"},    {"@midnight", "0 0 0 * * *"},
                {"@hourly", "0 0 * * * *"}};
    *every = 0;
    if ((*s)[0] != '@') return 0;
    if (!strncmp(*s, "@every ", 7)) {
        int64_t ns;
        char derr[160];
        if (go_parse_duration(*s + 7, &ns, derr, sizeof derr) < 0) {
            snprintf(err, errlen, "failed to parse duration %s: %s", *s, derr);
            return -1;
        }
        if (ns < 1000000000LL) ns = 1000000000LL;
        out->every_s = ns / 1000000000LL;
        *every = 1;
        return 0;
    }
    size_t i;
    for (i = 0; i < sizeof desc / sizeof desc[0]; i++)
        if (!strcmp(*s, desc[i].name)) break;
    if (i == sizeof desc / sizeof desc[0]) {
        snprintf(err, errlen, "unrecognized descriptor: %s", *s);
        return -1;
    }
    snprintf(expanded, len, "%s", desc[i].expr);
    *s = expanded;
    return 0;
}

int cron_parse(const char *text, cron_spec *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    char spec[256];
    while (isspace((unsigned char)*text)) text++;
    snprintf(spec, sizeof spec, "%s", text);
    if (!spec[0]) {
        snprintf(err, errlen, "empty spec string");
        return -1;
    }
    char *s = spec, expanded[64];
    int every;
    if (time_zone(&s, err, errlen) < 0 || descriptor(&s, expanded, sizeof expanded, out, &every, err, errlen) < 0)
        return -1;
    if (every) return 0;
    char *fields[MAX_FIELDS];
    int n = 0;
    char *save = NULL;
    for (char *f = strtok_r(s, " \t", &save); f; f = strtok_r(NULL, " \t", &save)) {
        if (n < MAX_FIELDS) fields[n] = f;
        n++;
    }
    if (n < 5 || n > 6) {
        size_t k = (size_t)snprintf(err, errlen, "expected 5 to 6 fields, found %d: [", n);
        for (int i = 0; i < n && i < MAX_FIELDS && k < errlen; i++)
            k += (size_t)snprintf(err + k, errlen - k, "%s%s", i ? " " : "", fields[i]);
        if (k < errlen) snprintf(err + k, errlen - k, "]");
        return -1;
    }
    char zero[] = "0";
    char *f6[6];
    if (n == 5) {
        f6[0] = zero;
        for (int i = 0; i < 5; i++) f6[i + 1] = fields[i];
    } else {
        for (int i = 0; i < 6; i++) f6[i] = fields[i];
    }
    if (get_field(f6[0], &B_SECOND, &out->second, err, errlen) < 0 ||
        get_field(f6[1], &B_MINUTE, &out->minute, err, errlen) < 0 ||
        get_field(f6[2], &B_HOUR, &out->hour, err, errlen) < 0 ||
        get_field(f6[3], &B_DOM, &out->dom, err, errlen) < 0 ||
        get_field(f6[4], &B_MONTH, &out->month, err, errlen) < 0 ||
        get_field(f6[5], &B_DOW, &out->dow, err, errlen) < 0)
        return -1;
    return 0;
}

/* ---- civil time in UTC (Howard Hinnant's days_from_civil) ---- */

typedef struct tm_utc {
    int64_t year;
    int month, day, hour, minute, second, weekday;
} tm_utc;

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_unix(int64_t t, tm_utc *out) {
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    out->hour = (int)(secs / 3600);
    out->minute = (int)(secs / 60 % 60);
    out->second = (int)(secs % 60);
    out->weekday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    out->year = y + (out->month <= 2);
}

static int64_t unix_from(int64_t y, int m, int d, int hh, int mm, int ss) {
    /* normalise a month overflow (AddDate(0, 1, 0) on the first of a month) */
    while (m > 12) {
        m -= 12;
        y++;
    }
    return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

static int day_matches(const cron_spec *s, const tm_utc *t) {
    int dom = (s->dom >> t->day) & 1, dow = (s->dow >> t->weekday) & 1;
    if ((s->dom & STAR_BIT) || (s->dow & STAR_BIT)) return dom && dow;
    return dom || dow;
}

int64_t cron_next(const cron_spec *s, int64_t unix_s) {
    if (s->every_s > 0) return unix_s + s->every_s;
    int64_t t = unix_s + 1;
    tm_utc c;
    civil_from_unix(t, &c);
    int64_t year_limit = c.year + 5;
    int added = 0;
wrap:
    civil_from_unix(t, &c);
    if (c.year > year_limit) return -1;
    while (!((s->month >> c.month) & 1)) {
        if (!added) {
            added = 1;
            t = unix_from(c.year, c.month, 1, 0, 0, 0);
        }
        civil_from_unix(t, &c);
        t = unix_from(c.year, c.month + 1, c.day, c.hour, c.minute, c.second);
        civil_from_unix(t, &c);
        if (c.month == 1) goto wrap;
    }
    while (!day_matches(s, &c)) {
        if (!added) {
            added = 1;
            t = unix_from(c.year, c.month, c.day, 0, 0, 0);
        }
        t += 86400;
        civil_from_unix(t, &c);
        if (c.day == 1) goto wrap;
    }
    while (!((s->hour >> c.hour) & 1)) {
        if (!added) {
            added = 1;
            t = unix_from(c.year, c.month, c.day, c.hour, 0, 0);
        }
        t += 3600;
        civil_from_unix(t, &c);
        if (c.hour == 0) goto wrap;
    }
    while (!((s->minute >> c.minute) & 1)) {
        if (!added) {
            added = 1;
            t -= c.second;
        }
        t += 60;
        civil_from_unix(t, &c);
        if (c.minute == 0) goto wrap;
    }
    while (!((s->second >> c.second) & 1)) {
        added = 1;
        t += 1;
        civil_from_unix(t, &c);
        if (c.second == 0) goto wrap;
    }
    return t;
}

void cron_format_utc(int64_t unix_s, char *out, size_t outlen) {
    tm_utc c;
    civil_from_unix(unix_s, &c);
    snprintf(out, outlen, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)c.year, c.month, c.day, c.hour, c.minute,
             c.second);
}
