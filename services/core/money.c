/*
 * money.c: amount parsing and the currency list (see money.h).
 *
 * jansson hands us a double for 12.34, so "how many decimals did the client write" is recovered from the
 * shortest decimal text that reads back as the same double: that text is what the client sent for any
 * amount with up to 15 significant digits, which covers every amount below the maximum.
 */
#include "services/core/money.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ISO 4217 codes with two minor digits that the service accepts (one list, two views: an array for lookups
 * and a constant string for error messages, so nothing is built at run time). */
// clang-format off
#define CURRENCIES \
    X(USD) X(EUR) X(GBP) X(TRY) X(CHF) X(CAD) X(AUD) X(NZD) X(SEK) X(NOK) X(DKK) X(PLN) X(CZK) \
    X(HUF) X(RON) X(BGN) X(SGD) X(HKD) X(CNY) X(INR) X(BRL) X(MXN) X(ZAR) X(ILS) X(AED) X(SAR)
// clang-format on

#define X(code) #code,
static const char *const currencies[] = {CURRENCIES};
#undef X
#define X(code) ", " #code
static const char currency_text[] = CURRENCIES;
#undef X

int svc_currency_supported(const char *code) {
    if (!code || strlen(code) != 3) return 0;
    for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++)
        if (strcmp(code, currencies[i]) == 0) return 1;
    return 0;
}

const char *svc_currency_list(void) { return currency_text + 2; /* skip the leading ", " */ }

/* Number of digits after the decimal point in the shortest round-trip representation of x (x > 0). */
static int decimals_of(double x) {
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
        if (strtod(buf, NULL) == x) break;
    }
    /* buf is d.ddddde±XX: digits after the point minus the exponent. */
    char *e = strchr(buf, 'e');
    int exp10 = atoi(e + 1);
    int mantissa_decimals = 0;
    char *dot = strchr(buf, '.');
    if (dot) mantissa_decimals = (int)(e - dot - 1);
    int d = mantissa_decimals - exp10;
    return d > 0 ? d : 0;
}

int svc_amount_parse(const json_t *value, int64_t *minor, char *err, size_t errlen) {
    if (json_is_integer(value)) {
        json_int_t v = json_integer_value(value);
        if (v <= 0) {
            snprintf(err, errlen, "amount must be greater than zero");
            return -1;
        }
        if (v > SVC_AMOUNT_MAX_MINOR / 100) {
            snprintf(err, errlen, "amount exceeds the maximum of %lld", SVC_AMOUNT_MAX_MINOR / 100);
            return -1;
        }
        *minor = (int64_t)v * 100;
        return 0;
    }
    if (!json_is_real(value)) {
        snprintf(err, errlen, "amount must be a number");
        return -1;
    }
    double x = json_real_value(value);
    if (!isfinite(x)) {
        snprintf(err, errlen, "amount must be finite");
        return -1;
    }
    if (x <= 0) {
        snprintf(err, errlen, "amount must be greater than zero");
        return -1;
    }
    if (x > (double)(SVC_AMOUNT_MAX_MINOR / 100)) {
        snprintf(err, errlen, "amount exceeds the maximum of %lld", SVC_AMOUNT_MAX_MINOR / 100);
        return -1;
    }
    if (decimals_of(x) > 2) {
        snprintf(err, errlen, "amount has more than 2 decimals");
        return -1;
    }
    *minor = (int64_t)llround(x * 100.0);
    if (*minor <= 0) {
        snprintf(err, errlen, "amount must be greater than zero");
        return -1;
    }
    return 0;
}

json_t *svc_amount_json(int64_t minor) {
    if (minor % 100 == 0) return json_integer((json_int_t)(minor / 100));
    return json_real((double)minor / 100.0);
}
