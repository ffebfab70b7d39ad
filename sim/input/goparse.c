/*
 * goparse.c: Go's parsers for durations, floats, integers and sizes (see goparse.h).
 */
#include "sim/input/goparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- time.ParseDuration (src/time/format.go) ---- */

static int dur_unit(const char *u, size_t len, uint64_t *ns) {
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {{"ns", 1ULL},           {"us", 1000ULL},      {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
                 {"\xce\xbcs", 1000ULL},                                               /* U+03BC Greek mu */
                 {"ms", 1000000ULL},     {"s", 1000000000ULL}, {"m", 60000000000ULL},  {"h", 3600000000000ULL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == len && !memcmp(units[i].name, u, len)) {
            *ns = units[i].ns;
            return 0;
        }
    return -1;
}

int go_parse_duration(const char *orig, int64_t *out, char *err, size_t errlen) {
    const char *s = orig;
    int neg = 0;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    if (!strcmp(s, "0")) {
        *out = 0;
        return 0;
    }
    if (!*s) goto invalid;
    uint64_t total = 0;
    while (*s) {
        if (!(*s == '.' || (*s >= '0' && *s <= '9'))) goto invalid;
        uint64_t v = 0;
        const char *start = s;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (v > (UINT64_C(1) << 63) / 10) goto invalid;
            v = v * 10 + (uint64_t)(*s - '0');
            if (v > (UINT64_C(1) << 63)) goto invalid;
        }
        int pre = s != start, post = 0;
        uint64_t f = 0;
        double scale = 1;
        if (*s == '.') {
            s++;
            const char *fs = s;
            int overflow = 0;
            for (; *s >= '0' && *s <= '9'; s++) {
                if (overflow) continue;
                if (f > (UINT64_C(1) << 63) / 10) {
                    overflow = 1;
                    continue;
                }
                f = f * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
            post = s != fs;
        }
        if (!pre && !post) goto invalid;
        const char *u = s;
        while (*s && *s != '.' && !(*s >= '0' && *s <= '9')) s++;
        if (s == u) {
            snprintf(err, errlen, "time: missing unit in duration \"%s\"", orig);
            return -1;
        }
        uint64_t unit;
        if (dur_unit(u, (size_t)(s - u), &unit) < 0) {
            snprintf(err, errlen, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)(s - u), u, orig);
            return -1;
        }
        if (v > (UINT64_C(1) << 63) / unit) goto invalid;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > (UINT64_C(1) << 63)) goto invalid;
        }
        total += v;
        if (total > (UINT64_C(1) << 63)) goto invalid;
    }
    if (!neg && total > (uint64_t)INT64_MAX) goto invalid;
    if (neg)
        *out = total == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)total;
    else
        *out = (int64_t)total;
    return 0;
invalid:
    snprintf(err, errlen, "time: invalid duration \"%s\"", orig);
    return -1;
}

void go_format_duration(int64_t ns, char *out, size_t outlen) {
    if (ns == 0) {
        snprintf(out, outlen, "0s");
        return;
    }
    if (ns < 1000000000LL && ns > -1000000000LL) {
        if (ns % 1000000 == 0)
            snprintf(out, outlen, "%lldms", (long long)(ns / 1000000));
        else
            snprintf(out, outlen, "%gms", (double)ns / 1e6);
        return;
    }
    int64_t s = ns / 1000000000LL, frac = ns % 1000000000LL;
    int64_t h = s / 3600, m = (s / 60) % 60, sec = s % 60;
    char secs[32];
    if (frac)
        snprintf(secs, sizeof secs, "%gs", (double)sec + (double)frac / 1e9);
    else
        snprintf(secs, sizeof secs, "%llds", (long long)sec);
    if (h)
        snprintf(out, outlen, "%lldh%lldm%s", (long long)h, (long long)m, secs);
    else if (m)
        snprintf(out, outlen, "%lldm%s", (long long)m, secs);
    else
        snprintf(out, outlen, "%s", secs);
}

/* ---- strconv ---- */

int go_parse_float(const char *s, double *out, char *err, size_t errlen) {
    /* decimal syntax of strconv.ParseFloat: [+-] digits [. digits] [e [+-] digits] | inf | infinity | nan */
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    int ok = 0;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity") || !strcasecmp(p, "nan")) {
        ok = 1;
    } else {
        int digits = 0;
        while (isdigit((unsigned char)*p)) p++, digits++;
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) p++, digits++;
        }
        if (digits && (*p == 'e' || *p == 'E')) {
            p++;
            if (*p == '+' || *p == '-') p++;
            int ed = 0;
            while (isdigit((unsigned char)*p)) p++, ed++;
            if (!ed) digits = 0;
        }
        ok = digits && !*p;
    }
    if (!ok) {
        snprintf(err, errlen, "strconv.ParseFloat: parsing \"%s\": invalid syntax", s);
        return -1;
    }
    double v = strtod(s, NULL);
    if (isfinite(v) && fabs(v) > 3.4028234663852886e38) {
        snprintf(err, errlen, "strconv.ParseFloat: parsing \"%s\": value out of range", s);
        return -1;
    }
    *out = (double)(float)v; /* bitSize 32, as Chaos Mesh asks for */
    return 0;
}

int go_atoi(const char *s, int64_t *out, char *err, size_t errlen) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) goto bad;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) goto bad;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno) {
        snprintf(err, errlen, "strconv.Atoi: parsing \"%s\": value out of range", s);
        return -1;
    }
    *out = v;
    return 0;
bad:
    snprintf(err, errlen, "strconv.Atoi: parsing \"%s\": invalid syntax", s);
    return -1;
}

/* ---- sizes ---- */

int go_units_size_ok(const char *s, char *err, size_t errlen) {
    /* ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$ */
    const char *p = s;
    if (!isdigit((unsigned char)*p)) goto bad;
    while (isdigit((unsigned char)*p)) p++;
    while (*p == '.' && isdigit((unsigned char)p[1])) {
        p++;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p == ' ') p++;
    if (*p && strchr("kKmMgGtTpP", *p)) p++;
    if (*p == 'i' || *p == 'I') p++;
    if (*p == 'b' || *p == 'B') p++;
    if (*p) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "invalid size: '%s'", s);
    return -1;
}

int go_humanize_bytes(const char *s, int64_t *bytes, char *err, size_t errlen) {
    char num[64];
    size_t k = 0;
    const char *p = s;
    for (; *p && (isdigit((unsigned char)*p) || *p == '.' || *p == ','); p++)
        if (*p != ',' && k + 1 < sizeof num) num[k++] = *p;
    num[k] = '\0';
    char *end;
    double f = strtod(num, &end);
    if (!k || *end) {
        snprintf(err, errlen, "strconv.ParseFloat: parsing \"%s\": invalid syntax", num);
        return -1;
    }
    char unit[16];
    while (*p == ' ' || *p == '\t') p++;
    size_t u = 0;
    for (; *p && u + 1 < sizeof unit; p++) unit[u++] = (char)tolower((unsigned char)*p);
    while (u && (unit[u - 1] == ' ' || unit[u - 1] == '\t')) u--;
    unit[u] = '\0';
    static const struct {
        const char *name;
        double mult;
    } table[] = {{"", 1},
                 {"b", 1},
                 {"kb", 1e3},
                 {"k", 1e3},
                 {"kib", 1024.0},
                 {"ki", 1024.0},
                 {"mb", 1e6},
                 {"m", 1e6},
                 {"mib", 1048576.0},
                 {"mi", 1048576.0},
                 {"gb", 1e9},
                 {"g", 1e9},
                 {"gib", 1073741824.0},
                 {"gi", 1073741824.0},
                 {"tb", 1e12},
                 {"t", 1e12},
                 {"tib", 1099511627776.0},
                 {"ti", 1099511627776.0}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(unit, table[i].name)) continue;
        double v = f * table[i].mult;
        if (v >= 9.2e18) {
            snprintf(err, errlen, "too large: %s", s);
            return -1;
        }
        *bytes = (int64_t)v;
        return 0;
    }
    snprintf(err, errlen, "unhandled size name: %s", unit);
    return -1;
}

int k8s_quantity(const char *s, int milli, int64_t *out, char *err, size_t errlen) {
    /* <signedNumber><suffix>: suffix is a binary SI (Ki Mi Gi Ti Pi Ei), decimal SI (n u m "" k M G T P E)
     * or a decimal exponent (e3, E3) */
    char *end;
    errno = 0;
    const char *p = s;
    if (*p == '+') p++;
    if (!*p || !(isdigit((unsigned char)*p) || *p == '.')) goto bad;
    double v = strtod(p, &end);
    if (errno || end == p) goto bad;
    double mult;
    if (!*end)
        mult = 1;
    else if (!strcmp(end, "Ki"))
        mult = 1024.0;
    else if (!strcmp(end, "Mi"))
        mult = 1048576.0;
    else if (!strcmp(end, "Gi"))
        mult = 1073741824.0;
    else if (!strcmp(end, "Ti"))
        mult = 1099511627776.0;
    else if (!strcmp(end, "n"))
        mult = 1e-9;
    else if (!strcmp(end, "u"))
        mult = 1e-6;
    else if (!strcmp(end, "m"))
        mult = 1e-3;
    else if (!strcmp(end, "k"))
        mult = 1e3;
    else if (!strcmp(end, "M"))
        mult = 1e6;
    else if (!strcmp(end, "G"))
        mult = 1e9;
    else if (!strcmp(end, "T"))
        mult = 1e12;
    else if ((end[0] == 'e' || end[0] == 'E') && end[1]) {
        char *e2;
        long ex = strtol(end + 1, &e2, 10);
        if (*e2 || ex < -18 || ex > 18) goto bad;
        mult = pow(10, (double)ex);
    } else
        goto bad;
    double r = v * mult * (milli ? 1000.0 : 1.0);
    if (r > 9e18) goto bad;
    *out = (int64_t)ceil(r - 1e-9); /* the API server rounds a fraction of the smallest unit up */
    return 0;
bad:
    snprintf(err, errlen,
             "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got \"%s\")",
             s);
    return -1;
}
