/*
 * card.c: Luhn checksum, brand by IIN prefix, masking (see card.h).
 */
#include "services/core/card.h"

#include <stdio.h>
#include <string.h>

/* Leading `len` digits of the number as an integer. */
static int prefix_value(const char *digits, int len) {
    int v = 0;
    for (int i = 0; i < len; i++) v = v * 10 + (digits[i] - '0');
    return v;
}

static const char *brand_of(const char *d, int n) {
    int p1 = prefix_value(d, 1), p2 = prefix_value(d, 2), p3 = prefix_value(d, 3), p4 = prefix_value(d, 4);
    if (p1 == 4) return "visa";
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return "mastercard";
    if ((p2 == 34 || p2 == 37) && n == 15) return "amex";
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) return "discover";
    if (p4 >= 3528 && p4 <= 3589) return "jcb";
    if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38) return "diners";
    return "unknown";
}

int svc_card_inspect(const char *text, svc_card_info *out, char *err, size_t errlen) {
    char digits[20];
    int n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ' ' || *p == '-') continue;
        if (*p < '0' || *p > '9') {
            snprintf(err, errlen, "card_number may only contain digits, spaces and dashes");
            return -1;
        }
        if (n >= 19) {
            snprintf(err, errlen, "card_number has more than 19 digits");
            return -1;
        }
        digits[n++] = *p;
    }
    if (n < 12) {
        snprintf(err, errlen, "card_number has fewer than 12 digits");
        return -1;
    }
    digits[n] = '\0';
    int sum = 0;
    for (int i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    out->luhn_valid = sum % 10 == 0;
    out->brand = brand_of(digits, n);
    memcpy(out->last4, digits + n - 4, 4);
    out->last4[4] = '\0';
    snprintf(out->masked, sizeof out->masked, "****-****-****-%s", out->last4);
    explicit_bzero(digits, sizeof digits); /* do not leave the number on the stack */
    return 0;
}
